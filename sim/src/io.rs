//! Where a simulated command's output goes.
//!
//! Everything a job writes ends up in its [`Output`] (the job's log in the
//! mock), but on the way it may pass through *frames*: a command substitution
//! captures, `| head -n 3` cuts, `| wc -l` counts, `> file` stores,
//! `| some-command-that-never-reads` drops. Stdout and stderr are [`Route`]s
//! into that stack, so `2>&1`, `>&2` and `>/dev/null` are just route
//! assignments.
//!
//! Output headed for the log is batched (up to [`FLUSH_AT`] bytes) and flushed
//! before every sleep, once it has been pending for 50 ms, and at the end of
//! the job, so bulk output costs one [`Output::write`] per 64 KiB while live
//! output still streams on time. Large pieces (e.g. the zero-copy blocks of
//! `head -c N /dev/zero`) bypass the batch and go to the log as they are.
//! Waits go through the job's [`Clock`].

use bytes::{Bytes, BytesMut};

use crate::host::{Clock, Output};

/// Pending log output is flushed once it reaches this size.
pub(crate) const FLUSH_AT: usize = 64 * 1024;
/// Pending output older than this is flushed at the next opportunity, so a
/// busy command that prints little still streams.
const FLUSH_AFTER: std::time::Duration = std::time::Duration::from_millis(50);
/// Pieces at least this large go to the log as they are (no copy).
const DIRECT_AT: usize = 16 * 1024;

/// `/dev/zero`, shared by every job.
pub(crate) static ZEROS: [u8; 262_144] = [0; 262_144];
/// `yes` output: "y\n" repeated.
pub(crate) static YES: [u8; 131_072] = y_block();
/// Scenario filler: lines of 63 'x' and a newline.
pub(crate) static XLINES: [u8; 65_536] = x_block();

const fn y_block() -> [u8; 131_072] {
    let mut a = [b'y'; 131_072];
    let mut i = 1;
    while i < a.len() {
        a[i] = b'\n';
        i += 2;
    }
    a
}

const fn x_block() -> [u8; 65_536] {
    let mut a = [b'x'; 65_536];
    let mut i = 63;
    while i < a.len() {
        a[i] = b'\n';
        i += 64;
    }
    a
}

/// The reader went away (SIGPIPE), a capture is full, or the log is closed:
/// the writer should stop producing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Broken;

/// Where a file descriptor points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// The job's log.
    Log,
    /// `/dev/null`.
    Null,
    /// A frame of the stack.
    Frame(usize),
}

/// A stage that output passes through.
#[derive(Debug)]
enum Frame {
    /// Keeps everything (command substitution, `> file`), up to `limit` bytes.
    Capture {
        buf: BytesMut,
        limit: usize,
        truncated: bool,
    },
    /// A streaming filter (`head`, `tail`, `wc`, `cat`) and where its output goes.
    Filter {
        filter: Filter,
        next: Route,
        done: bool,
    },
}

/// What `wc` counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WcWhat {
    pub lines: bool,
    pub words: bool,
    pub chars: bool,
    pub bytes: bool,
}

/// Counters of `wc`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WcCounts {
    pub lines: u64,
    pub words: u64,
    pub chars: u64,
    pub bytes: u64,
    in_word: bool,
}

impl WcCounts {
    pub(crate) fn add(&mut self, data: &[u8]) {
        self.bytes += data.len() as u64;
        for &b in data {
            if b == b'\n' {
                self.lines += 1;
            }
            if (b & 0xC0) != 0x80 {
                self.chars += 1;
            }
            let space = matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
            if space {
                self.in_word = false;
            } else if !self.in_word {
                self.in_word = true;
                self.words += 1;
            }
        }
    }

    /// The counts `what` selects, in GNU order (lines, words, chars, bytes).
    pub(crate) fn selected(&self, what: WcWhat) -> Vec<u64> {
        let mut v = Vec::with_capacity(4);
        if what.lines {
            v.push(self.lines);
        }
        if what.words {
            v.push(self.words);
        }
        if what.chars {
            v.push(self.chars);
        }
        if what.bytes {
            v.push(self.bytes);
        }
        v
    }
}

/// Formats one `wc` output line: each count right-aligned to `width`.
pub(crate) fn wc_line(counts: &[u64], width: usize, name: Option<&str>) -> String {
    let mut s = String::new();
    for (i, c) in counts.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&format!("{c:>width$}"));
    }
    if let Some(name) = name {
        s.push(' ');
        s.push_str(name);
    }
    s.push('\n');
    s
}

/// Keeps at most this much for `tail` (a bound on memory, not on correctness
/// for realistic inputs).
const TAIL_KEEP_MAX: usize = 64 << 20;

/// A streaming pipeline stage.
#[derive(Debug)]
pub(crate) enum Filter {
    /// `head -n N`: the first N lines.
    HeadLines(u64),
    /// `head -c N`: the first N bytes.
    HeadBytes(u64),
    /// `cat`: everything.
    Cat,
    /// `wc`: counts, printed at the end.
    Wc { what: WcWhat, counts: WcCounts },
    /// `tail -n N`: the last N lines, printed at the end.
    TailLines { n: u64, buf: BytesMut },
    /// `tail -c N`: the last N bytes, printed at the end.
    TailBytes { n: u64, buf: BytesMut },
}

impl Filter {
    /// Takes `data`; returns what passes on, whether the filter wants no more
    /// input, and whether part of `data` was refused.
    fn feed(&mut self, data: Bytes) -> (Option<Bytes>, bool, bool) {
        match self {
            Filter::HeadLines(rem) => {
                if *rem == 0 {
                    return (None, true, !data.is_empty());
                }
                let mut seen = 0u64;
                for (i, &b) in data.iter().enumerate() {
                    if b == b'\n' {
                        seen += 1;
                        if seen == *rem {
                            *rem = 0;
                            let refused = i + 1 < data.len();
                            return (Some(data.slice(..=i)), true, refused);
                        }
                    }
                }
                *rem -= seen;
                (Some(data), false, false)
            }
            Filter::HeadBytes(rem) => {
                let take = (*rem).min(data.len() as u64) as usize;
                *rem -= take as u64;
                let refused = take < data.len();
                (Some(data.slice(..take)), *rem == 0, refused)
            }
            Filter::Cat => (Some(data), false, false),
            Filter::Wc { counts, .. } => {
                counts.add(&data);
                (None, false, false)
            }
            Filter::TailLines { n, buf } => {
                buf.extend_from_slice(&data);
                if buf.len() > (4 * FLUSH_AT).max(1) {
                    let start = tail_lines_start(buf, *n);
                    let start = start.max(buf.len().saturating_sub(TAIL_KEEP_MAX));
                    let _ = buf.split_to(start);
                }
                (None, false, false)
            }
            Filter::TailBytes { n, buf } => {
                buf.extend_from_slice(&data);
                let keep = (*n).min(TAIL_KEEP_MAX as u64) as usize;
                if buf.len() > keep + FLUSH_AT {
                    let cut = buf.len() - keep;
                    let _ = buf.split_to(cut);
                }
                (None, false, false)
            }
        }
    }

    /// What the filter prints once its input ends.
    fn finish(self) -> Option<Bytes> {
        match self {
            Filter::Wc { what, counts } => {
                let sel = counts.selected(what);
                let width = if sel.len() == 1 { 1 } else { 7 };
                Some(Bytes::from(wc_line(&sel, width, None)))
            }
            Filter::TailLines { n, mut buf } => {
                let start = tail_lines_start(&buf, n);
                Some(buf.split_off(start).freeze())
            }
            Filter::TailBytes { n, mut buf } => {
                let keep = (n.min(buf.len() as u64)) as usize;
                let cut = buf.len() - keep;
                Some(buf.split_off(cut).freeze())
            }
            Filter::HeadLines(_) | Filter::HeadBytes(_) | Filter::Cat => None,
        }
    }
}

/// Where the last `n` lines of `buf` start (a final line without a newline counts).
pub(crate) fn tail_lines_start(buf: &[u8], n: u64) -> usize {
    if n == 0 {
        return buf.len();
    }
    let mut end = buf.len();
    if end > 0 && buf[end - 1] == b'\n' {
        end -= 1;
    }
    let mut seen = 0u64;
    for i in (0..end).rev() {
        if buf[i] == b'\n' {
            seen += 1;
            if seen == n {
                return i + 1;
            }
        }
    }
    0
}

/// The output side of a running job.
#[derive(Debug)]
pub(crate) struct Io<'a, O, C> {
    log: &'a mut O,
    pending: BytesMut,
    /// When pending output was last handed to the log (real time).
    last_flush: std::time::Instant,
    frames: Vec<Frame>,
    clock: C,
    /// Where stdout goes.
    pub stdout: Route,
    /// Where stderr goes.
    pub stderr: Route,
}

impl<'a, O: Output, C: Clock> Io<'a, O, C> {
    pub(crate) fn new(log: &'a mut O, clock: C) -> Self {
        Self {
            log,
            pending: BytesMut::new(),
            last_flush: std::time::Instant::now(),
            frames: Vec::new(),
            clock,
            stdout: Route::Log,
            stderr: Route::Log,
        }
    }

    /// Writes to stdout.
    pub(crate) async fn out(&mut self, data: Bytes) -> Result<(), Broken> {
        let route = self.stdout;
        self.send(route, data).await
    }

    /// Writes a small piece to stdout (copied only if it does not go straight to the log).
    pub(crate) async fn out_slice(&mut self, data: &[u8]) -> Result<(), Broken> {
        if data.is_empty() {
            return Ok(());
        }
        if self.stdout == Route::Log {
            tokio::task::consume_budget().await;
            self.pending.extend_from_slice(data);
            if self.pending.len() >= FLUSH_AT || self.last_flush.elapsed() >= FLUSH_AFTER {
                self.flush().await?;
            }
            return Ok(());
        }
        let route = self.stdout;
        self.send(route, Bytes::copy_from_slice(data)).await
    }

    /// Writes to stderr (errors of the stderr route are ignored).
    pub(crate) async fn err_slice(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let route = self.stderr;
        let _ = self.send(route, Bytes::copy_from_slice(data)).await;
    }

    /// Writes a line to stderr.
    pub(crate) async fn err_line(&mut self, text: &str) {
        let mut s = String::with_capacity(text.len() + 1);
        s.push_str(text);
        s.push('\n');
        self.err_slice(s.as_bytes()).await;
    }

    /// Sends `data` along `route` through the frames.
    pub(crate) async fn send(&mut self, route: Route, data: Bytes) -> Result<(), Broken> {
        tokio::task::consume_budget().await;
        let mut route = route;
        let mut data = data;
        let mut broken = false;
        loop {
            if data.is_empty() {
                break;
            }
            match route {
                Route::Null => break,
                Route::Log => {
                    self.log_bytes(data).await?;
                    break;
                }
                Route::Frame(i) => {
                    let Some(frame) = self.frames.get_mut(i) else {
                        break;
                    };
                    match frame {
                        Frame::Capture {
                            buf,
                            limit,
                            truncated,
                        } => {
                            let room = limit.saturating_sub(buf.len());
                            if data.len() > room {
                                buf.extend_from_slice(&data[..room]);
                                *truncated = true;
                                broken = true;
                            } else {
                                buf.extend_from_slice(&data);
                            }
                            break;
                        }
                        Frame::Filter { filter, next, done } => {
                            if *done {
                                broken = true;
                                break;
                            }
                            let (passed, finished, refused) = filter.feed(data);
                            if finished {
                                *done = true;
                            }
                            if refused {
                                broken = true;
                            }
                            match passed {
                                Some(p) => {
                                    data = p;
                                    route = *next;
                                }
                                None => break,
                            }
                        }
                    }
                }
            }
        }
        if broken { Err(Broken) } else { Ok(()) }
    }

    async fn log_bytes(&mut self, data: Bytes) -> Result<(), Broken> {
        if data.len() >= DIRECT_AT {
            self.flush().await?;
            self.log.write(data).await;
            return self.check_open();
        }
        self.pending.extend_from_slice(&data);
        if self.pending.len() >= FLUSH_AT || self.last_flush.elapsed() >= FLUSH_AFTER {
            self.flush().await?;
        }
        Ok(())
    }

    fn check_open(&self) -> Result<(), Broken> {
        if self.log.is_closed() {
            Err(Broken)
        } else {
            Ok(())
        }
    }

    /// Hands pending output to the log (waits while readers are slow).
    pub(crate) async fn flush(&mut self) -> Result<(), Broken> {
        if !self.pending.is_empty() {
            let chunk = self.pending.split().freeze();
            self.log.write(chunk).await;
            self.last_flush = std::time::Instant::now();
            self.check_open()?;
        }
        tokio::task::consume_budget().await;
        Ok(())
    }

    /// Flushes output that has been pending for a while (called between commands).
    pub(crate) async fn tick(&mut self) {
        if !self.pending.is_empty() && self.last_flush.elapsed() >= FLUSH_AFTER {
            let _ = self.flush().await;
        } else {
            tokio::task::consume_budget().await;
        }
    }

    /// Flushes, then sleeps for `dur` (`None`: forever, until the job is stopped).
    pub(crate) async fn sleep(&mut self, dur: Option<std::time::Duration>) {
        let _ = self.flush().await;
        match dur {
            Some(d) => self.clock.job_sleep(d).await,
            None => std::future::pending::<()>().await,
        }
    }

    /// Starts capturing stdout; returns the frame for [`Io::end_capture`].
    pub(crate) fn begin_capture(&mut self, limit: usize) -> usize {
        self.frames.push(Frame::Capture {
            buf: BytesMut::new(),
            limit,
            truncated: false,
        });
        self.frames.len() - 1
    }

    /// Ends the capture started as `frame`: what was captured and whether it was cut.
    pub(crate) fn end_capture(&mut self, frame: usize) -> (Bytes, bool) {
        let mut out = (Bytes::new(), false);
        while self.frames.len() > frame {
            if let Some(Frame::Capture { buf, truncated, .. }) = self.frames.pop() {
                out = (buf.freeze(), truncated);
            }
        }
        out
    }

    /// How many frames are stacked.
    pub(crate) fn frame_count(&self) -> usize {
        self.frames.len()
    }

    /// Drops frames above the first `n` (after a command was cut short).
    pub(crate) fn truncate_frames(&mut self, n: usize) {
        self.frames.truncate(n);
    }

    /// Pushes a filter whose output goes to `next`.
    pub(crate) fn begin_filter(&mut self, filter: Filter, next: Route) -> usize {
        self.frames.push(Frame::Filter {
            filter,
            next,
            done: false,
        });
        self.frames.len() - 1
    }

    /// Pops the topmost frame, which must be the filter `frame`, and sends its final output on.
    pub(crate) async fn end_filter(&mut self, frame: usize) {
        if self.frames.len() != frame + 1 {
            self.frames.truncate(frame + 1);
        }
        if let Some(Frame::Filter { filter, next, .. }) = self.frames.pop()
            && let Some(tail) = filter.finish()
        {
            let _ = self.send(next, tail).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Collect, TokioClock};

    #[test]
    fn static_blocks() {
        assert!(YES.chunks(2).all(|c| c == b"y\n"));
        assert!(
            XLINES
                .chunks(64)
                .all(|c| c[..63].iter().all(|&b| b == b'x') && c[63] == b'\n')
        );
    }

    #[test]
    fn tail_start() {
        assert_eq!(tail_lines_start(b"a\nb\nc\n", 2), 2);
        assert_eq!(tail_lines_start(b"a\nb\nc", 2), 2);
        assert_eq!(tail_lines_start(b"a\nb\nc\n", 5), 0);
        assert_eq!(tail_lines_start(b"a\n", 0), 2);
    }

    #[tokio::test]
    async fn head_filter_cuts_and_breaks() {
        let mut w = Collect::default();
        let mut io = Io::new(&mut w, TokioClock);
        let f = io.begin_filter(Filter::HeadLines(3), Route::Log);
        io.stdout = Route::Frame(f);
        assert_eq!(io.out(Bytes::from_static(b"1\n2\n")).await, Ok(()));
        assert_eq!(io.out(Bytes::from_static(b"3\n4\n")).await, Err(Broken));
        assert_eq!(io.out(Bytes::from_static(b"5\n")).await, Err(Broken));
        io.end_filter(f).await;
        io.stdout = Route::Log;
        io.flush().await.unwrap();
        drop(io);
        assert_eq!(&w.data[..], b"1\n2\n3\n");
    }

    #[tokio::test]
    async fn capture_limit() {
        let mut w = Collect::default();
        let mut io = Io::new(&mut w, TokioClock);
        let c = io.begin_capture(4);
        io.stdout = Route::Frame(c);
        assert_eq!(io.out_slice(b"abc").await, Ok(()));
        assert_eq!(io.out_slice(b"def").await, Err(Broken));
        let (got, cut) = io.end_capture(c);
        assert_eq!(&got[..], b"abcd");
        assert!(cut);
    }
}
