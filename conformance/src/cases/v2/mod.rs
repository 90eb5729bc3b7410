//! Cases of the behaviours only contract v2.5.9 has (`* ID [v2]` items of
//! `docs/behaviours.md`), spoken with the `pb::v2` messages: RunJob's answer
//! and `timeout`, GetJobLogs' history, job metrics and telematics, the v2
//! host of GetSystemStatus, the contract probes, the v2 roles, runtime YAML
//! checks and builds.

mod auth;
pub(crate) mod client;
mod contract;
mod jobs;
pub(crate) mod runtimes;
mod telemetry;

pub(crate) use auth::CASES as AUTH;
pub(crate) use contract::CASES as CONTRACT;
pub(crate) use jobs::CASES as JOBS;
pub(crate) use runtimes::CASES as RUNTIMES;
pub(crate) use telemetry::CASES as TELEMETRY;
