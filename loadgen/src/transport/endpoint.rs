//! An [`Endpoint`]: where a target is, its TLS, and the fixed header set
//! of its requests; [`Endpoint::connect`] dials it (TCP, then TLS with ALPN
//! `h2`) and starts an HTTP/2 connection's driver task.

use std::sync::Arc;
use std::time::Duration;

use http::header::{HeaderName, HeaderValue};
use http::uri::Authority;
use joblet_testkit::Target;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::error::{CallError, EndpointError};
use super::grpc::Code;
use super::rpc::Rpc;
use super::settings::H2Settings;
use super::{h2, hpack, tls};

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

    pub(super) async fn connect(&self) -> Result<Arc<h2::Shared>, CallError> {
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
            let (shared, driver) = h2::start(
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
enum Io {
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
