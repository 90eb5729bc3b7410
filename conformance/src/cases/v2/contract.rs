//! Which contract a node speaks: its methods (CONTRACT-1), its version
//! (CONTRACT-2), the probes (CONTRACT-3), and GetSystemStatus as v2 shapes
//! it (MON-STATUS-2).

use joblet_testkit::contract::{Api, V1_ONLY};
use joblet_testkit::pb;
use joblet_testkit::pb::v2;
use joblet_testkit::pb::v2::monitoring_service_client::MonitoringServiceClient;
use tonic::{Code, Status};

use super::client::{code_message, jobs2, runtimes2, stream_status};
use crate::case;
use crate::case::Case;
use crate::check::{self, CaseResult, ensure, ensure_eq, fail};
use crate::ctx::Ctx;

pub(crate) const CASES: &[Case] = &[
    case!(
        "contract.methods.v1_methods_are_unimplemented_on_v2_alone",
        ["CONTRACT-1"],
        Must,
        ReadOnly,
        "A node that speaks v2 serves the v2 methods (GetJobMetrics, ValidateRuntimeYAML answer) and v1 clients on the shared paths; on a node of v2 alone each of the 9 methods only v1 has answers UNIMPLEMENTED \"unknown method <Method> for service joblet.<Service>\"",
        other_methods,
        contracts = [V2]
    ),
    case!(
        "contract.version.server_version_names_v2",
        ["CONTRACT-2"],
        Must,
        ReadOnly,
        "GetSystemStatus server_version.proto_tag starts with v2. on a node that speaks v2",
        version,
        contracts = [V2]
    ),
    case!(
        "contract.probe.probes_have_no_side_effects",
        ["CONTRACT-3", "RT-YAML-1", "JOB-METRICS-2"],
        Must,
        ReadOnly,
        "ValidateRuntimeYAML{\"\"} answers OK valid false and StreamJobMetrics{\"\"} INVALID_ARGUMENT; nothing changes",
        probes,
        contracts = [V2]
    ),
    case!(
        "monitoring.status.reports_the_v2_host",
        ["MON-STATUS-2"],
        Must,
        ReadOnly,
        "GetSystemStatus (v2): available, host {hostname, os, kernel_version, architecture, boot_time, uptime, node_id}, interfaces with addresses, consistent figures, server_version v2.*",
        status_v2,
        contracts = [V2]
    ),
];

fn unimplemented_as_expected(
    call: &str,
    r: Result<(), Status>,
    service: &str,
    method: &str,
) -> CaseResult {
    code_message(
        call,
        r,
        Code::Unimplemented,
        &format!("unknown method {method} for service joblet.{service}"),
    )
}

fn unit<T>(r: Result<tonic::Response<T>, Status>) -> Result<(), Status> {
    r.map(|_| ())
}

async fn other_methods(cx: Ctx) -> CaseResult {
    // The v2 methods are served, and v1 clients on the shared paths.
    let r = unit(
        jobs2(&cx)
            .get_job_metrics(v2::GetJobMetricsRequest {
                job_uuid: uuid::Uuid::new_v4().to_string(),
                ..Default::default()
            })
            .await,
    );
    served("GetJobMetrics{unknown job}", r)?;
    let r = unit(
        runtimes2(&cx)
            .validate_runtime_yaml(v2::ValidateRuntimeYamlRequest::default())
            .await,
    );
    served("ValidateRuntimeYAML{\"\"}", r)?;
    let r = cx.jobs().list_jobs(pb::EmptyRequest {}).await;
    check::ok("ListJobs (v1 message)", r)?;
    if cx.env.node != Api::V2 {
        // A node of both serves the v1 methods too (the v1 cases call them).
        return Ok(());
    }
    let ch = cx.channel();
    let mut jobs = pb::job_service_client::JobServiceClient::new(ch.clone());
    let mut rts = pb::runtime_service_client::RuntimeServiceClient::new(ch);
    for (service, method) in V1_ONLY {
        // Empty requests: were the method served, it would refuse them.
        let r = match method {
            "RunWorkflow" => unit(jobs.run_workflow(pb::RunWorkflowRequest::default()).await),
            "GetWorkflowStatus" => unit(
                jobs.get_workflow_status(pb::GetWorkflowStatusRequest::default())
                    .await,
            ),
            "ListWorkflows" => unit(
                jobs.list_workflows(pb::ListWorkflowsRequest::default())
                    .await,
            ),
            "GetWorkflowJobs" => unit(
                jobs.get_workflow_jobs(pb::GetWorkflowJobsRequest::default())
                    .await,
            ),
            "InstallRuntimeFromGithub" => unit(
                rts.install_runtime_from_github(pb::InstallRuntimeRequest::default())
                    .await,
            ),
            "InstallRuntimeFromLocal" => unit(
                rts.install_runtime_from_local(pb::InstallRuntimeFromLocalRequest::default())
                    .await,
            ),
            "StreamingInstallRuntimeFromGithub" => stream_status(
                rts.streaming_install_runtime_from_github(pb::InstallRuntimeRequest::default())
                    .await,
            )
            .await
            .map(|_| ()),
            "StreamingInstallRuntimeFromLocal" => stream_status(
                rts.streaming_install_runtime_from_local(
                    pb::InstallRuntimeFromLocalRequest::default(),
                )
                .await,
            )
            .await
            .map(|_| ()),
            _ => unit(
                rts.validate_runtime_spec(pb::ValidateRuntimeSpecRequest::default())
                    .await,
            ),
        };
        let call = format!("{method}{{}} (v1 only) on a node that speaks v2 alone");
        unimplemented_as_expected(&call, r, service, method)?;
    }
    Ok(())
}

/// Any answer but UNIMPLEMENTED (or a transport failure): the method is served.
fn served(call: &str, r: Result<(), Status>) -> CaseResult {
    match r {
        Ok(()) => Ok(()),
        Err(s) if check::is_transport(&s) => Err(check::unexpected(call, &s)),
        Err(s) => ensure(
            s.code() != Code::Unimplemented,
            call,
            "the method served (any answer but UNIMPLEMENTED)",
            check::show_status(&s),
        ),
    }
}

async fn version(cx: Ctx) -> CaseResult {
    let call = "GetSystemStatus";
    let s = check::ok(
        call,
        cx.monitoring().get_system_status(pb::EmptyRequest {}).await,
    )?
    .into_inner();
    let v = s
        .server_version
        .ok_or_else(|| fail(call, "server_version", "none"))?;
    ensure(
        v.proto_tag.starts_with("v2."),
        call,
        "server_version.proto_tag v2.*",
        format!("proto_tag {:?}", v.proto_tag),
    )
}

async fn runtime_count(cx: &Ctx) -> CaseResult<usize> {
    check::ok(
        "ListRuntimes",
        runtimes2(cx).list_runtimes(v2::EmptyRequest {}).await,
    )
    .map(|r| r.into_inner().runtimes.len())
}

async fn probes(cx: Ctx) -> CaseResult {
    let before = runtime_count(&cx).await?;
    let call = "ValidateRuntimeYAML{yaml_content: \"\"}";
    let v = check::ok(
        call,
        runtimes2(&cx)
            .validate_runtime_yaml(v2::ValidateRuntimeYamlRequest::default())
            .await,
    )?
    .into_inner();
    ensure_eq(call, "valid", &false, &v.valid)?;
    ensure_eq(
        call,
        "message",
        "yaml_content is required",
        v.message.as_str(),
    )?;
    ensure_eq(
        call,
        "errors",
        &["yaml_content cannot be empty".to_owned()][..],
        &v.errors[..],
    )?;
    let r = stream_status(
        jobs2(&cx)
            .stream_job_metrics(v2::StreamJobMetricsRequest::default())
            .await,
    )
    .await;
    code_message(
        "StreamJobMetrics{job_uuid: \"\"}",
        r,
        Code::InvalidArgument,
        "job_uuid is required",
    )?;
    if !cx.env.node.serves_v1() {
        let r = cx
            .runtimes()
            .validate_runtime_spec(pb::ValidateRuntimeSpecRequest::default())
            .await;
        unimplemented_as_expected(
            "ValidateRuntimeSpec on a node that speaks v2 alone",
            unit(r),
            "RuntimeService",
            "ValidateRuntimeSpec",
        )?;
    }
    let after = runtime_count(&cx).await?;
    ensure_eq("ListRuntimes after the probes", "runtimes", &before, &after)
}

async fn status_v2(cx: Ctx) -> CaseResult {
    let call = "GetSystemStatus (v2)";
    let mut m = MonitoringServiceClient::new(cx.channel());
    let s = check::ok(call, m.get_system_status(v2::EmptyRequest {}).await)?.into_inner();
    ensure(s.available, call, "available true", "available false")?;
    ensure(
        !s.timestamp.is_empty(),
        call,
        "a timestamp",
        "timestamp \"\"",
    )?;
    let host = s
        .host
        .clone()
        .ok_or_else(|| fail(call, "host", "no host"))?;
    for (what, v) in [
        ("hostname", &host.hostname),
        ("os", &host.os),
        ("kernel_version", &host.kernel_version),
        ("architecture", &host.architecture),
        ("boot_time", &host.boot_time),
        ("node_id", &host.node_id),
    ] {
        ensure(
            !v.is_empty(),
            call,
            format!("host.{what}"),
            format!("{what} \"\""),
        )?;
    }
    ensure(host.uptime >= 0, call, "host.uptime >= 0", host.uptime)?;
    ensure(
        !host.mac_addresses.is_empty(),
        call,
        "host.mac_addresses",
        "none",
    )?;
    if !cx.env.node.serves_v1() {
        // v2 has no cpuCount or totalMemory: a v1 client gets none.
        let v1 = check::ok(
            "GetSystemStatus (v1 message)",
            cx.monitoring().get_system_status(pb::EmptyRequest {}).await,
        )?
        .into_inner()
        .host
        .unwrap_or_default();
        let call = "GetSystemStatus (v1 message) of a node that speaks v2 alone";
        ensure_eq(call, "host.cpuCount (v1 only)", &0, &v1.cpu_count)?;
        ensure_eq(call, "host.totalMemory (v1 only)", &0, &v1.total_memory)?;
    }
    let cpu = s.cpu.ok_or_else(|| fail(call, "cpu", "no cpu section"))?;
    ensure(cpu.cores > 0, call, "cpu.cores > 0", cpu.cores)?;
    ensure(
        (0.0..=100.0).contains(&cpu.usage_percent),
        call,
        "cpu.usage_percent in 0..100",
        cpu.usage_percent,
    )?;
    let mem = s
        .memory
        .ok_or_else(|| fail(call, "memory", "no memory section"))?;
    ensure(
        mem.total_bytes > 0
            && mem.used_bytes >= 0
            && mem.free_bytes >= 0
            && mem.used_bytes + mem.free_bytes <= mem.total_bytes,
        call,
        "memory used + free <= total",
        format!(
            "used {} free {} total {}",
            mem.used_bytes, mem.free_bytes, mem.total_bytes
        ),
    )?;
    ensure(!s.disks.is_empty(), call, "at least one disk", "no disks")?;
    ensure(
        !s.networks.is_empty(),
        call,
        "at least one network interface",
        "none",
    )?;
    ensure(
        s.networks
            .iter()
            .any(|n| !n.ip_addresses.is_empty() || !n.mac_address.is_empty()),
        call,
        "interfaces with ip_addresses and mac_address",
        format!(
            "{:?}",
            s.networks.iter().map(|n| &n.interface).collect::<Vec<_>>()
        ),
    )?;
    ensure(s.io.is_some(), call, "an io section", "none")?;
    ensure(s.processes.is_some(), call, "a processes section", "none")?;
    let v = s
        .server_version
        .ok_or_else(|| fail(call, "server_version", "none"))?;
    ensure(
        v.proto_tag.starts_with("v2."),
        call,
        "server_version.proto_tag v2.*",
        format!("proto_tag {:?}", v.proto_tag),
    )
}
