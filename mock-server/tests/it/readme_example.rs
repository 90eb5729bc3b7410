use joblet_mock::MockServer;
use joblet_testkit::pb::{RunJobRequest, job_service_client::JobServiceClient};

#[tokio::test]
async fn runs_a_job() -> Result<(), Box<dyn std::error::Error>> {
    let mock = MockServer::builder().gpus(2).start().await?;
    let mut jobs = JobServiceClient::connect(mock.url()).await?;
    let request = RunJobRequest { command: "echo".into(), args: vec!["hi".into()], ..Default::default() };
    let job = jobs.run_job(request).await?.into_inner();
    assert_eq!(job.status, "RUNNING");
    mock.shutdown().await?;
    Ok(())
}
