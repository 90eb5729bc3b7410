//! The call journal and wiremock-style verification from Rust.

use joblet_mock::Expectation;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn verify_counts_calls_by_method_and_request() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    run(&mut jobs, cmd("echo", &["one"])).await;
    run(&mut jobs, cmd("echo", &["two"])).await;
    let _ = run_err(&mut jobs, cmd("", &[])).await;
    mock.verify(&Expectation::method("RunJob").times(3))
        .unwrap();
    mock.verify(
        &Expectation::method("RunJob")
            .request_contains(json!({"command": "echo", "args": ["two"]}))
            .times(1),
    )
    .unwrap();
    mock.verify(
        &Expectation::method("RunJob")
            .code(tonic::Code::InvalidArgument)
            .times(1),
    )
    .unwrap();
    mock.verify(&Expectation::method("StopJob").never())
        .unwrap();
    // A failed verification says what was received.
    let err = mock
        .verify(&Expectation::method("RunJob").at_least(4))
        .unwrap_err()
        .to_string();
    assert!(err.contains("joblet.JobService/RunJob"), "{err}");
    assert!(err.contains("\"command\":\"echo\""), "{err}");
    let calls = mock.received_calls();
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0].request_json()["args"], json!(["one"]));
    assert_eq!(calls[2].code, tonic::Code::InvalidArgument);
}

#[tokio::test]
async fn the_journal_is_bounded_by_its_size() {
    let mock = start_with(
        joblet_mock::MockServer::builder().config(joblet_mock::MockConfig {
            journal_size: 2,
            ..Default::default()
        }),
    )
    .await;
    let mut jobs = jobs(&mock).await;
    for i in 0..5 {
        run(&mut jobs, cmd("echo", &[&i.to_string()])).await;
    }
    let calls = mock.received_calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].request_json()["args"], json!(["4"]));
    assert_eq!(mock.shared().journal.dropped(), 3);
}
