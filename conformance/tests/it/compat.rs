//! The compatibility report (issue #17, item 3): `--contract v1` against a
//! node of v2.5.9 alone, and `--contract v2` against a node of v1.0.6 alone,
//! through the binary. The report says what it is, runs the client's
//! catalogue only, exits 0 once produced, carries `mode: compatibility` and
//! the per-behaviour verdicts in JSON and a `mode` property in JUnit; the
//! behaviours that do not work are pinned by golden files
//! (`conformance/tests/golden/compat-*.txt`).

use std::collections::BTreeMap;
use std::process::{Command, Output};

use joblet_conformance::report::JsonReport;
use joblet_testkit::contract::Api;

use crate::support::{repo, update_golden};

fn conformance(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_joblet-conformance"))
        .args(args)
        .env_remove("JOBLET_HOST")
        .env_remove("JOBLET_PORT")
        .env_remove("JOBLET_NODE")
        .env_remove("JOBLET_CONTRACT")
        .output()
        .expect("the binary runs")
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The `ID verdict` lines of a golden file, each with its comment.
fn golden(path: &std::path::Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (entry, comment) = l.split_once('#').unwrap_or((l, ""));
            (entry.trim().to_owned(), comment.trim().to_owned())
        })
        .collect()
}

/// Rewrites the golden file at `path` with `entries`, keeping the header and
/// the comments of the entries it already had.
fn rewrite(path: &std::path::Path, entries: &[String]) {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let comments = golden(path);
    let mut out: String = old
        .lines()
        .take_while(|l| l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    for e in entries {
        match comments.get(e).filter(|c| !c.is_empty()) {
            Some(c) => out.push_str(&format!("{e}  # {c}\n")),
            None => out.push_str(&format!("{e}\n")),
        }
    }
    std::fs::write(path, out).expect("write the golden file");
}

/// Runs the `client` catalogue against an embedded mock of `node` alone and
/// checks the report against `conformance/tests/golden/<golden>`.
fn compatibility_report(client: Api, node: Api, golden_file: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let json = dir.path().join("r.json");
    let junit = dir.path().join("r.xml");
    let out = conformance(&[
        "--contract",
        client.name(),
        "--embedded-api",
        node.name(),
        "--json",
        json.to_str().expect("utf-8"),
        "--junit",
        junit.to_str().expect("utf-8"),
    ]);
    // Breaks are the report's findings: exit code 0 once it is produced.
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let label = |api: Api| joblet_testkit::detect::label(api);
    let first = format!(
        "Compatibility report: a {} client against a {} node — not a certification\nnode: {} (from server_version proto tag {}",
        label(client),
        label(node),
        label(node),
        node.proto_tag()
    );
    assert!(stdout.starts_with(&first), "{}", text(&out));
    assert!(
        stdout.contains("\nCOMPATIBILITY REPORT: breaks and differences are findings"),
        "{}",
        text(&out)
    );

    let report = JsonReport::parse(&std::fs::read_to_string(&json).expect("the JSON report"))
        .expect("a report");
    assert_eq!(report.mode, "compatibility");
    let contract = report.run.contract.clone().expect("the client's contract");
    assert_eq!(
        (contract.detected.as_str(), contract.how.as_str()),
        (client.name(), "given by --contract")
    );
    let compat = report.run.compatibility.clone().expect("compatibility");
    assert_eq!(compat.client, client.name());
    assert_eq!(compat.node.detected, node.name());
    // Only the client's catalogue runs: no case of the other contract alone.
    assert!(!report.run.outcomes.is_empty());
    for o in &report.run.outcomes {
        assert!(
            o.contracts.iter().any(|c| c == client.name()),
            "{} ({:?}) is not a case of {}",
            o.case,
            o.contracts,
            client.name()
        );
    }
    // Every behaviour the cases cover has a verdict, and only those.
    let mut ids: Vec<&str> = report
        .run
        .outcomes
        .iter()
        .flat_map(|o| o.ids.iter().map(String::as_str))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut judged: Vec<&str> = compat.behaviours.iter().map(|b| b.id.as_str()).collect();
    judged.sort_unstable();
    assert_eq!(judged, ids);

    let xml = std::fs::read_to_string(&junit).expect("the JUnit report");
    assert!(
        xml.contains(&format!(
            "<property name=\"mode\" value=\"compatibility\"/><property name=\"node_contract\" value=\"{}\"/>",
            node.name()
        )),
        "{xml}"
    );

    let mut entries: Vec<String> = compat
        .behaviours
        .iter()
        .filter(|b| b.verdict != joblet_conformance::compat::Verdict::Works)
        .map(|b| {
            let verdict = serde_json::to_value(b.verdict).expect("a verdict");
            format!("{} {}", b.id, verdict.as_str().unwrap_or_default())
        })
        .collect();
    entries.sort();
    // A break is a finding of the node, never of the harness: no errors.
    assert!(
        !entries.iter().any(|e| e.ends_with(" error")),
        "{entries:?}\n{}",
        text(&out)
    );
    let path = repo().join("conformance/tests/golden").join(golden_file);
    if update_golden() {
        rewrite(&path, &entries);
    }
    let pinned: Vec<String> = golden(&path).into_keys().collect();
    assert_eq!(
        entries,
        pinned,
        "the behaviours that do not work differ from {} (UPDATE_GOLDEN=1 rewrites it):\n{stdout}",
        path.display()
    );
}

#[test]
fn compat_v1_client_on_a_v2_node_reports_what_breaks() {
    compatibility_report(Api::V1, Api::V2, "compat-v1-on-v2.txt");
}

#[test]
fn compat_v2_client_on_a_v1_node_reports_what_breaks() {
    compatibility_report(Api::V2, Api::V1, "compat-v2-on-v1.txt");
}

/// A given contract the node serves is no compatibility report: a node of
/// both contracts serves a v1 client.
#[test]
fn compat_a_served_contract_is_a_certification() {
    let dir = tempfile::tempdir().expect("temp dir");
    let json = dir.path().join("r.json");
    let out = conformance(&[
        "--contract",
        "v1",
        "--focus",
        "jobs.stop.*",
        "--json",
        json.to_str().expect("utf-8"),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .starts_with("contract: v1.0.6 (given by --contract)\n"),
        "{}",
        text(&out)
    );
    let report = JsonReport::parse(&std::fs::read_to_string(&json).expect("the JSON report"))
        .expect("a report");
    assert_eq!(report.mode, "certification");
    assert!(report.run.compatibility.is_none());
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("JSON");
    assert_eq!(
        value["outcomes"][0]["contracts"],
        serde_json::json!(["v1", "v2"])
    );
}
