//! Volumes (VOL-*). Every volume a case creates is 1MB and carries the run
//! prefix.

use joblet_testkit::pb;
use tonic::Code;

use super::shapes;
use crate::case;
use crate::case::Case;
use crate::check::{self, CaseResult, ensure, ensure_eq};
use crate::ctx::{Ctx, job};

pub(crate) const CASES: &[Case] = &[
    case!(
        "volumes.create.answers_name_size_type_and_path",
        ["VOL-CREATE-1"],
        Must,
        Mutating,
        "CreateVolume answers {name, size as sent, type (filesystem by default, memory allowed), path /opt/joblet/volumes/<name>}",
        create_answer
    ),
    case!(
        "volumes.create.bad_requests_are_invalid_argument",
        ["VOL-CREATE-2", "ALL-4"],
        Must,
        Mutating,
        "Bad names, sizes that are not a positive number with B/KB/MB/GB/TB, and unknown types answer INVALID_ARGUMENT naming the field",
        bad_requests
    ),
    case!(
        "volumes.create.duplicate_name_is_already_exists",
        ["VOL-CREATE-3"],
        Must,
        Mutating,
        "Creating a volume with an existing name answers ALREADY_EXISTS and keeps one",
        duplicate,
        quirks = ["QUIRK-8"]
    ),
    case!(
        "volumes.list.fields_and_job_counts",
        ["VOL-LIST-1"],
        Must,
        Mutating,
        "ListVolumes reports name, size, type, path, createdTime and jobCount = running jobs mounting it",
        list,
        quirks = ["QUIRK-8"]
    ),
    case!(
        "volumes.remove.answers_success_and_not_found",
        ["VOL-RM-1"],
        Must,
        Mutating,
        "RemoveVolume answers success, then success false \"volume not found\"",
        remove
    ),
    case!(
        "volumes.remove.busy_volume_is_refused",
        ["VOL-RM-1"],
        Must,
        Mutating,
        "RemoveVolume of a volume a running job mounts answers success false \"in use by 1 job(s)\"",
        remove_busy,
        quirks = ["QUIRK-8"]
    ),
];

async fn create_answer(cx: Ctx) -> CaseResult {
    for (kind, shown) in [
        ("", "filesystem"),
        ("memory", "memory"),
        ("filesystem", "filesystem"),
    ] {
        let name = cx.name("vol");
        let call = format!("CreateVolume{{name: {name}, size: \"2MB\", type: {kind:?}}}");
        let r = check::ok(&call, cx.create_volume_raw(&name, "2MB", kind).await)?;
        ensure_eq(&call, "name", name.as_str(), r.name.as_str())?;
        ensure_eq(&call, "size", "2MB", r.size.as_str())?;
        ensure_eq(&call, "type", shown, r.r#type.as_str())?;
        ensure_eq(
            &call,
            "path",
            format!("/opt/joblet/volumes/{name}").as_str(),
            r.path.as_str(),
        )?;
    }
    Ok(())
}

async fn bad_requests(cx: Ctx) -> CaseResult {
    let p = cx.env.prefix();
    for name in [
        String::new(),
        format!("{p}bad-"),
        format!("{p}sp ace"),
        format!("{p}{}", "x".repeat(64)),
    ] {
        let r = cx.create_volume_raw(&name, "1MB", "filesystem").await;
        check::code_naming(
            &format!("CreateVolume{{name: {name:?}}}"),
            r,
            Code::InvalidArgument,
            &["name"],
        )?;
    }
    for size in ["", "abc", "-1MB", "0MB", "10XB", "MB", "1.5.2GB"] {
        let name = cx.name("vol");
        let r = cx.create_volume_raw(&name, size, "filesystem").await;
        check::code_naming(
            &format!("CreateVolume{{name: {name}, size: {size:?}}}"),
            r,
            Code::InvalidArgument,
            &["size"],
        )?;
    }
    let name = cx.name("vol");
    let r = cx.create_volume_raw(&name, "1MB", "nfs").await;
    check::code_naming(
        &format!("CreateVolume{{name: {name}, type: \"nfs\"}}"),
        r,
        Code::InvalidArgument,
        &["type"],
    )?;
    for size in ["512B", "64kb", "1GB"] {
        let name = cx.name("vol");
        check::ok(
            &format!("CreateVolume{{name: {name}, size: {size:?}}}"),
            cx.create_volume_raw(&name, size, "memory").await,
        )?;
    }
    Ok(())
}

async fn duplicate(cx: Ctx) -> CaseResult {
    let name = cx.create_volume().await?;
    let r = cx.create_volume_raw(&name, "2MB", "filesystem").await;
    check::code(
        &format!("CreateVolume{{name: {name}, size: \"2MB\"}} (name taken)"),
        r,
        Code::AlreadyExists,
    )?;
    let list = check::ok(
        "ListVolumes",
        cx.volumes().list_volumes(pb::EmptyRequest {}).await,
    )?
    .into_inner();
    let mine: Vec<&pb::Volume> = list.volumes.iter().filter(|v| v.name == name).collect();
    ensure(
        mine.len() == 1 && mine[0].size == "1MB",
        "ListVolumes after the refused duplicate",
        format!("one {name} of size 1MB"),
        format!("{:?}", mine.iter().map(|v| &v.size).collect::<Vec<_>>()),
    )
}

async fn list(cx: Ctx) -> CaseResult {
    let name = cx.create_volume().await?;
    let find = |l: pb::Volumes| l.volumes.into_iter().find(|v| v.name == name);
    let list = check::ok(
        "ListVolumes",
        cx.volumes().list_volumes(pb::EmptyRequest {}).await,
    )?
    .into_inner();
    let Some(v) = find(list) else {
        return Err(check::fail(
            "ListVolumes",
            format!("volume {name}"),
            "not listed",
        ));
    };
    let call = format!("ListVolumes entry {name}");
    ensure_eq(&call, "size", "1MB", v.size.as_str())?;
    ensure_eq(&call, "type", "filesystem", v.r#type.as_str())?;
    ensure_eq(
        &call,
        "path",
        format!("/opt/joblet/volumes/{name}").as_str(),
        v.path.as_str(),
    )?;
    ensure(
        shapes::is_job_time(&v.created_time),
        &call,
        "createdTime in RFC 3339",
        format!("createdTime {:?}", v.created_time),
    )?;
    ensure_eq(&call, "jobCount (no job)", &0, &v.job_count)?;
    let mut req = job("sleep", &["600"]);
    req.volumes = vec![name.clone()];
    let id = cx.run(req).await?.job_uuid;
    cx.wait_status(&id, &["RUNNING"]).await?;
    let list = check::ok(
        "ListVolumes",
        cx.volumes().list_volumes(pb::EmptyRequest {}).await,
    )?
    .into_inner();
    let count = find(list).map(|v| v.job_count);
    ensure_eq(
        &format!("{call} while a job mounts it"),
        "jobCount",
        &Some(1),
        &count,
    )
}

async fn remove_call(cx: &Ctx, name: &str) -> CaseResult<pb::RemoveVolumeRes> {
    Ok(check::ok(
        &format!("RemoveVolume{{name: {name}}}"),
        cx.volumes()
            .remove_volume(pb::RemoveVolumeReq { name: name.into() })
            .await,
    )?
    .into_inner())
}

async fn remove_busy(cx: Ctx) -> CaseResult {
    let busy = cx.create_volume().await?;
    let mut req = job("sleep", &["600"]);
    req.volumes = vec![busy.clone()];
    let id = cx.run(req).await?.job_uuid;
    cx.wait_status(&id, &["RUNNING"]).await?;
    let r = remove_call(&cx, &busy).await?;
    ensure(
        !r.success && r.message.contains("in use by 1 job"),
        &format!("RemoveVolume{{name: {busy}}} while a job mounts it"),
        "success false, \"… in use by 1 job(s)\"",
        format!("success {}, {:?}", r.success, r.message),
    )?;
    let list = check::ok(
        "ListVolumes",
        cx.volumes().list_volumes(pb::EmptyRequest {}).await,
    )?
    .into_inner();
    ensure(
        list.volumes.iter().any(|v| v.name == busy),
        "ListVolumes after the refused RemoveVolume",
        format!("{busy} still listed"),
        "gone",
    )
}

async fn remove(cx: Ctx) -> CaseResult {
    let free = cx.create_volume().await?;
    let r = remove_call(&cx, &free).await?;
    ensure(
        r.success,
        &format!("RemoveVolume{{name: {free}}}"),
        "success true",
        format!("success false ({:?})", r.message),
    )?;
    let list = check::ok(
        "ListVolumes",
        cx.volumes().list_volumes(pb::EmptyRequest {}).await,
    )?
    .into_inner();
    ensure(
        !list.volumes.iter().any(|v| v.name == free),
        "ListVolumes after RemoveVolume",
        format!("no {free}"),
        "still listed",
    )?;
    let r = remove_call(&cx, &free).await?;
    ensure(
        !r.success && r.message.to_ascii_lowercase().contains("not found"),
        &format!("RemoveVolume{{name: {free}}} again"),
        "success false, \"volume not found\"",
        format!("success {}, {:?}", r.success, r.message),
    )
}
