//! Scripted commands: what `python train.py` or `node server.js` prints, how
//! long it takes and how it exits.
//!
//! # File format
//!
//! A scenario file is YAML with one key, `scenarios`, a list tried in order
//! (files in the order given; the first match wins):
//!
//! ```yaml
//! scenarios:
//!   - name: python-extract            # optional, for logs and errors
//!     match:
//!       command: python               # required; glob (`*`, `?`, `[..]`); a pattern
//!                                     # without `/` also matches the basename,
//!                                     # so `python` matches `/usr/bin/python`
//!       args: ["extract.py", "*"]     # optional: exactly these args, each a glob;
//!                                     # `**` matches any number of args
//!       # args_prefix: ["-m", "http.server"]  # optional instead of `args`:
//!                                     # the first args match, the rest is free
//!     steps:                          # optional, run in order
//!       - print: "extracting..."      # a line (a newline is added)
//!       - write: "no newline"         # raw text
//!       - sleep: 0.5                  # seconds, or a string: "250ms", "2s", "1m", "1h"
//!       - bytes: 1048576              # exactly that many bytes: lines of 'x',
//!                                     # the last one newline-terminated
//!       - lines: { count: 3, text: "epoch {n}/3", interval: 0.1 }
//!                                     # numbered lines ({n} from 1), optional pause
//!       - cat: data/in.txt            # an uploaded file (relative to the work dir)
//!       - repeat: { times: 2, steps: [ { print: "tick" }, { sleep: 1 } ] }
//!     exit: 0                         # exit code (default 0)
//! ```
//!
//! # Lifecycle, outcome and resources
//!
//! Four more keys shape the job around its steps. They apply when the job's own
//! command matches (not to a command run inside a `sh -c` script), and only
//! when the command is not built in.
//!
//! ```yaml
//! scenarios:
//!   - name: deploy
//!     match: { command: ./deploy.sh }
//!     lifecycle:                      # stages before the steps, in order
//!       - status: INITIALIZING        # the only pre-run status a job shows
//!         for: 2s                     # of the session clock (virtual clocks skip it)
//!         fail:                       # optional: the setup fails (the job goes
//!           probability: 0.05         #   INITIALIZING -> FAILED, never RUNNING)
//!           exit: -1
//!           message: "joblet: failed to mount the work dir"
//!     steps:
//!       - print: "deploying..."
//!       - sleep: 3s
//!     exit: 0
//!     fail:                           # optional: the job fails with this probability
//!       probability: 0.3              # 0 to 1
//!       exit: 1                       # non-zero (default 1)
//!       message: "error: connection reset by peer"   # optional last line of its log
//!       after: 1s                     # optional: cut the steps short after this long
//!                                     # (default: once the steps have played)
//!     timeout: 30s                    # optional: steps still playing after this long
//!                                     # end FAILED, exit 124, "joblet: job timed out after 30s"
//!     resources:                      # optional: what monitoring reports for the
//!       cpu_percent: 85.0             #   job's process while it runs (its share of
//!       memory_mb: 512                #   the node, 0-100; resident memory in MiB)
//! ```
//!
//! - A job whose scenario has stages is created `INITIALIZING` (RunJob answers
//!   so; a scheduled job becomes `INITIALIZING` when due), waits the stages'
//!   total time, then becomes `RUNNING` and plays its steps. StopJob during a
//!   stage stops it (`STOPPED`).
//! - Every `fail` (a stage's and the scenario's) draws exactly one number from
//!   the session's random generator when the job is submitted, in file order;
//!   with `--seed` the same submissions give the same outcomes. The first stage
//!   that fails ends the setup; the scenario's `fail` ends the job `FAILED` with
//!   its `exit` code and `message` as the last line of the log.
//! - `resources` replace the synthetic figures of the job's process in
//!   GetSystemStatus and StreamSystemMetrics (`topByCPU`, `topByMemory`) and
//!   count in the node's totals. They are shown exactly as given while the node
//!   has room (CPU usage is capped at 97 % of the node, a job's memory at its
//!   `maxMemory`); beyond that they are scaled down like every other job's.
//!
//! # Errors
//!
//! Files are checked completely when loaded: unknown keys, wrong types, bad
//! durations, probabilities outside 0..1, statuses that cannot be a stage, an
//! empty `match.command` or too deeply nested `repeat`s are rejected with the
//! file, the line and column, the key path and the reason, e.g.
//! `invalid scenario file deploy.yaml, line 7, column 11: scenarios[0].fail:
//! probability 1.5 is out of range: expected a number from 0 to 1`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;

use crate::glob::Pattern;
use crate::host::{Clock, Output};
use crate::io::{Broken, Io, XLINES};

/// The deepest `repeat` nesting accepted.
const MAX_REPEAT_DEPTH: usize = 8;

/// Deserializes a map as `R` and checks it with `TryFrom` inside the map's
/// own visit, so that a failed check carries the map's line and key path.
struct Checked<R, T>(std::marker::PhantomData<fn() -> (R, T)>);

impl<'de, R, T> serde::de::Visitor<'de> for Checked<R, T>
where
    R: Deserialize<'de>,
    T: TryFrom<R, Error = String>,
{
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        let repr = R::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
        T::try_from(repr).map_err(serde::de::Error::custom)
    }
}

/// `impl Deserialize for $t` through [`Checked`] with its YAML form `$repr`.
macro_rules! checked_map {
    ($($t:ty => $repr:ty),* $(,)?) => {$(
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_map(Checked::<$repr, $t>(std::marker::PhantomData))
            }
        }
    )*};
}

checked_map! {
    Match => MatchRepr,
    RepeatStep => RepeatRepr,
    Step => StepRepr,
    Stage => StageRepr,
    Fail => FailRepr,
    Resources => ResourcesRepr,
}

/// How a scenario recognises its command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// Glob for the command (also tried against its basename when it has no `/`).
    pub command: String,
    /// Globs for all the args (`**` matches any number of args).
    pub args: Option<Vec<String>>,
    /// Globs for the first args.
    pub args_prefix: Option<Vec<String>>,
}

/// The YAML form of [`Match`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MatchRepr {
    command: String,
    #[serde(default)]
    args: Option<Vec<String>>,
    #[serde(default)]
    args_prefix: Option<Vec<String>>,
}

impl TryFrom<MatchRepr> for Match {
    type Error = String;

    fn try_from(r: MatchRepr) -> Result<Self, String> {
        if r.command.is_empty() {
            return Err("match.command is empty".to_owned());
        }
        if r.args.is_some() && r.args_prefix.is_some() {
            return Err("match.args and match.args_prefix are exclusive".to_owned());
        }
        Ok(Self {
            command: r.command,
            args: r.args,
            args_prefix: r.args_prefix,
        })
    }
}

/// `lines:` step.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinesStep {
    /// How many lines.
    pub count: u64,
    /// The line; `{n}` is replaced by its number (from 1).
    #[serde(default = "default_line_text")]
    pub text: String,
    /// Pause after each line.
    #[serde(default)]
    pub interval: Option<Seconds>,
}

fn default_line_text() -> String {
    "line {n}".to_owned()
}

/// `repeat:` step.
#[derive(Debug, Clone, PartialEq)]
pub struct RepeatStep {
    /// How many times.
    pub times: u64,
    /// What to repeat.
    pub steps: Vec<Step>,
}

/// The YAML form of [`RepeatStep`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RepeatRepr {
    times: u64,
    steps: Vec<Step>,
}

impl TryFrom<RepeatRepr> for RepeatStep {
    type Error = String;

    fn try_from(r: RepeatRepr) -> Result<Self, String> {
        if 1 + steps_depth(&r.steps) > MAX_REPEAT_DEPTH {
            return Err(format!(
                "repeat is nested too deeply (at most {MAX_REPEAT_DEPTH} levels)"
            ));
        }
        Ok(Self {
            times: r.times,
            steps: r.steps,
        })
    }
}

/// One thing a scenario does (in YAML a map with exactly one key).
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Prints a line.
    Print(String),
    /// Prints text as is.
    Write(String),
    /// Pauses.
    Sleep(Seconds),
    /// Prints that many bytes of filler lines.
    Bytes(u64),
    /// Prints numbered lines.
    Lines(LinesStep),
    /// Prints an uploaded file.
    Cat(String),
    /// Repeats steps.
    Repeat(RepeatStep),
}

/// The YAML form of a step: one of these keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepRepr {
    print: Option<String>,
    write: Option<String>,
    sleep: Option<Seconds>,
    bytes: Option<u64>,
    lines: Option<LinesStep>,
    cat: Option<String>,
    repeat: Option<RepeatStep>,
}

impl TryFrom<StepRepr> for Step {
    type Error = String;

    fn try_from(r: StepRepr) -> Result<Self, String> {
        let mut steps = Vec::new();
        steps.extend(r.print.map(Step::Print));
        steps.extend(r.write.map(Step::Write));
        steps.extend(r.sleep.map(Step::Sleep));
        steps.extend(r.bytes.map(Step::Bytes));
        steps.extend(r.lines.map(Step::Lines));
        steps.extend(r.cat.map(Step::Cat));
        steps.extend(r.repeat.map(Step::Repeat));
        if steps.len() != 1 {
            return Err(format!(
                "a step has exactly one of `print`, `write`, `sleep`, `bytes`, `lines`, `cat`, `repeat` (found {})",
                steps.len()
            ));
        }
        steps.pop().ok_or_else(|| "empty step".to_owned())
    }
}

/// A duration in seconds: a number, or a string with a unit (`ms`, `s`, `m`, `h`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seconds(pub f64);

impl Seconds {
    /// As a duration (`None` when not finite or negative).
    pub fn duration(self) -> Option<Duration> {
        Duration::try_from_secs_f64(self.0).ok()
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SecondsVisitor { what: None })
    }
}

/// Reads a duration; with `what`, one of more than 0 (the key, for the error).
/// Checks happen inside the visit so that errors carry the value's line.
struct SecondsVisitor {
    what: Option<&'static str>,
}

impl SecondsVisitor {
    fn check<E: serde::de::Error>(&self, r: Result<Seconds, String>) -> Result<Seconds, E> {
        match (r, self.what) {
            (Ok(s), Some(what)) if s.0 <= 0.0 => Err(E::custom(format!(
                "{what} must be more than 0 (leave it out for none)"
            ))),
            (r, _) => r.map_err(E::custom),
        }
    }
}

impl serde::de::Visitor<'_> for SecondsVisitor {
    type Value = Seconds;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a duration: seconds as a number, or a string like \"250ms\", \"2s\", \"1m\"")
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Seconds, E> {
        self.check(check_secs(v))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Seconds, E> {
        self.check(check_secs(v as f64))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Seconds, E> {
        self.check(check_secs(v as f64))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Seconds, E> {
        self.check(parse_duration_text(v))
    }
}

fn check_secs(v: f64) -> Result<Seconds, String> {
    if (0.0..1e9).contains(&v) {
        Ok(Seconds(v))
    } else {
        Err(format!(
            "invalid duration {v}: must be between 0 and 1e9 seconds"
        ))
    }
}

/// Parses `"250ms"`, `"2s"`, `"1.5m"`, `"1h"` or a bare number of seconds.
pub(crate) fn parse_duration_text(s: &str) -> Result<Seconds, String> {
    let t = s.trim();
    let (num, mult) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (t, 1.0)
    };
    let v: f64 = num.trim().parse().map_err(|_| {
        format!("invalid duration {s:?}: expected e.g. 0.5, \"250ms\", \"2s\", \"1m\"")
    })?;
    check_secs(v * mult)
}

/// A status a lifecycle stage shows (before the steps run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageStatus {
    /// Being set up.
    Initializing,
}

impl<'de> Deserialize<'de> for StageStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StageStatusVisitor)
    }
}

/// Reads a [`StageStatus`], checking it inside the visit (for the line).
struct StageStatusVisitor;

impl serde::de::Visitor<'_> for StageStatusVisitor {
    type Value = StageStatus;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a job status (INITIALIZING)")
    }
    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<StageStatus, E> {
        match s.to_ascii_uppercase().as_str() {
            "INITIALIZING" => Ok(StageStatus::Initializing),
            "SCHEDULED" | "RUNNING" | "COMPLETED" | "FAILED" | "STOPPED" | "CANCELED" => {
                Err(E::custom(format!(
                    "status {s} cannot be a lifecycle stage: stages come before the steps run, \
                     so only INITIALIZING can (RUNNING follows the stages; the end comes from \
                     `exit`, `fail` or `timeout`; SCHEDULED from the request's schedule)"
                )))
            }
            _ => Err(E::custom(format!(
                "unknown status {s:?} in lifecycle: expected INITIALIZING"
            ))),
        }
    }
}

/// One `lifecycle:` stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// What the job shows meanwhile.
    pub status: StageStatus,
    /// How long (`for:`).
    pub duration: Seconds,
    /// A failure of this stage: the job ends FAILED at the stage's end.
    pub fail: Option<Fail>,
}

/// The YAML form of [`Stage`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StageRepr {
    status: StageStatus,
    #[serde(rename = "for")]
    duration: Seconds,
    #[serde(default)]
    fail: Option<Fail>,
}

impl TryFrom<StageRepr> for Stage {
    type Error = String;

    fn try_from(r: StageRepr) -> Result<Self, String> {
        if r.fail.as_ref().is_some_and(|f| f.after.is_some()) {
            return Err(
                "fail.after is not allowed in a lifecycle stage: a stage fails at its end"
                    .to_owned(),
            );
        }
        Ok(Self {
            status: r.status,
            duration: r.duration,
            fail: r.fail,
        })
    }
}

/// `fail:`, of a scenario or of a stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Fail {
    /// Chance of failing, 0 to 1.
    pub probability: f64,
    /// Exit code of the failed job (non-zero).
    pub exit: i32,
    /// Last line of the job's log.
    pub message: Option<String>,
    /// Cut the steps short after this long (default: once they have played).
    pub after: Option<Seconds>,
}

/// The YAML form of [`Fail`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FailRepr {
    probability: f64,
    #[serde(default = "default_fail_exit")]
    exit: i32,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    after: Option<Seconds>,
}

fn default_fail_exit() -> i32 {
    1
}

impl TryFrom<FailRepr> for Fail {
    type Error = String;

    fn try_from(r: FailRepr) -> Result<Self, String> {
        if !(0.0..=1.0).contains(&r.probability) {
            return Err(format!(
                "probability {} is out of range: expected a number from 0 to 1",
                r.probability
            ));
        }
        if r.exit == 0 {
            return Err("fail.exit must not be 0: a failed job exits non-zero".to_owned());
        }
        Ok(Self {
            probability: r.probability,
            exit: r.exit,
            message: r.message,
            after: r.after,
        })
    }
}

/// `resources:`: the figures monitoring reports for the job's process.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Resources {
    /// CPU, as a share of the whole node (0 to 100).
    pub cpu_percent: Option<f64>,
    /// Resident memory in MiB.
    pub memory_mb: Option<u64>,
}

/// The YAML form of [`Resources`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResourcesRepr {
    #[serde(default)]
    cpu_percent: Option<f64>,
    #[serde(default)]
    memory_mb: Option<u64>,
}

impl TryFrom<ResourcesRepr> for Resources {
    type Error = String;

    fn try_from(r: ResourcesRepr) -> Result<Self, String> {
        if let Some(c) = r.cpu_percent
            && !(0.0..=100.0).contains(&c)
        {
            return Err(format!(
                "cpu_percent {c} is out of range: expected the job's share of the node, 0 to 100"
            ));
        }
        if r.cpu_percent.is_none() && r.memory_mb.is_none() {
            return Err("resources needs cpu_percent, memory_mb or both".to_owned());
        }
        Ok(Self {
            cpu_percent: r.cpu_percent,
            memory_mb: r.memory_mb,
        })
    }
}

/// What a scenario does around its steps: stages, failure, timeout.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lifecycle {
    /// Stages before the steps.
    pub stages: Vec<Stage>,
    /// A chance of failing.
    pub fail: Option<Fail>,
    /// Longest the steps may play.
    pub timeout: Option<Seconds>,
}

/// How a job ends when it fails on purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Its exit code.
    pub exit: i32,
    /// The last line of its log.
    pub message: Option<String>,
    /// When it fails while running (`None`: once the steps have played).
    pub after: Option<Duration>,
}

impl From<&Fail> for Failure {
    fn from(f: &Fail) -> Self {
        Self {
            exit: f.exit,
            message: f.message.clone(),
            after: f.after.and_then(Seconds::duration),
        }
    }
}

/// Exit code of a job that ran past its `timeout` (as GNU `timeout`).
pub const TIMEOUT_EXIT: i32 = 124;

/// One job's lifecycle with the dice already thrown ([`Lifecycle::decide`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Whether the job starts INITIALIZING (its scenario has stages).
    pub initializing: bool,
    /// How long it stays INITIALIZING (up to the end of the failing stage).
    pub setup: Duration,
    /// Set when a stage fails: the job ends FAILED after `setup`, never RUNNING.
    pub setup_failure: Option<Failure>,
    /// Set when the scenario's `fail` fired.
    pub failure: Option<Failure>,
    /// Longest the steps may play.
    pub timeout: Option<Duration>,
}

impl Lifecycle {
    /// Whether there is anything to do beyond playing the steps.
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty() && self.fail.is_none() && self.timeout.is_none()
    }

    /// Throws the dice for one job: `draw` gives uniform numbers in `[0, 1)`
    /// and is called exactly once per `fail` (stages first, in order), so the
    /// outcomes of a seeded session do not depend on which of them fire.
    pub fn decide(&self, mut draw: impl FnMut() -> f64) -> Plan {
        let mut plan = Plan {
            initializing: !self.stages.is_empty(),
            timeout: self.timeout.and_then(Seconds::duration),
            ..Plan::default()
        };
        for stage in &self.stages {
            let fails = stage.fail.as_ref().filter(|f| draw() < f.probability);
            if plan.setup_failure.is_none() {
                plan.setup += stage.duration.duration().unwrap_or_default();
                plan.setup_failure = fails.map(Failure::from);
            }
        }
        if let Some(f) = &self.fail
            && draw() < f.probability
        {
            plan.failure = Some(f.into());
        }
        plan
    }
}

impl Plan {
    /// How long the steps may play before the job is cut short (a failure's
    /// `after` or the timeout, whichever comes first).
    pub fn cutoff(&self) -> Option<Duration> {
        let after = self.failure.as_ref().and_then(|f| f.after);
        match (after, self.timeout) {
            (Some(a), Some(t)) => Some(a.min(t)),
            (a, t) => a.or(t),
        }
    }

    /// The job's exit code and last log line, given how its steps ended:
    /// `Some(exit code)`, or `None` when cut short at [`cutoff`](Self::cutoff).
    pub fn outcome(&self, played: Option<i32>) -> (i32, Option<String>) {
        let failed = |f: &Failure| (f.exit, f.message.clone());
        match (played, &self.failure) {
            (Some(code), None) => (code, None),
            (Some(_), Some(f)) => failed(f),
            (None, Some(f)) if f.after.is_some_and(|a| self.timeout.is_none_or(|t| a <= t)) => {
                failed(f)
            }
            (None, _) => {
                let t = self.timeout.unwrap_or_default();
                (
                    TIMEOUT_EXIT,
                    Some(format!("joblet: job timed out after {}", secs_text(t))),
                )
            }
        }
    }
}

/// `30s`, `1.5s`, `250ms`.
fn secs_text(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{}s", d.as_secs())
    } else if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

/// One scripted command (from `fixtures/scenarios/*.yaml`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A name for logs and errors.
    #[serde(default)]
    pub name: String,
    /// Which commands this scenario plays.
    #[serde(rename = "match")]
    pub matcher: Match,
    /// What it does.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// Its exit code.
    #[serde(default)]
    pub exit: i32,
    /// Stages before the steps.
    #[serde(default)]
    pub lifecycle: Vec<Stage>,
    /// A chance of failing.
    #[serde(default)]
    pub fail: Option<Fail>,
    /// Longest the steps may play.
    #[serde(default)]
    pub timeout: Option<Timeout>,
    /// What monitoring reports for the job's process.
    #[serde(default)]
    pub resources: Option<Resources>,
}

/// A `timeout:`: a duration of more than 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeout(pub Seconds);

impl<'de> Deserialize<'de> for Timeout {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SecondsVisitor {
            what: Some("timeout"),
        })
        .map(Self)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    scenarios: Vec<Scenario>,
}

/// Scenario files that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file cannot be read.
    #[error("cannot read scenario file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid scenario YAML (syntax, unknown key, wrong type,
    /// bad value).
    #[error("invalid scenario file {path}{}: {message}", at_line(*line, *column))]
    Parse {
        /// The file.
        path: PathBuf,
        /// The line of the problem (from 1), when known.
        line: Option<usize>,
        /// Its column (from 1), when known.
        column: Option<usize>,
        /// What is wrong: the key path (`scenarios[1].fail`) and the reason.
        message: String,
    },
    /// A scenario parses but cannot be used (not produced by
    /// [`parse_scenarios`], which checks everything while parsing).
    #[error("invalid scenario file {path}: scenario {scenario}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Name or index of the scenario.
        scenario: String,
        /// What is wrong.
        message: String,
    },
}

fn at_line(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(", line {l}, column {c}"),
        (Some(l), None) => format!(", line {l}"),
        _ => String::new(),
    }
}

/// Parses the scenarios of one file's text. `path` names the file in errors,
/// which give the line and column, the key path and the reason.
pub fn parse_scenarios(text: &str, path: &Path) -> Result<Vec<Scenario>, ScenarioError> {
    let file: ScenarioFile = serde_norway::from_str(text).map_err(|e| {
        let loc = e.location();
        let mut message = e.to_string();
        if let Some(l) = &loc {
            // The location moves to its own field.
            let suffix = format!(" at line {} column {}", l.line(), l.column());
            if let Some(at) = message.find(&suffix) {
                message.replace_range(at..at + suffix.len(), "");
            }
        }
        ScenarioError::Parse {
            path: path.to_owned(),
            line: loc.as_ref().map(|l| l.line()),
            column: loc.as_ref().map(|l| l.column()),
            message,
        }
    })?;
    Ok(file.scenarios)
}

fn steps_depth(steps: &[Step]) -> usize {
    steps
        .iter()
        .map(|s| match s {
            Step::Repeat(r) => 1 + steps_depth(&r.steps),
            _ => 0,
        })
        .max()
        .unwrap_or(0)
}

/// Loads every scenario in `paths` (files, in order).
pub fn load_scenarios(paths: &[PathBuf]) -> Result<Vec<Scenario>, ScenarioError> {
    let mut all = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.clone(),
            source,
        })?;
        all.extend(parse_scenarios(&text, path)?);
    }
    Ok(all)
}

fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

impl Scenario {
    /// Whether this scenario plays `command args…`.
    pub fn matches(&self, command: &str, args: &[String]) -> bool {
        let m = &self.matcher;
        let cp = Pattern::new(&m.command);
        let cmd_ok =
            cp.matches(command) || (!m.command.contains('/') && cp.matches(basename(command)));
        if !cmd_ok {
            return false;
        }
        if let Some(pats) = &m.args {
            return args_match(pats, args);
        }
        if let Some(prefix) = &m.args_prefix {
            return prefix.len() <= args.len()
                && prefix
                    .iter()
                    .zip(args)
                    .all(|(p, a)| Pattern::new(p).matches(a));
        }
        true
    }

    /// Its stages, failure and timeout.
    pub fn lifecycle(&self) -> Lifecycle {
        Lifecycle {
            stages: self.lifecycle.clone(),
            fail: self.fail.clone(),
            timeout: self.timeout.map(|t| t.0),
        }
    }

    /// A label for logs.
    pub fn label(&self) -> &str {
        if self.name.is_empty() {
            &self.matcher.command
        } else {
            &self.name
        }
    }
}

/// Matches args against patterns where `**` stands for any number of args.
fn args_match(pats: &[String], args: &[String]) -> bool {
    match pats.split_first() {
        None => args.is_empty(),
        Some((p, rest)) if p == "**" => (0..=args.len()).any(|k| args_match(rest, &args[k..])),
        Some((p, rest)) => match args.split_first() {
            Some((a, arest)) => Pattern::new(p).matches(a) && args_match(rest, arest),
            None => false,
        },
    }
}

/// Reads uploaded files for `cat:` steps.
pub(crate) trait FileSource {
    /// The file's content, or the error message (`cat: X: No such file or directory`).
    fn read(&self, path: &str) -> Result<Bytes, String>;
}

/// Plays `steps`. Stops early when the output is gone.
pub(crate) async fn play<O: Output, C: Clock>(
    steps: &[Step],
    io: &mut Io<'_, O, C>,
    files: &(dyn FileSource + Sync),
) -> Result<(), Broken> {
    // An explicit stack instead of recursion: (steps, next index, repeats left).
    let mut stack: Vec<(&[Step], usize, u64)> = vec![(steps, 0, 1)];
    while let Some(top) = stack.last_mut() {
        let (list, idx, left) = (top.0, top.1, top.2);
        if idx >= list.len() {
            if left > 1 {
                top.1 = 0;
                top.2 -= 1;
            } else {
                stack.pop();
            }
            continue;
        }
        top.1 += 1;
        match &list[idx] {
            Step::Print(text) => {
                let mut s = String::with_capacity(text.len() + 1);
                s.push_str(text);
                s.push('\n');
                io.out_slice(s.as_bytes()).await?;
            }
            Step::Write(text) => io.out_slice(text.as_bytes()).await?,
            Step::Sleep(s) => io.sleep(s.duration()).await,
            Step::Bytes(n) => filler(io, *n).await?,
            Step::Lines(l) => {
                for n in 1..=l.count {
                    let mut line = l.text.replace("{n}", &n.to_string());
                    line.push('\n');
                    io.out_slice(line.as_bytes()).await?;
                    if let Some(iv) = l.interval {
                        io.sleep(iv.duration()).await;
                    }
                }
            }
            Step::Cat(path) => match files.read(path) {
                Ok(data) => io.out(data).await?,
                Err(msg) => io.err_line(&msg).await,
            },
            Step::Repeat(r) => {
                if r.times > 0 && !r.steps.is_empty() {
                    stack.push((&r.steps, 0, r.times));
                }
            }
        }
    }
    Ok(())
}

/// Exactly `n` bytes of lines of 'x' (64-byte lines; the last one is shorter
/// and still ends with a newline).
pub(crate) async fn filler<O: Output, C: Clock>(
    io: &mut Io<'_, O, C>,
    n: u64,
) -> Result<(), Broken> {
    let full = n - n % 64;
    let mut left = full;
    while left > 0 {
        let take = left.min(XLINES.len() as u64) as usize;
        io.out(Bytes::from_static(&XLINES[..take])).await?;
        left -= take as u64;
    }
    let rest = (n % 64) as usize;
    if rest > 0 {
        let mut tail = vec![b'x'; rest];
        tail[rest - 1] = b'\n';
        io.out_slice(&tail).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parse_and_match() {
        let yaml = r#"
scenarios:
  - name: extract
    match: { command: python, args: ["extract.py"] }
    steps:
      - print: "extracting..."
      - sleep: 0.5
      - sleep: "250ms"
      - bytes: 100
      - lines: { count: 2, text: "row {n}" }
      - repeat: { times: 2, steps: [ { print: tick } ] }
    exit: 3
  - match: { command: "python*", args: ["**", "--fast"] }
  - match: { command: node, args_prefix: ["server.js"] }
"#;
        let s = parse_scenarios(yaml, Path::new("x.yaml")).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].exit, 3);
        assert_eq!(s[0].steps[1], Step::Sleep(Seconds(0.5)));
        assert_eq!(s[0].steps[2], Step::Sleep(Seconds(0.25)));
        assert!(s[0].matches("python", &args(&["extract.py"])));
        assert!(s[0].matches("/usr/bin/python", &args(&["extract.py"])));
        assert!(!s[0].matches("python", &args(&["extract.py", "x"])));
        assert!(!s[0].matches("python3", &args(&["extract.py"])));
        assert!(s[1].matches("python3", &args(&["a", "b", "--fast"])));
        assert!(s[1].matches("python3", &args(&["--fast"])));
        assert!(!s[1].matches("python3", &args(&["--fast", "x"])));
        assert!(s[2].matches("node", &args(&["server.js", "--port", "80"])));
        assert!(!s[2].matches("node", &args(&[])));
        assert_eq!(s[2].label(), "node");
    }

    #[test]
    fn unknown_key_names_key_and_file() {
        let yaml = "scenarios:\n  - match: { command: x }\n    stepz: []\n";
        let e = parse_scenarios(yaml, Path::new("dir/bad.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("dir/bad.yaml"), "{e}");
        assert!(e.contains("stepz"), "{e}");
        let yaml = "scenarios:\n  - match: { command: x, argz: [] }\n";
        let e = parse_scenarios(yaml, Path::new("b.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("argz"), "{e}");
        let yaml = "scenarios:\n  - match: { command: x }\n    steps: [ { prnt: hi } ]\n";
        let e = parse_scenarios(yaml, Path::new("c.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("prnt"), "{e}");
        let yaml = "scenario: []\n";
        let e = parse_scenarios(yaml, Path::new("d.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("scenario"), "{e}");
    }

    #[test]
    fn invalid_values() {
        let bad = [
            "scenarios:\n  - match: { command: '' }\n",
            "scenarios:\n  - match: { command: x, args: [], args_prefix: [] }\n",
            "scenarios:\n  - match: { command: x }\n    steps: [ { sleep: -1 } ]\n",
            "scenarios:\n  - match: { command: x }\n    steps: [ { sleep: soon } ]\n",
            "scenarios:\n  - match: { command: x }\n    exit: many\n",
            "scenarios: [ {",
            "scenarios:\n  - match: { command: x }\n    steps: [ { print: a, sleep: 1 } ]\n",
            "scenarios:\n  - match: { command: x }\n    steps: [ {} ]\n",
        ];
        for y in bad {
            assert!(parse_scenarios(y, Path::new("e.yaml")).is_err(), "{y}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_text("2s"), Ok(Seconds(2.0)));
        assert_eq!(parse_duration_text("1m"), Ok(Seconds(60.0)));
        assert_eq!(parse_duration_text("1.5h"), Ok(Seconds(5400.0)));
        assert_eq!(parse_duration_text("3"), Ok(Seconds(3.0)));
        assert!(parse_duration_text("nan").is_err());
        assert!(parse_duration_text("").is_err());
    }

    #[test]
    fn example_file_loads() {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/scenarios/examples.yaml");
        let s = load_scenarios(&[path]).unwrap();
        assert!(
            s.iter()
                .any(|s| s.matches("python", &args(&["extract.py"])))
        );
        assert!(s.iter().any(|s| s.matches("python", &args(&["train.py"]))));
        assert!(s.iter().any(|s| s.matches("node", &args(&["server.js"]))));
        let missing = load_scenarios(&[PathBuf::from("/nonexistent/x.yaml")]).unwrap_err();
        assert!(matches!(missing, ScenarioError::Read { .. }));
    }

    #[test]
    fn lifecycle_resources_and_outcome_parse() {
        let yaml = r#"
scenarios:
  - name: deploy
    match: { command: ./deploy.sh }
    lifecycle:
      - { status: INITIALIZING, for: 2s }
      - status: initializing
        for: 500ms
        fail: { probability: 0.25, exit: -1, message: "setup failed" }
    steps: [ { print: hi } ]
    fail: { probability: 0.1, message: "boom", after: 1s }
    timeout: 1m
    resources: { cpu_percent: 85.0, memory_mb: 512 }
  - match: { command: plain }
    steps: [ { print: hi } ]
"#;
        let s = parse_scenarios(yaml, Path::new("l.yaml")).unwrap();
        let l = s[0].lifecycle();
        assert_eq!(l.stages.len(), 2);
        assert_eq!(l.stages[0].status, StageStatus::Initializing);
        assert_eq!(l.stages[0].duration, Seconds(2.0));
        assert_eq!(l.stages[1].duration, Seconds(0.5));
        assert_eq!(l.stages[1].fail.as_ref().unwrap().exit, -1);
        let f = l.fail.as_ref().unwrap();
        assert_eq!((f.probability, f.exit), (0.1, 1), "exit defaults to 1");
        assert_eq!(f.message.as_deref(), Some("boom"));
        assert_eq!(f.after, Some(Seconds(1.0)));
        assert_eq!(l.timeout, Some(Seconds(60.0)));
        assert_eq!(
            s[0].resources,
            Some(Resources {
                cpu_percent: Some(85.0),
                memory_mb: Some(512)
            })
        );
        assert!(!l.is_empty());
        assert!(s[1].lifecycle().is_empty());
        assert_eq!(s[1].resources, None);
    }

    /// The error of `yaml` (file `f.yaml`): its line and its text.
    fn error_of(yaml: &str) -> (Option<usize>, String) {
        match parse_scenarios(yaml, Path::new("dir/f.yaml")) {
            Ok(_) => panic!("accepted: {yaml}"),
            Err(e @ ScenarioError::Parse { line, .. }) => (line, e.to_string()),
            Err(e) => panic!("unexpected error {e}"),
        }
    }

    #[test]
    fn invalid_files_name_file_line_and_reason() {
        let head = "scenarios:\n  - match: { command: x }\n";
        let cases: [(&str, usize, &[&str]); 12] = [
            ("    stepz: []\n", 3, &["stepz"]),
            (
                "    lifecycle:\n      - { status: INITIALIZING, for: soon }\n",
                4,
                &["invalid duration \"soon\""],
            ),
            (
                "    lifecycle:\n      - { status: INITIALIZING, for: 1s, four: 2 }\n",
                4,
                &["four"],
            ),
            (
                "    fail: { probability: 1.5 }\n",
                3,
                &["scenarios[0].fail", "probability 1.5 is out of range"],
            ),
            (
                "    fail: { probability: -0.1 }\n",
                3,
                &["probability -0.1 is out of range"],
            ),
            (
                "    lifecycle:\n      - { status: BOOTING, for: 1s }\n",
                4,
                &["unknown status \"BOOTING\"", "expected INITIALIZING"],
            ),
            (
                "    lifecycle:\n      - { status: RUNNING, for: 1s }\n",
                4,
                &["status RUNNING cannot be a lifecycle stage"],
            ),
            (
                "    fail: { probability: 0.5, exit: 0 }\n",
                3,
                &["must not be 0"],
            ),
            (
                "    lifecycle:\n      - { status: INITIALIZING, for: 1s, fail: { probability: 1, after: 1 } }\n",
                4,
                &["fail.after is not allowed"],
            ),
            ("    timeout: 0\n", 3, &["timeout must be more than 0"]),
            (
                "    resources: { cpu_percent: 150 }\n",
                3,
                &["cpu_percent 150 is out of range"],
            ),
            ("    resources: { cpu: 5 }\n", 3, &["unknown field `cpu`"]),
        ];
        for (tail, line, needles) in cases {
            let yaml = format!("{head}{tail}");
            let (at, text) = error_of(&yaml);
            assert_eq!(at, Some(line), "{text}");
            assert!(text.contains("dir/f.yaml"), "{text}");
            assert!(text.contains(&format!("line {line}")), "{text}");
            for n in needles {
                assert!(text.contains(n), "{n:?} not in {text}");
            }
            // The location is said once, in the front.
            assert!(!text.contains(" at line"), "{text}");
        }
        // Checks that used to come after parsing carry a line too.
        let (at, text) =
            error_of("scenarios:\n  - match: { command: a }\n  - match: { command: '' }\n");
        assert_eq!(at, Some(3), "{text}");
        assert!(text.contains("match.command is empty"), "{text}");
        let mut deep = String::from("scenarios:\n  - match: { command: x }\n    steps:\n");
        let mut indent = String::from("      ");
        for _ in 0..=MAX_REPEAT_DEPTH {
            deep.push_str(&format!(
                "{indent}- repeat:\n{indent}    times: 1\n{indent}    steps:\n"
            ));
            indent.push_str("        ");
        }
        deep.push_str(&format!("{indent}- print: x\n"));
        let (at, text) = error_of(&deep);
        assert!(at.is_some(), "{text}");
        assert!(text.contains("nested too deeply"), "{text}");
    }

    fn plan_of(yaml_tail: &str, draws: &[f64]) -> (Plan, usize) {
        let yaml = format!("scenarios:\n  - match: {{ command: x }}\n{yaml_tail}");
        let s = parse_scenarios(&yaml, Path::new("p.yaml")).unwrap();
        let mut it = draws.iter().copied();
        let mut used = 0;
        let plan = s[0].lifecycle().decide(|| {
            used += 1;
            it.next().expect("more draws than expected")
        });
        (plan, used)
    }

    #[test]
    fn decide_throws_one_die_per_fail() {
        let tail = "    lifecycle:\n      - { status: INITIALIZING, for: 2s, fail: { probability: 0.5, exit: -1 } }\n      - { status: INITIALIZING, for: 3s }\n    fail: { probability: 0.1, exit: 3, message: m }\n";
        // Neither fires.
        let (p, used) = plan_of(tail, &[0.9, 0.5]);
        assert_eq!(used, 2);
        assert!(p.initializing);
        assert_eq!(p.setup, Duration::from_secs(5));
        assert_eq!((p.setup_failure, p.failure), (None, None));
        // The first stage fails: setup ends there; the other die is still thrown.
        let (p, used) = plan_of(tail, &[0.2, 0.0]);
        assert_eq!(used, 2);
        assert_eq!(p.setup, Duration::from_secs(2));
        assert_eq!(p.setup_failure.as_ref().unwrap().exit, -1);
        // Only the run fails.
        let (p, _) = plan_of(tail, &[0.7, 0.05]);
        assert_eq!(p.setup_failure, None);
        assert_eq!(p.failure.as_ref().unwrap().exit, 3);
        // No fail: no die, not initializing.
        let (p, used) = plan_of("    timeout: 5s\n", &[]);
        assert_eq!(used, 0);
        assert!(!p.initializing);
        assert_eq!(p.timeout, Some(Duration::from_secs(5)));
        // Probability 0 never fires, 1 always does.
        let (p, _) = plan_of("    fail: { probability: 0 }\n", &[0.0]);
        assert_eq!(p.failure, None);
        let (p, _) = plan_of("    fail: { probability: 1 }\n", &[0.999_999]);
        assert!(p.failure.is_some());
    }

    #[test]
    fn seeded_dice_are_reproducible() {
        use rand::{Rng, SeedableRng, rngs::StdRng};
        let yaml = "scenarios:\n  - match: { command: x }\n    fail: { probability: 0.3 }\n";
        let l = parse_scenarios(yaml, Path::new("s.yaml")).unwrap()[0].lifecycle();
        let outcomes = |seed: u64| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..200)
                .map(|_| l.decide(|| rng.random()).failure.is_some())
                .collect::<Vec<_>>()
        };
        let a = outcomes(7);
        assert_eq!(a, outcomes(7));
        assert_ne!(a, outcomes(8));
        let failed = a.iter().filter(|f| **f).count();
        assert!(
            (30..=90).contains(&failed),
            "{failed} of 200 failed at p=0.3"
        );
    }

    #[test]
    fn outcome_and_cutoff() {
        let fail = |after: Option<u64>| Failure {
            exit: 7,
            message: Some("boom".into()),
            after: after.map(Duration::from_secs),
        };
        let plan = |failure: Option<Failure>, timeout: Option<u64>| Plan {
            failure,
            timeout: timeout.map(Duration::from_secs),
            ..Plan::default()
        };
        let none = plan(None, None);
        assert_eq!(none.cutoff(), None);
        assert_eq!(none.outcome(Some(3)), (3, None));
        // A failure without `after` replaces the exit once the steps played.
        let p = plan(Some(fail(None)), None);
        assert_eq!(p.cutoff(), None);
        assert_eq!(p.outcome(Some(0)), (7, Some("boom".into())));
        // With `after`, the earlier of it and the timeout cuts the steps short.
        let p = plan(Some(fail(Some(2))), Some(10));
        assert_eq!(p.cutoff(), Some(Duration::from_secs(2)));
        assert_eq!(p.outcome(None), (7, Some("boom".into())));
        assert_eq!(p.outcome(Some(0)), (7, Some("boom".into())));
        let p = plan(Some(fail(Some(20))), Some(10));
        assert_eq!(p.cutoff(), Some(Duration::from_secs(10)));
        assert_eq!(
            p.outcome(None),
            (TIMEOUT_EXIT, Some("joblet: job timed out after 10s".into()))
        );
        let p = plan(None, Some(30));
        assert_eq!(p.outcome(Some(0)), (0, None));
        assert_eq!(p.outcome(None).0, 124);
        assert_eq!(secs_text(Duration::from_millis(250)), "250ms");
        assert_eq!(secs_text(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn simulator_consults_the_scenario_the_job_plays() {
        use crate::{Simulator, UnknownCommand};
        let yaml = "scenarios:\n  - match: { command: '*' }\n    lifecycle: [ { status: INITIALIZING, for: 1s } ]\n    resources: { memory_mb: 64 }\n  - match: { command: never }\n";
        let sim = Simulator::new(
            parse_scenarios(yaml, Path::new("s.yaml")).unwrap(),
            UnknownCommand::Succeed,
        );
        assert!(sim.lifecycle("python", &args(&["x.py"])).is_some());
        assert_eq!(
            sim.resources("./run", &[]).and_then(|r| r.memory_mb),
            Some(64)
        );
        // Built-ins and shells run as such: no scenario.
        for builtin in ["echo", "/bin/sleep", "sh", "/usr/bin/bash", "seq"] {
            assert!(sim.lifecycle(builtin, &[]).is_none(), "{builtin}");
            assert!(sim.resources(builtin, &[]).is_none(), "{builtin}");
        }
        let plain = Simulator::new(
            parse_scenarios(
                "scenarios:\n  - match: { command: x }\n",
                Path::new("p.yaml"),
            )
            .unwrap(),
            UnknownCommand::Succeed,
        );
        assert!(
            plain.lifecycle("x", &[]).is_none(),
            "steps only: no lifecycle"
        );
    }

    #[test]
    fn lifecycle_file_loads() {
        let text = include_str!("../../fixtures/scenarios/lifecycle.yaml");
        let s = parse_scenarios(text, Path::new("fixtures/scenarios/lifecycle.yaml")).unwrap();
        let find = |cmd: &str, a: &[&str]| {
            s.iter()
                .find(|s| s.matches(cmd, &args(a)))
                .unwrap_or_else(|| panic!("no scenario for {cmd}"))
        };
        let train = find("python3", &["train.py", "--epochs", "3"]);
        let l = train.lifecycle();
        assert_eq!(l.stages[0].status, StageStatus::Initializing);
        assert_eq!(l.stages[0].duration, Seconds(2.0));
        assert_eq!(train.resources.unwrap().cpu_percent, Some(85.0));
        assert_eq!(train.resources.unwrap().memory_mb, Some(512));
        let deploy = find("./deploy.sh", &["prod"]);
        assert_eq!(deploy.fail.as_ref().unwrap().probability, 0.3);
        let curl = find("curl", &["-sL", "https://example.com/data.bin"]);
        assert!(curl.steps.iter().any(|s| matches!(s, Step::Bytes(_))));
        assert!(curl.lifecycle().is_empty());
    }

    proptest! {
        #[test]
        fn duration_parser_never_panics(s in ".{0,16}") {
            let _ = parse_duration_text(&s);
        }

        #[test]
        fn yaml_never_panics(s in ".{0,80}") {
            let _ = parse_scenarios(&s, Path::new("p.yaml"));
        }
    }
}
