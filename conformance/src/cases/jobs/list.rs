//! ListJobs: finished and running jobs with their fields (JOB-LIST-*).

use joblet_testkit::pb;

use crate::case;
use crate::case::Case;
use crate::cases::shapes;
use crate::check::{self, CaseResult, ensure, ensure_eq, fail};
use crate::ctx::Ctx;

pub(crate) const CASES: &[Case] = &[case!(
    "jobs.list.reports_finished_and_running_jobs",
    ["JOB-LIST-1"],
    Must,
    Mutating,
    "ListJobs reports the run's finished and running jobs with their fields",
    list_jobs
)];

async fn list_jobs(cx: Ctx) -> CaseResult {
    let done = cx.start("echo", &[&cx.marker()]).await?;
    cx.wait_final(&done).await?;
    let running = cx.start_long().await?;
    let list = check::ok("ListJobs", cx.jobs().list_jobs(pb::EmptyRequest {}).await)?.into_inner();
    for (id, status, command) in [(&done, "COMPLETED", "echo"), (&running, "RUNNING", "sleep")] {
        let Some(j) = list.jobs.iter().find(|j| &j.uuid == id) else {
            return Err(fail(
                "ListJobs",
                format!("the {status} job {id} of this run"),
                format!("{} jobs, not that one", list.jobs.len()),
            ));
        };
        let call = format!("ListJobs entry {id}");
        ensure_eq(&call, "status", status, j.status.as_str())?;
        ensure_eq(&call, "command", command, j.command.as_str())?;
        ensure(
            shapes::is_job_time(&j.start_time),
            &call,
            "startTime in RFC 3339",
            format!("startTime {:?}", j.start_time),
        )?;
        ensure(!j.node_id.is_empty(), &call, "a nodeId", "nodeId \"\"")?;
    }
    Ok(())
}
