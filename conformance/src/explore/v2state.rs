//! What the v2-only calls showed of a sequence ([`super::v2model`]'s
//! state, kept in the model): the jobs' limits and the samples and events
//! seen, the epoch the timestamps fit, the metrics interval, the runtimes
//! the run built.

use std::collections::{BTreeMap, BTreeSet};

use super::checks::SLACK_MS;
use super::v2call::RtYaml;

/// What the model knows of a job beyond [`super::model::Job`].
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// max_cpu and max_memory (MB), when known.
    pub limits: Option<(i32, i32)>,
    /// Metrics timestamps seen.
    pub samples: BTreeSet<i64>,
    /// Telematics events seen: timestamp and type.
    pub events: BTreeMap<i64, String>,
}

/// The v2 part of the model.
#[derive(Debug, Clone, Default)]
pub struct V2State {
    /// The Unix time (ms) of the sequence's time 0, as far as the
    /// timestamps seen tell: [lo, hi].
    pub epoch: Option<(f64, f64)>,
    /// The metrics interval (ns), once two samples in a row showed it.
    pub interval: Option<i64>,
    /// Per job UUID.
    pub jobs: BTreeMap<String, Facts>,
    /// The run's built runtimes, by name and version: their YAML.
    pub built: BTreeMap<(String, String), RtYaml>,
    /// Names built by a dry run only.
    pub dry: BTreeSet<String>,
}

impl V2State {
    /// Records the limits of a job RunJob started.
    pub fn note_run(&mut self, uuid: &str, limits: (i32, i32, i32)) {
        self.jobs.entry(uuid.to_owned()).or_default().limits = Some((limits.0, limits.1));
    }

    /// The timestamps seen of job `uuid` (telematics when `events`), in
    /// order.
    pub fn seen(&self, uuid: &str, events: bool) -> Vec<i64> {
        match self.jobs.get(uuid) {
            Some(f) if events => f.events.keys().copied().collect(),
            Some(f) => f.samples.iter().copied().collect(),
            None => vec![],
        }
    }

    /// Narrows the epoch with a timestamp `ts` (ns) of something that
    /// happened between `lo` and `hi` (ms of the sequence); false when no
    /// epoch fits every timestamp seen.
    pub fn stamp(&mut self, ts: i64, lo: f64, hi: f64) -> bool {
        let t = ts as f64 / 1e6;
        let (a, b) = (t - hi - SLACK_MS, t - lo + SLACK_MS);
        let (a, b) = match self.epoch {
            Some((x, y)) => (a.max(x), b.min(y)),
            None => (a, b),
        };
        self.epoch = Some((a, b));
        a <= b
    }

    /// The installed built versions of `name` (installed: `runtimes`).
    pub fn versions(&self, name: &str, installed: bool) -> Vec<String> {
        if !installed {
            return vec![];
        }
        let mut v: Vec<String> = self
            .built
            .keys()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect();
        v.sort_by_key(|v| version_key(v));
        v
    }
}

fn version_key(v: &str) -> Vec<u64> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}
