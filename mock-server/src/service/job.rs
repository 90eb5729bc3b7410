//! `joblet.JobService`: jobs and workflows.

use joblet_testkit::pb::union as pb;
use joblet_testkit::pb::union::job_service_server::JobService;
use tonic::{Request, Response, Status};

use super::{BoxStream, Gate};
use crate::behaviour::Mutant;
use crate::jobs;
use crate::workflow::engine as workflows;

/// The job service.
#[derive(Debug, Clone)]
pub struct JobSvc {
    gate: Gate,
}

impl JobSvc {
    /// A job service behind `gate`.
    pub fn new(gate: Gate) -> Self {
        Self { gate }
    }
}

macro_rules! method {
    ($name:literal) => {
        concat!("joblet.JobService/", $name)
    };
}

#[tonic::async_trait]
impl JobService for JobSvc {
    async fn run_job(
        &self,
        request: Request<pb::RunJobRequest>,
    ) -> Result<Response<pb::RunJobResponse>, Status> {
        // AUTH-5 mutant: a viewer's RunJob got past the AuthLayer; it is
        // validated first and refused after.
        let viewer =
            request.extensions().get::<crate::auth::Role>() == Some(&crate::auth::Role::Viewer);
        self.gate
            .unary(method!("RunJob"), request, |s, mut r| async move {
                if viewer && s.mutant(Mutant::ValidateBeforeAuth) {
                    jobs::check_run(&s, r)?;
                    return Err(Status::permission_denied(
                        "role viewer is not allowed to perform operation RunJob",
                    ));
                }
                let api = s.config.api;
                super::fields::run_job_request(api, &mut r);
                let answer = jobs::run(&s, r)?;
                // JOB-RUN-11 mutant: the echo fields reach v1 clients of a v2 node.
                if s.mutant(crate::behaviour::Mutant::RunEchoOnV2) {
                    return Ok(answer);
                }
                Ok(super::fields::run_job(api, answer))
            })
            .await
    }

    async fn get_job_status(
        &self,
        request: Request<pb::GetJobStatusReq>,
    ) -> Result<Response<pb::GetJobStatusRes>, Status> {
        self.gate
            .unary(method!("GetJobStatus"), request, |s, r| async move {
                Ok(super::fields::job_status(
                    s.config.api,
                    jobs::status(&s, &r.uuid)?,
                ))
            })
            .await
    }

    async fn stop_job(
        &self,
        request: Request<pb::StopJobReq>,
    ) -> Result<Response<pb::StopJobRes>, Status> {
        self.gate
            .unary(method!("StopJob"), request, |s, r| async move {
                let stopped = jobs::stop(&s, &r.uuid)?;
                // WF-EXEC-2: a stopped workflow job's dependents move on now.
                workflows::advance(&s);
                Ok(stopped)
            })
            .await
    }

    async fn cancel_job(
        &self,
        request: Request<pb::CancelJobReq>,
    ) -> Result<Response<pb::CancelJobRes>, Status> {
        self.gate
            .unary(method!("CancelJob"), request, |s, r| async move {
                Ok(jobs::cancel(&s, &r.uuid)?)
            })
            .await
    }

    async fn delete_job(
        &self,
        request: Request<pb::DeleteJobReq>,
    ) -> Result<Response<pb::DeleteJobRes>, Status> {
        self.gate
            .unary(method!("DeleteJob"), request, |s, r| async move {
                Ok(jobs::delete(&s, &r.uuid)?)
            })
            .await
    }

    async fn delete_all_jobs(
        &self,
        request: Request<pb::DeleteAllJobsReq>,
    ) -> Result<Response<pb::DeleteAllJobsRes>, Status> {
        self.gate
            .unary(method!("DeleteAllJobs"), request, |s, _| async move {
                Ok(jobs::delete_all(&s))
            })
            .await
    }

    type GetJobLogsStream = BoxStream<pb::DataChunk>;

    async fn get_job_logs(
        &self,
        request: Request<pb::GetJobLogsReq>,
    ) -> Result<Response<Self::GetJobLogsStream>, Status> {
        self.gate
            .stream(method!("GetJobLogs"), request, |s, r| async move {
                let reader = jobs::logs(&s, &r.uuid)?;
                // QUIRK-10: a CANCELED job's stream does not end after its log.
                let tail = jobs::log_tail(&s, &r.uuid);
                // Replays, follows and ends with the job.
                let log = futures::stream::unfold(reader, |mut reader| async move {
                    let payload = reader.next().await?;
                    Some((Ok(pb::DataChunk { payload }), reader))
                });
                // JOB-LOGS-1 mutant: the last chunk is dropped.
                let log = drop_last_if(s.mutant(Mutant::LogsDropLastChunk), log);
                Ok(futures::StreamExt::chain(log, tail))
            })
            .await
    }

    type StreamJobMetricsStream = BoxStream<pb::JobMetricsEvent>;

    async fn stream_job_metrics(
        &self,
        request: Request<pb::StreamJobMetricsRequest>,
    ) -> Result<Response<Self::StreamJobMetricsStream>, Status> {
        self.gate
            .stream(method!("StreamJobMetrics"), request, |s, r| async move {
                let samples = jobs::stream_metrics(&s, &r.job_uuid)?;
                Ok(futures::StreamExt::map(samples, Ok))
            })
            .await
    }

    type GetJobMetricsStream = BoxStream<pb::JobMetricsEvent>;

    async fn get_job_metrics(
        &self,
        request: Request<pb::GetJobMetricsRequest>,
    ) -> Result<Response<Self::GetJobMetricsStream>, Status> {
        self.gate
            .stream(method!("GetJobMetrics"), request, |s, r| async move {
                let samples = jobs::get_metrics(&s, &r)?;
                Ok(futures::StreamExt::map(samples, Ok))
            })
            .await
    }

    type StreamJobTelematicsStream = BoxStream<pb::TelematicsEvent>;

    async fn stream_job_telematics(
        &self,
        request: Request<pb::StreamJobTelematicsRequest>,
    ) -> Result<Response<Self::StreamJobTelematicsStream>, Status> {
        self.gate
            .stream(method!("StreamJobTelematics"), request, |s, r| async move {
                let events = jobs::stream_telematics(&s, &r.job_uuid, &r.types)?;
                Ok(futures::StreamExt::map(events, Ok))
            })
            .await
    }

    type GetJobTelematicsStream = BoxStream<pb::TelematicsEvent>;

    async fn get_job_telematics(
        &self,
        request: Request<pb::GetJobTelematicsRequest>,
    ) -> Result<Response<Self::GetJobTelematicsStream>, Status> {
        self.gate
            .stream(method!("GetJobTelematics"), request, |s, r| async move {
                let events = jobs::get_telematics(&s, &r)?;
                Ok(futures::StreamExt::map(events, Ok))
            })
            .await
    }

    async fn list_jobs(
        &self,
        request: Request<pb::EmptyRequest>,
    ) -> Result<Response<pb::Jobs>, Status> {
        self.gate
            .unary(method!("ListJobs"), request, |s, _| async move {
                Ok(super::fields::jobs(s.config.api, jobs::list(&s)?))
            })
            .await
    }

    async fn run_workflow(
        &self,
        request: Request<pb::RunWorkflowRequest>,
    ) -> Result<Response<pb::RunWorkflowResponse>, Status> {
        self.gate
            .unary(method!("RunWorkflow"), request, |s, r| async move {
                Ok(workflows::run(&s, r)?)
            })
            .await
    }

    async fn get_workflow_status(
        &self,
        request: Request<pb::GetWorkflowStatusRequest>,
    ) -> Result<Response<pb::GetWorkflowStatusResponse>, Status> {
        self.gate
            .unary(method!("GetWorkflowStatus"), request, |s, r| async move {
                Ok(workflows::status(&s, &r.workflow_uuid)?)
            })
            .await
    }

    async fn list_workflows(
        &self,
        request: Request<pb::ListWorkflowsRequest>,
    ) -> Result<Response<pb::ListWorkflowsResponse>, Status> {
        self.gate
            .unary(method!("ListWorkflows"), request, |s, r| async move {
                Ok(workflows::list(&s, r.include_completed))
            })
            .await
    }

    async fn get_workflow_jobs(
        &self,
        request: Request<pb::GetWorkflowJobsRequest>,
    ) -> Result<Response<pb::GetWorkflowJobsResponse>, Status> {
        self.gate
            .unary(method!("GetWorkflowJobs"), request, |s, r| async move {
                Ok(workflows::jobs(&s, &r.workflow_uuid)?)
            })
            .await
    }
}

/// JOB-LOGS-1 mutant: `stream` without its last item when `on` (each item is
/// held back until the next one arrives).
fn drop_last_if<S, T>(on: bool, stream: S) -> impl futures::Stream<Item = T> + Send + 'static
where
    S: futures::Stream<Item = T> + Send + 'static,
    T: Send + 'static,
{
    let stream = Box::pin(stream);
    futures::stream::unfold((stream, None), move |(mut stream, mut held)| async move {
        loop {
            let item = futures::StreamExt::next(&mut stream).await?;
            if !on {
                return Some((item, (stream, held)));
            }
            if let Some(previous) = held.replace(item) {
                return Some((previous, (stream, held)));
            }
        }
    })
}
