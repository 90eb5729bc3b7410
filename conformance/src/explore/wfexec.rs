//! Making a workflow call on the target and reducing its answer; and the
//! cleanup of what a sequence's workflows started: every job of theirs is
//! stopped (their pending dependents are then canceled) and deleted.
//! Workflow records have no removal RPC.

use joblet_testkit::pb;

use super::call::{Answer, JobView};
use super::exec::{Clients, err, list_view, status_view, timed};
use super::wfcall::{Info, Row, WfAnswer, WfCall};
use crate::cleanup::{Leak, Resource};

fn info(w: pb::WorkflowInfo) -> Info {
    Info {
        uuid: w.uuid,
        status: w.status,
        counters: (
            w.total_jobs,
            w.completed_jobs,
            w.failed_jobs,
            w.canceled_jobs,
        ),
    }
}

fn rows(jobs: Vec<pb::WorkflowJob>) -> Vec<Row> {
    jobs.into_iter()
        .map(|j| Row {
            uuid: j.job_uuid,
            name: j.job_name,
            status: j.status,
            deps: j.dependencies,
        })
        .collect()
}

/// Makes `call` on the target.
pub async fn execute(c: &Clients, call: &WfCall) -> Answer {
    let mut jobs = c.job_client();
    let r = match call {
        WfCall::Run {
            workflow,
            yaml,
            files,
            ..
        } => timed(
            jobs.run_workflow(pb::RunWorkflowRequest {
                workflow: workflow.clone(),
                yaml_content: yaml.clone(),
                workflow_files: files
                    .iter()
                    .map(|(p, content)| pb::FileUpload {
                        path: p.clone(),
                        content: content.clone().into_bytes(),
                        mode: 0o644,
                        is_directory: false,
                    })
                    .collect(),
                ..Default::default()
            }),
        )
        .await
        .map(|r| Answer::Wf(WfAnswer::Run(r.workflow_uuid, r.status))),
        WfCall::Status(id) => timed(jobs.get_workflow_status(pb::GetWorkflowStatusRequest {
            workflow_uuid: id.id.clone(),
        }))
        .await
        .map(|r| Answer::Wf(WfAnswer::Status(r.workflow.map(info), rows(r.jobs)))),
        WfCall::Jobs(id) => timed(jobs.get_workflow_jobs(pb::GetWorkflowJobsRequest {
            workflow_uuid: id.id.clone(),
        }))
        .await
        .map(|r| Answer::Wf(WfAnswer::Jobs(rows(r.jobs)))),
        WfCall::List(all, ours) => timed(jobs.list_workflows(pb::ListWorkflowsRequest {
            include_completed: *all,
        }))
        .await
        .map(|r| {
            Answer::Wf(WfAnswer::List(
                r.workflows
                    .into_iter()
                    .filter(|w| ours.contains(&w.uuid))
                    .map(info)
                    .collect(),
            ))
        }),
        WfCall::JobStatus { uuid, .. } => {
            timed(jobs.get_job_status(pb::GetJobStatusReq { uuid: uuid.clone() }))
                .await
                .map(|s| Answer::Status(status_view(s)))
        }
        WfCall::ListJobs(known) => timed(jobs.list_jobs(pb::EmptyRequest {})).await.map(|l| {
            let views: Vec<JobView> = l
                .jobs
                .into_iter()
                .filter(|j| known.iter().any(|(_, _, u)| *u == j.uuid))
                .map(list_view)
                .collect();
            Answer::Jobs(views)
        }),
    };
    r.unwrap_or_else(err)
}

const FINAL: &[&str] = &["COMPLETED", "FAILED", "STOPPED", "CANCELED"];

/// The jobs workflow `id` started, once none of them can start any more:
/// the active ones are stopped (their dependents are then canceled), for
/// 15 s at most (a node may start a workflow's jobs on a timer). `Err`: why they could not be listed.
pub async fn cleanup_jobs(c: &Clients, id: &str) -> Result<Vec<String>, String> {
    let mut jobs = c.job_client();
    let mut uuids: Vec<String> = Vec::new();
    for attempt in 0..150 {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let s = timed_status(&mut jobs, id).await?;
        let mut settled = true;
        for j in s {
            let started = !j.job_uuid.is_empty() && j.job_uuid != "0";
            if started && !uuids.contains(&j.job_uuid) {
                uuids.push(j.job_uuid.clone());
            }
            if !FINAL.contains(&j.status.as_str()) {
                settled = false;
                if started {
                    let _ = c.stop(&j.job_uuid).await;
                }
            }
        }
        if settled {
            return Ok(uuids);
        }
    }
    Err(format!(
        "jobs of workflow {id} still not final after 15 s (started: {uuids:?})"
    ))
}

/// `created`, with every job its workflows started (each stopped), and
/// the workflows whose jobs could not be listed or stopped.
pub async fn expand(c: &Clients, created: Vec<Resource>) -> (Vec<Resource>, Vec<Leak>) {
    let mut out = created.clone();
    let mut leaks = Vec::new();
    for r in &created {
        let Resource::Workflow(id) = r else { continue };
        match cleanup_jobs(c, id).await {
            Ok(jobs) => out.extend(jobs.into_iter().map(Resource::Job)),
            Err(reason) => leaks.push(Leak {
                case: "explore".into(),
                resource: r.clone(),
                reason,
            }),
        }
    }
    (out, leaks)
}

async fn timed_status(
    jobs: &mut pb::job_service_client::JobServiceClient<tonic::transport::Channel>,
    id: &str,
) -> Result<Vec<pb::WorkflowJob>, String> {
    timed(jobs.get_workflow_status(pb::GetWorkflowStatusRequest {
        workflow_uuid: id.to_owned(),
    }))
    .await
    .map(|r| r.jobs)
    .map_err(|s| format!("{}: {}", joblet_testkit::code_name(s.code()), s.message()))
}
