//! Safety: a run deletes exactly its own jobs, stops cleanly on Ctrl-C,
//! bounds what it tracks, and fails clearly on a target it cannot reach.

use std::time::Duration;

use joblet_loadgen::plan::{Action, JobSpec, Load, Plan};
use joblet_loadgen::run::{self, RunError, Stop, TargetSpec};
use joblet_loadgen::transport::Rpc;
use joblet_testkit::Target;

use crate::support::{Mock, config, plan, run_checked};

#[test]
fn ctrl_c_stops_issuing_stops_and_deletes_the_runs_jobs_and_still_reports() {
    let mock = Mock::start();
    let other = mock.submit("sleep", &["3600"]);
    let job = JobSpec {
        command: "sleep".into(),
        args: vec!["3600".into()],
        ..JobSpec::true_job()
    };
    // A minute of load at most; the test interrupts it long before.
    let p = Plan::single(
        "submit",
        Action::Call(Rpc::RunJob),
        job,
        Load::Concurrency(4),
        Some(Duration::from_secs(60)),
        None,
    )
    .unwrap();
    let stop = Stop::new();
    let report = std::thread::scope(|s| {
        let trigger = stop.clone();
        let mock = &mock;
        s.spawn(move || {
            // Interrupt once the node has seen some of the load.
            let deadline = std::time::Instant::now() + joblet_testkit::testing::patience();
            while mock.run_job_calls() < 21 && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            trigger.interrupt();
        });
        run::run(&config(p, vec![mock.target()]), &stop).expect("an interrupted run still reports")
    });
    assert!(report.interrupted);
    crate::support::assert_valid(&report);
    let c = report.cleanup;
    assert!(c.created >= 20, "{c:?}");
    assert_eq!(c.created, report.operations["submit"].ok);
    assert_eq!(
        (c.deleted, c.stopped, c.failed),
        (c.created, c.created, 0),
        "{c:?}"
    );
    // Only the other client's job is left, untouched.
    let left = mock.jobs();
    assert_eq!(left, [(other, "RUNNING".to_owned())]);
}

#[test]
fn keep_jobs_leaves_them_and_says_so() {
    let mock = Mock::start();
    let mut c = config(
        plan(
            "submit",
            Action::Call(Rpc::RunJob),
            JobSpec::true_job(),
            Load::Concurrency(2),
            10,
        ),
        vec![mock.target()],
    );
    c.keep_jobs = true;
    let r = run_checked(&c);
    assert_eq!(
        (r.cleanup.created, r.cleanup.kept, r.cleanup.deleted),
        (10, 10, 0)
    );
    assert_eq!(mock.jobs().len(), 10);
}

#[test]
fn past_the_tracking_cap_old_jobs_are_deleted_during_the_run() {
    let mock = Mock::start();
    let mut c = config(
        plan(
            "submit",
            Action::Call(Rpc::RunJob),
            JobSpec::true_job(),
            Load::Concurrency(2),
            300,
        ),
        vec![mock.target()],
    );
    c.threads = Some(1);
    c.max_tracked_jobs = 16;
    let r = run_checked(&c);
    let k = r.cleanup;
    assert!(k.deleted_during_run > 0, "{k:?}");
    assert_eq!(
        k.deleted_during_run + k.deleted + k.already_gone,
        300,
        "{k:?}"
    );
    assert_eq!(k.failed, 0);
    assert!(mock.jobs().is_empty());
}

#[test]
fn an_unreachable_target_is_a_clear_error_before_any_load() {
    // A port nobody listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = TargetSpec::new(Target::plaintext(format!("127.0.0.1:{port}")));
    let p = plan(
        "submit",
        Action::Call(Rpc::RunJob),
        JobSpec::true_job(),
        Load::Concurrency(1),
        1,
    );
    let err = run::run(&config(p, vec![target]), &Stop::new()).unwrap_err();
    assert!(matches!(err, RunError::Connect { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&port.to_string()) && text.contains("UNAVAILABLE"),
        "{text}"
    );
}

#[test]
fn a_stop_before_the_start_sends_nothing() {
    let mock = Mock::start();
    let stop = Stop::new();
    stop.interrupt();
    let p = plan(
        "submit",
        Action::Call(Rpc::RunJob),
        JobSpec::true_job(),
        Load::Concurrency(4),
        1000,
    );
    let r = run::run(&config(p, vec![mock.target()]), &stop).unwrap();
    assert!(r.interrupted);
    assert_eq!(r.errors.requests, 0);
    assert_eq!(mock.run_job_calls(), 0);
}
