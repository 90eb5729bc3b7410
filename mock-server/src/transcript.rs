//! Transcripts: every call of the five Joblet services with its whole answer,
//! as JSON Lines, for record and replay (`joblet-mock --record FILE`, the
//! control API's `ExportTranscript`, and the recording proxy of
//! `joblet-conformance record`).
//!
//! # The format
//!
//! One call a line ([`Line`]), written when the call completes; `seq` numbers
//! calls in the order they started, so a reader sorts by it. The schema is
//! [`SCHEMA`] (`mock-server/schema/transcript.schema.json`):
//!
//! ```json
//! {"v":1,"seq":3,"at_ms":41,"end_ms":43,"time":"2025-09-01T10:00:00.041Z",
//!  "session":"ci-42","role":"admin","service":"joblet.JobService","method":"RunJob",
//!  "request":{"command":"echo","args":["hi"]},
//!  "response":{"messages":[{"jobUuid":"6f1c…","status":"RUNNING"}]},
//!  "status":{"code":"OK"}}
//! ```
//!
//! - `at_ms`/`end_ms`: when the call started and ended, in milliseconds from
//!   the start of the recording; `time`: the wall time it started (RFC 3339,
//!   UTC), which lets a replay move schedules along.
//! - `session`: the `x-joblet-mock-session` metadata (`""` without it);
//!   `role`: the caller's (`admin`, `viewer`, `unknown`, or `none` for a TLS
//!   client without a certificate; every plaintext caller is `admin`).
//! - `request` and each of `response.messages`: proto3 JSON (camelCase names,
//!   defaults omitted, bytes in base64, 64-bit integers as strings).
//! - `GetJobLogs` answers are stored compactly as `response.log`: the number
//!   of chunks and bytes, their SHA-256, and the bytes themselves (`text`, or
//!   `base64` when not UTF-8) up to a limit (`truncated` beyond it).
//! - `status`: the gRPC code by name and its message. A call the client left
//!   before its end has `client_cancelled: true` and code `CANCELLED`.
//!
//! # Recording
//!
//! A [`Recorder`] numbers calls and writes finished lines to a file and/or
//! keeps them per session in memory (bounded). [`RecordLayer`] records every
//! call through a tonic server (the mock puts it outermost, so refused calls
//! are recorded too); [`collect_request`], [`Recorder::begin`] and
//! [`record_response`] are the pieces a proxy uses.

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use base64::Engine as _;
use bytes::{Buf, Bytes, BytesMut};
use futures::future::BoxFuture;
use http_body::{Body as HttpBody, Frame};
use http_body_util::BodyExt;
use parking_lot::Mutex;
use prost::Message as _;
use prost_reflect::{DynamicMessage, MessageDescriptor, MethodDescriptor, SerializeOptions};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tower::{Layer, Service};

use crate::auth::{ClientIdentity, Role};
use crate::journal::{code_name, descriptor_pool};
use crate::session::SESSION_HEADER;

/// The `v` of the lines this version writes.
pub const FORMAT_VERSION: u32 = 1;

/// The JSON schema of one line (`mock-server/schema/transcript.schema.json`).
pub const SCHEMA: &str = include_str!("../schema/transcript.schema.json");

/// Log bytes kept per `GetJobLogs` call by default (`--record-log-limit`).
pub const DEFAULT_LOG_LIMIT: usize = 16 << 10;

/// Requests larger than this are recorded as `null` with their size
/// (`request_omitted`): a replay skips them.
pub const MAX_RECORDED_REQUEST: usize = 16 << 20;

/// Messages kept per streaming call; later ones are only counted (`omitted`).
pub const MAX_STREAM_MESSAGES: usize = 10_000;

/// The largest request body read before forwarding (the contract's 128 MiB
/// plus framing and some room).
pub const MAX_REQUEST_BODY: usize = (128 << 20) + (1 << 20);

/// One recorded call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Line {
    /// Format version ([`FORMAT_VERSION`]).
    pub v: u32,
    /// Order in which the calls started, from 1.
    pub seq: u64,
    /// Start, in milliseconds from the start of the recording.
    pub at_ms: u64,
    /// End (last answer or status), in milliseconds from the start.
    pub end_ms: u64,
    /// Wall time of the start, RFC 3339 in UTC with milliseconds.
    pub time: String,
    /// The `x-joblet-mock-session` metadata, `""` without it.
    #[serde(default)]
    pub session: String,
    /// `admin`, `viewer`, `unknown` (a certificate without a role) or `none`
    /// (TLS without a client certificate).
    pub role: String,
    /// `joblet.JobService`, ...
    pub service: String,
    /// `RunJob`, ...
    pub method: String,
    /// The request in proto3 JSON; `null` when it could not be decoded or was
    /// too large.
    pub request: Value,
    /// Size of a request too large to record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_omitted: Option<u64>,
    /// What came back before the status.
    #[serde(default)]
    pub response: Response,
    /// The final status.
    pub status: CallStatus,
    /// The client left before the end.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub client_cancelled: bool,
}

/// The messages of an answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Response {
    /// Every message, in proto3 JSON (one for a unary call); empty for log
    /// streams, which use `log`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<Value>,
    /// A `GetJobLogs` stream, compactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<LogSummary>,
    /// Messages beyond [`MAX_STREAM_MESSAGES`], counted but not kept.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A log stream: how much, its hash, and the bytes up to a limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSummary {
    /// Messages (`DataChunk`s) received.
    pub chunks: u64,
    /// Bytes of payload in all.
    pub bytes: u64,
    /// SHA-256 of all the bytes, lower-case hex.
    pub sha256: String,
    /// The bytes kept, when they are UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The bytes kept, in base64, when they are not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base64: Option<String>,
    /// Only the first bytes are kept.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

impl LogSummary {
    /// The bytes kept (a prefix when `truncated`).
    pub fn kept(&self) -> Vec<u8> {
        if let Some(t) = &self.text {
            return t.as_bytes().to_vec();
        }
        self.base64
            .as_deref()
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .unwrap_or_default()
    }
}

/// A call's final status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallStatus {
    /// The gRPC code by name: `OK`, `NOT_FOUND`, ...
    pub code: String,
    /// The status message (`""` on OK).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

impl Line {
    /// `/service/method`, the gRPC path.
    pub fn path(&self) -> String {
        format!("/{}/{}", self.service, self.method)
    }

    /// The method's descriptor, when the contract has it.
    pub fn descriptor(&self) -> Option<MethodDescriptor> {
        method_descriptor(&self.service, &self.method)
    }
}

/// A transcript that cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TranscriptError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A line is not a transcript line.
    #[error("{origin}, line {line}: {reason}")]
    Line {
        /// The file (or `<text>`).
        origin: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Parses transcript text (JSON Lines; blank lines and lines starting with
/// `#` are skipped), in `seq` order. `origin` names the text in errors.
pub fn parse(text: &str, origin: &str) -> Result<Vec<Line>, TranscriptError> {
    let mut lines = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let raw = raw.trim();
        if raw.is_empty() || raw.starts_with('#') {
            continue;
        }
        let bad = |reason: String| TranscriptError::Line {
            origin: origin.to_owned(),
            line: i + 1,
            reason,
        };
        let line: Line = serde_json::from_str(raw).map_err(|e| bad(e.to_string()))?;
        if line.v != FORMAT_VERSION {
            return Err(bad(format!(
                "format version {} (this tool reads version {FORMAT_VERSION})",
                line.v
            )));
        }
        if line.end_ms < line.at_ms {
            return Err(bad(format!(
                "end_ms {} is before at_ms {}",
                line.end_ms, line.at_ms
            )));
        }
        if crate::journal::parse_code(&line.status.code).is_none() {
            return Err(bad(format!("unknown status code {:?}", line.status.code)));
        }
        lines.push(line);
    }
    lines.sort_by_key(|l| (l.seq, l.at_ms));
    if let Some(w) = lines.windows(2).find(|w| w[0].seq == w[1].seq) {
        return Err(TranscriptError::Line {
            origin: origin.to_owned(),
            line: 0,
            reason: format!("seq {} appears twice", w[0].seq),
        });
    }
    Ok(lines)
}

/// Reads a transcript file (see [`parse`]).
pub fn read(path: &Path) -> Result<Vec<Line>, TranscriptError> {
    let text = std::fs::read_to_string(path).map_err(|source| TranscriptError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, &path.display().to_string())
}

/// The descriptor of `service`/`method` of the contract.
pub fn method_descriptor(service: &str, method: &str) -> Option<MethodDescriptor> {
    descriptor_pool()
        .get_service_by_name(service)?
        .methods()
        .find(|m| m.name() == method)
}

/// Whether `path` (`/joblet.JobService/RunJob`) is a call of one of the five
/// Joblet services (the only calls transcripts hold: never the control API,
/// health or reflection).
pub fn is_joblet_path(path: &str) -> bool {
    path.strip_prefix("/joblet.")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(service, method)| service.ends_with("Service") && !method.is_empty())
}

/// Options of the compact JSON form transcripts use: proto3 JSON with
/// defaults omitted.
pub fn compact_options() -> SerializeOptions {
    SerializeOptions::new()
}

/// Renders `message` (encoded) of type `desc` as proto3 JSON with `options`;
/// `None` when it does not decode.
pub fn render(
    desc: &MessageDescriptor,
    message: &[u8],
    options: &SerializeOptions,
) -> Option<Value> {
    let m = DynamicMessage::decode(desc.clone(), message).ok()?;
    m.serialize_with_options(serde_json::value::Serializer, options)
        .ok()
}

/// The SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(bytes);
    h.finish()
}

/// An incremental SHA-256.
#[derive(Clone)]
pub struct Sha256(ring::digest::Context);

impl std::fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sha256")
    }
}

impl Default for Sha256 {
    fn default() -> Self {
        Self::new()
    }
}

impl Sha256 {
    /// A new hash.
    pub fn new() -> Self {
        Self(ring::digest::Context::new(&ring::digest::SHA256))
    }

    /// Adds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The hash so far, lower-case hex.
    pub fn finish(self) -> String {
        self.0
            .finish()
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Accumulates a log stream: counts, hash and the first bytes.
#[derive(Debug, Clone)]
pub struct LogAccumulator {
    chunks: u64,
    bytes: u64,
    hash: Sha256,
    kept: Vec<u8>,
    limit: usize,
}

impl LogAccumulator {
    /// Keeping at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            chunks: 0,
            bytes: 0,
            hash: Sha256::new(),
            kept: Vec::new(),
            limit,
        }
    }

    /// Adds one chunk's payload.
    pub fn push(&mut self, payload: &[u8]) {
        self.chunks += 1;
        self.bytes += payload.len() as u64;
        self.hash.update(payload);
        let room = self.limit.saturating_sub(self.kept.len());
        self.kept
            .extend_from_slice(&payload[..payload.len().min(room)]);
    }

    /// Bytes so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The summary.
    pub fn finish(self) -> LogSummary {
        let truncated = (self.kept.len() as u64) < self.bytes;
        let (text, base64) = match std::str::from_utf8(&self.kept) {
            Ok(t) => (Some(t.to_owned()), None),
            // A truncated prefix may end inside a character.
            Err(e) if truncated && e.error_len().is_none() => (
                Some(String::from_utf8_lossy(&self.kept[..e.valid_up_to()]).into_owned()),
                None,
            ),
            Err(_) => (
                None,
                Some(base64::engine::general_purpose::STANDARD.encode(&self.kept)),
            ),
        };
        LogSummary {
            chunks: self.chunks,
            bytes: self.bytes,
            sha256: self.hash.finish(),
            text,
            base64,
            truncated,
        }
    }
}

/// Splits a gRPC body into its length-prefixed messages.
#[derive(Debug, Default)]
pub struct FrameParser {
    buf: BytesMut,
}

/// One message of a gRPC body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcMessage {
    /// The compressed flag of its prefix.
    pub compressed: bool,
    /// The message bytes.
    pub bytes: Bytes,
}

impl FrameParser {
    /// Adds body bytes and returns the messages now complete.
    pub fn push(&mut self, data: &[u8]) -> Vec<GrpcMessage> {
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        while self.buf.len() >= 5 {
            let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]);
            let len = len as usize;
            if self.buf.len() < 5 + len {
                break;
            }
            let compressed = self.buf[0] == 1;
            self.buf.advance(5);
            let bytes = self.buf.split_to(len).freeze();
            out.push(GrpcMessage { compressed, bytes });
        }
        out
    }

    /// Bytes of an incomplete message left over.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

/// The uncompressed bytes of `m`: gzip is the one encoding understood.
fn decompress(m: &GrpcMessage, encoding: Option<&str>) -> Option<Bytes> {
    if !m.compressed {
        return Some(m.bytes.clone());
    }
    if encoding != Some("gzip") {
        return None;
    }
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&m.bytes[..]), &mut out).ok()?;
    Some(out.into())
}

/// Decodes `grpc-message` (percent-encoded).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The status in `headers` (`grpc-status`, `grpc-message`), if any.
fn status_of(headers: &http::HeaderMap) -> Option<CallStatus> {
    let code: i32 = headers
        .get("grpc-status")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let message = headers
        .get("grpc-message")
        .and_then(|m| m.to_str().ok())
        .map(percent_decode)
        .unwrap_or_default();
    Some(CallStatus {
        code: code_name(tonic::Code::from_i32(code)).to_owned(),
        message,
    })
}

/// The session a request names (`x-joblet-mock-session`), `""` without one.
pub fn session_of(headers: &http::HeaderMap) -> String {
    headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The caller's role as a transcript spells it: on a TLS connection the
/// role of its certificate ([`ClientIdentity`]) or `none`; without TLS
/// `admin` (AUTH-1).
pub fn role_of<B>(request: &http::Request<B>) -> &'static str {
    match request.extensions().get::<ClientIdentity>() {
        None => Role::Admin.as_str(),
        Some(ClientIdentity { role: None, .. }) => "none",
        Some(ClientIdentity { role: Some(r), .. }) => r.as_str(),
    }
}

/// Where finished lines go.
#[derive(Debug, Clone, Default)]
pub struct RecorderOptions {
    /// Write every line to this file (created or truncated).
    pub file: Option<PathBuf>,
    /// Keep the last N calls of each session in memory for
    /// [`Recorder::session_lines`] (0: none).
    pub per_session: usize,
    /// Most sessions kept in memory (calls of further sessions are only
    /// written to the file).
    pub max_sessions: usize,
    /// Log bytes kept per `GetJobLogs` call (0: [`DEFAULT_LOG_LIMIT`]).
    pub log_limit: usize,
}

/// Numbers calls and writes their lines.
pub struct Recorder {
    start: Instant,
    next_seq: AtomicU64,
    file: Option<(PathBuf, Mutex<BufWriter<File>>)>,
    store: Option<Store>,
    log_limit: usize,
    written: AtomicU64,
    write_errors: AtomicU64,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("file", &self.file.as_ref().map(|(p, _)| p))
            .field("store", &self.store)
            .field("log_limit", &self.log_limit)
            .finish_non_exhaustive()
    }
}

/// The kept lines of one session: `(seq, line)`, oldest first.
type SessionLines = VecDeque<(u64, Arc<str>)>;

/// The in-memory lines of each session, bounded.
#[derive(Debug)]
struct Store {
    per_session: usize,
    max_sessions: usize,
    sessions: Mutex<BTreeMap<String, SessionLines>>,
    dropped: AtomicU64,
}

/// The session key of the store: the default session is `""`.
fn store_key(session: &str) -> &str {
    let s = session.trim();
    if s == "default" { "" } else { s }
}

impl Recorder {
    /// A recorder as `options` say; errors when the file cannot be created.
    pub fn new(options: RecorderOptions) -> std::io::Result<Self> {
        let file = match options.file {
            Some(path) => {
                let f = File::create(&path).map_err(|e| {
                    std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
                })?;
                Some((path, Mutex::new(BufWriter::new(f))))
            }
            None => None,
        };
        let store = (options.per_session > 0).then(|| Store {
            per_session: options.per_session,
            max_sessions: options.max_sessions.max(1),
            sessions: Mutex::new(BTreeMap::new()),
            dropped: AtomicU64::new(0),
        });
        Ok(Self {
            start: Instant::now(),
            next_seq: AtomicU64::new(1),
            file,
            store,
            log_limit: if options.log_limit == 0 {
                DEFAULT_LOG_LIMIT
            } else {
                options.log_limit
            },
            written: AtomicU64::new(0),
            write_errors: AtomicU64::new(0),
        })
    }

    /// The file lines are written to.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_ref().map(|(p, _)| p.as_path())
    }

    /// Whether sessions' lines are kept in memory.
    pub fn keeps_sessions(&self) -> bool {
        self.store.is_some()
    }

    /// Lines finished so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Starts recording a call of `path` whose request body (gRPC framing
    /// included) is `request_body`; `None` for paths outside the five Joblet
    /// services.
    pub fn begin(
        self: &Arc<Self>,
        path: &str,
        session: &str,
        role: &str,
        request_body: &[u8],
        request_encoding: Option<&str>,
    ) -> Option<CallCapture> {
        if !is_joblet_path(path) {
            return None;
        }
        let (service, method) = path.trim_start_matches('/').split_once('/')?;
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let at_ms = self.start.elapsed().as_millis() as u64;
        let time = chrono::DateTime::<chrono::Utc>::from(SystemTime::now())
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let desc = method_descriptor(service, method);
        let first = FrameParser::default().push(request_body).into_iter().next();
        let (request, request_omitted) = match (&desc, first) {
            (_, Some(m)) if m.bytes.len() > MAX_RECORDED_REQUEST => {
                (Value::Null, Some(m.bytes.len() as u64))
            }
            (Some(d), Some(m)) => (
                decompress(&m, request_encoding)
                    .and_then(|b| render(&d.input(), &b, &compact_options()))
                    .unwrap_or(Value::Null),
                None,
            ),
            // An empty body is the empty message.
            (Some(d), None) if request_body.is_empty() => (
                render(&d.input(), &[], &compact_options()).unwrap_or(Value::Null),
                None,
            ),
            _ => (Value::Null, None),
        };
        let log = desc
            .as_ref()
            .is_some_and(|d| d.output().full_name() == "joblet.DataChunk")
            .then(|| LogAccumulator::new(self.log_limit));
        Some(CallCapture {
            recorder: Arc::clone(self),
            line: Line {
                v: FORMAT_VERSION,
                seq,
                at_ms,
                end_ms: at_ms,
                time,
                session: session.to_owned(),
                role: role.to_owned(),
                service: service.to_owned(),
                method: method.to_owned(),
                request,
                request_omitted,
                response: Response::default(),
                status: CallStatus {
                    code: "UNKNOWN".into(),
                    message: String::new(),
                },
                client_cancelled: false,
            },
            output: desc.map(|d| d.output()),
            encoding: None,
            parser: FrameParser::default(),
            log,
            status: None,
        })
    }

    fn finish(&self, mut line: Line) {
        line.end_ms = (self.start.elapsed().as_millis() as u64).max(line.at_ms);
        let text: Arc<str> = match serde_json::to_string(&line) {
            Ok(t) => t.into(),
            Err(e) => {
                tracing::warn!("cannot render a transcript line: {e}");
                return;
            }
        };
        if let Some((path, file)) = &self.file {
            let mut f = file.lock();
            let result = f
                .write_all(text.as_bytes())
                .and_then(|()| f.write_all(b"\n"))
                .and_then(|()| f.flush());
            if let Err(e) = result
                && self.write_errors.fetch_add(1, Ordering::Relaxed) == 0
            {
                tracing::error!("cannot write the transcript {}: {e}", path.display());
            }
        }
        if let Some(store) = &self.store {
            store.push(store_key(&line.session), line.seq, text);
        }
        self.written.fetch_add(1, Ordering::Relaxed);
    }

    /// The lines kept for `session` (`""` or `default`: the default one), in
    /// `seq` order, and how many of its calls were dropped since it began.
    /// `None` when sessions are not kept ([`RecorderOptions::per_session`]).
    pub fn session_lines(&self, session: &str) -> Option<(Vec<Arc<str>>, u64)> {
        let store = self.store.as_ref()?;
        let sessions = store.sessions.lock();
        let mut lines: Vec<(u64, Arc<str>)> = sessions
            .get(store_key(session))
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default();
        drop(sessions);
        lines.sort_by_key(|(seq, _)| *seq);
        Some((
            lines.into_iter().map(|(_, l)| l).collect(),
            store.dropped.load(Ordering::Relaxed),
        ))
    }

    /// Forgets the lines of `session` (it was reset).
    pub fn forget(&self, session: &str) {
        if let Some(store) = &self.store {
            store.sessions.lock().remove(store_key(session));
        }
    }
}

impl Store {
    fn push(&self, session: &str, seq: u64, line: Arc<str>) {
        let mut sessions = self.sessions.lock();
        if !sessions.contains_key(session) && sessions.len() >= self.max_sessions {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let q = sessions.entry(session.to_owned()).or_default();
        while q.len() >= self.per_session {
            q.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        q.push_back((seq, line));
    }
}

/// One call being recorded: feed it the answer, and it writes its line when
/// the answer ends (or when dropped: the client left).
pub struct CallCapture {
    recorder: Arc<Recorder>,
    line: Line,
    output: Option<MessageDescriptor>,
    encoding: Option<String>,
    parser: FrameParser,
    log: Option<LogAccumulator>,
    status: Option<CallStatus>,
}

impl std::fmt::Debug for CallCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallCapture")
            .field("seq", &self.line.seq)
            .field("method", &self.line.method)
            .finish_non_exhaustive()
    }
}

impl CallCapture {
    /// The response headers: the encoding, or a trailers-only status.
    pub fn headers(&mut self, headers: &http::HeaderMap) {
        self.encoding = headers
            .get("grpc-encoding")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if let Some(s) = status_of(headers) {
            self.status = Some(s);
        }
    }

    /// A data frame of the response body.
    pub fn data(&mut self, data: &[u8]) {
        for m in self.parser.push(data) {
            let Some(bytes) = decompress(&m, self.encoding.as_deref()) else {
                self.line.response.omitted += 1;
                continue;
            };
            if let Some(log) = &mut self.log {
                match joblet_testkit::pb::DataChunk::decode(bytes) {
                    Ok(chunk) => log.push(&chunk.payload),
                    Err(_) => self.line.response.omitted += 1,
                }
            } else if self.line.response.messages.len() >= MAX_STREAM_MESSAGES {
                self.line.response.omitted += 1;
            } else {
                let value = self
                    .output
                    .as_ref()
                    .and_then(|d| render(d, &bytes, &compact_options()))
                    .unwrap_or(Value::Null);
                self.line.response.messages.push(value);
            }
        }
    }

    /// The trailers: the status.
    pub fn trailers(&mut self, trailers: &http::HeaderMap) {
        if let Some(s) = status_of(trailers) {
            self.status = Some(s);
        }
    }

    /// The call failed in transport (`code` names it).
    pub fn fail(&mut self, code: tonic::Code, message: impl Into<String>) {
        if self.status.is_none() {
            self.status = Some(CallStatus {
                code: code_name(code).into(),
                message: message.into(),
            });
        }
    }

    /// Whether the final status is known.
    pub fn has_status(&self) -> bool {
        self.status.is_some()
    }

    /// Writes the line. Without a status, the client left: `CANCELLED`.
    pub fn finish(mut self) {
        let status = match self.status.take() {
            Some(s) => s,
            None => {
                self.line.client_cancelled = true;
                CallStatus {
                    code: "CANCELLED".into(),
                    message: "the client cancelled the call".into(),
                }
            }
        };
        self.line.status = status;
        if let Some(log) = self.log.take() {
            self.line.response.log = Some(log.finish());
        }
        let recorder = Arc::clone(&self.recorder);
        recorder.finish(self.line);
    }
}

/// A response body that feeds a [`CallCapture`] and writes its line at the end.
pub struct RecordedBody<B> {
    inner: B,
    capture: Option<CallCapture>,
}

impl<B> std::fmt::Debug for RecordedBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordedBody")
            .field("capture", &self.capture)
            .finish_non_exhaustive()
    }
}

impl<B> RecordedBody<B> {
    /// Wraps `inner`.
    pub fn new(inner: B, capture: CallCapture) -> Self {
        Self {
            inner,
            capture: Some(capture),
        }
    }
}

impl<B> HttpBody for RecordedBody<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(capture) = &mut this.capture {
                    if let Some(data) = frame.data_ref() {
                        capture.data(data);
                    } else if let Some(trailers) = frame.trailers_ref() {
                        capture.trailers(trailers);
                    }
                }
            }
            Poll::Ready(Some(Err(e))) => {
                if let Some(mut capture) = this.capture.take() {
                    capture.fail(
                        tonic::Code::Unavailable,
                        format!("the answer broke off: {e}"),
                    );
                    capture.finish();
                }
            }
            Poll::Ready(None) => {
                if let Some(mut capture) = this.capture.take() {
                    // A body that ends without a status: gRPC calls that UNKNOWN.
                    capture.fail(tonic::Code::Unknown, "the answer ended without a status");
                    capture.finish();
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for RecordedBody<B> {
    fn drop(&mut self) {
        // Dropped with a status: ended normally; without: the client left.
        if let Some(capture) = self.capture.take() {
            capture.finish();
        }
    }
}

/// Reads a whole request body (at most [`MAX_REQUEST_BODY`] bytes).
pub async fn collect_request<B>(body: B) -> Result<Bytes, tonic::Status>
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match http_body_util::Limited::new(body, MAX_REQUEST_BODY)
        .collect()
        .await
    {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => Err(if e.is::<http_body_util::LengthLimitError>() {
            tonic::Status::resource_exhausted(format!(
                "the request is larger than the {MAX_REQUEST_BODY} bytes a recorder reads"
            ))
        } else {
            tonic::Status::cancelled(format!("the request body broke off: {e}"))
        }),
    }
}

/// Records `response` into `capture`: its headers now, its body as it is sent.
pub fn record_response(
    response: http::Response<tonic::body::Body>,
    capture: Option<CallCapture>,
) -> http::Response<tonic::body::Body> {
    let Some(mut capture) = capture else {
        return response;
    };
    capture.headers(response.headers());
    let (parts, body) = response.into_parts();
    http::Response::from_parts(
        parts,
        tonic::body::Body::new(RecordedBody::new(body, capture)),
    )
}

/// Tower layer recording every Joblet call through a tonic server into a
/// [`Recorder`]. Put it outermost, so that calls refused by authorization are
/// recorded too.
#[derive(Debug, Clone)]
pub struct RecordLayer {
    recorder: Arc<Recorder>,
}

impl RecordLayer {
    /// A layer writing into `recorder`.
    pub fn new(recorder: Arc<Recorder>) -> Self {
        Self { recorder }
    }
}

impl<S> Layer<S> for RecordLayer {
    type Service = RecordService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RecordService {
            inner,
            recorder: Arc::clone(&self.recorder),
        }
    }
}

/// The service of [`RecordLayer`].
#[derive(Debug, Clone)]
pub struct RecordService<S> {
    inner: S,
    recorder: Arc<Recorder>,
}

impl<S> Service<http::Request<tonic::body::Body>> for RecordService<S>
where
    S: Service<http::Request<tonic::body::Body>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        if !is_joblet_path(request.uri().path()) {
            return Box::pin(self.inner.call(request));
        }
        // The ready service answers this call; a clone takes its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let recorder = Arc::clone(&self.recorder);
        Box::pin(async move {
            let role = role_of(&request);
            let (parts, body) = request.into_parts();
            let bytes = match collect_request(body).await {
                Ok(b) => b,
                Err(status) => return Ok(status.into_http()),
            };
            let capture = recorder.begin(
                parts.uri.path(),
                &session_of(&parts.headers),
                role,
                &bytes,
                parts
                    .headers
                    .get("grpc-encoding")
                    .and_then(|v| v.to_str().ok()),
            );
            let request = http::Request::from_parts(
                parts,
                tonic::body::Body::new(http_body_util::Full::new(bytes)),
            );
            let response = inner.call(request).await?;
            Ok(record_response(response, capture))
        })
    }
}

#[cfg(test)]
mod tests {
    use joblet_testkit::pb;
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn framed(message: &impl prost::Message) -> Vec<u8> {
        let body = message.encode_to_vec();
        let mut out = vec![0];
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    fn recorder(dir: &Path) -> Arc<Recorder> {
        Arc::new(
            Recorder::new(RecorderOptions {
                file: Some(dir.join("t.jsonl")),
                per_session: 2,
                max_sessions: 2,
                log_limit: 8,
            })
            .unwrap(),
        )
    }

    fn ok_trailers() -> http::HeaderMap {
        let mut t = http::HeaderMap::new();
        t.insert("grpc-status", "0".parse().unwrap());
        t
    }

    #[test]
    fn a_unary_call_becomes_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let rec = recorder(dir.path());
        let req = pb::RunJobRequest {
            command: "echo".into(),
            args: vec!["hi".into()],
            ..Default::default()
        };
        let mut c = rec
            .begin(
                "/joblet.JobService/RunJob",
                "s1",
                "admin",
                &framed(&req),
                None,
            )
            .unwrap();
        c.headers(&http::HeaderMap::new());
        let answer = framed(&pb::RunJobResponse {
            job_uuid: "u-1".into(),
            status: "RUNNING".into(),
            ..Default::default()
        });
        // Split across frames.
        c.data(&answer[..3]);
        c.data(&answer[3..]);
        c.trailers(&ok_trailers());
        c.finish();
        let lines = read(&dir.path().join("t.jsonl")).unwrap();
        assert_eq!(lines.len(), 1);
        let l = &lines[0];
        assert_eq!(
            (l.seq, l.service.as_str(), l.method.as_str()),
            (1, "joblet.JobService", "RunJob")
        );
        assert_eq!((l.session.as_str(), l.role.as_str()), ("s1", "admin"));
        assert_eq!(l.request, json!({"command": "echo", "args": ["hi"]}));
        assert_eq!(
            l.response.messages,
            vec![json!({"jobUuid": "u-1", "status": "RUNNING"})]
        );
        assert_eq!(
            l.status,
            CallStatus {
                code: "OK".into(),
                message: String::new()
            }
        );
        assert!(!l.client_cancelled);
        assert!(chrono::DateTime::parse_from_rfc3339(&l.time).is_ok());
        // In memory too.
        let (kept, dropped) = rec.session_lines("s1").unwrap();
        assert_eq!((kept.len(), dropped), (1, 0));
        assert_eq!(parse(&kept[0], "x").unwrap()[0], *l);
    }

    #[test]
    fn errors_logs_and_cancellation() {
        let dir = tempfile::tempdir().unwrap();
        let rec = recorder(dir.path());
        // Trailers-only error with a percent-encoded message.
        let mut c = rec
            .begin(
                "/joblet.JobService/StopJob",
                "",
                "viewer",
                &framed(&pb::StopJobReq { uuid: "x".into() }),
                None,
            )
            .unwrap();
        let mut h = http::HeaderMap::new();
        h.insert("grpc-status", "7".parse().unwrap());
        h.insert(
            "grpc-message",
            "role viewer%20is not allowed".parse().unwrap(),
        );
        c.headers(&h);
        c.finish();
        // A log stream, kept up to 8 bytes.
        let mut c = rec
            .begin(
                "/joblet.JobService/GetJobLogs",
                "",
                "admin",
                &framed(&pb::GetJobLogsReq { uuid: "x".into() }),
                None,
            )
            .unwrap();
        for part in ["hello ", "world\n"] {
            c.data(&framed(&pb::DataChunk {
                payload: part.as_bytes().to_vec().into(),
            }));
        }
        c.trailers(&ok_trailers());
        c.finish();
        // A stream the client left.
        let c = rec
            .begin(
                "/joblet.MonitoringService/StreamSystemMetrics",
                "",
                "admin",
                &[],
                None,
            )
            .unwrap();
        c.finish();
        // Not a Joblet call.
        assert!(
            rec.begin("/grpc.health.v1.Health/Check", "", "admin", &[], None)
                .is_none()
        );
        assert!(
            rec.begin("/jobletmock.v1.MockControl/Reset", "", "admin", &[], None)
                .is_none()
        );

        let lines = read(&dir.path().join("t.jsonl")).unwrap();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[0].status,
            CallStatus {
                code: "PERMISSION_DENIED".into(),
                message: "role viewer is not allowed".into()
            }
        );
        let log = lines[1].response.log.clone().unwrap();
        assert_eq!((log.chunks, log.bytes, log.truncated), (2, 12, true));
        assert_eq!(log.text.as_deref(), Some("hello wo"));
        assert_eq!(log.sha256, sha256_hex(b"hello world\n"));
        assert!(lines[1].response.messages.is_empty());
        assert!(lines[2].client_cancelled);
        assert_eq!(lines[2].status.code, "CANCELLED");
        assert_eq!(lines[2].request, json!({}));
        // The default session keeps its last 2 calls.
        let (kept, dropped) = rec.session_lines("default").unwrap();
        assert_eq!((kept.len(), dropped), (2, 1));
        rec.forget("");
        assert!(rec.session_lines("").unwrap().0.is_empty());
    }

    #[test]
    fn the_store_is_bounded_in_sessions() {
        let rec = Arc::new(
            Recorder::new(RecorderOptions {
                per_session: 5,
                max_sessions: 1,
                ..RecorderOptions::default()
            })
            .unwrap(),
        );
        for s in ["a", "b"] {
            let mut c = rec
                .begin("/joblet.JobService/ListJobs", s, "admin", &[], None)
                .unwrap();
            c.trailers(&ok_trailers());
            c.finish();
        }
        assert_eq!(rec.session_lines("a").unwrap().0.len(), 1);
        assert!(rec.session_lines("b").unwrap().0.is_empty());
        assert!(rec.file().is_none());
        assert_eq!(rec.written(), 2);
    }

    #[test]
    fn binary_logs_are_base64_and_utf8_prefixes_stay_whole() {
        let mut acc = LogAccumulator::new(100);
        acc.push(&[0xff, 0x00, 0x41]);
        let s = acc.finish();
        assert_eq!(s.text, None);
        assert_eq!(s.kept(), vec![0xff, 0x00, 0x41]);
        let mut acc = LogAccumulator::new(2);
        acc.push("é!".as_bytes()); // é is 2 bytes: the prefix is whole
        acc.push("é".as_bytes());
        let s = acc.finish();
        assert_eq!((s.text.as_deref(), s.truncated), (Some("é"), true));
        let mut acc = LogAccumulator::new(1);
        acc.push("é".as_bytes()); // cut inside: the text is empty
        assert_eq!(acc.finish().text.as_deref(), Some(""));
    }

    #[test]
    fn parse_reports_the_line() {
        let good = r#"{"v":1,"seq":1,"at_ms":0,"end_ms":1,"time":"t","role":"admin","service":"joblet.JobService","method":"ListJobs","request":{},"status":{"code":"OK"}}"#;
        let lines = parse(&format!("# a comment\n\n{good}\n"), "x.jsonl").unwrap();
        assert_eq!(lines.len(), 1);
        let err = parse(&format!("{good}\n{{\"v\":1}}\n"), "x.jsonl").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("x.jsonl, line 2: missing field"),
            "{err}"
        );
        let err = parse(&good.replace("\"v\":1", "\"v\":2"), "x").unwrap_err();
        assert!(err.to_string().contains("format version 2"), "{err}");
        let err = parse(&good.replace("\"OK\"", "\"NOPE\""), "x").unwrap_err();
        assert!(err.to_string().contains("unknown status code"), "{err}");
        let err = parse(
            &good.replace("\"end_ms\":1", "\"end_ms\":0,\"bogus\":1"),
            "x",
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `bogus`"), "{err}");
        let err = parse(&format!("{good}\n{good}"), "x").unwrap_err();
        assert!(err.to_string().contains("seq 1 appears twice"), "{err}");
    }

    #[test]
    fn paths_and_percent_decoding() {
        assert!(is_joblet_path("/joblet.JobService/RunJob"));
        assert!(!is_joblet_path("/joblet.JobService/"));
        assert!(!is_joblet_path("/grpc.health.v1.Health/Check"));
        assert!(!is_joblet_path("/jobletmock.v1.MockControl/Reset"));
        assert_eq!(percent_decode("a%20b%"), "a b%");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    proptest! {
        #[test]
        fn frames_split_anywhere_parse_the_same(
            messages in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..6),
            cuts in proptest::collection::vec(0usize..300, 0..8),
        ) {
            let mut body = Vec::new();
            for m in &messages {
                body.push(0);
                body.extend_from_slice(&(m.len() as u32).to_be_bytes());
                body.extend_from_slice(m);
            }
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(body.len())).collect();
            cuts.sort_unstable();
            let mut parser = FrameParser::default();
            let mut got = Vec::new();
            let mut from = 0;
            for c in cuts.into_iter().chain([body.len()]) {
                got.extend(parser.push(&body[from..c]).into_iter().map(|m| m.bytes.to_vec()));
                from = c;
            }
            prop_assert_eq!(got, messages);
            prop_assert_eq!(parser.pending(), 0);
        }

        #[test]
        fn percent_decoding_never_panics(s in "\\PC{0,20}") {
            let _ = percent_decode(&s);
        }

        #[test]
        fn the_parser_never_panics(s in "\\PC{0,200}") {
            let _ = parse(&s, "x");
        }
    }
}
