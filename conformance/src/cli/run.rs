//! The default command: certify a target (or the embedded mock) against the
//! catalogue, or print the catalogue (`--list`).

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::sync::Arc;

use joblet_testkit::contract::Api;
use joblet_testkit::detect::Detection;
use tokio_util::sync::CancellationToken;

use super::args::RunArgs;
use super::error::{CliError, Context as _, usage};
use super::local::{LocalMock, check_profile};
use super::output::{check_report_paths, conclude, ctrl_c, print_list};
use super::progress::Bar;
use crate::cases::catalogue;
use crate::ctx::Options;
use crate::outcome::State;
use crate::report::{self, JsonReport};
use crate::runner::{self, RunConfig, Selection};

/// Runs the selected cases against the target the flags name, or against an
/// embedded mock without one; prints and writes the reports.
pub(crate) async fn certify(args: RunArgs) -> Result<ExitCode, CliError> {
    check_profile(&args.mock_profile)?;
    if args.list {
        print_list(args.read_only);
        return Ok(ExitCode::SUCCESS);
    }
    let Some(selection) = selection(&args)? else {
        return Ok(ExitCode::SUCCESS);
    };
    let cases = selection.apply(catalogue());
    if cases.is_empty() {
        return usage(
            "no case matches the selection (--focus/--skip/--read-only/--rerun-failed); `--list` shows the catalogue",
        );
    }
    check_report_paths(&[
        (args.json.as_deref(), "JSON report"),
        (args.junit.as_deref(), "JUnit report"),
    ])?;
    let mut local = None;
    let mut options = Options {
        allow_delete_all: args.allow_delete_all,
        allow_remote_installs: args.allow_remote_installs,
        // A node allowed to install from GitHub may install a build too.
        allow_builds: args.allow_builds || args.allow_remote_installs,
        case_timeout: args.select.case_timeout,
    };
    let targets = match args.node.targets()? {
        Some(targets) => targets,
        None => {
            let mock = LocalMock::start(&args.mock_profile, args.embedded_api).await?;
            eprintln!(
                "no --target: certifying an embedded joblet-mock ({} profile{}) on {} (plaintext) and {} (mutual TLS roles)",
                mock.profile,
                match args.embedded_api {
                    Api::Both => String::new(),
                    one => format!(", contract {} alone", one.proto_tag()),
                },
                mock.targets.main.addr,
                mock.targets
                    .viewer
                    .as_ref()
                    .map(|t| t.addr.clone())
                    .unwrap_or_default()
            );
            // The embedded mock is this run's own: nothing of anyone else's to protect.
            options.allow_delete_all = true;
            options.allow_remote_installs = true;
            options.allow_builds = true;
            let t = mock.targets.clone();
            local = Some(mock);
            t
        }
    };
    let bar = Arc::new(Bar::new(cases.len() * args.repeat as usize));
    let cancel = CancellationToken::new();
    ctrl_c(cancel.clone());
    let config = RunConfig {
        targets,
        options,
        parallel: args.select.parallel as usize,
        repeat: args.repeat,
        run_timeout: Some(args.timeout),
        run_id: args.run_id.clone(),
        cancel,
        progress: bar.clone(),
        contract: args
            .node
            .contract
            .map(|c| Detection::given(c, "--contract")),
        // A given contract the node does not serve: a compatibility report.
        detect_given: args.node.contract.is_some(),
    };
    let result = runner::run(&cases, config).await;
    bar.bar.finish_and_clear();
    if let Some(mock) = local {
        mock.shutdown().await;
    }
    conclude(
        &result,
        &report::human(&result, args.verbose),
        args.json.as_deref(),
        args.junit.as_deref(),
    )
}

/// The selection the flags ask for; `None` when `--rerun-failed` names a
/// report without a failed or errored case (nothing to run).
fn selection(args: &RunArgs) -> Result<Option<Selection>, CliError> {
    let mut selection = Selection {
        focus: args.select.focus.clone(),
        skip: args.select.skip.clone(),
        read_only: args.read_only,
        only: None,
    };
    if let Some(path) = &args.rerun_failed {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("--rerun-failed: cannot read {}", path.display()))?;
        let old = JsonReport::parse(&text).with_context(|| {
            format!(
                "--rerun-failed: {} is not a joblet-conformance JSON report",
                path.display()
            )
        })?;
        let names: BTreeSet<String> = old
            .run
            .outcomes
            .iter()
            .filter(|o| matches!(o.state, State::Fail | State::Error))
            .map(|o| o.case.clone())
            .collect();
        if names.is_empty() {
            eprintln!(
                "--rerun-failed: {} has no failed or errored case: nothing to run",
                path.display()
            );
            return Ok(None);
        }
        selection.only = Some(names);
    }
    Ok(Some(selection))
}
