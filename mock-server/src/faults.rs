//! Fault injection: rules that delay calls, fail them with a gRPC status, cut
//! server streams mid-way or stall them, so that SDKs can test their retries,
//! timeouts and error paths against the mock.
//!
//! This module is pure: it parses and holds the rules ([`Faults`]) and answers,
//! for one call, what to do ([`Faults::decide`] → [`Decision`]); the server
//! applies the decision (sleeps, returns the status, or wraps the response
//! stream with [`apply_stream`]).
//!
//! # A rule
//!
//! A [`FaultRule`] has
//!
//! * matchers: `rpc`, a glob tried against the short method name (`RunJob`)
//!   and the full path (`joblet.JobService/RunJob`, a leading `/` ignored);
//!   `session`, an optional glob over the caller's session; `field`, an optional
//!   request field (by its JSON name, such as `command`) whose value must match
//!   a glob. Globs know `*` (any text), `?` (one character) and `\` (the next
//!   character literally); everything else matches itself.
//! * actions (at least one): `delay` (fixed `250ms` or uniform range
//!   `100ms..2s`, at most 24h; units `ns`, `us`, `ms`, `s`, `m`, `h`, decimals
//!   allowed), `fail` (a gRPC code by name, any case, or number, and an optional
//!   message), `cut_after_messages` / `cut_after_bytes` (a server stream sends
//!   that much, then ends with an error status: the `fail` status when the rule
//!   has one, else `UNAVAILABLE` "stream cut by fault rule"),
//!   `stall_after_messages` (a server stream sends that many messages, then
//!   neither sends nor ends until the client gives up or the server shuts
//!   down). `delay` combines with any other action; `fail` alone fails the call
//!   at once; `stall_after_messages` combines with neither `fail` nor a cut.
//! * triggers: `after: N` (the first N matching calls pass, default 0),
//!   `times: N` (the rule fires at most N times), `probability: p` (each
//!   otherwise eligible call fires with probability `p` in `0..=1`, drawn from
//!   the seeded RNG of [`Faults`]).
//!
//! # One-line syntax (`--fault`)
//!
//! Items `KEY=VALUE` separated by `,` or `:`; the first item may be a bare RPC
//! glob, short for `rpc=GLOB`. Keys: `rpc`, `session`, `field.NAME` (and
//! `command`, short for `field.command`), `delay`, `fail` (`CODE` or
//! `CODE/MESSAGE`), `cut_after_messages`, `cut_after_bytes`,
//! `stall_after_messages`, `after`, `times`, `probability`. Spaces around items,
//! keys and values are ignored. A value that holds `,`, `:` or a quote, or that
//! starts or ends with a space, is quoted, wholly or in part: `"..."` (where
//! `\"` and `\\` are escapes) or `'...'` (literal). Outside quotes `\` is an
//! ordinary character, kept for the glob.
//!
//! ```text
//! RunJob:fail=UNAVAILABLE:after=2
//! rpc=RunJob, command=sleep*, fail="UNAVAILABLE/node busy, retry later", after=2, times=1
//! GetJobLogs,cut_after_bytes=4096,fail=INTERNAL/'connection reset: peer gone'
//! *,session=ci-*,delay=100ms..2s,probability=0.25
//! StreamMetrics:stall_after_messages=1
//! ```
//!
//! Errors name the rule and the offending item or key. [`FaultRule`]'s
//! `Display` writes this syntax back (`rpc=...,` first, values quoted as
//! needed), and parsing it gives the same rule.
//!
//! # YAML (and JSON)
//!
//! A fault file holds one key, `faults`, a list of rules with the keys above
//! (unknown keys are errors). `fail` is a map `{code, message}` or the one-line
//! form `CODE/MESSAGE`; `field` is a map `{name, value}`. The control API takes
//! the same rule objects as JSON.
//!
//! ```yaml
//! faults:
//!   - rpc: RunJob
//!     field: { name: command, value: "sleep*" }
//!     fail: { code: UNAVAILABLE, message: node busy }
//!     after: 2
//!   - rpc: GetJobLogs
//!     cut_after_messages: 3
//!   - rpc: "*"
//!     session: "ci-*"
//!     delay: 100ms..2s
//!     probability: 0.1
//! ```
//!
//! # Several rules
//!
//! [`Faults::decide`] walks the rules in order. Every rule whose matchers match
//! the call counts it (this count is what `after` compares against), whatever
//! the other rules do; rules that do not match count nothing. A counted rule past
//! its `after` and below its `times` is *eligible*; an eligible rule that can
//! still add something to the decision (a delay when none is chosen yet, an
//! outcome — `fail`, cut or stall — when none is chosen yet) draws its
//! `probability`, and if it fires, it adds those parts and uses one of its
//! `times`. So the first firing rule with a delay sets the delay, the first
//! firing rule with an outcome sets the outcome, and a shadowed rule neither
//! draws nor spends its `times`.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::stream::BoxStream;

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

fn at_line(line: Option<usize>) -> String {
    line.map(|l| format!(":{l}")).unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Rule types

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

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The wire shape of [`FaultRule`], checked by `TryFrom`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    rpc: String,
    #[serde(default)]
    session: Option<String>,
    #[serde(default)]
    field: Option<FieldMatch>,
    #[serde(default)]
    delay: Option<Delay>,
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

    fn check(&self) -> Result<(), String> {
        if self.min > self.max {
            return Err("the range starts after it ends".into());
        }
        if self.max > MAX_DELAY {
            return Err("longer than 24h".into());
        }
        Ok(())
    }

    fn sample(&self, rng: &mut StdRng) -> Duration {
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
fn parse_duration(text: &str) -> Result<Duration, String> {
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
fn fmt_duration(d: Duration) -> String {
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

    fn status(&self, default_message: &str) -> tonic::Status {
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
const CODES: [(tonic::Code, &str); 17] = [
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

fn code_from_number(n: u64) -> Result<tonic::Code, String> {
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

mod code_serde {
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

    fn is_cut(&self) -> bool {
        self.cut_after_messages.is_some() || self.cut_after_bytes.is_some()
    }

    fn has_outcome(&self) -> bool {
        self.fail.is_some() || self.is_cut() || self.stall_after_messages.is_some()
    }

    fn check(&self) -> Result<(), (String, String)> {
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

// ---------------------------------------------------------------------------
// One-line syntax

/// The keys of the one-line syntax, for error messages.
const KEYS: &str = "rpc, session, field.NAME, command, delay, fail, cut_after_messages, \
                    cut_after_bytes, stall_after_messages, after, times, probability";

/// One `KEY=VALUE` item (or a bare value) of a one-line rule.
struct Item {
    key: Option<String>,
    value: String,
    raw: String,
    quoted: bool,
}

/// Splits a one-line rule into items, honouring quotes.
fn split_items(text: &str) -> Result<Vec<Item>, (String, String)> {
    let mut items = Vec::new();
    let mut chars = text.char_indices().peekable();
    let mut start = 0;
    loop {
        let mut key: Option<String> = None;
        let mut buf = String::new();
        let mut keep = 0; // length of `buf` up to its last significant char
        let mut started = false;
        let mut quoted = false;
        let mut end = text.len();
        let mut more = false;
        while let Some((i, c)) = chars.next() {
            match c {
                ',' | ':' => {
                    end = i;
                    more = true;
                    break;
                }
                '=' if key.is_none() => {
                    buf.truncate(keep);
                    key = Some(std::mem::take(&mut buf));
                    keep = 0;
                    started = false;
                }
                '"' => {
                    let mut closed = false;
                    while let Some((_, c)) = chars.next() {
                        match c {
                            '"' => {
                                closed = true;
                                break;
                            }
                            '\\' if matches!(chars.peek(), Some((_, '"' | '\\'))) => {
                                if let Some((_, n)) = chars.next() {
                                    buf.push(n);
                                }
                            }
                            c => buf.push(c),
                        }
                    }
                    if !closed {
                        return Err((text[start..].trim().to_owned(), "unterminated \"".into()));
                    }
                    keep = buf.len();
                    started = true;
                    quoted = true;
                }
                '\'' => {
                    let mut closed = false;
                    for (_, c) in chars.by_ref() {
                        if c == '\'' {
                            closed = true;
                            break;
                        }
                        buf.push(c);
                    }
                    if !closed {
                        return Err((text[start..].trim().to_owned(), "unterminated '".into()));
                    }
                    keep = buf.len();
                    started = true;
                    quoted = true;
                }
                c if c.is_whitespace() => {
                    if started {
                        buf.push(c);
                    }
                }
                c => {
                    buf.push(c);
                    keep = buf.len();
                    started = true;
                }
            }
        }
        buf.truncate(keep);
        items.push(Item {
            key,
            value: buf,
            raw: text[start..end].trim().to_owned(),
            quoted,
        });
        if !more {
            break;
        }
        start = end + 1;
    }
    Ok(items)
}

/// Parses one `--fault` rule (syntax in the module docs).
pub fn parse_rule(text: &str) -> Result<FaultRule, FaultError> {
    let syntax = |(part, reason): (String, String)| FaultError::Syntax {
        rule: text.to_owned(),
        part,
        reason,
    };
    let items = split_items(text).map_err(syntax)?;
    let mut rule = FaultRule::new("");
    let mut seen: Vec<&'static str> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(key) = &item.key else {
            if item.value.is_empty() && !item.quoted {
                continue; // an empty item: `a,,b` or a trailing separator
            }
            if i == 0 {
                rule.rpc = item.value.clone();
                seen.push("rpc");
                continue;
            }
            return Err(syntax((
                item.raw.clone(),
                "expected KEY=VALUE (quote values that hold `,` or `:`)".into(),
            )));
        };
        let err = |reason: String| syntax((key.clone(), reason));
        let value = item.value.clone();
        let number = |v: &str| -> Result<u64, FaultError> {
            v.parse::<u64>()
                .map_err(|_| err(format!("`{v}` is not a whole number")))
        };
        let slot: &'static str = match key.as_str() {
            "rpc" => {
                rule.rpc = value;
                "rpc"
            }
            "session" => {
                rule.session = Some(value);
                "session"
            }
            "command" => {
                rule.field = Some(FieldMatch {
                    name: "command".into(),
                    value,
                });
                "field"
            }
            k if k.starts_with("field.") => {
                rule.field = Some(FieldMatch {
                    name: k["field.".len()..].to_owned(),
                    value,
                });
                "field"
            }
            "delay" => {
                rule.delay = Some(value.parse().map_err(err)?);
                "delay"
            }
            "fail" => {
                rule.fail = Some(value.parse().map_err(err)?);
                "fail"
            }
            "cut_after_messages" => {
                rule.cut_after_messages = Some(number(&value)?);
                "cut_after_messages"
            }
            "cut_after_bytes" => {
                rule.cut_after_bytes = Some(number(&value)?);
                "cut_after_bytes"
            }
            "stall_after_messages" => {
                rule.stall_after_messages = Some(number(&value)?);
                "stall_after_messages"
            }
            "after" => {
                rule.after = number(&value)?;
                "after"
            }
            "times" => {
                rule.times = Some(number(&value)?);
                "times"
            }
            "probability" => {
                let p = value
                    .parse::<f64>()
                    .map_err(|_| err(format!("`{value}` is not a number between 0 and 1")))?;
                rule.probability = Some(p);
                "probability"
            }
            "" => return Err(err("empty key".into())),
            _ => return Err(err(format!("unknown key (keys: {KEYS})"))),
        };
        if seen.contains(&slot) {
            let what = if slot == "field" {
                "only one field matcher per rule".to_owned()
            } else {
                format!("`{slot}` given twice")
            };
            return Err(syntax((key.clone(), what)));
        }
        seen.push(slot);
    }
    if !seen.contains(&"rpc") {
        return Err(syntax((
            "rpc".into(),
            "missing: start with an RPC glob (`RunJob:...`) or give rpc=GLOB".into(),
        )));
    }
    rule.check().map_err(syntax)?;
    Ok(rule)
}

impl FromStr for FaultRule {
    type Err = FaultError;

    fn from_str(s: &str) -> Result<Self, FaultError> {
        parse_rule(s)
    }
}

/// Quotes `value` for the one-line syntax when it needs it.
fn quote(value: &str) -> String {
    let needs = value.is_empty()
        || value.starts_with(char::is_whitespace)
        || value.ends_with(char::is_whitespace)
        || value.contains([',', ':', '"', '\'']);
    if !needs {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

impl fmt::Display for FaultRule {
    /// The one-line syntax, which [`parse_rule`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rpc={}", quote(&self.rpc))?;
        if let Some(s) = &self.session {
            write!(f, ",session={}", quote(s))?;
        }
        if let Some(m) = &self.field {
            write!(f, ",field.{}={}", m.name, quote(&m.value))?;
        }
        if let Some(d) = &self.delay {
            write!(f, ",delay={d}")?;
        }
        if let Some(x) = &self.fail {
            write!(f, ",fail={}", quote(&x.to_string()))?;
        }
        if let Some(n) = self.cut_after_messages {
            write!(f, ",cut_after_messages={n}")?;
        }
        if let Some(n) = self.cut_after_bytes {
            write!(f, ",cut_after_bytes={n}")?;
        }
        if let Some(n) = self.stall_after_messages {
            write!(f, ",stall_after_messages={n}")?;
        }
        if self.after != 0 {
            write!(f, ",after={}", self.after)?;
        }
        if let Some(n) = self.times {
            write!(f, ",times={n}")?;
        }
        if let Some(p) = self.probability {
            write!(f, ",probability={p}")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// YAML

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultFile {
    faults: Vec<FaultRule>,
}

/// Parses a YAML fault file (`faults: [ ... ]`); `file_name` is for errors,
/// which carry the line of the problem when known.
pub fn parse_yaml(text: &str, file_name: &str) -> Result<Vec<FaultRule>, FaultError> {
    serde_norway::from_str::<FaultFile>(text)
        .map(|f| f.faults)
        .map_err(|e| {
            let mut reason = e.to_string();
            if let Some(at) = reason.rfind(" at line ") {
                reason.truncate(at);
            }
            FaultError::Yaml {
                file: file_name.to_owned(),
                line: e.location().map(|l| l.line()),
                reason,
            }
        })
}

/// Reads and parses a YAML fault file.
pub fn load_yaml(path: impl AsRef<Path>) -> Result<Vec<FaultRule>, FaultError> {
    let path = path.as_ref();
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| FaultError::Io {
        file: file.clone(),
        source,
    })?;
    parse_yaml(&text, &file)
}

// ---------------------------------------------------------------------------
// Globs

/// One element of a glob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GTok {
    Char(char),
    One,
    Any,
}

/// A compiled glob: `*`, `?`, and `\` quoting the next character.
#[derive(Debug, Clone)]
struct Glob(Vec<GTok>);

impl Glob {
    fn new(pattern: &str) -> Self {
        let mut toks = Vec::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            let tok = match c {
                '*' if toks.last() == Some(&GTok::Any) => continue,
                '*' => GTok::Any,
                '?' => GTok::One,
                '\\' => GTok::Char(chars.next().unwrap_or('\\')),
                c => GTok::Char(c),
            };
            toks.push(tok);
        }
        Self(toks)
    }

    fn matches(&self, text: &str) -> bool {
        let p = &self.0;
        let mut pi = 0;
        let mut t = text.chars();
        let mut star: Option<(usize, std::str::Chars<'_>)> = None;
        loop {
            let here = t.clone();
            let Some(c) = t.next() else { break };
            match p.get(pi) {
                Some(GTok::Any) => {
                    star = Some((pi, here.clone()));
                    pi += 1;
                    t = here;
                    continue;
                }
                Some(GTok::One) => {
                    pi += 1;
                    continue;
                }
                Some(GTok::Char(x)) if *x == c => {
                    pi += 1;
                    continue;
                }
                _ => {}
            }
            match &mut star {
                Some((sp, st)) => {
                    st.next();
                    pi = *sp + 1;
                    t = st.clone();
                }
                None => return false,
            }
        }
        p[pi.min(p.len())..].iter().all(|t| *t == GTok::Any)
    }
}

// ---------------------------------------------------------------------------
// The rule set

/// What to do with one call. The default does nothing.
#[derive(Debug, Default)]
pub struct Decision {
    /// Sleep this long before handling the call.
    pub delay: Option<Duration>,
    /// Answer with this status instead of handling the call.
    pub fail: Option<tonic::Status>,
    /// Wrap the response stream with [`apply_stream`] (server-streaming RPCs;
    /// unary RPCs ignore it).
    pub stream: Option<StreamFault>,
}

impl Decision {
    /// Whether the call proceeds untouched.
    pub fn is_none(&self) -> bool {
        self.delay.is_none() && self.fail.is_none() && self.stream.is_none()
    }
}

/// What to do to a server stream.
#[derive(Debug, Clone)]
pub enum StreamFault {
    /// Send until a limit is reached, then end with `status`. With both limits,
    /// the first reached cuts.
    Cut {
        /// Cut after this many messages.
        after_messages: Option<u64>,
        /// Cut once this many bytes were sent (the message that crosses the
        /// limit is sent whole).
        after_bytes: Option<u64>,
        /// The status the stream ends with.
        status: tonic::Status,
    },
    /// Send this many messages, then neither send nor end until the client
    /// gives up or the server shuts down.
    Stall {
        /// Messages sent before the stall.
        after_messages: u64,
    },
}

/// A rule with its compiled globs and counters.
#[derive(Debug)]
struct Armed {
    rule: FaultRule,
    rpc: Glob,
    session: Option<Glob>,
    field: Option<Glob>,
    matched: u64,
    fired: u64,
}

impl Armed {
    fn new(rule: FaultRule) -> Self {
        Self {
            rpc: Glob::new(&rule.rpc),
            session: rule.session.as_deref().map(Glob::new),
            field: rule.field.as_ref().map(|f| Glob::new(&f.value)),
            rule,
            matched: 0,
            fired: 0,
        }
    }

    fn matches(
        &self,
        full: &str,
        method: &str,
        session: &str,
        field: &dyn Fn(&str) -> Option<String>,
    ) -> bool {
        if !(self.rpc.matches(method) || self.rpc.matches(full)) {
            return false;
        }
        if let Some(s) = &self.session
            && !s.matches(session)
        {
            return false;
        }
        match (&self.rule.field, &self.field) {
            (Some(m), Some(glob)) => field(&m.name).is_some_and(|v| glob.matches(&v)),
            _ => true,
        }
    }
}

#[derive(Debug)]
struct Inner {
    seed: Option<u64>,
    rng: StdRng,
    rules: Vec<Armed>,
}

fn new_rng(seed: Option<u64>) -> StdRng {
    match seed {
        Some(s) => StdRng::seed_from_u64(s),
        None => StdRng::from_os_rng(),
    }
}

/// A thread-safe, ordered set of fault rules with their match counters and a
/// seeded RNG. Cheap when empty: [`decide`](Self::decide) then reads one atomic.
#[derive(Debug)]
pub struct Faults {
    empty: AtomicBool,
    inner: Mutex<Inner>,
}

impl Default for Faults {
    fn default() -> Self {
        Self::new(None)
    }
}

impl Faults {
    /// An empty set; `seed` makes probabilities and delay ranges reproducible
    /// (`None`: seeded from the OS).
    pub fn new(seed: Option<u64>) -> Self {
        Self {
            empty: AtomicBool::new(true),
            inner: Mutex::new(Inner {
                seed,
                rng: new_rng(seed),
                rules: Vec::new(),
            }),
        }
    }

    /// Replaces all rules (checking them all first), resets the counters and,
    /// with a seed, restarts the RNG from it.
    pub fn set(&self, rules: Vec<FaultRule>) -> Result<(), FaultError> {
        for r in &rules {
            r.validate()?;
        }
        let mut inner = self.inner.lock();
        inner.rules = rules.into_iter().map(Armed::new).collect();
        inner.rng = new_rng(inner.seed);
        self.empty.store(inner.rules.is_empty(), Ordering::Release);
        Ok(())
    }

    /// Appends a rule (tried after the others), with fresh counters.
    pub fn add(&self, rule: FaultRule) -> Result<(), FaultError> {
        rule.validate()?;
        let mut inner = self.inner.lock();
        inner.rules.push(Armed::new(rule));
        self.empty.store(false, Ordering::Release);
        Ok(())
    }

    /// Removes all rules.
    pub fn clear(&self) {
        let mut inner = self.inner.lock();
        inner.rules.clear();
        inner.rng = new_rng(inner.seed);
        self.empty.store(true, Ordering::Release);
    }

    /// The rules, in order.
    pub fn rules(&self) -> Vec<FaultRule> {
        self.inner
            .lock()
            .rules
            .iter()
            .map(|a| a.rule.clone())
            .collect()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.empty.load(Ordering::Acquire)
    }

    /// What to do with a call of `method_full` (`/joblet.JobService/RunJob` or
    /// without the leading `/`) from `session`; `field` gives a request field's
    /// value by its JSON name (asked only for rules with a field matcher, under
    /// this set's lock: it must not call back into it).
    /// How several rules combine is in the module docs.
    pub fn decide(
        &self,
        method_full: &str,
        session: &str,
        field: &dyn Fn(&str) -> Option<String>,
    ) -> Decision {
        let mut d = Decision::default();
        if self.empty.load(Ordering::Acquire) {
            return d;
        }
        let full = method_full.strip_prefix('/').unwrap_or(method_full);
        let method = full.rsplit('/').next().unwrap_or(full);
        let mut inner = self.inner.lock();
        let Inner { rng, rules, .. } = &mut *inner;
        for a in rules.iter_mut() {
            if !a.matches(full, method, session, field) {
                continue;
            }
            a.matched = a.matched.saturating_add(1);
            let rule = &a.rule;
            if a.matched <= rule.after || rule.times.is_some_and(|t| a.fired >= t) {
                continue;
            }
            let gives_delay = rule.delay.is_some() && d.delay.is_none();
            let gives_outcome = rule.has_outcome() && d.fail.is_none() && d.stream.is_none();
            if !gives_delay && !gives_outcome {
                continue;
            }
            if let Some(p) = rule.probability {
                let fires = if p >= 1.0 {
                    true
                } else if p > 0.0 {
                    rng.random_bool(p)
                } else {
                    false
                };
                if !fires {
                    continue;
                }
            }
            a.fired += 1;
            if gives_delay && let Some(delay) = &rule.delay {
                d.delay = Some(delay.sample(rng));
            }
            if gives_outcome {
                if rule.is_cut() {
                    let status = match &rule.fail {
                        Some(f) => f.status(CUT_MESSAGE),
                        None => tonic::Status::unavailable(CUT_MESSAGE),
                    };
                    d.stream = Some(StreamFault::Cut {
                        after_messages: rule.cut_after_messages,
                        after_bytes: rule.cut_after_bytes,
                        status,
                    });
                } else if let Some(n) = rule.stall_after_messages {
                    d.stream = Some(StreamFault::Stall { after_messages: n });
                } else if let Some(f) = &rule.fail {
                    d.fail = Some(f.status(FAIL_MESSAGE));
                }
            }
        }
        d
    }
}

// ---------------------------------------------------------------------------
// Streams

/// State of a stream being cut.
struct CutState<T> {
    inner: BoxStream<T>,
    messages: u64,
    bytes: u64,
    status: tonic::Status,
}

/// Applies a [`StreamFault`] to a response stream.
///
/// A cut sends messages until the limit, then ends with its status at once
/// (without waiting for another message). Bytes are counted with
/// [`prost::Message::encoded_len`] and checked before each message, so a cut by
/// bytes ends after the message that reaches or crosses the limit (`0` cuts
/// before the first message). A stall sends its messages, drops the inner
/// stream and then waits; it ends with `UNAVAILABLE` when `closing` fires. A
/// stream that ends by itself before the limit ends normally; errors of the
/// inner stream pass through and count as no message.
pub fn apply_stream<T: prost::Message + Send + 'static>(
    stream: BoxStream<T>,
    fault: StreamFault,
    closing: CancellationToken,
) -> BoxStream<T> {
    match fault {
        StreamFault::Cut {
            after_messages,
            after_bytes,
            status,
        } => {
            let state = CutState {
                inner: stream,
                messages: 0,
                bytes: 0,
                status,
            };
            Box::pin(futures::stream::unfold(
                Some(state),
                move |state| async move {
                    let mut s = state?;
                    if after_messages.is_some_and(|n| s.messages >= n)
                        || after_bytes.is_some_and(|n| s.bytes >= n)
                    {
                        return Some((Err(s.status), None));
                    }
                    match s.inner.next().await? {
                        Ok(m) => {
                            s.messages += 1;
                            s.bytes = s.bytes.saturating_add(m.encoded_len() as u64);
                            Some((Ok(m), Some(s)))
                        }
                        Err(e) => Some((Err(e), Some(s))),
                    }
                },
            ))
        }
        StreamFault::Stall { after_messages } => {
            let state = (stream, 0u64, closing);
            Box::pin(futures::stream::unfold(
                Some(state),
                move |state| async move {
                    let (mut inner, sent, closing) = state?;
                    if sent >= after_messages {
                        drop(inner);
                        closing.cancelled().await;
                        return Some((
                            Err(tonic::Status::unavailable("joblet-mock is shutting down")),
                            None,
                        ));
                    }
                    match inner.next().await? {
                        Ok(m) => Some((Ok(m), Some((inner, sent + 1, closing)))),
                        Err(e) => Some((Err(e), Some((inner, sent, closing)))),
                    }
                },
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rule(text: &str) -> FaultRule {
        match parse_rule(text) {
            Ok(r) => r,
            Err(e) => panic!("{text}: {e}"),
        }
    }

    fn syntax_err(text: &str) -> (String, String) {
        match parse_rule(text) {
            Err(FaultError::Syntax { part, reason, .. }) => (part, reason),
            other => panic!("{text}: expected a syntax error, got {other:?}"),
        }
    }

    fn no_field(_: &str) -> Option<String> {
        None
    }

    fn code_of(d: &Decision) -> Option<tonic::Code> {
        d.fail.as_ref().map(|s| s.code())
    }

    #[test]
    fn short_form() {
        let r = rule("RunJob:fail=UNAVAILABLE:after=2");
        let mut want = FaultRule::new("RunJob");
        want.fail = Some(Fail {
            code: tonic::Code::Unavailable,
            message: None,
        });
        want.after = 2;
        assert_eq!(r, want);
    }

    #[test]
    fn long_form_with_field_and_quotes() {
        let r = rule(
            r#"rpc=RunJob, command=sleep*, fail="UNAVAILABLE/node busy, retry: later", after=2, times=1"#,
        );
        assert_eq!(r.rpc, "RunJob");
        assert_eq!(
            r.field,
            Some(FieldMatch {
                name: "command".into(),
                value: "sleep*".into()
            })
        );
        assert_eq!(
            r.fail,
            Some(Fail::new(
                tonic::Code::Unavailable,
                "node busy, retry: later"
            ))
        );
        assert_eq!((r.after, r.times), (2, Some(1)));

        let r = rule("GetJobLogs,cut_after_bytes=4096,fail=INTERNAL/'it''s: gone'");
        assert_eq!(r.fail, Some(Fail::new(tonic::Code::Internal, "its: gone")));
        assert_eq!(r.cut_after_bytes, Some(4096));

        let r = rule(r#"rpc="a\"b\\c",field.runtime=py*,delay= 100ms..2s ,probability=0.25"#);
        assert_eq!(r.rpc, r#"a"b\c"#);
        assert_eq!(r.field.as_ref().map(|f| f.name.as_str()), Some("runtime"));
        assert_eq!(
            r.delay,
            Some(Delay::range(
                Duration::from_millis(100),
                Duration::from_secs(2)
            ))
        );
        assert_eq!(r.probability, Some(0.25));

        let r = rule("*,session=\"127.0.0.1:*\",stall_after_messages=1,");
        assert_eq!(r.session.as_deref(), Some("127.0.0.1:*"));
        assert_eq!(r.stall_after_messages, Some(1));
        let r = rule("rpc=x , fail = UNAVAILABLE/' padded ' , delay=1s");
        assert_eq!(r.fail.and_then(|f| f.message).as_deref(), Some(" padded "));
    }

    #[test]
    fn codes_and_durations() {
        for text in ["UNAVAILABLE", "unavailable", "Unavailable", "14", " 14 "] {
            assert_eq!(parse_code(text), Ok(tonic::Code::Unavailable), "{text}");
        }
        assert_eq!(
            parse_code("deadline-exceeded"),
            Ok(tonic::Code::DeadlineExceeded)
        );
        assert_eq!(
            parse_code("DeadlineExceeded"),
            Ok(tonic::Code::DeadlineExceeded)
        );
        assert_eq!(parse_code("CANCELED"), Ok(tonic::Code::Cancelled));
        assert!(parse_code("OK").is_err());
        assert!(parse_code("0").is_err());
        assert!(parse_code("17").is_err());
        assert!(parse_code("busy").is_err());
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration(".5s"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("7us"), Ok(Duration::from_micros(7)));
        for bad in [
            "250",
            "ms",
            "1.2.3s",
            "5 parsecs",
            "",
            "99999999999999999999999h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!("2s..1s".parse::<Delay>().is_err());
        assert!("25h".parse::<Delay>().is_err());
        for d in [
            "0s",
            "250ms",
            "1500ms",
            "2m",
            "1h",
            "7us",
            "3ns",
            "100ms..2s",
        ] {
            assert_eq!(d.parse::<Delay>().map(|d| d.to_string()), Ok(d.to_owned()));
        }
    }

    #[test]
    fn errors_name_the_part() {
        let cases = [
            ("RunJob:fial=UNAVAILABLE", "fial", "unknown key"),
            ("RunJob:fail=BUSY", "fail", "not a gRPC code"),
            ("RunJob:fail=OK", "fail", "OK is not a failure"),
            ("RunJob:delay=250", "delay", "no unit"),
            ("RunJob:after=two:fail=14", "after", "not a whole number"),
            ("RunJob:fail=14:after=1:after=2", "after", "given twice"),
            (
                "RunJob:command=a:field.name=b:fail=14",
                "field.name",
                "one field matcher",
            ),
            ("fail=UNAVAILABLE", "rpc", "missing"),
            ("RunJob", "action", "none given"),
            (
                "RunJob:fail=UNAVAILABLE/node busy: try later",
                "try later",
                "KEY=VALUE",
            ),
            (
                "RunJob:fail=\"UNAVAILABLE/x",
                "fail=\"UNAVAILABLE/x",
                "unterminated",
            ),
            (
                "RunJob:stall_after_messages=1:fail=14",
                "stall_after_messages",
                "cannot combine",
            ),
            (
                "RunJob:stall_after_messages=1:cut_after_bytes=1",
                "stall_after_messages",
                "cannot",
            ),
            (
                "RunJob:fail=14:probability=1.5",
                "probability",
                "between 0 and 1",
            ),
            (
                "RunJob:fail=14:probability=NaN",
                "probability",
                "between 0 and 1",
            ),
            ("RunJob:fail=14:times=0", "times", "at least 1"),
            ("rpc=:fail=14", "rpc", "empty"),
            ("RunJob:field.=x:fail=14", "field", "JSON name"),
            ("RunJob:=x", "", "empty key"),
        ];
        for (text, part, reason) in cases {
            let (p, r) = syntax_err(text);
            assert_eq!(p, part, "{text}: {r}");
            assert!(r.contains(reason), "{text}: {r}");
        }
        let e = parse_rule("RunJob:fial=1").err().map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.starts_with("fault rule `RunJob:fial=1`: fial: unknown key")));
    }

    #[test]
    fn display_round_trips() {
        let texts = [
            "RunJob:fail=UNAVAILABLE:after=2",
            r#"rpc=RunJob,command=sleep*,fail="UNAVAILABLE/node busy, retry",after=2,times=1"#,
            "*,session='ci-*',delay=100ms..2s,probability=0.1",
            "GetJobLogs:cut_after_messages=3:cut_after_bytes=10:fail=DATA_LOSS",
        ];
        for text in texts {
            let r = rule(text);
            let again = rule(&r.to_string());
            assert_eq!(again, r, "{text} -> {r}");
        }
        assert_eq!(
            rule("RunJob:fail=unavailable/node busy:after=2").to_string(),
            "rpc=RunJob,fail=UNAVAILABLE/node busy,after=2"
        );
    }

    #[test]
    fn yaml_and_json() {
        let yaml = r#"
faults:
  - rpc: RunJob
    field: { name: command, value: "sleep*" }
    fail: { code: UNAVAILABLE, message: node busy }
    after: 2
  - rpc: GetJobLogs
    cut_after_messages: 3
    fail: 13
  - rpc: "*"
    session: "ci-*"
    delay: 100ms..2s
    probability: 0.1
  - rpc: StopJob
    fail: aborted/gone
"#;
        let rules = parse_yaml(yaml, "f.yaml").unwrap_or_default();
        assert_eq!(rules.len(), 4);
        assert_eq!(
            rules[0],
            rule("RunJob:command=sleep*:fail='UNAVAILABLE/node busy':after=2")
        );
        assert_eq!(
            rules[1],
            rule("GetJobLogs:cut_after_messages=3:fail=INTERNAL")
        );
        assert_eq!(
            rules[2],
            rule("*:session=ci-*:delay=100ms..2s:probability=0.1")
        );
        assert_eq!(rules[3], rule("StopJob:fail=ABORTED/gone"));

        // Serialized and read back (YAML, and JSON which YAML reads too).
        let text = serde_norway::to_string(&serde_norway::Value::Sequence(
            rules
                .iter()
                .map(|r| serde_norway::to_value(r).unwrap_or_default())
                .collect(),
        ))
        .unwrap_or_default();
        let back = parse_yaml(&format!("faults:\n{}", indent(&text)), "f.yaml");
        assert_eq!(back.ok(), Some(rules.clone()));
        let json = r#"{"rpc": "RunJob", "fail": {"code": "unavailable"}, "after": 2}"#;
        let r: Result<FaultRule, _> = serde_norway::from_str(json);
        assert_eq!(r.ok(), Some(rule("RunJob:fail=UNAVAILABLE:after=2")));
        let unknown = r#"{"rpc": "RunJob", "fail": 14, "aftr": 2}"#;
        let e = serde_norway::from_str::<FaultRule>(unknown)
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("unknown field `aftr`")));
    }

    fn indent(text: &str) -> String {
        text.lines().map(|l| format!("  {l}\n")).collect()
    }

    #[test]
    fn yaml_errors_carry_file_and_line() {
        let cases = [
            (
                "faults:\n  - rpc: RunJob\n    fail: BUSY\n",
                3,
                "not a gRPC code",
            ),
            (
                "faults:\n  - rpc: RunJob\n    fail: 14\n    aftr: 2\n",
                4,
                "unknown field `aftr`",
            ),
            (
                "faults:\n  - rpc: RunJob\n    after: 2\n",
                2,
                "action: none given",
            ),
            (
                "faults:\n  - rpc: RunJob\n    delay: 3 parsecs\n",
                3,
                "not a unit",
            ),
            (
                "faults:\n  - rpc: RunJob\n    fail: { code: OK }\n",
                3,
                "OK is not a failure",
            ),
            ("fault: []\n", 1, "unknown field `fault`"),
            ("faults: [\n", 2, ""),
        ];
        for (yaml, line, reason) in cases {
            match parse_yaml(yaml, "faults.yaml") {
                Err(FaultError::Yaml {
                    file,
                    line: l,
                    reason: r,
                }) => {
                    assert_eq!(file, "faults.yaml");
                    assert_eq!(l, Some(line), "{yaml}: {r}");
                    assert!(r.contains(reason), "{yaml}: {r}");
                    assert!(!r.contains(" at line "), "{r}");
                }
                other => panic!("{yaml}: {other:?}"),
            }
        }
        let e = parse_yaml("faults:\n  - rpc: x\n", "a.yaml")
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.starts_with("fault file a.yaml:2: ")));
    }

    #[test]
    fn load_yaml_reads_files() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("faults.yaml");
        std::fs::write(&path, "faults:\n  - rpc: RunJob\n    fail: UNAVAILABLE\n")?;
        assert_eq!(load_yaml(&path)?, vec![rule("RunJob:fail=UNAVAILABLE")]);
        let missing = load_yaml(dir.path().join("nope.yaml"));
        assert!(matches!(missing, Err(FaultError::Io { .. })));
        Ok(())
    }

    #[test]
    fn globs() {
        let m = |p: &str, t: &str| Glob::new(p).matches(t);
        assert!(m("RunJob", "RunJob"));
        assert!(!m("RunJob", "RunJobs"));
        assert!(m("*", ""));
        assert!(m("Get*Logs", "GetJobLogs"));
        assert!(m("*Job*", "StopJob"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(m(r"\*", "*"));
        assert!(!m(r"\*", "x"));
        assert!(m("é*", "été"));
    }

    #[test]
    fn empty_set_decides_nothing() {
        let f = Faults::new(Some(1));
        assert!(f.is_empty());
        assert!(
            f.decide("/joblet.JobService/RunJob", "", &no_field)
                .is_none()
        );
        assert_eq!(f.set(vec![rule("RunJob:fail=14")]).ok(), Some(()));
        assert!(!f.is_empty());
        f.clear();
        assert!(f.is_empty() && f.rules().is_empty());
        assert!(
            f.decide("/joblet.JobService/RunJob", "", &no_field)
                .is_none()
        );
    }

    #[test]
    fn after_two_the_third_call_fails() {
        let f = Faults::new(Some(1));
        assert!(f.add(rule("RunJob:fail=UNAVAILABLE:after=2")).is_ok());
        let call = || f.decide("/joblet.JobService/RunJob", "s", &no_field);
        assert!(call().is_none());
        // Other RPCs do not advance the counter.
        assert!(
            f.decide("/joblet.JobService/StopJob", "s", &no_field)
                .is_none()
        );
        assert!(call().is_none());
        let third = call();
        assert_eq!(code_of(&third), Some(tonic::Code::Unavailable));
        assert_eq!(third.fail.as_ref().map(|s| s.message()), Some(FAIL_MESSAGE));
        assert_eq!(code_of(&call()), Some(tonic::Code::Unavailable));
    }

    #[test]
    fn times_limits_firing() {
        let f = Faults::new(Some(1));
        assert!(
            f.set(vec![rule("RunJob:fail=ABORTED/x:after=1:times=2")])
                .is_ok()
        );
        let codes: Vec<_> = (0..5)
            .map(|_| code_of(&f.decide("joblet.JobService/RunJob", "", &no_field)))
            .collect();
        let a = Some(tonic::Code::Aborted);
        assert_eq!(codes, vec![None, a, a, None, None]);
        // set() resets the counters.
        assert!(f.set(f.rules()).is_ok());
        assert!(f.decide("RunJob", "", &no_field).is_none());
    }

    #[test]
    fn rpc_matches_short_name_and_full_path() {
        let f = Faults::new(Some(1));
        assert!(f.add(rule("joblet.JobService/*:fail=14")).is_ok());
        assert!(
            f.decide("/joblet.JobService/RunJob", "", &no_field)
                .fail
                .is_some()
        );
        assert!(
            f.decide("/joblet.NetworkService/ListNetworks", "", &no_field)
                .is_none()
        );
        f.clear();
        assert!(f.add(rule("*Job:fail=14")).is_ok());
        assert!(
            f.decide("/joblet.JobService/StopJob", "", &no_field)
                .fail
                .is_some()
        );
        assert!(
            f.decide("/joblet.JobService/GetJobLogs", "", &no_field)
                .is_none()
        );
    }

    #[test]
    fn session_and_field_globs() {
        let f = Faults::new(Some(1));
        assert!(
            f.add(rule("RunJob:session=ci-*:command=sleep*:fail=14:after=1"))
                .is_ok()
        );
        let cmd = |c: &'static str| move |name: &str| (name == "command").then(|| c.to_owned());
        let m = "/joblet.JobService/RunJob";
        assert!(f.decide(m, "ci-1", &cmd("sleep")).is_none()); // counted: after=1
        assert!(f.decide(m, "dev", &cmd("sleep")).is_none()); // wrong session
        assert!(f.decide(m, "ci-1", &cmd("echo")).is_none()); // wrong command
        assert!(f.decide(m, "ci-1", &no_field).is_none()); // no such field
        assert!(f.decide(m, "ci-2", &cmd("sleep 5")).fail.is_some());
    }

    #[test]
    fn probability_is_reproducible_with_a_seed() {
        let run = |seed| {
            let f = Faults::new(Some(seed));
            assert!(f.add(rule("*:fail=14:probability=0.3")).is_ok());
            (0..1000)
                .map(|_| f.decide("/a.B/C", "", &no_field).fail.is_some())
                .collect::<Vec<_>>()
        };
        let a = run(7);
        assert_eq!(a, run(7));
        assert_ne!(a, run(8));
        let hits = a.iter().filter(|h| **h).count();
        assert!((220..380).contains(&hits), "{hits}");
        let f = Faults::new(None);
        assert!(f.add(rule("*:fail=14:probability=0")).is_ok());
        assert!(f.add(rule("*:delay=1s:probability=1")).is_ok());
        for _ in 0..100 {
            let d = f.decide("/a.B/C", "", &no_field);
            assert!(d.fail.is_none() && d.delay == Some(Duration::from_secs(1)));
        }
    }

    #[test]
    fn delays_are_sampled_in_range() {
        let f = Faults::new(Some(3));
        assert!(f.add(rule("*:delay=100ms..200ms")).is_ok());
        let delays: Vec<_> = (0..200)
            .filter_map(|_| f.decide("/a.B/C", "", &no_field).delay)
            .collect();
        assert_eq!(delays.len(), 200);
        let range = Duration::from_millis(100)..=Duration::from_millis(200);
        assert!(delays.iter().all(|d| range.contains(d)));
        assert!(delays.iter().any(|d| *d != delays[0]));
    }

    #[test]
    fn several_rules_combine() {
        let f = Faults::new(Some(1));
        let rules = vec![
            rule("*:delay=50ms"),
            rule("RunJob:fail=UNAVAILABLE/first"),
            rule("RunJob:fail=INTERNAL/second:times=1"),
            rule("*:delay=1s:fail=ABORTED"),
        ];
        assert!(f.set(rules).is_ok());
        let d = f.decide("/joblet.JobService/RunJob", "", &no_field);
        assert_eq!(d.delay, Some(Duration::from_millis(50)));
        assert_eq!(code_of(&d), Some(tonic::Code::Unavailable));
        assert_eq!(d.fail.as_ref().map(|s| s.message()), Some("first"));
        // Rules 2..4 were shadowed: the last one applies to other RPCs, with
        // the first rule's delay.
        let d = f.decide("/joblet.JobService/StopJob", "", &no_field);
        assert_eq!(d.delay, Some(Duration::from_millis(50)));
        assert_eq!(code_of(&d), Some(tonic::Code::Aborted));
        // A shadowed rule keeps its `times`: with the first fail rule gone,
        // the second fires once.
        let mut rules = f.rules();
        rules.remove(1);
        assert!(f.set(rules).is_ok());
        let m = "/joblet.JobService/RunJob";
        assert_eq!(
            code_of(&f.decide(m, "", &no_field)),
            Some(tonic::Code::Internal)
        );
        assert_eq!(
            code_of(&f.decide(m, "", &no_field)),
            Some(tonic::Code::Aborted)
        );
    }

    #[test]
    fn stream_decisions() {
        let f = Faults::new(Some(1));
        assert!(f.add(rule("GetJobLogs:cut_after_messages=2")).is_ok());
        assert!(f.add(rule("StreamMetrics:stall_after_messages=1")).is_ok());
        assert!(
            f.add(rule("Other:cut_after_bytes=10:fail=DATA_LOSS/gone"))
                .is_ok()
        );
        let d = f.decide("/joblet.JobService/GetJobLogs", "", &no_field);
        match d.stream {
            Some(StreamFault::Cut {
                after_messages: Some(2),
                after_bytes: None,
                status,
            }) => {
                assert_eq!(status.code(), tonic::Code::Unavailable);
                assert_eq!(status.message(), CUT_MESSAGE);
            }
            other => panic!("{other:?}"),
        }
        assert!(d.fail.is_none());
        let d = f.decide("/x.Y/StreamMetrics", "", &no_field);
        assert!(matches!(
            d.stream,
            Some(StreamFault::Stall { after_messages: 1 })
        ));
        let d = f.decide("/x.Y/Other", "", &no_field);
        assert!(matches!(
            d.stream,
            Some(StreamFault::Cut { after_bytes: Some(10), ref status, .. })
                if status.code() == tonic::Code::DataLoss && status.message() == "gone"
        ));
    }

    #[test]
    fn invalid_rules_are_refused() {
        let f = Faults::new(Some(1));
        let mut r = FaultRule::new("RunJob");
        assert!(matches!(f.add(r.clone()), Err(FaultError::Invalid { .. })));
        r.probability = Some(2.0);
        r.fail = Some(Fail::new(tonic::Code::Unavailable, "x"));
        assert!(f.set(vec![rule("A:fail=14"), r]).is_err());
        assert!(f.is_empty());
    }

    fn messages(n: usize) -> BoxStream<String> {
        Box::pin(futures::stream::iter(
            (0..n).map(|i| Ok::<_, tonic::Status>(format!("m{i}"))),
        ))
    }

    async fn collect(s: BoxStream<String>) -> Vec<Result<String, tonic::Code>> {
        s.map(|r| r.map_err(|e| e.code())).collect().await
    }

    fn cut(messages: Option<u64>, bytes: Option<u64>) -> StreamFault {
        StreamFault::Cut {
            after_messages: messages,
            after_bytes: bytes,
            status: tonic::Status::unavailable(CUT_MESSAGE),
        }
    }

    #[tokio::test]
    async fn cut_after_messages() {
        let token = CancellationToken::new();
        let out = collect(apply_stream(messages(5), cut(Some(2), None), token.clone())).await;
        let u = Err(tonic::Code::Unavailable);
        assert_eq!(out, vec![Ok("m0".into()), Ok("m1".into()), u.clone()]);
        let out = collect(apply_stream(messages(5), cut(Some(0), None), token.clone())).await;
        assert_eq!(out, vec![u]);
        // A stream that ends before the limit ends normally.
        let out = collect(apply_stream(messages(2), cut(Some(3), None), token)).await;
        assert_eq!(out, vec![Ok("m0".into()), Ok("m1".into())]);
    }

    #[tokio::test]
    async fn cut_after_bytes() {
        // Each "mN" is 4 bytes encoded: tag, length, two bytes.
        assert_eq!(prost::Message::encoded_len(&"m0".to_owned()), 4);
        let token = CancellationToken::new();
        let u = Err(tonic::Code::Unavailable);
        let out = collect(apply_stream(messages(5), cut(None, Some(8)), token.clone())).await;
        assert_eq!(out, vec![Ok("m0".into()), Ok("m1".into()), u.clone()]);
        // The message crossing the limit is sent whole.
        let out = collect(apply_stream(messages(5), cut(None, Some(5)), token.clone())).await;
        assert_eq!(out, vec![Ok("m0".into()), Ok("m1".into()), u.clone()]);
        let out = collect(apply_stream(messages(5), cut(None, Some(0)), token.clone())).await;
        assert_eq!(out, vec![u.clone()]);
        // Both limits: the first reached cuts.
        let out = collect(apply_stream(messages(5), cut(Some(1), Some(100)), token)).await;
        assert_eq!(out, vec![Ok("m0".into()), u]);
    }

    #[tokio::test]
    async fn cut_ends_without_waiting_for_the_next_message() {
        let live = futures::stream::iter([Ok::<_, tonic::Status>("a".to_owned())])
            .chain(futures::stream::pending());
        let mut s = apply_stream(Box::pin(live), cut(Some(1), None), CancellationToken::new());
        assert_eq!(s.next().await.map(|r| r.ok()), Some(Some("a".into())));
        let next = tokio::time::timeout(Duration::from_secs(5), s.next()).await;
        assert!(matches!(next, Ok(Some(Err(ref e))) if e.code() == tonic::Code::Unavailable));
    }

    #[tokio::test(start_paused = true)]
    async fn stall_ends_on_shutdown() {
        let token = CancellationToken::new();
        let fault = StreamFault::Stall { after_messages: 2 };
        let mut s = apply_stream(messages(5), fault, token.clone());
        assert_eq!(s.next().await.map(|r| r.ok()), Some(Some("m0".into())));
        assert_eq!(s.next().await.map(|r| r.ok()), Some(Some("m1".into())));
        let stalled = tokio::time::timeout(Duration::from_secs(3600), s.next()).await;
        assert!(stalled.is_err(), "the stream must stall");
        token.cancel();
        let end = tokio::time::timeout(Duration::from_secs(1), s.next()).await;
        assert!(matches!(end, Ok(Some(Err(ref e))) if e.code() == tonic::Code::Unavailable));
        assert!(s.next().await.is_none());
        // Stalling before the first message, and a stream that ends first.
        let mut s = apply_stream(
            messages(5),
            StreamFault::Stall { after_messages: 0 },
            token.clone(),
        );
        assert!(matches!(s.next().await, Some(Err(_))));
        let s = apply_stream(messages(1), StreamFault::Stall { after_messages: 3 }, token);
        assert_eq!(collect(s).await, vec![Ok("m0".into())]);
    }

    fn arb_rule() -> impl Strategy<Value = FaultRule> {
        let text = "\\PC{0,12}";
        (
            "[A-Za-z*?./]{1,20}",
            proptest::option::of(text),
            proptest::option::of(("[a-z][A-Za-z0-9_.]{0,8}", text)),
            proptest::option::of((0u64..=86_400_000_000_000, 0u64..=86_400_000_000_000)),
            proptest::option::of((1usize..=16, proptest::option::of(text))),
            (0u8..5, 0u64..100, 0u64..100_000),
            (
                any::<u64>(),
                proptest::option::of(1u64..),
                proptest::option::of(0.0f64..=1.0),
            ),
        )
            .prop_map(|(rpc, session, field, delay, fail, stream, trig)| {
                let mut r = FaultRule::new(rpc);
                r.session = session;
                r.field = field.map(|(name, value)| FieldMatch { name, value });
                r.delay = delay.map(|(a, b)| {
                    Delay::range(
                        Duration::from_nanos(a.min(b)),
                        Duration::from_nanos(a.max(b)),
                    )
                });
                r.fail = fail.map(|(i, message)| Fail {
                    code: CODES[i].0,
                    message,
                });
                match stream.0 {
                    1 => r.cut_after_messages = Some(stream.1),
                    2 => r.cut_after_bytes = Some(stream.2),
                    3 => {
                        (r.cut_after_messages, r.cut_after_bytes) = (Some(stream.1), Some(stream.2))
                    }
                    4 if r.fail.is_none() => r.stall_after_messages = Some(stream.1),
                    _ => {}
                }
                if !r.has_outcome() && r.delay.is_none() {
                    r.delay = Some(Delay::fixed(Duration::from_millis(stream.2)));
                }
                (r.after, r.times, r.probability) = trig;
                r
            })
    }

    proptest! {
        #[test]
        fn parser_never_panics(text in "\\PC{0,60}") {
            let _ = parse_rule(&text);
            let _ = parse_yaml(&text, "x.yaml");
        }

        #[test]
        fn parser_never_panics_on_syntax_soup(text in "[a-z=,:'\"\\\\ ./*0-9]{0,40}") {
            let _ = parse_rule(&text);
            let _ = parse_rule(&format!("RunJob:{text}"));
            let _ = text.parse::<Delay>();
        }

        #[test]
        fn rules_round_trip(r in arb_rule()) {
            prop_assert!(r.validate().is_ok(), "{:?}", r);
            let text = r.to_string();
            let back = parse_rule(&text);
            prop_assert!(back.is_ok(), "{} -> {:?}", text, back.err());
            prop_assert_eq!(back.ok(), Some(r.clone()));
            let yaml = serde_norway::to_string(&r).unwrap_or_default();
            let from_yaml: Result<FaultRule, _> = serde_norway::from_str(&yaml);
            prop_assert_eq!(from_yaml.ok(), Some(r));
        }

        #[test]
        fn glob_literal_matches_itself(t in "[a-zA-Z0-9 ._/-]{0,16}") {
            prop_assert!(Glob::new(&t).matches(&t));
            prop_assert!(Glob::new("*").matches(&t));
        }
    }
}
