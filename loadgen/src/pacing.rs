//! Pacing: when each worker may start its next action.
//!
//! Under a rate (open model) every action has an **intended start time**,
//! fixed by the plan alone: the `m`-th action of a stage starts when the
//! stage's cumulative rate reaches `m` (a ramp integrates linearly). Latency is
//! measured from that time, so a stalled server cannot slow the generator down
//! and hide its own stall (coordinated omission): a request sent late because
//! every worker was busy counts the wait. Under a concurrency (closed model) a
//! worker just starts when it is among the active ones. A worker wakes on
//! the timer tick (1 ms) just before its slot rather than just after it, so
//! the timer's resolution never shows up as latency.
//!
//! A distributed run splits the load over *lanes*: every thread of every
//! worker process is one lane (`lane = worker_index × threads + thread`).
//! Lane `l` of `L` takes the global slots `m ≡ l (mod L)` (its rate is `1/L`
//! of the stage's, phase-shifted so the lanes interleave), and global worker
//! `g = local × L + l` is active while `g < concurrency(t)`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::plan::{Load, Stage};

/// This lane among all lanes of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lane {
    /// Index, `0..count`.
    pub index: u32,
    /// Lanes in all (threads × worker processes).
    pub count: u32,
}

impl Lane {
    /// The only lane of a single-threaded, single-process run.
    #[cfg(test)]
    pub const SOLE: Lane = Lane { index: 0, count: 1 };
}

/// A stage placed on the run's timeline.
#[derive(Debug, Clone)]
struct Window {
    start: Duration,
    end: Option<Duration>,
    open: bool,
    from: f64,
    to: f64,
    ramp: f64,
}

impl Window {
    /// Seconds into the stage at which the cumulative count of starts
    /// reaches `m` (`None`: never, in this stage).
    fn slot_offset(&self, m: f64) -> Option<f64> {
        let (from, to, ramp) = (self.from, self.to, self.ramp);
        let in_ramp = (from + to) / 2.0 * ramp;
        if ramp > 0.0 && m < in_ramp {
            // N(τ) = from·τ + a·τ² with a = (to - from) / (2·ramp).
            let a = (to - from) / (2.0 * ramp);
            let tau = if a.abs() < 1e-12 {
                m / from
            } else {
                let disc = from * from + 4.0 * a * m;
                if disc < 0.0 {
                    return None;
                }
                (-from + disc.sqrt()) / (2.0 * a)
            };
            return (tau.is_finite() && tau >= 0.0).then_some(tau.min(ramp));
        }
        if to <= 0.0 {
            return None;
        }
        Some(ramp.max(0.0) + (m - in_ramp.max(0.0)) / to)
    }

    /// The concurrency `tau` seconds into the stage.
    fn level_at(&self, tau: f64) -> f64 {
        if self.ramp > 0.0 && tau < self.ramp {
            self.from + (self.to - self.from) * tau / self.ramp
        } else {
            self.to
        }
    }

    /// Seconds into the stage at which the concurrency first reaches `need`
    /// (`None`: not in this stage).
    fn reaches(&self, need: f64) -> Option<f64> {
        if self.to < need {
            return None;
        }
        if self.ramp > 0.0 && self.to > self.from && need > self.from {
            return Some(self.ramp * (need - self.from) / (self.to - self.from));
        }
        Some(0.0)
    }
}

/// What a worker does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Start an action in stage `stage`; under a rate, at `intended`
    /// (latency counts from then, even if the worker is late).
    Go {
        /// The intended start (open model); `None` in a closed stage.
        intended: Option<Instant>,
        /// Index of the stage.
        stage: usize,
    },
    /// Not active now: ask again at this time.
    Wait(Instant),
    /// The plan is over.
    Done,
}

#[derive(Debug)]
struct Cursor {
    stage: usize,
    /// Slots of the current open stage taken by this lane.
    taken: u64,
}

/// The pacing of one lane: shared by the workers of one thread.
#[derive(Debug)]
pub(crate) struct Pacer {
    start: Instant,
    windows: Vec<Window>,
    lane: Lane,
    cursor: Mutex<Cursor>,
}

/// Far enough in the future to mean "until the stop signal".
const FAR: Duration = Duration::from_secs(3600);

impl Pacer {
    /// The pacing of `stages` from `start`, for `lane`.
    pub fn new(stages: &[Stage], start: Instant, lane: Lane) -> Self {
        let mut windows = Vec::new();
        let mut at = Duration::ZERO;
        let mut previous: Option<&Stage> = None;
        for s in stages {
            let end = s.duration.map(|d| at + d);
            let from = match previous {
                Some(p) if !s.ramp.is_zero() => p.load.level(),
                _ if !s.ramp.is_zero() => 0.0,
                _ => s.load.level(),
            };
            windows.push(Window {
                start: at,
                end,
                open: matches!(s.load, Load::Rate(_)),
                from,
                to: s.load.level(),
                ramp: s.ramp.as_secs_f64(),
            });
            previous = Some(s);
            at = end.unwrap_or(at);
        }
        Self {
            start,
            windows,
            lane,
            cursor: Mutex::new(Cursor { stage: 0, taken: 0 }),
        }
    }

    /// The decision for local worker `worker` at `now`.
    pub fn next(&self, worker: u32, now: Instant) -> Next {
        let mut cursor = self
            .cursor
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let lanes = u64::from(self.lane.count.max(1));
        let elapsed = now.saturating_duration_since(self.start);
        loop {
            let stage = cursor.stage;
            let Some(w) = self.windows.get(stage) else {
                return Next::Done;
            };
            if w.open {
                let m = cursor.taken * lanes + u64::from(self.lane.index);
                let fits = |tau: f64| {
                    let at = w.start + Duration::from_secs_f64(tau);
                    w.end.is_none_or(|end| at < end).then_some(at)
                };
                match w.slot_offset(m as f64).and_then(fits) {
                    Some(at) => {
                        cursor.taken += 1;
                        return Next::Go {
                            intended: Some(self.start + at),
                            stage,
                        };
                    }
                    None if w.end.is_none() => {
                        // A rate of 0 with no end: nothing more to do here.
                        return Next::Wait(now + FAR);
                    }
                    None => {
                        cursor.stage += 1;
                        cursor.taken = 0;
                        continue;
                    }
                }
            }
            // Closed stage: driven by the clock.
            if w.end.is_some_and(|end| elapsed >= end) {
                cursor.stage += 1;
                cursor.taken = 0;
                continue;
            }
            if elapsed < w.start {
                return Next::Wait(self.start + w.start);
            }
            let g = u64::from(worker) * lanes + u64::from(self.lane.index);
            let need = g as f64 + 1.0;
            let tau = (elapsed - w.start).as_secs_f64();
            if w.level_at(tau) + 1e-9 >= need {
                return Next::Go {
                    intended: None,
                    stage,
                };
            }
            let wake = match w.reaches(need) {
                Some(t) if t > tau => self.start + w.start + Duration::from_secs_f64(t),
                _ => w.end.map(|e| self.start + e).unwrap_or(now + FAR),
            };
            return Next::Wait(wake.max(now + Duration::from_millis(1)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(load: Load, secs: u64, ramp: u64) -> Stage {
        Stage {
            name: "s".into(),
            load,
            duration: Some(Duration::from_secs(secs)),
            ramp: Duration::from_secs(ramp),
        }
    }

    /// Every intended start of an open plan, in seconds from the start.
    fn slots(stages: &[Stage], lane: Lane) -> Vec<f64> {
        let t0 = Instant::now();
        let p = Pacer::new(stages, t0, lane);
        let mut out = Vec::new();
        loop {
            match p.next(0, t0) {
                Next::Go {
                    intended: Some(at), ..
                } => out.push((at - t0).as_secs_f64()),
                Next::Done => return out,
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn a_constant_rate_spaces_starts_evenly() {
        let s = slots(&[stage(Load::Rate(10.0), 2, 0)], Lane::SOLE);
        assert_eq!(s.len(), 20);
        for (i, t) in s.iter().enumerate() {
            assert!((t - i as f64 / 10.0).abs() < 1e-9, "slot {i} at {t}");
        }
    }

    #[test]
    fn lanes_split_the_slots_and_interleave() {
        let plan = [stage(Load::Rate(100.0), 1, 0)];
        let all = slots(&plan, Lane::SOLE);
        let mut merged: Vec<f64> = (0..3)
            .flat_map(|i| slots(&plan, Lane { index: i, count: 3 }))
            .collect();
        merged.sort_by(f64::total_cmp);
        assert_eq!(merged.len(), all.len());
        for (a, b) in merged.iter().zip(&all) {
            assert!((a - b).abs() < 1e-9);
        }
    }

    #[test]
    fn a_ramp_integrates_the_rate() {
        // 0 -> 100/s over 10 s then 100/s for 10 s: 500 + 1000 starts.
        let s = slots(&[stage(Load::Rate(100.0), 20, 10)], Lane::SOLE);
        assert_eq!(s.len(), 1500);
        assert!(s.windows(2).all(|w| w[0] <= w[1]), "monotonic");
        // Halfway through the ramp (5 s) the count is 100/2·5·(5/10) = 125.
        let by_5s = s.iter().filter(|t| **t < 5.0).count();
        assert!((124..=126).contains(&by_5s), "{by_5s}");
        // Ramp down: 100 -> 0 over 10 s is 500 starts.
        let down = slots(
            &[
                stage(Load::Rate(100.0), 1, 0),
                stage(Load::Rate(0.0), 10, 10),
            ],
            Lane::SOLE,
        );
        assert!((599..=601).contains(&down.len()), "{}", down.len());
    }

    #[test]
    fn stages_follow_each_other() {
        let s = slots(
            &[stage(Load::Rate(2.0), 1, 0), stage(Load::Rate(4.0), 1, 0)],
            Lane::SOLE,
        );
        assert_eq!(s, [0.0, 0.5, 1.0, 1.25, 1.5, 1.75]);
    }

    #[test]
    fn closed_stages_gate_workers_by_concurrency() {
        let t0 = Instant::now();
        let at = |s: f64| t0 + Duration::from_secs_f64(s);
        let p = Pacer::new(
            &[
                stage(Load::Concurrency(2), 10, 0),
                stage(Load::Concurrency(6), 10, 4),
            ],
            t0,
            Lane::SOLE,
        );
        assert!(matches!(
            p.next(1, at(1.0)),
            Next::Go {
                intended: None,
                stage: 0
            }
        ));
        // Worker 2 waits for the next stage's ramp to reach 3 in flight:
        // 2 + 4·τ/4 = 3 at τ = 1 s, i.e. 11 s into the run.
        match p.next(2, at(1.0)) {
            Next::Wait(w) => assert!((w - t0).as_secs_f64() - 10.0 < 1e-6),
            other => panic!("{other:?}"),
        }
        match p.next(2, at(10.5)) {
            Next::Wait(w) => assert!(((w - t0).as_secs_f64() - 11.0).abs() < 1e-6),
            other => panic!("{other:?}"),
        }
        assert!(matches!(p.next(2, at(11.0)), Next::Go { stage: 1, .. }));
        assert!(matches!(p.next(5, at(14.0)), Next::Go { stage: 1, .. }));
        assert!(matches!(p.next(6, at(15.0)), Next::Wait(_)));
        assert_eq!(p.next(0, at(20.0)), Next::Done);
    }

    #[test]
    fn closed_lanes_split_the_concurrency() {
        let t0 = Instant::now();
        let plan = [stage(Load::Concurrency(5), 1, 0)];
        let active = |lane: u32| {
            let p = Pacer::new(
                &plan,
                t0,
                Lane {
                    index: lane,
                    count: 2,
                },
            );
            (0..10)
                .filter(|w| matches!(p.next(*w, t0), Next::Go { .. }))
                .count()
        };
        assert_eq!((active(0), active(1)), (3, 2));
    }

    #[test]
    fn an_open_ended_stage_never_runs_out() {
        let t0 = Instant::now();
        let p = Pacer::new(
            &[Stage {
                name: "s".into(),
                load: Load::Rate(1000.0),
                duration: None,
                ramp: Duration::ZERO,
            }],
            t0,
            Lane::SOLE,
        );
        for _ in 0..10_000 {
            assert!(matches!(p.next(0, t0), Next::Go { .. }));
        }
    }
}
