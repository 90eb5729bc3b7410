//! `joblet-loadgen`: parses the flags, installs logging and runs the command
//! (everything else lives in the library).

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = joblet_loadgen::cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    joblet_loadgen::cli::execute(cli)
}
