//! The report of a capacity search (`joblet-loadgen capacity`): the figure
//! with its bracket, what the repeats at each rate showed, and every step's
//! figures (the measured stage of each probe, histograms included). The
//! JSON is the same schema file's `capacity` kind (`"kind": "capacity"`);
//! the table is printed after the search and the HTML page draws rate
//! against latency and errors ([`super::capacity_html`]).

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};

use super::{CleanupStats, ErrorSummary, OpReport, Percentiles, TargetParam, ThresholdResult};
use crate::plan::JobSpec;
use crate::transport::TransportStats;
use crate::units::{format_ms, format_rate, trim_float};

/// The value of `kind` in a capacity report.
pub const CAPACITY_KIND: &str = "capacity";

/// A capacity search, from its settings to its figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityReport {
    /// [`super::SCHEMA_VERSION`].
    pub schema_version: u32,
    /// [`CAPACITY_KIND`].
    pub kind: String,
    /// `joblet-loadgen VERSION`.
    pub tool: String,
    /// `submit`, `lifecycle` or `mix`.
    pub scenario: String,
    /// The targets' contract (detected or given) and the messages sent, as
    /// the first step found it; absent in reports of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<super::ContractReport>,
    /// Start of the search, RFC 3339.
    pub started_at: String,
    /// Start of the search, ms since the Unix epoch.
    pub start_unix_ms: u64,
    /// Wall time of the whole search.
    pub duration_s: f64,
    /// Whether Ctrl-C cut the search short.
    pub interrupted: bool,
    /// What was asked for.
    pub parameters: CapacityParameters,
    /// What the search found.
    pub result: CapacityResult,
    /// Per rate tried (in the order first tried): what its probes showed.
    pub rates: Vec<RateVerdict>,
    /// Every probe, in order.
    pub steps: Vec<Step>,
    /// The jobs of every step and what became of them.
    pub cleanup: CleanupStats,
    /// The connections of every step.
    pub transport: TransportStats,
}

/// The search's settings, for reading the report later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityParameters {
    /// The command line.
    pub command_line: String,
    /// The `--slo` rules as written.
    pub slo: Vec<String>,
    /// The same rules, read: what the table and the chart draw.
    pub slo_rules: Vec<SloRule>,
    /// First rate of the step-up (per second).
    pub start_rate: f64,
    /// Highest rate tried.
    pub max_rate: f64,
    /// Factor between step-up rates.
    pub growth: f64,
    /// The bracket's width at which the search stops (fraction of its floor).
    pub precision: f64,
    /// Measured length of each step.
    pub step_duration_s: f64,
    /// Warm-up at the step's rate before it is measured.
    pub warmup_s: f64,
    /// Probes near the boundary repeat until a majority of this many agree.
    pub confirm: u32,
    /// A step that fails while the generator lag p90 is above this says
    /// nothing of the node.
    pub max_generator_lag_ms: f64,
    /// Targets with their weights (empty: the embedded mock).
    pub targets: Vec<TargetParam>,
    /// Whether the search ran against the embedded mock.
    pub embedded_mock: bool,
    /// HTTP/2 connections per target.
    pub connections: u32,
    /// Most actions in flight.
    pub max_in_flight: u32,
    /// Weights of the actions at each rate.
    pub operations: BTreeMap<String, f64>,
    /// The job RunJob submits.
    pub job: JobSpec,
}

/// An SLO rule, read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloRule {
    /// The rule as written.
    pub rule: String,
    /// The operation it names (none: every RPC).
    pub operation: Option<String>,
    /// A latency limit, in ms (latency rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// An error-ratio limit (`errors` rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_ratio: Option<f64>,
}

/// What the search found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityResult {
    /// `found`, `below_start` (not even the first rate met the SLO),
    /// `above_max` (every rate up to the maximum did), `generator_limited`
    /// (the generator could not drive a rate the search needed) or
    /// `interrupted`.
    pub outcome: String,
    /// The capacity: the highest rate that met every SLO rule (confirmed).
    pub capacity_per_s: Option<f64>,
    /// Highest passing rate (the bracket's floor).
    pub highest_pass_per_s: Option<f64>,
    /// Lowest failing rate (the bracket's ceiling).
    pub lowest_fail_per_s: Option<f64>,
    /// The rate the generator could not drive.
    pub generator_limit_per_s: Option<f64>,
    /// The result in one sentence.
    pub summary: String,
}

/// What the probes at one rate showed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateVerdict {
    /// The rate (per second).
    pub rate_per_s: f64,
    /// `pass`, `fail` or `generator-limited`.
    pub verdict: String,
    /// Probes that passed.
    pub passes: u32,
    /// Probes that failed.
    pub fails: u32,
    /// Whether a majority of `confirm` probes decided the verdict.
    pub confirmed: bool,
}

/// One probe: a run at one rate, its measured stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// 1-based.
    pub index: u32,
    /// `step-up`, `bisect` or `confirm`.
    pub phase: String,
    /// The rate asked for (per second).
    pub rate_per_s: f64,
    /// `pass`, `fail` or `generator-limited`.
    pub verdict: String,
    /// Start of the step (ms since the epoch).
    pub start_unix_ms: u64,
    /// Length of the measured stage.
    pub duration_s: f64,
    /// Actions started per second in the measured stage.
    pub achieved_rate_per_s: f64,
    /// The measured stage's figures per operation.
    pub operations: BTreeMap<String, OpReport>,
    /// Errors over the measured stage's RPCs.
    pub errors: ErrorSummary,
    /// The SLO rules on the measured stage.
    pub slo: Vec<ThresholdResult>,
    /// The generator's own start lag in the measured stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_lag_ms: Option<Percentiles>,
    /// CPU seconds of the generator during the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_cpu_seconds: Option<f64>,
    /// The step's jobs and what became of them.
    pub cleanup: CleanupStats,
    /// Why the verdict is what it is, when not plain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The operations whose latency the table and chart show: those the SLO's
/// latency rules name, else the first of the steps'.
pub(super) fn shown_ops(r: &CapacityReport) -> Vec<String> {
    let mut ops: Vec<String> = Vec::new();
    for rule in &r.parameters.slo_rules {
        if let Some(op) = &rule.operation
            && rule.latency_ms.is_some()
            && !ops.contains(op)
        {
            ops.push(op.clone());
        }
    }
    if ops.is_empty()
        && let Some(first) = r.steps.first().and_then(|s| s.operations.keys().next())
    {
        ops.push(first.clone());
    }
    ops
}

/// The capacity search as text: the settings, one row per step, the
/// figure, the repeats, and the jobs.
pub fn render_table(r: &CapacityReport) -> String {
    let mut out = format!(
        "capacity search ({}, open model) against {}: SLO {}\n",
        r.scenario,
        targets(r),
        r.parameters.slo.join(", ")
    );
    if let Some(c) = &r.contract {
        out.push_str(&format!(
            "contract: {} ({}); {} messages sent\n",
            c.detected, c.how, c.wire
        ));
    }
    out.push('\n');
    let ops = shown_ops(r);
    let mut header = vec![
        "step".to_owned(),
        "phase".to_owned(),
        "rate".to_owned(),
        "achieved".to_owned(),
    ];
    header.extend(ops.iter().map(|o| format!("{o} p50 / p99 ms")));
    header.extend([
        "errors".to_owned(),
        "gen lag p90".to_owned(),
        "verdict".to_owned(),
    ]);
    let mut rows = Vec::new();
    for s in &r.steps {
        let mut row = vec![
            s.index.to_string(),
            s.phase.clone(),
            format_rate(s.rate_per_s),
            format_rate(s.achieved_rate_per_s),
        ];
        for o in &ops {
            row.push(match s.operations.get(o) {
                Some(op) if op.ok > 0 => format!(
                    "{} / {}",
                    format_ms(op.latency_ms.p50),
                    format_ms(op.latency_ms.p99)
                ),
                _ => "-".into(),
            });
        }
        row.push(format!("{}%", trim_float(s.errors.ratio * 100.0, 3)));
        row.push(
            s.generator_lag_ms
                .map_or("-".into(), |l| format!("{}ms", format_ms(l.p90))),
        );
        let failed: Vec<&str> = s
            .slo
            .iter()
            .filter(|t| !t.pass)
            .map(|t| t.rule.as_str())
            .collect();
        row.push(match (s.verdict.as_str(), failed.is_empty()) {
            ("fail", false) => format!("FAIL ({})", failed.join(", ")),
            ("fail", true) => "FAIL".into(),
            (v, _) => v.to_owned(),
        });
        rows.push(row);
    }
    out.push_str(&grid(&header, &rows));
    out.push('\n');
    let _ = writeln!(out, "{}", r.result.summary);
    let repeats: Vec<String> = r
        .rates
        .iter()
        .filter(|v| v.passes + v.fails > 1)
        .map(|v| {
            format!(
                "{} {} {} of {}",
                format_rate(v.rate_per_s),
                if v.verdict == "pass" {
                    "passed"
                } else {
                    "failed"
                },
                if v.verdict == "pass" {
                    v.passes
                } else {
                    v.fails
                },
                v.passes + v.fails
            )
        })
        .collect();
    if !repeats.is_empty() {
        let _ = writeln!(out, "repeats: {}", repeats.join("; "));
    }
    let c = &r.cleanup;
    let some = |n: u64, text: String| if n > 0 { text } else { String::new() };
    let _ = writeln!(
        out,
        "jobs over all steps: {} created, {} deleted{}{}{}",
        c.created,
        c.deleted + c.deleted_during_run,
        some(
            c.already_gone,
            format!(", {} already gone (the node dropped them)", c.already_gone)
        ),
        some(c.kept, format!(", {} kept (--keep-jobs)", c.kept)),
        some(c.failed, format!(", {} COULD NOT BE DELETED", c.failed)),
    );
    let t = &r.transport;
    let _ = writeln!(
        out,
        "connections over all steps: {} opened, {} GOAWAY received, {} streams sent again",
        t.connections_opened, t.goaways_received, t.streams_retried
    );
    out
}

fn targets(r: &CapacityReport) -> String {
    if r.parameters.embedded_mock {
        return "embedded mock".into();
    }
    r.parameters
        .targets
        .iter()
        .map(|t| t.addr.clone())
        .collect::<Vec<_>>()
        .join(", ")
}

fn grid(header: &[String], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            let pad = w - c.chars().count();
            if i == 0 || i == 1 || i + 1 == cells.len() {
                let _ = write!(l, "{c}{}  ", " ".repeat(pad));
            } else {
                let _ = write!(l, "{}{c}  ", " ".repeat(pad));
            }
        }
        l.trim_end().to_owned() + "\n"
    };
    let mut out = line(header);
    for r in rows {
        out.push_str(&line(r));
    }
    out
}
