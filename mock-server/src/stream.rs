//! Server-streaming plumbing shared by the services and the fault rules: the
//! boxed response stream, and the wrapper that ends endless streams when the
//! server shuts down.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;

/// The boxed response stream of server-streaming RPCs.
pub type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, tonic::Status>> + Send + 'static>>;

/// Wraps a response stream so that it ends with `UNAVAILABLE` once the server
/// begins to shut down: streams that never end by themselves (logs of running
/// jobs, metric streams) must not hold a graceful shutdown up.
pub fn until_shutdown<T, S>(stream: S, closing: CancellationToken) -> BoxStream<T>
where
    T: Send + 'static,
    S: Stream<Item = Result<T, tonic::Status>> + Send + 'static,
{
    let stream = Box::pin(stream);
    Box::pin(futures::stream::unfold(Some(stream), move |stream| {
        let closing = closing.clone();
        async move {
            let mut stream = stream?;
            tokio::select! {
                biased;
                () = closing.cancelled() => Some((
                    Err(tonic::Status::unavailable("joblet-mock is shutting down")),
                    None,
                )),
                item = stream.next() => item.map(|item| (item, Some(stream))),
            }
        }
    }))
}
