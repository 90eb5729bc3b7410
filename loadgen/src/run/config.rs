//! What a run needs, validated: [`RunConfig`] with its targets
//! ([`TargetSpec`]) and this process's share of a distributed run
//! ([`WorkerShare`]); [`Stop`] to end it from outside; [`RunError`].

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use joblet_testkit::Target;
use joblet_testkit::contract::Api;
use tokio_util::sync::CancellationToken;

use crate::contract::ContractMemo;
use crate::plan::Plan;
use crate::progress::ProgressMode;
use crate::transport::{CallError, EndpointError, H2Settings, ServerTls};

/// A target and its share of the load.
#[derive(Debug, Clone)]
pub struct TargetSpec {
    /// Where to connect (with its mutual-TLS material, if any).
    pub target: Target,
    /// Relative weight (round-robin share).
    pub weight: u32,
    /// Server-only TLS towards a `target` without mutual-TLS material.
    pub server_tls: Option<ServerTls>,
}

impl TargetSpec {
    /// `target` with weight 1 (plaintext, or its own mutual TLS).
    pub fn new(target: Target) -> Self {
        Self {
            target,
            weight: 1,
            server_tls: None,
        }
    }

    /// Whether the generator speaks TLS to it.
    pub fn is_tls(&self) -> bool {
        self.target.is_tls() || self.server_tls.is_some()
    }
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
    /// The contract the targets speak (`--contract`); `None`: detect it.
    pub contract: Option<Api>,
    /// The contract the embedded mock serves (`--embedded-api`; only
    /// without targets).
    pub embedded_api: Api,
    /// Where the runs of this config and of its clones keep the targets'
    /// contract once detected (a capacity search's steps); `None`: every
    /// run detects it.
    pub contract_memo: Option<ContractMemo>,
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
            contract: None,
            embedded_api: Api::Both,
            contract_memo: None,
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

    /// Cancelled by [`Stop::interrupt`].
    pub(super) fn token(&self) -> &CancellationToken {
        &self.token
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

/// Why a run without targets is refused when there is no embedded mock.
#[cfg(not(feature = "embedded"))]
pub(super) const NO_TARGET: &str = "no target: pass --target HOST:PORT (or --node NAME with \
     --rnx-config FILE, or JOBLET_HOST), or build joblet-loadgen with the `embedded` feature \
     (on by default) to run against an embedded joblet-mock";

/// Refuses settings that make no sense, before anything starts.
pub(super) fn check(cfg: &RunConfig) -> Result<(), RunError> {
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
    #[cfg(not(feature = "embedded"))]
    if cfg.targets.is_empty() {
        return bad(NO_TARGET);
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

    fn submit() -> Plan {
        Plan::single(
            "submit",
            crate::plan::Action::Call(crate::transport::Rpc::RunJob),
            crate::plan::JobSpec::true_job(),
            crate::plan::Load::Concurrency(1),
            None,
            Some(1),
        )
        .unwrap()
    }

    #[cfg(feature = "embedded")]
    #[test]
    fn with_the_embedded_mock_a_run_needs_no_target() {
        assert!(check(&RunConfig::new(submit())).is_ok());
    }

    #[cfg(not(feature = "embedded"))]
    #[test]
    fn without_the_embedded_mock_a_run_needs_a_target() {
        let err = check(&RunConfig::new(submit())).unwrap_err();
        assert!(
            matches!(&err, RunError::Config(m) if m.contains("--target") && m.contains("`embedded` feature")),
            "{err}"
        );
        let mut with_target = RunConfig::new(submit());
        with_target
            .targets
            .push(TargetSpec::new(Target::plaintext("127.0.0.1:1")));
        assert!(check(&with_target).is_ok());
    }
}
