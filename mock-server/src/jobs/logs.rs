//! GetJobLogs: a reader that replays a job's retained history, follows it
//! live and ends with the job (JOB-LOGS-*), and what a stream sends after.

use std::sync::Arc;

use crate::behaviour::{Mutant, Quirk};
use crate::error::{Error, Result};
use crate::logs::{LogBuffer, LogReader};
use crate::session::Shared;
use crate::state::JobStatus;

/// GetJobLogs (JOB-LOGS-*): a reader that replays, follows and ends with the job.
pub fn logs(shared: &Shared, id: &str) -> Result<LogReader> {
    // JOB-LOGS-4: a node that speaks v2 says so in its own words.
    if id.trim().is_empty() && shared.config.api.serves_v2() {
        // JOB-LOGS-4 mutant: NOT_FOUND instead.
        if shared.mutant(Mutant::LogsEmptyUuidNotFound) {
            return Err(Error::NotFound("job not found: ".into()));
        }
        return Err(Error::Required("job_uuid"));
    }
    let state = shared.state.lock();
    let seq = match resolve_read(shared, &state, id) {
        // JOB-LOGS-3 mutant: an unknown job has an empty log.
        Err(Error::NotFound(_)) if shared.mutant(Mutant::LogsUnknownEmpty) => {
            let log = LogBuffer::new(1);
            log.close();
            return Ok(log.reader());
        }
        resolved => resolved?,
    };
    let job = state.jobs.get(seq).expect("resolved");
    let log = &job.log;
    if log.is_evicted() {
        let budget = shared.account.budget();
        return Err(Error::FailedPrecondition(format!(
            "job {} finished and its log history was evicted to keep joblet-mock within its \
             memory budget (--memory-budget {} bytes, {}); read a job's logs before the \
             budget fills, or start the mock with a larger --memory-budget",
            job.id,
            budget.limit(),
            crate::budget::format_size(budget.limit())
        )));
    }
    // JOB-LOGS-2 mutant: a second concurrent reader is refused.
    if shared.mutant(Mutant::LogsOneReader) && log.reader_count() > 0 {
        return Err(Error::FailedPrecondition(format!(
            "job {id} already has a log reader"
        )));
    }
    Ok(log.reader())
}

/// The job GetJobLogs or a telemetry call names: a unique prefix as
/// everywhere (ALL-2), or (QUIRK-17) the ID as typed, as a v5.6 node uses
/// it: anything but a job's full UUID is NOT_FOUND "job not found: <id>".
pub(crate) fn resolve_read(shared: &Shared, state: &crate::state::State, id: &str) -> Result<u64> {
    if !shared.quirk(Quirk::PrefixAsTyped) {
        return state.jobs.resolve(id);
    }
    uuid::Uuid::parse_str(id)
        .ok()
        .filter(|u| u.to_string() == id)
        .and_then(|_| state.jobs.resolve(id).ok())
        .ok_or_else(|| Error::NotFound(format!("job not found: {}", crate::state::shown(id))))
}

/// What a GetJobLogs stream sends after the job's log has ended: nothing, or
/// (QUIRK-10) a wait that never ends if the job ended CANCELED: the deployed
/// server never closes those streams (until the client leaves or the server
/// shuts down).
pub fn log_tail<T: Send + 'static>(
    shared: &Arc<Shared>,
    id: &str,
) -> impl futures::Stream<Item = T> + Send + 'static + use<T> {
    let seq = shared
        .quirk(Quirk::CanceledLogsHang)
        .then(|| shared.state.lock().jobs.resolve(id).ok())
        .flatten();
    let shared = Arc::clone(shared);
    let wait = futures::stream::once(async move {
        let canceled = seq.is_some_and(|seq| {
            let state = shared.state.lock();
            state
                .jobs
                .get(seq)
                .is_some_and(|j| j.status == JobStatus::Canceled)
        });
        if canceled {
            std::future::pending::<()>().await;
        }
    });
    futures::StreamExt::filter_map(wait, |()| std::future::ready(None))
}
