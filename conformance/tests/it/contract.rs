//! Which contract the target speaks (issue #17, items 1 and 6): detection
//! against the embedded mock of each `--api` (from `server_version`, and from
//! the probes when GetSystemStatus does not tell), the run certified against
//! it (v1-only cases skipped against v2 alone), `--contract`, and replay
//! refusing a transcript of the other contract unless `--any-contract`.

use std::process::{Command, Output};

use joblet_conformance::State;
use joblet_conformance::cases::{catalogue, needs_v1, needs_v2};
use joblet_conformance::embedded::Embedded;
use joblet_conformance::outcome::RunResult;
use joblet_conformance::report::JsonReport;
use joblet_conformance::runner::{self, NOT_IN_V2, RunConfig, Selection};
use joblet_mock::{MockConfig, MockServer};
use joblet_testkit::contract::{Api, V1_ONLY, V2_ONLY};
use joblet_testkit::detect::{self, Detection};

use crate::support::{documented_run, repo};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Detects the contract of an embedded mock of `api`, with `faults` (rules
/// of `--fault`) on its default session.
fn detect_mock(api: Api, faults: &[&str]) -> Detection {
    let rt = runtime();
    rt.block_on(async {
        let mock = MockServer::builder()
            .config(MockConfig {
                api,
                ..MockConfig::default()
            })
            .start()
            .await
            .expect("the mock starts");
        let rules = faults
            .iter()
            .map(|f| f.parse().expect("a fault rule"))
            .collect();
        mock.set_faults("", rules).expect("the faults are set");
        let channel = joblet_testkit::Target::plaintext(mock.addr().to_string())
            .connect()
            .await
            .expect("connects");
        let d = detect::detect(channel).await;
        let _ = mock.shutdown().await;
        d
    })
}

#[test]
fn the_server_version_tells_the_contract_and_a_probe_whether_v1_is_served_too() {
    let cases = [
        (Api::V1, "from server_version proto tag v1.0.6"),
        (
            Api::V2,
            "from server_version proto tag v2.5.9; probe: ListWorkflows UNIMPLEMENTED (unknown method)",
        ),
        (
            Api::Both,
            "from server_version proto tag v2.5.9; probe: ListWorkflows answered",
        ),
    ];
    for (api, how) in cases {
        let d = detect_mock(api, &[]);
        assert_eq!((d.contract, d.how.as_str()), (api, how), "--api {api:?}");
        let version = d.server_version.expect("the mock reports its version");
        assert_eq!(version.proto_tag, api.proto_tag());
    }
}

#[test]
fn without_a_server_version_the_probes_decide() {
    let failed = "GetSystemStatus failed (UNAVAILABLE fault injected)";
    let cases = [
        (
            Api::V1,
            "ListWorkflows answered, GetJobMetrics UNIMPLEMENTED (unknown method)",
        ),
        (
            Api::V2,
            "ListWorkflows UNIMPLEMENTED (unknown method), GetJobMetrics answered",
        ),
        (Api::Both, "ListWorkflows answered, GetJobMetrics answered"),
    ];
    for (api, probes) in cases {
        let d = detect_mock(api, &["GetSystemStatus:fail=UNAVAILABLE/fault injected"]);
        assert_eq!(d.contract, api, "--api {api:?}: {}", d.how);
        assert_eq!(
            d.how,
            format!("{failed}; probes: {probes}"),
            "--api {api:?}"
        );
        assert!(d.server_version.is_none());
    }
}

/// Runs the cases `focus` selects against an embedded mock of `api`, the
/// contract given when `given` is.
fn run_against(api: Api, focus: &[&str], given: Option<Api>) -> RunResult {
    let focus: Vec<String> = focus.iter().map(|f| (*f).to_owned()).collect();
    std::thread::spawn(move || {
        runtime().block_on(async move {
            let embedded = Embedded::start(MockConfig {
                api,
                ..MockConfig::default()
            })
            .await
            .expect("the embedded mock starts");
            let mut config = RunConfig::new(embedded.targets.clone());
            config.options.allow_delete_all = true;
            config.options.allow_remote_installs = true;
            config.contract = given.map(|c| Detection::given(c, "--contract"));
            let selection = Selection {
                focus,
                ..Default::default()
            };
            let cases = selection.apply(catalogue());
            let result = runner::run(&cases, config).await;
            embedded.shutdown().await;
            result
        })
    })
    .join()
    .expect("the run")
}

const MIXED: &[&str] = &[
    "workflows.*",
    "runtimes.spec.*",
    "runtimes.install.empty_requests_are_invalid_argument",
    "networks.create.*",
];

#[test]
fn against_v2_alone_the_v1_cases_are_skipped_and_the_rest_run() {
    let result = run_against(Api::V2, MIXED, None);
    let contract = result.contract.clone().expect("a detected contract");
    assert_eq!(contract.detected, "v2");
    assert!(
        contract
            .how
            .starts_with("from server_version proto tag v2.5.9")
    );
    assert!(
        result
            .outcomes
            .iter()
            .any(|o| o.case.starts_with("networks."))
    );
    for o in &result.outcomes {
        let case = joblet_conformance::cases::by_name(&o.case).expect("a case");
        if needs_v1(case) {
            assert_eq!(o.state, State::Skip, "{}", o.case);
            assert_eq!(o.message.as_deref(), Some(NOT_IN_V2), "{}", o.case);
            assert!(o.rpcs.is_empty(), "{}: {:?}", o.case, o.rpcs);
        } else {
            assert_eq!(o.state, State::Pass, "{}: {:?}", o.case, o.message);
        }
    }
    let human = joblet_conformance::report::human(&result, false);
    assert!(
        human.starts_with("contract: v2.5.9 (from server_version proto tag v2.5.9; probe: ListWorkflows UNIMPLEMENTED (unknown method))\n"),
        "{human}"
    );
}

#[test]
fn against_v1_or_both_every_case_runs() {
    for api in [Api::V1, Api::Both] {
        let result = run_against(api, MIXED, None);
        assert_eq!(
            result.contract.as_ref().map(|c| c.detected.as_str()),
            Some(api.name())
        );
        for o in &result.outcomes {
            assert_eq!(
                o.state,
                State::Pass,
                "--api {api:?} {}: {:?}",
                o.case,
                o.message
            );
        }
    }
}

#[test]
fn a_given_contract_overrides_the_detected_one() {
    let result = run_against(Api::Both, &["workflows.list.*"], Some(Api::V2));
    let contract = result.contract.expect("the given contract");
    assert_eq!(
        (contract.detected.as_str(), contract.how.as_str()),
        ("v2", "given by --contract")
    );
    assert!(
        result
            .outcomes
            .iter()
            .all(|o| o.state == State::Skip && o.message.as_deref() == Some(NOT_IN_V2))
    );
}

/// The contract tags of `docs/behaviours.md` (`- ID [v1]`, `* ID [v2]`,
/// `[v1,v2]`), by ID.
pub(crate) fn behaviour_tags() -> std::collections::BTreeMap<String, String> {
    let text =
        std::fs::read_to_string(repo().join("docs/behaviours.md")).expect("docs/behaviours.md");
    let mut tags = std::collections::BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("- ").or_else(|| line.strip_prefix("* ")) else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let (Some(id), Some(tag)) = (words.next(), words.next()) else {
            continue;
        };
        if tag.starts_with("[v") {
            tags.insert(id.to_owned(), tag.trim_matches(['[', ']']).to_owned());
        }
    }
    tags
}

/// The cases declared for one contract alone are exactly those that call a
/// method only that contract has against a node serving both, or that
/// certify behaviours of that contract alone (an ID tagged `[v1]` and none
/// tagged `[v2]`, or the reverse).
#[test]
fn the_v1_only_cases_are_exactly_those_that_call_v1_only_methods() {
    let run = documented_run();
    assert_eq!(
        run.contract.as_ref().map(|c| c.detected.as_str()),
        Some("both")
    );
    let tags = behaviour_tags();
    let mut wrong = Vec::new();
    for (only, methods, tag, needs) in [
        (
            "v1",
            &V1_ONLY[..],
            "v1",
            needs_v1 as fn(&joblet_conformance::Case) -> bool,
        ),
        ("v2", &V2_ONLY[..], "v2", needs_v2),
    ] {
        let paths: Vec<String> = methods
            .iter()
            .map(|(s, m)| format!("/joblet.{s}/{m}"))
            .collect();
        for o in &run.outcomes {
            let case = joblet_conformance::cases::by_name(&o.case).expect("a case");
            let calls: Vec<&String> = o.rpcs.iter().filter(|r| paths.contains(r)).collect();
            let tag_of = |id: &&str| tags.get(*id).map(String::as_str);
            let other = if tag == "v1" { "v2" } else { "v1" };
            let tagged = case.ids.iter().any(|id| tag_of(id) == Some(tag))
                && !case.ids.iter().any(|id| tag_of(id) == Some(other));
            if needs(case) != (!calls.is_empty() || tagged) {
                wrong.push(format!(
                    "{}: declared {only}-only {}, calls {calls:?}, IDs {:?} of [{tag}] alone {tagged}",
                    o.case,
                    needs(case),
                    case.ids
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

fn conformance(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_joblet-conformance"))
        .args(args)
        .env_remove("JOBLET_HOST")
        .env_remove("JOBLET_PORT")
        .env_remove("JOBLET_NODE")
        .env_remove("JOBLET_CONTRACT")
        .env_remove("JOBLET_CA_CERT_PATH")
        .env_remove("JOBLET_CLIENT_CERT_PATH")
        .env_remove("JOBLET_CLIENT_KEY_PATH")
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

#[test]
fn the_binary_reports_the_contract_and_takes_contract_from_the_flag() {
    let dir = tempfile::tempdir().expect("temp dir");
    let json = dir.path().join("r.json");
    let junit = dir.path().join("r.xml");
    let json_s = json.to_str().expect("utf-8");
    let junit_s = junit.to_str().expect("utf-8");
    // Detected: the embedded mock serves both.
    let out = conformance(&[
        "--focus",
        "workflows.list.*",
        "--json",
        json_s,
        "--junit",
        junit_s,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with(
            "contract: both (from server_version proto tag v2.5.9; probe: ListWorkflows answered)\n"
        ),
        "{}",
        text(&out)
    );
    let report =
        JsonReport::parse(&std::fs::read_to_string(&json).expect("json")).expect("a report");
    assert_eq!(report.run.contract.expect("contract").detected, "both");
    let xml = std::fs::read_to_string(&junit).expect("junit");
    assert!(
        xml.contains("<property name=\"contract\" value=\"both\"/>"),
        "{xml}"
    );
    // Given: --contract v2 skips the workflow cases.
    let out = conformance(&[
        "--focus",
        "workflows.list.*",
        "--contract",
        "v2",
        "--json",
        json_s,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .starts_with("contract: v2.5.9 (given by --contract)\n"),
        "{}",
        text(&out)
    );
    let report =
        JsonReport::parse(&std::fs::read_to_string(&json).expect("json")).expect("a report");
    let contract = report.run.contract.expect("contract");
    assert_eq!(
        (contract.detected.as_str(), contract.how.as_str()),
        ("v2", "given by --contract")
    );
    assert!(report.run.outcomes.iter().all(|o| o.state == State::Skip));
}

/// The sessions of `fixtures/transcripts/networks.jsonl` (recorded without
/// a contract: v1) that call NetworkService only (its messages are the same
/// in both contracts), every line saying `contract`, written under `dir`.
fn networks_transcript(dir: &std::path::Path, contract: &str) -> String {
    let text = std::fs::read_to_string(repo().join("fixtures/transcripts/networks.jsonl"))
        .expect("the fixture");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let other: std::collections::BTreeSet<String> = lines
        .iter()
        .filter(|v| v["service"] != "joblet.NetworkService")
        .map(|v| v["session"].to_string())
        .collect();
    let mut out = String::new();
    for mut value in lines {
        if other.contains(&value["session"].to_string()) {
            continue;
        }
        value["contract"] = contract.into();
        out.push_str(&value.to_string());
        out.push('\n');
    }
    assert!(out.lines().count() >= 3, "{out}");
    let path = dir.join(format!("networks-{contract}.jsonl"));
    std::fs::write(&path, out).expect("written");
    path.to_str().expect("utf-8").to_owned()
}

#[test]
fn replay_refuses_a_transcript_of_the_other_contract_unless_told() {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let v2 = networks_transcript(dir.path(), "v2");
    let v1 = networks_transcript(dir.path(), "v1");
    let start = |api| {
        rt.block_on(
            MockServer::builder()
                .config(MockConfig {
                    api,
                    ..MockConfig::default()
                })
                .start(),
        )
        .expect("the mock starts")
    };
    let node_v1 = start(Api::V1);
    let addr = node_v1.addr().to_string();
    let out = conformance(&["replay", &v2, "--target", &addr]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "networks-v2.jsonl was recorded against a node of contract v2.5.9, and the target speaks v1.0.6 (from server_version proto tag v1.0.6)"
        ) && stderr.contains("--any-contract"),
        "{}",
        text(&out)
    );
    // Told to: replayed.
    let out = conformance(&["replay", &v2, "--target", &addr, "--any-contract"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .starts_with("contract: v1.0.6 (from server_version proto tag v1.0.6)\n"),
        "{}",
        text(&out)
    );
    // The same contract: replayed.
    let out = conformance(&["replay", &v1, "--target", &addr]);
    assert!(out.status.success(), "{}", text(&out));
    // A contract given by the flag decides too.
    let out = conformance(&["replay", &v1, "--target", &addr, "--contract", "v2"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("the target speaks v2.5.9 (given by --contract)"),
        "{}",
        text(&out)
    );
    let _ = rt.block_on(node_v1.shutdown());
    // A node serving both takes either.
    let both = start(Api::Both);
    let addr = both.addr().to_string();
    for t in [&v1, &v2] {
        let out = conformance(&["replay", t, "--target", &addr]);
        assert!(out.status.success(), "{t}: {}", text(&out));
    }
    let _ = rt.block_on(both.shutdown());
}
