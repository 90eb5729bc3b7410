//! `--threshold` rules for CI gating: `[OP.]METRIC CMP VALUE[UNIT]`.
//!
//! | Metric | Operation | Value |
//! |---|---|---|
//! | `p50` `p90` `p99` `p999` `max` `min` `mean` | required | latency: `us`, `ms` (default), `s`, `m`, `h` |
//! | `ttfb_p50` `ttfb_p99` `ttfb_max`, `gap_p99` `gap_max` | a streaming one (`logs`, `metrics`, `telematics`) | latency |
//! | `mbps` | `logs` | MB/s (10^6 bytes) of all streams together |
//! | `events` | `metrics`, `telematics` | events per second, all streams together, `/s` optional |
//! | `delay_p50` `delay_p99` `delay_max` (any statistic) | `metrics`, `telematics` | latency from an event's timestamp to its arrival |
//! | `rate` | optional (all RPCs) | completed per second, `/s` optional |
//! | `errors` | optional (all RPCs) | error ratio: `0.1%` or `0.001` |
//! | `count` | optional (all RPCs) | completed calls |
//!
//! `CMP` is `<`, `<=`, `>`, `>=`. A rule that names an unknown metric or
//! operation, or an operation the run does not perform, is an error before
//! the run starts; a rule whose operation completed no call fails.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::report::{OpReport, Percentiles, Report, ThresholdResult, error_summary};
use crate::stats::Op;

/// A statistic of a histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    /// Median.
    P50,
    /// 90th percentile.
    P90,
    /// 99th percentile.
    P99,
    /// 99.9th percentile.
    P999,
    /// Largest.
    Max,
    /// Smallest.
    Min,
    /// Mean.
    Mean,
}

impl Stat {
    fn parse(s: &str) -> Option<Stat> {
        Some(match s {
            "p50" => Stat::P50,
            "p90" => Stat::P90,
            "p99" => Stat::P99,
            "p999" | "p99.9" => Stat::P999,
            "max" => Stat::Max,
            "min" => Stat::Min,
            "mean" => Stat::Mean,
            _ => return None,
        })
    }

    fn of(self, p: &Percentiles) -> f64 {
        match self {
            Stat::P50 => p.p50,
            Stat::P90 => p.p90,
            Stat::P99 => p.p99,
            Stat::P999 => p.p999,
            Stat::Max => p.max,
            Stat::Min => p.min,
            Stat::Mean => p.mean,
        }
    }
}

/// What a rule measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Latency of OK calls (ms).
    Latency(Stat),
    /// Time to first byte of streams (ms).
    Ttfb(Stat),
    /// Gap between chunks (ms).
    Gap(Stat),
    /// MB/s of all streams.
    Mbps,
    /// Telemetry events per second, all streams.
    Events,
    /// Delay from a telemetry event's timestamp to its arrival (ms).
    Delay(Stat),
    /// Completed calls per second.
    Rate,
    /// Error ratio (0..1).
    Errors,
    /// Completed calls.
    Count,
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Cmp {
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
        }
    }
}

impl fmt::Display for Cmp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        })
    }
}

/// A parsed rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The rule as written.
    pub rule: String,
    /// The operation (`None`: every RPC).
    pub op: Option<Op>,
    /// What is measured.
    pub metric: Metric,
    /// How it compares.
    pub cmp: Cmp,
    /// The limit, in the metric's unit (ms, MB/s, per second, ratio, count).
    pub value: f64,
}

/// A rule that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--threshold {rule:?}: {reason}")]
pub struct ThresholdError {
    /// The rule.
    pub rule: String,
    /// Why.
    pub reason: String,
}

const METRICS: &str = "p50 p90 p99 p999 max min mean ttfb_p50 ttfb_p99 ttfb_max gap_p99 gap_max mbps events delay_p50 delay_p99 delay_max rate errors count";

fn op_names() -> String {
    Op::ALL
        .iter()
        .map(|o| o.name())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses a rule.
pub fn parse(rule: &str) -> Result<Threshold, ThresholdError> {
    let fail = |reason: String| ThresholdError {
        rule: rule.to_owned(),
        reason,
    };
    let text: String = rule.chars().filter(|c| !c.is_whitespace()).collect();
    let (at, cmp, len) = [
        ("<=", Cmp::Le),
        (">=", Cmp::Ge),
        ("<", Cmp::Lt),
        (">", Cmp::Gt),
    ]
    .iter()
    .filter_map(|(s, c)| text.find(s).map(|i| (i, *c, s.len())))
    .min_by_key(|(i, _, len)| (*i, usize::MAX - len))
    .ok_or_else(|| {
        fail("no comparison: write e.g. submit.p99<50ms, errors<0.1%, logs.mbps>500".into())
    })?;
    let (name, value) = (&text[..at], &text[at + len..]);
    let (op, metric_name) = match name.rsplit_once('.') {
        Some((op, m)) => {
            let o = Op::from_name(op).ok_or_else(|| {
                fail(format!(
                    "unknown operation {op:?} (operations: {})",
                    op_names()
                ))
            })?;
            (Some(o), m)
        }
        None => (None, name),
    };
    let metric = match metric_name {
        "mbps" => Metric::Mbps,
        "events" => Metric::Events,
        "rate" => Metric::Rate,
        "errors" => Metric::Errors,
        "count" => Metric::Count,
        m => {
            if let Some(s) = Stat::parse(m) {
                Metric::Latency(s)
            } else if let Some(s) = m.strip_prefix("ttfb_").and_then(Stat::parse) {
                Metric::Ttfb(s)
            } else if let Some(s) = m.strip_prefix("gap_").and_then(Stat::parse) {
                Metric::Gap(s)
            } else if let Some(s) = m.strip_prefix("delay_").and_then(Stat::parse) {
                Metric::Delay(s)
            } else {
                return Err(fail(format!("unknown metric {m:?} (metrics: {METRICS})")));
            }
        }
    };
    if op.is_none()
        && matches!(
            metric,
            Metric::Latency(_)
                | Metric::Ttfb(_)
                | Metric::Gap(_)
                | Metric::Mbps
                | Metric::Events
                | Metric::Delay(_)
        )
    {
        return Err(fail(format!(
            "say which operation, e.g. submit.{metric_name} (operations: {})",
            op_names()
        )));
    }
    let split = value
        .find(|c: char| {
            !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')
        })
        .unwrap_or(value.len());
    let (num, unit) = value.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| fail(format!("{value:?} is not a number with an optional unit")))?;
    if !n.is_finite() || n < 0.0 {
        return Err(fail("the limit must be a number >= 0".into()));
    }
    let unit_err = |allowed: &str| {
        fail(format!(
            "unit {unit:?} does not fit {metric_name} (use {allowed})"
        ))
    };
    let value = match metric {
        Metric::Latency(_) | Metric::Ttfb(_) | Metric::Gap(_) | Metric::Delay(_) => match unit {
            "" | "ms" => n,
            "us" | "µs" => n / 1e3,
            "s" => n * 1e3,
            "m" | "min" => n * 60e3,
            "h" => n * 3600e3,
            _ => return Err(unit_err("us, ms, s, m or h")),
        },
        Metric::Mbps => match unit {
            "" | "MB/s" | "mbps" => n,
            "GB/s" => n * 1e3,
            _ => return Err(unit_err("MB/s or GB/s")),
        },
        Metric::Rate | Metric::Events => match unit {
            "" | "/s" => n,
            _ => return Err(unit_err("/s")),
        },
        Metric::Errors => match unit {
            "%" => n / 100.0,
            "" if n <= 1.0 => n,
            "" => {
                return Err(fail(
                    "an error ratio is at most 1: write 0.1% or 0.001".into(),
                ));
            }
            _ => return Err(unit_err("% or a ratio")),
        },
        Metric::Count => match unit {
            "" => n,
            _ => return Err(unit_err("no unit")),
        },
    };
    Ok(Threshold {
        rule: rule.trim().to_owned(),
        op,
        metric,
        cmp,
        value,
    })
}

/// Checks that the rules fit a run producing `ops`.
pub fn check(rules: &[Threshold], ops: &BTreeSet<Op>) -> Result<(), ThresholdError> {
    let names = || ops.iter().map(|o| o.name()).collect::<Vec<_>>().join(" ");
    for r in rules {
        let fail = |reason: String| ThresholdError {
            rule: r.rule.clone(),
            reason,
        };
        if let Some(op) = r.op {
            if !ops.contains(&op) {
                return Err(fail(format!(
                    "this run has no {} operation (it has: {})",
                    op.name(),
                    names()
                )));
            }
            let telemetry = matches!(op, Op::Metrics | Op::Telematics);
            if matches!(r.metric, Metric::Ttfb(_) | Metric::Gap(_)) && op != Op::Logs && !telemetry
            {
                return Err(fail(format!(
                    "{} does not stream: ttfb_* and gap_* apply to logs, metrics and telematics",
                    op.name()
                )));
            }
            if r.metric == Metric::Mbps && op != Op::Logs {
                return Err(fail(format!("mbps applies to logs, not {}", op.name())));
            }
            if matches!(r.metric, Metric::Events | Metric::Delay(_)) && !telemetry {
                return Err(fail(format!(
                    "events and delay_* apply to metrics and telematics, not {}",
                    op.name()
                )));
            }
        }
    }
    Ok(())
}

fn measure(t: &Threshold, operations: &BTreeMap<String, OpReport>) -> Result<f64, String> {
    let Some(op) = t.op else {
        let summary = error_summary(operations);
        if summary.requests == 0 {
            return Err("no RPC completed".into());
        }
        return Ok(match t.metric {
            Metric::Errors => summary.ratio,
            Metric::Count => summary.requests as f64,
            Metric::Rate => operations
                .iter()
                .filter(|(n, _)| crate::report::is_rpc(n))
                .map(|(_, o)| o.rate_per_s)
                .sum(),
            _ => return Err("needs an operation".into()),
        });
    };
    let o: &OpReport = operations
        .get(op.name())
        .filter(|o| o.count > 0)
        .ok_or_else(|| format!("no {} call completed", op.name()))?;
    let needs_ok = || {
        if o.ok == 0 {
            Err(format!("no {} call succeeded", op.name()))
        } else {
            Ok(())
        }
    };
    Ok(match t.metric {
        Metric::Latency(s) => {
            needs_ok()?;
            s.of(&o.latency_ms)
        }
        Metric::Ttfb(s) => s.of(o.ttfb_ms.as_ref().ok_or("no stream figures")?),
        Metric::Gap(s) => s.of(o.chunk_gap_ms.as_ref().ok_or("no stream figures")?),
        Metric::Mbps => o.mbps().ok_or("no stream figures")?,
        Metric::Events => o.chunks_per_s.ok_or("no stream figures")?,
        Metric::Delay(s) => {
            let none = || format!("no live {} event arrived", op.name());
            match &o.event_delay_ms {
                Some(p) if o.chunks.unwrap_or(0) > o.history_events.unwrap_or(0) => s.of(p),
                _ => return Err(none()),
            }
        }
        Metric::Rate => o.rate_per_s,
        Metric::Errors => o.errors as f64 / o.count as f64,
        Metric::Count => o.count as f64,
    })
}

fn show(metric: Metric, v: f64) -> String {
    match metric {
        Metric::Latency(_) | Metric::Ttfb(_) | Metric::Gap(_) | Metric::Delay(_) => {
            format!("{}ms", crate::units::format_ms(v))
        }
        Metric::Events => format!("{v:.1} events/s"),
        Metric::Mbps => format!("{v:.1} MB/s"),
        Metric::Rate => format!("{v:.1}/s"),
        Metric::Errors => format!("{}%", crate::units::trim_float(v * 100.0, 4)),
        Metric::Count => format!("{v:.0}"),
    }
}

/// The verdict of each rule on `report`.
pub fn evaluate(rules: &[Threshold], report: &Report) -> Vec<ThresholdResult> {
    evaluate_ops(rules, &report.operations)
}

/// The verdict of each rule on these operations' figures (a run's, or one
/// stage's).
pub fn evaluate_ops(
    rules: &[Threshold],
    operations: &BTreeMap<String, OpReport>,
) -> Vec<ThresholdResult> {
    rules
        .iter()
        .map(|t| match measure(t, operations) {
            Ok(v) => {
                let pass = t.cmp.holds(v, t.value);
                ThresholdResult {
                    rule: t.rule.clone(),
                    value: Some(v),
                    pass,
                    detail: format!(
                        "measured {}, limit {} {}",
                        show(t.metric, v),
                        t.cmp,
                        show(t.metric, t.value)
                    ),
                }
            }
            Err(why) => ThresholdResult {
                rule: t.rule.clone(),
                value: None,
                pass: false,
                detail: why,
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_issue_examples_parse() {
        let t = parse("submit.p99<50ms").unwrap();
        assert_eq!(
            (t.op, t.metric, t.cmp, t.value),
            (Some(Op::Submit), Metric::Latency(Stat::P99), Cmp::Lt, 50.0)
        );
        let t = parse("errors<0.1%").unwrap();
        assert_eq!((t.op, t.metric, t.value), (None, Metric::Errors, 0.001));
        let t = parse("logs.mbps>500").unwrap();
        assert_eq!(
            (t.op, t.metric, t.cmp, t.value),
            (Some(Op::Logs), Metric::Mbps, Cmp::Gt, 500.0)
        );
        assert_eq!(parse("final.p999 <= 2s").unwrap().value, 2000.0);
        assert_eq!(
            parse("logs.ttfb_p99<250us").unwrap().metric,
            Metric::Ttfb(Stat::P99)
        );
        assert_eq!(parse("rate>=1000/s").unwrap().cmp, Cmp::Ge);
        assert_eq!(parse("logs.mbps>1.5GB/s").unwrap().value, 1500.0);
    }

    #[test]
    fn unknown_metrics_and_operations_are_errors() {
        for (rule, want) in [
            ("submit.p98<5ms", "unknown metric"),
            ("sumbit.p99<5ms", "unknown operation"),
            ("p99<5ms", "say which operation"),
            ("submit.p99 5ms", "no comparison"),
            ("submit.p99<fast", "not a number"),
            ("submit.p99<5parsecs", "unit"),
            ("errors<5", "at most 1"),
            ("submit.mbps>1kg", "unit"),
        ] {
            let err = parse(rule).unwrap_err().to_string();
            assert!(err.contains(want), "{rule}: {err}");
        }
    }

    #[test]
    fn rules_must_fit_the_run() {
        let ops: BTreeSet<Op> = [Op::Submit].into();
        assert!(check(&[parse("submit.p99<5ms").unwrap()], &ops).is_ok());
        let e = check(&[parse("logs.mbps>5").unwrap()], &ops).unwrap_err();
        assert!(e.reason.contains("no logs operation"), "{e}");
        let ops: BTreeSet<Op> = [Op::Submit, Op::Logs].into();
        let e = check(&[parse("submit.mbps>5").unwrap()], &ops).unwrap_err();
        assert!(e.reason.contains("mbps applies to logs"), "{e}");
        let e = check(&[parse("submit.ttfb_p50<5ms").unwrap()], &ops).unwrap_err();
        assert!(e.reason.contains("does not stream"), "{e}");
        let e = check(&[parse("logs.delay_p99<5ms").unwrap()], &ops).unwrap_err();
        assert!(e.reason.contains("apply to metrics and telematics"), "{e}");
        let ops: BTreeSet<Op> = [Op::Submit, Op::Metrics].into();
        for ok in [
            "metrics.delay_p99<1s",
            "metrics.events>=10/s",
            "metrics.ttfb_p99<1s",
        ] {
            assert!(check(&[parse(ok).unwrap()], &ops).is_ok(), "{ok}");
        }
        let r = parse("metrics.delay_p99<250ms").unwrap();
        assert_eq!((r.metric, r.value), (Metric::Delay(Stat::P99), 250.0));
        assert!(parse("delay_p99<1s").is_err(), "delay needs an operation");
    }

    proptest! {
        #[test]
        fn the_parser_never_panics(s in "\\PC{0,40}") {
            let _ = parse(&s);
        }

        #[test]
        fn latency_rules_round_trip(
            op in proptest::sample::select(Op::ALL.to_vec()),
            stat in proptest::sample::select(vec!["p50", "p90", "p99", "p999", "max", "mean"]),
            cmp in proptest::sample::select(vec!["<", "<=", ">", ">="]),
            ms in 0u32..100_000,
        ) {
            let t = parse(&format!("{}.{stat}{cmp}{ms}ms", op.name())).unwrap();
            prop_assert_eq!(t.op, Some(op));
            prop_assert_eq!(t.value, f64::from(ms));
            prop_assert_eq!(t.cmp.to_string(), cmp);
        }
    }
}
