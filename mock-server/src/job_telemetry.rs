//! A job's telemetry record (contract v2: JOB-METRICS-*, JOB-TELEM-*): when
//! the job ran, and the telematics events of the processes its simulated
//! command started, for StreamJobMetrics, GetJobMetrics, StreamJobTelematics
//! and GetJobTelematics.
//!
//! Metrics samples are not stored: sample `k` of a job is a pure function of
//! the job and `k` ([`crate::monitoring::job_figures`]), taken at `k`
//! sampling intervals after the job started running, so a job that nobody
//! watches costs no timer, no task and no memory for its samples. Only when
//! it ran and ended are kept here.
//!
//! Telematics events are stored as the job's task reports them (through the
//! simulator's observer, see `crate::jobs`), in one bounded history per job:
//! at most [`MAX_EVENTS`] events and about [`MAX_EVENT_BYTES`] bytes, the
//! oldest dropped first. The exec event of the job's own command is not
//! stored: it follows from the job's spec and the time it started running.
//! Once the job ends, what its history holds counts in the memory budget
//! with its record ([`Telemetry::finish`]).
//!
//! The record has its own lock (never held across an await, never taken
//! under another), so a job's events never contend with the session's state;
//! readers that follow a job live register a [`Watch`] and are woken on each
//! change, and a job nobody watches wakes nobody.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::sim::FileOperation;

/// Most telematics events kept per job (the oldest go first).
pub const MAX_EVENTS: usize = 10_000;
/// Most bytes of telematics events kept per job (estimated as
/// [`Event::bytes`] counts them; the oldest go first).
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// Nanoseconds in a millisecond.
const NS_PER_MS: i64 = 1_000_000;

/// One telematics event of a job's simulated processes (besides the exec of
/// the job's own command).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Unix nanoseconds on the session clock; strictly increasing within a job.
    pub timestamp_ns: i64,
    pub kind: EventKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// A process started (`exit_code` is set once it has ended).
    Exec {
        pid: u32,
        ppid: u32,
        binary: String,
        args: Vec<String>,
        exit_code: i32,
    },
    /// A file was written.
    File {
        pid: u32,
        path: String,
        operation: FileOperation,
        bytes: u64,
    },
}

impl Event {
    /// What this event counts in a job's history (estimated: the record and
    /// its strings with allocation overheads).
    pub fn bytes(&self) -> usize {
        const ALLOCATION: usize = 16;
        let text = |s: &str| {
            if s.is_empty() {
                0
            } else {
                s.len() + ALLOCATION
            }
        };
        let heap = match &self.kind {
            EventKind::Exec { binary, args, .. } => {
                text(binary)
                    + args.iter().map(|a| text(a)).sum::<usize>()
                    + if args.is_empty() {
                        0
                    } else {
                        std::mem::size_of_val(args.as_slice()) + ALLOCATION
                    }
            }
            EventKind::File { path, .. } => text(path),
        };
        std::mem::size_of::<Self>() + heap
    }
}

/// Where a job is in its life, as its telemetry sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// When it started running (Unix ms); `None` while it has not.
    pub ran_ms: Option<i64>,
    /// When it reached a final status (Unix ms); `None` while it has not.
    pub ended_ms: Option<i64>,
    /// Its exit code once ended.
    pub exit_code: i32,
    /// GPUs it held while running.
    pub gpus: u32,
    /// Bumped by every change a follower waits for.
    pub version: u64,
}

impl Progress {
    /// Whether the job has ended (or was abandoned with its session).
    pub fn ended(&self) -> bool {
        self.ended_ms.is_some()
    }
}

/// A job's telemetry record (see the module docs). Shared between the job's
/// record, its task and its readers.
#[derive(Debug, Default)]
pub struct Telemetry {
    inner: Mutex<Inner>,
    changed: Notify,
}

#[derive(Debug, Default)]
struct Inner {
    progress: Progress,
    /// Readers following the job live.
    watchers: u32,
    /// Allocated with the first event.
    events: Option<Box<EventLog>>,
}

#[derive(Debug, Default)]
struct EventLog {
    entries: VecDeque<Event>,
    /// Events dropped from the front: the position of `entries[0]`.
    dropped: u64,
    /// What `entries` count ([`Event::bytes`]).
    bytes: usize,
    /// The last timestamp given.
    last_ns: i64,
}

impl Telemetry {
    /// A record for a job that has not run yet.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Where the job is.
    pub fn progress(&self) -> Progress {
        self.inner.lock().progress
    }

    /// The job started running at `now_ms` holding `gpus` GPUs (a no-op if it
    /// already had).
    pub fn running(&self, now_ms: i64, gpus: u32) {
        self.change(|inner| {
            let p = &mut inner.progress;
            if p.ran_ms.is_some() || p.ended_ms.is_some() {
                return false;
            }
            p.ran_ms = Some(now_ms);
            p.gpus = gpus;
            true
        });
    }

    /// The job reached a final status at `now_ms` with `exit_code` (a no-op
    /// if it already had). What its events count from now on with its record.
    pub fn finish(&self, now_ms: i64, exit_code: i32) -> u64 {
        let mut bytes = 0;
        self.change(|inner| {
            let p = &mut inner.progress;
            if p.ended_ms.is_some() {
                return false;
            }
            p.ended_ms = Some(now_ms.max(p.ran_ms.unwrap_or(now_ms)));
            p.exit_code = exit_code;
            bytes = inner.events.as_ref().map_or(0, |log| log.bytes) as u64;
            true
        });
        bytes
    }

    /// The job's session went away (reset) before it ended: its followers
    /// end as if it had ended now.
    pub fn abandon(&self, now_ms: i64) {
        let exit_code = self.progress().exit_code;
        self.finish(now_ms, exit_code);
    }

    /// Records `kind` as happening at `now_ms`; its position (for
    /// [`set_exit_code`](Self::set_exit_code)). Its timestamp is `now_ms` in
    /// nanoseconds, or 1 ns after the previous event of the job (or the start
    /// of its command), so that timestamps order the job's events.
    pub fn record(&self, now_ms: i64, kind: EventKind) -> u64 {
        let mut position = 0;
        self.change(|inner| {
            let start_ns = inner.progress.ran_ms.unwrap_or(now_ms) * NS_PER_MS;
            let log = inner.events.get_or_insert_with(|| {
                Box::new(EventLog {
                    last_ns: start_ns,
                    ..EventLog::default()
                })
            });
            let timestamp_ns = (now_ms.saturating_mul(NS_PER_MS)).max(log.last_ns + 1);
            log.last_ns = timestamp_ns;
            let event = Event { timestamp_ns, kind };
            log.bytes += event.bytes();
            log.entries.push_back(event);
            while log.entries.len() > MAX_EVENTS
                || (log.bytes > MAX_EVENT_BYTES && log.entries.len() > 1)
            {
                let Some(old) = log.entries.pop_front() else {
                    break;
                };
                log.bytes -= old.bytes();
                log.dropped += 1;
            }
            position = log.dropped + log.entries.len() as u64 - 1;
            true
        });
        position
    }

    /// Process event `position` ended with `exit_code` (nothing if it was
    /// dropped, or is not an exec event). Followers have seen it already.
    pub fn set_exit_code(&self, position: u64, exit_code: i32) {
        let mut inner = self.inner.lock();
        let Some(log) = inner.events.as_mut() else {
            return;
        };
        let Some(index) = position.checked_sub(log.dropped) else {
            return;
        };
        if let Some(Event {
            kind: EventKind::Exec { exit_code: e, .. },
            ..
        }) = log.entries.get_mut(index as usize)
        {
            *e = exit_code;
        }
    }

    /// Where the job is, and up to `max` events from `position` on (those
    /// dropped meanwhile are skipped); the position after the last one.
    pub fn read(&self, position: u64, max: usize) -> (Progress, Vec<Event>, u64) {
        let inner = self.inner.lock();
        let Some(log) = inner.events.as_ref() else {
            return (inner.progress, Vec::new(), position);
        };
        let from = position.max(log.dropped);
        let skip = (from - log.dropped) as usize;
        let events: Vec<Event> = log.entries.iter().skip(skip).take(max).cloned().collect();
        let next = from + events.len() as u64;
        (inner.progress, events, next)
    }

    /// Every event held, oldest first.
    pub fn events(&self) -> Vec<Event> {
        self.read(0, usize::MAX).1
    }

    /// Registers a follower, woken at each change until the watch drops.
    pub fn watch(self: &Arc<Self>) -> Watch {
        self.inner.lock().watchers += 1;
        Watch(Arc::clone(self))
    }

    /// Applies `f` under the lock; wakes the followers if it changed something.
    fn change(&self, f: impl FnOnce(&mut Inner) -> bool) {
        let wake = {
            let mut inner = self.inner.lock();
            if !f(&mut inner) {
                return;
            }
            inner.progress.version += 1;
            inner.watchers > 0
        };
        if wake {
            self.changed.notify_waiters();
        }
    }
}

/// A follower of a job's telemetry (see [`Telemetry::watch`]).
#[derive(Debug)]
pub struct Watch(Arc<Telemetry>);

impl Watch {
    /// The record followed.
    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.0
    }

    /// Waits until the record changes past `version` (a [`Progress::version`]
    /// read earlier); at once if it has already.
    pub async fn changed(&self, version: u64) {
        loop {
            let notified = self.0.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.0.inner.lock().progress.version != version {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut inner = self.0.inner.lock();
        inner.watchers = inner.watchers.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn exec(pid: u32) -> EventKind {
        EventKind::Exec {
            pid,
            ppid: 1,
            binary: "/usr/bin/sleep".into(),
            args: vec!["1".into()],
            exit_code: 0,
        }
    }

    #[test]
    fn a_job_runs_then_ends_once() {
        let t = Telemetry::new();
        assert_eq!(t.progress(), Progress::default());
        t.running(1_000, 2);
        t.running(2_000, 0);
        let p = t.progress();
        assert_eq!((p.ran_ms, p.gpus, p.ended()), (Some(1_000), 2, false));
        assert_eq!(t.finish(5_000, 3), 0);
        t.finish(6_000, 4);
        let p = t.progress();
        assert_eq!((p.ended_ms, p.exit_code), (Some(5_000), 3));
        // A job that ended without running ends when it ended.
        let t = Telemetry::new();
        t.finish(7_000, 0);
        assert_eq!(t.progress().ran_ms, None);
        t.running(8_000, 0);
        assert_eq!(t.progress().ran_ms, None, "a final job does not start");
    }

    #[test]
    fn events_are_ordered_by_distinct_timestamps_and_take_exit_codes() {
        let t = Telemetry::new();
        t.running(1_000, 0);
        let a = t.record(1_000, exec(2));
        let b = t.record(1_000, exec(3));
        let c = t.record(900, exec(4));
        t.set_exit_code(a, 7);
        t.set_exit_code(99, 1);
        let events = t.events();
        let stamps: Vec<i64> = events.iter().map(|e| e.timestamp_ns).collect();
        assert_eq!(stamps, [1_000_000_001, 1_000_000_002, 1_000_000_003]);
        assert_eq!((a, b, c), (0, 1, 2));
        assert!(matches!(
            events[0].kind,
            EventKind::Exec { exit_code: 7, .. }
        ));
        let bytes = t.finish(2_000, 0);
        assert_eq!(bytes, events.iter().map(|e| e.bytes() as u64).sum::<u64>());
    }

    #[test]
    fn the_history_is_bounded_and_readers_skip_what_was_dropped() {
        let file = |pid: u32, path: String| EventKind::File {
            pid,
            path,
            operation: FileOperation::Write,
            bytes: 1,
        };
        // Small events: the count cap holds.
        let t = Telemetry::new();
        t.running(0, 0);
        for pid in 0..(MAX_EVENTS as u32 + 5) {
            t.record(1, file(pid, String::new()));
        }
        let (_, first, next) = t.read(0, 2);
        assert!(matches!(first[0].kind, EventKind::File { pid: 5, .. }));
        assert_eq!(next, 7);
        assert_eq!(t.events().len(), MAX_EVENTS);
        // Big events: the byte cap holds.
        let t = Telemetry::new();
        for pid in 0..40 {
            t.record(1, file(pid, "x".repeat(64 << 10)));
        }
        let held = t.events();
        let bytes: usize = held.iter().map(Event::bytes).sum();
        assert!(bytes <= MAX_EVENT_BYTES && held.len() < 40, "{bytes}");
        let dropped = 40 - held.len() as u32;
        assert!(matches!(held[0].kind, EventKind::File { pid, .. } if pid == dropped));
        assert_eq!(t.finish(2, 0), bytes as u64);
    }

    #[tokio::test]
    async fn followers_wake_on_changes_and_leave_without_a_trace() {
        let t = Telemetry::new();
        let watch = t.watch();
        let seen = t.progress().version;
        let waiter = tokio::spawn(async move {
            watch.changed(seen).await;
            watch.telemetry().progress()
        });
        tokio::time::sleep(Duration::from_millis(5)).await;
        t.running(10, 0);
        let p = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("woken")
            .unwrap();
        assert_eq!(p.ran_ms, Some(10));
        assert_eq!(t.inner.lock().watchers, 0);
        // Nothing changed past the current version: a wait waits.
        let watch = t.watch();
        let now = t.progress().version;
        let waited = tokio::time::timeout(Duration::from_millis(20), watch.changed(now)).await;
        assert!(waited.is_err());
        // A version already passed returns at once.
        watch.changed(now - 1).await;
    }
}
