//! Integration tests of `joblet-mock`: one binary, one module per area. Each test
//! starts its own mock on an ephemeral port; tests are named after the
//! behaviour IDs of `docs/behaviours.md` they check.

mod support;

mod auth;
mod clock;
mod contract;
mod control;
mod docs;
mod e2e;
mod faults;
mod jobs;
mod journal;
mod logs;
mod memory;
mod monitoring;
mod mutants;
mod mutants_v2;
mod networks;
mod quirks;
mod quirks_v2;
// Shown verbatim in README.md and docs/mock-server.md (checked by `docs`), so
// kept as written there.
#[rustfmt::skip]
mod readme_example;
mod reflection;
mod robustness;
mod runtime_build;
mod runtimes;
mod scenarios;
mod sessions;
mod telemetry;
// Shown verbatim in docs/mock-server.md (checked by `docs`), so kept as
// written there.
#[rustfmt::skip]
mod v2_example;
mod volumes;
mod workflows;
