//! The session clock: real wall time, or a virtual clock that skips ahead.
//!
//! Everything in the mock that waits on time (a `sleep` in a simulated job, a
//! scheduled job's start, metric-stream intervals, scenario delays, workflow
//! ticks) waits through a [`Clock`], and every time the mock reports (job start
//! and end times, workflow timestamps, `date` in a job) is read from it.
//!
//! - [`ClockMode::Real`]: tokio timers and the system clock.
//! - [`ClockMode::Virtual`]: time starts at the real time and then only moves
//!   when the mock moves it. Whenever every simulated job is waiting on the clock
//!   (none is producing output, none is blocked on a reader), the clock jumps to
//!   the earliest due timer and fires it (auto-skip, like Temporal's
//!   time-skipping test server). An hour-long schedule or a ten-minute `sleep`
//!   passes in about a millisecond of wall time, and timers fire in order of
//!   due time, so what a job observes is what it would observe in real time.
//! - [`ClockMode::Manual`]: virtual time that moves only by
//!   [`Clock::advance`] (the control API's AdvanceClock), for tests that want to
//!   look at a job while it is still SCHEDULED or sleeping.
//!
//! # How "every job is waiting" is known
//! Each simulated job holds an [`Activity`] from the moment it is accepted until
//! it ends. A job's own waits ([`Clock::job_sleep`]) set its activity aside
//! while they wait; whoever fires such a timer hands the activity back before
//! the job runs again, so there is no instant in which a woken job looks idle.
//! The clock skips only when no activity is held and nothing has touched the
//! clock for a short quiet period (so a stream that just woke can register its
//! next tick first).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use chrono::{DateTime, Local, TimeZone};
use parking_lot::Mutex;

/// How a session's clock runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClockMode {
    /// Wall time.
    #[default]
    Real,
    /// Virtual time that skips ahead whenever every job waits on it.
    Virtual,
    /// Virtual time that moves only when advanced by hand (control API).
    Manual,
}

impl ClockMode {
    /// The wire name: `real`, `virtual` or `manual`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Real => "real",
            Self::Virtual => "virtual",
            Self::Manual => "manual",
        }
    }
}

/// How long the clock must be left alone before it skips (wall time).
const QUIET: Duration = Duration::from_millis(1);

/// A session's clock. Cheap to clone; clones share the same time.
#[derive(Clone)]
pub struct Clock(Kind);

#[derive(Clone)]
enum Kind {
    Real,
    Virtual(Arc<Virtual>),
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Kind::Real => f.write_str("Clock(real)"),
            Kind::Virtual(v) => {
                let s = v.state.lock();
                write!(
                    f,
                    "Clock(virtual, now={} ms, {} timers, {} active)",
                    s.now_ms,
                    s.timers.len(),
                    s.active
                )
            }
        }
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::real()
    }
}

struct Virtual {
    auto: bool,
    state: Mutex<VState>,
    /// Wakes the auto-skip driver.
    notify: Arc<tokio::sync::Notify>,
}

impl Drop for Virtual {
    fn drop(&mut self) {
        // The driver holds only a weak reference: wake it so that it ends.
        self.notify.notify_one();
    }
}

#[derive(Default)]
struct VState {
    now_ms: i64,
    /// Pending timers by (due, id).
    timers: BTreeMap<(i64, u64), Timer>,
    next_id: u64,
    /// Activities held (jobs that are not waiting on the clock).
    active: usize,
    /// Bumped on every change; the driver skips only over a quiet period.
    generation: u64,
    driver_started: bool,
}

struct Timer {
    waker: Option<Waker>,
    /// A job's sleep: firing it hands the job's activity back.
    activity: bool,
}

/// Unix milliseconds of the system clock.
fn system_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Clock {
    /// Wall time.
    pub fn real() -> Self {
        Self(Kind::Real)
    }

    /// A clock in `mode`, starting now.
    pub fn new(mode: ClockMode) -> Self {
        match mode {
            ClockMode::Real => Self::real(),
            ClockMode::Virtual => Self::virtual_at(system_now_ms(), true),
            ClockMode::Manual => Self::virtual_at(system_now_ms(), false),
        }
    }

    /// A virtual clock at `now_ms` (Unix ms); `auto` skips when every job waits.
    pub fn virtual_at(now_ms: i64, auto: bool) -> Self {
        Self(Kind::Virtual(Arc::new(Virtual {
            auto,
            state: Mutex::new(VState {
                now_ms,
                ..VState::default()
            }),
            notify: Arc::new(tokio::sync::Notify::new()),
        })))
    }

    /// The mode of this clock.
    pub fn mode(&self) -> ClockMode {
        match &self.0 {
            Kind::Real => ClockMode::Real,
            Kind::Virtual(v) if v.auto => ClockMode::Virtual,
            Kind::Virtual(_) => ClockMode::Manual,
        }
    }

    /// Whether time is virtual.
    pub fn is_virtual(&self) -> bool {
        matches!(self.0, Kind::Virtual(_))
    }

    /// Now, Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        match &self.0 {
            Kind::Real => system_now_ms(),
            Kind::Virtual(v) => v.state.lock().now_ms,
        }
    }

    /// A monotonic reading in ms, for measuring durations (`time`, `SECONDS`):
    /// tokio's clock when real (so paused-time tests see their sleeps), the
    /// virtual time otherwise.
    pub fn monotonic_ms(&self) -> i64 {
        static BASE: std::sync::OnceLock<tokio::time::Instant> = std::sync::OnceLock::new();
        match &self.0 {
            Kind::Real => {
                let base = *BASE.get_or_init(tokio::time::Instant::now);
                millis(tokio::time::Instant::now().saturating_duration_since(base))
            }
            Kind::Virtual(v) => v.state.lock().now_ms,
        }
    }

    /// Now, Unix seconds.
    pub fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// Now in the server's time zone.
    pub fn now_local(&self) -> DateTime<Local> {
        match &self.0 {
            Kind::Real => Local::now(),
            Kind::Virtual(_) => Local
                .timestamp_millis_opt(self.now_ms())
                .single()
                .unwrap_or_else(Local::now),
        }
    }

    /// Number of timers waiting (0 for the real clock).
    pub fn pending_timers(&self) -> usize {
        match &self.0 {
            Kind::Real => 0,
            Kind::Virtual(v) => v.state.lock().timers.len(),
        }
    }

    /// Waits `d` of this clock's time. Not a job's own wait: it does not let
    /// the clock skip (use [`job_sleep`](Self::job_sleep) inside jobs).
    pub fn sleep(&self, d: Duration) -> Sleep {
        self.sleep_inner(d, false)
    }

    /// A job's wait: while it waits, the job counts as waiting on the clock.
    /// Call only from a task that holds an [`Activity`].
    pub fn job_sleep(&self, d: Duration) -> Sleep {
        self.sleep_inner(d, true)
    }

    fn sleep_inner(&self, d: Duration, activity: bool) -> Sleep {
        match &self.0 {
            // The deadline is fixed now; tokio's timer only once polled (a
            // timeout that loses the race to a job ending at once costs no
            // allocation).
            Kind::Real => {
                let now = tokio::time::Instant::now();
                Sleep(SleepKind::Real {
                    deadline: now.checked_add(d).unwrap_or_else(|| now + FAR_FUTURE),
                    timer: None,
                })
            }
            Kind::Virtual(v) => {
                let key = {
                    let mut s = v.state.lock();
                    let due = s.now_ms.saturating_add(millis(d));
                    let id = s.next_id;
                    s.next_id += 1;
                    s.timers.insert(
                        (due, id),
                        Timer {
                            waker: None,
                            activity,
                        },
                    );
                    if activity {
                        s.active = s.active.saturating_sub(1);
                    }
                    s.generation += 1;
                    (due, id)
                };
                self.kick(v);
                Sleep(SleepKind::Virtual {
                    clock: Arc::clone(v),
                    key,
                    done: false,
                })
            }
        }
    }

    /// Marks a job as busy until the guard drops (see the module docs).
    pub fn activity(&self) -> Activity {
        match &self.0 {
            Kind::Real => Activity(None),
            Kind::Virtual(v) => {
                {
                    let mut s = v.state.lock();
                    s.active += 1;
                    s.generation += 1;
                }
                Activity(Some(Arc::clone(v)))
            }
        }
    }

    /// Moves virtual time forward by `d`, firing every timer that falls due on
    /// the way, in order, and letting the woken work settle before the next.
    /// Returns the new time (Unix ms). The real clock cannot be advanced.
    pub async fn advance(&self, d: Duration) -> Result<i64, ClockError> {
        let Kind::Virtual(v) = &self.0 else {
            return Err(ClockError::NotVirtual);
        };
        let target = v.state.lock().now_ms.saturating_add(millis(d));
        loop {
            // Let woken work register its next timers before looking.
            settle(v).await;
            let fired = {
                let mut s = v.state.lock();
                match s.timers.keys().next() {
                    Some(&(due, _)) if due <= target => {
                        fire_due(&mut s, due);
                        true
                    }
                    _ => {
                        s.now_ms = s.now_ms.max(target);
                        s.generation += 1;
                        false
                    }
                }
            };
            if !fired {
                return Ok(target);
            }
        }
    }

    /// Sets virtual time to `now_ms` if that is later (timers due on the way
    /// fire as with [`advance`](Self::advance)).
    pub async fn advance_to(&self, now_ms: i64) -> Result<i64, ClockError> {
        let current = self.now_ms();
        let d = Duration::from_millis(u64::try_from(now_ms - current).unwrap_or(0));
        self.advance(d).await
    }

    fn kick(&self, v: &Arc<Virtual>) {
        if !v.auto {
            return;
        }
        let start = {
            let mut s = v.state.lock();
            !std::mem::replace(&mut s.driver_started, true)
        };
        if start {
            match tokio::runtime::Handle::try_current() {
                Ok(handle) => {
                    handle.spawn(drive(Arc::downgrade(v), Arc::clone(&v.notify)));
                }
                Err(_) => v.state.lock().driver_started = false,
            }
        }
        v.notify.notify_one();
    }
}

/// Waits until nothing touched the clock for [`QUIET`], or at most 50 ms
/// when some job stays busy (a manual advance must not wait forever).
async fn settle(v: &Arc<Virtual>) {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(50);
    loop {
        let generation = v.state.lock().generation;
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(QUIET).await;
        let s = v.state.lock();
        if (s.active == 0 && s.generation == generation) || tokio::time::Instant::now() >= deadline
        {
            return;
        }
    }
}

/// Fires every timer due at `due` (the earliest), moving time there.
fn fire_due(s: &mut VState, due: i64) {
    s.now_ms = s.now_ms.max(due);
    let keys: Vec<_> = s
        .timers
        .range((due, 0)..=(due, u64::MAX))
        .map(|(k, _)| *k)
        .collect();
    for key in keys {
        if let Some(timer) = s.timers.remove(&key) {
            if timer.activity {
                s.active += 1;
            }
            if let Some(w) = timer.waker {
                w.wake();
            }
        }
    }
    s.generation += 1;
}

/// The auto-skip driver of one virtual clock: whenever no job is busy and the
/// clock has been quiet, fire the earliest timers.
async fn drive(clock: Weak<Virtual>, notify: Arc<tokio::sync::Notify>) {
    loop {
        let notified = notify.notified();
        let idle = {
            let Some(v) = clock.upgrade() else { return };
            let s = v.state.lock();
            (s.active == 0 && !s.timers.is_empty()).then_some(s.generation)
        };
        let Some(generation) = idle else {
            notified.await;
            continue;
        };
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(QUIET).await;
        let Some(v) = clock.upgrade() else { return };
        let mut s = v.state.lock();
        if s.active == 0
            && s.generation == generation
            && let Some(&(due, _)) = s.timers.keys().next()
        {
            fire_due(&mut s, due);
        }
    }
}

/// A job holding the clock busy (see the module docs). Dropping it releases.
#[must_use = "the activity ends when the guard drops"]
pub struct Activity(Option<Arc<Virtual>>);

impl std::fmt::Debug for Activity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Activity")
    }
}

impl Drop for Activity {
    fn drop(&mut self) {
        if let Some(v) = self.0.take() {
            {
                let mut s = v.state.lock();
                s.active = s.active.saturating_sub(1);
                s.generation += 1;
            }
            v.notify.notify_one();
        }
    }
}

/// A wait on a [`Clock`].
#[must_use = "futures do nothing unless polled"]
pub struct Sleep(SleepKind);

/// What a real sleep past the monotonic clock's range waits (tokio's own
/// choice for its far future: about 30 years).
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

enum SleepKind {
    Real {
        deadline: tokio::time::Instant,
        /// Made on the first poll.
        timer: Option<Pin<Box<tokio::time::Sleep>>>,
    },
    Virtual {
        clock: Arc<Virtual>,
        key: (i64, u64),
        done: bool,
    },
}

impl std::fmt::Debug for Sleep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sleep")
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.0 {
            SleepKind::Real { deadline, timer } => timer
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(*deadline)))
                .as_mut()
                .poll(cx),
            SleepKind::Virtual { clock, key, done } => {
                if *done {
                    return Poll::Ready(());
                }
                let mut s = clock.state.lock();
                match s.timers.get_mut(key) {
                    Some(timer) => {
                        timer.waker = Some(cx.waker().clone());
                        Poll::Pending
                    }
                    None => {
                        *done = true;
                        Poll::Ready(())
                    }
                }
            }
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let SleepKind::Virtual { clock, key, done } = &self.0 {
            if *done {
                return;
            }
            let mut s = clock.state.lock();
            // Not fired yet: withdraw it, and take the job's activity back
            // (the job's own guard releases it as the job ends).
            if let Some(timer) = s.timers.remove(key) {
                if timer.activity {
                    s.active += 1;
                }
                s.generation += 1;
            }
        }
    }
}

/// Errors of clock operations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// Only a virtual clock can be moved.
    #[error("the clock is real; start the mock with --clock virtual or --clock manual to move it")]
    NotVirtual,
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    use super::*;

    const T0: i64 = 1_800_000_000_000;

    #[tokio::test]
    async fn a_job_sleep_skips_ahead_when_every_job_waits() {
        let clock = Clock::virtual_at(T0, true);
        let job = {
            let clock = clock.clone();
            let activity = clock.activity();
            tokio::spawn(async move {
                let _activity = activity;
                clock.job_sleep(Duration::from_secs(600)).await;
                let at = clock.now_ms();
                clock.job_sleep(Duration::from_secs(3600)).await;
                (at, clock.now_ms())
            })
        };
        let wall = Instant::now();
        let (first, second) = job.await.unwrap();
        assert_eq!(first, T0 + 600_000);
        assert_eq!(second, T0 + 4_200_000);
        assert!(wall.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_real_sleep_counts_from_its_creation_not_its_first_poll() {
        let clock = Clock::real();
        let early = clock.sleep(Duration::from_secs(10));
        tokio::time::advance(Duration::from_secs(6)).await;
        let late = clock.sleep(Duration::from_secs(10));
        tokio::time::advance(Duration::from_secs(5)).await;
        // 11 s after the first was made, 5 s after the second: only the first is due.
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        let (mut early, mut late) = (Box::pin(early), Box::pin(late));
        assert!(early.as_mut().poll(&mut cx).is_ready());
        assert!(late.as_mut().poll(&mut cx).is_pending());
        tokio::time::advance(Duration::from_secs(5)).await;
        late.await;
        // Far past the monotonic clock's range: waits, does not panic.
        let mut never = Box::pin(clock.sleep(Duration::MAX));
        assert!(never.as_mut().poll(&mut cx).is_pending());
    }

    #[tokio::test]
    async fn timers_fire_in_due_order() {
        let clock = Clock::virtual_at(T0, true);
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for secs in [30u64, 10, 20] {
            let (clock, order) = (clock.clone(), Arc::clone(&order));
            let activity = clock.activity();
            tasks.push(tokio::spawn(async move {
                let _a = activity;
                clock.job_sleep(Duration::from_secs(secs)).await;
                order.lock().push((secs, clock.now_ms() - T0));
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock(), [(10, 10_000), (20, 20_000), (30, 30_000)]);
    }

    #[tokio::test]
    async fn a_busy_job_holds_the_clock() {
        let clock = Clock::virtual_at(T0, true);
        let busy = clock.activity();
        let waiter = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.sleep(Duration::from_secs(5)).await })
        };
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(clock.now_ms(), T0, "time moved while a job was busy");
        assert!(!waiter.is_finished());
        drop(busy);
        waiter.await.unwrap();
        assert_eq!(clock.now_ms(), T0 + 5_000);
    }

    #[tokio::test]
    async fn manual_clock_moves_only_when_advanced() {
        let clock = Clock::virtual_at(T0, false);
        let ticks = Arc::new(AtomicUsize::new(0));
        let task = {
            let (clock, ticks) = (clock.clone(), Arc::clone(&ticks));
            let activity = clock.activity();
            tokio::spawn(async move {
                let _a = activity;
                for _ in 0..10 {
                    clock.job_sleep(Duration::from_secs(60)).await;
                    ticks.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(ticks.load(Ordering::SeqCst), 0);
        assert_eq!(
            clock.advance(Duration::from_secs(150)).await,
            Ok(T0 + 150_000)
        );
        assert_eq!(ticks.load(Ordering::SeqCst), 2);
        clock.advance(Duration::from_secs(600)).await.unwrap();
        task.await.unwrap();
        assert_eq!(ticks.load(Ordering::SeqCst), 10);
        assert_eq!(clock.now_ms(), T0 + 750_000);
    }

    #[tokio::test]
    async fn a_dropped_sleep_gives_the_activity_back() {
        let clock = Clock::virtual_at(T0, false);
        let activity = clock.activity();
        let sleep = clock.job_sleep(Duration::from_secs(1));
        drop(sleep);
        drop(activity);
        let Kind::Virtual(v) = &clock.0 else { panic!() };
        let s = v.state.lock();
        assert_eq!((s.active, s.timers.len()), (0, 0));
    }

    #[tokio::test]
    async fn the_real_clock_cannot_be_advanced() {
        let clock = Clock::real();
        assert_eq!(
            clock.advance(Duration::from_secs(1)).await,
            Err(ClockError::NotVirtual)
        );
        assert!((clock.now_ms() - system_now_ms()).abs() < 1000);
    }
}
