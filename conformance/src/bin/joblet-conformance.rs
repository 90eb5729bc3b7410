//! `joblet-conformance`: certify a Joblet endpoint against the documented
//! behaviours (see `--help`). The logic lives in the library
//! ([`joblet_conformance::cli`]); this file parses flags, sets up logging,
//! runs the command and turns its error into exit code 2.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use joblet_conformance::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("joblet-conformance: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(cli::execute(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("joblet-conformance: {}", joblet_testkit::error_chain(&e));
            ExitCode::from(2)
        }
    }
}
