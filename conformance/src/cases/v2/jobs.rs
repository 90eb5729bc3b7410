//! RunJob's v2 answer (JOB-RUN-11), the job `timeout` (JOB-TIMEOUT-1..4) and
//! GetJobLogs' v2 rules (JOB-LOGS-4).

use std::time::Duration;

use joblet_testkit::pb;
use joblet_testkit::pb::v2;
use tonic::Code;

use super::client::{code_message, describe2, job2, jobs2, listed2, run2, run2_raw, status2};
use crate::case;
use crate::case::Case;
use crate::cases::shapes;
use crate::check::{self, CaseResult, ensure, ensure_eq};
use crate::ctx::Ctx;

pub(crate) const CASES: &[Case] = &[
    case!(
        "jobs.run.answers_only_the_id_and_status",
        ["JOB-RUN-11"],
        Must,
        Mutating,
        "RunJob answers job_uuid (a new v4 UUID) and status RUNNING, and no other field",
        run_answer,
        contracts = [V2]
    ),
    case!(
        "jobs.timeout.go_durations_are_accepted_and_echoed",
        ["JOB-TIMEOUT-1", "JOB-TIMEOUT-4"],
        Must,
        Mutating,
        "timeout 30s, 5m, 1h30m, 1.5h, 0 and \"\" are accepted; GetJobStatus and ListJobs echo the string as sent",
        timeout_accepted,
        contracts = [V2]
    ),
    case!(
        "jobs.timeout.bad_values_are_invalid_argument",
        ["JOB-TIMEOUT-2", "ALL-4"],
        Must,
        Mutating,
        "A timeout that does not parse or is negative answers INVALID_ARGUMENT \"invalid request: invalid timeout: <value>\" and starts nothing",
        timeout_bad,
        contracts = [V2]
    ),
    case!(
        "jobs.timeout.expiry_ends_timeout_with_exit_124",
        ["JOB-TIMEOUT-3", "JOB-TIMEOUT-4"],
        Must,
        Mutating,
        "sleep 30 with timeout 1s ends TIMEOUT, exit code 124, end time set; its logs end; StopJob is FAILED_PRECONDITION; DeleteJob deletes it",
        timeout_expires,
        quirks = ["QUIRK-2"],
        contracts = [V2]
    ),
    case!(
        "logs.history.empty_id_is_invalid_argument_and_history_is_replayed",
        ["JOB-LOGS-4", "JOB-LOGS-1"],
        Must,
        Mutating,
        "GetJobLogs with an empty uuid answers INVALID_ARGUMENT \"job_uuid is required\"; a finished job's whole output is replayed, then OK",
        logs_history,
        contracts = [V2]
    ),
];

async fn run_answer(cx: Ctx) -> CaseResult {
    let req = job2("sleep", &["600"]);
    let call = describe2(&req);
    let raw = check::ok(
        &call,
        jobs2(&cx)
            .run_job(req)
            .await
            .map(tonic::Response::into_inner),
    )?;
    if !raw.job_uuid.is_empty() {
        cx.tracker
            .add(crate::cleanup::Resource::Job(raw.job_uuid.clone()));
    }
    ensure(
        shapes::is_v4_uuid(&raw.job_uuid),
        &call,
        "a lower-case v4 UUID",
        format!("{:?}", raw.job_uuid),
    )?;
    ensure(
        ["RUNNING", "SCHEDULED", "INITIALIZING"].contains(&raw.status.as_str()),
        &call,
        "status RUNNING",
        format!("status {:?}", raw.status),
    )?;
    // A v1 client of a node that speaks v2 alone gets no v1 field either
    // (JOB-RUN-11): only jobUuid and status.
    if !cx.env.node.serves_v1() {
        let req = crate::ctx::job("sleep", &["600"]);
        let v1 = cx.run(req).await?;
        let wanted = pb::RunJobResponse {
            job_uuid: v1.job_uuid.clone(),
            status: v1.status.clone(),
            ..Default::default()
        };
        ensure_eq(
            "RunJob{command: \"sleep\", args: [\"600\"]} (v1 message)",
            "the answer",
            &wanted,
            &v1,
        )?;
    }
    Ok(())
}

const GOOD: [&str; 6] = ["30s", "5m", "1h30m", "1.5h", "0", ""];

async fn timeout_accepted(cx: Ctx) -> CaseResult {
    for t in GOOD {
        let mut req = job2("echo", &[&cx.marker()]);
        req.timeout = t.into();
        let id = run2(&cx, req).await?;
        let call = format!("GetJobStatus{{uuid: {id}}} of RunJob{{timeout: {t:?}}}");
        ensure_eq(
            &call,
            "timeout",
            t,
            status2(&cx, &id).await?.timeout.as_str(),
        )?;
        let listed = listed2(&cx, &id).await?;
        let call = format!("ListJobs, the job of RunJob{{timeout: {t:?}}}");
        let job = listed.ok_or_else(|| check::fail(&call, "the job listed", "not listed"))?;
        ensure_eq(&call, "timeout", t, job.timeout.as_str())?;
        let s = cx.wait_final(&id).await?;
        ensure_eq(
            &format!("GetJobStatus{{uuid: {id}}} of `echo` with timeout {t:?}"),
            "status",
            "COMPLETED",
            s.status.as_str(),
        )?;
    }
    Ok(())
}

async fn timeout_bad(cx: Ctx) -> CaseResult {
    let marker = cx.marker();
    for t in ["abc", "-5s", "10", "1x", "5 m", "99999999999999h"] {
        let mut req = job2("echo", &[&marker]);
        req.timeout = t.into();
        let call = describe2(&req);
        code_message(
            &call,
            run2_raw(&cx, req).await,
            Code::InvalidArgument,
            &format!("invalid request: invalid timeout: {t}"),
        )?;
    }
    let jobs = check::ok(
        "ListJobs",
        jobs2(&cx)
            .list_jobs(v2::EmptyRequest {})
            .await
            .map(tonic::Response::into_inner),
    )?;
    let started: Vec<&str> = jobs
        .jobs
        .iter()
        .filter(|j| j.args.contains(&marker))
        .map(|j| j.uuid.as_str())
        .collect();
    ensure(
        started.is_empty(),
        "ListJobs after the refused RunJob calls",
        "no job of theirs",
        format!("jobs {started:?}"),
    )
}

async fn timeout_expires(cx: Ctx) -> CaseResult {
    let mut req = job2("sleep", &["30"]);
    req.timeout = "1s".into();
    let id = run2(&cx, req).await?;
    let s = cx
        .wait_status_for(&id, &["TIMEOUT"], Duration::from_secs(15))
        .await?;
    let call = format!("GetJobStatus{{uuid: {id}}} of `sleep 30` with timeout 1s");
    ensure_eq(&call, "exitCode", &124, &s.exit_code)?;
    ensure(
        shapes::is_job_time(&s.end_time),
        &call,
        "endTime set (RFC 3339)",
        format!("endTime {:?}", s.end_time),
    )?;
    ensure_eq(
        &call,
        "timeout",
        "1s",
        status2(&cx, &id).await?.timeout.as_str(),
    )?;
    // Final: the logs end, StopJob refuses, DeleteJob deletes.
    cx.logs_within(&id, Duration::from_secs(5)).await?;
    let r = cx
        .jobs()
        .stop_job(pb::StopJobReq { uuid: id.clone() })
        .await;
    check::code(
        &format!("StopJob{{uuid: {id}}} of a TIMEOUT job"),
        r,
        Code::FailedPrecondition,
    )?;
    cx.delete(&id, &format!("DeleteJob{{uuid: {id}}} of a TIMEOUT job"))
        .await?;
    cx.expect_no_job(&id, &format!("GetJobStatus{{uuid: {id}}} after DeleteJob"))
        .await?;
    // A job that ends before its timeout ends as usual.
    let mut req = job2("echo", &["in time"]);
    req.timeout = "1m".into();
    let id = run2(&cx, req).await?;
    let s = cx.wait_final(&id).await?;
    ensure_eq(
        &format!("GetJobStatus{{uuid: {id}}} of `echo` with timeout 1m"),
        "status",
        "COMPLETED",
        s.status.as_str(),
    )
}

async fn logs_history(cx: Ctx) -> CaseResult {
    let r = super::client::stream_status(
        jobs2(&cx)
            .get_job_logs(v2::GetJobLogsRequest {
                uuid: String::new(),
            })
            .await,
    )
    .await;
    code_message(
        "GetJobLogs{uuid: \"\"}",
        r,
        Code::InvalidArgument,
        "job_uuid is required",
    )?;
    let id = run2(&cx, job2("sh", &["-c", "echo one; echo two"])).await?;
    cx.wait_final(&id).await?;
    let out = cx.logs(&id).await?;
    check::ensure_bytes(
        &format!("GetJobLogs{{uuid: {id}}} of a finished job"),
        b"one\ntwo\n",
        &out,
    )
}
