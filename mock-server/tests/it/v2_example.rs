use joblet_mock::{ClockMode, Expectation, MockConfig, MockServer};
use joblet_testkit::pb::v2::job_service_client::JobServiceClient;
use joblet_testkit::pb::v2::{GetJobLogsRequest, GetJobStatusRequest, RunJobRequest};

#[tokio::test]
async fn a_v2_job_past_its_timeout_ends_timeout() -> Result<(), Box<dyn std::error::Error>> {
    // Both contracts on the same port by default; a virtual clock skips the wait.
    let config = MockConfig { clock: ClockMode::Virtual, ..MockConfig::default() };
    let mock = MockServer::builder().config(config).start().await?;
    let mut jobs = JobServiceClient::connect(mock.url()).await?;
    let request = RunJobRequest { command: "sleep".into(), args: vec!["60".into()], timeout: "5s".into(), ..Default::default() };
    let job = jobs.run_job(request).await?.into_inner();
    let mut logs = jobs.get_job_logs(GetJobLogsRequest { uuid: job.job_uuid.clone() }).await?.into_inner();
    while logs.message().await?.is_some() {} // ends with the job
    let status = jobs.get_job_status(GetJobStatusRequest { uuid: job.job_uuid }).await?.into_inner();
    assert_eq!((status.status.as_str(), status.exit_code, status.timeout.as_str()), ("TIMEOUT", 124, "5s"));
    mock.verify(&Expectation::method("RunJob").request_contains(serde_json::json!({"timeout": "5s"})).times(1))?;
    mock.shutdown().await?;
    Ok(())
}
