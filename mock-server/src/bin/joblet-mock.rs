//! `joblet-mock`: the mock Joblet server as a command.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use joblet_mock::{MockConfig, UnknownCommand, catalogue, sim};
use tokio::net::TcpListener;

/// An in-memory Joblet v1 server for SDK tests: jobs are simulated (no real
/// processes), state lives in memory, nothing needs root.
///
/// Prints one line `joblet-mock listening on ADDR` once it accepts calls, then
/// serves until SIGINT or SIGTERM. Logs go to stderr (filter with RUST_LOG, e.g.
/// RUST_LOG=joblet_mock=debug).
///
/// Example: joblet-mock --listen 127.0.0.1:50051 --gpus 2 --scenario fixtures/scenarios/examples.yaml
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Args {
    /// Plaintext (h2c) address to listen on; port 0 picks a free port.
    #[arg(long, env = "JOBLET_MOCK_LISTEN", default_value = "127.0.0.1:50051")]
    listen: SocketAddr,

    /// Number of simulated GPUs on the node.
    #[arg(long, env = "JOBLET_MOCK_GPUS", default_value_t = 0)]
    gpus: u32,

    /// Memory of each simulated GPU, in MB.
    #[arg(long, env = "JOBLET_MOCK_GPU_MEMORY_MB", default_value_t = 16_384)]
    gpu_memory_mb: u32,

    /// Scenario file scripting non-built-in commands (repeatable; first match wins).
    #[arg(long = "scenario", value_name = "FILE")]
    scenarios: Vec<PathBuf>,

    /// What a command that is neither built in nor scripted does:
    /// succeed (exit 0, no output) or fail (exit 127, "command not found").
    #[arg(long, value_enum, env = "JOBLET_MOCK_UNKNOWN_COMMAND", default_value_t = UnknownCommand::Succeed)]
    unknown_command: UnknownCommand,

    /// History kept per job, in bytes (older output is dropped once exceeded).
    #[arg(long, env = "JOBLET_MOCK_LOG_RETENTION_BYTES", default_value_t = joblet_mock::config::DEFAULT_LOG_RETENTION)]
    log_retention_bytes: usize,

    /// Runtime catalogue replacing the built-in one (YAML, see fixtures/runtimes.yaml).
    #[arg(long, value_name = "FILE")]
    runtimes: Option<PathBuf>,

    /// CPU cores of the simulated host (default: this machine's).
    #[arg(long)]
    cpu_cores: Option<u32>,

    /// Node ID reported in jobs and monitoring (default: a random UUID).
    #[arg(long)]
    node_id: Option<String>,

    /// Seed for the synthetic monitoring figures (reproducible runs).
    #[arg(long)]
    seed: Option<u64>,
}

impl Args {
    fn into_config(self) -> anyhow::Result<(SocketAddr, MockConfig)> {
        let mut config = MockConfig {
            gpus: self.gpus,
            gpu_memory_mb: self.gpu_memory_mb,
            unknown_command: self.unknown_command,
            log_retention_bytes: self.log_retention_bytes,
            seed: self.seed,
            ..MockConfig::default()
        };
        if self.log_retention_bytes == 0 {
            anyhow::bail!("--log-retention-bytes must be at least 1");
        }
        config.scenarios = sim::load_scenarios(&self.scenarios).context("loading --scenario files")?;
        config.scenario_files = self.scenarios;
        if let Some(path) = &self.runtimes {
            config.runtimes = catalogue::load(path).context("loading --runtimes")?;
        }
        if let Some(cores) = self.cpu_cores {
            anyhow::ensure!(cores > 0, "--cpu-cores must be at least 1");
            config.host_cores = cores;
        }
        if let Some(id) = self.node_id {
            config.node_id = id;
        }
        Ok((self.listen, config))
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let (listen, config) = Args::parse().into_config()?;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let shared = joblet_mock::state::Shared::new(config);
    println!("joblet-mock listening on {addr}");
    use std::io::Write;
    std::io::stdout().flush()?;
    joblet_mock::serve(listener, shared, shutdown_signal())
        .await
        .context("serving")?;
    Ok(())
}
