//! Against the mock's `server-v2` profile speaking v2 alone (`--profile
//! server-v2 --api v2`, the faithful pairing), exactly the cases that declare
//! a quirk of that profile fail: a `quirks_v2` entry, or a carried-over quirk
//! of `quirks` (tagged `[v1,v2]` in docs/behaviours.md). The v1-only cases
//! are skipped; the golden list says which fail.

use std::collections::BTreeSet;

use joblet_conformance::State;
use joblet_conformance::cases::{by_name, catalogue, needs_v1};
use joblet_conformance::runner::NOT_IN_V2;
use joblet_mock::{MockConfig, Profile};
use joblet_testkit::contract::Api;

use crate::contract::behaviour_tags;
use crate::support::{repo, run_catalogue_with, update_golden};

const GOLDEN: &str = "conformance/tests/golden/server-v2-failures.txt";

fn render(cases: &BTreeSet<String>, carried: &dyn Fn(&&str) -> bool) -> String {
    let mut out = String::from(
        "# Cases that fail against `joblet-mock --profile server-v2 --api v2`, with the quirks they declare.\n\
         # Checked by conformance/tests/it/server_v2.rs; rewrite with UPDATE_GOLDEN=1 and review the diff.\n",
    );
    for name in cases {
        let quirks = by_name(name)
            .map(|c| {
                c.quirks
                    .iter()
                    .filter(|q| carried(q))
                    .chain(c.quirks_v2)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            })
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
fn exactly_the_quirk_cases_fail_against_server_v2() {
    let run = run_catalogue_with(MockConfig {
        api: Api::V2,
        profile: Profile::ServerV2,
        ..MockConfig::default()
    });
    let no_verdict: Vec<String> = run
        .outcomes
        .iter()
        .filter(|o| {
            o.state == State::Error
                || (o.state == State::Skip && o.message.as_deref() != Some(NOT_IN_V2))
        })
        .map(|o| format!("{} {}: {:?}", o.state, o.case, o.message))
        .collect();
    assert!(
        no_verdict.is_empty(),
        "cases with no verdict against server-v2:\n{}",
        no_verdict.join("\n")
    );
    let failed: BTreeSet<String> = run
        .outcomes
        .iter()
        .filter(|o| o.state == State::Fail)
        .map(|o| o.case.clone())
        .collect();
    let tags = behaviour_tags();
    let carried = |q: &&str| tags.get(*q).map(String::as_str) == Some("v1,v2");
    let declared: BTreeSet<String> = catalogue()
        .iter()
        .filter(|c| !needs_v1(c))
        .filter(|c| !c.quirks_v2.is_empty() || c.quirks.iter().any(&carried))
        .map(|c| c.name.to_owned())
        .collect();
    let path = repo().join(GOLDEN);
    if update_golden() {
        std::fs::write(&path, render(&failed, &carried)).expect("write the golden list");
    }
    let golden = parse(
        &std::fs::read_to_string(&path)
            .expect("the golden list exists (UPDATE_GOLDEN=1 writes it)"),
    );
    let unexpected: Vec<_> = failed.difference(&golden).collect();
    let missing: Vec<_> = golden.difference(&failed).collect();
    assert!(
        unexpected.is_empty() && missing.is_empty(),
        "server-v2 failures differ from {GOLDEN}:\n  failed but not in the list: {unexpected:?}\n  listed but passed: {missing:?}\n{}",
        run.outcomes
            .iter()
            .filter(|o| unexpected.contains(&&o.case))
            .map(|o| format!("  {}: {:?}", o.case, o.message))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(
        golden, declared,
        "the golden list must be exactly the v2 cases that declare a quirk of server-v2"
    );
    // Which quirks of the profile a failing case shows.
    let shown: BTreeSet<&str> = catalogue()
        .iter()
        .filter(|c| failed.contains(c.name))
        .flat_map(|c| c.quirks.iter().filter(|q| carried(q)).chain(c.quirks_v2))
        .copied()
        .collect();
    for q in [
        "QUIRK-1", "QUIRK-2", "QUIRK-8", "QUIRK-11", "QUIRK-14", "QUIRK-15", "QUIRK-17",
        "QUIRK-18", "QUIRK-19", "QUIRK-20", "QUIRK-21",
    ] {
        assert!(shown.contains(q), "no failing case declares {q}: {shown:?}");
    }
    eprintln!(
        "checked: {} cases against server-v2 --api v2, {} failed, all declaring a quirk of it, equal to {GOLDEN}; quirks shown: {shown:?}",
        run.outcomes.len(),
        failed.len()
    );
}
