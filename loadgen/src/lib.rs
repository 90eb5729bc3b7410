//! # joblet-loadgen
//!
//! The load generator measures job-submission throughput and latency and
//! log-stream throughput against Joblet nodes. This crate is laid out now so the
//! workspace has its final shape; its load plans, pacing and reports land with
//! its own issue and will reach endpoints through [`joblet_testkit::Target`].

pub use joblet_testkit::Target;
