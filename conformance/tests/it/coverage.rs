//! Coverage: every behaviour ID of `docs/behaviours.md` has a case, every RPC
//! of the wire contract is called by a case, and the table of cases per
//! behaviour at the end of `docs/behaviours.md` is current.

use std::collections::{BTreeMap, BTreeSet};

use joblet_conformance::cases::catalogue;
use joblet_testkit::contract::Api;
use prost::Message;

use crate::support::{documented_run, repo, update_golden};

/// The behaviour IDs of `docs/behaviours.md`, in document order: the `- `
/// items and the v2 `* ` items, but for the v2 QUIRKs (`* QUIRK-n [v2]`:
/// quirks of the `server-v2` profile, covered by its golden list).
fn behaviour_ids() -> Vec<String> {
    items(true)
}

/// The IDs of the v2 `* ` items (the behaviours only v2 has), QUIRKs left out.
fn v2_ids() -> Vec<String> {
    let v1: Vec<String> = items(false);
    items(true)
        .into_iter()
        .filter(|id| !v1.contains(id))
        .collect()
}

/// The IDs of the `- ` items, and of the `* ` items but QUIRKs when `v2`.
fn items(v2: bool) -> Vec<String> {
    let text =
        std::fs::read_to_string(repo().join("docs/behaviours.md")).expect("docs/behaviours.md");
    let mut ids = Vec::new();
    for line in text.lines() {
        let rest = match (line.strip_prefix("- "), line.strip_prefix("* ")) {
            (Some(rest), _) => rest,
            (None, Some(rest)) if v2 && !rest.starts_with("QUIRK-") => rest,
            _ => continue,
        };
        let id = rest.split_whitespace().next().unwrap_or_default();
        let parts: Vec<&str> = id.split('-').collect();
        let well_formed = parts.len() >= 2
            && parts[..parts.len() - 1]
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_uppercase()))
            && parts[parts.len() - 1].parse::<u32>().is_ok();
        if well_formed && !ids.contains(&id.to_owned()) {
            ids.push(id.to_owned());
        }
    }
    ids
}

#[test]
fn every_behaviour_id_has_a_case() {
    let ids = behaviour_ids();
    assert!(
        ids.len() >= 80,
        "only {} IDs read from docs/behaviours.md",
        ids.len()
    );
    let mut missing = Vec::new();
    for id in &ids {
        let covered = if id.starts_with("QUIRK-") {
            catalogue().iter().any(|c| c.quirks.contains(&id.as_str()))
        } else {
            catalogue().iter().any(|c| c.covers(id))
        };
        if !covered {
            missing.push(id.clone());
        }
    }
    assert!(missing.is_empty(), "behaviours without a case: {missing:?}");
    // And no case names an ID the catalogue does not have.
    for c in catalogue() {
        for id in c.ids.iter().chain(c.quirks) {
            assert!(
                ids.iter().any(|i| i == id),
                "{} names {id}, which docs/behaviours.md does not define",
                c.name
            );
        }
    }
    eprintln!(
        "checked: {} behaviour IDs of docs/behaviours.md, each covered by a case",
        ids.len()
    );
}

#[test]
fn every_rpc_of_the_contract_is_called_by_a_case() {
    let fds = prost_types::FileDescriptorSet::decode(
        &include_bytes!("../../../fixtures/wire/joblet-v1.fds.pb")[..],
    )
    .expect("the wire descriptor");
    let mut rpcs = BTreeSet::new();
    for file in &fds.file {
        for service in &file.service {
            for method in &service.method {
                rpcs.insert(format!(
                    "/{}.{}/{}",
                    file.package(),
                    service.name(),
                    method.name()
                ));
            }
        }
    }
    assert!(rpcs.len() >= 29, "{rpcs:?}");
    let called: BTreeSet<String> = documented_run()
        .outcomes
        .iter()
        .flat_map(|o| o.rpcs.iter().cloned())
        .collect();
    let missing: Vec<_> = rpcs.difference(&called).collect();
    assert!(
        missing.is_empty(),
        "RPCs of the contract no case calls: {missing:?}"
    );
    eprintln!(
        "checked: {} RPCs of fixtures/wire/joblet-v1.fds.pb, each called by a case",
        rpcs.len()
    );
}

/// Every v2 behaviour (`* ID [v2]`) is covered by a case that holds in v2,
/// and every method of contract v2.5.9 is called by some case.
#[test]
fn every_v2_behaviour_has_a_v2_case_and_every_v2_rpc_is_called() {
    let ids = v2_ids();
    assert!(ids.len() >= 29, "only {} v2 IDs: {ids:?}", ids.len());
    let missing: Vec<&String> = ids
        .iter()
        .filter(|id| {
            !catalogue()
                .iter()
                .any(|c| c.covers(id) && c.holds_in(Api::V2))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "v2 behaviours without a v2 case: {missing:?}"
    );
    let fds = prost_types::FileDescriptorSet::decode(
        &include_bytes!("../../../fixtures/wire/joblet-v2.5.9.fds.pb")[..],
    )
    .expect("the v2 wire descriptor");
    let mut rpcs = BTreeSet::new();
    for file in &fds.file {
        for service in &file.service {
            for method in &service.method {
                rpcs.insert(format!(
                    "/{}.{}/{}",
                    file.package(),
                    service.name(),
                    method.name()
                ));
            }
        }
    }
    assert_eq!(rpcs.len(), 26, "{rpcs:?}");
    let called: BTreeSet<String> = documented_run()
        .outcomes
        .iter()
        .filter(|o| {
            joblet_conformance::cases::by_name(&o.case).is_some_and(|c| c.holds_in(Api::V2))
        })
        .flat_map(|o| o.rpcs.iter().cloned())
        .collect();
    let missing: Vec<_> = rpcs.difference(&called).collect();
    assert!(
        missing.is_empty(),
        "RPCs of contract v2.5.9 no v2 case calls: {missing:?}"
    );
    eprintln!(
        "checked: {} v2 behaviour IDs, each covered by a v2 case; {} RPCs of fixtures/wire/joblet-v2.5.9.fds.pb, each called by a v2 case",
        ids.len(),
        rpcs.len()
    );
}

const BEGIN: &str =
    "<!-- cases:begin (generated by conformance/tests/it/coverage.rs; UPDATE_GOLDEN=1) -->";
const END: &str = "<!-- cases:end -->";

#[test]
fn the_table_of_cases_per_behaviour_is_current() {
    let mut by_id: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for c in catalogue() {
        for id in c.ids {
            by_id.entry((*id).to_owned()).or_default().push(c.name);
        }
        for q in c.quirks {
            by_id.entry((*q).to_owned()).or_default().push(c.name);
        }
    }
    let mut table = String::from(
        "## Cases per behaviour\n\nFor QUIRK IDs: the cases that fail because of the quirk.\n\n| ID | cases |\n|---|---|\n",
    );
    for id in behaviour_ids() {
        let cases = by_id
            .get(&id)
            .map(|v| {
                v.iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join("<br>")
            })
            .unwrap_or_default();
        table.push_str(&format!("| {id} | {cases} |\n"));
    }
    let path = repo().join("docs/behaviours.md");
    let text = std::fs::read_to_string(&path).expect("docs/behaviours.md");
    let head = text
        .split(BEGIN)
        .next()
        .unwrap_or_default()
        .trim_end()
        .to_owned();
    let want = format!("{head}\n\n{BEGIN}\n{table}{END}\n");
    if update_golden() {
        std::fs::write(&path, &want).expect("rewrite docs/behaviours.md");
    }
    assert!(
        std::fs::read_to_string(&path).expect("docs/behaviours.md") == want,
        "the table of cases in docs/behaviours.md is out of date: run UPDATE_GOLDEN=1 cargo test -p joblet-conformance --test it coverage"
    );
}
