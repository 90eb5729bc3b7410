//! [`run`] in phases: setup (the embedded mock or the targets, a preflight
//! connection to each, how the load spreads over threads and workers, what
//! the threads share), drive (the server monitors and the generator
//! threads), drain (the collector takes the threads' intervals until every
//! thread has drained and cleaned up) and report.

use std::collections::BTreeMap;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant, SystemTime};

use joblet_testkit::{Target, pb};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::contract;
use crate::monitor;
use crate::pacing::Lane;
use crate::plan::{Action, JobSpec, Model, Wire};
use crate::progress::Progress;
use crate::report::hdrlog::HdrLog;
use crate::report::{CleanupStats, ContractReport, Report, ServerReport};
use crate::stats::Cells;
use crate::transport::{Conn, Endpoint, Rpc, TransportStats, grpc};
use crate::worker::{self, ActionPicker, Budget, Msg, Shared, ThreadPlan};

use super::collector::Collector;
use super::config::{RunConfig, RunError, Stop, TargetSpec, check};
use super::embedded::Embedded;
use super::summary::{self, ReportInputs};

/// Runs `config` to the end and returns its report (without threshold
/// verdicts: see [`crate::threshold::evaluate`]).
pub fn run(config: &RunConfig, stop: &Stop) -> Result<Report, RunError> {
    let cfg = config;
    check(cfg)?;
    let control = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("loadgen-control")
        .enable_all()
        .build()
        .map_err(|e| RunError::Io("control runtime".into(), e))?;
    if let Some(at) = cfg.start_at
        && let Ok(wait) = at.duration_since(SystemTime::now())
    {
        tracing::info!("waiting {wait:?} for --start-at");
        control.block_on(async {
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = stop.token().cancelled() => {}
            }
        });
    }
    let (embedded, specs) = if cfg.targets.is_empty() {
        let e = Embedded::start(cfg.embedded_api)?;
        let addr = e.addr();
        eprintln!("no --target: running against an embedded joblet-mock on {addr}");
        (Some(e), vec![TargetSpec::new(Target::plaintext(addr))])
    } else {
        (None, cfg.targets.clone())
    };
    let result = run_on(cfg, stop, &control, &specs, embedded.is_some());
    if let Some(e) = embedded {
        e.stop();
    }
    control.shutdown_timeout(Duration::from_secs(2));
    result
}

/// The run against `specs`, from the preflight to the report.
fn run_on(
    cfg: &RunConfig,
    stop: &Stop,
    control: &Runtime,
    specs: &[TargetSpec],
    embedded: bool,
) -> Result<Report, RunError> {
    // Setup.
    let endpoints = preflight(cfg, control, specs)?;
    let (wire, contract) = contract_of(cfg, control, specs)?;
    // The preflight connection is not the run's.
    let before: Vec<TransportStats> = endpoints.iter().map(|e| e.stats()).collect();
    let layout = Layout::of(cfg);
    let open = cfg.plan.model() != Model::Closed;
    let shared = Arc::new(shared_state(
        cfg,
        stop,
        specs,
        endpoints.clone(),
        &layout,
        wire,
    ));
    let mut hdr = match &cfg.hdr_log {
        Some(path) => Some(
            HdrLog::create(path)
                .map_err(|e| RunError::Io(format!("cannot write {}", path.display()), e))?,
        ),
        None => None,
    };

    // Drive: the threads open their connections, then the load starts.
    let monitor_stop = CancellationToken::new();
    let monitors = start_monitors(cfg, control, specs, &monitor_stop);
    let (rx, handles) = start_threads(cfg, &layout, &shared)?;
    shared.ready.wait();
    let start = shared.start();
    let start_wall = SystemTime::now();
    if let Some(h) = hdr.as_mut()
        && let Err(e) = h.begin(start_wall, &cfg.command_line)
    {
        tracing::warn!("HDR log: {e}");
    }

    // Drain.
    let mut live = Live {
        collector: Collector::new(cfg, layout.threads as usize, specs.len(), start, start_wall),
        progress: Progress::new(cfg.progress, cfg.plan.total_duration()),
        hdr,
        open,
    };
    let mut tally = drain(&rx, layout.threads, &mut live, &monitor_stop);
    live.flush_rest();
    for h in handles {
        if h.join().is_err() {
            tally.failures.push("a generator thread panicked".into());
        }
    }
    monitor_stop.cancel();
    let server = server_reports(control, specs, monitors);
    if let Some(h) = live.hdr.as_mut() {
        let _ = h.finish();
    }

    // Report.
    if let Some(f) = tally.failures.into_iter().next() {
        return Err(RunError::Thread(f));
    }
    let load_end = tally.load_end.unwrap_or_else(Instant::now);
    let collector_cpu = worker::thread_cpu();
    let cpu = (tally.cpu_known && collector_cpu.is_some())
        .then(|| tally.load_cpu + collector_cpu.unwrap_or_default());
    Ok(summary::report(
        live.collector.into_totals(),
        ReportInputs {
            cfg,
            specs,
            embedded,
            threads: layout.threads,
            start_wall,
            duration: load_end - start,
            interrupted: stop.is_interrupted(),
            server,
            cleanup: tally.cleanup,
            transport: endpoints.iter().zip(&before).fold(
                TransportStats::default(),
                |mut t, (e, b)| {
                    t.merge(&e.stats().since(b));
                    t
                },
            ),
            cpu,
            abandoned: tally.abandoned,
            contract,
        },
    ))
}

/// The messages the run sends and the report's account of the targets'
/// contract (detected, or given by `--contract`): refused when the plan
/// needs what the contract lacks.
fn contract_of(
    cfg: &RunConfig,
    control: &Runtime,
    specs: &[TargetSpec],
) -> Result<(Wire, ContractReport), RunError> {
    let targets: Vec<_> = specs
        .iter()
        .map(|s| (&s.target, s.server_tls.as_ref()))
        .collect();
    let found = control
        .block_on(contract::detect_all(
            &targets,
            cfg.contract,
            cfg.contract_memo.as_ref(),
        ))
        .map_err(RunError::Config)?;
    let plan = &cfg.plan;
    let needs_v2 = if plan
        .actions
        .iter()
        .any(|w| w.weight > 0.0 && w.action.needs_v2())
    {
        Some(format!("the {} scenario (StreamJobMetrics)", plan.scenario))
    } else if !plan.job.timeout.is_empty() {
        Some("--job-timeout (RunJob timeout)".to_owned())
    } else {
        None
    };
    let (wire, report) = contract::choose(&found, needs_v2.as_deref()).map_err(RunError::Config)?;
    plan.job.check(wire).map_err(RunError::Config)?;
    tracing::info!(
        "contract: {} ({}); sending {} messages",
        report.detected,
        report.how,
        report.wire
    );
    Ok((wire, report))
}

/// The endpoints of `specs`, each connected once: a target that cannot be
/// reached fails the run early, with the reason.
fn preflight(
    cfg: &RunConfig,
    control: &Runtime,
    specs: &[TargetSpec],
) -> Result<Vec<Arc<Endpoint>>, RunError> {
    let endpoints = specs
        .iter()
        .map(|s| {
            Endpoint::new(&s.target, s.server_tls.as_ref(), &cfg.metadata, cfg.h2).map(Arc::new)
        })
        .collect::<Result<Vec<_>, _>>()?;
    control.block_on(async {
        for e in &endpoints {
            Conn::new(Arc::clone(e))
                .open()
                .await
                .map_err(|error| RunError::Connect {
                    target: e.label().to_owned(),
                    error,
                })?;
        }
        Ok::<(), RunError>(())
    })?;
    Ok(endpoints)
}

/// How this process's load spreads over its generator threads.
#[derive(Debug)]
struct Layout {
    /// Generator threads.
    threads: u32,
    /// Pacing lanes of the whole (distributed) run: one per thread per worker.
    lanes: u32,
    /// Workers per thread.
    workers: u32,
}

impl Layout {
    fn of(cfg: &RunConfig) -> Self {
        let plan = &cfg.plan;
        let threads = cfg
            .threads
            .unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get() as u32)
                    .unwrap_or(1)
            })
            .clamp(1, cfg.connections);
        let lanes = cfg.worker.count * threads;
        let closed_workers = plan.max_concurrency().div_ceil(lanes);
        let open = plan.model() != Model::Closed;
        let open_workers = if open {
            cfg.max_in_flight.div_ceil(threads)
        } else {
            0
        };
        let workers = closed_workers.max(open_workers).max(1);
        Self {
            threads,
            lanes,
            workers,
        }
    }

    /// Thread `t`'s lane, workers and share of the connections.
    fn thread_plan(&self, cfg: &RunConfig, t: u32) -> ThreadPlan {
        let threads = self.threads;
        let conns = (cfg.connections / threads + u32::from(t < cfg.connections % threads)) as usize;
        ThreadPlan {
            thread: t as usize,
            lane: Lane {
                index: cfg.worker.count * t + cfg.worker.index,
                count: self.lanes,
            },
            workers: self.workers,
            connections: conns,
        }
    }
}

/// What the generator threads share: the plan, the pre-encoded requests, the
/// endpoints, the request budget and the settings of the worker loop.
fn shared_state(
    cfg: &RunConfig,
    stop: &Stop,
    specs: &[TargetSpec],
    endpoints: Vec<Arc<Endpoint>>,
    layout: &Layout,
    wire: Wire,
) -> Shared {
    let plan = &cfg.plan;
    let zeros = plan.actions.iter().find_map(|w| match w.action {
        Action::LogStream { bytes } => Some(JobSpec::zeros(bytes).frame(wire)),
        _ => None,
    });
    let pool_jobs = plan.actions.iter().any(|w| {
        w.weight > 0.0
            && matches!(
                w.action,
                Action::Call(
                    Rpc::GetJobStatus
                        | Rpc::GetJobLogs
                        | Rpc::StopJob
                        | Rpc::DeleteJob
                        | Rpc::StreamJobMetrics
                        | Rpc::StreamJobTelematics
                )
            )
    });
    Shared {
        picker: ActionPicker::new(plan),
        run_job: plan.job.frame(wire),
        zeros,
        empty: grpc::frame(&pb::EmptyRequest {}),
        endpoints,
        weights: specs.iter().map(|s| s.weight).collect(),
        budget: Budget::new(plan.requests.map(|r| cfg.worker.split(r))),
        stop: stop.token().child_token(),
        timeout: cfg.timeout,
        drain_timeout: cfg.drain_timeout,
        interval: cfg.interval,
        keep_jobs: cfg.keep_jobs,
        track_jobs_per_thread: (cfg.max_tracked_jobs / layout.threads as usize).max(16),
        pool_jobs,
        ready: std::sync::Barrier::new(layout.threads as usize + 1),
        start: std::sync::OnceLock::new(),
        plan: plan.clone(),
    }
}

/// One task per target reading its StreamSystemMetrics until `stop`
/// (none with `--no-server-metrics`).
fn start_monitors(
    cfg: &RunConfig,
    control: &Runtime,
    specs: &[TargetSpec],
    stop: &CancellationToken,
) -> Vec<JoinHandle<ServerReport>> {
    if !cfg.server_metrics {
        return Vec::new();
    }
    specs
        .iter()
        .map(|s| {
            let target = s.target.clone();
            let server_tls = s.server_tls.clone();
            let stop = stop.clone();
            let every = cfg.interval.max(Duration::from_secs(1));
            control.spawn(monitor::watch(target, server_tls, every, stop))
        })
        .collect()
}

/// Starts the generator threads; their messages arrive on the receiver.
fn start_threads(
    cfg: &RunConfig,
    layout: &Layout,
    shared: &Arc<Shared>,
) -> Result<(mpsc::Receiver<Msg>, Vec<std::thread::JoinHandle<()>>), RunError> {
    let (tx, rx) = mpsc::channel();
    let mut handles = Vec::new();
    for t in 0..layout.threads {
        let tp = layout.thread_plan(cfg, t);
        let shared = Arc::clone(shared);
        let tx = tx.clone();
        let handle = std::thread::Builder::new()
            .name(format!("loadgen-{t}"))
            .spawn(move || worker::run_thread(shared, tp, tx))
            .map_err(|e| RunError::Io("cannot start a generator thread".into(), e))?;
        handles.push(handle);
    }
    drop(tx);
    Ok((rx, handles))
}

/// Where complete intervals go while the run lasts.
struct Live {
    collector: Collector,
    progress: Progress,
    hdr: Option<HdrLog>,
    /// Whether the HDR log carries the uncorrected latency too.
    open: bool,
}

impl Live {
    /// Thread `thread`'s interval `index`: every interval it completes goes
    /// to the HDR log and the progress line.
    fn interval(&mut self, thread: usize, index: u64, end: Instant, cells: Cells, last: bool) {
        for flushed in self.collector.add(thread, index, end, cells, last) {
            if let Some(h) = self.hdr.as_mut()
                && let Err(e) = h.write_interval(&flushed, self.open)
            {
                tracing::warn!("HDR log: {e}");
            }
            self.progress.update(&self.collector.snapshot(&flushed));
        }
    }

    /// The intervals still pending once every thread is done.
    fn flush_rest(&mut self) {
        for flushed in self.collector.flush_all() {
            if let Some(h) = self.hdr.as_mut() {
                let _ = h.write_interval(&flushed, self.open);
            }
        }
        self.progress.finish();
    }
}

/// What the threads reported besides their intervals.
#[derive(Debug)]
struct Tally {
    /// CPU time of the threads' load phases.
    load_cpu: Duration,
    /// Whether every thread knew its CPU time.
    cpu_known: bool,
    /// When the last thread finished its load.
    load_end: Option<Instant>,
    /// Actions cancelled in flight at the drain deadline.
    abandoned: u64,
    cleanup: CleanupStats,
    failures: Vec<String>,
}

/// Takes the threads' messages until every thread has drained and cleaned
/// up; when the last one finishes its load, the server monitors stop and
/// the progress line says the run is cleaning up.
fn drain(
    rx: &mpsc::Receiver<Msg>,
    threads: u32,
    live: &mut Live,
    monitor_stop: &CancellationToken,
) -> Tally {
    let mut tally = Tally {
        load_cpu: Duration::ZERO,
        cpu_known: true,
        load_end: None,
        abandoned: 0,
        cleanup: CleanupStats::default(),
        failures: Vec::new(),
    };
    let mut load_done = 0;
    let mut finished = 0;
    while finished < threads as usize {
        let msg = match rx.recv_timeout(Duration::from_millis(250)) {
            Ok(m) => m,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                live.progress.tick();
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        match msg {
            Msg::Interval {
                thread,
                index,
                end,
                cells,
                last,
            } => live.interval(thread, index, end, *cells, last),
            Msg::LoadDone {
                cpu, abandoned: a, ..
            } => {
                match cpu {
                    Some(c) => tally.load_cpu += c,
                    None => tally.cpu_known = false,
                }
                tally.abandoned += a;
                load_done += 1;
                if load_done == threads {
                    tally.load_end = Some(Instant::now());
                    monitor_stop.cancel();
                    live.progress.cleaning();
                }
            }
            Msg::Done {
                cleanup: c, error, ..
            } => {
                tally.cleanup.merge(&c);
                if let Some(e) = error {
                    tally.failures.push(e);
                }
                finished += 1;
            }
        }
    }
    tally
}

/// What each target's monitor saw, by `HOST:PORT`.
fn server_reports(
    control: &Runtime,
    specs: &[TargetSpec],
    monitors: Vec<JoinHandle<ServerReport>>,
) -> BTreeMap<String, ServerReport> {
    control.block_on(async {
        let mut out = BTreeMap::new();
        for (spec, m) in specs.iter().zip(monitors) {
            if let Ok(r) = m.await {
                out.insert(spec.target.host_port().to_owned(), r);
            }
        }
        out
    })
}
