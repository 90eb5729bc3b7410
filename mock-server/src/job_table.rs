//! The job table: job records in creation order, addressable by UUID or
//! unique UUID prefix (ALL-2, ALL-5), and the session's part of the memory
//! budget (the bytes of its records, its finished jobs in finish order for
//! eviction).

use std::collections::{BTreeMap, HashMap};
use std::mem::size_of;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::task::AbortHandle;
use uuid::Uuid;

use crate::budget::{Account, FinishQueue, Phase};
use crate::error::{Error, Result};
use crate::job_telemetry::Telemetry;
use crate::logs::LogBuffer;

/// Secret values as every response shows them (ALL-6).
pub const MASK: &str = "***";

/// A job's status. Upper case on the wire (ALL-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    /// Being set up.
    Initializing,
    /// Waiting for its scheduled time.
    Scheduled,
    /// Executing.
    Running,
    /// Exited 0.
    Completed,
    /// Exited non-zero, or could not start.
    Failed,
    /// Stopped by StopJob while running.
    Stopped,
    /// Canceled before it ran.
    Canceled,
    /// Killed when its RunJob `timeout` expired (v2, JOB-TIMEOUT-3): exit code 124.
    Timeout,
}

impl JobStatus {
    /// The wire string (`RUNNING`, `CANCELED`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initializing => "INITIALIZING",
            Self::Scheduled => "SCHEDULED",
            Self::Running => "RUNNING",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Stopped => "STOPPED",
            Self::Canceled => "CANCELED",
            Self::Timeout => "TIMEOUT",
        }
    }

    /// Whether the job has reached a final state.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Failed | Self::Stopped | Self::Canceled | Self::Timeout
        )
    }
}

/// What was asked for a job: fixed once the job is accepted. It is also the
/// `spec` of a job in a snapshot ([`crate::snapshot`]), where the environments
/// are JSON objects (sorted by name) and secret values are in clear.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobSpec {
    pub name: String,
    pub command: String,
    pub args: Vec<String>,
    pub max_cpu: i32,
    pub cpu_cores: String,
    pub max_memory: i32,
    pub max_iobps: i32,
    pub network: String,
    pub volumes: Vec<String>,
    pub runtime: String,
    pub work_dir: String,
    #[serde(with = "env_map")]
    pub environment: Vec<(String, String)>,
    #[serde(with = "env_map")]
    pub secret_environment: Vec<(String, String)>,
    /// Paths of uploaded entries (contents live with the running task only).
    pub uploads: Vec<String>,
    pub gpu_count: i32,
    pub gpu_memory_mb: i32,
    pub workflow_uuid: String,
    pub dependencies: Vec<String>,
    /// RunJob's `timeout` as sent (v2, JOB-TIMEOUT-4); "" when none.
    pub timeout: String,
}

/// An environment (name, value pairs) as a JSON object sorted by name; read
/// back in that order (a name given twice keeps its last value).
mod env_map {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(pairs: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
        let map: BTreeMap<&str, &str> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        map.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
        Ok(BTreeMap::<String, String>::deserialize(d)?
            .into_iter()
            .collect())
    }
}

/// One job record.
#[derive(Debug)]
pub struct Job {
    pub id: Uuid,
    pub spec: Arc<JobSpec>,
    pub status: JobStatus,
    /// Submission time, Unix seconds.
    pub start_time: i64,
    /// Unix seconds once final.
    pub end_time: Option<i64>,
    /// Unix seconds of the requested schedule.
    pub scheduled_time: Option<i64>,
    pub exit_code: i32,
    pub gpu_indices: Vec<i32>,
    pub log: Arc<LogBuffer>,
    /// When it ran and what its processes did (v2 metrics and telematics).
    pub telemetry: Arc<Telemetry>,
    /// The simulation task while scheduled or running.
    pub task: Option<AbortHandle>,
    /// What the record counts in the memory budget ([`crate::budget`]); set
    /// by the job table.
    pub charge: Charge,
}

/// The bytes a job record counts in the memory budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Charge {
    /// The record itself ([`record_bytes`]); 0 until inserted,
    /// or computed at insertion when left 0.
    pub record: u64,
    /// Held only while the job is live: its uploads and its task.
    pub live: u64,
}

/// An ID as error messages quote it: at most 64 characters, so that a huge
/// bogus ID cannot make the `grpc-message` header exceed the peer's limits.
pub(crate) fn shown(id: &str) -> String {
    const MAX: usize = 64;
    match id.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &id[..cut]),
        None => id.to_string(),
    }
}

/// Hashes the job IDs of [`JobTable`]: a v4 UUID's bits are random already,
/// so its two halves folded and mixed make the hash (SipHash, the default,
/// costs RunJob more than the table's own work).
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHash;

impl std::hash::BuildHasher for IdHash {
    type Hasher = IdHasher;

    fn build_hasher(&self) -> IdHasher {
        IdHasher(0)
    }
}

/// The hasher of [`IdHash`].
#[derive(Debug)]
pub struct IdHasher(u64);

/// An odd constant (2^64 / golden ratio): multiplying by it spreads every
/// input bit over the high bits, the ones the table's probing reads.
const MIX: u64 = 0x9E37_79B9_7F4A_7C15;

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(MIX);
        }
    }

    fn write_u128(&mut self, v: u128) {
        let folded = (v as u64) ^ ((v >> 64) as u64);
        self.0 = (self.0 ^ folded).wrapping_mul(MIX);
    }
}

/// Jobs in creation order, addressable by UUID or unique UUID prefix (ALL-2, ALL-5).
///
/// The table also keeps the session's part of the memory budget
/// ([`crate::budget`]): the bytes of its records, and its finished jobs in
/// finish order for eviction.
#[derive(Debug, Default)]
pub struct JobTable {
    next_seq: u64,
    /// Boxed: a tree node then holds 11 pointers rather than 11 records
    /// (a small allocation instead of kilobytes moved as RunJob appends).
    by_seq: BTreeMap<u64, Box<Job>>,
    /// UUID → sequence number. A hash map: inserting random UUIDs into a tree
    /// costs a cache miss per level; prefix look-ups (rare) scan instead.
    by_id: HashMap<u128, u64, IdHash>,
    /// ALL-2 mutant (`prefix-lookup-off`): only whole IDs resolve.
    pub prefixes_off: bool,
    /// The session's account on the process's budget (none in unit tests).
    account: Option<Arc<Account>>,
    /// Most records kept (`--max-jobs`; 0: no cap).
    max_jobs: usize,
    /// Bytes of the records held (with live jobs' extras).
    record_bytes: u64,
    /// Finished jobs whose log history may still be evicted.
    finished_logs: FinishQueue,
    /// Finished job records.
    finished: FinishQueue,
    /// Finish-order stamps when there is no account.
    local_stamps: u64,
    /// Records evicted so far (over budget or past `max_jobs`).
    evicted: u64,
}

impl Drop for JobTable {
    fn drop(&mut self) {
        if let Some(account) = &self.account {
            account.budget().sub_records(self.record_bytes);
        }
    }
}

impl JobTable {
    /// An empty table counting in `account`, keeping at most `max_jobs`
    /// records (0: no cap).
    pub fn new(account: Option<Arc<Account>>, max_jobs: usize) -> Self {
        Self {
            next_seq: 0,
            by_seq: BTreeMap::new(),
            by_id: HashMap::default(),
            prefixes_off: false,
            account,
            max_jobs,
            record_bytes: 0,
            finished_logs: FinishQueue::default(),
            finished: FinishQueue::default(),
            local_stamps: 0,
            evicted: 0,
        }
    }

    /// Adds a job; returns its sequence number. A job that is final already
    /// (a restored one) joins the finish-order queues.
    pub fn insert(&mut self, mut job: Job) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        if job.charge.record == 0 {
            job.charge.record = record_bytes(&job.spec);
        }
        self.charge(job.charge.record + job.charge.live);
        let is_final = job.status.is_final();
        let has_log = is_final && job.log.retained_bytes() > 0;
        self.by_id.insert(job.id.as_u128(), seq);
        self.by_seq.insert(seq, Box::new(job));
        if is_final {
            self.queue_finished(seq, has_log);
        }
        seq
    }

    fn charge(&mut self, bytes: u64) {
        self.record_bytes += bytes;
        if let Some(a) = &self.account {
            a.budget().add_records(bytes);
        }
    }

    fn discharge(&mut self, bytes: u64) {
        if bytes == 0 {
            return;
        }
        self.record_bytes -= bytes;
        if let Some(a) = &self.account {
            a.budget().sub_records(bytes);
        }
    }

    /// Counts `bytes` more for live job `seq` (its task), until it finishes.
    pub fn charge_live(&mut self, seq: u64, bytes: u64) {
        let Some(job) = self.by_seq.get_mut(&seq) else {
            return;
        };
        job.charge.live += bytes;
        self.charge(bytes);
    }

    /// Counts `bytes` more for job `seq`'s record until it goes (its
    /// telematics history, once it ended).
    pub fn charge_record(&mut self, seq: u64, bytes: u64) {
        let Some(job) = self.by_seq.get_mut(&seq) else {
            return;
        };
        job.charge.record += bytes;
        self.charge(bytes);
    }

    /// Job `seq` has just become final: it stops counting its live extras and
    /// joins the finish-order queues (its log history too when it has any).
    pub fn finished(&mut self, seq: u64, has_log: bool) {
        let Some(job) = self.by_seq.get_mut(&seq) else {
            return;
        };
        let live = std::mem::take(&mut job.charge.live);
        self.discharge(live);
        self.queue_finished(seq, has_log);
    }

    fn queue_finished(&mut self, seq: u64, has_log: bool) {
        let stamp = match &self.account {
            Some(a) => {
                a.budget().note_finished();
                a.budget().stamp()
            }
            None => {
                self.local_stamps += 1;
                self.local_stamps
            }
        };
        self.finished.push(stamp, seq);
        if has_log {
            self.finished_logs.push(stamp, seq);
        }
    }

    /// The stamp of the oldest finished entry `phase` would evict.
    pub fn oldest_finished(&self, phase: Phase) -> Option<u64> {
        match phase {
            Phase::Logs => self.finished_logs.front(),
            Phase::Records => self.finished.front(),
        }
        .map(|(stamp, _)| stamp)
    }

    /// Evicts, oldest first, the log history (`Phase::Logs`) or the records
    /// (`Phase::Records`) of finished jobs stamped up to `until`, while `more`
    /// says so.
    pub fn evict(&mut self, phase: Phase, until: u64, more: &mut dyn FnMut() -> bool) {
        let budget = self.account.as_ref().map(|a| Arc::clone(a.budget()));
        loop {
            let queue = match phase {
                Phase::Logs => &mut self.finished_logs,
                Phase::Records => &mut self.finished,
            };
            match queue.front() {
                Some((stamp, _)) if stamp <= until && more() => {}
                _ => return,
            }
            let Some((_, seq)) = queue.pop() else { return };
            match phase {
                Phase::Logs => {
                    if let Some(job) = self.by_seq.get(&seq) {
                        let freed = job.log.evict();
                        if let Some(b) = &budget {
                            b.note_evicted_log(freed);
                        }
                    }
                }
                Phase::Records => {
                    if self.evict_record(seq)
                        && let Some(b) = &budget
                    {
                        b.note_evicted_record();
                    }
                }
            }
        }
    }

    /// Removes finished record `seq` as evicted.
    fn evict_record(&mut self, seq: u64) -> bool {
        if !self.by_seq.get(&seq).is_some_and(|j| j.status.is_final()) {
            return false;
        }
        self.remove(seq);
        self.evicted += 1;
        true
    }

    /// Makes room for one more record under `--max-jobs`: evicts the oldest
    /// finished records past the cap; `RESOURCE_EXHAUSTED` naming the cap when
    /// every record is live.
    pub fn make_room(&mut self) -> Result<()> {
        if self.max_jobs == 0 || self.evict_past(self.max_jobs - 1) {
            return Ok(());
        }
        Err(Error::ResourceExhausted(format!(
            "the session holds {} jobs (--max-jobs {}), all of them running or scheduled, \
             so none can be evicted for a new one; stop jobs, or start the mock with a \
             larger --max-jobs (0: no cap)",
            self.by_seq.len(),
            self.max_jobs
        )))
    }

    /// Evicts the oldest finished records past `--max-jobs` (a restored
    /// table may hold more).
    pub fn evict_past_cap(&mut self) {
        if self.max_jobs > 0 {
            self.evict_past(self.max_jobs);
        }
    }

    /// Evicts the oldest finished records while more than `keep` are held;
    /// whether at most `keep` are left.
    fn evict_past(&mut self, keep: usize) -> bool {
        while self.by_seq.len() > keep {
            let Some((_, seq)) = self.finished.pop() else {
                return false;
            };
            if self.evict_record(seq)
                && let Some(a) = &self.account
            {
                a.budget().note_evicted_record();
            }
        }
        true
    }

    /// Bytes of the records held (estimated; their logs are counted apart).
    pub fn record_bytes(&self) -> u64 {
        self.record_bytes
    }

    /// Records evicted so far.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Resolves a full UUID or a unique prefix (case-insensitive).
    pub fn resolve(&self, id: &str) -> Result<u64> {
        let id = id.trim().to_ascii_lowercase();
        if id.is_empty() {
            return Err(Error::invalid("uuid", "job uuid is required"));
        }
        let evicted = self.evicted;
        let not_found = || {
            if evicted == 0 {
                return Error::NotFound(format!("job {} not found", shown(&id)));
            }
            Error::NotFound(format!(
                "job {} not found (this session has evicted {evicted} finished job records \
                 to stay within --memory-budget and --max-jobs)",
                shown(&id)
            ))
        };
        // A prefix of the canonical form is a range of 128-bit values.
        let Some((low, high)) = prefix_range(&id) else {
            return Err(not_found());
        };
        if low == high {
            return self.by_id.get(&low).copied().ok_or_else(not_found);
        }
        // ALL-2 mutant: a prefix finds nothing.
        if self.prefixes_off {
            return Err(not_found());
        }
        let mut matches = self
            .by_id
            .iter()
            .filter(|(id, _)| (low..=high).contains(*id));
        match (matches.next(), matches.next()) {
            (None, _) => Err(not_found()),
            (Some((_, seq)), None) => Ok(*seq),
            (Some(_), Some(_)) => {
                let count = 2 + matches.count();
                Err(Error::invalid(
                    "uuid",
                    format!("job id prefix {id:?} is ambiguous: it matches {count} jobs"),
                ))
            }
        }
    }

    /// The job with this sequence number.
    pub fn get(&self, seq: u64) -> Option<&Job> {
        self.by_seq.get(&seq).map(|j| &**j)
    }

    /// The job with this sequence number, mutably.
    pub fn get_mut(&mut self, seq: u64) -> Option<&mut Job> {
        self.by_seq.get_mut(&seq).map(|j| &mut **j)
    }

    /// Removes a job.
    pub fn remove(&mut self, seq: u64) -> Option<Job> {
        let job = *self.by_seq.remove(&seq)?;
        self.by_id.remove(&job.id.as_u128());
        self.discharge(job.charge.record + job.charge.live);
        let live = self.by_seq.len();
        let by_seq = &self.by_seq;
        self.finished.compact(live, |s| by_seq.contains_key(&s));
        self.finished_logs.compact(live, |s| {
            by_seq.get(&s).is_some_and(|j| !j.log.is_evicted())
        });
        Some(job)
    }

    /// Every job in creation order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &Job)> {
        self.by_seq.iter().map(|(s, j)| (*s, &**j))
    }

    /// Number of jobs held.
    pub fn len(&self) -> usize {
        self.by_seq.len()
    }

    /// Whether no job is held.
    pub fn is_empty(&self) -> bool {
        self.by_seq.is_empty()
    }
}

/// The range of UUID values whose canonical lower-case text starts with
/// `prefix`, or `None` if no UUID can (wrong character or length).
pub(crate) fn prefix_range(prefix: &str) -> Option<(u128, u128)> {
    const DASHES: [usize; 4] = [8, 13, 18, 23];
    if prefix.len() > 36 {
        return None;
    }
    let mut value: u128 = 0;
    let mut nibbles = 0u32;
    for (i, c) in prefix.chars().enumerate() {
        if DASHES.contains(&i) {
            if c != '-' {
                return None;
            }
            continue;
        }
        value = (value << 4) | u128::from(c.to_digit(16)?);
        nibbles += 1;
    }
    if nibbles == 0 {
        return None;
    }
    let free_bits = 4 * (32 - nibbles);
    let low = value.checked_shl(free_bits).unwrap_or(0);
    let span = if free_bits == 0 {
        0
    } else {
        (1u128 << free_bits) - 1
    };
    Some((low, low | span))
}

/// What a heap allocation costs besides its bytes (allocator header and rounding).
const ALLOCATION: usize = 16;

/// The bytes of a job record besides what its spec points to: the boxed
/// record and its entry in the table's tree (whose nodes are about 60 %
/// full), its UUID index entry,
/// the shared spec, the log buffer and the telemetry record with their
/// reference counts, and the finish-order queue entries.
const RECORD_BASE: usize = (size_of::<(u64, Box<Job>)>() * 5 / 3)
    + (size_of::<Job>() + ALLOCATION)
    + 2 * (size_of::<(u128, u64)>() + 1)
    + (size_of::<JobSpec>() + 2 * size_of::<usize>() + ALLOCATION)
    + (size_of::<LogBuffer>() + 2 * size_of::<usize>() + ALLOCATION)
    + (size_of::<Telemetry>() + 2 * size_of::<usize>() + ALLOCATION)
    + 2 * size_of::<(u64, u64)>();

/// The estimated memory of a job record with this spec (its log history is
/// counted apart, by its [`LogBuffer`]).
pub fn record_bytes(spec: &JobSpec) -> u64 {
    fn text(s: &str) -> usize {
        if s.is_empty() {
            0
        } else {
            s.len() + ALLOCATION
        }
    }
    fn list(v: &[String]) -> usize {
        if v.is_empty() {
            return 0;
        }
        std::mem::size_of_val(v) + ALLOCATION + v.iter().map(|s| text(s)).sum::<usize>()
    }
    fn pairs(v: &[(String, String)]) -> usize {
        if v.is_empty() {
            return 0;
        }
        std::mem::size_of_val(v)
            + ALLOCATION
            + v.iter().map(|(k, v)| text(k) + text(v)).sum::<usize>()
    }
    let heap = text(&spec.name)
        + text(&spec.command)
        + list(&spec.args)
        + text(&spec.cpu_cores)
        + text(&spec.network)
        + list(&spec.volumes)
        + text(&spec.runtime)
        + text(&spec.work_dir)
        + pairs(&spec.environment)
        + pairs(&spec.secret_environment)
        + list(&spec.uploads)
        + text(&spec.workflow_uuid)
        + list(&spec.dependencies);
    (RECORD_BASE + heap) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_costs_its_strings() {
        let empty = record_bytes(&JobSpec::default());
        assert!(empty >= RECORD_BASE as u64);
        let spec = JobSpec {
            command: "echo".into(),
            args: vec!["x".repeat(1000)],
            environment: vec![("K".into(), "v".repeat(500))],
            ..JobSpec::default()
        };
        assert!(
            record_bytes(&spec) >= empty + 1500,
            "{}",
            record_bytes(&spec)
        );
    }

    fn job(id: &str) -> Job {
        Job {
            id: Uuid::parse_str(id).unwrap(),
            spec: Arc::default(),
            status: JobStatus::Completed,
            start_time: 0,
            end_time: None,
            scheduled_time: None,
            exit_code: 0,
            gpu_indices: Vec::new(),
            log: LogBuffer::new(16),
            telemetry: Telemetry::new(),
            task: None,
            charge: Charge::default(),
        }
    }

    #[test]
    fn prefix_lookup_all_2() {
        let mut t = JobTable::default();
        let a = t.insert(job("aaaaaaaa-0000-4000-8000-000000000001"));
        let _b = t.insert(job("aaaaaaaa-0000-4000-8000-000000000002"));
        let c = t.insert(job("bbbbbbbb-0000-4000-8000-000000000003"));
        assert_eq!(t.resolve("bbb").unwrap(), c);
        assert_eq!(
            t.resolve("AAAAAAAA-0000-4000-8000-000000000001").unwrap(),
            a
        );
        let amb = t.resolve("aaaa").unwrap_err();
        assert_eq!(amb.code(), tonic::Code::InvalidArgument);
        assert!(amb.to_string().contains("2 jobs"), "{amb}");
        assert_eq!(t.resolve("c").unwrap_err().code(), tonic::Code::NotFound);
        assert_eq!(
            t.resolve("").unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
    }

    #[test]
    fn ids_whose_halves_fold_alike_stay_apart() {
        // Same folded hash (high ^ low), different IDs: both resolve, each to its own.
        let mut t = JobTable::default();
        let (x, y) = (
            0x1234_5678_9abc_4def_8123_4567_89ab_cdefu128,
            0x0f0f_0f0f_0f0f_0f0fu128,
        );
        let fold = |v: u128| (v as u64) ^ ((v >> 64) as u64);
        let twin = x ^ (y << 64) ^ y;
        assert_eq!(fold(x), fold(twin));
        let a = t.insert(job(&Uuid::from_u128(x).to_string()));
        let b = t.insert(job(&Uuid::from_u128(twin).to_string()));
        assert_ne!(a, b);
        assert_eq!(t.resolve(&Uuid::from_u128(x).to_string()).unwrap(), a);
        assert_eq!(t.resolve(&Uuid::from_u128(twin).to_string()).unwrap(), b);
        let before = t.len();
        t.remove(a);
        assert_eq!(t.len(), before - 1);
        assert_eq!(t.resolve(&Uuid::from_u128(twin).to_string()).unwrap(), b);
        assert_eq!(
            t.resolve(&Uuid::from_u128(x).to_string())
                .unwrap_err()
                .code(),
            tonic::Code::NotFound
        );
    }

    proptest::proptest! {
        /// ALL-2: a prefix of a UUID's text finds it; the range holds exactly
        /// the UUIDs whose text starts with the prefix.
        #[test]
        fn prefix_range_matches_text_prefixes(a: u128, b: u128, len in 1usize..=36) {
            let ua = Uuid::from_u128(a).to_string();
            let prefix = &ua[..len];
            let (low, high) = prefix_range(prefix).expect("a real prefix parses");
            proptest::prop_assert!(low <= a && a <= high);
            let ub = Uuid::from_u128(b).to_string();
            proptest::prop_assert_eq!(ub.starts_with(prefix), low <= b && b <= high);
        }

        #[test]
        fn prefix_range_never_panics(text in "\\PC{0,40}") {
            let _ = prefix_range(&text);
        }
    }

    #[test]
    fn records_are_counted_until_they_go_however_they_go() {
        let budget = crate::budget::Budget::new(1 << 30);
        let account = Account::new(&budget);
        let mut t = JobTable::new(Some(Arc::clone(&account)), 0);
        let a = t.insert(job("00000000-0000-4000-8000-00000000000a"));
        let mut live = job("00000000-0000-4000-8000-00000000000b");
        live.status = JobStatus::Running;
        live.charge.live = 5000;
        let b = t.insert(live);
        let one = record_bytes(&JobSpec::default());
        assert_eq!(t.record_bytes(), 2 * one + 5000);
        assert_eq!(budget.records(), t.record_bytes());
        // Finishing releases the live part; removing releases the record.
        t.finished(b, false);
        assert_eq!(budget.records(), 2 * one);
        t.remove(a);
        assert_eq!(budget.records(), one);
        // Dropping the table (a reset, a restore) gives back the rest.
        drop(t);
        assert_eq!(budget.records(), 0);
    }

    #[test]
    fn eviction_takes_finished_logs_then_records_oldest_first() {
        let budget = crate::budget::Budget::new(1 << 30);
        let account = Account::new(&budget);
        let mut t = JobTable::new(Some(Arc::clone(&account)), 0);
        let mut live = job("00000000-0000-4000-8000-000000000001");
        live.status = JobStatus::Running;
        let running = t.insert(live);
        // Three finished jobs, finished in order c, a, b (a restored table).
        let mut seqs = Vec::new();
        for id in ["a", "b", "c"] {
            let mut j = job(&format!("00000000-0000-4000-8000-00000000000{id}"));
            j.status = JobStatus::Running;
            seqs.push(t.insert(j));
        }
        for &seq in &[seqs[2], seqs[0], seqs[1]] {
            t.get_mut(seq).unwrap().status = JobStatus::Completed;
            t.finished(seq, true);
        }
        let mut budget_left = 2;
        t.evict(Phase::Logs, u64::MAX, &mut || {
            budget_left -= 1;
            budget_left >= 0
        });
        // c and a (finished first) lost their logs, b kept its own.
        assert!(t.get(seqs[2]).unwrap().log.is_evicted());
        assert!(t.get(seqs[0]).unwrap().log.is_evicted());
        assert!(!t.get(seqs[1]).unwrap().log.is_evicted());
        // Records: oldest finished first; never the running one.
        t.evict(Phase::Records, u64::MAX, &mut || true);
        let left: Vec<u64> = t.iter().map(|(s, _)| s).collect();
        assert_eq!(left, [running]);
        assert_eq!(t.evicted(), 3);
        let err = t
            .resolve("00000000-0000-4000-8000-00000000000a")
            .unwrap_err();
        assert!(err.to_string().contains("evicted 3"), "{err}");
    }

    #[test]
    fn max_jobs_evicts_finished_records_and_refuses_when_all_are_live() {
        let mut t = JobTable::new(None, 2);
        let mut live = job("00000000-0000-4000-8000-000000000001");
        live.status = JobStatus::Running;
        t.insert(live);
        let done = t.insert(job("00000000-0000-4000-8000-000000000002"));
        t.make_room().unwrap();
        assert!(t.get(done).is_none());
        let mut live = job("00000000-0000-4000-8000-000000000003");
        live.status = JobStatus::Scheduled;
        t.insert(live);
        let err = t.make_room().unwrap_err();
        assert_eq!(err.code(), tonic::Code::ResourceExhausted);
        assert!(err.to_string().contains("--max-jobs 2"), "{err}");
    }

    #[test]
    fn creation_order_survives_removal() {
        let mut t = JobTable::default();
        let a = t.insert(job("00000000-0000-4000-8000-000000000009"));
        let b = t.insert(job("00000000-0000-4000-8000-000000000001"));
        let c = t.insert(job("00000000-0000-4000-8000-000000000005"));
        t.remove(b);
        let order: Vec<_> = t.iter().map(|(s, _)| s).collect();
        assert_eq!(order, [a, c]);
        assert_eq!(
            t.resolve("00000000-0000-4000-8000-000000000001")
                .unwrap_err()
                .code(),
            tonic::Code::NotFound
        );
    }
}
