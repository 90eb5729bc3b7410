//! Reports of a run: a human summary, JSON (`schema/report.schema.json`) and
//! JUnit XML for CI systems.

use std::fmt::Write as _;

use crate::case::Level;
use crate::outcome::{RunResult, State};

/// The `schema` value of JSON reports this version writes.
pub const SCHEMA_ID: &str = "joblet-conformance-report/v1";

/// The JSON schema of reports (`conformance/schema/report.schema.json`).
pub const SCHEMA: &str = include_str!("../schema/report.schema.json");

/// Counts of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// Case runs.
    pub total: usize,
    /// Passed.
    pub pass: usize,
    /// Failed.
    pub fail: usize,
    /// Skipped.
    pub skip: usize,
    /// Errored.
    pub error: usize,
    /// MUST cases that failed or errored.
    pub must_failed: usize,
    /// Whether the run passes (exit code 0).
    pub passed: bool,
}

impl Summary {
    /// The counts of `result`.
    pub fn of(result: &RunResult) -> Self {
        Self {
            total: result.outcomes.len(),
            pass: result.count(State::Pass),
            fail: result.count(State::Fail),
            skip: result.count(State::Skip),
            error: result.count(State::Error),
            must_failed: result.outcomes.iter().filter(|o| o.fails_run()).count(),
            passed: result.passed(),
        }
    }
}

fn certification() -> String {
    "certification".into()
}

/// What a run is: `certification`, or `compatibility` (a client of a
/// contract the node does not serve, [`crate::compat`]).
pub fn mode(result: &RunResult) -> &'static str {
    if result.compatibility.is_some() {
        "compatibility"
    } else {
        "certification"
    }
}

/// The JSON report.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct JsonReport {
    /// [`SCHEMA_ID`].
    pub schema: String,
    /// `joblet-conformance` and its version.
    pub tool: String,
    /// When the report was written (RFC 3339).
    pub written_at: String,
    /// `certification`, or `compatibility` for a compatibility report (a
    /// client of a contract the node does not serve: `compatibility` then
    /// holds the per-behaviour verdicts).
    #[serde(default = "certification")]
    pub mode: String,
    /// Counts.
    pub summary: Summary,
    /// The run.
    #[serde(flatten)]
    pub run: RunResult,
}

impl JsonReport {
    /// The report of `result`.
    pub fn new(result: &RunResult) -> Self {
        Self {
            schema: SCHEMA_ID.into(),
            tool: format!("joblet-conformance {}", env!("CARGO_PKG_VERSION")),
            written_at: chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            mode: mode(result).into(),
            summary: Summary::of(result),
            run: result.clone(),
        }
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// Reads a report written by [`to_json`](Self::to_json).
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// The lines of the outcomes a summary lists: every one that did not pass
/// (all of them with `verbose`), then the leaks.
fn outcome_lines(result: &RunResult, verbose: bool) -> String {
    let mut out = String::new();
    // Nothing reached the target (a wrong address, a refused handshake): one
    // line rather than the same reason under every case.
    if let [first, rest @ ..] = &result.outcomes[..]
        && !verbose
        && first.state == State::Error
        && rest
            .iter()
            .all(|o| o.state == State::Error && o.message == first.message)
    {
        let _ = writeln!(
            out,
            "ERROR every one of the {} selected: {}",
            result.outcomes.len(),
            first.message.as_deref().unwrap_or("(no message)")
        );
        return out;
    }
    let repeat = result.outcomes.iter().map(|o| o.attempt).max().unwrap_or(1) > 1;
    for o in &result.outcomes {
        if o.state == State::Pass && !verbose {
            continue;
        }
        let attempt = if repeat {
            format!(" (run {})", o.attempt)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{:<5} {:<6} {}{attempt}  [{}]",
            o.state.to_string(),
            o.level.to_string(),
            o.case,
            o.ids.join(", ")
        );
        if let Some(f) = &o.failure {
            let _ = writeln!(out, "      call:     {}", f.call);
            let _ = writeln!(out, "      expected: {}", f.expected);
            let _ = writeln!(out, "      got:      {}", f.got);
        } else if let Some(m) = &o.message {
            let _ = writeln!(out, "      {m}");
        }
    }
    let leaks = result.leaks();
    if !leaks.is_empty() {
        let _ = writeln!(
            out,
            "\nLEAKS: {} resource(s) of run {} could not be removed:",
            leaks.len(),
            result.run_id
        );
        for l in leaks {
            let _ = writeln!(out, "  {} (case {}): {}", l.resource, l.case, l.reason);
        }
    }
    out
}

/// The line that opens a human summary: the contract the run was certified
/// against and how that was decided (nothing when it is not known).
fn contract_header(result: &RunResult) -> String {
    result
        .contract
        .as_ref()
        .map(|c| format!("contract: {}\n", c.line()))
        .unwrap_or_default()
}

/// How a summary names the target: `ADDR (mutual TLS)` or `ADDR (plaintext)`.
fn target_text(result: &RunResult) -> String {
    format!(
        "{}{}",
        result.target,
        if result.tls {
            " (mutual TLS)"
        } else {
            " (plaintext)"
        }
    )
}

/// The human summary: one line per case that did not pass (all of them with
/// `verbose`), leaks, then the counts and the verdict.
///
/// A compatibility report reads otherwise ([`crate::compat::human`]): what
/// a client of the given contract meets per behaviour, then the case lines
/// with `verbose`.
pub fn human(result: &RunResult, verbose: bool) -> String {
    if let Some(compat) = &result.compatibility {
        let mut out = crate::compat::human(result, compat, verbose);
        if verbose {
            out.push_str("\nThe cases:\n");
            out.push_str(&outcome_lines(result, true));
        }
        return out;
    }
    let mut out = contract_header(result);
    out.push_str(&outcome_lines(result, verbose));
    let s = Summary::of(result);
    let must_fail = result
        .outcomes
        .iter()
        .filter(|o| o.level == Level::Must && o.state == State::Fail)
        .count();
    result.write_totals(
        &mut out,
        format_args!("{} cases", s.total),
        &target_text(result),
        format_args!(
            "{} passed, {} failed ({must_fail} MUST), {} skipped, {} errors",
            s.pass, s.fail, s.skip, s.error
        ),
    );
    let connection = result
        .outcomes
        .iter()
        .filter(|o| o.error == Some(crate::outcome::ErrorKind::Connection))
        .count();
    if connection > 0 {
        let _ = writeln!(
            out,
            "{connection} error(s) of the connection (a transport failure, or a proxy answering instead of the server): no verdict on the target's behaviour there"
        );
    }
    let leaks = result.leaks().len();
    let verdict = if result
        .outcomes
        .iter()
        .any(crate::outcome::Outcome::fails_run)
    {
        "NOT CONFORMANT: a MUST case failed or errored".to_owned()
    } else if leaks > 0 {
        format!(
            "LEFT {leaks} RESOURCE(S) BEHIND: every MUST case passed, but the run could not remove what it created"
        )
    } else {
        "CONFORMANT: no MUST case failed or errored".to_owned()
    };
    let _ = writeln!(out, "{verdict}");
    out
}

/// The human summary of a replay (`joblet-conformance replay`): every call
/// that differed, was skipped or errored (all of them with `verbose`), then
/// the counts and the verdict.
pub fn human_replay(result: &RunResult, verbose: bool) -> String {
    let mut out = contract_header(result);
    out.push_str(&outcome_lines(result, verbose));
    let s = Summary::of(result);
    let transcripts: std::collections::BTreeSet<&str> = result
        .outcomes
        .iter()
        .filter_map(|o| o.replay.as_ref().map(|r| r.transcript.as_str()))
        .collect();
    result.write_totals(
        &mut out,
        format_args!(
            "{} calls of {} transcript(s) replayed",
            s.total,
            transcripts.len()
        ),
        &target_text(result),
        format_args!(
            "{} same, {} different, {} skipped, {} errors",
            s.pass, s.fail, s.skip, s.error
        ),
    );
    let _ = writeln!(
        out,
        "{}",
        if s.passed && !result.interrupted {
            "NO DIFFERENCE: every replayed call answered as recorded"
        } else {
            "DIFFERENCES: a replayed call answered differently or not at all"
        }
    );
    out
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one `<testsuite>` per family, one `<testcase>` per case run
/// (`classname` = family, `name` = the case with its IDs); each suite's
/// properties name the target, the run and the contract (`contract`: `v1`,
/// `v2` or `both`; `contract_how`: how it was decided; in a compatibility
/// report `mode` = `compatibility` and the node's `node_contract`,
/// `node_contract_how`). Fail is
/// `<failure>`, Error `<error>`, Skip `<skipped>`; SHOULD cases that fail are
/// reported as failures with `[SHOULD]` in the message.
pub fn junit(result: &RunResult) -> String {
    use std::collections::BTreeMap;
    let mut families: BTreeMap<&str, Vec<&crate::outcome::Outcome>> = BTreeMap::new();
    for o in &result.outcomes {
        // A replay's calls are grouped by transcript (`replay.<transcript>`).
        let family = if o.replay.is_some() {
            o.case.rsplit_once('.').map_or(o.case.as_str(), |(f, _)| f)
        } else {
            o.case.split('.').next().unwrap_or(&o.case)
        };
        families.entry(family).or_default().push(o);
    }
    let s = Summary::of(result);
    let contract = result
        .contract
        .as_ref()
        .map(|c| {
            format!(
                "<property name=\"contract\" value=\"{}\"/><property name=\"contract_how\" value=\"{}\"/>",
                xml_escape(&c.detected),
                xml_escape(&c.how)
            )
        })
        .unwrap_or_default()
        + &result
            .compatibility
            .as_ref()
            .map(|c| {
                format!(
                    "<property name=\"mode\" value=\"compatibility\"/><property name=\"node_contract\" value=\"{}\"/><property name=\"node_contract_how\" value=\"{}\"/>",
                    xml_escape(&c.node.detected),
                    xml_escape(&c.node.how)
                )
            })
            .unwrap_or_default();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"joblet-conformance\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        s.total,
        s.fail,
        s.error,
        s.skip,
        result.duration_ms as f64 / 1000.0
    );
    for (family, outcomes) in families {
        let count = |st: State| outcomes.iter().filter(|o| o.state == st).count();
        let time: u64 = outcomes.iter().map(|o| o.duration_ms).sum();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
            xml_escape(family),
            outcomes.len(),
            count(State::Fail),
            count(State::Error),
            count(State::Skip),
            time as f64 / 1000.0
        );
        let _ = writeln!(
            out,
            "    <properties>{contract}<property name=\"target\" value=\"{}\"/><property name=\"run_id\" value=\"{}\"/></properties>",
            xml_escape(&result.target),
            xml_escape(&result.run_id)
        );
        for o in outcomes {
            let repeat = if o.attempt > 1 {
                format!(" #{}", o.attempt)
            } else {
                String::new()
            };
            let ids = if o.ids.is_empty() {
                String::new()
            } else {
                format!(" [{}]", o.ids.join(", "))
            };
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}{}{}\" time=\"{:.3}\"",
                xml_escape(family),
                xml_escape(&o.case),
                xml_escape(&ids),
                repeat,
                o.duration_ms as f64 / 1000.0
            );
            let level = if o.level == Level::Should {
                "[SHOULD] "
            } else {
                ""
            };
            match o.state {
                State::Pass => out.push_str("/>\n"),
                State::Fail => {
                    let (msg, body) = match &o.failure {
                        Some(f) => (
                            format!("{level}{}: expected {}", f.call, f.expected),
                            format!("call: {}\nexpected: {}\ngot: {}", f.call, f.expected, f.got),
                        ),
                        None => (
                            format!("{level}{}", o.message.clone().unwrap_or_default()),
                            o.message.clone().unwrap_or_default(),
                        ),
                    };
                    let _ = write!(
                        out,
                        ">\n      <failure message=\"{}\" type=\"behaviour\">{}</failure>\n    </testcase>\n",
                        xml_escape(&msg),
                        xml_escape(&body)
                    );
                }
                State::Error => {
                    let m = o.message.clone().unwrap_or_default();
                    let _ = write!(
                        out,
                        ">\n      <error message=\"{}\" type=\"harness\">{}</error>\n    </testcase>\n",
                        xml_escape(&m),
                        xml_escape(&m)
                    );
                }
                State::Skip => {
                    let _ = write!(
                        out,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                        xml_escape(o.message.as_deref().unwrap_or_default())
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Effect;
    use crate::check::Failure;
    use crate::outcome::Outcome;

    fn outcome(case: &str, state: State, level: Level) -> Outcome {
        Outcome {
            case: case.into(),
            ids: vec!["JOB-STOP-3".into()],
            quirks: vec![],
            contracts: vec!["v1".into(), "v2".into()],
            level,
            effect: Effect::Mutating,
            attempt: 1,
            state,
            failure: (state == State::Fail).then(|| Failure {
                call: "StopJob{uuid: <x>}".into(),
                expected: "FAILED_PRECONDITION".into(),
                got: "OK & \"done\"".into(),
            }),
            message: None,
            error: None,
            duration_ms: 12,
            rpcs: vec![],
            leaks: vec![],
            replay: None,
        }
    }

    fn result(outcomes: Vec<Outcome>) -> RunResult {
        RunResult {
            run_id: "abc123".into(),
            target: "127.0.0.1:1".into(),
            tls: false,
            duration_ms: 100,
            outcomes,
            interrupted: false,
            contract: None,
            compatibility: None,
        }
    }

    #[test]
    fn should_failures_do_not_fail_the_run() {
        let r = result(vec![
            outcome("a.b.c", State::Pass, Level::Must),
            outcome("a.b.d", State::Fail, Level::Should),
        ]);
        assert!(r.passed());
        let r = result(vec![outcome("a.b.c", State::Error, Level::Must)]);
        assert!(!r.passed());
        assert!(human(&r, false).contains("NOT CONFORMANT"));
    }

    #[test]
    fn junit_escapes_and_counts() {
        let r = result(vec![
            outcome("jobs.stop.x", State::Fail, Level::Must),
            outcome("jobs.stop.y", State::Skip, Level::Must),
        ]);
        let xml = junit(&r);
        assert!(
            xml.contains("tests=\"2\" failures=\"1\" errors=\"0\" skipped=\"1\""),
            "{xml}"
        );
        assert!(
            xml.contains("OK &amp; &quot;done&quot;") && xml.contains("&lt;x&gt;"),
            "{xml}"
        );
        assert!(xml.contains("<testsuite name=\"jobs\""), "{xml}");
    }

    #[test]
    fn the_contract_opens_every_report() {
        let mut r = result(vec![outcome("jobs.stop.x", State::Pass, Level::Must)]);
        assert!(!human(&r, false).contains("contract:"));
        assert!(!junit(&r).contains("name=\"contract\""));
        r.contract = Some(crate::outcome::ContractInfo {
            detected: "v2".into(),
            how: "from server_version proto tag v2.5.9 & more".into(),
        });
        let text = human(&r, false);
        assert!(
            text.starts_with("contract: v2.5.9 (from server_version proto tag v2.5.9 & more)\n"),
            "{text}"
        );
        assert!(human_replay(&r, false).starts_with("contract: v2.5.9 ("));
        let xml = junit(&r);
        assert!(
            xml.contains("<properties><property name=\"contract\" value=\"v2\"/><property name=\"contract_how\" value=\"from server_version proto tag v2.5.9 &amp; more\"/>"),
            "{xml}"
        );
        let json = JsonReport::new(&r).to_json();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["contract"]["detected"], "v2");
        assert_eq!(JsonReport::parse(&json).unwrap().run.contract, r.contract);
    }

    #[test]
    fn the_totals_close_every_summary() {
        let mut r = result(vec![
            outcome("jobs.stop.x", State::Fail, Level::Must),
            outcome("jobs.stop.y", State::Pass, Level::Must),
            outcome("jobs.stop.z", State::Skip, Level::Should),
        ]);
        let text = human(&r, false);
        assert!(
            text.contains("\n\n3 cases against 127.0.0.1:1 (plaintext) (run abc123) in 0.1 s: 1 passed, 1 failed (1 MUST), 1 skipped, 0 errors\nNOT CONFORMANT"),
            "{text}"
        );
        let text = human_replay(&r, false);
        assert!(
            text.contains("\n\n3 calls of 0 transcript(s) replayed against 127.0.0.1:1 (plaintext) (run abc123) in 0.1 s: 1 same, 1 different, 1 skipped, 0 errors\nDIFFERENCES"),
            "{text}"
        );
        r.interrupted = true;
        r.tls = true;
        r.duration_ms = 2_340;
        let text = human(&r, false);
        assert!(
            text.contains("\n\n3 cases against 127.0.0.1:1 (mutual TLS) (run abc123) in 2.3 s: 1 passed, 1 failed (1 MUST), 1 skipped, 0 errors; INTERRUPTED\n"),
            "{text}"
        );
        assert!(human_replay(&r, false).contains(
            " (run abc123) in 2.3 s: 1 same, 1 different, 1 skipped, 0 errors; INTERRUPTED\n"
        ));
    }

    #[test]
    fn json_round_trips() {
        let r = result(vec![outcome("jobs.stop.x", State::Fail, Level::Must)]);
        let json = JsonReport::new(&r).to_json();
        let back = JsonReport::parse(&json).unwrap();
        assert_eq!(back.run.outcomes, r.outcomes);
        assert_eq!(back.summary.fail, 1);
    }
}
