//! Transcripts (feature `transcript`): every call of the five Joblet services
//! with its whole answer, as JSON Lines, for record and replay (`joblet-mock
//! --record FILE`, the mock's `ExportTranscript`, the recording proxy of
//! `joblet-conformance record`, and `joblet-conformance replay`).
//!
//! # The format
//!
//! One call a line ([`Line`]), written when the call completes; `seq` numbers
//! calls in the order they started, so a reader sorts by it. The schema is
//! [`SCHEMA`] (`schema/transcript.schema.json`):
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
//! hands them to a [`LineSink`]. [`RecordLayer`] records every call through a
//! tonic server (put it outermost, so refused calls are recorded too);
//! [`collect_request`], [`Recorder::begin`] and [`record_response`] are the
//! pieces a proxy uses. [`read`] and [`parse`] read transcripts back.
//!
//! # Modules
//!
//! `line` holds the format and its reader, `wire` the gRPC framing and proto3
//! JSON rendering, `hash` SHA-256 and log summaries, `recorder` the recorder
//! and its per-call capture, `layer` the tower layer and response body.

mod hash;
mod layer;
mod line;
mod recorder;
mod wire;

pub use hash::{LogAccumulator, Sha256, sha256_hex};
pub use layer::{
    MAX_REQUEST_BODY, RecordLayer, RecordService, RecordedBody, collect_request, record_response,
};
pub use line::{
    CallStatus, FORMAT_VERSION, Line, LogSummary, Response, SCHEMA, TranscriptError, parse, read,
};
pub use recorder::{
    CallCapture, DEFAULT_LOG_LIMIT, LineSink, MAX_RECORDED_REQUEST, MAX_STREAM_MESSAGES, Recorder,
    RecorderOptions,
};
pub use wire::{
    FrameParser, GrpcMessage, compact_options, is_joblet_path, percent_decode, render, role_of,
    session_of,
};

pub use crate::reflect::{descriptor_pool, method_descriptor, method_descriptor_in, pool_of};
