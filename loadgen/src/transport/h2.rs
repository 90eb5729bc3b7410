//! One HTTP/2 connection (RFC 9113), client side, as gRPC uses it.
//!
//! A single driver task owns the socket. Callers append their frames (a
//! HEADERS frame from the connection's HPACK encoder and the DATA frame of
//! the pre-encoded request) to a shared output buffer and wake the driver;
//! the driver writes everything pending in one go, reads whatever arrived,
//! parses every complete frame, and applies them under one lock: DATA is
//! queued on its stream (zero-copy slices of the read buffer), a stream that
//! ends wakes its caller once. Flow control: received bytes are given back
//! to the server (WINDOW_UPDATE) as callers consume them, so a slow reader
//! holds at most one window in memory; sends respect the server's windows.
//! SETTINGS, PING, GOAWAY and RST_STREAM are handled; push is refused. No
//! stream opens before the server's first SETTINGS frame has been applied
//! (its stream limit, window and frame size hold from the first request).
//! A stream the server refused (RST_STREAM REFUSED_STREAM) or never
//! processed (above a GOAWAY's last stream ID) ends as
//! [`Failure::Unprocessed`], which the caller may send again.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite};

use super::counters::Counters;
use super::error::{CallError, Failure};
use super::frame::{
    ACK, CONTINUATION, DATA, DEFAULT_MAX_FRAME, DEFAULT_WINDOW, END_HEADERS, END_STREAM, Event,
    GOAWAY, HEADERS, PING, PREFACE, REFUSED_STREAM, RST_STREAM, Reader, SETTINGS, WINDOW_UPDATE,
    error_code_of, frame_header, protocol,
};
use super::grpc::{self, Code};
use super::hpack::{self, Encoder, Fields, RequestHeaders};
use super::settings::H2Settings;

/// Identity hashing for stream IDs (they are unique odd numbers).
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type IdMap<V> = HashMap<u32, V, BuildHasherDefault<IdHasher>>;

#[derive(Debug, Default)]
struct Stream {
    data: VecDeque<Bytes>,
    /// Flow-controlled bytes received and not yet handed to the caller.
    queued: usize,
    /// Bytes handed to the caller and not yet given back to the server.
    consumed: usize,
    headers: Option<Fields>,
    trailers: Option<Fields>,
    end: Option<Result<(), Failure>>,
    waker: Option<Waker>,
    send_window: i64,
    /// Whether the server sent anything on the stream (HEADERS or DATA).
    answered: bool,
}

impl Stream {
    fn finish(&mut self, result: Result<(), Failure>) {
        if self.end.is_none() {
            self.end = Some(result);
        }
    }

    /// Ends the stream as one the server did not process (refused, or above
    /// a GOAWAY's last stream ID), unless it already answered something.
    fn refuse(&mut self, error: CallError) {
        self.finish(Err(if self.answered {
            Failure::Failed(error)
        } else {
            Failure::Unprocessed(error)
        }));
    }

    /// The outcome once the server ended the stream.
    fn outcome(&self) -> Result<(), CallError> {
        let Some(h) = &self.headers else {
            return Err(CallError::new(
                Code::Internal,
                "the stream ended without headers",
            ));
        };
        match h.status {
            Some(200) => {}
            Some(s) => {
                return Err(CallError::new(
                    grpc::code_from_http(s),
                    format!("HTTP status {s}"),
                ));
            }
            None => return Err(CallError::new(Code::Internal, "response without :status")),
        }
        // Trailers, or a trailers-only response.
        let f = self.trailers.as_ref().unwrap_or(h);
        match f.grpc_status {
            Some(0) => Ok(()),
            Some(code) => Err(CallError::new(
                Code::from_i32(code),
                f.grpc_message
                    .as_deref()
                    .map(grpc::decode_message)
                    .unwrap_or_default(),
            )),
            None => Err(CallError::new(
                Code::Internal,
                "the response ended without grpc-status",
            )),
        }
    }
}

#[derive(Debug)]
struct Inner {
    out: BytesMut,
    streams: IdMap<Stream>,
    next_id: u32,
    max_streams: usize,
    slot_waiters: VecDeque<Waker>,
    conn_send_window: i64,
    peer_initial_window: i64,
    peer_max_frame: usize,
    /// DATA waiting for send window: (stream, bytes, end of stream).
    blocked: VecDeque<(u32, Bytes)>,
    conn_consumed: usize,
    encoder: Encoder,
    error: Option<CallError>,
    /// GOAWAY received: streams above this ID were refused.
    draining: Option<u32>,
    /// The handles are gone: the driver closes the connection.
    closing: bool,
    /// The server's first SETTINGS frame was applied: streams may open.
    settings_seen: bool,
    /// A keepalive PING was sent and its ACK has not come back.
    ping_outstanding: bool,
    driver: Option<Waker>,
    driver_woken: bool,
}

/// The state of one connection shared by its driver and its callers.
#[derive(Debug)]
pub(crate) struct Shared {
    inner: Mutex<Inner>,
    headers: Arc<RequestHeaders>,
    settings: H2Settings,
    label: String,
    counters: Arc<Counters>,
}

/// What a poll of a stream gives: the DATA received meanwhile (moved into
/// the caller's batch) and the outcome once the stream is over.
pub(crate) type StreamPoll = Option<Result<(), Failure>>;

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn wake_driver(inner: &mut Inner) -> Option<Waker> {
        if inner.driver_woken {
            return None;
        }
        inner.driver_woken = true;
        inner.driver.clone()
    }

    /// Opens a stream for RPC number `rpc` with the framed request `body`;
    /// waits for the server's first SETTINGS, and while its stream limit is
    /// reached. A connection that cannot take the stream fails it as
    /// [`Failure::Unprocessed`]: nothing was sent.
    pub(crate) fn poll_open(
        &self,
        cx: &mut Context<'_>,
        rpc: usize,
        body: &Bytes,
    ) -> Poll<Result<u32, Failure>> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        if let Some(e) = &inner.error {
            return Poll::Ready(Err(Failure::Unprocessed(e.clone())));
        }
        if inner.draining.is_some() || inner.closing || inner.next_id >= 0x7fff_fff0 {
            return Poll::Ready(Err(Failure::Unprocessed(CallError::new(
                Code::Unavailable,
                format!("the connection to {} is going away", self.label),
            ))));
        }
        if !inner.settings_seen || inner.streams.len() >= inner.max_streams {
            inner.slot_waiters.push_back(cx.waker().clone());
            return Poll::Pending;
        }
        let id = inner.next_id;
        inner.next_id += 2;
        // HEADERS (and CONTINUATION when the block exceeds a frame).
        let mut block = BytesMut::new();
        inner.encoder.encode(&self.headers, rpc, &mut block);
        let max = inner.peer_max_frame;
        let mut first = true;
        while first || !block.is_empty() {
            let chunk = block.split_to(block.len().min(max));
            let last = block.is_empty();
            let (kind, flags) = if first {
                (HEADERS, if last { END_HEADERS } else { 0 })
            } else {
                (CONTINUATION, if last { END_HEADERS } else { 0 })
            };
            frame_header(&mut inner.out, chunk.len(), kind, flags, id);
            inner.out.put_slice(&chunk);
            first = false;
        }
        let mut stream = Stream {
            send_window: inner.peer_initial_window,
            ..Default::default()
        };
        Self::send_data(inner, &mut stream, id, body.clone());
        inner.streams.insert(id, stream);
        let waker = Self::wake_driver(inner);
        drop(guard);
        if let Some(w) = waker {
            w.wake();
        }
        Poll::Ready(Ok(id))
    }

    /// Queues `data` (the whole request, ending the stream), as far as the
    /// windows allow; the rest waits for WINDOW_UPDATE.
    fn send_data(inner: &mut Inner, stream: &mut Stream, id: u32, mut data: Bytes) {
        loop {
            let allowed = inner
                .conn_send_window
                .min(stream.send_window)
                .max(0)
                .min(inner.peer_max_frame as i64) as usize;
            if data.len() <= allowed {
                frame_header(&mut inner.out, data.len(), DATA, END_STREAM, id);
                inner.out.put_slice(&data);
                inner.conn_send_window -= data.len() as i64;
                stream.send_window -= data.len() as i64;
                return;
            }
            if allowed == 0 {
                inner.blocked.push_back((id, data));
                return;
            }
            let part = data.split_to(allowed);
            frame_header(&mut inner.out, part.len(), DATA, 0, id);
            inner.out.put_slice(&part);
            inner.conn_send_window -= part.len() as i64;
            stream.send_window -= part.len() as i64;
        }
    }

    /// Moves the stream's received DATA into `batch`; the outcome once it is
    /// over.
    pub(crate) fn poll_stream(
        &self,
        cx: &mut Context<'_>,
        id: u32,
        batch: &mut Vec<Bytes>,
    ) -> Poll<StreamPoll> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let Some(s) = inner.streams.get_mut(&id) else {
            return Poll::Ready(Some(Err(Failure::Failed(
                inner
                    .error
                    .clone()
                    .unwrap_or_else(|| CallError::new(Code::Internal, "the stream is gone")),
            ))));
        };
        let mut wake = None;
        if !s.data.is_empty() {
            batch.extend(s.data.drain(..));
            s.consumed += s.queued;
            inner.conn_consumed += s.queued;
            s.queued = 0;
            // Give the bytes back to the server in batches of a quarter window.
            if s.end.is_none() && s.consumed >= (self.settings.stream_window / 4) as usize {
                frame_header(&mut inner.out, 4, WINDOW_UPDATE, 0, id);
                inner.out.put_u32(s.consumed as u32);
                s.consumed = 0;
                wake = Self::wake_driver(inner);
            }
        }
        let s = inner.streams.get_mut(&id).expect("still there");
        let done = if s.end.is_some() && s.data.is_empty() {
            let r = s.end.take();
            inner.streams.remove(&id);
            r
        } else {
            None
        };
        if inner.conn_consumed >= (self.settings.connection_window / 4) as usize {
            frame_header(&mut inner.out, 4, WINDOW_UPDATE, 0, 0);
            inner.out.put_u32(inner.conn_consumed as u32);
            inner.conn_consumed = 0;
            wake = wake.or_else(|| Self::wake_driver(inner));
        }
        let pending = done.is_none() && batch.is_empty();
        if pending && let Some(s) = inner.streams.get_mut(&id) {
            match &s.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => s.waker = Some(cx.waker().clone()),
            }
        }
        let slot_waker = if done.is_some() {
            inner.slot_waiters.pop_front()
        } else {
            None
        };
        drop(guard);
        if let Some(w) = wake {
            w.wake();
        }
        if let Some(w) = slot_waker {
            w.wake();
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(done)
        }
    }

    /// The caller gave up on a stream: reset it (CANCEL) if still open.
    pub(crate) fn cancel(&self, id: u32) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        if let Some(s) = inner.streams.remove(&id) {
            inner.conn_consumed += s.queued;
            if s.end.is_none() && inner.error.is_none() {
                frame_header(&mut inner.out, 4, RST_STREAM, 0, id);
                inner.out.put_u32(0x8);
            }
            inner.blocked.retain(|(b, _)| *b != id);
            let w = Self::wake_driver(inner);
            let slot = inner.slot_waiters.pop_front();
            drop(guard);
            for w in [w, slot].into_iter().flatten() {
                w.wake();
            }
        }
    }

    /// The handles are gone: close when idle.
    pub(crate) fn close(&self) {
        let mut inner = self.lock();
        inner.closing = true;
        inner.driver_woken = true;
        let w = inner.driver.clone();
        drop(inner);
        if let Some(w) = w {
            w.wake();
        }
    }

    /// Whether the connection can take new streams.
    pub(crate) fn usable(&self) -> bool {
        let inner = self.lock();
        inner.error.is_none() && inner.draining.is_none() && !inner.closing
    }
}

impl Shared {
    /// Applies parsed frames; collects the wakers to call after unlocking.
    fn apply(&self, events: &mut Vec<Event>, wakers: &mut Vec<Waker>) -> Result<(), CallError> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        for ev in events.drain(..) {
            match ev {
                Event::Data {
                    id,
                    payload,
                    flow,
                    end,
                } => match inner.streams.get_mut(&id) {
                    Some(s) if s.end.is_none() => {
                        s.answered = true;
                        if !payload.is_empty() {
                            s.data.push_back(payload);
                        }
                        s.queued += flow;
                        if end {
                            let r = s.outcome();
                            s.finish(r.map_err(Failure::Failed));
                        }
                        if let Some(w) = s.waker.take() {
                            wakers.push(w);
                        }
                    }
                    // A stream we reset: give the bytes back at once.
                    _ => inner.conn_consumed += flow,
                },
                Event::Headers { id, fields, end } => {
                    if let Some(s) = inner.streams.get_mut(&id) {
                        s.answered = true;
                        if s.headers.is_none() {
                            if fields.status.is_some_and(|c| (100..200).contains(&c)) {
                                continue;
                            }
                            s.headers = Some(fields);
                        } else {
                            s.trailers = Some(fields);
                        }
                        if end {
                            let r = s.outcome();
                            s.finish(r.map_err(Failure::Failed));
                            if let Some(w) = s.waker.take() {
                                wakers.push(w);
                            }
                        }
                    }
                }
                Event::Reset { id, reason } => {
                    if let Some(s) = inner.streams.get_mut(&id) {
                        let (code, name) = error_code_of(reason);
                        let e =
                            CallError::new(code, format!("stream reset by the server ({name})"));
                        if reason == REFUSED_STREAM {
                            s.refuse(e);
                        } else {
                            s.finish(Err(Failure::Failed(e)));
                        }
                        if let Some(w) = s.waker.take() {
                            wakers.push(w);
                        }
                    }
                    inner.blocked.retain(|(b, _)| *b != id);
                }
                Event::Settings(pairs) => {
                    for (k, v) in pairs {
                        match k {
                            0x1 => inner
                                .encoder
                                .set_max((v as usize).min(hpack::DEFAULT_TABLE_SIZE)),
                            0x3 => inner.max_streams = v as usize,
                            0x4 => {
                                if v > 0x7fff_ffff {
                                    return Err(protocol("initial window above 2^31-1"));
                                }
                                let delta = i64::from(v) - inner.peer_initial_window;
                                inner.peer_initial_window = i64::from(v);
                                for s in inner.streams.values_mut() {
                                    s.send_window += delta;
                                }
                            }
                            0x5 => {
                                if !(16_384..=16_777_215).contains(&v) {
                                    return Err(protocol("bad SETTINGS_MAX_FRAME_SIZE"));
                                }
                                inner.peer_max_frame = v as usize;
                            }
                            _ => {}
                        }
                    }
                    frame_header(&mut inner.out, 0, SETTINGS, ACK, 0);
                    inner.settings_seen = true;
                    // Streams may open now, or more of them: wake every waiter.
                    wakers.extend(inner.slot_waiters.drain(..));
                    self.unblock(inner);
                }
                Event::Ping(p) => {
                    frame_header(&mut inner.out, 8, PING, ACK, 0);
                    inner.out.put_slice(&p);
                }
                Event::PingAck(p) => {
                    if p == KEEPALIVE {
                        inner.ping_outstanding = false;
                    }
                }
                Event::GoAway {
                    last,
                    reason,
                    debug,
                } => {
                    let (code, name) = error_code_of(reason);
                    if inner.draining.is_none() {
                        self.counters.goaway();
                    }
                    inner.draining = Some(last);
                    let msg = format!(
                        "the server is closing the connection (GOAWAY {name}{}{debug})",
                        if debug.is_empty() { "" } else { ": " }
                    );
                    for (id, s) in inner.streams.iter_mut() {
                        if *id > last {
                            s.refuse(CallError::new(Code::Unavailable, msg.clone()));
                            if let Some(w) = s.waker.take() {
                                wakers.push(w);
                            }
                        }
                    }
                    if reason != 0 {
                        tracing::debug!("{}: {msg} ({code:?})", self.label);
                    }
                    wakers.extend(inner.slot_waiters.drain(..));
                }
                Event::Window { id, increment } => {
                    if id == 0 {
                        inner.conn_send_window += i64::from(increment);
                    } else if let Some(s) = inner.streams.get_mut(&id) {
                        s.send_window += i64::from(increment);
                    }
                    self.unblock(inner);
                }
            }
        }
        Ok(())
    }

    fn unblock(&self, inner: &mut Inner) {
        let mut waiting = std::mem::take(&mut inner.blocked);
        while let Some((id, data)) = waiting.pop_front() {
            let Some(mut s) = inner.streams.remove(&id) else {
                continue;
            };
            Self::send_data(inner, &mut s, id, data);
            inner.streams.insert(id, s);
            if !inner.blocked.is_empty() {
                // Still blocked: keep the order.
                inner.blocked.extend(waiting);
                break;
            }
        }
    }

    /// Fails every stream (the connection is dead).
    fn fail_all(&self, error: CallError) {
        let mut wakers = Vec::new();
        {
            let mut inner = self.lock();
            inner.error = Some(error.clone());
            for s in inner.streams.values_mut() {
                s.finish(Err(Failure::Failed(error.clone())));
                if let Some(w) = s.waker.take() {
                    wakers.push(w);
                }
            }
            wakers.extend(inner.slot_waiters.drain(..));
        }
        for w in wakers {
            w.wake();
        }
    }
}

/// Starts a connection over `io`: sends the preface and SETTINGS, returns
/// the shared state and the driver future (to spawn).
pub(crate) fn start<T>(
    io: T,
    headers: Arc<RequestHeaders>,
    settings: H2Settings,
    label: String,
    counters: Arc<Counters>,
) -> (Arc<Shared>, impl std::future::Future<Output = ()> + Send)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut out = BytesMut::with_capacity(64 * 1024);
    out.put_slice(PREFACE);
    frame_header(&mut out, 18, SETTINGS, 0, 0);
    out.put_u16(0x2); // ENABLE_PUSH
    out.put_u32(0);
    out.put_u16(0x4); // INITIAL_WINDOW_SIZE
    out.put_u32(settings.stream_window);
    out.put_u16(0x5); // MAX_FRAME_SIZE
    out.put_u32(settings.max_frame_size);
    if i64::from(settings.connection_window) > DEFAULT_WINDOW {
        frame_header(&mut out, 4, WINDOW_UPDATE, 0, 0);
        out.put_u32((i64::from(settings.connection_window) - DEFAULT_WINDOW) as u32);
    }
    let shared = Arc::new(Shared {
        inner: Mutex::new(Inner {
            out,
            streams: IdMap::default(),
            next_id: 1,
            max_streams: usize::MAX,
            slot_waiters: VecDeque::new(),
            conn_send_window: DEFAULT_WINDOW,
            peer_initial_window: DEFAULT_WINDOW,
            peer_max_frame: DEFAULT_MAX_FRAME,
            blocked: VecDeque::new(),
            conn_consumed: 0,
            encoder: Encoder::default(),
            error: None,
            draining: None,
            closing: false,
            settings_seen: false,
            ping_outstanding: false,
            driver: None,
            driver_woken: true,
        }),
        headers,
        settings,
        label,
        counters,
    });
    let driver = drive(Arc::clone(&shared), io);
    (shared, driver)
}

/// The payload of the generator's keepalive PINGs.
const KEEPALIVE: [u8; 8] = *b"jlgalive";

/// With `--h2-keepalive`: sends a PING when the timer fires, or fails the
/// connection when the previous PING's ACK has not come back.
fn keepalive_tick(
    shared: &Shared,
    timer: &mut Option<(std::time::Duration, Pin<Box<tokio::time::Sleep>>)>,
    cx: &mut Context<'_>,
) -> Result<(), CallError> {
    let Some((every, sleep)) = timer.as_mut() else {
        return Ok(());
    };
    while sleep.as_mut().poll(cx).is_ready() {
        let mut inner = shared.lock();
        if inner.ping_outstanding {
            return Err(CallError::new(
                Code::Unavailable,
                format!("keepalive: no PING ACK within {every:?}, the connection is dead"),
            ));
        }
        frame_header(&mut inner.out, 8, PING, 0, 0);
        inner.out.put_slice(&KEEPALIVE);
        inner.ping_outstanding = true;
        drop(inner);
        sleep.as_mut().reset(tokio::time::Instant::now() + *every);
    }
    Ok(())
}

/// Rounds of reading and writing before the driver yields to other tasks.
const BUDGET: usize = 32;
/// The read buffer grows by this much when less than [`READ_MIN`] is free
/// (frames are handed out as slices of it, so old chunks stay alive only as
/// long as their data is queued).
const READ_CHUNK: usize = 256 * 1024;
const READ_MIN: usize = 32 * 1024;

async fn drive<T>(shared: Arc<Shared>, mut io: T)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut wbuf = BytesMut::new();
    let mut reader = Reader::default();
    let mut events = Vec::new();
    let mut wakers = Vec::new();
    let mut flushing = false;
    let max_frame = shared.settings.max_frame_size as usize;
    let mut keepalive = shared
        .settings
        .keepalive
        .map(|d| (d, Box::pin(tokio::time::sleep(d))));
    let result: Result<(), CallError> = std::future::poll_fn(|cx| {
        if let Err(e) = keepalive_tick(&shared, &mut keepalive, cx) {
            return Poll::Ready(Err(e));
        }
        for _ in 0..BUDGET {
            let mut progress = false;
            // Write whatever callers queued.
            if wbuf.is_empty() {
                let mut inner = shared.lock();
                if inner.closing && inner.streams.is_empty() {
                    return Poll::Ready(Ok(()));
                }
                if inner.draining.is_some() && inner.streams.is_empty() {
                    return Poll::Ready(Err(CallError::new(
                        Code::Unavailable,
                        "the server closed the connection (GOAWAY)",
                    )));
                }
                std::mem::swap(&mut wbuf, &mut inner.out);
                inner.driver_woken = false;
                match &inner.driver {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => inner.driver = Some(cx.waker().clone()),
                }
            }
            while !wbuf.is_empty() {
                match Pin::new(&mut io).poll_write(cx, &wbuf) {
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(Err(CallError::new(
                            Code::Unavailable,
                            "the connection closed",
                        )));
                    }
                    Poll::Ready(Ok(n)) => {
                        wbuf.advance(n);
                        flushing = true;
                        progress = true;
                    }
                    Poll::Ready(Err(e)) => {
                        return Poll::Ready(Err(CallError::new(
                            Code::Unavailable,
                            format!("write: {e}"),
                        )));
                    }
                    Poll::Pending => break,
                }
            }
            if flushing && wbuf.is_empty() {
                match Pin::new(&mut io).poll_flush(cx) {
                    Poll::Ready(Ok(())) => flushing = false,
                    Poll::Ready(Err(e)) => {
                        return Poll::Ready(Err(CallError::new(
                            Code::Unavailable,
                            format!("flush: {e}"),
                        )));
                    }
                    Poll::Pending => {}
                }
            }
            // Read whatever arrived.
            if rbuf.capacity() - rbuf.len() < READ_MIN {
                rbuf.reserve(READ_CHUNK);
            }
            match tokio_util::io::poll_read_buf(Pin::new(&mut io), cx, &mut rbuf) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(CallError::new(
                        Code::Unavailable,
                        "the server closed the connection",
                    )));
                }
                Poll::Ready(Ok(_)) => {
                    progress = true;
                    if let Err(e) = reader.parse(&mut rbuf, max_frame, &mut events) {
                        return Poll::Ready(Err(e));
                    }
                    if !events.is_empty() {
                        if let Err(e) = shared.apply(&mut events, &mut wakers) {
                            return Poll::Ready(Err(e));
                        }
                        for w in wakers.drain(..) {
                            w.wake();
                        }
                    }
                }
                Poll::Ready(Err(e)) => {
                    return Poll::Ready(Err(CallError::new(
                        Code::Unavailable,
                        format!("read: {e}"),
                    )));
                }
                Poll::Pending => {}
            }
            if !progress {
                // Re-check the queue once more: a caller may have added to
                // it after we took it (it found `driver_woken` set).
                let inner = shared.lock();
                if inner.out.is_empty() && !(inner.closing && inner.streams.is_empty()) {
                    return Poll::Pending;
                }
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
    let error = match result {
        Ok(()) => CallError::new(Code::Unavailable, "the connection was closed"),
        Err(e) => e,
    };
    // Best effort: tell the server, then fail what is left.
    let mut bye = BytesMut::new();
    frame_header(&mut bye, 8, GOAWAY, 0, 0);
    bye.put_u32(0);
    bye.put_u32(0);
    let _ = tokio::time::timeout(std::time::Duration::from_millis(100), async {
        use tokio::io::AsyncWriteExt;
        let _ = io.write_all(&bye).await;
        let _ = io.shutdown().await;
    })
    .await;
    shared.fail_all(error);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_follow_grpc_rules() {
        let ok = Fields {
            status: Some(200),
            ..Default::default()
        };
        let mut s = Stream {
            headers: Some(ok.clone()),
            trailers: Some(Fields {
                grpc_status: Some(5),
                grpc_message: Some(b"no%20such%20job".to_vec()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            s.outcome(),
            Err(CallError::new(Code::NotFound, "no such job"))
        );
        s.trailers = None;
        assert_eq!(
            s.outcome().unwrap_err().code,
            Code::Internal,
            "no grpc-status"
        );
        s.headers = Some(Fields {
            status: Some(503),
            ..Default::default()
        });
        assert_eq!(s.outcome().unwrap_err().code, Code::Unavailable);
    }
}
