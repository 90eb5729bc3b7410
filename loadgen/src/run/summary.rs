//! The report of a run: the collector's totals and time series per
//! operation, target and stage, the run's parameters, and the generator's
//! own cost.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use crate::monitor::unix_ms;
use crate::plan::{Action, Follow, Load, Model};
use crate::report::{
    self, CleanupStats, GeneratorReport, Group, OpReport, Parameters, Percentiles, Report,
    StageParam, StageReport, TargetParam, WorkerInfo,
};
use crate::stats::{self, Op};
use crate::transport::TransportStats;

use super::collector::Totals;
use super::config::{RunConfig, TargetSpec};

/// What the driver measured besides the collector's figures.
pub(super) struct ReportInputs<'a> {
    pub(super) cfg: &'a RunConfig,
    pub(super) specs: &'a [TargetSpec],
    pub(super) embedded: bool,
    pub(super) threads: u32,
    pub(super) start_wall: SystemTime,
    pub(super) duration: Duration,
    pub(super) interrupted: bool,
    pub(super) server: BTreeMap<String, report::ServerReport>,
    pub(super) cleanup: CleanupStats,
    pub(super) cpu: Option<Duration>,
    pub(super) abandoned: u64,
    pub(super) transport: TransportStats,
    pub(super) contract: report::ContractReport,
}

/// The report of a run: `totals` per operation, target and stage, with
/// what the driver measured (without threshold verdicts).
pub(super) fn report(totals: Totals, r: ReportInputs<'_>) -> Report {
    let cfg = r.cfg;
    let plan = &cfg.plan;
    let secs = r.duration.as_secs_f64();
    let uncorrected = plan.model() != Model::Closed;
    let render = |m: BTreeMap<Op, stats::OpStats>, secs: f64| -> BTreeMap<String, OpReport> {
        m.iter()
            .map(|(op, s)| {
                (
                    op.name().to_owned(),
                    OpReport::from_stats(*op, s, secs, uncorrected),
                )
            })
            .collect()
    };
    let by_op = totals.cells.by_op();
    let operations = render(by_op.clone(), secs);
    let targets = r
        .specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (
                s.target.host_port().to_owned(),
                Group {
                    operations: render(totals.cells.for_target(i as u16), secs),
                },
            )
        })
        .collect();
    let mut at = Duration::ZERO;
    let stages = plan
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let begin = at.min(r.duration);
            let end = s.duration.map_or(r.duration, |d| (at + d).min(r.duration));
            at += s.duration.unwrap_or_default();
            let d = end.saturating_sub(begin).as_secs_f64();
            let gen_lag = totals.cells.generator_lag_of(Some(i as u16));
            StageReport {
                name: s.name.clone(),
                load: s.load.to_string(),
                duration_s: d,
                operations: render(totals.cells.for_stage(i as u16), d),
                generator_lag_ms: gen_lag.as_ref().map(Percentiles::of_micros),
                generator_lag_histogram: gen_lag.as_ref().map(stats::encode),
            }
        })
        .collect();
    let errors = report::error_summary(&operations);
    let final_status = by_op
        .get(&Op::Final)
        .map(|s| s.statuses.clone())
        .unwrap_or_default();
    let timeseries = totals
        .series
        .into_iter()
        .map(|(op, pts)| (op.name().to_owned(), pts))
        .collect();
    let lag = totals.cells.lag.as_ref();
    let gen_lag = totals.cells.generator_lag_of(None);
    let cpu_s = r.cpu.map(|c| c.as_secs_f64());
    let host = hostname();
    Report {
        schema_version: report::SCHEMA_VERSION,
        tool: format!("joblet-loadgen {}", env!("CARGO_PKG_VERSION")),
        scenario: plan.scenario.clone(),
        model: plan.model().as_str().into(),
        contract: Some(r.contract),
        started_at: chrono::DateTime::<chrono::Utc>::from(r.start_wall)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        start_unix_ms: unix_ms(r.start_wall),
        duration_s: secs,
        interval_s: cfg.interval.as_secs_f64(),
        interrupted: r.interrupted,
        workers: vec![WorkerInfo {
            index: cfg.worker.index,
            count: cfg.worker.count,
            host,
            start_unix_ms: unix_ms(r.start_wall),
            duration_s: secs,
        }],
        parameters: parameters(cfg, r.specs, r.embedded, r.threads),
        operations,
        targets,
        stages,
        errors,
        final_status,
        server: r.server,
        timeseries,
        generator: GeneratorReport {
            threads: r.threads,
            cpu_seconds: cpu_s,
            cpu_seconds_per_100k_requests: cpu_s
                .filter(|_| errors.requests > 0)
                .map(|c| c / errors.requests as f64 * 1e5),
            peak_rss_bytes: peak_rss(),
            schedule_lag_ms: lag.map(Percentiles::of_micros),
            schedule_lag_histogram: lag.map(stats::encode),
            generator_lag_ms: gen_lag.as_ref().map(Percentiles::of_micros),
            generator_lag_histogram: gen_lag.as_ref().map(stats::encode),
            abandoned_in_flight: r.abandoned,
        },
        cleanup: r.cleanup,
        transport: Some(r.transport),
        thresholds: Vec::new(),
    }
}

fn parameters(cfg: &RunConfig, specs: &[TargetSpec], embedded: bool, threads: u32) -> Parameters {
    let plan = &cfg.plan;
    let mut operations = BTreeMap::new();
    let mut log_bytes = None;
    let mut follow = None;
    let mut followers = None;
    let mut telematics = None;
    for w in &plan.actions {
        let name = match w.action {
            Action::Call(rpc) => rpc.path().rsplit('/').next().unwrap_or("").to_owned(),
            Action::Lifecycle(f) => {
                follow = Some(match f {
                    Follow::Logs => "logs".to_owned(),
                    Follow::Poll(d) => format!("poll {}", crate::units::format_duration(d)),
                });
                "lifecycle".to_owned()
            }
            Action::LogStream { bytes } => {
                log_bytes = Some(bytes);
                "logs".to_owned()
            }
            Action::Telemetry {
                followers: n,
                telematics: t,
            } => {
                followers = Some(n);
                telematics = Some(t);
                "metrics".to_owned()
            }
        };
        operations.insert(name, w.weight);
    }
    Parameters {
        command_line: cfg.command_line.clone(),
        targets: if embedded {
            Vec::new()
        } else {
            specs
                .iter()
                .map(|s| TargetParam {
                    addr: s.target.host_port().to_owned(),
                    weight: s.weight,
                    tls: s.is_tls(),
                })
                .collect()
        },
        embedded_mock: embedded,
        connections: cfg.connections,
        threads,
        max_in_flight: cfg.max_in_flight,
        stages: plan
            .stages
            .iter()
            .map(|s| StageParam {
                name: s.name.clone(),
                rate: match s.load {
                    Load::Rate(r) => Some(r),
                    Load::Concurrency(_) => None,
                },
                concurrency: match s.load {
                    Load::Concurrency(c) => Some(c),
                    Load::Rate(_) => None,
                },
                duration_s: s.duration.map(|d| d.as_secs_f64()),
                ramp_s: s.ramp.as_secs_f64(),
            })
            .collect(),
        requests: plan.requests,
        operations,
        job: plan.job.clone(),
        log_bytes,
        follow,
        followers,
        telematics,
        timeout_s: cfg.timeout.as_secs_f64(),
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default()
}

/// Peak resident memory of this process (`VmHWM`, Linux).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
