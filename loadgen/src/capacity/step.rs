//! One probe of the search: a run of the plan's actions at one rate (a
//! warm-up stage, then the measured stage), its SLO verdict on the measured
//! stage, and the check that the generator drove the rate.

use std::time::{Duration, SystemTime};

use crate::monitor::unix_ms;
use crate::plan::{Load, Plan, Stage};
use crate::report::capacity::Step;
use crate::report::{CleanupStats, ContractReport, Report, is_rpc};
use crate::run::{self, RunConfig, RunError, Stop};
use crate::threshold::{self, Threshold};
use crate::transport::TransportStats;
use crate::units::{format_ms, format_rate};

use super::search::{Probe, Verdict};

/// Starts below this many say too little of the generator's lag to judge it.
const MIN_LAG_SAMPLES: u64 = 20;

/// Why the search stopped before its end.
#[derive(Debug)]
pub(super) enum Halt {
    /// A run could not take place.
    Run(RunError),
    /// Ctrl-C.
    Interrupted,
}

/// What every probe shares.
#[derive(Debug)]
pub(super) struct Stepper<'a> {
    /// The run settings, targets resolved; the plan's actions and job (its
    /// stages are replaced at each rate).
    pub(super) base: RunConfig,
    pub(super) slo: &'a [Threshold],
    pub(super) warmup: Duration,
    pub(super) step: Duration,
    /// A generator lag p90 above this: the probe says nothing of the node.
    pub(super) max_lag_ms: f64,
    pub(super) stop: &'a Stop,
    /// Print a line per step on stderr.
    pub(super) progress: bool,
    pub(super) steps: Vec<Step>,
    pub(super) cleanup: CleanupStats,
    pub(super) transport: TransportStats,
    /// The targets' contract, as the first probe found it.
    pub(super) contract: Option<ContractReport>,
}

impl Stepper<'_> {
    /// The plan at `rate`: a warm-up stage (when asked for) and the measured one.
    fn plan(&self, rate: f64) -> Plan {
        let mut plan = self.base.plan.clone();
        plan.requests = None;
        plan.stages.clear();
        if !self.warmup.is_zero() {
            plan.stages.push(Stage {
                name: "warm-up".into(),
                load: Load::Rate(rate),
                duration: Some(self.warmup),
                ramp: Duration::ZERO,
            });
        }
        plan.stages.push(Stage {
            name: "measure".into(),
            load: Load::Rate(rate),
            duration: Some(self.step),
            ramp: Duration::ZERO,
        });
        plan
    }

    /// Runs one probe and books it.
    pub(super) fn probe(&mut self, p: Probe) -> Result<Verdict, Halt> {
        if self.stop.is_interrupted() {
            return Err(Halt::Interrupted);
        }
        let mut cfg = self.base.clone();
        cfg.plan = self.plan(p.rate);
        let start = SystemTime::now();
        let report = run::run(&cfg, self.stop).map_err(Halt::Run)?;
        self.cleanup.merge(&report.cleanup);
        if self.contract.is_none() {
            self.contract.clone_from(&report.contract);
        }
        if let Some(t) = &report.transport {
            self.transport.merge(t);
        }
        if report.interrupted {
            return Err(Halt::Interrupted);
        }
        let step = self.judge(p, &report, start);
        if self.progress {
            eprintln!("{}", progress_line(&step));
        }
        let verdict = match step.verdict.as_str() {
            "pass" => Verdict::Pass,
            "fail" => Verdict::Fail,
            _ => Verdict::GeneratorLimited,
        };
        self.steps.push(step);
        Ok(verdict)
    }

    /// The step record of `report`: the SLO on its measured stage, and
    /// whether the generator kept up.
    fn judge(&self, p: Probe, report: &Report, start: SystemTime) -> Step {
        let measured = report.stages.last();
        let operations = measured.map(|s| s.operations.clone()).unwrap_or_default();
        let duration_s = measured.map_or(0.0, |s| s.duration_s);
        let slo = threshold::evaluate_ops(self.slo, &operations);
        let lag = measured.and_then(|s| s.generator_lag_ms);
        let actions: u64 = match report.scenario.as_str() {
            "mix" => operations
                .iter()
                .filter(|(n, _)| is_rpc(n))
                .map(|(_, o)| o.count + o.skipped + o.raced)
                .sum(),
            _ => operations.get("submit").map_or(0, |o| o.count),
        };
        // Over the stage as planned: the run may end a little before it
        // (at the last answer), which would inflate the rate.
        let achieved = actions as f64 / self.step.as_secs_f64().max(1e-3);
        let limited = measured
            .and_then(|s| s.generator_lag_histogram.as_deref())
            .and_then(|h| crate::stats::decode(h).ok())
            .filter(|h| h.len() >= MIN_LAG_SAMPLES)
            .map(|h| h.value_at_quantile(0.9) as f64 / 1e3)
            .filter(|p90| *p90 > self.max_lag_ms);
        // A pass stands even when the generator was late: the latency it
        // measured counts the lateness, so the node met the SLO with it. A
        // failure while the generator was late may be the generator's.
        let passed = slo.iter().all(|t| t.pass);
        let (verdict, note) = match (passed, limited) {
            (true, None) => ("pass", None),
            (true, Some(p90)) => (
                "pass",
                Some(format!(
                    "passed although the generator's own start lag p90 was {}ms (above {}ms): the latency counts it",
                    format_ms(p90),
                    format_ms(self.max_lag_ms)
                )),
            ),
            (false, Some(p90)) => (
                "generator-limited",
                Some(format!(
                    "failed while the generator's own start lag p90 was {}ms (above {}ms): the failure may be the generator's, so this step says nothing of the node",
                    format_ms(p90),
                    format_ms(self.max_lag_ms)
                )),
            ),
            (false, None) => ("fail", None),
        };
        Step {
            index: self.steps.len() as u32 + 1,
            phase: p.phase.as_str().into(),
            rate_per_s: p.rate,
            verdict: verdict.into(),
            start_unix_ms: unix_ms(start),
            duration_s,
            achieved_rate_per_s: achieved,
            errors: crate::report::error_summary(&operations),
            operations,
            slo,
            generator_lag_ms: lag,
            generator_cpu_seconds: report.generator.cpu_seconds,
            cleanup: report.cleanup,
            note,
        }
    }
}

/// `step 7 (bisect) 3600/s: pass (submit.p99<20ms: 12.3ms; errors<0.1%: 0%)`.
fn progress_line(s: &Step) -> String {
    let rules: Vec<String> = s
        .slo
        .iter()
        .map(|t| {
            let measured = t
                .detail
                .strip_prefix("measured ")
                .and_then(|d| d.split(',').next())
                .unwrap_or(&t.detail);
            format!("{}: {measured}", t.rule)
        })
        .collect();
    format!(
        "step {} ({}) {}: {} ({}){}",
        s.index,
        s.phase,
        format_rate(s.rate_per_s),
        s.verdict,
        rules.join("; "),
        s.note
            .as_deref()
            .map(|n| format!(" - {n}"))
            .unwrap_or_default()
    )
}
