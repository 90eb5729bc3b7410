//! The control API (`jobletmock.v1.MockControl`) through a tonic client, the
//! `RunningMock` methods that mirror it, and `joblet-mock ctl` against the
//! real binary.

use std::process::Stdio;
use std::time::Duration;

use futures::StreamExt;
use joblet_mock::session::SESSION_HEADER;
use joblet_mock::{ClockMode, MockConfig, MockServer, Role, RunningMock};
use joblet_testkit::control::{self as ctl, mock_control_client::MockControlClient};
use joblet_testkit::pb;
use tonic::transport::Channel;
use tonic::{Code, Request};

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

fn in_session<T>(session: &str, msg: T) -> Request<T> {
    let mut req = Request::new(msg);
    req.metadata_mut()
        .insert(SESSION_HEADER, session.parse().expect("ascii"));
    req
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
    let t0 = c
        .get_clock(ctl::GetClockRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(t0.mode, "manual");
    assert!(t0.now.ends_with('Z'), "{}", t0.now);
    let job = run(&mut jobs, scheduled(cmd("echo", &["due"]), 120)).await;
    assert_eq!(job.status, "SCHEDULED");
    let t1 = advance(&mut c, "1m").await;
    assert_eq!(t1.now_unix_ms - t0.now_unix_ms, 60_000);
    assert_eq!(t1.pending_timers, 1, "the scheduled job waits");
    assert_eq!(status(&mut jobs, &job.job_uuid).await.status, "SCHEDULED");
    let t2 = c
        .advance_clock(ctl::AdvanceClockRequest {
            millis: 61_000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
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
    let set = c
        .set_faults(rules(&["RunJob:fail=UNAVAILABLE:after=2"]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(set.rules.len(), 1);
    assert!(set.rules[0].contains("after=2"), "{:?}", set.rules);
    run(&mut jobs, cmd("echo", &["1"])).await;
    run(&mut jobs, cmd("echo", &["2"])).await;
    let err = run_err(&mut jobs, cmd("echo", &["3"])).await;
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");

    // ListFaults shows the rule, in both forms; the JSON form sets it again.
    let listed = c
        .list_faults(ctl::ListFaultsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.rules, set.rules);
    let again = c
        .set_faults(ctl::SetFaultsRequest {
            rules_json: listed.rules_json.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.rules, set.rules);
    // Counters start afresh with SetFaults: two calls pass again.
    run(&mut jobs, cmd("echo", &["4"])).await;
    // --append adds after the existing rules.
    let appended = c
        .set_faults(ctl::SetFaultsRequest {
            append: true,
            ..rules(&["ListJobs:fail=INTERNAL/boom"])
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(appended.rules.len(), 2);
    let err = jobs.list_jobs(pb::EmptyRequest {}).await.unwrap_err();
    assert_code(&err, Code::Internal, "boom");

    let cleared = c
        .clear_faults(ctl::ClearFaultsRequest::default())
        .await
        .unwrap()
        .into_inner();
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
    let r = c
        .load_scenario(ctl::LoadScenarioRequest {
            yaml: TRAIN.into(),
            file_name: "train.yaml".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
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
    let r = c
        .load_scenario(ctl::LoadScenarioRequest {
            yaml: later.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.total, 2);
    let (_, log) = run_to_end(&mut jobs, cmd("python3", &["train.py"])).await;
    assert_eq!(log, "step 1\nstep 2\n");
    let r = c
        .load_scenario(ctl::LoadScenarioRequest {
            yaml: later,
            replace: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
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
    let all = c.list_calls(list("", 0)).await.unwrap().into_inner();
    assert_eq!(
        all.calls.len(),
        4,
        "control calls are not journaled: {:?}",
        all.calls
    );
    assert_eq!(all.dropped, 0);
    let runs = c.list_calls(list("RunJob", 0)).await.unwrap().into_inner();
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
    let last = c
        .list_calls(list("joblet.JobService/*", 1))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(last.calls.len(), 1);
    assert_eq!(last.calls[0].seq, 4);
    // Another session's calls show with all_sessions only.
    jobs.list_jobs(in_session("other", pb::EmptyRequest {}))
        .await
        .unwrap();
    let everywhere = c
        .list_calls(ctl::ListCallsRequest {
            all_sessions: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(everywhere.calls.len(), 5);
    assert_eq!(everywhere.calls[4].session, "other");
    let cleared = c
        .clear_calls(ctl::ClearCallsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cleared.cleared, 4);
    assert!(
        c.list_calls(list("", 0))
            .await
            .unwrap()
            .into_inner()
            .calls
            .is_empty()
    );
    // An unknown session has no calls (and is not created by asking).
    let none = c
        .list_calls(ctl::ListCallsRequest {
            session: "nobody".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
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

    let json = c
        .snapshot(ctl::SnapshotRequest::default())
        .await
        .unwrap()
        .into_inner()
        .json;
    let snap: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(snap["format"], 1);
    assert_eq!(snap["jobs"].as_array().map(Vec::len), Some(4));
    assert_eq!(snap["jobs"][0]["log"]["text"], "a\nb\n");
    assert_eq!(
        snap["jobs"][0]["spec"]["secret_environment"]["TOKEN"],
        "s3cret"
    );

    let reset = c
        .reset(ctl::ResetRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reset.sessions, ["default"]);
    let listed = jobs
        .list_jobs(pb::EmptyRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(listed.jobs.is_empty());

    let restored = c
        .restore(ctl::RestoreRequest {
            json: json.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            restored.jobs,
            restored.stopped,
            restored.networks,
            restored.volumes
        ),
        (4, 2, 1, 1)
    );
    let ids: Vec<String> = jobs
        .list_jobs(pb::EmptyRequest {})
        .await
        .unwrap()
        .into_inner()
        .jobs
        .into_iter()
        .map(|j| j.uuid)
        .collect();
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
            log.ends_with(&format!("{}\n", joblet_mock::snapshot::RESTORED_LINE)),
            "{log:?}"
        );
    }
    assert!(
        logs_text(&mut jobs, &running)
            .await
            .starts_with("started\n")
    );
    let mut nets = networks(&mock).await;
    let names: Vec<String> = nets
        .list_networks(pb::EmptyRequest {})
        .await
        .unwrap()
        .into_inner()
        .networks
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert!(names.contains(&"backend".to_owned()), "{names:?}");
    let mut vols = volumes(&mock).await;
    let vnames: Vec<String> = vols
        .list_volumes(pb::EmptyRequest {})
        .await
        .unwrap()
        .into_inner()
        .volumes
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
        let err = c
            .restore(ctl::RestoreRequest {
                json: bad.into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_code(&err, Code::InvalidArgument, "json");
    }
    let broken = json.replacen("\"COMPLETED\"", "\"FINISHED\"", 1);
    let err = c
        .restore(ctl::RestoreRequest {
            json: broken,
            ..Default::default()
        })
        .await
        .unwrap_err();
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
    let listed = c
        .list_faults(in_session("a", ctl::ListFaultsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.rules.len(), 1);
    let sessions = c
        .list_sessions(ctl::ListSessionsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .sessions;
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
    let reset = c
        .reset(ctl::ResetRequest {
            all: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reset.sessions, ["default", "a", "b"]);
    let sessions = c
        .list_sessions(ctl::ListSessionsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .sessions;
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
    let child = tokio::process::Command::new(BIN)
        .arg("ctl")
        .args(args)
        .env_remove("JOBLET_MOCK_ADDR")
        .env_remove("JOBLET_HOST")
        .env_remove("JOBLET_PORT")
        .env_remove("JOBLET_MOCK_SESSION")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn joblet-mock ctl");
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
