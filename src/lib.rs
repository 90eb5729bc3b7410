//! # joblet-testkit
//!
//! The shared foundation of the Joblet testing toolkit, and its contract
//! crate: what describes Joblet rather than any one tool lives here. Every
//! tool in the workspace (the mock server `joblet-mock`, the conformance suite
//! and the load generator) speaks the Joblet wire contracts through this
//! crate (v1.0.6 of joblet-sdk-python 1.x, v2.5.9 of joblet-sdk-python 2.x
//! and Joblet servers v5.0.2 and later), and the mock and the conformance
//! suite share its role table,
//! transcript format and test TLS, so a real node is judged by the contract,
//! never by the mock's internals. The crate depends on no other crate of the
//! workspace; heavy parts sit behind cargo features (`tls`, `transcript`,
//! `cli`, `test-util`).
//!
//! # Layout
//!
//! - [`pb`]: the prost messages and tonic clients and servers generated at build
//!   time from our own proto files, proven wire-identical to the published
//!   SDKs' contracts by `tests/wire_contract.rs`: [`pb::v1`] from
//!   `proto/joblet.proto` (also re-exported as `pb::X`) and [`pb::v2`] from
//!   `proto/v2/joblet.proto`. Lint allowances live on that module only.
//! - [`FILE_DESCRIPTOR_SET`] and [`FILE_DESCRIPTOR_SET_V2`]: the encoded
//!   descriptor sets of the two contracts, for server reflection and for
//!   comparing contracts; [`FILE_DESCRIPTOR_SET_UNION`] of [`pb::union`], both
//!   in one (a server answering either contract's clients).
//! - [`control`] and [`CONTROL_DESCRIPTOR_SET`]: the generated code and
//!   descriptor set of the mock's own control API (`proto/mock_control.proto`,
//!   package `jobletmock.v1`), kept apart from the contract.
//! - [`contract`]: which methods each contract has, what a node of one, the
//!   other or both ([`contract::Api`]) serves and how it refuses the rest.
//! - [`detect`]: which contract a node speaks ([`detect::detect`]: its
//!   `server_version`, then side-effect-free probes), and how that was decided.
//! - [`auth`]: [`Role`] (from a client certificate's OU) and the per-RPC role
//!   table (which role may call which RPC), with the [`auth::ClientIdentity`]
//!   a TLS listener attaches to each connection.
//! - [`session`]: the `x-joblet-mock-session` metadata key.
//! - `transcript` (feature `transcript`): the JSON Lines format of recorded
//!   calls, its reader, and the recorder (a tower layer over any gRPC server,
//!   and the pieces a proxy uses).
//! - `reflect` (feature `transcript`): the contract's descriptors at run
//!   time (a method's descriptor by name), for proto3 JSON.
//! - `tls` (feature `tls`): server-side mutual TLS for test servers (the
//!   listener's configuration and accept loop, PEM loading) and a throw-away
//!   PKI of generated certificates with `rnx-config.yml`.
//! - [`Target`]: where a client connects (address, plaintext or mutual TLS,
//!   timeouts) and [`Target::connect`], which the conformance suite and the load
//!   generator use to reach a real node or a mock.
//! - `raw` (feature `transcript`): any method called with an encoded request, its answer read as
//!   raw messages (replay, robustness tests).
//! - [`rnx`]: `rnx-config.yml` nodes (address and embedded certificates) as
//!   targets.
//! - `cli` (feature `cli`): the connection flags (`--ca/--cert/--key`,
//!   `--node`, `JOBLET_*` variables) that the conformance suite and the load
//!   generator share.
//! - [`code_name`] and [`parse_code`]: gRPC status codes by their spec names;
//!   [`parse_duration`]: durations as the tools' flags write them.
//! - [`Error`]: the typed errors of this crate; [`error_chain`] prints any
//!   error with its causes, as the binaries do.
//! - [`ShutdownSignal`]: SIGINT/SIGTERM registered before a binary announces
//!   that it is ready, so a stop right after is still graceful.
//! - `testing` (feature `test-util`): helpers shared by the crates' tests.

pub mod auth;
#[cfg(feature = "cli")]
pub mod cli;
mod code;
pub mod contract;
pub mod control;
pub mod detect;
mod duration;
pub mod error;
pub mod pb;
#[cfg(feature = "transcript")]
pub mod raw;
#[cfg(feature = "transcript")]
pub mod reflect;
pub mod rnx;
pub mod session;
mod signal;
pub mod target;
#[cfg(feature = "test-util")]
pub mod testing;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(feature = "transcript")]
pub mod transcript;

pub use auth::Role;
pub use code::{code_name, parse_code};
pub use control::CONTROL_DESCRIPTOR_SET;
pub use duration::parse_duration;
pub use error::{Error, error_chain};
pub use pb::{FILE_DESCRIPTOR_SET, FILE_DESCRIPTOR_SET_UNION, FILE_DESCRIPTOR_SET_V2};
pub use signal::ShutdownSignal;
pub use target::{Target, Tls, TlsFiles, TlsPem};
