//! The jobs of a run that a `mix` acts on, with what the run knows of each
//! one's state, so that every operation goes to a job in the state it
//! needs: StopJob to a running job, DeleteJob to a finished one that no
//! call is reading, GetJobStatus and GetJobLogs to any job of the run.
//!
//! What the run knows comes from the node's own answers: RunJob's status,
//! GetJobStatus, StopJob. A job believed running may have ended since (a
//! StopJob then gets FAILED_PRECONDITION, which the caller checks with
//! GetJobStatus); a job seen finished stays finished. StopJob takes the
//! newest job believed running (the one least likely to have ended since).
//! One pool per target, bounded: past its cap the oldest idle entries go.

/// Whether a job status is final (anything but the states on the way).
pub(crate) fn is_final(status: &str) -> bool {
    !matches!(
        status.trim().to_ascii_uppercase().as_str(),
        "" | "PENDING" | "INITIALIZING" | "SCHEDULED" | "RUNNING" | "STOPPING" | "CREATED"
    )
}

/// Jobs remembered per target.
pub(crate) const POOL: usize = 1024;

/// What the run knows of a job's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Known {
    /// Not final when last seen.
    Running,
    /// A StopJob is on its way, or answered without a final state.
    Stopping,
    /// Final when last seen.
    Finished,
}

#[derive(Debug, Clone)]
struct Entry {
    id: String,
    state: Known,
    /// Calls reading the job now (GetJobStatus, GetJobLogs).
    busy: u32,
}

/// What an operation needs of the job it acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    /// Any job of the run (GetJobStatus, GetJobLogs): held busy until
    /// [`JobPool::release`].
    Any,
    /// A running job (StopJob): marked stopping.
    Running,
    /// A finished job nobody reads (DeleteJob): taken out of the pool.
    Finished,
}

/// The jobs of a run on one target, oldest first.
#[derive(Debug, Clone, Default)]
pub(crate) struct JobPool {
    entries: Vec<Entry>,
}

fn state_of(status: &str) -> Known {
    if is_final(status) {
        Known::Finished
    } else {
        Known::Running
    }
}

impl JobPool {
    /// Jobs remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn find(&mut self, id: &str) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.id == id)
    }

    /// A job RunJob created, with the status it answered.
    pub(crate) fn add(&mut self, id: &str, status: &str) {
        if self.entries.len() >= POOL {
            match self.entries.iter().position(|e| e.busy == 0) {
                Some(i) => {
                    self.entries.remove(i);
                }
                None => return,
            }
        }
        self.entries.push(Entry {
            id: id.to_owned(),
            state: state_of(status),
            busy: 0,
        });
    }

    /// A job for an operation that needs `want`; `seed` picks among the
    /// candidates (a uniform draw). `None`: the run has no such job now.
    pub(crate) fn pick(&mut self, want: Want, seed: u64) -> Option<String> {
        match want {
            Want::Any => {
                if self.entries.is_empty() {
                    return None;
                }
                let i = (seed % self.entries.len() as u64) as usize;
                let e = &mut self.entries[i];
                e.busy += 1;
                Some(e.id.clone())
            }
            Want::Running => {
                let e = self
                    .entries
                    .iter_mut()
                    .rev()
                    .find(|e| e.state == Known::Running)?;
                e.state = Known::Stopping;
                Some(e.id.clone())
            }
            Want::Finished => {
                let n = self.entries.len();
                if n == 0 {
                    return None;
                }
                let start = (seed % n as u64) as usize;
                let i = (0..n).map(|k| (start + k) % n).find(|i| {
                    self.entries[*i].state == Known::Finished && self.entries[*i].busy == 0
                })?;
                Some(self.entries.remove(i).id)
            }
        }
    }

    /// A call picked with [`Want::Any`] is done with the job.
    pub(crate) fn release(&mut self, id: &str) {
        if let Some(e) = self.find(id) {
            e.busy = e.busy.saturating_sub(1);
        }
    }

    /// The node said `id` is in `status` (GetJobStatus, or StopJob's answer).
    /// A job seen finished stays finished; a stopping one stays stopping
    /// until it is seen final.
    pub(crate) fn observed(&mut self, id: &str, status: &str) {
        if let Some(e) = self.find(id) {
            e.state = match (e.state, state_of(status)) {
                (_, Known::Finished) | (Known::Finished, _) => Known::Finished,
                (Known::Stopping, _) => Known::Stopping,
                (_, s) => s,
            };
        }
    }

    /// The job is gone from the node (NOT_FOUND): forget it.
    pub(crate) fn forget(&mut self, id: &str) {
        self.entries.retain(|e| e.id != id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_states_are_the_ones_past_running() {
        for s in ["COMPLETED", "FAILED", "STOPPED", "CANCELED"] {
            assert!(is_final(s), "{s}");
        }
        for s in ["RUNNING", "SCHEDULED", "INITIALIZING", "PENDING", ""] {
            assert!(!is_final(s), "{s}");
        }
    }

    #[test]
    fn stop_takes_the_newest_running_job_and_delete_a_finished_idle_one() {
        let mut p = JobPool::default();
        p.add("a", "RUNNING");
        p.add("b", "RUNNING");
        p.add("c", "COMPLETED");
        assert_eq!(p.pick(Want::Running, 0).as_deref(), Some("b"));
        assert_eq!(p.pick(Want::Running, 0).as_deref(), Some("a"));
        assert_eq!(p.pick(Want::Running, 0), None, "both are stopping now");
        // c is finished but being read: not deleted under the reader.
        assert_eq!(p.pick(Want::Any, 2).as_deref(), Some("c"));
        assert_eq!(p.pick(Want::Finished, 0), None);
        p.release("c");
        assert_eq!(p.pick(Want::Finished, 7).as_deref(), Some("c"));
        assert_eq!(p.len(), 2, "a deleted job leaves the pool");
    }

    #[test]
    fn states_follow_the_nodes_answers() {
        let mut p = JobPool::default();
        p.add("a", "SCHEDULED");
        assert_eq!(p.pick(Want::Finished, 0), None);
        p.observed("a", "COMPLETED");
        p.observed("a", "RUNNING");
        assert_eq!(p.pick(Want::Running, 0), None, "finished stays finished");
        assert_eq!(p.pick(Want::Finished, 0).as_deref(), Some("a"));
        p.add("b", "RUNNING");
        assert_eq!(p.pick(Want::Running, 0).as_deref(), Some("b"));
        p.observed("b", "RUNNING");
        assert_eq!(p.pick(Want::Running, 0), None, "stopping until seen final");
        p.observed("b", "STOPPED");
        assert_eq!(p.pick(Want::Finished, 0).as_deref(), Some("b"));
        p.add("c", "RUNNING");
        p.forget("c");
        assert_eq!(p.pick(Want::Any, 0), None);
    }

    #[test]
    fn the_pool_is_bounded_and_keeps_busy_jobs() {
        let mut p = JobPool::default();
        p.add("first", "RUNNING");
        assert_eq!(p.pick(Want::Any, 0).as_deref(), Some("first"));
        for i in 0..POOL {
            p.add(&i.to_string(), "RUNNING");
        }
        assert_eq!(p.len(), POOL);
        assert!(p.entries.iter().any(|e| e.id == "first"), "busy: kept");
        assert!(!p.entries.iter().any(|e| e.id == "0"), "oldest idle: gone");
    }
}
