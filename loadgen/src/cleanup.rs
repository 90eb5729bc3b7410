//! The jobs a run created, and their deletion.
//!
//! Every job ID a RunJob returns is kept (16 bytes for a UUID, with the index
//! of its target) so that the run deletes exactly its own jobs at the end,
//! never anyone else's. Memory is capped: once a thread holds more than its
//! share of `--max-tracked-jobs` (default 1 000 000, about 20 MiB in all),
//! the oldest half is deleted in the background during the run (jobs that are
//! still running stay tracked). Those deletions are extra load on the node, so
//! the report counts them apart (`deleted_during_run`); the default cap keeps
//! any run under a few minutes at 5 000 jobs/s free of them.

use std::time::Duration;

use crate::transport::{CallError, Code, Conn, Rpc, grpc};
use joblet_testkit::pb;

/// A job ID: a UUID packed in 16 bytes, or the server's string as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JobId {
    /// A canonical (lower-case, hyphenated) UUID.
    Uuid(u128),
    /// Any other ID.
    Other(Box<str>),
}

impl JobId {
    /// The ID as the server wrote it.
    pub fn parse(id: &str) -> JobId {
        if let Ok(u) = uuid::Uuid::try_parse(id) {
            let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
            if u.hyphenated().encode_lower(&mut buf) == id {
                return JobId::Uuid(u.as_u128());
            }
        }
        JobId::Other(id.into())
    }
}

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobId::Uuid(u) => write!(f, "{}", uuid::Uuid::from_u128(*u).hyphenated()),
            JobId::Other(s) => f.write_str(s),
        }
    }
}

/// The jobs one generator thread created, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    jobs: std::collections::VecDeque<(JobId, u16)>,
    /// Jobs created in all.
    pub created: u64,
}

impl Tracker {
    /// Records a job created on target `target`.
    pub fn add(&mut self, target: u16, id: &str) {
        self.created += 1;
        self.jobs.push_back((JobId::parse(id), target));
    }

    /// Jobs tracked now.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Takes up to `n` of the oldest jobs.
    pub fn take_oldest(&mut self, n: usize) -> Vec<(JobId, u16)> {
        let n = n.min(self.jobs.len());
        self.jobs.drain(..n).collect()
    }

    /// Puts jobs back (still running: deleted at the end).
    pub fn put_back(&mut self, jobs: impl IntoIterator<Item = (JobId, u16)>) {
        for j in jobs {
            self.jobs.push_back(j);
        }
    }
}

/// How one deletion ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Deletion {
    /// Deleted; `stopped` when it had to be stopped first.
    Deleted {
        /// The job was running and was stopped first.
        stopped: bool,
    },
    /// Not found: already deleted.
    Gone,
    /// Still running and `stop` was not allowed (during the run).
    Running,
    /// Could not be deleted.
    Failed(CallError),
}

/// Deletes one job; a running job is stopped first when `stop` is set
/// (at the end of the run), and left alone otherwise.
pub(crate) async fn delete(conn: &Conn, id: &JobId, stop: bool, timeout: Duration) -> Deletion {
    let uuid = id.to_string();
    let call = |rpc: Rpc, body: bytes::Bytes| async move {
        match tokio::time::timeout(timeout, conn.unary(rpc, body)).await {
            Ok(r) => r,
            Err(_) => Err(CallError::new(
                Code::DeadlineExceeded,
                "cleanup call timed out",
            )),
        }
    };
    let delete_body = grpc::frame(&pb::DeleteJobReq { uuid: uuid.clone() });
    let mut stopped = false;
    // A stopped job may take a moment to reach its final state.
    for attempt in 0..6 {
        match call(Rpc::DeleteJob, delete_body.clone()).await {
            Ok(_) => return Deletion::Deleted { stopped },
            Err(e) if e.code == Code::NotFound => return Deletion::Gone,
            Err(e) if e.code == Code::FailedPrecondition => {
                if !stop {
                    return Deletion::Running;
                }
                if !stopped {
                    match call(
                        Rpc::StopJob,
                        grpc::frame(&pb::StopJobReq { uuid: uuid.clone() }),
                    )
                    .await
                    {
                        // A job that ended meanwhile answers FAILED_PRECONDITION.
                        Ok(_)
                        | Err(CallError {
                            code: Code::FailedPrecondition,
                            ..
                        }) => stopped = true,
                        Err(e) if e.code == Code::NotFound => return Deletion::Gone,
                        Err(e) => return Deletion::Failed(e),
                    }
                }
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
            }
            Err(e) => return Deletion::Failed(e),
        }
    }
    Deletion::Failed(CallError::new(
        Code::FailedPrecondition,
        format!("job {uuid} was still running after StopJob"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_pack_and_other_ids_stay_as_they_are() {
        let id = "6f1c2a9e-0b1d-4c3e-9f00-123456789abc";
        assert!(matches!(JobId::parse(id), JobId::Uuid(_)));
        assert_eq!(JobId::parse(id).to_string(), id);
        // Upper case would not round-trip: kept verbatim.
        let upper = id.to_uppercase();
        assert_eq!(JobId::parse(&upper), JobId::Other(upper.clone().into()));
        assert_eq!(JobId::parse("42").to_string(), "42");
    }

    #[test]
    fn the_tracker_hands_out_the_oldest_first() {
        let mut t = Tracker::default();
        for i in 0..5 {
            t.add(0, &i.to_string());
        }
        let old: Vec<String> = t
            .take_oldest(2)
            .iter()
            .map(|(j, _)| j.to_string())
            .collect();
        assert_eq!(old, ["0", "1"]);
        assert_eq!((t.len(), t.created), (3, 5));
        t.put_back([(JobId::parse("x"), 1)]);
        assert_eq!(t.len(), 4);
    }
}
