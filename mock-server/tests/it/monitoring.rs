//! MonitoringService: MON-STATUS-1, MON-STREAM-1, MON-STREAM-2.
//!
//! Time checks assert lower bounds tightly and upper bounds generously; every
//! wait is bounded.

use std::time::{Duration, Instant};

use futures::StreamExt;
use joblet_mock::{MockConfig, MockServer, RunningMock};
use joblet_testkit::pb;
use tonic::Code;

use crate::support::{self, Monitoring, jobs, long, monitoring, run_running, start_and, stop_ok};

/// Generous bound for anything that should be prompt.
const PATIENCE: Duration = Duration::from_secs(10);

async fn start(config: MockConfig) -> (RunningMock, Monitoring) {
    start_and(MockServer::builder().config(config), monitoring).await
}

fn seeded(seed: u64) -> MockConfig {
    MockConfig {
        seed: Some(seed),
        host_cores: 4,
        node_id: "node-mon-1".into(),
        ..MockConfig::default()
    }
}

async fn status(client: &mut Monitoring) -> pb::SystemStatusRes {
    client
        .get_system_status(pb::EmptyRequest {})
        .await
        .expect("GetSystemStatus")
        .into_inner()
}

async fn stream(
    client: &mut Monitoring,
    interval_seconds: i32,
    types: &[&str],
) -> Result<tonic::Streaming<pb::SystemMetricsRes>, tonic::Status> {
    client
        .stream_system_metrics(pb::StreamMetricsReq {
            interval_seconds,
            metric_types: types.iter().map(|t| t.to_string()).collect(),
        })
        .await
        .map(|r| r.into_inner())
}

async fn next(s: &mut tonic::Streaming<pb::SystemMetricsRes>) -> pb::SystemMetricsRes {
    tokio::time::timeout(PATIENCE, s.next())
        .await
        .expect("a sample within the patience")
        .expect("the stream goes on")
        .expect("a sample, not an error")
}

fn is_rfc3339(s: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

fn pct(what: &str, v: f64) {
    assert!((0.0..=100.0).contains(&v), "{what} = {v} is not in 0..=100");
}

fn check_host(h: &pb::HostInfo, cores: i32, node_id: &str) {
    assert!(!h.hostname.is_empty());
    assert_eq!(h.os, "linux");
    assert!(!h.platform.is_empty() && !h.platform_family.is_empty());
    assert!(!h.kernel_version.is_empty() && !h.kernel_arch.is_empty());
    assert!(!h.architecture.is_empty());
    if h.kernel_arch == "x86_64" {
        assert_eq!(h.architecture, "amd64");
    }
    assert_eq!(h.cpu_count, cores);
    assert!(h.total_memory > 0);
    assert!(is_rfc3339(&h.boot_time), "bootTime {:?}", h.boot_time);
    assert!(h.uptime >= 0);
    assert_eq!(h.node_id, node_id);
    assert!(!h.server_i_ps.is_empty());
    assert!(!h.mac_addresses.is_empty());
}

/// Every section of a status is present and self-consistent (MON-STATUS-1).
fn check_figures(s: &pb::SystemStatusRes, cores: i32) {
    let host = s.host.as_ref().expect("host");
    let cpu = s.cpu.as_ref().expect("cpu");
    assert_eq!(cpu.cores, cores);
    for (what, v) in [
        ("usage", cpu.usage_percent),
        ("user", cpu.user_time),
        ("system", cpu.system_time),
        ("idle", cpu.idle_time),
        ("iowait", cpu.io_wait_time),
        ("steal", cpu.steal_time),
    ] {
        pct(what, v);
    }
    assert_eq!(cpu.load_average.len(), 3);
    assert!(cpu.load_average.iter().all(|l| *l >= 0.0));
    assert_eq!(cpu.per_core_usage.len(), cores as usize);
    cpu.per_core_usage.iter().for_each(|v| pct("per core", *v));

    let m = s.memory.as_ref().expect("memory");
    assert_eq!(m.total_bytes, host.total_memory);
    assert_eq!(m.used_bytes + m.free_bytes, m.total_bytes);
    assert!(m.used_bytes >= 0 && m.free_bytes >= 0 && m.available_bytes >= 0);
    assert!(m.available_bytes <= m.total_bytes);
    pct("memory", m.usage_percent);
    let expect = m.used_bytes as f64 / m.total_bytes as f64 * 100.0;
    assert!((m.usage_percent - expect).abs() < 0.01);
    assert_eq!(m.swap_used + m.swap_free, m.swap_total);

    assert!(!s.disks.is_empty(), "at least one disk");
    let root = s
        .disks
        .iter()
        .find(|d| d.mount_point == "/")
        .expect("a disk on /");
    assert!(root.device.starts_with("/dev/"));
    for d in &s.disks {
        assert!(d.total_bytes > 0);
        assert_eq!(d.used_bytes + d.free_bytes, d.total_bytes);
        pct("disk", d.usage_percent);
        let expect = d.used_bytes as f64 / d.total_bytes as f64 * 100.0;
        assert!((d.usage_percent - expect).abs() < 0.01);
        assert_eq!(d.inodes_used + d.inodes_free, d.inodes_total);
        pct("inodes", d.inodes_usage_percent);
    }

    assert!(!s.networks.is_empty(), "at least one interface");
    for n in &s.networks {
        assert!(!n.interface.is_empty());
        for v in [
            n.bytes_received,
            n.bytes_sent,
            n.packets_received,
            n.packets_sent,
            n.errors_in,
            n.errors_out,
            n.drops_in,
            n.drops_out,
        ] {
            assert!(v >= 0);
        }
        assert!(n.receive_rate >= 0.0 && n.transmit_rate >= 0.0);
    }

    let io = s.io.as_ref().expect("io");
    assert!(io.total_reads >= 0 && io.total_writes >= 0);
    assert!(io.read_bytes >= 0 && io.write_bytes >= 0);
    assert!(io.read_rate >= 0.0 && io.write_rate >= 0.0);
    assert!(!io.disk_io.is_empty());
    io.disk_io
        .iter()
        .for_each(|d| pct("disk utilization", d.utilization));

    let p = s.processes.as_ref().expect("processes");
    assert!(p.total_processes > 0);
    for v in [
        p.running_processes,
        p.sleeping_processes,
        p.stopped_processes,
        p.zombie_processes,
        p.total_threads,
    ] {
        assert!(v >= 0);
    }
    assert!(
        p.running_processes + p.sleeping_processes + p.stopped_processes + p.zombie_processes
            <= p.total_processes
    );
    for list in [&p.top_by_cpu, &p.top_by_memory] {
        let server = list
            .iter()
            .find(|x| x.name == "joblet")
            .expect("the server in the process list");
        assert_eq!(server.command, "/opt/joblet/bin/joblet");
        assert!(server.pid > 0);
        for x in list {
            pct("process cpu", x.cpu_percent);
            pct("process memory", x.memory_percent);
            assert!(x.memory_bytes >= 0);
            assert!(is_rfc3339(&x.start_time), "startTime {:?}", x.start_time);
        }
    }
}

/// CONTRACT-2: a node that speaks v2 (alone, or beside v1: the default)
/// reports the v2.5.9 proto tag; one that speaks only v1 reports v1.0.6.
#[tokio::test]
async fn contract_2_server_version_names_the_contract() {
    for (api, tag) in [
        (joblet_mock::Api::Both, "v2.5.9"),
        (joblet_mock::Api::V2, "v2.5.9"),
        (joblet_mock::Api::V1, "v1.0.6"),
    ] {
        let (mock, mut client) = start(MockConfig { api, ..seeded(7) }).await;
        let v = status(&mut client)
            .await
            .server_version
            .expect("server_version");
        assert_eq!(v.proto_tag, tag, "--api {}", api.name());
        assert_eq!(v.component, "joblet-mock");
        drop(client);
        mock.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn mon_status_1_status_is_complete_and_consistent() {
    // A node of contract v1 only reports the v1 proto tag (CONTRACT-2).
    let (mock, mut client) = start(MockConfig {
        api: joblet_mock::Api::V1,
        ..seeded(7)
    })
    .await;
    let s = status(&mut client).await;
    assert!(s.available);
    assert!(is_rfc3339(&s.timestamp), "timestamp {:?}", s.timestamp);
    check_host(s.host.as_ref().expect("host"), 4, "node-mon-1");
    check_figures(&s, 4);
    // No jobs: the server is the only process listed.
    let p = s.processes.as_ref().unwrap();
    assert_eq!(p.top_by_cpu.len(), 1);
    assert_eq!(p.top_by_memory.len(), 1);
    // No cloud detected on a mock.
    assert!(s.cloud.is_none());
    let v = s.server_version.expect("server_version");
    assert_eq!(v.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(v.component, "joblet-mock");
    assert_eq!(v.proto_tag, "v1.0.6");
    assert!(v.platform.starts_with("linux/"), "{}", v.platform);
    drop(client);
    mock.shutdown().await.unwrap();
}

#[tokio::test]
async fn mon_status_1_default_node_reports_the_real_cores() {
    let config = MockConfig::default();
    let cores = config.host_cores as i32;
    let node = config.node_id.clone();
    let (_mock, mut client) = start(config).await;
    let s = status(&mut client).await;
    check_host(s.host.as_ref().unwrap(), cores, &node);
    check_figures(&s, cores);
}

#[tokio::test]
async fn mon_status_1_seeded_figures_are_reproducible() {
    let (_a, mut ca) = start(seeded(42)).await;
    let (_b, mut cb) = start(seeded(42)).await;
    for _ in 0..3 {
        let (sa, sb) = (status(&mut ca).await, status(&mut cb).await);
        assert_eq!(sa.cpu, sb.cpu);
        assert_eq!(sa.memory, sb.memory);
        assert_eq!(sa.disks, sb.disks);
    }
    let (_c, mut cc) = start(seeded(43)).await;
    let (sa, sc) = (status(&mut ca).await, status(&mut cc).await);
    assert_ne!(sa.cpu, sc.cpu);
}

#[tokio::test]
async fn mon_status_1_figures_move_with_running_jobs() {
    let (mock, mut client) = start(seeded(5)).await;
    let idle = status(&mut client).await;
    let mut jobs = jobs(&mock).await;
    let id = run_running(&mut jobs, long()).await;
    let busy = status(&mut client).await;
    let still = support::status(&mut jobs, &id).await;
    assert_eq!(
        still.status, "RUNNING",
        "the job simulator must keep `sleep 30` running"
    );
    check_figures(&busy, 4);
    let (i, b) = (idle.cpu.as_ref().unwrap(), busy.cpu.as_ref().unwrap());
    assert!(
        b.usage_percent > i.usage_percent + 2.0,
        "cpu {} -> {}",
        i.usage_percent,
        b.usage_percent
    );
    let (i, b) = (idle.memory.as_ref().unwrap(), busy.memory.as_ref().unwrap());
    assert!(
        b.used_bytes > i.used_bytes,
        "memory {} -> {}",
        i.used_bytes,
        b.used_bytes
    );
    let (i, b) = (
        idle.processes.as_ref().unwrap(),
        busy.processes.as_ref().unwrap(),
    );
    assert_eq!(b.total_processes, i.total_processes + 1);
    assert!(b.running_processes >= 1);
    for list in [&b.top_by_cpu, &b.top_by_memory] {
        assert_eq!(list.len(), 2, "the server and the job");
        let job = list
            .iter()
            .find(|x| x.name == "sleep")
            .expect("the job listed");
        assert_eq!(job.command, "sleep 30");
        assert_eq!(job.status, "R");
        assert!(is_rfc3339(&job.start_time));
        assert!(job.cpu_percent > 0.0 && job.memory_bytes > 0);
    }

    // Once stopped, the job leaves the lists.
    stop_ok(&mut jobs, &id).await;
    let after = status(&mut client).await;
    let p = after.processes.as_ref().unwrap();
    assert_eq!(p.total_processes, i.total_processes);
    assert_eq!(p.top_by_cpu.len(), 1);
}

#[tokio::test]
async fn mon_stream_1_first_sample_at_once_then_per_interval() {
    let (mock, mut client) = start(seeded(9)).await;
    let t0 = Instant::now();
    let mut s = stream(&mut client, 1, &[]).await.expect("the stream opens");
    let first = next(&mut s).await;
    let t1 = t0.elapsed();
    assert!(t1 < Duration::from_millis(900), "first sample after {t1:?}");
    let second = next(&mut s).await;
    let t2 = t0.elapsed();
    let third = next(&mut s).await;
    let t3 = t0.elapsed();
    assert!(
        t2 - t1 >= Duration::from_millis(900),
        "spacing {:?}",
        t2 - t1
    );
    assert!(
        t3 - t2 >= Duration::from_millis(900),
        "spacing {:?}",
        t3 - t2
    );
    assert!(t3 < Duration::from_secs(8), "three samples took {t3:?}");
    for m in [&first, &second, &third] {
        assert!(is_rfc3339(&m.timestamp));
        assert!(m.host.is_some() && m.cpu.is_some() && m.memory.is_some());
        assert!(m.io.is_some() && m.processes.is_some());
        assert!(!m.disks.is_empty() && !m.networks.is_empty());
    }
    // Cumulative counters grow over time.
    let (a, b, c) = (&first.networks[0], &second.networks[0], &third.networks[0]);
    assert!(a.bytes_received < b.bytes_received && b.bytes_received < c.bytes_received);
    assert!(a.bytes_sent < b.bytes_sent && b.bytes_sent < c.bytes_sent);
    let (a, c) = (first.io.as_ref().unwrap(), third.io.as_ref().unwrap());
    assert!(a.write_bytes < c.write_bytes && a.read_bytes < c.read_bytes);
    drop(s);
    drop(client);
    // The server-side stream ends with the client, so shutdown does not wait on it.
    tokio::time::timeout(PATIENCE, mock.shutdown())
        .await
        .expect("shutdown is not held up by a left stream")
        .unwrap();
}

#[tokio::test]
async fn mon_stream_1_zero_interval_means_five_seconds() {
    let (_mock, mut client) = start(seeded(9)).await;
    let t0 = Instant::now();
    let mut s = stream(&mut client, 0, &["cpu"])
        .await
        .expect("the stream opens");
    next(&mut s).await;
    assert!(t0.elapsed() < Duration::from_secs(2));
    // Nothing within 4 s, then the second sample by 5 s (+ generous slack).
    let early = tokio::time::timeout(Duration::from_secs(4), s.next()).await;
    assert!(early.is_err(), "a second sample after {:?}", t0.elapsed());
    next(&mut s).await;
    let t = t0.elapsed();
    assert!(
        t >= Duration::from_millis(4900),
        "second sample after {t:?}"
    );
}

#[tokio::test]
async fn mon_stream_2_metric_types_filter() {
    let (_mock, mut client) = start(seeded(3)).await;
    let mut s = stream(&mut client, 1, &["CPU", "network"]).await.unwrap();
    let m = next(&mut s).await;
    assert!(is_rfc3339(&m.timestamp));
    assert!(m.host.is_some(), "host is always present");
    assert!(m.cpu.is_some() && !m.networks.is_empty());
    assert!(m.memory.is_none() && m.io.is_none() && m.processes.is_none());
    assert!(m.disks.is_empty());
    drop(s);

    let mut s = stream(&mut client, 1, &["memory", "disk", "io", "process"])
        .await
        .unwrap();
    let m = next(&mut s).await;
    assert!(m.host.is_some());
    assert!(m.cpu.is_none() && m.networks.is_empty());
    assert!(m.memory.is_some() && !m.disks.is_empty() && m.io.is_some() && m.processes.is_some());
    drop(s);

    // Empty list: every section.
    let mut s = stream(&mut client, 1, &[]).await.unwrap();
    let m = next(&mut s).await;
    assert!(m.host.is_some() && m.cpu.is_some() && m.memory.is_some());
    assert!(
        !m.disks.is_empty() && !m.networks.is_empty() && m.io.is_some() && m.processes.is_some()
    );
}

#[tokio::test]
async fn mon_stream_2_unknown_metric_type_is_invalid_argument() {
    let (_mock, mut client) = start(seeded(3)).await;
    let err = stream(&mut client, 1, &["cpu", "gpu"])
        .await
        .expect_err("an unknown metric type is refused");
    assert_eq!(err.code(), Code::InvalidArgument);
    let msg = err.message();
    assert!(msg.contains("metricTypes"), "{msg}");
    assert!(msg.contains("gpu"), "{msg}");
    for t in ["cpu", "memory", "disk", "network", "io", "process"] {
        assert!(msg.contains(t), "{msg} does not list {t}");
    }
}
