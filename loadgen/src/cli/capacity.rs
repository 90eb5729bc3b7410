//! `joblet-loadgen capacity`: flags to a [`CapacityConfig`], the search,
//! its outputs (table, `--json`, `--html`) and its exit code: 0 found (or
//! every rate up to `--max-rate` passed), 3 not even the lowest rate met the
//! SLO, 1 the generator could not drive the rate the search needed or jobs
//! could not be deleted, 2 bad usage, 130 Ctrl-C.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, anyhow};

use crate::capacity::search::Settings;
use crate::capacity::{CapacityConfig, capacity};
use crate::plan::{Action, Follow, Load, Plan};
use crate::progress::ProgressMode;
use crate::report::capacity::{CapacityReport, render_table};
use crate::report::{capacity_html, json};
use crate::run::{RunError, Stop};
use crate::threshold;
use crate::transport::Rpc;

use super::args::{CapacityArgs, ProgressArg};
use super::failure::{EXIT_INTERRUPTED, EXIT_THRESHOLD, Failure};
use super::prepare::{check_writable, connection_config};

/// The plan whose actions the search loads at each rate.
fn plan(a: &CapacityArgs) -> anyhow::Result<Plan> {
    // A one-stage placeholder: the search replaces the stages.
    let one = Some(std::time::Duration::from_secs(1));
    Ok(match (&a.plan, a.lifecycle) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the plan {}", path.display()))?;
            Plan::from_yaml(&text, &path.display().to_string(), None)?
        }
        (None, true) => {
            let follow = match a.poll {
                Some(d) if d.is_zero() => anyhow::bail!("--poll must be above 0"),
                Some(d) => Follow::Poll(d),
                None => Follow::Logs,
            };
            Plan::single(
                "lifecycle",
                Action::Lifecycle(follow),
                a.job.spec()?,
                Load::Rate(1.0),
                one,
                None,
            )?
        }
        (None, false) => Plan::single(
            "submit",
            Action::Call(Rpc::RunJob),
            a.job.spec()?,
            Load::Rate(1.0),
            one,
            None,
        )?,
    })
}

/// The search's settings from the flags, checked before anything is sent.
fn prepare(a: &CapacityArgs) -> anyhow::Result<CapacityConfig> {
    check_writable(a.json.as_deref(), "--json")?;
    check_writable(a.html.as_deref(), "--html")?;
    let plan = plan(a)?;
    let slo = a
        .slo
        .iter()
        .map(|r| threshold::parse(r))
        .collect::<Result<Vec<_>, _>>()
        .and_then(|rules| threshold::check(&rules, &plan.operations()).map(|()| rules))
        .map_err(|e| anyhow!("--slo {:?}: {}", e.rule, e.reason))?;
    let mut base = connection_config(&a.conn, plan, a.max_in_flight)?;
    base.progress = ProgressMode::Off;
    Ok(CapacityConfig {
        base,
        slo,
        search: Settings {
            start: a.start_rate,
            max: a.max_rate,
            growth: a.growth,
            precision: a.precision,
            confirm: a.confirm,
        },
        warmup: a.warmup,
        step: a.step_duration,
        max_generator_lag: a.max_generator_lag,
        progress: a.conn.progress != ProgressArg::Off,
    })
}

fn outputs(r: &CapacityReport, a: &CapacityArgs) -> anyhow::Result<()> {
    if let Some(path) = &a.json {
        json::write_capacity(r, path)?;
    }
    if let Some(path) = &a.html {
        std::fs::write(path, capacity_html::render(r))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if !a.conn.quiet {
        let _ = std::io::stdout()
            .lock()
            .write_all(render_table(r).as_bytes());
    }
    Ok(())
}

fn exit_code(r: &CapacityReport) -> ExitCode {
    if r.interrupted {
        return ExitCode::from(EXIT_INTERRUPTED);
    }
    if r.cleanup.failed > 0 {
        eprintln!(
            "error: {} job(s) of the search could not be deleted: they are still on the node",
            r.cleanup.failed
        );
        return ExitCode::FAILURE;
    }
    match r.result.outcome.as_str() {
        "found" | "above_max" => ExitCode::SUCCESS,
        "below_start" => ExitCode::from(EXIT_THRESHOLD),
        _ => ExitCode::FAILURE,
    }
}

/// Runs `capacity`.
pub(super) fn execute(a: &CapacityArgs, stop: &Stop) -> Result<ExitCode, Failure> {
    let cfg = prepare(a).map_err(Failure::Usage)?;
    let report = capacity(&cfg, stop).map_err(|e| match e {
        RunError::Config(_) => Failure::Usage(e.into()),
        e => Failure::Run(e.into()),
    })?;
    outputs(&report, a)?;
    Ok(exit_code(&report))
}
