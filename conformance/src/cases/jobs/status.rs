//! Lifecycle and status: how jobs end, and what GetJobStatus reports (JOB-LIFE-*, JOB-STATUS-*).

use crate::case;
use crate::case::Case;
use crate::cases::shapes;
use crate::check::{CaseResult, ensure, ensure_eq};
use crate::ctx::{Ctx, job, sh};

use super::run::upload;

pub(crate) const CASES: &[Case] = &[
    case!(
        "jobs.lifecycle.exit_zero_completes",
        ["JOB-LIFE-1", "ALL-1"],
        Must,
        Mutating,
        "A job that exits 0 ends COMPLETED, exit code 0, endTime set",
        life_completes
    ),
    case!(
        "jobs.lifecycle.nonzero_exit_fails_with_its_code",
        ["JOB-LIFE-1"],
        Must,
        Mutating,
        "A job that exits 3 ends FAILED with exit code 3",
        life_fails
    ),
    case!(
        "jobs.status.reports_every_field",
        ["JOB-STATUS-1", "ALL-6"],
        Must,
        Mutating,
        "GetJobStatus reports command, args, limits, env (secrets ***), network, volumes, uploads, workDir, nodeId",
        status_fields,
        quirks_v2 = ["QUIRK-14"]
    ),
    case!(
        "jobs.status.reports_name_and_work_dir",
        ["JOB-STATUS-1"],
        Must,
        Mutating,
        "GetJobStatus reports the name and workDir the job was given",
        status_name_workdir,
        quirks = ["QUIRK-12"],
        quirks_v2 = ["QUIRK-14"],
    ),
    case!(
        "jobs.status.unknown_id_is_not_found",
        ["JOB-STATUS-2", "ALL-2"],
        Must,
        ReadOnly,
        "GetJobStatus of an unknown ID answers NOT_FOUND",
        status_unknown
    ),
];

async fn life_completes(cx: Ctx) -> CaseResult {
    let id = cx.start("echo", &["done"]).await?;
    let s = cx.wait_final(&id).await?;
    let call = format!("GetJobStatus{{uuid: {id}}} of `echo done`");
    ensure_eq(&call, "status", "COMPLETED", s.status.as_str())?;
    ensure_eq(&call, "exitCode", &0, &s.exit_code)?;
    ensure(
        shapes::is_job_time(&s.end_time),
        &call,
        "endTime set (RFC 3339)",
        format!("endTime {:?}", s.end_time),
    )
}

async fn life_fails(cx: Ctx) -> CaseResult {
    let id = cx.run(sh("exit 3")).await?.job_uuid;
    let s = cx.wait_final(&id).await?;
    let call = format!("GetJobStatus{{uuid: {id}}} of `sh -c 'exit 3'`");
    ensure_eq(&call, "status", "FAILED", s.status.as_str())?;
    ensure_eq(&call, "exitCode", &3, &s.exit_code)?;
    ensure(
        shapes::is_job_time(&s.end_time),
        &call,
        "endTime set (RFC 3339)",
        format!("endTime {:?}", s.end_time),
    )
}

async fn status_fields(cx: Ctx) -> CaseResult {
    let (net, _) = cx.create_network().await?;
    let vol = cx.create_volume().await?;
    let mut req = job("sh", &["-c", "cat in.txt; sleep 600"]);
    req.max_cpu = 25;
    req.max_memory = 128;
    req.network = net.clone();
    req.volumes = vec![vol.clone()];
    req.uploads = vec![upload("in.txt", b"x\n")];
    req.environment.insert("CF_A".into(), "1".into());
    req.secret_environment
        .insert("CF_TOKEN".into(), "hunter2".into());
    let id = cx.run(req).await?.job_uuid;
    let s = cx.wait_status(&id, &["RUNNING"]).await?;
    let call = format!("GetJobStatus{{uuid: {id}}}");
    ensure_eq(&call, "uuid", id.as_str(), s.uuid.as_str())?;
    ensure_eq(&call, "command", "sh", s.command.as_str())?;
    ensure_eq(
        &call,
        "args",
        &["-c".to_owned(), "cat in.txt; sleep 600".to_owned()][..],
        &s.args[..],
    )?;
    ensure_eq(&call, "maxCPU", &25, &s.max_cpu)?;
    ensure_eq(&call, "maxMemory", &128, &s.max_memory)?;
    ensure_eq(
        &call,
        "environment[CF_A]",
        &Some("1"),
        &s.environment.get("CF_A").map(String::as_str),
    )?;
    ensure_eq(
        &call,
        "secret_environment[CF_TOKEN]",
        &Some("***"),
        &s.secret_environment.get("CF_TOKEN").map(String::as_str),
    )?;
    ensure_eq(&call, "network", net.as_str(), s.network.as_str())?;
    ensure_eq(&call, "volumes", &[vol][..], &s.volumes[..])?;
    ensure(
        s.uploads
            .iter()
            .any(|u| u == "in.txt" || u.ends_with("/in.txt")),
        &call,
        "uploads listing \"in.txt\"",
        format!("uploads {:?}", s.uploads),
    )?;
    ensure(!s.work_dir.is_empty(), &call, "a workDir", "workDir \"\"")?;
    ensure(!s.node_id.is_empty(), &call, "a nodeId", "nodeId \"\"")?;
    ensure(
        shapes::is_job_time(&s.start_time),
        &call,
        "startTime in RFC 3339",
        format!("startTime {:?}", s.start_time),
    )?;
    ensure_eq(&call, "endTime (while RUNNING)", "", s.end_time.as_str())?;
    Ok(())
}

async fn status_name_workdir(cx: Ctx) -> CaseResult {
    let name = cx.name("job");
    let mut req = job("pwd", &[]);
    req.name = name.clone();
    req.work_dir = "/work/cf".into();
    let id = cx.run(req).await?.job_uuid;
    let s = cx.wait_final(&id).await?;
    let call =
        format!("GetJobStatus{{uuid: {id}}} of RunJob{{name: {name:?}, workDir: \"/work/cf\"}}");
    // v2 has no job name (JOB-RUN-11, CONTRACT-1): a v2-only node ignores it.
    if cx.env.contract.serves_v1() {
        ensure_eq(&call, "name", name.as_str(), s.name.as_str())?;
    }
    ensure_eq(&call, "workDir", "/work/cf", s.work_dir.as_str())
}

async fn status_unknown(cx: Ctx) -> CaseResult {
    let id = uuid::Uuid::new_v4().to_string();
    cx.expect_no_job(&id, &format!("GetJobStatus{{uuid: {id}}} (unknown)"))
        .await
}
