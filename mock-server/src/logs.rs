//! A job's log: bounded history, any number of live readers, back-pressure.
//!
//! The writer (the simulated job) appends bytes; readers replay the retained
//! history and then follow live output until the log is closed. Memory stays
//! bounded: at most `retention` bytes are kept, and the writer waits rather than
//! drop bytes that an attached reader has not read yet, so a slow reader slows the
//! job down instead of growing the server. Without readers the oldest history is
//! dropped once `retention` is exceeded — but only after a short grace
//! ([`FIRST_READER_GRACE`]) from the first write in which the job waits for its
//! first reader, so the usual "RunJob, then GetJobLogs" gets the whole output of
//! a job that writes more than the retention at once. Large chunks (for example `head -c` of
//! `/dev/zero`) are kept as shared [`Bytes`] without copying; small writes are
//! coalesced into one open chunk.
//!
//! A log made with [`LogBuffer::accounted`] counts its retained bytes in the
//! session's [`Account`] of the memory budget ([`crate::budget`]): it may be
//! *evicted* once its job has finished ([`LogBuffer::evict`]: history no
//! attached reader still needs is dropped, readers already attached read on
//! to the end), and while the budget is pressed a running job keeps at most
//! [`PRESSURE_RETENTION`] bytes beyond what its readers need.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::budget::{Account, PRESSURE_RETENTION};

/// Writes smaller than this are coalesced into the open chunk.
const COALESCE_BELOW: usize = 16 * 1024;
/// The open chunk is sealed once it reaches this size.
const SEAL_AT: usize = 64 * 1024;
/// Largest payload a reader hands out at once (one `DataChunk`).
pub const MAX_READ: usize = 256 * 1024;

/// How long a job whose history is full waits for its first reader before it
/// starts dropping its oldest output (counted from its first write).
pub const FIRST_READER_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// The shared log of one job.
#[derive(Debug)]
pub struct LogBuffer {
    inner: Mutex<Inner>,
    /// Woken when data is appended or the log closes.
    readers_wake: Notify,
    /// Woken when a reader advances or leaves.
    writer_wake: Notify,
    retention: usize,
    grace: std::time::Duration,
    /// The memory budget's account this log counts in.
    account: Option<Arc<Account>>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Sealed chunks with the absolute offset of their first byte.
    sealed: VecDeque<(u64, Bytes)>,
    /// The open chunk, starting at `tail_start`.
    tail: BytesMut,
    tail_start: u64,
    /// Absolute offset of the oldest retained byte.
    start: u64,
    closed: bool,
    next_reader: u64,
    /// Position of every attached reader.
    readers: HashMap<u64, u64>,
    /// Whether any reader ever attached.
    ever_read: bool,
    /// When the writer first wrote (start of the first-reader grace).
    first_write: Option<tokio::time::Instant>,
    /// Retained bytes counted in the account.
    counted: u64,
    /// The history was evicted: new readers are refused, and what the
    /// attached ones have read is dropped as they go.
    evicted: bool,
}

impl Inner {
    fn end(&self) -> u64 {
        self.tail_start + self.tail.len() as u64
    }

    fn retained(&self) -> u64 {
        self.end() - self.start
    }

    fn slowest_reader(&self) -> Option<u64> {
        self.readers.values().copied().min()
    }

    /// Brings the account in line with the retained bytes.
    fn settle(&mut self, account: Option<&Account>) {
        let Some(account) = account else { return };
        let now = self.retained();
        if now > self.counted {
            account.add_logs(now - self.counted);
        } else if now < self.counted {
            account.sub_logs(self.counted - now);
        }
        self.counted = now;
    }

    /// Drops the history no attached reader still needs (all of it without
    /// readers).
    fn drop_read(&mut self) {
        let keep_from = self.slowest_reader().unwrap_or(u64::MAX).min(self.end());
        self.trim((self.end() - keep_from) as usize);
    }

    fn seal_tail(&mut self) {
        if !self.tail.is_empty() {
            let chunk = self.tail.split().freeze();
            self.sealed.push_back((self.tail_start, chunk));
        }
        self.tail_start = self.end_of_sealed();
    }

    fn end_of_sealed(&self) -> u64 {
        self.sealed
            .back()
            .map(|(off, b)| off + b.len() as u64)
            .unwrap_or(self.tail_start)
    }

    fn append(&mut self, data: Bytes) {
        if data.len() < COALESCE_BELOW {
            self.tail.extend_from_slice(&data);
            if self.tail.len() >= SEAL_AT {
                self.seal_tail();
            }
        } else {
            self.seal_tail();
            let off = self.tail_start;
            self.tail_start += data.len() as u64;
            self.sealed.push_back((off, data));
        }
    }

    /// Drops the oldest sealed chunks while more than `retention` bytes are kept.
    fn trim(&mut self, retention: usize) {
        while self.retained() > retention as u64 {
            let Some((off, chunk)) = self.sealed.front() else {
                // Only the open chunk is left: seal it so it can be dropped.
                if self.tail.is_empty() {
                    break;
                }
                self.seal_tail();
                continue;
            };
            let chunk_end = off + chunk.len() as u64;
            let excess = self.retained() - retention as u64;
            if (chunk.len() as u64) <= excess {
                self.start = chunk_end;
                self.sealed.pop_front();
            } else {
                // Drop part of the chunk: keep the newest bytes.
                let cut = excess as usize;
                let (_, chunk) = self.sealed.front_mut().expect("front exists");
                *chunk = chunk.slice(cut..);
                self.sealed.front_mut().expect("front exists").0 += cut as u64;
                self.start += excess;
                break;
            }
        }
    }

    /// Up to `max` bytes starting at `pos` (which must be within the history).
    fn read_at(&self, pos: u64, max: usize) -> Bytes {
        if pos >= self.tail_start {
            let from = (pos - self.tail_start) as usize;
            let to = (from + max).min(self.tail.len());
            return Bytes::copy_from_slice(&self.tail[from..to]);
        }
        // Find the sealed chunk holding `pos`.
        let idx = match self.sealed.binary_search_by(|(off, _)| off.cmp(&pos)) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let (off, chunk) = &self.sealed[idx];
        let from = (pos - off) as usize;
        let first = chunk.slice(from..);
        if first.len() >= max {
            return first.slice(..max);
        }
        // A large piece goes out as it is (no copy); small ones are coalesced.
        if first.len() >= SEAL_AT / 2 {
            return first;
        }
        let mut buf = BytesMut::with_capacity(max.min(first.len() + SEAL_AT));
        buf.extend_from_slice(&first);
        let mut i = idx + 1;
        while buf.len() < max {
            let piece: &[u8] = match self.sealed.get(i) {
                Some((_, b)) => b,
                None => &self.tail,
            };
            let take = piece.len().min(max - buf.len());
            buf.extend_from_slice(&piece[..take]);
            if i >= self.sealed.len() {
                break;
            }
            i += 1;
        }
        buf.freeze()
    }
}

impl LogBuffer {
    /// An empty log keeping at most `retention` bytes of history (at least 1).
    pub fn new(retention: usize) -> Arc<Self> {
        Self::with_grace(retention, FIRST_READER_GRACE)
    }

    /// Like [`new`](Self::new), with another first-reader grace.
    pub fn with_grace(retention: usize, grace: std::time::Duration) -> Arc<Self> {
        Self::build(retention, grace, None)
    }

    /// Like [`with_grace`](Self::with_grace), counting the retained bytes in
    /// `account` (see the module docs).
    pub fn accounted(
        retention: usize,
        grace: std::time::Duration,
        account: Arc<Account>,
    ) -> Arc<Self> {
        Self::build(retention, grace, Some(account))
    }

    fn build(
        retention: usize,
        grace: std::time::Duration,
        account: Option<Arc<Account>>,
    ) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(Inner::default()),
            readers_wake: Notify::new(),
            writer_wake: Notify::new(),
            retention: retention.max(1),
            grace,
            account,
        })
    }

    /// A writer for the job's output. There is one writer per job.
    pub fn writer(self: &Arc<Self>) -> LogWriter {
        LogWriter {
            log: Arc::clone(self),
        }
    }

    /// Attaches a reader at the oldest retained byte.
    pub fn reader(self: &Arc<Self>) -> LogReader {
        let mut inner = self.inner.lock();
        let id = inner.next_reader;
        inner.next_reader += 1;
        let start = inner.start;
        inner.readers.insert(id, start);
        inner.ever_read = true;
        drop(inner);
        // A writer waiting for its first reader may go on.
        self.writer_wake.notify_waiters();
        LogReader {
            log: Arc::clone(self),
            id,
        }
    }

    /// Marks the log complete: readers finish once they have read everything.
    /// Returns whether any history is retained.
    pub fn close(&self) -> bool {
        let retained = {
            let mut inner = self.inner.lock();
            inner.closed = true;
            inner.retained() > 0
        };
        self.readers_wake.notify_waiters();
        self.writer_wake.notify_waiters();
        retained
    }

    /// Evicts the history (for a finished job, to stay within the memory
    /// budget): what no attached reader still needs is dropped now, the rest
    /// as they read it; [`is_evicted`](Self::is_evicted) holds from now on.
    /// Returns the bytes freed now.
    pub fn evict(&self) -> u64 {
        let mut inner = self.inner.lock();
        inner.evicted = true;
        let before = inner.retained();
        inner.drop_read();
        let freed = before - inner.retained();
        inner.settle(self.account.as_deref());
        freed
    }

    /// Whether the history was evicted ([`evict`](Self::evict)).
    pub fn is_evicted(&self) -> bool {
        self.inner.lock().evicted
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.lock().closed
    }

    /// Total bytes ever written.
    pub fn total_written(&self) -> u64 {
        self.inner.lock().end()
    }

    /// Bytes currently held in memory.
    pub fn retained_bytes(&self) -> u64 {
        self.inner.lock().retained()
    }

    /// Number of attached readers.
    pub fn reader_count(&self) -> usize {
        self.inner.lock().readers.len()
    }

    /// The whole retained history as one buffer (for tests and small logs).
    pub fn snapshot(&self) -> Bytes {
        let inner = self.inner.lock();
        let mut out = BytesMut::with_capacity(inner.retained() as usize);
        for (_, chunk) in &inner.sealed {
            out.extend_from_slice(chunk);
        }
        out.extend_from_slice(&inner.tail);
        out.freeze()
    }
}

/// The job's side of a [`LogBuffer`].
#[derive(Debug)]
pub struct LogWriter {
    log: Arc<LogBuffer>,
}

impl LogWriter {
    /// Appends `data`, waiting while an attached reader is more than the
    /// retention behind. Returns at once if the log was closed.
    pub async fn write(&mut self, data: impl Into<Bytes>) {
        let data = data.into();
        if data.is_empty() {
            return;
        }
        let log = &self.log;
        // Pressed (over the memory budget with nothing finished left to
        // evict), a running job keeps little history (see the module docs).
        let budget = log.account.as_ref().map(|a| a.budget());
        loop {
            let retention = match budget {
                Some(b) if b.pressed() => log.retention.min(PRESSURE_RETENTION),
                _ => log.retention,
            };
            let notified = log.writer_wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let mut wait_until = None;
            {
                let mut inner = log.inner.lock();
                if inner.closed {
                    return;
                }
                let end = inner.end();
                let now = tokio::time::Instant::now();
                let first_write = *inner.first_write.get_or_insert(now);
                let fits = match inner.slowest_reader() {
                    // Room left, a reader came and went, or the grace is over: write.
                    None if inner.ever_read
                        || inner.retained() + data.len() as u64 <= retention as u64
                        || now >= first_write + log.grace =>
                    {
                        true
                    }
                    None => {
                        wait_until = Some(first_write + log.grace);
                        false
                    }
                    // A caught-up reader never blocks, even for a chunk larger than the retention.
                    Some(pos) if pos >= end => true,
                    Some(pos) => end + data.len() as u64 - pos <= retention as u64,
                };
                if fits {
                    inner.append(data);
                    if let Some(slowest) = inner.slowest_reader() {
                        // Never drop what a reader still needs.
                        let keep_from = slowest.min(inner.end());
                        let needed = (inner.end() - keep_from) as usize;
                        inner.trim(retention.max(needed));
                    } else {
                        inner.trim(retention);
                    }
                    inner.settle(log.account.as_deref());
                    drop(inner);
                    log.readers_wake.notify_waiters();
                    // Over the budget now: evict finished history.
                    if let Some(b) = budget {
                        b.relieve();
                    }
                    return;
                }
            }
            match wait_until {
                Some(deadline) => {
                    tokio::select! {
                        () = notified => {}
                        () = tokio::time::sleep_until(deadline) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Appends a UTF-8 line (a newline is added).
    pub async fn line(&mut self, text: &str) {
        let mut s = String::with_capacity(text.len() + 1);
        s.push_str(text);
        s.push('\n');
        self.write(Bytes::from(s)).await;
    }

    /// The log this writer appends to.
    pub fn buffer(&self) -> &Arc<LogBuffer> {
        &self.log
    }
}

/// One reader of a [`LogBuffer`]: replays history, then follows until closed.
#[derive(Debug)]
pub struct LogReader {
    log: Arc<LogBuffer>,
    id: u64,
}

impl LogReader {
    /// The next piece of output (at most [`MAX_READ`] bytes), or `None` once the
    /// log is closed and everything was read.
    pub async fn next(&mut self) -> Option<Bytes> {
        let log = &self.log;
        loop {
            let notified = log.readers_wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut inner = log.inner.lock();
                let mut pos = inner.readers.get(&self.id).copied().unwrap_or(inner.start);
                if pos < inner.start {
                    pos = inner.start;
                }
                if pos < inner.end() {
                    let piece = inner.read_at(pos, MAX_READ);
                    inner.readers.insert(self.id, pos + piece.len() as u64);
                    if inner.evicted {
                        inner.drop_read();
                        inner.settle(log.account.as_deref());
                    }
                    drop(inner);
                    log.writer_wake.notify_waiters();
                    return Some(piece);
                }
                if inner.closed {
                    return None;
                }
            }
            notified.await;
        }
    }
}

impl Drop for LogReader {
    fn drop(&mut self) {
        {
            let mut inner = self.log.inner.lock();
            inner.readers.remove(&self.id);
            if inner.evicted {
                inner.drop_read();
                inner.settle(self.log.account.as_deref());
            }
        }
        self.log.writer_wake.notify_waiters();
    }
}

impl Drop for LogBuffer {
    fn drop(&mut self) {
        let counted = self.inner.get_mut().counted;
        if let Some(account) = self.account.as_ref().filter(|_| counted > 0) {
            account.sub_logs(counted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::Budget;

    async fn read_all(mut r: LogReader) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(b) = r.next().await {
            out.extend_from_slice(&b);
        }
        out
    }

    #[tokio::test]
    async fn replays_then_follows_then_ends() {
        let log = LogBuffer::new(1 << 20);
        let mut w = log.writer();
        w.write("a\n").await;
        let r = log.reader();
        let reading = tokio::spawn(read_all(r));
        w.write("b\n").await;
        w.write(Bytes::from(vec![b'x'; 100_000])).await;
        log.close();
        let out = reading.await.unwrap();
        assert_eq!(&out[..4], b"a\nb\n");
        assert_eq!(out.len(), 4 + 100_000);
    }

    #[tokio::test]
    async fn history_is_bounded_without_readers() {
        let log = LogBuffer::with_grace(1000, std::time::Duration::ZERO);
        let mut w = log.writer();
        for i in 0..10_000u32 {
            w.line(&i.to_string()).await;
        }
        assert!(log.retained_bytes() <= 1000, "{}", log.retained_bytes());
        log.close();
        let out = read_all(log.reader()).await;
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with("9998\n9999\n"), "{text}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_job_waits_for_its_first_reader_then_drops_history() {
        let log = LogBuffer::new(1000);
        let writer_log = Arc::clone(&log);
        let producer = tokio::spawn(async move {
            let mut w = writer_log.writer();
            for i in 0..1000u32 {
                w.line(&format!("{i:04}")).await;
            }
            writer_log.close();
        });
        // The history is full: the job waits for a reader, which gets everything.
        tokio::time::sleep(FIRST_READER_GRACE / 2).await;
        assert_eq!(log.total_written(), 1000);
        let out = read_all(log.reader()).await;
        producer.await.unwrap();
        assert_eq!(out.len(), 5000);
        assert!(out.starts_with(b"0000\n"));

        // Without any reader, after the grace the job goes on and drops history.
        let log = LogBuffer::new(1000);
        let mut w = log.writer();
        for i in 0..1000u32 {
            w.line(&format!("{i:04}")).await;
        }
        assert!(log.retained_bytes() <= 1000);
        assert_eq!(log.total_written(), 5000);
    }

    #[tokio::test]
    async fn slow_reader_gets_every_byte_and_memory_stays_bounded() {
        let retention = 4096;
        let log = LogBuffer::new(retention);
        let reader = log.reader();
        let writer_log = Arc::clone(&log);
        let producer = tokio::spawn(async move {
            let mut w = writer_log.writer();
            for i in 0..5000u32 {
                w.line(&format!("{i:06}")).await;
                assert!(writer_log.retained_bytes() <= (retention + 7) as u64);
            }
            writer_log.close();
        });
        let out = read_all(reader).await;
        producer.await.unwrap();
        let expected: String = (0..5000u32).map(|i| format!("{i:06}\n")).collect();
        assert_eq!(out, expected.as_bytes());
    }

    #[tokio::test]
    async fn several_readers_each_get_everything() {
        let log = LogBuffer::new(1 << 16);
        let readers: Vec<_> = (0..5)
            .map(|_| tokio::spawn(read_all(log.reader())))
            .collect();
        let mut w = log.writer();
        let big = Bytes::from(vec![7u8; 300_000]);
        w.write(big.clone()).await;
        w.write("tail").await;
        log.close();
        for r in readers {
            let out = r.await.unwrap();
            assert_eq!(out.len(), 300_004);
            assert_eq!(&out[300_000..], b"tail");
        }
    }

    fn accounted(retention: usize, budget: u64) -> (Arc<Budget>, Arc<Account>, Arc<LogBuffer>) {
        let budget = Budget::new(budget);
        let account = Account::new(&budget);
        let log = LogBuffer::accounted(retention, std::time::Duration::ZERO, Arc::clone(&account));
        (budget, account, log)
    }

    #[tokio::test]
    async fn the_account_follows_appends_trims_and_drop() {
        let (budget, account, log) = accounted(1000, 1 << 30);
        let mut w = log.writer();
        w.write(vec![b'a'; 600]).await;
        assert_eq!(account.log_bytes(), 600);
        w.write(vec![b'b'; 600]).await;
        assert_eq!(log.retained_bytes(), 1000);
        assert_eq!((account.log_bytes(), budget.logs()), (1000, 1000));
        drop(w);
        drop(log);
        assert_eq!((account.log_bytes(), budget.logs()), (0, 0));
    }

    #[tokio::test]
    async fn an_evicted_log_keeps_what_its_reader_has_not_read() {
        let (budget, _account, log) = accounted(1 << 20, 1 << 30);
        let mut w = log.writer();
        for b in [b'x', b'y', b'z'] {
            w.write(vec![b; 100_000]).await;
        }
        log.close();
        let mut reader = log.reader();
        let first = reader.next().await.unwrap();
        assert_eq!(&first[..], &[b'x'; 100_000][..]);
        // What was read goes; the rest waits for the reader.
        assert_eq!(log.evict(), 100_000);
        assert!(log.is_evicted());
        assert_eq!(budget.logs(), 200_000);
        let mut rest = Vec::new();
        while let Some(piece) = reader.next().await {
            rest.extend_from_slice(&piece);
        }
        assert_eq!(rest.len(), 200_000);
        assert!(rest.starts_with(b"yyy") && rest.ends_with(b"zzz"));
        drop(reader);
        assert_eq!((log.retained_bytes(), budget.logs()), (0, 0));
        // Without readers, eviction drops everything at once.
        let (budget, _account, log) = accounted(1 << 20, 1 << 30);
        log.writer().write("gone\n").await;
        log.close();
        assert_eq!(log.evict(), 5);
        assert_eq!(budget.logs(), 0);
    }

    #[tokio::test]
    async fn a_pressed_budget_leaves_running_jobs_little_history() {
        // 1 MiB of budget and nothing finished to evict: each time the job
        // goes over, its next write trims it to PRESSURE_RETENTION, so it
        // never holds more than the budget and one chunk (not its 64 MiB).
        let (budget, _account, log) = accounted(64 << 20, 1 << 20);
        let mut w = log.writer();
        let (mut most, mut pressed, mut trimmed) = (0, false, false);
        for _ in 0..64 {
            w.write(vec![b'p'; 64 << 10]).await;
            most = most.max(log.retained_bytes());
            pressed |= budget.pressed();
            trimmed |= log.retained_bytes() <= (PRESSURE_RETENTION + (64 << 10)) as u64
                && log.total_written() > 1 << 20;
            assert_eq!(budget.logs(), log.retained_bytes());
        }
        assert!(pressed && trimmed);
        assert!(most <= (1 << 20) + (64 << 10), "{most}");
        assert_eq!(log.total_written(), 4 << 20);
    }

    #[tokio::test]
    async fn a_reader_that_leaves_unblocks_the_writer() {
        let log = LogBuffer::new(10);
        let mut reader = log.reader();
        let mut w = log.writer();
        w.write("0123456789").await;
        let _ = reader.next().await;
        w.write("abcdefghij").await;
        // The reader is now 10 bytes behind: the next write would wait for it.
        let blocked = {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let mut w = log.writer();
                w.write("more").await;
            })
        };
        tokio::task::yield_now().await;
        drop(reader);
        blocked.await.unwrap();
        assert_eq!(log.reader_count(), 0);
        assert_eq!(log.total_written(), 24);
    }
}
