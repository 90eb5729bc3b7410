//! A run from start to report: targets (or the embedded mock), a preflight
//! connection to each, the generator threads, the collector that turns their
//! interval statistics into totals, time series, the HDR log and the progress
//! line, the server metrics, and the cleanup.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant, SystemTime};

use joblet_testkit::Target;
use tokio_util::sync::CancellationToken;

use crate::cleanup::CleanupStats;
use crate::monitor::{self, unix_ms};
use crate::pacing::Lane;
use crate::plan::{Action, Follow, Load, Model, Plan};
use crate::progress::{Progress, ProgressMode, Snapshot};
use crate::report::hdrlog::HdrLog;
use crate::report::{
    self, GeneratorReport, Group, OpReport, Parameters, Percentiles, Point, Report, StageParam,
    StageReport, TargetParam, WorkerInfo,
};
use crate::stats::{self, Cells, Op};
use crate::transport::{CallError, Conn, Endpoint, EndpointError, H2Settings, Rpc, grpc};
use crate::worker::{self, ActionPicker, Budget, Msg, Shared, ThreadPlan};
use joblet_testkit::pb;

/// A target and its share of the load.
#[derive(Debug, Clone)]
pub struct TargetSpec {
    /// Where to connect.
    pub target: Target,
    /// Relative weight (round-robin share).
    pub weight: u32,
}

/// This process's part of a distributed run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerShare {
    /// `--worker-index`, `0..count`.
    pub index: u32,
    /// `--worker-count`.
    pub count: u32,
}

impl WorkerShare {
    /// A run with one worker process.
    pub const SOLE: WorkerShare = WorkerShare { index: 0, count: 1 };

    /// This worker's part of `total` (the first `total % count` get one more).
    pub fn split(&self, total: u64) -> u64 {
        let n = u64::from(self.count.max(1));
        total / n + u64::from(u64::from(self.index) < total % n)
    }
}

/// Everything a run needs, validated.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The load.
    pub plan: Plan,
    /// Where it goes; empty: an embedded mock.
    pub targets: Vec<TargetSpec>,
    /// HTTP/2 connections per target.
    pub connections: u32,
    /// Generator threads (default: cores, at most `connections`).
    pub threads: Option<u32>,
    /// Most actions in flight under a rate.
    pub max_in_flight: u32,
    /// Deadline of each unary call.
    pub timeout: Duration,
    /// How long in-flight actions may finish after the load ends.
    pub drain_timeout: Duration,
    /// Length of the reporting intervals.
    pub interval: Duration,
    /// gRPC metadata sent with every call.
    pub metadata: Vec<(String, String)>,
    /// HTTP/2 settings.
    pub h2: H2Settings,
    /// This process's part of a distributed run.
    pub worker: WorkerShare,
    /// Leave the jobs the run created.
    pub keep_jobs: bool,
    /// Jobs tracked for cleanup before older ones are deleted during the run.
    pub max_tracked_jobs: usize,
    /// Read the targets' StreamSystemMetrics.
    pub server_metrics: bool,
    /// Wait for this wall time before starting (aligns distributed workers).
    pub start_at: Option<SystemTime>,
    /// The progress line.
    pub progress: ProgressMode,
    /// Write the HDR interval log here.
    pub hdr_log: Option<PathBuf>,
    /// The command line, for the report.
    pub command_line: String,
}

impl RunConfig {
    /// A run of `plan` against the embedded mock with default settings.
    pub fn new(plan: Plan) -> Self {
        Self {
            plan,
            targets: Vec::new(),
            connections: 4,
            threads: None,
            max_in_flight: 1024,
            timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(30),
            interval: Duration::from_secs(1),
            metadata: Vec::new(),
            h2: H2Settings::default(),
            worker: WorkerShare::SOLE,
            keep_jobs: false,
            max_tracked_jobs: 1_000_000,
            server_metrics: true,
            start_at: None,
            progress: ProgressMode::Off,
            hdr_log: None,
            command_line: String::new(),
        }
    }
}

/// Stops a run from outside (Ctrl-C): no new actions, in-flight ones drain,
/// jobs are cleaned up, and the report is still produced.
#[derive(Debug, Clone, Default)]
pub struct Stop {
    token: CancellationToken,
    interrupted: Arc<AtomicBool>,
}

impl Stop {
    /// A stop that has not fired.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stops the run.
    pub fn interrupt(&self) {
        self.interrupted.store(true, Ordering::SeqCst);
        self.token.cancel();
    }

    /// Whether [`Stop::interrupt`] was called.
    pub fn is_interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }
}

/// Why a run could not take place.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The settings do not make sense.
    #[error("{0}")]
    Config(String),
    /// A target cannot be used.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// A target did not accept a connection before the run.
    #[error("target {target}: {error}")]
    Connect {
        /// `HOST:PORT`.
        target: String,
        /// What happened.
        error: CallError,
    },
    /// The embedded mock did not start.
    #[error("the embedded mock did not start: {0}")]
    Mock(String),
    /// A runtime or thread could not start.
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    /// A generator thread failed.
    #[error("generator thread: {0}")]
    Thread(String),
}

struct Embedded {
    runtime: tokio::runtime::Runtime,
    mock: Option<joblet_mock::RunningMock>,
}

impl Embedded {
    fn start() -> Result<Self, RunError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("embedded-mock")
            .enable_all()
            .build()
            .map_err(|e| RunError::Io("embedded mock runtime".into(), e))?;
        let mock = runtime
            .block_on(joblet_mock::MockServer::builder().start())
            .map_err(|e| RunError::Mock(e.to_string()))?;
        Ok(Self {
            runtime,
            mock: Some(mock),
        })
    }

    fn stop(mut self) {
        if let Some(mock) = self.mock.take() {
            let _ = self.runtime.block_on(mock.shutdown());
        }
        self.runtime.shutdown_timeout(Duration::from_secs(2));
    }
}

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
                () = stop.token.cancelled() => {}
            }
        });
    }
    let (embedded, specs) = if cfg.targets.is_empty() {
        let e = Embedded::start()?;
        let addr = e
            .mock
            .as_ref()
            .map(|m| m.addr().to_string())
            .unwrap_or_default();
        eprintln!("no --target: running against an embedded joblet-mock on {addr}");
        (
            Some(e),
            vec![TargetSpec {
                target: Target::plaintext(addr),
                weight: 1,
            }],
        )
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

fn check(cfg: &RunConfig) -> Result<(), RunError> {
    let bad = |m: &str| Err(RunError::Config(m.into()));
    cfg.plan
        .validate()
        .map_err(|e| RunError::Config(e.to_string()))?;
    if cfg.connections == 0 {
        return bad("--connections must be at least 1");
    }
    if cfg.threads == Some(0) {
        return bad("--threads must be at least 1");
    }
    if cfg.worker.count == 0 || cfg.worker.index >= cfg.worker.count {
        return bad("--worker-index must be below --worker-count");
    }
    if cfg.interval < Duration::from_millis(10) {
        return bad("--interval must be at least 10ms");
    }
    if cfg.max_in_flight == 0 {
        return bad("--max-in-flight must be at least 1");
    }
    if cfg.timeout.is_zero() {
        return bad("--timeout must be above 0");
    }
    if !cfg.targets.is_empty() && cfg.targets.iter().all(|t| t.weight == 0) {
        return bad("every target has weight 0");
    }
    if cfg
        .plan
        .requests
        .is_some_and(|n| n < u64::from(cfg.worker.count))
    {
        return bad(
            "--requests is smaller than --worker-count: some workers would have nothing to do",
        );
    }
    Ok(())
}

fn run_on(
    cfg: &RunConfig,
    stop: &Stop,
    control: &tokio::runtime::Runtime,
    specs: &[TargetSpec],
    embedded: bool,
) -> Result<Report, RunError> {
    let endpoints = specs
        .iter()
        .map(|s| Endpoint::new(&s.target, &cfg.metadata, cfg.h2).map(Arc::new))
        .collect::<Result<Vec<_>, _>>()?;
    // Fail early, with the reason, on a target that cannot be reached.
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

    let plan = &cfg.plan;
    let threads = cfg
        .threads
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get() as u32)
                .unwrap_or(1)
        })
        .clamp(1, cfg.connections);
    let (n, me) = (cfg.worker.count, cfg.worker.index);
    let lanes = n * threads;
    let closed_workers = plan.max_concurrency().div_ceil(lanes);
    let open = plan.model() != Model::Closed;
    let open_workers = if open {
        cfg.max_in_flight.div_ceil(threads)
    } else {
        0
    };
    let workers = closed_workers.max(open_workers).max(1);
    let zeros = plan.actions.iter().find_map(|w| match w.action {
        Action::LogStream { bytes } => {
            Some(grpc::frame(&crate::plan::JobSpec::zeros(bytes).request()))
        }
        _ => None,
    });
    let pool_jobs = plan.actions.iter().any(|w| {
        w.weight > 0.0
            && matches!(
                w.action,
                Action::Call(Rpc::GetJobStatus | Rpc::GetJobLogs | Rpc::StopJob | Rpc::DeleteJob)
            )
    });
    let start_wall = SystemTime::now();
    let start = Instant::now();
    let shared = Arc::new(Shared {
        picker: ActionPicker::new(plan),
        run_job: grpc::frame(&plan.job.request()),
        zeros,
        empty: grpc::frame(&pb::EmptyRequest {}),
        endpoints: endpoints.clone(),
        weights: specs.iter().map(|s| s.weight).collect(),
        budget: Budget::new(plan.requests.map(|r| cfg.worker.split(r))),
        stop: stop.token.child_token(),
        timeout: cfg.timeout,
        drain_timeout: cfg.drain_timeout,
        interval: cfg.interval,
        keep_jobs: cfg.keep_jobs,
        track_jobs_per_thread: (cfg.max_tracked_jobs / threads as usize).max(16),
        pool_jobs,
        start,
        plan: plan.clone(),
    });

    let mut hdr = match &cfg.hdr_log {
        Some(path) => Some(
            HdrLog::create(path, start_wall, &cfg.command_line)
                .map_err(|e| RunError::Io(format!("cannot write {}", path.display()), e))?,
        ),
        None => None,
    };

    let monitor_stop = CancellationToken::new();
    let monitors: Vec<_> = if cfg.server_metrics {
        specs
            .iter()
            .map(|s| {
                let target = s.target.clone();
                let stop = monitor_stop.clone();
                let every = cfg.interval.max(Duration::from_secs(1));
                control.spawn(monitor::watch(target, every, stop))
            })
            .collect()
    } else {
        Vec::new()
    };

    let (tx, rx) = mpsc::channel();
    let mut handles = Vec::new();
    for t in 0..threads {
        let conns = (cfg.connections / threads + u32::from(t < cfg.connections % threads)) as usize;
        let tp = ThreadPlan {
            thread: t as usize,
            lane: Lane {
                index: n * t + me,
                count: lanes,
            },
            workers,
            connections: conns,
        };
        let shared = Arc::clone(&shared);
        let tx = tx.clone();
        let handle = std::thread::Builder::new()
            .name(format!("loadgen-{t}"))
            .spawn(move || worker::run_thread(shared, tp, tx))
            .map_err(|e| RunError::Io("cannot start a generator thread".into(), e))?;
        handles.push(handle);
    }
    drop(tx);

    let mut collector = Collector::new(cfg, threads as usize, specs.len(), start, start_wall);
    let mut progress = Progress::new(cfg.progress, plan.total_duration());
    let mut load_cpu = Duration::ZERO;
    let mut cpu_known = true;
    let mut load_done = 0;
    let mut load_end = None;
    let mut abandoned = 0;
    let mut cleanup = CleanupStats::default();
    let mut failures = Vec::new();
    let mut finished = 0;
    while finished < threads as usize {
        let msg = match rx.recv_timeout(Duration::from_millis(250)) {
            Ok(m) => m,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                progress.tick();
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
            } => {
                for flushed in collector.add(thread, index, end, *cells, last) {
                    if let Some(h) = hdr.as_mut()
                        && let Err(e) = h.write_interval(&flushed, open)
                    {
                        tracing::warn!("HDR log: {e}");
                    }
                    progress.update(&collector.snapshot(&flushed));
                }
            }
            Msg::LoadDone {
                cpu, abandoned: a, ..
            } => {
                match cpu {
                    Some(c) => load_cpu += c,
                    None => cpu_known = false,
                }
                abandoned += a;
                load_done += 1;
                if load_done == threads {
                    load_end = Some(Instant::now());
                    monitor_stop.cancel();
                    progress.cleaning();
                }
            }
            Msg::Done {
                cleanup: c, error, ..
            } => {
                cleanup.merge(&c);
                if let Some(e) = error {
                    failures.push(e);
                }
                finished += 1;
            }
        }
    }
    for flushed in collector.flush_all() {
        if let Some(h) = hdr.as_mut() {
            let _ = h.write_interval(&flushed, open);
        }
    }
    progress.finish();
    for h in handles {
        if h.join().is_err() {
            failures.push("a generator thread panicked".into());
        }
    }
    monitor_stop.cancel();
    let server: BTreeMap<String, report::ServerReport> = control.block_on(async {
        let mut out = BTreeMap::new();
        for (spec, m) in specs.iter().zip(monitors) {
            if let Ok(r) = m.await {
                out.insert(spec.target.host_port().to_owned(), r);
            }
        }
        out
    });
    if let Some(h) = hdr.as_mut() {
        let _ = h.finish();
    }
    if let Some(f) = failures.into_iter().next() {
        return Err(RunError::Thread(f));
    }
    let load_end = load_end.unwrap_or_else(Instant::now);
    let collector_cpu = worker::thread_cpu();
    let cpu = (cpu_known && collector_cpu.is_some())
        .then(|| load_cpu + collector_cpu.unwrap_or_default());
    Ok(collector.report(ReportInputs {
        cfg,
        specs,
        embedded,
        threads,
        start_wall,
        duration: load_end - start,
        interrupted: stop.is_interrupted(),
        server,
        cleanup,
        cpu,
        abandoned,
    }))
}

struct ReportInputs<'a> {
    cfg: &'a RunConfig,
    specs: &'a [TargetSpec],
    embedded: bool,
    threads: u32,
    start_wall: SystemTime,
    duration: Duration,
    interrupted: bool,
    server: BTreeMap<String, report::ServerReport>,
    cleanup: CleanupStats,
    cpu: Option<Duration>,
    abandoned: u64,
}

/// One interval, complete (every thread reported it).
#[derive(Debug)]
pub(crate) struct Flushed {
    /// Offset of its start from the run's start.
    pub(crate) offset: Duration,
    /// Its length.
    pub(crate) length: Duration,
    /// Per operation.
    pub(crate) by_op: BTreeMap<Op, stats::OpStats>,
}

struct Pending {
    cells: Cells,
    end: Instant,
}

/// Assembles the threads' intervals into totals and time series.
struct Collector {
    interval: Duration,
    start: Instant,
    start_ms: u64,
    targets: usize,
    stages: usize,
    pending: BTreeMap<u64, Pending>,
    reported: Vec<u64>,
    finished: Vec<bool>,
    totals: Cells,
    series: BTreeMap<Op, Vec<Point>>,
    requests_so_far: u64,
    errors_so_far: u64,
}

impl Collector {
    fn new(
        cfg: &RunConfig,
        threads: usize,
        targets: usize,
        start: Instant,
        start_wall: SystemTime,
    ) -> Self {
        let stages = cfg.plan.stages.len();
        Self {
            interval: cfg.interval,
            start,
            start_ms: unix_ms(start_wall),
            targets,
            stages,
            pending: BTreeMap::new(),
            reported: vec![0; threads],
            finished: vec![false; threads],
            totals: Cells::new(targets, stages),
            series: BTreeMap::new(),
            requests_so_far: 0,
            errors_so_far: 0,
        }
    }

    fn add(
        &mut self,
        thread: usize,
        index: u64,
        end: Instant,
        cells: Cells,
        last: bool,
    ) -> Vec<Flushed> {
        let (targets, stages) = (self.targets, self.stages);
        let p = self.pending.entry(index).or_insert_with(|| Pending {
            cells: Cells::new(targets, stages),
            end,
        });
        p.cells.merge(&cells);
        p.end = p.end.max(end);
        self.reported[thread] = self.reported[thread].max(index);
        if last {
            self.finished[thread] = true;
        }
        let ready = self
            .reported
            .iter()
            .zip(&self.finished)
            .filter(|(_, f)| !**f)
            .map(|(r, _)| *r)
            .min()
            .unwrap_or(u64::MAX);
        let keys: Vec<u64> = self.pending.range(..=ready).map(|(k, _)| *k).collect();
        keys.into_iter().filter_map(|k| self.flush(k)).collect()
    }

    fn flush_all(&mut self) -> Vec<Flushed> {
        let keys: Vec<u64> = self.pending.keys().copied().collect();
        keys.into_iter().filter_map(|k| self.flush(k)).collect()
    }

    fn flush(&mut self, index: u64) -> Option<Flushed> {
        let p = self.pending.remove(&index)?;
        let offset = self.interval * (index.saturating_sub(1)) as u32;
        let begin = self.start + offset;
        let length = p.end.saturating_duration_since(begin).min(self.interval);
        let t_ms = self.start_ms + offset.as_millis() as u64;
        self.totals.merge(&p.cells);
        let by_op = p.cells.by_op();
        for (op, s) in &by_op {
            if report::is_rpc(op.name()) {
                self.requests_so_far += s.count();
                self.errors_so_far += s.error_count();
            }
            let series = self.series.entry(*op).or_default();
            series.push(Point::new(t_ms, length.as_millis() as u64, s));
            if series.len() > report::MAX_POINTS {
                *series = report::compact(series);
            }
        }
        Some(Flushed {
            offset,
            length,
            by_op,
        })
    }

    fn snapshot(&self, last: &Flushed) -> Snapshot {
        let totals = self.totals.by_op();
        let secs = last.length.as_secs_f64().max(1e-3);
        let interval_requests: u64 = last
            .by_op
            .iter()
            .filter(|(op, _)| report::is_rpc(op.name()))
            .map(|(_, s)| s.count())
            .sum();
        Snapshot {
            elapsed: last.offset + last.length,
            requests: self.requests_so_far,
            errors: self.errors_so_far,
            rate: interval_requests as f64 / secs,
            ops: totals
                .iter()
                .filter(|(_, s)| s.ok > 0)
                .map(|(op, s)| {
                    (
                        op.name(),
                        Percentiles::of_micros(&s.latency),
                        last.by_op
                            .get(op)
                            .and_then(|l| l.stream.as_ref())
                            .map(|st| st.bytes as f64 / secs),
                    )
                })
                .collect(),
        }
    }

    fn report(self, r: ReportInputs<'_>) -> Report {
        let cfg = r.cfg;
        let plan = &cfg.plan;
        let secs = r.duration.as_secs_f64();
        let uncorrected = plan.model() != Model::Closed;
        let render = |m: BTreeMap<Op, stats::OpStats>, secs: f64| -> BTreeMap<String, OpReport> {
            m.iter()
                .map(|(op, s)| {
                    (
                        op.name().to_owned(),
                        OpReport::from_stats(*op, s, secs, uncorrected),
                    )
                })
                .collect()
        };
        let by_op = self.totals.by_op();
        let operations = render(by_op.clone(), secs);
        let targets = r
            .specs
            .iter()
            .enumerate()
            .map(|(i, s)| {
                (
                    s.target.host_port().to_owned(),
                    Group {
                        operations: render(self.totals.for_target(i as u16), secs),
                    },
                )
            })
            .collect();
        let mut at = Duration::ZERO;
        let stages = plan
            .stages
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let begin = at.min(r.duration);
                let end = s.duration.map_or(r.duration, |d| (at + d).min(r.duration));
                at += s.duration.unwrap_or_default();
                let d = end.saturating_sub(begin).as_secs_f64();
                StageReport {
                    name: s.name.clone(),
                    load: s.load.to_string(),
                    duration_s: d,
                    operations: render(self.totals.for_stage(i as u16), d),
                }
            })
            .collect();
        let errors = report::error_summary(&operations);
        let final_status = by_op
            .get(&Op::Final)
            .map(|s| s.statuses.clone())
            .unwrap_or_default();
        let timeseries = self
            .series
            .into_iter()
            .map(|(op, pts)| (op.name().to_owned(), pts))
            .collect();
        let lag = self.totals.lag.as_ref();
        let cpu_s = r.cpu.map(|c| c.as_secs_f64());
        let host = hostname();
        Report {
            schema_version: report::SCHEMA_VERSION,
            tool: format!("joblet-loadgen {}", env!("CARGO_PKG_VERSION")),
            scenario: plan.scenario.clone(),
            model: plan.model().as_str().into(),
            started_at: chrono::DateTime::<chrono::Utc>::from(r.start_wall)
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            start_unix_ms: unix_ms(r.start_wall),
            duration_s: secs,
            interval_s: cfg.interval.as_secs_f64(),
            interrupted: r.interrupted,
            workers: vec![WorkerInfo {
                index: cfg.worker.index,
                count: cfg.worker.count,
                host,
                start_unix_ms: unix_ms(r.start_wall),
                duration_s: secs,
            }],
            parameters: parameters(cfg, r.specs, r.embedded, r.threads),
            operations,
            targets,
            stages,
            errors,
            final_status,
            server: r.server,
            timeseries,
            generator: GeneratorReport {
                threads: r.threads,
                cpu_seconds: cpu_s,
                cpu_seconds_per_100k_requests: cpu_s
                    .filter(|_| errors.requests > 0)
                    .map(|c| c / errors.requests as f64 * 1e5),
                peak_rss_bytes: peak_rss(),
                schedule_lag_ms: lag.map(Percentiles::of_micros),
                schedule_lag_histogram: lag.map(stats::encode),
                abandoned_in_flight: r.abandoned,
            },
            cleanup: r.cleanup,
            thresholds: Vec::new(),
        }
    }
}

fn parameters(cfg: &RunConfig, specs: &[TargetSpec], embedded: bool, threads: u32) -> Parameters {
    let plan = &cfg.plan;
    let mut operations = BTreeMap::new();
    let mut log_bytes = None;
    let mut follow = None;
    for w in &plan.actions {
        let name = match w.action {
            Action::Call(rpc) => rpc.path().rsplit('/').next().unwrap_or("").to_owned(),
            Action::Lifecycle(f) => {
                follow = Some(match f {
                    Follow::Logs => "logs".to_owned(),
                    Follow::Poll(d) => format!("poll {}", crate::units::format_duration(d)),
                });
                "lifecycle".to_owned()
            }
            Action::LogStream { bytes } => {
                log_bytes = Some(bytes);
                "logs".to_owned()
            }
        };
        operations.insert(name, w.weight);
    }
    Parameters {
        command_line: cfg.command_line.clone(),
        targets: if embedded {
            Vec::new()
        } else {
            specs
                .iter()
                .map(|s| TargetParam {
                    addr: s.target.host_port().to_owned(),
                    weight: s.weight,
                    tls: s.target.is_tls(),
                })
                .collect()
        },
        embedded_mock: embedded,
        connections: cfg.connections,
        threads,
        max_in_flight: cfg.max_in_flight,
        stages: plan
            .stages
            .iter()
            .map(|s| StageParam {
                name: s.name.clone(),
                rate: match s.load {
                    Load::Rate(r) => Some(r),
                    Load::Concurrency(_) => None,
                },
                concurrency: match s.load {
                    Load::Concurrency(c) => Some(c),
                    Load::Rate(_) => None,
                },
                duration_s: s.duration.map(|d| d.as_secs_f64()),
                ramp_s: s.ramp.as_secs_f64(),
            })
            .collect(),
        requests: plan.requests,
        operations,
        job: plan.job.clone(),
        log_bytes,
        follow,
        timeout_s: cfg.timeout.as_secs_f64(),
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default()
}

/// Peak resident memory of this process (`VmHWM`, Linux).
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_shares_add_up() {
        for total in [0u64, 1, 7, 100, 1001] {
            for count in 1..6 {
                let sum: u64 = (0..count)
                    .map(|index| WorkerShare { index, count }.split(total))
                    .sum();
                assert_eq!(sum, total);
            }
        }
    }
}
