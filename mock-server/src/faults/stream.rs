//! A stream fault (cut or stall) applied to a server stream.

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::rules::StreamFault;
use crate::stream::BoxStream;

/// State of a stream being cut.
pub(crate) struct CutState<T> {
    inner: BoxStream<T>,
    messages: u64,
    bytes: u64,
    status: tonic::Status,
}

/// Applies a [`StreamFault`] to a response stream.
///
/// A cut sends messages until the limit, then ends with its status at once
/// (without waiting for another message). Bytes are counted with
/// [`prost::Message::encoded_len`] and checked before each message, so a cut by
/// bytes ends after the message that reaches or crosses the limit (`0` cuts
/// before the first message). A stall sends its messages, drops the inner
/// stream and then waits; it ends with `UNAVAILABLE` when `closing` fires. A
/// stream that ends by itself before the limit ends normally; errors of the
/// inner stream pass through and count as no message.
pub fn apply_stream<T: prost::Message + Send + 'static>(
    stream: BoxStream<T>,
    fault: StreamFault,
    closing: CancellationToken,
) -> BoxStream<T> {
    match fault {
        StreamFault::Cut {
            after_messages,
            after_bytes,
            status,
        } => {
            let state = CutState {
                inner: stream,
                messages: 0,
                bytes: 0,
                status,
            };
            Box::pin(futures::stream::unfold(
                Some(state),
                move |state| async move {
                    let mut s = state?;
                    if after_messages.is_some_and(|n| s.messages >= n)
                        || after_bytes.is_some_and(|n| s.bytes >= n)
                    {
                        return Some((Err(s.status), None));
                    }
                    match s.inner.next().await? {
                        Ok(m) => {
                            s.messages += 1;
                            s.bytes = s.bytes.saturating_add(m.encoded_len() as u64);
                            Some((Ok(m), Some(s)))
                        }
                        Err(e) => Some((Err(e), Some(s))),
                    }
                },
            ))
        }
        StreamFault::Stall { after_messages } => {
            let state = (stream, 0u64, closing);
            Box::pin(futures::stream::unfold(
                Some(state),
                move |state| async move {
                    let (mut inner, sent, closing) = state?;
                    if sent >= after_messages {
                        drop(inner);
                        closing.cancelled().await;
                        return Some((
                            Err(tonic::Status::unavailable("joblet-mock is shutting down")),
                            None,
                        ));
                    }
                    match inner.next().await? {
                        Ok(m) => Some((Ok(m), Some((inner, sent + 1, closing)))),
                        Err(e) => Some((Err(e), Some((inner, sent, closing)))),
                    }
                },
            ))
        }
    }
}
