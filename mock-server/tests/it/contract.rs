//! The two wire contracts (`--api both|v1|v2`): which methods a node serves
//! (CONTRACT-1), how it names its contract (CONTRACT-2, in monitoring.rs),
//! side-effect-free probes (CONTRACT-3), the fields of each contract, and the
//! v2 behaviours of the shared job methods: RunJob's answer (JOB-RUN-11), its
//! `timeout` (JOB-TIMEOUT-1..4) and GetJobLogs' empty ID (JOB-LOGS-4).

use std::time::Duration;

use joblet_mock::{Api, ClockMode, MockConfig, MockServer, RunningMock};
use joblet_testkit::pb::{v1, v2};
use tonic::Code;
use tonic::transport::Channel;

use crate::support::*;

async fn start_api(api: Api, clock: ClockMode) -> RunningMock {
    start_with(MockServer::builder().config(MockConfig {
        api,
        clock,
        ..MockConfig::default()
    }))
    .await
}

async fn v2_jobs(mock: &RunningMock) -> v2::job_service_client::JobServiceClient<Channel> {
    v2::job_service_client::JobServiceClient::new(channel(&mock.url()).await)
}

fn expect_unknown_method<T: std::fmt::Debug>(
    r: Result<tonic::Response<T>, tonic::Status>,
    method: &str,
    service: &str,
) {
    let status = r.expect_err("the method is not served");
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    assert_eq!(
        status.message(),
        format!("unknown method {method} for service joblet.{service}")
    );
}

/// CONTRACT-1: a node of one contract answers the other's methods
/// UNIMPLEMENTED as a Go server does; a node of both serves all 35.
#[tokio::test]
async fn contract_1_each_mode_serves_its_methods() {
    for api in [Api::V1, Api::V2, Api::Both] {
        let mock = start_api(api, ClockMode::Real).await;
        let ch = channel(&mock.url()).await;
        let mut rt2 = v2::runtime_service_client::RuntimeServiceClient::new(ch.clone());
        let yaml = rt2
            .validate_runtime_yaml(v2::ValidateRuntimeYamlRequest::default())
            .await;
        let mut jobs1 = v1::job_service_client::JobServiceClient::new(ch.clone());
        let workflows = jobs1
            .list_workflows(v1::ListWorkflowsRequest::default())
            .await;
        if api.serves_v2() {
            // Served (built or not yet): never "unknown method".
            if let Err(s) = &yaml {
                assert!(!s.message().starts_with("unknown method"), "{s:?}");
            }
        } else {
            expect_unknown_method(yaml, "ValidateRuntimeYAML", "RuntimeService");
        }
        if api.serves_v1() {
            workflows.expect("ListWorkflows is served");
        } else {
            expect_unknown_method(workflows, "ListWorkflows", "JobService");
        }
        // The shared methods are served in every mode.
        jobs1
            .list_jobs(v1::EmptyRequest::default())
            .await
            .expect("ListJobs is served");
        mock.shutdown().await.unwrap();
    }
}

/// CONTRACT-1: refused whatever the role: a viewer gets UNIMPLEMENTED, not
/// PERMISSION_DENIED, for a method the node does not have.
#[tokio::test]
async fn contract_1_other_contract_is_unimplemented_for_every_role() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockServer::builder()
        .config(MockConfig {
            api: Api::V2,
            ..MockConfig::default()
        })
        .tls(joblet_mock::TlsSetup::Generate(dir.path().to_owned()))
        .start()
        .await
        .unwrap();
    let target = mock.tls_target(joblet_mock::Role::Viewer).unwrap();
    let ch = target.connect().await.unwrap();
    let r = v1::job_service_client::JobServiceClient::new(ch)
        .run_workflow(v1::RunWorkflowRequest::default())
        .await;
    expect_unknown_method(r, "RunWorkflow", "JobService");
    mock.shutdown().await.unwrap();
}

/// JOB-RUN-11: a node of v2 alone answers RunJob with the job's UUID and
/// status only, to a v1 client too; a node of both echoes for v1 clients.
#[tokio::test]
async fn job_run_11_run_job_answers_uuid_and_status() {
    for (api, echoed) in [(Api::V2, false), (Api::Both, true), (Api::V1, true)] {
        let mock = start_api(api, ClockMode::Real).await;
        let mut jobs = jobs(&mock).await;
        let r = run(&mut jobs, cmd("echo", &["hi"])).await;
        assert!(is_v4_uuid(&r.job_uuid), "{r:?}");
        assert_eq!(r.status, "RUNNING");
        assert_eq!(r.command == "echo", echoed, "--api {}: {r:?}", api.name());
        mock.shutdown().await.unwrap();
    }
}

/// CONTRACT-1: the answer fields only one contract has stay empty on a node
/// of the other; a node of both fills them all.
#[tokio::test]
async fn contract_1_fields_of_the_other_contract_stay_empty() {
    for api in [Api::V1, Api::V2, Api::Both] {
        let mock = start_api(api, ClockMode::Real).await;
        let mut jobs = jobs(&mock).await;
        let req = v1::RunJobRequest {
            name: "named".into(),
            ..cmd("echo", &["hi"])
        };
        let id = run(&mut jobs, req).await.job_uuid;
        // A v2 client's timeout rides along (unknown field to the v1 type).
        let mut jobs2 = v2_jobs(&mock).await;
        let id2 = jobs2
            .run_job(v2::RunJobRequest {
                command: "echo".into(),
                timeout: "5m".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .job_uuid;
        let s1 = jobs
            .get_job_status(v1::GetJobStatusReq { uuid: id.clone() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(s1.name, if api.serves_v1() { "named" } else { "" });
        let s2 = jobs2
            .get_job_status(v2::GetJobStatusRequest { uuid: id2 })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(s2.timeout, if api.serves_v2() { "5m" } else { "" });
        let status =
            v2::monitoring_service_client::MonitoringServiceClient::new(channel(&mock.url()).await)
                .get_system_status(v2::EmptyRequest::default())
                .await
                .unwrap()
                .into_inner();
        let eth0 = &status.networks[0];
        assert_eq!(!eth0.mac_address.is_empty(), api.serves_v2(), "{eth0:?}");
        let status1 = monitoring(&mock)
            .await
            .get_system_status(v1::EmptyRequest::default())
            .await
            .unwrap()
            .into_inner();
        let host = status1.host.unwrap();
        assert_eq!(host.cpu_count > 0, api.serves_v1(), "{host:?}");
        mock.shutdown().await.unwrap();
    }
}

/// JOB-TIMEOUT-1/2: Go durations; anything else is refused naming the field,
/// and nothing starts. A node of v1 alone has no such field.
#[tokio::test]
async fn job_timeout_1_2_timeout_syntax() {
    let mock = start_api(Api::Both, ClockMode::Manual).await;
    let mut jobs2 = v2_jobs(&mock).await;
    for ok in ["", "0", "30s", "1h30m", "1.5h", "250ms", "0s"] {
        jobs2
            .run_job(v2::RunJobRequest {
                command: "echo".into(),
                timeout: ok.into(),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("timeout {ok:?}: {e:?}"));
    }
    let before = jobs(&mock)
        .await
        .list_jobs(v1::EmptyRequest::default())
        .await
        .unwrap();
    for bad in ["5", "-1s", "abc", "1x", "30 s", "99999999999h"] {
        let e = jobs2
            .run_job(v2::RunJobRequest {
                command: "echo".into(),
                timeout: bad.into(),
                ..Default::default()
            })
            .await
            .expect_err(bad);
        assert_eq!(e.code(), Code::InvalidArgument, "{bad}: {e:?}");
        assert_eq!(
            e.message(),
            format!("invalid request: invalid timeout: {bad}")
        );
    }
    let after = jobs(&mock)
        .await
        .list_jobs(v1::EmptyRequest::default())
        .await
        .unwrap();
    assert_eq!(
        before.into_inner().jobs.len(),
        after.into_inner().jobs.len()
    );
    mock.shutdown().await.unwrap();
    // v1 alone: the field is unknown, so a bad value changes nothing.
    let mock = start_api(Api::V1, ClockMode::Manual).await;
    v2_jobs(&mock)
        .await
        .run_job(v2::RunJobRequest {
            command: "echo".into(),
            timeout: "abc".into(),
            ..Default::default()
        })
        .await
        .expect("a v1 node ignores field 21");
    mock.shutdown().await.unwrap();
}

/// JOB-TIMEOUT-3/4: the limit counts from the start of the run; on expiry the
/// job ends TIMEOUT with exit code 124; the string is echoed in GetJobStatus
/// and ListJobs; StopJob then answers FAILED_PRECONDITION and DeleteJob works.
#[tokio::test]
async fn job_timeout_3_4_expiry_and_echo() {
    let mock = start_api(Api::Both, ClockMode::Manual).await;
    let mut jobs2 = v2_jobs(&mock).await;
    let id = jobs2
        .run_job(v2::RunJobRequest {
            command: "sleep".into(),
            args: vec!["600".into()],
            timeout: "30s".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .job_uuid;
    let quick = jobs2
        .run_job(v2::RunJobRequest {
            command: "sleep".into(),
            args: vec!["5".into()],
            timeout: "30s".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .job_uuid;
    mock.advance_clock("", Duration::from_secs(29))
        .await
        .unwrap();
    let mut v1jobs = jobs(&mock).await;
    let s = status(&mut v1jobs, &id).await;
    assert_eq!(s.status, "RUNNING", "29 s into a 30 s limit: {s:?}");
    let q = wait_final(&v1jobs, &quick).await;
    assert_eq!((q.status.as_str(), q.exit_code), ("COMPLETED", 0), "{q:?}");
    mock.advance_clock("", Duration::from_secs(2))
        .await
        .unwrap();
    let s = wait_final(&v1jobs, &id).await;
    assert_eq!((s.status.as_str(), s.exit_code), ("TIMEOUT", 124), "{s:?}");
    assert!(!s.end_time.is_empty());
    let s2 = jobs2
        .get_job_status(v2::GetJobStatusRequest { uuid: id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (s2.status.as_str(), s2.timeout.as_str()),
        ("TIMEOUT", "30s")
    );
    let listed = jobs2
        .list_jobs(v2::EmptyRequest::default())
        .await
        .unwrap()
        .into_inner();
    let job = listed.jobs.iter().find(|j| j.uuid == id).unwrap();
    assert_eq!(
        (job.status.as_str(), job.timeout.as_str()),
        ("TIMEOUT", "30s")
    );
    let stop = jobs2
        .stop_job(v2::StopJobRequest { uuid: id.clone() })
        .await
        .expect_err("a timed-out job is not running");
    assert_eq!(stop.code(), Code::FailedPrecondition);
    jobs2
        .delete_job(v2::DeleteJobRequest { uuid: id })
        .await
        .expect("a timed-out job is deleted");
    mock.shutdown().await.unwrap();
}

/// JOB-TIMEOUT-3: a scheduled job's wait does not count.
#[tokio::test]
async fn job_timeout_3_counts_from_the_start_not_the_schedule() {
    let mock = start_api(Api::Both, ClockMode::Manual).await;
    let mut v1jobs = jobs(&mock).await;
    let sched = scheduled(cmd("sleep", &["600"]), 3600);
    let id = v2_jobs(&mock)
        .await
        .run_job(v2::RunJobRequest {
            command: sched.command,
            args: sched.args,
            schedule: sched.schedule,
            timeout: "1m".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .job_uuid;
    mock.advance_clock("", Duration::from_secs(3600 + 59))
        .await
        .unwrap();
    let s = status(&mut v1jobs, &id).await;
    assert_eq!(s.status, "RUNNING", "{s:?}");
    mock.advance_clock("", Duration::from_secs(2))
        .await
        .unwrap();
    let s = wait_final(&v1jobs, &id).await;
    assert_eq!((s.status.as_str(), s.exit_code), ("TIMEOUT", 124), "{s:?}");
    mock.shutdown().await.unwrap();
}

/// JOB-LOGS-4: an empty job UUID, in a v2 node's words.
#[tokio::test]
async fn job_logs_4_empty_uuid_is_refused() {
    let mock = start_api(Api::V2, ClockMode::Real).await;
    let mut jobs2 = v2_jobs(&mock).await;
    let e = match jobs2
        .get_job_logs(v2::GetJobLogsRequest {
            uuid: String::new(),
        })
        .await
    {
        Err(e) => e,
        Ok(mut stream) => stream
            .get_mut()
            .message()
            .await
            .expect_err("an empty UUID is refused"),
    };
    assert_eq!(
        (e.code(), e.message()),
        (Code::InvalidArgument, "job_uuid is required")
    );
    mock.shutdown().await.unwrap();
}
