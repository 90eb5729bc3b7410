//! What a host sees: when and in which pieces output arrives, that a closed
//! output stops a job, and that every wait and `date` go through its clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use joblet_sim::{Clock, ExecContext, Output, Simulator, UnknownCommand};

/// Records every write with the (tokio) time it arrived.
#[derive(Debug, Default)]
struct Recorder {
    writes: Vec<(Duration, Bytes)>,
    start: Option<tokio::time::Instant>,
    /// Closed after this many writes (`None`: never).
    close_after: Option<usize>,
}

impl Recorder {
    fn text(&self) -> String {
        let all: Vec<u8> = self.writes.iter().flat_map(|(_, b)| b.to_vec()).collect();
        String::from_utf8_lossy(&all).into_owned()
    }
}

impl Output for Recorder {
    async fn write(&mut self, data: Bytes) {
        let start = *self.start.get_or_insert_with(tokio::time::Instant::now);
        self.writes.push((start.elapsed(), data));
    }

    fn is_closed(&self) -> bool {
        self.close_after.is_some_and(|n| self.writes.len() >= n)
    }
}

/// A manual clock: `now_ms` is fixed, sleeps are tokio sleeps that are
/// counted.
#[derive(Debug, Clone, Default)]
struct Counting {
    now_ms: i64,
    job_sleeps: Arc<Mutex<Vec<Duration>>>,
    timers: Arc<Mutex<Vec<Duration>>>,
}

impl Clock for Counting {
    fn now_ms(&self) -> i64 {
        self.now_ms
    }

    fn monotonic_ms(&self) -> i64 {
        0
    }

    fn job_sleep(&self, d: Duration) -> impl Future<Output = ()> + Send + use<> {
        self.job_sleeps.lock().unwrap().push(d);
        tokio::time::sleep(d)
    }

    fn sleep(&self, d: Duration) -> impl Future<Output = ()> + Send + use<> {
        self.timers.lock().unwrap().push(d);
        tokio::time::sleep(d)
    }
}

async fn run(out: &mut Recorder, clock: &Counting, script: &str) -> i32 {
    let ctx = ExecContext {
        clock: clock.clone(),
        ..ExecContext::default()
    };
    Simulator::new(Vec::new(), UnknownCommand::Fail)
        .run("bash", &["-c".to_owned(), script.to_owned()], &ctx, out)
        .await
}

/// Small writes arrive batched; a batch is handed over before a sleep, so
/// live output is on time.
#[tokio::test(start_paused = true)]
async fn small_writes_are_batched_and_flushed_before_sleeps() {
    let clock = Counting::default();
    let mut out = Recorder::default();
    let code = run(&mut out, &clock, "echo a; echo b; sleep 2; echo c").await;
    assert_eq!(code, 0);
    let pieces: Vec<(Duration, &[u8])> = out.writes.iter().map(|(t, b)| (*t, &b[..])).collect();
    assert_eq!(
        pieces,
        [
            (Duration::ZERO, &b"a\nb\n"[..]),
            (Duration::from_secs(2), &b"c\n"[..])
        ]
    );
    assert_eq!(*clock.job_sleeps.lock().unwrap(), [Duration::from_secs(2)]);
}

/// Bulk output arrives in few, large pieces: batches of about 64 KiB, and
/// `/dev/zero` in its shared blocks.
#[tokio::test]
async fn bulk_output_arrives_in_large_pieces() {
    let clock = Counting::default();
    let mut out = Recorder::default();
    assert_eq!(run(&mut out, &clock, "seq 100000").await, 0);
    let total: usize = out.writes.iter().map(|(_, b)| b.len()).sum();
    assert_eq!(total, 588_895);
    assert!(out.writes.len() <= 12, "{} writes", out.writes.len());
    assert!(out.writes.iter().all(|(_, b)| b.len() < 80 * 1024));

    let mut out = Recorder::default();
    assert_eq!(run(&mut out, &clock, "head -c 1048576 /dev/zero").await, 0);
    assert_eq!(out.writes.len(), 4);
    assert!(out.writes.iter().all(|(_, b)| b.len() == 256 * 1024));
}

/// An output that closes stops the job as a writer whose reader went away.
#[tokio::test]
async fn a_closed_output_stops_the_job() {
    let clock = Counting::default();
    let mut out = Recorder {
        close_after: Some(1),
        ..Recorder::default()
    };
    assert_eq!(run(&mut out, &clock, "yes").await, 141);
    assert_eq!(out.writes.len(), 1);
}

/// `date` reads the host's clock and `timeout` waits on its timers.
#[tokio::test(start_paused = true)]
async fn date_and_timeout_use_the_clock() {
    let clock = Counting {
        now_ms: 1_795_855_592_000,
        ..Counting::default()
    };
    let mut out = Recorder::default();
    let script = "date -u +%FT%T; timeout 3 sleep 10; echo $?";
    assert_eq!(run(&mut out, &clock, script).await, 0);
    assert_eq!(out.text(), "2026-11-28T08:46:32\n124\n");
    assert_eq!(*clock.timers.lock().unwrap(), [Duration::from_secs(3)]);
    assert_eq!(*clock.job_sleeps.lock().unwrap(), [Duration::from_secs(10)]);
}
