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

/// An error with its causes on one line, `outer: cause: root cause`, each
/// cause once. Many errors put their source in their own message as well
/// (`cannot connect to X: transport error`), and some say little without
/// their source (a transport error's DNS or TLS reason is in its sources),
/// so a cause whose text the line already holds is left out. The three
/// binaries print their errors with it.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let c = cause.to_string();
        if !c.is_empty() && !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::error_chain;

    #[test]
    fn error_chain_names_every_cause_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("cannot connect to node1:50051: {0}")]
        struct Outer(#[source] Middle);
        #[derive(Debug, thiserror::Error)]
        #[error("transport error")]
        struct Middle(#[source] std::io::Error);
        let e = Outer(Middle(std::io::Error::other("dns error: no such host")));
        assert_eq!(
            error_chain(&e),
            "cannot connect to node1:50051: transport error: dns error: no such host"
        );
        let plain = std::io::Error::other("refused");
        assert_eq!(error_chain(&plain), "refused");
    }
}
