//! Selecting cases and running them: in parallel up to a limit, each under its
//! own deadline, cleaned up after, with outcomes Pass / Fail / Skip / Error.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use joblet_testkit::contract::Api;
use joblet_testkit::detect::Detection;
use tokio::sync::{Mutex as AsyncMutex, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::case::{Case, Effect};
use crate::check::{CaseError, CaseResult};
use crate::cleanup::Leak;
use crate::ctx::{Ctx, Env, Options, Targets, new_run_id};
use crate::glob::glob_match;
use crate::need::Need;
use crate::outcome::{Compatibility, ContractInfo, ErrorKind, Outcome, RunResult, State};

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
    /// The contract to certify against: given (`--contract`) or detected
    /// beforehand; `None` detects it when the run starts.
    pub contract: Option<Detection>,
    /// With a given `contract`, detect the node's too: when the node does
    /// not serve the given contract, the run is a compatibility report
    /// ([`crate::compat`]): only the cases of the given contract run, and
    /// the result says what its client meets.
    pub detect_given: bool,
}

impl std::fmt::Debug for RunConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunConfig")
            .field("targets", &self.targets)
            .field("options", &self.options)
            .field("parallel", &self.parallel)
            .field("repeat", &self.repeat)
            .field("contract", &self.contract)
            .field("detect_given", &self.detect_given)
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
            contract: None,
            detect_given: false,
        }
    }
}

/// Why a case is skipped on a node of `contract`, if it is: a case
/// declared for the other contract only ([`Case::contracts`]).
pub(crate) fn contract_skip(case: &Case, contract: Api) -> Option<&'static str> {
    case.contract_skip(contract)
}

pub use crate::case::{NOT_IN_V1, NOT_IN_V2};

/// Why `case` cannot run with these targets and options, if it cannot.
pub(crate) fn skip_reason(
    case: &Case,
    targets: &Targets,
    options: &Options,
) -> Option<&'static str> {
    case.needs.iter().copied().find_map(|need| {
        let ok = match need {
            Need::Plaintext => !targets.main.is_tls(),
            Need::Tls => targets.any_tls(),
            Need::Viewer => targets.viewer.is_some(),
            Need::NoRole => targets.no_role.is_some(),
            Need::Reader => targets.reader.is_some(),
            Need::DeleteAll => options.allow_delete_all,
            Need::RemoteInstall => options.allow_remote_installs,
            Need::Build => options.allow_builds,
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
                contract: config.contract.as_ref().map(ContractInfo::of),
                compatibility: None,
            };
        }
    };
    let (detection, node) = match &config.contract {
        Some(d) if config.detect_given => (
            d.clone(),
            Some(joblet_testkit::detect::detect(channel.clone()).await),
        ),
        Some(d) => (d.clone(), None),
        None => (joblet_testkit::detect::detect(channel.clone()).await, None),
    };
    let contract = detection.contract;
    let compatibility = node
        .filter(|n| !serves(n.contract, contract))
        .map(|n| Compatibility {
            client: contract.name().into(),
            node: ContractInfo::of(&n),
            behaviours: Vec::new(),
        });
    // A compatibility report is about the client's catalogue alone.
    let cases: Vec<&Case> = cases
        .iter()
        .copied()
        .filter(|c| compatibility.is_none() || c.holds_in(contract))
        .collect();
    let cases = &cases[..];
    let node = compatibility
        .as_ref()
        .and_then(|c| c.node.api())
        .unwrap_or(contract);
    let env = Arc::new(Env::new(
        config.targets.clone(),
        channel,
        run_id.clone(),
        config.options.clone(),
        (contract, node),
    ));
    let mut interrupted = false;
    for attempt in 1..=config.repeat.max(1) {
        let (mut pass, stopped) =
            run_pass(cases, &config, &env, (attempt, contract), deadline).await;
        interrupted |= stopped;
        outcomes.append(&mut pass);
        if stopped {
            break;
        }
    }
    let compatibility = compatibility.map(|c| Compatibility {
        behaviours: crate::compat::verdicts(&outcomes, node),
        ..c
    });
    RunResult {
        run_id,
        target,
        tls,
        duration_ms: started.elapsed().as_millis() as u64,
        outcomes,
        interrupted,
        contract: Some(ContractInfo::of(&detection)),
        compatibility,
    }
}

/// Whether a node of contract `node` serves a client of contract `client`
/// (a client of both is served by a node of either: its cases of the other
/// contract are skipped, as ever).
fn serves(node: Api, client: Api) -> bool {
    match client {
        Api::V1 => node.serves_v1(),
        Api::V2 => node.serves_v2(),
        Api::Both => true,
    }
}

/// One pass over the selection: shared cases in parallel, then exclusive ones
/// alone. Returns the outcomes in catalogue order and whether it was stopped.
async fn run_pass(
    cases: &[&Case],
    config: &RunConfig,
    env: &Arc<Env>,
    (attempt, contract): (u32, Api),
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
            if let Some(reason) = contract_skip(case, contract)
                .or_else(|| skip_reason(case, &config.targets, &config.options))
            {
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
pub(crate) async fn run_one(
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
