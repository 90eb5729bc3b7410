//! Against the mock's `server-v1` profile (every QUIRK on), exactly the cases
//! that declare a QUIRK fail, no more and no fewer, as the golden list says.

use std::collections::BTreeSet;

use joblet_conformance::State;
use joblet_conformance::cases::catalogue;

use crate::support::{repo, server_v1_run, update_golden};

const GOLDEN: &str = "conformance/tests/golden/server-v1-failures.txt";

fn render(cases: &BTreeSet<String>) -> String {
    let mut out = String::from(
        "# Cases that fail against `joblet-mock --profile server-v1`, with the quirks they declare.\n\
         # Checked by conformance/tests/it/server_v1.rs; rewrite with UPDATE_GOLDEN=1 and review the diff.\n",
    );
    for name in cases {
        let quirks = catalogue()
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.quirks.join(", "))
            .unwrap_or_default();
        out.push_str(&format!("{name}  # {quirks}\n"));
    }
    out
}

fn parse(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn exactly_the_quirk_cases_fail_against_server_v1() {
    let run = server_v1_run();
    let errors: Vec<String> = run
        .outcomes
        .iter()
        .filter(|o| matches!(o.state, State::Error | State::Skip))
        .map(|o| format!("{} {}: {:?}", o.state, o.case, o.message))
        .collect();
    assert!(
        errors.is_empty(),
        "cases with no verdict against server-v1:\n{}",
        errors.join("\n")
    );
    let failed: BTreeSet<String> = run
        .outcomes
        .iter()
        .filter(|o| o.state == State::Fail)
        .map(|o| o.case.clone())
        .collect();
    let declared: BTreeSet<String> = catalogue()
        .iter()
        .filter(|c| !c.quirks.is_empty())
        .map(|c| c.name.to_owned())
        .collect();
    let path = repo().join(GOLDEN);
    if update_golden() {
        std::fs::write(&path, render(&failed)).expect("write the golden list");
    }
    let golden = parse(
        &std::fs::read_to_string(&path)
            .expect("the golden list exists (UPDATE_GOLDEN=1 writes it)"),
    );
    let unexpected: Vec<_> = failed.difference(&golden).collect();
    let missing: Vec<_> = golden.difference(&failed).collect();
    assert!(
        unexpected.is_empty() && missing.is_empty(),
        "server-v1 failures differ from {GOLDEN}:\n  failed but not in the list: {unexpected:?}\n  listed but passed: {missing:?}\n{}",
        run.outcomes
            .iter()
            .filter(|o| unexpected.contains(&&o.case))
            .map(|o| format!("  {}: {:?}", o.case, o.message))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(
        golden, declared,
        "the golden list must be exactly the cases that declare a QUIRK"
    );
    // Every QUIRK of the profile is shown by at least one failing case.
    for q in 1..=12 {
        let id = format!("QUIRK-{q}");
        assert!(
            catalogue()
                .iter()
                .any(|c| c.quirks.contains(&id.as_str()) && failed.contains(c.name)),
            "no failing case declares {id}"
        );
    }
    eprintln!(
        "checked: {} cases against server-v1, {} failed, all declaring a QUIRK, equal to {GOLDEN}",
        run.outcomes.len(),
        failed.len()
    );
}
