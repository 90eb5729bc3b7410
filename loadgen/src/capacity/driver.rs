//! [`capacity`]: the search from its settings to its report. It starts the
//! embedded mock once (when there is no target) so every step loads the
//! same node, has the targets' contract detected once (by the first step;
//! the others reuse it), runs the search with one run per probe, and puts
//! the figure, the repeats and every step into a [`CapacityReport`].

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use crate::monitor::unix_ms;
use crate::plan::{Action, Follow};
use crate::report::capacity::{
    CAPACITY_KIND, CapacityParameters, CapacityReport, CapacityResult, RateVerdict, SloRule, Step,
};
use crate::report::{CleanupStats, SCHEMA_VERSION, TargetParam};
use crate::run::{ContractMemo, Embedded, RunConfig, RunError, Stop, TargetSpec};
use crate::threshold::{Metric, Threshold};
use crate::transport::TransportStats;
use crate::units::{format_ms, format_rate, trim_float};

use super::search::{self, Outcome, Settings, Tally, Verdict};
use super::step::{Halt, Stepper};

/// Everything a capacity search needs.
#[derive(Debug, Clone)]
pub struct CapacityConfig {
    /// The run settings: targets (none: the embedded mock), connections,
    /// timeouts; the plan's actions and job are loaded at each rate (its
    /// stages are replaced by a warm-up and a measured stage).
    pub base: RunConfig,
    /// The SLO: every rule must hold on a step's measured stage.
    pub slo: Vec<Threshold>,
    /// The search's rates, precision and repeats.
    pub search: Settings,
    /// Warm-up at each rate before it is measured.
    pub warmup: Duration,
    /// Measured length of each step.
    pub step: Duration,
    /// A step that fails while its generator lag p90 is above this is the
    /// generator's limit, not the node's; `None`: a quarter of the tightest latency
    /// rule of the SLO (1 ms to 100 ms), 5 ms without one.
    pub max_generator_lag: Option<Duration>,
    /// Print a line per step on stderr.
    pub progress: bool,
}

impl CapacityConfig {
    /// The generator lag above which a step is the generator's limit.
    pub fn max_lag_ms(&self) -> f64 {
        if let Some(d) = self.max_generator_lag {
            return d.as_secs_f64() * 1e3;
        }
        self.slo
            .iter()
            .filter(|t| matches!(t.metric, Metric::Latency(_)))
            .map(|t| t.value)
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.min(v))))
            .map_or(5.0, |v| (v / 4.0).clamp(1.0, 100.0))
    }

    fn check(&self) -> Result<(), RunError> {
        let bad = |m: &str| Err(RunError::Config(m.into()));
        let s = &self.search;
        if self.slo.is_empty() {
            return bad("capacity needs at least one --slo rule (submit.p99<50ms, errors<0.1%)");
        }
        if !(s.start.is_finite() && s.start > 0.0) {
            return bad("--start-rate must be above 0");
        }
        if !(s.max.is_finite() && s.max >= s.start) {
            return bad("--max-rate must be at least --start-rate");
        }
        if s.max > 10_000_000.0 {
            return bad("--max-rate is above 10M/s");
        }
        if !(s.growth.is_finite() && s.growth > 1.0) {
            return bad("--growth must be above 1 (2 doubles the rate at each step)");
        }
        if !(s.precision > 0.0 && s.precision < 1.0) {
            return bad("--precision must be above 0 and below 100%");
        }
        if s.confirm == 0 {
            return bad("--confirm must be at least 1");
        }
        if self.step < Duration::from_millis(100) {
            return bad("--step-duration must be at least 100ms");
        }
        Ok(())
    }
}

/// Runs a capacity search and reports it (the exit code follows from the
/// result's outcome and the cleanup).
pub fn capacity(cfg: &CapacityConfig, stop: &Stop) -> Result<CapacityReport, RunError> {
    cfg.check()?;
    let started = SystemTime::now();
    let clock = Instant::now();
    let mut base = cfg.base.clone();
    let embedded = if base.targets.is_empty() {
        let e = Embedded::start(base.embedded_api)?;
        eprintln!(
            "no --target: searching the capacity of an embedded joblet-mock on {}",
            e.addr()
        );
        base.targets = vec![TargetSpec::new(joblet_testkit::Target::plaintext(e.addr()))];
        Some(e)
    } else {
        None
    };
    // Every step loads the same targets: the first detects their contract,
    // the others reuse it.
    base.contract_memo.get_or_insert_with(ContractMemo::default);
    let targets = target_params(&base.targets);
    let mut stepper = Stepper {
        base,
        slo: &cfg.slo,
        warmup: cfg.warmup,
        step: cfg.step,
        max_lag_ms: cfg.max_lag_ms(),
        stop,
        progress: cfg.progress,
        steps: Vec::new(),
        cleanup: CleanupStats::default(),
        transport: TransportStats::default(),
        contract: None,
    };
    let searched = search::run(&cfg.search, |p| stepper.probe(p));
    if let Some(e) = embedded {
        e.stop();
    }
    let (result, rates, interrupted) = match searched {
        Ok((outcome, tallies)) => (
            result_of(cfg, &outcome, &stepper.steps),
            tallies.iter().map(rate_verdict).collect(),
            false,
        ),
        Err(Halt::Run(e)) => return Err(e),
        Err(Halt::Interrupted) => (
            interrupted_result(&stepper.steps),
            rates_of(&stepper.steps),
            true,
        ),
    };
    Ok(CapacityReport {
        schema_version: SCHEMA_VERSION,
        kind: CAPACITY_KIND.into(),
        tool: format!("joblet-loadgen {}", env!("CARGO_PKG_VERSION")),
        scenario: cfg.base.plan.scenario.clone(),
        contract: stepper.contract,
        started_at: chrono::DateTime::<chrono::Utc>::from(started)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        start_unix_ms: unix_ms(started),
        duration_s: clock.elapsed().as_secs_f64(),
        interrupted,
        parameters: parameters(cfg, targets),
        result,
        rates,
        steps: stepper.steps,
        cleanup: stepper.cleanup,
        transport: stepper.transport,
    })
}

fn target_params(specs: &[TargetSpec]) -> Vec<TargetParam> {
    specs
        .iter()
        .map(|s| TargetParam {
            addr: s.target.host_port().to_owned(),
            weight: s.weight,
            tls: s.is_tls(),
        })
        .collect()
}

fn parameters(cfg: &CapacityConfig, targets: Vec<TargetParam>) -> CapacityParameters {
    let s = &cfg.search;
    let embedded = cfg.base.targets.is_empty();
    CapacityParameters {
        command_line: cfg.base.command_line.clone(),
        slo: cfg.slo.iter().map(|t| t.rule.clone()).collect(),
        slo_rules: cfg.slo.iter().map(slo_rule).collect(),
        start_rate: s.start,
        max_rate: s.max,
        growth: s.growth,
        precision: s.precision,
        step_duration_s: cfg.step.as_secs_f64(),
        warmup_s: cfg.warmup.as_secs_f64(),
        confirm: s.confirm,
        max_generator_lag_ms: cfg.max_lag_ms(),
        targets: if embedded { Vec::new() } else { targets },
        embedded_mock: embedded,
        connections: cfg.base.connections,
        max_in_flight: cfg.base.max_in_flight,
        operations: operations(cfg),
        job: cfg.base.plan.job.clone(),
    }
}

fn slo_rule(t: &Threshold) -> SloRule {
    SloRule {
        rule: t.rule.clone(),
        operation: t.op.map(|o| o.name().to_owned()),
        latency_ms: matches!(t.metric, Metric::Latency(_)).then_some(t.value),
        error_ratio: matches!(t.metric, Metric::Errors).then_some(t.value),
    }
}

fn operations(cfg: &CapacityConfig) -> BTreeMap<String, f64> {
    cfg.base
        .plan
        .actions
        .iter()
        .map(|w| {
            let name = match w.action {
                Action::Call(rpc) => rpc.path().rsplit('/').next().unwrap_or("").to_owned(),
                Action::Lifecycle(Follow::Logs) => "lifecycle".to_owned(),
                Action::Lifecycle(Follow::Poll(d)) => {
                    format!("lifecycle (poll {})", crate::units::format_duration(d))
                }
                Action::LogStream { .. } => "logs".to_owned(),
                Action::Telemetry { .. } => "metrics".to_owned(),
            };
            (name, w.weight)
        })
        .collect()
}

fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::GeneratorLimited => "generator-limited",
    }
}

fn rate_verdict(t: &Tally) -> RateVerdict {
    RateVerdict {
        rate_per_s: t.rate,
        verdict: verdict_name(t.verdict).into(),
        passes: t.passes,
        fails: t.fails,
        confirmed: t.confirmed,
    }
}

/// Per rate, from the steps alone (a search cut short).
fn rates_of(steps: &[Step]) -> Vec<RateVerdict> {
    let mut out: Vec<RateVerdict> = Vec::new();
    for s in steps {
        let i = match out.iter().position(|r| r.rate_per_s == s.rate_per_s) {
            Some(i) => i,
            None => {
                out.push(RateVerdict {
                    rate_per_s: s.rate_per_s,
                    verdict: String::new(),
                    passes: 0,
                    fails: 0,
                    confirmed: false,
                });
                out.len() - 1
            }
        };
        let r = &mut out[i];
        match s.verdict.as_str() {
            "pass" => r.passes += 1,
            "fail" => r.fails += 1,
            _ => {}
        }
        r.verdict = s.verdict.clone();
    }
    out
}

fn interrupted_result(steps: &[Step]) -> CapacityResult {
    let pass = steps
        .iter()
        .filter(|s| s.verdict == "pass")
        .map(|s| s.rate_per_s)
        .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))));
    CapacityResult {
        outcome: "interrupted".into(),
        capacity_per_s: None,
        highest_pass_per_s: pass,
        lowest_fail_per_s: None,
        generator_limit_per_s: None,
        summary: format!(
            "interrupted after {} step(s){}: no capacity figure",
            steps.len(),
            pass.map(|p| format!(
                "; the highest rate that passed so far is {}",
                format_rate(p)
            ))
            .unwrap_or_default()
        ),
    }
}

fn result_of(cfg: &CapacityConfig, outcome: &Outcome, steps: &[Step]) -> CapacityResult {
    let slo = cfg
        .slo
        .iter()
        .map(|t| t.rule.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let empty = CapacityResult {
        outcome: String::new(),
        capacity_per_s: None,
        highest_pass_per_s: None,
        lowest_fail_per_s: None,
        generator_limit_per_s: None,
        summary: String::new(),
    };
    match *outcome {
        Outcome::Found { pass, fail } => CapacityResult {
            outcome: "found".into(),
            capacity_per_s: Some(pass),
            highest_pass_per_s: Some(pass),
            lowest_fail_per_s: Some(fail),
            summary: format!(
                "capacity: {} under the SLO {slo} (highest passing {}, lowest failing {}: {}% apart, precision {}%)",
                format_rate(pass),
                format_rate(pass),
                format_rate(fail),
                trim_float((fail - pass) / pass * 100.0, 1),
                trim_float(cfg.search.precision * 100.0, 2)
            ),
            ..empty
        },
        Outcome::BelowStart { fail } => CapacityResult {
            outcome: "below_start".into(),
            lowest_fail_per_s: Some(fail),
            summary: format!(
                "not even {} (--start-rate) met the SLO {slo}: start lower",
                format_rate(fail)
            ),
            ..empty
        },
        Outcome::AboveMax { pass } => CapacityResult {
            outcome: "above_max".into(),
            highest_pass_per_s: Some(pass),
            summary: format!(
                "every rate up to {} (--max-rate) met the SLO {slo}: the capacity is at least that",
                format_rate(pass)
            ),
            ..empty
        },
        Outcome::GeneratorLimited { pass, limit } => {
            let lag = steps
                .iter()
                .rev()
                .find(|s| s.rate_per_s == limit)
                .and_then(|s| s.generator_lag_ms)
                .map(|l| format!(" (its own start lag p90 {}ms)", format_ms(l.p90)))
                .unwrap_or_default();
            CapacityResult {
                outcome: "generator_limited".into(),
                highest_pass_per_s: pass,
                generator_limit_per_s: Some(limit),
                summary: format!(
                    "the generator could not drive {}{lag}, so the search stopped there: {}; give the generator more room (--threads, distributed workers) or raise --max-generator-lag",
                    format_rate(limit),
                    match pass {
                        Some(p) => format!(
                            "the node met the SLO {slo} up to {}, its capacity is at least that",
                            format_rate(p)
                        ),
                        None => "no rate passed before".into(),
                    }
                ),
                ..empty
            }
        }
    }
}
