//! The mock's control operations, shared by the gRPC control API
//! (`jobletmock.v1.MockControl`, [`crate::service::control`]), the
//! `joblet-mock ctl` command and the [`RunningMock`](crate::RunningMock)
//! methods of the same names.
//!
//! | Operation | Here | `RunningMock` | `joblet-mock ctl` |
//! |---|---|---|---|
//! | Reset | [`Node::reset`](crate::Node::reset) | `reset`, `reset_all` | `reset [--all]` |
//! | AdvanceClock, GetClock | [`advance_clock`], [`clock_reading`] | `advance_clock`, `clock_now` | `advance 1h30m`, `clock` |
//! | SetFaults, ClearFaults, ListFaults | [`set_faults`] | `set_faults`, `clear_faults`, `faults` | `faults set/clear/list` |
//! | LoadScenario | [`load_scenario`] | `load_scenario` | `scenario load FILE` |
//! | ListCalls, ClearCalls | [`calls`] | `received_calls`, `verify` | `calls`, `calls clear` |
//! | Snapshot, Restore | [`crate::snapshot`] | `snapshot`, `restore` | `snapshot`, `restore FILE` |
//! | GetMemory | [`memory_report`] | `memory` | `memory` |
//!
//! Errors are [`Error`]s: `INVALID_ARGUMENT` naming the request field, or
//! `FAILED_PRECONDITION` for advancing a real clock.

use std::path::Path;
use std::time::Duration;

use crate::budget::BudgetReport;
use crate::clock::ClockMode;
use crate::error::{Error, Result};
use crate::faults::FaultRule;
use crate::journal::{CallRecord, Expectation};
use crate::session::Node;
use crate::session::Shared;
use crate::sim::{Simulator, parse_scenarios};
use crate::time::rfc3339_ms;

/// A session clock's time and mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockReading {
    /// Now, Unix milliseconds.
    pub now_unix_ms: i64,
    /// How the clock runs.
    pub mode: ClockMode,
    /// Timers waiting on a virtual clock (0 for the real clock).
    pub pending_timers: usize,
}

impl ClockReading {
    /// Now as RFC 3339 in UTC with milliseconds.
    pub fn now_rfc3339(&self) -> String {
        rfc3339_ms(self.now_unix_ms)
    }
}

/// The clock of `shared` now.
pub fn clock_reading(shared: &Shared) -> ClockReading {
    ClockReading {
        now_unix_ms: shared.clock.now_ms(),
        mode: shared.clock.mode(),
        pending_timers: shared.clock.pending_timers(),
    }
}

/// The longest single advance accepted (about 100 years).
pub const MAX_ADVANCE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Parses a duration such as `90s`, `1h30m`, `250ms`, `1.5h` or `2d`: one or
/// more numbers (decimals allowed), each followed by a unit (`d`, `h`, `m`,
/// `s`, `ms`, `us`/`µs`, `ns`). A bare number is refused (its unit would be a
/// guess); at most [`MAX_ADVANCE`].
pub fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("a duration is required, e.g. 90s, 1h30m, 250ms".into());
    }
    let mut total = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(digits);
        if number.is_empty() {
            return Err(format!(
                "{t:?} is not a duration: expected a number at {rest:?} (e.g. 90s, 1h30m, 250ms)"
            ));
        }
        let value: f64 = number
            .parse()
            .map_err(|_| format!("{t:?} is not a duration: {number:?} is not a number"))?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let scale = match unit.trim() {
            "d" => 86_400.0,
            "h" => 3_600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            "" => {
                return Err(format!(
                    "{t:?} has no unit: write e.g. {number}s or {number}ms (units d, h, m, s, ms, us, ns)"
                ));
            }
            other => {
                return Err(format!(
                    "{t:?}: unknown unit {other:?} (units d, h, m, s, ms, us, ns)"
                ));
            }
        };
        total += value * scale;
        rest = next;
    }
    let d = Duration::try_from_secs_f64(total)
        .map_err(|_| format!("{t:?} is not a usable duration"))?;
    if d > MAX_ADVANCE {
        return Err(format!("{t:?} is longer than 100 years"));
    }
    Ok(d)
}

/// Moves the virtual clock of `shared` forward by `by` (timers due on the way
/// fire in order). `FAILED_PRECONDITION` for a real clock.
pub async fn advance_clock(shared: &Shared, by: Duration) -> Result<ClockReading> {
    shared
        .clock
        .advance(by)
        .await
        .map_err(|e| Error::FailedPrecondition(e.to_string()))?;
    Ok(clock_reading(shared))
}

/// Parses `rules_json`, a JSON array of fault rule objects (the keys of a
/// fault YAML file). Errors name `field` and the JSON position.
pub fn parse_rules_json(field: &str, json: &str) -> Result<Vec<FaultRule>> {
    let rules: Vec<FaultRule> = serde_json::from_str(json)
        .map_err(|e| Error::invalid(field, format!("not a JSON array of fault rules: {e}")))?;
    for (i, r) in rules.iter().enumerate() {
        r.validate()
            .map_err(|e| Error::invalid(format!("{field}[{i}]"), e.to_string()))?;
    }
    Ok(rules)
}

/// Parses rules in the one-line syntax of `--fault`; errors name `field[i]`
/// and the rule.
pub fn parse_rule_lines(field: &str, lines: &[String]) -> Result<Vec<FaultRule>> {
    lines
        .iter()
        .enumerate()
        .map(|(i, text)| {
            crate::faults::parse_rule(text)
                .map_err(|e| Error::invalid(format!("{field}[{i}]"), e.to_string()))
        })
        .collect()
}

/// Replaces the fault rules of `shared` with `rules` (counters start afresh),
/// or appends them (the existing rules keep their counters). Every rule is
/// checked before any is used.
pub fn set_faults(shared: &Shared, rules: Vec<FaultRule>, append: bool) -> Result<()> {
    for (i, r) in rules.iter().enumerate() {
        r.validate()
            .map_err(|e| Error::invalid(format!("rules[{i}]"), e.to_string()))?;
    }
    if append {
        for r in rules {
            shared
                .faults
                .add(r)
                .map_err(|e| Error::invalid("rules", e.to_string()))?;
        }
        Ok(())
    } else {
        shared
            .faults
            .set(rules)
            .map_err(|e| Error::invalid("rules", e.to_string()))
    }
}

/// What `load_scenario` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedScenarios {
    /// Names (or `#N`, their position in the file) of the loaded scenarios.
    pub names: Vec<String>,
    /// Scenarios the session has now.
    pub total: usize,
}

/// Loads a scenario file's text into `shared`: the new scenarios come before
/// those already loaded (first match wins, so the latest load takes
/// precedence), or replace them. `INVALID_ARGUMENT` naming `yaml`, the file
/// and the line for a file that does not parse or holds an invalid scenario.
pub fn load_scenario(
    shared: &Shared,
    yaml: &str,
    file_name: &str,
    replace: bool,
) -> Result<LoadedScenarios> {
    let file_name = if file_name.trim().is_empty() {
        "<control>"
    } else {
        file_name
    };
    let loaded = parse_scenarios(yaml, Path::new(file_name))
        .map_err(|e| Error::invalid("yaml", e.to_string()))?;
    let names = loaded
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if s.name.is_empty() {
                format!("#{}", i + 1)
            } else {
                s.name.clone()
            }
        })
        .collect();
    let current = shared.sim();
    let mut scenarios = loaded;
    if !replace {
        scenarios.extend(current.scenarios().iter().cloned());
    }
    let total = scenarios.len();
    shared.set_sim(Simulator::new(scenarios, current.unknown_command()));
    Ok(LoadedScenarios { names, total })
}

/// The calls of `calls` whose method matches the glob `method` (all when
/// `None` or empty), oldest first; with `limit > 0` only the last `limit`
/// of them.
pub fn filter_calls(
    mut calls: Vec<CallRecord>,
    method: Option<&str>,
    limit: usize,
) -> Vec<CallRecord> {
    if let Some(glob) = method.filter(|m| !m.trim().is_empty()) {
        let e = Expectation::method(glob.trim());
        calls.retain(|c| e.matches(c));
    }
    if limit > 0 && calls.len() > limit {
        calls.drain(..calls.len() - limit);
    }
    calls
}

/// The memory figures of a whole mock (GetMemory): the process-wide budget's
/// and each session's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryReport {
    /// The budget, what is counted, evictions and refusals.
    pub budget: BudgetReport,
    /// `--max-jobs` (0: no cap), per session.
    pub max_jobs: usize,
    /// Each session, the default one first.
    pub sessions: Vec<SessionMemory>,
    /// Resident memory of this process (VmRSS), when known.
    pub resident_bytes: Option<u64>,
}

/// One session's share of the memory budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionMemory {
    /// `default` for the default session.
    pub name: String,
    /// Job records held.
    pub jobs: usize,
    /// Estimated bytes of those records.
    pub record_bytes: u64,
    /// Bytes of log history its jobs hold.
    pub log_bytes: u64,
    /// Finished records evicted from it so far.
    pub evicted_records: u64,
}

/// One session's memory figures.
pub fn session_memory(shared: &Shared) -> SessionMemory {
    let (jobs, record_bytes, evicted_records) = {
        let state = shared.state.lock();
        (
            state.jobs.len(),
            state.jobs.record_bytes(),
            state.jobs.evicted(),
        )
    };
    SessionMemory {
        name: crate::session::label(&shared.session).to_owned(),
        jobs,
        record_bytes,
        log_bytes: shared.account.log_bytes(),
        evicted_records,
    }
}

/// The memory figures of `node` now.
pub fn memory_report(node: &Node) -> MemoryReport {
    MemoryReport {
        budget: node.budget().report(),
        max_jobs: node.config().max_jobs,
        sessions: node.sessions().iter().map(|s| session_memory(s)).collect(),
        resident_bytes: resident_bytes(),
    }
}

/// VmRSS of this process from `/proc/self/status` (Linux), in bytes.
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok = |t: &str| parse_duration(t).unwrap();
        assert_eq!(ok("90s"), Duration::from_secs(90));
        assert_eq!(ok("1h30m"), Duration::from_secs(5400));
        assert_eq!(ok(" 250ms "), Duration::from_millis(250));
        assert_eq!(ok("1.5h"), Duration::from_secs(5400));
        assert_eq!(ok("2d"), Duration::from_secs(172_800));
        assert_eq!(ok("1m30s500ms"), Duration::from_millis(90_500));
        assert_eq!(ok("0s"), Duration::ZERO);
        assert_eq!(ok("10us"), Duration::from_micros(10));
        for bad in ["", "90", "1x", "h", "1h30", "-1s", "1..2s", "200y"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert!(parse_duration("90").unwrap_err().contains("90s"));
        assert!(parse_duration("36600000h").is_err());
    }

    #[test]
    fn rules_json_errors_name_the_field() {
        let rules = parse_rules_json(
            "rules_json",
            r#"[{"rpc": "RunJob", "fail": "UNAVAILABLE", "after": 2}]"#,
        )
        .unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].after, 2);
        let e = parse_rules_json("rules_json", "[{").unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert!(e.to_string().starts_with("rules_json:"), "{e}");
        let e = parse_rules_json("rules_json", r#"[{"rpc": "X", "bogus": 1}]"#).unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
        let e = parse_rule_lines("rules", &["RunJob:fail=14".into(), "RunJob:nope=1".into()])
            .unwrap_err();
        assert!(e.to_string().starts_with("rules[1]:"), "{e}");
        assert!(e.to_string().contains("nope"), "{e}");
    }

    #[test]
    fn calls_are_filtered_and_limited() {
        let j = crate::journal::Journal::new(10);
        for m in ["a.S/RunJob", "a.S/ListJobs", "a.S/RunJob", "a.S/StopJob"] {
            j.record(m, "", bytes::Bytes::new(), tonic::Code::Ok, "", 0);
        }
        let seqs = |v: Vec<CallRecord>| v.iter().map(|c| c.seq).collect::<Vec<_>>();
        assert_eq!(seqs(filter_calls(j.calls(), Some("RunJob"), 0)), [1, 3]);
        assert_eq!(seqs(filter_calls(j.calls(), Some("*Job*"), 2)), [3, 4]);
        assert_eq!(seqs(filter_calls(j.calls(), None, 0)), [1, 2, 3, 4]);
        assert_eq!(seqs(filter_calls(j.calls(), Some(""), 1)), [4]);
    }
}
