use super::figures::*;
use super::host::*;
use super::monitor::*;
use super::num::*;
use proptest::prelude::*;
use std::time::Duration;

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
pub(crate) fn check(s: &Sample, running: usize, cores: u32, total: u64) {
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
    let times = cpu.user_time + cpu.system_time + cpu.idle_time + cpu.io_wait_time + cpu.steal_time;
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
        io.total_reads >= 0 && io.total_writes >= 0 && io.read_bytes >= 0 && io.write_bytes >= 0
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
        assert!(
            list.iter()
                .any(|x| x.name == "joblet" && x.pid == 1 && x.command == "/opt/joblet/bin/joblet")
        );
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
        all.cpu.is_some() && all.memory.is_some() && all.io.is_some() && all.processes.is_some()
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
    .into_status("v1.0.6");
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
