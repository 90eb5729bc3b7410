//! The memory budget: one account, for the whole process, of job records and
//! log history, and the eviction that keeps them within `--memory-budget`.
//!
//! # Design
//! Every session has an [`Account`] on the process's one
//! [`Budget`]. Counting is incremental and costs a few relaxed atomic adds: a
//! [`JobTable`](crate::job_table::JobTable) adds a record's estimated size
//! ([`record_bytes`](crate::job_table::record_bytes), plus the uploads and the task of a job while it is
//! live) when it inserts it and takes it off when the record goes, however it
//! goes (DeleteJob, eviction, a reset or restore dropping the whole table); a
//! [`LogBuffer`] adds and takes off its retained bytes
//! as it appends, trims and is dropped. Nothing ever scans the jobs to count.
//!
//! Each session's job table queues its finished jobs in finish order, stamped
//! from one process-wide counter. When a RunJob or a log write finds the
//! process over budget, [`Budget::reclaim`] evicts, oldest first across every
//! session, first the **log history** of finished jobs, then finished **job
//! records**, until usage is back under the low-water mark ([`low_water`]:
//! 1/32 below the budget, so that eviction runs in batches and not at every
//! call). A reader attached to an evicted log keeps every byte it has not read
//! yet; a later GetJobLogs answers `FAILED_PRECONDITION`.
//!
//! Running and scheduled jobs (and networks, volumes, runtimes) are never
//! evicted. When they alone exceed the budget, the budget is *pressed*: RunJob
//! answers `RESOURCE_EXHAUSTED` naming the budget, and a running job's log
//! keeps at most [`PRESSURE_RETENTION`] bytes of history beyond what its
//! readers still need (its writer waits for a reader more than that behind,
//! as it always does for slow readers), so the process stays within the
//! budget plus [`PRESSURE_RETENTION`] per running job.
//!
//! `--max-jobs` is a separate cap per session on the number of job records:
//! past it the session's oldest finished records go (whatever the budget), and
//! with every record live RunJob answers `RESOURCE_EXHAUSTED` naming the cap.
//!
//! [`low_water`]: Budget::low_water

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::error::Error;

/// Default `--memory-budget`: 2 GiB.
pub const DEFAULT_MEMORY_BUDGET: u64 = 2 << 30;

/// Default `--max-jobs`: job records a session keeps (0: no cap).
pub const DEFAULT_MAX_JOBS: usize = 100_000;
/// Default `--max-workflows`: workflows each session keeps (the API has no
/// call that removes one, so a long pipeline would otherwise only add).
pub const DEFAULT_MAX_WORKFLOWS: usize = 10_000;

/// History a running job's log keeps beyond what its readers still need while
/// the budget is pressed (only live jobs left to account for).
pub const PRESSURE_RETENTION: usize = 256 * 1024;

/// The memory budget of one mock process (see the [module docs](self)).
#[derive(Debug)]
pub struct Budget {
    limit: u64,
    /// Bytes of job records (with live jobs' uploads and tasks).
    records: AtomicU64,
    /// Bytes of log history.
    logs: AtomicU64,
    /// Finish-order stamps, shared by every session.
    stamps: AtomicU64,
    /// Set when a reclaim found nothing finished left to evict; cleared when
    /// a job finishes.
    exhausted: AtomicBool,
    evicted_logs: AtomicU64,
    evicted_log_bytes: AtomicU64,
    evicted_records: AtomicU64,
    refused: AtomicU64,
    /// Every session, to evict from.
    sessions: Mutex<Vec<Weak<dyn Evict>>>,
    /// One reclaim at a time.
    reclaiming: Mutex<()>,
}

/// Which finished things an eviction pass takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The log history of finished jobs.
    Logs,
    /// Finished job records.
    Records,
}

impl Budget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Arc<Self> {
        Arc::new(Self {
            limit,
            records: AtomicU64::new(0),
            logs: AtomicU64::new(0),
            stamps: AtomicU64::new(0),
            exhausted: AtomicBool::new(false),
            evicted_logs: AtomicU64::new(0),
            evicted_log_bytes: AtomicU64::new(0),
            evicted_records: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            sessions: Mutex::new(Vec::new()),
            reclaiming: Mutex::new(()),
        })
    }

    /// The budget, in bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Where eviction stops once it has begun: 1/32 below the budget.
    pub fn low_water(&self) -> u64 {
        self.limit - self.limit / 32
    }

    /// Bytes counted now: records and log history.
    pub fn used(&self) -> u64 {
        self.records() + self.logs()
    }

    /// Bytes of job records.
    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }

    /// Bytes of log history.
    pub fn logs(&self) -> u64 {
        self.logs.load(Ordering::Relaxed)
    }

    /// Whether more than the budget is counted.
    pub fn over(&self) -> bool {
        self.used() > self.limit
    }

    /// Over budget with nothing finished left to evict (see the module docs).
    pub fn pressed(&self) -> bool {
        self.over() && self.exhausted.load(Ordering::Relaxed)
    }

    pub(crate) fn add_records(&self, bytes: u64) {
        self.records.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn sub_records(&self, bytes: u64) {
        self.records.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// The next finish-order stamp.
    pub(crate) fn stamp(&self) -> u64 {
        self.stamps.fetch_add(1, Ordering::Relaxed)
    }

    /// A job finished: there is something to evict again.
    pub(crate) fn note_finished(&self) {
        if self.exhausted.load(Ordering::Relaxed) {
            self.exhausted.store(false, Ordering::Relaxed);
        }
    }

    pub(crate) fn note_evicted_log(&self, freed: u64) {
        self.evicted_logs.fetch_add(1, Ordering::Relaxed);
        self.evicted_log_bytes.fetch_add(freed, Ordering::Relaxed);
    }

    pub(crate) fn note_evicted_record(&self) {
        self.evicted_records.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds a session to those eviction visits.
    pub fn register(&self, session: Weak<dyn Evict>) {
        let mut sessions = self.sessions.lock();
        sessions.retain(|s| s.strong_count() > 0);
        sessions.push(session);
    }

    /// Makes room for `extra` more bytes of a new job: evicts if that would go
    /// over the budget, and refuses with `RESOURCE_EXHAUSTED` naming the
    /// budget when only live jobs are left.
    pub fn admit(&self, extra: u64) -> crate::error::Result<()> {
        if self.used() + extra <= self.limit {
            return Ok(());
        }
        if extra > self.limit {
            // Evicting everything would not make room: evict nothing.
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(Error::ResourceExhausted(format!(
                "this job alone needs {} (its record, uploads and task), more than the whole \
                 memory budget (--memory-budget {} bytes, {}); send smaller uploads, or start \
                 the mock with a larger --memory-budget",
                format_size(extra),
                self.limit,
                format_size(self.limit),
            )));
        }
        if !self.exhausted.load(Ordering::Relaxed) {
            self.reclaim(self.low_water().saturating_sub(extra));
        }
        let used = self.used();
        if used + extra <= self.limit {
            return Ok(());
        }
        self.refused.fetch_add(1, Ordering::Relaxed);
        Err(Error::ResourceExhausted(format!(
            "joblet-mock is at its memory budget (--memory-budget {} bytes, {}): running and \
             scheduled jobs hold {} ({} of job records, {} of log history) and nothing finished \
             is left to evict, so this job ({} more) is refused; stop or delete jobs, or start \
             the mock with a larger --memory-budget",
            self.limit,
            format_size(self.limit),
            format_size(used),
            format_size(self.records()),
            format_size(self.logs()),
            format_size(extra),
        )))
    }

    /// Evicts when over budget and something finished is left (for writers of
    /// log history; RunJob uses [`admit`](Self::admit)).
    pub fn relieve(&self) {
        if self.over() && !self.exhausted.load(Ordering::Relaxed) {
            self.reclaim(self.low_water());
        }
    }

    /// Evicts finished log history, then finished records, oldest first across
    /// every session, until at most `target` bytes are counted or nothing
    /// finished is left. Takes each session's state lock in turn: never call
    /// it holding one.
    pub fn reclaim(&self, target: u64) {
        let _one = self.reclaiming.lock();
        if self.used() <= target {
            return;
        }
        // A job finishing meanwhile gives something to evict again.
        let stamps_before = self.stamps.load(Ordering::Relaxed);
        let sessions: Vec<Arc<dyn Evict>> = {
            let mut all = self.sessions.lock();
            all.retain(|s| s.strong_count() > 0);
            all.iter().filter_map(Weak::upgrade).collect()
        };
        let mut reached = false;
        'phases: for phase in [Phase::Logs, Phase::Records] {
            loop {
                if self.used() <= target {
                    reached = true;
                    break 'phases;
                }
                // The session holding the oldest entry, and the next oldest
                // entry elsewhere (evict up to it, then look again).
                let mut first: Option<(u64, usize)> = None;
                let mut second = u64::MAX;
                for (i, s) in sessions.iter().enumerate() {
                    let Some(stamp) = s.oldest_finished(phase) else {
                        continue;
                    };
                    match first {
                        Some((best, _)) if best <= stamp => second = second.min(stamp),
                        _ => {
                            if let Some((best, _)) = first {
                                second = second.min(best);
                            }
                            first = Some((stamp, i));
                        }
                    }
                }
                let Some((_, i)) = first else {
                    break;
                };
                sessions[i].evict(phase, second, &mut || self.used() > target);
            }
        }
        let exhausted = !reached && self.stamps.load(Ordering::Relaxed) == stamps_before;
        self.exhausted.store(exhausted, Ordering::Relaxed);
        drop(_one);
        // A session reset meanwhile may be dropped here, without the lock.
        drop(sessions);
    }

    /// The counters of the budget.
    pub fn report(&self) -> BudgetReport {
        BudgetReport {
            budget: self.limit,
            used: self.used(),
            records: self.records(),
            logs: self.logs(),
            evicted_logs: self.evicted_logs.load(Ordering::Relaxed),
            evicted_log_bytes: self.evicted_log_bytes.load(Ordering::Relaxed),
            evicted_records: self.evicted_records.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            pressed: self.pressed(),
        }
    }
}

/// What the budget evicts from: a session's finished jobs, oldest first.
pub trait Evict: Send + Sync {
    /// The stamp of the oldest finished entry `phase` would evict.
    fn oldest_finished(&self, phase: Phase) -> Option<u64>;
    /// Evicts, oldest first, the entries of `phase` stamped up to `until`
    /// while `more` says so. Takes the session's state lock: the budget never
    /// calls it holding another.
    fn evict(&self, phase: Phase, until: u64, more: &mut dyn FnMut() -> bool);
}

/// The process-wide figures of a `Budget`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BudgetReport {
    /// `--memory-budget`, bytes.
    pub budget: u64,
    /// `records + logs`.
    pub used: u64,
    /// Bytes of job records (estimated; with live jobs' uploads and tasks).
    pub records: u64,
    /// Bytes of log history.
    pub logs: u64,
    /// Finished jobs whose log history was evicted.
    pub evicted_logs: u64,
    /// Bytes those evictions freed.
    pub evicted_log_bytes: u64,
    /// Finished job records evicted (over budget, or past `--max-jobs`).
    pub evicted_records: u64,
    /// RunJob calls refused for the budget.
    pub refused: u64,
    /// Over budget with nothing finished left to evict.
    pub pressed: bool,
}

/// One session's share of a [`Budget`]: what its logs hold (its records are
/// counted by its job table).
#[derive(Debug)]
pub struct Account {
    budget: Arc<Budget>,
    logs: AtomicU64,
}

impl Account {
    /// A new session's account on `budget`.
    pub fn new(budget: &Arc<Budget>) -> Arc<Self> {
        Arc::new(Self {
            budget: Arc::clone(budget),
            logs: AtomicU64::new(0),
        })
    }

    /// The process's budget.
    pub fn budget(&self) -> &Arc<Budget> {
        &self.budget
    }

    /// Bytes of log history this session's logs hold.
    pub fn log_bytes(&self) -> u64 {
        self.logs.load(Ordering::Relaxed)
    }

    pub(crate) fn add_logs(&self, bytes: u64) {
        self.logs.fetch_add(bytes, Ordering::Relaxed);
        self.budget.logs.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn sub_logs(&self, bytes: u64) {
        self.logs.fetch_sub(bytes, Ordering::Relaxed);
        self.budget.logs.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// Finished jobs of one session in finish order: `(stamp, sequence number)`.
/// Entries of jobs deleted meanwhile are skipped when met, and dropped in one
/// pass once they outnumber the live ones.
#[derive(Debug, Default)]
pub(crate) struct FinishQueue {
    entries: VecDeque<(u64, u64)>,
}

impl FinishQueue {
    pub(crate) fn push(&mut self, stamp: u64, seq: u64) {
        self.entries.push_back((stamp, seq));
    }

    pub(crate) fn front(&self) -> Option<(u64, u64)> {
        self.entries.front().copied()
    }

    pub(crate) fn pop(&mut self) -> Option<(u64, u64)> {
        self.entries.pop_front()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Drops the entries whose job is gone once there are more than twice
    /// `live` of them (amortized: each pass at least halves the queue).
    pub(crate) fn compact(&mut self, live: usize, exists: impl Fn(u64) -> bool) {
        if self.entries.len() > 2 * live + 64 {
            self.entries.retain(|&(_, seq)| exists(seq));
        }
    }
}

/// Parses a size: plain bytes (`1048576`), or a number (decimals allowed)
/// with a unit: `B`; `KiB`, `MiB`, `GiB`, `TiB` (or `K`, `M`, `G`, `T`) in
/// powers of 1024; `KB`, `MB`, `GB`, `TB` in powers of 1000. Units are
/// case-insensitive; a space before the unit is allowed.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let examples = "e.g. 2GiB, 512MiB, 64KiB or 1048576 (bytes)";
    if t.is_empty() {
        return Err(format!("a size is required, {examples}"));
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    if number.is_empty() || number.starts_with('.') && number.len() == 1 {
        return Err(format!(
            "{t:?} is not a size: it must start with a number, {examples}"
        ));
    }
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        other => {
            return Err(format!(
                "{t:?}: unknown unit {other:?} (units B, KiB, MiB, GiB, TiB, KB, MB, GB, TB), {examples}"
            ));
        }
    };
    let too_large = || format!("{t:?} is too large (at most {} bytes)", u64::MAX);
    match number.split_once('.') {
        None => {
            let n: u64 = number.parse().map_err(|_| too_large())?;
            n.checked_mul(scale).ok_or_else(too_large)
        }
        Some((whole, fraction)) => {
            if fraction.contains('.') {
                return Err(format!("{t:?} is not a size: {number:?} is not a number"));
            }
            let whole: u64 = if whole.is_empty() {
                0
            } else {
                whole.parse().map_err(|_| too_large())?
            };
            let digits = fraction.len().min(18);
            let frac: u64 = if digits == 0 {
                0
            } else {
                fraction[..digits].parse().map_err(|_| too_large())?
            };
            let part = u128::from(frac) * u128::from(scale) / 10u128.pow(digits as u32);
            let bytes = u128::from(whole) * u128::from(scale) + part;
            u64::try_from(bytes).map_err(|_| too_large())
        }
    }
}

/// A byte count for people: `512 B`, `1.5 KiB`, `2.00 GiB`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.2} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_with_units() {
        let ok = |t: &str| parse_size(t).unwrap();
        assert_eq!(ok("2GiB"), 2 << 30);
        assert_eq!(ok("512MiB"), 512 << 20);
        assert_eq!(ok("512 mib"), 512 << 20);
        assert_eq!(ok("64KiB"), 64 << 10);
        assert_eq!(ok("1048576"), 1 << 20);
        assert_eq!(ok("1048576B"), 1 << 20);
        assert_eq!(ok("2G"), 2 << 30);
        assert_eq!(ok("1.5GiB"), 3 << 29);
        assert_eq!(ok("1.5KB"), 1500);
        assert_eq!(ok("3MB"), 3_000_000);
        assert_eq!(ok("1TiB"), 1 << 40);
        assert_eq!(ok("0"), 0);
        for bad in [
            "",
            "GiB",
            "2XB",
            "-1",
            "1..5G",
            "2 GiB extra",
            "99999999999999999999",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
        assert!(parse_size("2XB").unwrap_err().contains("unknown unit"));
        assert!(parse_size("20000000TiB").unwrap_err().contains("too large"));
    }

    #[test]
    fn sizes_for_people() {
        assert_eq!(format_size(512), "512 B");
        assert_eq!(format_size(1536), "1.50 KiB");
        assert_eq!(format_size(2 << 30), "2.00 GiB");
    }

    proptest::proptest! {
        /// Every byte count reads back as itself, with each binary unit that
        /// divides it.
        #[test]
        fn sizes_round_trip(n in 0u64..(1 << 40), shift in 0u32..4) {
            let scale = 1u64 << (10 * shift);
            let unit = ["", "KiB", "MiB", "GiB"][shift as usize];
            proptest::prop_assert_eq!(parse_size(&n.to_string()), Ok(n));
            proptest::prop_assert_eq!(parse_size(&format!("{}{unit}", n / scale)), Ok(n / scale * scale));
        }

        /// Nothing panics, and an error always says what a size looks like or why.
        #[test]
        fn size_parser_never_panics(text in "\\PC{0,24}") {
            if let Err(e) = parse_size(&text) {
                proptest::prop_assert!(!e.is_empty());
            }
        }
    }

    #[test]
    fn finish_queue_compacts_deleted_entries() {
        let mut q = FinishQueue::default();
        for seq in 0..1000 {
            q.push(seq, seq);
        }
        // 500 live jobs: 1000 entries are not yet too many.
        q.compact(500, |_| true);
        assert_eq!(q.len(), 1000);
        // 10 live jobs: the entries of the others go, in one pass.
        q.compact(10, |seq| seq % 100 == 0);
        assert_eq!(q.len(), 10);
        assert_eq!(q.front(), Some((0, 0)));
    }
}
