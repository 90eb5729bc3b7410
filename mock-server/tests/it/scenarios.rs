//! Scenario lifecycles (`lifecycle`, `fail`, `timeout`, `resources`): a job
//! INITIALIZING then RUNNING, seeded failures, timeouts and the monitoring
//! figures a scenario sets. Times are the session clock's (virtual or manual),
//! so the seconds of a stage pass without waiting.

use std::path::Path;
use std::time::Duration;

use chrono::DateTime;
use joblet_mock::{ClockMode, MockConfig, MockServer, RunningMock};
use joblet_mock::{Scenario, parse_scenarios};
use joblet_testkit::pb;

use crate::support::*;

const MIB: i64 = 1024 * 1024;

fn secs(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap_or_else(|e| panic!("{rfc3339:?}: {e}"))
        .timestamp()
}

fn scenarios(yaml: &str) -> Vec<Scenario> {
    parse_scenarios(yaml, Path::new("it.yaml")).expect("valid scenarios")
}

/// The scenarios of `fixtures/scenarios/lifecycle.yaml`.
fn lifecycle_fixture() -> Vec<Scenario> {
    let text = include_str!("../../../fixtures/scenarios/lifecycle.yaml");
    parse_scenarios(text, Path::new("lifecycle.yaml")).expect("the fixture loads")
}

async fn start_mock(clock: ClockMode, seed: Option<u64>, scenarios: Vec<Scenario>) -> RunningMock {
    let config = MockConfig {
        clock,
        seed,
        scenarios,
        ..MockConfig::default()
    };
    start_with(MockServer::builder().config(config)).await
}

const TRAIN: &str = r#"
scenarios:
  - name: train
    match: { command: python, args: ["train.py"] }
    lifecycle:
      - { status: INITIALIZING, for: 2s }
    steps:
      - print: "epoch 1/2"
      - sleep: 2s
      - print: "epoch 2/2"
      - sleep: 1s
    resources: { cpu_percent: 85.0, memory_mb: 512 }
"#;

/// A job whose scenario has an INITIALIZING stage is created INITIALIZING,
/// runs after the stage's 2 s and completes after its 3 s of steps: 5 s of
/// the (virtual) clock from submission to end.
#[tokio::test]
async fn initializing_stage_then_running_then_completed() {
    let mock = start_mock(ClockMode::Virtual, None, scenarios(TRAIN)).await;
    let mut jobs = jobs(&mock).await;
    let res = run(&mut jobs, cmd("python", &["train.py"])).await;
    assert_eq!(res.status, "INITIALIZING", "{res:?}");
    let id = res.job_uuid;
    assert_eq!(logs_text(&mut jobs, &id).await, "epoch 1/2\nepoch 2/2\n");
    let done = wait_final(&jobs, &id).await;
    assert_eq!(done.status, "COMPLETED", "{done:?}");
    assert_eq!(done.exit_code, 0);
    assert_eq!(secs(&done.end_time) - secs(&done.start_time), 5, "{done:?}");
}

/// Under the manual clock each stage can be watched: INITIALIZING (not in the
/// process list), RUNNING with the scenario's CPU and memory in monitoring,
/// then COMPLETED.
#[tokio::test]
async fn stages_can_be_watched_and_monitoring_reports_scenario_resources() {
    let mock = start_mock(ClockMode::Manual, Some(5), scenarios(TRAIN)).await;
    let mut jobs = jobs(&mock).await;
    let mut mon = monitoring(&mock).await;
    let id = run(&mut jobs, cmd("python", &["train.py"])).await.job_uuid;
    let processes = async |mon: &mut Monitoring| {
        mon.get_system_status(pb::EmptyRequest {})
            .await
            .expect("GetSystemStatus")
            .into_inner()
            .processes
            .expect("process metrics")
    };
    let is_train = |p: &&pb::ProcessInfo| p.command == "python train.py";

    assert_eq!(status(&mut jobs, &id).await.status, "INITIALIZING");
    assert!(
        !processes(&mut mon)
            .await
            .top_by_cpu
            .iter()
            .any(|p| is_train(&p))
    );
    mock.advance_clock("", Duration::from_millis(1500))
        .await
        .unwrap();
    assert_eq!(status(&mut jobs, &id).await.status, "INITIALIZING");

    mock.advance_clock("", Duration::from_millis(600))
        .await
        .unwrap();
    wait_status(&jobs, &id, "RUNNING").await;
    let p = processes(&mut mon).await;
    for list in [&p.top_by_cpu, &p.top_by_memory] {
        let job = list.iter().find(is_train).expect("the job's process");
        assert_eq!(job.cpu_percent, 85.0, "{job:?}");
        assert_eq!(job.memory_bytes, 512 * MIB, "{job:?}");
        assert_eq!(job.status, "R");
    }
    // The busiest process is the job.
    assert_eq!(p.top_by_cpu[0].command, "python train.py");

    mock.advance_clock("", Duration::from_secs(4))
        .await
        .unwrap();
    let done = wait_final(&jobs, &id).await;
    assert_eq!(done.status, "COMPLETED", "{done:?}");
    assert!(
        !processes(&mut mon)
            .await
            .top_by_cpu
            .iter()
            .any(|p| is_train(&p))
    );
}

/// StopJob during a stage stops the job (STOPPED, exit -1); it never runs.
#[tokio::test]
async fn stopping_an_initializing_job_stops_it() {
    let mock = start_mock(ClockMode::Manual, None, scenarios(TRAIN)).await;
    let mut jobs = jobs(&mock).await;
    let id = run(&mut jobs, cmd("python", &["train.py"])).await.job_uuid;
    stop_ok(&mut jobs, &id).await;
    let st = status(&mut jobs, &id).await;
    assert_eq!(
        (st.status.as_str(), st.exit_code),
        ("STOPPED", -1),
        "{st:?}"
    );
    mock.advance_clock("", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(status(&mut jobs, &id).await.status, "STOPPED");
    assert_eq!(logs_text(&mut jobs, &id).await, "");
}

/// A scheduled job with stages: SCHEDULED, then INITIALIZING when due, then RUNNING.
#[tokio::test]
async fn a_scheduled_job_initializes_when_due() {
    let mock = start_mock(ClockMode::Virtual, None, scenarios(TRAIN)).await;
    let mut jobs = jobs(&mock).await;
    let res = run(&mut jobs, scheduled(cmd("python", &["train.py"]), 60)).await;
    assert_eq!(res.status, "SCHEDULED");
    let done = wait_final(&jobs, &res.job_uuid).await;
    assert_eq!(done.status, "COMPLETED", "{done:?}");
    assert_eq!(
        secs(&done.end_time) - secs(&done.scheduled_time),
        5,
        "{done:?}"
    );
}

/// A failing stage ends the job FAILED at the stage's end with its exit code
/// and message; a timeout ends steps still playing FAILED with exit 124.
#[tokio::test]
async fn setup_failures_and_timeouts() {
    let yaml = r#"
scenarios:
  - match: { command: ./setup-fails }
    lifecycle:
      - status: INITIALIZING
        for: 3s
        fail: { probability: 1, exit: -1, message: "joblet: cannot mount volume data" }
    steps: [ { print: "never" } ]
  - match: { command: ./hangs }
    steps: [ { print: "working" }, { sleep: 1h }, { print: "never" } ]
    timeout: 10s
"#;
    let mock = start_mock(ClockMode::Virtual, Some(1), scenarios(yaml)).await;
    let mut jobs = jobs(&mock).await;

    let res = run(&mut jobs, cmd("./setup-fails", &[])).await;
    assert_eq!(res.status, "INITIALIZING");
    assert_eq!(
        logs_text(&mut jobs, &res.job_uuid).await,
        "joblet: cannot mount volume data\n"
    );
    let st = wait_final(&jobs, &res.job_uuid).await;
    assert_eq!((st.status.as_str(), st.exit_code), ("FAILED", -1), "{st:?}");
    assert_eq!(secs(&st.end_time) - secs(&st.start_time), 3, "{st:?}");

    let res = run(&mut jobs, cmd("./hangs", &[])).await;
    assert_eq!(res.status, "RUNNING");
    assert_eq!(
        logs_text(&mut jobs, &res.job_uuid).await,
        "working\njoblet: job timed out after 10s\n"
    );
    let st = wait_final(&jobs, &res.job_uuid).await;
    assert_eq!(
        (st.status.as_str(), st.exit_code),
        ("FAILED", 124),
        "{st:?}"
    );
    assert_eq!(secs(&st.end_time) - secs(&st.start_time), 10, "{st:?}");
}

/// The fixture's flaky `./deploy.sh` (fails with probability 0.3, cut off
/// 1.5 s into its steps): two mocks with the same seed give the same outcomes,
/// job for job; the failures carry the scenario's exit code and message.
#[tokio::test]
async fn seeded_flaky_command_is_reproducible() {
    async fn outcomes(seed: u64) -> Vec<(String, i32, String)> {
        let mock = start_mock(ClockMode::Virtual, Some(seed), lifecycle_fixture()).await;
        let mut jobs = jobs(&mock).await;
        let mut out = Vec::new();
        for _ in 0..16 {
            let res = run(&mut jobs, cmd("./deploy.sh", &["prod"])).await;
            assert_eq!(res.status, "INITIALIZING");
            let log = logs_text(&mut jobs, &res.job_uuid).await;
            let st = wait_final(&jobs, &res.job_uuid).await;
            out.push((st.status, st.exit_code, log));
        }
        out
    }
    let a = outcomes(42).await;
    assert_eq!(a, outcomes(42).await, "same seed, same outcomes");
    let ok = "Building release artifacts\nUploading to production\nDeployed\n";
    let failed = "Building release artifacts\nUploading to production\n\
                  error: upload failed: connection reset by peer\n";
    for (status, code, log) in &a {
        match status.as_str() {
            "COMPLETED" => assert_eq!((*code, log.as_str()), (0, ok)),
            "FAILED" => assert_eq!((*code, log.as_str()), (1, failed)),
            other => panic!("unexpected status {other}"),
        }
    }
    let failures = a.iter().filter(|o| o.0 == "FAILED").count();
    assert!(
        (1..16).contains(&failures),
        "seed 42 should give both outcomes at p=0.3: {failures} of 16 failed"
    );
}

/// The fixture's `curl` prints its bytes and exits 0; its memory figure shows
/// while it runs.
#[tokio::test]
async fn fixture_curl_outputs_bytes() {
    let mock = start_mock(ClockMode::Virtual, None, lifecycle_fixture()).await;
    let mut jobs = jobs(&mock).await;
    let req = cmd("curl", &["-sL", "https://example.com/data.bin"]);
    let (st, log) = run_to_end(&mut jobs, req).await;
    assert_eq!(st.status, "COMPLETED", "{st:?}");
    assert_eq!(log.len(), 65536);
}
