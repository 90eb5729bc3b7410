//! Errors of the shared crate.

use std::path::PathBuf;

/// What can go wrong when reaching a Joblet endpoint or loading shared data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The target address is not a valid URI or `host:port`.
    #[error("invalid target address {addr:?}: {reason}")]
    InvalidAddress { addr: String, reason: String },
    /// A TLS file could not be read.
    #[error("cannot read {what} {path}: {source}")]
    TlsFile {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The TLS configuration was refused by the transport.
    #[error("TLS configuration rejected: {0}")]
    Tls(#[source] tonic::transport::Error),
    /// The connection could not be established.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: tonic::transport::Error,
    },
    /// An RPC failed.
    #[error("RPC failed: {0}")]
    Rpc(#[from] tonic::Status),
}
