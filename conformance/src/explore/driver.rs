//! Many sequences against one target: seeds, parallelism, the slots that
//! keep concurrent sequences' CIDRs apart, coverage, the first finding
//! shrunk, and the human report.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tonic::transport::Channel;

use joblet_testkit::transcript::{Recorder, RecorderOptions};

use super::ops::Op;
use super::sequence::{self, Place, Run};
use crate::cleanup::Leak;
use crate::ctx::Targets;

/// How an exploration runs.
#[derive(Debug, Clone)]
pub struct ExploreConfig {
    /// The seed: sequence `i` uses `seed + i`.
    pub seed: u64,
    /// Operations per sequence.
    pub steps: usize,
    /// Sequences at most.
    pub sequences: usize,
    /// Start no new sequence after this long.
    pub duration: Option<Duration>,
    /// Sequences at once.
    pub parallel: usize,
    /// How late the node may be (a job due at `t` has started by `t +
    /// grace`).
    pub grace: Duration,
    /// The run ID: names start with `cf-<run id>-`.
    pub run_id: String,
    /// Shrink a finding.
    pub shrink: bool,
    /// Candidate sequences the shrinking may run.
    pub shrink_budget: usize,
    /// The other identities (viewer, no role, TLS without a certificate)
    /// and whether runtime installs are allowed.
    pub admin: super::admin::Admin,
    /// Where time is read: the wall clock, or a joblet-mock's manual clock
    /// that the explorer moves ([`super::clock`]).
    pub time: super::clock::TimeSource,
    /// The contracts the target serves, decided before the first sequence
    /// (detected, given by `--contract`, or the embedded mock's `api`): the
    /// operations and the model follow them ([`super::contract`]).
    pub contracts: joblet_testkit::contract::Api,
    /// Mix in the v2-only operations (job metrics and telematics, runtime
    /// YAML, and builds when installs are allowed): for a target that
    /// serves v2.
    pub v2_ops: bool,
    /// Generate the v1 operations (jobs with the v1 messages, workflows,
    /// installs, ...); when false, only the v2 operations and the job calls
    /// a node that speaks v2 alone serves to every client (StopJob,
    /// DeleteJob). Only read when `v2_ops` is on.
    pub v1_ops: bool,
}

impl ExploreConfig {
    /// Whether the target serves v2.5.9: the v2-only operations may run.
    pub fn serves_v2(&self) -> bool {
        self.contracts.serves_v2()
    }
}

impl Default for ExploreConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            steps: 50,
            sequences: 100,
            duration: None,
            parallel: 4,
            grace: Duration::from_millis(300),
            run_id: crate::ctx::new_run_id(),
            shrink: true,
            shrink_budget: 200,
            admin: super::admin::Admin::default(),
            time: super::clock::TimeSource::Wall,
            contracts: joblet_testkit::contract::Api::Both,
            v2_ops: true,
            v1_ops: true,
        }
    }
}

/// A disagreement between the target and the model.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The seed of the sequence (reproduce with `--seed` it and
    /// `--sequences 1`).
    pub seed: u64,
    /// The operations of the shrunk sequence.
    pub ops: Vec<Op>,
    /// Its run: the steps, the last one the disagreement.
    pub run: Run,
    /// Operations in the sequence before shrinking.
    pub original_len: usize,
}

impl Finding {
    /// Calls the shrunk sequence made.
    pub fn calls(&self) -> usize {
        self.run.steps.len()
    }

    /// The behaviour IDs the disagreeing answer was judged against.
    pub fn ids(&self) -> Vec<&'static str> {
        self.run
            .failed
            .map(|f| self.run.steps[f].verdict.ids.clone())
            .unwrap_or_default()
    }
}

/// What an exploration found and covered.
#[derive(Debug, Clone, Default)]
pub struct ExploreResult {
    /// Sequences run to their end or first disagreement.
    pub sequences: usize,
    /// Calls made (shrinking not counted).
    pub steps: usize,
    /// Wall time (shrinking not counted).
    pub elapsed: Duration,
    /// The first disagreement, shrunk.
    pub finding: Option<Finding>,
    /// Sequences that could not run, and why.
    pub errors: Vec<String>,
    /// Times each behaviour ID was exercised by an answer the model allowed.
    pub ids: BTreeMap<&'static str, usize>,
    /// Times each (call, job state) pair was exercised.
    pub pairs: BTreeMap<(String, String), usize>,
    /// What could not be removed.
    pub leaks: Vec<Leak>,
}

impl ExploreResult {
    /// Calls per second.
    pub fn rate(&self) -> f64 {
        self.steps as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn absorb(&mut self, run: &Run) {
        self.sequences += 1;
        self.steps += run.steps.len();
        self.leaks.extend(run.leaks.iter().cloned());
        if let Some(e) = &run.error {
            self.errors.push(e.clone());
        }
        for (i, step) in run.steps.iter().enumerate() {
            if run.failed == Some(i) {
                continue;
            }
            for id in &step.verdict.ids {
                *self.ids.entry(id).or_default() += 1;
            }
            if let Some(state) = &step.verdict.state {
                *self
                    .pairs
                    .entry((step.call.rpc().to_owned(), state.clone()))
                    .or_default() += 1;
            }
        }
    }
}

/// The first sequence that disagreed: its seed, operations, run and octet.
type Found = (u64, Vec<Op>, Run, u8);

/// Runs sequences against `channel` until one disagrees with the model, the
/// count or the duration is reached; shrinks the finding.
pub async fn explore(channel: Channel, config: &ExploreConfig) -> ExploreResult {
    let begin = Instant::now();
    let result = Arc::new(Mutex::new(ExploreResult::default()));
    let found: Arc<Mutex<Option<Found>>> = Arc::new(Mutex::new(None));
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for slot in 0..config.parallel.max(1) {
        let (result, found, stop, next) =
            (result.clone(), found.clone(), stop.clone(), next.clone());
        let (channel, config) = (channel.clone(), config.clone());
        workers.spawn(async move {
            let octet = 20 + (slot % 200) as u8;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let late = config.duration.is_some_and(|d| begin.elapsed() >= d);
                if i >= config.sequences || late || stop.load(Ordering::Relaxed) {
                    break;
                }
                let seed = config.seed.wrapping_add(i as u64);
                let ops = super::mix::generate(
                    seed,
                    config.steps,
                    config.contracts,
                    config.v1_ops,
                    config.v2_ops,
                );
                let place = Place {
                    channel: channel.clone(),
                    cleanup: channel.clone(),
                    prefix: format!("cf-{}-s{i}-", config.run_id),
                    octet,
                    grace: config.grace.as_secs_f64() * 1000.0,
                    admin: config.admin.clone(),
                    time: config.time,
                    contracts: config.contracts,
                };
                let run = sequence::run(&ops, &place).await;
                result.lock().absorb(&run);
                if run.failed.is_some() && !stop.swap(true, Ordering::Relaxed) {
                    *found.lock() = Some((seed, ops, run, octet));
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
    let mut result = std::mem::take(&mut *result.lock());
    result.elapsed = begin.elapsed();
    let first = found.lock().take();
    if let Some((seed, ops, run, octet)) = first {
        result.finding = Some(shrink_finding(&channel, config, seed, ops, run, octet).await);
    }
    result
}

async fn shrink_finding(
    channel: &Channel,
    config: &ExploreConfig,
    seed: u64,
    ops: Vec<Op>,
    run: Run,
    octet: u8,
) -> Finding {
    let original_len = ops.len();
    let last = run.failed.map(|f| run.steps[f].op).unwrap_or(ops.len());
    let ops: Vec<Op> = ops.into_iter().take(last + 1).collect();
    if !config.shrink {
        return Finding {
            seed,
            ops,
            run,
            original_len,
        };
    }
    let attempt_no = AtomicUsize::new(0);
    let grace = config.grace.as_secs_f64() * 1000.0;
    let (shrunk, shrunk_run) = sequence::shrink(ops.clone(), config.shrink_budget, |candidate| {
        let n = attempt_no.fetch_add(1, Ordering::Relaxed);
        let place = Place {
            channel: channel.clone(),
            cleanup: channel.clone(),
            prefix: format!("cf-{}-k{n}-", config.run_id),
            octet,
            grace,
            admin: config.admin.clone(),
            time: config.time,
            contracts: config.contracts,
        };
        async move { sequence::run(&candidate, &place).await }
    })
    .await;
    if shrunk_run.failed.is_some() {
        Finding {
            seed,
            ops: shrunk,
            run: shrunk_run,
            original_len,
        }
    } else {
        Finding {
            seed,
            ops,
            run,
            original_len,
        }
    }
}

/// The human report of a finding: the calls with their answers, the
/// disagreement with what the documents allow, and how to reproduce it.
pub fn show_finding(f: &Finding, steps: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "FINDING: the target disagrees with the documented model after {} call(s) (shrunk from a sequence of {} operations):",
        f.calls(),
        f.original_len
    );
    for (i, step) in f.run.steps.iter().enumerate() {
        let _ = writeln!(out, "  {:>2}. {}", i + 1, step.call);
        if f.run.failed == Some(i) {
            let _ = writeln!(
                out,
                "      expected: {}",
                step.verdict.expected.as_deref().unwrap_or("")
            );
            let _ = writeln!(out, "      got:      {}", step.answer);
            let _ = writeln!(out, "      behaviours: {}", step.verdict.ids.join(", "));
        } else {
            let _ = writeln!(out, "      -> {}", step.answer);
        }
    }
    let _ = writeln!(
        out,
        "reproduce: joblet-conformance explore --seed {} --sequences 1 --steps {steps}",
        f.seed
    );
    out
}

/// The coverage report: behaviour IDs and (call, job state) pairs.
pub fn show_coverage(r: &ExploreResult) -> String {
    let mut out = String::new();
    let ids: Vec<String> = r.ids.iter().map(|(id, n)| format!("{id} ({n})")).collect();
    let _ = writeln!(
        out,
        "behaviours exercised ({}): {}",
        r.ids.len(),
        ids.join(", ")
    );
    let _ = writeln!(
        out,
        "(call, job state) pairs exercised ({}):",
        r.pairs.len()
    );
    let mut by_call: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for ((call, state), n) in &r.pairs {
        by_call
            .entry(call.as_str())
            .or_default()
            .push(format!("{state} ({n})"));
    }
    for (call, states) in by_call {
        let _ = writeln!(out, "  {call}: {}", states.join(", "));
    }
    out
}

/// Errors writing a finding as a transcript.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TranscriptError {
    /// The file could not be created.
    #[error("cannot create the transcript: {0}")]
    File(#[source] std::io::Error),
    /// The recording proxy did not start.
    #[error("the recording proxy did not start: {0}")]
    Proxy(#[from] crate::proxy::ProxyError),
    /// The proxy could not be reached.
    #[error("cannot reach the recording proxy: {0}")]
    Connect(#[from] joblet_testkit::Error),
}

/// Runs the finding's operations again through a recording proxy in front
/// of `targets`, writing every call and its answer to `path` (a transcript
/// for `joblet-conformance replay`). A disagreement that needs timing may
/// not show every time: the transcript is that of the first of three runs
/// that shows it (or of the last). Returns that run.
pub async fn record_finding(
    targets: &Targets,
    finding: &Finding,
    config: &ExploreConfig,
    path: PathBuf,
) -> Result<Run, TranscriptError> {
    let mut run = Run::default();
    for attempt in 0..3 {
        let prefix = format!("cf-{}-t{attempt}-", config.run_id);
        run = record_once(targets, &finding.ops, config, prefix, path.clone()).await?;
        if run.failed.is_some() {
            break;
        }
    }
    Ok(run)
}

async fn record_once(
    targets: &Targets,
    ops: &[Op],
    config: &ExploreConfig,
    prefix: String,
    path: PathBuf,
) -> Result<Run, TranscriptError> {
    let recorder = Recorder::new(RecorderOptions {
        file: Some(path),
        log_limit: 0,
        contract: None,
    })
    .map_err(TranscriptError::File)?;
    let proxy = crate::proxy::start(crate::proxy::ProxyOptions {
        listen: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
        tls: None,
        upstream: targets.clone(),
        recorder: Arc::new(recorder),
    })
    .await?;
    let addr = proxy.addr.map(|a| a.to_string()).unwrap_or_default();
    let through = joblet_testkit::Target::plaintext(addr).connect().await?;
    let direct = targets.main.connect().await?;
    let place = Place {
        channel: through,
        cleanup: direct,
        prefix,
        octet: 20,
        grace: config.grace.as_secs_f64() * 1000.0,
        admin: config.admin.clone(),
        time: config.time,
        contracts: config.contracts,
    };
    let run = sequence::run(ops, &place).await;
    proxy.shutdown().await;
    Ok(run)
}
