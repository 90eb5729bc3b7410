//! Monitoring figures of the simulated node (MON-STATUS-1, MON-STREAM-1, MON-STREAM-2).
//!
//! The host facts are real and read once ([`host_facts`]: hostname, OS release,
//! kernel, total memory, boot time); everything else is synthetic but consistent
//! and moves with the running jobs:
//!
//! - CPU: usage = a node base (1.5–6 %) + about 6 points per running job + a little
//!   noise, capped at 97 %. `userTime`, `systemTime`, `ioWaitTime`, `stealTime` and
//!   `idleTime` are the *percentages* of CPU time in those states (they add up to
//!   100); `perCoreUsage` has one entry per core and averages to `usagePercent`;
//!   `loadAverage` is `[1m, 5m, 15m]`.
//! - Memory: `usedBytes + freeBytes = totalBytes` (the host's real `MemTotal`);
//!   cached and buffered pages are counted in `usedBytes`, and
//!   `availableBytes = free + cached + buffered`. Each running job adds 48–144 MiB
//!   (at most 90 % of its `maxMemory`).
//! - One disk (`/dev/sda1` on `/`, ext4) whose used space grows 16 MiB per running
//!   job; inodes add up the same way.
//! - One interface (`eth0`) and one block device (`sda`): cumulative counters that
//!   never decrease (they advance by `rate × elapsed time` at each sample, shared by
//!   every caller) and rates in bytes per second.
//! - Processes: every running job is one process in state `R`; `topByCPU` and
//!   `topByMemory` hold the server itself (`joblet`, pid 1) and every running job
//!   (pid 1000 + the job's sequence number, name = the job's command, command =
//!   command and arguments), sorted. A process's `cpuPercent` is its share of the
//!   whole node (0–100), so the processes listed never add up to more than
//!   `usagePercent`. A job whose scenario sets `resources` (`cpu_percent`,
//!   `memory_mb`) shows those figures instead of synthetic ones (see
//!   [`crate::sim::scenario`]).
//! - `cloud` is left unset, as the real server does on a host where it detects no
//!   cloud provider.
//!
//! With a seed ([`MockConfig::seed`](crate::config::MockConfig::seed)) the figures
//! are reproducible: the node's base figures derive from the seed alone, and each
//! sample's noise from the seed and the sample's index (GetSystemStatus counts its
//! calls, each metrics stream counts its own samples from 0). The same seed, jobs
//! and index give the same CPU, memory, disk and process figures; cumulative
//! counters, uptime and timestamps also follow the clock. Without a seed, a fresh
//! random node and fresh noise per sample.

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use joblet_testkit::pb;
use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::session::Shared;
use crate::state::JobStatus;
use crate::time::rfc3339;

/// The `metricTypes` accepted by StreamSystemMetrics (MON-STREAM-2).
pub const METRIC_TYPES: [&str; 6] = ["cpu", "memory", "disk", "network", "io", "process"];

/// Interval of StreamSystemMetrics when `intervalSeconds <= 0` (MON-STREAM-1).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// Version of the wire contract the mock serves (reported as `proto_tag`).
pub const PROTO_TAG: &str = "v1.0.6";

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

/// Real facts about the machine the mock runs on, read once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    pub hostname: String,
    pub platform: String,
    pub platform_family: String,
    pub platform_version: String,
    pub kernel_version: String,
    /// `uname -m` style (`x86_64`, `aarch64`).
    pub kernel_arch: String,
    /// Go style (`amd64`, `arm64`).
    pub architecture: String,
    /// Bytes.
    pub total_memory: u64,
    /// Unix seconds, when known.
    pub boot_time: Option<i64>,
}

/// Fallback total memory: 16 GiB.
pub const FALLBACK_TOTAL_MEMORY: u64 = 16 << 30;

/// The host's facts, read from `/proc` and `/etc/os-release` on first use.
pub fn host_facts() -> &'static HostFacts {
    static FACTS: OnceLock<HostFacts> = OnceLock::new();
    FACTS.get_or_init(read_host_facts)
}

fn read_trimmed(path: &str) -> Option<String> {
    let s = std::fs::read_to_string(path).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// `x86_64` → `amd64`, `aarch64` → `arm64` (the names Go and Joblet use).
pub fn go_arch(arch: &str) -> &str {
    match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// `(platform, family, version)` from os-release text.
fn parse_os_release(text: &str) -> Option<(String, String, String)> {
    let mut id = None;
    let mut like = None;
    let mut version = None;
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"').trim_matches('\'').to_owned();
        match k.trim() {
            "ID" => id = Some(v),
            "ID_LIKE" => like = Some(v),
            "VERSION_ID" => version = Some(v),
            _ => {}
        }
    }
    let id = id.filter(|i| !i.is_empty())?.to_ascii_lowercase();
    let family = match id.as_str() {
        "debian" | "ubuntu" | "linuxmint" | "raspbian" | "pop" | "kali" => "debian".to_owned(),
        "rhel" | "centos" | "fedora" | "rocky" | "almalinux" | "amzn" | "ol" => "rhel".to_owned(),
        "alpine" => "alpine".to_owned(),
        "arch" | "manjaro" => "arch".to_owned(),
        "sles" | "opensuse" | "opensuse-leap" | "opensuse-tumbleweed" => "suse".to_owned(),
        _ => like
            .as_deref()
            .and_then(|l| l.split_whitespace().next())
            .map_or_else(|| id.clone(), str::to_owned),
    };
    Some((id, family, version.unwrap_or_default()))
}

fn read_host_facts() -> HostFacts {
    let hostname = read_trimmed("/proc/sys/kernel/hostname")
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "joblet-mock".to_owned());
    let (platform, platform_family, platform_version) = ["/etc/os-release", "/usr/lib/os-release"]
        .iter()
        .find_map(|p| parse_os_release(&std::fs::read_to_string(p).ok()?))
        .unwrap_or_else(|| ("debian".into(), "debian".into(), "12".into()));
    let kernel_version =
        read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_else(|| "6.1.0".to_owned());
    let total_memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .filter(|b| *b > 0)
        .unwrap_or(FALLBACK_TOTAL_MEMORY);
    let boot_time = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<i64>().ok())
    });
    let arch = std::env::consts::ARCH;
    HostFacts {
        hostname,
        platform,
        platform_family,
        platform_version,
        kernel_version,
        kernel_arch: arch.to_owned(),
        architecture: go_arch(arch).to_owned(),
        total_memory,
        boot_time,
    }
}

/// splitmix64: small, fast, and the same everywhere.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[lo, hi)`.
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
}

/// Mixes two values into a seed.
fn mix(a: u64, b: u64) -> u64 {
    Rng::new(a ^ b.wrapping_mul(0xD6E8_FEB8_6659_FD93)).next_u64()
}

/// FNV-1a of a string (for synthetic MAC addresses).
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    })
}

fn sat_i32(v: u64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

fn sat_i64(v: f64) -> i64 {
    // `as` saturates and maps NaN to 0.
    v.max(0.0) as i64
}

const MIB: f64 = 1024.0 * 1024.0;
const GIB: u64 = 1 << 30;

/// Base figures of the simulated node, from its seed alone.
#[derive(Debug, Clone, PartialEq)]
struct NodeProfile {
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
    fn new(node_seed: u64) -> Self {
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
    pub fn into_status(self) -> pb::SystemStatusRes {
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
            server_version: Some(server_version()),
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

/// The mock's `server_version`.
pub fn server_version() -> pb::ServerVersionInfo {
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
        proto_tag: PROTO_TAG.to_owned(),
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

fn pct(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        (part / whole * 100.0).clamp(0.0, 100.0)
    } else {
        0.0
    }
}

/// Computes one sample: a pure function of its inputs, the host facts and the
/// counters, which it advances.
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

    // CPU.
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

    // Memory: cached and buffered pages count as used.
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

    // Disk.
    let disk_total = p.disk_total;
    let disk_used = ((disk_total as f64 * p.disk_used_frac + running as f64 * 16.0 * MIB) as u64)
        .min(disk_total / 100 * 99);
    let inodes_total = disk_total / 16_384;
    let inodes_used = (disk_used / 32_768).min(inodes_total);
    let disks = vec![pb::DiskMetrics {
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
    }];

    // Rates, then the counters they advance.
    let r = running as f64;
    let rx_rate = p.rx_rate * noise.range(0.7, 1.3) + r * 2_048.0;
    let tx_rate = p.tx_rate * noise.range(0.7, 1.3) + r * 1_024.0;
    let read_rate = p.read_rate * noise.range(0.6, 1.4) + r * 32_768.0;
    let write_rate = p.write_rate * noise.range(0.6, 1.4) + r * 65_536.0;
    let utilization = ((read_rate + write_rate) / 250e6 * 100.0 + r * 0.5).min(95.0);
    let c = counters;
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
        Some(at) => input.elapsed.saturating_sub(at).as_secs_f64(),
    };
    c.at = Some(c.at.map_or(input.elapsed, |at| at.max(input.elapsed)));
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

    // Processes: the server, every running job, and the node's own.
    let (name, pid, path) = SERVER_PROCESS;
    let server_mem = p.server_mem.min(base_used / 2.0);
    let mut list = Vec::with_capacity(input.running.len() + 1);
    list.push(pb::ProcessInfo {
        pid,
        ppid: 0,
        name: name.to_owned(),
        command: path.to_owned(),
        cpu_percent: p.cpu_base * 0.2,
        memory_percent: pct(server_mem, total_f),
        memory_bytes: sat_i64(server_mem),
        status: "S".to_owned(),
        start_time: rfc3339(input.started),
        user: "root".to_owned(),
    });
    for (job, fig) in input.running.iter().zip(&jobs) {
        let mem = fig.mem * job_mem_scale;
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
                    exact_cpu_scale
                } else {
                    job_cpu_scale
                },
            memory_percent: pct(mem, total_f),
            memory_bytes: sat_i64(mem),
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
    let processes = pb::ProcessMetrics {
        total_processes: sat_i32(total_procs),
        running_processes: sat_i32(running_procs),
        sleeping_processes: sat_i32(total_procs - running_procs),
        stopped_processes: 0,
        zombie_processes: 0,
        total_threads: sat_i32(total_procs + u64::from(p.procs_base / 2) + 24),
        top_by_cpu,
        top_by_memory,
    };

    // Host.
    let boot = host.boot_time.unwrap_or(input.started).min(input.now);
    let h = fnv1a(&input.node_id).to_be_bytes();
    let mut mac = String::from("02");
    for b in &h[..5] {
        let _ = write!(mac, ":{b:02x}");
    }
    let host_info = pb::HostInfo {
        hostname: host.hostname.clone(),
        os: "linux".to_owned(),
        platform: host.platform.clone(),
        platform_family: host.platform_family.clone(),
        platform_version: host.platform_version.clone(),
        kernel_version: host.kernel_version.clone(),
        kernel_arch: host.kernel_arch.clone(),
        architecture: host.architecture.clone(),
        cpu_count: sat_i32(u64::from(cores)),
        total_memory: sat_i64(total_f),
        boot_time: rfc3339(boot),
        uptime: input.now - boot,
        node_id: input.node_id.clone(),
        server_i_ps: vec!["127.0.0.1".to_owned()],
        mac_addresses: vec![mac],
    };

    Sample {
        timestamp: rfc3339(input.now),
        host: host_info,
        cpu,
        memory,
        disks,
        networks,
        io,
        processes,
    }
}

/// The node's monitoring: its seed, its counters and the GetSystemStatus count.
#[derive(Debug)]
pub struct Monitor {
    seed: Option<u64>,
    node_seed: u64,
    calls: AtomicU64,
    counters: Mutex<Counters>,
}

impl Monitor {
    /// A monitor with reproducible figures for `Some(seed)`, varying ones for `None`.
    pub fn new(seed: Option<u64>) -> Self {
        Self {
            seed,
            node_seed: seed.unwrap_or_else(rand::random),
            calls: AtomicU64::new(0),
            counters: Mutex::new(Counters::default()),
        }
    }

    /// The index of the next GetSystemStatus sample (0, 1, 2, ...).
    pub fn next_call(&self) -> u64 {
        self.calls.fetch_add(1, Ordering::Relaxed)
    }

    /// The inputs of sample `index` for these running jobs at this time.
    pub fn inputs(
        &self,
        index: u64,
        now: i64,
        elapsed: Duration,
        cores: u32,
        node_id: &str,
        running: Vec<RunningJob>,
    ) -> Inputs {
        let sample_seed = match self.seed {
            Some(seed) => mix(seed, index.wrapping_add(0x5EED)),
            None => rand::random(),
        };
        let started = now - i64::try_from(elapsed.as_secs()).unwrap_or(0);
        Inputs {
            node_seed: self.node_seed,
            sample_seed,
            now,
            started,
            elapsed,
            cores,
            node_id: node_id.to_owned(),
            running,
        }
    }

    /// Computes the sample for `inputs` with the real host facts, advancing the counters.
    pub fn compute(&self, inputs: &Inputs) -> Sample {
        generate(inputs, host_facts(), &mut self.counters.lock())
    }

    /// Sample `index` of the node now.
    pub fn sample(&self, shared: &Shared, index: u64) -> Sample {
        let running = {
            let state = shared.state.lock();
            state
                .jobs
                .iter()
                .filter(|(_, j)| j.status == JobStatus::Running)
                .map(|(seq, j)| RunningJob {
                    seq,
                    command: j.spec.command.clone(),
                    args: j.spec.args.clone(),
                    start_time: j.start_time,
                    max_memory_mb: j.spec.max_memory,
                    resources: None,
                })
                .collect::<Vec<_>>()
        };
        // Scenario figures, looked up outside the state lock.
        let mut running = running;
        if !shared.config.exec {
            let sim = shared.sim();
            for job in &mut running {
                job.resources = sim.resources(&job.command, &job.args);
            }
        }
        let inputs = self.inputs(
            index,
            shared.clock.now_secs(),
            Duration::from_millis(
                u64::try_from(shared.clock.now_ms() - shared.started_ms).unwrap_or(0),
            ),
            shared.config.host_cores,
            &shared.config.node_id,
            running,
        );
        self.compute(&inputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn host(total_memory: u64) -> HostFacts {
        HostFacts {
            hostname: "node-a".into(),
            platform: "debian".into(),
            platform_family: "debian".into(),
            platform_version: "12".into(),
            kernel_version: "6.1.0-18-amd64".into(),
            kernel_arch: "x86_64".into(),
            architecture: "amd64".into(),
            total_memory,
            boot_time: Some(1_700_000_000),
        }
    }

    fn jobs(n: u64) -> Vec<RunningJob> {
        (0..n)
            .map(|seq| RunningJob {
                seq,
                command: "sleep".into(),
                args: vec!["30".into()],
                start_time: 1_700_000_100 + seq as i64,
                max_memory_mb: if seq % 3 == 0 { 64 } else { 0 },
                resources: None,
            })
            .collect()
    }

    fn inputs(mon: &Monitor, index: u64, running: u64, cores: u32, elapsed: f64) -> Inputs {
        mon.inputs(
            index,
            1_700_001_000,
            Duration::from_secs_f64(elapsed),
            cores,
            "node-1",
            jobs(running),
        )
    }

    fn assert_pct(what: &str, v: f64) {
        assert!(
            (0.0..=100.0).contains(&v),
            "{what} = {v} is not a percentage"
        );
    }

    /// Every MON-STATUS-1 consistency invariant of one sample.
    fn check(s: &Sample, running: usize, cores: u32, total: u64) {
        let cpu = &s.cpu;
        assert_eq!(cpu.cores, cores.max(1) as i32);
        assert_eq!(cpu.per_core_usage.len(), cores.max(1) as usize);
        for (what, v) in [
            ("usage", cpu.usage_percent),
            ("user", cpu.user_time),
            ("system", cpu.system_time),
            ("idle", cpu.idle_time),
            ("iowait", cpu.io_wait_time),
            ("steal", cpu.steal_time),
        ] {
            assert_pct(what, v);
        }
        assert!(cpu.usage_percent < 100.0);
        let times =
            cpu.user_time + cpu.system_time + cpu.idle_time + cpu.io_wait_time + cpu.steal_time;
        assert!((times - 100.0).abs() < 1e-6, "cpu times add up to {times}");
        for v in &cpu.per_core_usage {
            assert_pct("per core", *v);
        }
        let mean = cpu.per_core_usage.iter().sum::<f64>() / cpu.per_core_usage.len() as f64;
        assert!(
            (mean - cpu.usage_percent).abs() < 1e-6,
            "per-core mean {mean} vs {}",
            cpu.usage_percent
        );
        assert_eq!(cpu.load_average.len(), 3);
        assert!(cpu.load_average.iter().all(|l| *l >= 0.0));

        let m = &s.memory;
        assert_eq!(m.total_bytes, total as i64);
        assert_eq!(m.used_bytes + m.free_bytes, m.total_bytes);
        assert!(m.used_bytes >= 0 && m.free_bytes >= 0);
        assert!(m.available_bytes >= m.free_bytes && m.available_bytes <= m.total_bytes);
        assert!(m.cached_bytes + m.buffered_bytes <= m.used_bytes);
        assert_pct("memory", m.usage_percent);
        let expect = m.used_bytes as f64 / m.total_bytes as f64 * 100.0;
        assert!((m.usage_percent - expect).abs() < 1e-9);
        assert_eq!(m.swap_used + m.swap_free, m.swap_total);
        assert!(m.swap_used >= 0 && m.swap_free >= 0);

        assert!(!s.disks.is_empty());
        for d in &s.disks {
            assert_eq!(d.used_bytes + d.free_bytes, d.total_bytes);
            assert!(d.used_bytes >= 0 && d.free_bytes > 0);
            assert_pct("disk", d.usage_percent);
            assert!(
                (d.usage_percent - d.used_bytes as f64 / d.total_bytes as f64 * 100.0).abs() < 1e-9
            );
            assert_eq!(d.inodes_used + d.inodes_free, d.inodes_total);
            assert!(d.inodes_used >= 0 && d.inodes_free >= 0);
            assert_pct("inodes", d.inodes_usage_percent);
        }

        assert!(!s.networks.is_empty());
        for n in &s.networks {
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

        let io = &s.io;
        assert!(
            io.total_reads >= 0
                && io.total_writes >= 0
                && io.read_bytes >= 0
                && io.write_bytes >= 0
        );
        assert!(io.read_rate >= 0.0 && io.write_rate >= 0.0);
        assert_eq!(io.disk_io.len(), 1);
        assert_pct("utilization", io.disk_io[0].utilization);

        let p = &s.processes;
        assert!(p.running_processes >= 0 && p.sleeping_processes >= 0);
        assert!(
            p.running_processes + p.sleeping_processes + p.stopped_processes + p.zombie_processes
                <= p.total_processes
        );
        assert!(p.running_processes as usize >= running);
        assert!(p.total_threads >= p.total_processes);
        for list in [&p.top_by_cpu, &p.top_by_memory] {
            assert_eq!(list.len(), running + 1);
            assert!(list.iter().any(|x| x.name == "joblet"
                && x.pid == 1
                && x.command == "/opt/joblet/bin/joblet"));
            assert_eq!(list.iter().filter(|x| x.status == "R").count(), running);
            for x in list {
                assert_pct("process cpu", x.cpu_percent);
                assert_pct("process memory", x.memory_percent);
                assert!(x.memory_bytes >= 0);
                assert!(chrono::DateTime::parse_from_rfc3339(&x.start_time).is_ok());
            }
            let cpu_sum: f64 = list.iter().map(|x| x.cpu_percent).sum();
            assert!(
                cpu_sum <= s.cpu.usage_percent + 1e-9,
                "processes use {cpu_sum} > {}",
                s.cpu.usage_percent
            );
            let mem_sum: i64 = list.iter().map(|x| x.memory_bytes).sum();
            assert!(
                mem_sum <= m.used_bytes,
                "processes hold {mem_sum} > {}",
                m.used_bytes
            );
        }
        assert!(
            p.top_by_cpu
                .windows(2)
                .all(|w| w[0].cpu_percent >= w[1].cpu_percent)
        );
        assert!(
            p.top_by_memory
                .windows(2)
                .all(|w| w[0].memory_bytes >= w[1].memory_bytes)
        );

        let h = &s.host;
        assert_eq!(h.cpu_count, cores.max(1) as i32);
        assert_eq!(h.total_memory, total as i64);
        assert!(h.uptime >= 0);
        assert!(chrono::DateTime::parse_from_rfc3339(&h.boot_time).is_ok());
        assert!(chrono::DateTime::parse_from_rfc3339(&s.timestamp).is_ok());
        assert_eq!(h.mac_addresses.len(), 1);
        assert_eq!(h.mac_addresses[0].len(), 17);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn samples_are_consistent_mon_status_1(
            seed in any::<u64>(),
            index in any::<u64>(),
            running in 0u64..120,
            cores in 0u32..96,
            total in (256u64 << 20)..(2u64 << 40),
        ) {
            let mon = Monitor::new(Some(seed));
            let mut counters = Counters::default();
            let s = generate(&inputs(&mon, index, running, cores, 3.0), &host(total), &mut counters);
            check(&s, running as usize, cores, total);
        }

        #[test]
        fn counters_never_decrease_mon_status_1(
            seed in any::<u64>(),
            steps in proptest::collection::vec((0u64..40, 0.0f64..5.0), 1..20),
        ) {
            let mon = Monitor::new(Some(seed));
            let mut counters = Counters::default();
            let mut elapsed = 0.0;
            let mut prev: Option<Sample> = None;
            for (i, (running, dt)) in steps.into_iter().enumerate() {
                elapsed += dt;
                let s = generate(&inputs(&mon, i as u64, running, 4, elapsed), &host(16 << 30), &mut counters);
                if let Some(p) = prev {
                    let (a, b) = (&p.networks[0], &s.networks[0]);
                    prop_assert!(b.bytes_received >= a.bytes_received && b.bytes_sent >= a.bytes_sent);
                    prop_assert!(b.packets_received >= a.packets_received && b.packets_sent >= a.packets_sent);
                    let (a, b) = (&p.io, &s.io);
                    prop_assert!(b.total_reads >= a.total_reads && b.total_writes >= a.total_writes);
                    prop_assert!(b.read_bytes >= a.read_bytes && b.write_bytes >= a.write_bytes);
                    let (a, b) = (&p.io.disk_io[0], &s.io.disk_io[0]);
                    prop_assert!(b.read_time >= a.read_time && b.write_time >= a.write_time && b.io_time >= a.io_time);
                    if dt >= 1.0 {
                        prop_assert!(s.networks[0].bytes_received > p.networks[0].bytes_received);
                        prop_assert!(s.io.write_bytes > p.io.write_bytes);
                    }
                }
                prev = Some(s);
            }
        }
    }

    #[test]
    fn counters_ignore_samples_from_the_past() {
        let mon = Monitor::new(Some(1));
        let mut c = Counters::default();
        let a = generate(&inputs(&mon, 0, 0, 2, 10.0), &host(8 << 30), &mut c);
        let b = generate(&inputs(&mon, 1, 0, 2, 9.0), &host(8 << 30), &mut c);
        assert_eq!(a.networks[0].bytes_received, b.networks[0].bytes_received);
        let d = generate(&inputs(&mon, 2, 0, 2, 11.0), &host(8 << 30), &mut c);
        assert!(d.networks[0].bytes_received > b.networks[0].bytes_received);
    }

    #[test]
    fn seeded_figures_are_reproducible() {
        let (a, b) = (Monitor::new(Some(7)), Monitor::new(Some(7)));
        let h = host(16 << 30);
        let sa = generate(&inputs(&a, 3, 2, 8, 5.0), &h, &mut Counters::default());
        let sb = generate(&inputs(&b, 3, 2, 8, 5.0), &h, &mut Counters::default());
        assert_eq!(sa, sb);
        // Another sample index: other noise, same node.
        let sc = generate(&inputs(&a, 4, 2, 8, 5.0), &h, &mut Counters::default());
        assert_ne!(sa.cpu, sc.cpu);
        assert_eq!(sa.disks, sc.disks);
        // Another seed: another node.
        let o = Monitor::new(Some(8));
        let so = generate(&inputs(&o, 3, 2, 8, 5.0), &h, &mut Counters::default());
        assert_ne!(sa.cpu, so.cpu);
    }

    #[test]
    fn unseeded_figures_vary() {
        let mon = Monitor::new(None);
        let h = host(16 << 30);
        let a = generate(&inputs(&mon, 0, 1, 4, 1.0), &h, &mut Counters::default());
        let b = generate(&inputs(&mon, 0, 1, 4, 1.0), &h, &mut Counters::default());
        assert_ne!(a.cpu, b.cpu);
    }

    #[test]
    fn figures_move_with_running_jobs() {
        let h = host(16 << 30);
        for seed in 0..200 {
            let mon = Monitor::new(Some(seed));
            let idle = generate(&inputs(&mon, 0, 0, 4, 1.0), &h, &mut Counters::default());
            let busy = generate(&inputs(&mon, 0, 3, 4, 1.0), &h, &mut Counters::default());
            assert!(busy.cpu.usage_percent > idle.cpu.usage_percent + 10.0);
            assert!(busy.memory.used_bytes > idle.memory.used_bytes);
            assert!(busy.disks[0].used_bytes > idle.disks[0].used_bytes);
            assert_eq!(
                busy.processes.total_processes,
                idle.processes.total_processes + 3
            );
            assert!(busy.networks[0].receive_rate > 0.0);
            let job = busy
                .processes
                .top_by_cpu
                .iter()
                .find(|p| p.pid == 1001)
                .unwrap();
            assert_eq!(
                (job.name.as_str(), job.command.as_str(), job.status.as_str()),
                ("sleep", "sleep 30", "R")
            );
            assert_eq!(job.ppid, 1);
            // A job's memory limit caps its figure.
            let limited = busy
                .processes
                .top_by_memory
                .iter()
                .find(|p| p.pid == 1000)
                .unwrap();
            assert!(limited.memory_bytes as f64 <= 64.0 * MIB);
        }
    }

    #[test]
    fn sample_lists_the_running_jobs_of_the_state() {
        use crate::config::MockConfig;
        use crate::logs::LogBuffer;
        use crate::state::{Job, JobSpec};

        let shared = Shared::new(MockConfig {
            seed: Some(21),
            host_cores: 2,
            node_id: "n-21".into(),
            ..MockConfig::default()
        });
        let mon = Monitor::new(Some(21));
        let idle = mon.sample(&shared, 0);
        {
            let mut state = shared.state.lock();
            for (status, command) in [
                (JobStatus::Completed, "echo"),
                (JobStatus::Running, "python3"),
                (JobStatus::Scheduled, "date"),
                (JobStatus::Running, "sleep"),
            ] {
                let spec = JobSpec {
                    command: command.into(),
                    args: vec!["-c".into(), "x".into()],
                    ..JobSpec::default()
                };
                if status == JobStatus::Running {
                    state.mark_running(&spec);
                }
                state.jobs.insert(Job {
                    id: uuid::Uuid::new_v4(),
                    spec: std::sync::Arc::new(spec),
                    status,
                    start_time: 1_700_000_000,
                    end_time: None,
                    scheduled_time: None,
                    exit_code: 0,
                    gpu_indices: Vec::new(),
                    log: LogBuffer::new(16),
                    task: None,
                    charge: Default::default(),
                });
            }
        }
        let busy = mon.sample(&shared, 0);
        check(&busy, 2, 2, host_facts().total_memory);
        assert_eq!(busy.host.node_id, "n-21");
        let p = &busy.processes;
        let mut names: Vec<_> = p.top_by_cpu.iter().map(|x| x.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["joblet", "python3", "sleep"]);
        let py = p
            .top_by_memory
            .iter()
            .find(|x| x.name == "python3")
            .unwrap();
        assert_eq!((py.pid, py.command.as_str()), (1001, "python3 -c x"));
        assert_eq!(p.total_processes, idle.processes.total_processes + 2);
        assert!(busy.cpu.usage_percent > idle.cpu.usage_percent);
    }

    #[test]
    fn cpu_is_capped_below_100() {
        let mon = Monitor::new(Some(3));
        let s = generate(
            &inputs(&mon, 0, 500, 2, 1.0),
            &host(1 << 30),
            &mut Counters::default(),
        );
        assert!(s.cpu.usage_percent <= 97.0);
        check(&s, 500, 2, 1 << 30);
    }

    #[test]
    fn metric_types_parse_mon_stream_2() {
        assert_eq!(Sections::parse::<&str>(&[]).unwrap(), Sections::ALL);
        assert_eq!(Sections::parse(&METRIC_TYPES).unwrap(), Sections::ALL);
        let s = Sections::parse(&[" CPU ", "Memory"]).unwrap();
        assert!(s.cpu && s.memory && !s.disk && !s.network && !s.io && !s.process);
        let e = Sections::parse(&["cpu", "gpu"]).unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        let msg = e.to_string();
        assert!(msg.starts_with("metricTypes: "), "{msg}");
        assert!(msg.contains("\"gpu\""), "{msg}");
        assert!(
            msg.contains("cpu, memory, disk, network, io, process"),
            "{msg}"
        );
        assert!(Sections::parse(&[""]).is_err());
    }

    #[test]
    fn metrics_keep_only_the_sections_asked_for() {
        let mon = Monitor::new(Some(1));
        let s = generate(
            &inputs(&mon, 0, 1, 2, 1.0),
            &host(4 << 30),
            &mut Counters::default(),
        );
        let all = s.clone().into_metrics(Sections::ALL);
        assert!(
            all.cpu.is_some()
                && all.memory.is_some()
                && all.io.is_some()
                && all.processes.is_some()
        );
        assert!(!all.disks.is_empty() && !all.networks.is_empty());
        let only = s.into_metrics(Sections::parse(&["disk", "process"]).unwrap());
        assert!(only.host.is_some() && !only.timestamp.is_empty());
        assert!(
            only.cpu.is_none()
                && only.memory.is_none()
                && only.io.is_none()
                && only.networks.is_empty()
        );
        assert!(!only.disks.is_empty() && only.processes.is_some());
        assert!(only.cloud.is_none());
    }

    #[test]
    fn status_is_available_with_a_version() {
        let mon = Monitor::new(Some(1));
        let s = generate(
            &inputs(&mon, 0, 0, 2, 1.0),
            &host(4 << 30),
            &mut Counters::default(),
        )
        .into_status();
        assert!(s.available);
        assert!(s.cloud.is_none());
        let v = s.server_version.unwrap();
        assert_eq!(v.version, env!("CARGO_PKG_VERSION"));
        assert_eq!(v.component, "joblet-mock");
        assert_eq!(v.proto_tag, "v1.0.6");
        assert!(v.platform.starts_with("linux/"));
    }

    #[test]
    fn interval_defaults_to_five_seconds_mon_stream_1() {
        assert_eq!(interval(0), Duration::from_secs(5));
        assert_eq!(interval(-3), Duration::from_secs(5));
        assert_eq!(interval(1), Duration::from_secs(1));
        assert_eq!(interval(i32::MAX), Duration::from_secs(i32::MAX as u64));
    }

    #[test]
    fn os_release_and_arch() {
        let ubuntu = "NAME=\"Ubuntu\"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"22.04\"\n";
        assert_eq!(
            parse_os_release(ubuntu).unwrap(),
            ("ubuntu".into(), "debian".into(), "22.04".into())
        );
        let odd = "ID=\"nixos\"\nVERSION_ID=24.05\n";
        assert_eq!(
            parse_os_release(odd).unwrap(),
            ("nixos".into(), "nixos".into(), "24.05".into())
        );
        assert!(parse_os_release("NAME=x\n").is_none());
        assert_eq!(go_arch("x86_64"), "amd64");
        assert_eq!(go_arch("aarch64"), "arm64");
        let f = host_facts();
        assert!(!f.hostname.is_empty() && !f.kernel_version.is_empty());
        assert!(f.total_memory > 0);
        assert_eq!(f.kernel_arch, std::env::consts::ARCH);
    }
}
