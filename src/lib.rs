//! # joblet-testkit
//!
//! The shared foundation of the Joblet testing toolkit. Every tool in the
//! workspace (the mock server `joblet-mock`, the conformance suite and the load
//! generator) speaks the Joblet wire contracts through this crate: v1.0.6
//! (joblet-sdk-python 1.x) and v2.5.9 (joblet-sdk-python 2.x, Joblet servers
//! v5.0.2 and later).
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
//! - [`Target`]: where a client connects (address, plaintext or mutual TLS,
//!   timeouts) and [`Target::connect`], which the conformance suite and the load
//!   generator use to reach a real node or a mock.
//! - [`rnx`]: `rnx-config.yml` nodes (address and embedded certificates) as
//!   targets.
//! - `cli` (feature `cli`): the connection flags (`--ca/--cert/--key`,
//!   `--node`, `JOBLET_*` variables) that the conformance suite and the load
//!   generator share.
//! - [`code_name`]: gRPC status codes by their spec names;
//!   [`parse_duration`]: durations as the tools' flags write them.
//! - [`Error`]: the typed errors of this crate; [`error_chain`] prints any
//!   error with its causes, as the binaries do.
//! - [`ShutdownSignal`]: SIGINT/SIGTERM registered before a binary announces
//!   that it is ready, so a stop right after is still graceful.
//! - `testing` (feature `test-util`): helpers shared by the crates' tests.

#[cfg(feature = "cli")]
pub mod cli;
mod code;
pub mod control;
mod duration;
pub mod error;
pub mod pb;
pub mod rnx;
mod signal;
pub mod target;
#[cfg(feature = "test-util")]
pub mod testing;

pub use code::code_name;
pub use duration::parse_duration;
pub use error::{Error, error_chain};
pub use signal::ShutdownSignal;
pub use target::{Target, Tls, TlsFiles, TlsPem};

/// The encoded `FileDescriptorSet` of `proto/joblet.proto` (package `joblet`,
/// contract v1.0.6, the code in [`pb::v1`]).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/joblet_descriptor.bin"));

/// The encoded `FileDescriptorSet` of `proto/v2/joblet.proto` (package
/// `joblet`, contract v2.5.9, the code in [`pb::v2`]).
pub const FILE_DESCRIPTOR_SET_V2: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/joblet_v2_descriptor.bin"));

/// The encoded `FileDescriptorSet` of [`pb::union`]: both contracts in one
/// package `joblet` (v1 names, v2 additions), as a server that answers
/// clients of either contract describes itself to reflection.
pub const FILE_DESCRIPTOR_SET_UNION: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/joblet_union_descriptor.bin"));

/// The encoded `FileDescriptorSet` of `proto/mock_control.proto` (package
/// `jobletmock.v1`, the mock's control API), for reflection.
pub const CONTROL_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/mock_control_descriptor.bin"));
