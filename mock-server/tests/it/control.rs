//! The control API (`jobletmock.v1.MockControl`) through a tonic client, the
//! `RunningMock` methods that mirror it, and `joblet-mock ctl` against the
//! real binary.

use std::time::Duration;

use futures::StreamExt;
use joblet_mock::SESSION_HEADER;
use joblet_mock::{ClockMode, MockConfig, MockServer, Role, RunningMock};
use joblet_testkit::control::{self as ctl, mock_control_client::MockControlClient};
use joblet_testkit::pb;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::e2e::{BIN, MockProcess, refused};
use crate::support::*;

type Control = MockControlClient<Channel>;

async fn control(mock: &RunningMock) -> Control {
    MockControlClient::new(channel(&mock.url()).await)
}

fn manual() -> MockConfig {
    MockConfig {
        clock: ClockMode::Manual,
        ..MockConfig::default()
    }
}

fn rules(lines: &[&str]) -> ctl::SetFaultsRequest {
    ctl::SetFaultsRequest {
        rules: lines.iter().map(|r| (*r).to_owned()).collect(),
        ..Default::default()
    }
}

async fn advance(c: &mut Control, duration: &str) -> ctl::ClockResponse {
    c.advance_clock(ctl::AdvanceClockRequest {
        duration: duration.into(),
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("AdvanceClock {duration}: {e:?}"))
    .into_inner()
}

/// The answer of a control call that must succeed.
#[track_caller]
fn ok<T>(r: Result<tonic::Response<T>, Status>) -> T {
    r.expect("the control call succeeds").into_inner()
}

/// ListCalls that must succeed.
async fn list_calls(c: &mut Control, req: ctl::ListCallsRequest) -> ctl::ListCallsResponse {
    c.list_calls(req).await.expect("ListCalls").into_inner()
}

/// Snapshot of the default session: its JSON.
async fn snapshot(c: &mut Control) -> String {
    c.snapshot(ctl::SnapshotRequest::default())
        .await
        .expect("Snapshot")
        .into_inner()
        .json
}

/// Reset of the default session, which must succeed.
async fn reset(c: &mut Control) -> ctl::ResetResponse {
    c.reset(ctl::ResetRequest::default())
        .await
        .expect("Reset")
        .into_inner()
}

/// Restore of `json` into the default session.
async fn restore(c: &mut Control, json: String) -> Result<ctl::RestoreResponse, Status> {
    c.restore(ctl::RestoreRequest {
        json,
        ..Default::default()
    })
    .await
    .map(|r| r.into_inner())
}

/// Reads a log stream until it ends: (chunks received, the error it ended with).
async fn drain(mut stream: tonic::Streaming<pb::DataChunk>) -> (usize, Option<tonic::Status>) {
    let mut chunks = 0;
    let end = within("the log stream to end", async {
        loop {
            match stream.next().await {
                Some(Ok(_)) => chunks += 1,
                Some(Err(status)) => break Some(status),
                None => break None,
            }
        }
    })
    .await;
    (chunks, end)
}

#[tokio::test]
async fn advance_clock_runs_a_scheduled_job() {
    let mock = start_with(MockServer::builder().config(manual())).await;
    let mut c = control(&mock).await;
    let mut jobs = jobs(&mock).await;
    let t0 = ok(c.get_clock(ctl::GetClockRequest::default()).await);
    assert_eq!(t0.mode, "manual");
    assert!(t0.now.ends_with('Z'), "{}", t0.now);
    let job = run(&mut jobs, scheduled(cmd("echo", &["due"]), 120)).await;
    assert_eq!(job.status, "SCHEDULED");
    let t1 = advance(&mut c, "1m").await;
    assert_eq!(t1.now_unix_ms - t0.now_unix_ms, 60_000);
    assert_eq!(t1.pending_timers, 1, "the scheduled job waits");
    assert_eq!(status(&mut jobs, &job.job_uuid).await.status, "SCHEDULED");
    let t2 = ok(c
        .advance_clock(ctl::AdvanceClockRequest {
            millis: 61_000,
            ..Default::default()
        })
        .await);
    assert_eq!(t2.now_unix_ms - t0.now_unix_ms, 121_000);
    let done = wait_final(&jobs, &job.job_uuid).await;
    assert_eq!(done.status, "COMPLETED");
    assert_eq!(logs_text(&mut jobs, &job.job_uuid).await, "due\n");
    // The library mirrors it.
    assert_eq!(mock.clock_now("").unwrap(), t2.now_unix_ms);
}

#[tokio::test]
async fn advance_clock_errors_name_the_field() {
    let mock = start_with(MockServer::builder().config(manual())).await;
    let mut c = control(&mock).await;
    let bad = |duration: &str, millis: i64| ctl::AdvanceClockRequest {
        duration: duration.into(),
        millis,
        ..Default::default()
    };
    for (req, field) in [
        (bad("90", 0), "duration"),
        (bad("1 fortnight", 0), "duration"),
        (bad("", 0), "duration"),
        (bad("1s", 5), "duration"),
        (bad("", -5), "millis"),
    ] {
        let err = c.advance_clock(req).await.unwrap_err();
        assert_code(&err, Code::InvalidArgument, field);
    }
    let err = c
        .advance_clock(ctl::AdvanceClockRequest {
            session: "bad name".into(),
            duration: "1s".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_code(&err, Code::InvalidArgument, SESSION_HEADER);

    let real = start().await;
    let err = control(&real)
        .await
        .advance_clock(bad("1s", 0))
        .await
        .unwrap_err();
    assert_code(&err, Code::FailedPrecondition, "--clock virtual");
}

#[tokio::test]
async fn set_faults_makes_the_third_run_job_fail() {
    let mock = start().await;
    let mut c = control(&mock).await;
    let mut jobs = jobs(&mock).await;
    let set = ok(c
        .set_faults(rules(&["RunJob:fail=UNAVAILABLE:after=2"]))
        .await);
    assert_eq!(set.rules.len(), 1);
    assert!(set.rules[0].contains("after=2"), "{:?}", set.rules);
    run(&mut jobs, cmd("echo", &["1"])).await;
    run(&mut jobs, cmd("echo", &["2"])).await;
    let err = run_err(&mut jobs, cmd("echo", &["3"])).await;
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");

    // ListFaults shows the rule, in both forms; the JSON form sets it again.
    let listed = ok(c.list_faults(ctl::ListFaultsRequest::default()).await);
    assert_eq!(listed.rules, set.rules);
    let again = ok(c
        .set_faults(ctl::SetFaultsRequest {
            rules_json: listed.rules_json.clone(),
            ..Default::default()
        })
        .await);
    assert_eq!(again.rules, set.rules);
    // Counters start afresh with SetFaults: two calls pass again.
    run(&mut jobs, cmd("echo", &["4"])).await;
    // --append adds after the existing rules.
    let appended = ok(c
        .set_faults(ctl::SetFaultsRequest {
            append: true,
            ..rules(&["ListJobs:fail=INTERNAL/boom"])
        })
        .await);
    assert_eq!(appended.rules.len(), 2);
    let err = jobs.list_jobs(pb::EmptyRequest {}).await.unwrap_err();
    assert_code(&err, Code::Internal, "boom");

    let cleared = ok(c.clear_faults(ctl::ClearFaultsRequest::default()).await);
    assert!(cleared.rules.is_empty());
    assert_eq!(cleared.rules_json, "[]");
    run(&mut jobs, cmd("echo", &["5"])).await;
    jobs.list_jobs(pb::EmptyRequest {}).await.unwrap();

    // Bad rules: INVALID_ARGUMENT naming the field, and nothing changes.
    let err = c
        .set_faults(rules(&["RunJob:fail=14", "RunJob:bogus=1"]))
        .await
        .unwrap_err();
    assert_code(&err, Code::InvalidArgument, "rules[1]");
    assert!(err.message().contains("bogus"), "{err:?}");
    let err = c
        .set_faults(ctl::SetFaultsRequest {
            rules_json: "[{\"rpc\": ".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_code(&err, Code::InvalidArgument, "rules_json");
    assert!(mock.faults("").unwrap().is_empty());
}

#[tokio::test]
async fn a_stream_cut_by_a_fault_ends_unavailable_after_n_chunks() {
    let mock = start().await;
    let mut c = control(&mock).await;
    let mut jobs = jobs(&mock).await;
    c.set_faults(rules(&["GetJobLogs:cut_after_messages=3"]))
        .await
        .unwrap();
    // One line at a time, so that the log goes out in many chunks.
    let id = run(
        &mut jobs,
        sh("for i in $(seq 1 40); do echo line $i; sleep 0.01; done"),
    )
    .await
    .job_uuid;
    let (chunks, end) = drain(open_logs(&mut jobs, &id).await).await;
    assert_eq!(chunks, 3);
    let status = end.expect("the cut stream ends with an error status");
    assert_code(&status, Code::Unavailable, "stream cut by fault rule");
    // Without the rule the whole log streams.
    c.clear_faults(ctl::ClearFaultsRequest::default())
        .await
        .unwrap();
    let log = logs_text(&mut jobs, &id).await;
    assert!(log.ends_with("line 40\n"), "{log}");
}

const TRAIN: &str = r#"
scenarios:
  - name: train
    match: { command: "python*", args: ["train.py"] }
    steps:
      - print: "epoch 1"
      - print: "epoch 2"
    exit: 0
"#;

#[tokio::test]
async fn load_scenario_scripts_a_command() {
    let mock = start().await;
    let mut c = control(&mock).await;
    let mut jobs = jobs(&mock).await;
    let r = ok(c
        .load_scenario(ctl::LoadScenarioRequest {
            yaml: TRAIN.into(),
            file_name: "train.yaml".into(),
            ..Default::default()
        })
        .await);
    assert_eq!(
        (r.loaded, r.total, r.names.clone()),
        (1, 1, vec!["train".to_owned()])
    );
    let (st, log) = run_to_end(&mut jobs, cmd("python3", &["train.py"])).await;
    assert_eq!(
        (st.status.as_str(), log.as_str()),
        ("COMPLETED", "epoch 1\nepoch 2\n")
    );

    // A later load takes precedence; `replace` drops the earlier ones.
    let later = TRAIN
        .replace("epoch", "step")
        .replace("name: train", "name: v2");
    let r = ok(c
        .load_scenario(ctl::LoadScenarioRequest {
            yaml: later.clone(),
            ..Default::default()
        })
        .await);
    assert_eq!(r.total, 2);
    let (_, log) = run_to_end(&mut jobs, cmd("python3", &["train.py"])).await;
    assert_eq!(log, "step 1\nstep 2\n");
    let r = ok(c
        .load_scenario(ctl::LoadScenarioRequest {
            yaml: later,
            replace: true,
            ..Default::default()
        })
        .await);
    assert_eq!(r.total, 1);

    // Bad YAML: INVALID_ARGUMENT naming the field, the file and the line.
    let err = c
        .load_scenario(ctl::LoadScenarioRequest {
            yaml: "scenarios:\n  - match: { command: x }\n    bogus: 1\n".into(),
            file_name: "broken.yaml".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_code(&err, Code::InvalidArgument, "broken.yaml");
    assert!(err.message().starts_with("yaml:"), "{err:?}");
    assert!(err.message().contains("line"), "{err:?}");
    assert!(err.message().contains("bogus"), "{err:?}");
    // The library mirrors it.
    let loaded = mock.load_scenario("", TRAIN, false).unwrap();
    assert_eq!((loaded.names.len(), loaded.total), (1, 2));
}

#[tokio::test]
async fn list_calls_filters_and_control_calls_are_not_journaled() {
    let mock = start().await;
    let mut c = control(&mock).await;
    let mut jobs = jobs(&mock).await;
    run(&mut jobs, cmd("echo", &["one"])).await;
    run(&mut jobs, cmd("echo", &["two"])).await;
    jobs.list_jobs(pb::EmptyRequest {}).await.unwrap();
    let _ = run_err(&mut jobs, cmd("", &[])).await;
    c.get_clock(ctl::GetClockRequest::default()).await.unwrap();
    let list = |method: &str, limit: u32| ctl::ListCallsRequest {
        method: method.into(),
        limit,
        ..Default::default()
    };
    let all = list_calls(&mut c, list("", 0)).await;
    assert_eq!(
        all.calls.len(),
        4,
        "control calls are not journaled: {:?}",
        all.calls
    );
    assert_eq!(all.dropped, 0);
    let runs = list_calls(&mut c, list("RunJob", 0)).await;
    assert_eq!(runs.calls.len(), 3);
    let first = &runs.calls[0];
    assert_eq!(first.method, "joblet.JobService/RunJob");
    assert_eq!(
        (first.code.as_str(), first.session.as_str()),
        ("OK", "default")
    );
    let request: serde_json::Value = serde_json::from_str(&first.request_json).unwrap();
    assert_eq!(request["args"], serde_json::json!(["one"]));
    assert_eq!(runs.calls[2].code, "INVALID_ARGUMENT");
    let last = list_calls(&mut c, list("joblet.JobService/*", 1)).await;
    assert_eq!(last.calls.len(), 1);
    assert_eq!(last.calls[0].seq, 4);
    // Another session's calls show with all_sessions only.
    jobs.list_jobs(in_session("other", pb::EmptyRequest {}))
        .await
        .unwrap();
    let everywhere = list_calls(
        &mut c,
        ctl::ListCallsRequest {
            all_sessions: true,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(everywhere.calls.len(), 5);
    assert_eq!(everywhere.calls[4].session, "other");
    let cleared = ok(c.clear_calls(ctl::ClearCallsRequest::default()).await);
    assert_eq!(cleared.cleared, 4);
    assert!(list_calls(&mut c, list("", 0)).await.calls.is_empty());
    // An unknown session has no calls (and is not created by asking).
    let none = list_calls(
        &mut c,
        ctl::ListCallsRequest {
            session: "nobody".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(none.calls.is_empty());
    assert!(mock.node().existing("nobody").is_none());
}

#[tokio::test]
async fn snapshot_reset_restore_round_trip() {
    let mock = start().await;
    let mut c = control(&mock).await;
    let mut jobs = jobs(&mock).await;
    add_network(&mock, "backend", "10.42.0.0/24");
    add_volume(&mock, "cache");
    let mut req = cmd("printf", &["a\\nb\\n"]);
    req.environment = env(&[("STAGE", "ci")]);
    req.secret_environment = env(&[("TOKEN", "s3cret")]);
    let (done, done_log) = run_to_end(&mut jobs, req).await;
    assert_eq!(done.status, "COMPLETED");
    let failed = run_to_end(&mut jobs, sh("echo oops; exit 3")).await.0;
    let running = run_running(&mut jobs, sh("echo started; sleep 600")).await;
    eventually("the running job's first line", || {
        let log = log_buffer(&mock, &running);
        async move { log.snapshot().starts_with(b"started").then_some(()) }
    })
    .await;
    let sched = run(&mut jobs, scheduled(cmd("echo", &["later"]), 3600)).await;

    let json = snapshot(&mut c).await;
    let snap: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(snap["format"], 1);
    assert_eq!(snap["jobs"].as_array().map(Vec::len), Some(4));
    assert_eq!(snap["jobs"][0]["log"]["text"], "a\nb\n");
    assert_eq!(
        snap["jobs"][0]["spec"]["secret_environment"]["TOKEN"],
        "s3cret"
    );

    let reset = reset(&mut c).await;
    assert_eq!(reset.sessions, ["default"]);
    assert!(list_jobs(&mut jobs).await.is_empty());

    let restored = restore(&mut c, json.clone()).await.unwrap();
    assert_eq!(
        (
            restored.jobs,
            restored.stopped,
            restored.networks,
            restored.volumes
        ),
        (4, 2, 1, 1)
    );
    let ids = listed_ids(&mut jobs).await;
    assert_eq!(
        ids,
        [
            done.uuid.clone(),
            failed.uuid.clone(),
            running.clone(),
            sched.job_uuid.clone()
        ]
    );
    // Final jobs come back as they were, their logs readable.
    let back = status(&mut jobs, &done.uuid).await;
    assert_eq!(
        (
            back.status.as_str(),
            back.exit_code,
            back.start_time.as_str(),
            back.end_time.as_str()
        ),
        (
            "COMPLETED",
            0,
            done.start_time.as_str(),
            done.end_time.as_str()
        )
    );
    assert_eq!(back.environment, done.environment);
    assert_eq!(
        back.secret_environment, done.secret_environment,
        "still masked"
    );
    assert_eq!(logs_text(&mut jobs, &done.uuid).await, done_log);
    let back = status(&mut jobs, &failed.uuid).await;
    assert_eq!((back.status.as_str(), back.exit_code), ("FAILED", 3));
    // Jobs that were running or scheduled are STOPPED (-1), and their log says why.
    for id in [&running, &sched.job_uuid] {
        let st = status(&mut jobs, id).await;
        assert_eq!((st.status.as_str(), st.exit_code), ("STOPPED", -1), "{id}");
        assert!(!st.end_time.is_empty());
        let log = logs_text(&mut jobs, id).await;
        assert!(
            log.ends_with(&format!("{}\n", joblet_mock::RESTORED_LINE)),
            "{log:?}"
        );
    }
    assert!(
        logs_text(&mut jobs, &running)
            .await
            .starts_with("started\n")
    );
    let names: Vec<String> = list_networks(&mock)
        .await
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert!(names.contains(&"backend".to_owned()), "{names:?}");
    let vnames: Vec<String> = list_volumes(&mock)
        .await
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(vnames, ["cache"]);
    // A second snapshot holds the same final jobs.
    let again: serde_json::Value = serde_json::from_str(&mock.snapshot("").unwrap()).unwrap();
    assert_eq!(again["jobs"][0], snap["jobs"][0]);
    assert_eq!(again["jobs"][1], snap["jobs"][1]);
    assert_eq!(again["networks"], snap["networks"]);

    // Bad JSON: INVALID_ARGUMENT naming the field; the state is kept.
    for bad in ["{", "{\"format\": 1}", "[]"] {
        let err = restore(&mut c, bad.into()).await.unwrap_err();
        assert_code(&err, Code::InvalidArgument, "json");
    }
    let broken = json.replacen("\"COMPLETED\"", "\"FINISHED\"", 1);
    let err = restore(&mut c, broken).await.unwrap_err();
    assert_code(&err, Code::InvalidArgument, "jobs[0].status");
    assert_eq!(status(&mut jobs, &done.uuid).await.status, "COMPLETED");
    // Into another session through the library: the same jobs, isolated.
    let summary = mock.restore("copy", &json).await.unwrap();
    assert_eq!(summary.jobs, 4);
    let copy = jobs
        .list_jobs(in_session("copy", pb::EmptyRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(copy.jobs.len(), 4);
}

#[tokio::test]
async fn a_manual_clock_catches_up_with_a_restored_snapshot() {
    let mock = start_with(MockServer::builder().config(manual())).await;
    let mut c = control(&mock).await;
    advance(&mut c, "2h").await;
    let json = mock.snapshot("").unwrap();
    let later = mock.clock_now("").unwrap();
    mock.reset("").unwrap();
    assert!(mock.clock_now("").unwrap() < later);
    mock.restore("", &json).await.unwrap();
    assert_eq!(mock.clock_now("").unwrap(), later);
}

async fn workflow_jobs(jobs: &mut Jobs, id: &str) -> Vec<pb::WorkflowJob> {
    jobs.get_workflow_jobs(pb::GetWorkflowJobsRequest {
        workflow_uuid: id.into(),
    })
    .await
    .expect("GetWorkflowJobs")
    .into_inner()
    .jobs
}

/// Snapshot, Reset, Restore: finished workflows answer GetWorkflowStatus,
/// ListWorkflows and GetWorkflowJobs as before, linked to their restored
/// jobs; an unfinished one ends (its running job STOPPED, its pending one
/// CANCELED, the workflow FAILED).
#[tokio::test]
async fn snapshot_and_restore_rebuild_workflows() {
    let mock = start().await;
    let mut c = control(&mock).await;
    let mut jobs = jobs(&mock).await;
    // A failure, a cascade, a job requiring FAILED, and a secret in the YAML.
    let failing = "secret_environment: {TOKEN: hunter22}
jobs:
  a: {command: echo, args: [one]}
  b: {command: sh, args: ['-c', 'exit 3'], requires: [{a: COMPLETED}]}
  c: {command: echo, requires: [{b: COMPLETED}]}
  d: {command: echo, args: [alert], requires: [{b: FAILED}]}
";
    let failed_id = run_workflow(&mut jobs, failing, vec![]).await;
    let failed = wait_workflow_final(&jobs, &failed_id).await;
    assert_eq!(wf_state(&failed), "FAILED");
    let ok_id = run_workflow(
        &mut jobs,
        "jobs:\n  x: {command: echo}\n  y: {command: echo, requires: [{x: COMPLETED}]}\n",
        vec![],
    )
    .await;
    let ok = wait_workflow_final(&jobs, &ok_id).await;
    assert_eq!(wf_state(&ok), "COMPLETED");
    let live_id = run_workflow(
        &mut jobs,
        "jobs:\n  slow: {command: sleep, args: ['600']}\n  after: {command: echo, requires: [{slow: COMPLETED}]}\n",
        vec![],
    )
    .await;
    let live = wait_workflow(&jobs, &live_id, "RUNNING", |s| {
        wf_job(&s.jobs, "slow").status == "RUNNING"
    })
    .await;
    let slow_job = wf_job(&live.jobs, "slow").job_uuid.clone();
    let listed = list_workflows(&mut jobs, true).await;
    let failed_jobs = workflow_jobs(&mut jobs, &failed_id).await;

    let json = snapshot(&mut c).await;
    let snap: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(snap["workflows"].as_array().map(Vec::len), Some(3));
    assert_eq!(snap["workflows"][0]["id"], failed_id.as_str());
    let saved_yaml = snap["workflows"][0]["yaml"].as_str().unwrap();
    assert!(saved_yaml.contains("TOKEN"), "{saved_yaml}");
    assert!(
        !saved_yaml.contains("hunter22"),
        "saved masked: {saved_yaml}"
    );
    reset(&mut c).await;
    assert!(list_workflows(&mut jobs, true).await.is_empty());

    let restored = restore(&mut c, json.clone()).await.unwrap();
    assert_eq!(
        (
            restored.workflows,
            restored.workflows_skipped,
            restored.stopped
        ),
        (3, 0, 1)
    );
    // Finished workflows answer as before.
    assert_eq!(workflow_status(&mut jobs, &failed_id).await, failed);
    assert_eq!(workflow_status(&mut jobs, &ok_id).await, ok);
    assert_eq!(workflow_jobs(&mut jobs, &failed_id).await, failed_jobs);
    let relisted = list_workflows(&mut jobs, true).await;
    assert_eq!(relisted.len(), 3);
    assert_eq!(relisted[..2], listed[..2]);
    // A prefix still resolves, and each workflow job is its restored job.
    assert_eq!(workflow_status(&mut jobs, &ok_id[..8]).await, ok);
    for j in &failed.jobs {
        if !j.job_uuid.is_empty() {
            let st = status(&mut jobs, &j.job_uuid).await;
            assert_eq!(
                (st.status.as_str(), st.exit_code),
                (j.status.as_str(), j.exit_code)
            );
        }
    }

    // The unfinished workflow ended at the restore, like its jobs.
    let ended = workflow_status(&mut jobs, &live_id).await;
    assert_eq!(wf_state(&ended), "FAILED");
    let info = ended.workflow.as_ref().unwrap();
    assert!(info.completed_at.is_some());
    assert_eq!(info.created_at, live.workflow.as_ref().unwrap().created_at);
    assert_eq!(
        (
            info.total_jobs,
            info.completed_jobs,
            info.failed_jobs,
            info.canceled_jobs
        ),
        (2, 0, 1, 1)
    );
    let slow = wf_job(&ended.jobs, "slow");
    assert_eq!(
        (slow.status.as_str(), slow.exit_code, slow.job_uuid.as_str()),
        ("STOPPED", -1, slow_job.as_str())
    );
    assert!(slow.end_time.is_some());
    assert_eq!(status(&mut jobs, &slow_job).await.status, "STOPPED");
    let after = wf_job(&ended.jobs, "after");
    assert_eq!(
        (after.status.as_str(), after.job_uuid.as_str()),
        ("CANCELED", "")
    );
    assert!(list_workflows(&mut jobs, false).await.is_empty());

    // A second round trip changes nothing.
    let again = mock.snapshot("").unwrap();
    mock.reset("").unwrap();
    mock.restore("", &again).await.unwrap();
    assert_eq!(workflow_status(&mut jobs, &failed_id).await, failed);
    assert_eq!(workflow_status(&mut jobs, &live_id).await, ended);
    let again: serde_json::Value = serde_json::from_str(&again).unwrap();
    let third: serde_json::Value = serde_json::from_str(&mock.snapshot("").unwrap()).unwrap();
    assert_eq!(third["workflows"], again["workflows"]);
    assert_eq!(third["jobs"], again["jobs"]);

    // A workflow job linked to a job the snapshot lacks is refused.
    let link = format!("\"job_uuid\": \"{slow_job}\"");
    assert!(json.contains(&link), "{json}");
    let broken = json.replace(
        &link,
        "\"job_uuid\": \"00000000-0000-4000-8000-00000000abcd\"",
    );
    let err = restore(&mut c, broken).await.unwrap_err();
    assert_code(&err, Code::InvalidArgument, "workflows[2].jobs[0].job_uuid");
}

#[tokio::test]
async fn faults_are_per_session_and_sessions_are_listed() {
    let mock = start().await;
    let mut c = control(&mock).await;
    let mut jobs = jobs(&mock).await;
    c.set_faults(ctl::SetFaultsRequest {
        session: "a".into(),
        ..rules(&["RunJob:fail=UNAVAILABLE/only in a"])
    })
    .await
    .unwrap();
    let err = jobs
        .run_job(in_session("a", cmd("echo", &["x"])))
        .await
        .unwrap_err();
    assert_code(&err, Code::Unavailable, "only in a");
    jobs.run_job(in_session("b", cmd("echo", &["x"])))
        .await
        .expect("session b has no faults");
    run(&mut jobs, cmd("echo", &["default"])).await;
    // The session can also come from the metadata of the control call.
    let listed = ok(c
        .list_faults(in_session("a", ctl::ListFaultsRequest::default()))
        .await);
    assert_eq!(listed.rules.len(), 1);
    let sessions = ok(c.list_sessions(ctl::ListSessionsRequest::default()).await).sessions;
    let summary: Vec<(String, u32, u32)> = sessions
        .iter()
        .map(|s| (s.name.clone(), s.jobs, s.faults))
        .collect();
    assert_eq!(
        summary,
        [
            ("default".to_owned(), 1, 0),
            ("a".to_owned(), 0, 1),
            ("b".to_owned(), 1, 0)
        ]
    );
    let reset = ok(c
        .reset(ctl::ResetRequest {
            all: true,
            ..Default::default()
        })
        .await);
    assert_eq!(reset.sessions, ["default", "a", "b"]);
    let sessions = ok(c.list_sessions(ctl::ListSessionsRequest::default()).await).sessions;
    assert_eq!(sessions.len(), 1);
    jobs.run_job(in_session("a", cmd("echo", &["x"])))
        .await
        .expect("a fresh session a has no faults");
}

#[tokio::test]
async fn over_tls_only_admin_may_control() {
    let dir = tempfile::tempdir().unwrap();
    let mock = start_tls(dir.path()).await;
    for (role, allowed) in [(Role::Admin, true), (Role::Viewer, false)] {
        let target = mock.tls_target(role).expect("generated certificates");
        let mut c = MockControlClient::new(target.connect().await.expect("TLS connects"));
        let r = c.get_clock(ctl::GetClockRequest::default()).await;
        match (allowed, r) {
            (true, Ok(_)) => {}
            (false, Err(e)) => assert_code(&e, Code::PermissionDenied, "admin-only"),
            (_, other) => panic!("{role}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn reflection_lists_the_control_service() {
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let mock = start().await;
    let mut client = ServerReflectionClient::new(channel(&mock.url()).await);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = client
        .server_reflection_info(futures::stream::iter([req]))
        .await
        .unwrap()
        .into_inner();
    let Some(Ok(resp)) = stream.next().await else {
        panic!("no reflection answer")
    };
    let Some(MessageResponse::ListServicesResponse(list)) = resp.message_response else {
        panic!("{resp:?}")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"jobletmock.v1.MockControl".to_owned()),
        "{names:?}"
    );
}

#[tokio::test]
async fn running_mock_methods_mirror_the_control_api() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let rule = joblet_mock::faults::parse_rule("RunJob:fail=ABORTED:times=1").unwrap();
    mock.set_faults("", vec![rule]).unwrap();
    assert_eq!(mock.faults("").unwrap().len(), 1);
    assert_eq!(
        run_err(&mut jobs, cmd("echo", &[])).await.code(),
        Code::Aborted
    );
    run(&mut jobs, cmd("echo", &[])).await;
    mock.clear_faults("").unwrap();
    assert!(mock.faults("").unwrap().is_empty());
    let err = mock.load_scenario("", "scenarios: 3", false).unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    mock.reset_all();
    assert!(mock.received_calls().is_empty());
}

// ---------------------------------------------------------------------------
// `joblet-mock ctl` against the real binary

struct CtlRun {
    success: bool,
    stdout: String,
    stderr: String,
}

async fn ctl_cmd(args: &[&str]) -> CtlRun {
    ctl_cmd_env(args, &[]).await
}

/// `joblet-mock ctl ARGS` with only `envs` of the variables it reads.
async fn ctl_cmd_env(args: &[&str], envs: &[(&str, &str)]) -> CtlRun {
    let child = spawn_piped(
        tokio::process::Command::new(BIN)
            .arg("ctl")
            .args(args)
            .env_remove("JOBLET_MOCK_ADDR")
            .env_remove("JOBLET_HOST")
            .env_remove("JOBLET_PORT")
            .env_remove("JOBLET_MOCK_SESSION")
            .env_remove("JOBLET_CA_CERT_PATH")
            .env_remove("JOBLET_CLIENT_CERT_PATH")
            .env_remove("JOBLET_CLIENT_KEY_PATH"),
        envs,
        "spawn joblet-mock ctl",
    );
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("joblet-mock ctl {args:?} hung"))
        .expect("joblet-mock ctl output");
    CtlRun {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

async fn ctl_ok(args: &[&str]) -> String {
    let r = ctl_cmd(args).await;
    assert!(r.success, "joblet-mock ctl {args:?} failed: {}", r.stderr);
    r.stdout
}

#[tokio::test]
async fn e2e_ctl_clock_advance_calls_against_the_binary() {
    let mock = MockProcess::start(&["--clock", "manual"]).await;
    let url = mock.url();
    let addr = ["--addr", url.as_str()];
    let clock = ctl_ok(&[&addr[..], &["clock", "--json"]].concat()).await;
    let t0: serde_json::Value = serde_json::from_str(clock.trim()).unwrap();
    assert_eq!(t0["mode"], "manual");
    let shown = ctl_ok(&[&addr[..], &["clock"]].concat()).await;
    assert!(
        shown.contains("(manual clock, 0 timers pending)"),
        "{shown}"
    );

    let mut jobs = jobs_at(&url).await;
    let job = run(&mut jobs, scheduled(cmd("echo", &["tick"]), 1800)).await;
    assert_eq!(job.status, "SCHEDULED");
    let moved = ctl_ok(&[&addr[..], &["advance", "1h", "--json"]].concat()).await;
    let t1: serde_json::Value = serde_json::from_str(moved.trim()).unwrap();
    assert_eq!(
        t1["now_unix_ms"].as_i64().unwrap() - t0["now_unix_ms"].as_i64().unwrap(),
        3_600_000
    );
    assert_eq!(wait_final(&jobs, &job.job_uuid).await.status, "COMPLETED");

    let calls = ctl_ok(&[&addr[..], &["calls", "--method", "RunJob", "--json"]].concat()).await;
    let lines: Vec<serde_json::Value> = calls
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 1, "{calls}");
    assert_eq!(lines[0]["method"], "joblet.JobService/RunJob");
    assert_eq!(lines[0]["request"]["command"], "echo");
    assert_eq!(lines[0]["code"], "OK");
    let table = ctl_ok(&[&addr[..], &["calls"]].concat()).await;
    assert!(table.contains("RunJob"), "{table}");

    // Faults through the CLI, then the session listing.
    let set = ctl_ok(
        &[
            &addr[..],
            &["faults", "set", "RunJob:fail=UNAVAILABLE:after=2"],
        ]
        .concat(),
    )
    .await;
    assert!(set.contains("after=2"), "{set}");
    assert_eq!(
        ctl_ok(&[&addr[..], &["faults", "list"]].concat()).await,
        set
    );
    ctl_ok(&[&addr[..], &["faults", "clear"]].concat()).await;
    let sessions = ctl_ok(&[&addr[..], &["sessions"]].concat()).await;
    assert!(
        sessions
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("default")),
        "{sessions}"
    );

    // Snapshot to a file and restore it.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state.json");
    let file = file.to_str().unwrap();
    ctl_ok(&[&addr[..], &["snapshot", "-o", file]].concat()).await;
    ctl_ok(&[&addr[..], &["reset"]].concat()).await;
    let restored = ctl_ok(&[&addr[..], &["restore", file]].concat()).await;
    assert!(restored.contains("1 job "), "{restored}");
    assert_eq!(status(&mut jobs, &job.job_uuid).await.status, "COMPLETED");

    // Mistakes: non-zero exit and a message that says what is wrong.
    let r = ctl_cmd(&[&addr[..], &["advance", "90"]].concat()).await;
    assert!(!r.success);
    assert!(r.stderr.contains("no unit"), "{}", r.stderr);
    let r = ctl_cmd(&[&addr[..], &["faults", "set", "RunJob:bogus=1"]].concat()).await;
    assert!(!r.success);
    assert!(r.stderr.contains("RunJob:bogus=1"), "{}", r.stderr);
    let r = ctl_cmd(&[&addr[..], &["restore", "/nonexistent/state.json"]].concat()).await;
    assert!(!r.success);
    assert!(r.stderr.contains("/nonexistent/state.json"), "{}", r.stderr);
}

/// `ctl` over mutual TLS with the certificates `--certs-dir` generates: the
/// admin certificate may control the mock, the viewer one is told it needs an
/// admin certificate; missing files are named before connecting.
#[tokio::test]
async fn e2e_ctl_over_tls_needs_an_admin_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().to_str().unwrap();
    let mock = MockProcess::start(&["--tls-listen", "127.0.0.1:0", "--certs-dir", certs]).await;
    let tls = mock.tls_addr().expect("the TLS address is announced");
    let file = |name: &str| format!("{certs}/{name}");
    let (ca, admin, admin_key) = (file("ca.pem"), file("admin.pem"), file("admin-key.pem"));
    let as_admin = [
        "--addr", tls, "--ca", &ca, "--cert", &admin, "--key", &admin_key,
    ];
    let shown = ctl_ok(&[&as_admin[..], &["clock"]].concat()).await;
    assert!(shown.contains("(real clock, 0 timers pending)"), "{shown}");

    // The same files from the environment, the address as https://.
    let https = format!("https://{tls}");
    let r = ctl_cmd_env(
        &["--addr", &https, "clock", "--json"],
        &[
            ("JOBLET_CA_CERT_PATH", &ca),
            ("JOBLET_CLIENT_CERT_PATH", &admin),
            ("JOBLET_CLIENT_KEY_PATH", &admin_key),
        ],
    )
    .await;
    assert!(r.success, "{}", r.stderr);
    let clock: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(clock["mode"], "real");

    // The viewer certificate is refused: PERMISSION_DENIED, and what to use.
    let (viewer, viewer_key) = (file("viewer.pem"), file("viewer-key.pem"));
    let r = ctl_cmd(&[
        "--addr",
        tls,
        "--ca",
        &ca,
        "--cert",
        &viewer,
        "--key",
        &viewer_key,
        "clock",
    ])
    .await;
    assert!(!r.success, "{}", r.stdout);
    assert!(r.stderr.contains("permission denied"), "{}", r.stderr);
    assert!(
        r.stderr.contains("An admin certificate is needed"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("admin.pem"), "{}", r.stderr);

    // Mistakes are named before any connection.
    let missing = file("nope.pem");
    let r = ctl_cmd(&[
        "--addr", tls, "--ca", &ca, "--cert", &missing, "--key", &admin_key, "clock",
    ])
    .await;
    assert!(!r.success);
    assert!(
        r.stderr.contains(&format!(
            "--cert {missing}: cannot read the client certificate"
        )),
        "{}",
        r.stderr
    );
    let r = ctl_cmd(&["--addr", tls, "--ca", &ca, "clock"]).await;
    assert!(!r.success);
    assert!(
        r.stderr
            .contains("missing: --cert (JOBLET_CLIENT_CERT_PATH), --key"),
        "{}",
        r.stderr
    );
    // The plaintext address with the TLS files: which one is meant?
    let url = mock.url();
    let r = ctl_cmd(&[
        "--addr", &url, "--ca", &ca, "--cert", &admin, "--key", &admin_key, "clock",
    ])
    .await;
    assert!(!r.success);
    assert!(r.stderr.contains("plaintext address"), "{}", r.stderr);
}

#[tokio::test]
async fn e2e_ctl_without_a_mock_names_the_address() {
    // A port nobody listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    let r = ctl_cmd(&["--addr", &addr, "clock"]).await;
    assert!(!r.success);
    assert!(r.stderr.contains(&format!("http://{addr}")), "{}", r.stderr);
    assert!(r.stderr.contains("connection refused"), "{}", r.stderr);
    assert!(r.stderr.contains("joblet-mock --listen"), "{}", r.stderr);
}

#[tokio::test]
async fn e2e_a_bad_fault_flag_names_the_rule() {
    let err = refused(&["--listen", "127.0.0.1:0", "--fault", "RunJob:bogus=1"]).await;
    assert!(err.contains("RunJob:bogus=1"), "{err}");
    let err = refused(&[
        "--listen",
        "127.0.0.1:0",
        "--fault",
        "RunJob:fail=UNAVAILABLE",
        "--fault",
        "GetJobLogs:cut_after_messages=x",
    ])
    .await;
    assert!(err.contains("--fault #2"), "{err}");
    assert!(err.contains("cut_after_messages"), "{err}");
}
