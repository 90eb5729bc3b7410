//! RunJob: validation of every field, and the echo of the request (JOB-RUN-*).

use std::time::Duration;

use joblet_testkit::pb;
use tonic::Code;

use crate::case;
use crate::case::Case;
use crate::cases::shapes;
use crate::check::{self, CaseResult, ensure, ensure_eq, fail};
use crate::ctx::{Ctx, describe_run, job, rfc3339_ago, rfc3339_in, sh};
use crate::status::FINAL;

pub(crate) const CASES: &[Case] = &[
    case!(
        "jobs.run.starts_and_echoes_the_request",
        ["JOB-RUN-1"],
        Must,
        Mutating,
        "RunJob answers RUNNING (or SCHEDULED) with a new ID and echoes command, args, limits and times",
        run_echoes,
        quirks = ["QUIRK-3"],
        contracts = [V1]
    ),
    case!(
        "jobs.run.empty_command_is_invalid_argument",
        ["JOB-RUN-2", "ALL-4"],
        Must,
        Mutating,
        "RunJob without a command answers INVALID_ARGUMENT naming the command",
        run_empty_command
    ),
    case!(
        "jobs.run.negative_limits_are_invalid_argument",
        ["JOB-RUN-3", "ALL-4"],
        Must,
        Mutating,
        "Negative maxCpu, maxMemory or maxIobps answer INVALID_ARGUMENT",
        run_negative_limits
    ),
    case!(
        "jobs.run.cpu_over_host_capacity_is_invalid_argument",
        ["JOB-RUN-3", "ALL-4"],
        Must,
        Mutating,
        "maxCpu over 100 x the host's cores answers INVALID_ARGUMENT",
        run_cpu_over_host,
        quirks = ["QUIRK-2"]
    ),
    case!(
        "jobs.run.zero_limits_mean_unlimited",
        ["JOB-RUN-3"],
        Must,
        Mutating,
        "Limits of 0 are accepted and echoed as 0",
        run_zero_limits
    ),
    case!(
        "jobs.run.cpu_cores_forms_are_accepted",
        ["JOB-RUN-4"],
        Must,
        Mutating,
        "cpuCores N, a-b and a,b,c within the host's cores are accepted and echoed",
        run_cpu_cores_ok
    ),
    case!(
        "jobs.run.bad_cpu_cores_are_invalid_argument",
        ["JOB-RUN-4", "ALL-4"],
        Must,
        Mutating,
        "cpuCores that are not N, a-b, a,b,c within the host's cores, or repeat a core, answer INVALID_ARGUMENT",
        run_cpu_cores_bad,
        quirks = ["QUIRK-6"]
    ),
    case!(
        "jobs.run.future_schedule_is_scheduled_then_runs",
        ["JOB-RUN-5", "JOB-LIFE-2"],
        Must,
        Mutating,
        "A schedule 2 s ahead answers SCHEDULED with scheduledTime; the job runs at its time",
        run_schedule_future
    ),
    case!(
        "jobs.run.schedule_without_offset_is_server_local_time",
        ["JOB-RUN-5"],
        Must,
        Mutating,
        "A schedule YYYY-MM-DDTHH:MM:SS without offset is the server's local time",
        run_schedule_local,
        quirks = ["QUIRK-12"]
    ),
    case!(
        "jobs.run.past_schedule_runs_now",
        ["JOB-RUN-5"],
        Must,
        Mutating,
        "A schedule in the past runs the job at once",
        run_schedule_past
    ),
    case!(
        "jobs.run.bad_schedule_is_invalid_argument",
        ["JOB-RUN-5", "ALL-4"],
        Must,
        Mutating,
        "A schedule that is not RFC 3339 answers INVALID_ARGUMENT",
        run_schedule_bad,
        quirks = ["QUIRK-2"]
    ),
    case!(
        "jobs.run.builtin_networks_are_accepted",
        ["JOB-RUN-6"],
        Must,
        Mutating,
        "network \"\" means bridge; bridge, isolated and none are accepted",
        run_builtin_networks
    ),
    case!(
        "jobs.run.unknown_network_is_invalid_argument",
        ["JOB-RUN-6", "ALL-4"],
        Must,
        Mutating,
        "A network that does not exist answers INVALID_ARGUMENT",
        run_unknown_network,
        quirks = ["QUIRK-7"]
    ),
    case!(
        "jobs.run.created_network_is_accepted",
        ["JOB-RUN-6"],
        Must,
        Mutating,
        "A job runs on a network the run created, and reports it",
        run_own_network
    ),
    case!(
        "jobs.run.unknown_volume_is_invalid_argument",
        ["JOB-RUN-7", "ALL-4"],
        Must,
        Mutating,
        "A volume that does not exist, or an empty volume name, answers INVALID_ARGUMENT",
        run_unknown_volume,
        quirks = ["QUIRK-7"]
    ),
    case!(
        "jobs.run.created_volume_is_accepted",
        ["JOB-RUN-7"],
        Must,
        Mutating,
        "A job mounts a volume the run created, and reports it",
        run_own_volume
    ),
    case!(
        "jobs.run.unknown_runtime_is_invalid_argument",
        ["JOB-RUN-8", "ALL-4"],
        Must,
        Mutating,
        "A runtime that is not installed answers INVALID_ARGUMENT",
        run_unknown_runtime,
        quirks = ["QUIRK-7"]
    ),
    case!(
        "jobs.run.installed_runtime_is_echoed",
        ["JOB-RUN-8"],
        Must,
        Mutating,
        "A job with a runtime the run installed is accepted and reports it",
        run_own_runtime,
        contracts = [V1]
    ),
    case!(
        "jobs.run.uploads_reach_the_command",
        ["JOB-RUN-9"],
        Must,
        Mutating,
        "Uploaded files (in directories too) are there for the command: cat prints them",
        run_uploads
    ),
    case!(
        "jobs.run.escaping_upload_paths_are_invalid_argument",
        ["JOB-RUN-9", "ALL-4"],
        Must,
        Mutating,
        "Upload paths with .. or absolute paths answer INVALID_ARGUMENT",
        run_upload_escape
    ),
    case!(
        "jobs.run.environment_reaches_the_command",
        ["JOB-RUN-10"],
        Must,
        Mutating,
        "environment and secret_environment are set for the command",
        run_environment
    ),
    case!(
        "jobs.run.bad_environment_is_invalid_argument",
        ["JOB-RUN-10", "ALL-4"],
        Must,
        Mutating,
        "Bad names, values over 32768 bytes, or a key in both maps answer INVALID_ARGUMENT",
        run_environment_bad
    ),
];

async fn run_echoes(cx: Ctx) -> CaseResult {
    let mut req = job("sleep", &["600"]);
    req.args = vec!["600".into()];
    req.max_cpu = 50;
    req.max_memory = 256;
    req.max_iobps = 1_000_000;
    let call = describe_run(&req);
    let r = cx.run(req).await?;
    ensure(
        ["RUNNING", "SCHEDULED", "INITIALIZING"].contains(&r.status.as_str()),
        &call,
        "status RUNNING",
        format!("status {:?}", r.status),
    )?;
    ensure(
        shapes::is_v4_uuid(&r.job_uuid),
        &call,
        "a lower-case v4 UUID",
        format!("{:?}", r.job_uuid),
    )?;
    ensure_eq(&call, "command", "sleep", r.command.as_str())?;
    ensure_eq(&call, "args", &["600".to_owned()][..], &r.args[..])?;
    ensure_eq(&call, "maxCpu", &50, &r.max_cpu)?;
    ensure_eq(&call, "maxMemory", &256, &r.max_memory)?;
    ensure_eq(&call, "maxIobps", &1_000_000, &r.max_iobps)?;
    ensure(
        shapes::is_job_time(&r.start_time),
        &call,
        "startTime in RFC 3339 (whole seconds)",
        format!("startTime {:?}", r.start_time),
    )?;
    Ok(())
}

async fn run_empty_command(cx: Ctx) -> CaseResult {
    let req = job("", &[]);
    check::code_naming(
        &describe_run(&req),
        cx.run_raw(req).await,
        Code::InvalidArgument,
        &["command"],
    )?;
    let req = job("   ", &["x"]);
    check::code(
        &describe_run(&req),
        cx.run_raw(req).await,
        Code::InvalidArgument,
    )?;
    Ok(())
}

async fn run_negative_limits(cx: Ctx) -> CaseResult {
    for (field, names) in [
        ("maxCpu", &["cpu"][..]),
        ("maxMemory", &["memory"][..]),
        ("maxIobps", &["iobps", "io_bps", "iops", "io"][..]),
    ] {
        let mut req = job("true", &[]);
        match field {
            "maxCpu" => req.max_cpu = -1,
            "maxMemory" => req.max_memory = -64,
            _ => req.max_iobps = -5,
        }
        check::code_naming(
            &describe_run(&req),
            cx.run_raw(req).await,
            Code::InvalidArgument,
            names,
        )?;
    }
    Ok(())
}

async fn run_cpu_over_host(cx: Ctx) -> CaseResult {
    let cores = cx.host_cores().await?;
    let mut req = job("true", &[]);
    req.max_cpu = (100 * cores + 1) as i32;
    check::code_naming(
        &describe_run(&req),
        cx.run_raw(req).await,
        Code::InvalidArgument,
        &["cpu"],
    )?;
    Ok(())
}

async fn run_zero_limits(cx: Ctx) -> CaseResult {
    let id = cx.start("true", &[]).await?;
    let s = cx.status(&id).await?;
    let call = format!("GetJobStatus{{uuid: {id}}} after RunJob with limits 0");
    ensure_eq(&call, "maxCPU", &0, &s.max_cpu)?;
    ensure_eq(&call, "maxMemory", &0, &s.max_memory)?;
    ensure_eq(&call, "maxIOBPS", &0, &s.max_iobps)?;
    Ok(())
}

async fn run_cpu_cores_ok(cx: Ctx) -> CaseResult {
    let cores = cx.host_cores().await?;
    let mut forms = vec!["0".to_owned()];
    if cores >= 2 {
        forms.push("0-1".into());
        forms.push("0,1".into());
    }
    for form in forms {
        let mut req = job("true", &[]);
        req.cpu_cores = form.clone();
        let id = cx.run(req).await?.job_uuid;
        let s = cx.status(&id).await?;
        ensure_eq(
            &format!("GetJobStatus{{uuid: {id}}} after RunJob{{cpuCores: {form:?}}}"),
            "cpuCores",
            form.as_str(),
            s.cpu_cores.as_str(),
        )?;
    }
    Ok(())
}

async fn run_cpu_cores_bad(cx: Ctx) -> CaseResult {
    let cores = cx.host_cores().await?;
    for form in [
        "abc".to_owned(),
        "1-0".into(),
        "0,0".into(),
        cores.to_string(),
        format!("0-{cores}"),
        "-1".into(),
        "0,,1".into(),
    ] {
        let mut req = job("true", &[]);
        req.cpu_cores = form;
        check::code_naming(
            &describe_run(&req),
            cx.run_raw(req).await,
            Code::InvalidArgument,
            &["cpu"],
        )?;
    }
    Ok(())
}

async fn run_schedule_future(cx: Ctx) -> CaseResult {
    let mut req = job("echo", &["scheduled"]);
    req.schedule = rfc3339_in(Duration::from_secs(2));
    let call = describe_run(&req);
    let r = cx.run(req).await?;
    ensure_eq(&call, "status", "SCHEDULED", r.status.as_str())?;
    let s = cx.status(&r.job_uuid).await?;
    let scall = format!("GetJobStatus{{uuid: {}}} right after RunJob", r.job_uuid);
    ensure_eq(&scall, "status", "SCHEDULED", s.status.as_str())?;
    ensure(
        shapes::is_job_time(&s.scheduled_time),
        &scall,
        "scheduledTime in RFC 3339",
        format!("scheduledTime {:?}", s.scheduled_time),
    )?;
    let done = cx
        .wait_status_for(&r.job_uuid, FINAL, Duration::from_secs(15))
        .await?;
    ensure_eq(
        &format!("GetJobStatus{{uuid: {}}} 15 s after its time", r.job_uuid),
        "status",
        "COMPLETED",
        done.status.as_str(),
    )?;
    let log = cx.logs(&r.job_uuid).await?;
    check::ensure_bytes(
        &format!("GetJobLogs{{uuid: {}}}", r.job_uuid),
        b"scheduled\n",
        &log,
    )
}

async fn run_schedule_local(cx: Ctx) -> CaseResult {
    // The server's offset is the one of its job times (ALL-3).
    let probe = cx.start("true", &[]).await?;
    let s = cx.status(&probe).await?;
    let offset = chrono::DateTime::parse_from_rfc3339(&s.start_time)
        .map_err(|e| {
            fail(
                format!("GetJobStatus{{uuid: {probe}}}"),
                "startTime in RFC 3339",
                format!("{:?}: {e}", s.start_time),
            )
        })?
        .offset()
        .to_owned();
    let at = (chrono::Utc::now() + chrono::Duration::hours(1)).with_timezone(&offset);
    let mut req = job("echo", &["later"]);
    req.schedule = at.format("%Y-%m-%dT%H:%M:%S").to_string();
    let call = describe_run(&req);
    let r = cx.run(req).await?;
    ensure_eq(&call, "status", "SCHEDULED", r.status.as_str())?;
    let s = cx.status(&r.job_uuid).await?;
    let when = chrono::DateTime::parse_from_rfc3339(&s.scheduled_time).map_err(|e| {
        fail(
            format!("GetJobStatus{{uuid: {}}}", r.job_uuid),
            "scheduledTime in RFC 3339",
            format!("{:?}: {e}", s.scheduled_time),
        )
    })?;
    let diff = (when.timestamp() - at.timestamp()).abs();
    ensure(
        diff <= 1,
        &format!("GetJobStatus{{uuid: {}}}", r.job_uuid),
        format!(
            "scheduledTime {} (the local time sent, in the server's offset {offset})",
            at.to_rfc3339()
        ),
        format!("scheduledTime {:?}, {diff} s away", s.scheduled_time),
    )
}

async fn run_schedule_past(cx: Ctx) -> CaseResult {
    let mut req = job("echo", &["past"]);
    req.schedule = rfc3339_ago(Duration::from_secs(3600));
    let call = describe_run(&req);
    let r = cx.run(req).await?;
    ensure(
        r.status != "SCHEDULED",
        &call,
        "the job to run now (not SCHEDULED)",
        format!("status {:?}", r.status),
    )?;
    let s = cx.wait_final(&r.job_uuid).await?;
    ensure_eq(
        &format!("GetJobStatus{{uuid: {}}}", r.job_uuid),
        "status",
        "COMPLETED",
        s.status.as_str(),
    )
}

async fn run_schedule_bad(cx: Ctx) -> CaseResult {
    for bad in ["tomorrow", "2026-13-45T25:61:00Z", "12:00", "1700000000"] {
        let mut req = job("true", &[]);
        req.schedule = bad.into();
        check::code_naming(
            &describe_run(&req),
            cx.run_raw(req).await,
            Code::InvalidArgument,
            &["schedule"],
        )?;
    }
    Ok(())
}

async fn run_builtin_networks(cx: Ctx) -> CaseResult {
    for (sent, shown) in [
        ("", "bridge"),
        ("bridge", "bridge"),
        ("isolated", "isolated"),
        ("none", "none"),
    ] {
        let mut req = job("true", &[]);
        req.network = sent.into();
        let id = cx.run(req).await?.job_uuid;
        let s = cx.status(&id).await?;
        ensure_eq(
            &format!("GetJobStatus{{uuid: {id}}} after RunJob{{network: {sent:?}}}"),
            "network",
            shown,
            s.network.as_str(),
        )?;
    }
    Ok(())
}

async fn run_unknown_network(cx: Ctx) -> CaseResult {
    let mut req = job("true", &[]);
    req.network = cx.name("no-such-net");
    check::code_naming(
        &describe_run(&req),
        cx.run_raw(req).await,
        Code::InvalidArgument,
        &["network"],
    )?;
    Ok(())
}

async fn run_own_network(cx: Ctx) -> CaseResult {
    let (name, _) = cx.create_network().await?;
    let mut req = job("true", &[]);
    req.network = name.clone();
    let id = cx.run(req).await?.job_uuid;
    let s = cx.wait_final(&id).await?;
    let call = format!("GetJobStatus{{uuid: {id}}}");
    ensure_eq(&call, "network", name.as_str(), s.network.as_str())?;
    ensure_eq(&call, "status", "COMPLETED", s.status.as_str())
}

async fn run_unknown_volume(cx: Ctx) -> CaseResult {
    let mut req = job("true", &[]);
    req.volumes = vec![cx.name("no-such-vol")];
    check::code_naming(
        &describe_run(&req),
        cx.run_raw(req).await,
        Code::InvalidArgument,
        &["volume"],
    )?;
    let mut req = job("true", &[]);
    req.volumes = vec![String::new()];
    check::code_naming(
        &describe_run(&req),
        cx.run_raw(req).await,
        Code::InvalidArgument,
        &["volume"],
    )?;
    Ok(())
}

async fn run_own_volume(cx: Ctx) -> CaseResult {
    let vol = cx.create_volume().await?;
    let mut req = job("true", &[]);
    req.volumes = vec![vol.clone()];
    let id = cx.run(req).await?.job_uuid;
    let s = cx.wait_final(&id).await?;
    let call = format!("GetJobStatus{{uuid: {id}}}");
    ensure_eq(&call, "volumes", &[vol][..], &s.volumes[..])?;
    ensure_eq(&call, "status", "COMPLETED", s.status.as_str())
}

async fn run_unknown_runtime(cx: Ctx) -> CaseResult {
    let mut req = job("true", &[]);
    req.runtime = format!("python:3.11-cf{}nope", cx.env.run_id);
    check::code_naming(
        &describe_run(&req),
        cx.run_raw(req).await,
        Code::InvalidArgument,
        &["runtime"],
    )?;
    Ok(())
}

async fn run_own_runtime(cx: Ctx) -> CaseResult {
    let (spec, _name) = crate::cases::v2::client::own_runtime(&cx).await?;
    let mut req = job("true", &[]);
    req.runtime = spec.clone();
    let call = describe_run(&req);
    let id = cx.run(req).await?.job_uuid;
    let s = cx.status(&id).await?;
    ensure_eq(
        &format!("GetJobStatus{{uuid: {id}}} after {call}"),
        "runtime",
        spec.as_str(),
        s.runtime.as_str(),
    )
}

/// A file of an upload.
pub(super) fn upload(path: &str, content: &[u8]) -> pb::FileUpload {
    pb::FileUpload {
        path: path.into(),
        content: content.to_vec(),
        mode: 0o644,
        is_directory: false,
    }
}

async fn run_uploads(cx: Ctx) -> CaseResult {
    let mut req = sh("cat data/in.txt; cat top.txt");
    req.uploads = vec![
        pb::FileUpload {
            path: "data".into(),
            content: vec![],
            mode: 0o755,
            is_directory: true,
        },
        upload("data/in.txt", b"line one\nline two\n"),
        upload("top.txt", b"top\n"),
    ];
    let id = cx.run(req).await?.job_uuid;
    let s = cx.wait_final(&id).await?;
    let call = format!("GetJobStatus{{uuid: {id}}}");
    ensure_eq(&call, "status", "COMPLETED", s.status.as_str())?;
    for path in ["data/in.txt", "top.txt"] {
        ensure(
            s.uploads
                .iter()
                .any(|u| u == path || u.ends_with(&format!("/{path}"))),
            &call,
            format!("uploads listing {path:?}"),
            format!("uploads {:?}", s.uploads),
        )?;
    }
    let log = cx.logs(&id).await?;
    check::ensure_bytes(
        &format!("GetJobLogs{{uuid: {id}}} of `cat data/in.txt; cat top.txt`"),
        b"line one\nline two\ntop\n",
        &log,
    )
}

async fn run_upload_escape(cx: Ctx) -> CaseResult {
    for path in [
        "../escape.txt",
        "data/../../escape.txt",
        "/etc/cf-escape.txt",
    ] {
        let mut req = job("true", &[]);
        req.uploads = vec![upload(path, b"x")];
        check::code_naming(
            &describe_run(&req),
            cx.run_raw(req).await,
            Code::InvalidArgument,
            &["upload", "path"],
        )?;
    }
    Ok(())
}

async fn run_environment(cx: Ctx) -> CaseResult {
    let mut req = sh("printf '%s|%s\\n' \"$CF_PLAIN\" \"$CF_SECRET\"");
    req.environment
        .insert("CF_PLAIN".into(), "plain value".into());
    req.secret_environment
        .insert("CF_SECRET".into(), "s3cret".into());
    let id = cx.run(req).await?.job_uuid;
    cx.wait_final(&id).await?;
    let log = cx.logs(&id).await?;
    check::ensure_bytes(
        &format!("GetJobLogs{{uuid: {id}}} of printf $CF_PLAIN|$CF_SECRET"),
        b"plain value|s3cret\n",
        &log,
    )
}

async fn run_environment_bad(cx: Ctx) -> CaseResult {
    let mut req = job("true", &[]);
    req.environment.insert("1BAD".into(), "x".into());
    check::code_naming(
        &describe_run(&req),
        cx.run_raw(req).await,
        Code::InvalidArgument,
        &["1bad", "environment", "env"],
    )?;
    let mut req = job("true", &[]);
    req.environment.insert("BAD-NAME".into(), "x".into());
    check::code_naming(
        &describe_run(&req),
        cx.run_raw(req).await,
        Code::InvalidArgument,
        &["bad-name", "environment", "env"],
    )?;
    let mut req = job("true", &[]);
    req.environment.insert("CF_BIG".into(), "x".repeat(32769));
    check::code_naming(
        &describe_run(&req),
        cx.run_raw(req).await,
        Code::InvalidArgument,
        &["cf_big", "environment", "env", "value"],
    )?;
    let mut req = job("true", &[]);
    req.environment.insert("CF_BOTH".into(), "a".into());
    req.secret_environment.insert("CF_BOTH".into(), "b".into());
    check::code_naming(
        &describe_run(&req),
        cx.run_raw(req).await,
        Code::InvalidArgument,
        &["cf_both"],
    )?;
    // At the limit is fine.
    let mut req = job("true", &[]);
    req.environment.insert("CF_MAX".into(), "x".repeat(32768));
    cx.run(req).await?;
    Ok(())
}
