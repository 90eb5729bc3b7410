//! What a job brings to the simulator: its environment, uploaded files,
//! work dir, id and clock ([`ExecContext`]), and what happens to commands
//! nobody simulates ([`UnknownCommand`]).

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use bytes::Bytes;

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

/// What a simulated job sees of its node, on the clock `C` (a
/// [`Clock`](crate::Clock)).
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
    /// The job's clock: sleeps wait on it and `date` reads it.
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
