//! Serving the mock: routes, listeners, start and shutdown.
//!
//! [`serve`] takes a listener that is already bound and a shutdown future, so a
//! test binds port 0 and stops the server when it chooses. [`MockServer`] wraps
//! that for Rust tests: `MockServer::builder()…start().await` returns a
//! [`RunningMock`] with the bound address and a handle that stops it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use joblet_testkit::pb;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::Routes;
use tonic::transport::Server;

use crate::config::MockConfig;
use crate::service::{
    job::JobSvc, monitoring::MonitoringSvc, network::NetworkSvc, runtime::RuntimeSvc,
    volume::VolumeSvc,
};
use crate::sim::{Scenario, UnknownCommand};
use crate::state::Shared;

/// Errors starting the mock.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The transport failed.
    #[error("gRPC transport error: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Every gRPC service of the mock (the five Joblet services, health and
/// reflection), sharing one state.
pub fn routes(shared: &Arc<Shared>) -> Routes {
    let max = shared.config.max_message_bytes;
    macro_rules! svc {
        ($server:ty, $imp:expr) => {{
            <$server>::new($imp)
                .max_decoding_message_size(max)
                .max_encoding_message_size(max)
        }};
    }
    let (health_reporter, health) = tonic_health::server::health_reporter();
    // Every service is served as soon as the router exists.
    drop(health_reporter);
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(joblet_testkit::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .expect("the embedded descriptor sets are valid");
    let mut routes = Routes::new(svc!(
        pb::job_service_server::JobServiceServer<JobSvc>,
        JobSvc::new(Arc::clone(shared))
    ));
    routes = routes
        .add_service(svc!(
            pb::network_service_server::NetworkServiceServer<NetworkSvc>,
            NetworkSvc::new(Arc::clone(shared))
        ))
        .add_service(svc!(
            pb::volume_service_server::VolumeServiceServer<VolumeSvc>,
            VolumeSvc::new(Arc::clone(shared))
        ))
        .add_service(svc!(
            pb::monitoring_service_server::MonitoringServiceServer<MonitoringSvc>,
            MonitoringSvc::new(Arc::clone(shared))
        ))
        .add_service(svc!(
            pb::runtime_service_server::RuntimeServiceServer<RuntimeSvc>,
            RuntimeSvc::new(Arc::clone(shared))
        ))
        .add_service(health)
        .add_service(reflection);
    routes
}

/// `OUT_OF_RANGE` "message length too large" from the codec becomes
/// `RESOURCE_EXHAUSTED`, as gRPC specifies for oversized messages (ALL-7).
fn oversized_is_resource_exhausted<B>(mut resp: http::Response<B>) -> http::Response<B> {
    let headers = resp.headers_mut();
    let too_large = headers.get("grpc-status").is_some_and(|v| v == "11")
        && headers
            .get("grpc-message")
            .and_then(|m| m.to_str().ok())
            .is_some_and(|m| m.contains("message%20length%20too%20large") || m.contains("message length too large"));
    if too_large {
        headers.insert("grpc-status", http::HeaderValue::from_static("8"));
    }
    resp
}

/// Serves the mock on `listener` (plaintext h2c) until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let layer = tower::ServiceBuilder::new()
        .map_response(oversized_is_resource_exhausted::<tonic::body::Body>);
    Server::builder()
        .tcp_nodelay(true)
        .layer(layer)
        .add_routes(routes(&shared))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await
}

/// Entry point for Rust tests and embedding: `MockServer::builder()…start().await`.
#[derive(Debug)]
pub struct MockServer;

impl MockServer {
    /// A builder with the default node (no GPUs, the built-in runtime catalogue,
    /// listening on an ephemeral loopback port).
    pub fn builder() -> MockServerBuilder {
        MockServerBuilder {
            config: MockConfig::default(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

/// Configures a mock before it starts.
#[derive(Debug)]
#[must_use]
pub struct MockServerBuilder {
    config: MockConfig,
    listen: SocketAddr,
}

impl MockServerBuilder {
    /// Replaces the whole configuration.
    pub fn config(mut self, config: MockConfig) -> Self {
        self.config = config;
        self
    }

    /// Address to listen on (default `127.0.0.1:0`, an ephemeral port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Number of simulated GPUs.
    pub fn gpus(mut self, n: u32) -> Self {
        self.config.gpus = n;
        self
    }

    /// Scripted commands.
    pub fn scenarios(mut self, scenarios: Vec<Scenario>) -> Self {
        self.config.scenarios = scenarios;
        self
    }

    /// Policy for commands that are neither built in nor scripted.
    pub fn unknown_command(mut self, policy: UnknownCommand) -> Self {
        self.config.unknown_command = policy;
        self
    }

    /// History kept per job, in bytes.
    pub fn log_retention_bytes(mut self, bytes: usize) -> Self {
        self.config.log_retention_bytes = bytes;
        self
    }

    /// Binds and starts serving in the background.
    pub async fn start(self) -> Result<RunningMock, StartError> {
        let listener = TcpListener::bind(self.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: self.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: self.listen,
            source,
        })?;
        let shared = Shared::new(self.config);
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, Arc::clone(&shared), async {
            let _ = rx.await;
        }));
        Ok(RunningMock {
            addr,
            shared,
            shutdown: Some(tx),
            task: Some(task),
        })
    }
}

/// A mock serving in the background. Dropping it stops it.
#[derive(Debug)]
pub struct RunningMock {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), tonic::transport::Error>>>,
}

impl RunningMock {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, for `Endpoint`/`connect`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The mock's state (for white-box assertions in tests).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Stops serving and waits until the server has ended.
    pub async fn shutdown(mut self) -> Result<(), StartError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            if let Ok(result) = task.await {
                result?;
            }
        }
        Ok(())
    }
}

impl Drop for RunningMock {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Connections may linger: abort rather than wait (never block in Drop).
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
