//! The generator threads and the one worker loop.
//!
//! Each generator thread runs a single-threaded tokio runtime that owns its
//! share of the HTTP/2 connections, its own statistics and its own pacing
//! lane, so the hot path never synchronises with another core. On it, a
//! fixed pool of workers runs `worker_loop`: ask the [`Pacer`] for the next
//! start, claim one unit of the request budget, pick an action and a target,
//! run the action, repeat. The same loop serves the open and the closed
//! model, every scenario and every stage. Every interval the thread hands
//! its statistics to the collector; after the load it drains in-flight
//! actions (up to `--drain-timeout`) and deletes the jobs it created.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::cleanup::{self, Deletion, Tracker};
use crate::pacing::{Lane, Next, Pacer};
use crate::plan::{Action, Plan};
use crate::pool::{JobPool, Want};
use crate::report::CleanupStats;
use crate::stats::Cells;
use crate::transport::{Conn, Endpoint};

/// Stops handing out units of work after a count.
#[derive(Debug)]
pub(crate) struct Budget {
    limit: Option<u64>,
    taken: AtomicU64,
}

impl Budget {
    pub(crate) fn new(limit: Option<u64>) -> Self {
        Self {
            limit,
            taken: AtomicU64::new(0),
        }
    }

    /// Claims one unit; `false` once the budget is spent.
    pub(crate) fn take(&self) -> bool {
        match self.limit {
            None => {
                self.taken.fetch_add(1, Ordering::Relaxed);
                true
            }
            Some(limit) => self.taken.fetch_add(1, Ordering::Relaxed) < limit,
        }
    }
}

/// Picks actions by weight.
#[derive(Debug, Clone)]
pub(crate) struct ActionPicker {
    actions: Vec<Action>,
    cumulative: Vec<f64>,
}

impl ActionPicker {
    pub(crate) fn new(plan: &Plan) -> Self {
        let mut total = 0.0;
        let mut actions = Vec::new();
        let mut cumulative = Vec::new();
        for w in plan.actions.iter().filter(|w| w.weight > 0.0) {
            total += w.weight;
            actions.push(w.action);
            cumulative.push(total);
        }
        Self {
            actions,
            cumulative,
        }
    }

    /// The action for a uniform draw `u` in `[0, 1)`.
    pub(crate) fn pick(&self, u: f64) -> Action {
        if self.actions.len() == 1 {
            return self.actions[0];
        }
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let x = u * total;
        let i = self.cumulative.partition_point(|c| *c <= x);
        self.actions[i.min(self.actions.len() - 1)]
    }
}

/// A small fast PRNG (xorshift64*) per worker: action and job picks only.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Smooth weighted round-robin over the targets (nginx's algorithm): over
/// any window of `sum(weights)` picks, each target gets its weight.
#[derive(Debug)]
pub(crate) struct TargetPicker {
    weights: Vec<i64>,
    current: Mutex<Vec<i64>>,
}

impl TargetPicker {
    pub(crate) fn new(weights: &[u32]) -> Self {
        Self {
            weights: weights.iter().map(|w| i64::from(*w)).collect(),
            current: Mutex::new(vec![0; weights.len()]),
        }
    }

    pub(crate) fn pick(&self) -> usize {
        if self.weights.len() == 1 {
            return 0;
        }
        let mut cur = self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let total: i64 = self.weights.iter().sum();
        let mut best = 0;
        for (i, w) in self.weights.iter().enumerate() {
            cur[i] += w;
            if cur[i] > cur[best] {
                best = i;
            }
        }
        cur[best] -= total;
        best
    }
}

/// What the generator threads of a run share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) plan: Plan,
    pub(crate) picker: ActionPicker,
    pub(crate) run_job: Bytes,
    pub(crate) zeros: Option<Bytes>,
    pub(crate) empty: Bytes,
    pub(crate) endpoints: Vec<Arc<Endpoint>>,
    pub(crate) weights: Vec<u32>,
    pub(crate) budget: Budget,
    /// Cancelled when the run must stop issuing (Ctrl-C, budget spent).
    pub(crate) stop: CancellationToken,
    pub(crate) timeout: Duration,
    pub(crate) drain_timeout: Duration,
    pub(crate) interval: Duration,
    pub(crate) keep_jobs: bool,
    pub(crate) track_jobs_per_thread: usize,
    /// Whether actions on existing jobs need a pool of this run's jobs.
    pub(crate) pool_jobs: bool,
    /// Every generator thread and the driver meet here once the threads
    /// have opened their connections: the load starts then.
    pub(crate) ready: Barrier,
    /// The start of the load, fixed by the first to ask after `ready`.
    pub(crate) start: OnceLock<Instant>,
}

impl Shared {
    /// The start of the load (call after [`Shared::ready`]).
    pub(crate) fn start(&self) -> Instant {
        *self.start.get_or_init(Instant::now)
    }
}

/// What a thread sends the collector.
#[derive(Debug)]
pub(crate) enum Msg {
    /// The statistics of interval `index` (1-based: it ends at
    /// `start + index × interval`, or at `end` for the last, partial one).
    Interval {
        thread: usize,
        index: u64,
        end: Instant,
        cells: Box<Cells>,
        last: bool,
    },
    /// The thread finished its load (drained), with its CPU time so far.
    LoadDone {
        cpu: Option<Duration>,
        abandoned: u64,
    },
    /// The thread finished its cleanup.
    Done {
        cleanup: CleanupStats,
        error: Option<String>,
    },
}

/// The state of one generator thread, shared by its workers.
#[derive(Debug)]
pub(crate) struct ThreadEnv {
    pub(crate) shared: Arc<Shared>,
    lane: Lane,
    pacer: Pacer,
    conns: Vec<Vec<Conn>>,
    next_conn: Vec<AtomicUsize>,
    targets: TargetPicker,
    cells: Mutex<Cells>,
    pool: Mutex<(Vec<JobPool>, Rng)>,
    tracker: Arc<Mutex<Tracker>>,
    cleanup: Arc<Mutex<CleanupStats>>,
    trimming: Arc<AtomicBool>,
    /// Tracked jobs above which the oldest are deleted during the run.
    trim_at: Arc<AtomicUsize>,
    trim: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Workers of this thread in an action now.
    in_action: AtomicUsize,
    /// Workers of this thread.
    workers: usize,
}

impl ThreadEnv {
    /// `connections` connections to each target (not opened yet).
    pub(crate) fn connections(shared: &Shared, connections: usize) -> Vec<Vec<Conn>> {
        shared
            .endpoints
            .iter()
            .map(|e| {
                (0..connections.max(1))
                    .map(|_| Conn::new(Arc::clone(e)))
                    .collect()
            })
            .collect()
    }

    pub(crate) fn new(
        shared: Arc<Shared>,
        lane: Lane,
        conns: Vec<Vec<Conn>>,
        workers: u32,
    ) -> Self {
        let targets = shared.endpoints.len();
        Self {
            pacer: Pacer::new(&shared.plan.stages, shared.start(), lane),
            next_conn: (0..targets).map(|_| AtomicUsize::new(0)).collect(),
            targets: TargetPicker::new(&shared.weights),
            cells: Mutex::new(Cells::new(targets, shared.plan.stages.len())),
            pool: Mutex::new((
                vec![JobPool::default(); targets],
                Rng::new(u64::from(lane.index) + 1),
            )),
            tracker: Arc::new(Mutex::new(Tracker::default())),
            cleanup: Arc::new(Mutex::new(CleanupStats::default())),
            trimming: Arc::new(AtomicBool::new(false)),
            trim_at: Arc::new(AtomicUsize::new(shared.track_jobs_per_thread)),
            trim: Mutex::new(None),
            in_action: AtomicUsize::new(0),
            workers: workers as usize,
            conns,
            lane,
            shared,
        }
    }

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records into this thread's statistics.
    pub(crate) fn record(&self, f: impl FnOnce(&mut Cells)) {
        f(&mut Self::lock(&self.cells));
    }

    fn take_cells(&self) -> Cells {
        let mut cells = Self::lock(&self.cells);
        let fresh = Cells::new(self.shared.endpoints.len(), self.shared.plan.stages.len());
        std::mem::replace(&mut *cells, fresh)
    }

    fn conn(&self, target: usize) -> &Conn {
        let conns = &self.conns[target];
        let i = self.next_conn[target].fetch_add(1, Ordering::Relaxed);
        &conns[i % conns.len()]
    }

    /// A job of this run on `target` in the state `want` asks for (see
    /// [`JobPool::pick`]); `None` when the run has none.
    pub(crate) fn pick_job(&self, target: u16, want: Want) -> Option<String> {
        let mut pool = Self::lock(&self.pool);
        let (pools, rng) = &mut *pool;
        let seed = rng.next_u64();
        pools.get_mut(usize::from(target))?.pick(want, seed)
    }

    /// Updates what the run knows of its jobs on `target`.
    pub(crate) fn with_pool(&self, target: u16, f: impl FnOnce(&mut JobPool)) {
        if let Some(p) = Self::lock(&self.pool).0.get_mut(usize::from(target)) {
            f(p);
        }
    }

    /// Notes a job this run created, with the status RunJob answered.
    pub(crate) fn created(&self, target: u16, id: &str, status: &str) {
        if self.shared.pool_jobs {
            self.with_pool(target, |p| p.add(id, status));
        }
        let mut tracker = Self::lock(&self.tracker);
        if self.shared.keep_jobs {
            tracker.created += 1;
            return;
        }
        tracker.add(target, id);
        if tracker.len() > self.trim_at.load(Ordering::Relaxed)
            && !self.trimming.swap(true, Ordering::AcqRel)
        {
            let batch = tracker.take_oldest(self.shared.track_jobs_per_thread / 2 + 1);
            drop(tracker);
            self.spawn_trim(batch);
        }
    }

    /// Deletes `batch` in the background (8 at a time); jobs still running
    /// go back to the tracker for the end of the run. When most are still
    /// running, the next trim waits until another half cap has accumulated
    /// (a node that holds that many running jobs holds more than we do).
    fn spawn_trim(&self, batch: Vec<(cleanup::JobId, u16)>) {
        let conns: Vec<Conn> = self.conns.iter().map(|c| c[0].clone()).collect();
        let timeout = self.shared.timeout;
        let tracker = Arc::clone(&self.tracker);
        let stats = Arc::clone(&self.cleanup);
        let trimming = Arc::clone(&self.trimming);
        let trim_at = Arc::clone(&self.trim_at);
        let cap = self.shared.track_jobs_per_thread;
        let task = tokio::spawn(async move {
            let mut set = JoinSet::new();
            let mut it = batch.into_iter();
            let mut keep = Vec::new();
            loop {
                while set.len() < 8 {
                    let Some((id, target)) = it.next() else { break };
                    let conn = conns[usize::from(target)].clone();
                    set.spawn(async move {
                        let d = cleanup::delete(&conn, &id, false, timeout).await;
                        (id, target, d)
                    });
                }
                let Some(done) = set.join_next().await else {
                    break;
                };
                let Ok((id, target, d)) = done else { continue };
                match d {
                    Deletion::Deleted { .. } => Self::lock(&stats).deleted_during_run += 1,
                    Deletion::Gone => Self::lock(&stats).already_gone += 1,
                    // Still running, or an error: tried again at the end.
                    Deletion::Running | Deletion::Failed(_) => keep.push((id, target)),
                }
            }
            let mut t = Self::lock(&tracker);
            t.put_back(keep);
            trim_at.store(cap.max(t.len() + cap / 2), Ordering::Relaxed);
            drop(t);
            trimming.store(false, Ordering::Release);
        });
        *Self::lock(&self.trim) = Some(task);
    }
}

/// Resolution of tokio's timer.
const TIMER_TICK: Duration = Duration::from_millis(1);

/// The one worker loop.
async fn worker_loop(env: Arc<ThreadEnv>, worker: u32) {
    let shared = Arc::clone(&env.shared);
    let mut rng = Rng::new(
        (u64::from(env.lane.index) << 32)
            ^ u64::from(worker)
            ^ shared.start().elapsed().as_nanos() as u64,
    );
    loop {
        if shared.stop.is_cancelled() {
            return;
        }
        let (intended, stage) = match env.pacer.next(worker, Instant::now()) {
            Next::Done => return,
            Next::Wait(until) => {
                tokio::select! {
                    () = tokio::time::sleep_until(until.into()) => continue,
                    () = shared.stop.cancelled() => return,
                }
            }
            Next::Go { intended, stage } => (intended, stage),
        };
        // The timer ticks in milliseconds and rounds up: wake at the tick
        // before the slot, so its resolution never counts as latency (an
        // early send is measured from the send).
        if let Some(at) = intended
            && at > Instant::now() + TIMER_TICK
        {
            tokio::select! {
                () = tokio::time::sleep_until((at - TIMER_TICK).into()) => {}
                () = shared.stop.cancelled() => return,
            }
        }
        if !shared.budget.take() {
            shared.stop.cancel();
            return;
        }
        let action = shared.picker.pick(rng.unit());
        let target = env.targets.pick();
        let conn = env.conn(target).clone();
        if let Some(at) = intended {
            let late = Instant::now().saturating_duration_since(at);
            // Other workers were free: the lateness is the generator's.
            let free = env.in_action.load(Ordering::Relaxed) + 1 < env.workers;
            env.record(|c| c.lag(stage as u16, late, free));
        }
        env.in_action.fetch_add(1, Ordering::Relaxed);
        env.execute(action, target as u16, &conn, stage as u16, intended)
            .await;
        env.in_action.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Per-thread settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ThreadPlan {
    pub(crate) thread: usize,
    pub(crate) lane: Lane,
    pub(crate) workers: u32,
    pub(crate) connections: usize,
}

/// CPU time (user + system) of the calling thread, from
/// `/proc/thread-self/stat` (Linux); `None` elsewhere.
pub(crate) fn thread_cpu() -> Option<Duration> {
    proc_cpu("/proc/thread-self/stat")
}

fn proc_cpu(path: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(path).ok()?;
    let rest = stat.rsplit_once(") ")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat (11 and 12 after the name).
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// Runs one generator thread to the end: load, drain, cleanup.
pub(crate) fn run_thread(shared: Arc<Shared>, plan: ThreadPlan, tx: mpsc::Sender<Msg>) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            // The others wait for every thread before they start.
            shared.ready.wait();
            let _ = tx.send(Msg::LoadDone {
                cpu: None,
                abandoned: 0,
            });
            let _ = tx.send(Msg::Done {
                cleanup: CleanupStats::default(),
                error: Some(format!("cannot start a runtime: {e}")),
            });
            return;
        }
    };
    rt.block_on(async move {
        // Open the connections before the load starts: its first requests
        // must not wait for TCP, TLS and the server's SETTINGS.
        let conns = ThreadEnv::connections(&shared, plan.connections);
        for c in conns.iter().flatten() {
            // A failure here shows in the calls (and their reconnects).
            let _ = c.open().await;
        }
        let ready = Arc::clone(&shared);
        let _ = tokio::task::spawn_blocking(move || {
            ready.ready.wait();
        })
        .await;
        let env = Arc::new(ThreadEnv::new(
            Arc::clone(&shared),
            plan.lane,
            conns,
            plan.workers,
        ));
        let finished = CancellationToken::new();
        let ticker = tokio::spawn(ticker(
            Arc::clone(&env),
            plan.thread,
            tx.clone(),
            finished.clone(),
        ));
        let mut workers = JoinSet::new();
        for w in 0..plan.workers {
            workers.spawn(worker_loop(Arc::clone(&env), w));
        }
        let far = Instant::now() + Duration::from_secs(365 * 24 * 3600);
        let mut deadline = shared
            .plan
            .total_duration()
            .map(|d| shared.start() + d + shared.drain_timeout)
            .unwrap_or(far);
        let mut stopping = false;
        let mut abandoned = 0;
        loop {
            tokio::select! {
                joined = workers.join_next() => if joined.is_none() { break },
                () = shared.stop.cancelled(), if !stopping => {
                    stopping = true;
                    deadline = deadline.min(Instant::now() + shared.drain_timeout);
                }
                () = tokio::time::sleep_until(deadline.into()) => {
                    abandoned = workers.len() as u64;
                    workers.abort_all();
                    while workers.join_next().await.is_some() {}
                    break;
                }
            }
        }
        finished.cancel();
        let _ = ticker.await;
        let _ = tx.send(Msg::LoadDone {
            cpu: thread_cpu(),
            abandoned,
        });
        let cleanup = cleanup_all(&env).await;
        let _ = tx.send(Msg::Done {
            cleanup,
            error: None,
        });
    });
}

/// Hands the thread's statistics to the collector every interval, and the
/// rest when the load is over.
async fn ticker(
    env: Arc<ThreadEnv>,
    thread: usize,
    tx: mpsc::Sender<Msg>,
    finished: CancellationToken,
) {
    let start = env.shared.start();
    let every = env.shared.interval;
    let mut index: u64 = 1;
    loop {
        let due = start + every * index as u32;
        tokio::select! {
            // A tick that came due closes its interval before the final
            // hand-over, which would otherwise land in the next interval.
            biased;
            () = tokio::time::sleep_until(due.into()) => {
                let cells = env.take_cells();
                let _ = tx.send(Msg::Interval { thread, index, end: due, cells: Box::new(cells), last: false });
                index += 1;
            }
            () = finished.cancelled() => {
                let now = Instant::now();
                let index = (now.saturating_duration_since(start).as_nanos() / every.as_nanos().max(1)) as u64 + 1;
                let cells = env.take_cells();
                let _ = tx.send(Msg::Interval { thread, index, end: now, cells: Box::new(cells), last: true });
                return;
            }
        }
    }
}

/// Deletes every job the thread created (stopping running ones first).
async fn cleanup_all(env: &Arc<ThreadEnv>) -> CleanupStats {
    let trim = ThreadEnv::lock(&env.trim).take();
    if let Some(trim) = trim {
        let _ = trim.await;
    }
    let mut stats = *ThreadEnv::lock(&env.cleanup);
    let jobs = {
        let mut t = ThreadEnv::lock(&env.tracker);
        stats.created = t.created;
        let n = t.len();
        t.take_oldest(n)
    };
    if env.shared.keep_jobs {
        stats.kept = stats.created;
        return stats;
    }
    let timeout = env.shared.timeout;
    let mut set = JoinSet::new();
    let mut it = jobs.into_iter();
    loop {
        while set.len() < 32 {
            let Some((id, target)) = it.next() else { break };
            let conn = env.conns[usize::from(target)]
                [set.len() % env.conns[usize::from(target)].len()]
            .clone();
            set.spawn(async move { cleanup::delete(&conn, &id, true, timeout).await });
        }
        let Some(done) = set.join_next().await else {
            break;
        };
        match done {
            Ok(Deletion::Deleted { stopped }) => {
                stats.deleted += 1;
                stats.stopped += u64::from(stopped);
            }
            Ok(Deletion::Gone) => stats.already_gone += 1,
            Ok(Deletion::Running | Deletion::Failed(_)) | Err(_) => stats.failed += 1,
        }
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Rpc;

    #[test]
    fn targets_are_picked_by_weight_smoothly() {
        let p = TargetPicker::new(&[5, 1, 1]);
        let picks: Vec<usize> = (0..7).map(|_| p.pick()).collect();
        assert_eq!(picks, [0, 0, 1, 0, 2, 0, 0]);
        let p = TargetPicker::new(&[1, 3]);
        let n: usize = (0..400).map(|_| p.pick()).filter(|t| *t == 1).count();
        assert_eq!(n, 300);
    }

    #[test]
    fn the_budget_stops_at_its_limit() {
        let b = Budget::new(Some(3));
        assert_eq!((0..5).filter(|_| b.take()).count(), 3);
        assert!(Budget::new(None).take());
    }

    #[test]
    fn actions_are_picked_by_weight() {
        let plan = Plan::from_yaml(
            "operations: {RunJob: 3, ListJobs: 1}\nstages: [{rate: 1, duration: 1s}]",
            "t",
            None,
        )
        .unwrap();
        let p = ActionPicker::new(&plan);
        let mut rng = Rng::new(7);
        let runs = (0..40_000)
            .filter(|_| p.pick(rng.unit()) == Action::Call(Rpc::RunJob))
            .count();
        assert!((29_000..31_000).contains(&runs), "{runs}");
    }
}
