//! Fault rules applied to real calls (`--fault`, `MockConfig::faults`).

use futures::StreamExt;
use joblet_mock::faults::parse_rule;
use joblet_mock::{MockConfig, MockServer};
use joblet_testkit::pb;

use crate::support::*;

fn with_faults(rules: &[&str]) -> MockConfig {
    MockConfig {
        faults: rules
            .iter()
            .map(|r| parse_rule(r).expect("a valid rule"))
            .collect(),
        ..MockConfig::default()
    }
}

#[tokio::test]
async fn the_third_run_job_fails_after_two() {
    let mock = start_with(
        MockServer::builder().config(with_faults(&["RunJob:fail=UNAVAILABLE/node busy:after=2"])),
    )
    .await;
    let mut jobs = jobs(&mock).await;
    run(&mut jobs, cmd("echo", &["1"])).await;
    run(&mut jobs, cmd("echo", &["2"])).await;
    let err = run_err(&mut jobs, cmd("echo", &["3"])).await;
    assert_code(&err, tonic::Code::Unavailable, "node busy");
    // Other RPCs are untouched, and the failed call is in the journal.
    jobs.list_jobs(pb::EmptyRequest {}).await.unwrap();
    let calls = mock.received_calls();
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.short_method() == "RunJob")
            .count(),
        3
    );
    assert_eq!(calls[2].code, tonic::Code::Unavailable);
}

#[tokio::test]
async fn a_log_stream_is_cut_mid_way() {
    let mock =
        start_with(MockServer::builder().config(with_faults(&["GetJobLogs:cut_after_messages=2"])))
            .await;
    let mut jobs = jobs(&mock).await;
    // One line at a time, so the log has many chunks.
    let id = run(
        &mut jobs,
        sh("for i in $(seq 1 20); do echo line $i; sleep 0.01; done"),
    )
    .await
    .job_uuid;
    let mut stream = jobs
        .get_job_logs(pb::GetJobLogsReq { uuid: id.clone() })
        .await
        .unwrap()
        .into_inner();
    let mut chunks = 0;
    let end = loop {
        match stream.next().await {
            Some(Ok(_)) => chunks += 1,
            Some(Err(status)) => break Some(status),
            None => break None,
        }
    };
    assert_eq!(chunks, 2);
    let status = end.expect("the stream ends with an error");
    assert_code(&status, tonic::Code::Unavailable, "cut");
    // The job itself is unaffected.
    assert_eq!(wait_final(&jobs, &id).await.status, "COMPLETED");
}

#[tokio::test]
async fn a_rule_can_target_one_session() {
    let mock = start_with(
        MockServer::builder().config(with_faults(&["ListJobs:session=flaky:fail=INTERNAL"])),
    )
    .await;
    let mut jobs = jobs(&mock).await;
    jobs.list_jobs(pb::EmptyRequest {})
        .await
        .expect("default session untouched");
    let mut req = tonic::Request::new(pb::EmptyRequest {});
    req.metadata_mut()
        .insert(joblet_mock::SESSION_HEADER, "flaky".parse().unwrap());
    let err = jobs.list_jobs(req).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Internal);
}

/// `--seed`: the same seed gives the same job IDs in the same order.
#[tokio::test]
async fn a_seed_makes_uuids_reproducible() {
    let mut ids = Vec::new();
    for _ in 0..2 {
        let mock = start_with(MockServer::builder().config(MockConfig {
            seed: Some(42),
            ..MockConfig::default()
        }))
        .await;
        let mut jobs = jobs(&mock).await;
        let mut these = Vec::new();
        for _ in 0..3 {
            these.push(run(&mut jobs, cmd("true", &[])).await.job_uuid);
        }
        ids.push(these);
    }
    assert_eq!(ids[0], ids[1]);
    assert_ne!(ids[0][0], ids[0][1]);
    let id = uuid::Uuid::parse_str(&ids[0][0]).unwrap();
    assert_eq!(id.get_version_num(), 4, "still RFC 4122 v4 (ALL-2)");
}

/// `concurrency=K` with a fixed delay: at most K calls in their delay at
/// once, so the i-th of N calls sent together ends no earlier than
/// (i / K + 1) delays after the start (lower bounds only: the machine may
/// be slow, never fast).
#[tokio::test]
async fn concurrency_serves_k_calls_per_delay_and_queues_the_rest() {
    let mock = start_with(
        MockServer::builder().config(with_faults(&["RunJob:delay=100ms:concurrency=2"])),
    )
    .await;
    let jobs = jobs(&mock).await;
    let start = std::time::Instant::now();
    let calls: Vec<_> = (0..6)
        .map(|_| {
            let mut c = jobs.clone();
            tokio::spawn(async move {
                c.run_job(cmd("true", &[])).await.unwrap();
                start.elapsed()
            })
        })
        .collect();
    let mut ends = Vec::new();
    for c in calls {
        ends.push(c.await.unwrap());
    }
    ends.sort();
    for (i, end) in ends.iter().enumerate() {
        let floor = std::time::Duration::from_millis(100 * (i as u64 / 2 + 1));
        assert!(
            *end >= floor,
            "call {i} ended after {end:?}, before {floor:?}"
        );
    }
    assert_eq!(mock.received_calls().len(), 6);
}
