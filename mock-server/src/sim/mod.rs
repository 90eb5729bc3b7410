//! Job simulation: no real processes. The command decides what a job writes,
//! how long it takes and how it exits.
//!
//! - Built-in commands act as on a Linux node (`echo`, `printf`, `seq`, `sleep`,
//!   `cat`, `env`, `date`, `head -c N /dev/zero`, `yes | head -n N`, ...), and
//!   `sh -c` / `bash -c` scripts built from them are interpreted.
//! - Anything else is matched against scenario files (`--scenario`); with no
//!   match the `--unknown-command` policy decides.
//!
//! PLACEHOLDER: the full interpreter lands in this module (see `shell`, `builtins`, `scenario`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;

use crate::logs::LogWriter;

/// A file or directory uploaded with the job, relative to the work dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedFile {
    /// File content (empty for directories).
    pub content: Bytes,
    /// Unix permission bits.
    pub mode: u32,
    /// Whether the entry is a directory.
    pub is_dir: bool,
}

/// What a simulated job sees of its node.
#[derive(Debug, Clone, Default)]
pub struct ExecContext {
    /// Environment: the job's environment and secret environment, plus node defaults.
    pub env: BTreeMap<String, String>,
    /// Uploaded files keyed by their normalised relative path.
    pub files: Arc<BTreeMap<String, UploadedFile>>,
    /// Working directory (`/work` unless the request set one).
    pub work_dir: String,
    /// The job's UUID.
    pub job_id: String,
}

/// What happens to a command that is neither built in nor in a scenario.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum UnknownCommand {
    /// Exit 0 with no output (a line in the mock's own log names the command).
    #[default]
    Succeed,
    /// Exit 127 with "command not found" in the job's log, as a node without the program.
    Fail,
}

/// One scripted command (from `fixtures/scenarios/*.yaml`).
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {}

/// Scenario files that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file cannot be read.
    #[error("cannot read scenario file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Loads every scenario in `paths` (files, in order).
pub fn load_scenarios(paths: &[PathBuf]) -> Result<Vec<Scenario>, ScenarioError> {
    let _ = paths;
    Ok(Vec::new())
}

/// Runs simulated commands.
#[derive(Debug, Clone, Default)]
pub struct Simulator {
    scenarios: Arc<Vec<Scenario>>,
    unknown: UnknownCommand,
}

impl Simulator {
    /// A simulator with these scenarios and unknown-command policy.
    pub fn new(scenarios: Vec<Scenario>, unknown: UnknownCommand) -> Self {
        Self {
            scenarios: Arc::new(scenarios),
            unknown,
        }
    }

    /// Runs `command args…` to completion, writing its output to `out`, and
    /// returns the exit code. Cancel-safe: dropping the future stops the job.
    pub async fn run(
        &self,
        command: &str,
        args: &[String],
        ctx: &ExecContext,
        out: &mut LogWriter,
    ) -> i32 {
        let _ = (ctx, &self.scenarios);
        match command {
            "echo" => {
                out.line(&args.join(" ")).await;
                0
            }
            "true" => 0,
            "false" => 1,
            _ => match self.unknown {
                UnknownCommand::Succeed => 0,
                UnknownCommand::Fail => {
                    out.line(&format!("{command}: command not found")).await;
                    127
                }
            },
        }
    }
}
