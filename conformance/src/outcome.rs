//! What a run reports: the verdict on each case ([`Outcome`], [`State`]) and
//! the run as a whole ([`RunResult`]), for cases and replayed calls alike
//! (a replayed call carries its [`ReplayInfo`]).

use std::collections::BTreeSet;

use crate::case::{Case, Effect, Level};
use crate::check::Failure;
use crate::cleanup::Leak;

/// The verdict on one case run.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// The target showed the behaviour.
    Pass,
    /// The target answered differently.
    Fail,
    /// Not run here, with a reason.
    Skip,
    /// A harness or connection problem: no verdict.
    Error,
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            State::Pass => "PASS",
            State::Fail => "FAIL",
            State::Skip => "SKIP",
            State::Error => "ERROR",
        })
    }
}

/// What kind of problem an Error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorKind {
    /// The suite itself (a panic, a missing setting, the run interrupted).
    Harness,
    /// The connection to the target (a reset, a GOAWAY under a call that had
    /// started, a proxy answering instead of the server): the target's
    /// behaviour was not judged.
    Connection,
}

/// One case run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    /// The case name.
    pub case: String,
    /// Behaviour IDs it certifies.
    pub ids: Vec<String>,
    /// The server-v1 quirks that replace a behaviour it checks.
    pub quirks: Vec<String>,
    /// The contracts the case holds in (`v1`, `v2`; [`Case::contracts`]):
    /// against a node of the other one alone it is skipped. Empty for a
    /// replayed call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contracts: Vec<String>,
    /// MUST or SHOULD.
    pub level: Level,
    /// Whether it changes state.
    pub effect: Effect,
    /// Which repetition (1-based, `--repeat`).
    pub attempt: u32,
    /// The verdict.
    pub state: State,
    /// For Fail: the call, what was expected, what came back.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<Failure>,
    /// For Skip and Error: why; for Fail: the failure as one line.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub message: Option<String>,
    /// For Error: the suite's problem or the connection's.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<ErrorKind>,
    /// Wall time of the case, without cleanup.
    pub duration_ms: u64,
    /// The RPCs the case called (`/joblet.JobService/RunJob`).
    pub rpcs: Vec<String>,
    /// What the case created and could not remove.
    #[serde(default)]
    pub leaks: Vec<Leak>,
    /// For a replayed call (`joblet-conformance replay`): the transcript, the
    /// call and every difference.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub replay: Option<ReplayInfo>,
}

impl Outcome {
    pub(crate) fn new(case: &Case, attempt: u32, state: State) -> Self {
        Self {
            case: case.name.into(),
            ids: case.ids.iter().map(|s| (*s).into()).collect(),
            quirks: case.quirks.iter().map(|s| (*s).into()).collect(),
            contracts: case.contracts.iter().map(|c| c.name().into()).collect(),
            level: case.level,
            effect: case.effect,
            attempt,
            state,
            failure: None,
            message: None,
            error: None,
            duration_ms: 0,
            rpcs: Vec::new(),
            leaks: Vec::new(),
            replay: None,
        }
    }

    /// Whether this outcome fails the run (a MUST case that failed or errored).
    pub fn fails_run(&self) -> bool {
        self.level == Level::Must && matches!(self.state, State::Fail | State::Error)
    }
}

/// The result of a run.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RunResult {
    /// The run ID.
    pub run_id: String,
    /// The main target's address.
    pub target: String,
    /// Whether the main target spoke TLS.
    pub tls: bool,
    /// Wall time of the run.
    pub duration_ms: u64,
    /// Every case run, in catalogue order (then attempt).
    pub outcomes: Vec<Outcome>,
    /// Whether the run was stopped early (Ctrl-C or the run deadline).
    pub interrupted: bool,
    /// The contract the target speaks and how that was decided (`None`: the
    /// target could not be reached, or a report written before contracts).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub contract: Option<ContractInfo>,
    /// Set when the run is a compatibility report: the contract given
    /// (`contract`, the client's) is one the node does not serve
    /// ([`crate::compat`]).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub compatibility: Option<Compatibility>,
}

/// What makes a run a compatibility report: a client of one contract
/// against a node that does not serve it (`--contract v1` against a node of
/// v2.5.9 alone, or the reverse).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Compatibility {
    /// The client's contract, given by `--contract`: `v1` or `v2`.
    pub client: String,
    /// The node's contract, detected.
    pub node: ContractInfo,
    /// Per behaviour of the client's catalogue, what its client meets on
    /// this node ([`crate::compat::verdicts`]), in catalogue order.
    #[serde(default)]
    pub behaviours: Vec<BehaviourVerdict>,
}

/// The contract a run was certified against (issue #17: detected before any
/// case, or given by `--contract`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ContractInfo {
    /// `v1`, `v2` or `both`, as `--contract` spells it.
    pub detected: String,
    /// How it was decided: `from server_version proto tag v2.5.9; probe:
    /// ListWorkflows answered`, `given by --contract`.
    pub how: String,
}

impl ContractInfo {
    /// The report's record of `detection`.
    pub fn of(detection: &joblet_testkit::detect::Detection) -> Self {
        Self {
            detected: detection.contract.name().into(),
            how: detection.how.clone(),
        }
    }

    /// The contract, as the contract crate names it (`None` for a name this
    /// version does not know).
    pub fn api(&self) -> Option<joblet_testkit::contract::Api> {
        joblet_testkit::contract::Api::parse(&self.detected)
    }

    /// One line: `v2.5.9 (from server_version proto tag v2.5.9)`.
    pub fn line(&self) -> String {
        let label = match self.api() {
            Some(api) => joblet_testkit::detect::label(api),
            None => &self.detected,
        };
        format!("{label} ({})", self.how)
    }
}

impl RunResult {
    /// Outcomes in `state`.
    pub fn count(&self, state: State) -> usize {
        self.outcomes.iter().filter(|o| o.state == state).count()
    }

    /// Whether the run passes: no MUST case failed or errored, and nothing
    /// the run created was left on the target.
    pub fn passed(&self) -> bool {
        !self.outcomes.iter().any(Outcome::fails_run) && self.leaks().is_empty()
    }

    /// Every leak of the run.
    pub fn leaks(&self) -> Vec<&Leak> {
        self.outcomes.iter().flat_map(|o| o.leaks.iter()).collect()
    }

    /// Names of the cases that failed (any attempt).
    pub fn failed_cases(&self) -> BTreeSet<String> {
        self.outcomes
            .iter()
            .filter(|o| o.state == State::Fail)
            .map(|o| o.case.clone())
            .collect()
    }

    /// Writes the line of a summary's totals (the conformance, replay and
    /// compatibility reports' own), after a blank line: `{what} against
    /// {target} (run ID) in 1.2 s: {counts}`, with `; INTERRUPTED` when the
    /// run was.
    pub(crate) fn write_totals(
        &self,
        out: &mut String,
        what: std::fmt::Arguments<'_>,
        target: &str,
        counts: std::fmt::Arguments<'_>,
    ) {
        use std::fmt::Write as _;
        let _ = writeln!(
            out,
            "\n{what} against {target} (run {}) in {:.1} s: {counts}{}",
            self.run_id,
            self.duration_ms as f64 / 1000.0,
            if self.interrupted {
                "; INTERRUPTED"
            } else {
                ""
            }
        );
    }
}

/// The replay detail of an [`Outcome`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReplayInfo {
    /// The transcript (its file name).
    pub transcript: String,
    /// The call's `seq` in it.
    pub seq: u64,
    /// The recorded session (`""`: the default one).
    pub session: String,
    /// The recorded caller's role.
    pub role: String,
    /// `joblet.JobService/RunJob`.
    pub method: String,
    /// How many times the call was made (reads are repeated until they match).
    pub attempts: u32,
    /// Every field that differs.
    #[serde(default)]
    pub differences: Vec<Difference>,
}

/// One field that differs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Difference {
    /// Where: the method, then the fields with list positions
    /// (`ListJobs.jobs[1].status`, `StopJob.@code`).
    pub path: String,
    /// The rule that compared it.
    pub rule: String,
    /// What the transcript has (IDs and names as the replay sends them).
    pub expected: String,
    /// What came back.
    pub got: String,
}

/// What a client meets for one behaviour in a compatibility report
/// ([`crate::compat`]), worst first.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// A call the behaviour needs answers UNIMPLEMENTED: the method is not
    /// served to this client.
    Breaks,
    /// The node answers, but otherwise than the behaviour documents.
    Differs,
    /// A harness or connection problem: no verdict.
    Error,
    /// Every case of the behaviour that ran passed.
    Works,
    /// No case of the behaviour ran (each skipped, with its reason).
    NotChecked,
}

impl Verdict {
    /// `breaks`, `differs`, `error`, `works`, `not checked`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Breaks => "breaks",
            Verdict::Differs => "differs",
            Verdict::Error => "error",
            Verdict::Works => "works",
            Verdict::NotChecked => "not checked",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One behaviour of the compatibility report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BehaviourVerdict {
    /// The behaviour ID (`JOB-RUN-1`).
    pub id: String,
    /// The worst verdict of its cases (a case that was not checked counts
    /// only when none ran).
    pub verdict: Verdict,
    /// Why, from the case that decided the verdict: `UNIMPLEMENTED "unknown
    /// method RunWorkflow for service joblet.JobService" (RunWorkflow)`.
    pub detail: String,
    /// Its cases, each `name: verdict`.
    pub cases: Vec<String>,
}
