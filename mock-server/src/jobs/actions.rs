//! StopJob, CancelJob, DeleteJob and DeleteAllJobs: what each may act on
//! (JOB-STOP-*, JOB-CANCEL-*, JOB-DEL-*, JOB-DELALL-1) and what it leaves.

use joblet_testkit::pb::union as pb;

use super::lifecycle::finish_locked;
use crate::behaviour::{Mutant, Quirk};
use crate::error::{Error, Result};
use crate::session::Shared;
use crate::state::{Job, JobStatus, State};
use crate::time::rfc3339_opt;

fn abort_task(job: &mut Job) {
    if let Some(task) = job.task.take() {
        task.abort();
    }
}

/// The job a StopJob, CancelJob or DeleteJob names. QUIRK-5: the deployed
/// server looks those up exactly (no prefixes, no case folding).
fn resolve_target(shared: &Shared, state: &State, id: &str) -> Result<u64> {
    if !shared.quirk(Quirk::LimitedPrefixes) {
        return state.jobs.resolve(id);
    }
    uuid::Uuid::parse_str(id)
        .ok()
        .filter(|u| u.to_string() == id)
        .and_then(|_| state.jobs.resolve(id).ok())
        .ok_or_else(|| {
            let shown: String = id.chars().take(64).collect();
            Error::NotFound(format!("job not found: {shown}"))
        })
}

/// StopJob (JOB-STOP-1..3).
pub fn stop(shared: &Shared, id: &str) -> Result<pb::StopJobRes> {
    // QUIRK-2: the deployed server answers INTERNAL "job stop failed: …".
    let failed = |e: Error| e.internal_if(shared.quirk(Quirk::InternalErrors), "job stop failed");
    let mut state = shared.state.lock();
    let seq = resolve_target(shared, &state, id).map_err(failed)?;
    let job = state.jobs.get_mut(seq).expect("resolved");
    let (status, code) = match job.status {
        // JOB-STOP-1 mutant: a stopped job reports exit code 0.
        JobStatus::Running | JobStatus::Initializing if shared.mutant(Mutant::StopExitZero) => {
            (JobStatus::Stopped, 0)
        }
        JobStatus::Running | JobStatus::Initializing => (JobStatus::Stopped, -1),
        // JOB-STOP-2 mutant: a scheduled job ends STOPPED.
        JobStatus::Scheduled if shared.mutant(Mutant::StopScheduledStopped) => {
            (JobStatus::Stopped, 0)
        }
        JobStatus::Scheduled => (JobStatus::Canceled, 0),
        // JOB-STOP-3 mutant: a finished job answers OK, as it is.
        other if shared.mutant(Mutant::StopFinishedOk) => (other, job.exit_code),
        other => {
            return Err(failed(Error::FailedPrecondition(format!(
                "job is not running: {} (status: {})",
                job.id,
                other.as_str()
            ))));
        }
    };
    abort_task(job);
    finish_locked(&mut state, seq, status, code, &shared.clock);
    // QUIRK-10, QUIRK-15: the deployed servers' answer carries only the uuid
    // it was sent.
    if shared.quirk(Quirk::CanceledLogsHang) || shared.quirk(Quirk::StopAnswersUuid) {
        return Ok(pb::StopJobRes {
            uuid: id.to_string(),
            ..Default::default()
        });
    }
    let job = state.jobs.get(seq).expect("still there");
    Ok(pb::StopJobRes {
        uuid: job.id.to_string(),
        status: job.status.as_str().to_string(),
        end_time: rfc3339_opt(job.end_time),
        exit_code: job.exit_code,
    })
}

/// CancelJob (JOB-CANCEL-1/2).
pub fn cancel(shared: &Shared, id: &str) -> Result<pb::CancelJobRes> {
    // QUIRK-1: the deployed server does not implement CancelJob.
    if shared.quirk(Quirk::CancelUnimplemented) {
        return Err(Error::Unimplemented(
            "method CancelJob not implemented".into(),
        ));
    }
    let mut state = shared.state.lock();
    let seq = resolve_target(shared, &state, id)?;
    let job = state.jobs.get_mut(seq).expect("resolved");
    // JOB-CANCEL-2 mutant: a running job is canceled too.
    let running_ok = shared.mutant(Mutant::CancelRunningOk) && job.status == JobStatus::Running;
    if job.status != JobStatus::Scheduled && !running_ok {
        return Err(Error::FailedPrecondition(format!(
            "job is not scheduled: {} (status: {}); use StopJob for running jobs",
            job.id,
            job.status.as_str()
        )));
    }
    abort_task(job);
    finish_locked(&mut state, seq, JobStatus::Canceled, 0, &shared.clock);
    // JOB-CANCEL-1 mutant: the canceled job is not kept in history.
    if shared.mutant(Mutant::CancelForgets) {
        let job = state.jobs.remove(seq).expect("still there");
        return Ok(pb::CancelJobRes {
            uuid: job.id.to_string(),
            status: job.status.as_str().to_string(),
        });
    }
    let job = state.jobs.get(seq).expect("still there");
    Ok(pb::CancelJobRes {
        uuid: job.id.to_string(),
        status: job.status.as_str().to_string(),
    })
}

/// DeleteJob (JOB-DEL-1/2).
pub fn delete(shared: &Shared, id: &str) -> Result<pb::DeleteJobRes> {
    // QUIRK-2: the deployed server answers INTERNAL "job deletion failed: …".
    let failed =
        |e: Error| e.internal_if(shared.quirk(Quirk::InternalErrors), "job deletion failed");
    let mut state = shared.state.lock();
    let seq = resolve_target(shared, &state, id).map_err(failed)?;
    // JOB-DEL-2 mutant: a running or scheduled job is stopped, then deleted.
    if shared.mutant(Mutant::DeleteRunningOk)
        && let Some(job) = state.jobs.get_mut(seq).filter(|j| !j.status.is_final())
    {
        abort_task(job);
        finish_locked(&mut state, seq, JobStatus::Stopped, -1, &shared.clock);
    }
    let job = state.jobs.get(seq).expect("resolved");
    if !job.status.is_final() {
        return Err(failed(Error::FailedPrecondition(format!(
            "cannot delete job {} (status: {}) - stop the job first",
            job.id,
            job.status.as_str()
        ))));
    }
    // JOB-DEL-1 mutant: success is answered but the job stays.
    if shared.mutant(Mutant::DeleteNoop) {
        return Ok(pb::DeleteJobRes {
            uuid: job.id.to_string(),
            success: true,
            message: "Job deleted successfully".to_string(),
        });
    }
    let job = state.jobs.remove(seq).expect("resolved");
    Ok(pb::DeleteJobRes {
        uuid: job.id.to_string(),
        success: true,
        message: "Job deleted successfully".to_string(),
    })
}

/// DeleteAllJobs (JOB-DELALL-1).
pub fn delete_all(shared: &Shared) -> pb::DeleteAllJobsRes {
    let mut state = shared.state.lock();
    let mut finished = Vec::new();
    let mut skipped = 0;
    for (seq, job) in state.jobs.iter() {
        if job.status.is_final() {
            finished.push(seq);
        } else {
            skipped += 1;
        }
    }
    for &seq in &finished {
        state.jobs.remove(seq);
    }
    let deleted = finished.len() as i32;
    pb::DeleteAllJobsRes {
        success: true,
        message: format!(
            "Successfully deleted {deleted} jobs, skipped {skipped} running/scheduled jobs"
        ),
        deleted_count: deleted,
        // JOB-DELALL-1 mutant: the skipped jobs are not counted.
        skipped_count: if shared.mutant(Mutant::DeleteAllSkippedZero) {
            0
        } else {
            skipped
        },
    }
}
