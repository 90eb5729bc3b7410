//! Every scenario, briefly, with fixed request counts.

use std::time::Duration;

use joblet_loadgen::plan::{Action, Follow, JobSpec, Load, Plan};
use joblet_loadgen::run::{RunConfig, TargetSpec, WorkerShare};
use joblet_loadgen::stats;
use joblet_loadgen::transport::Rpc;
use joblet_mock::{MockServer, Role, TlsSetup};
use joblet_testkit::testing::fixture;

use crate::support::{Mock, config, plan, run_checked};

fn submit(load: Load, requests: u64) -> Plan {
    plan(
        "submit",
        Action::Call(Rpc::RunJob),
        JobSpec::true_job(),
        load,
        requests,
    )
}

#[test]
fn submit_closed_counts_every_request_and_deletes_every_job() {
    let mock = Mock::start();
    let r = run_checked(&config(
        submit(Load::Concurrency(8), 300),
        vec![mock.target()],
    ));
    let s = &r.operations["submit"];
    assert_eq!((s.count, s.ok, s.errors), (300, 300, 0));
    assert_eq!(stats::decode(&s.histogram).unwrap().len(), 300);
    assert!(
        s.latency_uncorrected_ms.is_none(),
        "closed model: one latency"
    );
    assert_eq!(r.model, "closed");
    assert_eq!(
        (r.cleanup.created, r.cleanup.deleted, r.cleanup.failed),
        (300, 300, 0)
    );
    assert_eq!(mock.run_job_calls(), 300);
    assert!(mock.jobs().is_empty(), "every job of the run is deleted");
    assert_eq!(r.errors.requests, 300);
    assert!(
        r.server
            .values()
            .all(|s| s.error.is_none() || s.samples == 0)
    );
}

#[test]
fn submit_open_reports_corrected_and_uncorrected_latency() {
    let r = run_checked(&config(submit(Load::Rate(5000.0), 200), vec![]));
    assert!(r.parameters.embedded_mock);
    let s = &r.operations["submit"];
    assert_eq!(s.count, 200);
    let corrected = stats::decode(&s.histogram).unwrap();
    let uncorrected = stats::decode(s.histogram_uncorrected.as_ref().unwrap()).unwrap();
    assert_eq!((corrected.len(), uncorrected.len()), (200, 200));
    // Each sample's corrected latency is at least its uncorrected one.
    assert!(corrected.max() >= uncorrected.max());
    assert!(s.latency_uncorrected_ms.is_some());
    assert!(r.generator.schedule_lag_ms.is_some());
    assert_eq!(r.model, "open");
}

#[test]
fn lifecycle_follows_log_streams_to_the_final_state() {
    let job = JobSpec {
        command: "echo".into(),
        args: vec!["hello".into()],
        ..JobSpec::true_job()
    };
    let p = plan(
        "lifecycle",
        Action::Lifecycle(Follow::Logs),
        job,
        Load::Concurrency(4),
        30,
    );
    let r = run_checked(&config(p, vec![]));
    assert_eq!(r.operations["submit"].count, 30);
    assert_eq!(r.operations["final"].ok, 30);
    assert_eq!(r.operations["running"].ok, 30);
    assert_eq!(r.final_status.get("COMPLETED"), Some(&30));
    let logs = &r.operations["logs"];
    assert_eq!((logs.count, logs.bytes), (30, Some(30 * 6)));
    assert!(r.operations["status"].count >= 30);
    assert_eq!(r.cleanup.deleted, 30);
}

#[test]
fn lifecycle_can_poll_the_status_instead() {
    let job = JobSpec {
        command: "sleep".into(),
        args: vec!["0.02".into()],
        ..JobSpec::true_job()
    };
    let p = plan(
        "lifecycle",
        Action::Lifecycle(Follow::Poll(Duration::from_millis(5))),
        job,
        Load::Concurrency(5),
        10,
    );
    let r = run_checked(&config(p, vec![]));
    assert_eq!(r.final_status.get("COMPLETED"), Some(&10));
    assert!(!r.operations.contains_key("logs"));
    assert!(r.operations["status"].count >= 10);
    assert_eq!(r.operations["final"].count, 10);
}

#[test]
fn logs_read_every_byte_of_every_stream() {
    let bytes = 1 << 20;
    let p = plan(
        "logs",
        Action::LogStream { bytes },
        JobSpec::zeros(bytes),
        Load::Concurrency(3),
        6,
    );
    let r = run_checked(&config(p, vec![]));
    let logs = &r.operations["logs"];
    assert_eq!((logs.count, logs.errors), (6, 0));
    assert_eq!(logs.bytes, Some(6 * bytes));
    assert_eq!(logs.streams, Some(6));
    assert!(logs.chunks.unwrap() >= 6);
    assert!(logs.bytes_per_s.unwrap() > 0.0);
    assert_eq!(
        stats::decode(logs.ttfb_histogram.as_ref().unwrap())
            .unwrap()
            .len(),
        6
    );
    assert_eq!(r.operations["submit"].count, 6);
    assert_eq!(r.parameters.log_bytes, Some(bytes));
}

#[test]
fn a_mix_plan_runs_every_operation_on_jobs_in_the_right_state() {
    let yaml = "
job: { command: sleep, args: ['0.2'] }
operations: { RunJob: 30, GetJobStatus: 20, ListJobs: 10, GetJobLogs: 20, StopJob: 10, DeleteJob: 10 }
stages: [ { name: busy, concurrency: 6 } ]
";
    let p = Plan::from_yaml(yaml, "inline", Some(500)).unwrap();
    let r = run_checked(&config(p, vec![]));
    for op in ["submit", "status", "list", "logs", "stop", "delete"] {
        assert!(r.operations[op].count > 0, "{op} ran");
    }
    // Every action is one RPC, or a draw skipped (no job in the state its
    // operation needs), or a StopJob that met a job ended meanwhile.
    let total: u64 = r
        .operations
        .values()
        .map(|o| o.count + o.skipped + o.raced)
        .sum();
    assert_eq!(total, 500);
    // StopJob only on running jobs, DeleteJob only on finished ones: the
    // node refuses nothing.
    assert_eq!(r.errors.errors, 0, "{:#?}", r.operations);
    assert_eq!(r.stages.len(), 1);
    assert_eq!(r.stages[0].name, "busy");
    let c = r.cleanup;
    assert_eq!(c.created, c.deleted + c.already_gone + c.failed);
    assert_eq!(c.failed, 0);
    assert_eq!(c.already_gone, r.operations["delete"].ok);
}

/// The documented mix (fixtures/load/mix.yaml: jobs of `sleep 2`, rate and
/// concurrency stages) on a short timeline: no errors, and the draws that
/// found no job in the right state are counted apart.
#[test]
fn the_documented_mix_reports_no_errors_and_counts_skipped_draws() {
    let text = std::fs::read_to_string(fixture("load/mix.yaml")).unwrap();
    let mut p = Plan::from_yaml(&text, "mix.yaml", None).unwrap();
    for (stage, secs) in p.stages.iter_mut().zip([1, 3, 2]) {
        stage.duration = Some(Duration::from_secs(secs));
        stage.ramp = stage.ramp.min(Duration::from_secs(1));
    }
    let r = run_checked(&config(p, vec![]));
    assert_eq!(r.errors.errors, 0, "{:#?}", r.operations);
    assert!(r.operations["stop"].ok > 0 && r.operations["status"].ok > 0);
    assert_eq!(r.cleanup.failed, 0);
}

/// A draw with no job in the state its operation needs is not sent: here no
/// job ever finishes, so every DeleteJob draw is skipped, and says so.
#[test]
fn draws_without_a_job_in_the_right_state_are_skipped_not_sent() {
    let yaml = "
job: { command: sleep, args: ['30'] }
operations: { RunJob: 1, DeleteJob: 3 }
stages: [ { concurrency: 2 } ]
";
    let p = Plan::from_yaml(yaml, "inline", Some(200)).unwrap();
    let mock = Mock::start();
    let r = run_checked(&config(p, vec![mock.target()]));
    let d = &r.operations["delete"];
    assert_eq!((d.count, d.errors), (0, 0));
    assert_eq!(d.skipped + r.operations["submit"].count, 200);
    assert!(d.skipped > 100, "{}", d.skipped);
    // Only the cleanup's DeleteJob calls reached the node: one refused per
    // running job (stopped, then deleted) and one accepted per job.
    let calls = mock.running().received_calls();
    let deletes = |code: tonic::Code| {
        calls
            .iter()
            .filter(|c| c.method.ends_with("/DeleteJob") && c.code == code)
            .count() as u64
    };
    assert_eq!(deletes(tonic::Code::Ok), r.cleanup.deleted);
    assert_eq!(deletes(tonic::Code::FailedPrecondition), r.cleanup.stopped);
    let table = joblet_loadgen::report::table::render(&r);
    assert!(table.contains("skipped draws (not sent"), "{table}");
    assert!(table.contains("delete "), "{table}");
}

#[test]
fn the_example_plans_parse() {
    let dir = fixture("load");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).unwrap();
            let p = Plan::from_yaml(&text, &path.display().to_string(), None)
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(p.total_duration().is_some());
            n += 1;
        }
    }
    assert!(n >= 2, "examples in {}", dir.display());
}

#[test]
fn weighted_targets_share_the_load_by_weight() {
    let (a, b) = (Mock::start(), Mock::start());
    let targets = vec![
        TargetSpec {
            weight: 3,
            ..a.target()
        },
        b.target(),
    ];
    let mut c = config(submit(Load::Concurrency(4), 400), targets);
    c.threads = Some(1);
    let r = run_checked(&c);
    let count = |m: &Mock| r.targets[&m.running().addr().to_string()].operations["submit"].count;
    assert_eq!((count(&a), count(&b)), (300, 100));
    assert_eq!((a.run_job_calls(), b.run_job_calls()), (300, 100));
    assert!(a.jobs().is_empty() && b.jobs().is_empty());
}

#[test]
fn mutual_tls_targets_work_for_submit_and_logs() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start_with(MockServer::builder().tls(TlsSetup::Generate(dir.path().into())));
    let target = mock.running().tls_target(Role::Admin).unwrap();
    let spec = TargetSpec::new(target);
    let r = run_checked(&config(
        submit(Load::Concurrency(4), 40),
        vec![spec.clone()],
    ));
    assert_eq!(r.operations["submit"].ok, 40);
    assert!(r.parameters.targets[0].tls);
    let p = plan(
        "logs",
        Action::LogStream { bytes: 4096 },
        JobSpec::zeros(4096),
        Load::Concurrency(2),
        4,
    );
    let r = run_checked(&config(p, vec![spec]));
    assert_eq!(r.operations["logs"].bytes, Some(4 * 4096));
    assert!(mock.jobs().is_empty());
}

#[test]
fn a_viewer_certificate_gets_permission_denied_by_code() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start_with(MockServer::builder().tls(TlsSetup::Generate(dir.path().into())));
    let target = mock.running().tls_target(Role::Viewer).unwrap();
    let r = run_checked(&config(
        submit(Load::Concurrency(2), 10),
        vec![TargetSpec::new(target)],
    ));
    let s = &r.operations["submit"];
    assert_eq!(s.errors_by_code.get("PERMISSION_DENIED"), Some(&10));
    assert_eq!(r.errors.ratio, 1.0);
    assert_eq!(r.cleanup.created, 0);
}

#[test]
fn distributed_workers_split_the_requests() {
    let mock = Mock::start();
    let run = |index| {
        let mut c: RunConfig = config(submit(Load::Concurrency(3), 101), vec![mock.target()]);
        c.worker = WorkerShare { index, count: 2 };
        run_checked(&c)
    };
    let (w0, w1) = (run(0), run(1));
    assert_eq!(w0.operations["submit"].count, 51);
    assert_eq!(w1.operations["submit"].count, 50);
    let merged = joblet_loadgen::merge::merge(&[w0, w1]).unwrap();
    assert_eq!(merged.operations["submit"].count, 101);
    assert_eq!(
        stats::decode(&merged.operations["submit"].histogram)
            .unwrap()
            .len(),
        101
    );
    assert_eq!(merged.workers.len(), 2);
    crate::support::assert_valid(&merged);
}
