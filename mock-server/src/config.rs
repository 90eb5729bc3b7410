//! The mock's configuration: what the simulated node looks like.

use std::path::PathBuf;
use std::time::Duration;

use crate::catalogue::RuntimeRecord;
use crate::sim::{Scenario, UnknownCommand};

pub use crate::behaviour::Profile;
use crate::behaviour::{Behaviour, Mutant, Quirk};
use crate::clock::ClockMode;

/// Everything that shapes the simulated node.
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// The wire contracts served (`--api`): both by default.
    pub api: joblet_testkit::contract::Api,
    /// The role model of the TLS listener (`--roles`): two roles by default.
    pub roles: joblet_testkit::auth::RoleModel,
    /// Behaviour profile.
    pub profile: Profile,
    /// Simulated GPUs on the node.
    pub gpus: u32,
    /// Memory of each simulated GPU, in MB.
    pub gpu_memory_mb: u32,
    /// Commands that are neither built in nor scripted.
    pub unknown_command: UnknownCommand,
    /// History kept per job, in bytes.
    pub log_retention_bytes: usize,
    /// Scripted commands, first match wins.
    pub scenarios: Vec<Scenario>,
    /// Installed runtimes at start.
    pub runtimes: Vec<RuntimeRecord>,
    /// CPU cores of the simulated host (the real host's count by default).
    pub host_cores: u32,
    /// Node identity reported in jobs and monitoring.
    pub node_id: String,
    /// Seed for synthetic monitoring figures; `None` varies them.
    pub seed: Option<u64>,
    /// Largest gRPC message accepted and sent (ALL-7: 128 MiB).
    pub max_message_bytes: usize,
    /// Where the scenario files came from (for logs).
    pub scenario_files: Vec<PathBuf>,
    /// Real or virtual time (each session has its own clock in this mode).
    pub clock: ClockMode,
    /// Quirks turned on besides the profile's own (`--quirk`).
    pub extra_quirks: Vec<Quirk>,
    /// The one documented behaviour to break (`--mutant`).
    pub mutant: Option<Mutant>,
    /// Calls kept per session in the call journal (0: none).
    pub journal_size: usize,
    /// Run jobs as real child processes instead of simulating them.
    pub exec: bool,
    /// Most sessions held at once (besides the default one).
    pub max_sessions: usize,
    /// Fault rules every session starts with (`--fault`, `--faults-file`).
    pub faults: Vec<crate::faults::FaultRule>,
    /// Where calls are recorded with their whole answers (`--record FILE`,
    /// `--transcript-size`): see `crate::recorder`. `None` records nothing.
    pub transcript: Option<std::sync::Arc<crate::recorder::Recorder>>,
    /// Memory the whole process may give job records and log history
    /// (`--memory-budget`, see `crate::budget`).
    pub memory_budget: u64,
    /// Job records a session keeps at most (`--max-jobs`; 0: no cap).
    pub max_jobs: usize,
    /// Workflows a session keeps at most (`--max-workflows`; 0: no cap):
    /// past it the oldest finished one is evicted.
    pub max_workflows: usize,
    /// How often a running job's metrics are sampled, on the session clock
    /// (`--metrics-interval`, v2 JOB-METRICS-1): at least 1 ms.
    pub metrics_interval: Duration,
}

/// Default log retention per job: 64 MiB.
pub const DEFAULT_LOG_RETENTION: usize = 64 << 20;
/// Default and maximum gRPC message size: 128 MiB.
pub const MAX_MESSAGE_BYTES: usize = 128 << 20;

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            api: joblet_testkit::contract::Api::Both,
            roles: joblet_testkit::auth::RoleModel::Two,
            profile: Profile::Documented,
            gpus: 0,
            gpu_memory_mb: 16_384,
            unknown_command: UnknownCommand::Succeed,
            log_retention_bytes: DEFAULT_LOG_RETENTION,
            scenarios: Vec::new(),
            runtimes: crate::catalogue::builtin(),
            host_cores: std::thread::available_parallelism()
                .map(|n| n.get() as u32)
                .unwrap_or(1),
            node_id: uuid::Uuid::new_v4().to_string(),
            seed: None,
            max_message_bytes: MAX_MESSAGE_BYTES,
            scenario_files: Vec::new(),
            clock: ClockMode::Real,
            extra_quirks: Vec::new(),
            mutant: None,
            journal_size: DEFAULT_JOURNAL_SIZE,
            exec: false,
            max_sessions: 1024,
            faults: Vec::new(),
            transcript: None,
            memory_budget: crate::budget::DEFAULT_MEMORY_BUDGET,
            max_jobs: crate::budget::DEFAULT_MAX_JOBS,
            max_workflows: crate::budget::DEFAULT_MAX_WORKFLOWS,
            metrics_interval: DEFAULT_METRICS_INTERVAL,
        }
    }
}

/// Default sampling interval of job metrics: 5 s, as a Joblet node (§2.1).
pub const DEFAULT_METRICS_INTERVAL: Duration = Duration::from_secs(5);

/// The shortest sampling interval of job metrics (the session clock counts
/// milliseconds).
pub const MIN_METRICS_INTERVAL: Duration = Duration::from_millis(1);

/// Parses `--metrics-interval`: a duration as the tools' flags write it
/// (`5s`, `250ms`, `1m30s`; a bare number is seconds), at least 1 ms.
pub fn parse_metrics_interval(text: &str) -> Result<Duration, String> {
    let d = joblet_testkit::parse_duration(text)
        .map_err(|reason| format!("invalid metrics interval {text:?}: {reason}"))?;
    if d < MIN_METRICS_INTERVAL {
        return Err(format!(
            "invalid metrics interval {text:?}: must be at least 1ms (e.g. 5s, 500ms)"
        ));
    }
    Ok(d)
}

/// Default size of the call journal, per session.
pub const DEFAULT_JOURNAL_SIZE: usize = 10_000;

impl MockConfig {
    /// The largest gRPC message the server accepts and sends (ALL-7):
    /// [`max_message_bytes`](Self::max_message_bytes), or tonic's default
    /// 4 MiB under the `small-messages` mutant.
    pub fn message_limit(&self) -> usize {
        if self.mutant == Some(Mutant::SmallMessages) {
            4 << 20
        } else {
            self.max_message_bytes
        }
    }

    /// The switches the engine consults: the profile's quirks, the extra
    /// quirks and the mutant.
    pub fn behaviour(&self) -> Behaviour {
        let mut quirks = self.profile.quirks();
        for q in &self.extra_quirks {
            quirks = quirks.with(*q);
        }
        Behaviour {
            quirks,
            mutant: self.mutant,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn metrics_intervals_parse_and_zero_is_refused() {
        assert_eq!(parse_metrics_interval("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(
            parse_metrics_interval("250ms"),
            Ok(Duration::from_millis(250))
        );
        assert_eq!(parse_metrics_interval("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_metrics_interval("2"), Ok(Duration::from_secs(2)));
        for bad in ["0", "0s", "500us", "", "-1s", "5 parsecs", "fast"] {
            let e = parse_metrics_interval(bad).unwrap_err();
            assert!(e.contains("invalid metrics interval"), "{bad}: {e}");
        }
        assert!(
            parse_metrics_interval("0")
                .unwrap_err()
                .contains("at least 1ms")
        );
    }

    proptest! {
        #[test]
        fn whole_milliseconds_round_trip(ms in 1u64..10_000_000) {
            prop_assert_eq!(
                parse_metrics_interval(&format!("{ms}ms")),
                Ok(Duration::from_millis(ms))
            );
        }

        #[test]
        fn any_text_is_an_interval_of_1ms_or_more_or_an_error(text in "\\PC{0,16}") {
            match parse_metrics_interval(&text) {
                Ok(d) => prop_assert!(d >= MIN_METRICS_INTERVAL),
                Err(e) => prop_assert!(e.starts_with("invalid metrics interval")),
            }
        }
    }
}
