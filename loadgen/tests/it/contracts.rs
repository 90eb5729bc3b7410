//! The contracts (issue #17 items 1 and 5): every scenario against a node of
//! v2.5.9 alone with v2 messages, the contract detected (or given) in every
//! report, `--job-timeout` as RunJob's `timeout`, the `metrics` scenario's
//! telemetry figures, and what a v1 node refuses.

use std::time::Duration;

use joblet_loadgen::merge::merge;
use joblet_loadgen::plan::{Action, Follow, JobSpec, Load, Plan};
use joblet_loadgen::report::Report;
use joblet_loadgen::run::{self, RunError, Stop};
use joblet_loadgen::transport::Rpc;
use joblet_loadgen::{stats, threshold};
use joblet_mock::{MockConfig, MockServer};
use joblet_testkit::contract::Api;
use joblet_testkit::pb;
use prost::Message;

use crate::support::{Mock, assert_valid, config, plan, run_checked};

/// A mock serving exactly `api`, sampling job metrics every 100 ms.
fn node(api: Api) -> Mock {
    Mock::start_with(MockServer::builder().config(MockConfig {
        api,
        metrics_interval: Duration::from_millis(100),
        ..Default::default()
    }))
}

fn assert_v2(r: &Report) {
    let c = r.contract.as_ref().expect("the report names the contract");
    assert_eq!((c.detected.as_str(), c.wire.as_str()), ("v2.5.9", "v2"));
    assert!(c.how.contains("proto tag v2.5.9"), "{}", c.how);
    assert_eq!(r.errors.errors, 0, "{:#?}", r.operations);
}

/// The RunJob requests the node received, read as v2 messages.
fn v2_run_jobs(m: &Mock) -> Vec<pb::v2::RunJobRequest> {
    m.running()
        .received_calls()
        .iter()
        .filter(|c| c.method.ends_with("/RunJob"))
        .map(|c| pb::v2::RunJobRequest::decode(c.request.clone()).unwrap())
        .collect()
}

#[test]
fn submit_logs_lifecycle_and_mix_run_on_a_v2_only_node_contract_1() {
    let m = node(Api::V2);
    let mut job = JobSpec::true_job();
    job.timeout = "30s".into();
    let submit = run_checked(&config(
        plan(
            "submit",
            Action::Call(Rpc::RunJob),
            job,
            Load::Concurrency(4),
            40,
        ),
        vec![m.target()],
    ));
    assert_v2(&submit);
    assert_eq!(submit.operations["submit"].ok, 40);
    let sent = v2_run_jobs(&m);
    assert_eq!(sent.len(), 40);
    assert!(
        sent.iter()
            .all(|r| r.command == "true" && r.timeout == "30s")
    );

    let logs = run_checked(&config(
        plan(
            "logs",
            Action::LogStream { bytes: 100_000 },
            JobSpec::zeros(100_000),
            Load::Concurrency(2),
            4,
        ),
        vec![m.target()],
    ));
    assert_v2(&logs);
    assert_eq!(logs.operations["logs"].bytes, Some(400_000));

    let job = JobSpec {
        command: "sleep".into(),
        args: vec!["0.05".into()],
        ..Default::default()
    };
    let lifecycle = run_checked(&config(
        plan(
            "lifecycle",
            Action::Lifecycle(Follow::Logs),
            job,
            Load::Concurrency(4),
            8,
        ),
        vec![m.target()],
    ));
    assert_v2(&lifecycle);
    assert_eq!(lifecycle.final_status.get("COMPLETED"), Some(&8));

    let yaml = "job: { command: sleep, args: [\"0.2\"] }\noperations: { RunJob: 4, GetJobStatus: 3, ListJobs: 1, GetJobLogs: 1, StopJob: 1, DeleteJob: 1, StreamJobMetrics: 1 }\nstages: [ { concurrency: 4 } ]\n";
    let mix = run_checked(&config(
        Plan::from_yaml(yaml, "v2-mix.yaml", Some(150)).unwrap(),
        vec![m.target()],
    ));
    assert_v2(&mix);
    let total: u64 = mix
        .operations
        .values()
        .map(|o| o.count + o.skipped + o.raced)
        .sum();
    assert_eq!(total, 150);
    assert!(mix.operations["metrics"].count > 0, "{:#?}", mix.operations);
    // What v2 lacks was never called: no workflow, no runtime install.
    let calls = m.running().received_calls();
    assert!(
        calls
            .iter()
            .all(|c| !c.method.contains("Workflow") && !c.method.contains("InstallRuntime")),
        "{:?}",
        calls
            .iter()
            .map(|c| c.method.to_string())
            .collect::<Vec<_>>()
    );
    assert!(m.jobs().is_empty(), "the runs deleted their jobs");
}

#[test]
fn a_job_timeout_ends_jobs_with_timeout_job_timeout_1_job_timeout_3() {
    let m = node(Api::V2);
    let job = JobSpec {
        command: "sleep".into(),
        args: vec!["5".into()],
        timeout: "200ms".into(),
        ..Default::default()
    };
    let r = run_checked(&config(
        plan(
            "lifecycle",
            Action::Lifecycle(Follow::Poll(Duration::from_millis(20))),
            job,
            Load::Concurrency(3),
            3,
        ),
        vec![m.target()],
    ));
    assert_v2(&r);
    assert_eq!(
        r.final_status.get("TIMEOUT"),
        Some(&3),
        "{:?}",
        r.final_status
    );
    assert!(r.operations["final"].latency_ms.max < 4000.0);
}

fn metrics_plan(jobs: u32, followers: u32, telematics: bool, length: Duration) -> Plan {
    Plan::single(
        "metrics",
        Action::Telemetry {
            followers,
            telematics,
        },
        JobSpec::telemetry(Duration::from_secs(30)),
        Load::Concurrency(jobs),
        Some(length),
        None,
    )
    .unwrap()
}

#[test]
fn the_metrics_scenario_measures_the_telemetry_streams_job_metrics_2_job_telem_3() {
    let m = node(Api::V2);
    let secs = 2.0;
    let r = run_checked(&config(
        metrics_plan(2, 3, true, Duration::from_secs_f64(secs)),
        vec![m.target()],
    ));
    assert_v2(&r);
    assert_eq!(r.scenario, "metrics");
    assert_eq!(
        r.operations["submit"].ok, 2,
        "two jobs, each followed to the end of the load"
    );
    for name in ["metrics", "telematics"] {
        let o = &r.operations[name];
        assert_eq!((o.ok, o.errors), (6, 0), "{name}: 2 jobs x 3 followers");
        assert_eq!(o.streams, Some(6), "{name}: every follower got events");
        let events = o.chunks.unwrap();
        let history = o.history_events.unwrap();
        assert!(
            events > history,
            "{name}: live events arrived ({events}, {history} history)"
        );
        let delay = o.event_delay_ms.unwrap();
        assert!(
            delay.max > 0.0 && delay.p50 < 500.0,
            "{name}: delay {delay:?}"
        );
        let setup = o.ttfb_ms.unwrap();
        assert!(
            setup.p50 > 0.0 && setup.p50 < 1000.0,
            "{name}: set-up {setup:?}"
        );
        // Every follower read until the load ended, about `secs`.
        assert!(
            o.latency_ms.min > secs * 1000.0 * 0.8,
            "{name}: {:?}",
            o.latency_ms
        );
        let h = stats::decode(o.event_delay_histogram.as_ref().unwrap()).unwrap();
        assert_eq!(
            h.len(),
            events - history,
            "{name}: every live event is timed"
        );
    }
    // A sample every 100 ms per job: about 10 events/s per follower.
    let per_follower = r.operations["metrics"].chunks_per_s.unwrap() / 6.0;
    assert!(
        (5.0..=15.0).contains(&per_follower),
        "{per_follower} events/s per follower"
    );
    // The loop starts `sleep` and `/bin/true` every 100 ms: exec events.
    assert!(r.operations["telematics"].chunks_per_s.unwrap() / 6.0 > 10.0);
    assert_eq!(r.parameters.followers, Some(3));
    assert_eq!(
        (r.cleanup.created, r.cleanup.deleted, r.cleanup.stopped),
        (2, 2, 2)
    );
    assert!(m.jobs().is_empty(), "the run stopped and deleted its jobs");
    let rules: Vec<_> = [
        "metrics.delay_p99<2s",
        "telematics.events>1",
        "metrics.ttfb_p50<1s",
    ]
    .iter()
    .map(|t| threshold::parse(t).unwrap())
    .collect();
    let verdicts = threshold::evaluate(&rules, &r);
    assert!(verdicts.iter().all(|v| v.pass), "{verdicts:#?}");
}

#[test]
fn metrics_reports_merge_exactly() {
    let m = node(Api::V2);
    let runs: Vec<Report> = (0..2)
        .map(|_| {
            run_checked(&config(
                metrics_plan(1, 2, false, Duration::from_millis(800)),
                vec![m.target()],
            ))
        })
        .collect();
    let merged = merge(&runs).unwrap();
    assert_valid(&merged);
    let o = &merged.operations["metrics"];
    let sum = |f: fn(&Report) -> u64| runs.iter().map(f).sum::<u64>();
    assert_eq!(
        o.chunks,
        Some(sum(|r| r.operations["metrics"].chunks.unwrap()))
    );
    assert_eq!(
        o.history_events,
        Some(sum(|r| r.operations["metrics"].history_events.unwrap()))
    );
    let h = stats::decode(o.event_delay_histogram.as_ref().unwrap()).unwrap();
    assert_eq!(h.len(), o.chunks.unwrap() - o.history_events.unwrap());
    assert_eq!(merged.contract, runs[0].contract);
}

#[test]
fn a_v1_node_refuses_what_only_v2_has_and_gets_v1_messages_contract_1() {
    let m = node(Api::V1);
    let err = run::run(
        &config(
            metrics_plan(1, 1, false, Duration::from_secs(1)),
            vec![m.target()],
        ),
        &Stop::new(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, RunError::Config(e) if e.contains("needs contract v2.5.9") && e.contains("v1.0.6")),
        "{err}"
    );
    let mut job = JobSpec::true_job();
    job.timeout = "10s".into();
    let timed = plan(
        "submit",
        Action::Call(Rpc::RunJob),
        job,
        Load::Concurrency(1),
        1,
    );
    let err = run::run(&config(timed, vec![m.target()]), &Stop::new()).unwrap_err();
    assert!(
        matches!(&err, RunError::Config(e) if e.contains("--job-timeout")),
        "{err}"
    );
    assert_eq!(m.run_job_calls(), 0, "nothing was sent");
    let mut job = JobSpec::true_job();
    job.name = "named".into();
    let r = run_checked(&config(
        plan(
            "submit",
            Action::Call(Rpc::RunJob),
            job,
            Load::Concurrency(2),
            10,
        ),
        vec![m.target()],
    ));
    let c = r.contract.unwrap();
    assert_eq!((c.detected.as_str(), c.wire.as_str()), ("v1.0.6", "v1"));
    assert_eq!(r.errors.errors, 0);
    let names: Vec<String> = m
        .running()
        .received_calls()
        .iter()
        .filter(|c| c.method.ends_with("/RunJob"))
        .map(|c| pb::RunJobRequest::decode(c.request.clone()).unwrap().name)
        .collect();
    assert_eq!(
        names,
        vec!["named".to_owned(); 10],
        "v1 messages carry the name"
    );
}

#[test]
fn a_contract_given_is_used_and_reported_as_given() {
    let m = node(Api::V2);
    let mut c = config(
        plan(
            "submit",
            Action::Call(Rpc::RunJob),
            JobSpec::true_job(),
            Load::Concurrency(2),
            10,
        ),
        vec![m.target()],
    );
    c.contract = Some(Api::V1);
    // The shared methods have the same paths: a v2 node answers v1 RunJobs.
    let r = run_checked(&c);
    let k = r.contract.as_ref().unwrap();
    assert_eq!((k.detected.as_str(), k.wire.as_str()), ("v1.0.6", "v1"));
    assert!(k.how.contains("given by --contract"), "{}", k.how);
    assert_eq!(r.errors.errors, 0);
    // What needs v2 is refused when v1 is given, whatever the node speaks.
    let mut c = config(
        metrics_plan(1, 1, false, Duration::from_secs(1)),
        vec![m.target()],
    );
    c.contract = Some(Api::V1);
    assert!(matches!(
        run::run(&c, &Stop::new()),
        Err(RunError::Config(_))
    ));
    assert_eq!(m.run_job_calls(), 10);
}

#[test]
fn a_node_of_both_gets_v1_messages_unless_the_run_needs_v2() {
    let m = node(Api::Both);
    let r = run_checked(&config(
        plan(
            "submit",
            Action::Call(Rpc::RunJob),
            JobSpec::true_job(),
            Load::Concurrency(1),
            3,
        ),
        vec![m.target()],
    ));
    let c = r.contract.unwrap();
    assert_eq!((c.detected.as_str(), c.wire.as_str()), ("both", "v1"));
    let r = run_checked(&config(
        metrics_plan(1, 1, false, Duration::from_millis(500)),
        vec![m.target()],
    ));
    let c = r.contract.unwrap();
    assert_eq!((c.detected.as_str(), c.wire.as_str()), ("both", "v2"));
    assert_eq!(r.errors.errors, 0);
}

#[test]
fn the_embedded_mock_serves_the_contract_asked_for() {
    let mut c = config(
        metrics_plan(1, 1, false, Duration::from_millis(600)),
        vec![],
    );
    c.embedded_api = Api::V2;
    let r = run_checked(&c);
    assert_v2(&r);
    assert!(r.parameters.embedded_mock);
    assert!(r.operations["metrics"].chunks.unwrap() > 1);
}

const BIN: &str = env!("CARGO_BIN_EXE_joblet-loadgen");

fn loadgen(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = std::process::Command::new(BIN);
    c.args(args)
        .env_remove("JOBLET_HOST")
        .env_remove("JOBLET_NODE")
        .env_remove("JOBLET_CONTRACT")
        .env_remove("JOB_COMPLETION_INDEX");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("the binary runs")
}

fn text(o: &std::process::Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn the_metrics_command_writes_valid_reports_that_open_with_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let (json, html) = (dir.path().join("m.json"), dir.path().join("m.html"));
    let o = loadgen(
        &[
            "metrics",
            "--embedded-api",
            "v2",
            "--jobs",
            "1",
            "--followers",
            "2",
            "--telematics",
            "--duration",
            "1s",
            "--progress",
            "off",
            "--json",
            json.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
            "--threshold",
            "metrics.events>1",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("contract: v2.5.9 (from server_version proto tag v2.5.9"),
        "{out}"
    );
    assert!(
        out.contains("telemetry") && out.contains("telematics"),
        "{out}"
    );
    let v = loadgen(&["validate-report", json.to_str().unwrap()], &[]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Contract: <b>v2.5.9</b>") && page.contains("events/s"));
}

#[test]
fn contract_flags_and_job_timeouts_are_checked_with_clear_errors() {
    // JOBLET_CONTRACT gives the contract; a node of both answers v2.
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("s.json");
    let o = loadgen(
        &[
            "submit",
            "--requests",
            "5",
            "--progress",
            "off",
            "-q",
            "--json",
            json.to_str().unwrap(),
        ],
        &[("JOBLET_CONTRACT", "v2")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r: Report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let c = r.contract.unwrap();
    assert_eq!(
        (c.wire.as_str(), c.how.as_str()),
        ("v2", "given by --contract (JOBLET_CONTRACT)")
    );
    for (args, want) in [
        (
            vec!["metrics", "--contract", "v1", "--duration", "1s"],
            "needs contract v2.5.9",
        ),
        (
            vec!["submit", "--embedded-api", "v1", "--job-timeout", "5s"],
            "--job-timeout",
        ),
        (
            vec!["submit", "--job-timeout", "5"],
            "a number without its unit",
        ),
        (vec!["submit", "--job-timeout=-5s"], "without a sign"),
        (
            vec!["submit", "--embedded-api", "v2", "--job-name", "n"],
            "--job-name",
        ),
        (vec!["submit", "--contract", "v3"], "--contract"),
        (vec!["metrics", "--followers", "0"], "--followers"),
        (vec!["metrics", "--jobs", "0"], "--jobs"),
    ] {
        let mut full = args.clone();
        full.extend(["--requests", "1", "--progress", "off"]);
        let o = loadgen(&full, &[]);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(want),
            "{args:?}: {}",
            text(&o)
        );
    }
}

/// The documented v2 mix (fixtures/load/v2-mix.yaml: a RunJob timeout and the
/// two telemetry streams among the operations) on a v2-only node: no error;
/// a v1 node refuses it before any load.
#[test]
fn the_documented_v2_mix_runs_on_a_v2_node_with_no_error_job_metrics_2() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/load/v2-mix.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let mut p = Plan::from_yaml(&text, "v2-mix.yaml", None).unwrap();
    assert_eq!(p.job.timeout, "30s");
    for stage in &mut p.stages {
        stage.duration = Some(Duration::from_secs(1));
    }
    let m = node(Api::V2);
    let r = run_checked(&config(p.clone(), vec![m.target()]));
    assert_v2(&r);
    for op in ["metrics", "telematics", "stop", "status"] {
        assert!(r.operations[op].ok > 0, "{op}: {:#?}", r.operations[op]);
    }
    assert!(v2_run_jobs(&m).iter().all(|j| j.timeout == "30s"));
    assert_eq!(r.cleanup.failed, 0);
    let v1 = node(Api::V1);
    let err = run::run(&config(p, vec![v1.target()]), &Stop::new()).unwrap_err();
    assert!(
        matches!(&err, RunError::Config(e) if e.contains("needs contract v2.5.9")),
        "{err}"
    );
}

#[test]
fn a_capacity_search_names_the_contract_too() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("c.json");
    let o = loadgen(
        &[
            "capacity",
            "--slo",
            "submit.p99<1s",
            "--embedded-api",
            "v2",
            "--job-timeout",
            "1m",
            "--start-rate",
            "50",
            "--max-rate",
            "100",
            "--step-duration",
            "300ms",
            "--warmup",
            "100ms",
            "--confirm",
            "1",
            "--progress",
            "off",
            "--json",
            json.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("contract: v2.5.9"),
        "{}",
        text(&o)
    );
    let v = loadgen(&["validate-report", json.to_str().unwrap()], &[]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(r["contract"]["wire"], "v2", "{}", r["contract"]);
    assert_eq!(r["parameters"]["job"]["timeout"], "1m");
}
