//! A fault rule and its parts: matchers, delays, failures, triggers, the
//! errors that refuse a rule, and the gRPC codes by name.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::Rng;
use rand::rngs::StdRng;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

/// The longest delay a rule may ask for.
pub const MAX_DELAY: Duration = Duration::from_secs(24 * 3600);

/// Message of a cut stream when the rule has no `fail`.
pub const CUT_MESSAGE: &str = "stream cut by fault rule";

/// Message of a failed call when the rule's `fail` has no message.
pub const FAIL_MESSAGE: &str = "fault injected by joblet-mock";

/// Why fault rules cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FaultError {
    /// A one-line rule (`--fault`) does not parse or is not valid.
    #[error("fault rule `{rule}`: {part}: {reason}")]
    Syntax {
        /// The whole rule as given.
        rule: String,
        /// The offending item or key.
        part: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A rule given as data (control API, code) is not valid.
    #[error("invalid fault rule for rpc `{rpc}`: {part}: {reason}")]
    Invalid {
        /// The rule's `rpc` glob, to recognise it.
        rpc: String,
        /// The offending key.
        part: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A YAML fault file does not parse or holds an invalid rule.
    #[error("fault file {file}{}: {reason}", at_line(*.line))]
    Yaml {
        /// The file name as given.
        file: String,
        /// The line (from 1) of the problem, when known.
        line: Option<usize>,
        /// What is wrong.
        reason: String,
    },
    /// A fault file cannot be read.
    #[error("cannot read fault file {file}: {source}")]
    Io {
        /// The file name.
        file: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

pub(crate) fn at_line(line: Option<usize>) -> String {
    line.map(|l| format!(":{l}")).unwrap_or_default()
}

/// One fault rule: matchers, actions and triggers (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawRule")]
pub struct FaultRule {
    /// Glob over the short method name (`RunJob`) and the full path
    /// (`joblet.JobService/RunJob`).
    pub rpc: String,
    /// Glob over the caller's session; `None` matches every session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// A request field whose value must match a glob.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<FieldMatch>,
    /// Delay the call (before anything else happens).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay: Option<Delay>,
    /// With `delay`: at most this many matching calls are in their delay at
    /// once (a service time with this many servers); the others wait their
    /// turn first, in arrival order. A node of known capacity: `concurrency`
    /// calls per `delay`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// Fail the call with this status; with a cut, the status the cut stream ends with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail: Option<Fail>,
    /// Cut the response stream after this many messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut_after_messages: Option<u64>,
    /// Cut the response stream once this many bytes (protobuf-encoded) were sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut_after_bytes: Option<u64>,
    /// Stall the response stream after this many messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stall_after_messages: Option<u64>,
    /// The first `after` matching calls pass.
    #[serde(skip_serializing_if = "is_zero")]
    pub after: u64,
    /// Fire at most this many times.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
    /// Fire with this probability (`0..=1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
}

pub(crate) fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The wire shape of [`FaultRule`], checked by `TryFrom`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    rpc: String,
    #[serde(default)]
    session: Option<String>,
    #[serde(default)]
    field: Option<FieldMatch>,
    #[serde(default)]
    delay: Option<Delay>,
    #[serde(default)]
    concurrency: Option<u32>,
    #[serde(default)]
    fail: Option<Fail>,
    #[serde(default)]
    cut_after_messages: Option<u64>,
    #[serde(default)]
    cut_after_bytes: Option<u64>,
    #[serde(default)]
    stall_after_messages: Option<u64>,
    #[serde(default)]
    after: u64,
    #[serde(default)]
    times: Option<u64>,
    #[serde(default)]
    probability: Option<f64>,
}

impl TryFrom<RawRule> for FaultRule {
    type Error = String;

    fn try_from(r: RawRule) -> Result<Self, String> {
        let rule = FaultRule {
            rpc: r.rpc,
            session: r.session,
            field: r.field,
            delay: r.delay,
            concurrency: r.concurrency,
            fail: r.fail,
            cut_after_messages: r.cut_after_messages,
            cut_after_bytes: r.cut_after_bytes,
            stall_after_messages: r.stall_after_messages,
            after: r.after,
            times: r.times,
            probability: r.probability,
        };
        rule.check()
            .map_err(|(part, reason)| format!("{part}: {reason}"))?;
        Ok(rule)
    }
}

/// A request field whose value must match a glob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldMatch {
    /// The field's JSON name (`command`, `runtime`, ...).
    pub name: String,
    /// Glob over the field's value.
    pub value: String,
}

/// A delay: fixed when `min == max`, else uniform in `min..=max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delay {
    /// Shortest delay.
    pub min: Duration,
    /// Longest delay.
    pub max: Duration,
}

impl Delay {
    /// Always `d`.
    pub fn fixed(d: Duration) -> Self {
        Self { min: d, max: d }
    }

    /// Uniform in `min..=max`.
    pub fn range(min: Duration, max: Duration) -> Self {
        Self { min, max }
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        if self.min > self.max {
            return Err("the range starts after it ends".into());
        }
        if self.max > MAX_DELAY {
            return Err("longer than 24h".into());
        }
        Ok(())
    }

    pub(crate) fn sample(&self, rng: &mut StdRng) -> Duration {
        if self.min >= self.max {
            return self.min;
        }
        let lo = u64::try_from(self.min.as_nanos()).unwrap_or(u64::MAX);
        let hi = u64::try_from(self.max.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rng.random_range(lo..=hi))
    }
}

impl FromStr for Delay {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let delay = match s.split_once("..") {
            Some((a, b)) => Delay::range(parse_duration(a)?, parse_duration(b)?),
            None => Delay::fixed(parse_duration(s)?),
        };
        delay.check()?;
        Ok(delay)
    }
}

impl Serialize for Delay {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Delay {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Delay;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a delay such as 250ms or 100ms..2s")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Delay, E> {
                s.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

impl fmt::Display for Delay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min == self.max {
            f.write_str(&fmt_duration(self.min))
        } else {
            write!(f, "{}..{}", fmt_duration(self.min), fmt_duration(self.max))
        }
    }
}

/// Parses `250ms`, `1.5s`, `2m`...: digits with an optional fraction and a unit.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let unit_ns: u128 = match unit.trim() {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "" => return Err(format!("`{s}` has no unit (ns, us, ms, s, m, h)")),
        other => return Err(format!("`{other}` is not a unit (ns, us, ms, s, m, h)")),
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if (int.is_empty() && frac.is_empty()) || frac.contains('.') {
        return Err(format!("`{s}` is not a duration like 250ms or 1.5s"));
    }
    if int.len() > 20 || frac.len() > 20 {
        return Err(format!("`{s}` has too many digits"));
    }
    let digits = |d: &str| -> u128 { d.parse::<u128>().unwrap_or(0) };
    let mut nanos = digits(int) * unit_ns;
    if !frac.is_empty() {
        nanos += digits(frac) * unit_ns / 10u128.pow(frac.len() as u32);
    }
    u64::try_from(nanos)
        .map(Duration::from_nanos)
        .map_err(|_| format!("`{s}` is too long"))
}

/// Writes a duration in the largest unit that keeps it exact.
pub(crate) fn fmt_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    const S: u128 = 1_000_000_000;
    if ns == 0 {
        "0s".into()
    } else if ns.is_multiple_of(3600 * S) {
        format!("{}h", ns / (3600 * S))
    } else if ns.is_multiple_of(60 * S) {
        format!("{}m", ns / (60 * S))
    } else if ns.is_multiple_of(S) {
        format!("{}s", ns / S)
    } else if ns.is_multiple_of(1_000_000) {
        format!("{}ms", ns / 1_000_000)
    } else if ns.is_multiple_of(1_000) {
        format!("{}us", ns / 1_000)
    } else {
        format!("{ns}ns")
    }
}

/// A failure: a gRPC code and an optional message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fail {
    /// The code (never `OK`).
    #[serde(serialize_with = "code_serde::serialize")]
    pub code: tonic::Code,
    /// The message; `None` gives a default one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Fail {
    /// Fails with `code` and `message`.
    pub fn new(code: tonic::Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: Some(message.into()),
        }
    }

    pub(crate) fn status(&self, default_message: &str) -> tonic::Status {
        tonic::Status::new(
            self.code,
            self.message.as_deref().unwrap_or(default_message),
        )
    }
}

impl FromStr for Fail {
    type Err = String;

    /// `CODE` or `CODE/MESSAGE`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (code, message) = match s.split_once('/') {
            Some((code, message)) => (code, Some(message.to_owned())),
            None => (s, None),
        };
        Ok(Self {
            code: parse_code(code)?,
            message,
        })
    }
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(code_name(self.code))?;
        if let Some(m) = &self.message {
            write!(f, "/{m}")?;
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Fail {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Map {
            #[serde(deserialize_with = "code_serde::deserialize")]
            code: tonic::Code,
            #[serde(default)]
            message: Option<String>,
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fail;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a gRPC code, `CODE/message` or a map {code, message}")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Fail, E> {
                s.parse().map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Fail, E> {
                code_from_number(n)
                    .map(|code| Fail {
                        code,
                        message: None,
                    })
                    .map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Fail, E> {
                self.visit_u64(u64::try_from(n).unwrap_or(u64::MAX))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Fail, A::Error> {
                let m = Map::deserialize(de::value::MapAccessDeserializer::new(map))?;
                if m.code == tonic::Code::Ok {
                    return Err(de::Error::custom("OK is not a failure"));
                }
                Ok(Fail {
                    code: m.code,
                    message: m.message,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// gRPC codes by number, with their canonical names.
pub(crate) const CODES: [(tonic::Code, &str); 17] = [
    (tonic::Code::Ok, "OK"),
    (tonic::Code::Cancelled, "CANCELLED"),
    (tonic::Code::Unknown, "UNKNOWN"),
    (tonic::Code::InvalidArgument, "INVALID_ARGUMENT"),
    (tonic::Code::DeadlineExceeded, "DEADLINE_EXCEEDED"),
    (tonic::Code::NotFound, "NOT_FOUND"),
    (tonic::Code::AlreadyExists, "ALREADY_EXISTS"),
    (tonic::Code::PermissionDenied, "PERMISSION_DENIED"),
    (tonic::Code::ResourceExhausted, "RESOURCE_EXHAUSTED"),
    (tonic::Code::FailedPrecondition, "FAILED_PRECONDITION"),
    (tonic::Code::Aborted, "ABORTED"),
    (tonic::Code::OutOfRange, "OUT_OF_RANGE"),
    (tonic::Code::Unimplemented, "UNIMPLEMENTED"),
    (tonic::Code::Internal, "INTERNAL"),
    (tonic::Code::Unavailable, "UNAVAILABLE"),
    (tonic::Code::DataLoss, "DATA_LOSS"),
    (tonic::Code::Unauthenticated, "UNAUTHENTICATED"),
];

/// The canonical name of a code (`UNAVAILABLE`).
pub fn code_name(code: tonic::Code) -> &'static str {
    CODES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("UNKNOWN", |(_, n)| n)
}

pub(crate) fn code_from_number(n: u64) -> Result<tonic::Code, String> {
    match n {
        0 => Err("OK is not a failure".into()),
        1..=16 => Ok(CODES[n as usize].0),
        _ => Err(format!("{n} is not a gRPC code (1..=16)")),
    }
}

/// Parses a failing gRPC code: a name in any case (`UNAVAILABLE`,
/// `unavailable`, `Unavailable`, `deadline-exceeded`) or a number (`14`).
pub fn parse_code(text: &str) -> Result<tonic::Code, String> {
    let s = text.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return code_from_number(s.parse().unwrap_or(u64::MAX));
    }
    let norm = |n: &str| -> String {
        n.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect()
    };
    let wanted = norm(s);
    let wanted = if wanted == "canceled" {
        "cancelled".to_owned()
    } else {
        wanted
    };
    match CODES.iter().find(|(_, n)| norm(n) == wanted) {
        Some((tonic::Code::Ok, _)) => Err("OK is not a failure".into()),
        Some((code, _)) => Ok(*code),
        None => Err(format!(
            "`{s}` is not a gRPC code (such as UNAVAILABLE or 14)"
        )),
    }
}

pub(crate) mod code_serde {
    use super::*;

    pub(super) fn serialize<S: serde::Serializer>(
        code: &tonic::Code,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(code_name(*code))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<tonic::Code, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = tonic::Code;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a gRPC code name or number")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<tonic::Code, E> {
                parse_code(s).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<tonic::Code, E> {
                code_from_number(n).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<tonic::Code, E> {
                self.visit_u64(u64::try_from(n).unwrap_or(u64::MAX))
            }
        }
        d.deserialize_any(V)
    }
}

impl FaultRule {
    /// A rule for `rpc` with no action yet (set one before using it):
    /// `FaultRule { after: 2, fail: Some(..), ..FaultRule::new("RunJob") }`.
    pub fn new(rpc: impl Into<String>) -> Self {
        Self {
            rpc: rpc.into(),
            session: None,
            field: None,
            delay: None,
            concurrency: None,
            fail: None,
            cut_after_messages: None,
            cut_after_bytes: None,
            stall_after_messages: None,
            after: 0,
            times: None,
            probability: None,
        }
    }

    /// Checks the rule; the error names the key and says what is wrong.
    pub fn validate(&self) -> Result<(), FaultError> {
        self.check().map_err(|(part, reason)| FaultError::Invalid {
            rpc: self.rpc.clone(),
            part,
            reason,
        })
    }

    pub(crate) fn is_cut(&self) -> bool {
        self.cut_after_messages.is_some() || self.cut_after_bytes.is_some()
    }

    pub(crate) fn has_outcome(&self) -> bool {
        self.fail.is_some() || self.is_cut() || self.stall_after_messages.is_some()
    }

    pub(crate) fn check(&self) -> Result<(), (String, String)> {
        let bad = |part: &str, reason: &str| Err((part.to_owned(), reason.to_owned()));
        if self.rpc.is_empty() {
            return bad("rpc", "is empty (use * for every RPC)");
        }
        if let Some(f) = &self.field {
            let ok = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
            if f.name.is_empty() || !f.name.chars().all(ok) {
                return bad(
                    "field",
                    "the name must be a request field's JSON name (letters, digits, _ and .)",
                );
            }
        }
        if let Some(d) = &self.delay {
            d.check().map_err(|r| ("delay".to_owned(), r))?;
        }
        if self
            .fail
            .as_ref()
            .is_some_and(|f| f.code == tonic::Code::Ok)
        {
            return bad("fail", "OK is not a failure");
        }
        match self.concurrency {
            Some(0) => return bad("concurrency", "must be at least 1"),
            Some(_) if self.delay.is_none() => {
                return bad(
                    "concurrency",
                    "needs a delay (the time each call holds one of the places)",
                );
            }
            _ => {}
        }
        if self.delay.is_none() && !self.has_outcome() {
            return bad(
                "action",
                "none given: add delay, fail, cut_after_messages, cut_after_bytes or stall_after_messages",
            );
        }
        if self.stall_after_messages.is_some() && self.fail.is_some() {
            return bad(
                "stall_after_messages",
                "cannot combine with fail (a stalled stream never ends by itself)",
            );
        }
        if self.stall_after_messages.is_some() && self.is_cut() {
            return bad(
                "stall_after_messages",
                "cannot combine with cut_after_messages or cut_after_bytes",
            );
        }
        if self.times == Some(0) {
            return bad("times", "must be at least 1");
        }
        if let Some(p) = self.probability
            && !(0.0..=1.0).contains(&p)
        {
            return bad("probability", "must be between 0 and 1");
        }
        Ok(())
    }
}
