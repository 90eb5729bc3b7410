//! What the commands print and write: the catalogue list, the reports at the
//! end of a run or a replay (and the check, before it, that they can be
//! written), and the exit code.

use std::path::Path;
use std::process::ExitCode;

use tokio_util::sync::CancellationToken;

use super::error::{CliError, Context as _};
use crate::case::Effect;
use crate::cases::catalogue;
use crate::outcome::RunResult;
use crate::report::{self, JsonReport};

/// `--list`: one line per case (name, IDs, level, effect, the contracts it
/// holds in, server-v1 and server-v2 quirks).
pub(crate) fn print_list(read_only: bool) {
    for c in catalogue() {
        if read_only && c.effect != Effect::ReadOnly {
            continue;
        }
        let mut quirks = String::new();
        if !c.quirks.is_empty() {
            quirks.push_str(&format!("  (server-v1: {})", c.quirks.join(", ")));
        }
        if !c.quirks_v2.is_empty() {
            quirks.push_str(&format!("  (server-v2: {})", c.quirks_v2.join(", ")));
        }
        let contracts: Vec<&str> = c.contracts.iter().map(|a| a.name()).collect();
        let line = format!(
            "{:<66} {:<34} {:<6} {:<9} {:<5}{quirks}",
            c.name,
            c.ids.join(","),
            c.level.to_string(),
            c.effect.to_string(),
            contracts.join(",")
        );
        println!("{}", line.trim_end());
    }
}

/// Ctrl-C cancels the run (its cases stop and are cleaned up); a second
/// Ctrl-C quits at once with exit code 130.
pub(crate) fn ctrl_c(cancel: CancellationToken) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "\ninterrupted: stopping the cases and cleaning up (Ctrl-C again to quit at once)"
            );
            cancel.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("quitting without cleanup: resources named cf-<run id>-… may remain");
                std::process::exit(130);
            }
        }
    });
}

/// Writes a report (`what` names it in the error).
pub(crate) fn write(path: &Path, text: &str, what: &str) -> Result<(), CliError> {
    std::fs::write(path, text)
        .with_context(|| format!("cannot write the {what} to {}", path.display()))
}

/// Checks, before anything runs, that the reports asked for can be written
/// (a long run against a node should not end in "cannot write"): each file is
/// created, or opened for writing if it exists, and left for the run's end.
pub(crate) fn check_report_paths(paths: &[(Option<&Path>, &str)]) -> Result<(), CliError> {
    for (path, what) in paths {
        if let Some(path) = path {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot write the {what} to {}", path.display()))?;
        }
    }
    Ok(())
}

/// The end of a run or a replay: prints the human summary, writes the JSON
/// and JUnit reports asked for, and gives the exit code (0 only when it
/// passed and was not interrupted; a compatibility report: 0 once complete,
/// [`crate::compat::produced`]).
pub(crate) fn conclude(
    result: &RunResult,
    human: &str,
    json: Option<&Path>,
    junit: Option<&Path>,
) -> Result<ExitCode, CliError> {
    print!("{human}");
    if let Some(path) = json {
        write(path, &JsonReport::new(result).to_json(), "JSON report")?;
        eprintln!("JSON report: {}", path.display());
    }
    if let Some(path) = junit {
        write(path, &report::junit(result), "JUnit report")?;
        eprintln!("JUnit report: {}", path.display());
    }
    // A compatibility report's breaks are its findings: 0 once produced.
    let ok = match &result.compatibility {
        Some(_) => crate::compat::produced(result),
        None => result.passed() && !result.interrupted,
    };
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
