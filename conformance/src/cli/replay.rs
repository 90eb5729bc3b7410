//! `joblet-conformance replay`: transcripts played against a target (or the
//! embedded mock), every answer compared with the recorded one.

use std::process::ExitCode;
use std::sync::Arc;

use joblet_testkit::detect::Detection;
use tokio_util::sync::CancellationToken;

use super::args::ReplayArgs;
use super::error::{CliError, usage};
use super::local::{LocalMock, check_profile, non_default_profile};
use super::output::{check_report_paths, conclude, ctrl_c};
use super::progress::Bar;
use crate::ctx::Targets;
use crate::replay::rules::RuleSet;
use crate::replay::{self, ReplayConfig, Transcript};
use crate::report;

/// Replays the transcripts the flags name and reports every difference.
pub(crate) async fn replay_transcripts(args: ReplayArgs) -> Result<ExitCode, CliError> {
    check_profile(&args.mock_profile)?;
    let mut transcripts = Vec::new();
    for path in &args.files {
        let t = Transcript::load(path)?;
        if t.lines.is_empty() {
            return usage(format!(
                "{} holds no call: a replay of nothing proves nothing (record one with `joblet-conformance record` or `joblet-mock --record`)",
                path.display()
            ));
        }
        transcripts.push(t);
    }
    let mut rules = RuleSet::defaults();
    if let Some(path) = &args.rules {
        rules = rules.then(RuleSet::load(path)?);
    }
    check_report_paths(&[
        (args.json.as_deref(), "JSON report"),
        (args.junit.as_deref(), "JUnit report"),
    ])?;
    let (targets, local) = targets(&args).await?;
    let contract = match contract(&args, &targets, &transcripts).await {
        Ok(c) => c,
        Err(e) => {
            if let Some(mock) = local {
                mock.shutdown().await;
            }
            return Err(e);
        }
    };
    let total: usize = transcripts.iter().map(|t| t.lines.len()).sum();
    let bar = Arc::new(Bar::new(total));
    let cancel = CancellationToken::new();
    ctrl_c(cancel.clone());
    let mut config = ReplayConfig::new(targets);
    config.rules = rules;
    config.run_id = args.run_id.clone();
    config.settle = args.settle;
    config.call_timeout = args.call_timeout;
    config.pace = args.pace;
    // An embedded mock is the replay's own.
    config.allow_delete_all = args.allow_delete_all || local.is_some();
    config.allow_remote_installs = args.allow_remote_installs || local.is_some();
    config.cleanup = !args.no_cleanup;
    config.cancel = cancel;
    config.progress = bar.clone();
    config.contract = contract;
    let result = replay::replay(&transcripts, config).await;
    bar.bar.finish_and_clear();
    if let Some(mock) = local {
        mock.shutdown().await;
    }
    conclude(
        &result,
        &report::human_replay(&result, args.verbose),
        args.json.as_deref(),
        args.junit.as_deref(),
    )
}

/// The contract of the target (given by `--contract`, or detected; `None`
/// when the target cannot be reached: the replay reports that), refused with
/// a usage error when a transcript was recorded against the other contract
/// and `--any-contract` is not given.
async fn contract(
    args: &ReplayArgs,
    targets: &Targets,
    transcripts: &[Transcript],
) -> Result<Option<Detection>, CliError> {
    let detection = match args.node.contract {
        Some(c) => Detection::given(c, "--contract"),
        None => match targets.main.connect().await {
            Ok(channel) => joblet_testkit::detect::detect(channel).await,
            Err(_) => return Ok(None),
        },
    };
    if !args.any_contract {
        for t in transcripts {
            if let Some(why) = t.refusal(detection.contract, &detection.how) {
                return usage(why);
            }
        }
    }
    Ok(Some(detection))
}

/// The targets the flags name, or those of an embedded mock started for the
/// replay.
async fn targets(args: &ReplayArgs) -> Result<(Targets, Option<LocalMock>), CliError> {
    if let Some(targets) = args.node.targets()? {
        if let Some(profile) = non_default_profile(&args.mock_profile) {
            return usage(format!(
                "--profile {profile} is the embedded mock's, and a target ({}) is given: start `joblet-mock --profile {profile}` and point --target at it, or leave the target out",
                targets.main.addr,
            ));
        }
        return Ok((targets, None));
    }
    let mock = LocalMock::start(&args.mock_profile, joblet_testkit::contract::Api::Both).await?;
    eprintln!(
        "no --target: replaying against an embedded joblet-mock ({} profile) on {}",
        mock.profile, mock.targets.main.addr
    );
    Ok((mock.targets.clone(), Some(mock)))
}
