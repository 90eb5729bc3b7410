//! One sequence of operations against the target: each resolved, made,
//! judged by a fresh model; everything it created removed at the end. And
//! the shrinking of a sequence that disagreed.

use tonic::transport::Channel;

use super::call::{Answer, Call};
use super::checks::Verdict;
use super::clock::SeqClock;
use super::exec::Clients;
use super::model::Model;
use super::ops::{Names, Op};
use crate::cleanup::{Leak, Resource, Tracker};

/// One step that ran: the call, its answer, the model's verdict.
#[derive(Debug, Clone)]
pub struct Step {
    /// The index of its operation in the sequence.
    pub op: usize,
    /// The call made.
    pub call: Call,
    /// The answer.
    pub answer: Answer,
    /// The model's verdict.
    pub verdict: Verdict,
}

/// What running a sequence gave.
#[derive(Debug, Clone, Default)]
pub struct Run {
    /// The steps that ran, up to the first disagreement.
    pub steps: Vec<Step>,
    /// The index in `steps` of the disagreement, if any.
    pub failed: Option<usize>,
    /// What could not be removed.
    pub leaks: Vec<Leak>,
    /// Why the sequence could not run (not a disagreement).
    pub error: Option<String>,
}

/// Where a sequence runs.
#[derive(Debug, Clone)]
pub struct Place {
    /// The admin channel the calls go through.
    pub channel: Channel,
    /// The admin channel the cleanup goes through.
    pub cleanup: Channel,
    /// The name prefix of this run of the sequence (fresh each time).
    pub prefix: String,
    /// The second octet of its `10.x.0.0/16` block.
    pub octet: u8,
    /// How late the node may be, in milliseconds.
    pub grace: f64,
    /// The other identities and the opt-ins.
    pub admin: super::admin::Admin,
    /// Where time is read (and how a pause passes).
    pub time: super::clock::TimeSource,
    /// The contracts the node serves.
    pub contracts: joblet_testkit::contract::Api,
}

/// Removes what a sequence created: stops every job, deletes it, removes
/// networks and volumes, each retried for a moment (a job takes a moment
/// to stop, a network to be free). The statuses are not read, so a target
/// that spells them wrongly is cleaned up as fast as one that does not.
async fn cleanup(channel: &Channel, created: Vec<Resource>) -> Vec<Leak> {
    use tonic::Code;
    let c = Clients::new(channel);
    let (created, mut leaks) = super::wfexec::expand(&c, created).await;
    for r in &created {
        if let Resource::Job(id) = r {
            let _ = c.stop(id).await;
        }
    }
    for r in created.iter().rev() {
        let mut last = String::new();
        let mut done = false;
        for attempt in 0..40 {
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            let result = match r {
                Resource::Job(id) => c.delete(id).await,
                Resource::Network(n) => c.remove_network(n).await,
                Resource::Volume(n) => c.remove_volume(n).await,
                Resource::Runtime(n) => super::admin::remove_runtime(channel, n).await,
                _ => Ok((true, String::new())),
            };
            match result {
                Ok((true, _)) => done = true,
                Ok((false, m)) if m.contains("not found") => done = true,
                // A v5 node wraps it: INTERNAL "job deletion failed: job
                // <id> not found" (QUIRK of server-v2): gone all the same.
                Err(s) if s.code() == Code::NotFound || s.message().contains("not found") => {
                    done = true
                }
                Ok((false, m)) => last = m,
                Err(s) => {
                    last = format!("{}: {}", joblet_testkit::code_name(s.code()), s.message())
                }
            }
            if done {
                break;
            }
        }
        if !done {
            leaks.push(Leak {
                case: "explore".into(),
                resource: r.clone(),
                reason: format!("not removed after 2 s: {last}"),
            });
        }
    }
    leaks
}

fn track(tracker: &Tracker, call: &Call, answer: &Answer) {
    match (call, answer) {
        (Call::RunJob(_), Answer::Run(v, _)) if !v.uuid.is_empty() => {
            tracker.add(Resource::Job(v.uuid.clone()))
        }
        (Call::CreateNetwork { name, .. }, Answer::Created(_)) => {
            tracker.add(Resource::Network(name.clone()))
        }
        (Call::CreateVolume { name, .. }, Answer::Created(_)) => {
            tracker.add(Resource::Volume(name.clone()))
        }
        (Call::Wf(_), Answer::Wf(super::wfcall::WfAnswer::Run(u, _))) if !u.is_empty() => {
            tracker.add(Resource::Workflow(u.clone()))
        }
        (Call::As(_, inner) | Call::ViaV2(inner), _) => track(tracker, inner, answer),
        (Call::RunJobV2(_), Answer::V2(super::v2call::V2Answer::Run(u, _))) if !u.is_empty() => {
            tracker.add(Resource::Job(u.clone()))
        }
        (Call::V2(c), _) => {
            if let Some(r) = super::v2exec::created(c) {
                tracker.add(r)
            }
        }
        (Call::Install(i), _) if !i.spec.is_empty() => {
            tracker.add(Resource::Runtime(i.name.clone()))
        }
        _ => {}
    }
}

/// A sequence cut short because the mock's clock could not be moved: an
/// error, not a disagreement; what it made is removed.
async fn clock_error(mut out: Run, e: String, place: &Place, tracker: &Tracker) -> Run {
    out.error = Some(format!("the mock's clock: {e}"));
    out.leaks = cleanup(&place.cleanup, tracker.items()).await;
    out
}

/// Runs `ops` at `place` until the model disagrees with an answer.
pub async fn run(ops: &[Op], place: &Place) -> Run {
    let clients = Clients::new(&place.channel);
    let mut model = Model::new(&place.prefix, place.grace);
    model.api = place.contracts;
    match clients.node().await {
        Ok((nets, rts)) => {
            model.foreign_cidrs = nets
                .into_iter()
                .filter(|(n, _)| !n.starts_with(&place.prefix))
                .map(|(_, c)| c)
                .collect();
            // Other explorer runs' runtimes come and go.
            model.runtimes = rts
                .into_iter()
                .filter(|n| !super::admin::explorers(n))
                .collect();
        }
        Err(s) => {
            return Run {
                error: Some(format!("cannot list the node's networks and runtimes: {s}")),
                ..Run::default()
            };
        }
    }
    let tracker = Tracker::default();
    let mut clock = match SeqClock::start(place.time, &place.cleanup).await {
        Ok(c) => c,
        Err(e) => {
            return Run {
                error: Some(e),
                ..Run::default()
            };
        }
    };
    let mut out = Run::default();
    for (i, op) in ops.iter().enumerate() {
        // Sent at `a`, measured before the call is resolved: a schedule
        // made from the clock then is due no earlier than the model
        // thinks, however long the thread is held up in between.
        let a = clock.now();
        let names = Names {
            prefix: &place.prefix,
            octet: place.octet,
            model: &model,
            now: a,
            local: clock.now_local(),
            still: clock.is_still(),
        };
        let Some(call) = super::admin::resolve(op, &names, &place.admin) else {
            continue;
        };
        let own: Vec<String> = model.jobs.iter().map(|j| j.uuid.clone()).collect();
        let answer = match &call {
            Call::Wait(ms) => match clock.wait(*ms).await {
                Ok(()) => Answer::Nothing,
                Err(e) => return clock_error(out, e, place, &tracker).await,
            },
            Call::Wf(w) => super::wfexec::execute(&clients, w).await,
            Call::ViaV2(inner) => super::wire2::execute(&place.channel, inner, &own).await,
            // A build's phases take the node's time: on the mock's clock,
            // it moves while the build runs.
            Call::V2(c) if matches!(**c, super::v2call::V2Call::Build { .. }) => {
                let build = super::v2exec::execute(&place.channel, c, &place.prefix);
                clock.moving_during(20, build).await
            }
            Call::V2(c) => super::v2exec::execute(&place.channel, c, &place.prefix).await,
            Call::RunJobV2(r) => super::v2exec::run(&place.channel, r).await,
            _ => {
                super::admin::execute(
                    &place.admin,
                    &clients,
                    &place.channel,
                    &call,
                    &own,
                    &place.prefix,
                )
                .await
            }
        };
        let b = match clock.after_call().await {
            Ok(b) => b,
            Err(e) => return clock_error(out, e, place, &tracker).await,
        };
        track(&tracker, &call, &answer);
        let verdict = super::v2model::judge(&mut model, &call, a, b, &answer);
        let failed = !verdict.is_pass();
        out.steps.push(Step {
            op: i,
            call,
            answer,
            verdict,
        });
        if failed {
            out.failed = Some(out.steps.len() - 1);
            break;
        }
    }
    out.leaks = cleanup(&place.cleanup, tracker.items()).await;
    out
}

/// Shrinks `ops`, which disagreed, to a shorter sequence that still does:
/// removes chunks of operations (halves, then quarters, down to single
/// operations) while the rest still disagrees, each candidate run afresh
/// by `attempt` (which gives it a fresh prefix); a chunk of several that
/// cannot go is tried as one pause instead (it may have mattered only for
/// the time it took). A sequence that does not disagree again alone (others
/// ran beside it) is first tried with a pause before its last call. Stops
/// after `budget` candidates.
pub async fn shrink<F, Fut>(ops: Vec<Op>, budget: usize, mut attempt: F) -> (Vec<Op>, Run)
where
    F: FnMut(Vec<Op>) -> Fut,
    Fut: std::future::Future<Output = Run>,
{
    let mut best = ops;
    let mut best_run = Run::default();
    let mut tries = 0;
    // Sequences that ran beside it moved a shared clock too: alone, the
    // sequence may need a pause before its last call to disagree again.
    if let Some(last) = best.len().checked_sub(1) {
        tries += 1;
        let run = attempt(best.clone()).await;
        if run.failed.is_some() {
            best_run = run;
        } else {
            let mut paused = best[..last].to_vec();
            paused.extend([Op::Wait, best[last].clone()]);
            tries += 1;
            let run = attempt(paused.clone()).await;
            if run.failed.is_some() {
                best = paused;
                best_run = run;
            }
        }
    }
    let mut chunk = best.len().div_ceil(2).max(1);
    loop {
        let mut removed_any = false;
        let mut start = 0;
        while start < best.len() && tries < budget {
            let end = (start + chunk).min(best.len());
            let mut candidate = best[..start].to_vec();
            candidate.extend_from_slice(&best[end..]);
            // A disagreement that needs timing may not show every time: a
            // candidate that agrees gets a second chance.
            tries += 1;
            let mut run = attempt(candidate.clone()).await;
            if run.failed.is_none() && tries < budget {
                tries += 1;
                run = attempt(candidate.clone()).await;
            }
            let mut kept = end - start;
            if run.failed.is_none() && kept > 1 && tries < budget {
                // The chunk may matter only for the time it took (a job
                // that must have ended by now): try one pause instead.
                candidate = best[..start].to_vec();
                candidate.push(Op::Wait);
                candidate.extend_from_slice(&best[end..]);
                tries += 1;
                run = attempt(candidate.clone()).await;
                kept = 1;
            }
            if let Some(f) = run.failed {
                // Keep only what led to the disagreement.
                let last = run.steps[f].op;
                candidate.truncate(last + 1);
                best = candidate;
                best_run = run;
                removed_any = true;
                if kept == 1 && end - start > 1 {
                    start += 1;
                }
            } else {
                start += chunk;
            }
        }
        if tries >= budget || (chunk == 1 && !removed_any) {
            break;
        }
        if !removed_any {
            chunk = (chunk / 2).max(1);
        }
    }
    if best_run.failed.is_none() {
        best_run = attempt(best.clone()).await;
    }
    (best, best_run)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake target: the sequence disagrees at its `SystemStatus` when a
    /// `ListNetworks` came before it and at least 25 "ms" passed between
    /// them (a `ListJobs` costs 1, a pause 200).
    fn judge(ops: Vec<Op>) -> Run {
        let mut run = Run::default();
        let mut since: Option<u32> = None;
        for (i, op) in ops.iter().enumerate() {
            run.steps.push(Step {
                op: i,
                call: Call::Wait(0),
                answer: Answer::Nothing,
                verdict: Verdict::pass(&[]),
            });
            match op {
                Op::ListNetworks => since = Some(0),
                Op::ListJobs => since = since.map(|t| t + 1),
                Op::Wait => since = since.map(|t| t + 200),
                Op::SystemStatus if since.is_some_and(|t| t >= 25) => {
                    run.failed = Some(run.steps.len() - 1);
                    return run;
                }
                _ => {}
            }
        }
        run
    }

    #[tokio::test]
    async fn explore_shrink_keeps_the_time_a_finding_needs_as_one_pause() {
        let mut ops = vec![Op::ListVolumes, Op::ListNetworks];
        ops.extend(std::iter::repeat_n(Op::ListJobs, 40));
        ops.push(Op::SystemStatus);
        ops.extend(std::iter::repeat_n(Op::ListRuntimes, 5));
        assert!(judge(ops.clone()).failed.is_some());
        let (shrunk, run) = shrink(ops, 200, |c| async move { judge(c) }).await;
        assert_eq!(
            shrunk,
            vec![Op::ListNetworks, Op::Wait, Op::SystemStatus],
            "{shrunk:?}"
        );
        assert_eq!(run.failed, Some(2));
    }

    #[tokio::test]
    async fn explore_shrink_adds_the_time_others_gave_a_finding() {
        // Found beside other sequences that moved the clock: alone, these
        // 10 calls are not time enough.
        let mut ops = vec![Op::ListNetworks];
        ops.extend(std::iter::repeat_n(Op::ListJobs, 10));
        ops.push(Op::SystemStatus);
        assert!(judge(ops.clone()).failed.is_none());
        let (shrunk, run) = shrink(ops, 200, |c| async move { judge(c) }).await;
        assert_eq!(shrunk, vec![Op::ListNetworks, Op::Wait, Op::SystemStatus]);
        assert_eq!(run.failed, Some(2));
    }

    #[tokio::test]
    async fn explore_shrink_removes_what_does_not_matter() {
        let mut ops = vec![Op::ListNetworks, Op::Wait];
        ops.extend(std::iter::repeat_n(Op::ListVolumes, 20));
        ops.push(Op::SystemStatus);
        let (shrunk, _) = shrink(ops, 200, |c| async move { judge(c) }).await;
        assert_eq!(shrunk, vec![Op::ListNetworks, Op::Wait, Op::SystemStatus]);
    }
}
