//! Generated code for the mock's control API, `proto/mock_control.proto`
//! (package `jobletmock.v1`: the `MockControl` service of `joblet-mock`).
//!
//! Kept apart from [`crate::pb`]: it is not part of the Joblet contract, and its
//! descriptor set is [`CONTROL_DESCRIPTOR_SET`], not
//! [`crate::FILE_DESCRIPTOR_SET`].

#[allow(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    clippy::all,
    clippy::pedantic,
    rust_2018_idioms
)]
mod generated {
    tonic::include_proto!("jobletmock.v1");
}

pub use generated::*;

/// The encoded `FileDescriptorSet` of `proto/mock_control.proto` (package
/// `jobletmock.v1`, the mock's control API), for reflection.
pub const CONTROL_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/mock_control_descriptor.bin"));
