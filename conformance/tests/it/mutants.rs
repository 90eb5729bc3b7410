//! Proof that the suite can fail: every mutant of the mock (each breaks one
//! documented behaviour) is caught by at least one case whose IDs include the
//! mutated behaviour: the mutants of behaviours that hold on a node that
//! speaks v1 against a mock of both contracts, and the v2 mutants against a
//! mock that speaks v2 alone.

use joblet_conformance::cases::catalogue;
use joblet_conformance::mutants::{
    MutantsConfig, groups, matrix, run_groups, run_mutants, v1_mutants, v2_mutants,
};
use joblet_mock::MockConfig;
use joblet_testkit::auth::RoleModel;
use joblet_testkit::contract::Api;

#[test]
fn every_mutant_is_caught_by_a_case_covering_its_behaviour() {
    let mutants = v1_mutants();
    let count = mutants.len();
    assert!(count >= 71, "{count} v1 mutants");
    let rows = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        rt.block_on(async {
            let config = MutantsConfig {
                covering_only: true,
                parallel_mutants: 8,
                ..MutantsConfig::default()
            };
            run_mutants(catalogue(), &mutants, &config, &|_| {}).await
        })
    })
    .join()
    .expect("the mutants run");
    assert_eq!(rows.len(), count);
    let survivors: Vec<String> = rows
        .iter()
        .filter(|r| r.caught_by_covering.is_empty())
        .map(|r| {
            format!(
                "{} ({}): caught by {:?}, errors {:?}, start {:?}",
                r.mutant, r.behaviour, r.caught_by, r.errors, r.start_error
            )
        })
        .collect();
    assert!(
        survivors.is_empty(),
        "mutants no covering case caught:\n{}\n\n{}",
        survivors.join("\n"),
        matrix(&rows)
    );
    let text = matrix(&rows);
    assert!(
        text.trim_end()
            .ends_with(&format!("killed {count}/{count}")),
        "{text}"
    );
}

/// The v2 mutants (one per `[v2]` behaviour) against a mock that speaks
/// v2.5.9 alone (AUTH-8's with four roles), grouped as `joblet-conformance
/// mutants` groups them: each is caught by a v2 case covering its behaviour,
/// `reader-unknown` (AUTH-6) by the case of the reader identity.
#[test]
fn every_v2_mutant_is_caught_against_a_v2_node() {
    let mutants = v2_mutants();
    let count = mutants.len();
    assert!(count >= 29, "{count} v2 mutants");
    let rows = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        rt.block_on(async {
            let four = mutants.iter().filter(|m| m.behaviour() == "AUTH-8").count();
            assert!(four >= 1, "AUTH-8 has mutants");
            let groups = groups(&mutants, &MockConfig::default());
            // AUTH-8's mutants break the four-role model: their mock runs it.
            let shapes: Vec<(Api, Api, RoleModel, usize)> = groups
                .iter()
                .map(|g| (g.contract, g.base.api, g.base.roles, g.mutants.len()))
                .collect();
            assert_eq!(
                shapes,
                [
                    (Api::V2, Api::V2, RoleModel::Two, count - four),
                    (Api::V2, Api::V2, RoleModel::Four, four)
                ],
                "{groups:?}"
            );
            let config = MutantsConfig {
                covering_only: true,
                parallel_mutants: 8,
                ..MutantsConfig::default()
            };
            run_groups(catalogue(), &groups, &config, &|_| {}).await
        })
    })
    .join()
    .expect("the v2 mutants run");
    assert_eq!(rows.len(), count);
    let survivors: Vec<String> = rows
        .iter()
        .filter(|r| !r.killed_by_covering())
        .map(|r| {
            format!(
                "{} ({}): caught by {:?}, errors {:?}, start {:?}",
                r.mutant, r.behaviour, r.caught_by, r.errors, r.start_error
            )
        })
        .collect();
    let text = matrix(&rows);
    assert!(
        survivors.is_empty(),
        "v2 mutants no covering case caught:\n{}\n\n{text}",
        survivors.join("\n"),
    );
    let reader = rows
        .iter()
        .find(|r| r.mutant == "reader-unknown")
        .expect("the AUTH-6 mutant");
    assert_eq!(
        reader.caught_by_covering,
        ["auth.roles.v2_reader_certificate_is_viewer"],
        "{text}"
    );
    assert!(rows.iter().all(|r| r.contract == "v2"), "{text}");
    assert!(
        text.contains(&format!("\ncontract v2: killed {count}/{count}\n"))
            && text
                .trim_end()
                .ends_with(&format!("killed {count}/{count}")),
        "{text}"
    );
}

/// `joblet-conformance mutants` runs each mutant against the mock of its
/// contract (v1 ones on a mock of both, v2 ones on v2 alone, AUTH-8's with
/// four roles) and lists each with the cases that caught it, per contract;
/// `--contract` restricts.
#[test]
fn the_mutants_command_covers_both_contracts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let json = dir.path().join("kill.json");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_joblet-conformance"))
            .arg("mutants")
            .args(args)
            .output()
            .expect("the binary runs")
    };
    let out = run(&[
        "--mutant",
        "stop-finished-ok,reader-unknown,four-role-method-names",
        "--covering-only",
        "--json",
        json.to_str().expect("utf-8"),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let row = |name: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(&format!("{name} ")))
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .unwrap_or_else(|| panic!("no row for {name}:\n{stdout}"))
    };
    assert_eq!(
        row("stop-finished-ok")[..3],
        ["stop-finished-ok", "v1", "JOB-STOP-3"],
        "{stdout}"
    );
    assert_eq!(
        row("reader-unknown"),
        [
            "reader-unknown",
            "v2",
            "AUTH-6",
            "1",
            "auth.roles.v2_reader_certificate_is_viewer"
        ],
        "{stdout}"
    );
    assert_eq!(
        row("four-role-method-names")[..3],
        ["four-role-method-names", "v2", "AUTH-8"]
    );
    assert!(
        stdout.ends_with("contract v1: killed 1/1\ncontract v2: killed 2/2\nkilled 3/3\n"),
        "{stdout}"
    );
    let rows: Vec<joblet_conformance::mutants::MutantRow> =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("the JSON")).expect("rows");
    let contracts: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.mutant.as_str(), r.contract.as_str()))
        .collect();
    assert_eq!(
        contracts,
        [
            ("stop-finished-ok", "v1"),
            ("reader-unknown", "v2"),
            ("four-role-method-names", "v2")
        ]
    );
    // --contract v1 keeps the v1 mutants only: none of these two.
    let out = run(&[
        "--contract",
        "v1",
        "--mutant",
        "reader-unknown,four-role-method-names",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--mutant: none of [\"reader-unknown\", \"four-role-method-names\"] is a mutant of contract v1"),
        "{stderr}"
    );
}
