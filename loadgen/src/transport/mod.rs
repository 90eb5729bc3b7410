//! The generator's own gRPC client: HTTP/2 over TCP, server-only TLS or
//! mutual TLS (rustls), written for one job: spend less CPU per request than
//! the server it measures.
//!
//! A general client (tonic over hyper and h2) builds a header map, HPACK-
//! encodes it, decodes every response into owned messages and passes each
//! call through a buffered service stack. Here a request is its pre-encoded
//! body plus a HEADERS frame of a few bytes (the header set is fixed per
//! connection and indexed after first use: `hpack`); one driver task per
//! connection (`h2`) batches writes and reads, parses frames without
//! copying DATA (`frame`), and wakes a caller once when its stream ends; a
//! log stream is counted from the DATA frames without assembling its
//! messages. No stream opens before the server's first SETTINGS. `Conn`
//! reconnects with a backoff when a connection drops or the server sends
//! GOAWAY, and sends again a stream the server refused (REFUSED_STREAM) or
//! never processed (above a GOAWAY's last stream ID), counting it
//! ([`TransportStats`]) rather than failing the call; every call ends with a
//! gRPC [`Code`]. The same calls can run over the `h2` crate instead
//! (`h2crate`, [`H2Client::Crate`]): the alternative this client was
//! measured against and kept over (docs/loadgen.md).
//!
//! The files, bottom up (this one only declares and re-exports them):
//!
//! - `error`: [`CallError`], [`EndpointError`], `Failure`; `rpc`: [`Rpc`];
//!   `settings`: [`H2Settings`], [`H2Client`]; `counters`:
//!   [`TransportStats`].
//! - `grpc`: gRPC framing and status codes; `huffman`, `hpack`: header
//!   compression.
//! - `frame`: the HTTP/2 frame codec; `h2`: one connection's shared state,
//!   what received frames do to it, and its driver task; `h2crate`: a
//!   connection over the `h2` crate.
//! - `tls`: the rustls connectors ([`ServerTls`]); `endpoint`: `Endpoint`,
//!   dialing a target; `conn`: `Conn`, the reconnecting handle with `call`
//!   and `unary`.

mod conn;
mod counters;
mod endpoint;
mod error;
mod frame;
pub(crate) mod grpc;
mod h2;
mod h2crate;
mod hpack;
mod huffman;
mod rpc;
mod settings;
mod tls;

#[cfg(test)]
mod tests;

pub(crate) use conn::Conn;
pub use counters::TransportStats;
pub(crate) use endpoint::Endpoint;
pub use error::{CallError, EndpointError};
pub use grpc::Code;
pub(crate) use grpc::code_name;
pub use rpc::Rpc;
pub use settings::{H2Client, H2Settings};
pub use tls::ServerTls;
