//! # joblet-conformance
//!
//! The conformance suite replays every documented Joblet v1 behaviour
//! (`shared/spec/behaviours.md` IDs such as `JOB-STOP-3`) against an endpoint and
//! reports pass or fail per behaviour. This crate is laid out now so the workspace
//! has its final shape; its catalogue of cases lands with its own issue and will
//! reach endpoints through [`joblet_testkit::Target`].

pub use joblet_testkit::Target;
