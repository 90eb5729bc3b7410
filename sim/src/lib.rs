//! Job simulation: no real processes. The command decides what a job writes,
//! how long it takes and how it exits.
//!
//! - Built-in commands act as on a Linux node (`echo`, `printf`, `seq`, `sleep`,
//!   `cat`, `env`, `date`, `head -c N /dev/zero`, `yes | head -n N`, ...), and
//!   `sh -c` / `bash -c` scripts built from them are interpreted (module
//!   `shell`: parsing with brush-parser, what is supported and what is not).
//! - Anything else is matched against scenario files (`--scenario`, format in
//!   [`scenario`]); with no match the `--unknown-command` policy decides.
//!
//! Output goes to the job's [`LogWriter`] in batches of up to 64 KiB, flushed
//! before every sleep, so live output streams on time while bulk output (a
//! gigabyte of `/dev/zero`) is produced at the reader's pace in bounded memory.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use bytes::Bytes;

mod builtins;
mod date;
mod expand;
mod glob;
mod host;
mod io;
mod printf;
pub mod scenario;
mod shell;
mod syntax;

pub use host::{Clock, Output};
pub use scenario::{
    Lifecycle, Plan, Resources, Scenario, ScenarioError, load_scenarios, parse_scenarios,
};

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

/// `PATH` of every job (the node's default).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The environment of a job setting `vars`: [`DEFAULT_PATH`] and `vars` (which
/// may override it). Jobs setting nothing share one map.
pub fn job_environment<'v>(
    vars: impl IntoIterator<Item = &'v (String, String)>,
) -> Arc<BTreeMap<String, String>> {
    static DEFAULT: LazyLock<Arc<BTreeMap<String, String>>> = LazyLock::new(|| {
        Arc::new(BTreeMap::from([(
            "PATH".to_owned(),
            DEFAULT_PATH.to_owned(),
        )]))
    });
    let mut vars = vars.into_iter().peekable();
    if vars.peek().is_none() {
        return Arc::clone(&DEFAULT);
    }
    let mut env = BTreeMap::clone(&DEFAULT);
    env.extend(vars.cloned());
    Arc::new(env)
}

/// What a simulated job sees of its node.
#[derive(Debug, Clone, Default)]
pub struct ExecContext<C> {
    /// Environment: the job's environment and secret environment, plus node
    /// defaults (see [`job_environment`]). Shared: a job's shell copies it
    /// only if a script changes a variable.
    pub env: Arc<BTreeMap<String, String>>,
    /// Uploaded files keyed by their normalised relative path.
    pub files: Arc<BTreeMap<String, UploadedFile>>,
    /// Working directory (`/work` unless the request set one).
    pub work_dir: Arc<str>,
    /// The job's UUID.
    pub job_id: Arc<str>,
    /// The session's clock: sleeps wait on it and `date` reads it.
    pub clock: C,
}

/// What happens to a command that is neither built in nor in a scenario.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum UnknownCommand {
    /// Exit 0 with no output (a line in the mock's own log names the command).
    #[default]
    Succeed,
    /// Exit 127 with "command not found" in the job's log, as a node without the program.
    Fail,
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

    /// The scripted commands, in the order they are tried (first match wins).
    pub fn scenarios(&self) -> &[Scenario] {
        &self.scenarios
    }

    /// What a command that is neither built in nor scripted does.
    pub fn unknown_command(&self) -> UnknownCommand {
        self.unknown
    }

    /// The scenario a job running `command args…` plays: the first match,
    /// unless the command is built in (a builtin or a shell runs instead).
    fn scenario_for(&self, command: &str, args: &[String]) -> Option<&Scenario> {
        // The common case, on the RunJob path: no scenario files at all.
        if self.scenarios.is_empty() {
            return None;
        }
        let base = command.rsplit('/').next().unwrap_or(command);
        let absolute = command.starts_with('/');
        if shell::builtin_name(command).is_some()
            || shell::is_shell(command)
            || (absolute && (shell::as_builtin(base).is_some() || matches!(base, "sh" | "bash")))
        {
            return None;
        }
        self.scenarios.iter().find(|s| s.matches(command, args))
    }

    /// The stages, failure and timeout of the scenario a job running
    /// `command args…` plays (`None`: none, or it only has steps).
    pub fn lifecycle(&self, command: &str, args: &[String]) -> Option<Lifecycle> {
        self.scenario_for(command, args)
            .map(Scenario::lifecycle)
            .filter(|l| !l.is_empty())
    }

    /// The monitoring figures of the scenario a job running `command args…` plays.
    pub fn resources(&self, command: &str, args: &[String]) -> Option<Resources> {
        self.scenario_for(command, args)?.resources
    }

    /// Runs `command args…` to completion, writing its output to `out`, and
    /// returns the exit code. Cancel-safe: dropping the future stops the job.
    pub async fn run<O: Output, C: Clock>(
        &self,
        command: &str,
        args: &[String],
        ctx: &ExecContext<C>,
        out: &mut O,
    ) -> i32 {
        let mut argv = Vec::with_capacity(args.len() + 1);
        argv.push(command.to_owned());
        argv.extend(args.iter().cloned());
        let mut sh = shell::Shell::new(ctx, Arc::clone(&self.scenarios), self.unknown, out);
        sh.run_top(argv).await
    }
}

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
