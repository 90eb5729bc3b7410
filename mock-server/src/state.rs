//! The mock's one in-memory state: jobs, networks, volumes, runtimes, GPUs
//! and workflows.
//!
//! All of it sits behind one mutex in each session
//! ([`Shared`](crate::session::Shared)); critical sections are short and never
//! await. Logs live outside the lock (each job's
//! [`LogBuffer`](crate::logs::LogBuffer) has its own), so streaming output
//! never contends with job submission.

use std::collections::HashMap;
use std::sync::Arc;

use crate::behaviour::Mutant;
use crate::budget::Account;
use crate::catalogue::RuntimeRecord;
use crate::config::MockConfig;
pub use crate::job_table::{Charge, Job, JobSpec, JobStatus, JobTable};
pub(crate) use crate::job_table::{prefix_range, shown};

/// A network known to the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRecord {
    pub name: String,
    pub cidr: String,
    pub bridge: String,
    /// Built in (`bridge`, `isolated`, `none`): cannot be removed.
    pub builtin: bool,
    /// Reported by ListNetworks (`isolated` and `none` are not).
    pub listed: bool,
}

/// A volume known to the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeRecord {
    pub name: String,
    /// Size exactly as sent.
    pub size: String,
    /// `filesystem` or `memory`.
    pub kind: String,
    pub path: String,
    /// Creation time, Unix seconds.
    pub created: i64,
}

/// The whole mutable state.
#[derive(Debug, Default)]
pub struct State {
    pub jobs: JobTable,
    /// Networks in creation order (built-ins first).
    pub networks: Vec<NetworkRecord>,
    /// Volumes in creation order.
    pub volumes: Vec<VolumeRecord>,
    /// Installed runtimes in install order.
    pub runtimes: Vec<RuntimeRecord>,
    /// For each simulated GPU, the sequence number of the job holding it.
    pub gpus: Vec<Option<u64>>,
    /// Running jobs per network name (NET-LIST-1 jobCount).
    pub running_on_network: HashMap<String, u32>,
    /// Running jobs per volume name (VOL-LIST-1 jobCount).
    pub running_with_volume: HashMap<String, u32>,
    /// Jobs currently running.
    pub running_jobs: u32,
    /// Workflows in creation order (WF-*).
    pub workflows: crate::workflow::table::Workflows,
}

impl State {
    /// The state of a fresh node, its records counted in `account`.
    pub fn new(config: &MockConfig, account: Option<Arc<Account>>) -> Self {
        let builtin = |name: &str, cidr: &str, bridge: &str, listed: bool| NetworkRecord {
            name: name.into(),
            cidr: cidr.into(),
            bridge: bridge.into(),
            builtin: true,
            listed,
        };
        Self {
            jobs: {
                let mut jobs = JobTable::new(account, config.max_jobs);
                jobs.prefixes_off = config.mutant == Some(Mutant::PrefixLookupOff);
                jobs
            },
            networks: vec![
                builtin("bridge", "172.20.0.0/16", "joblet0", true),
                builtin("isolated", "", "", false),
                builtin("none", "", "", false),
            ],
            runtimes: config.runtimes.clone(),
            gpus: vec![None; config.gpus as usize],
            ..Self::default()
        }
    }

    /// The network with this name.
    pub fn network(&self, name: &str) -> Option<&NetworkRecord> {
        self.networks.iter().find(|n| n.name == name)
    }

    /// The volume with this name.
    pub fn volume(&self, name: &str) -> Option<&VolumeRecord> {
        self.volumes.iter().find(|v| v.name == name)
    }

    /// Counts a job as running (network, volumes). A volume named twice by one
    /// job counts once (jobCount is a number of jobs).
    pub fn mark_running(&mut self, spec: &JobSpec) {
        self.running_jobs += 1;
        // No key is cloned once a name is known (this runs for every job).
        bump(&mut self.running_on_network, &spec.network);
        for v in distinct(&spec.volumes) {
            bump(&mut self.running_with_volume, v);
        }
    }

    /// Reverses [`mark_running`](Self::mark_running).
    pub fn mark_not_running(&mut self, spec: &JobSpec) {
        self.running_jobs = self.running_jobs.saturating_sub(1);
        if let Some(n) = self.running_on_network.get_mut(&spec.network) {
            *n = n.saturating_sub(1);
        }
        for v in distinct(&spec.volumes) {
            if let Some(n) = self.running_with_volume.get_mut(v) {
                *n = n.saturating_sub(1);
            }
        }
    }

    /// Frees the GPUs held by job `seq`.
    pub fn release_gpus(&mut self, seq: u64) {
        for slot in &mut self.gpus {
            if *slot == Some(seq) {
                *slot = None;
            }
        }
    }
}

/// Adds one to `name`'s count.
fn bump(counts: &mut HashMap<String, u32>, name: &str) {
    match counts.get_mut(name) {
        Some(n) => *n += 1,
        None => {
            counts.insert(name.to_owned(), 1);
        }
    }
}

/// Each name once, in first-seen order.
fn distinct(names: &[String]) -> impl Iterator<Item = &String> {
    names
        .iter()
        .enumerate()
        .filter(move |(i, n)| !names[..*i].contains(n))
        .map(|(_, n)| n)
}
