//! Integration tests of joblet-loadgen: every scenario briefly against a mock
//! with fixed request counts (no timing assertions), the reports (schema,
//! merge, HDR log, HTML, thresholds), safety (cleanup, Ctrl-C, other
//! clients' jobs) and the binary end to end.
//!
//! The tests that run a mock need the `embedded` feature (on by default: it
//! brings `joblet-mock`); without it, `without_embedded` checks that a run
//! with no target is refused.

#[cfg(feature = "embedded")]
mod binary;
#[cfg(feature = "embedded")]
mod capacity;
#[cfg(feature = "embedded")]
mod contracts;
mod k8s;
#[cfg(feature = "embedded")]
mod reports;
#[cfg(feature = "embedded")]
mod safety;
#[cfg(feature = "embedded")]
mod scenarios;
#[cfg(feature = "embedded")]
mod support;
#[cfg(feature = "embedded")]
mod transport;
#[cfg(not(feature = "embedded"))]
mod without_embedded;
