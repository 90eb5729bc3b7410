//! The generator's own gRPC client: HTTP/2 (the `h2` crate) over TCP or
//! mutual TLS (rustls), with requests encoded once and response bodies walked
//! frame by frame.
//!
//! A general client (tonic) decodes every response into owned messages and
//! passes each call through a buffered tower stack; a load generator must
//! spend less CPU per request than the server it measures, so the hot path
//! here is one `h2` stream per call: a pre-built header set, a pre-encoded
//! body, DATA frames handed to the caller as they arrive (a log stream is
//! counted without copying its payload), and the status read from the
//! trailers. [`Conn`] is one HTTP/2 connection that reconnects with a backoff
//! when it drops; every call on it reports a gRPC [`Code`].

pub mod grpc;
mod tls;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2::client::SendRequest;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue, TE, USER_AGENT};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderMap, Method, Request, Uri, Version};
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
            stream_window: 8 << 20,
            connection_window: 32 << 20,
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

    fn index(self) -> usize {
        self as usize
    }
}

/// How to reach one target: address, TLS, authority and the headers every
/// request carries.
#[derive(Debug)]
pub struct Endpoint {
    label: String,
    host_port: String,
    tls: Option<tls::TlsConnect>,
    uris: Vec<Uri>,
    headers: HeaderMap,
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
        let scheme = if tls.is_some() {
            Scheme::HTTPS
        } else {
            Scheme::HTTP
        };
        let uris = Rpc::ALL
            .iter()
            .map(|rpc| {
                Uri::builder()
                    .scheme(scheme.clone())
                    .authority(authority.clone())
                    .path_and_query(PathAndQuery::from_static(rpc.path()))
                    .build()
                    .map_err(|e| bad(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        headers.insert(TE, HeaderValue::from_static("trailers"));
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("joblet-loadgen/", env!("CARGO_PKG_VERSION"))),
        );
        for (k, v) in metadata {
            let name = HeaderName::from_bytes(k.trim().to_ascii_lowercase().as_bytes())
                .map_err(|e| bad(format!("metadata key {k:?}: {e}")))?;
            let value = HeaderValue::from_str(v.trim())
                .map_err(|e| bad(format!("metadata value of {k:?}: {e}")))?;
            headers.append(name, value);
        }
        Ok(Self {
            label: host_port.clone(),
            host_port,
            tls,
            uris,
            headers,
            settings,
            connect_timeout: target.connect_timeout,
        })
    }

    /// `HOST:PORT`, as reports name the target.
    pub fn label(&self) -> &str {
        &self.label
    }

    fn request(&self, rpc: Rpc) -> Request<()> {
        let mut req = Request::new(());
        *req.method_mut() = Method::POST;
        *req.uri_mut() = self.uris[rpc.index()].clone();
        *req.version_mut() = Version::HTTP_2;
        *req.headers_mut() = self.headers.clone();
        req
    }

    async fn connect(
        &self,
    ) -> Result<(SendRequest<Bytes>, h2::client::Connection<Io, Bytes>), CallError> {
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
                Some(t) => Io::Tls(Box::new(
                    t.connector
                        .connect(t.server_name.clone(), tcp)
                        .await
                        .map_err(|e| {
                            CallError::new(
                                Code::Unavailable,
                                format!("TLS handshake with {}: {e}", self.host_port),
                            )
                        })?,
                )),
            };
            let mut builder = h2::client::Builder::new();
            builder
                .initial_window_size(self.settings.stream_window)
                .initial_connection_window_size(self.settings.connection_window)
                .max_frame_size(self.settings.max_frame_size)
                .enable_push(false);
            builder.handshake(io).await.map_err(|e| {
                CallError::new(
                    Code::Unavailable,
                    format!("HTTP/2 handshake with {}: {e}", self.host_port),
                )
            })
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

    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => std::pin::Pin::new(s).poll_write_vectored(cx, bufs),
            Io::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Io::Plain(s) => s.is_write_vectored(),
            Io::Tls(s) => s.is_write_vectored(),
        }
    }
}

/// First wait before reconnecting after a failed connect; doubles up to
/// [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

#[derive(Debug)]
enum State {
    Idle,
    Ready {
        send: SendRequest<Bytes>,
        generation: u64,
    },
    Down {
        retry_at: Instant,
        backoff: Duration,
        error: CallError,
    },
}

#[derive(Debug)]
struct Shared {
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
    shared: Arc<Shared>,
}

impl Conn {
    /// A connection to `endpoint`, not opened yet.
    pub fn new(endpoint: Arc<Endpoint>) -> Self {
        Self {
            endpoint,
            shared: Arc::new(Shared {
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
        self.shared
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Opens the connection now (for failing early on a bad target).
    pub async fn open(&self) -> Result<(), CallError> {
        self.sender().await.map(|_| ())
    }

    async fn sender(&self) -> Result<(SendRequest<Bytes>, u64), CallError> {
        if let State::Ready { send, generation } = &*self.lock() {
            return Ok((send.clone(), *generation));
        }
        let seen = self.shared.attempts.load(Ordering::Acquire);
        let _guard = self.shared.connecting.lock().await;
        let wait = match &*self.lock() {
            State::Ready { send, generation } => return Ok((send.clone(), *generation)),
            State::Down { error, .. } if self.shared.attempts.load(Ordering::Acquire) != seen => {
                // Someone else tried while we waited: share their outcome.
                return Err(error.clone());
            }
            State::Down { retry_at, .. } => Some(*retry_at),
            State::Idle => None,
        };
        if let Some(at) = wait {
            tokio::time::sleep_until(at.into()).await;
        }
        let generation = self.shared.attempts.fetch_add(1, Ordering::AcqRel) + 1;
        match self.endpoint.connect().await {
            Ok((send, connection)) => {
                let shared = Arc::downgrade(&self.shared);
                tokio::spawn(async move {
                    let end = connection.await;
                    if let Some(shared) = shared.upgrade() {
                        let mut state = shared
                            .state
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        if matches!(&*state, State::Ready { generation: g, .. } if *g == generation)
                        {
                            *state = State::Down {
                                retry_at: Instant::now(),
                                backoff: MIN_BACKOFF,
                                error: CallError::new(
                                    Code::Unavailable,
                                    match end {
                                        Ok(()) => "the connection closed".to_owned(),
                                        Err(e) => format!("the connection failed: {e}"),
                                    },
                                ),
                            };
                        }
                    }
                });
                *self.lock() = State::Ready {
                    send: send.clone(),
                    generation,
                };
                Ok((send, generation))
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

    fn h2_error(&self, generation: u64, e: h2::Error) -> CallError {
        let connection_level = e.is_io() || e.is_go_away();
        let code = match e.reason() {
            Some(h2::Reason::REFUSED_STREAM) => Code::Unavailable,
            Some(h2::Reason::CANCEL) => Code::Cancelled,
            Some(h2::Reason::ENHANCE_YOUR_CALM) => Code::ResourceExhausted,
            Some(h2::Reason::INADEQUATE_SECURITY) => Code::PermissionDenied,
            _ if connection_level => Code::Unavailable,
            _ => Code::Internal,
        };
        let error = CallError::new(code, format!("HTTP/2: {e}"));
        if connection_level {
            self.broken(generation, &error);
        }
        error
    }

    /// Calls `rpc` with the framed request `body` (see [`grpc::frame`]),
    /// handing every DATA frame of the response to `on_data` as it arrives;
    /// `Ok` when the server ends the call with status OK.
    pub async fn call<F>(&self, rpc: Rpc, body: Bytes, mut on_data: F) -> Result<(), CallError>
    where
        F: FnMut(&Bytes) -> Result<(), CallError>,
    {
        let (send, generation) = self.sender().await?;
        let mut send = send
            .ready()
            .await
            .map_err(|e| self.h2_error(generation, e))?;
        let (response, mut stream) = send
            .send_request(self.endpoint.request(rpc), false)
            .map_err(|e| self.h2_error(generation, e))?;
        stream
            .send_data(body, true)
            .map_err(|e| self.h2_error(generation, e))?;
        let response = response.await.map_err(|e| self.h2_error(generation, e))?;
        let (head, mut body) = response.into_parts();
        if head.status != http::StatusCode::OK {
            return Err(CallError::new(
                grpc::code_from_http(head.status.as_u16()),
                format!("HTTP status {}", head.status),
            ));
        }
        if head.headers.contains_key("grpc-status") {
            // A trailers-only response.
            return status_of(&head.headers);
        }
        while let Some(data) = body.data().await {
            let data = data.map_err(|e| self.h2_error(generation, e))?;
            let n = data.len();
            on_data(&data)?;
            let _ = body.flow_control().release_capacity(n);
        }
        let trailers = body
            .trailers()
            .await
            .map_err(|e| self.h2_error(generation, e))?;
        match trailers {
            Some(t) => status_of(&t),
            None => Err(CallError::new(
                Code::Internal,
                "the response ended without grpc-status",
            )),
        }
    }

    /// Calls a unary `rpc` and returns the encoded response message.
    pub async fn unary(&self, rpc: Rpc, body: Bytes) -> Result<Bytes, CallError> {
        let mut walker = grpc::FrameWalker::default();
        let mut message = bytes::BytesMut::new();
        let mut messages = 0usize;
        self.call(rpc, body, |data| {
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

fn status_of(headers: &HeaderMap) -> Result<(), CallError> {
    let code = headers
        .get("grpc-status")
        .map(|v| grpc::parse_status(v.as_bytes()))
        .unwrap_or(Code::Unknown);
    if code == Code::Ok {
        return Ok(());
    }
    let message = headers
        .get("grpc-message")
        .map(|v| grpc::decode_message(v.as_bytes()))
        .unwrap_or_default();
    Err(CallError::new(code, message))
}
