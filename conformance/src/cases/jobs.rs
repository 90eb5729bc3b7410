//! Jobs: RunJob validation and echo, lifecycle, status, stop, cancel, delete,
//! delete-all, list (JOB-*).

use std::time::Duration;

use joblet_testkit::pb;
use tonic::Code;

use crate::case;
use crate::case::Case;
use crate::check::{self, CaseResult, ensure, ensure_eq, fail, skip};
use crate::ctx::{Ctx, FINAL, describe_run, job, rfc3339_ago, rfc3339_in, sh};

pub(crate) const CASES: &[Case] = &[
    case!(
        "jobs.run.starts_and_echoes_the_request",
        ["JOB-RUN-1"],
        Must,
        Mutating,
        "RunJob answers RUNNING (or SCHEDULED) with a new ID and echoes command, args, limits and times",
        run_echoes,
        quirks = ["QUIRK-3"]
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
        run_own_runtime
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
    case!(
        "jobs.gpu.allocated_reported_and_released",
        ["JOB-GPU-1", "JOB-GPU-2"],
        Must,
        Mutating,
        "A GPU job gets GPUs (gpu_indices), busy GPUs answer RESOURCE_EXHAUSTED, and are free again when jobs end",
        gpu_allocation,
        quirks = ["QUIRK-12"],
        lock = "gpu"
    ),
    case!(
        "jobs.gpu.over_node_capacity_is_invalid_argument",
        ["JOB-GPU-2", "ALL-4"],
        Must,
        Mutating,
        "More GPUs than the node has, or negative GPU values, answer INVALID_ARGUMENT",
        gpu_over_capacity,
        quirks = ["QUIRK-12"]
    ),
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
        status_fields
    ),
    case!(
        "jobs.status.reports_name_and_work_dir",
        ["JOB-STATUS-1"],
        Must,
        Mutating,
        "GetJobStatus reports the name and workDir the job was given",
        status_name_workdir,
        quirks = ["QUIRK-12"]
    ),
    case!(
        "jobs.status.unknown_id_is_not_found",
        ["JOB-STATUS-2", "ALL-2"],
        Must,
        ReadOnly,
        "GetJobStatus of an unknown ID answers NOT_FOUND",
        status_unknown
    ),
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
        quirks = ["QUIRK-10"]
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
    case!(
        "jobs.list.reports_finished_and_running_jobs",
        ["JOB-LIST-1"],
        Must,
        Mutating,
        "ListJobs reports the run's finished and running jobs with their fields",
        list_jobs
    ),
];

// ---------------------------------------------------------------------------
// RunJob
// ---------------------------------------------------------------------------

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
        super::is_v4_uuid(&r.job_uuid),
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
        super::is_job_time(&r.start_time),
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
        super::is_job_time(&s.scheduled_time),
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
    let (spec, _name) = cx.install_runtime().await?;
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

fn upload(path: &str, content: &[u8]) -> pb::FileUpload {
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

// ---------------------------------------------------------------------------
// GPUs
// ---------------------------------------------------------------------------

fn gpu_job(count: i32) -> pb::RunJobRequest {
    let mut req = job("sleep", &["600"]);
    req.gpu_count = count;
    req
}

async fn gpu_allocation(cx: Ctx) -> CaseResult {
    let first = cx.run_raw(gpu_job(1)).await;
    let first = match first {
        Err(s) if s.code() == Code::InvalidArgument => {
            return Err(skip(format!(
                "the node has no GPU (RunJob{{gpu_count: 1}} answers {})",
                check::show_status(&s)
            )));
        }
        Err(s) if s.code() == Code::ResourceExhausted => {
            return Err(skip(format!(
                "every GPU of the node is busy ({})",
                check::show_status(&s)
            )));
        }
        r => check::ok(
            "RunJob{command: \"sleep\", args: [\"600\"], gpu_count: 1}",
            r,
        )?,
    };
    let mut held = vec![first.job_uuid.clone()];
    let s = cx.status(&first.job_uuid).await?;
    let call = format!(
        "GetJobStatus{{uuid: {}}} of a job with gpu_count 1",
        first.job_uuid
    );
    ensure_eq(&call, "gpu_count", &1, &s.gpu_count)?;
    ensure(
        s.gpu_indices.len() == 1,
        &call,
        "gpu_indices with one index",
        format!("gpu_indices {:?}", s.gpu_indices),
    )?;
    let listed =
        check::ok("ListJobs", cx.jobs().list_jobs(pb::EmptyRequest {}).await)?.into_inner();
    let entry = listed.jobs.iter().find(|j| j.uuid == first.job_uuid);
    ensure(
        entry.is_some_and(|j| j.gpu_count == 1 && j.gpu_indices == s.gpu_indices),
        "ListJobs",
        format!(
            "the GPU job with gpu_count 1 and gpu_indices {:?}",
            s.gpu_indices
        ),
        format!("{:?}", entry.map(|j| (j.gpu_count, j.gpu_indices.clone()))),
    )?;
    // Take GPUs until the node has none free (bounded).
    let mut exhausted = None;
    for _ in 0..64 {
        match cx.run_raw(gpu_job(1)).await {
            Ok(r) => held.push(r.job_uuid),
            Err(s) if s.code() == Code::ResourceExhausted => {
                exhausted = Some(s);
                break;
            }
            Err(s) => {
                return Err(fail(
                    "RunJob{gpu_count: 1} while other GPU jobs run",
                    "OK, or RESOURCE_EXHAUSTED once every GPU is busy",
                    check::show_status(&s),
                ));
            }
        }
    }
    if exhausted.is_none() {
        return Err(skip("the node has more than 64 GPUs: not exhausting them"));
    }
    // GPU indices of running jobs are distinct.
    let mut seen = std::collections::BTreeSet::new();
    for id in &held {
        for i in cx.status(id).await?.gpu_indices {
            ensure(
                seen.insert(i),
                &format!("GetJobStatus{{uuid: {id}}}"),
                "GPU indices no other running job holds",
                format!("index {i} held twice"),
            )?;
        }
    }
    // Freed when a job ends.
    let victim = held.remove(0);
    cx.stop(&victim).await?;
    cx.wait_final(&victim).await?;
    let again = cx.run_raw(gpu_job(1)).await;
    check::ok(
        "RunJob{gpu_count: 1} after a GPU job was stopped (its GPU is free again)",
        again,
    )?;
    Ok(())
}

async fn gpu_over_capacity(cx: Ctx) -> CaseResult {
    let req = gpu_job(4096);
    check::code_naming(
        &describe_run(&req),
        cx.run_raw(req).await,
        Code::InvalidArgument,
        &["gpu"],
    )?;
    let req = gpu_job(-1);
    check::code_naming(
        &describe_run(&req),
        cx.run_raw(req).await,
        Code::InvalidArgument,
        &["gpu"],
    )?;
    let mut req = gpu_job(0);
    req.gpu_memory_mb = -1;
    check::code_naming(
        "RunJob{gpu_memory_mb: -1}",
        cx.run_raw(req).await,
        Code::InvalidArgument,
        &["gpu"],
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Lifecycle and status
// ---------------------------------------------------------------------------

async fn life_completes(cx: Ctx) -> CaseResult {
    let id = cx.start("echo", &["done"]).await?;
    let s = cx.wait_final(&id).await?;
    let call = format!("GetJobStatus{{uuid: {id}}} of `echo done`");
    ensure_eq(&call, "status", "COMPLETED", s.status.as_str())?;
    ensure_eq(&call, "exitCode", &0, &s.exit_code)?;
    ensure(
        super::is_job_time(&s.end_time),
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
        super::is_job_time(&s.end_time),
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
        super::is_job_time(&s.start_time),
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
    ensure_eq(&call, "name", name.as_str(), s.name.as_str())?;
    ensure_eq(&call, "workDir", "/work/cf", s.work_dir.as_str())
}

async fn status_unknown(cx: Ctx) -> CaseResult {
    let id = uuid::Uuid::new_v4().to_string();
    cx.expect_no_job(&id, &format!("GetJobStatus{{uuid: {id}}} (unknown)"))
        .await
}

// ---------------------------------------------------------------------------
// Stop, cancel, delete
// ---------------------------------------------------------------------------

async fn stop_running(cx: Ctx) -> CaseResult {
    let id = cx.start_long().await?;
    cx.stop(&id).await?;
    let s = cx.wait_final(&id).await?;
    let call = format!("GetJobStatus{{uuid: {id}}} after StopJob");
    ensure_eq(&call, "status", "STOPPED", s.status.as_str())?;
    ensure_eq(&call, "exitCode", &-1, &s.exit_code)?;
    ensure(
        super::is_job_time(&s.end_time),
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
        super::is_job_time(&r.end_time),
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
            super::is_job_time(&j.start_time),
            &call,
            "startTime in RFC 3339",
            format!("startTime {:?}", j.start_time),
        )?;
        ensure(!j.node_id.is_empty(), &call, "a nodeId", "nodeId \"\"")?;
    }
    Ok(())
}
