//! `--html FILE`: one self-contained page. The plotting library (uPlot,
//! MIT, vendored in `loadgen/assets/` with its licence) and the data are
//! inlined, so the page opens without network. Charts: the latency
//! percentile distribution of every operation (corrected and uncorrected),
//! throughput over time, latency (p50, p99) over time, and the targets' CPU
//! and memory; then the summary table and the run's parameters.

use serde_json::{Value, json};

use super::{Report, ordered};
use crate::stats;

const UPLOT_JS: &str = include_str!("../../assets/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../../assets/uPlot.min.css");
const UPLOT_LICENSE: &str = include_str!("../../assets/uPlot.LICENSE");

/// The page's own style.
const PAGE_CSS: &str = r#"body { font-family: system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
table { border-collapse: collapse; font-size: 13px; }
td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
td:first-child, th:first-child, td:nth-child(2) { text-align: left; }
pre { background: #f6f6f6; padding: 12px; font-size: 12px; overflow: auto; }
.chart { margin: 8px 0 20px; }
.note { color: #666; font-size: 12px; }
"#;

/// The charts, drawn with uPlot from `DATA` (the output of `data`).
const CHARTS_JS: &str = r##"const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
const W = Math.min(1200, Math.max(600, window.innerWidth - 60));
function colorOf(i) { return COLORS[i % COLORS.length]; }
function pct(v) { const p = 100 - 100 / v; return (Math.round(p * 1000) / 1000) + "%"; }
(function distribution() {
  const d = DATA.distribution;
  if (!d.length) return;
  const xs = d[0].points.map(p => p[0]);
  const data = [xs].concat(d.map(s => s.points.map(p => p[1])));
  const series = [{ label: "percentile", value: (u, v) => v == null ? "" : pct(v) }].concat(d.map((s, i) => ({
    label: s.name + " ms", stroke: colorOf(s.group), width: 2, dash: s.dash ? [6, 4] : undefined,
  })));
  new uPlot({
    width: W, height: 360, series: series,
    scales: { x: { time: false, distr: 3, log: 10, range: [1, 100000] }, y: { distr: 3, log: 10 } },
    axes: [
      { splits: () => [1, 10, 100, 1000, 10000, 100000], values: (u, vals) => vals.map(pct), label: "percentile" },
      { label: "latency ms" },
    ],
  }, data, document.getElementById("dist"));
})();
function union(list) { return Array.from(new Set(list.flatMap(x => x.t))).sort((a, b) => a - b); }
function align(xs, t, vals) { const at = new Map(t.map((v, k) => [v, k])); return xs.map(x => at.has(x) ? vals[at.get(x)] : null); }
function timeChart(el, pick, unit) {
  const s = DATA.series;
  if (!s.length) return;
  const xs = union(s);
  const data = [xs];
  const series = [{ label: "s" }];
  s.forEach((op, i) => pick(op).forEach(([name, vals, dash]) => {
    data.push(align(xs, op.t, vals));
    series.push({ label: op.name + " " + name, stroke: colorOf(i), width: 2, dash: dash ? [6, 4] : undefined });
  }));
  new uPlot({
    width: W, height: 300, series: series,
    scales: { x: { time: false } },
    axes: [{ label: "seconds since start" }, { label: unit }],
  }, data, document.getElementById(el));
}
timeChart("rate", op => {
  const out = [["req/s", op.rate, false]];
  if (op.mbps.some(v => v > 0)) out.push(["MB/s", op.mbps, true]);
  if (op.errors.some(v => v > 0)) out.push(["errors/s", op.errors, true]);
  return out;
}, "per second");
timeChart("lat", op => [["p50 ms", op.p50, false], ["p99 ms", op.p99, true]], "latency ms");
(function server() {
  const s = DATA.server;
  if (!s.length) { document.getElementById("server-section").style.display = "none"; return; }
  const xs = union(s);
  const data = [xs];
  const series = [{ label: "s" }];
  s.forEach((t, i) => {
    data.push(align(xs, t.t, t.cpu));
    series.push({ label: t.name + " CPU %", stroke: colorOf(i), width: 2, scale: "%" });
    data.push(align(xs, t.t, t.mem));
    series.push({ label: t.name + " memory MB", stroke: colorOf(i + 3), width: 2, dash: [6, 4], scale: "MB" });
  });
  new uPlot({
    width: W, height: 260, series: series,
    scales: { x: { time: false } },
    axes: [{ label: "seconds since start" }, { scale: "%", label: "CPU %" }, { scale: "MB", side: 1, label: "memory MB", grid: { show: false } }],
  }, data, document.getElementById("server"));
})();
"##;

/// Quantiles of the distribution chart: 0 to 99.999 %, evenly spaced on
/// the "nines" scale (x = 1 / (1 - q)).
fn quantiles() -> Vec<f64> {
    (0..=100)
        .map(|i| 1.0 - 10f64.powf(-(i as f64) * 0.05))
        .collect()
}

fn curve(hist: &str) -> Option<Vec<(f64, f64)>> {
    let h = stats::decode(hist).ok()?;
    if h.is_empty() {
        return None;
    }
    Some(
        quantiles()
            .into_iter()
            .map(|q| {
                (
                    1.0 / (1.0 - q).max(1e-9),
                    h.value_at_quantile(q) as f64 / 1e3,
                )
            })
            .collect(),
    )
}

fn data(r: &Report) -> Value {
    let mut dist = Vec::new();
    for (group, (name, o)) in ordered(&r.operations).into_iter().enumerate() {
        if let Some(c) = curve(&o.histogram) {
            dist.push(json!({"name": name, "points": c, "group": group}));
        }
        if let Some(c) = o.histogram_uncorrected.as_deref().and_then(curve) {
            dist.push(json!({"name": format!("{name} (uncorrected)"), "points": c, "dash": true, "group": group}));
        }
    }
    let t0 = r.start_unix_ms;
    let series: Vec<Value> = r
        .timeseries
        .iter()
        .map(|(name, pts)| {
            // A zero-length interval (the last hand-over at the very end of
            // the load) has no rate to draw.
            let pts: Vec<_> = pts.iter().filter(|p| p.dur_ms > 0).collect();
            json!({
                "name": name,
                "t": pts.iter().map(|p| (p.t_ms.saturating_sub(t0) + p.dur_ms / 2) as f64 / 1e3).collect::<Vec<_>>(),
                "rate": pts.iter().map(|p| p.count as f64 * 1e3 / p.dur_ms as f64).collect::<Vec<_>>(),
                "errors": pts.iter().map(|p| p.errors as f64 * 1e3 / p.dur_ms as f64).collect::<Vec<_>>(),
                "mbps": pts.iter().map(|p| p.bytes as f64 / 1e3 / p.dur_ms as f64).collect::<Vec<_>>(),
                "p50": pts.iter().map(|p| p.p50_ms).collect::<Vec<_>>(),
                "p99": pts.iter().map(|p| p.p99_ms).collect::<Vec<_>>(),
            })
        })
        .collect();
    let server: Vec<Value> = r
        .server
        .iter()
        .filter(|(_, s)| !s.series.is_empty())
        .map(|(addr, s)| {
            json!({
                "name": addr,
                "t": s.series.iter().map(|p| p.t_ms.saturating_sub(t0) as f64 / 1e3).collect::<Vec<_>>(),
                "cpu": s.series.iter().map(|p| p.cpu_percent).collect::<Vec<_>>(),
                "mem": s.series.iter().map(|p| p.memory_used_bytes as f64 / 1e6).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({"distribution": dist, "series": series, "server": server})
}

pub(super) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn summary_rows(r: &Report) -> String {
    let mut rows = String::new();
    for (name, o) in ordered(&r.operations) {
        let codes: Vec<String> = o
            .errors_by_code
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        let l = &o.latency_ms;
        let extra = match (o.bytes_per_s, &o.ttfb_ms, &o.event_delay_ms) {
            (_, Some(t), Some(d)) => format!(
                "{:.1} events/s ({} history), set-up p50 {:.3} ms, delay p50 {:.3} / p99 {:.3} ms",
                o.chunks_per_s.unwrap_or(0.0),
                o.history_events.unwrap_or(0),
                t.p50,
                d.p50,
                d.p99
            ),
            (Some(b), Some(t), None) => format!("{:.1} MB/s, ttfb p50 {:.3} ms", b / 1e6, t.p50),
            _ => String::new(),
        };
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{} {}</td>\
             <td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{}</td></tr>\n",
            esc(name),
            esc(&o.description),
            o.count,
            o.rate_per_s,
            o.errors,
            esc(&codes.join(", ")),
            l.p50,
            l.p90,
            l.p99,
            l.p999,
            l.max,
            esc(&extra)
        ));
    }
    rows
}

/// The run's parameters and summary figures, as pretty JSON.
fn parameters(r: &Report) -> String {
    serde_json::to_string_pretty(&json!({
        "scenario": r.scenario,
        "model": r.model,
        "contract": r.contract,
        "started_at": r.started_at,
        "duration_s": r.duration_s,
        "workers": r.workers,
        "parameters": r.parameters,
        "errors": r.errors,
        "cleanup": r.cleanup,
        "generator": {
            "threads": r.generator.threads,
            "cpu_seconds": r.generator.cpu_seconds,
            "cpu_seconds_per_100k_requests": r.generator.cpu_seconds_per_100k_requests,
            "peak_rss_bytes": r.generator.peak_rss_bytes,
            "schedule_lag_ms": r.generator.schedule_lag_ms,
        },
        "thresholds": r.thresholds,
        "final_status": r.final_status,
    }))
    .expect("parameters serialize")
}

/// What ran against what, and when.
fn page_title(r: &Report) -> String {
    let target = if r.parameters.embedded_mock {
        "embedded mock".to_owned()
    } else {
        r.parameters
            .targets
            .iter()
            .map(|t| t.addr.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "joblet-loadgen {} ({} model) against {} — {}",
        r.scenario, r.model, target, r.started_at
    )
}

/// A whole page: the head (uPlot and its licence inlined, the page style),
/// `title` as heading, `body` (HTML), then `charts` (JavaScript) run with
/// `DATA` set to `data` (JSON): the skeleton of the run page and of the
/// capacity page.
pub(super) fn page(title: &str, body: &str, data: &serde_json::Value, charts: &str) -> String {
    let data = serde_json::to_string(data)
        .expect("chart data serializes")
        .replace("</", "<\\/");
    let license = UPLOT_LICENSE.replace("*/", "* /");
    format!(
        r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>{css}</style>
<style>
{page_css}</style>
<script>
/* uPlot v1.6.32, https://github.com/leeoniya/uPlot
{license}*/
{js}
</script>
</head>
<body>
<h1>{title}</h1>
{body}<script>
const DATA = {data};
{charts}</script>
</body>
</html>
"##,
        title = esc(title),
        css = UPLOT_CSS,
        page_css = PAGE_CSS,
        js = UPLOT_JS,
    )
}

/// The contract line of a report: detected (or given), how, messages sent.
pub(super) fn contract_note(contract: Option<&super::ContractReport>) -> String {
    match contract {
        Some(c) => format!(
            "<p class=\"note\">Contract: <b>{}</b> ({}); {} messages sent.</p>\n",
            esc(&c.detected),
            esc(&c.how),
            esc(&c.wire)
        ),
        None => String::new(),
    }
}

/// The page of `report`.
pub fn render(r: &Report) -> String {
    let body = format!(
        r##"{contract}<p class="note">{duration:.2} s, {requests} requests, {errors} errors ({ratio:.4} %). {latency_note}</p>
<h2>Latency percentile distribution</h2>
<div id="dist" class="chart"></div>
<h2>Throughput over time</h2>
<div id="rate" class="chart"></div>
<h2>Latency over time (p50 solid, p99 dashed)</h2>
<div id="lat" class="chart"></div>
<div id="server-section"><h2>Target CPU and memory (StreamSystemMetrics)</h2><div id="server" class="chart"></div></div>
<h2>Summary</h2>
<table>
<tr><th>operation</th><th>measures</th><th>count</th><th>rate/s</th><th>errors</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th><th>streams</th></tr>
{rows}</table>
<h2>Parameters</h2>
<pre>{params}</pre>
"##,
        contract = contract_note(r.contract.as_ref()),
        duration = r.duration_s,
        requests = r.errors.requests,
        errors = r.errors.errors,
        ratio = r.errors.ratio * 100.0,
        latency_note = if r.model == "closed" {
            "Closed model (fixed concurrency): latency is measured from each request's send."
        } else {
            "Under a rate, latency is measured from each request's intended start (corrected for coordinated omission); dashed curves are the uncorrected latency, from the actual send."
        },
        rows = summary_rows(r),
        params = esc(&parameters(r)),
    );
    page(&page_title(r), &body, &data(r), CHARTS_JS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quantile_axis_runs_to_five_nines() {
        let q = quantiles();
        assert_eq!(q[0], 0.0);
        assert!((q[100] - 0.99999).abs() < 1e-9);
        assert!(q.windows(2).all(|w| w[0] < w[1]));
    }
}
