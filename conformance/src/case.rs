//! What a case is: a stable name, the behaviour IDs it certifies, a level, what
//! it needs from the target, and the async function that checks it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

pub use joblet_testkit::contract::Api;

use crate::check::CaseResult;
use crate::ctx::Ctx;
pub use crate::need::Need;

/// How binding a case is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// The documented contract: a failure makes the run fail.
    Must,
    /// A recommendation: reported, never fails the run.
    Should,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
        })
    }
}

/// Whether a case changes the target's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    /// Only read RPCs (Get, List, Stream, Validate, Test): nothing is created,
    /// changed or removed. The only cases `--read-only` runs.
    ReadOnly,
    /// Creates jobs, networks, volumes or runtimes of its own (carrying the run
    /// prefix, removed at the end), or sends write calls a conformant server
    /// must refuse.
    Mutating,
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Effect::ReadOnly => "read-only",
            Effect::Mutating => "mutating",
        })
    }
}

/// The future a case returns.
pub type CaseFuture = Pin<Box<dyn Future<Output = CaseResult> + Send>>;

/// One named check of one or more behaviours.
#[derive(Clone, Copy)]
pub struct Case {
    /// Stable snake_case name, grouped by family: `jobs.stop.finished_job_is_failed_precondition`.
    pub name: &'static str,
    /// The behaviour IDs (`docs/behaviours.md`) it certifies.
    pub ids: &'static [&'static str],
    /// The `server-v1` quirks (`QUIRK-n`) that replace a behaviour this case
    /// checks: against the `server-v1` profile exactly the cases with quirks fail.
    pub quirks: &'static [&'static str],
    /// The `server-v2` quirks of its own (QUIRK-13 and up) that replace a
    /// behaviour this case checks; with the carried-over quirks of `quirks`
    /// (those tagged `[v1,v2]`), exactly the cases that fail against the
    /// `server-v2` profile.
    pub quirks_v2: &'static [&'static str],
    /// MUST or SHOULD.
    pub level: Level,
    /// Whether it changes server state.
    pub effect: Effect,
    /// The contracts it holds in ([`Api::V1`]: v1.0.6, [`Api::V2`]: v2.5.9):
    /// against a node that speaks only the other one it is skipped with the
    /// reason `not in contract <tag>`; against a node that speaks both it runs.
    pub contracts: &'static [Api],
    /// What it needs beyond the main target.
    pub needs: &'static [Need],
    /// Runs alone, after every other case (DeleteAllJobs touches every job).
    pub exclusive: bool,
    /// Cases sharing a lock never run at the same time (`gpu`).
    pub lock: Option<&'static str>,
    /// One line: what it checks.
    pub summary: &'static str,
    /// The check.
    pub run: fn(Ctx) -> CaseFuture,
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Case")
            .field("name", &self.name)
            .field("ids", &self.ids)
            .field("level", &self.level)
            .field("effect", &self.effect)
            .finish_non_exhaustive()
    }
}

impl Case {
    /// The family: the first part of the name (`jobs`).
    pub fn family(&self) -> &'static str {
        self.name.split('.').next().unwrap_or(self.name)
    }

    /// Whether the case holds in contract `contract` (a node of
    /// [`Api::Both`] runs every case).
    pub fn holds_in(&self, contract: Api) -> bool {
        match contract {
            Api::Both => true,
            one => self.contracts.contains(&one),
        }
    }

    /// Why the case is skipped against a node that speaks `contract`, if it
    /// is: `not in contract v2.5.9` (or `v1.0.6`).
    pub fn contract_skip(&self, contract: Api) -> Option<&'static str> {
        match contract {
            _ if self.holds_in(contract) => None,
            Api::V1 => Some(NOT_IN_V1),
            _ => Some(NOT_IN_V2),
        }
    }

    /// Whether the case covers behaviour `id` (exact, case-insensitive).
    pub fn covers(&self, id: &str) -> bool {
        self.ids.iter().any(|i| i.eq_ignore_ascii_case(id))
    }
}

/// The skip reason of a v1-only case against a node that speaks v2.5.9 alone.
pub const NOT_IN_V2: &str = "not in contract v2.5.9";

/// The skip reason of a v2-only case against a node that speaks v1.0.6 alone.
pub const NOT_IN_V1: &str = "not in contract v1.0.6";

/// Both contracts: the default of [`crate::case!`].
pub const BOTH: &[Api] = &[Api::V1, Api::V2];

/// The contracts of a case declared with `contracts = [..]` ([`BOTH`]
/// without one).
pub const fn contracts_or_both(declared: &'static [Api]) -> &'static [Api] {
    if declared.is_empty() { BOTH } else { declared }
}

/// The lock of a case declared with `lock = ".."` (`None` without one).
pub const fn first_lock(locks: &[&'static str]) -> Option<&'static str> {
    match locks {
        [] => None,
        [first, ..] => Some(first),
    }
}

/// Declares a case: `case!(name, [ids], level, effect, summary, function)` plus
/// optional `quirks = [..]`, `quirks_v2 = [..]`, `contracts = [V1]` (or `[V2]`; both when left
/// out), `needs = [..]`, `exclusive`, `lock = ".."`.
#[macro_export]
macro_rules! case {
    (
        $name:literal, [$($id:literal),+ $(,)?], $level:ident, $effect:ident, $summary:literal, $f:path
        $(, quirks = [$($q:literal),* $(,)?])?
        $(, quirks_v2 = [$($q2:literal),* $(,)?])?
        $(, contracts = [$($api:ident),+ $(,)?])?
        $(, needs = [$($need:ident),* $(,)?])?
        $(, exclusive = $excl:literal)?
        $(, lock = $lock:literal)?
        $(,)?
    ) => {
        $crate::case::Case {
            name: $name,
            ids: &[$($id),+],
            quirks: &[$($($q),*)?],
            quirks_v2: &[$($($q2),*)?],
            contracts: $crate::case::contracts_or_both(&[$($($crate::case::Api::$api),+)?]),
            level: $crate::case::Level::$level,
            effect: $crate::case::Effect::$effect,
            needs: &[$($($crate::case::Need::$need),*)?],
            exclusive: false $(|| $excl)?,
            lock: $crate::case::first_lock(&[$($lock)?]),
            summary: $summary,
            run: |cx| Box::pin($f(cx)),
        }
    };
}
