//! The whole catalogue certifies the documented mock: every case passes.

use joblet_conformance::State;

use crate::support::documented_run;

#[test]
fn every_case_passes_against_the_documented_mock() {
    let run = documented_run();
    let bad: Vec<String> = run
        .outcomes
        .iter()
        .filter(|o| o.state != State::Pass)
        .map(|o| {
            format!(
                "{} {}: {}",
                o.state,
                o.case,
                o.message.clone().unwrap_or_default()
            )
        })
        .collect();
    assert!(
        bad.is_empty(),
        "cases that did not pass against the documented mock:\n{}",
        bad.join("\n")
    );
    assert_eq!(
        run.outcomes.len(),
        joblet_conformance::cases::catalogue().len()
    );
    assert!(run.passed());
}

#[test]
fn cases_clean_up_everything_they_create() {
    let run = documented_run();
    let leaks = run.leaks();
    assert!(leaks.is_empty(), "leaks: {leaks:?}");
}
