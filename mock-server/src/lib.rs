//! # joblet-mock
//!
//! An in-memory, stateful Joblet v1 server for SDK developers' tests. It starts
//! in milliseconds, needs no root, no namespaces and no network beyond loopback,
//! and answers with the real server's validation, status strings and gRPC codes
//! (the `documented` profile of `docs/behaviours.md`).
//!
//! # Architecture
//!
//! Four layers, top to bottom (`docs/architecture.md` draws them and
//! `joblet-archcheck` enforces them): the **adapters** (the gRPC services, one
//! module per proto service behind one gate that picks the session, applies
//! fault rules and journals the call; the server with health, reflection, TLS
//! and roles; the control API and `joblet-mock ctl`), the **engine** (jobs,
//! workflows, networks, volumes, runtimes), the **session** (one `Shared` per
//! session: its state behind one short-held mutex, its clock, simulator,
//! journal, faults and memory account, put together once; a [`Node`] holds
//! every session of a process) over the model (job table, workflow table,
//! configuration), and the **foundations** (clocks, bounded log buffers, the
//! process-wide memory budget, fault rules, the journal, the transcript
//! store). A job is a record plus one tokio task that runs the simulated
//! command through `joblet-sim` (no real processes) and writes to the job's
//! log buffer, which keeps bounded history, fans out to any number of readers
//! and back-pressures the job when readers are slow. Job records and log
//! history count in one memory budget (`--memory-budget`): over it, finished
//! jobs' history and then finished records are evicted, oldest first. A job's
//! contract v2 telemetry comes from the same simulation: its metrics samples
//! are computed from the time it ran on the session clock
//! (`--metrics-interval`), and its telematics events are what `joblet-sim`'s
//! observer reports of the processes it starts and the files it writes.
//!
//! # Public API
//!
//! - Start one: [`MockServer::builder`] → [`RunningMock`] (its address,
//!   certificates, control methods, shutdown), or [`serve`]/[`serve_tls`] a
//!   [`Node`] on a listener you bound. [`MockConfig`] shapes the node
//!   ([`Profile`], [`Quirk`], [`Mutant`], [`ClockMode`], [`UnknownCommand`],
//!   [`Scenario`]s, [`faults`] rules, [`catalogue`] runtimes, memory limits).
//! - Drive it: [`RunningMock`]'s control methods, the gRPC control API
//!   (`jobletmock.v1.MockControl`, stubs in `joblet_testkit::control`), or
//!   [`ctl`] (the `joblet-mock ctl` command); [`Expectation`]s over
//!   [`CallRecord`]s verify calls.
//! - Record it: a [`Recorder`] in [`MockConfig::transcript`] writes every call
//!   with its whole answer as JSON Lines that `joblet-conformance replay`
//!   plays against any endpoint.

//! # Getting started
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use joblet_mock::MockServer;
//! use joblet_testkit::pb::{RunJobRequest, job_service_client::JobServiceClient};
//!
//! let mock = MockServer::builder().gpus(2).start().await?;
//! let mut jobs = JobServiceClient::connect(mock.url()).await?;
//! let job = jobs
//!     .run_job(RunJobRequest { command: "echo".into(), args: vec!["hi".into()], ..Default::default() })
//!     .await?
//!     .into_inner();
//! assert_eq!(job.status, "RUNNING");
//! mock.shutdown().await?;
//! # Ok(()) }
//! ```

mod auth;
mod behaviour;
mod budget;
pub mod catalogue;
mod clock;
mod config;
mod control;
pub mod ctl;
mod error;
mod exec;
pub mod faults;
mod job_table;
mod job_telemetry;
mod jobs;
mod journal;
mod logs;
mod monitoring;
mod networks;
mod recorder;
mod runtime_build;
mod runtime_yaml;
mod runtimes;
mod server;
mod service;
mod session;
mod sim;
mod snapshot;
mod state;
mod stream;
mod time;
mod tls;
mod transcript;
mod validate;
mod volumes;
mod workflow;

pub use auth::Role;
pub use behaviour::{Contracts, Mutant, Quirk};
pub use budget::{
    BudgetReport, DEFAULT_MAX_JOBS, DEFAULT_MAX_WORKFLOWS, DEFAULT_MEMORY_BUDGET, format_size,
    parse_size,
};
pub use clock::ClockMode;
pub use config::{
    DEFAULT_JOURNAL_SIZE, DEFAULT_LOG_RETENTION, DEFAULT_METRICS_INTERVAL, MAX_MESSAGE_BYTES,
    MockConfig, Profile, parse_metrics_interval,
};
pub use control::{ClockReading, LoadedScenarios, MemoryReport, SessionMemory};
pub use joblet_testkit::auth::RoleModel;
pub use joblet_testkit::contract::Api;
pub use joblet_testkit::transcript::DEFAULT_LOG_LIMIT;
pub use journal::{CallRecord, Expectation, Times, VerificationError};
pub use recorder::{Recorder, RecorderOptions};
pub use server::{
    MockServer, MockServerBuilder, RunningMock, StartError, TlsSetup, routes, serve, serve_tls,
};
pub use session::{Node, SESSION_HEADER};
pub use sim::{Scenario, ScenarioError, UnknownCommand, load_scenarios, parse_scenarios};
pub use snapshot::{RESTORED_LINE, RestoreSummary};
pub use tls::{GeneratedCerts, MockTls, extra_sans, load_certs, load_key};

/// White-box access for this crate's own integration tests (`tests/it`):
/// a running mock's session state, records and errors. Not part of the API:
/// no stability, no documentation.
#[doc(hidden)]
pub mod test_support {
    pub use crate::auth::JOBLET_RPCS;
    pub use crate::error::Error;
    pub use crate::logs::LogBuffer;
    pub use crate::session::Shared;
    pub use crate::state::{NetworkRecord, VolumeRecord};
}
