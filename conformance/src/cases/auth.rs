//! Transport and roles (AUTH-*): plaintext callers are admin; TLS needs a
//! client certificate; the role is the certificate's OU; the viewer reads only.

use joblet_testkit::pb;
use joblet_testkit::pb::job_service_client::JobServiceClient;
use joblet_testkit::pb::monitoring_service_client::MonitoringServiceClient;
use joblet_testkit::pb::network_service_client::NetworkServiceClient;
use joblet_testkit::pb::runtime_service_client::RuntimeServiceClient;
use joblet_testkit::pb::volume_service_client::VolumeServiceClient;
use tonic::{Code, Status};

use crate::case;
use crate::case::Case;
use crate::check::{self, CaseError, CaseResult, ensure, fail, show_status};
use crate::ctx::{Ctx, Rec, job};

pub(crate) const CASES: &[Case] = &[
    case!(
        "auth.plaintext.every_caller_is_admin",
        ["AUTH-1"],
        Must,
        Mutating,
        "Over plaintext, a caller without credentials may run, stop and delete jobs and create volumes",
        plaintext_admin,
        needs = [Plaintext]
    ),
    case!(
        "auth.tls.client_without_certificate_is_refused",
        ["AUTH-2"],
        Must,
        ReadOnly,
        "Over TLS, a client that presents no certificate gets no answer (handshake refused or UNAUTHENTICATED)",
        tls_no_cert,
        needs = [Tls]
    ),
    case!(
        "auth.roles.certificate_without_role_may_call_nothing",
        ["AUTH-3"],
        Must,
        ReadOnly,
        "A CA-signed certificate whose OU is neither admin nor viewer gets PERMISSION_DENIED for job, network, volume and runtime reads",
        no_role_reads,
        contracts = [V1],
        needs = [NoRole]
    ),
    case!(
        "auth.roles.certificate_without_role_may_not_monitor",
        ["AUTH-3", "AUTH-6"],
        Must,
        ReadOnly,
        "A certificate without a role gets PERMISSION_DENIED from monitoring too",
        no_role_monitoring,
        quirks = ["QUIRK-11"],
        needs = [NoRole]
    ),
    case!(
        "auth.viewer.may_call_every_read",
        ["AUTH-4"],
        Must,
        ReadOnly,
        "The viewer may call every read RPC (no PERMISSION_DENIED)",
        viewer_reads,
        contracts = [V1],
        needs = [Viewer]
    ),
    case!(
        "auth.viewer.may_not_change_anything",
        ["AUTH-4"],
        Must,
        Mutating,
        "The viewer gets PERMISSION_DENIED \"role viewer is not allowed to perform operation …\" for every write RPC",
        viewer_writes,
        contracts = [V1],
        needs = [Viewer]
    ),
    case!(
        "auth.viewer.may_not_cancel",
        ["AUTH-4", "AUTH-7"],
        Must,
        Mutating,
        "The viewer gets PERMISSION_DENIED for CancelJob",
        viewer_cancel,
        quirks = ["QUIRK-1"],
        needs = [Viewer]
    ),
    case!(
        "auth.viewer.denied_before_validation",
        ["AUTH-5"],
        Must,
        Mutating,
        "The viewer's invalid requests answer PERMISSION_DENIED, not INVALID_ARGUMENT",
        viewer_auth_first,
        needs = [Viewer]
    ),
];

async fn plaintext_admin(cx: Ctx) -> CaseResult {
    let id = cx.start_long().await?;
    cx.stop(&id).await?;
    cx.wait_final(&id).await?;
    cx.delete(&id, &format!("DeleteJob{{uuid: {id}}} over plaintext"))
        .await?;
    cx.create_volume().await?;
    Ok(())
}

async fn tls_no_cert(cx: Ctx) -> CaseResult {
    let t = &cx.env.targets;
    let target = [Some(&t.main), t.viewer.as_ref(), t.no_role.as_ref()]
        .into_iter()
        .flatten()
        .find(|t| t.tls.is_some())
        .cloned()
        .ok_or_else(|| check::skip(crate::case::Need::Tls.skip_reason()))?;
    let endpoint = target
        .endpoint_without_client_cert()
        .map_err(|e| {
            CaseError::Error(format!(
                "cannot build a TLS client for {}: {e}",
                target.addr
            ))
        })?
        .ok_or_else(|| CaseError::Error("the TLS target has no TLS settings".into()))?;
    let call = format!(
        "ListJobs over TLS to {} without a client certificate",
        target.addr
    );
    let channel = match endpoint.connect().await {
        Err(_) => return Ok(()), // the handshake was refused
        Ok(c) => c,
    };
    let mut jobs = JobServiceClient::new(channel);
    match jobs.list_jobs(pb::EmptyRequest {}).await {
        Ok(r) => Err(fail(
            call,
            "the handshake refused or UNAUTHENTICATED",
            format!("OK with {} jobs", r.into_inner().jobs.len()),
        )),
        Err(s)
            if s.code() == Code::Unauthenticated
                || check::is_transport(&s)
                || s.code() == Code::Unavailable
                || s.code() == Code::Unknown
                // The server closed the connection after the TLS 1.3 handshake
                // (client certificates are checked after the client's Finished).
                || s.code() == Code::Cancelled =>
        {
            Ok(())
        }
        Err(s) => Err(fail(
            call,
            "the handshake refused or UNAUTHENTICATED",
            show_status(&s),
        )),
    }
}

fn denied(call: &str, r: Result<(), Status>, role: &str) -> CaseResult {
    let s = check::code(call, r, Code::PermissionDenied)?;
    let want = format!("role {role} is not allowed to perform operation");
    ensure(
        s.message().to_ascii_lowercase().contains(&want),
        call,
        format!("PERMISSION_DENIED {want:?} …"),
        show_status(&s),
    )
}

/// [`denied`], but a method the node does not serve at all refuses too:
/// UNIMPLEMENTED for `joblet.<service>/<method>` passes when the node's
/// contract lacks it. That happens only in a compatibility report (a v1
/// client on a node of v2 alone), where the method's own behaviours report
/// that it is gone; otherwise the node serves every method the case calls.
fn denied_unless_gone(
    cx: &Ctx,
    (service, method): (&str, &str),
    r: Result<(), Status>,
    role: &str,
) -> CaseResult {
    match &r {
        Err(s) if s.code() == Code::Unimplemented && !cx.env.node.serves(service, method) => Ok(()),
        _ => denied(&format!("{method} as {}", role_caller(role)), r, role),
    }
}

/// How a call's description names the caller of `role`.
fn role_caller(role: &str) -> &str {
    if role == "unknown" {
        "a certificate without a role"
    } else {
        role
    }
}

fn unit<T>(r: Result<tonic::Response<T>, Status>) -> Result<(), Status> {
    r.map(|_| ())
}

async fn no_role_reads(cx: Ctx) -> CaseResult {
    let ch = cx.no_role().await?;
    let mut jobs = JobServiceClient::new(ch.clone());
    denied(
        "ListJobs as a certificate without a role",
        unit(jobs.list_jobs(pb::EmptyRequest {}).await),
        "unknown",
    )?;
    let id = uuid::Uuid::new_v4().to_string();
    denied(
        "GetJobStatus as a certificate without a role",
        unit(jobs.get_job_status(pb::GetJobStatusReq { uuid: id }).await),
        "unknown",
    )?;
    denied_unless_gone(
        &cx,
        ("JobService", "ListWorkflows"),
        unit(
            jobs.list_workflows(pb::ListWorkflowsRequest {
                include_completed: true,
            })
            .await,
        ),
        "unknown",
    )?;
    denied(
        "ListNetworks as a certificate without a role",
        unit(
            NetworkServiceClient::new(ch.clone())
                .list_networks(pb::EmptyRequest {})
                .await,
        ),
        "unknown",
    )?;
    denied(
        "ListVolumes as a certificate without a role",
        unit(
            VolumeServiceClient::new(ch.clone())
                .list_volumes(pb::EmptyRequest {})
                .await,
        ),
        "unknown",
    )?;
    denied(
        "ListRuntimes as a certificate without a role",
        unit(
            RuntimeServiceClient::new(ch)
                .list_runtimes(pb::EmptyRequest {})
                .await,
        ),
        "unknown",
    )
}

async fn no_role_monitoring(cx: Ctx) -> CaseResult {
    let ch = cx.no_role().await?;
    let r = MonitoringServiceClient::new(ch)
        .get_system_status(pb::EmptyRequest {})
        .await;
    denied(
        "GetSystemStatus as a certificate without a role",
        unit(r),
        "unknown",
    )
}

/// A read as the viewer: any answer but PERMISSION_DENIED (and no transport
/// failure) passes.
fn allowed(call: &str, r: Result<(), Status>) -> CaseResult {
    match r {
        Ok(()) => Ok(()),
        Err(s) if s.code() == Code::PermissionDenied => {
            Err(fail(call, "the viewer to be allowed", show_status(&s)))
        }
        Err(s) if check::is_transport(&s) => Err(CaseError::Error(format!(
            "{call}: no answer: {}",
            show_status(&s)
        ))),
        Err(s) if s.code() == Code::Unauthenticated => {
            Err(fail(call, "the viewer to be allowed", show_status(&s)))
        }
        Err(_) => Ok(()),
    }
}

async fn viewer_reads(cx: Ctx) -> CaseResult {
    let ch = cx.viewer().await?;
    let mut jobs = JobServiceClient::new(ch.clone());
    let unknown = uuid::Uuid::new_v4().to_string();
    allowed(
        "ListJobs as viewer",
        unit(jobs.list_jobs(pb::EmptyRequest {}).await),
    )?;
    allowed(
        "GetJobStatus as viewer",
        unit(
            jobs.get_job_status(pb::GetJobStatusReq {
                uuid: unknown.clone(),
            })
            .await,
        ),
    )?;
    allowed(
        "GetJobLogs as viewer",
        unit(
            jobs.get_job_logs(pb::GetJobLogsReq {
                uuid: unknown.clone(),
            })
            .await,
        ),
    )?;
    allowed(
        "GetWorkflowStatus as viewer",
        unit(
            jobs.get_workflow_status(pb::GetWorkflowStatusRequest {
                workflow_uuid: unknown.clone(),
            })
            .await,
        ),
    )?;
    allowed(
        "ListWorkflows as viewer",
        unit(
            jobs.list_workflows(pb::ListWorkflowsRequest {
                include_completed: true,
            })
            .await,
        ),
    )?;
    allowed(
        "GetWorkflowJobs as viewer",
        unit(
            jobs.get_workflow_jobs(pb::GetWorkflowJobsRequest {
                workflow_uuid: unknown,
            })
            .await,
        ),
    )?;
    allowed(
        "ListNetworks as viewer",
        unit(
            NetworkServiceClient::new(ch.clone())
                .list_networks(pb::EmptyRequest {})
                .await,
        ),
    )?;
    allowed(
        "ListVolumes as viewer",
        unit(
            VolumeServiceClient::new(ch.clone())
                .list_volumes(pb::EmptyRequest {})
                .await,
        ),
    )?;
    let mut rt = RuntimeServiceClient::new(ch.clone());
    allowed(
        "ListRuntimes as viewer",
        unit(rt.list_runtimes(pb::EmptyRequest {}).await),
    )?;
    allowed(
        "GetRuntimeInfo as viewer",
        unit(
            rt.get_runtime_info(pb::RuntimeInfoReq {
                runtime: "python:3.11".into(),
            })
            .await,
        ),
    )?;
    allowed(
        "ValidateRuntimeSpec as viewer",
        unit(
            rt.validate_runtime_spec(pb::ValidateRuntimeSpecRequest {
                runtime_spec: "python:3.11".into(),
            })
            .await,
        ),
    )?;
    let mut mon = MonitoringServiceClient::new(ch);
    allowed(
        "GetSystemStatus as viewer",
        unit(mon.get_system_status(pb::EmptyRequest {}).await),
    )?;
    let r = mon
        .stream_system_metrics(pb::StreamMetricsReq {
            interval_seconds: 1,
            metric_types: vec!["cpu".into()],
        })
        .await;
    allowed("StreamSystemMetrics as viewer", unit(r))
}

async fn viewer_writes(cx: Ctx) -> CaseResult {
    let ch = cx.viewer().await?;
    // Targets of the writes are this run's own (a job it runs as admin, names
    // with its prefix), so a server that wrongly allows them changes only
    // this run's resources, which the tracker removes.
    let own = cx.start_long().await?;
    viewer_job_writes(&cx, ch.clone(), &own).await?;
    viewer_network_and_volume_writes(&cx, ch.clone()).await?;
    viewer_runtime_writes(&cx, ch).await?;
    let s = cx.status(&own).await?;
    check::ensure_eq(
        &format!("GetJobStatus{{uuid: {own}}} after the viewer's StopJob"),
        "status",
        "RUNNING",
        s.status.as_str(),
    )
}

/// The viewer's JobService writes (RunJob, StopJob and DeleteJob of `own`,
/// DeleteAllJobs when allowed, RunWorkflow) are refused.
async fn viewer_job_writes(cx: &Ctx, ch: Rec, own: &str) -> CaseResult {
    let own = own.to_owned();
    let mut jobs = JobServiceClient::new(ch.clone());
    let r = jobs.run_job(job("true", &[])).await;
    if let Ok(res) = &r {
        cx.tracker.add(crate::cleanup::Resource::Job(
            res.get_ref().job_uuid.clone(),
        ));
    }
    denied("RunJob as viewer", unit(r), "viewer")?;
    denied(
        "StopJob as viewer",
        unit(jobs.stop_job(pb::StopJobReq { uuid: own.clone() }).await),
        "viewer",
    )?;
    denied(
        "DeleteJob as viewer",
        unit(
            jobs.delete_job(pb::DeleteJobReq { uuid: own.clone() })
                .await,
        ),
        "viewer",
    )?;
    if cx.env.options.allow_delete_all {
        denied(
            "DeleteAllJobs as viewer",
            unit(jobs.delete_all_jobs(pb::DeleteAllJobsReq {}).await),
            "viewer",
        )?;
    }
    let wf = format!(
        "jobs:\n  only:\n    command: echo\n    args: [\"{}\"]\n",
        cx.marker()
    );
    let r = jobs
        .run_workflow(pb::RunWorkflowRequest {
            workflow: format!("{}.yaml", cx.name("wf")),
            yaml_content: wf,
            ..Default::default()
        })
        .await;
    if let Ok(res) = &r {
        cx.tracker.add(crate::cleanup::Resource::Workflow(
            res.get_ref().workflow_uuid.clone(),
        ));
    }
    denied_unless_gone(cx, ("JobService", "RunWorkflow"), unit(r), "viewer")?;
    Ok(())
}

/// The viewer's network and volume writes (create, remove) are refused.
async fn viewer_network_and_volume_writes(cx: &Ctx, ch: Rec) -> CaseResult {
    let net = cx.name("net");
    let r = NetworkServiceClient::new(ch.clone())
        .create_network(pb::CreateNetworkReq {
            name: net.clone(),
            cidr: cx.cidr(),
        })
        .await;
    if r.is_ok() {
        cx.tracker
            .add(crate::cleanup::Resource::Network(net.clone()));
    }
    denied("CreateNetwork as viewer", unit(r), "viewer")?;
    denied(
        "RemoveNetwork as viewer",
        unit(
            NetworkServiceClient::new(ch.clone())
                .remove_network(pb::RemoveNetworkReq { name: net })
                .await,
        ),
        "viewer",
    )?;
    let vol = cx.name("vol");
    let r = VolumeServiceClient::new(ch.clone())
        .create_volume(pb::CreateVolumeReq {
            name: vol.clone(),
            size: "1MB".into(),
            r#type: String::new(),
        })
        .await;
    if r.is_ok() {
        cx.tracker
            .add(crate::cleanup::Resource::Volume(vol.clone()));
    }
    denied("CreateVolume as viewer", unit(r), "viewer")?;
    denied(
        "RemoveVolume as viewer",
        unit(
            VolumeServiceClient::new(ch.clone())
                .remove_volume(pb::RemoveVolumeReq { name: vol })
                .await,
        ),
        "viewer",
    )?;
    Ok(())
}

/// The viewer's runtime writes (test, installs, remove) are refused.
async fn viewer_runtime_writes(cx: &Ctx, ch: Rec) -> CaseResult {
    let mut rt = RuntimeServiceClient::new(ch);
    let spec = cx.runtime_spec();
    let name = Ctx::runtime_name(&spec);
    denied(
        "TestRuntime as viewer",
        unit(
            rt.test_runtime(pb::RuntimeTestReq {
                runtime: spec.clone(),
            })
            .await,
        ),
        "viewer",
    )?;
    let local = pb::InstallRuntimeFromLocalRequest {
        runtime_spec: spec.clone(),
        files: cx.runtime_files(&name),
        force_reinstall: false,
    };
    let r = rt.install_runtime_from_local(local.clone()).await;
    if r.is_ok() {
        cx.tracker
            .add(crate::cleanup::Resource::Runtime(name.clone()));
    }
    denied_unless_gone(
        cx,
        ("RuntimeService", "InstallRuntimeFromLocal"),
        unit(r),
        "viewer",
    )?;
    let r = rt.streaming_install_runtime_from_local(local).await;
    if r.is_ok() {
        cx.tracker
            .add(crate::cleanup::Resource::Runtime(name.clone()));
    }
    denied_unless_gone(
        cx,
        ("RuntimeService", "StreamingInstallRuntimeFromLocal"),
        unit(r),
        "viewer",
    )?;
    if cx.env.options.allow_remote_installs {
        let gh = pb::InstallRuntimeRequest {
            runtime_spec: spec.clone(),
            ..Default::default()
        };
        let r = rt.install_runtime_from_github(gh.clone()).await;
        if r.is_ok() {
            cx.tracker
                .add(crate::cleanup::Resource::Runtime(name.clone()));
        }
        denied_unless_gone(
            cx,
            ("RuntimeService", "InstallRuntimeFromGithub"),
            unit(r),
            "viewer",
        )?;
        let r = rt.streaming_install_runtime_from_github(gh).await;
        if r.is_ok() {
            cx.tracker
                .add(crate::cleanup::Resource::Runtime(name.clone()));
        }
        denied_unless_gone(
            cx,
            ("RuntimeService", "StreamingInstallRuntimeFromGithub"),
            unit(r),
            "viewer",
        )?;
    }
    denied(
        "RemoveRuntime as viewer",
        unit(
            rt.remove_runtime(pb::RuntimeRemoveReq { runtime: name })
                .await,
        ),
        "viewer",
    )?;
    Ok(())
}

async fn viewer_cancel(cx: Ctx) -> CaseResult {
    let ch = cx.viewer().await?;
    let own = cx.start_scheduled().await?;
    let r = JobServiceClient::new(ch)
        .cancel_job(pb::CancelJobReq { uuid: own.clone() })
        .await;
    denied("CancelJob as viewer", unit(r), "viewer")?;
    let s = cx.status(&own).await?;
    check::ensure_eq(
        &format!("GetJobStatus{{uuid: {own}}} after the viewer's CancelJob"),
        "status",
        "SCHEDULED",
        s.status.as_str(),
    )
}

async fn viewer_auth_first(cx: Ctx) -> CaseResult {
    let ch = cx.viewer().await?;
    let mut jobs = JobServiceClient::new(ch.clone());
    let r = jobs.run_job(job("", &[])).await;
    denied("RunJob{command: \"\"} as viewer", unit(r), "viewer")?;
    let mut bad = job("true", &[]);
    bad.max_cpu = -1;
    denied(
        "RunJob{maxCpu: -1} as viewer",
        unit(jobs.run_job(bad).await),
        "viewer",
    )?;
    let r = NetworkServiceClient::new(ch.clone())
        .create_network(pb::CreateNetworkReq {
            name: String::new(),
            cidr: "bad".into(),
        })
        .await;
    denied(
        "CreateNetwork{name: \"\", cidr: \"bad\"} as viewer",
        unit(r),
        "viewer",
    )?;
    let r = VolumeServiceClient::new(ch)
        .create_volume(pb::CreateVolumeReq {
            name: String::new(),
            size: "x".into(),
            r#type: "nfs".into(),
        })
        .await;
    denied(
        "CreateVolume{name: \"\", size: \"x\", type: \"nfs\"} as viewer",
        unit(r),
        "viewer",
    )
}
