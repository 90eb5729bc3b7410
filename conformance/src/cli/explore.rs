//! `joblet-conformance explore`: random sequences against a target (or an
//! embedded mock, optionally a mutant of it), judged by the model.

use std::process::ExitCode;
use std::time::Duration;

use super::args::{ClockArg, ExploreArgs};
use super::error::{CliError, Context as _, usage};
use super::local::{check_profile, non_default_profile};
use crate::ctx::Targets;
use crate::explore::clock::TimeSource;
use crate::explore::driver::{self, ExploreConfig};
use joblet_testkit::detect::Detection;

/// The report's first line: `v2.5.9 (detected from server_version proto
/// tag v2.5.9)`, `both (given by the embedded mock's api)`.
fn contract_line(d: &Detection) -> String {
    if d.how.starts_with("given by ") {
        format!("{} ({})", d.label(), d.how)
    } else if d.how.starts_with("from ") {
        format!("{} (detected {})", d.label(), d.how)
    } else {
        format!("{} (detected: {})", d.label(), d.how)
    }
}

/// A mock started for the exploration.
#[derive(Debug)]
struct Local {
    #[cfg(feature = "embedded")]
    embedded: crate::embedded::Embedded,
}

impl Local {
    async fn shutdown(self) {
        #[cfg(feature = "embedded")]
        self.embedded.shutdown().await;
    }
}

#[cfg(feature = "embedded")]
async fn start_local(args: &ExploreArgs) -> Result<(Targets, Local, String), CliError> {
    let mutant = match &args.mutant {
        Some(m) => Some(
            m.parse::<joblet_mock::Mutant>()
                .map_err(|e| CliError::Usage(format!("--mutant: {e}")))?,
        ),
        None => None,
    };
    let clock = if args.clock == Some(super::args::ClockArg::Wall) {
        joblet_mock::ClockMode::Real
    } else {
        joblet_mock::ClockMode::Manual
    };
    let embedded = crate::embedded::Embedded::start(joblet_mock::MockConfig {
        profile: args.mock_profile,
        mutant,
        clock,
        api: args.contract.given().unwrap_or_default(),
        ..joblet_mock::MockConfig::default()
    })
    .await
    .context("starting the embedded mock")?;
    let what = format!(
        "an embedded joblet-mock ({} profile{}) on {}",
        args.mock_profile.name(),
        mutant.map(|m| format!(", mutant {m}")).unwrap_or_default(),
        embedded.targets.main.addr
    );
    Ok((embedded.targets.clone(), Local { embedded }, what))
}

#[cfg(not(feature = "embedded"))]
async fn start_local(args: &ExploreArgs) -> Result<(Targets, Local, String), CliError> {
    let _ = args;
    Err(super::local::no_embedded(
        "no --target, --node or JOBLET_HOST",
    ))
}

/// Explores the target the flags name, prints the finding (if any) and the
/// coverage.
pub(crate) async fn explore(args: ExploreArgs) -> Result<ExitCode, CliError> {
    if args.read_only {
        return usage(
            "--read-only: the explorer creates jobs, networks and volumes (under its run prefix, removed at the end), so it cannot run read-only; use `joblet-conformance --read-only` for a read-only certification",
        );
    }
    check_profile(&args.mock_profile)?;
    let targets: Vec<String> = args.target.iter().cloned().collect();
    let resolved = args.connect.resolve(&targets)?;
    let (targets, local, what) = match resolved.into_iter().next() {
        Some(main) => {
            if let Some(profile) = non_default_profile(&args.mock_profile) {
                return usage(format!(
                    "--profile {profile} is the embedded mock's, and a target ({}) is given",
                    main.addr
                ));
            }
            if args.mutant.is_some() {
                return usage("--mutant is the embedded mock's: leave the target out");
            }
            let what = main.addr.clone();
            (args.roles.targets(&args.connect, main)?, None, what)
        }
        None => {
            if args.roles.any() {
                return usage(
                    "--viewer-*/--no-role-* name identities of a target: the embedded mock has its own",
                );
            }
            let (t, l, w) = start_local(&args).await?;
            (t, Some(l), w)
        }
    };
    let detection = match (args.contract.given(), &local) {
        (Some(api), None) => Detection::given(api, "--contract (JOBLET_CONTRACT)"),
        (given, Some(_)) => Detection::given(given.unwrap_or_default(), "the embedded mock's api"),
        (None, None) => {
            let channel = targets.main.connect().await.with_context(|| {
                format!("connecting to {} to detect its contract", targets.main.addr)
            })?;
            joblet_testkit::detect::detect(channel).await
        }
    };
    let seed = args.seed.unwrap_or_else(rand::random);
    let time = match (args.clock, local.is_some()) {
        (Some(ClockArg::Mock), _) | (None, true) => TimeSource::MOCK,
        _ => TimeSource::Wall,
    };
    let default_grace = match (time, local.is_some()) {
        (TimeSource::Mock { .. }, _) => 100,
        (_, true) => 300,
        _ => 2000,
    };
    let config = ExploreConfig {
        seed,
        steps: args.steps as usize,
        sequences: args.sequences as usize,
        duration: args.duration,
        parallel: args.parallel as usize,
        grace: args.grace.unwrap_or(Duration::from_millis(default_grace)),
        run_id: args.run_id.clone().unwrap_or_else(crate::ctx::new_run_id),
        shrink: !args.no_shrink,
        contracts: detection.contract,
        admin: crate::explore::admin::Admin::connect(
            &targets,
            args.allow_installs || local.is_some(),
        )
        .await
        .context("connecting the viewer and no-role identities")?,
        time,
        ..ExploreConfig::default()
    };
    println!("contract: {}", contract_line(&detection));
    eprintln!(
        "exploring {what} ({}; {}): seed {seed}, {} sequence(s) of {} operations, {} at once, run cf-{}-",
        config.admin.describe(),
        config.time.describe(),
        config.sequences,
        config.steps,
        config.parallel,
        config.run_id
    );
    let channel = targets
        .main
        .connect()
        .await
        .with_context(|| format!("connecting to {}", targets.main.addr))?;
    let result = driver::explore(channel, &config).await;
    let mut code = ExitCode::SUCCESS;
    if let Some(f) = &result.finding {
        print!("{}", driver::show_finding(f, config.steps));
        code = ExitCode::from(1);
        if let Some(path) = &args.transcript {
            let again = driver::record_finding(&targets, f, &config, path.clone())
                .await
                .with_context(|| format!("--transcript {}", path.display()))?;
            let note = if again.failed.is_some() {
                "the recorded run disagreed again"
            } else {
                "the recorded run did NOT disagree this time (timing)"
            };
            println!(
                "transcript: {} ({note}); replay it with `joblet-conformance replay {}`",
                path.display(),
                path.display()
            );
        }
    } else if args.transcript.is_some() {
        eprintln!("no finding: no transcript written");
    }
    print!("{}", driver::show_coverage(&result));
    for e in &result.errors {
        println!("ERROR: {e}");
    }
    for l in &result.leaks {
        println!("LEAK: {} ({})", l.resource, l.reason);
    }
    if !result.leaks.is_empty() || !result.errors.is_empty() {
        code = ExitCode::from(1);
    }
    println!(
        "{} sequence(s), {} calls in {:.1} s ({:.0} calls/s): {}",
        result.sequences,
        result.steps,
        result.elapsed.as_secs_f64(),
        result.rate(),
        if result.finding.is_some() {
            "1 finding"
        } else {
            "no finding"
        }
    );
    if let Some(l) = local {
        l.shutdown().await;
    }
    Ok(code)
}
