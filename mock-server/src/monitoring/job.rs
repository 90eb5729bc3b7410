//! A job's metrics samples (contract v2, JOB-METRICS-1) as a pure function of
//! the job and the sample's index: the figures follow the job's command (its
//! scenario's `resources` when it sets them) and limits, and are otherwise
//! synthetic, seeded by the job (so reproducible with `--seed`, whose job
//! UUIDs are), and consistent from one sample to the next.
//!
//! - `cpu_percent`: the scenario's `cpu_percent` as given, else a per-job
//!   level (4–40 %) with ±25 % noise per sample; within 0..100 and at most
//!   the job's `max_cpu` when it has one (percent, 100 = one core).
//! - `memory_bytes`: the scenario's `memory_mb`, else a per-job level
//!   (16–192 MiB) with ±10 % noise; at most `max_memory` (at most 90 % of it
//!   when synthetic, as a job stays under its limit).
//! - `memory_limit`: `max_memory` in bytes (MB = MiB), 0 when unlimited.
//! - The four byte counters are cumulative since the job started: 0 in the
//!   first sample, then per-job rates × elapsed time, plus a jitter below
//!   half an interval's worth, so they never decrease. A job without a
//!   network (`network: none`) sends and receives nothing.
//! - GPU figures only for a job that holds GPUs: `gpu_percent` a per-job
//!   level (30–95 %) with noise, `gpu_memory_bytes` 30–90 % of its GPUs'
//!   memory (its `gpu_memory_mb` per GPU, else the node's).

use std::time::Duration;

use super::num::{MIB, Rng, mix, sat_i64};
use crate::sim::Resources;

/// What a job's samples depend on besides their index.
#[derive(Debug, Clone, PartialEq)]
pub struct JobLoad {
    /// The job's seed (its UUID mixed with `--seed`).
    pub seed: u64,
    /// `max_cpu` (percent, 100 = one core); 0: none.
    pub max_cpu: i32,
    /// `max_memory` in MB; 0: none.
    pub max_memory_mb: i32,
    /// Whether the job has a network (not `none`).
    pub networked: bool,
    /// GPUs held.
    pub gpus: u32,
    /// Memory of each GPU it holds, in MB.
    pub gpu_memory_mb: u32,
    /// The figures its scenario sets.
    pub resources: Option<Resources>,
}

/// One sample's figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JobFigures {
    pub cpu_percent: f64,
    pub memory_bytes: i64,
    pub memory_limit: i64,
    pub disk_read_bytes: i64,
    pub disk_write_bytes: i64,
    pub net_recv_bytes: i64,
    pub net_sent_bytes: i64,
    pub gpu_percent: f64,
    pub gpu_memory_bytes: i64,
}

/// The job's own levels and rates (the same for every sample).
struct Levels {
    cpu: f64,
    memory: f64,
    gpu: f64,
    gpu_memory: f64,
    /// Bytes per second: disk read, disk write, received, sent.
    rates: [f64; 4],
}

impl Levels {
    fn of(seed: u64) -> Self {
        let mut r = Rng::new(mix(seed, 0x6a6f_625f_6c6f_6164));
        Self {
            cpu: r.range(4.0, 40.0),
            memory: r.range(16.0, 192.0) * MIB,
            gpu: r.range(30.0, 95.0),
            gpu_memory: r.range(0.3, 0.9),
            rates: [
                r.range(0.0, 512.0 * 1024.0),
                r.range(4.0 * 1024.0, 1024.0 * 1024.0),
                r.range(1024.0, 256.0 * 1024.0),
                r.range(512.0, 128.0 * 1024.0),
            ],
        }
    }
}

/// Sample `index` of a job sampled every `interval` (the first, index 0, is
/// taken as it starts running).
pub fn job_figures(load: &JobLoad, index: u64, interval: Duration) -> JobFigures {
    let levels = Levels::of(load.seed);
    // Every draw is made whatever is used, so that a sample's noise depends
    // on its index only.
    let mut noise = Rng::new(mix(load.seed, index.wrapping_add(1)));
    let cpu_noise = noise.range(0.75, 1.25);
    let memory_noise = noise.range(0.9, 1.1);
    let gpu_noise = noise.range(0.85, 1.15);
    let gpu_memory_noise = noise.range(0.95, 1.05);
    let jitter: [f64; 4] = std::array::from_fn(|_| noise.range(0.0, 0.5));

    let resources = load.resources.unwrap_or_default();
    let cpu_cap = if load.max_cpu > 0 {
        f64::from(load.max_cpu).min(100.0)
    } else {
        100.0
    };
    let cpu = resources
        .cpu_percent
        .unwrap_or(levels.cpu * cpu_noise)
        .clamp(0.0, cpu_cap);

    let limit = f64::from(load.max_memory_mb.max(0)) * MIB;
    let memory = match resources.memory_mb {
        Some(mb) if limit > 0.0 => (mb as f64 * MIB).min(limit),
        Some(mb) => mb as f64 * MIB,
        None if limit > 0.0 => (levels.memory * memory_noise).min(limit * 0.9),
        None => levels.memory * memory_noise,
    };

    let secs = interval.as_secs_f64();
    let elapsed = secs * index as f64;
    let counter = |i: usize| {
        let rate = levels.rates[i];
        let extra = if index == 0 {
            0.0
        } else {
            jitter[i] * rate * secs
        };
        sat_i64(rate * elapsed + extra)
    };
    let net = |i: usize| if load.networked { counter(i) } else { 0 };

    let (gpu_percent, gpu_memory_bytes) = if load.gpus > 0 {
        let total = f64::from(load.gpus) * f64::from(load.gpu_memory_mb) * MIB;
        (
            (levels.gpu * gpu_noise).clamp(0.0, 100.0),
            sat_i64((total * levels.gpu_memory * gpu_memory_noise).min(total)),
        )
    } else {
        (0.0, 0)
    };

    JobFigures {
        cpu_percent: cpu,
        memory_bytes: sat_i64(memory),
        memory_limit: sat_i64(limit),
        disk_read_bytes: counter(0),
        disk_write_bytes: counter(1),
        net_recv_bytes: net(2),
        net_sent_bytes: net(3),
        gpu_percent,
        gpu_memory_bytes,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn load(seed: u64) -> JobLoad {
        JobLoad {
            seed,
            max_cpu: 0,
            max_memory_mb: 0,
            networked: true,
            gpus: 0,
            gpu_memory_mb: 16_384,
            resources: None,
        }
    }

    const FIVE: Duration = Duration::from_secs(5);

    #[test]
    fn a_scenarios_resources_are_shown_within_the_limits() {
        let mut l = load(1);
        l.resources = Some(Resources {
            cpu_percent: Some(85.0),
            memory_mb: Some(512),
        });
        let f = job_figures(&l, 3, FIVE);
        assert_eq!((f.cpu_percent, f.memory_bytes), (85.0, 512 << 20));
        l.max_cpu = 50;
        l.max_memory_mb = 256;
        let f = job_figures(&l, 3, FIVE);
        assert_eq!(f.cpu_percent, 50.0);
        assert_eq!((f.memory_bytes, f.memory_limit), (256 << 20, 256 << 20));
    }

    #[test]
    fn the_first_sample_starts_the_counters_at_zero_and_gpus_need_gpus() {
        let f = job_figures(&load(2), 0, FIVE);
        assert_eq!(
            (
                f.disk_read_bytes,
                f.disk_write_bytes,
                f.net_recv_bytes,
                f.net_sent_bytes
            ),
            (0, 0, 0, 0)
        );
        assert_eq!(
            (f.gpu_percent, f.gpu_memory_bytes, f.memory_limit),
            (0.0, 0, 0)
        );
        let mut l = load(2);
        l.gpus = 2;
        l.gpu_memory_mb = 1000;
        let f = job_figures(&l, 4, FIVE);
        assert!(f.gpu_percent > 0.0 && f.gpu_memory_bytes > 0);
        assert!(f.gpu_memory_bytes <= 2000 << 20);
        l.networked = false;
        let f = job_figures(&l, 4, FIVE);
        assert_eq!((f.net_recv_bytes, f.net_sent_bytes), (0, 0));
    }

    proptest! {
        /// JOB-METRICS-1: every figure in range, cumulative counters never
        /// decrease, the same inputs give the same sample.
        #[test]
        fn samples_are_bounded_monotonic_and_reproducible(
            seed: u64,
            index in 0u64..100_000,
            max_cpu in 0i32..400,
            max_memory_mb in 0i32..65_536,
            gpus in 0u32..4,
            interval_ms in 1u64..3_600_000,
        ) {
            let l = JobLoad { max_cpu, max_memory_mb, gpus, ..load(seed) };
            let every = Duration::from_millis(interval_ms);
            let a = job_figures(&l, index, every);
            let b = job_figures(&l, index + 1, every);
            prop_assert_eq!(a, job_figures(&l, index, every));
            for f in [a, b] {
                prop_assert!((0.0..=100.0).contains(&f.cpu_percent));
                prop_assert!((0.0..=100.0).contains(&f.gpu_percent));
                if max_cpu > 0 {
                    prop_assert!(f.cpu_percent <= f64::from(max_cpu));
                }
                if max_memory_mb > 0 {
                    prop_assert!(f.memory_bytes <= f.memory_limit);
                }
                prop_assert!(f.memory_bytes > 0);
            }
            prop_assert!(b.disk_read_bytes >= a.disk_read_bytes);
            prop_assert!(b.disk_write_bytes >= a.disk_write_bytes);
            prop_assert!(b.net_recv_bytes >= a.net_recv_bytes);
            prop_assert!(b.net_sent_bytes >= a.net_sent_bytes);
        }
    }
}
