//! Small [`Output`] and [`Clock`] implementations for the crate's tests.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;

use crate::host::{Clock, Output};

/// Keeps everything written, in memory.
#[derive(Debug, Default)]
pub(crate) struct Collect {
    pub(crate) data: BytesMut,
    /// How many times `write` was called.
    pub(crate) writes: usize,
}

impl Collect {
    /// What was written, as text.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

impl Output for Collect {
    async fn write(&mut self, data: Bytes) {
        self.writes += 1;
        self.data.extend_from_slice(&data);
    }

    fn is_closed(&self) -> bool {
        false
    }
}

/// The writing end of a [`pipe`]: waits while `capacity` pieces are unread,
/// closed once the reader is gone.
#[derive(Debug)]
pub(crate) struct PipeWriter(mpsc::Sender<Bytes>);

/// The reading end of a [`pipe`].
#[derive(Debug)]
pub(crate) struct PipeReader(mpsc::Receiver<Bytes>);

/// A bounded pipe of `capacity` pieces: a slow reader slows the writer down.
pub(crate) fn pipe(capacity: usize) -> (PipeWriter, PipeReader) {
    let (tx, rx) = mpsc::channel(capacity);
    (PipeWriter(tx), PipeReader(rx))
}

impl Output for PipeWriter {
    async fn write(&mut self, data: Bytes) {
        let _ = self.0.send(data).await;
    }

    fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

impl PipeReader {
    /// The next piece, or `None` once the writer is gone and all was read.
    pub(crate) async fn next(&mut self) -> Option<Bytes> {
        self.0.recv().await
    }
}

/// Wall time, and tokio's timers (so paused-time tests see their sleeps).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TokioClock;

impl Clock for TokioClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }

    fn monotonic_ms(&self) -> i64 {
        static BASE: std::sync::OnceLock<tokio::time::Instant> = std::sync::OnceLock::new();
        let base = *BASE.get_or_init(tokio::time::Instant::now);
        tokio::time::Instant::now()
            .saturating_duration_since(base)
            .as_millis() as i64
    }

    fn job_sleep(&self, d: Duration) -> impl Future<Output = ()> + Send + use<> {
        tokio::time::sleep(d)
    }

    fn sleep(&self, d: Duration) -> impl Future<Output = ()> + Send + use<> {
        tokio::time::sleep(d)
    }
}
