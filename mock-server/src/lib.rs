//! # joblet-mock
//!
//! An in-memory, stateful Joblet v1 server for SDK developers' tests. It starts
//! in milliseconds, needs no root, no namespaces and no network beyond loopback,
//! and answers with the real server's validation, status strings and gRPC codes
//! (the `documented` profile of `docs/behaviours.md`).
//!
//! # Architecture
//!
//! One [`session::Shared`] holds the configuration, the single in-memory
//! [`state::State`] (jobs, networks, volumes, runtimes, GPUs) behind one short-held
//! mutex, and the [`sim::Simulator`]. Each proto service is a thin module under
//! [`service`] that calls a domain module ([`jobs`] for the job engine) and turns
//! its [`error::Error`] into a `tonic::Status` at the boundary. A job is a record
//! plus one tokio task that runs the simulated command (no real processes:
//! built-ins and `sh -c` scripts are interpreted, other commands follow scenario
//! files) and writes to the job's [`logs::LogBuffer`], which keeps bounded history,
//! fans out to any number of readers and back-pressures the job when readers are
//! slow. Job records and log history count in one process-wide [`budget`]
//! (`--memory-budget`): over it, finished jobs' history and then finished
//! records are evicted, oldest first. [`server`] builds the routes (plus gRPC health and reflection) and serves
//! them on a listener the caller bound, until a shutdown future completes.
//! The mock's own control API (`jobletmock.v1.MockControl`:
//! [`service::control`]) resets sessions, moves virtual clocks, sets faults,
//! loads scenarios, lists calls and takes or restores [`snapshot`]s; the
//! operations live in [`control`], the `joblet-mock ctl` command in [`ctl`].
//! With `--record FILE` (or `--transcript-size N`) a [`transcript::Recorder`]
//! wraps every listener and records each Joblet call with its whole answer,
//! as JSON Lines that `joblet-conformance replay` plays against any endpoint.
//!
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

pub mod auth;
pub mod behaviour;
pub mod budget;
pub mod catalogue;
pub mod clock;
pub mod config;
pub mod control;
pub mod ctl;
pub mod error;
pub mod exec;
pub mod faults;
pub mod job_table;
pub mod jobs;
pub mod journal;
pub mod logs;
pub mod monitoring;
pub mod networks;
pub mod recorder;
pub mod runtimes;
pub mod server;
pub mod service;
pub mod session;
pub mod sim;
pub mod snapshot;
pub mod state;
pub mod stream;
pub mod time;
pub mod tls;
pub mod transcript;
pub mod validate;
pub mod volumes;
pub mod workflow;

pub use auth::Role;
pub use behaviour::{Mutant, Quirk};
pub use clock::{Clock, ClockMode};
pub use config::{MockConfig, Profile};
pub use server::{
    MockServer, MockServerBuilder, RunningMock, StartError, TlsSetup, routes, serve, serve_tls,
};
pub use session::Node;
pub use sim::UnknownCommand;
pub use tls::{GeneratedCerts, MockTls};
