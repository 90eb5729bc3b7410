//! `joblet.JobService`: jobs (and, later, workflows).

use std::sync::Arc;

use joblet_testkit::pb;
use joblet_testkit::pb::job_service_server::JobService;
use tonic::{Request, Response, Status};

use super::{BoxStream, not_built, until_shutdown};
use crate::jobs;
use crate::state::Shared;

/// The job service over the shared state.
#[derive(Debug, Clone)]
pub struct JobSvc {
    shared: Arc<Shared>,
}

impl JobSvc {
    /// A job service over `shared`.
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

#[tonic::async_trait]
impl JobService for JobSvc {
    async fn run_job(
        &self,
        request: Request<pb::RunJobRequest>,
    ) -> Result<Response<pb::RunJobResponse>, Status> {
        Ok(Response::new(jobs::run(
            &self.shared,
            request.into_inner(),
        )?))
    }

    async fn get_job_status(
        &self,
        request: Request<pb::GetJobStatusReq>,
    ) -> Result<Response<pb::GetJobStatusRes>, Status> {
        Ok(Response::new(jobs::status(
            &self.shared,
            &request.get_ref().uuid,
        )?))
    }

    async fn stop_job(
        &self,
        request: Request<pb::StopJobReq>,
    ) -> Result<Response<pb::StopJobRes>, Status> {
        Ok(Response::new(jobs::stop(
            &self.shared,
            &request.get_ref().uuid,
        )?))
    }

    async fn cancel_job(
        &self,
        request: Request<pb::CancelJobReq>,
    ) -> Result<Response<pb::CancelJobRes>, Status> {
        Ok(Response::new(jobs::cancel(
            &self.shared,
            &request.get_ref().uuid,
        )?))
    }

    async fn delete_job(
        &self,
        request: Request<pb::DeleteJobReq>,
    ) -> Result<Response<pb::DeleteJobRes>, Status> {
        Ok(Response::new(jobs::delete(
            &self.shared,
            &request.get_ref().uuid,
        )?))
    }

    async fn delete_all_jobs(
        &self,
        _request: Request<pb::DeleteAllJobsReq>,
    ) -> Result<Response<pb::DeleteAllJobsRes>, Status> {
        Ok(Response::new(jobs::delete_all(&self.shared)))
    }

    type GetJobLogsStream = BoxStream<pb::DataChunk>;

    async fn get_job_logs(
        &self,
        request: Request<pb::GetJobLogsReq>,
    ) -> Result<Response<Self::GetJobLogsStream>, Status> {
        let reader = jobs::logs(&self.shared, &request.get_ref().uuid)?;
        // Replays, follows and ends with the job.
        let stream = futures::stream::unfold(reader, |mut reader| async move {
            let payload = reader.next().await?;
            Some((Ok(pb::DataChunk { payload }), reader))
        });
        Ok(Response::new(until_shutdown(
            stream,
            self.shared.closing.clone(),
        )))
    }

    async fn list_jobs(
        &self,
        _request: Request<pb::EmptyRequest>,
    ) -> Result<Response<pb::Jobs>, Status> {
        Ok(Response::new(jobs::list(&self.shared)))
    }

    async fn run_workflow(
        &self,
        _request: Request<pb::RunWorkflowRequest>,
    ) -> Result<Response<pb::RunWorkflowResponse>, Status> {
        Err(not_built("RunWorkflow", "workflows"))
    }

    async fn get_workflow_status(
        &self,
        _request: Request<pb::GetWorkflowStatusRequest>,
    ) -> Result<Response<pb::GetWorkflowStatusResponse>, Status> {
        Err(not_built("GetWorkflowStatus", "workflows"))
    }

    async fn list_workflows(
        &self,
        _request: Request<pb::ListWorkflowsRequest>,
    ) -> Result<Response<pb::ListWorkflowsResponse>, Status> {
        Err(not_built("ListWorkflows", "workflows"))
    }

    async fn get_workflow_jobs(
        &self,
        _request: Request<pb::GetWorkflowJobsRequest>,
    ) -> Result<Response<pb::GetWorkflowJobsResponse>, Status> {
        Err(not_built("GetWorkflowJobs", "workflows"))
    }
}
