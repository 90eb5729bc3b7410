//! The operations follow the contracts the target serves (issue #18 item
//! 5): on a node of v2.5.9 alone no workflow, no runtime install and no
//! ValidateRuntimeSpec but as a v1-only path that must answer UNIMPLEMENTED
//! (CONTRACT-1); on a node that serves v2, jobs run, and are read, through
//! the v2 messages too ([`Op::ViaV2`], made by [`super::wire2`]), some with a
//! `timeout` (JOB-TIMEOUT-1 to JOB-TIMEOUT-4), and the node's v2 facts are
//! read. The model's side is [`super::contract`] and [`super::timeout`].

use joblet_testkit::contract::Api;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::identity::Who;
use super::ops::{JobRef, Op};

/// `n` operations from `seed` for a node that serves `api`: the v1
/// explorer's operations, adapted (the same ones as before on a v1 node).
pub fn generate(seed: u64, n: usize, api: Api, v1_ops: bool, v2_ops: bool) -> Vec<Op> {
    if !api.serves_v2() {
        return super::ops::generate(seed, n);
    }
    // The v2-only operations (streams, YAML, builds) mixed in.
    let ops = super::ops::generate_for(seed, n, v1_ops, v2_ops);
    // A stream of its own: the v1 operations stay those of the seed.
    let mut rng = StdRng::seed_from_u64(seed ^ 0x7632_5f6a_6f62_7321);
    ops.into_iter().map(|op| adapt(op, api, &mut rng)).collect()
}

/// A timeout for a v2 RunJob: none nearly half the time, else mostly
/// valid, often a short one.
fn timeout(rng: &mut StdRng) -> &'static str {
    use super::timeout::{INVALID, SHORT, VALID};
    match rng.random_range(0..100) {
        0..45 => "",
        45..65 => SHORT[rng.random_range(0..SHORT.len())],
        65..87 => VALID[rng.random_range(0..VALID.len())],
        _ => INVALID[rng.random_range(0..INVALID.len())],
    }
}

fn via_v2(op: Op, rng: &mut StdRng) -> Op {
    let Op::Run(run) = op else {
        return Op::ViaV2(Box::new(op), "");
    };
    let t = timeout(rng);
    // A short timeout mostly on a command that outlives it: the job ends
    // TIMEOUT while the sequence watches (JOB-TIMEOUT-3).
    let run = if super::timeout::SHORT.contains(&t) && rng.random_range(0..3) > 0 {
        Box::new(run.outliving())
    } else {
        run
    };
    Op::ViaV2(Box::new(Op::Run(run)), t)
}

fn adapt(op: Op, api: Api, rng: &mut StdRng) -> Op {
    let v2_only = !api.serves_v1();
    // On a node of v2 alone, most jobs run through the v2 messages; on one
    // of both, a third.
    let share = if v2_only { 70 } else { 35 };
    let v2 = rng.random_range(0..100) < share;
    match op {
        // The v1-only paths: workflows and installs are left out (a v2 run
        // instead), and another identity's ValidateRuntimeSpec too (its
        // UNIMPLEMENTED comes whatever the role, CONTRACT-1).
        Op::Wf(_) | Op::Runtime(_) if v2_only => {
            via_v2(Op::Run(Box::new(super::ops::run_op(rng))), rng)
        }
        Op::As(_, ref inner) if v2_only && matches!(**inner, Op::Spec(_)) => {
            via_v2(Op::ListJobs, rng)
        }
        // AUTH-6: a third of the viewer's calls made by the reader.
        Op::As(Who::Viewer, inner) if rng.random_range(0..3) == 0 => Op::As(Who::Reader, inner),
        Op::Logs(..) if rng.random_range(0..20) == 0 => {
            // JOB-LOGS-4: GetJobLogs without an ID.
            let logs = Op::Logs(JobRef::Empty, 1);
            if v2 { via_v2(logs, rng) } else { logs }
        }
        Op::Run(_)
        | Op::Status(_)
        | Op::ListJobs
        | Op::Logs(..)
        | Op::SystemStatus
        | Op::ListRuntimes
        | Op::RuntimeInfo(_)
            if v2 =>
        {
            via_v2(op, rng)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_follows_the_contract_contract_1_job_timeout_1() {
        let count = |ops: &[Op], f: &dyn Fn(&Op) -> bool| ops.iter().filter(|o| f(o)).count();
        let v1 = generate(3, 2_000, Api::V1, true, true);
        assert_eq!(v1, super::super::ops::generate(3, 2_000));
        let v2 = generate(3, 2_000, Api::V2, true, false);
        assert_eq!(count(&v2, &|o| matches!(o, Op::Wf(_) | Op::Runtime(_))), 0);
        assert_eq!(
            count(
                &v2,
                &|o| matches!(o, Op::As(_, i) if matches!(**i, Op::Spec(_)))
            ),
            0
        );
        let timed = count(
            &v2,
            &|o| matches!(o, Op::ViaV2(r, t) if matches!(**r, Op::Run(_)) && !t.is_empty()),
        );
        assert!(timed > 50, "{timed} v2 runs with a timeout");
        let both = generate(3, 2_000, Api::Both, true, false);
        assert!(count(&both, &|o| matches!(o, Op::Wf(_))) > 0);
        assert!(count(&both, &|o| matches!(o, Op::ViaV2(..))) > 100);
        // Short timeouts mostly on a command that outlives them.
        let short = count(
            &v2,
            &|o| matches!(o, Op::ViaV2(_, t) if super::super::timeout::SHORT.contains(t)),
        );
        assert!(short > 20, "{short} short timeouts");
    }
}
