//! Conventions that hold across the API (ALL-*).

use joblet_testkit::pb;
use tonic::Code;

use super::shapes;
use crate::case;
use crate::case::Case;
use crate::check::{self, CaseResult, ensure, ensure_eq, fail};
use crate::ctx::{Ctx, describe_run, job, sh};

pub(crate) const CASES: &[Case] = &[
    case!(
        "conventions.status.upper_case_strings",
        ["ALL-1"],
        Must,
        Mutating,
        "Job statuses are upper case on the wire, before and after the job ends",
        status_upper_case
    ),
    case!(
        "conventions.ids.lower_case_v4_uuids",
        ["ALL-2"],
        Must,
        Mutating,
        "Job IDs are lower-case RFC 4122 v4 UUIDs",
        ids_are_uuids
    ),
    case!(
        "conventions.ids.unique_prefix_is_accepted_for_reads",
        ["ALL-2"],
        Must,
        Mutating,
        "GetJobStatus and GetJobLogs accept a unique prefix of a job ID",
        prefix_reads,
        quirks_v2 = ["QUIRK-17"]
    ),
    case!(
        "conventions.ids.unique_prefix_is_accepted_for_writes",
        ["ALL-2"],
        Must,
        Mutating,
        "StopJob and DeleteJob accept a unique prefix of a job ID",
        prefix_writes,
        quirks = ["QUIRK-5"]
    ),
    case!(
        "conventions.ids.ambiguous_prefix_is_invalid_argument",
        ["ALL-2"],
        Must,
        Mutating,
        "A prefix that matches several jobs answers INVALID_ARGUMENT naming how many",
        prefix_ambiguous
    ),
    case!(
        "conventions.ids.unknown_id_is_not_found",
        ["ALL-2", "ALL-4"],
        Must,
        ReadOnly,
        "An ID (or prefix) that matches no job answers NOT_FOUND",
        unknown_prefix
    ),
    case!(
        "conventions.times.rfc3339_whole_seconds",
        ["ALL-3"],
        Must,
        Mutating,
        "Job times are RFC 3339 with whole seconds and an offset; unset is \"\"",
        times_rfc3339
    ),
    case!(
        "conventions.errors.field_named_never_internal",
        ["ALL-4"],
        Must,
        Mutating,
        "Client mistakes answer INVALID_ARGUMENT naming the field, never INTERNAL",
        errors_name_field
    ),
    case!(
        "conventions.errors.not_found_and_wrong_state_never_internal",
        ["ALL-4"],
        Must,
        Mutating,
        "Stop/Delete of unknown or finished jobs answer NOT_FOUND / FAILED_PRECONDITION, never INTERNAL",
        errors_never_internal,
        quirks = ["QUIRK-2"]
    ),
    case!(
        "conventions.lists.creation_order",
        ["ALL-5", "JOB-LIST-1"],
        Must,
        Mutating,
        "ListJobs returns jobs in creation order",
        lists_in_order
    ),
    case!(
        "conventions.secrets.masked_in_status",
        ["ALL-6", "JOB-STATUS-1"],
        Must,
        Mutating,
        "GetJobStatus shows secret environment values as ***, keys visible",
        secrets_status
    ),
    case!(
        "conventions.secrets.masked_in_list",
        ["ALL-6", "JOB-LIST-1"],
        Must,
        Mutating,
        "ListJobs shows secret environment values as ***, keys visible",
        secrets_list,
        quirks = ["QUIRK-4"]
    ),
    case!(
        "conventions.messages.large_request_is_accepted",
        ["ALL-7"],
        Must,
        Mutating,
        "A 6 MiB RunJob (an upload) is accepted and its bytes reach the job",
        large_message
    ),
    case!(
        "conventions.messages.over_128_mib_is_resource_exhausted",
        ["ALL-7"],
        Should,
        Mutating,
        "A RunJob over 128 MiB answers RESOURCE_EXHAUSTED",
        huge_message
    ),
];

async fn status_upper_case(cx: Ctx) -> CaseResult {
    const UPPER: &[&str] = &[
        "INITIALIZING",
        "SCHEDULED",
        "RUNNING",
        "COMPLETED",
        "FAILED",
        "STOPPED",
        "CANCELED",
    ];
    let id = cx.start_long().await?;
    let running = cx.status(&id).await?;
    ensure(
        UPPER.contains(&running.status.as_str()),
        &format!("GetJobStatus{{uuid: {id}}}"),
        "an upper-case status (RUNNING)",
        format!("{:?}", running.status),
    )?;
    cx.stop(&id).await?;
    let done = cx
        .wait_status(&id, &["STOPPED", "stopped", "Stopped"])
        .await?;
    ensure_eq(
        &format!("GetJobStatus{{uuid: {id}}} after StopJob"),
        "status",
        "STOPPED",
        done.status.as_str(),
    )?;
    let failed = cx.run(sh("exit 1")).await?.job_uuid;
    let s = cx
        .wait_status(
            &failed,
            &["FAILED", "failed", "Failed", "COMPLETED", "completed"],
        )
        .await?;
    ensure_eq(
        &format!("GetJobStatus{{uuid: {failed}}}"),
        "status",
        "FAILED",
        s.status.as_str(),
    )
}

async fn ids_are_uuids(cx: Ctx) -> CaseResult {
    for _ in 0..3 {
        let r = cx.run(job("true", &[])).await?;
        ensure(
            shapes::is_v4_uuid(&r.job_uuid),
            "RunJob{command: \"true\"}",
            "jobUuid a lower-case v4 UUID",
            format!("{:?}", r.job_uuid),
        )?;
    }
    Ok(())
}

/// A job of this run with a prefix no other job on the node has (checked
/// against ListJobs).
async fn unique_prefix(cx: &Ctx, id: &str) -> CaseResult<String> {
    let list = check::ok("ListJobs", cx.jobs().list_jobs(pb::EmptyRequest {}).await)?.into_inner();
    for len in [8usize, 13, 18, 23, 30] {
        let p = &id[..len];
        if list.jobs.iter().filter(|j| j.uuid.starts_with(p)).count() == 1 {
            return Ok(p.to_owned());
        }
    }
    Ok(id[..35].to_owned())
}

async fn prefix_reads(cx: Ctx) -> CaseResult {
    let id = cx.start("echo", &["prefix"]).await?;
    cx.wait_final(&id).await?;
    let p = unique_prefix(&cx, &id).await?;
    let s = cx.status(&p).await?;
    ensure_eq(
        &format!("GetJobStatus{{uuid: {p}}} (unique prefix)"),
        "uuid",
        id.as_str(),
        s.uuid.as_str(),
    )?;
    let log = cx.logs(&p).await?;
    check::ensure_bytes(
        &format!("GetJobLogs{{uuid: {p}}} (unique prefix)"),
        b"prefix\n",
        &log,
    )
}

async fn prefix_writes(cx: Ctx) -> CaseResult {
    let id = cx.start_long().await?;
    let p = unique_prefix(&cx, &id).await?;
    cx.stop(&p).await.map_err(|e| match e {
        crate::check::CaseError::Fail(mut f) => {
            f.call = format!("StopJob{{uuid: {p}}} (unique prefix of a RUNNING job)");
            crate::check::CaseError::Fail(f)
        }
        e => e,
    })?;
    cx.wait_final(&id).await?;
    cx.delete(
        &p,
        &format!("DeleteJob{{uuid: {p}}} (unique prefix of a STOPPED job)"),
    )
    .await?;
    cx.tracker
        .forget(&crate::cleanup::Resource::Job(id.clone()));
    cx.expect_no_job(
        &id,
        &format!("GetJobStatus{{uuid: {id}}} after DeleteJob by prefix"),
    )
    .await
}

async fn prefix_ambiguous(cx: Ctx) -> CaseResult {
    // 17 IDs: two share their first hex digit (pigeonhole).
    let mut ids = Vec::new();
    for _ in 0..17 {
        ids.push(cx.start("true", &[]).await?);
    }
    let mut by_first: std::collections::BTreeMap<char, usize> = Default::default();
    for id in &ids {
        *by_first
            .entry(id.chars().next().unwrap_or('0'))
            .or_default() += 1;
    }
    let Some((c, _)) = by_first.iter().find(|(_, n)| **n >= 2) else {
        return Err(fail(
            "RunJob x17",
            "17 v4 UUIDs (two share a first hex digit)",
            format!("{ids:?}"),
        ));
    };
    let p = c.to_string();
    let r = cx
        .jobs()
        .get_job_status(pb::GetJobStatusReq { uuid: p.clone() })
        .await;
    let s = check::code(
        &format!("GetJobStatus{{uuid: {p:?}}} (prefix of several jobs)"),
        r,
        Code::InvalidArgument,
    )?;
    ensure(
        s.message().chars().any(|c| c.is_ascii_digit()),
        &format!("GetJobStatus{{uuid: {p:?}}}"),
        "a message naming how many jobs match",
        check::show_status(&s),
    )
}

async fn unknown_prefix(cx: Ctx) -> CaseResult {
    let id = uuid::Uuid::new_v4().to_string();
    let r = cx
        .jobs()
        .get_job_status(pb::GetJobStatusReq { uuid: id.clone() })
        .await;
    check::code(
        &format!("GetJobStatus{{uuid: {id}}} (unknown)"),
        r,
        Code::NotFound,
    )?;
    let r = cx
        .jobs()
        .get_job_status(pb::GetJobStatusReq {
            uuid: "zzzz".into(),
        })
        .await;
    check::code(
        "GetJobStatus{uuid: \"zzzz\"} (matches nothing)",
        r,
        Code::NotFound,
    )?;
    Ok(())
}

async fn times_rfc3339(cx: Ctx) -> CaseResult {
    let id = cx.start_long().await?;
    let s = cx.status(&id).await?;
    let call = format!("GetJobStatus{{uuid: {id}}} (RUNNING)");
    ensure(
        shapes::is_job_time(&s.start_time),
        &call,
        "startTime like 2025-09-28T10:15:00+02:00",
        format!("{:?}", s.start_time),
    )?;
    ensure_eq(&call, "endTime", "", s.end_time.as_str())?;
    ensure_eq(&call, "scheduledTime", "", s.scheduled_time.as_str())?;
    cx.stop(&id).await?;
    let s = cx.wait_final(&id).await?;
    let call = format!("GetJobStatus{{uuid: {id}}} (STOPPED)");
    ensure(
        shapes::is_job_time(&s.end_time),
        &call,
        "endTime like 2025-09-28T10:15:00+02:00",
        format!("{:?}", s.end_time),
    )?;
    let start = chrono::DateTime::parse_from_rfc3339(&s.start_time)
        .map_err(|e| fail(&call, "a parseable startTime", e.to_string()))?;
    let end = chrono::DateTime::parse_from_rfc3339(&s.end_time)
        .map_err(|e| fail(&call, "a parseable endTime", e.to_string()))?;
    ensure(
        end >= start,
        &call,
        "endTime >= startTime",
        format!("{} < {}", s.end_time, s.start_time),
    )
}

async fn errors_name_field(cx: Ctx) -> CaseResult {
    let mut req = job("true", &[]);
    req.max_memory = -1;
    check::code_naming(
        &describe_run(&req),
        cx.run_raw(req).await,
        Code::InvalidArgument,
        &["memory"],
    )?;
    let mut req = job("true", &[]);
    req.uploads = vec![pb::FileUpload {
        path: "../x".into(),
        content: b"x".to_vec(),
        mode: 0o644,
        is_directory: false,
    }];
    check::code_naming(
        &describe_run(&req),
        cx.run_raw(req).await,
        Code::InvalidArgument,
        &["upload", "path"],
    )?;
    let name = cx.name("net");
    let r = cx.create_network_raw(&name, "not-a-cidr").await;
    check::code_naming(
        &format!("CreateNetwork{{name: {name}, cidr: \"not-a-cidr\"}}"),
        r,
        Code::InvalidArgument,
        &["cidr"],
    )?;
    let name = cx.name("vol");
    let r = cx.create_volume_raw(&name, "lots", "filesystem").await;
    check::code_naming(
        &format!("CreateVolume{{name: {name}, size: \"lots\"}}"),
        r,
        Code::InvalidArgument,
        &["size"],
    )?;
    Ok(())
}

async fn errors_never_internal(cx: Ctx) -> CaseResult {
    let unknown = uuid::Uuid::new_v4().to_string();
    let r = cx
        .jobs()
        .stop_job(pb::StopJobReq {
            uuid: unknown.clone(),
        })
        .await;
    check::code(
        &format!("StopJob{{uuid: {unknown}}} (unknown)"),
        r,
        Code::NotFound,
    )?;
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
    let id = cx.start("true", &[]).await?;
    cx.wait_final(&id).await?;
    let r = cx
        .jobs()
        .stop_job(pb::StopJobReq { uuid: id.clone() })
        .await;
    check::code(
        &format!("StopJob{{uuid: {id}}} (COMPLETED)"),
        r,
        Code::FailedPrecondition,
    )?;
    let running = cx.start_long().await?;
    let r = cx
        .jobs()
        .delete_job(pb::DeleteJobReq {
            uuid: running.clone(),
        })
        .await;
    check::code(
        &format!("DeleteJob{{uuid: {running}}} (RUNNING)"),
        r,
        Code::FailedPrecondition,
    )?;
    Ok(())
}

async fn lists_in_order(cx: Ctx) -> CaseResult {
    let mut mine = Vec::new();
    for i in 0..4 {
        mine.push(cx.start("echo", &[&format!("{}-{i}", cx.marker())]).await?);
    }
    let list = check::ok("ListJobs", cx.jobs().list_jobs(pb::EmptyRequest {}).await)?.into_inner();
    let seen: Vec<&String> = list
        .jobs
        .iter()
        .map(|j| &j.uuid)
        .filter(|u| mine.contains(u))
        .collect();
    let want: Vec<&String> = mine.iter().collect();
    ensure(
        seen == want,
        "ListJobs",
        format!("this run's jobs in creation order {want:?}"),
        format!("{seen:?}"),
    )
}

async fn secrets_status(cx: Ctx) -> CaseResult {
    let mut req = job("true", &[]);
    req.secret_environment
        .insert("CF_SECRET".into(), "hunter2".into());
    req.environment.insert("CF_PLAIN".into(), "visible".into());
    let id = cx.run(req).await?.job_uuid;
    let s = cx.status(&id).await?;
    let call = format!("GetJobStatus{{uuid: {id}}}");
    ensure_eq(
        &call,
        "secret_environment[CF_SECRET]",
        &Some("***"),
        &s.secret_environment.get("CF_SECRET").map(String::as_str),
    )?;
    ensure_eq(
        &call,
        "environment[CF_PLAIN]",
        &Some("visible"),
        &s.environment.get("CF_PLAIN").map(String::as_str),
    )
}

async fn secrets_list(cx: Ctx) -> CaseResult {
    let mut req = job("true", &[]);
    req.secret_environment
        .insert("CF_SECRET".into(), "hunter2".into());
    let id = cx.run(req).await?.job_uuid;
    let list = check::ok("ListJobs", cx.jobs().list_jobs(pb::EmptyRequest {}).await)?.into_inner();
    let Some(j) = list.jobs.iter().find(|j| j.uuid == id) else {
        return Err(fail(
            "ListJobs",
            format!("job {id} of this run"),
            "not listed",
        ));
    };
    ensure_eq(
        &format!("ListJobs entry {id}"),
        "secret_environment[CF_SECRET]",
        &Some("***"),
        &j.secret_environment.get("CF_SECRET").map(String::as_str),
    )
}

async fn large_message(cx: Ctx) -> CaseResult {
    let content: Vec<u8> = (0..6 * 1024 * 1024u32)
        .map(|i| b'a' + (i % 26) as u8)
        .collect();
    let mut req = job("wc", &["-c", "big.bin"]);
    req.uploads = vec![pb::FileUpload {
        path: "big.bin".into(),
        content,
        mode: 0o644,
        is_directory: false,
    }];
    let id = cx.run(req).await?.job_uuid;
    let s = cx.wait_final(&id).await?;
    ensure_eq(
        &format!("GetJobStatus{{uuid: {id}}} of `wc -c big.bin` (6 MiB upload)"),
        "status",
        "COMPLETED",
        s.status.as_str(),
    )?;
    let log = cx.logs(&id).await?;
    let text = String::from_utf8_lossy(&log);
    ensure(
        text.split_whitespace().next() == Some("6291456"),
        &format!("GetJobLogs{{uuid: {id}}} of `wc -c big.bin`"),
        "6291456 bytes counted",
        format!("{text:?}"),
    )
}

async fn huge_message(cx: Ctx) -> CaseResult {
    let mut req = job("true", &[]);
    req.uploads = vec![pb::FileUpload {
        path: "huge.bin".into(),
        content: vec![b'x'; (128 << 20) + 4096],
        mode: 0o644,
        is_directory: false,
    }];
    let r = cx.run_raw(req).await;
    check::code(
        "RunJob{uploads: [huge.bin (128 MiB + 4 KiB)]}",
        r,
        Code::ResourceExhausted,
    )?;
    Ok(())
}
