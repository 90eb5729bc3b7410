//! Serving the mock: routes, listeners, start and shutdown.
//!
//! [`serve`] (plaintext h2c, every caller admin: AUTH-1) and [`serve_tls`]
//! (mutual TLS 1.3, roles from client certificates: AUTH-2, AUTH-3) take a
//! listener that is already bound and a shutdown future, so a test binds port 0
//! and stops the server when it chooses. Both may serve one [`Shared`] state at
//! once. Every listener gets the same stack: the ALL-7 status fix-up, then the
//! [`AuthLayer`] (authorization before any handler runs: AUTH-4, AUTH-5), then
//! the [`routes`] (the Joblet services, health and reflection).
//!
//! [`MockServer`] wraps that for Rust tests: `MockServer::builder()…start().await`
//! returns a [`RunningMock`] with the bound addresses and a handle that stops it.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use joblet_testkit::Target;
use joblet_testkit::pb::union as pb;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_stream::{Stream, StreamExt, wrappers::TcpListenerStream};
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic::transport::server::Connected;

use crate::auth::{AuthLayer, AuthMode, Role};
use crate::config::MockConfig;
use crate::journal::{CallRecord, Expectation, VerificationError};
use crate::service::{
    Gate, job::JobSvc, monitoring::MonitoringSvc, network::NetworkSvc, runtime::RuntimeSvc,
    volume::VolumeSvc,
};
use crate::session::Node;
use crate::session::Shared;
use crate::sim::{Scenario, UnknownCommand};
use crate::tls::{GeneratedCerts, MockTls, TlsError};

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
    /// TLS could not be set up.
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
}

/// Every gRPC service of the mock (the five Joblet services, the mock's
/// control service, health and reflection), over one node.
pub fn routes(node: &Arc<Node>) -> Routes {
    let max = node.config().message_limit();
    let gate = Gate::new(Arc::clone(node));
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
    // Reflection describes the contract served: v1, v2, or their union.
    let contract = match node.config().api {
        joblet_testkit::contract::Api::V1 => joblet_testkit::FILE_DESCRIPTOR_SET,
        joblet_testkit::contract::Api::V2 => joblet_testkit::FILE_DESCRIPTOR_SET_V2,
        joblet_testkit::contract::Api::Both => joblet_testkit::FILE_DESCRIPTOR_SET_UNION,
    };
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(contract)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(joblet_testkit::CONTROL_DESCRIPTOR_SET)
        .build_v1()
        .expect("the embedded descriptor sets are valid");
    let mut routes = Routes::new(svc!(
        pb::job_service_server::JobServiceServer<JobSvc>,
        JobSvc::new(gate.clone())
    ));
    routes = routes
        .add_service(svc!(
            pb::network_service_server::NetworkServiceServer<NetworkSvc>,
            NetworkSvc::new(gate.clone())
        ))
        .add_service(svc!(
            pb::volume_service_server::VolumeServiceServer<VolumeSvc>,
            VolumeSvc::new(gate.clone())
        ))
        .add_service(svc!(
            pb::monitoring_service_server::MonitoringServiceServer<MonitoringSvc>,
            MonitoringSvc::new(gate.clone())
        ))
        .add_service(svc!(
            pb::runtime_service_server::RuntimeServiceServer<RuntimeSvc>,
            RuntimeSvc::new(gate.clone())
        ))
        .add_service(svc!(
            joblet_testkit::control::mock_control_server::MockControlServer<
                crate::service::control::ControlSvc,
            >,
            crate::service::control::ControlSvc::new(Arc::clone(node))
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
            .is_some_and(|m| {
                m.contains("message%20length%20too%20large")
                    || m.contains("message length too large")
            });
    if too_large {
        headers.insert("grpc-status", http::HeaderValue::from_static("8"));
    }
    resp
}

/// Serves the routes on `incoming` with the stack every listener shares.
async fn serve_incoming<I, IO, IE>(
    incoming: I,
    node: Arc<Node>,
    mode: AuthMode,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error>
where
    I: Stream<Item = Result<IO, IE>>,
    IO: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
    IE: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let layer = tower::ServiceBuilder::new()
        // Outermost: calls refused by authorization are recorded too, with
        // the status the client gets.
        .option_layer(
            node.config()
                .transcript
                .clone()
                .map(crate::transcript::RecordLayer::new),
        )
        .map_response(oversized_is_resource_exhausted::<tonic::body::Body>)
        // The other contract's methods: UNIMPLEMENTED for every role (CONTRACT-1).
        .layer(
            crate::service::contract::ContractLayer::new(node.config().api)
                .mutant(node.config().mutant),
        )
        // QUIRK-11: monitoring needs no role on a server-v1 mock.
        .layer(
            AuthLayer::new(mode)
                .open_monitoring(
                    node.config()
                        .behaviour()
                        .quirk(crate::behaviour::Quirk::OpenMonitoring),
                )
                // QUIRK-1: CancelJob is unimplemented for every role.
                .unchecked_cancel(
                    node.config()
                        .behaviour()
                        .quirk(crate::behaviour::Quirk::CancelUnimplemented),
                )
                // AUTH-1..5 mutants.
                .mutant(node.config().mutant)
                // AUTH-6 and AUTH-8; QUIRK-22 and the AUTH-6 mutant: no
                // `reader` alias.
                .contract(node.config().api)
                .reader_alias(
                    !node
                        .config()
                        .behaviour()
                        .quirk(crate::behaviour::Quirk::NoReaderAlias)
                        && node.config().mutant != Some(crate::behaviour::Mutant::ReaderUnknown),
                )
                .roles(node.config().roles),
        );
    let routes = routes(&node);
    // Streams that never end by themselves (logs of running jobs, metric
    // streams) end with UNAVAILABLE once shutdown begins, so the graceful
    // shutdown completes.
    let shutdown = async move {
        shutdown.await;
        node.begin_shutdown();
    };
    Server::builder()
        .layer(layer)
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}

/// Serves the mock on `listener` (plaintext h2c, every caller admin: AUTH-1)
/// until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    node: Arc<Node>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let incoming = TcpListenerStream::new(listener).map(|conn| {
        if let Ok(tcp) = &conn {
            let _ = tcp.set_nodelay(true);
        }
        conn
    });
    serve_incoming(incoming, node, AuthMode::Plaintext, shutdown).await
}

/// Serves the mock on `listener` over mutual TLS (TLS 1.3 only, client
/// certificate required, role from its OU: AUTH-2, AUTH-3) until `shutdown`
/// completes. `node` may be served by [`serve`] at the same time.
pub async fn serve_tls(
    listener: TcpListener,
    node: Arc<Node>,
    tls: MockTls,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    // AUTH-2 mutant: the client certificate is optional.
    let tls = if node.config().mutant == Some(crate::behaviour::Mutant::TlsAnonymous) {
        tls.allowing_anonymous()
    } else {
        tls
    };
    let (conns, accept_loop) = crate::tls::incoming(listener, &tls);
    let result = serve_incoming(
        conns.map(Ok::<_, std::io::Error>),
        node,
        AuthMode::Tls,
        shutdown,
    )
    .await;
    drop(accept_loop);
    result
}

/// How the TLS listener of a [`MockServer`] gets its certificates.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TlsSetup {
    /// Generate a CA, server and client certificates and `rnx-config.yml` into
    /// this directory at start ([`GeneratedCerts`]).
    Generate(PathBuf),
    /// Use this server identity and client CA.
    Given(MockTls),
}

impl From<MockTls> for TlsSetup {
    fn from(tls: MockTls) -> Self {
        Self::Given(tls)
    }
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
            tls: None,
            tls_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

/// Configures a mock before it starts.
#[derive(Debug)]
#[must_use]
pub struct MockServerBuilder {
    config: MockConfig,
    listen: SocketAddr,
    tls: Option<TlsSetup>,
    tls_listen: SocketAddr,
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

    /// Also serve mutual TLS, on [`tls_listen`](Self::tls_listen) (default
    /// `127.0.0.1:0`), sharing the state with the plaintext listener:
    /// `.tls(TlsSetup::Generate(dir))` or `.tls(mock_tls)`.
    pub fn tls(mut self, setup: impl Into<TlsSetup>) -> Self {
        self.tls = Some(setup.into());
        self
    }

    /// Address of the TLS listener (default `127.0.0.1:0`); only used with [`tls`](Self::tls).
    pub fn tls_listen(mut self, addr: SocketAddr) -> Self {
        self.tls_listen = addr;
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

    /// Memory the whole mock may give job records and log history
    /// (`--memory-budget`, see `crate::budget`).
    pub fn memory_budget(mut self, bytes: u64) -> Self {
        self.config.memory_budget = bytes;
        self
    }

    /// Job records each session keeps at most (`--max-jobs`; 0: no cap).
    pub fn max_jobs(mut self, n: usize) -> Self {
        self.config.max_jobs = n;
        self
    }

    /// Workflows each session keeps at most (`--max-workflows`; 0: no cap).
    pub fn max_workflows(mut self, n: usize) -> Self {
        self.config.max_workflows = n;
        self
    }

    /// Binds, generates certificates if asked, and starts serving in the background.
    pub async fn start(self) -> Result<RunningMock, StartError> {
        let (listener, addr) = bind(self.listen).await?;
        let node = Node::new(self.config);
        let token = CancellationToken::new();
        let mut tasks = Vec::new();
        let mut tls_addr = None;
        let mut certs = None;
        if let Some(setup) = self.tls {
            let (tls_listener, bound) = bind(self.tls_listen).await?;
            let tls = match setup {
                TlsSetup::Given(tls) => tls,
                TlsSetup::Generate(dir) => {
                    let extra = crate::tls::extra_sans(bound);
                    let generated = GeneratedCerts::generate(dir, &extra)?;
                    generated.write_rnx_config(bound)?;
                    let tls = generated.mock_tls()?;
                    certs = Some(generated);
                    tls
                }
            };
            tls_addr = Some(bound);
            tasks.push(tokio::spawn(serve_tls(
                tls_listener,
                Arc::clone(&node),
                tls,
                token.clone().cancelled_owned(),
            )));
        }
        tasks.push(tokio::spawn(serve(
            listener,
            Arc::clone(&node),
            token.clone().cancelled_owned(),
        )));
        Ok(RunningMock {
            addr,
            tls_addr,
            certs,
            node,
            shutdown: token,
            tasks,
        })
    }
}

async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), StartError> {
    let err = |source| StartError::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(err)?;
    let bound = listener.local_addr().map_err(err)?;
    Ok((listener, bound))
}

/// A mock serving in the background. Dropping it stops it.
#[derive(Debug)]
pub struct RunningMock {
    addr: SocketAddr,
    tls_addr: Option<SocketAddr>,
    certs: Option<GeneratedCerts>,
    node: Arc<Node>,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<Result<(), tonic::transport::Error>>>,
}

impl RunningMock {
    /// The bound plaintext address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, for `Endpoint`/`connect`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound TLS address, when TLS is on.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_addr
    }

    /// The generated certificates (with [`TlsSetup::Generate`]).
    pub fn certs(&self) -> Option<&GeneratedCerts> {
        self.certs.as_ref()
    }

    /// A mutual-TLS [`Target`] for the generated admin or viewer client
    /// (`None` without TLS or with given certificates; [`Role::Unknown`] is the generated `norole` client).
    pub fn tls_target(&self, role: Role) -> Option<Target> {
        let files = self.certs.as_ref()?.tls_files(role)?;
        Some(Target::plaintext(self.tls_addr?.to_string()).with_tls(files))
    }

    #[doc(hidden)]
    /// The default session's state (for white-box assertions in tests).
    pub fn shared(&self) -> Arc<Shared> {
        self.node.default_session()
    }

    /// Every session of the mock.
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    #[doc(hidden)]
    /// A session's state, created on first use ("" or `default`: the default one).
    pub fn session(&self, name: &str) -> Result<Arc<Shared>, tonic::Status> {
        Ok(self.node.session(name)?)
    }

    /// Every call received by every session, oldest first within a session
    /// (the default session first).
    pub fn received_calls(&self) -> Vec<CallRecord> {
        let mut calls: Vec<CallRecord> = self
            .node
            .sessions()
            .iter()
            .flat_map(|s| s.journal.calls())
            .collect();
        calls.sort_by_key(|c| c.wall_time);
        calls
    }

    /// Checks an expectation against every call received (wiremock-style):
    /// `mock.verify(&Expectation::method("RunJob").request_contains(json!({"command": "echo"})).times(1))`.
    /// The error lists what was received.
    pub fn verify(&self, expectation: &Expectation) -> Result<usize, VerificationError> {
        crate::journal::verify(&self.received_calls(), expectation)
    }

    /// Moves a session's virtual clock forward (see `crate::clock`).
    pub async fn advance_clock(
        &self,
        session: &str,
        by: std::time::Duration,
    ) -> Result<i64, tonic::Status> {
        let shared = self.node.session(session)?;
        shared
            .clock
            .advance(by)
            .await
            .map_err(|e| tonic::Status::failed_precondition(e.to_string()))
    }

    /// Starts a session afresh (jobs end; state, clock, faults and journal are new).
    pub fn reset(&self, session: &str) -> Result<(), tonic::Status> {
        Ok(self.node.reset(session)?)
    }

    /// Resets every session (the control API's `Reset` with `all`).
    pub fn reset_all(&self) {
        self.node.reset_all();
    }

    /// Now on a session's clock, Unix milliseconds (the control API's `GetClock`).
    pub fn clock_now(&self, session: &str) -> Result<i64, tonic::Status> {
        Ok(self.node.session(session)?.clock.now_ms())
    }

    /// Replaces a session's fault rules (counters start afresh); see
    /// [`crate::faults`]. Rules can be built in code or parsed with
    /// [`crate::faults::parse_rule`]: `"RunJob:fail=UNAVAILABLE:after=2".parse()?`.
    pub fn set_faults(
        &self,
        session: &str,
        rules: Vec<crate::faults::FaultRule>,
    ) -> Result<(), tonic::Status> {
        let shared = self.node.session(session)?;
        Ok(crate::control::set_faults(&shared, rules, false)?)
    }

    /// Removes every fault rule of a session.
    pub fn clear_faults(&self, session: &str) -> Result<(), tonic::Status> {
        self.node.session(session)?.faults.clear();
        Ok(())
    }

    /// A session's fault rules, in order.
    pub fn faults(&self, session: &str) -> Result<Vec<crate::faults::FaultRule>, tonic::Status> {
        Ok(self.node.session(session)?.faults.rules())
    }

    /// Loads scenario YAML (a top-level `scenarios` list) into a session: the
    /// new scenarios take precedence over those already loaded, or replace
    /// them. `INVALID_ARGUMENT` with the line for YAML that does not parse.
    pub fn load_scenario(
        &self,
        session: &str,
        yaml: &str,
        replace: bool,
    ) -> Result<crate::control::LoadedScenarios, tonic::Status> {
        let shared = self.node.session(session)?;
        Ok(crate::control::load_scenario(
            &shared,
            yaml,
            "<RunningMock::load_scenario>",
            replace,
        )?)
    }

    /// A session's state as JSON (see `crate::snapshot`).
    pub fn snapshot(&self, session: &str) -> Result<String, tonic::Status> {
        let shared = self.node.session(session)?;
        Ok(crate::snapshot::to_json(&crate::snapshot::take(&shared)))
    }

    /// Replaces a session's state with a [`snapshot`](Self::snapshot)'s JSON;
    /// jobs that were not final come back `STOPPED` with exit code -1 (see
    /// `crate::snapshot`).
    pub async fn restore(
        &self,
        session: &str,
        json: &str,
    ) -> Result<crate::snapshot::RestoreSummary, tonic::Status> {
        let shared = self.node.session(session)?;
        let snap = crate::snapshot::from_json(json)?;
        Ok(crate::snapshot::restore(&shared, &snap).await?)
    }

    /// The memory budget's figures and each session's (the control API's
    /// `GetMemory`; see `crate::budget`).
    pub fn memory(&self) -> crate::control::MemoryReport {
        crate::control::memory_report(&self.node)
    }

    /// Stops serving and waits until every listener has ended.
    pub async fn shutdown(mut self) -> Result<(), StartError> {
        self.shutdown.cancel();
        for task in std::mem::take(&mut self.tasks) {
            if let Ok(result) = task.await {
                result?;
            }
        }
        Ok(())
    }
}

impl Drop for RunningMock {
    fn drop(&mut self) {
        self.shutdown.cancel();
        // Connections may linger: abort rather than wait (never block in Drop).
        for task in &self.tasks {
            task.abort();
        }
    }
}
