//! [`Conn`]: the handle callers use. One HTTP/2 connection to an
//! [`Endpoint`], opened on first use and reopened with a backoff after it
//! drops or the server sends GOAWAY; [`Conn::call`] runs one gRPC call as an
//! HTTP/2 stream and [`Conn::unary`] a unary one. A stream the server
//! refused or never processed (see [`Failure::Unprocessed`]) is sent again,
//! on a new connection when the old one is going away, up to
//! [`MAX_RETRIES`] times; the endpoint counts the retries, and they are not
//! errors.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::endpoint::{Connection, Endpoint};
use super::error::{CallError, Failure};
use super::grpc::{self, Code};
use super::h2;
use super::rpc::Rpc;

/// Times a stream the server did not process is sent again before its
/// error is the call's.
pub(crate) const MAX_RETRIES: u32 = 8;

/// First wait before reconnecting after a failed connect; doubles up to
/// [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// A live connection; dropping the last handle closes it (once idle).
#[derive(Debug)]
struct Link(Connection);

impl Drop for Link {
    fn drop(&mut self) {
        // The `h2` crate's connection closes when its last handle is gone.
        if let Connection::Own(shared) = &self.0 {
            shared.close();
        }
    }
}

#[derive(Debug)]
enum State {
    Idle,
    Ready {
        link: Arc<Link>,
        generation: u64,
    },
    Down {
        retry_at: Instant,
        backoff: Duration,
        error: CallError,
    },
}

#[derive(Debug)]
struct Slot {
    state: Mutex<State>,
    /// Connect attempts so far (callers that waited on one see its outcome).
    attempts: AtomicU64,
    connecting: tokio::sync::Mutex<()>,
}

/// One HTTP/2 connection to an [`Endpoint`], opened on first use and
/// reopened (with a backoff) after it drops. Calls on it run concurrently as
/// HTTP/2 streams.
#[derive(Debug, Clone)]
pub struct Conn {
    endpoint: Arc<Endpoint>,
    slot: Arc<Slot>,
}

/// Resets a stream whose caller stops waiting (timeout, cancellation).
struct StreamGuard<'a> {
    shared: &'a h2::Shared,
    id: u32,
    done: bool,
}

impl Drop for StreamGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.shared.cancel(self.id);
        }
    }
}

impl Conn {
    /// A connection to `endpoint`, not opened yet.
    pub fn new(endpoint: Arc<Endpoint>) -> Self {
        Self {
            endpoint,
            slot: Arc::new(Slot {
                state: Mutex::new(State::Idle),
                attempts: AtomicU64::new(0),
                connecting: tokio::sync::Mutex::new(()),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.slot
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Opens the connection now (for failing early on a bad target).
    pub async fn open(&self) -> Result<(), CallError> {
        self.link().await.map(|_| ())
    }

    async fn link(&self) -> Result<(Arc<Link>, u64), CallError> {
        if let State::Ready { link, generation } = &*self.lock() {
            return Ok((Arc::clone(link), *generation));
        }
        let seen = self.slot.attempts.load(Ordering::Acquire);
        let _guard = self.slot.connecting.lock().await;
        let wait = match &*self.lock() {
            State::Ready { link, generation } => return Ok((Arc::clone(link), *generation)),
            State::Down { error, .. } if self.slot.attempts.load(Ordering::Acquire) != seen => {
                // Someone else tried while we waited: share their outcome.
                return Err(error.clone());
            }
            State::Down { retry_at, .. } => Some(*retry_at),
            State::Idle => None,
        };
        if let Some(at) = wait {
            tokio::time::sleep_until(at.into()).await;
        }
        let generation = self.slot.attempts.fetch_add(1, Ordering::AcqRel) + 1;
        match self.endpoint.connect().await {
            Ok(connection) => {
                let link = Arc::new(Link(connection));
                *self.lock() = State::Ready {
                    link: Arc::clone(&link),
                    generation,
                };
                Ok((link, generation))
            }
            Err(error) => {
                let mut state = self.lock();
                let backoff = match &*state {
                    State::Down { backoff, .. } => (*backoff * 2).min(MAX_BACKOFF),
                    _ => MIN_BACKOFF,
                };
                *state = State::Down {
                    retry_at: Instant::now() + backoff,
                    backoff,
                    error: error.clone(),
                };
                Err(error)
            }
        }
    }

    /// Forgets connection `generation` (it failed or is going away): the
    /// next call opens a new one.
    fn broken(&self, generation: u64, error: &CallError) {
        let mut state = self.lock();
        if matches!(&*state, State::Ready { generation: g, .. } if *g == generation) {
            *state = State::Down {
                retry_at: Instant::now(),
                backoff: MIN_BACKOFF,
                error: error.clone(),
            };
        }
    }

    /// Calls `rpc` with the framed request `body` (see [`grpc::frame`]),
    /// handing every DATA frame of the response to `on_data` as it arrives;
    /// `Ok` when the server ends the call with status OK. A stream the
    /// server did not process is sent again (it never reached `on_data`).
    /// Dropping the future resets the stream.
    pub async fn call<F>(&self, rpc: Rpc, body: Bytes, mut on_data: F) -> Result<(), CallError>
    where
        F: FnMut(&Bytes) -> Result<(), CallError>,
    {
        let mut retries = 0;
        loop {
            match self.attempt(rpc, &body, &mut on_data).await {
                Ok(()) => return Ok(()),
                Err(Failure::Unprocessed(_)) if retries < MAX_RETRIES => {
                    retries += 1;
                    self.endpoint.counters().retried();
                    // Twice at once (a fresh connection usually takes it),
                    // then with a growing pause.
                    if retries > 2 {
                        let pause = Duration::from_millis(1 << (retries - 2).min(8));
                        tokio::time::sleep(pause).await;
                    }
                }
                Err(f) => return Err(f.into_error()),
            }
        }
    }

    /// One attempt at a call on the current connection.
    async fn attempt<F>(&self, rpc: Rpc, body: &Bytes, on_data: &mut F) -> Result<(), Failure>
    where
        F: FnMut(&Bytes) -> Result<(), CallError>,
    {
        let (link, generation) = self.link().await.map_err(Failure::Failed)?;
        let result = match &link.0 {
            Connection::Own(shared) => own_call(shared, rpc, body, on_data).await,
            Connection::Crate(client) => client.call(rpc, body, on_data).await,
        };
        if let Err(Failure::Unprocessed(e)) = &result
            && !link.0.usable()
        {
            self.broken(generation, e);
        }
        result
    }

    /// Calls a unary `rpc` and returns the encoded response message.
    pub async fn unary(&self, rpc: Rpc, body: Bytes) -> Result<Bytes, CallError> {
        let mut walker = grpc::FrameWalker::default();
        let mut whole: Option<Bytes> = None;
        let mut message = bytes::BytesMut::new();
        let mut messages = 0usize;
        self.call(rpc, body, |data| {
            // The usual case: one DATA frame holding exactly one message.
            if messages == 0
                && whole.is_none()
                && data.len() >= 5
                && data[0] == 0
                && u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize + 5
                    == data.len()
            {
                messages = 1;
                whole = Some(data.slice(5..));
                return Ok(());
            }
            if whole.is_some() {
                return Err(CallError::new(
                    Code::Internal,
                    "a unary response carried 2 messages",
                ));
            }
            walker
                .feed(data, &mut |event| match event {
                    grpc::Event::Start(len) => {
                        messages += 1;
                        message.reserve(len);
                    }
                    grpc::Event::Bytes(b) => {
                        if messages == 1 {
                            message.extend_from_slice(b);
                        }
                    }
                    grpc::Event::End => {}
                })
                .map_err(|e| CallError::new(Code::Internal, e.to_string()))
        })
        .await?;
        if let Some(m) = whole {
            return Ok(m);
        }
        walker
            .finish()
            .map_err(|e| CallError::new(Code::Internal, e.to_string()))?;
        if messages != 1 {
            return Err(CallError::new(
                Code::Internal,
                format!("a unary response carried {messages} messages"),
            ));
        }
        Ok(message.freeze())
    }
}

/// One call on the generator's own client: open the stream, hand its DATA
/// to `on_data`, return its outcome.
async fn own_call<F>(
    shared: &h2::Shared,
    rpc: Rpc,
    body: &Bytes,
    on_data: &mut F,
) -> Result<(), Failure>
where
    F: FnMut(&Bytes) -> Result<(), CallError>,
{
    let id = std::future::poll_fn(|cx| shared.poll_open(cx, rpc as usize, body)).await?;
    let mut guard = StreamGuard {
        shared,
        id,
        done: false,
    };
    let mut batch = Vec::new();
    loop {
        let end = std::future::poll_fn(|cx| guard.shared.poll_stream(cx, id, &mut batch)).await;
        if end.is_some() {
            guard.done = true;
        }
        for data in batch.drain(..) {
            on_data(&data)?;
        }
        if let Some(result) = end {
            return result;
        }
    }
}
