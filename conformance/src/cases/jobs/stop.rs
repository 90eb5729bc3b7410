//! Ending and removing jobs: StopJob, CancelJob, DeleteJob and DeleteAllJobs (JOB-STOP-*, JOB-CANCEL-*, JOB-DEL-*, JOB-DELALL-*).

use joblet_testkit::pb;
use tonic::Code;

use crate::case;
use crate::case::Case;
use crate::cases::shapes;
use crate::check::{self, CaseResult, ensure, ensure_eq};
use crate::ctx::{Ctx, sh};

pub(crate) const CASES: &[Case] = &[
    case!(
        "jobs.stop.running_job_ends_stopped",
        ["JOB-STOP-1"],
        Must,
        Mutating,
        "StopJob on a RUNNING job: GetJobStatus then shows STOPPED, exit code -1, endTime",
        stop_running
    ),
    case!(
        "jobs.stop.answer_carries_the_final_state",
        ["JOB-STOP-1"],
        Must,
        Mutating,
        "StopJob's answer carries uuid, status STOPPED, endTime and exit code -1",
        stop_answer,
        quirks = ["QUIRK-10"],
        quirks_v2 = ["QUIRK-15"],
    ),
    case!(
        "jobs.stop.scheduled_job_is_canceled",
        ["JOB-STOP-2"],
        Must,
        Mutating,
        "StopJob on a SCHEDULED job ends it CANCELED",
        stop_scheduled
    ),
    case!(
        "jobs.stop.finished_job_is_failed_precondition",
        ["JOB-STOP-3"],
        Must,
        Mutating,
        "StopJob on a finished job answers FAILED_PRECONDITION \"job is not running\"",
        stop_finished,
        quirks = ["QUIRK-2"]
    ),
    case!(
        "jobs.stop.unknown_job_is_not_found",
        ["ALL-4"],
        Must,
        Mutating,
        "StopJob of an unknown ID answers NOT_FOUND",
        stop_unknown,
        quirks = ["QUIRK-2"]
    ),
    case!(
        "jobs.cancel.scheduled_job_is_canceled_and_kept",
        ["JOB-CANCEL-1"],
        Must,
        Mutating,
        "CancelJob on a SCHEDULED job answers {uuid, CANCELED} and the job stays in history",
        cancel_scheduled,
        quirks = ["QUIRK-1"]
    ),
    case!(
        "jobs.cancel.other_states_are_failed_precondition",
        ["JOB-CANCEL-2"],
        Must,
        Mutating,
        "CancelJob on a RUNNING or finished job answers FAILED_PRECONDITION; unknown NOT_FOUND",
        cancel_other,
        quirks = ["QUIRK-1"]
    ),
    case!(
        "jobs.delete.finished_job_and_logs_are_gone",
        ["JOB-DEL-1"],
        Must,
        Mutating,
        "DeleteJob on finished and canceled jobs answers success; status and logs are NOT_FOUND after",
        delete_finished
    ),
    case!(
        "jobs.delete.active_job_is_failed_precondition",
        ["JOB-DEL-2"],
        Must,
        Mutating,
        "DeleteJob on a RUNNING or SCHEDULED job answers FAILED_PRECONDITION \"stop the job first\"; unknown NOT_FOUND",
        delete_active,
        quirks = ["QUIRK-2"]
    ),
    case!(
        "jobs.delete_all.deletes_finished_and_skips_active",
        ["JOB-DELALL-1"],
        Must,
        Mutating,
        "DeleteAllJobs deletes finished jobs, skips RUNNING and SCHEDULED ones, and counts both",
        delete_all,
        needs = [DeleteAll],
        exclusive = true
    ),
];

async fn stop_running(cx: Ctx) -> CaseResult {
    let id = cx.start_long().await?;
    cx.stop(&id).await?;
    let s = cx.wait_final(&id).await?;
    let call = format!("GetJobStatus{{uuid: {id}}} after StopJob");
    ensure_eq(&call, "status", "STOPPED", s.status.as_str())?;
    ensure_eq(&call, "exitCode", &-1, &s.exit_code)?;
    ensure(
        shapes::is_job_time(&s.end_time),
        &call,
        "endTime set",
        format!("endTime {:?}", s.end_time),
    )
}

async fn stop_answer(cx: Ctx) -> CaseResult {
    let id = cx.start_long().await?;
    let r = cx.stop(&id).await?;
    let call = format!("StopJob{{uuid: {id}}} on a RUNNING job");
    ensure_eq(&call, "uuid", id.as_str(), r.uuid.as_str())?;
    ensure_eq(&call, "status", "STOPPED", r.status.as_str())?;
    ensure_eq(&call, "exitCode", &-1, &r.exit_code)?;
    ensure(
        shapes::is_job_time(&r.end_time),
        &call,
        "endTime set",
        format!("endTime {:?}", r.end_time),
    )
}

async fn stop_scheduled(cx: Ctx) -> CaseResult {
    let id = cx.start_scheduled().await?;
    cx.stop(&id).await?;
    let s = cx.status(&id).await?;
    ensure_eq(
        &format!("GetJobStatus{{uuid: {id}}} after StopJob on SCHEDULED"),
        "status",
        "CANCELED",
        s.status.as_str(),
    )
}

async fn stop_finished(cx: Ctx) -> CaseResult {
    let id = cx.start("true", &[]).await?;
    cx.wait_final(&id).await?;
    let r = cx
        .jobs()
        .stop_job(pb::StopJobReq { uuid: id.clone() })
        .await;
    check::code_naming(
        &format!("StopJob{{uuid: {id}}} on a COMPLETED job"),
        r,
        Code::FailedPrecondition,
        &["not running"],
    )?;
    let s = cx.status(&id).await?;
    ensure_eq(
        &format!("GetJobStatus{{uuid: {id}}} after the refused StopJob"),
        "status",
        "COMPLETED",
        s.status.as_str(),
    )
}

async fn stop_unknown(cx: Ctx) -> CaseResult {
    let id = uuid::Uuid::new_v4().to_string();
    let r = cx
        .jobs()
        .stop_job(pb::StopJobReq { uuid: id.clone() })
        .await;
    check::code(
        &format!("StopJob{{uuid: {id}}} (unknown)"),
        r,
        Code::NotFound,
    )?;
    Ok(())
}

async fn cancel_scheduled(cx: Ctx) -> CaseResult {
    let id = cx.start_scheduled().await?;
    let call = format!("CancelJob{{uuid: {id}}} on a SCHEDULED job");
    let r = check::ok(
        &call,
        cx.jobs()
            .cancel_job(pb::CancelJobReq { uuid: id.clone() })
            .await,
    )?
    .into_inner();
    ensure_eq(&call, "uuid", id.as_str(), r.uuid.as_str())?;
    ensure_eq(&call, "status", "CANCELED", r.status.as_str())?;
    let s = cx.status(&id).await?;
    ensure_eq(
        &format!("GetJobStatus{{uuid: {id}}} after CancelJob"),
        "status",
        "CANCELED",
        s.status.as_str(),
    )
}

async fn cancel_other(cx: Ctx) -> CaseResult {
    let running = cx.start_long().await?;
    let r = cx
        .jobs()
        .cancel_job(pb::CancelJobReq {
            uuid: running.clone(),
        })
        .await;
    check::code(
        &format!("CancelJob{{uuid: {running}}} on a RUNNING job"),
        r,
        Code::FailedPrecondition,
    )?;
    let s = cx.status(&running).await?;
    ensure_eq(
        &format!("GetJobStatus{{uuid: {running}}} after the refused CancelJob"),
        "status",
        "RUNNING",
        s.status.as_str(),
    )?;
    let done = cx.start("true", &[]).await?;
    cx.wait_final(&done).await?;
    let r = cx
        .jobs()
        .cancel_job(pb::CancelJobReq { uuid: done.clone() })
        .await;
    check::code(
        &format!("CancelJob{{uuid: {done}}} on a COMPLETED job"),
        r,
        Code::FailedPrecondition,
    )?;
    let unknown = uuid::Uuid::new_v4().to_string();
    let r = cx
        .jobs()
        .cancel_job(pb::CancelJobReq {
            uuid: unknown.clone(),
        })
        .await;
    check::code(
        &format!("CancelJob{{uuid: {unknown}}} (unknown)"),
        r,
        Code::NotFound,
    )?;
    Ok(())
}

async fn delete_finished(cx: Ctx) -> CaseResult {
    let done = cx.start("echo", &["bye"]).await?;
    cx.wait_final(&done).await?;
    let canceled = cx.start_scheduled().await?;
    cx.stop(&canceled).await?;
    cx.wait_status(&canceled, &["CANCELED"]).await?;
    for id in [done, canceled] {
        cx.delete(&id, &format!("DeleteJob{{uuid: {id}}}")).await?;
        cx.expect_no_job(&id, &format!("GetJobStatus{{uuid: {id}}} after DeleteJob"))
            .await?;
        let r = cx
            .jobs()
            .get_job_logs(pb::GetJobLogsReq { uuid: id.clone() })
            .await;
        check::code(
            &format!("GetJobLogs{{uuid: {id}}} after DeleteJob"),
            r.map(|_| ()),
            Code::NotFound,
        )?;
    }
    Ok(())
}

async fn delete_active(cx: Ctx) -> CaseResult {
    let running = cx.start_long().await?;
    let r = cx
        .jobs()
        .delete_job(pb::DeleteJobReq {
            uuid: running.clone(),
        })
        .await;
    check::code_naming(
        &format!("DeleteJob{{uuid: {running}}} on a RUNNING job"),
        r,
        Code::FailedPrecondition,
        &["stop the job first"],
    )?;
    ensure_eq(
        &format!("GetJobStatus{{uuid: {running}}} after the refused DeleteJob"),
        "status",
        "RUNNING",
        cx.status(&running).await?.status.as_str(),
    )?;
    let scheduled = cx.start_scheduled().await?;
    let r = cx
        .jobs()
        .delete_job(pb::DeleteJobReq {
            uuid: scheduled.clone(),
        })
        .await;
    check::code_naming(
        &format!("DeleteJob{{uuid: {scheduled}}} on a SCHEDULED job"),
        r,
        Code::FailedPrecondition,
        &["stop the job first"],
    )?;
    let unknown = uuid::Uuid::new_v4().to_string();
    let r = cx
        .jobs()
        .delete_job(pb::DeleteJobReq {
            uuid: unknown.clone(),
        })
        .await;
    check::code(
        &format!("DeleteJob{{uuid: {unknown}}} (unknown)"),
        r,
        Code::NotFound,
    )?;
    Ok(())
}

async fn delete_all(cx: Ctx) -> CaseResult {
    let done_a = cx.start("true", &[]).await?;
    let done_b = cx.run(sh("exit 2")).await?.job_uuid;
    cx.wait_final(&done_a).await?;
    cx.wait_final(&done_b).await?;
    let running = cx.start_long().await?;
    let scheduled = cx.start_scheduled().await?;
    let call = "DeleteAllJobs";
    let r = check::ok(
        call,
        cx.jobs().delete_all_jobs(pb::DeleteAllJobsReq {}).await,
    )?
    .into_inner();
    ensure(
        r.success,
        call,
        "success true",
        format!("success false ({:?})", r.message),
    )?;
    ensure(
        r.deleted_count >= 2,
        call,
        "deleted_count >= 2 (two finished jobs of this run)",
        format!("deleted_count {}", r.deleted_count),
    )?;
    ensure(
        r.skipped_count >= 2,
        call,
        "skipped_count >= 2 (a RUNNING and a SCHEDULED job of this run)",
        format!("skipped_count {}", r.skipped_count),
    )?;
    for id in [&done_a, &done_b] {
        cx.expect_no_job(
            id,
            &format!("GetJobStatus{{uuid: {id}}} (finished) after DeleteAllJobs"),
        )
        .await?;
    }
    ensure_eq(
        &format!("GetJobStatus{{uuid: {running}}} after DeleteAllJobs"),
        "status",
        "RUNNING",
        cx.status(&running).await?.status.as_str(),
    )?;
    ensure_eq(
        &format!("GetJobStatus{{uuid: {scheduled}}} after DeleteAllJobs"),
        "status",
        "SCHEDULED",
        cx.status(&scheduled).await?.status.as_str(),
    )?;
    Ok(())
}
