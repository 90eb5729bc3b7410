//! Fault injection: rules that delay calls, fail them with a gRPC status, cut
//! server streams mid-way or stall them, so that SDKs can test their retries,
//! timeouts and error paths against the mock.
//!
//! This module is pure: it parses and holds the rules (`Faults`) and answers,
//! for one call, what to do (`Faults::decide` → `Decision`); the server
//! applies the decision (sleeps, returns the status, or wraps the response
//! stream with `apply_stream`).
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
//!   allowed), with an optional `concurrency: K` (at most K matching calls
//!   are in their delay at once, the others wait their turn first, in
//!   arrival order: a node that serves K calls per delay and whose latency
//!   climbs past that rate), `fail` (a gRPC code by name, any case, or number, and an optional
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
//!   the seeded RNG of `Faults`).
//!
//! # One-line syntax (`--fault`)
//!
//! Items `KEY=VALUE` separated by `,` or `:`; the first item may be a bare RPC
//! glob, short for `rpc=GLOB`. Keys: `rpc`, `session`, `field.NAME` (and
//! `command`, short for `field.command`), `delay`, `concurrency`, `fail` (`CODE` or
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
//! RunJob:delay=50ms:concurrency=10
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
//! `Faults::decide` walks the rules in order. Every rule whose matchers match
//! the call counts it (this count is what `after` compares against), whatever
//! the other rules do; rules that do not match count nothing. A counted rule past
//! its `after` and below its `times` is *eligible*; an eligible rule that can
//! still add something to the decision (a delay when none is chosen yet, an
//! outcome — `fail`, cut or stall — when none is chosen yet) draws its
//! `probability`, and if it fires, it adds those parts and uses one of its
//! `times`. So the first firing rule with a delay sets the delay (and, with
//! its `concurrency`, the queue the call waits in), the first firing rule
//! with an outcome sets the outcome, and a shadowed rule neither draws nor
//! spends its `times`. A rule's queue lives as long as the rule: replacing
//! the rules starts new queues.
//!
//! Modules: `rule` (a rule and its parts), `text` (the one-line syntax),
//! `file` (YAML files), `glob` (matchers), `rules` (a session's rule set and
//! its decisions), `stream` (cuts and stalls applied to server streams).

mod file;
mod glob;
mod rule;
mod rules;
mod stream;
mod text;

pub use file::{load_yaml, parse_yaml};
pub use rule::{
    CUT_MESSAGE, Delay, FAIL_MESSAGE, Fail, FaultError, FaultRule, FieldMatch, MAX_DELAY,
    code_name, parse_code,
};
pub(crate) use rules::{Faults, StreamFault};
pub(crate) use stream::apply_stream;
pub use text::parse_rule;

#[cfg(test)]
mod tests;
