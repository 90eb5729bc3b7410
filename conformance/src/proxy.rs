//! The recording proxy of `joblet-conformance record`: it stands in front of
//! any Joblet endpoint (a node, a mock), forwards every call unchanged
//! (metadata included, so mock sessions work through it) and records the
//! calls of the five Joblet services with their whole answers into a
//! transcript ([`joblet_testkit::transcript`]). Control, health and reflection
//! calls are forwarded but never recorded.
//!
//! Toward clients it speaks plaintext (h2c), mutual TLS, or both: with a
//! server certificate it is given, or with a CA, server and client
//! certificates and an `rnx-config.yml` it generates (as `joblet-mock
//! --certs-dir` does). A client's role is the OU of its certificate (every
//! plaintext client is admin), and the proxy calls the upstream with the
//! identity it was given for that role: the admin one (`--node`, or `--ca
//! --cert --key`), a viewer (`--viewer-node`) or a no-role one. A plaintext
//! upstream takes every call as it is.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use joblet_testkit::Target;
use joblet_testkit::auth::Role;
use joblet_testkit::tls::{GeneratedCerts, ServerTls, TlsError};
use joblet_testkit::transcript::{self, Recorder};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;
use tonic::Status;
use tonic::service::Routes;
use tonic::transport::{Channel, Server};
use tower::ServiceExt;

use crate::ctx::Targets;

/// Errors starting the proxy.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// A listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The upstream's connection settings are unusable.
    #[error("upstream {what}: {source}")]
    Upstream {
        /// Which identity.
        what: &'static str,
        /// Why.
        #[source]
        source: joblet_testkit::Error,
    },
    /// The TLS listener could not be set up.
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    /// Neither listener was asked for.
    #[error("nothing to listen on: give a plaintext and/or a TLS listen address")]
    NoListener,
}

/// The upstream channels, one per role.
#[derive(Debug, Clone)]
struct Channels {
    main: Channel,
    viewer: Option<Channel>,
    no_role: Option<Channel>,
    upstream_tls: bool,
}

impl Channels {
    fn new(upstream: &Targets) -> Result<Self, ProxyError> {
        let lazy = |t: &Target, what| {
            t.endpoint()
                .map(|e| e.connect_lazy())
                .map_err(|source| ProxyError::Upstream { what, source })
        };
        Ok(Self {
            main: lazy(&upstream.main, "admin identity")?,
            viewer: upstream
                .viewer
                .as_ref()
                .map(|t| lazy(t, "viewer identity"))
                .transpose()?,
            no_role: upstream
                .no_role
                .as_ref()
                .map(|t| lazy(t, "no-role identity"))
                .transpose()?,
            upstream_tls: upstream.main.is_tls(),
        })
    }

    /// The channel for a caller of `role` (see [`transcript::role_of`]).
    fn for_role(&self, role: &str) -> Result<Channel, Status> {
        if !self.upstream_tls || role == Role::Admin.as_str() {
            return Ok(self.main.clone());
        }
        let (channel, flags) = match role {
            "viewer" => (
                &self.viewer,
                "--viewer-node, or --viewer-cert and --viewer-key",
            ),
            "unknown" => (
                &self.no_role,
                "--no-role-node, or --no-role-cert and --no-role-key",
            ),
            _ => (&None, ""),
        };
        channel.clone().ok_or_else(|| {
            if flags.is_empty() {
                Status::unauthenticated("the recording proxy needs a client certificate")
            } else {
                Status::failed_precondition(format!(
                    "the recording proxy has no upstream identity for role {role}: start it with {flags}"
                ))
            }
        })
    }
}

/// The proxy as a tower service: forwards each request to the upstream
/// channel of the caller's role, recording Joblet calls.
#[derive(Debug, Clone)]
pub(crate) struct ProxyService {
    channels: Channels,
    recorder: Arc<Recorder>,
}

impl ProxyService {
    /// A proxy to `upstream` recording into `recorder`.
    pub fn new(upstream: &Targets, recorder: Arc<Recorder>) -> Result<Self, ProxyError> {
        Ok(Self {
            channels: Channels::new(upstream)?,
            recorder,
        })
    }
}

impl tower::Service<http::Request<tonic::body::Body>> for ProxyService {
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let role = transcript::role_of(&request);
        let channel = self.channels.for_role(role);
        let recorder = Arc::clone(&self.recorder);
        Box::pin(async move {
            let channel = match channel {
                Ok(c) => c,
                Err(status) => return Ok(status.into_http()),
            };
            let path = request.uri().path().to_owned();
            let (parts, body) = request.into_parts();
            let (body, capture) = if transcript::is_joblet_path(&path) {
                let bytes = match transcript::collect_request(body).await {
                    Ok(b) => b,
                    Err(status) => return Ok(status.into_http()),
                };
                let encoding = parts
                    .headers
                    .get("grpc-encoding")
                    .and_then(|v| v.to_str().ok());
                let capture = recorder.begin(
                    &path,
                    &transcript::session_of(&parts.headers),
                    role,
                    &bytes,
                    encoding,
                );
                (
                    tonic::body::Body::new(http_body_util::Full::new(bytes)),
                    capture,
                )
            } else {
                (body, None)
            };
            let request = http::Request::from_parts(parts, body);
            match channel.oneshot(request).await {
                Ok(response) => Ok(transcript::record_response(response, capture)),
                Err(e) => {
                    let status = Status::unavailable(format!(
                        "the recording proxy cannot reach the upstream: {e}"
                    ));
                    if let Some(mut c) = capture {
                        c.fail(status.code(), status.message());
                        c.finish();
                    }
                    Ok(status.into_http())
                }
            }
        })
    }
}

/// Serves `service` on `incoming` until `shutdown`.
async fn serve_incoming<I, IO, IE>(
    incoming: I,
    service: ProxyService,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error>
where
    I: tokio_stream::Stream<Item = Result<IO, IE>>,
    IO: tokio::io::AsyncRead
        + tokio::io::AsyncWrite
        + tonic::transport::server::Connected
        + Unpin
        + Send
        + 'static,
    IE: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // The proxy answers every path itself: it takes the place of the (empty)
    // router tonic's server wants, keeping tonic's HTTP/2, connection info
    // and graceful shutdown.
    Server::builder()
        .layer(tower::layer::layer_fn(move |_routes: Routes| {
            service.clone()
        }))
        .add_routes(Routes::default())
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}

/// Serves the proxy in plaintext (h2c) on `listener`: every client is admin.
pub(crate) async fn serve(
    listener: TcpListener,
    service: ProxyService,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener).map(|c| {
        if let Ok(tcp) = &c {
            let _ = tcp.set_nodelay(true);
        }
        c
    });
    serve_incoming(incoming, service, shutdown).await
}

/// Serves the proxy over mutual TLS on `listener`: a client's role is the OU
/// of its certificate.
pub(crate) async fn serve_tls(
    listener: TcpListener,
    service: ProxyService,
    tls: ServerTls,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    let (conns, accept_loop) = joblet_testkit::tls::incoming(listener, &tls);
    let result = serve_incoming(conns.map(Ok::<_, std::io::Error>), service, shutdown).await;
    drop(accept_loop);
    result
}

/// Where the TLS listener's certificates come from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ProxyTls {
    /// Generate a CA, a server certificate, admin/viewer/no-role client
    /// certificates and an `rnx-config.yml` (nodes `default`, `viewer`,
    /// `norole`, pointing at the proxy) into this directory.
    Generate(PathBuf),
    /// This server identity and client CA.
    Given(ServerTls),
}

/// What to start.
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    /// The plaintext listener (`None`: none).
    pub listen: Option<SocketAddr>,
    /// The mutual-TLS listener and its certificates (`None`: none).
    pub tls: Option<(SocketAddr, ProxyTls)>,
    /// The endpoint behind the proxy, per role.
    pub upstream: Targets,
    /// Where calls are recorded.
    pub recorder: Arc<Recorder>,
}

/// A proxy serving in the background. Dropping it stops it.
#[derive(Debug)]
pub struct RunningProxy {
    /// The plaintext address.
    pub addr: Option<SocketAddr>,
    /// The TLS address.
    pub tls_addr: Option<SocketAddr>,
    /// The generated certificates ([`ProxyTls::Generate`]).
    pub certs: Option<GeneratedCerts>,
    /// The recorder.
    pub recorder: Arc<Recorder>,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<Result<(), tonic::transport::Error>>>,
}

async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), ProxyError> {
    let err = |source| ProxyError::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(err)?;
    let bound = listener.local_addr().map_err(err)?;
    Ok((listener, bound))
}

/// Binds the listeners and serves in the background.
pub async fn start(options: ProxyOptions) -> Result<RunningProxy, ProxyError> {
    if options.listen.is_none() && options.tls.is_none() {
        return Err(ProxyError::NoListener);
    }
    let service = ProxyService::new(&options.upstream, Arc::clone(&options.recorder))?;
    let token = CancellationToken::new();
    let mut tasks = Vec::new();
    let mut running = RunningProxy {
        addr: None,
        tls_addr: None,
        certs: None,
        recorder: options.recorder,
        shutdown: token.clone(),
        tasks: Vec::new(),
    };
    if let Some(addr) = options.listen {
        let (listener, bound) = bind(addr).await?;
        running.addr = Some(bound);
        tasks.push(tokio::spawn(serve(
            listener,
            service.clone(),
            token.clone().cancelled_owned(),
        )));
    }
    if let Some((addr, setup)) = options.tls {
        let (listener, bound) = bind(addr).await?;
        let tls = match setup {
            ProxyTls::Given(tls) => tls,
            ProxyTls::Generate(dir) => {
                let certs = GeneratedCerts::generate(dir, &joblet_testkit::tls::extra_sans(bound))?;
                certs.write_rnx_config(bound)?;
                let tls = certs.server_tls()?;
                running.certs = Some(certs);
                tls
            }
        };
        running.tls_addr = Some(bound);
        tasks.push(tokio::spawn(serve_tls(
            listener,
            service,
            tls,
            token.clone().cancelled_owned(),
        )));
    }
    running.tasks = tasks;
    Ok(running)
}

impl RunningProxy {
    /// A mutual-TLS [`Target`] for a generated client certificate of `role`.
    pub fn tls_target(&self, role: Role) -> Option<Target> {
        let files = self.certs.as_ref()?.tls_files(role)?;
        Some(Target::plaintext(self.tls_addr?.to_string()).with_tls(files))
    }

    /// Stops serving and waits for the listeners to end.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }
}

impl Drop for RunningProxy {
    fn drop(&mut self) {
        self.shutdown.cancel();
        for task in &self.tasks {
            task.abort();
        }
    }
}
