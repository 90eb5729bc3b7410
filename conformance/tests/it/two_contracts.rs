//! One catalogue, two contracts (issue #17): against an embedded mock that
//! speaks v2.5.9 alone every case of v2 passes and every v1-only case is
//! skipped with its reason; against v1.0.6 alone the reverse; against a node
//! of both every case passes. The role cases run over mutual TLS (the
//! embedded mock's viewer and no-role identities).

use std::sync::OnceLock;

use joblet_conformance::cases::{by_name, catalogue, needs_v1, needs_v2};
use joblet_conformance::embedded::Embedded;
use joblet_conformance::runner::{self, NOT_IN_V1, NOT_IN_V2, RunConfig, Selection};
use joblet_conformance::{Case, RunResult, State};
use joblet_mock::MockConfig;
use joblet_testkit::auth::RoleModel;
use joblet_testkit::contract::Api;

use crate::support::{documented_run, run_catalogue_with};

/// The catalogue against an embedded mock of `api` (once per test binary).
fn run_of(api: Api) -> &'static RunResult {
    static V1: OnceLock<RunResult> = OnceLock::new();
    static V2: OnceLock<RunResult> = OnceLock::new();
    let cell = match api {
        Api::V1 => &V1,
        Api::V2 => &V2,
        Api::Both => return documented_run(),
    };
    cell.get_or_init(|| {
        run_catalogue_with(MockConfig {
            api,
            ..MockConfig::default()
        })
    })
}

/// AUTH-8's case, which takes the four-role branch on a node run with four
/// roles.
const FOUR_ROLES: &str = "auth.roles.four_role_model_is_an_option";

/// The outcomes that differ from `expect` (`None`: Pass; `Some(reason)`:
/// Skip with a message that starts with `reason`).
fn wrong(run: &RunResult, expect: impl Fn(&Case) -> Option<&'static str>) -> Vec<String> {
    run.outcomes
        .iter()
        .filter(|o| {
            let Some(case) = by_name(&o.case) else {
                return true;
            };
            match expect(case) {
                None => o.state != State::Pass,
                Some(reason) => {
                    o.state != State::Skip
                        || !o.message.as_deref().unwrap_or_default().starts_with(reason)
                }
            }
        })
        .map(|o| format!("{} {:?}: {:?}", o.case, o.state, o.message))
        .collect()
}

#[test]
fn against_v2_alone_every_v2_case_passes_and_v1_cases_are_skipped() {
    let run = run_of(Api::V2);
    assert_eq!(
        run.contract.as_ref().map(|c| c.detected.as_str()),
        Some("v2")
    );
    let bad = wrong(run, |c| needs_v1(c).then_some(NOT_IN_V2));
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    for o in run.outcomes.iter().filter(|o| o.state == State::Skip) {
        if o.message.as_deref() == Some(NOT_IN_V2) {
            assert!(
                o.rpcs.is_empty(),
                "{} skipped but called {:?}",
                o.case,
                o.rpcs
            );
        }
    }
    let v2 = catalogue().iter().filter(|c| !needs_v1(c)).count();
    let passed = run
        .outcomes
        .iter()
        .filter(|o| o.state == State::Pass)
        .count();
    eprintln!(
        "against --api v2: {passed} of {v2} v2 cases passed, {} cases skipped",
        run.outcomes.len() - passed
    );
}

#[test]
fn against_v1_alone_every_v1_case_passes_and_v2_cases_are_skipped() {
    let run = run_of(Api::V1);
    assert_eq!(
        run.contract.as_ref().map(|c| c.detected.as_str()),
        Some("v1")
    );
    let bad = wrong(run, |c| needs_v2(c).then_some(NOT_IN_V1));
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn against_both_every_case_passes() {
    let bad = wrong(documented_run(), |_| None);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn against_a_four_role_node_the_four_role_case_passes() {
    let result = std::thread::spawn(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        rt.block_on(async {
            let embedded = Embedded::start(MockConfig {
                api: Api::V2,
                roles: RoleModel::Four,
                ..MockConfig::default()
            })
            .await
            .expect("the embedded mock starts");
            let selection = Selection {
                focus: vec![FOUR_ROLES.into()],
                ..Default::default()
            };
            let cases = selection.apply(catalogue());
            let result = runner::run(&cases, RunConfig::new(embedded.targets.clone())).await;
            embedded.shutdown().await;
            result
        })
    })
    .join()
    .expect("the run");
    assert_eq!(result.outcomes.len(), 1);
    let o = &result.outcomes[0];
    assert_eq!(o.state, State::Pass, "{:?}", o.message);
}

/// `--embedded-api` chooses the contract of the embedded mock: v2 alone
/// skips the v1 cases and runs the v2 ones, v1 alone the reverse.
#[test]
fn the_binary_certifies_each_contract_of_its_embedded_mock() {
    for (api, skipped, passed) in [
        (
            "v2",
            "workflows.list.include_completed",
            "jobs.timeout.bad_values_are_invalid_argument",
        ),
        (
            "v1",
            "jobs.timeout.bad_values_are_invalid_argument",
            "workflows.list.include_completed",
        ),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let json = dir.path().join("r.json");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_joblet-conformance"))
            .args([
                "--embedded-api",
                api,
                "--focus",
                skipped,
                "--focus",
                passed,
                "--json",
                json.to_str().expect("utf-8"),
            ])
            .env_remove("JOBLET_HOST")
            .env_remove("JOBLET_NODE")
            .env_remove("JOBLET_CONTRACT")
            .output()
            .expect("the binary runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "--embedded-api {api}: {stderr}");
        let report = joblet_conformance::report::JsonReport::parse(
            &std::fs::read_to_string(&json).expect("the report"),
        )
        .expect("a report");
        assert_eq!(report.run.contract.expect("the contract").detected, api);
        let state = |name: &str| {
            report
                .run
                .outcomes
                .iter()
                .find(|o| o.case == name)
                .map(|o| (o.state, o.message.clone()))
        };
        let reason = if api == "v2" { NOT_IN_V2 } else { NOT_IN_V1 };
        assert_eq!(state(skipped), Some((State::Skip, Some(reason.to_owned()))));
        assert_eq!(state(passed).map(|s| s.0), Some(State::Pass), "{api}");
    }
}
