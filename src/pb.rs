//! Generated code for the `joblet` protobuf package (messages, clients,
//! servers), one module per wire contract:
//!
//! - [`v1`]: contract v1.0.6 (`proto/joblet.proto`, joblet-sdk-python 1.x).
//!   Re-exported here, so `joblet_testkit::pb::X` is the v1 `X`; the rest of
//!   the workspace imports it that way.
//! - [`v2`]: contract v2.5.9 (`proto/v2/joblet.proto`, joblet-sdk-python 2.x,
//!   Joblet servers v5.0.2 and later).
//! - [`union`]: both at once, for a server that answers clients of either
//!   contract on the same port: every message the two contracts exchange on
//!   the same method path is one message under its v1 name with the fields of
//!   both; v2-only messages and methods are added as they are.
//!
//! Both contracts use the same package name, so they are compiled separately;
//! their descriptor sets are [`crate::FILE_DESCRIPTOR_SET`] and
//! [`crate::FILE_DESCRIPTOR_SET_V2`].

#[allow(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    clippy::all,
    clippy::pedantic,
    rust_2018_idioms
)]
mod generated {
    /// Contract v1.0.6 (`proto/joblet.proto`).
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/v1/joblet.rs"));
    }

    /// Contract v2.5.9 (`proto/v2/joblet.proto`).
    pub mod v2 {
        include!(concat!(env!("OUT_DIR"), "/v2/joblet.rs"));
    }

    /// Both contracts at once (`build/union.rs`), for a server that answers
    /// clients of either on the same port.
    pub mod union {
        include!(concat!(env!("OUT_DIR"), "/union/joblet.rs"));
    }
}

pub use generated::v1::*;
pub use generated::{union, v1, v2};

/// The encoded `FileDescriptorSet` of `proto/joblet.proto` (package `joblet`,
/// contract v1.0.6, the code in [`v1`]).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/joblet_descriptor.bin"));

/// The encoded `FileDescriptorSet` of `proto/v2/joblet.proto` (package
/// `joblet`, contract v2.5.9, the code in [`v2`]).
pub const FILE_DESCRIPTOR_SET_V2: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/joblet_v2_descriptor.bin"));

/// The encoded `FileDescriptorSet` of [`union`]: both contracts in one
/// package `joblet` (v1 names, v2 additions), as a server that answers
/// clients of either contract describes itself to reflection.
pub const FILE_DESCRIPTOR_SET_UNION: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/joblet_union_descriptor.bin"));
