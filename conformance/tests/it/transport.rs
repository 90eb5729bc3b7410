//! The transport through a proxy: a failure of the connection is an Error of
//! the connection, never a behaviour Fail; a call the server never processed
//! is sent again; a proxy's HTTP answer is said in plain words.

use std::sync::Arc;

use bytes::Bytes;
use joblet_conformance::check::{self, CaseError};
use joblet_conformance::conn::{self, Lane, Rec, Transport};
use joblet_conformance::runner::judge_transport;
use joblet_testkit::pb;
use joblet_testkit::pb::job_service_client::JobServiceClient;
use tonic::{Code, Status};

#[test]
fn h2_and_cancellation_statuses_are_transport_errors_not_failures() {
    for status in [
        Status::internal("h2 protocol error: http2 error"),
        Status::cancelled("operation was canceled"),
        Status::unknown("transport error"),
        Status::unavailable(conn::not_grpc_message(http::StatusCode::BAD_GATEWAY)),
    ] {
        assert!(conn::is_transport_status(&status), "{status:?}");
        let r: Result<(), Status> = Err(status.clone());
        assert!(
            matches!(check::ok("RunJob", r), Err(CaseError::Error(_))),
            "{status:?}"
        );
        let r: Result<(), Status> = Err(status);
        assert!(matches!(
            check::code("StopJob", r, Code::NotFound),
            Err(CaseError::Error(_))
        ));
    }
    for status in [
        Status::internal("job stop failed: job not found"),
        Status::cancelled("the job was canceled"),
        Status::unavailable("node busy"),
    ] {
        assert!(!conn::is_transport_status(&status), "{status:?}");
    }
}

#[test]
fn a_proxys_413_is_said_plainly() {
    assert_eq!(
        conn::not_grpc_message(http::StatusCode::PAYLOAD_TOO_LARGE),
        "the proxy refused the request body (HTTP 413 Payload Too Large): not a gRPC answer"
    );
}

#[test]
fn a_failure_after_a_transport_failure_is_an_error_of_the_connection() {
    let fail = || {
        Ok(Err(check::fail(
            "ListJobs",
            "the job listed",
            "no such job",
        )))
    };
    let clean = Transport::default();
    assert!(matches!(
        judge_transport(fail(), &clean),
        Ok(Err(CaseError::Fail(_)))
    ));
    let broken = Transport::default();
    broken.record("RunJob: connection reset".into());
    match judge_transport(fail(), &broken) {
        Ok(Err(CaseError::Error(m))) => {
            assert!(
                m.starts_with("connection:") && m.contains("connection reset"),
                "{m}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(judge_transport(Ok(Ok(())), &broken).unwrap().is_ok());
}

#[test]
fn only_reads_are_sent_again_after_a_break() {
    assert!(conn::is_read("/joblet.JobService/GetJobStatus"));
    assert!(conn::is_read("/joblet.JobService/ListJobs"));
    assert!(!conn::is_read("/joblet.JobService/RunJob"));
    assert!(!conn::is_read("/joblet.JobService/DeleteJob"));
}

/// A tiny HTTP/2 server: the first stream of each connection is answered by
/// `first`, every later one with an empty gRPC OK.
async fn server(first: &'static str) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut conn = h2::server::handshake(sock).await.unwrap();
                let mut n = 0;
                while let Some(Ok((_req, mut respond))) = conn.accept().await {
                    n += 1;
                    if n == 1 && first == "refuse" {
                        respond.send_reset(h2::Reason::REFUSED_STREAM);
                        continue;
                    }
                    if first == "413" {
                        let res = http::Response::builder()
                            .status(413)
                            .header("content-type", "text/html")
                            .body(())
                            .unwrap();
                        let mut body = respond.send_response(res, false).unwrap();
                        let _ = body.send_data(Bytes::from_static(b"<html>413</html>"), true);
                        continue;
                    }
                    let res = http::Response::builder()
                        .status(200)
                        .header("content-type", "application/grpc")
                        .body(())
                        .unwrap();
                    let mut body = respond.send_response(res, false).unwrap();
                    let _ = body.send_data(Bytes::from_static(&[0, 0, 0, 0, 0]), false);
                    let mut trailers = http::HeaderMap::new();
                    trailers.insert("grpc-status", "0".parse().unwrap());
                    let _ = body.send_trailers(trailers);
                }
            });
        }
    });
    addr
}

async fn client(addr: std::net::SocketAddr) -> (JobServiceClient<Rec>, Arc<Transport>) {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let seen = Arc::new(Transport::default());
    let rec = Rec::new(Lane::new(channel, None), None, Arc::clone(&seen));
    (JobServiceClient::new(rec), seen)
}

#[tokio::test]
async fn a_refused_stream_is_sent_again() {
    let (mut jobs, seen) = client(server("refuse").await).await;
    let r = jobs.run_job(pb::RunJobRequest::default()).await;
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(seen.retried(), 1);
    assert_eq!(seen.failures(), 0);
}

#[tokio::test]
async fn a_non_grpc_answer_is_unavailable_in_plain_words() {
    let (mut jobs, seen) = client(server("413").await).await;
    let s = jobs
        .list_jobs(pb::EmptyRequest::default())
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::Unavailable);
    assert!(
        s.message()
            .starts_with("the proxy refused the request body (HTTP 413"),
        "{s:?}"
    );
    assert!(conn::is_transport_status(&s));
    assert_eq!(seen.failures(), 1);
}
