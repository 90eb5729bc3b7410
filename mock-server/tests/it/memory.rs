//! The memory budget (issue #11): `--memory-budget` covers job records and log
//! history of the whole process; over it the log history of finished jobs is
//! evicted first, then finished records, oldest first; running and scheduled
//! jobs never are. `--max-jobs` caps the records of a session. ListJobs over
//! the message limit answers RESOURCE_EXHAUSTED.

use futures::StreamExt;
use joblet_mock::{MockConfig, MockServer, RunningMock};
use joblet_testkit::control::{self as cpb, mock_control_client::MockControlClient};
use joblet_testkit::pb;
use tonic::Code;

use crate::e2e::{BIN, MockProcess, refused};
use crate::support::*;

/// A mock with this budget (and no `--max-jobs` cap unless given).
async fn with_budget(budget: u64, max_jobs: usize) -> (RunningMock, Jobs) {
    start_and(
        MockServer::builder()
            .memory_budget(budget)
            .max_jobs(max_jobs),
        async |m| jobs(m).await,
    )
    .await
}

/// `seq` of `count` seven-digit numbers from `first` (8 bytes a line) as a
/// job request, and the text it writes.
fn seq_job(first: u64, count: u64) -> (pb::RunJobRequest, String) {
    let last = first + count - 1;
    assert!(first >= 1_000_000 && last < 10_000_000, "seven digits");
    let text: String = (first..=last).map(|i| format!("{i}\n")).collect();
    (cmd("seq", &[&first.to_string(), &last.to_string()]), text)
}

/// Runs `req` and waits until it is final; returns its ID.
async fn run_finished(jobs: &mut Jobs, req: pb::RunJobRequest) -> String {
    let id = run(jobs, req).await.job_uuid;
    wait_final(jobs, &id).await;
    id
}

/// GetJobLogs' error for a job whose stream must not open.
async fn logs_refused(jobs: &mut Jobs, id: &str) -> tonic::Status {
    match jobs
        .get_job_logs(pb::GetJobLogsReq { uuid: id.into() })
        .await
    {
        Ok(_) => panic!("GetJobLogs {id} opened a stream; its history should be evicted"),
        Err(e) => e,
    }
}

/// The first chunk of a job's log stream (the stream need not end).
async fn first_chunk(jobs: &mut Jobs, id: &str) -> Vec<u8> {
    let mut stream = open_logs(jobs, id).await;
    let chunk = within("the first log chunk", stream.next()).await;
    chunk
        .expect("a first chunk")
        .expect("the stream does not fail")
        .payload
        .to_vec()
}

#[tokio::test]
async fn memory_budget_evicts_finished_logs_first() {
    // Four logs of 560 000 bytes do not fit in 2 MiB; three do.
    let budget = 2 << 20;
    let (mock, mut jobs) = with_budget(budget, 0).await;
    let running = run_running(&mut jobs, sh("seq 1000; sleep 600")).await;
    let sched = run(&mut jobs, later()).await.job_uuid;
    let mut finished = Vec::new();
    for k in 0..4u64 {
        let (req, text) = seq_job((k + 1) * 1_000_000, 70_000);
        finished.push((run_finished(&mut jobs, req).await, text));
    }
    // One more RunJob, so the last log's bytes have certainly been weighed.
    run_finished(&mut jobs, cmd("true", &[])).await;

    let report = mock.memory();
    assert!(
        report.budget.used <= budget,
        "{} bytes counted over a budget of {budget}",
        report.budget.used
    );
    assert_eq!(report.budget.evicted_logs, 1, "{report:?}");
    assert_eq!(report.budget.evicted_records, 0, "{report:?}");

    // The oldest finished log went; its record stays (logs go first).
    let (oldest, _) = &finished[0];
    let err = logs_refused(&mut jobs, oldest).await;
    assert_code(&err, Code::FailedPrecondition, "evicted");
    assert_code(
        &err,
        Code::FailedPrecondition,
        &format!("--memory-budget {budget}"),
    );
    assert_eq!(status(&mut jobs, oldest).await.status, "COMPLETED");
    // The newer ones are whole.
    for (id, text) in &finished[1..] {
        assert_same_text(&logs(&mut jobs, id).await, text.as_bytes(), "a kept log");
    }
    // Running and scheduled jobs are untouched, their logs too.
    assert_eq!(status(&mut jobs, &running).await.status, "RUNNING");
    assert!(
        first_chunk(&mut jobs, &running)
            .await
            .starts_with(b"1\n2\n3\n")
    );
    assert_eq!(status(&mut jobs, &sched).await.status, "SCHEDULED");
}

#[tokio::test]
async fn memory_budget_evicts_finished_records_only_after_finished_logs() {
    // About 230 records of `true` fit in 256 KiB.
    let budget = 256 << 10;
    let (mock, mut jobs) = with_budget(budget, 0).await;
    let running = run_running(&mut jobs, cmd("sleep", &["600"])).await;
    let sched = run(&mut jobs, later()).await.job_uuid;
    let mut oldest = Vec::new();
    for _ in 0..20 {
        oldest.push(run_finished(&mut jobs, cmd("true", &[])).await);
    }
    // A newer job with a log, then records until the first eviction.
    let with_log = run_finished(&mut jobs, cmd("echo", &["kept?"])).await;
    let mut ran = 0;
    while mock.memory().budget.evicted_records == 0 {
        run_finished(&mut jobs, cmd("true", &[])).await;
        ran += 1;
        assert!(ran < 2000, "no record was evicted after {ran} jobs");
    }
    let report = mock.memory();
    // The newest finished log went before the oldest finished record...
    assert_eq!(report.budget.evicted_logs, 1, "{report:?}");
    assert_code(
        &logs_refused(&mut jobs, &with_log).await,
        Code::FailedPrecondition,
        "evicted",
    );
    assert_eq!(status(&mut jobs, &with_log).await.status, "COMPLETED");
    // ...and records go oldest first.
    let err = jobs
        .get_job_status(pb::GetJobStatusReq {
            uuid: oldest[0].clone(),
        })
        .await
        .unwrap_err();
    assert_code(&err, Code::NotFound, "evicted");
    assert!(report.budget.used <= budget, "{report:?}");

    // However long it goes on, running and scheduled jobs stay, in order.
    for _ in 0..500 {
        run(&mut jobs, cmd("true", &[])).await;
    }
    let ids = listed_ids(&mut jobs).await;
    assert_eq!(&ids[..2], [running.clone(), sched.clone()]);
    assert!(ids.len() < 300, "{} records kept", ids.len());
    assert_eq!(status(&mut jobs, &running).await.status, "RUNNING");
    assert_eq!(status(&mut jobs, &sched).await.status, "SCHEDULED");
    assert!(mock.memory().budget.used <= budget);
}

#[tokio::test]
async fn a_reader_in_the_middle_of_a_stream_is_not_cut_by_eviction() {
    // 8 MB and 2 MB of logs fit in 12 MiB; another 3 MB pushes the oldest out.
    let (mock, mut jobs) = with_budget(12 << 20, 0).await;
    let (req, text) = seq_job(1_000_000, 1_000_000);
    let first = run_finished(&mut jobs, req).await;
    let (req, second_text) = seq_job(2_000_000, 250_000);
    let second = run_finished(&mut jobs, req).await;
    // A reader in the middle of the first log: 2 MB read, the rest not yet
    // (the transport holds at most a few MB in between).
    let mut stream = open_logs(&mut jobs, &first).await;
    let mut got = Vec::new();
    while got.len() < 2_000_000 {
        let chunk = within("a log chunk", stream.next())
            .await
            .expect("more of the log")
            .expect("no error");
        got.extend_from_slice(&chunk.payload);
    }
    assert_eq!(mock.memory().budget.evicted_logs, 0);

    let (req, third_text) = seq_job(3_000_000, 375_000);
    let third = run_finished(&mut jobs, req).await;
    assert_eq!(mock.memory().budget.evicted_logs, 1);
    let log = log_buffer(&mock, &first);
    assert!(log.is_evicted());
    assert!(
        log.retained_bytes() < log.total_written(),
        "what the reader had read is dropped"
    );
    assert!(
        log.retained_bytes() > 0,
        "what the reader has not read yet is kept"
    );
    assert_code(
        &logs_refused(&mut jobs, &first).await,
        Code::FailedPrecondition,
        "evicted",
    );

    // The reader goes on to the end and gets every byte.
    got.extend(read_to_end(stream).await);
    assert_same_text(&got, text.as_bytes(), "the evicted log, read through");
    eventually("the evicted log is freed once read", || {
        let log = std::sync::Arc::clone(&log);
        async move { (log.retained_bytes() == 0).then_some(()) }
    })
    .await;
    // The newer logs are whole.
    assert_same_text(
        &logs(&mut jobs, &second).await,
        second_text.as_bytes(),
        "the second log",
    );
    assert_same_text(
        &logs(&mut jobs, &third).await,
        third_text.as_bytes(),
        "the third log",
    );
}

#[tokio::test]
async fn memory_budget_refuses_run_job_when_live_jobs_fill_it() {
    let budget = 16 << 10;
    let (mock, mut jobs) = with_budget(budget, 0).await;
    let mut live = Vec::new();
    let refusal = loop {
        match jobs.run_job(cmd("sleep", &["600"])).await {
            Ok(r) => live.push(r.into_inner().job_uuid),
            Err(e) => break e,
        }
        assert!(live.len() < 100, "16 KiB held {} sleeping jobs", live.len());
    };
    assert!(!live.is_empty());
    assert_code(&refusal, Code::ResourceExhausted, "--memory-budget 16384");
    assert_code(&refusal, Code::ResourceExhausted, "RunJob");
    // Nothing live was evicted to make room.
    for id in &live {
        assert_eq!(status(&mut jobs, id).await.status, "RUNNING");
    }
    assert!(mock.memory().budget.refused >= 1);

    // Uploads count too: 64 KiB cannot fit in 16 KiB at all.
    let mut big = cmd("cat", &["big.txt"]);
    big.uploads = vec![pb::FileUpload {
        path: "big.txt".into(),
        content: vec![b'x'; 64 << 10],
        ..Default::default()
    }];
    assert_code(
        &run_err(&mut jobs, big).await,
        Code::ResourceExhausted,
        "--memory-budget",
    );

    // A stopped job is finished: it makes room (its task is freed, and its
    // record may be evicted).
    stop_ok(&mut jobs, &live[0]).await;
    run(&mut jobs, cmd("sleep", &["600"])).await;
    for id in &live[1..] {
        assert_eq!(status(&mut jobs, id).await.status, "RUNNING");
    }
}

#[tokio::test]
async fn a_job_larger_than_the_whole_budget_evicts_nothing() {
    let (mock, mut jobs) = with_budget(64 << 10, 0).await;
    let kept = run_finished(&mut jobs, cmd("echo", &["kept"])).await;
    let mut big = cmd("cat", &["big.txt"]);
    big.uploads = vec![pb::FileUpload {
        path: "big.txt".into(),
        content: vec![b'x'; 128 << 10],
        ..Default::default()
    }];
    let err = run_err(&mut jobs, big).await;
    assert_code(
        &err,
        Code::ResourceExhausted,
        "more than the whole memory budget",
    );
    assert_code(&err, Code::ResourceExhausted, "--memory-budget 65536");
    assert_eq!(logs_text(&mut jobs, &kept).await, "kept\n");
    let b = mock.memory().budget;
    assert_eq!((b.evicted_logs, b.evicted_records, b.refused), (0, 0, 1));
}

#[tokio::test]
async fn max_jobs_evicts_the_oldest_finished_records() {
    let (mock, mut jobs) = with_budget(2 << 30, 5).await;
    let running = run_running(&mut jobs, cmd("sleep", &["600"])).await;
    let sched = run(&mut jobs, later()).await.job_uuid;
    let mut done = Vec::new();
    for i in 0..10 {
        done.push(run_finished(&mut jobs, cmd("echo", &[&format!("job {i}")])).await);
    }
    let ids = listed_ids(&mut jobs).await;
    assert_eq!(
        ids,
        [
            running,
            sched,
            done[7].clone(),
            done[8].clone(),
            done[9].clone()
        ]
    );
    assert_eq!(status_code(&mut jobs, &done[0]).await, Code::NotFound);
    // The kept records keep their logs (the cap is about records).
    assert_eq!(logs_text(&mut jobs, &done[9]).await, "job 9\n");
    assert_eq!(mock.memory().budget.evicted_records, 7);
}

#[tokio::test]
async fn max_jobs_refuses_run_job_when_every_record_is_live() {
    let (_mock, mut jobs) = with_budget(2 << 30, 2).await;
    let running = run_running(&mut jobs, cmd("sleep", &["600"])).await;
    let sched = run(&mut jobs, later()).await.job_uuid;
    assert_code(
        &run_err(&mut jobs, cmd("true", &[])).await,
        Code::ResourceExhausted,
        "--max-jobs 2",
    );
    stop_ok(&mut jobs, &running).await;
    let newer = run(&mut jobs, cmd("true", &[])).await.job_uuid;
    assert_eq!(listed_ids(&mut jobs).await, [sched, newer]);
}

#[tokio::test]
async fn memory_budget_covers_every_session_oldest_first() {
    // Three logs of 560 000 bytes do not fit in 1.5 MiB; two do.
    let (mock, _) = with_budget(3 << 19, 0).await;
    let mut jobs = jobs(&mock).await;
    let in_a = |req: pb::RunJobRequest| in_session("a", req);
    let in_b = |req: pb::RunJobRequest| in_session("b", req);
    let (req, _) = seq_job(1_000_000, 70_000);
    let oldest = jobs.run_job(in_a(req)).await.unwrap().into_inner().job_uuid;
    eventually("the job of session a ends", || {
        let mut jobs = jobs.clone();
        let id = oldest.clone();
        async move {
            let s = jobs
                .get_job_status(in_session("a", pb::GetJobStatusReq { uuid: id }))
                .await
                .ok()?
                .into_inner();
            (s.status == "COMPLETED").then_some(())
        }
    })
    .await;
    for k in 1..3u64 {
        let (req, _) = seq_job((k + 1) * 1_000_000, 70_000);
        let id = run(&mut jobs, req).await.job_uuid;
        wait_final(&jobs, &id).await;
    }
    jobs.run_job(in_b(cmd("true", &[]))).await.unwrap();
    // Session a's log was the oldest finished one, whoever went over.
    let err = jobs
        .get_job_logs(in_session("a", pb::GetJobLogsReq { uuid: oldest }))
        .await
        .unwrap_err();
    assert_code(&err, Code::FailedPrecondition, "evicted");
    let report = mock.memory();
    assert_eq!(report.budget.evicted_logs, 1, "{report:?}");
    let names: Vec<&str> = report.sessions.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["default", "a", "b"]);
    let counted: u64 = report
        .sessions
        .iter()
        .map(|s| s.record_bytes + s.log_bytes)
        .sum();
    assert_eq!(counted, report.budget.used, "{report:?}");
}

#[tokio::test]
async fn list_jobs_over_the_message_limit_is_resource_exhausted() {
    let config = MockConfig {
        max_message_bytes: 64 << 10,
        max_jobs: 0,
        ..MockConfig::default()
    };
    let (_mock, mut jobs) = start_and(MockServer::builder().config(config), async |m| {
        jobs(m).await
    })
    .await;
    let arg = "x".repeat(1000);
    for _ in 0..100 {
        run(&mut jobs, cmd("true", &[&arg])).await;
    }
    let err = jobs
        .list_jobs(pb::EmptyRequest {})
        .await
        .expect_err("about 110 KB of ListJobs over a 64 KiB limit");
    assert_code(&err, Code::ResourceExhausted, "100 jobs");
    assert_code(&err, Code::ResourceExhausted, "65536 bytes");
    assert_code(&err, Code::ResourceExhausted, "--max-jobs");
    assert_code(&err, Code::ResourceExhausted, "DeleteAllJobs");
    let size: u64 = err
        .message()
        .split("would be ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the size is named: {}", err.message()));
    assert!(size > 100_000, "{size}");

    jobs.delete_all_jobs(pb::DeleteAllJobsReq {}).await.unwrap();
    assert!(list_jobs(&mut jobs).await.is_empty());
}

#[tokio::test]
async fn memory_accounting_follows_records_and_logs() {
    let (mock, mut jobs) = with_budget(64 << 20, 10).await;
    let mut control = MockControlClient::new(channel(&mock.url()).await);
    let empty = control
        .get_memory(cpb::GetMemoryRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(empty.budget_bytes, 64 << 20);
    assert_eq!(empty.max_jobs, 10);
    assert_eq!((empty.record_bytes, empty.log_bytes), (0, 0));

    let id = run_finished(&mut jobs, cmd("echo", &["hi"])).await;
    let one = control
        .get_memory(cpb::GetMemoryRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(one.log_bytes, 3, "\"hi\\n\"");
    assert!(
        (500..4096).contains(&one.record_bytes),
        "one record is about a kilobyte: {}",
        one.record_bytes
    );
    assert_eq!(one.used_bytes, one.record_bytes + one.log_bytes);
    assert_eq!(one.sessions[0].name, "default");
    assert_eq!(one.sessions[0].jobs, 1);
    assert_eq!(one.sessions[0].log_bytes, 3);
    assert!(one.resident_bytes > 0);
    let listed = control
        .list_sessions(cpb::ListSessionsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.sessions[0].record_bytes, one.record_bytes);
    assert_eq!(listed.sessions[0].log_bytes, 3);

    // A running job counts its task as well, until it ends.
    let sleeping = run_running(&mut jobs, cmd("sleep", &["600"])).await;
    let with_task = mock.memory().budget.records;
    assert!(with_task > 2 * one.record_bytes, "{with_task}");
    stop_ok(&mut jobs, &sleeping).await;
    assert!(mock.memory().budget.records < with_task);

    // Deleting gives it all back.
    delete(&mut jobs, &id).await.unwrap();
    delete(&mut jobs, &sleeping).await.unwrap();
    eventually("every byte is given back", || async {
        let b = mock.memory().budget;
        (b.used == 0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn e2e_memory_flags_and_ctl_memory() {
    let mock = MockProcess::start(&["--memory-budget", "64MiB", "--max-jobs", "10"]).await;
    let url = mock.url();
    let mut jobs = jobs_at(&url).await;
    run_finished(&mut jobs, cmd("echo", &["hi"])).await;
    let out = ctl(&["--addr", &url, "memory", "--json"]).await;
    let r: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON");
    assert_eq!(r["budget_bytes"], 64 << 20);
    assert_eq!(r["max_jobs"], 10);
    assert_eq!(r["log_bytes"], 3);
    assert_eq!(r["sessions"][0]["jobs"], 1);
    let text = ctl(&["--addr", &url, "memory"]).await;
    assert!(text.contains("64.00 MiB (67108864 bytes"), "{text}");
    assert!(text.contains("10 per session"), "{text}");

    // The environment variables, and bad sizes named by their flag.
    let from_env = MockProcess::start_with_env(
        &[],
        &[
            ("JOBLET_MOCK_MEMORY_BUDGET", "1GiB"),
            ("JOBLET_MOCK_MAX_JOBS", "0"),
        ],
    )
    .await;
    let r: serde_json::Value = serde_json::from_str(
        ctl(&["--addr", &from_env.url(), "memory", "--json"])
            .await
            .trim(),
    )
    .unwrap();
    assert_eq!(r["budget_bytes"], 1u64 << 30);
    assert_eq!(r["max_jobs"], 0);
    let err = refused(&["--listen", "127.0.0.1:0", "--memory-budget", "2XB"]).await;
    assert!(err.contains("--memory-budget"), "{err}");
    assert!(err.contains("unknown unit"), "{err}");
    let err = refused(&["--listen", "127.0.0.1:0", "--memory-budget", "0"]).await;
    assert!(err.contains("--memory-budget"), "{err}");
    let err = refused(&["--listen", "127.0.0.1:0", "--max-jobs", "lots"]).await;
    assert!(err.contains("--max-jobs"), "{err}");
}

/// `joblet-mock ctl ARGS`, which must succeed; its stdout.
async fn ctl(args: &[&str]) -> String {
    let child = spawn_piped(
        tokio::process::Command::new(BIN)
            .arg("ctl")
            .args(args)
            .env_remove("JOBLET_MOCK_ADDR")
            .env_remove("JOBLET_MOCK_SESSION"),
        &[],
        "spawn joblet-mock ctl",
    );
    let out = within("joblet-mock ctl", child.wait_with_output())
        .await
        .expect("ctl output");
    assert!(
        out.status.success(),
        "ctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
