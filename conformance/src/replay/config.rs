//! How to replay: targets, rules, pacing, settle time and opt-ins.

use std::sync::Arc;
use std::time::Duration;

use joblet_testkit::detect::Detection;
use tokio_util::sync::CancellationToken;

use super::rules::RuleSet;
use crate::ctx::Targets;
use crate::runner::{Progress, Quiet};

/// `recorded`: keep the recorded gaps between calls; `asap`: start each call
/// as soon as the calls before it allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Pace {
    /// As fast as the order allows.
    #[default]
    Asap,
    /// With the recorded gaps.
    Recorded,
}

/// How to replay.
#[derive(Clone)]
pub struct ReplayConfig {
    /// Where (the main target for admin calls, viewer and no-role identities
    /// for those roles' calls).
    pub targets: Targets,
    /// Comparison rules (the built-in ones, then a rule file's).
    pub rules: RuleSet,
    /// The run ID (names get `rp<run id>s<n>-`); random when `None`.
    pub run_id: Option<String>,
    /// Longest a differing read is repeated.
    pub settle: Duration,
    /// Longest a call may take (streams included).
    pub call_timeout: Duration,
    /// Gaps between calls.
    pub pace: Pace,
    /// Replay DeleteAllJobs (it deletes EVERY finished job on a node).
    pub allow_delete_all: bool,
    /// Replay installs from GitHub (the node downloads).
    pub allow_remote_installs: bool,
    /// Remove what the replay created and did not remove itself.
    pub cleanup: bool,
    /// Stops the replay (Ctrl-C).
    pub cancel: CancellationToken,
    /// Live display.
    pub progress: Arc<dyn Progress>,
    /// The contract of the target: given (`--contract`) or detected
    /// beforehand; `None` detects it when the replay starts.
    pub contract: Option<Detection>,
}

impl std::fmt::Debug for ReplayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayConfig")
            .field("targets", &self.targets)
            .field("settle", &self.settle)
            .field("call_timeout", &self.call_timeout)
            .field("pace", &self.pace)
            .field("contract", &self.contract)
            .finish_non_exhaustive()
    }
}

/// The shortest settle time of a differing read.
pub const SETTLE_MIN: Duration = Duration::from_millis(300);

/// The shortest deadline of a call: twice its recorded duration plus this.
pub const CALL_SLACK: Duration = Duration::from_secs(5);

impl ReplayConfig {
    /// Defaults for `targets`: built-in rules, settle 30 s, calls 60 s,
    /// cleanup on.
    pub fn new(targets: Targets) -> Self {
        Self {
            targets,
            rules: RuleSet::defaults(),
            run_id: None,
            settle: Duration::from_secs(30),
            call_timeout: Duration::from_secs(60),
            pace: Pace::Asap,
            allow_delete_all: false,
            allow_remote_installs: false,
            cleanup: true,
            cancel: CancellationToken::new(),
            progress: Arc::new(Quiet),
            contract: None,
        }
    }
}
