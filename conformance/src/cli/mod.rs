//! The `joblet-conformance` binary's commands: its flags ([`Cli`]), and what
//! each command does with them. The binary parses the flags, sets up logging
//! and calls [`execute`]; an error is printed with its causes and gives exit
//! code 2.
//!
//! `args` holds the flags and help texts, `run` certifies a target (the
//! default command), `record` runs the recording proxy, `replay` replays
//! transcripts, `mutants` runs the mutants; `local` starts the embedded mock
//! (feature `embedded`; without it, asking for one is a usage error),
//! `progress` draws the live progress line, `output` prints and writes the
//! reports, `error` is [`CliError`].

mod args;
mod error;
mod explore;
mod local;
mod mutants;
mod output;
mod progress;
mod record;
mod replay;
mod run;

use std::process::ExitCode;

pub use args::Cli;
use args::Command;
pub use error::CliError;
pub use local::NO_EMBEDDED;

/// Runs the command `cli` names: the exit code of a command that ran (0 or
/// 1, see `--help`), or why it could not (bad usage, a setup that failed).
pub async fn execute(cli: Cli) -> Result<ExitCode, CliError> {
    match cli.command {
        Some(Command::Mutants(m)) => mutants::mutants(m).await,
        Some(Command::Record(r)) => record::record(*r).await,
        Some(Command::Replay(r)) => replay::replay_transcripts(*r).await,
        Some(Command::Explore(e)) => explore::explore(*e).await,
        None => run::certify(cli.run).await,
    }
}

#[cfg(all(test, not(feature = "embedded")))]
mod tests {
    use clap::Parser as _;

    use super::*;

    /// Runs the binary's command for `args` and returns its error.
    async fn error_of(args: &[&str]) -> CliError {
        let cli =
            Cli::try_parse_from(std::iter::once("joblet-conformance").chain(args.iter().copied()))
                .expect("the flags parse");
        execute(cli).await.expect_err("a usage error")
    }

    #[tokio::test]
    async fn without_the_embedded_mock_what_needs_it_is_a_usage_error() {
        let mut cases: Vec<(&[&str], &str)> = vec![
            (&["mutants"], "mutants: "),
            (
                &["--mock-profile", "server-v1", "--target", "127.0.0.1:1"],
                "--mock-profile: ",
            ),
            (
                &["replay", "--profile", "server-v1", "t.jsonl"],
                "--mock-profile: ",
            ),
        ];
        // Without a target (JOBLET_HOST would give one).
        if std::env::var_os("JOBLET_HOST").is_none() && std::env::var_os("JOBLET_NODE").is_none() {
            cases.push((
                &["--focus", "jobs.stop.*"],
                "no --target, --node or JOBLET_HOST: ",
            ));
        }
        for (args, start) in cases {
            let e = error_of(args).await;
            assert!(matches!(e, CliError::Usage(_)), "{args:?}: {e:?}");
            let text = e.to_string();
            assert!(text.starts_with(start), "{args:?}: {text}");
            assert!(text.ends_with(NO_EMBEDDED), "{args:?}: {text}");
        }
    }
}
