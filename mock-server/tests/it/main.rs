//! Integration tests of `joblet-mock`: one binary, one module per area. Each test
//! starts its own mock on an ephemeral port; tests are named after the
//! behaviour IDs of `shared/spec/behaviours.md` they check.

mod support;

mod auth;
mod e2e;
mod jobs;
mod logs;
mod monitoring;
mod networks;
mod reflection;
mod runtimes;
mod volumes;
