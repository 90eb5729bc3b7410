//! An [`Endpoint`]: where a target is, its TLS (mutual, server-only or
//! none), the fixed header set of its requests and its connection counters;
//! [`Endpoint::connect`] dials it (TCP, then TLS with ALPN `h2`) and starts
//! an HTTP/2 connection on the chosen client ([`H2Client`]).

use std::sync::Arc;
use std::time::Duration;

use http::header::{HeaderName, HeaderValue};
use http::uri::Authority;
use joblet_testkit::Target;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::counters::{Counters, TransportStats};
use super::error::{CallError, EndpointError};
use super::grpc::Code;
use super::rpc::Rpc;
use super::settings::{H2Client, H2Settings};
use super::tls::ServerTls;
use super::{h2, h2crate, hpack, tls};

/// How to reach one target: address, TLS, and the header set every request
/// carries.
#[derive(Debug)]
pub struct Endpoint {
    label: String,
    host_port: String,
    tls: Option<tls::TlsConnect>,
    headers: Arc<hpack::RequestHeaders>,
    templates: Arc<h2crate::Templates>,
    settings: H2Settings,
    connect_timeout: Duration,
    counters: Arc<Counters>,
}

/// A live HTTP/2 connection, on either client.
#[derive(Debug)]
pub(crate) enum Connection {
    /// The generator's own client.
    Own(Arc<h2::Shared>),
    /// The `h2` crate.
    Crate(h2crate::Client),
}

impl Connection {
    /// Whether the connection can take new streams.
    pub(crate) fn usable(&self) -> bool {
        match self {
            Connection::Own(s) => s.usable(),
            Connection::Crate(c) => c.usable(),
        }
    }
}

impl Endpoint {
    /// The endpoint of `target`, sending `metadata` with every request.
    /// `server_tls` speaks server-only TLS to a plaintext `target` (one with
    /// mutual-TLS material uses that).
    pub fn new(
        target: &Target,
        server_tls: Option<&ServerTls>,
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
        let tls = match (&target.tls, server_tls) {
            (Some(t), _) => Some(tls::connector(t)?),
            (None, Some(s)) => Some(tls::server_only(s)?),
            (None, None) if target.addr.starts_with("https://") => {
                return Err(bad(
                    "https:// needs TLS material: give --ca (and --cert and --key for mutual TLS), or --node"
                        .into(),
                ));
            }
            (None, None) => None,
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
        let user_agent = concat!("joblet-loadgen/", env!("CARGO_PKG_VERSION"));
        let headers = hpack::RequestHeaders::new(
            tls.is_some(),
            authority.as_str(),
            &paths,
            user_agent,
            &meta,
        );
        let templates =
            h2crate::Templates::new(tls.is_some(), authority.as_str(), user_agent, &meta)
                .map_err(bad)?;
        Ok(Self {
            label: host_port.clone(),
            host_port,
            tls,
            headers: Arc::new(headers),
            templates: Arc::new(templates),
            settings,
            connect_timeout: target.connect_timeout,
            counters: Arc::new(Counters::default()),
        })
    }

    /// `HOST:PORT`, as reports name the target.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// What this endpoint's connections went through so far.
    pub fn stats(&self) -> TransportStats {
        self.counters.snapshot()
    }

    pub(super) fn counters(&self) -> &Counters {
        &self.counters
    }

    async fn dial(&self) -> Result<Io, CallError> {
        let tcp = TcpStream::connect(&self.host_port).await.map_err(|e| {
            CallError::new(
                Code::Unavailable,
                format!("cannot connect to {}: {e}", self.host_port),
            )
        })?;
        let _ = tcp.set_nodelay(true);
        let Some(t) = &self.tls else {
            return Ok(Io::Plain(tcp));
        };
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
        Ok(Io::Tls(Box::new(stream)))
    }

    pub(super) async fn connect(&self) -> Result<Connection, CallError> {
        let open = async {
            let io = self.dial().await?;
            let connection = match self.settings.client {
                H2Client::Own => {
                    let (shared, driver) = h2::start(
                        io,
                        Arc::clone(&self.headers),
                        self.settings,
                        self.label.clone(),
                        Arc::clone(&self.counters),
                    );
                    tokio::spawn(driver);
                    Connection::Own(shared)
                }
                H2Client::Crate => {
                    let (client, task) = h2crate::handshake(
                        io,
                        Arc::clone(&self.templates),
                        self.settings,
                        Arc::clone(&self.counters),
                    )
                    .await?;
                    tokio::spawn(task);
                    Connection::Crate(client)
                }
            };
            self.counters.opened();
            Ok(connection)
        };
        tokio::time::timeout(self.connect_timeout, open)
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
enum Io {
    /// Plaintext HTTP/2 (h2c).
    Plain(TcpStream),
    /// TLS (mutual or server-only).
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
