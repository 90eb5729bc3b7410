//! `joblet-loadgen merge`: combines the reports of a distributed run's
//! workers exactly. Histograms are decoded and added (so a merged p99 is the
//! p99 of every sample of every worker, never an average of p99s); counts,
//! errors, bytes and rates (the workers ran side by side) are summed; time
//! series are aligned on the wall clock and added interval by interval.

use std::collections::{BTreeMap, BTreeSet};

use hdrhistogram::Histogram;

use crate::report::{
    self, GeneratorReport, Group, OpReport, Percentiles, Point, RateSpread, Report, ServerPoint,
    ServerReport, Spread, StageReport, WorkerInfo,
};
use crate::stats::{self, DecodeError};

/// Reports that cannot be combined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MergeError {
    /// Nothing to merge.
    #[error("give at least one report")]
    Empty,
    /// The reports come from different kinds of run.
    #[error("{0}")]
    Mismatch(String),
    /// A histogram inside a report is damaged.
    #[error("{what}: {source}")]
    Histogram {
        /// Where.
        what: String,
        /// Why.
        source: DecodeError,
    },
}

fn decode(what: &str, text: &str) -> Result<Histogram<u64>, MergeError> {
    stats::decode(text).map_err(|source| MergeError::Histogram {
        what: what.to_owned(),
        source,
    })
}

fn sum_hist<'a>(
    what: &str,
    texts: impl Iterator<Item = &'a String>,
) -> Result<Histogram<u64>, MergeError> {
    let mut h = stats::histogram();
    for t in texts {
        stats::add(&mut h, &decode(what, t)?);
    }
    Ok(h)
}

fn sum_opt<T: Copy + std::iter::Sum<T>>(
    items: &[&OpReport],
    f: impl Fn(&OpReport) -> Option<T>,
) -> Option<T> {
    let vals: Vec<T> = items.iter().filter_map(|o| f(o)).collect();
    (!vals.is_empty()).then(|| vals.into_iter().sum())
}

/// Merges one operation's reports.
fn merge_op(name: &str, items: &[&OpReport]) -> Result<OpReport, MergeError> {
    let first = items.first().ok_or(MergeError::Empty)?;
    let latency = sum_hist(name, items.iter().map(|o| &o.histogram))?;
    let uncorrected = if items.iter().any(|o| o.histogram_uncorrected.is_some()) {
        Some(sum_hist(
            name,
            items
                .iter()
                .filter_map(|o| o.histogram_uncorrected.as_ref()),
        )?)
    } else {
        None
    };
    let opt_hist =
        |f: fn(&OpReport) -> Option<&String>| -> Result<Option<Histogram<u64>>, MergeError> {
            if items.iter().any(|o| f(o).is_some()) {
                Ok(Some(sum_hist(name, items.iter().filter_map(|o| f(o)))?))
            } else {
                Ok(None)
            }
        };
    let ttfb = opt_hist(|o| o.ttfb_histogram.as_ref())?;
    let gaps = opt_hist(|o| o.chunk_gap_histogram.as_ref())?;
    let kbps = opt_hist(|o| o.stream_kbps_histogram.as_ref())?;
    let delay = opt_hist(|o| o.event_delay_histogram.as_ref())?;
    let mut errors_by_code: BTreeMap<String, u64> = BTreeMap::new();
    let mut error_examples = BTreeMap::new();
    for o in items {
        for (c, n) in &o.errors_by_code {
            *errors_by_code.entry(c.clone()).or_default() += n;
        }
        for (c, m) in &o.error_examples {
            error_examples.entry(c.clone()).or_insert_with(|| m.clone());
        }
    }
    Ok(OpReport {
        description: first.description.clone(),
        count: items.iter().map(|o| o.count).sum(),
        ok: items.iter().map(|o| o.ok).sum(),
        errors: items.iter().map(|o| o.errors).sum(),
        skipped: items.iter().map(|o| o.skipped).sum(),
        raced: items.iter().map(|o| o.raced).sum(),
        errors_by_code,
        error_examples,
        rate_per_s: items.iter().map(|o| o.rate_per_s).sum(),
        latency_ms: Percentiles::of_micros(&latency),
        latency_uncorrected_ms: uncorrected.as_ref().map(Percentiles::of_micros),
        histogram: stats::encode(&latency),
        histogram_uncorrected: uncorrected.as_ref().map(stats::encode),
        bytes: sum_opt(items, |o| o.bytes),
        bytes_per_s: sum_opt(items, |o| o.bytes_per_s),
        chunks: sum_opt(items, |o| o.chunks),
        chunks_per_s: sum_opt(items, |o| o.chunks_per_s),
        streams: sum_opt(items, |o| o.streams),
        ttfb_ms: ttfb.as_ref().map(Percentiles::of_micros),
        ttfb_histogram: ttfb.as_ref().map(stats::encode),
        chunk_gap_ms: gaps.as_ref().map(Percentiles::of_micros),
        chunk_gap_histogram: gaps.as_ref().map(stats::encode),
        stream_mbps: kbps.as_ref().map(RateSpread::of_kbps),
        stream_kbps_histogram: kbps.as_ref().map(stats::encode),
        history_events: sum_opt(items, |o| o.history_events),
        event_delay_ms: delay.as_ref().map(Percentiles::of_micros),
        event_delay_histogram: delay.as_ref().map(stats::encode),
    })
}

fn merge_ops<'a>(
    maps: impl Iterator<Item = &'a BTreeMap<String, OpReport>>,
) -> Result<BTreeMap<String, OpReport>, MergeError> {
    let mut by: BTreeMap<String, Vec<&OpReport>> = BTreeMap::new();
    for m in maps {
        for (k, v) in m {
            by.entry(k.clone()).or_default().push(v);
        }
    }
    by.into_iter()
        .map(|(k, v)| merge_op(&k, &v).map(|o| (k, o)))
        .collect()
}

fn merge_series(series: &[&Vec<Point>], width_ms: u64) -> Result<Vec<Point>, MergeError> {
    let width = width_ms.max(1);
    let mut buckets: BTreeMap<u64, Vec<&Point>> = BTreeMap::new();
    for s in series {
        for p in s.iter() {
            buckets.entry(p.t_ms / width).or_default().push(p);
        }
    }
    let mut out = Vec::new();
    for (_, pts) in buckets {
        let h = sum_hist("timeseries", pts.iter().map(|p| &p.histogram))?;
        let t = pts.iter().map(|p| p.t_ms).min().unwrap_or(0);
        let dur = pts.iter().map(|p| p.dur_ms).max().unwrap_or(0);
        out.push(Point::from_parts(
            t,
            dur,
            pts.iter().map(|p| p.count).sum(),
            pts.iter().map(|p| p.errors).sum(),
            pts.iter().map(|p| p.bytes).sum(),
            &h,
        ));
    }
    while out.len() > report::MAX_POINTS {
        out = report::compact(&out);
    }
    Ok(out)
}

fn merge_server(items: &[&ServerReport]) -> ServerReport {
    let samples: u64 = items.iter().map(|s| s.samples).sum();
    let spread = |f: fn(&ServerReport) -> Option<Spread>| {
        let weighted: Vec<(Spread, u64)> = items
            .iter()
            .filter_map(|s| f(s).map(|v| (v, s.samples)))
            .collect();
        let n: u64 = weighted.iter().map(|(_, k)| k).sum();
        (n > 0).then(|| Spread {
            mean: weighted
                .iter()
                .map(|(v, k)| v.mean * *k as f64)
                .sum::<f64>()
                / n as f64,
            max: weighted.iter().map(|(v, _)| v.max).fold(f64::MIN, f64::max),
        })
    };
    let mut series: Vec<ServerPoint> = items
        .iter()
        .flat_map(|s| s.series.iter().copied())
        .collect();
    series.sort_by_key(|p| p.t_ms);
    while series.len() > report::MAX_POINTS {
        series = series.into_iter().step_by(2).collect();
    }
    ServerReport {
        samples,
        cpu_percent: spread(|s| s.cpu_percent),
        memory_used_bytes: spread(|s| s.memory_used_bytes),
        memory_total_bytes: items.iter().filter_map(|s| s.memory_total_bytes).max(),
        series,
        error: items.iter().find_map(|s| s.error.clone()),
    }
}

/// Combines workers' reports into one.
pub fn merge(reports: &[Report]) -> Result<Report, MergeError> {
    let first = reports.first().ok_or(MergeError::Empty)?;
    check_compatible(first, reports)?;
    let workers: Vec<WorkerInfo> = reports.iter().flat_map(|r| r.workers.clone()).collect();
    let begin = reports.iter().map(|r| r.start_unix_ms).min().unwrap_or(0);
    let end = reports
        .iter()
        .map(|r| r.start_unix_ms + (r.duration_s * 1000.0) as u64)
        .max()
        .unwrap_or(begin);
    let operations = merge_ops(reports.iter().map(|r| &r.operations))?;
    let targets = merge_targets(reports)?;
    let stages = merge_stages(first, reports)?;
    let mut final_status = BTreeMap::new();
    for r in reports {
        for (s, n) in &r.final_status {
            *final_status.entry(s.clone()).or_insert(0) += n;
        }
    }
    let mut server: BTreeMap<String, Vec<&ServerReport>> = BTreeMap::new();
    for r in reports {
        for (t, s) in &r.server {
            server.entry(t.clone()).or_default().push(s);
        }
    }
    let interval_s = reports.iter().map(|r| r.interval_s).fold(0.0, f64::max);
    let timeseries = merge_timeseries(reports, interval_s)?;
    let errors = report::error_summary(&operations);
    let generator = merge_generator(reports, errors.requests)?;
    let mut cleanup = report::CleanupStats::default();
    let mut transport: Option<crate::transport::TransportStats> = None;
    for r in reports {
        cleanup.merge(&r.cleanup);
        if let Some(t) = &r.transport {
            transport.get_or_insert_with(Default::default).merge(t);
        }
    }
    let earliest = reports
        .iter()
        .min_by_key(|r| r.start_unix_ms)
        .unwrap_or(first);
    Ok(Report {
        schema_version: first.schema_version,
        tool: first.tool.clone(),
        scenario: first.scenario.clone(),
        model: first.model.clone(),
        contract: first.contract.clone(),
        started_at: earliest.started_at.clone(),
        start_unix_ms: begin,
        duration_s: end.saturating_sub(begin) as f64 / 1000.0,
        interval_s,
        interrupted: reports.iter().any(|r| r.interrupted),
        workers,
        parameters: first.parameters.clone(),
        operations,
        targets,
        stages,
        errors,
        final_status,
        server: server
            .into_iter()
            .map(|(t, s)| (t, merge_server(&s)))
            .collect(),
        timeseries,
        generator,
        cleanup,
        transport,
        thresholds: Vec::new(),
    })
}

/// Refuses reports of different kinds of run, and a worker's report given
/// twice (its requests would count twice).
fn check_compatible(first: &Report, reports: &[Report]) -> Result<(), MergeError> {
    let mismatch = |m: String| Err(MergeError::Mismatch(m));
    let mut seen = BTreeSet::new();
    for r in reports {
        if r.schema_version != first.schema_version {
            return mismatch(format!(
                "schema versions differ ({} and {})",
                first.schema_version, r.schema_version
            ));
        }
        if r.scenario != first.scenario {
            return mismatch(format!(
                "the reports are of different scenarios ({} and {})",
                first.scenario, r.scenario
            ));
        }
        if let (Some(a), Some(b)) = (&first.contract, &r.contract)
            && a.wire != b.wire
        {
            return mismatch(format!(
                "the reports sent the messages of different contracts ({} and {})",
                a.wire, b.wire
            ));
        }
        if r.stages.len() != first.stages.len()
            || r.stages
                .iter()
                .zip(&first.stages)
                .any(|(a, b)| a.name != b.name)
        {
            return mismatch("the reports have different stages".into());
        }
        for w in &r.workers {
            if !seen.insert((w.index, w.count, w.start_unix_ms, w.host.clone())) {
                return mismatch(format!(
                    "worker {} of {} (host {:?}) appears twice: a report given twice would count its requests twice",
                    w.index, w.count, w.host
                ));
            }
        }
    }
    Ok(())
}

/// Per target, the operations of every report that loaded it.
fn merge_targets(reports: &[Report]) -> Result<BTreeMap<String, Group>, MergeError> {
    let mut targets: BTreeMap<String, Vec<&BTreeMap<String, OpReport>>> = BTreeMap::new();
    for r in reports {
        for (t, g) in &r.targets {
            targets.entry(t.clone()).or_default().push(&g.operations);
        }
    }
    targets
        .into_iter()
        .map(|(t, maps)| merge_ops(maps.into_iter()).map(|operations| (t, Group { operations })))
        .collect()
}

/// Stage by stage (the reports have the same stages): the operations added,
/// the longest duration.
fn merge_stages(first: &Report, reports: &[Report]) -> Result<Vec<StageReport>, MergeError> {
    (0..first.stages.len())
        .map(|i| {
            let s = &first.stages[i];
            let gen_lag = optional_sum(
                "generator lag",
                reports.iter().map(|r| &r.stages[i].generator_lag_histogram),
            )?;
            Ok(StageReport {
                name: s.name.clone(),
                load: s.load.clone(),
                duration_s: reports
                    .iter()
                    .map(|r| r.stages[i].duration_s)
                    .fold(0.0, f64::max),
                operations: merge_ops(reports.iter().map(|r| &r.stages[i].operations))?,
                generator_lag_ms: gen_lag.as_ref().map(Percentiles::of_micros),
                generator_lag_histogram: gen_lag.as_ref().map(stats::encode),
            })
        })
        .collect()
}

/// Per operation, the workers' time series aligned on intervals of
/// `interval_s` and added.
fn merge_timeseries(
    reports: &[Report],
    interval_s: f64,
) -> Result<BTreeMap<String, Vec<Point>>, MergeError> {
    let mut series: BTreeMap<String, Vec<&Vec<Point>>> = BTreeMap::new();
    for r in reports {
        for (op, pts) in &r.timeseries {
            series.entry(op.clone()).or_default().push(pts);
        }
    }
    series
        .into_iter()
        .map(|(op, s)| merge_series(&s, (interval_s * 1000.0).round() as u64).map(|p| (op, p)))
        .collect()
}

/// The sum of the histograms that are there (`None` when none is).
fn optional_sum<'a>(
    what: &str,
    texts: impl Iterator<Item = &'a Option<String>>,
) -> Result<Option<Histogram<u64>>, MergeError> {
    let present: Vec<&String> = texts.flatten().collect();
    if present.is_empty() {
        return Ok(None);
    }
    sum_hist(what, present.into_iter()).map(Some)
}

/// The generators' cost together; `requests` is the merged RPC count.
fn merge_generator(reports: &[Report], requests: u64) -> Result<GeneratorReport, MergeError> {
    let cpu: Option<f64> = reports
        .iter()
        .map(|r| r.generator.cpu_seconds)
        .sum::<Option<f64>>();
    let lag = optional_sum(
        "schedule lag",
        reports.iter().map(|r| &r.generator.schedule_lag_histogram),
    )?;
    let gen_lag = optional_sum(
        "generator lag",
        reports.iter().map(|r| &r.generator.generator_lag_histogram),
    )?;
    Ok(GeneratorReport {
        threads: reports.iter().map(|r| r.generator.threads).sum(),
        cpu_seconds: cpu,
        cpu_seconds_per_100k_requests: cpu
            .filter(|_| requests > 0)
            .map(|c| c / requests as f64 * 1e5),
        peak_rss_bytes: reports
            .iter()
            .filter_map(|r| r.generator.peak_rss_bytes)
            .max(),
        schedule_lag_ms: lag.as_ref().map(Percentiles::of_micros),
        schedule_lag_histogram: lag.as_ref().map(stats::encode),
        generator_lag_ms: gen_lag.as_ref().map(Percentiles::of_micros),
        generator_lag_histogram: gen_lag.as_ref().map(stats::encode),
        abandoned_in_flight: reports
            .iter()
            .map(|r| r.generator.abandoned_in_flight)
            .sum(),
    })
}
