//! What a case is: a stable name, the behaviour IDs it certifies, a level, what
//! it needs from the target, and the async function that checks it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

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
    /// MUST or SHOULD.
    pub level: Level,
    /// Whether it changes server state.
    pub effect: Effect,
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

    /// Whether the case covers behaviour `id` (exact, case-insensitive).
    pub fn covers(&self, id: &str) -> bool {
        self.ids.iter().any(|i| i.eq_ignore_ascii_case(id))
    }
}

/// The lock of a case declared with `lock = ".."` (`None` without one).
pub const fn first_lock(locks: &[&'static str]) -> Option<&'static str> {
    match locks {
        [] => None,
        [first, ..] => Some(first),
    }
}

/// Declares a case: `case!(name, [ids], level, effect, summary, function)` plus
/// optional `quirks = [..]`, `needs = [..]`, `exclusive`, `lock = ".."`.
#[macro_export]
macro_rules! case {
    (
        $name:literal, [$($id:literal),+ $(,)?], $level:ident, $effect:ident, $summary:literal, $f:path
        $(, quirks = [$($q:literal),* $(,)?])?
        $(, needs = [$($need:ident),* $(,)?])?
        $(, exclusive = $excl:literal)?
        $(, lock = $lock:literal)?
        $(,)?
    ) => {
        $crate::case::Case {
            name: $name,
            ids: &[$($id),+],
            quirks: &[$($($q),*)?],
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
