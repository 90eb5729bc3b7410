//! Why a command of the binary could not do its work: bad usage, or a step
//! that failed, with what was being done. The binary prints it with its
//! causes ([`joblet_testkit::error_chain`]) and exits with code 2.

use std::fmt;

/// An error of a `joblet-conformance` command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// Flags that do not fit together, or a request this binary cannot serve.
    #[error("{0}")]
    Usage(String),
    /// A step failed: what was being done, and why.
    #[error("{what}")]
    Step {
        /// What was being done (`--out app.jsonl`, `starting the embedded mock`).
        what: String,
        /// Why it failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The connection flags (`--target`, `--node`, `--ca`, roles).
    #[error(transparent)]
    Connect(#[from] joblet_testkit::cli::CliError),
    /// The recording proxy did not start.
    #[error(transparent)]
    Proxy(#[from] crate::proxy::ProxyError),
    /// A transcript could not be read.
    #[error(transparent)]
    Transcript(#[from] joblet_testkit::transcript::TranscriptError),
    /// A rule file could not be read.
    #[error(transparent)]
    Rules(#[from] crate::replay::rules::RulesError),
    /// Standard output could not be written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The kill matrix could not be rendered as JSON.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// A usage error: `Err(CliError::Usage(..))`.
pub(crate) fn usage<T>(message: impl Into<String>) -> Result<T, CliError> {
    Err(CliError::Usage(message.into()))
}

/// Says what was being done when an error happened.
pub(crate) trait Context<T> {
    /// The error, as the failure of `what`.
    fn context(self, what: impl fmt::Display) -> Result<T, CliError>;
    /// The error, as the failure of what `what` says (computed on failure only).
    fn with_context<D: fmt::Display>(self, what: impl FnOnce() -> D) -> Result<T, CliError>;
}

impl<T, E> Context<T> for Result<T, E>
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn context(self, what: impl fmt::Display) -> Result<T, CliError> {
        self.map_err(|e| CliError::Step {
            what: what.to_string(),
            source: Box::new(e),
        })
    }

    fn with_context<D: fmt::Display>(self, what: impl FnOnce() -> D) -> Result<T, CliError> {
        self.map_err(|e| CliError::Step {
            what: what().to_string(),
            source: Box::new(e),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_prints_what_then_why() {
        let e = std::fs::read("/nonexistent-dir/x")
            .context("--rerun-failed: cannot read /nonexistent-dir/x")
            .unwrap_err();
        let text = joblet_testkit::error_chain(&e);
        assert!(
            text.starts_with("--rerun-failed: cannot read /nonexistent-dir/x: "),
            "{text}"
        );
        let e = usage::<()>("no case matches").unwrap_err();
        assert_eq!(joblet_testkit::error_chain(&e), "no case matches");
    }
}
