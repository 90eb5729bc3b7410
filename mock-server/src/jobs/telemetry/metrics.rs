//! StreamJobMetrics and GetJobMetrics (JOB-METRICS-1..3).
//!
//! A job's samples are computed, not stored: sample `k` is taken at
//! `k × interval` after the job started running (`--metrics-interval`, 5 s by
//! default) while the time is within its run, its end included, and its
//! figures are [`job_figures`] of the job and `k`. Sample 0 is at the start,
//! so every job that ran has one. Its history is the last [`MAX_SAMPLES`]
//! samples taken. A live stream waits on the session clock for each next
//! sample (no timer exists for a job nobody follows); once the job has ended
//! every sample of its run is known, so the stream sends what is left and
//! ends at once, well within the 500 ms drain JOB-METRICS-2 allows.

use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use joblet_testkit::pb::union as pb;

use super::target::{Range, Target, end_of_stream, find, find_followed, limit};
use crate::behaviour::{Mutant, Quirk};
use crate::error::Result;
use crate::job_telemetry::{Progress, Watch};
use crate::monitoring::{JobLoad, job_figures};
use crate::session::Shared;

/// Most samples a job's history holds: the last ones (a day's worth at the
/// default 5 s interval).
pub const MAX_SAMPLES: u64 = 17_280;

const NS_PER_MS: i64 = 1_000_000;

/// What a job's samples are computed from, once it has run.
#[derive(Debug, Clone)]
struct Sampler {
    job_uuid: String,
    load: JobLoad,
    interval: Duration,
    interval_ns: i64,
    /// When it started running, Unix ns: sample 0.
    ran_ns: i64,
    /// JOB-METRICS-1 mutant: memory_limit is left at 0.
    no_memory_limit: bool,
}

impl Sampler {
    /// The sampler of `target`, which started running as `progress` says
    /// (`None` while it has not).
    fn new(shared: &Shared, target: &Target, progress: &Progress) -> Option<Self> {
        let ran_ms = progress.ran_ms?;
        let spec = &target.spec;
        // Scenario figures (none when --exec runs the command for real).
        let resources = if shared.config.exec {
            None
        } else {
            shared.sim().resources(&spec.command, &spec.args)
        };
        let gpu_memory_mb = u32::try_from(spec.gpu_memory_mb)
            .ok()
            .filter(|&mb| mb > 0)
            .unwrap_or(shared.config.gpu_memory_mb);
        let interval = shared.config.metrics_interval;
        Some(Self {
            job_uuid: target.id.clone(),
            load: JobLoad {
                seed: target.seed,
                max_cpu: spec.max_cpu,
                max_memory_mb: spec.max_memory,
                networked: spec.network != "none",
                gpus: progress.gpus,
                gpu_memory_mb,
                resources,
            },
            interval,
            interval_ns: i64::try_from(interval.as_nanos())
                .unwrap_or(i64::MAX)
                .max(1),
            ran_ns: ran_ms.saturating_mul(NS_PER_MS),
            no_memory_limit: shared.mutant(Mutant::MetricsNoMemoryLimit),
        })
    }

    /// When sample `k` is taken, Unix ns.
    fn timestamp(&self, k: u64) -> i64 {
        let offset = i64::try_from(k).unwrap_or(i64::MAX);
        self.ran_ns
            .saturating_add(offset.saturating_mul(self.interval_ns))
    }

    /// The indices of the samples held: those taken by `now_ms` (or by the
    /// job's end), the last [`MAX_SAMPLES`] of them.
    fn held(&self, progress: &Progress, now_ms: i64) -> std::ops::Range<u64> {
        let until = progress
            .ended_ms
            .unwrap_or(now_ms)
            .saturating_mul(NS_PER_MS);
        if until < self.ran_ns {
            return 0..0;
        }
        let last = ((until - self.ran_ns) / self.interval_ns) as u64;
        last.saturating_sub(MAX_SAMPLES - 1)..last + 1
    }

    /// The indices of `held` whose timestamps are in `range`.
    fn within(&self, held: std::ops::Range<u64>, range: Range) -> std::ops::Range<u64> {
        let index_at = |ns: i64, round_up: bool| -> u64 {
            if ns <= self.ran_ns {
                return 0;
            }
            let offset = (ns - self.ran_ns) as u128;
            let step = self.interval_ns as u128;
            let k = if round_up {
                offset.div_ceil(step)
            } else {
                offset / step
            };
            u64::try_from(k).unwrap_or(u64::MAX)
        };
        let first = index_at(range.start, true).max(held.start);
        let last = if range.end < self.ran_ns {
            return 0..0;
        } else {
            index_at(range.end, false).saturating_add(1).min(held.end)
        };
        first..last.max(first)
    }

    /// Sample `k` (JOB-METRICS-1: every field set), or as history of a v5.6
    /// node sends it when `sparse` (QUIRK-18: memory_limit and
    /// gpu_memory_bytes left at 0).
    fn sample(&self, k: u64, sparse: bool) -> pb::JobMetricsEvent {
        let mut f = job_figures(&self.load, k, self.interval);
        if sparse || self.no_memory_limit {
            f.memory_limit = 0;
        }
        if sparse {
            f.gpu_memory_bytes = 0;
        }
        pb::JobMetricsEvent {
            timestamp: self.timestamp(k),
            job_uuid: self.job_uuid.clone(),
            cpu_percent: f.cpu_percent,
            memory_bytes: f.memory_bytes,
            memory_limit: f.memory_limit,
            disk_read_bytes: f.disk_read_bytes,
            disk_write_bytes: f.disk_write_bytes,
            net_recv_bytes: f.net_recv_bytes,
            net_sent_bytes: f.net_sent_bytes,
            gpu_percent: f.gpu_percent,
            gpu_memory_bytes: f.gpu_memory_bytes,
        }
    }
}

/// The samples of `target` held now, in `range`, at most `max`, oldest first.
fn history(
    shared: &Shared,
    target: &Target,
    range: Range,
    max: usize,
) -> impl Stream<Item = pb::JobMetricsEvent> + Send + 'static + use<> {
    let now_ms = shared.clock.now_ms();
    let progress = target.telemetry.progress();
    let (sampler, indices) = match Sampler::new(shared, target, &progress) {
        Some(s) => {
            let held = s.held(&progress, now_ms);
            let indices = s.within(held, range);
            (Some(s), indices)
        }
        None => (None, 0..0),
    };
    let sparse = shared.quirk(Quirk::SparseHistory);
    let samples = indices
        .take(max)
        .filter_map(move |k| sampler.as_ref().map(|s| s.sample(k, sparse)));
    futures::stream::iter(samples)
}

/// GetJobMetrics (JOB-METRICS-3): the history only, in the time range, the
/// first `limit`; an unknown job has none.
pub fn get_metrics(
    shared: &Shared,
    req: &pb::GetJobMetricsRequest,
) -> Result<impl Stream<Item = pb::JobMetricsEvent> + Send + 'static + use<>> {
    let max = limit(req.limit)?;
    // JOB-METRICS-3 mutant: the limit is ignored.
    let max = if shared.mutant(Mutant::MetricsLimitIgnored) {
        usize::MAX
    } else {
        max
    };
    let range = Range::new(req.start_time, req.end_time);
    Ok(match find(shared, &req.job_uuid)? {
        Some(target) => futures::future::Either::Left(history(shared, &target, range, max)),
        None => futures::future::Either::Right(futures::stream::empty()),
    })
}

/// StreamJobMetrics (JOB-METRICS-2): the history, then each sample as it is
/// taken until the job ends; only the history for a job that had ended.
pub fn stream_metrics(
    shared: &Arc<Shared>,
    job_uuid: &str,
) -> Result<impl Stream<Item = pb::JobMetricsEvent> + Send + 'static + use<>> {
    use futures::future::Either;
    let Some(target) = find_followed(shared, job_uuid, Mutant::MetricsUnknownEmpty)? else {
        return Ok(Either::Left(Either::Left(futures::stream::empty())));
    };
    if target.ended {
        let all = history(shared, &target, Range::ALL, usize::MAX);
        // QUIRK-16: a CANCELED job's stream does not end.
        let shared = Arc::clone(shared);
        let id = target.id.clone();
        let hang = futures::stream::once(async move { end_of_stream(&shared, &id).await })
            .filter_map(|()| std::future::ready(None));
        return Ok(Either::Left(Either::Right(all.chain(hang))));
    }
    let live = Live {
        watch: target.telemetry.watch(),
        shared: Arc::clone(shared),
        target,
        sampler: None,
        next: 0,
        history_end: None,
    };
    Ok(Either::Right(futures::stream::unfold(
        live,
        |mut live| async move {
            let sample = live.next().await?;
            Some((sample, live))
        },
    )))
}

/// A follower of a job's samples.
struct Live {
    shared: Arc<Shared>,
    target: Target,
    watch: Watch,
    sampler: Option<Sampler>,
    /// The next sample to send.
    next: u64,
    /// The samples before this one were history when the stream began
    /// (QUIRK-18 sends them sparse).
    history_end: Option<u64>,
}

impl Live {
    /// The next sample, waiting for it on the session clock; `None` once the
    /// job has ended and every sample of its run was sent.
    async fn next(&mut self) -> Option<pb::JobMetricsEvent> {
        loop {
            // Now first: a sample due by then is within the run unless the
            // progress read after it says the run ended.
            let now_ms = self.shared.clock.now_ms();
            let progress = self.watch.telemetry().progress();
            if self.sampler.is_none() {
                self.sampler = Sampler::new(&self.shared, &self.target, &progress);
            }
            let Some(sampler) = &self.sampler else {
                // Not running yet (SCHEDULED, INITIALIZING), or never will.
                if progress.ended() {
                    end_of_stream(&self.shared, &self.target.id).await;
                    return None;
                }
                self.watch.changed(progress.version).await;
                continue;
            };
            let held = sampler.held(&progress, now_ms);
            let history_end = *self.history_end.get_or_insert(held.end);
            self.next = self.next.max(held.start);
            if self.next < held.end {
                let k = self.next;
                self.next += 1;
                let sparse = k < history_end && self.shared.quirk(Quirk::SparseHistory);
                return Some(sampler.sample(k, sparse));
            }
            if progress.ended() {
                end_of_stream(&self.shared, &self.target.id).await;
                return None;
            }
            // Until the next sample is due, or the job ends.
            let due = sampler.timestamp(self.next);
            let wait_ns = due.saturating_sub(now_ms.saturating_mul(NS_PER_MS)).max(1);
            let wait = Duration::from_millis((wait_ns as u64).div_ceil(NS_PER_MS as u64));
            tokio::select! {
                () = self.shared.clock.sleep(wait) => {}
                () = self.watch.changed(progress.version) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sampler(interval_ms: i64) -> Sampler {
        Sampler {
            job_uuid: "j".into(),
            load: JobLoad {
                seed: 1,
                max_cpu: 0,
                max_memory_mb: 0,
                networked: true,
                gpus: 0,
                gpu_memory_mb: 0,
                resources: None,
            },
            interval: Duration::from_millis(interval_ms as u64),
            interval_ns: interval_ms * NS_PER_MS,
            ran_ns: 1_000 * NS_PER_MS,
            no_memory_limit: false,
        }
    }

    fn progress(ended_ms: Option<i64>) -> Progress {
        Progress {
            ran_ms: Some(1_000),
            ended_ms,
            ..Progress::default()
        }
    }

    #[test]
    fn samples_are_taken_at_the_start_then_each_interval_until_the_end() {
        let s = sampler(5_000);
        assert_eq!(s.held(&progress(None), 999), 0..0);
        assert_eq!(s.held(&progress(None), 1_000), 0..1);
        assert_eq!(s.held(&progress(None), 5_999), 0..1);
        assert_eq!(s.held(&progress(None), 6_000), 0..2);
        // An ended job: its run, its end included.
        assert_eq!(s.held(&progress(Some(1_000)), 99_000), 0..1);
        assert_eq!(s.held(&progress(Some(11_000)), 99_000), 0..3);
        assert_eq!(s.held(&progress(Some(10_999)), 99_000), 0..2);
        assert_eq!(s.timestamp(2), 11_000 * NS_PER_MS);
        // The history keeps the last MAX_SAMPLES.
        let long = 1_000 + 5_000 * (MAX_SAMPLES as i64 + 9);
        assert_eq!(s.held(&progress(Some(long)), long), 10..MAX_SAMPLES + 10);
    }

    #[test]
    fn time_ranges_select_samples_inclusively() {
        let s = sampler(5_000);
        let held = 0..5; // at 1 s, 6 s, 11 s, 16 s, 21 s
        let ns = |ms: i64| ms * NS_PER_MS;
        assert_eq!(s.within(held.clone(), Range::ALL), 0..5);
        assert_eq!(
            s.within(held.clone(), Range::new(ns(6_000), ns(16_000))),
            1..4
        );
        assert_eq!(
            s.within(held.clone(), Range::new(ns(6_001), ns(15_999))),
            2..3
        );
        assert_eq!(s.within(held.clone(), Range::new(ns(22_000), 0)), 5..5);
        assert_eq!(s.within(held.clone(), Range::new(0, ns(999))), 0..0);
        assert_eq!(
            s.within(held.clone(), Range::new(ns(16_000), ns(6_000))),
            3..3
        );
        assert_eq!(s.within(held, Range::new(i64::MIN + 1, i64::MAX)), 0..5);
    }
}
