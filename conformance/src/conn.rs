//! The suite's channel to a target, made to survive a proxy in between.
//!
//! [`Rec`] wraps a tonic channel and
//! - sends again a call the server provably never processed (the stream was
//!   refused, was above a GOAWAY's last stream, or never left the client
//!   because its connection had closed), and a read (`Get…`, `List…`) that
//!   broke before any answer, at most [`MAX_ATTEMPTS`] times;
//! - turns an answer that is not gRPC (an HTTP error status from a proxy, such
//!   as nginx's 413 for a body above its `client_max_body_size`) into an
//!   UNAVAILABLE status saying so in plain words
//!   ([`not_grpc_message`]), instead of a decoding error of an HTML page;
//! - records every transport failure it sees ([`Transport`]), so that the
//!   runner makes a case that failed after one an Error of the connection,
//!   never a behaviour Fail;
//! - records the RPC paths called (the coverage of the contract's RPCs).

use std::collections::BTreeSet;
use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use parking_lot::Mutex;
use tonic::body::Body;
use tonic::transport::Channel;
use tonic::{Code, Status};

/// Attempts of one call whose earlier attempts were never processed.
pub const MAX_ATTEMPTS: u32 = 20;

/// The error a [`Rec`] returns (tonic turns it into a status).
pub type BoxError = Box<dyn StdError + Send + Sync>;

/// The transport failures one case (or the cleanup) ran into.
#[derive(Debug, Default)]
pub struct Transport {
    failures: AtomicU32,
    retried: AtomicU32,
    first: Mutex<Option<String>>,
}

impl Transport {
    /// Records a failure described by `what`.
    pub fn record(&self, what: String) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        self.first.lock().get_or_insert(what);
    }

    /// How many calls failed on the transport.
    pub fn failures(&self) -> u32 {
        self.failures.load(Ordering::Relaxed)
    }

    /// How many attempts were sent again (never processed by the server).
    pub fn retried(&self) -> u32 {
        self.retried.load(Ordering::Relaxed)
    }

    /// The first failure, described.
    pub fn first(&self) -> Option<String> {
        self.first.lock().clone()
    }
}

/// What a failed attempt means for sending it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failed {
    /// The server never processed the call: safe to send again, whatever it does.
    Unprocessed,
    /// The connection broke before an answer; the server may have acted.
    Broken,
}

/// Classifies an error of the channel (before any answer), walking its sources:
/// hyper's "canceled" (never handed to the connection), a stream refused
/// (RST_STREAM REFUSED_STREAM) or above a graceful GOAWAY's last stream, or a
/// connection that could not be opened are [`Failed::Unprocessed`].
pub fn classify(err: &(dyn StdError + 'static)) -> Failed {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            let refused = h2.is_reset() && h2.reason() == Some(h2::Reason::REFUSED_STREAM);
            let above_goaway =
                h2.is_go_away() && h2.is_remote() && h2.reason() == Some(h2::Reason::NO_ERROR);
            return if refused || above_goaway {
                Failed::Unprocessed
            } else {
                Failed::Broken
            };
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>()
            && h.is_canceled()
        {
            return Failed::Unprocessed;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return Failed::Unprocessed;
        }
        let text = e.to_string().to_ascii_lowercase();
        if text.contains("error trying to connect") || text.contains("tcp connect error") {
            return Failed::Unprocessed;
        }
        cur = e.source();
    }
    Failed::Broken
}

/// An error and its sources on one line.
pub fn describe(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        let text = match e.downcast_ref::<h2::Error>() {
            Some(h2) => format!("{h2} ({h2:?})"),
            None => e.to_string(),
        };
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = e.source();
    }
    parts.join(": ")
}

/// Whether the RPC at `path` only reads (`Get…`, `List…`): sending it twice
/// changes nothing.
pub fn is_read(path: &str) -> bool {
    let method = path.rsplit('/').next().unwrap_or("");
    method.starts_with("Get") || method.starts_with("List")
}

/// The plain words for an HTTP answer that is not gRPC (no `grpc-status`,
/// status not 200): a proxy answered instead of the server.
pub fn not_grpc_message(status: http::StatusCode) -> String {
    let reason = status.canonical_reason().unwrap_or("");
    let what = match status.as_u16() {
        413 => "the proxy refused the request body",
        502..=504 => "the proxy could not reach the server",
        _ => "a proxy answered instead of the server",
    };
    format!(
        "{what} (HTTP {} {reason}): not a gRPC answer",
        status.as_u16()
    )
}

/// Whether a status is a transport problem (no answer from the server's
/// handlers) rather than an answer.
pub fn is_transport_status(status: &Status) -> bool {
    let m = status.message().to_ascii_lowercase();
    let transport_words = m.contains("h2 protocol error")
        || m.contains("transport error")
        || m.contains("not a grpc answer")
        || m.contains("connection reset")
        || m.contains("connection closed")
        || m.contains("broken pipe")
        || m.contains("error trying to connect")
        || m.contains("tcp connect error");
    match status.code() {
        Code::Cancelled => m.contains("operation was canceled") || transport_words,
        Code::Unavailable => {
            transport_words || m.contains("connect") || m.contains("tcp") || m.contains("dns")
        }
        Code::Internal | Code::Unknown => transport_words,
        _ => false,
    }
}

/// The channel calls go over, renewed when its connection is going away: a
/// connection draining after a GOAWAY stays open while a long stream of
/// another case runs on it, and every new stream on it is refused at once.
pub struct Lane {
    current: Mutex<(u64, Channel)>,
    target: Option<joblet_testkit::Target>,
    renewing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Lane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lane")
            .field("generation", &self.current.lock().0)
            .finish_non_exhaustive()
    }
}

impl Lane {
    /// `channel`, renewed by connecting to `target` again (never, without one).
    pub fn new(channel: Channel, target: Option<joblet_testkit::Target>) -> Arc<Self> {
        Arc::new(Self {
            current: Mutex::new((0, channel)),
            target,
            renewing: tokio::sync::Mutex::new(()),
        })
    }

    fn get(&self) -> (u64, Channel) {
        let cur = self.current.lock();
        (cur.0, cur.1.clone())
    }

    /// A new connection in place of generation `seen`'s (once, however many
    /// calls saw it go away); on failure the old channel stays.
    async fn renew(&self, seen: u64) {
        let Some(target) = &self.target else { return };
        let _one = self.renewing.lock().await;
        if self.current.lock().0 != seen {
            return;
        }
        if let Ok(channel) = target.connect().await {
            let mut cur = self.current.lock();
            *cur = (seen + 1, channel);
        }
    }
}

/// A recorded, retrying channel (see the module).
#[derive(Debug, Clone)]
pub struct Rec {
    lane: Arc<Lane>,
    log: Option<Arc<Mutex<BTreeSet<String>>>>,
    seen: Arc<Transport>,
}

impl Rec {
    /// Calls over `lane`, recording the paths in `log` (when given) and the
    /// transport failures in `seen`.
    pub fn new(
        lane: Arc<Lane>,
        log: Option<Arc<Mutex<BTreeSet<String>>>>,
        seen: Arc<Transport>,
    ) -> Self {
        Self { lane, log, seen }
    }

    /// What this channel's calls ran into.
    pub fn transport(&self) -> &Arc<Transport> {
        &self.seen
    }
}

impl tower::Service<http::Request<Body>> for Rec {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness is awaited in the call, on the lane's channel of the moment.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        if let Some(log) = &self.log {
            log.lock().insert(req.uri().path().to_owned());
        }
        Box::pin(send(Arc::clone(&self.lane), req, Arc::clone(&self.seen)))
    }
}

/// Sends `req` over `lane`, again while it was never processed (or is a read).
async fn send(
    lane: Arc<Lane>,
    req: http::Request<Body>,
    seen: Arc<Transport>,
) -> Result<http::Response<Body>, BoxError> {
    let (parts, body) = req.into_parts();
    // Unary requests only (the contract has no client streams): buffered, so
    // an attempt can be sent again.
    let bytes: Bytes = body.collect().await?.to_bytes();
    let read = is_read(parts.uri.path());
    let mut attempt = 1;
    loop {
        let (generation, mut ch) = lane.get();
        let req = http::Request::from_parts(parts.clone(), Body::new(Full::new(bytes.clone())));
        let result = match tower::ServiceExt::ready(&mut ch).await {
            Ok(ch) => tower::Service::call(ch, req).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(res) => return Ok(watch(res, &seen)),
            Err(e) => {
                let kind = classify(&e);
                if (read || kind == Failed::Unprocessed) && attempt < MAX_ATTEMPTS {
                    seen.retried.fetch_add(1, Ordering::Relaxed);
                    if kind == Failed::Unprocessed {
                        lane.renew(generation).await;
                    }
                    tokio::time::sleep(Duration::from_millis(5 << attempt.min(5))).await;
                    attempt += 1;
                    continue;
                }
                seen.record(format!("{}: {}", parts.uri.path(), describe(&e)));
                return Err(e.into());
            }
        }
    }
}

/// An answer as the case sees it: a non-gRPC HTTP answer becomes UNAVAILABLE
/// in plain words; a stream that breaks is recorded.
fn watch(res: http::Response<Body>, seen: &Arc<Transport>) -> http::Response<Body> {
    let grpc = res.headers().contains_key("grpc-status")
        || res
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/grpc"));
    if res.status() != http::StatusCode::OK && !grpc {
        let message = not_grpc_message(res.status());
        seen.record(message.clone());
        return Status::unavailable(message).into_http();
    }
    let seen = Arc::clone(seen);
    res.map(move |body| {
        Body::new(body.map_err(move |status: Status| {
            if is_transport_status(&status) {
                seen.record(format!("a stream broke: {}", status.message()));
            }
            status
        }))
    })
}
