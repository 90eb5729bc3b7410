//! Integration tests of joblet-loadgen: every scenario briefly against a mock
//! with fixed request counts (no timing assertions), the reports (schema,
//! merge, HDR log, HTML, thresholds), safety (cleanup, Ctrl-C, other
//! clients' jobs) and the binary end to end.

mod binary;
mod k8s;
mod reports;
mod safety;
mod scenarios;
mod support;
