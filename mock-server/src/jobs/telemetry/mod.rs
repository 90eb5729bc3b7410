//! The v2 job telemetry RPCs: StreamJobMetrics and GetJobMetrics
//! (JOB-METRICS-*), StreamJobTelematics and GetJobTelematics (JOB-TELEM-*),
//! and the observer that turns a job's simulated processes and file writes
//! into telematics events.
//!
//! What a job's telemetry holds is its record's
//! [`Telemetry`](crate::job_telemetry::Telemetry): `target` resolves the job
//! of a call, `metrics` computes samples from the time the job ran,
//! `telematics` renders and filters its events, `observe` records them as the
//! simulator reports them.

mod metrics;
mod observe;
mod target;
mod telematics;

pub use metrics::{get_metrics, stream_metrics};
pub use observe::TelemetryObserver;
pub use telematics::{get_telematics, stream_telematics};
