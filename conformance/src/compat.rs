//! The compatibility report (issue #17): a client of one contract against a
//! node that does not serve it (`--contract v1` against a node of v2.5.9
//! alone, or the reverse). Every case of the client's contract runs; per
//! behaviour, the report says what such a client meets on this node: it
//! works, it breaks (the method is gone: UNIMPLEMENTED), it differs (an
//! answer other than the documented one), or it was not checked. It is what
//! an operator reads before moving nodes under pipelines of the other SDK:
//! not a certification.

use std::fmt::Write as _;

use joblet_testkit::contract::Api;

pub use crate::outcome::{BehaviourVerdict, Verdict};
use crate::outcome::{Outcome, RunResult, State};

/// The verdict of one case run.
pub fn verdict_of(outcome: &Outcome) -> Verdict {
    match outcome.state {
        State::Pass => Verdict::Works,
        State::Skip => Verdict::NotChecked,
        State::Error => Verdict::Error,
        State::Fail if got(outcome).starts_with("UNIMPLEMENTED") => Verdict::Breaks,
        State::Fail => Verdict::Differs,
    }
}

/// What came back in a failed case (its message when it has no failure).
fn got(outcome: &Outcome) -> &str {
    match &outcome.failure {
        Some(f) => &f.got,
        None => outcome.message.as_deref().unwrap_or_default(),
    }
}

/// The detail of one case's verdict, one line.
fn detail(outcome: &Outcome, verdict: Verdict) -> String {
    match (verdict, &outcome.failure) {
        (Verdict::Works, _) => String::new(),
        (Verdict::Breaks, Some(f)) => format!("{} ({}; {})", f.got, f.call, outcome.case),
        (Verdict::Differs, Some(f)) => format!(
            "{}: expected {}, got {} ({})",
            f.call, f.expected, f.got, outcome.case
        ),
        _ => format!(
            "{} ({})",
            outcome.message.as_deref().unwrap_or("(no message)"),
            outcome.case
        ),
    }
}

/// Whether a failed case broke only because it called a method a node of
/// contract `node` does not serve at all (UNIMPLEMENTED "unknown method <M>
/// for service joblet.<S>"): evidence about that method's behaviours, not
/// about the others the case covers.
fn gone(outcome: &Outcome, node: Api) -> bool {
    let text = got(outcome);
    let Some(rest) = text
        .strip_prefix("UNIMPLEMENTED \"unknown method ")
        .and_then(|r| r.strip_suffix('"'))
    else {
        return false;
    };
    match rest.split_once(" for service joblet.") {
        Some((method, service)) => !node.serves(service, method),
        None => false,
    }
}

/// Per behaviour ID of `outcomes` (in order of first appearance), what a
/// client meets on a node of contract `node`, from the verdicts of the cases
/// that cover it:
///
/// - none ran (all skipped): `not checked`, with the first reason;
/// - one differed or errored: the worst of those, with its detail;
/// - else, one worked: `works`, though other cases of it broke because
///   they also call a method the node does not serve (the method's own
///   behaviours report that it is gone);
/// - else: `breaks`, with the first break.
pub fn verdicts(outcomes: &[Outcome], node: Api) -> Vec<BehaviourVerdict> {
    let mut ids: Vec<&str> = Vec::new();
    for o in outcomes {
        for id in &o.ids {
            if !ids.contains(&id.as_str()) {
                ids.push(id);
            }
        }
    }
    ids.into_iter()
        .map(|id| {
            let cases: Vec<(&Outcome, Verdict)> = outcomes
                .iter()
                .filter(|o| o.ids.iter().any(|i| i == id))
                .map(|o| (o, verdict_of(o)))
                .collect();
            decide(id, &cases, node)
        })
        .collect()
}

/// The verdict on behaviour `id` from its cases' (see [`verdicts`]).
fn decide(id: &str, cases: &[(&Outcome, Verdict)], node: Api) -> BehaviourVerdict {
    let works = cases.iter().filter(|(_, v)| *v == Verdict::Works).count();
    let masked = cases
        .iter()
        .filter(|(o, v)| *v == Verdict::Breaks && gone(o, node))
        .count();
    let worst = |keep: &dyn Fn(Verdict) -> bool| {
        cases
            .iter()
            .filter(|(_, v)| keep(*v))
            .min_by_key(|(_, v)| *v)
            .copied()
    };
    let real_break = |v: Verdict| v == Verdict::Breaks;
    let differs = |v: Verdict| matches!(v, Verdict::Differs | Verdict::Error);
    let (verdict, mut detail) = if let Some((o, v)) = worst(&differs) {
        (v, detail(o, v))
    } else if works > 0 && masked == cases.iter().filter(|(_, v)| real_break(*v)).count() {
        let text = if masked > 0 {
            format!(
                "{masked} other case(s) also call a method this node does not serve (reported under that method's behaviours)"
            )
        } else {
            String::new()
        };
        (Verdict::Works, text)
    } else if let Some((o, v)) = worst(&real_break) {
        (v, detail(o, v))
    } else {
        let (o, v) = cases[0];
        (v, detail(o, v))
    };
    if works > 0 && verdict < Verdict::Works {
        let _ = write!(detail, "; {works} of {} case(s) work", cases.len());
    }
    BehaviourVerdict {
        id: id.to_owned(),
        verdict,
        detail,
        cases: cases
            .iter()
            .map(|(o, v)| format!("{}: {v}", o.case))
            .collect(),
    }
}

/// The human compatibility report: what it is (first line), the node, the
/// behaviours that do not work with why, those that work in one list, the
/// counts, and the case lines of the usual summary with `verbose`.
pub fn human(result: &RunResult, compat: &crate::outcome::Compatibility, verbose: bool) -> String {
    let label = |name: &str| -> String {
        match joblet_testkit::contract::Api::parse(name) {
            Some(api) => joblet_testkit::detect::label(api).to_owned(),
            None => name.to_owned(),
        }
    };
    let client = label(&compat.client);
    let node = label(&compat.node.detected);
    let mut out = format!(
        "Compatibility report: a {client} client against a {node} node — not a certification\n"
    );
    let _ = writeln!(out, "node: {}", compat.node.line());
    let _ = writeln!(
        out,
        "What a {client} client meets, per behaviour of its catalogue:"
    );
    let mut works = Vec::new();
    for b in &compat.behaviours {
        if b.verdict == Verdict::Works && !verbose {
            works.push(b.id.as_str());
            continue;
        }
        let _ = writeln!(
            out,
            "  {:<11}  {:<14}  {}",
            b.verdict.as_str(),
            b.id,
            b.detail
        );
    }
    if !works.is_empty() {
        let _ = writeln!(out, "  works        {}", works.join(" "));
    }
    let count = |v: Verdict| compat.behaviours.iter().filter(|b| b.verdict == v).count();
    result.write_totals(
        &mut out,
        format_args!(
            "{} behaviours, {} cases",
            compat.behaviours.len(),
            result.outcomes.len()
        ),
        &result.target,
        format_args!(
            "{} work, {} break, {} differ, {} not checked, {} errors",
            count(Verdict::Works),
            count(Verdict::Breaks),
            count(Verdict::Differs),
            count(Verdict::NotChecked),
            count(Verdict::Error)
        ),
    );
    let _ = writeln!(
        out,
        "{}",
        if produced(result) {
            "COMPATIBILITY REPORT: breaks and differences are findings, not failures (exit code 0)"
        } else {
            "INCOMPLETE COMPATIBILITY REPORT: a case errored, the run was interrupted or left resources behind (exit code 1)"
        }
    );
    out
}

/// Whether the compatibility report is complete: every case has a verdict
/// (no Error), the run was not interrupted and left nothing behind. Its exit
/// code is 0 then, whatever broke.
pub fn produced(result: &RunResult) -> bool {
    !result.interrupted
        && result.leaks().is_empty()
        && !result.outcomes.iter().any(|o| o.state == State::Error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{Effect, Level};
    use crate::check::Failure;

    fn outcome(case: &str, ids: &[&str], state: State, got: &str) -> Outcome {
        Outcome {
            case: case.into(),
            ids: ids.iter().map(|s| (*s).to_owned()).collect(),
            quirks: vec![],
            contracts: vec!["v1".into(), "v2".into()],
            level: Level::Must,
            effect: Effect::Mutating,
            attempt: 1,
            state,
            failure: (state == State::Fail).then(|| Failure {
                call: "RunWorkflow".into(),
                expected: "OK".into(),
                got: got.into(),
            }),
            message: (state != State::Fail).then(|| got.to_owned()),
            error: None,
            duration_ms: 1,
            rpcs: vec![],
            leaks: vec![],
            replay: None,
        }
    }

    #[test]
    fn a_gone_method_breaks_only_its_own_behaviours() {
        let gone = "UNIMPLEMENTED \"unknown method RunWorkflow for service joblet.JobService\"";
        let cancel = "UNIMPLEMENTED \"method CancelJob not implemented\"";
        let outcomes = [
            outcome("a.one", &["WF-RUN-1", "ALL-4"], State::Fail, gone),
            outcome("a.two", &["ALL-4"], State::Pass, ""),
            outcome("a.three", &["JOB-RUN-1"], State::Fail, "command = \"\""),
            outcome("a.four", &["RT-RM-1"], State::Skip, "no runtime"),
            outcome("a.five", &["JOB-RUN-2"], State::Skip, "no viewer"),
            outcome("a.six", &["JOB-RUN-2"], State::Pass, ""),
            outcome("a.seven", &["JOB-CANCEL-1"], State::Fail, cancel),
            outcome("a.eight", &["JOB-CANCEL-1"], State::Pass, ""),
        ];
        let v = verdicts(&outcomes, Api::V2);
        let brief: Vec<(&str, Verdict)> = v.iter().map(|b| (b.id.as_str(), b.verdict)).collect();
        assert_eq!(
            brief,
            [
                ("WF-RUN-1", Verdict::Breaks),
                ("ALL-4", Verdict::Works),
                ("JOB-RUN-1", Verdict::Differs),
                ("RT-RM-1", Verdict::NotChecked),
                ("JOB-RUN-2", Verdict::Works),
                ("JOB-CANCEL-1", Verdict::Breaks),
            ]
        );
        assert_eq!(v[0].detail, format!("{gone} (RunWorkflow; a.one)"));
        assert_eq!(
            v[1].detail,
            "1 other case(s) also call a method this node does not serve (reported under that method's behaviours)"
        );
        assert_eq!(v[1].cases, ["a.one: breaks", "a.two: works"]);
        // A method the node serves that answers UNIMPLEMENTED is a break.
        assert_eq!(
            v[5].detail,
            format!("{cancel} (RunWorkflow; a.seven); 1 of 2 case(s) work")
        );
        // On a node that serves RunWorkflow, its UNIMPLEMENTED breaks ALL-4 too.
        assert_eq!(verdicts(&outcomes, Api::Both)[1].verdict, Verdict::Breaks);
        assert_eq!(
            v[2].detail,
            "RunWorkflow: expected OK, got command = \"\" (a.three)"
        );
        assert_eq!(v[3].detail, "no runtime (a.four)");
    }

    #[test]
    fn the_report_closes_with_the_counts_per_verdict() {
        let gone = "UNIMPLEMENTED \"unknown method RunWorkflow for service joblet.JobService\"";
        let outcomes = vec![
            outcome("a.one", &["WF-RUN-1"], State::Fail, gone),
            outcome("a.two", &["ALL-4"], State::Pass, ""),
            outcome("a.three", &["JOB-RUN-1"], State::Fail, "command = \"\""),
            outcome("a.four", &["RT-RM-1"], State::Skip, "no runtime"),
        ];
        let compat = crate::outcome::Compatibility {
            client: "v1".into(),
            node: crate::outcome::ContractInfo {
                detected: "v2".into(),
                how: "from server_version proto tag v2.5.9".into(),
            },
            behaviours: verdicts(&outcomes, Api::V2),
        };
        let mut result = RunResult {
            run_id: "abc123".into(),
            target: "127.0.0.1:1".into(),
            tls: true,
            duration_ms: 1_500,
            outcomes,
            interrupted: false,
            contract: None,
            compatibility: None,
        };
        let text = human(&result, &compat, false);
        assert!(
            text.contains("\n\n4 behaviours, 4 cases against 127.0.0.1:1 (run abc123) in 1.5 s: 1 work, 1 break, 1 differ, 1 not checked, 0 errors\nCOMPATIBILITY REPORT: "),
            "{text}"
        );
        result.interrupted = true;
        let text = human(&result, &compat, false);
        assert!(
            text.contains(" in 1.5 s: 1 work, 1 break, 1 differ, 1 not checked, 0 errors; INTERRUPTED\nINCOMPLETE COMPATIBILITY REPORT"),
            "{text}"
        );
    }
}
