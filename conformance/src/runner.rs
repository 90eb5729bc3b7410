//! Selecting cases and running them: in parallel up to a limit, each under its
//! own deadline, cleaned up after, with outcomes Pass / Fail / Skip / Error.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Mutex as AsyncMutex, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::case::{Case, Effect, Level, Need};
use crate::check::{CaseError, CaseResult, Failure};
use crate::cleanup::Leak;
use crate::ctx::{Ctx, Env, Options, Targets, new_run_id};

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
    pub replay: Option<crate::replay::ReplayInfo>,
}

impl Outcome {
    fn new(case: &Case, attempt: u32, state: State) -> Self {
        Self {
            case: case.name.into(),
            ids: case.ids.iter().map(|s| (*s).into()).collect(),
            quirks: case.quirks.iter().map(|s| (*s).into()).collect(),
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

/// Which cases run.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Globs on names or IDs; empty means every case.
    pub focus: Vec<String>,
    /// Globs on names or IDs to leave out.
    pub skip: Vec<String>,
    /// Only cases that change nothing.
    pub read_only: bool,
    /// Only these names (`--rerun-failed`).
    pub only: Option<BTreeSet<String>>,
}

/// `*` (any run of characters) and `?` (one character) glob match, ASCII
/// case-insensitive.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let t: Vec<char> = text.to_ascii_lowercase().chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

fn matches_case(pattern: &str, case: &Case) -> bool {
    glob_match(pattern, case.name) || case.ids.iter().any(|id| glob_match(pattern, id))
}

impl Selection {
    /// The cases of `catalogue` this selection keeps, in catalogue order.
    pub fn apply<'a>(&self, catalogue: &'a [Case]) -> Vec<&'a Case> {
        catalogue
            .iter()
            .filter(|c| self.focus.is_empty() || self.focus.iter().any(|p| matches_case(p, c)))
            .filter(|c| !self.skip.iter().any(|p| matches_case(p, c)))
            .filter(|c| !self.read_only || c.effect == Effect::ReadOnly)
            .filter(|c| self.only.as_ref().is_none_or(|o| o.contains(c.name)))
            .collect()
    }
}

/// Hooks for a live progress display.
pub trait Progress: Send + Sync {
    /// A case started.
    fn started(&self, _case: &str) {}
    /// A case finished.
    fn finished(&self, _outcome: &Outcome) {}
}

/// No progress display.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;
impl Progress for Quiet {}

/// How to run.
#[derive(Clone)]
pub struct RunConfig {
    /// Where.
    pub targets: Targets,
    /// Case options (timeouts, opt-ins).
    pub options: Options,
    /// Cases at once.
    pub parallel: usize,
    /// Times to run the selection.
    pub repeat: u32,
    /// Deadline of the whole run.
    pub run_timeout: Option<Duration>,
    /// The run ID (`cf-<run id>-` prefixes every name); random when `None`.
    pub run_id: Option<String>,
    /// Stops the run early (Ctrl-C): no new case starts, running ones are
    /// stopped and cleaned up.
    pub cancel: CancellationToken,
    /// Live display.
    pub progress: Arc<dyn Progress>,
}

impl std::fmt::Debug for RunConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunConfig")
            .field("targets", &self.targets)
            .field("options", &self.options)
            .field("parallel", &self.parallel)
            .field("repeat", &self.repeat)
            .finish_non_exhaustive()
    }
}

impl RunConfig {
    /// Defaults for `targets`: 16 cases at once, once, no run deadline.
    pub fn new(targets: Targets) -> Self {
        Self {
            targets,
            options: Options::default(),
            parallel: 16,
            repeat: 1,
            run_timeout: None,
            run_id: None,
            cancel: CancellationToken::new(),
            progress: Arc::new(Quiet),
        }
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
}

/// Why `case` cannot run with these targets and options, if it cannot.
pub fn skip_reason(case: &Case, targets: &Targets, options: &Options) -> Option<&'static str> {
    case.needs.iter().copied().find_map(|need| {
        let ok = match need {
            Need::Plaintext => !targets.main.is_tls(),
            Need::Tls => targets.any_tls(),
            Need::Viewer => targets.viewer.is_some(),
            Need::NoRole => targets.no_role.is_some(),
            Need::DeleteAll => options.allow_delete_all,
            Need::RemoteInstall => options.allow_remote_installs,
        };
        (!ok).then(|| need.skip_reason())
    })
}

/// Runs `cases` against `config.targets`.
pub async fn run(cases: &[&Case], config: RunConfig) -> RunResult {
    let started = Instant::now();
    let run_id = config.run_id.clone().unwrap_or_else(new_run_id);
    let deadline = config.run_timeout.map(|t| tokio::time::Instant::now() + t);
    let target = config.targets.main.addr.clone();
    let tls = config.targets.main.is_tls();
    let mut outcomes = Vec::new();

    let channel = match config.targets.main.connect().await {
        Ok(c) => c,
        Err(e) => {
            let reason = joblet_testkit::error_chain(&e);
            for attempt in 1..=config.repeat.max(1) {
                for case in cases {
                    let mut o = Outcome::new(case, attempt, State::Error);
                    o.error = Some(ErrorKind::Connection);
                    o.message = Some(reason.clone());
                    config.progress.finished(&o);
                    outcomes.push(o);
                }
            }
            return RunResult {
                run_id,
                target,
                tls,
                duration_ms: started.elapsed().as_millis() as u64,
                outcomes,
                interrupted: false,
            };
        }
    };
    let env = Arc::new(Env::new(
        config.targets.clone(),
        channel,
        run_id.clone(),
        config.options.clone(),
    ));
    let mut interrupted = false;
    for attempt in 1..=config.repeat.max(1) {
        let (mut pass, stopped) = run_pass(cases, &config, &env, attempt, deadline).await;
        interrupted |= stopped;
        outcomes.append(&mut pass);
        if stopped {
            break;
        }
    }
    RunResult {
        run_id,
        target,
        tls,
        duration_ms: started.elapsed().as_millis() as u64,
        outcomes,
        interrupted,
    }
}

/// One pass over the selection: shared cases in parallel, then exclusive ones
/// alone. Returns the outcomes in catalogue order and whether it was stopped.
async fn run_pass(
    cases: &[&Case],
    config: &RunConfig,
    env: &Arc<Env>,
    attempt: u32,
    deadline: Option<tokio::time::Instant>,
) -> (Vec<Outcome>, bool) {
    let semaphore = Arc::new(Semaphore::new(config.parallel.max(1)));
    let locks: BTreeMap<&str, Arc<AsyncMutex<()>>> = cases
        .iter()
        .filter_map(|c| c.lock)
        .map(|l| (l, Arc::new(AsyncMutex::new(()))))
        .collect();
    let mut results: Vec<Option<Outcome>> = vec![None; cases.len()];
    let stop = config.cancel.child_token();
    if let Some(deadline) = deadline {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(deadline).await;
            stop.cancel();
        });
    }

    for exclusive in [false, true] {
        let mut tasks = tokio::task::JoinSet::new();
        for (index, case) in cases.iter().enumerate() {
            if case.exclusive != exclusive {
                continue;
            }
            if let Some(reason) = skip_reason(case, &config.targets, &config.options) {
                let mut o = Outcome::new(case, attempt, State::Skip);
                o.message = Some(reason.into());
                config.progress.finished(&o);
                results[index] = Some(o);
                continue;
            }
            let case: Case = **case;
            let env = Arc::clone(env);
            let semaphore = Arc::clone(&semaphore);
            let lock = case.lock.and_then(|l| locks.get(l)).cloned();
            let progress = Arc::clone(&config.progress);
            let stop = stop.clone();
            let permits = if exclusive {
                config.parallel.max(1) as u32
            } else {
                1
            };
            tasks.spawn(async move {
                let permit = tokio::select! {
                    p = semaphore.acquire_many_owned(permits) => p.ok(),
                    () = stop.cancelled() => None,
                };
                let _guard = match (&permit, lock) {
                    (Some(_), Some(l)) => Some(l.lock_owned().await),
                    _ => None,
                };
                let outcome = if permit.is_none() || stop.is_cancelled() {
                    let mut o = Outcome::new(&case, attempt, State::Error);
                    o.error = Some(ErrorKind::Harness);
                    o.message = Some("not run: the run was stopped (Ctrl-C or --timeout)".into());
                    o
                } else {
                    progress.started(case.name);
                    run_one(&case, env, attempt, &stop).await
                };
                progress.finished(&outcome);
                (index, outcome)
            });
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((index, outcome)) => results[index] = Some(outcome),
                Err(e) => tracing::error!("a case task failed: {e}"),
            }
        }
    }
    let stopped = stop.is_cancelled();
    let outcomes = results
        .into_iter()
        .zip(cases)
        .map(|(o, case)| {
            o.unwrap_or_else(|| {
                let mut o = Outcome::new(case, attempt, State::Error);
                o.error = Some(ErrorKind::Harness);
                o.message = Some("the case's task ended without a verdict".into());
                o
            })
        })
        .collect();
    (outcomes, stopped)
}

/// Runs one case under its deadline, then removes what it created.
pub async fn run_one(
    case: &Case,
    env: Arc<Env>,
    attempt: u32,
    stop: &CancellationToken,
) -> Outcome {
    let cx = Ctx::new(Arc::clone(&env), case.name);
    let tracker = Arc::clone(&cx.tracker);
    let probe = cx.clone();
    let started = Instant::now();
    let mut handle = tokio::spawn((case.run)(cx));
    let limit = env.options.case_timeout;
    let verdict = tokio::select! {
        joined = &mut handle => match joined {
            Ok(r) => Ok(r),
            Err(e) if e.is_panic() => Err(format!("the case panicked: {}", panic_text(e))),
            Err(e) => Err(format!("the case's task was cancelled: {e}")),
        },
        () = tokio::time::sleep(limit) => {
            handle.abort();
            Ok(Err(crate::check::fail(
                format!("the case (RPCs called: {})", probe.rpcs().join(", ")),
                format!("every answer within the case timeout ({limit:?})"),
                "no verdict before the timeout: a call or stream did not answer".to_owned(),
            )))
        }
        () = stop.cancelled() => {
            handle.abort();
            Err("stopped: the run was interrupted (Ctrl-C or --timeout)".to_owned())
        }
    };
    let duration_ms = started.elapsed().as_millis() as u64;
    let verdict = judge_transport(verdict, &probe.transport);
    let mut outcome = match verdict {
        Ok(Ok(())) => Outcome::new(case, attempt, State::Pass),
        Ok(Err(CaseError::Fail(f))) => {
            let mut o = Outcome::new(case, attempt, State::Fail);
            o.message = Some(f.to_string());
            o.failure = Some(f);
            o
        }
        Ok(Err(CaseError::Skip(reason))) => {
            let mut o = Outcome::new(case, attempt, State::Skip);
            o.message = Some(reason);
            o
        }
        Ok(Err(CaseError::Error(reason))) => {
            let mut o = Outcome::new(case, attempt, State::Error);
            let seen = probe.transport.first();
            o.error = Some(if seen.is_some() || is_connection_reason(&reason) {
                ErrorKind::Connection
            } else {
                ErrorKind::Harness
            });
            o.message = Some(match seen {
                Some(seen) if !reason.starts_with("connection:") => {
                    format!("{reason} (the transport: {seen})")
                }
                _ => reason,
            });
            o
        }
        Err(reason) => {
            let mut o = Outcome::new(case, attempt, State::Error);
            o.error = Some(ErrorKind::Harness);
            o.message = Some(reason);
            o
        }
    };
    outcome.duration_ms = duration_ms;
    outcome.rpcs = probe.rpcs();
    let leaks = match tokio::time::timeout(
        Duration::from_secs(60),
        tracker.cleanup(&env.lane, case.name),
    )
    .await
    {
        Ok(leaks) => leaks,
        Err(_) => tracker
            .items()
            .into_iter()
            .map(|resource| Leak {
                case: case.name.into(),
                resource,
                reason: "cleanup did not finish within 60 s".into(),
            })
            .collect(),
    };
    outcome.leaks = leaks;
    outcome
}

/// A case that failed after one of its calls failed on the transport has no
/// verdict on the target's behaviour: an Error of the connection, naming the
/// transport failure and what the case saw.
pub fn judge_transport(
    verdict: Result<CaseResult, String>,
    transport: &crate::conn::Transport,
) -> Result<CaseResult, String> {
    match verdict {
        Ok(Err(CaseError::Fail(f))) if transport.failures() > 0 => {
            Ok(Err(CaseError::Error(format!(
                "connection: {} call(s) failed on the transport ({}), so no verdict: the case then saw {f}",
                transport.failures(),
                transport.first().unwrap_or_default()
            ))))
        }
        other => other,
    }
}

/// Whether an Error's reason is the connection's (the wording of
/// [`crate::check::unexpected`] and of the runner's connect failure).
pub fn is_connection_reason(reason: &str) -> bool {
    reason.starts_with("connection:")
        || reason.contains("no answer from the target")
        || reason.contains("cannot connect")
}

fn panic_text(e: tokio::task::JoinError) -> String {
    let payload = e.into_panic();
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".into()
    }
}

/// Parses a duration: `30s`, `500ms`, `2m`, `1h`, `1m30s`, or plain seconds
/// (`45`, `0.5`) ([`joblet_testkit::parse_duration`]).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    joblet_testkit::parse_duration(text).map_err(|reason| format!("duration {text:?}: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5x").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("-3").is_err());
        assert!(parse_duration("s").is_err());
    }

    proptest! {
        #[test]
        fn duration_parser_never_panics(s in "\\PC{0,12}") {
            let _ = parse_duration(&s);
        }

        #[test]
        fn whole_units_round_trip(n in 0u64..100_000) {
            prop_assert_eq!(parse_duration(&format!("{n}s")), Ok(Duration::from_secs(n)));
            prop_assert_eq!(parse_duration(&format!("{n}ms")), Ok(Duration::from_millis(n)));
            prop_assert_eq!(parse_duration(&format!("{n}m")), Ok(Duration::from_secs(n * 60)));
        }
    }

    #[test]
    fn globs_match_names_and_ids() {
        assert!(glob_match(
            "jobs.*",
            "jobs.stop.finished_job_is_failed_precondition"
        ));
        assert!(glob_match("*stop*", "jobs.stop.x"));
        assert!(glob_match("JOB-STOP-?", "JOB-STOP-3"));
        assert!(glob_match("job-stop-3", "JOB-STOP-3"));
        assert!(!glob_match("jobs.*", "networks.create.x"));
        assert!(!glob_match("JOB-STOP-?", "JOB-STOP-12"));
        assert!(glob_match("*", ""));
    }

    proptest! {
        #[test]
        fn a_name_matches_itself_and_star(name in "[a-z_.]{0,30}") {
            prop_assert!(glob_match(&name, &name));
            prop_assert!(glob_match("*", &name));
            let prefix: String = name.chars().take(3).collect();
            let pattern = format!("{prefix}*");
            prop_assert!(glob_match(&pattern, &name));
        }
    }
}
