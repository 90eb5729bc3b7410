//! Calling any method of either contract with an already encoded request,
//! and reading its answer as raw messages: replay sends recorded calls this
//! way (decoding them later with `prost-reflect`), and robustness tests send
//! arbitrary bytes to every method.

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic::{Code, Status};

/// The largest message sent or received: above the 128 MiB a Joblet node
/// accepts, so that the node's own limit answers (ALL-7).
pub const MAX_MESSAGE: usize = 256 << 20;

/// A codec that sends and receives message bytes as they are.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

/// The encoder of [`RawCodec`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RawEncoder;

/// The decoder of [`RawCodec`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RawDecoder;

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        let n = src.remaining();
        Ok(Some(src.copy_to_bytes(n)))
    }
}

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

/// What came back from one call.
#[derive(Debug, Clone)]
pub struct Received {
    /// The messages, as received.
    pub messages: Vec<Bytes>,
    /// The final status (`OK` at a normal end).
    pub code: Code,
    /// Its message.
    pub message: String,
    /// The replay stopped reading on purpose (the recorded client left there).
    pub stopped_early: bool,
    /// No end within the call's deadline.
    pub timed_out: bool,
}

/// One call to make.
#[derive(Debug, Clone)]
pub struct CallSpec<'a> {
    /// `/joblet.JobService/RunJob`.
    pub path: &'a str,
    /// Whether the method streams its answer.
    pub streaming: bool,
    /// The encoded request.
    pub request: Bytes,
    /// The `x-joblet-mock-session` to send.
    pub session: Option<&'a str>,
    /// How long the whole call may take.
    pub timeout: Duration,
}

/// When to stop reading a stream before its end (the recorded client left
/// there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopAt {
    /// Read to the end.
    End,
    /// After this many messages.
    Messages(usize),
    /// Once this many log bytes (`DataChunk` payloads) came.
    LogBytes(u64),
}

impl StopAt {
    fn reached(self, messages: &[Bytes], log_bytes: u64) -> bool {
        match self {
            StopAt::End => false,
            StopAt::Messages(n) => messages.len() >= n,
            StopAt::LogBytes(n) => log_bytes >= n,
        }
    }
}

/// Makes the call, reading a stream to its end or to `stop`.
pub async fn call(channel: Channel, spec: CallSpec<'_>, stop: StopAt) -> Received {
    let mut received = Received {
        messages: Vec::new(),
        code: Code::Ok,
        message: String::new(),
        stopped_early: false,
        timed_out: false,
    };
    let limit = spec.timeout;
    let work = run(channel, spec, stop, &mut received);
    match tokio::time::timeout(limit, work).await {
        Ok(Ok(())) => {}
        Ok(Err(status)) => {
            received.code = status.code();
            received.message = status.message().to_owned();
        }
        Err(_) => {
            received.timed_out = true;
            received.code = Code::DeadlineExceeded;
            received.message = format!(
                "the replay stopped waiting after {:.1} s ({} message(s) received)",
                limit.as_secs_f64(),
                received.messages.len()
            );
        }
    }
    received
}

async fn run(
    channel: Channel,
    spec: CallSpec<'_>,
    stop: StopAt,
    received: &mut Received,
) -> Result<(), Status> {
    let mut grpc = tonic::client::Grpc::new(channel)
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(format!("transport error: {e}")))?;
    let path = http::uri::PathAndQuery::try_from(spec.path)
        .map_err(|e| Status::internal(format!("bad path {:?}: {e}", spec.path)))?;
    let mut request = tonic::Request::new(spec.request);
    if let Some(session) = spec.session {
        let value = MetadataValue::try_from(session)
            .map_err(|e| Status::internal(format!("session name {session:?}: {e}")))?;
        request
            .metadata_mut()
            .insert(crate::session::SESSION_HEADER, value);
    }
    if !spec.streaming {
        let answer = grpc.unary(request, path, RawCodec).await?;
        received.messages.push(answer.into_inner());
        return Ok(());
    }
    let mut stream = grpc
        .server_streaming(request, path, RawCodec)
        .await?
        .into_inner();
    let mut log_bytes = 0u64;
    loop {
        // The recorded client may have left before the first message.
        if stop.reached(&received.messages, log_bytes) {
            received.stopped_early = true;
            return Ok(());
        }
        let Some(message) = stream.message().await? else {
            return Ok(());
        };
        if let StopAt::LogBytes(_) = stop {
            log_bytes += <crate::pb::DataChunk as prost::Message>::decode(message.clone())
                .map_or(0, |c| c.payload.len() as u64);
        }
        received.messages.push(message);
    }
}
