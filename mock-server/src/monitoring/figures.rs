//! One monitoring sample as a pure function of its inputs (the node and
//! sample seeds, the time, the running jobs), the host facts and the node's
//! cumulative counters, which it advances.

use std::fmt::Write as _;
use std::time::Duration;

use joblet_testkit::pb::union as pb;

use super::host::{HostFacts, go_arch};
use super::num::{GIB, MIB, Rng, fnv1a, mix, pct, sat_i32, sat_i64};
use crate::error::{Error, Result};
use crate::time::rfc3339;

/// The `metricTypes` accepted by StreamSystemMetrics (MON-STREAM-2).
pub const METRIC_TYPES: [&str; 6] = ["cpu", "memory", "disk", "network", "io", "process"];

/// Interval of StreamSystemMetrics when `intervalSeconds <= 0` (MON-STREAM-1).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// Name, pid and path of the server's own process in the process lists.
pub const SERVER_PROCESS: (&str, i32, &str) = ("joblet", 1, "/opt/joblet/bin/joblet");

/// The period of a metrics stream: `intervalSeconds`, or 5 s when it is `<= 0`.
pub fn interval(interval_seconds: i32) -> Duration {
    u64::try_from(interval_seconds)
        .ok()
        .filter(|s| *s > 0)
        .map_or(DEFAULT_INTERVAL, Duration::from_secs)
}

/// Which metric sections a sample carries (host and timestamp always do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sections {
    pub cpu: bool,
    pub memory: bool,
    pub disk: bool,
    pub network: bool,
    pub io: bool,
    pub process: bool,
}

impl Sections {
    /// Every section.
    pub const ALL: Self = Self {
        cpu: true,
        memory: true,
        disk: true,
        network: true,
        io: true,
        process: true,
    };

    /// Parses `metricTypes` (case-insensitive, surrounding blanks ignored): an
    /// empty list means all; an unknown type is INVALID_ARGUMENT on `metricTypes`.
    pub fn parse<S: AsRef<str>>(types: &[S]) -> Result<Self> {
        if types.is_empty() {
            return Ok(Self::ALL);
        }
        let mut s = Self {
            cpu: false,
            memory: false,
            disk: false,
            network: false,
            io: false,
            process: false,
        };
        for t in types {
            let raw = t.as_ref();
            match raw.trim().to_ascii_lowercase().as_str() {
                "cpu" => s.cpu = true,
                "memory" => s.memory = true,
                "disk" => s.disk = true,
                "network" => s.network = true,
                "io" => s.io = true,
                "process" => s.process = true,
                _ => {
                    return Err(Error::invalid(
                        "metricTypes",
                        format!(
                            "unknown metric type {raw:?}; accepted types: {}",
                            METRIC_TYPES.join(", ")
                        ),
                    ));
                }
            }
        }
        Ok(s)
    }

    /// QUIRK-11: like [`parse`](Self::parse), but unknown types are ignored, as
    /// the deployed server does (a list of unknown types only selects nothing).
    pub fn parse_ignoring_unknown<S: AsRef<str>>(types: &[S]) -> Self {
        let known: Vec<&str> = types
            .iter()
            .map(AsRef::as_ref)
            .filter(|t| Self::parse(&[t]).is_ok())
            .collect();
        if known.is_empty() && !types.is_empty() {
            return Self {
                cpu: false,
                memory: false,
                disk: false,
                network: false,
                io: false,
                process: false,
            };
        }
        Self::parse(&known).unwrap_or(Self::ALL)
    }
}

/// Base figures of the simulated node, from its seed alone.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NodeProfile {
    cpu_base: f64,
    mem_base_frac: f64,
    cache_frac: f64,
    swap_used_frac: f64,
    server_mem: f64,
    disk_total: u64,
    disk_used_frac: f64,
    rx_rate: f64,
    tx_rate: f64,
    read_rate: f64,
    write_rate: f64,
    procs_base: u32,
    /// Initial cumulative counters: rx, tx, read, written bytes.
    counters0: [f64; 4],
}

impl NodeProfile {
    pub(crate) fn new(node_seed: u64) -> Self {
        let mut r = Rng::new(node_seed);
        let disks = [64u64, 128, 256, 512];
        Self {
            cpu_base: r.range(1.5, 6.0),
            mem_base_frac: r.range(0.12, 0.28),
            cache_frac: r.range(0.15, 0.35),
            swap_used_frac: r.range(0.0, 0.05),
            server_mem: r.range(28.0, 64.0) * MIB,
            disk_total: disks[(r.next_u64() % 4) as usize] * GIB,
            disk_used_frac: r.range(0.15, 0.6),
            rx_rate: r.range(4_000.0, 40_000.0),
            tx_rate: r.range(2_000.0, 20_000.0),
            read_rate: r.range(20_000.0, 400_000.0),
            write_rate: r.range(50_000.0, 800_000.0),
            procs_base: 110 + (r.next_u64() % 130) as u32,
            counters0: [
                r.range(1e8, 1e10),
                r.range(5e7, 5e9),
                r.range(1e9, 5e10),
                r.range(1e9, 8e10),
            ],
        }
    }
}

/// A running job as monitoring sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunningJob {
    /// The job's sequence number in the job table (its synthetic pid is 1000 + seq).
    pub seq: u64,
    pub command: String,
    pub args: Vec<String>,
    /// Submission time, Unix seconds.
    pub start_time: i64,
    /// The job's memory limit in MB (0: none).
    pub max_memory_mb: i32,
    /// Figures its scenario sets (`resources:`), shown instead of synthetic ones.
    pub resources: Option<crate::sim::Resources>,
}

/// Everything one sample depends on besides the host facts and the counters.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    /// Seed of the node's base figures.
    pub node_seed: u64,
    /// Seed of this sample's noise.
    pub sample_seed: u64,
    /// Now, Unix seconds.
    pub now: i64,
    /// When the mock started, Unix seconds.
    pub started: i64,
    /// Time since the mock started (drives the cumulative counters).
    pub elapsed: Duration,
    /// CPU cores of the node.
    pub cores: u32,
    pub node_id: String,
    /// Running jobs in creation order.
    pub running: Vec<RunningJob>,
}

/// The node's cumulative counters (bytes, operations, milliseconds), advanced at
/// each sample by `rate × time since the previous sample`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counters {
    /// Elapsed time of the last sample; `None` before the first.
    at: Option<Duration>,
    rx_bytes: f64,
    tx_bytes: f64,
    rx_packets: f64,
    tx_packets: f64,
    reads: f64,
    writes: f64,
    read_bytes: f64,
    write_bytes: f64,
    read_ms: f64,
    write_ms: f64,
    io_ms: f64,
}

/// One sample of every section.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub timestamp: String,
    pub host: pb::HostInfo,
    pub cpu: pb::CpuMetrics,
    pub memory: pb::MemoryMetrics,
    pub disks: Vec<pb::DiskMetrics>,
    pub networks: Vec<pb::NetworkMetrics>,
    pub io: pb::IoMetrics,
    pub processes: pb::ProcessMetrics,
}

impl Sample {
    /// The GetSystemStatus answer (MON-STATUS-1).
    pub fn into_status(self, proto_tag: &str) -> pb::SystemStatusRes {
        pb::SystemStatusRes {
            timestamp: self.timestamp,
            available: true,
            host: Some(self.host),
            cpu: Some(self.cpu),
            memory: Some(self.memory),
            disks: self.disks,
            networks: self.networks,
            io: Some(self.io),
            processes: Some(self.processes),
            cloud: None,
            server_version: Some(server_version(proto_tag)),
        }
    }

    /// One StreamSystemMetrics message with only the `sections` asked for
    /// (MON-STREAM-2): the others are absent (unset messages, empty lists).
    pub fn into_metrics(self, sections: Sections) -> pb::SystemMetricsRes {
        pb::SystemMetricsRes {
            timestamp: self.timestamp,
            host: Some(self.host),
            cpu: sections.cpu.then_some(self.cpu),
            memory: sections.memory.then_some(self.memory),
            disks: if sections.disk {
                self.disks
            } else {
                Vec::new()
            },
            networks: if sections.network {
                self.networks
            } else {
                Vec::new()
            },
            io: sections.io.then_some(self.io),
            processes: sections.process.then_some(self.processes),
            cloud: None,
        }
    }
}

/// The mock's `server_version`; `proto_tag` names the contract it speaks
/// (CONTRACT-2).
pub fn server_version(proto_tag: &str) -> pb::ServerVersionInfo {
    let version = env!("CARGO_PKG_VERSION");
    pb::ServerVersionInfo {
        version: version.to_owned(),
        git_commit: String::new(),
        git_tag: format!("v{version}"),
        build_date: String::new(),
        component: "joblet-mock".to_owned(),
        go_version: String::new(),
        platform: format!("linux/{}", go_arch(std::env::consts::ARCH)),
        proto_commit: String::new(),
        proto_tag: proto_tag.to_owned(),
    }
}

/// Figures of one running job: stable per job, from the node seed.
struct JobFigures {
    cpu: f64,
    mem: f64,
    /// The CPU figure is the scenario's, shown as given while the node has room.
    exact_cpu: bool,
}

fn job_figures(node_seed: u64, job: &RunningJob) -> JobFigures {
    let mut r = Rng::new(mix(node_seed, job.seq.wrapping_add(1)));
    let cpu = 6.0 * r.range(0.8, 1.2);
    let mut mem = r.range(48.0, 144.0) * MIB;
    if job.max_memory_mb > 0 {
        mem = mem.min(f64::from(job.max_memory_mb) * MIB * 0.9);
    }
    let set = job.resources.unwrap_or_default();
    if let Some(mb) = set.memory_mb {
        mem = mb as f64 * MIB;
        if job.max_memory_mb > 0 {
            mem = mem.min(f64::from(job.max_memory_mb) * MIB);
        }
    }
    JobFigures {
        cpu: set.cpu_percent.unwrap_or(cpu),
        mem,
        exact_cpu: set.cpu_percent.is_some(),
    }
}

/// Computes one sample: a pure function of its inputs, the host facts and the
/// counters, which it advances. The sections draw their noise from one
/// generator in a fixed order (CPU, memory, traffic, processes), so a seed
/// gives the same figures.
pub fn generate(input: &Inputs, host: &HostFacts, counters: &mut Counters) -> Sample {
    let p = NodeProfile::new(input.node_seed);
    let mut noise = Rng::new(input.sample_seed);
    let cores = input.cores.max(1);
    let jobs: Vec<JobFigures> = input
        .running
        .iter()
        .map(|j| job_figures(input.node_seed, j))
        .collect();
    let running = input.running.len() as u64;
    let (cpu, shares) = cpu(&p, &mut noise, cores, &jobs);
    let (memory, mem) = memory(&p, &mut noise, host, &jobs);
    let disks = disks(&p, running);
    let (networks, io) = traffic(&p, &mut noise, input, counters);
    let processes = processes(&p, &mut noise, input, &jobs, shares, mem);
    Sample {
        timestamp: rfc3339(input.now),
        host: host_info(host, input, cores, mem.total),
        cpu,
        memory,
        disks,
        networks,
        io,
        processes,
    }
}

/// How the running jobs' CPU figures are scaled to fit the node's usage.
#[derive(Debug, Clone, Copy)]
struct CpuShares {
    /// For jobs whose scenario sets `cpu_percent`.
    exact: f64,
    /// For the others.
    synthetic: f64,
}

/// What the process list needs of the memory section.
#[derive(Debug, Clone, Copy)]
struct MemoryShares {
    total: f64,
    base_used: f64,
    /// Scale of the running jobs' memory figures.
    jobs: f64,
}

/// CPU: a node base, about 6 points per running job, a little noise.
fn cpu(
    p: &NodeProfile,
    noise: &mut Rng,
    cores: u32,
    jobs: &[JobFigures],
) -> (pb::CpuMetrics, CpuShares) {
    let jobs_cpu: f64 = jobs.iter().map(|j| j.cpu).sum();
    // Scenario figures (`resources.cpu_percent`) fit as given when the node has room.
    let exact_cpu: f64 = jobs.iter().filter(|j| j.exact_cpu).map(|j| j.cpu).sum();
    let mut usage = p.cpu_base + jobs_cpu + noise.range(-0.5, 0.5);
    if exact_cpu > 0.0 {
        usage = usage.max(p.cpu_base + exact_cpu);
    }
    let usage = usage.clamp(0.0, 97.0);
    let room = (usage - p.cpu_base).max(0.0);
    let exact_cpu_scale = if exact_cpu > room {
        room / exact_cpu
    } else {
        1.0
    };
    let other_cpu = jobs_cpu - exact_cpu;
    let job_cpu_scale = if other_cpu > 0.0 {
        ((room - exact_cpu * exact_cpu_scale) / other_cpu).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let spread = (usage.min(100.0 - usage) / 2.0).min(6.0);
    let dev: Vec<f64> = (0..cores).map(|_| noise.range(-spread, spread)).collect();
    let mean_dev = dev.iter().sum::<f64>() / f64::from(cores);
    let per_core_usage = dev
        .iter()
        .map(|d| (usage + d - mean_dev).clamp(0.0, 100.0))
        .collect();
    let load = f64::from(cores) * usage / 100.0;
    let cpu = pb::CpuMetrics {
        cores: sat_i32(u64::from(cores)),
        usage_percent: usage,
        user_time: usage * 0.68,
        system_time: usage * 0.24,
        idle_time: 100.0 - usage,
        io_wait_time: usage * 0.06,
        steal_time: usage * 0.02,
        load_average: vec![
            load * noise.range(0.9, 1.1),
            load * noise.range(0.8, 0.95),
            load * noise.range(0.65, 0.85),
        ],
        per_core_usage,
    };
    let shares = CpuShares {
        exact: exact_cpu_scale,
        synthetic: job_cpu_scale,
    };
    (cpu, shares)
}

/// Memory: cached and buffered pages count as used.
fn memory(
    p: &NodeProfile,
    noise: &mut Rng,
    host: &HostFacts,
    jobs: &[JobFigures],
) -> (pb::MemoryMetrics, MemoryShares) {
    let total = host.total_memory.max(1);
    let total_f = total as f64;
    let base_used = (total_f * p.mem_base_frac + noise.range(-4.0, 4.0) * MIB).max(0.0);
    let jobs_mem: f64 = jobs.iter().map(|j| j.mem).sum();
    let room = (total_f * 0.95 - base_used).max(0.0);
    let job_mem_scale = if jobs_mem > room {
        room / jobs_mem
    } else {
        1.0
    };
    let used = ((base_used + jobs_mem * job_mem_scale) as u64).min(total);
    let free = total - used;
    let cached = (used as f64 * p.cache_frac) as u64;
    let buffered = used / 40;
    let swap_total = (total / 2).min(2 * GIB);
    let swap_used = (swap_total as f64 * p.swap_used_frac) as u64;
    let memory = pb::MemoryMetrics {
        total_bytes: sat_i64(total_f),
        used_bytes: sat_i64(used as f64),
        free_bytes: sat_i64(free as f64),
        available_bytes: sat_i64((free + cached + buffered) as f64),
        usage_percent: pct(used as f64, total_f),
        cached_bytes: sat_i64(cached as f64),
        buffered_bytes: sat_i64(buffered as f64),
        swap_total: sat_i64(swap_total as f64),
        swap_used: sat_i64(swap_used as f64),
        swap_free: sat_i64((swap_total - swap_used) as f64),
    };
    let shares = MemoryShares {
        total: total_f,
        base_used,
        jobs: job_mem_scale,
    };
    (memory, shares)
}

/// One disk whose used space grows 16 MiB per running job.
fn disks(p: &NodeProfile, running: u64) -> Vec<pb::DiskMetrics> {
    let disk_total = p.disk_total;
    let disk_used = ((disk_total as f64 * p.disk_used_frac + running as f64 * 16.0 * MIB) as u64)
        .min(disk_total / 100 * 99);
    let inodes_total = disk_total / 16_384;
    let inodes_used = (disk_used / 32_768).min(inodes_total);
    vec![pb::DiskMetrics {
        device: "/dev/sda1".to_owned(),
        mount_point: "/".to_owned(),
        filesystem: "ext4".to_owned(),
        total_bytes: sat_i64(disk_total as f64),
        used_bytes: sat_i64(disk_used as f64),
        free_bytes: sat_i64((disk_total - disk_used) as f64),
        usage_percent: pct(disk_used as f64, disk_total as f64),
        inodes_total: sat_i64(inodes_total as f64),
        inodes_used: sat_i64(inodes_used as f64),
        inodes_free: sat_i64((inodes_total - inodes_used) as f64),
        inodes_usage_percent: pct(inodes_used as f64, inodes_total as f64),
    }]
}

/// Network and block-device rates, and the cumulative counters they advance.
fn traffic(
    p: &NodeProfile,
    noise: &mut Rng,
    input: &Inputs,
    c: &mut Counters,
) -> (Vec<pb::NetworkMetrics>, pb::IoMetrics) {
    let (running, elapsed, node_id) = (input.running.len() as u64, input.elapsed, &input.node_id);
    let r = running as f64;
    let rx_rate = p.rx_rate * noise.range(0.7, 1.3) + r * 2_048.0;
    let tx_rate = p.tx_rate * noise.range(0.7, 1.3) + r * 1_024.0;
    let read_rate = p.read_rate * noise.range(0.6, 1.4) + r * 32_768.0;
    let write_rate = p.write_rate * noise.range(0.6, 1.4) + r * 65_536.0;
    let utilization = ((read_rate + write_rate) / 250e6 * 100.0 + r * 0.5).min(95.0);
    let dt = match c.at {
        None => {
            let [rx, tx, rd, wr] = p.counters0;
            c.rx_bytes = rx;
            c.tx_bytes = tx;
            c.rx_packets = rx / 900.0;
            c.tx_packets = tx / 600.0;
            c.read_bytes = rd;
            c.write_bytes = wr;
            c.reads = rd / 16_384.0;
            c.writes = wr / 8_192.0;
            c.read_ms = c.reads * 0.25;
            c.write_ms = c.writes * 0.6;
            c.io_ms = (c.read_ms + c.write_ms) * 0.8;
            0.0
        }
        Some(at) => elapsed.saturating_sub(at).as_secs_f64(),
    };
    c.at = Some(c.at.map_or(elapsed, |at| at.max(elapsed)));
    c.rx_bytes += rx_rate * dt;
    c.tx_bytes += tx_rate * dt;
    c.rx_packets += rx_rate / 900.0 * dt;
    c.tx_packets += tx_rate / 600.0 * dt;
    c.read_bytes += read_rate * dt;
    c.write_bytes += write_rate * dt;
    c.reads += read_rate / 16_384.0 * dt;
    c.writes += write_rate / 8_192.0 * dt;
    c.read_ms += read_rate / 16_384.0 * 0.25 * dt;
    c.write_ms += write_rate / 8_192.0 * 0.6 * dt;
    c.io_ms += utilization / 100.0 * 1000.0 * dt;
    let networks = vec![pb::NetworkMetrics {
        interface: "eth0".to_owned(),
        bytes_received: sat_i64(c.rx_bytes),
        bytes_sent: sat_i64(c.tx_bytes),
        packets_received: sat_i64(c.rx_packets),
        packets_sent: sat_i64(c.tx_packets),
        errors_in: 0,
        errors_out: 0,
        drops_in: 0,
        drops_out: 0,
        receive_rate: rx_rate,
        transmit_rate: tx_rate,
        ip_addresses: vec![SERVER_IP.to_owned()],
        mac_address: mac_address(node_id),
    }];
    let io = pb::IoMetrics {
        total_reads: sat_i64(c.reads),
        total_writes: sat_i64(c.writes),
        read_bytes: sat_i64(c.read_bytes),
        write_bytes: sat_i64(c.write_bytes),
        read_rate,
        write_rate,
        disk_io: vec![pb::DiskIoMetrics {
            device: "sda".to_owned(),
            reads_completed: sat_i64(c.reads),
            writes_completed: sat_i64(c.writes),
            read_bytes: sat_i64(c.read_bytes),
            write_bytes: sat_i64(c.write_bytes),
            read_time: sat_i64(c.read_ms),
            write_time: sat_i64(c.write_ms),
            io_time: sat_i64(c.io_ms),
            utilization,
        }],
    };
    (networks, io)
}

/// Processes: the server, every running job, and the node's own.
fn processes(
    p: &NodeProfile,
    noise: &mut Rng,
    input: &Inputs,
    jobs: &[JobFigures],
    cpu: CpuShares,
    mem: MemoryShares,
) -> pb::ProcessMetrics {
    let running = input.running.len() as u64;
    let (name, pid, path) = SERVER_PROCESS;
    let server_mem = p.server_mem.min(mem.base_used / 2.0);
    let mut list = Vec::with_capacity(input.running.len() + 1);
    list.push(pb::ProcessInfo {
        pid,
        ppid: 0,
        name: name.to_owned(),
        command: path.to_owned(),
        cpu_percent: p.cpu_base * 0.2,
        memory_percent: pct(server_mem, mem.total),
        memory_bytes: sat_i64(server_mem),
        status: "S".to_owned(),
        start_time: rfc3339(input.started),
        user: "root".to_owned(),
    });
    for (job, fig) in input.running.iter().zip(jobs) {
        let bytes = fig.mem * mem.jobs;
        let mut command = job.command.clone();
        for a in &job.args {
            command.push(' ');
            command.push_str(a);
        }
        list.push(pb::ProcessInfo {
            pid: sat_i32(1000 + job.seq),
            ppid: pid,
            name: job.command.clone(),
            command,
            cpu_percent: fig.cpu
                * if fig.exact_cpu {
                    cpu.exact
                } else {
                    cpu.synthetic
                },
            memory_percent: pct(bytes, mem.total),
            memory_bytes: sat_i64(bytes),
            status: "R".to_owned(),
            start_time: rfc3339(job.start_time),
            user: "root".to_owned(),
        });
    }
    let mut top_by_cpu = list.clone();
    top_by_cpu.sort_by(|a, b| b.cpu_percent.total_cmp(&a.cpu_percent));
    let mut top_by_memory = list;
    top_by_memory.sort_by_key(|x| std::cmp::Reverse(x.memory_bytes));
    let total_procs = u64::from(p.procs_base) + running;
    let running_procs = running + 1 + noise.next_u64() % 3;
    pb::ProcessMetrics {
        total_processes: sat_i32(total_procs),
        running_processes: sat_i32(running_procs),
        sleeping_processes: sat_i32(total_procs - running_procs),
        stopped_processes: 0,
        zombie_processes: 0,
        total_threads: sat_i32(total_procs + u64::from(p.procs_base / 2) + 24),
        top_by_cpu,
        top_by_memory,
    }
}

/// The node's address as monitoring reports it (the host's `server_ips`, the
/// interface's `ip_addresses`).
const SERVER_IP: &str = "127.0.0.1";

/// A locally administered MAC address derived from the node ID (stable per node).
fn mac_address(node_id: &str) -> String {
    let h = fnv1a(node_id).to_be_bytes();
    let mut mac = String::from("02");
    for b in &h[..5] {
        let _ = write!(mac, ":{b:02x}");
    }
    mac
}

/// The host section: real facts, the node's identity, a synthetic MAC.
fn host_info(host: &HostFacts, input: &Inputs, cores: u32, total: f64) -> pb::HostInfo {
    let boot = host.boot_time.unwrap_or(input.started).min(input.now);
    let mac = mac_address(&input.node_id);
    pb::HostInfo {
        hostname: host.hostname.clone(),
        os: "linux".to_owned(),
        platform: host.platform.clone(),
        platform_family: host.platform_family.clone(),
        platform_version: host.platform_version.clone(),
        kernel_version: host.kernel_version.clone(),
        kernel_arch: host.kernel_arch.clone(),
        architecture: host.architecture.clone(),
        cpu_count: sat_i32(u64::from(cores)),
        total_memory: sat_i64(total),
        boot_time: rfc3339(boot),
        uptime: input.now - boot,
        node_id: input.node_id.clone(),
        server_i_ps: vec![SERVER_IP.to_owned()],
        mac_addresses: vec![mac],
    }
}
