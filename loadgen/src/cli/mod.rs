//! The `joblet-loadgen` command line: clap flags, turned into a validated
//! [`RunConfig`](crate::run::RunConfig) (or a capacity search's settings)
//! before anything runs, and the outputs of a run (table, `--json`,
//! `--html`, thresholds and the exit code).
//!
//! The files (this one only declares and re-exports them): `args` (the
//! flags), `prepare` (flags to targets, run settings, plans and rules),
//! `failure` (exit codes), `capacity` (the `capacity` command) and `exec`
//! (running a command, its outputs and exit code).

mod args;
mod capacity;
mod exec;
mod failure;
mod prepare;

pub use args::{
    CapacityArgs, Cli, ClientArg, Command, CommonArgs, ConnectionArgs, JobArgs, LifecycleArgs,
    LoadArgs, LogsArgs, MergeArgs, MixArgs, ProgressArg, SubmitArgs, WireArgs,
};
pub use exec::execute;
pub use failure::{EXIT_INTERRUPTED, EXIT_THRESHOLD, EXIT_USAGE};
