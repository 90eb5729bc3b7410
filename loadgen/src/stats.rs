//! Statistics in bounded memory: an HdrHistogram per operation (and per
//! target and stage), errors counted by gRPC code, stream bytes and chunk
//! timings. No sample is ever kept: a histogram's size depends on the range
//! of values, not on how many were recorded.
//!
//! Each generator thread records into its own `Cells` without locking
//! across threads; every interval the thread hands them to the
//! collector, which adds them into the run's totals and time series.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};

use crate::transport::{CallError, Code, Rpc};

/// A reported operation: one RPC, or a lifecycle milestone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// RunJob.
    Submit,
    /// GetJobStatus.
    Status,
    /// ListJobs.
    List,
    /// GetJobLogs (the whole stream).
    Logs,
    /// StopJob.
    Stop,
    /// DeleteJob.
    Delete,
    /// A submitted job reached RUNNING (lifecycle).
    Running,
    /// A submitted job reached its final state (lifecycle).
    Final,
    /// StreamJobMetrics, one follower's whole stream (metrics; v2).
    Metrics,
    /// StreamJobTelematics, one follower's whole stream (metrics
    /// `--telematics`; v2).
    Telematics,
}

impl Op {
    /// Every operation.
    pub const ALL: [Op; 10] = [
        Op::Submit,
        Op::Status,
        Op::List,
        Op::Logs,
        Op::Stop,
        Op::Delete,
        Op::Running,
        Op::Final,
        Op::Metrics,
        Op::Telematics,
    ];

    /// The name in reports and thresholds.
    pub fn name(self) -> &'static str {
        match self {
            Op::Submit => "submit",
            Op::Status => "status",
            Op::List => "list",
            Op::Logs => "logs",
            Op::Stop => "stop",
            Op::Delete => "delete",
            Op::Running => "running",
            Op::Final => "final",
            Op::Metrics => "metrics",
            Op::Telematics => "telematics",
        }
    }

    /// The operation named `name`.
    pub fn from_name(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|o| o.name() == name)
    }

    /// The operation of an RPC.
    pub fn of(rpc: Rpc) -> Op {
        match rpc {
            Rpc::RunJob => Op::Submit,
            Rpc::GetJobStatus => Op::Status,
            Rpc::ListJobs => Op::List,
            Rpc::GetJobLogs => Op::Logs,
            Rpc::StopJob => Op::Stop,
            Rpc::DeleteJob => Op::Delete,
            Rpc::StreamJobMetrics => Op::Metrics,
            Rpc::StreamJobTelematics => Op::Telematics,
        }
    }

    /// What the operation's latency measures, for reports.
    pub fn describes(self) -> &'static str {
        match self {
            Op::Submit => "RunJob",
            Op::Status => "GetJobStatus",
            Op::List => "ListJobs",
            Op::Logs => "GetJobLogs, whole stream",
            Op::Stop => "StopJob",
            Op::Delete => "DeleteJob",
            Op::Running => "submit to RUNNING",
            Op::Final => "submit to final state",
            Op::Metrics => "StreamJobMetrics, whole stream",
            Op::Telematics => "StreamJobTelematics, whole stream",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A new latency histogram: microseconds, 3 significant digits, growing to
/// the largest value recorded.
pub fn histogram() -> Histogram<u64> {
    Histogram::new(3).expect("3 significant digits are valid")
}

/// Records `d` in microseconds (at least 1).
pub(crate) fn record(h: &mut Histogram<u64>, d: Duration) {
    let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
    // An auto-resizing histogram accepts any value below u64::MAX / 2.
    let _ = h.record(us.min(u64::MAX >> 2));
}

/// The histogram as base64 of its V2 compressed (deflate) serialization, the
/// encoding of HdrHistogram interval logs.
pub fn encode(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut buf)
        .expect("serializing into memory cannot fail");
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// A histogram that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad histogram: {0}")]
pub struct DecodeError(pub String);

/// Decodes [`encode`]'s output into an auto-resizing histogram.
pub fn decode(text: &str) -> Result<Histogram<u64>, DecodeError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| DecodeError(format!("base64: {e}")))?;
    let h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| DecodeError(format!("{e:?}")))?;
    let mut out = histogram();
    out.add(&h).map_err(|e| DecodeError(format!("{e:?}")))?;
    Ok(out)
}

/// Adds `from` into `into`.
pub fn add(into: &mut Histogram<u64>, from: &Histogram<u64>) {
    // Both auto-resize, so adding cannot fail on range.
    let _ = into.add(from);
}

/// Distinct final statuses kept before the rest count as `OTHER`.
const MAX_STATUSES: usize = 32;

/// Statistics of one operation (on one target, in one stage, or overall).
#[derive(Debug, Clone)]
pub(crate) struct OpStats {
    /// Calls that ended OK.
    pub ok: u64,
    /// Calls that failed, by gRPC code.
    pub errors: [u64; 17],
    /// The first message seen for each failing code.
    pub error_examples: BTreeMap<i32, String>,
    /// Latency of OK calls: from the intended start under a rate, from the
    /// send otherwise (µs).
    pub latency: Histogram<u64>,
    /// Latency of OK calls from the actual send (µs).
    pub uncorrected: Histogram<u64>,
    /// Calls that had an intended start (open model).
    pub paced: u64,
    /// Log-stream figures.
    pub stream: Option<StreamStats>,
    /// Final statuses (lifecycle `final`).
    pub statuses: BTreeMap<String, u64>,
    /// Draws of the operation not sent: the run had no job in the state it
    /// needs (a mix's StopJob with no running job, DeleteJob with no
    /// finished one).
    pub skipped: u64,
    /// StopJob calls that met a job which had ended since the run last saw
    /// it running (FAILED_PRECONDITION, checked with GetJobStatus): neither
    /// OK nor errors.
    pub raced: u64,
}

impl Default for OpStats {
    fn default() -> Self {
        Self {
            ok: 0,
            errors: [0; 17],
            error_examples: BTreeMap::new(),
            latency: histogram(),
            uncorrected: histogram(),
            paced: 0,
            stream: None,
            statuses: BTreeMap::new(),
            skipped: 0,
            raced: 0,
        }
    }
}

impl OpStats {
    /// Calls that failed.
    pub fn error_count(&self) -> u64 {
        self.errors.iter().sum()
    }

    /// Calls completed (OK or not).
    pub fn count(&self) -> u64 {
        self.ok + self.error_count()
    }

    /// Counts an error.
    pub fn error(&mut self, e: &CallError) {
        let code = e.code as i32;
        if let Some(slot) = usize::try_from(code)
            .ok()
            .and_then(|i| self.errors.get_mut(i))
        {
            *slot += 1;
        }
        self.error_examples
            .entry(code)
            .or_insert_with(|| e.message.chars().take(300).collect());
    }

    /// Counts an OK call that the plan meant to start at `intended` (or at
    /// `sent` in a closed stage), sent at `sent` and done at `done`.
    pub fn ok(&mut self, intended: Option<Instant>, sent: Instant, done: Instant) {
        self.ok += 1;
        let actual = done.saturating_duration_since(sent);
        record(&mut self.uncorrected, actual);
        match intended {
            Some(t) => {
                self.paced += 1;
                record(
                    &mut self.latency,
                    done.saturating_duration_since(t.min(sent)),
                );
            }
            None => record(&mut self.latency, actual),
        }
    }

    /// Counts a final status.
    pub fn status(&mut self, status: &str) {
        let key = if self.statuses.contains_key(status) || self.statuses.len() < MAX_STATUSES {
            status.to_owned()
        } else {
            "OTHER".to_owned()
        };
        *self.statuses.entry(key).or_default() += 1;
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &OpStats) {
        self.ok += other.ok;
        for (a, b) in self.errors.iter_mut().zip(other.errors) {
            *a += b;
        }
        for (code, msg) in &other.error_examples {
            self.error_examples
                .entry(*code)
                .or_insert_with(|| msg.clone());
        }
        add(&mut self.latency, &other.latency);
        add(&mut self.uncorrected, &other.uncorrected);
        self.paced += other.paced;
        if let Some(s) = &other.stream {
            self.stream
                .get_or_insert_with(StreamStats::default)
                .merge(s);
        }
        for (status, n) in &other.statuses {
            *self.statuses.entry(status.clone()).or_default() += n;
        }
        self.skipped += other.skipped;
        self.raced += other.raced;
    }

    /// The failing codes with their counts.
    pub fn errors_by_code(&self) -> impl Iterator<Item = (Code, u64)> + '_ {
        self.errors
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| (Code::from_i32(i as i32), *n))
    }
}

/// Figures of streams: log streams, and the telemetry streams of the
/// `metrics` scenario (their messages are events).
#[derive(Debug, Clone)]
pub(crate) struct StreamStats {
    /// Payload bytes received (telemetry: bytes of the events).
    pub bytes: u64,
    /// Messages received: `DataChunk`s, or telemetry events.
    pub chunks: u64,
    /// Streams that delivered at least one byte.
    pub streams: u64,
    /// Time from the request to the first payload byte (µs).
    pub ttfb: Histogram<u64>,
    /// Time between consecutive chunks of one stream (µs).
    pub gaps: Histogram<u64>,
    /// Each stream's own throughput, in KB/s (1000 bytes per second).
    pub stream_kbps: Histogram<u64>,
    /// Telemetry: the events that were history when the stream began
    /// (their timestamp before the request was sent).
    pub history: u64,
    /// Telemetry: the delay from a live event's own timestamp to its
    /// arrival (µs; the node's clock against this machine's).
    pub delay: Option<Histogram<u64>>,
}

impl Default for StreamStats {
    fn default() -> Self {
        Self {
            bytes: 0,
            chunks: 0,
            streams: 0,
            ttfb: histogram(),
            gaps: histogram(),
            stream_kbps: histogram(),
            history: 0,
            delay: None,
        }
    }
}

impl StreamStats {
    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &StreamStats) {
        self.bytes += other.bytes;
        self.chunks += other.chunks;
        self.streams += other.streams;
        add(&mut self.ttfb, &other.ttfb);
        add(&mut self.gaps, &other.gaps);
        add(&mut self.stream_kbps, &other.stream_kbps);
        self.history += other.history;
        if let Some(d) = &other.delay {
            add(self.delay.get_or_insert_with(histogram), d);
        }
    }
}

/// One interval of a run, complete (every generator thread reported it):
/// what the collector hands the HDR log and the progress line.
#[derive(Debug)]
pub(crate) struct Interval {
    /// Offset of its start from the run's start.
    pub(crate) offset: Duration,
    /// Its length.
    pub(crate) length: Duration,
    /// Per operation.
    pub(crate) by_op: BTreeMap<Op, OpStats>,
}

/// Where a figure belongs: operation, target and stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Key {
    /// The operation.
    pub op: Op,
    /// Index of the target.
    pub target: u16,
    /// Index of the stage.
    pub stage: u16,
}

/// The statistics of one interval (or of the whole run), per [`Key`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Cells {
    cells: Vec<Option<Box<OpStats>>>,
    targets: usize,
    stages: usize,
    /// How late actions started compared to their intended start (µs; open model).
    pub lag: Option<Histogram<u64>>,
    /// Per stage: how late actions started while the thread had free
    /// workers (µs; open model): the lateness the generator itself caused,
    /// not a slow node keeping every worker busy.
    pub generator_lag: Vec<Option<Histogram<u64>>>,
}

impl Cells {
    /// Empty statistics for `targets` targets and `stages` stages.
    pub fn new(targets: usize, stages: usize) -> Self {
        Self {
            cells: Vec::new(),
            targets: targets.max(1),
            stages: stages.max(1),
            lag: None,
            generator_lag: Vec::new(),
        }
    }

    fn slot(&self, key: Key) -> usize {
        (key.op.index() * self.targets + usize::from(key.target)) * self.stages
            + usize::from(key.stage)
    }

    /// The statistics of `key`, created on first use.
    pub fn get(&mut self, key: Key) -> &mut OpStats {
        let i = self.slot(key);
        if self.cells.len() <= i {
            self.cells
                .resize_with(Op::ALL.len() * self.targets * self.stages, || None);
        }
        self.cells[i].get_or_insert_with(Default::default)
    }

    /// Records how late an action of stage `stage` started; `free`: while
    /// the thread had free workers (the generator's own lateness).
    pub fn lag(&mut self, stage: u16, late: Duration, free: bool) {
        record(self.lag.get_or_insert_with(histogram), late);
        if free {
            let i = usize::from(stage);
            if self.generator_lag.len() <= i {
                self.generator_lag.resize_with(i + 1, || None);
            }
            record(self.generator_lag[i].get_or_insert_with(histogram), late);
        }
    }

    /// The generator's own lateness in `stage` (`None`: every stage).
    pub fn generator_lag_of(&self, stage: Option<u16>) -> Option<Histogram<u64>> {
        let mut out: Option<Histogram<u64>> = None;
        for (i, h) in self.generator_lag.iter().enumerate() {
            if let Some(h) = h
                && stage.is_none_or(|s| usize::from(s) == i)
            {
                add(out.get_or_insert_with(histogram), h);
            }
        }
        out
    }

    /// Every key with statistics.
    pub fn iter(&self) -> impl Iterator<Item = (Key, &OpStats)> + '_ {
        let (targets, stages) = (self.targets, self.stages);
        self.cells.iter().enumerate().filter_map(move |(i, c)| {
            let c = c.as_deref()?;
            let op = Op::ALL[i / (targets * stages)];
            let target = ((i / stages) % targets) as u16;
            let stage = (i % stages) as u16;
            Some((Key { op, target, stage }, c))
        })
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Cells) {
        for (key, stats) in other.iter() {
            self.get(key).merge(stats);
        }
        if let Some(l) = &other.lag {
            add(self.lag.get_or_insert_with(histogram), l);
        }
        if self.generator_lag.len() < other.generator_lag.len() {
            self.generator_lag
                .resize_with(other.generator_lag.len(), || None);
        }
        for (mine, theirs) in self.generator_lag.iter_mut().zip(&other.generator_lag) {
            if let Some(h) = theirs {
                add(mine.get_or_insert_with(histogram), h);
            }
        }
    }

    /// Statistics per operation over every target and stage.
    pub fn by_op(&self) -> BTreeMap<Op, OpStats> {
        let mut out: BTreeMap<Op, OpStats> = BTreeMap::new();
        for (key, stats) in self.iter() {
            out.entry(key.op).or_default().merge(stats);
        }
        out
    }

    /// Statistics per operation for one target.
    pub fn for_target(&self, target: u16) -> BTreeMap<Op, OpStats> {
        let mut out: BTreeMap<Op, OpStats> = BTreeMap::new();
        for (key, stats) in self.iter().filter(|(k, _)| k.target == target) {
            out.entry(key.op).or_default().merge(stats);
        }
        out
    }

    /// Statistics per operation for one stage.
    pub fn for_stage(&self, stage: u16) -> BTreeMap<Op, OpStats> {
        let mut out: BTreeMap<Op, OpStats> = BTreeMap::new();
        for (key, stats) in self.iter().filter(|(k, _)| k.stage == stage) {
            out.entry(key.op).or_default().merge(stats);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cells_keep_targets_and_stages_apart() {
        let mut c = Cells::new(2, 3);
        let t0 = Instant::now();
        let k = |op, target, stage| Key { op, target, stage };
        c.get(k(Op::Submit, 1, 2))
            .ok(None, t0, t0 + Duration::from_millis(2));
        c.get(k(Op::Submit, 0, 0))
            .ok(None, t0, t0 + Duration::from_millis(1));
        c.get(k(Op::Final, 1, 0)).status("COMPLETED");
        let keys: Vec<Key> = c.iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [k(Op::Submit, 0, 0), k(Op::Submit, 1, 2), k(Op::Final, 1, 0)]
        );
        assert_eq!(c.for_target(1)[&Op::Submit].ok, 1);
        assert_eq!(c.by_op()[&Op::Submit].ok, 2);
        assert_eq!(c.for_stage(2)[&Op::Submit].latency.max(), 2000);
    }

    #[test]
    fn errors_count_by_code_with_one_example_each() {
        let mut s = OpStats::default();
        s.error(&CallError::new(Code::Unavailable, "first"));
        s.error(&CallError::new(Code::Unavailable, "second"));
        s.error(&CallError::new(Code::NotFound, "gone"));
        let by: Vec<_> = s.errors_by_code().collect();
        assert_eq!(by, [(Code::NotFound, 1), (Code::Unavailable, 2)]);
        assert_eq!(s.error_examples[&(Code::Unavailable as i32)], "first");
        assert_eq!(s.count(), 3);
    }

    #[test]
    fn latency_counts_from_the_intended_start() {
        let mut s = OpStats::default();
        let t0 = Instant::now();
        // Intended at t0, sent 10 ms late, answered 1 ms later.
        s.ok(
            Some(t0),
            t0 + Duration::from_millis(10),
            t0 + Duration::from_millis(11),
        );
        assert_eq!(s.latency.max() / 1000, 11);
        assert_eq!(s.uncorrected.max() / 1000, 1);
        assert_eq!(s.paced, 1);
    }

    #[test]
    fn statuses_are_bounded() {
        let mut s = OpStats::default();
        for i in 0..100 {
            s.status(&format!("S{i}"));
        }
        assert_eq!(s.statuses.len(), MAX_STATUSES + 1);
        assert_eq!(s.statuses["OTHER"], 100 - MAX_STATUSES as u64);
    }

    proptest! {
        /// The requirement: merged percentiles equal those of one
        /// histogram that recorded every sample.
        #[test]
        fn merged_histograms_equal_one_histogram_of_every_sample(
            parts in proptest::collection::vec(proptest::collection::vec(1u64..50_000_000, 0..300), 1..6)
        ) {
            let mut all = histogram();
            let mut merged = histogram();
            for part in &parts {
                let mut h = histogram();
                for v in part {
                    h.record(*v).unwrap();
                    all.record(*v).unwrap();
                }
                // Through the report encoding, as `merge` reads it back.
                let back = decode(&encode(&h)).unwrap();
                add(&mut merged, &back);
            }
            prop_assert_eq!(merged.len(), all.len());
            for q in [0.0, 0.5, 0.9, 0.99, 0.999, 1.0] {
                prop_assert_eq!(merged.value_at_quantile(q), all.value_at_quantile(q));
            }
            prop_assert_eq!(merged.max(), all.max());
            prop_assert_eq!(merged.min(), all.min());
            prop_assert!((merged.mean() - all.mean()).abs() < 1e-6);
        }
    }

    #[test]
    fn decode_rejects_garbage() {
        assert!(decode("not base64!").is_err());
        assert!(decode("aGVsbG8=").is_err());
    }
}
