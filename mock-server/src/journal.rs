//! The call journal and wiremock-style verification.
//!
//! Every call the mock receives is recorded as a [`CallRecord`] (method, session,
//! the protobuf-encoded request, the answered gRPC code and message, wall and
//! session-clock time) in a bounded ring, the [`Journal`] (`--journal-size`,
//! default [`DEFAULT_CAPACITY`]). When the ring is full the oldest record falls
//! out and [`Journal::dropped`] counts it.
//!
//! Recording is cheap: the handler hands over the bytes it already has
//! (`prost::Message::encode_to_vec`); the request is decoded to JSON only when
//! somebody reads it ([`CallRecord::request_json`], [`CallView`]), through
//! `prost-reflect` and the descriptor set of both contracts ([`descriptor_pool`]).
//!
//! Tests assert what was sent with an [`Expectation`] and [`verify`]
//! (`tests::expectation_verifies_a_recorded_call` shows one).

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use bytes::Bytes;
use parking_lot::Mutex;
use prost_reflect::{DescriptorPool, DynamicMessage, Kind, MessageDescriptor, Value as PValue};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Default number of calls the journal keeps (`--journal-size`).
pub const DEFAULT_CAPACITY: usize = 10_000;

/// How many received calls a [`VerificationError`] lists at most.
pub const MAX_LISTED_CALLS: usize = 20;

/// The descriptors of both contracts (the contract crate's union, so a v2
/// request renders with its v2 fields), decoded once. Should the embedded set
/// ever fail to decode, the pool is empty and every request renders as `null`
/// (nothing panics).
pub fn descriptor_pool() -> &'static DescriptorPool {
    joblet_testkit::reflect::descriptor_pool()
}

/// The input message type of `method` (`"joblet.JobService/RunJob"`, a leading
/// `/` allowed), if the contract has that method.
pub fn input_descriptor(method: &str) -> Option<MessageDescriptor> {
    let (service, name) = method.trim_start_matches('/').rsplit_once('/')?;
    let service = descriptor_pool().get_service_by_name(service)?;
    service
        .methods()
        .find(|m| m.name() == name)
        .map(|m| m.input())
}

/// Decodes `request` as the input of `method`, or `None` (unknown method or
/// bytes that are not such a message).
fn decode_request(method: &str, request: &[u8]) -> Option<DynamicMessage> {
    DynamicMessage::decode(input_descriptor(method)?, request).ok()
}

/// Renders `request` (the protobuf encoding of the input of `method`) in the
/// proto3 canonical JSON mapping: camelCase field names, bytes in base64,
/// 64-bit integers as strings, enums by name, and fields at their default
/// value (`""`, `0`, `false`, empty lists and maps) omitted.
///
/// An unknown method or bytes that do not decode give [`Value::Null`].
pub fn request_json(method: &str, request: &[u8]) -> Value {
    decode_request(method, request)
        .and_then(|m| serde_json::to_value(&m).ok())
        .unwrap_or(Value::Null)
}

/// One top-level field of a request, rendered as a string: used by rules such
/// as `command=sleep*`.
///
/// `field` is the JSON name (`workDir`, `secretEnvironment`) or the proto name
/// (`secret_environment`). Scalars render as text (enums by name, bytes as
/// UTF-8 with replacement characters), repeated fields are joined by a space,
/// maps render as `key=value` pairs sorted by key and joined by a space, and
/// messages as JSON. A field left at its default renders as its default (`""`,
/// `0`). `None` when the method, the field or the bytes are not recognised.
pub fn request_field(method: &str, request: &[u8], field: &str) -> Option<String> {
    let desc = input_descriptor(method)?;
    let message = DynamicMessage::decode(desc.clone(), request).ok()?;
    let fd = desc
        .get_field_by_json_name(field)
        .or_else(|| desc.get_field_by_name(field))?;
    let value = message.get_field(&fd);
    let kind = fd.kind();
    Some(match value.as_ref() {
        PValue::List(items) => items
            .iter()
            .map(|v| render_value(v, &kind))
            .collect::<Vec<_>>()
            .join(" "),
        PValue::Map(map) => {
            let value_kind = match &kind {
                Kind::Message(entry) if entry.is_map_entry() => {
                    entry.map_entry_value_field().kind()
                }
                other => other.clone(),
            };
            let mut pairs: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}={}", render_map_key(k), render_value(v, &value_kind)))
                .collect();
            pairs.sort();
            pairs.join(" ")
        }
        other => render_value(other, &kind),
    })
}

fn render_map_key(key: &prost_reflect::MapKey) -> String {
    use prost_reflect::MapKey;
    match key {
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(n) => n.to_string(),
        MapKey::I64(n) => n.to_string(),
        MapKey::U32(n) => n.to_string(),
        MapKey::U64(n) => n.to_string(),
        MapKey::String(s) => s.clone(),
    }
}

fn render_value(value: &PValue, kind: &Kind) -> String {
    match value {
        PValue::Bool(b) => b.to_string(),
        PValue::I32(n) => n.to_string(),
        PValue::I64(n) => n.to_string(),
        PValue::U32(n) => n.to_string(),
        PValue::U64(n) => n.to_string(),
        PValue::F32(n) => n.to_string(),
        PValue::F64(n) => n.to_string(),
        PValue::String(s) => s.clone(),
        PValue::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        PValue::EnumNumber(n) => match kind {
            Kind::Enum(e) => e
                .get_value(*n)
                .map_or_else(|| n.to_string(), |v| v.name().to_owned()),
            _ => n.to_string(),
        },
        PValue::Message(m) => serde_json::to_string(m).unwrap_or_default(),
        PValue::List(items) => items
            .iter()
            .map(|v| render_value(v, kind))
            .collect::<Vec<_>>()
            .join(" "),
        PValue::Map(map) => {
            let mut pairs: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}={}", render_map_key(k), render_value(v, kind)))
                .collect();
            pairs.sort();
            pairs.join(" ")
        }
    }
}

/// The canonical upper-case name of a gRPC code (`FAILED_PRECONDITION`).
pub use joblet_testkit::code_name;

/// One call the mock received, as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    /// Position in the journal, from 1, increasing with every recorded call.
    pub seq: u64,
    /// Full method path without the leading `/`: `"joblet.JobService/RunJob"`
    /// (borrowed when the server's own `&'static str`: no allocation per call).
    pub method: Cow<'static, str>,
    /// The session the call belongs to.
    pub session: String,
    /// The protobuf-encoded request message (the first message of a stream).
    pub request: Bytes,
    /// The gRPC code answered.
    pub code: tonic::Code,
    /// The status message, `""` on `OK`.
    pub message: String,
    /// When the call was received, on the host's clock.
    pub wall_time: SystemTime,
    /// The session's (possibly virtual) clock at the call, Unix milliseconds.
    pub clock_time_ms: i64,
}

impl CallRecord {
    /// The method name without its service: `"RunJob"`.
    pub fn short_method(&self) -> &str {
        self.method
            .rsplit_once('/')
            .map_or(self.method.as_ref(), |(_, m)| m)
    }

    /// The request in the proto3 canonical JSON mapping (see `request_json`):
    /// camelCase names, bytes in base64, **fields at their default value
    /// omitted**. `null` for an unknown method or bytes that do not decode.
    pub fn request_json(&self) -> Value {
        request_json(&self.method, &self.request)
    }

    /// One top-level request field as a string (see `request_field`).
    pub fn request_field(&self, field: &str) -> Option<String> {
        request_field(&self.method, &self.request, field)
    }

    /// The serialisable view of this record, for the control API and the CLI.
    pub fn view(&self) -> CallView {
        CallView::from(self)
    }
}

/// A bounded ring of the calls received, oldest first.
#[derive(Debug)]
pub struct Journal {
    capacity: usize,
    ring: Mutex<VecDeque<CallRecord>>,
    next_seq: AtomicU64,
    dropped: AtomicU64,
}

impl Default for Journal {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl Journal {
    /// A journal keeping the last `capacity` calls; `0` records nothing.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            ring: Mutex::new(VecDeque::with_capacity(capacity.min(1024))),
            next_seq: AtomicU64::new(1),
            dropped: AtomicU64::new(0),
        }
    }

    /// How many calls the journal keeps at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Records a call stamped with the current wall time and returns its
    /// sequence number (`0` when the capacity is 0 and nothing is recorded).
    /// When the ring is full the oldest record falls out.
    pub fn record(
        &self,
        method: impl Into<Cow<'static, str>>,
        session: impl Into<String>,
        request: Bytes,
        code: tonic::Code,
        message: impl Into<String>,
        clock_time_ms: i64,
    ) -> u64 {
        if self.capacity == 0 {
            return 0;
        }
        let mut record = CallRecord {
            seq: 0,
            method: match method.into() {
                Cow::Borrowed(m) => Cow::Borrowed(m.trim_start_matches('/')),
                Cow::Owned(m) if m.starts_with('/') => {
                    Cow::Owned(m.trim_start_matches('/').to_owned())
                }
                owned => owned,
            },
            session: session.into(),
            request,
            code,
            message: message.into(),
            wall_time: SystemTime::now(),
            clock_time_ms,
        };
        let mut ring = self.ring.lock();
        // Taken under the lock, so the ring is in `seq` order.
        record.seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let seq = record.seq;
        // The evicted record is freed after the lock is released.
        let mut evicted = None;
        while ring.len() >= self.capacity {
            evicted = ring.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        ring.push_back(record);
        drop(ring);
        drop(evicted);
        seq
    }

    /// Records a call from the handler's result: `OK` with an empty message, or
    /// the status's code and message.
    pub fn record_result<T>(
        &self,
        method: impl Into<Cow<'static, str>>,
        session: impl Into<String>,
        request: Bytes,
        result: &Result<T, tonic::Status>,
        clock_time_ms: i64,
    ) -> u64 {
        let (code, message) = match result {
            Ok(_) => (tonic::Code::Ok, String::new()),
            Err(s) => (s.code(), s.message().to_owned()),
        };
        self.record(method, session, request, code, message, clock_time_ms)
    }

    /// A copy of the recorded calls, oldest first.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.ring.lock().iter().cloned().collect()
    }

    /// Forgets every recorded call and resets [`Journal::dropped`]; sequence
    /// numbers keep increasing.
    pub fn clear(&self) {
        let mut ring = self.ring.lock();
        ring.clear();
        self.dropped.store(0, Ordering::Relaxed);
    }

    /// How many calls are recorded now.
    pub fn len(&self) -> usize {
        self.ring.lock().len()
    }

    /// Whether no call is recorded.
    pub fn is_empty(&self) -> bool {
        self.ring.lock().is_empty()
    }

    /// How many calls fell out of the ring because it was full (since the
    /// start or the last [`Journal::clear`]).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// [`verify`] against the calls recorded now.
    pub fn verify(&self, expectation: &Expectation) -> Result<usize, VerificationError> {
        verify(&self.calls(), expectation)
    }
}

/// How many matching calls an [`Expectation`] wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Times {
    /// Exactly this many.
    Exactly(usize),
    /// This many or more.
    AtLeast(usize),
    /// This many or fewer.
    AtMost(usize),
}

impl Times {
    /// Whether `n` matching calls satisfy this count.
    pub fn accepts(self, n: usize) -> bool {
        match self {
            Self::Exactly(k) => n == k,
            Self::AtLeast(k) => n >= k,
            Self::AtMost(k) => n <= k,
        }
    }
}

impl fmt::Display for Times {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, n) = match *self {
            Self::Exactly(0) => return f.write_str("never"),
            Self::Exactly(n) => ("exactly", n),
            Self::AtLeast(n) => ("at least", n),
            Self::AtMost(n) => ("at most", n),
        };
        write!(f, "{what} {n} time{}", if n == 1 { "" } else { "s" })
    }
}

/// What calls a test expects, wiremock-style: filters plus a count.
///
/// Every filter left unset matches any call; the count defaults to
/// `at_least(1)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    method: Option<String>,
    session: Option<String>,
    request: Option<Value>,
    code: Option<tonic::Code>,
    times: Times,
}

impl Default for Expectation {
    fn default() -> Self {
        Self::any()
    }
}

impl Expectation {
    /// Any call (narrow it with the other builders).
    pub fn any() -> Self {
        Self {
            method: None,
            session: None,
            request: None,
            code: None,
            times: Times::AtLeast(1),
        }
    }

    /// Calls to a method matching `pattern`, a glob (`*`, `?`) tried on the
    /// short name (`"RunJob"`, `"Get*"`) and on the full path
    /// (`"joblet.JobService/*"`).
    pub fn method(pattern: impl Into<String>) -> Self {
        Self {
            method: Some(pattern.into()),
            ..Self::any()
        }
    }

    /// Only calls of this session.
    pub fn session(mut self, session: impl Into<String>) -> Self {
        self.session = Some(session.into());
        self
    }

    /// Only calls whose request JSON (see [`CallRecord::request_json`])
    /// contains `subset`: every key of an expected object is present with a
    /// matching value (objects recursively), arrays have the same length and
    /// matching elements, numbers compare by value (and match a 64-bit
    /// integer rendered as a string). Since the JSON omits fields at their
    /// default value, an expected `0`, `""`, `false`, `null`, `[]` or `{}`
    /// also matches a missing key.
    pub fn request_contains(mut self, subset: Value) -> Self {
        self.request = Some(subset);
        self
    }

    /// Only calls answered with this code.
    pub fn code(mut self, code: tonic::Code) -> Self {
        self.code = Some(code);
        self
    }

    /// Exactly `n` matching calls.
    pub fn times(mut self, n: usize) -> Self {
        self.times = Times::Exactly(n);
        self
    }

    /// At least `n` matching calls.
    pub fn at_least(mut self, n: usize) -> Self {
        self.times = Times::AtLeast(n);
        self
    }

    /// At most `n` matching calls.
    pub fn at_most(mut self, n: usize) -> Self {
        self.times = Times::AtMost(n);
        self
    }

    /// No matching call at all.
    pub fn never(self) -> Self {
        self.times(0)
    }

    /// The count this expectation wants.
    pub fn expected_times(&self) -> Times {
        self.times
    }

    /// Whether `call` passes every filter (the count aside).
    pub fn matches(&self, call: &CallRecord) -> bool {
        self.matches_with(call, &mut || call.request_json())
    }

    fn matches_with(&self, call: &CallRecord, json: &mut dyn FnMut() -> Value) -> bool {
        if let Some(p) = &self.method
            && !(glob_match(p, call.short_method()) || glob_match(p, &call.method))
        {
            return false;
        }
        if self.session.as_ref().is_some_and(|s| *s != call.session) {
            return false;
        }
        if self.code.is_some_and(|c| c != call.code) {
            return false;
        }
        match &self.request {
            Some(expected) => json_contains(&json(), expected),
            None => true,
        }
    }
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.method {
            Some(m) => write!(f, "{m} calls")?,
            None => f.write_str("calls")?,
        }
        let mut filters = Vec::new();
        if let Some(s) = &self.session {
            filters.push(format!("session {s:?}"));
        }
        if let Some(r) = &self.request {
            filters.push(format!("request containing {r}"));
        }
        if let Some(c) = self.code {
            filters.push(format!("code {}", code_name(c)));
        }
        if !filters.is_empty() {
            write!(f, " with {}", filters.join(", "))?;
        }
        write!(f, ": {}", self.times)
    }
}

/// A failed `verify`: what was expected, how many calls matched, and the
/// calls received.
#[derive(Debug, Clone, PartialEq)]
pub struct VerificationError {
    /// The expectation that failed (boxed to keep the error small).
    pub expectation: Box<Expectation>,
    /// How many received calls passed its filters.
    pub matched: usize,
    /// How many calls were received (given to `verify`).
    pub received: usize,
    listing: String,
}

impl fmt::Display for VerificationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "verification failed: expected {}, but {} matched",
            self.expectation, self.matched
        )?;
        f.write_str(&self.listing)
    }
}

impl std::error::Error for VerificationError {}

/// Counts the calls matching `e` and checks the count: `Ok(matched)`, or an
/// error listing the received calls (the last [`MAX_LISTED_CALLS`], matching
/// ones marked `[matched]`).
pub fn verify(calls: &[CallRecord], e: &Expectation) -> Result<usize, VerificationError> {
    let mut jsons: Vec<Option<Value>> = vec![None; calls.len()];
    let mut hits = vec![false; calls.len()];
    for (i, call) in calls.iter().enumerate() {
        let slot = &mut jsons[i];
        hits[i] = e.matches_with(call, &mut || {
            slot.get_or_insert_with(|| call.request_json()).clone()
        });
    }
    let matched = hits.iter().filter(|h| **h).count();
    if e.times.accepts(matched) {
        return Ok(matched);
    }
    let mut listing = String::new();
    if calls.is_empty() {
        listing.push_str("No calls were received.\n");
    } else {
        let skip = calls.len().saturating_sub(MAX_LISTED_CALLS);
        listing.push_str(&format!("Received {} call(s)", calls.len()));
        if skip > 0 {
            listing.push_str(&format!(" (the first {skip} not shown)"));
        }
        listing.push_str(":\n");
        for (i, call) in calls.iter().enumerate().skip(skip) {
            let json = jsons[i].take().unwrap_or_else(|| call.request_json());
            listing.push_str(&format!(
                "  #{} {} session={:?} code={}",
                call.seq,
                call.method,
                call.session,
                code_name(call.code)
            ));
            if !call.message.is_empty() {
                listing.push_str(&format!(" message={:?}", call.message));
            }
            listing.push_str(&format!(" request={json}"));
            if hits[i] {
                listing.push_str(" [matched]");
            }
            listing.push('\n');
        }
    }
    Err(VerificationError {
        expectation: Box::new(e.clone()),
        matched,
        received: calls.len(),
        listing,
    })
}

/// Whether `actual` contains `expected` (the rule of
/// [`Expectation::request_contains`]).
pub fn json_contains(actual: &Value, expected: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(want), Value::Object(have)) => want.iter().all(|(k, v)| match have.get(k) {
            Some(a) => json_contains(a, v),
            None => is_json_default(v),
        }),
        (Value::Array(want), Value::Array(have)) => {
            want.len() == have.len() && want.iter().zip(have).all(|(w, h)| json_contains(h, w))
        }
        (Value::Number(w), Value::Number(h)) => {
            w == h || matches!((w.as_f64(), h.as_f64()), (Some(a), Some(b)) if a == b)
        }
        (Value::Number(w), Value::String(h)) => w.to_string() == *h,
        (w, h) => w == h,
    }
}

/// Whether `v` is what proto3 JSON omits: a default scalar or an empty list or
/// object.
fn is_json_default(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// A glob with `*` (any run, `/` included) and `?` (one character).
fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The serialisable view of a [`CallRecord`], for the control API and the CLI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallView {
    /// Position in the journal.
    pub seq: u64,
    /// Full method path: `"joblet.JobService/RunJob"`.
    pub method: String,
    /// The session of the call.
    pub session: String,
    /// The request in proto3 JSON (defaults omitted), `null` if undecodable.
    pub request: Value,
    /// The gRPC code answered: `"OK"`, `"INVALID_ARGUMENT"`, ...
    pub code: String,
    /// The status message, `""` on `OK`.
    pub message: String,
    /// Wall time of the call, RFC 3339 in UTC with milliseconds.
    pub time: String,
    /// The session clock at the call, RFC 3339 in UTC with milliseconds.
    pub clock_time: String,
}

impl From<&CallRecord> for CallView {
    fn from(r: &CallRecord) -> Self {
        use chrono::{DateTime, SecondsFormat, Utc};
        let time = DateTime::<Utc>::from(r.wall_time).to_rfc3339_opts(SecondsFormat::Millis, true);
        let clock_time = DateTime::<Utc>::from_timestamp_millis(r.clock_time_ms).map_or_else(
            || r.clock_time_ms.to_string(),
            |t| t.to_rfc3339_opts(SecondsFormat::Millis, true),
        );
        Self {
            seq: r.seq,
            method: r.method.to_string(),
            session: r.session.clone(),
            request: r.request_json(),
            code: code_name(r.code).to_owned(),
            message: r.message.clone(),
            time,
            clock_time,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use joblet_testkit::parse_code;
    use joblet_testkit::pb;
    use proptest::prelude::*;
    use prost::Message;

    #[test]
    fn expectation_verifies_a_recorded_call() {
        let journal = Journal::new(100);
        let request = joblet_testkit::pb::RunJobRequest {
            command: "echo".into(),
            ..Default::default()
        };
        journal.record(
            "joblet.JobService/RunJob",
            "a",
            request.encode_to_vec().into(),
            tonic::Code::Ok,
            "",
            0,
        );
        let e = Expectation::method("RunJob")
            .session("a")
            .request_contains(serde_json::json!({"command": "echo"}))
            .times(1);
        assert_eq!(verify(&journal.calls(), &e).ok(), Some(1));
    }
    use serde_json::json;

    const RUN: &str = "joblet.JobService/RunJob";

    fn run_job(command: &str, args: &[&str]) -> Bytes {
        pb::RunJobRequest {
            command: command.into(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            ..Default::default()
        }
        .encode_to_vec()
        .into()
    }

    fn journal_of(calls: &[(&str, &str, Bytes, tonic::Code)]) -> Journal {
        let j = Journal::new(100);
        for (m, s, r, c) in calls {
            j.record(m.to_string(), *s, r.clone(), *c, "", 0);
        }
        j
    }

    fn sample() -> Vec<CallRecord> {
        journal_of(&[
            (RUN, "a", run_job("echo", &["hi"]), tonic::Code::Ok),
            (RUN, "a", run_job("echo", &["there"]), tonic::Code::Ok),
            (RUN, "b", run_job("", &[]), tonic::Code::InvalidArgument),
            (
                "joblet.JobService/ListJobs",
                "a",
                pb::EmptyRequest {}.encode_to_vec().into(),
                tonic::Code::Ok,
            ),
        ])
        .calls()
    }

    #[test]
    fn requests_of_v2_clients_render_whole() {
        // A v2 RunJob's `timeout` (field 21, v2 only) and a v2-only method's
        // request are in the JSON that `verify` matches.
        let run = pb::v2::RunJobRequest {
            command: "sleep".into(),
            max_io_bps: 5,
            timeout: "5s".into(),
            ..Default::default()
        };
        assert_eq!(
            request_json(RUN, &run.encode_to_vec()),
            json!({"command": "sleep", "maxIobps": 5, "timeout": "5s"})
        );
        let validate = pb::v2::ValidateRuntimeYamlRequest {
            yaml_content: "name: x".into(),
        };
        assert_eq!(
            request_json(
                "joblet.RuntimeService/ValidateRuntimeYAML",
                &validate.encode_to_vec()
            ),
            json!({"yamlContent": "name: x"})
        );
        assert_eq!(
            request_field(RUN, &run.encode_to_vec(), "timeout").as_deref(),
            Some("5s")
        );
    }

    #[test]
    fn ring_is_bounded_and_counts_dropped() {
        let j = Journal::new(3);
        for i in 0..5 {
            let seq = j.record(RUN, "s", run_job("echo", &[]), tonic::Code::Ok, "", i);
            assert_eq!(seq, i as u64 + 1);
        }
        assert_eq!(j.len(), 3);
        assert_eq!(j.dropped(), 2);
        let seqs: Vec<u64> = j.calls().iter().map(|c| c.seq).collect();
        assert_eq!(seqs, [3, 4, 5]);
        j.clear();
        assert!(j.is_empty());
        assert_eq!(j.dropped(), 0);
        assert_eq!(j.record(RUN, "s", Bytes::new(), tonic::Code::Ok, "", 0), 6);
    }

    #[test]
    fn capacity_zero_records_nothing() {
        let j = Journal::new(0);
        assert_eq!(j.record(RUN, "s", Bytes::new(), tonic::Code::Ok, "", 0), 0);
        assert_eq!((j.len(), j.dropped()), (0, 0));
        assert_eq!(Journal::default().capacity(), DEFAULT_CAPACITY);
    }

    #[test]
    fn record_result_takes_code_and_message() {
        let j = Journal::new(4);
        let err: Result<(), _> = Err(tonic::Status::not_found("job x not found"));
        j.record_result("/joblet.JobService/StopJob", "s", Bytes::new(), &err, 0);
        j.record_result(RUN, "s", Bytes::new(), &Ok::<_, tonic::Status>(()), 0);
        let calls = j.calls();
        assert_eq!(calls[0].method, "joblet.JobService/StopJob");
        assert_eq!(calls[0].short_method(), "StopJob");
        assert_eq!(
            (calls[0].code, calls[0].message.as_str()),
            (tonic::Code::NotFound, "job x not found")
        );
        assert_eq!(
            (calls[1].code, calls[1].message.as_str()),
            (tonic::Code::Ok, "")
        );
    }

    #[test]
    fn renders_run_job_request_as_proto3_json() {
        let request = pb::RunJobRequest {
            command: "python".into(),
            args: vec!["train.py".into(), "--epochs".into(), "3".into()],
            environment: [
                ("STAGE".to_owned(), "ci".to_owned()),
                ("A".to_owned(), "1".to_owned()),
            ]
            .into_iter()
            .collect(),
            secret_environment: [("TOKEN".to_owned(), "s3cret".to_owned())]
                .into_iter()
                .collect(),
            work_dir: "/work".into(),
            gpu_count: 2,
            uploads: vec![pb::FileUpload {
                path: "a.txt".into(),
                content: b"hi".to_vec(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let json = request_json(RUN, &request.encode_to_vec());
        assert_eq!(
            json,
            json!({
                "command": "python",
                "args": ["train.py", "--epochs", "3"],
                "environment": {"STAGE": "ci", "A": "1"},
                "secretEnvironment": {"TOKEN": "s3cret"},
                "workDir": "/work",
                "gpuCount": 2,
                "uploads": [{"path": "a.txt", "content": "aGk="}],
            })
        );
        // Defaults (maxCpu 0, name "") are omitted.
        assert!(json.get("maxCpu").is_none() && json.get("name").is_none());
        // The empty request renders as an empty object.
        assert_eq!(request_json(RUN, &[]), json!({}));
    }

    #[test]
    fn unknown_method_or_garbage_is_null() {
        assert_eq!(request_json("joblet.JobService/Nope", &[]), Value::Null);
        assert_eq!(request_json("NoSlash", &[]), Value::Null);
        assert_eq!(request_json("nope.Service/RunJob", &[]), Value::Null);
        assert_eq!(request_json(RUN, &[0xff, 0xff, 0xff]), Value::Null);
        assert_eq!(request_field(RUN, &[0xff, 0xff, 0xff], "command"), None);
        assert!(
            descriptor_pool()
                .get_service_by_name("joblet.JobService")
                .is_some()
        );
        assert!(input_descriptor("/joblet.JobService/RunJob").is_some());
    }

    #[test]
    fn request_field_by_json_or_proto_name() {
        let request = pb::RunJobRequest {
            command: "sleep".into(),
            args: vec!["1".into(), "2".into()],
            secret_environment: [
                ("B".to_owned(), "2".to_owned()),
                ("A".to_owned(), "1".to_owned()),
            ]
            .into_iter()
            .collect(),
            gpu_count: 3,
            ..Default::default()
        }
        .encode_to_vec();
        assert_eq!(
            request_field(RUN, &request, "command").as_deref(),
            Some("sleep")
        );
        assert_eq!(request_field(RUN, &request, "args").as_deref(), Some("1 2"));
        assert_eq!(
            request_field(RUN, &request, "gpuCount").as_deref(),
            Some("3")
        );
        assert_eq!(
            request_field(RUN, &request, "gpu_count").as_deref(),
            Some("3")
        );
        assert_eq!(
            request_field(RUN, &request, "secretEnvironment").as_deref(),
            Some("A=1 B=2")
        );
        assert_eq!(
            request_field(RUN, &request, "secret_environment").as_deref(),
            Some("A=1 B=2")
        );
        assert_eq!(request_field(RUN, &request, "name").as_deref(), Some(""));
        assert_eq!(request_field(RUN, &request, "maxCpu").as_deref(), Some("0"));
        assert_eq!(request_field(RUN, &request, "nope"), None);
        assert_eq!(
            request_field("joblet.JobService/Nope", &request, "command"),
            None
        );
    }

    #[test]
    fn counts_pass() {
        let calls = sample();
        let run = || Expectation::method("RunJob");
        assert_eq!(verify(&calls, &run().times(3)), Ok(3));
        assert_eq!(verify(&calls, &run().at_least(2)), Ok(3));
        assert_eq!(verify(&calls, &run().at_most(3)), Ok(3));
        assert_eq!(
            verify(&calls, &Expectation::method("DeleteJob").never()),
            Ok(0)
        );
        assert_eq!(verify(&calls, &run()), Ok(3), "default is at least once");
        assert_eq!(verify(&calls, &Expectation::any().times(4)), Ok(4));
        assert_eq!(
            verify(&calls, &Expectation::method("joblet.JobService/*").times(4)),
            Ok(4)
        );
        assert_eq!(
            verify(&calls, &Expectation::method("*Jobs").times(1)),
            Ok(1)
        );
        assert_eq!(verify(&calls, &run().session("a").times(2)), Ok(2));
        assert_eq!(
            verify(&calls, &run().code(tonic::Code::InvalidArgument).times(1)),
            Ok(1)
        );
        let hi = run().request_contains(json!({"command": "echo", "args": ["hi"]}));
        assert_eq!(verify(&calls, &hi.times(1)), Ok(1));
    }

    #[test]
    fn times_fails_with_a_helpful_message() {
        let calls = sample();
        let e = Expectation::method("RunJob")
            .session("a")
            .request_contains(json!({"command": "ls"}))
            .times(1);
        let err = verify(&calls, &e).expect_err("must fail");
        assert_eq!((err.matched, err.received), (0, 4));
        let msg = err.to_string();
        assert!(
            msg.starts_with(
                "verification failed: expected RunJob calls with session \"a\", \
                 request containing {\"command\":\"ls\"}: exactly 1 time, but 0 matched\n"
            ),
            "{msg}"
        );
        assert!(msg.contains("Received 4 call(s):"), "{msg}");
        assert!(
            msg.contains(
                "#1 joblet.JobService/RunJob session=\"a\" code=OK \
                 request={\"args\":[\"hi\"],\"command\":\"echo\"}"
            ),
            "{msg}"
        );
        assert!(
            msg.contains(
                "#3 joblet.JobService/RunJob session=\"b\" code=INVALID_ARGUMENT request={}"
            ),
            "{msg}"
        );
        assert!(msg.contains("#4 joblet.JobService/ListJobs"), "{msg}");
        assert!(!msg.contains("[matched]"), "{msg}");
    }

    #[test]
    fn at_least_at_most_never_fail() {
        let calls = sample();
        let err = verify(&calls, &Expectation::method("RunJob").at_least(4)).expect_err("fails");
        let msg = err.to_string();
        assert!(
            msg.contains("expected RunJob calls: at least 4 times, but 3 matched"),
            "{msg}"
        );
        assert_eq!(msg.matches("[matched]").count(), 3, "{msg}");

        let err = verify(&calls, &Expectation::method("RunJob").at_most(2)).expect_err("fails");
        assert!(
            err.to_string()
                .contains("expected RunJob calls: at most 2 times, but 3 matched")
        );

        let e = Expectation::method("ListJobs")
            .code(tonic::Code::Ok)
            .never();
        let msg = verify(&calls, &e).expect_err("fails").to_string();
        assert!(
            msg.contains("expected ListJobs calls with code OK: never, but 1 matched"),
            "{msg}"
        );
        assert!(
            msg.contains(
                "#4 joblet.JobService/ListJobs session=\"a\" code=OK request={} [matched]"
            ),
            "{msg}"
        );

        let msg = verify(&[], &Expectation::method("RunJob").at_least(1))
            .expect_err("fails")
            .to_string();
        assert!(msg.contains("at least 1 time, but 0 matched"), "{msg}");
        assert!(msg.contains("No calls were received."), "{msg}");
    }

    #[test]
    fn listing_is_capped() {
        let j = Journal::new(100);
        for _ in 0..25 {
            j.record(RUN, "s", run_job("echo", &[]), tonic::Code::Ok, "", 0);
        }
        let msg = j
            .verify(&Expectation::method("StopJob"))
            .expect_err("fails")
            .to_string();
        assert!(
            msg.contains("Received 25 call(s) (the first 5 not shown):"),
            "{msg}"
        );
        assert_eq!(msg.matches("\n  #").count(), MAX_LISTED_CALLS, "{msg}");
        assert!(
            !msg.contains("#5 ") && msg.contains("#6 ") && msg.contains("#25 "),
            "{msg}"
        );
    }

    #[test]
    fn subset_matching_edge_cases() {
        let actual = json!({
            "command": "echo",
            "args": ["a", "b"],
            "environment": {"X": "1", "Y": "2"},
            "gpuCount": 2,
            "big": "9007199254740993",
            "uploads": [{"path": "p", "content": "aGk="}],
        });
        assert!(json_contains(&actual, &json!({})));
        assert!(
            json_contains(&actual, &json!({"environment": {"X": "1"}})),
            "nested subset"
        );
        assert!(!json_contains(&actual, &json!({"environment": {"X": "2"}})));
        assert!(!json_contains(&actual, &json!({"environment": {"Z": "1"}})));
        assert!(json_contains(&actual, &json!({"args": ["a", "b"]})));
        assert!(
            !json_contains(&actual, &json!({"args": ["a"]})),
            "arrays must be equal"
        );
        assert!(
            !json_contains(&actual, &json!({"args": ["b", "a"]})),
            "order matters"
        );
        assert!(
            json_contains(&actual, &json!({"uploads": [{"path": "p"}]})),
            "objects in arrays by subset"
        );
        assert!(
            json_contains(&actual, &json!({"gpuCount": 2.0})),
            "numbers by value"
        );
        assert!(
            !json_contains(&actual, &json!({"gpuCount": "2"})),
            "a string is not a number"
        );
        assert!(
            json_contains(&actual, &json!({"big": 9007199254740993_u64})),
            "int64 as string"
        );
        assert!(!json_contains(&actual, &json!({"command": "ech"})));
        assert!(!json_contains(&actual, &json!({"command": null})));
        // Omitted defaults match their default value.
        assert!(json_contains(
            &actual,
            &json!({"maxCpu": 0, "name": "", "volumes": [], "x": {}, "y": false})
        ));
        assert!(!json_contains(&actual, &json!({"maxCpu": 1})));
        assert!(
            !json_contains(&Value::Null, &json!({"maxCpu": 0})),
            "undecodable never matches"
        );
        assert!(!json_contains(&Value::Null, &json!({"command": "echo"})));
        assert!(json_contains(&json!("x"), &json!("x")));
    }

    #[test]
    fn glob_forms() {
        assert!(glob_match("RunJob", "RunJob"));
        assert!(!glob_match("RunJob", "RunJobs"));
        assert!(glob_match("*Job", "StopJob"));
        assert!(glob_match("Get?obStatus", "GetJobStatus"));
        assert!(glob_match("*", ""));
        assert!(glob_match("joblet.*/Run*", "joblet.JobService/RunJob"));
        assert!(!glob_match("?", ""));
    }

    #[test]
    fn codes_round_trip() {
        for n in 0..=16 {
            let c = tonic::Code::from_i32(n);
            assert_eq!(parse_code(code_name(c)), Some(c));
            assert_eq!(parse_code(&n.to_string()), Some(c));
        }
        assert_eq!(parse_code("not-found"), Some(tonic::Code::NotFound));
        assert_eq!(parse_code("17"), None);
        assert_eq!(parse_code("BOGUS"), None);
    }

    #[test]
    fn view_serialises() {
        let j = Journal::new(2);
        j.record(
            RUN,
            "a",
            run_job("echo", &["hi"]),
            tonic::Code::InvalidArgument,
            "bad",
            1_700_000_000_123,
        );
        let view = j.calls()[0].view();
        assert_eq!(view.code, "INVALID_ARGUMENT");
        assert_eq!(view.clock_time, "2023-11-14T22:13:20.123Z");
        assert!(
            chrono::DateTime::parse_from_rfc3339(&view.time).is_ok(),
            "{}",
            view.time
        );
        let v = serde_json::to_value(&view).unwrap_or_default();
        assert_eq!(v["method"], RUN);
        assert_eq!(v["session"], "a");
        assert_eq!(v["message"], "bad");
        assert_eq!(v["request"], json!({"command": "echo", "args": ["hi"]}));
        assert_eq!(v["seq"], 1);
        let back: CallView = serde_json::from_value(v).unwrap_or_else(|_| view.clone());
        assert_eq!(back, view);
        // A clock out of chrono's range still renders.
        let mut r = j.calls()[0].clone();
        r.clock_time_ms = i64::MAX;
        assert_eq!(r.view().clock_time, i64::MAX.to_string());
    }

    proptest! {
        #[test]
        fn ring_keeps_the_newest(capacity in 0usize..20, n in 0usize..60) {
            let j = Journal::new(capacity);
            for i in 0..n {
                j.record(RUN, "s", Bytes::new(), tonic::Code::Ok, "", i as i64);
                prop_assert!(j.len() <= capacity);
            }
            let kept = n.min(capacity);
            let calls = j.calls();
            prop_assert_eq!(calls.len(), kept);
            prop_assert_eq!(j.dropped(), if capacity == 0 { 0 } else { (n - kept) as u64 });
            let want: Vec<i64> = ((n - kept)..n).map(|i| i as i64).collect();
            let got: Vec<i64> = calls.iter().map(|c| c.clock_time_ms).collect();
            prop_assert_eq!(got, want);
            prop_assert!(calls.windows(2).all(|w| w[0].seq < w[1].seq));
        }
    }
}
