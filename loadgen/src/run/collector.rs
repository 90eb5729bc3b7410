//! The collector: assembles the generator threads' interval statistics
//! into the run's totals and time series, and hands every complete interval
//! on (HDR log, progress line).

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use crate::monitor::unix_ms;
use crate::progress::Snapshot;
use crate::report::{self, Percentiles, Point};
use crate::stats::{Cells, Interval, Op};

use super::config::RunConfig;

/// The collector's figures at the end of a run.
#[derive(Debug)]
pub(super) struct Totals {
    /// Every interval added up, per operation, target and stage.
    pub(super) cells: Cells,
    /// Per operation, one point per interval.
    pub(super) series: BTreeMap<Op, Vec<Point>>,
}

/// An interval some threads have not reported yet.
#[derive(Debug)]
struct Pending {
    cells: Cells,
    end: Instant,
}

/// Assembles the threads' intervals into totals and time series.
#[derive(Debug)]
pub(super) struct Collector {
    interval: Duration,
    start: Instant,
    start_ms: u64,
    targets: usize,
    stages: usize,
    pending: BTreeMap<u64, Pending>,
    reported: Vec<u64>,
    finished: Vec<bool>,
    totals: Cells,
    series: BTreeMap<Op, Vec<Point>>,
    requests_so_far: u64,
    errors_so_far: u64,
}

impl Collector {
    pub(super) fn new(
        cfg: &RunConfig,
        threads: usize,
        targets: usize,
        start: Instant,
        start_wall: SystemTime,
    ) -> Self {
        let stages = cfg.plan.stages.len();
        Self {
            interval: cfg.interval,
            start,
            start_ms: unix_ms(start_wall),
            targets,
            stages,
            pending: BTreeMap::new(),
            reported: vec![0; threads],
            finished: vec![false; threads],
            totals: Cells::new(targets, stages),
            series: BTreeMap::new(),
            requests_so_far: 0,
            errors_so_far: 0,
        }
    }

    /// Adds interval `index` of `thread`; the intervals every thread has
    /// now reported, complete.
    pub(super) fn add(
        &mut self,
        thread: usize,
        index: u64,
        end: Instant,
        cells: Cells,
        last: bool,
    ) -> Vec<Interval> {
        let (targets, stages) = (self.targets, self.stages);
        let p = self.pending.entry(index).or_insert_with(|| Pending {
            cells: Cells::new(targets, stages),
            end,
        });
        p.cells.merge(&cells);
        p.end = p.end.max(end);
        self.reported[thread] = self.reported[thread].max(index);
        if last {
            self.finished[thread] = true;
        }
        let ready = self
            .reported
            .iter()
            .zip(&self.finished)
            .filter(|(_, f)| !**f)
            .map(|(r, _)| *r)
            .min()
            .unwrap_or(u64::MAX);
        let keys: Vec<u64> = self.pending.range(..=ready).map(|(k, _)| *k).collect();
        keys.into_iter().filter_map(|k| self.flush(k)).collect()
    }

    /// Every interval still pending (the run is over).
    pub(super) fn flush_all(&mut self) -> Vec<Interval> {
        let keys: Vec<u64> = self.pending.keys().copied().collect();
        keys.into_iter().filter_map(|k| self.flush(k)).collect()
    }

    fn flush(&mut self, index: u64) -> Option<Interval> {
        let p = self.pending.remove(&index)?;
        let offset = self.interval * (index.saturating_sub(1)) as u32;
        let begin = self.start + offset;
        let length = p.end.saturating_duration_since(begin).min(self.interval);
        let t_ms = self.start_ms + offset.as_millis() as u64;
        self.totals.merge(&p.cells);
        let by_op = p.cells.by_op();
        for (op, s) in &by_op {
            if report::is_rpc(op.name()) {
                self.requests_so_far += s.count();
                self.errors_so_far += s.error_count();
            }
            let series = self.series.entry(*op).or_default();
            series.push(Point::new(t_ms, length.as_millis() as u64, s));
            if series.len() > report::MAX_POINTS {
                *series = report::compact(series);
            }
        }
        Some(Interval {
            offset,
            length,
            by_op,
        })
    }

    /// The progress line after `last`.
    pub(super) fn snapshot(&self, last: &Interval) -> Snapshot {
        let totals = self.totals.by_op();
        let secs = last.length.as_secs_f64().max(1e-3);
        let interval_requests: u64 = last
            .by_op
            .iter()
            .filter(|(op, _)| report::is_rpc(op.name()))
            .map(|(_, s)| s.count())
            .sum();
        Snapshot {
            elapsed: last.offset + last.length,
            requests: self.requests_so_far,
            errors: self.errors_so_far,
            rate: interval_requests as f64 / secs,
            ops: totals
                .iter()
                .filter(|(_, s)| s.ok > 0)
                .map(|(op, s)| {
                    (
                        op.name(),
                        Percentiles::of_micros(&s.latency),
                        last.by_op
                            .get(op)
                            .and_then(|l| l.stream.as_ref())
                            .map(|st| st.bytes as f64 / secs),
                    )
                })
                .collect(),
        }
    }
    /// The figures of the whole run.
    pub(super) fn into_totals(self) -> Totals {
        Totals {
            cells: self.totals,
            series: self.series,
        }
    }
}
