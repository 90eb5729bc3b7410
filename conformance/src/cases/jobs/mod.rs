//! Jobs (JOB-*): RunJob validation and echo, GPUs, lifecycle and status,
//! stop, cancel, delete and delete-all, list; one module per group, each with
//! its part of the catalogue in catalogue order.

pub(super) mod gpus;
pub(super) mod list;
pub(super) mod run;
pub(super) mod status;
pub(super) mod stop;
