//! Why the check could not run.

use std::path::PathBuf;

/// Why the check could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is not Rust that `syn` parses.
    #[error("{path}:{line}: cannot parse: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where.
        line: usize,
        /// What `syn` said.
        message: String,
    },
    /// The architecture document's rules are malformed.
    #[error("architecture document, line {line}: {message}")]
    Rules {
        /// Where.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The workspace manifest lists no members, or a rule names no package.
    #[error("{0}")]
    Workspace(String),
}
