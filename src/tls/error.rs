//! The errors of setting up TLS: files that cannot be read or written, PEM
//! data without a usable certificate or key, and what rustls or rcgen refused.

use std::io;
use std::path::PathBuf;

use tokio_rustls::rustls;

/// Errors setting up TLS.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {what} {}: {source}", path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// PEM data holds no usable certificate or key.
    #[error("{what}: {reason}")]
    Invalid { what: &'static str, reason: String },
    /// rustls refused the certificates or key.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    /// Certificate generation failed.
    #[error("generating certificates: {0}")]
    Generate(#[from] rcgen::Error),
}
