//! A node's monitoring state: its seed, its cumulative counters and the
//! number of GetSystemStatus samples taken.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use super::figures::{Counters, Inputs, RunningJob, Sample, generate};
use super::host::host_facts;
use super::num::mix;

/// The node's monitoring: its seed, its counters and the GetSystemStatus count.
#[derive(Debug)]
pub struct Monitor {
    seed: Option<u64>,
    node_seed: u64,
    calls: AtomicU64,
    counters: Mutex<Counters>,
}

impl Monitor {
    /// A monitor with reproducible figures for `Some(seed)`, varying ones for `None`.
    pub fn new(seed: Option<u64>) -> Self {
        Self {
            seed,
            node_seed: seed.unwrap_or_else(rand::random),
            calls: AtomicU64::new(0),
            counters: Mutex::new(Counters::default()),
        }
    }

    /// The index of the next GetSystemStatus sample (0, 1, 2, ...).
    pub fn next_call(&self) -> u64 {
        self.calls.fetch_add(1, Ordering::Relaxed)
    }

    /// The inputs of sample `index` for these running jobs at this time.
    pub fn inputs(
        &self,
        index: u64,
        now: i64,
        elapsed: Duration,
        cores: u32,
        node_id: &str,
        running: Vec<RunningJob>,
    ) -> Inputs {
        let sample_seed = match self.seed {
            Some(seed) => mix(seed, index.wrapping_add(0x5EED)),
            None => rand::random(),
        };
        let started = now - i64::try_from(elapsed.as_secs()).unwrap_or(0);
        Inputs {
            node_seed: self.node_seed,
            sample_seed,
            now,
            started,
            elapsed,
            cores,
            node_id: node_id.to_owned(),
            running,
        }
    }

    /// Computes the sample for `inputs` with the real host facts, advancing the counters.
    pub fn compute(&self, inputs: &Inputs) -> Sample {
        generate(inputs, host_facts(), &mut self.counters.lock())
    }
}
