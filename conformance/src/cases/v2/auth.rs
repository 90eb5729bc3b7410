//! Roles on a node that speaks v2: no role may call nothing (AUTH-6), the
//! viewer reads every v2 read and changes nothing (AUTH-7), and the
//! four-role model when the node runs it (AUTH-8).

use joblet_testkit::pb::v2;
use joblet_testkit::pb::v2::job_service_client::JobServiceClient;
use joblet_testkit::pb::v2::monitoring_service_client::MonitoringServiceClient;
use joblet_testkit::pb::v2::network_service_client::NetworkServiceClient;
use joblet_testkit::pb::v2::runtime_service_client::RuntimeServiceClient;
use joblet_testkit::pb::v2::volume_service_client::VolumeServiceClient;
use tonic::{Code, Status};

use crate::case;
use crate::case::Case;
use crate::check::{self, CaseError, CaseResult, ensure, ensure_eq, fail, show_status};
use crate::cleanup::Resource;
use crate::ctx::{Ctx, Rec};

pub(crate) const CASES: &[Case] = &[
    case!(
        "auth.roles.v2_certificate_without_role_may_call_nothing",
        ["AUTH-6"],
        Must,
        Mutating,
        "A certificate whose OU is no role gets PERMISSION_DENIED \"role unknown is not allowed …\" for every v2 read and write, metrics and telematics included (monitoring: auth.roles.certificate_without_role_may_not_monitor)",
        no_role_nothing,
        contracts = [V2],
        needs = [NoRole]
    ),
    case!(
        "auth.roles.v2_reader_certificate_is_viewer",
        ["AUTH-6"],
        Must,
        Mutating,
        "A certificate whose OU is reader counts as viewer: it may list jobs and read a job's status, and RunJob answers PERMISSION_DENIED \"role viewer is not allowed to perform operation run_job\" (or RunJob; \"role reader … run_job\" where the four-role model is on)",
        reader_is_viewer,
        quirks_v2 = ["QUIRK-22"],
        contracts = [V2],
        needs = [Reader]
    ),
    case!(
        "auth.viewer.v2_may_call_every_read",
        ["AUTH-7"],
        Must,
        Mutating,
        "The viewer may call every v2 read: job status, list, logs, metrics and telematics, networks, volumes, runtimes, ValidateRuntimeYAML, monitoring",
        viewer_reads,
        contracts = [V2],
        needs = [Viewer]
    ),
    case!(
        "auth.viewer.v2_may_not_change_anything",
        ["AUTH-7"],
        Must,
        Mutating,
        "The viewer gets PERMISSION_DENIED \"role viewer is not allowed to perform operation …\" for every v2 write, BuildRuntime included (CancelJob: auth.viewer.may_not_cancel); nothing changes",
        viewer_writes,
        contracts = [V2],
        needs = [Viewer]
    ),
    case!(
        "auth.roles.four_role_model_is_an_option",
        ["AUTH-8"],
        Must,
        Mutating,
        "The role model is two-role (the default: the OU viewer is viewer and may validate YAML) or four-role (the OU viewer is reader: refused run_job and validate_runtime, allowed metrics; no role refused get_metrics), consistently",
        four_roles,
        contracts = [V2],
        needs = [Viewer, NoRole]
    ),
];

fn unit<T>(r: Result<tonic::Response<T>, Status>) -> Result<(), Status> {
    r.map(|_| ())
}

/// PERMISSION_DENIED "role `role` is not allowed to perform operation …".
fn denied(call: &str, r: Result<(), Status>, role: &str) -> CaseResult {
    let s = check::code(call, r, Code::PermissionDenied)?;
    let want = format!("role {role} is not allowed to perform operation ");
    ensure(
        s.message().starts_with(&want) && s.message().len() > want.len(),
        call,
        format!("PERMISSION_DENIED {want:?}<op>"),
        show_status(&s),
    )
}

/// Whether `method` (a v2 method of the lists below) is one the node does
/// not serve and `r` says so (UNIMPLEMENTED): refused anyway. That happens
/// only in a compatibility report (a v2 client on a node of v1 alone), where
/// the method's own behaviours report that it is gone.
fn gone(cx: &Ctx, method: &str, r: &Result<(), Status>) -> bool {
    let unimplemented = matches!(r, Err(s) if s.code() == Code::Unimplemented);
    unimplemented
        && joblet_testkit::contract::V2_ONLY
            .iter()
            .any(|(service, m)| *m == method && !cx.env.node.serves(service, m))
}

/// Any answer but PERMISSION_DENIED, UNAUTHENTICATED or a transport failure.
fn allowed(call: &str, r: Result<(), Status>, who: &str) -> CaseResult {
    match r {
        Ok(()) => Ok(()),
        Err(s) if check::is_transport(&s) => Err(CaseError::Error(format!(
            "{call}: no answer: {}",
            show_status(&s)
        ))),
        Err(s) if matches!(s.code(), Code::PermissionDenied | Code::Unauthenticated) => Err(fail(
            call,
            format!("the {who} to be allowed"),
            show_status(&s),
        )),
        Err(_) => Ok(()),
    }
}

/// The v2 reads, each with its result, on channel `ch`; `own` is a finished
/// job of the run.
async fn reads(ch: Rec, own: &str) -> Vec<(&'static str, Result<(), Status>)> {
    let mut jobs = JobServiceClient::new(ch.clone());
    let mut rts = RuntimeServiceClient::new(ch.clone());
    let id = || own.to_owned();
    vec![
        (
            "GetJobStatus",
            unit(
                jobs.get_job_status(v2::GetJobStatusRequest { uuid: id() })
                    .await,
            ),
        ),
        ("ListJobs", unit(jobs.list_jobs(v2::EmptyRequest {}).await)),
        (
            "GetJobLogs",
            unit(
                jobs.get_job_logs(v2::GetJobLogsRequest { uuid: id() })
                    .await,
            ),
        ),
        (
            "StreamJobMetrics",
            unit(
                jobs.stream_job_metrics(v2::StreamJobMetricsRequest { job_uuid: id() })
                    .await,
            ),
        ),
        (
            "GetJobMetrics",
            unit(
                jobs.get_job_metrics(v2::GetJobMetricsRequest {
                    job_uuid: id(),
                    ..Default::default()
                })
                .await,
            ),
        ),
        (
            "StreamJobTelematics",
            unit(
                jobs.stream_job_telematics(v2::StreamJobTelematicsRequest {
                    job_uuid: id(),
                    types: vec![],
                })
                .await,
            ),
        ),
        (
            "GetJobTelematics",
            unit(
                jobs.get_job_telematics(v2::GetJobTelematicsRequest {
                    job_uuid: id(),
                    ..Default::default()
                })
                .await,
            ),
        ),
        (
            "ListNetworks",
            unit(
                NetworkServiceClient::new(ch.clone())
                    .list_networks(v2::EmptyRequest {})
                    .await,
            ),
        ),
        (
            "ListVolumes",
            unit(
                VolumeServiceClient::new(ch.clone())
                    .list_volumes(v2::EmptyRequest {})
                    .await,
            ),
        ),
        (
            "ListRuntimes",
            unit(rts.list_runtimes(v2::EmptyRequest {}).await),
        ),
        (
            "GetRuntimeInfo",
            unit(
                rts.get_runtime_info(v2::GetRuntimeInfoRequest {
                    runtime: "python-3.11".into(),
                })
                .await,
            ),
        ),
        (
            "ValidateRuntimeYAML",
            unit(
                rts.validate_runtime_yaml(v2::ValidateRuntimeYamlRequest::default())
                    .await,
            ),
        ),
    ]
}

/// The two monitoring reads on channel `ch`.
async fn monitoring(ch: Rec) -> Vec<(&'static str, Result<(), Status>)> {
    let mut mon = MonitoringServiceClient::new(ch);
    vec![
        (
            "GetSystemStatus",
            unit(mon.get_system_status(v2::EmptyRequest {}).await),
        ),
        (
            "StreamSystemMetrics",
            unit(
                mon.stream_system_metrics(v2::StreamMetricsRequest {
                    interval_seconds: 1,
                    metric_types: vec![],
                })
                .await,
            ),
        ),
    ]
}

/// The v2 writes on channel `ch`, on this run's own job `own` (RUNNING) and
/// names of this run; what a wrongly allowed call creates is tracked.
async fn writes(cx: &Ctx, ch: Rec, own: &str) -> Vec<(&'static str, Result<(), Status>)> {
    let mut jobs = JobServiceClient::new(ch.clone());
    let mut nets = NetworkServiceClient::new(ch.clone());
    let mut vols = VolumeServiceClient::new(ch.clone());
    let mut rts = RuntimeServiceClient::new(ch);
    let id = || own.to_owned();
    let run = jobs.run_job(super::client::job2("true", &[])).await;
    if let Ok(r) = &run {
        cx.tracker.add(Resource::Job(r.get_ref().job_uuid.clone()));
    }
    let net = cx.name("net");
    let create_net = nets
        .create_network(v2::CreateNetworkRequest {
            name: net.clone(),
            cidr: cx.cidr(),
        })
        .await;
    if create_net.is_ok() {
        cx.tracker.add(Resource::Network(net));
    }
    let vol = cx.name("vol");
    let create_vol = vols
        .create_volume(v2::CreateVolumeRequest {
            name: vol.clone(),
            size: "1MB".into(),
            r#type: "filesystem".into(),
        })
        .await;
    if create_vol.is_ok() {
        cx.tracker.add(Resource::Volume(vol));
    }
    let rt = cx.name("rt");
    let mut out = vec![
        ("RunJob", unit(run)),
        (
            "StopJob",
            unit(jobs.stop_job(v2::StopJobRequest { uuid: id() }).await),
        ),
        (
            "DeleteJob",
            unit(jobs.delete_job(v2::DeleteJobRequest { uuid: id() }).await),
        ),
        ("CreateNetwork", unit(create_net)),
        (
            "RemoveNetwork",
            unit(
                nets.remove_network(v2::RemoveNetworkRequest {
                    name: cx.name("net"),
                })
                .await,
            ),
        ),
        ("CreateVolume", unit(create_vol)),
        (
            "RemoveVolume",
            unit(
                vols.remove_volume(v2::RemoveVolumeRequest {
                    name: cx.name("vol"),
                })
                .await,
            ),
        ),
        (
            "TestRuntime",
            unit(
                rts.test_runtime(v2::TestRuntimeRequest {
                    runtime: rt.clone(),
                })
                .await,
            ),
        ),
        (
            "RemoveRuntime",
            unit(
                rts.remove_runtime(v2::RemoveRuntimeRequest { runtime: rt })
                    .await,
            ),
        ),
        (
            "BuildRuntime",
            unit(rts.build_runtime(v2::BuildRuntimeRequest::default()).await),
        ),
    ];
    if cx.env.options.allow_delete_all {
        out.push((
            "DeleteAllJobs",
            unit(jobs.delete_all_jobs(v2::DeleteAllJobsRequest {}).await),
        ));
    }
    out
}

async fn no_role_nothing(cx: Ctx) -> CaseResult {
    let ch = cx.no_role().await?;
    let done = super::client::run2(&cx, super::client::job2("echo", &["done"])).await?;
    cx.wait_final(&done).await?;
    for (method, r) in reads(ch.clone(), &done).await {
        if !gone(&cx, method, &r) {
            denied(&format!("{method} without a role"), r, "unknown")?;
        }
    }
    let own = cx.start_long().await?;
    for (method, r) in writes(&cx, ch, &own).await {
        if !gone(&cx, method, &r) {
            denied(&format!("{method} without a role"), r, "unknown")?;
        }
    }
    ensure_eq(
        &format!("GetJobStatus{{uuid: {own}}} after the refused writes"),
        "status",
        "RUNNING",
        cx.status(&own).await?.status.as_str(),
    )
}

/// The refusals a `reader` certificate may get for RunJob: as viewer (the
/// two-role model, AUTH-6; the operation named `run_job` as a real node
/// does, or `RunJob` as the mock does, AUTH-7), or as the four-role reader
/// (AUTH-8).
const READER_RUN_DENIALS: [&str; 3] = [
    "role viewer is not allowed to perform operation run_job",
    "role viewer is not allowed to perform operation RunJob",
    "role reader is not allowed to perform operation run_job",
];

async fn reader_is_viewer(cx: Ctx) -> CaseResult {
    let ch = cx.reader().await?;
    let done = super::client::run2(&cx, super::client::job2("echo", &["done"])).await?;
    cx.wait_final(&done).await?;
    let mut jobs = JobServiceClient::new(ch);
    let listed = jobs.list_jobs(v2::EmptyRequest {}).await;
    let listed = check::ok("ListJobs as reader", listed)?;
    ensure(
        listed.get_ref().jobs.iter().any(|j| j.uuid == done),
        "ListJobs as reader",
        format!("the run's job {done} listed"),
        format!("{} job(s), not that one", listed.get_ref().jobs.len()),
    )?;
    let status = jobs
        .get_job_status(v2::GetJobStatusRequest { uuid: done.clone() })
        .await;
    check::ok(&format!("GetJobStatus{{uuid: {done}}} as reader"), status)?;
    let run = jobs.run_job(super::client::job2("true", &[])).await;
    if let Ok(r) = &run {
        cx.tracker.add(Resource::Job(r.get_ref().job_uuid.clone()));
    }
    let s = check::code("RunJob as reader", unit(run), Code::PermissionDenied)?;
    ensure(
        READER_RUN_DENIALS.contains(&s.message()),
        "RunJob as reader",
        format!("PERMISSION_DENIED, one of {READER_RUN_DENIALS:?}"),
        show_status(&s),
    )
}

async fn viewer_reads(cx: Ctx) -> CaseResult {
    let ch = cx.viewer().await?;
    let done = super::client::run2(&cx, super::client::job2("echo", &["done"])).await?;
    cx.wait_final(&done).await?;
    let mut all = reads(ch.clone(), &done).await;
    all.extend(monitoring(ch).await);
    for (method, r) in all {
        allowed(&format!("{method} as viewer"), r, "viewer")?;
    }
    Ok(())
}

async fn viewer_writes(cx: Ctx) -> CaseResult {
    let ch = cx.viewer().await?;
    let own = cx.start_long().await?;
    for (method, r) in writes(&cx, ch, &own).await {
        if !gone(&cx, method, &r) {
            denied(&format!("{method} as viewer"), r, "viewer")?;
        }
    }
    ensure_eq(
        &format!("GetJobStatus{{uuid: {own}}} after the viewer's StopJob and DeleteJob"),
        "status",
        "RUNNING",
        cx.status(&own).await?.status.as_str(),
    )
}

/// The default, two-role model (the four-role option off): the OU viewer is
/// the viewer of AUTH-7, so it may validate a YAML, which a four-role reader
/// may not, and a caller without a role is refused as `unknown`.
async fn two_roles(cx: &Ctx, viewer: Rec) -> CaseResult {
    let r = RuntimeServiceClient::new(viewer)
        .validate_runtime_yaml(v2::ValidateRuntimeYamlRequest::default())
        .await;
    allowed(
        "ValidateRuntimeYAML as the OU viewer (two roles)",
        unit(r),
        "viewer",
    )?;
    let none = cx.no_role().await?;
    let r = JobServiceClient::new(none)
        .list_jobs(v2::EmptyRequest {})
        .await;
    denied("ListJobs without a role (two roles)", unit(r), "unknown")
}

async fn four_roles(cx: Ctx) -> CaseResult {
    let viewer = cx.viewer().await?;
    let mut jobs = JobServiceClient::new(viewer.clone());
    let run = jobs.run_job(super::client::job2("true", &[])).await;
    if let Ok(r) = &run {
        cx.tracker.add(Resource::Job(r.get_ref().job_uuid.clone()));
    }
    let s = check::code("RunJob as the OU viewer", unit(run), Code::PermissionDenied)?;
    if s.message().starts_with("role viewer ") {
        return two_roles(&cx, viewer).await;
    }
    let exact = |call: &str, r: Result<(), Status>, want: &str| -> CaseResult {
        let s = check::code(call, r, Code::PermissionDenied)?;
        ensure_eq(call, "message", want, s.message())
    };
    exact(
        "RunJob as the OU viewer (four roles: reader)",
        Err(s),
        "role reader is not allowed to perform operation run_job",
    )?;
    let r = RuntimeServiceClient::new(viewer.clone())
        .validate_runtime_yaml(v2::ValidateRuntimeYamlRequest::default())
        .await;
    exact(
        "ValidateRuntimeYAML as reader",
        unit(r),
        "role reader is not allowed to perform operation validate_runtime",
    )?;
    let done = super::client::run2(&cx, super::client::job2("echo", &["done"])).await?;
    cx.wait_final(&done).await?;
    let r = jobs
        .get_job_metrics(v2::GetJobMetricsRequest {
            job_uuid: done.clone(),
            ..Default::default()
        })
        .await;
    allowed("GetJobMetrics as reader", unit(r), "reader")?;
    allowed(
        "ListJobs as reader",
        unit(jobs.list_jobs(v2::EmptyRequest {}).await),
        "reader",
    )?;
    let none = cx.no_role().await?;
    let r = MonitoringServiceClient::new(none)
        .get_system_status(v2::EmptyRequest {})
        .await;
    exact(
        "GetSystemStatus without a role (four roles)",
        unit(r),
        "role unknown is not allowed to perform operation get_metrics",
    )
}
