//! One module per proto service. Each handler is thin: it checks nothing itself
//! beyond shaping the request, calls the domain module and turns its
//! [`Error`](crate::error::Error) into a `tonic::Status`.

pub mod job;
pub mod monitoring;
pub mod network;
pub mod runtime;
pub mod volume;

use std::pin::Pin;

use futures::Stream;

/// The boxed response stream of server-streaming RPCs.
pub type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, tonic::Status>> + Send + 'static>>;

/// `UNIMPLEMENTED` for parts of the API this mock does not simulate yet.
pub fn not_built(rpc: &str, what: &str) -> tonic::Status {
    tonic::Status::unimplemented(format!(
        "{rpc}: {what} are not built yet in joblet-mock; this RPC answers UNIMPLEMENTED until they land"
    ))
}
