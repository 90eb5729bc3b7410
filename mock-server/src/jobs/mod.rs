//! The job engine: validation, lifecycle, stop/cancel/delete, logs (JOB-*).
//!
//! A job is a record in [`State`](crate::state::State) plus, while it is
//! scheduled or running, one tokio task that waits for the schedule and then
//! runs the simulated command, writing to the job's [`LogBuffer`](crate::logs::LogBuffer). Stopping or
//! canceling aborts that task; a task that ends on its own finalises the record.
//! The record always reaches its final state before the log is closed, so a
//! reader whose stream ended sees the final status.
//!
//! Modules: [`request`] checks a RunJob request (JOB-RUN-2..10) into a job
//! spec; `lifecycle` admits it, records it and plays its task to the end;
//! `view` answers GetJobStatus and ListJobs; `actions` StopJob, CancelJob,
//! DeleteJob and DeleteAllJobs; `logs` GetJobLogs; `telemetry` the v2
//! metrics and telematics RPCs and the simulator's observer of a job.

mod actions;
mod lifecycle;
pub(crate) mod logs;
pub mod request;
mod telemetry;
mod view;

pub use actions::{cancel, delete, delete_all, stop};
pub(crate) use lifecycle::run_workflow_job;
pub use lifecycle::{check_run, run};
pub use logs::{log_tail, logs};
pub use telemetry::{get_metrics, get_telematics, stream_metrics, stream_telematics};
pub use view::{list, status};
