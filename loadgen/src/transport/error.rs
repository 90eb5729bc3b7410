//! How a call or an endpoint fails.

use super::grpc::{self, Code};

/// A failed call: its gRPC code and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} {}", grpc::code_name(*.code), .message)]
pub struct CallError {
    /// The gRPC status code (from the trailers, or inferred from the transport).
    pub code: Code,
    /// The status message.
    pub message: String,
}

impl CallError {
    /// An error with this code and message.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// An endpoint that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// The address is not `HOST:PORT`.
    #[error("target {addr:?}: {reason}")]
    Address {
        /// The address given.
        addr: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The TLS material is unusable.
    #[error("TLS: {0}")]
    Tls(String),
    /// The TLS files could not be read.
    #[error(transparent)]
    Testkit(#[from] joblet_testkit::Error),
}

/// How one attempt at a call failed, for the retry decision of
/// [`Conn::call`](super::Conn::call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The server did nothing with the stream: it refused it
    /// (RST_STREAM REFUSED_STREAM), it was above the last stream ID of a
    /// GOAWAY, or it was never sent (the connection was going away or
    /// gone). Sending it again cannot run anything twice.
    Unprocessed(CallError),
    /// The call failed (an answer, or a stream the server may have acted on).
    Failed(CallError),
}

impl Failure {
    /// The error, however the attempt failed.
    pub(crate) fn into_error(self) -> CallError {
        match self {
            Failure::Unprocessed(e) | Failure::Failed(e) => e,
        }
    }
}

impl From<CallError> for Failure {
    fn from(e: CallError) -> Self {
        Failure::Failed(e)
    }
}
