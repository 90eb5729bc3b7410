//! Sessions: independent simulated nodes behind one port.
//!
//! A client may send the metadata `x-joblet-mock-session: <name>`; each name
//! gets its own [`Shared`] (jobs, workflows, networks, volumes, runtimes, clock,
//! faults and journal), created on first use, so parallel tests against one
//! mock process do not see each other. Without the header a call uses the
//! default session (named `""`, shown as `default`).

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use rand::{Rng, SeedableRng, rngs::StdRng};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::behaviour::{Behaviour, Mutant, Quirk};
use crate::budget::{Account, Budget, Evict, Phase};
use crate::clock::Clock;
use crate::config::MockConfig;
use crate::error::{Error, Result};
use crate::faults::Faults;
use crate::journal::Journal;
use crate::monitoring::{Monitor, RunningJob, Sample};
use crate::sim::Simulator;
use crate::state::JobStatus;
use crate::state::State;

/// One session of the mock: its configuration, state, simulator, clock and
/// journal. Sessions are independent nodes that happen to share a port
/// ([`crate::session::Node`]); a request without the session header uses the
/// default one.
#[derive(Debug)]
pub struct Shared {
    pub config: MockConfig,
    /// The quirks and mutant the handlers consult.
    pub behaviour: Behaviour,
    /// The session's name ("" for the default session).
    pub session: String,
    pub state: Mutex<State>,
    sim: RwLock<Simulator>,
    /// When the mock started (for uptime).
    pub started: std::time::Instant,
    /// When the session started, on its clock (Unix ms).
    pub started_ms: i64,
    /// Cancelled when the server starts shutting down: endless server streams
    /// (a log that is still being written, a scheduled job's log) end then, so a
    /// graceful shutdown does not wait for them forever.
    pub closing: CancellationToken,
    /// The session's clock (real, or virtual with `--clock virtual`).
    pub clock: Clock,
    /// Synthetic monitoring figures.
    pub monitor: Arc<Monitor>,
    /// Calls received by this session (`--journal-size`).
    pub journal: Journal,
    /// Fault rules of this session (`--fault`, control API).
    pub faults: Faults,
    /// The session's account on the process's memory budget.
    pub account: Arc<Account>,
    /// Seeded UUID generator (`--seed`); `None` draws random v4 UUIDs.
    ids: Mutex<Option<StdRng>>,
    /// Scenario dice (`fail: { probability }`): seeded with `--seed`, else from entropy.
    rng: Mutex<StdRng>,
}

impl Shared {
    /// Fresh state for `config`, as the default session of its own (with a
    /// memory budget of its own).
    pub fn new(config: MockConfig) -> Arc<Self> {
        let budget = Budget::new(config.memory_budget);
        Self::session(config, "", CancellationToken::new(), &budget)
    }

    /// Fresh state for session `name`, ending its streams when `closing`
    /// fires, counting its memory in `budget`.
    pub fn session(
        config: MockConfig,
        name: &str,
        closing: CancellationToken,
        budget: &Arc<Budget>,
    ) -> Arc<Self> {
        let sim = Simulator::new(config.scenarios.clone(), config.unknown_command);
        // Each session gets its own reproducible sequence.
        let salt = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let ids = config.seed.map(|seed| StdRng::seed_from_u64(seed ^ salt));
        let rng = match config.seed {
            Some(seed) => {
                StdRng::seed_from_u64((seed ^ salt).rotate_left(29) ^ 0x9e37_79b9_7f4a_7c15)
            }
            None => StdRng::from_os_rng(),
        };
        let monitor_seed = config.seed.map(|seed| seed ^ salt.rotate_left(17));
        let clock = Clock::new(config.clock);
        let journal_size = config.journal_size;
        let faults = Faults::new(config.seed.map(|seed| seed ^ salt.rotate_left(29)));
        if let Err(e) = faults.set(config.faults.clone()) {
            tracing::warn!("fault rules ignored: {e}");
        }
        let started_ms = clock.now_ms();
        let account = Account::new(budget);
        let shared = Arc::new(Self {
            state: Mutex::new(State::new(&config, Some(Arc::clone(&account)))),
            account,
            behaviour: config.behaviour(),
            session: name.to_string(),
            sim: RwLock::new(sim),
            clock,
            started_ms,
            monitor: Arc::new(Monitor::new(if name.is_empty() {
                config.seed
            } else {
                monitor_seed
            })),
            config,
            started: std::time::Instant::now(),
            closing,
            ids: Mutex::new(ids),
            rng: Mutex::new(rng),
            journal: Journal::new(journal_size),
            faults,
        });
        budget.register(Arc::downgrade(&shared) as std::sync::Weak<dyn Evict>);
        shared
    }

    /// A fresh, empty state for this session (counted in its account).
    pub fn fresh_state(&self) -> State {
        State::new(&self.config, Some(Arc::clone(&self.account)))
    }

    /// Ends every open server stream (they answer UNAVAILABLE); call when the
    /// server begins its graceful shutdown.
    pub fn begin_shutdown(&self) {
        self.closing.cancel();
    }

    /// The simulator (scenarios and unknown-command policy) as it is now.
    pub fn sim(&self) -> Simulator {
        self.sim.read().clone()
    }

    /// Replaces the simulator (LoadScenario).
    pub fn set_sim(&self, sim: Simulator) {
        *self.sim.write() = sim;
    }

    /// A uniform number in `[0, 1)` from the session's generator (reproducible
    /// with `--seed`): the dice of scenario failures.
    pub fn random_f64(&self) -> f64 {
        self.rng.lock().random()
    }

    /// A new job or workflow ID: random, or from the seeded sequence.
    pub fn new_id(&self) -> Uuid {
        if self.config.seed.is_none() {
            return Uuid::new_v4();
        }
        match self.ids.lock().as_mut() {
            Some(rng) => uuid::Builder::from_random_bytes(rng.random()).into_uuid(),
            None => Uuid::new_v4(),
        }
    }

    /// Whether quirk `q` is on in this mock.
    pub fn quirk(&self, q: Quirk) -> bool {
        self.behaviour.quirk(q)
    }

    /// Whether mutant `m` is the active one.
    pub fn mutant(&self, m: Mutant) -> bool {
        self.behaviour.mutant(m)
    }

    /// Monitoring sample `index` of this session's node now: its running jobs
    /// (with their scenario figures), its clock and its monitor's counters.
    pub fn metrics_sample(&self, index: u64) -> Sample {
        let mut running = {
            let state = self.state.lock();
            state
                .jobs
                .iter()
                .filter(|(_, j)| j.status == JobStatus::Running)
                .map(|(seq, j)| RunningJob {
                    seq,
                    command: j.spec.command.clone(),
                    args: j.spec.args.clone(),
                    start_time: j.start_time,
                    max_memory_mb: j.spec.max_memory,
                    resources: None,
                })
                .collect::<Vec<_>>()
        };
        // Scenario figures, looked up outside the state lock.
        if !self.config.exec {
            let sim = self.sim();
            for job in &mut running {
                job.resources = sim.resources(&job.command, &job.args);
            }
        }
        let inputs = self.monitor.inputs(
            index,
            self.clock.now_secs(),
            std::time::Duration::from_millis(
                u64::try_from(self.clock.now_ms() - self.started_ms).unwrap_or(0),
            ),
            self.config.host_cores,
            &self.config.node_id,
            running,
        );
        self.monitor.compute(&inputs)
    }

    /// Ends every job of this session (their tasks stop, their logs close):
    /// for Reset and for dropping a session.
    pub fn abort_all(&self) {
        let now = self.clock.now_ms();
        let mut state = self.state.lock();
        let seqs: Vec<u64> = state.jobs.iter().map(|(s, _)| s).collect();
        for seq in seqs {
            if let Some(job) = state.jobs.get_mut(seq) {
                if let Some(task) = job.task.take() {
                    task.abort();
                }
                job.log.close();
                // Its telemetry followers end too.
                job.telemetry.abandon(now);
            }
        }
    }
}

impl Evict for Shared {
    fn oldest_finished(&self, phase: Phase) -> Option<u64> {
        self.state.lock().jobs.oldest_finished(phase)
    }

    fn evict(&self, phase: Phase, until: u64, more: &mut dyn FnMut() -> bool) {
        self.state.lock().jobs.evict(phase, until, more);
    }
}

/// The metadata key that selects a session (`x-joblet-mock-session`), shared
/// with transcripts and replays through the testkit.
pub use joblet_testkit::session::SESSION_HEADER;

/// Longest session name accepted.
pub const MAX_SESSION_NAME: usize = 128;

/// Every session of one mock process.
#[derive(Debug)]
pub struct Node {
    config: MockConfig,
    closing: CancellationToken,
    /// The memory budget every session counts in.
    budget: Arc<Budget>,
    default: RwLock<Arc<Shared>>,
    sessions: Mutex<BTreeMap<String, Arc<Shared>>>,
}

impl Node {
    /// A node with only the default session.
    pub fn new(config: MockConfig) -> Arc<Self> {
        let closing = CancellationToken::new();
        let budget = Budget::new(config.memory_budget);
        let default = Shared::session(config.clone(), "", closing.clone(), &budget);
        Arc::new(Self {
            config,
            closing,
            budget,
            default: RwLock::new(default),
            sessions: Mutex::new(BTreeMap::new()),
        })
    }

    /// The configuration every session starts from.
    pub fn config(&self) -> &MockConfig {
        &self.config
    }

    #[doc(hidden)]
    /// The process's memory budget.
    pub fn budget(&self) -> &Arc<Budget> {
        &self.budget
    }

    /// Cancelled when the server begins to shut down.
    pub fn closing(&self) -> &CancellationToken {
        &self.closing
    }

    /// Ends every open server stream of every session.
    pub fn begin_shutdown(&self) {
        self.closing.cancel();
    }

    #[doc(hidden)]
    /// The default session.
    pub fn default_session(&self) -> Arc<Shared> {
        Arc::clone(&self.default.read())
    }

    #[doc(hidden)]
    /// Session `name` ("" or `default`: the default one), created on first use.
    pub fn session(&self, name: &str) -> Result<Arc<Shared>> {
        let name = check_name(name)?;
        if name.is_empty() {
            return Ok(self.default_session());
        }
        let mut sessions = self.sessions.lock();
        if let Some(s) = sessions.get(name) {
            return Ok(Arc::clone(s));
        }
        if sessions.len() >= self.config.max_sessions {
            return Err(Error::ResourceExhausted(format!(
                "{SESSION_HEADER}: the mock holds {} sessions already (the most it keeps); \
                 reset some through the control API",
                sessions.len()
            )));
        }
        let shared = Shared::session(
            self.config.clone(),
            name,
            self.closing.clone(),
            &self.budget,
        );
        sessions.insert(name.to_string(), Arc::clone(&shared));
        Ok(shared)
    }

    #[doc(hidden)]
    /// An existing session, without creating it.
    pub fn existing(&self, name: &str) -> Option<Arc<Shared>> {
        let name = check_name(name).ok()?;
        if name.is_empty() {
            return Some(self.default_session());
        }
        self.sessions.lock().get(name).cloned()
    }

    #[doc(hidden)]
    /// The session a request asks for (its `x-joblet-mock-session` metadata).
    pub fn for_metadata(&self, metadata: &tonic::metadata::MetadataMap) -> Result<Arc<Shared>> {
        match metadata.get(SESSION_HEADER) {
            None => Ok(self.default_session()),
            Some(v) => {
                let name = v.to_str().map_err(|_| {
                    Error::invalid(SESSION_HEADER, "the session name must be printable ASCII")
                })?;
                self.session(name)
            }
        }
    }

    #[doc(hidden)]
    /// Every session: the default one first, then by name.
    pub fn sessions(&self) -> Vec<Arc<Shared>> {
        let mut all = vec![self.default_session()];
        all.extend(self.sessions.lock().values().cloned());
        all
    }

    /// Starts session `name` afresh: its jobs end, its state, clock, faults and
    /// journal are new. Streams already open on the old state end as their
    /// jobs do. The default session is reset in place of its record; another
    /// session is dropped (and re-created empty on its next call).
    pub fn reset(&self, name: &str) -> Result<()> {
        let name = check_name(name)?;
        let old = if name.is_empty() {
            let fresh =
                Shared::session(self.config.clone(), "", self.closing.clone(), &self.budget);
            Some(std::mem::replace(&mut *self.default.write(), fresh))
        } else {
            self.sessions.lock().remove(name)
        };
        if let Some(old) = old {
            old.abort_all();
        }
        if let Some(recorder) = &self.config.transcript {
            recorder.forget(name);
        }
        Ok(())
    }

    /// Resets every session.
    pub fn reset_all(&self) {
        let names: Vec<String> = self.sessions.lock().keys().cloned().collect();
        for name in names {
            let _ = self.reset(&name);
        }
        let _ = self.reset("");
    }
}

/// The name a reply shows for a session: `default` for `""`.
pub fn label(name: &str) -> &str {
    if name.is_empty() { "default" } else { name }
}

/// Validates a session name; `default` means the default session ("").
pub fn check_name(name: &str) -> Result<&str> {
    let name = name.trim();
    if name.len() > MAX_SESSION_NAME {
        return Err(Error::invalid(
            SESSION_HEADER,
            format!("session names are at most {MAX_SESSION_NAME} characters"),
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.:/@+".contains(*c)))
    {
        return Err(Error::invalid(
            SESSION_HEADER,
            format!("session name {name:?} contains {c:?}; use letters, digits and - _ . : / @ +"),
        ));
    }
    Ok(if name == "default" { "" } else { name })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_lists_the_running_jobs_of_the_state() {
        use crate::config::MockConfig;
        use crate::logs::LogBuffer;
        use crate::state::{Job, JobSpec};

        let shared = Shared::new(MockConfig {
            seed: Some(21),
            host_cores: 2,
            node_id: "n-21".into(),
            ..MockConfig::default()
        });
        let idle = shared.metrics_sample(0);
        {
            let mut state = shared.state.lock();
            for (status, command) in [
                (JobStatus::Completed, "echo"),
                (JobStatus::Running, "python3"),
                (JobStatus::Scheduled, "date"),
                (JobStatus::Running, "sleep"),
            ] {
                let spec = JobSpec {
                    command: command.into(),
                    args: vec!["-c".into(), "x".into()],
                    ..JobSpec::default()
                };
                if status == JobStatus::Running {
                    state.mark_running(&spec);
                }
                state.jobs.insert(Job {
                    id: uuid::Uuid::new_v4(),
                    spec: std::sync::Arc::new(spec),
                    status,
                    start_time: 1_700_000_000,
                    end_time: None,
                    scheduled_time: None,
                    exit_code: 0,
                    gpu_indices: Vec::new(),
                    log: LogBuffer::new(16),
                    telemetry: Default::default(),
                    task: None,
                    charge: Default::default(),
                });
            }
        }
        let busy = shared.metrics_sample(0);
        crate::monitoring::tests::check(
            &busy,
            2,
            2,
            crate::monitoring::host::host_facts().total_memory,
        );
        assert_eq!(busy.host.node_id, "n-21");
        let p = &busy.processes;
        let mut names: Vec<_> = p.top_by_cpu.iter().map(|x| x.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["joblet", "python3", "sleep"]);
        let py = p
            .top_by_memory
            .iter()
            .find(|x| x.name == "python3")
            .unwrap();
        assert_eq!((py.pid, py.command.as_str()), (1001, "python3 -c x"));
        assert_eq!(p.total_processes, idle.processes.total_processes + 2);
        assert!(busy.cpu.usage_percent > idle.cpu.usage_percent);
    }

    #[test]
    fn sessions_are_separate_and_named() {
        let node = Node::new(MockConfig::default());
        let a = node.session("a").unwrap();
        let a2 = node.session("a").unwrap();
        let b = node.session("b").unwrap();
        assert!(Arc::ptr_eq(&a, &a2));
        assert!(!Arc::ptr_eq(&a, &b));
        assert!(Arc::ptr_eq(
            &node.session("default").unwrap(),
            &node.default_session()
        ));
        assert_eq!(node.sessions().len(), 3);
        assert_eq!(
            node.session("bad name").unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
        assert!(node.session(&"x".repeat(200)).is_err());
    }

    #[test]
    fn session_count_is_bounded() {
        let node = Node::new(MockConfig {
            max_sessions: 2,
            ..MockConfig::default()
        });
        node.session("a").unwrap();
        node.session("b").unwrap();
        let err = node.session("c").unwrap_err();
        assert_eq!(err.code(), tonic::Code::ResourceExhausted);
        node.reset("a").unwrap();
        node.session("c").unwrap();
    }
}
