//! The final table printed after a run (or a merge).

use std::fmt::Write;

use super::{OpReport, Percentiles, Report, ordered};
use crate::units::{format_ms, trim_float};

fn row(cells: &[String], widths: &[usize]) -> String {
    let mut line = String::new();
    for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
        if i == 0 {
            let _ = write!(line, "{c:<w$}");
        } else {
            let _ = write!(line, "  {c:>w$}");
        }
    }
    line.trim_end().to_owned()
}

fn grid(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = row(
        &header.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
        &widths,
    );
    out.push('\n');
    for r in rows {
        out.push_str(&row(r, &widths));
        out.push('\n');
    }
    out
}

fn errors(o: &OpReport) -> String {
    if o.errors == 0 {
        return "0".into();
    }
    let codes: Vec<String> = o
        .errors_by_code
        .iter()
        .map(|(c, n)| format!("{c}:{n}"))
        .collect();
    format!("{} ({})", o.errors, codes.join(" "))
}

fn mb(bytes: f64) -> String {
    trim_float(bytes / 1e6, 1)
}

/// The report as text tables: a headline, the operations, then (when there
/// is something to show) streams, targets and stages, and the summary lines.
pub fn render(r: &Report) -> String {
    let mut out = headline(r);
    out.push('\n');
    out.push_str(&operations(r));
    for section in [streams(r), telemetry(r), per_target(r), per_stage(r)]
        .into_iter()
        .flatten()
    {
        out.push('\n');
        out.push_str(&section);
    }
    out.push('\n');
    errors_and_statuses(&mut out, r);
    server(&mut out, r);
    let _ = writeln!(out, "{}", generator(r));
    if let Some(t) = connections(r) {
        let _ = writeln!(out, "{t}");
    }
    let _ = writeln!(out, "{}", jobs(r));
    for t in &r.thresholds {
        let _ = writeln!(
            out,
            "threshold {}: {} ({})",
            t.rule,
            if t.pass { "pass" } else { "FAIL" },
            t.detail
        );
    }
    out
}

/// The telemetry streams (`metrics`): events per second, history, set-up
/// time, the delay from an event's timestamp to its arrival, gaps.
fn telemetry(r: &Report) -> Option<String> {
    let streams: Vec<(&str, &OpReport)> = ordered(&r.operations)
        .into_iter()
        .filter(|(_, o)| o.event_delay_ms.is_some())
        .collect();
    if streams.is_empty() {
        return None;
    }
    let header = [
        "telemetry",
        "streams",
        "events",
        "events/s",
        "history",
        "set-up ms p50 / p99",
        "delay ms p50 / p99 / max",
        "gap ms p50 / p99",
    ];
    let rows: Vec<Vec<String>> = streams
        .iter()
        .map(|(name, o)| {
            let t = o.ttfb_ms.unwrap_or_default();
            let d = o.event_delay_ms.unwrap_or_default();
            let g = o.chunk_gap_ms.unwrap_or_default();
            vec![
                name.to_string(),
                o.streams.unwrap_or(0).to_string(),
                o.chunks.unwrap_or(0).to_string(),
                format!("{:.1}", o.chunks_per_s.unwrap_or(0.0)),
                o.history_events.unwrap_or(0).to_string(),
                format!("{} / {}", format_ms(t.p50), format_ms(t.p99)),
                format!(
                    "{} / {} / {}",
                    format_ms(d.p50),
                    format_ms(d.p99),
                    format_ms(d.max)
                ),
                format!("{} / {}", format_ms(g.p50), format_ms(g.p99)),
            ]
        })
        .collect();
    Some(grid(&header, &rows))
}

/// What ran against what, for how long, and the contract (two lines).
fn headline(r: &Report) -> String {
    let target = if r.parameters.embedded_mock {
        "embedded mock".to_owned()
    } else {
        r.parameters
            .targets
            .iter()
            .map(|t| format!("{}{}", t.addr, if t.tls { " (TLS)" } else { "" }))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let workers = if r.workers.len() > 1 {
        format!(", {} workers merged", r.workers.len())
    } else {
        String::new()
    };
    let contract = match &r.contract {
        Some(c) => format!(
            "contract: {} ({}); {} messages sent\n",
            c.detected, c.how, c.wire
        ),
        None => String::new(),
    };
    format!(
        "{} ({} model) against {target}: {:.2}s{}{workers}\n{contract}",
        r.scenario,
        r.model,
        r.duration_s,
        if r.interrupted { ", interrupted" } else { "" },
    )
}

/// Every operation: count, rate, errors and latency (with the uncorrected
/// latency under a rate).
fn operations(r: &Report) -> String {
    let open = r.model != "closed";
    let latency_header = if open {
        "latency ms (corrected) p50 / p90 / p99 / p99.9 / max"
    } else {
        "latency ms p50 / p90 / p99 / p99.9 / max"
    };
    let header = ["operation", "count", "rate/s", "errors", latency_header];
    let lat = |p: &Percentiles| {
        [p.p50, p.p90, p.p99, p.p999, p.max]
            .iter()
            .map(|v| format_ms(*v))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    let mut rows = Vec::new();
    for (name, o) in ordered(&r.operations) {
        rows.push(vec![
            name.to_owned(),
            o.count.to_string(),
            format!("{:.1}", o.rate_per_s),
            errors(o),
            lat(&o.latency_ms),
        ]);
        if let Some(u) = &o.latency_uncorrected_ms {
            rows.push(vec![
                format!("  {name} uncorrected"),
                String::new(),
                String::new(),
                String::new(),
                lat(u),
            ]);
        }
    }
    grid(&header, &rows)
}

/// The operations that streamed: throughput, per-stream spread, time to
/// first byte and gaps between chunks.
fn streams(r: &Report) -> Option<String> {
    let streams: Vec<(&str, &OpReport)> = ordered(&r.operations)
        .into_iter()
        .filter(|(_, o)| o.streams.is_some_and(|n| n > 0) && o.event_delay_ms.is_none())
        .collect();
    if streams.is_empty() {
        return None;
    }
    let header = [
        "stream",
        "streams",
        "MB/s (all)",
        "MB/s per stream min / p50 / max",
        "chunks/s",
        "ttfb ms p50 / p99",
        "chunk gap ms p50 / p99 / max",
    ];
    let rows: Vec<Vec<String>> = streams
        .iter()
        .map(|(name, o)| {
            let s = o.stream_mbps.unwrap_or_default();
            let t = o.ttfb_ms.unwrap_or_default();
            let g = o.chunk_gap_ms.unwrap_or_default();
            vec![
                name.to_string(),
                o.streams.unwrap_or(0).to_string(),
                mb(o.bytes_per_s.unwrap_or(0.0)),
                format!(
                    "{} / {} / {}",
                    trim_float(s.min, 1),
                    trim_float(s.p50, 1),
                    trim_float(s.max, 1)
                ),
                format!("{:.0}", o.chunks_per_s.unwrap_or(0.0)),
                format!("{} / {}", format_ms(t.p50), format_ms(t.p99)),
                format!(
                    "{} / {} / {}",
                    format_ms(g.p50),
                    format_ms(g.p99),
                    format_ms(g.max)
                ),
            ]
        })
        .collect();
    Some(grid(&header, &rows))
}

/// Per target and operation, with several targets.
fn per_target(r: &Report) -> Option<String> {
    if r.targets.len() <= 1 {
        return None;
    }
    let mut rows = Vec::new();
    for (addr, g) in &r.targets {
        for (name, o) in ordered(&g.operations) {
            rows.push(vec![
                addr.clone(),
                name.to_owned(),
                o.count.to_string(),
                format!("{:.1}", o.rate_per_s),
                errors(o),
                format_ms(o.latency_ms.p99),
            ]);
        }
    }
    Some(grid(
        &["target", "operation", "count", "rate/s", "errors", "p99 ms"],
        &rows,
    ))
}

/// Per stage and operation, with several stages.
fn per_stage(r: &Report) -> Option<String> {
    if r.stages.len() <= 1 {
        return None;
    }
    let mut rows = Vec::new();
    for s in &r.stages {
        for (name, o) in ordered(&s.operations) {
            rows.push(vec![
                format!("{} ({})", s.name, s.load),
                name.to_owned(),
                o.count.to_string(),
                format!("{:.1}", o.rate_per_s),
                errors(o),
                format_ms(o.latency_ms.p50),
                format_ms(o.latency_ms.p99),
            ]);
        }
    }
    Some(grid(
        &[
            "stage",
            "operation",
            "count",
            "rate/s",
            "errors",
            "p50 ms",
            "p99 ms",
        ],
        &rows,
    ))
}

/// The final statuses (lifecycle), the error ratio and an example message
/// of every failing code.
fn errors_and_statuses(out: &mut String, r: &Report) {
    if !r.final_status.is_empty() {
        let statuses: Vec<String> = r
            .final_status
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        let _ = writeln!(out, "final statuses: {}", statuses.join(", "));
    }
    let _ = writeln!(
        out,
        "errors: {} of {} requests ({}%)",
        r.errors.errors,
        r.errors.requests,
        trim_float(r.errors.ratio * 100.0, 3)
    );
    for (name, o) in ordered(&r.operations) {
        for (code, msg) in &o.error_examples {
            let _ = writeln!(out, "  {name} {code}: {msg}");
        }
    }
    let list = |f: fn(&OpReport) -> u64| {
        ordered(&r.operations)
            .into_iter()
            .filter(|(_, o)| f(o) > 0)
            .map(|(n, o)| format!("{n} {}", f(o)))
            .collect::<Vec<_>>()
    };
    let skipped = list(|o| o.skipped);
    if !skipped.is_empty() {
        let _ = writeln!(
            out,
            "skipped draws (not sent: no job of the run in the state the operation needs): {}",
            skipped.join(", ")
        );
    }
    let raced = list(|o| o.raced);
    if !raced.is_empty() {
        let _ = writeln!(
            out,
            "raced (the job had ended since the run saw it running; checked, not errors): {}",
            raced.join(", ")
        );
    }
}

/// One line per target: its CPU and memory during the run.
fn server(out: &mut String, r: &Report) {
    for (addr, s) in &r.server {
        match (&s.cpu_percent, &s.memory_used_bytes) {
            (Some(cpu), Some(mem)) => {
                let _ = writeln!(
                    out,
                    "server {addr}: CPU {:.0}% mean, {:.0}% max; memory used {} MB mean, {} MB max ({} samples)",
                    cpu.mean,
                    cpu.max,
                    mb(mem.mean),
                    mb(mem.max),
                    s.samples
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "server {addr}: no metrics ({})",
                    s.error.as_deref().unwrap_or("no samples")
                );
            }
        }
    }
}

/// The generator's own cost (one line).
fn generator(r: &Report) -> String {
    let g = &r.generator;
    let mut gen_line = format!("generator: {} thread(s)", g.threads);
    if let Some(c) = g.cpu_seconds {
        let _ = write!(gen_line, ", {c:.2} CPU s");
    }
    let streams_only = r
        .operations
        .get("logs")
        .is_some_and(|o| o.count * 2 >= r.errors.requests);
    if let Some(c) = g.cpu_seconds_per_100k_requests.filter(|_| !streams_only) {
        let _ = write!(gen_line, " ({c:.2} s per 100k requests)");
    }
    if let Some(m) = g.peak_rss_bytes {
        let _ = write!(gen_line, ", peak RSS {} MB", mb(m as f64));
    }
    if let Some(l) = &g.schedule_lag_ms {
        let _ = write!(
            gen_line,
            ", start lag p99 {}ms max {}ms",
            format_ms(l.p99),
            format_ms(l.max)
        );
        if let Some(own) = &g.generator_lag_ms {
            let _ = write!(gen_line, " (its own p99 {}ms)", format_ms(own.p99));
        }
    }
    if g.abandoned_in_flight > 0 {
        let _ = write!(
            gen_line,
            ", {} cancelled in flight at the end",
            g.abandoned_in_flight
        );
    }
    gen_line
}

/// What the connections went through (one line), when anything happened
/// besides opening them.
fn connections(r: &Report) -> Option<String> {
    let t = r.transport?;
    let mut line = format!("connections: {} opened", t.connections_opened);
    if t.goaways_received > 0 {
        let _ = write!(
            line,
            ", {} closed by the server (GOAWAY) and reopened",
            t.goaways_received
        );
    }
    if t.streams_retried > 0 {
        let _ = write!(
            line,
            "; {} streams sent again (refused or not processed by the server; not errors)",
            t.streams_retried
        );
    }
    Some(line)
}

/// What became of the jobs the run created (one line).
fn jobs(r: &Report) -> String {
    let c = &r.cleanup;
    if c.kept > 0 {
        return format!("jobs: {} created, kept (--keep-jobs)", c.created);
    }
    let some = |n: u64, text: String| if n > 0 { text } else { String::new() };
    format!(
        "jobs: {} created, {} deleted{}{}{}{}",
        c.created,
        c.deleted + c.deleted_during_run,
        some(
            c.deleted_during_run,
            format!(" ({} during the run)", c.deleted_during_run)
        ),
        some(c.already_gone, format!(", {} already gone", c.already_gone)),
        some(c.stopped, format!(", {} stopped first", c.stopped)),
        some(c.failed, format!(", {} COULD NOT BE DELETED", c.failed)),
    )
}
