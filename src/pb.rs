//! Generated code for the `joblet` protobuf package (messages, clients, servers).
//!
//! Everything else in the workspace imports these types as `joblet_testkit::pb::…`.

#[allow(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    clippy::all,
    clippy::pedantic,
    rust_2018_idioms
)]
mod generated {
    tonic::include_proto!("joblet");
}

pub use generated::*;
