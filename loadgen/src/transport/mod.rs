//! The generator's own gRPC client: HTTP/2 over TCP or mutual TLS
//! (rustls), written for one job: spend less CPU per request than the server
//! it measures.
//!
//! A general client (tonic over hyper and h2) builds a header map, HPACK-
//! encodes it, decodes every response into owned messages and passes each
//! call through a buffered service stack. Here a request is its pre-encoded
//! body plus a HEADERS frame of a few bytes (the header set is fixed per
//! connection and indexed after first use: `hpack`); one driver task per
//! connection (`conn`) batches writes and reads, parses frames without
//! copying DATA, and wakes a caller once when its stream ends; a log stream
//! is counted from the DATA frames without assembling its messages. [`Conn`]
//! reconnects with a backoff when a connection drops or the server sends
//! GOAWAY; every call ends with a gRPC [`Code`].

mod conn;
pub mod grpc;
mod hpack;
mod huffman;
mod tls;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::uri::Authority;
use joblet_testkit::Target;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

pub use grpc::{Code, code_name};

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

/// HTTP/2 settings of the generator's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct H2Settings {
    /// Initial flow-control window of each stream (bytes).
    pub stream_window: u32,
    /// Flow-control window of the connection (bytes).
    pub connection_window: u32,
    /// Largest DATA frame the server may send (16 KiB to 16 MiB - 1).
    pub max_frame_size: u32,
}

impl Default for H2Settings {
    fn default() -> Self {
        Self {
            stream_window: 16 << 20,
            connection_window: 64 << 20,
            max_frame_size: 16 << 10,
        }
    }
}

/// The RPCs the generator calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rpc {
    /// `joblet.JobService/RunJob`
    RunJob,
    /// `joblet.JobService/GetJobStatus`
    GetJobStatus,
    /// `joblet.JobService/ListJobs`
    ListJobs,
    /// `joblet.JobService/GetJobLogs` (server stream)
    GetJobLogs,
    /// `joblet.JobService/StopJob`
    StopJob,
    /// `joblet.JobService/DeleteJob`
    DeleteJob,
}

impl Rpc {
    /// Every RPC, in a fixed order.
    pub const ALL: [Rpc; 6] = [
        Rpc::RunJob,
        Rpc::GetJobStatus,
        Rpc::ListJobs,
        Rpc::GetJobLogs,
        Rpc::StopJob,
        Rpc::DeleteJob,
    ];

    /// The HTTP/2 `:path` of the RPC.
    pub fn path(self) -> &'static str {
        match self {
            Rpc::RunJob => "/joblet.JobService/RunJob",
            Rpc::GetJobStatus => "/joblet.JobService/GetJobStatus",
            Rpc::ListJobs => "/joblet.JobService/ListJobs",
            Rpc::GetJobLogs => "/joblet.JobService/GetJobLogs",
            Rpc::StopJob => "/joblet.JobService/StopJob",
            Rpc::DeleteJob => "/joblet.JobService/DeleteJob",
        }
    }
}

/// How to reach one target: address, TLS, and the header set every request
/// carries.
#[derive(Debug)]
pub struct Endpoint {
    label: String,
    host_port: String,
    tls: Option<tls::TlsConnect>,
    headers: Arc<hpack::RequestHeaders>,
    settings: H2Settings,
    connect_timeout: Duration,
}

impl Endpoint {
    /// The endpoint of `target`, sending `metadata` with every request.
    pub fn new(
        target: &Target,
        metadata: &[(String, String)],
        settings: H2Settings,
    ) -> Result<Self, EndpointError> {
        let host_port = target.host_port().to_owned();
        let bad = |reason: String| EndpointError::Address {
            addr: target.addr.clone(),
            reason,
        };
        let authority: Authority = host_port
            .parse()
            .map_err(|e| bad(format!("not HOST:PORT ({e})")))?;
        if authority.port_u16().is_none() {
            return Err(bad("no port (HOST:PORT)".into()));
        }
        let tls = match &target.tls {
            Some(t) => Some(tls::connector(t)?),
            None if target.addr.starts_with("https://") => {
                return Err(bad(
                    "https:// needs the client certificates: give --ca, --cert and --key (or --node)"
                        .into(),
                ));
            }
            None => None,
        };
        let mut meta = Vec::new();
        for (k, v) in metadata {
            let name = HeaderName::from_bytes(k.trim().to_ascii_lowercase().as_bytes())
                .map_err(|e| bad(format!("metadata key {k:?}: {e}")))?;
            if name.as_str().starts_with("grpc-") || name.as_str().starts_with(':') {
                return Err(bad(format!("metadata key {k:?} is reserved by gRPC")));
            }
            HeaderValue::from_str(v.trim())
                .map_err(|e| bad(format!("metadata value of {k:?}: {e}")))?;
            meta.push((name.as_str().to_owned(), v.trim().to_owned()));
        }
        let paths: Vec<&str> = Rpc::ALL.iter().map(|r| r.path()).collect();
        let headers = hpack::RequestHeaders::new(
            tls.is_some(),
            authority.as_str(),
            &paths,
            concat!("joblet-loadgen/", env!("CARGO_PKG_VERSION")),
            &meta,
        );
        Ok(Self {
            label: host_port.clone(),
            host_port,
            tls,
            headers: Arc::new(headers),
            settings,
            connect_timeout: target.connect_timeout,
        })
    }

    /// `HOST:PORT`, as reports name the target.
    pub fn label(&self) -> &str {
        &self.label
    }

    async fn connect(&self) -> Result<Arc<conn::Shared>, CallError> {
        let dial = async {
            let tcp = TcpStream::connect(&self.host_port).await.map_err(|e| {
                CallError::new(
                    Code::Unavailable,
                    format!("cannot connect to {}: {e}", self.host_port),
                )
            })?;
            let _ = tcp.set_nodelay(true);
            let io = match &self.tls {
                None => Io::Plain(tcp),
                Some(t) => {
                    let stream = t
                        .connector
                        .connect(t.server_name.clone(), tcp)
                        .await
                        .map_err(|e| {
                            CallError::new(
                                Code::Unavailable,
                                format!("TLS handshake with {}: {e}", self.host_port),
                            )
                        })?;
                    if stream.get_ref().1.alpn_protocol() != Some(b"h2") {
                        return Err(CallError::new(
                            Code::Unavailable,
                            format!("{} did not agree to HTTP/2 (ALPN h2)", self.host_port),
                        ));
                    }
                    Io::Tls(Box::new(stream))
                }
            };
            let (shared, driver) = conn::start(
                io,
                Arc::clone(&self.headers),
                self.settings,
                self.label.clone(),
            );
            tokio::spawn(driver);
            Ok(shared)
        };
        tokio::time::timeout(self.connect_timeout, dial)
            .await
            .unwrap_or_else(|_| {
                Err(CallError::new(
                    Code::Unavailable,
                    format!(
                        "connecting to {} took longer than {:?}",
                        self.host_port, self.connect_timeout
                    ),
                ))
            })
    }
}

/// The byte stream under a connection: TCP, or TLS over TCP.
#[derive(Debug)]
pub enum Io {
    /// Plaintext HTTP/2 (h2c).
    Plain(TcpStream),
    /// Mutual TLS.
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Io {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => std::pin::Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => std::pin::Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => std::pin::Pin::new(s).poll_flush(cx),
            Io::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => std::pin::Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// First wait before reconnecting after a failed connect; doubles up to
/// [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// A live connection; dropping the last handle closes it (once idle).
#[derive(Debug)]
struct Link(Arc<conn::Shared>);

impl Drop for Link {
    fn drop(&mut self) {
        self.0.close();
    }
}

#[derive(Debug)]
enum State {
    Idle,
    Ready {
        link: Arc<Link>,
        generation: u64,
    },
    Down {
        retry_at: Instant,
        backoff: Duration,
        error: CallError,
    },
}

#[derive(Debug)]
struct Slot {
    state: Mutex<State>,
    /// Connect attempts so far (callers that waited on one see its outcome).
    attempts: AtomicU64,
    connecting: tokio::sync::Mutex<()>,
}

/// One HTTP/2 connection to an [`Endpoint`], opened on first use and
/// reopened (with a backoff) after it drops. Calls on it run concurrently as
/// HTTP/2 streams.
#[derive(Debug, Clone)]
pub struct Conn {
    endpoint: Arc<Endpoint>,
    slot: Arc<Slot>,
}

/// Resets a stream whose caller stops waiting (timeout, cancellation).
struct StreamGuard<'a> {
    shared: &'a conn::Shared,
    id: u32,
    done: bool,
}

impl Drop for StreamGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.shared.cancel(self.id);
        }
    }
}

impl Conn {
    /// A connection to `endpoint`, not opened yet.
    pub fn new(endpoint: Arc<Endpoint>) -> Self {
        Self {
            endpoint,
            slot: Arc::new(Slot {
                state: Mutex::new(State::Idle),
                attempts: AtomicU64::new(0),
                connecting: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The endpoint this connection reaches.
    pub fn endpoint(&self) -> &Arc<Endpoint> {
        &self.endpoint
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.slot
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Opens the connection now (for failing early on a bad target).
    pub async fn open(&self) -> Result<(), CallError> {
        self.link().await.map(|_| ())
    }

    async fn link(&self) -> Result<(Arc<Link>, u64), CallError> {
        if let State::Ready { link, generation } = &*self.lock() {
            return Ok((Arc::clone(link), *generation));
        }
        let seen = self.slot.attempts.load(Ordering::Acquire);
        let _guard = self.slot.connecting.lock().await;
        let wait = match &*self.lock() {
            State::Ready { link, generation } => return Ok((Arc::clone(link), *generation)),
            State::Down { error, .. } if self.slot.attempts.load(Ordering::Acquire) != seen => {
                // Someone else tried while we waited: share their outcome.
                return Err(error.clone());
            }
            State::Down { retry_at, .. } => Some(*retry_at),
            State::Idle => None,
        };
        if let Some(at) = wait {
            tokio::time::sleep_until(at.into()).await;
        }
        let generation = self.slot.attempts.fetch_add(1, Ordering::AcqRel) + 1;
        match self.endpoint.connect().await {
            Ok(shared) => {
                let link = Arc::new(Link(shared));
                *self.lock() = State::Ready {
                    link: Arc::clone(&link),
                    generation,
                };
                Ok((link, generation))
            }
            Err(error) => {
                let mut state = self.lock();
                let backoff = match &*state {
                    State::Down { backoff, .. } => (*backoff * 2).min(MAX_BACKOFF),
                    _ => MIN_BACKOFF,
                };
                *state = State::Down {
                    retry_at: Instant::now() + backoff,
                    backoff,
                    error: error.clone(),
                };
                Err(error)
            }
        }
    }

    /// Forgets connection `generation` (it failed or is going away): the
    /// next call opens a new one.
    fn broken(&self, generation: u64, error: &CallError) {
        let mut state = self.lock();
        if matches!(&*state, State::Ready { generation: g, .. } if *g == generation) {
            *state = State::Down {
                retry_at: Instant::now(),
                backoff: MIN_BACKOFF,
                error: error.clone(),
            };
        }
    }

    /// Calls `rpc` with the framed request `body` (see [`grpc::frame`]),
    /// handing every DATA frame of the response to `on_data` as it arrives;
    /// `Ok` when the server ends the call with status OK. Dropping the future
    /// resets the stream.
    pub async fn call<F>(&self, rpc: Rpc, body: Bytes, mut on_data: F) -> Result<(), CallError>
    where
        F: FnMut(&Bytes) -> Result<(), CallError>,
    {
        // A connection that is going away takes no new stream: open another
        // (once) before failing the call.
        let mut retried = false;
        let (link, id) = loop {
            let (link, generation) = self.link().await?;
            match std::future::poll_fn(|cx| link.0.poll_open(cx, rpc as usize, &body)).await {
                Ok(id) => break (link, id),
                Err(e) => {
                    self.broken(generation, &e);
                    if retried || link.0.usable() {
                        return Err(e);
                    }
                    retried = true;
                }
            }
        };
        let mut guard = StreamGuard {
            shared: &link.0,
            id,
            done: false,
        };
        let mut batch = Vec::new();
        loop {
            let end = std::future::poll_fn(|cx| guard.shared.poll_stream(cx, id, &mut batch)).await;
            if end.is_some() {
                guard.done = true;
            }
            for data in batch.drain(..) {
                on_data(&data)?;
            }
            if let Some(result) = end {
                return result;
            }
        }
    }

    /// Calls a unary `rpc` and returns the encoded response message.
    pub async fn unary(&self, rpc: Rpc, body: Bytes) -> Result<Bytes, CallError> {
        let mut walker = grpc::FrameWalker::default();
        let mut whole: Option<Bytes> = None;
        let mut message = bytes::BytesMut::new();
        let mut messages = 0usize;
        self.call(rpc, body, |data| {
            // The usual case: one DATA frame holding exactly one message.
            if messages == 0
                && whole.is_none()
                && data.len() >= 5
                && data[0] == 0
                && u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize + 5
                    == data.len()
            {
                messages = 1;
                whole = Some(data.slice(5..));
                return Ok(());
            }
            if whole.is_some() {
                return Err(CallError::new(
                    Code::Internal,
                    "a unary response carried 2 messages",
                ));
            }
            walker
                .feed(data, &mut |event| match event {
                    grpc::Event::Start(len) => {
                        messages += 1;
                        message.reserve(len);
                    }
                    grpc::Event::Bytes(b) => {
                        if messages == 1 {
                            message.extend_from_slice(b);
                        }
                    }
                    grpc::Event::End => {}
                })
                .map_err(|e| CallError::new(Code::Internal, e.to_string()))
        })
        .await?;
        if let Some(m) = whole {
            return Ok(m);
        }
        walker
            .finish()
            .map_err(|e| CallError::new(Code::Internal, e.to_string()))?;
        if messages != 1 {
            return Err(CallError::new(
                Code::Internal,
                format!("a unary response carried {messages} messages"),
            ));
        }
        Ok(message.freeze())
    }
}
