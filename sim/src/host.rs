//! What the simulator needs from its host: an [`Output`] for the bytes a job
//! writes and a [`Clock`] that its waits and `date` go through.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;

/// Where a simulated job's output goes (in the mock: the job's log).
///
/// The simulator batches small writes itself: [`write`](Self::write) gets a
/// batch once it reaches 64 KiB, before every sleep, once output has been
/// pending for 50 ms, and at the end of the job; pieces of 16 KiB and more
/// (such as the shared blocks of `/dev/zero`) go as they are, without a copy,
/// after the batch before them. The simulator is generic over its output, so
/// these calls are statically dispatched.
pub trait Output: Send {
    /// Appends `data` (never empty). May wait, for example while the readers
    /// of the output are slow: the job waits with it (back-pressure).
    fn write(&mut self, data: Bytes) -> impl Future<Output = ()> + Send;

    /// Whether the output takes no more data (the job was stopped, the log
    /// closed): the job stops producing, as a writer whose reader went away.
    fn is_closed(&self) -> bool;
}

/// The time a simulated job sees. Cheap to clone: clones share one time.
/// Its timers do not borrow the clock (`use<Self>`): a timer runs while the
/// job it limits goes on.
///
/// The clock may be virtual: the simulator never reads the system clock or
/// uses tokio timers itself, so a clock that skips ahead makes an hour-long
/// `sleep` pass at once.
pub trait Clock: Clone + Send + Sync {
    /// Now, in Unix milliseconds (what `date` prints).
    fn now_ms(&self) -> i64;

    /// A monotonic reading in milliseconds, for measuring durations (`time`,
    /// `$SECONDS`).
    fn monotonic_ms(&self) -> i64;

    /// The job's own wait (`sleep`, a scenario's `sleep:` step), started after
    /// its pending output was handed to the [`Output`]. While it waits, the
    /// job counts as waiting on the clock (a virtual clock may skip ahead).
    fn job_sleep(&self, d: Duration) -> impl Future<Output = ()> + Send + use<Self>;

    /// A timer that is not the job's own wait (the limit of `timeout`): it
    /// runs alongside the command it limits.
    fn sleep(&self, d: Duration) -> impl Future<Output = ()> + Send + use<Self>;
}
