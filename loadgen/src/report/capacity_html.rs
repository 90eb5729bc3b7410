//! `capacity --html FILE`: one self-contained page (uPlot inlined, as the
//! run report's). The chart draws, per rate tried, the p50 and p99 latency
//! of the operations the SLO names (the median over the rate's probes) and
//! the error rate, with the SLO's limits as horizontal lines and the
//! capacity (the knee: highest passing rate) and the lowest failing rate as
//! vertical ones; then the result, every step and the parameters.

use serde_json::{Value, json};

use super::capacity::{CapacityReport, Step, shown_ops};
use super::html::{contract_note, esc, page};
use crate::units::{format_ms, format_rate, trim_float};

/// The chart, drawn with uPlot from `DATA` (the output of `data`).
const CHART_JS: &str = r##"const COLORS = ["#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
const W = Math.min(1200, Math.max(600, window.innerWidth - 60));
(function chart() {
  const D = DATA;
  if (!D.rates.length) return;
  const data = [D.rates];
  const series = [{ label: "rate /s" }];
  D.ops.forEach((o, i) => {
    data.push(o.p50);
    series.push({ label: o.name + " p50 ms", stroke: COLORS[i % COLORS.length], width: 2, scale: "ms" });
    data.push(o.p99);
    series.push({ label: o.name + " p99 ms", stroke: COLORS[i % COLORS.length], width: 2, dash: [6, 4], scale: "ms" });
  });
  data.push(D.errors);
  series.push({ label: "errors %", stroke: "#d62728", width: 1, scale: "%", points: { show: true } });
  const msLimit = Math.max(0, ...D.lines.filter(l => l.scale === "ms").map(l => l.value));
  const pctLimit = Math.max(0, ...D.lines.filter(l => l.scale === "%").map(l => l.value));
  const logX = D.rates[D.rates.length - 1] / D.rates[0] > 20;
  new uPlot({
    width: W, height: 420, series: series,
    scales: {
      x: { time: false, distr: logX ? 3 : 1 },
      ms: { range: (u, min, max) => [0, Math.max(max || 0, msLimit * 1.25, 1)] },
      "%": { range: (u, min, max) => [0, Math.max(max || 0, pctLimit * 1.5, 0.1)] },
    },
    axes: [
      { label: "arrival rate (per second)" },
      { scale: "ms", label: "latency ms" },
      { scale: "%", side: 1, label: "errors %", grid: { show: false } },
    ],
    hooks: { draw: [u => {
      const ctx = u.ctx, b = u.bbox;
      ctx.save();
      ctx.font = "12px system-ui, sans-serif";
      D.lines.forEach(l => {
        const y = u.valToPos(l.value, l.scale, true);
        ctx.strokeStyle = l.scale === "%" ? "#d62728" : "#555";
        ctx.fillStyle = ctx.strokeStyle;
        ctx.setLineDash([3, 3]); ctx.lineWidth = 1;
        ctx.beginPath(); ctx.moveTo(b.left, y); ctx.lineTo(b.left + b.width, y); ctx.stroke();
        ctx.fillText("SLO " + l.label, b.left + 6, y - 4);
      });
      const vline = (x, color, dash, text) => {
        const px = u.valToPos(x, "x", true);
        ctx.strokeStyle = color; ctx.fillStyle = color; ctx.setLineDash(dash); ctx.lineWidth = 2;
        ctx.beginPath(); ctx.moveTo(px, b.top); ctx.lineTo(px, b.top + b.height); ctx.stroke();
        ctx.fillText(text, px + 4, b.top + 14);
      };
      if (D.fail != null) vline(D.fail, "#d62728", [5, 4], "lowest failing " + D.failLabel);
      if (D.knee != null) vline(D.knee, "#2ca02c", [], "capacity " + D.kneeLabel);
      ctx.restore();
    }] },
  }, data, document.getElementById("chart"));
})();
"##;

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The SLO limits as lines: latency rules on the ms axis, `errors` on %.
fn lines(r: &CapacityReport) -> Vec<Value> {
    let mut out = Vec::new();
    for rule in &r.parameters.slo_rules {
        if let Some(ms) = rule.latency_ms {
            out.push(json!({"label": rule.rule, "scale": "ms", "value": ms}));
        }
        if let Some(ratio) = rule.error_ratio {
            out.push(json!({"label": rule.rule, "scale": "%", "value": ratio * 100.0}));
        }
    }
    out
}

fn data(r: &CapacityReport) -> Value {
    let mut rates: Vec<f64> = r.steps.iter().map(|s| s.rate_per_s).collect();
    rates.sort_by(f64::total_cmp);
    rates.dedup();
    let at = |rate: f64| -> Vec<&Step> {
        r.steps
            .iter()
            .filter(|s| s.rate_per_s == rate && s.verdict != "generator-limited")
            .collect()
    };
    let ops: Vec<Value> = shown_ops(r)
        .iter()
        .map(|name| {
            let pick = |f: fn(&super::Percentiles) -> f64| -> Vec<Option<f64>> {
                rates
                    .iter()
                    .map(|rate| {
                        median(
                            at(*rate)
                                .iter()
                                .filter_map(|s| s.operations.get(name))
                                .filter(|o| o.ok > 0)
                                .map(|o| f(&o.latency_ms))
                                .collect(),
                        )
                    })
                    .collect()
            };
            json!({"name": name, "p50": pick(|p| p.p50), "p99": pick(|p| p.p99)})
        })
        .collect();
    let errors: Vec<Option<f64>> = rates
        .iter()
        .map(|rate| median(at(*rate).iter().map(|s| s.errors.ratio * 100.0).collect()))
        .collect();
    let res = &r.result;
    json!({
        "rates": rates,
        "ops": ops,
        "errors": errors,
        "lines": lines(r),
        "knee": res.capacity_per_s,
        "kneeLabel": res.capacity_per_s.map(format_rate),
        "fail": res.lowest_fail_per_s,
        "failLabel": res.lowest_fail_per_s.map(format_rate),
    })
}

fn step_rows(r: &CapacityReport) -> String {
    let mut rows = String::new();
    let ops = shown_ops(r);
    for s in &r.steps {
        let lat: Vec<String> = ops
            .iter()
            .map(|o| match s.operations.get(o) {
                Some(op) if op.ok > 0 => format!(
                    "{} {} / {}",
                    o,
                    format_ms(op.latency_ms.p50),
                    format_ms(op.latency_ms.p99)
                ),
                _ => format!("{o} -"),
            })
            .collect();
        let failed: Vec<&str> = s
            .slo
            .iter()
            .filter(|t| !t.pass)
            .map(|t| t.rule.as_str())
            .collect();
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}%</td><td>{}</td><td>{}</td></tr>\n",
            s.index,
            esc(&s.phase),
            format_rate(s.rate_per_s),
            format_rate(s.achieved_rate_per_s),
            esc(&lat.join("; ")),
            trim_float(s.errors.ratio * 100.0, 3),
            s.generator_lag_ms
                .map_or("-".into(), |l| format!("{} ms", format_ms(l.p90))),
            esc(&match (s.verdict.as_str(), failed.is_empty()) {
                ("fail", false) => format!("FAIL ({})", failed.join(", ")),
                (v, _) => v.to_owned(),
            }),
        ));
    }
    rows
}

/// The page of a capacity search.
pub fn render(r: &CapacityReport) -> String {
    let params = serde_json::to_string_pretty(&json!({
        "parameters": r.parameters,
        "result": r.result,
        "rates": r.rates,
        "cleanup": r.cleanup,
        "transport": r.transport,
    }))
    .expect("parameters serialize");
    let title = format!(
        "joblet-loadgen capacity ({}) — {}",
        r.scenario, r.started_at
    );
    let body = format!(
        r##"{contract}<p><b>{summary}</b></p>
<p class="note">SLO: {slo}. Open model: latency counts from each request's intended start. {steps} steps in {duration:.0} s; a step is a warm-up of {warmup} s and {step} s measured at one rate.</p>
<h2>Rate against latency and errors</h2>
<div id="chart" class="chart"></div>
<p class="note">Per rate, the median of its probes: p50 solid, p99 dashed (ms, left), errors in red (%, right); dotted lines are the SLO's limits; the green line is the capacity (highest passing rate), the red dashed one the lowest failing rate. Steps the generator could not drive are left out.</p>
<h2>Steps</h2>
<table>
<tr><th>step</th><th>phase</th><th>rate</th><th>achieved</th><th>latency p50 / p99 ms</th><th>errors</th><th>generator lag p90</th><th>verdict</th></tr>
{rows}</table>
<h2>Parameters</h2>
<pre>{params}</pre>
"##,
        contract = contract_note(r.contract.as_ref()),
        summary = esc(&r.result.summary),
        slo = esc(&r.parameters.slo.join(", ")),
        steps = r.steps.len(),
        duration = r.duration_s,
        warmup = trim_float(r.parameters.warmup_s, 2),
        step = trim_float(r.parameters.step_duration_s, 2),
        rows = step_rows(r),
        params = esc(&params),
    );
    page(&title, &body, &data(r), CHART_JS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_take_the_middle() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }
}
