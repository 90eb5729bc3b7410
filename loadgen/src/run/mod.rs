//! A run from start to report: targets (or the embedded mock), a preflight
//! connection to each, the generator threads, the collector that turns their
//! interval statistics into totals, time series, the HDR log and the progress
//! line, the server metrics, and the cleanup.
//!
//! The files, bottom up (this one only declares and re-exports them):
//! `config` ([`RunConfig`], [`Stop`], [`RunError`] and the checks before a
//! run), `embedded` (the embedded mock), `collector` (intervals into totals
//! and time series), `summary` (totals into the [`Report`](crate::report::Report))
//! and `driver` ([`run`]: setup, drive, drain, report).

mod collector;
mod config;
mod driver;
mod embedded;
mod summary;

pub use crate::contract::ContractMemo;
pub use crate::progress::ProgressMode;
pub use config::{RunConfig, RunError, Stop, TargetSpec, WorkerShare};
pub use driver::run;
pub(crate) use embedded::Embedded;
