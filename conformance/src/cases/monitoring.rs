//! Monitoring (MON-*): read-only.

use std::time::{Duration, Instant};

use joblet_testkit::pb;
use tokio_stream::StreamExt;
use tonic::Code;

use crate::case;
use crate::case::Case;
use crate::check::{self, CaseResult, ensure, fail};
use crate::ctx::Ctx;

pub(crate) const CASES: &[Case] = &[
    case!(
        "monitoring.status.reports_the_host_and_consistent_figures",
        ["MON-STATUS-1"],
        Must,
        ReadOnly,
        "GetSystemStatus: available, timestamp, host, cpu, memory, disks, network, io, processes, server version; figures consistent",
        status,
        contracts = [V1]
    ),
    case!(
        "monitoring.stream.first_sample_at_once_then_per_interval",
        ["MON-STREAM-1"],
        Must,
        ReadOnly,
        "StreamSystemMetrics sends one sample at once, then one per intervalSeconds",
        stream_interval
    ),
    case!(
        "monitoring.stream.metric_types_filter_the_sections",
        ["MON-STREAM-2"],
        Must,
        ReadOnly,
        "metricTypes [cpu] sends the cpu section (host and timestamp always), not memory, disks or network",
        stream_filter
    ),
    case!(
        "monitoring.stream.unknown_metric_type_is_invalid_argument",
        ["MON-STREAM-2", "ALL-4"],
        Must,
        ReadOnly,
        "An unknown metricTypes entry answers INVALID_ARGUMENT",
        stream_unknown_type,
        quirks = ["QUIRK-11"]
    ),
];

fn pct(call: &str, what: &str, v: f64) -> CaseResult {
    ensure(
        (0.0..=100.0).contains(&v),
        call,
        format!("{what} in 0..100"),
        v,
    )
}

async fn status(cx: Ctx) -> CaseResult {
    let call = "GetSystemStatus";
    let s = check::ok(
        call,
        cx.monitoring().get_system_status(pb::EmptyRequest {}).await,
    )?
    .into_inner();
    ensure(s.available, call, "available true", "available false")?;
    ensure(
        !s.timestamp.is_empty(),
        call,
        "a timestamp",
        "timestamp \"\"",
    )?;
    let host = s.host.ok_or_else(|| fail(call, "host", "no host"))?;
    ensure(
        !host.hostname.is_empty() && !host.os.is_empty() && !host.architecture.is_empty(),
        call,
        "host hostname, os and architecture",
        format!("{:?} {:?} {:?}", host.hostname, host.os, host.architecture),
    )?;
    ensure(
        host.cpu_count > 0,
        call,
        "host.cpuCount > 0",
        host.cpu_count,
    )?;
    ensure(
        host.total_memory > 0,
        call,
        "host.totalMemory > 0",
        host.total_memory,
    )?;
    ensure(!host.node_id.is_empty(), call, "host.nodeId", "nodeId \"\"")?;
    let cpu = s.cpu.ok_or_else(|| fail(call, "cpu", "no cpu section"))?;
    pct(call, "cpu.usagePercent", cpu.usage_percent)?;
    let mem = s
        .memory
        .ok_or_else(|| fail(call, "memory", "no memory section"))?;
    ensure(
        mem.total_bytes > 0,
        call,
        "memory.totalBytes > 0",
        mem.total_bytes,
    )?;
    ensure(
        mem.used_bytes >= 0
            && mem.free_bytes >= 0
            && mem.used_bytes + mem.free_bytes <= mem.total_bytes,
        call,
        "memory used + free <= total",
        format!(
            "used {} free {} total {}",
            mem.used_bytes, mem.free_bytes, mem.total_bytes
        ),
    )?;
    pct(call, "memory.usagePercent", mem.usage_percent)?;
    ensure(!s.disks.is_empty(), call, "at least one disk", "no disks")?;
    for d in &s.disks {
        ensure(
            d.used_bytes >= 0 && d.free_bytes >= 0 && d.used_bytes <= d.total_bytes,
            call,
            format!("disk {} used <= total", d.mount_point),
            format!("used {} total {}", d.used_bytes, d.total_bytes),
        )?;
        pct(
            call,
            &format!("disk {} usagePercent", d.mount_point),
            d.usage_percent,
        )?;
    }
    ensure(
        !s.networks.is_empty(),
        call,
        "at least one network interface",
        "none",
    )?;
    ensure(s.io.is_some(), call, "an io section", "none")?;
    let p = s
        .processes
        .ok_or_else(|| fail(call, "processes", "no processes section"))?;
    ensure(
        p.total_processes >= 1,
        call,
        "processes.totalProcesses >= 1",
        p.total_processes,
    )?;
    ensure(
        !p.top_by_cpu.is_empty() && !p.top_by_memory.is_empty(),
        call,
        "processes topByCPU and topByMemory (the server at least)",
        format!(
            "{} and {} entries",
            p.top_by_cpu.len(),
            p.top_by_memory.len()
        ),
    )?;
    ensure(s.server_version.is_some(), call, "server_version", "none")
}

async fn stream_interval(cx: Ctx) -> CaseResult {
    let call = "StreamSystemMetrics{intervalSeconds: 2}";
    let started = Instant::now();
    let mut stream = check::ok(
        call,
        cx.monitoring()
            .stream_system_metrics(pb::StreamMetricsReq {
                interval_seconds: 2,
                metric_types: vec![],
            })
            .await,
    )?
    .into_inner();
    let mut at = Vec::new();
    while at.len() < 3 {
        match tokio::time::timeout(Duration::from_secs(5), stream.next()).await {
            Ok(Some(Ok(_))) => at.push(started.elapsed()),
            Ok(Some(Err(s))) => return Err(fail(call, "samples", check::show_status(&s))),
            Ok(None) => {
                return Err(fail(
                    call,
                    "samples until the client leaves",
                    format!("the stream ended after {} samples", at.len()),
                ));
            }
            Err(_) => {
                return Err(fail(
                    call,
                    "a sample every second",
                    format!("nothing for 5 s after {} samples", at.len()),
                ));
            }
        }
    }
    ensure(
        at[0] < Duration::from_millis(900),
        call,
        "the first sample at once (< 0.9 s)",
        format!("after {:?}", at[0]),
    )?;
    for w in at.windows(2) {
        let gap = w[1] - w[0];
        ensure(
            gap >= Duration::from_millis(1000) && gap <= Duration::from_millis(4000),
            call,
            "one sample every 2 s (gaps 1..4 s)",
            format!("samples at {at:?}"),
        )?;
    }
    Ok(())
}

async fn stream_filter(cx: Ctx) -> CaseResult {
    let call = "StreamSystemMetrics{metricTypes: [\"cpu\"]}";
    let mut stream = check::ok(
        call,
        cx.monitoring()
            .stream_system_metrics(pb::StreamMetricsReq {
                interval_seconds: 1,
                metric_types: vec!["cpu".into()],
            })
            .await,
    )?
    .into_inner();
    let first = match tokio::time::timeout(Duration::from_secs(5), stream.next()).await {
        Ok(Some(Ok(m))) => m,
        other => return Err(fail(call, "a sample", format!("{other:?}"))),
    };
    ensure(
        first.host.is_some() && !first.timestamp.is_empty(),
        call,
        "host and timestamp",
        format!(
            "host {}, timestamp {:?}",
            first.host.is_some(),
            first.timestamp
        ),
    )?;
    ensure(first.cpu.is_some(), call, "the cpu section", "no cpu")?;
    ensure(
        first.memory.is_none()
            && first.disks.is_empty()
            && first.networks.is_empty()
            && first.io.is_none()
            && first.processes.is_none(),
        call,
        "no memory, disk, network, io or process sections",
        format!(
            "memory {}, {} disks, {} networks, io {}, processes {}",
            first.memory.is_some(),
            first.disks.len(),
            first.networks.len(),
            first.io.is_some(),
            first.processes.is_some()
        ),
    )
}

async fn stream_unknown_type(cx: Ctx) -> CaseResult {
    let call = "StreamSystemMetrics{metricTypes: [\"gpu-temperature\"]}";
    match cx
        .monitoring()
        .stream_system_metrics(pb::StreamMetricsReq {
            interval_seconds: 1,
            metric_types: vec!["gpu-temperature".into()],
        })
        .await
    {
        Err(s) => {
            check::code_naming::<()>(
                call,
                Err(s),
                Code::InvalidArgument,
                &["gpu-temperature", "metric"],
            )?;
            Ok(())
        }
        Ok(stream) => {
            let mut stream = stream.into_inner();
            match tokio::time::timeout(Duration::from_secs(5), stream.next()).await {
                Ok(Some(Err(s))) => {
                    check::code_naming::<()>(
                        call,
                        Err(s),
                        Code::InvalidArgument,
                        &["gpu-temperature", "metric"],
                    )?;
                    Ok(())
                }
                other => Err(fail(
                    call,
                    "INVALID_ARGUMENT",
                    format!("{:?}", other.map(|o| o.map(|r| r.map(|_| "a sample")))),
                )),
            }
        }
    }
}
