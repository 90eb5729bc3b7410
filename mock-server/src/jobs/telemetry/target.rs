//! The job a metrics or telematics call is about: its ID resolved as
//! everywhere (ALL-2), and what its answers are made of.

use std::sync::Arc;

use crate::behaviour::{Mutant, Quirk};
use crate::error::{Error, Result};
use crate::job_telemetry::Telemetry;
use crate::session::Shared;
use crate::state::{JobSpec, JobStatus, shown};

/// A job as a metrics or telematics call sees it.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// Its full UUID (every message carries it).
    pub id: String,
    /// Its seed for synthetic figures: its UUID mixed with `--seed`.
    pub seed: u64,
    pub spec: Arc<JobSpec>,
    pub telemetry: Arc<Telemetry>,
    /// It had ended when the call came: the answer is its history only
    /// (JOB-METRICS-2).
    pub ended: bool,
}

/// The job `job_uuid` names, or `None` when no job has that UUID or unique
/// prefix. An empty `job_uuid` gets INVALID_ARGUMENT "job_uuid is required"
/// (JOB-METRICS-2/3); an ambiguous prefix INVALID_ARGUMENT (ALL-2).
pub(crate) fn find(shared: &Shared, job_uuid: &str) -> Result<Option<Target>> {
    if job_uuid.trim().is_empty() {
        return Err(Error::Required("job_uuid"));
    }
    let state = shared.state.lock();
    let seq = match crate::jobs::logs::resolve_read(shared, &state, job_uuid) {
        Ok(seq) => seq,
        Err(Error::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let job = state.jobs.get(seq).expect("resolved");
    let uuid = job.id.as_u128();
    let salt = shared.config.seed.unwrap_or(0).rotate_left(23);
    Ok(Some(Target {
        id: job.id.to_string(),
        seed: (uuid as u64) ^ ((uuid >> 64) as u64).rotate_left(7) ^ salt,
        spec: Arc::clone(&job.spec),
        telemetry: Arc::clone(&job.telemetry),
        ended: job.status.is_final(),
    }))
}

/// [`find`] for the streaming calls: an unknown job gets NOT_FOUND
/// "job not found: <job_uuid>" (JOB-METRICS-2, JOB-TELEM-3), or `None` (an
/// empty stream) under the mutant `unknown_empty` names.
pub(crate) fn find_followed(
    shared: &Shared,
    job_uuid: &str,
    unknown_empty: Mutant,
) -> Result<Option<Target>> {
    match find(shared, job_uuid)? {
        Some(target) => Ok(Some(target)),
        None if shared.mutant(unknown_empty) => Ok(None),
        None => Err(Error::NotFound(format!(
            "job not found: {}",
            shown(job_uuid.trim())
        ))),
    }
}

/// QUIRK-16: the end of a live metrics or telematics stream. A v5.6 node
/// ends it on COMPLETED, FAILED, STOPPED or TIMEOUT only: for a CANCELED job
/// this waits until the client leaves (or the server shuts down).
pub(crate) async fn end_of_stream(shared: &Shared, job_uuid: &str) {
    if !shared.quirk(Quirk::CanceledTelemetryHangs) {
        return;
    }
    let canceled = {
        let state = shared.state.lock();
        state
            .jobs
            .resolve(job_uuid)
            .ok()
            .and_then(|seq| state.jobs.get(seq))
            .is_some_and(|j| j.status == JobStatus::Canceled)
    };
    if canceled {
        std::future::pending::<()>().await;
    }
}

/// A history call's `limit`: 0 keeps everything; a negative one gets
/// INVALID_ARGUMENT naming the field.
pub(crate) fn limit(limit: i32) -> Result<usize> {
    match limit {
        0 => Ok(usize::MAX),
        n if n > 0 => Ok(n as usize),
        n => Err(Error::invalid(
            "limit",
            format!("{n} is negative; give a count, or 0 for no limit"),
        )),
    }
}

/// A history call's time range in Unix nanoseconds, both ends inclusive, 0
/// leaving that side open (JOB-METRICS-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Range {
    pub start: i64,
    pub end: i64,
}

impl Range {
    /// The range of `start_time` and `end_time`.
    pub(crate) fn new(start_time: i64, end_time: i64) -> Self {
        Self {
            start: if start_time == 0 {
                i64::MIN
            } else {
                start_time
            },
            end: if end_time == 0 { i64::MAX } else { end_time },
        }
    }

    /// Everything.
    pub(crate) const ALL: Self = Self {
        start: i64::MIN,
        end: i64::MAX,
    };

    /// Whether `timestamp` is in the range.
    pub(crate) fn contains(self, timestamp: i64) -> bool {
        self.start <= timestamp && timestamp <= self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_inclusive_and_zero_is_open() {
        let r = Range::new(10, 20);
        assert!(r.contains(10) && r.contains(20) && !r.contains(9) && !r.contains(21));
        assert!(Range::new(0, 0).contains(i64::MIN) && Range::new(0, 0).contains(i64::MAX));
        assert!(!Range::new(30, 20).contains(25));
        assert!(Range::new(0, 5).contains(-3));
    }

    #[test]
    fn limits() {
        assert_eq!(limit(0), Ok(usize::MAX));
        assert_eq!(limit(3), Ok(3));
        let e = limit(-1).unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert!(e.to_string().starts_with("limit: "), "{e}");
    }
}
