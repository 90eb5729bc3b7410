//! Sessions (`x-joblet-mock-session` metadata): isolated nodes behind one port.

use joblet_mock::MockServer;
use joblet_mock::SESSION_HEADER;
use joblet_testkit::pb;
use tonic::Request;

use crate::support::*;

async fn list(jobs: &mut Jobs, session: Option<&str>) -> Vec<String> {
    let req = match session {
        Some(s) => in_session(s, pb::EmptyRequest {}),
        None => Request::new(pb::EmptyRequest {}),
    };
    jobs.list_jobs(req)
        .await
        .expect("ListJobs")
        .into_inner()
        .jobs
        .into_iter()
        .map(|j| j.uuid)
        .collect()
}

#[tokio::test]
async fn two_sessions_do_not_see_each_other() {
    let mock = start_with(MockServer::builder()).await;
    let mut jobs = jobs(&mock).await;
    let mut networks = networks(&mock).await;
    let a = jobs
        .run_job(in_session("a", cmd("echo", &["from a"])))
        .await
        .unwrap()
        .into_inner()
        .job_uuid;
    let b = jobs
        .run_job(in_session("b", cmd("echo", &["from b"])))
        .await
        .unwrap()
        .into_inner()
        .job_uuid;
    assert_eq!(list(&mut jobs, Some("a")).await, std::slice::from_ref(&a));
    assert_eq!(list(&mut jobs, Some("b")).await, std::slice::from_ref(&b));
    assert!(list(&mut jobs, None).await.is_empty());
    // A job of session a is not found from session b.
    let err = jobs
        .get_job_status(in_session("b", pb::GetJobStatusReq { uuid: a.clone() }))
        .await
        .unwrap_err();
    assert_code(&err, tonic::Code::NotFound, "not found");
    // Networks too: the same name in two sessions is no conflict.
    for s in ["a", "b"] {
        networks
            .create_network(in_session(
                s,
                pb::CreateNetworkReq {
                    name: "shared-name".into(),
                    cidr: "10.9.0.0/24".into(),
                },
            ))
            .await
            .unwrap_or_else(|e| panic!("session {s}: {e}"));
    }
    // Resetting one leaves the other alone.
    mock.reset("a").unwrap();
    assert!(list(&mut jobs, Some("a")).await.is_empty());
    assert_eq!(list(&mut jobs, Some("b")).await, [b]);
    // Each session keeps its own journal.
    let a_calls = mock.session("a").unwrap().journal.calls();
    assert!(a_calls.iter().all(|c| c.session == "a"));
}

#[tokio::test]
async fn a_bad_session_name_is_invalid_argument() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let err = jobs
        .list_jobs(in_session("no spaces allowed", pb::EmptyRequest {}))
        .await
        .unwrap_err();
    assert_code(&err, tonic::Code::InvalidArgument, SESSION_HEADER);
}
