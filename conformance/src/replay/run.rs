//! Driving a replay: the plan played transcript by transcript, calls
//! overlapping as they did in the recording, then the cleanup.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::OnceCell;

use super::config::{Pace, ReplayConfig};
use super::one::replay_call;
use super::plan::{base_outcome, prepare};
use super::shared::Shared;
use super::transcript::Transcript;
use crate::cleanup::{Leak, Tracker};
use crate::ctx::new_run_id;
use crate::outcome::{ContractInfo, Outcome, RunResult, State};

/// Replays `transcripts` (one after the other) against `config.targets`.
pub async fn replay(transcripts: &[Transcript], config: ReplayConfig) -> RunResult {
    let started = Instant::now();
    let run_id = config.run_id.clone().unwrap_or_else(new_run_id);
    let target = config.targets.main.addr.clone();
    let tls = config.targets.main.is_tls();
    let (plan, ids) = prepare(transcripts, &run_id);
    let main = match config.targets.main.connect().await {
        Ok(c) => c,
        Err(e) => {
            let reason = joblet_testkit::error_chain(&e);
            let outcomes = plan
                .iter()
                .map(|p| {
                    let mut o = base_outcome(p, &transcripts[p.transcript], State::Error);
                    o.message = Some(reason.clone());
                    config.progress.finished(&o);
                    o
                })
                .collect();
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
    let detection = match &config.contract {
        Some(d) => d.clone(),
        None => joblet_testkit::detect::detect(main.clone()).await,
    };
    let shared = Arc::new(Shared {
        config: config.clone(),
        run_id: run_id.clone(),
        main,
        viewer: OnceCell::new(),
        no_role: OnceCell::new(),
        ids: Mutex::new(ids),
        tracker: Tracker::default(),
        created: Mutex::new(HashMap::new()),
        plan,
        settled: Mutex::new(HashMap::new()),
    });
    let names: Vec<String> = transcripts.iter().map(|t| t.name.clone()).collect();
    let mut outcomes: Vec<Option<Outcome>> = vec![None; shared.plan.len()];
    let mut interrupted = false;
    let mut index = 0;
    while index < shared.plan.len() {
        let t = shared.plan[index].transcript;
        let end = shared.plan[index..]
            .iter()
            .position(|p| p.transcript != t)
            .map_or(shared.plan.len(), |n| index + n);
        interrupted |= play(&shared, index..end, &names[t], &mut outcomes).await;
        index = end;
        if interrupted {
            break;
        }
    }
    let mut outcomes: Vec<Outcome> = outcomes
        .into_iter()
        .zip(&shared.plan)
        .map(|(o, p)| {
            o.unwrap_or_else(|| {
                let mut o = base_outcome(p, &transcripts[p.transcript], State::Error);
                o.message = Some("not replayed: the replay was stopped (Ctrl-C)".into());
                o
            })
        })
        .collect();
    if config.cleanup {
        let leaks = tokio::time::timeout(
            Duration::from_secs(120),
            shared
                .tracker
                .cleanup(&crate::conn::Lane::new(shared.main.clone(), None), "replay"),
        )
        .await
        .unwrap_or_else(|_| {
            shared
                .tracker
                .items()
                .into_iter()
                .map(|resource| Leak {
                    case: "replay".into(),
                    resource,
                    reason: "cleanup did not finish within 120 s".into(),
                })
                .collect()
        });
        let created = shared.created.lock();
        for mut leak in leaks {
            let at = created.get(&leak.resource).copied().unwrap_or(0);
            if let Some(o) = outcomes.get_mut(at) {
                leak.case = o.case.clone();
                o.leaks.push(leak);
            }
        }
    }
    RunResult {
        run_id,
        target,
        tls,
        duration_ms: started.elapsed().as_millis() as u64,
        outcomes,
        interrupted,
        contract: Some(ContractInfo::of(&detection)),
        compatibility: None,
    }
}

/// Plays the calls `range` of the plan (one transcript). Returns whether it
/// was stopped.
async fn play(
    shared: &Arc<Shared>,
    range: std::ops::Range<usize>,
    transcript: &str,
    outcomes: &mut [Option<Outcome>],
) -> bool {
    let start = tokio::time::Instant::now();
    let first_at = shared.plan[range.start].line.at_ms;
    let mut in_flight: Vec<(u64, usize, tokio::task::JoinHandle<Outcome>)> = Vec::new();
    let cancel = shared.config.cancel.clone();
    for i in range {
        if cancel.is_cancelled() {
            break;
        }
        let at = shared.plan[i].line.at_ms;
        // Calls that had ended before this one started, end first.
        let (done, running): (Vec<_>, Vec<_>) =
            in_flight.into_iter().partition(|(end, _, _)| *end <= at);
        in_flight = running;
        for (_, j, handle) in done {
            outcomes[j] = Some(join(shared, j, transcript, handle).await);
        }
        if shared.config.pace == Pace::Recorded {
            let due = start + Duration::from_millis(at - first_at);
            tokio::select! {
                () = tokio::time::sleep_until(due) => {}
                () = cancel.cancelled() => break,
            }
        }
        shared.config.progress.started(&shared.plan[i].case);
        let task = tokio::spawn(replay_call(Arc::clone(shared), i, transcript.to_owned()));
        in_flight.push((shared.plan[i].line.end_ms, i, task));
    }
    for (_, j, handle) in in_flight {
        outcomes[j] = Some(join(shared, j, transcript, handle).await);
    }
    cancel.is_cancelled()
}

async fn join(
    shared: &Arc<Shared>,
    i: usize,
    transcript: &str,
    handle: tokio::task::JoinHandle<Outcome>,
) -> Outcome {
    let outcome = match handle.await {
        Ok(o) => o,
        Err(e) => {
            let t = Transcript {
                name: transcript.to_owned(),
                lines: Vec::new(),
            };
            let mut o = base_outcome(&shared.plan[i], &t, State::Error);
            o.message = Some(format!("the replay of this call failed: {e}"));
            o
        }
    };
    shared.config.progress.finished(&outcome);
    outcome
}

/// The differences of a replay, one line each, for golden lists and tests:
/// `<transcript> <seq> <Method> <path>`.
pub fn difference_lines(result: &RunResult) -> Vec<String> {
    let mut out = Vec::new();
    for o in &result.outcomes {
        if let Some(r) = &o.replay {
            for d in &r.differences {
                out.push(format!(
                    "{} {} {} {}",
                    r.transcript, r.seq, r.method, d.path
                ));
            }
        }
    }
    out
}
