//! The run's report: one serde structure written as JSON (`--json`, schema
//! `loadgen/schema/report.schema.json`), rendered as a table, as an HTML page
//! (`--html`) and checked by thresholds. Every histogram travels inside the
//! report (base64 of its compressed V2 serialization), so `merge` adds
//! workers' histograms and never averages percentiles.

pub mod capacity;
pub mod capacity_html;
pub(crate) mod hdrlog;
pub mod html;
pub mod json;
pub mod table;

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::plan::JobSpec;
use crate::stats::{self, Op, OpStats};
use crate::transport::{TransportStats, code_name};

/// Version of the report format (the schema's `schema_version`).
pub const SCHEMA_VERSION: u32 = 1;

/// A whole run (or several merged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `joblet-loadgen VERSION`.
    pub tool: String,
    /// `submit`, `lifecycle`, `logs` or `mix`.
    pub scenario: String,
    /// `open`, `closed` or `mixed`.
    pub model: String,
    /// The contract the targets speak and the messages the run sent;
    /// absent in reports of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<ContractReport>,
    /// Start of the load, RFC 3339 (the earliest worker's after a merge).
    pub started_at: String,
    /// Start of the load, milliseconds since the Unix epoch.
    pub start_unix_ms: u64,
    /// Wall time of the load, from the first start to the last completion.
    pub duration_s: f64,
    /// Length of the time-series and HDR-log intervals.
    pub interval_s: f64,
    /// Whether Ctrl-C cut the run short.
    pub interrupted: bool,
    /// The worker processes this report covers.
    pub workers: Vec<WorkerInfo>,
    /// What was asked for.
    pub parameters: Parameters,
    /// Per operation, over every target and stage.
    pub operations: BTreeMap<String, OpReport>,
    /// Per target (`HOST:PORT`), per operation.
    pub targets: BTreeMap<String, Group>,
    /// Per stage, per operation.
    pub stages: Vec<StageReport>,
    /// Errors over every RPC.
    pub errors: ErrorSummary,
    /// Final statuses of the jobs followed (lifecycle).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub final_status: BTreeMap<String, u64>,
    /// What each target's StreamSystemMetrics said during the run.
    pub server: BTreeMap<String, ServerReport>,
    /// Per operation, one point per interval.
    pub timeseries: BTreeMap<String, Vec<Point>>,
    /// The generator's own cost.
    pub generator: GeneratorReport,
    /// The jobs the run created and what became of them.
    pub cleanup: CleanupStats,
    /// What the generator's HTTP/2 connections went through (reconnections,
    /// GOAWAYs, streams sent again); absent in reports of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<TransportStats>,
    /// `--threshold` rules and their verdicts.
    pub thresholds: Vec<ThresholdResult>,
}

/// The contract of a run's targets: detected (or given with `--contract`),
/// how, and the messages sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractReport {
    /// `v1.0.6`, `v2.5.9` or `both`.
    pub detected: String,
    /// How that was decided, per target when there are several.
    pub how: String,
    /// The messages the run sent: `v1` (v1.0.6) or `v2` (v2.5.9).
    pub wire: String,
}

/// One worker process of a (possibly distributed) run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerInfo {
    /// `--worker-index`.
    pub index: u32,
    /// `--worker-count`.
    pub count: u32,
    /// Host name of the machine.
    pub host: String,
    /// Start of its load (ms since the epoch).
    pub start_unix_ms: u64,
    /// Its load's wall time.
    pub duration_s: f64,
}

/// The run's parameters, for reading a report later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parameters {
    /// The command line.
    pub command_line: String,
    /// Targets with their weights (empty: the embedded mock).
    pub targets: Vec<TargetParam>,
    /// Whether the run used the embedded mock.
    pub embedded_mock: bool,
    /// HTTP/2 connections per target (per worker process).
    pub connections: u32,
    /// Generator threads (per worker process).
    pub threads: u32,
    /// Most actions in flight under a rate (per worker process).
    pub max_in_flight: u32,
    /// The stages.
    pub stages: Vec<StageParam>,
    /// `--requests` (the whole run's, before splitting among workers).
    pub requests: Option<u64>,
    /// Weights of the actions (`RunJob`, `lifecycle`, `logs`).
    pub operations: BTreeMap<String, f64>,
    /// The job RunJob submits.
    pub job: JobSpec,
    /// Bytes each log job writes (`logs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_bytes: Option<u64>,
    /// How lifecycle follows jobs (`logs` or `poll 100ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow: Option<String>,
    /// Readers of each telemetry stream of each job (`metrics`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub followers: Option<u32>,
    /// Whether StreamJobTelematics was followed too (`metrics`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telematics: Option<bool>,
    /// Deadline of unary calls.
    pub timeout_s: f64,
}

/// A target as given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetParam {
    /// `HOST:PORT`.
    pub addr: String,
    /// Its share of the load.
    pub weight: u32,
    /// TLS (mutual or server-only) or plaintext.
    pub tls: bool,
}

/// A stage as planned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageParam {
    /// Its name.
    pub name: String,
    /// Requests per second (open model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Requests in flight (closed model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// Its length (none: until `--requests`).
    pub duration_s: Option<f64>,
    /// Length of the ramp from the previous level.
    pub ramp_s: f64,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest.
    pub max: f64,
    /// Smallest.
    pub min: f64,
    /// Mean.
    pub mean: f64,
}

impl Percentiles {
    /// The percentiles of a histogram of microseconds, in milliseconds.
    pub fn of_micros(h: &Histogram<u64>) -> Self {
        Self::scaled(h, 1e-3)
    }

    fn scaled(h: &Histogram<u64>, k: f64) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let q = |q: f64| h.value_at_quantile(q) as f64 * k;
        Self {
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            p999: q(0.999),
            max: h.max() as f64 * k,
            min: h.min() as f64 * k,
            mean: h.mean() * k,
        }
    }
}

/// The spread of per-stream throughput in MB/s (low percentiles matter).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RateSpread {
    /// Slowest stream.
    pub min: f64,
    /// 10th percentile.
    pub p10: f64,
    /// Median.
    pub p50: f64,
    /// Mean.
    pub mean: f64,
    /// Fastest stream.
    pub max: f64,
}

impl RateSpread {
    /// From a histogram of KB/s.
    pub(crate) fn of_kbps(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let k = 1e-3;
        Self {
            min: h.min() as f64 * k,
            p10: h.value_at_quantile(0.1) as f64 * k,
            p50: h.value_at_quantile(0.5) as f64 * k,
            mean: h.mean() * k,
            max: h.max() as f64 * k,
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One operation's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpReport {
    /// What the latency measures.
    pub description: String,
    /// Calls completed (OK or failed).
    pub count: u64,
    /// Calls that ended OK.
    pub ok: u64,
    /// Calls that failed.
    pub errors: u64,
    /// Draws of the operation not sent because the run had no job in the
    /// state it needs (not counted in `count`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped: u64,
    /// StopJob calls on a job that had ended since the run saw it running
    /// (FAILED_PRECONDITION confirmed by GetJobStatus; not in `count`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub raced: u64,
    /// Failures by gRPC code (`UNAVAILABLE`).
    pub errors_by_code: BTreeMap<String, u64>,
    /// The first message seen for each failing code.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub error_examples: BTreeMap<String, String>,
    /// Completed calls per second of the run (summed over workers).
    pub rate_per_s: f64,
    /// Latency of OK calls; under a rate, from the intended start
    /// (corrected for coordinated omission).
    pub latency_ms: Percentiles,
    /// Latency of OK calls from the actual send (open or mixed model only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_uncorrected_ms: Option<Percentiles>,
    /// `latency_ms`'s histogram (µs), base64 of the V2 compressed encoding.
    pub histogram: String,
    /// `latency_uncorrected_ms`'s histogram.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram_uncorrected: Option<String>,
    /// Payload bytes received (log streams).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Payload bytes per second, all streams together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_per_s: Option<f64>,
    /// `DataChunk` messages received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks: Option<u64>,
    /// Chunks per second, all streams together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks_per_s: Option<f64>,
    /// Streams that delivered data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streams: Option<u64>,
    /// Time from the request to the first log byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttfb_ms: Option<Percentiles>,
    /// `ttfb_ms`'s histogram (µs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttfb_histogram: Option<String>,
    /// Time between consecutive chunks of a stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_gap_ms: Option<Percentiles>,
    /// `chunk_gap_ms`'s histogram (µs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_gap_histogram: Option<String>,
    /// Each stream's own MB/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_mbps: Option<RateSpread>,
    /// `stream_mbps`'s histogram (KB/s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_kbps_histogram: Option<String>,
    /// Telemetry streams: events that were history when the stream began
    /// (in `chunks`, not in `event_delay_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_events: Option<u64>,
    /// Telemetry streams: the delay from each live event's own timestamp to
    /// its arrival (the node's clock against the generator's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_delay_ms: Option<Percentiles>,
    /// `event_delay_ms`'s histogram (µs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_delay_histogram: Option<String>,
}

impl OpReport {
    /// The report of `stats` over `secs` seconds; `uncorrected` adds the
    /// uncorrected latency (open or mixed model).
    pub(crate) fn from_stats(op: Op, stats: &OpStats, secs: f64, uncorrected: bool) -> Self {
        let per_s = |v: f64| if secs > 0.0 { v / secs } else { 0.0 };
        let telemetry = matches!(op, Op::Metrics | Op::Telematics);
        // A streaming operation has stream figures even when none of its
        // draws was sent (all skipped in a stage: no job to read).
        let none = stats::StreamStats::default();
        let stream = stats
            .stream
            .as_ref()
            .or_else(|| (telemetry || op == Op::Logs).then_some(&none));
        let delay = stream.and_then(|s| s.delay.as_ref());
        Self {
            description: op.describes().into(),
            count: stats.count(),
            ok: stats.ok,
            errors: stats.error_count(),
            skipped: stats.skipped,
            raced: stats.raced,
            errors_by_code: stats
                .errors_by_code()
                .map(|(c, n)| (code_name(c).to_owned(), n))
                .collect(),
            error_examples: stats
                .error_examples
                .iter()
                .map(|(c, m)| {
                    (
                        code_name(crate::transport::Code::from_i32(*c)).to_owned(),
                        m.clone(),
                    )
                })
                .collect(),
            rate_per_s: per_s(stats.count() as f64),
            latency_ms: Percentiles::of_micros(&stats.latency),
            latency_uncorrected_ms: uncorrected.then(|| Percentiles::of_micros(&stats.uncorrected)),
            histogram: stats::encode(&stats.latency),
            histogram_uncorrected: uncorrected.then(|| stats::encode(&stats.uncorrected)),
            bytes: stream.map(|s| s.bytes),
            bytes_per_s: stream.map(|s| per_s(s.bytes as f64)),
            chunks: stream.map(|s| s.chunks),
            chunks_per_s: stream.map(|s| per_s(s.chunks as f64)),
            streams: stream.map(|s| s.streams),
            ttfb_ms: stream.map(|s| Percentiles::of_micros(&s.ttfb)),
            ttfb_histogram: stream.map(|s| stats::encode(&s.ttfb)),
            chunk_gap_ms: stream.map(|s| Percentiles::of_micros(&s.gaps)),
            chunk_gap_histogram: stream.map(|s| stats::encode(&s.gaps)),
            stream_mbps: stream.map(|s| RateSpread::of_kbps(&s.stream_kbps)),
            stream_kbps_histogram: stream.map(|s| stats::encode(&s.stream_kbps)),
            history_events: telemetry.then(|| stream.map_or(0, |s| s.history)),
            event_delay_ms: telemetry
                .then(|| delay.map(Percentiles::of_micros).unwrap_or_default()),
            event_delay_histogram: telemetry
                .then(|| delay.map_or_else(|| stats::encode(&stats::histogram()), stats::encode)),
        }
    }

    /// MB/s (10^6 bytes) of the streams, when the operation streams.
    pub(crate) fn mbps(&self) -> Option<f64> {
        self.bytes_per_s.map(|b| b / 1e6)
    }
}

/// Figures of one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// Per operation.
    pub operations: BTreeMap<String, OpReport>,
}

/// Figures of one stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageReport {
    /// The stage's name.
    pub name: String,
    /// Its load (`rate 100/s`, `concurrency 16`).
    pub load: String,
    /// Its actual length (the run may end or be stopped early).
    pub duration_s: f64,
    /// Per operation.
    pub operations: BTreeMap<String, OpReport>,
    /// How late actions started while the generator had free workers (its
    /// own lateness; open model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_lag_ms: Option<Percentiles>,
    /// `generator_lag_ms`'s histogram (µs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_lag_histogram: Option<String>,
}

/// Errors over every RPC (lifecycle milestones are not RPCs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorSummary {
    /// RPCs completed.
    pub requests: u64,
    /// RPCs that failed.
    pub errors: u64,
    /// `errors / requests` (0 without requests).
    pub ratio: f64,
}

/// A target's own figures during the run (StreamSystemMetrics).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerReport {
    /// Samples received.
    pub samples: u64,
    /// Host CPU usage in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<Spread>,
    /// Host memory used, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_used_bytes: Option<Spread>,
    /// Host memory in all, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_total_bytes: Option<u64>,
    /// One sample per point.
    pub series: Vec<ServerPoint>,
    /// Why metrics are missing or ended early.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Mean and maximum of a server figure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Mean over the samples.
    pub mean: f64,
    /// Largest sample.
    pub max: f64,
}

/// One server sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ServerPoint {
    /// When it was received (ms since the epoch).
    pub t_ms: u64,
    /// CPU usage in percent.
    pub cpu_percent: f64,
    /// Memory used, bytes.
    pub memory_used_bytes: u64,
}

/// One interval of an operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Start of the interval (ms since the epoch).
    pub t_ms: u64,
    /// Its length in ms.
    pub dur_ms: u64,
    /// Calls completed in it.
    pub count: u64,
    /// Of which failed.
    pub errors: u64,
    /// Stream bytes received in it.
    pub bytes: u64,
    /// Median latency of its OK calls.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
    /// Its latency histogram (µs), for exact merging.
    pub histogram: String,
}

impl Point {
    /// A point from an interval's statistics.
    pub(crate) fn new(t_ms: u64, dur_ms: u64, stats: &OpStats) -> Self {
        Self::from_parts(
            t_ms,
            dur_ms,
            stats.count(),
            stats.error_count(),
            stats.stream.as_ref().map_or(0, |s| s.bytes),
            &stats.latency,
        )
    }

    /// A point from its counts and histogram.
    pub(crate) fn from_parts(
        t_ms: u64,
        dur_ms: u64,
        count: u64,
        errors: u64,
        bytes: u64,
        h: &Histogram<u64>,
    ) -> Self {
        let p = Percentiles::of_micros(h);
        Self {
            t_ms,
            dur_ms,
            count,
            errors,
            bytes,
            p50_ms: p.p50,
            p99_ms: p.p99,
            max_ms: p.max,
            histogram: stats::encode(h),
        }
    }
}

/// Points kept per operation; beyond, neighbours are merged in pairs.
pub(crate) const MAX_POINTS: usize = 600;

/// Halves a series by merging neighbouring points (exactly: histograms added).
pub(crate) fn compact(points: &[Point]) -> Vec<Point> {
    points
        .chunks(2)
        .map(|pair| {
            if pair.len() == 1 {
                return pair[0].clone();
            }
            let mut h = stats::histogram();
            let mut count = 0;
            let mut errors = 0;
            let mut bytes = 0;
            for p in pair {
                if let Ok(x) = stats::decode(&p.histogram) {
                    stats::add(&mut h, &x);
                }
                count += p.count;
                errors += p.errors;
                bytes += p.bytes;
            }
            let dur = (pair[1].t_ms + pair[1].dur_ms).saturating_sub(pair[0].t_ms);
            Point::from_parts(pair[0].t_ms, dur, count, errors, bytes, &h)
        })
        .collect()
}

/// The generator's own cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratorReport {
    /// Generator threads.
    pub threads: u32,
    /// CPU time of the generator threads and the collector during the load
    /// (Linux; summed over workers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_seconds: Option<f64>,
    /// `cpu_seconds` per 100 000 RPCs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_seconds_per_100k_requests: Option<f64>,
    /// Peak resident memory of the process (largest over workers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_bytes: Option<u64>,
    /// How late actions started after their intended start (open model): a
    /// large lag means the generator, not the server, was short of capacity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_lag_ms: Option<Percentiles>,
    /// `schedule_lag_ms`'s histogram (µs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_lag_histogram: Option<String>,
    /// The part of the start lag the generator caused: lateness while it
    /// had free workers (a slow node keeps every worker busy; this does
    /// not count that). Large: the generator could not drive the rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_lag_ms: Option<Percentiles>,
    /// `generator_lag_ms`'s histogram (µs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_lag_histogram: Option<String>,
    /// Actions still in flight when `--drain-timeout` ran out (cancelled).
    pub abandoned_in_flight: u64,
}

/// What became of the jobs the run created (its cleanup).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupStats {
    /// Jobs the run created.
    pub created: u64,
    /// Jobs deleted at the end.
    pub deleted: u64,
    /// Jobs deleted during the run because the tracking cap was reached.
    pub deleted_during_run: u64,
    /// Jobs that were already gone (deleted by a DeleteJob of the plan).
    pub already_gone: u64,
    /// Jobs that were still running and were stopped before deletion.
    pub stopped: u64,
    /// Jobs that could not be deleted.
    pub failed: u64,
    /// Jobs left on purpose (`--keep-jobs`).
    pub kept: u64,
}

impl CleanupStats {
    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &CleanupStats) {
        self.created += other.created;
        self.deleted += other.deleted;
        self.deleted_during_run += other.deleted_during_run;
        self.already_gone += other.already_gone;
        self.stopped += other.stopped;
        self.failed += other.failed;
        self.kept += other.kept;
    }
}

/// The verdict of one `--threshold` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// The rule as written.
    pub rule: String,
    /// The measured value (none when there was nothing to measure).
    pub value: Option<f64>,
    /// Whether the rule holds.
    pub pass: bool,
    /// A readable explanation.
    pub detail: String,
}

/// The operations that are RPCs (and count towards the error ratio).
pub(crate) fn is_rpc(op: &str) -> bool {
    !matches!(op, "running" | "final")
}

/// The error summary over a report's RPC operations.
pub(crate) fn error_summary(operations: &BTreeMap<String, OpReport>) -> ErrorSummary {
    let (requests, errors) = operations
        .iter()
        .filter(|(name, _)| is_rpc(name))
        .fold((0, 0), |(r, e), (_, o)| (r + o.count, e + o.errors));
    ErrorSummary {
        requests,
        errors,
        ratio: if requests > 0 {
            errors as f64 / requests as f64
        } else {
            0.0
        },
    }
}

/// Operations in the order tables show them.
pub(crate) fn ordered(ops: &BTreeMap<String, OpReport>) -> Vec<(&str, &OpReport)> {
    let mut out: Vec<(&str, &OpReport)> = ops.iter().map(|(k, v)| (k.as_str(), v)).collect();
    out.sort_by_key(|(name, _)| Op::from_name(name).map_or(usize::MAX, |o| o as usize));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stage whose every GetJobLogs or StreamJobMetrics draw was skipped
    /// (no job yet) still reports the stream figures the schema requires.
    #[test]
    fn streaming_operations_have_stream_figures_even_when_all_draws_were_skipped() {
        let stats = OpStats {
            skipped: 3,
            ..OpStats::default()
        };
        for op in [Op::Logs, Op::Metrics, Op::Telematics] {
            let r = OpReport::from_stats(op, &stats, 1.0, true);
            assert_eq!((r.count, r.skipped), (0, 3));
            assert_eq!(
                (r.chunks, r.streams, r.bytes),
                (Some(0), Some(0), Some(0)),
                "{op:?}"
            );
            assert!(r.ttfb_ms.is_some() && r.chunk_gap_ms.is_some(), "{op:?}");
            let telemetry = op != Op::Logs;
            assert_eq!(r.history_events.is_some(), telemetry, "{op:?}");
            assert_eq!(r.event_delay_histogram.is_some(), telemetry, "{op:?}");
        }
        let submit = OpReport::from_stats(Op::Submit, &stats, 1.0, true);
        assert_eq!((submit.chunks, submit.ttfb_ms), (None, None));
    }
}
