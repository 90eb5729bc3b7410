//! Record and replay (issue #10): the transcripts of `fixtures/transcripts/`
//! (the SDK suite recorded through the proxy in front of the mock, see
//! `ci/record-transcripts`) replayed against a fresh mock (no difference),
//! against mutants (the difference is found at the call the mutant changes)
//! and against the `server-v1` profile (differences only where the QUIRK
//! behaviours change an answer, as the golden list says); a rule file that
//! turns a difference into a pass; and a recording through the proxy, over
//! plaintext and mutual TLS toward an rnx-config node, that gives a
//! transcript valid against its schema and replays without difference.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use joblet_conformance::State;
use joblet_conformance::embedded::Embedded;
use joblet_conformance::outcome::{Outcome, RunResult};
use joblet_conformance::replay::rules::RuleSet;
use joblet_conformance::replay::{self, ReplayConfig, Transcript};
use joblet_mock::{MockConfig, MockServer, Mutant, Profile, Quirk, TlsSetup};
use joblet_testkit::transcript::{Line, SCHEMA};
use joblet_testkit::{Target, TlsFiles, pb};
use serde_json::Value;

use crate::support::{repo, update_golden};

const GOLDEN: &str = "conformance/tests/golden/server-v1-replay.txt";

/// Every fixture transcript, in file-name order.
fn fixtures() -> Vec<Transcript> {
    let dir = repo().join("fixtures/transcripts");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 5,
        "fixtures/transcripts/ holds {} transcript(s): re-record with ci/record-transcripts",
        paths.len()
    );
    paths
        .iter()
        .map(|p| Transcript::load(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect()
}

fn fixture(name: &str) -> Transcript {
    let path = repo().join("fixtures/transcripts").join(name);
    Transcript::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Replays `transcripts` against an embedded mock of `mock` (on a thread and
/// runtime of its own), with `rules` after the built-in ones.
fn replay_against(
    mock: MockConfig,
    transcripts: Vec<Transcript>,
    rules: Option<RuleSet>,
    settle: Duration,
) -> RunResult {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        rt.block_on(async move {
            let embedded = Embedded::start(mock)
                .await
                .expect("the embedded mock starts");
            let mut config = ReplayConfig::new(embedded.targets.clone());
            if let Some(rules) = rules {
                config.rules = RuleSet::defaults().then(rules);
            }
            config.allow_delete_all = true;
            config.allow_remote_installs = true;
            config.settle = settle;
            let result = replay::replay(&transcripts, config).await;
            embedded.shutdown().await;
            result
        })
    })
    .join()
    .expect("the replay")
}

fn describe(o: &Outcome) -> String {
    let diffs = o
        .replay
        .as_ref()
        .map(|r| {
            r.differences
                .iter()
                .map(|d| format!("\n      {}: expected {} got {}", d.path, d.expected, d.got))
                .collect::<String>()
        })
        .unwrap_or_default();
    format!(
        "{} {}: {}{diffs}",
        o.state,
        o.case,
        o.message.as_deref().unwrap_or("")
    )
}

fn not_passed(result: &RunResult) -> Vec<&Outcome> {
    result
        .outcomes
        .iter()
        .filter(|o| o.state != State::Pass)
        .collect()
}

#[test]
fn fixtures_replay_against_a_fresh_mock_with_no_difference() {
    let transcripts = fixtures();
    let calls: usize = transcripts.iter().map(|t| t.lines.len()).sum();
    let result = replay_against(
        MockConfig::default(),
        transcripts,
        None,
        Duration::from_secs(30),
    );
    assert_eq!(
        result.outcomes.len(),
        calls,
        "one outcome per recorded call"
    );
    let bad: Vec<String> = not_passed(&result).into_iter().map(describe).collect();
    assert!(
        bad.is_empty(),
        "{} of {calls} call(s) differ against a fresh mock:\n{}",
        bad.len(),
        bad.join("\n")
    );
    assert!(result.passed() && !result.interrupted);
    assert!(
        result.outcomes.iter().all(|o| o.leaks.is_empty()),
        "the replay left resources behind"
    );
    eprintln!("checked: {calls} recorded calls replayed against a fresh mock, all the same");
}

/// Whether a message of the answer (or a job listed in it) matches `pred`.
fn answer_has(line: &Line, pred: &dyn Fn(&Value) -> bool) -> bool {
    fn walk(v: &Value, pred: &dyn Fn(&Value) -> bool) -> bool {
        match v {
            Value::Object(m) => pred(v) || m.values().any(|x| walk(x, pred)),
            Value::Array(a) => a.iter().any(|x| walk(x, pred)),
            _ => false,
        }
    }
    line.response.messages.iter().any(|m| walk(m, pred))
}

type Pick = fn(&Line) -> bool;

/// Mutants the fixtures exercise, the transcript, and which recorded call is
/// the first one whose answer the mutant changes.
const MUTANTS: &[(Mutant, &str, Pick)] = &[
    // JOB-LIFE-1: a job exiting non-zero ends COMPLETED instead of FAILED.
    (Mutant::NonzeroCompletes, "jobs.jsonl", |l| {
        answer_has(l, &|m| m["status"] == "FAILED")
    }),
    // JOB-STOP-1: a stopped job reports exit code 0 instead of -1.
    (Mutant::StopExitZero, "jobs.jsonl", |l| {
        answer_has(l, &|m| m["status"] == "STOPPED" && m["exitCode"] == -1)
    }),
    // JOB-STOP-3: StopJob on a finished job answers OK.
    (Mutant::StopFinishedOk, "jobs.jsonl", |l| {
        l.method == "StopJob" && l.status.code == "FAILED_PRECONDITION"
    }),
    // NET-CREATE-1: CreateNetwork answers bridge br-<name>.
    (Mutant::NetworkBridgeBr, "networks.jsonl", |l| {
        l.method == "CreateNetwork" && l.status.code == "OK"
    }),
];

#[test]
fn a_mutant_is_found_at_the_call_it_changes() {
    let runs: Vec<_> = MUTANTS
        .iter()
        .map(|&(mutant, file, pick)| {
            let t = fixture(file);
            let at = t
                .lines
                .iter()
                .find(|l| pick(l))
                .unwrap_or_else(|| panic!("{file} has no call that {mutant} changes"))
                .seq;
            let handle = std::thread::spawn(move || {
                replay_against(
                    MockConfig {
                        mutant: Some(mutant),
                        ..MockConfig::default()
                    },
                    vec![t],
                    None,
                    Duration::from_secs(5),
                )
            });
            (mutant, file, at, handle)
        })
        .collect();
    for (mutant, file, at, handle) in runs {
        let result = handle.join().expect("the mutant replay");
        assert!(
            !result.passed(),
            "{mutant}: the replay of {file} found no difference"
        );
        let first = result
            .outcomes
            .iter()
            .find(|o| o.state != State::Pass)
            .expect("a differing call");
        let info = first.replay.as_ref().expect("a replay outcome");
        assert_eq!(
            (first.state, info.seq),
            (State::Fail, at),
            "{mutant} ({}): the first difference should be the call #{at} of {file}, got:\n{}",
            mutant.behaviour(),
            describe(first)
        );
        assert!(
            !info.differences.is_empty(),
            "{mutant}: a failure names its differences"
        );
        eprintln!(
            "checked: {mutant} ({}) found at {file} #{at} {} ({})",
            mutant.behaviour(),
            info.method,
            info.differences[0].path
        );
    }
}

/// The fields of an outcome that differ, list positions left out (as rule
/// paths name them).
fn fields(o: &Outcome) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for d in o.replay.iter().flat_map(|r| &r.differences) {
        let mut path = String::new();
        let mut in_index = false;
        for c in d.path.chars() {
            match c {
                '[' => in_index = true,
                ']' => in_index = false,
                c if !in_index => path.push(c),
                _ => {}
            }
        }
        out.insert(path);
    }
    out
}

fn parse_golden(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn against_server_v1_only_the_calls_quirks_change_differ() {
    // The fixtures against server-v1 (every QUIRK on), and against the
    // documented mock with one QUIRK on, for each QUIRK.
    let profile = std::thread::spawn(|| {
        replay_against(
            MockConfig {
                profile: Profile::ServerV1,
                ..MockConfig::default()
            },
            fixtures(),
            None,
            Duration::from_secs(5),
        )
    });
    let single: Vec<_> = Profile::ServerV1
        .quirks()
        .list()
        .iter()
        .map(|&q| {
            let run = std::thread::spawn(move || {
                replay_against(
                    MockConfig {
                        extra_quirks: vec![q],
                        ..MockConfig::default()
                    },
                    fixtures(),
                    None,
                    Duration::from_secs(5),
                )
            });
            (q, run)
        })
        .collect();
    let result = profile.join().expect("the server-v1 replay");
    // Per call (outcome name), the QUIRKs under which it differs alone.
    let mut by_quirk: BTreeMap<String, Vec<Quirk>> = BTreeMap::new();
    for (q, run) in single {
        let run = run.join().expect("a one-quirk replay");
        for o in run.outcomes.iter().filter(|o| o.state != State::Pass) {
            by_quirk.entry(o.case.clone()).or_default().push(q);
        }
    }
    let errors: Vec<String> = result
        .outcomes
        .iter()
        .filter(|o| matches!(o.state, State::Error | State::Skip))
        .map(describe)
        .collect();
    assert!(
        errors.is_empty(),
        "calls with no verdict against server-v1:\n{}",
        errors.join("\n")
    );
    let failed: Vec<&Outcome> = result
        .outcomes
        .iter()
        .filter(|o| o.state == State::Fail)
        .collect();
    assert!(
        !failed.is_empty(),
        "server-v1 answered every recorded call as the documented mock did"
    );
    // A call is explained by the QUIRKs under which it differs alone, or
    // else by an earlier call of its recorded session that differs under
    // QUIRKs alone (an answer the QUIRK changed taught the replay no ID, or
    // left the job in another state).
    let mut explained: BTreeMap<String, String> = BTreeMap::new();
    let mut unexplained = Vec::new();
    for o in &failed {
        let info = o.replay.as_ref().expect("a replay outcome");
        if let Some(qs) = by_quirk.get(&o.case) {
            let ids: Vec<&str> = qs.iter().map(|q| q.id()).collect();
            explained.insert(o.case.clone(), ids.join(", "));
            continue;
        }
        let earlier = failed.iter().find(|e| {
            let ei = e.replay.as_ref().expect("a replay outcome");
            ei.transcript == info.transcript
                && ei.session == info.session
                && ei.seq < info.seq
                && by_quirk.contains_key(&e.case)
        });
        match earlier {
            Some(e) => {
                let ei = e.replay.as_ref().expect("a replay outcome");
                explained.insert(o.case.clone(), format!("after #{}", ei.seq));
            }
            None => unexplained.push(describe(o)),
        }
    }
    assert!(
        unexplained.is_empty(),
        "calls that differ under server-v1 but under no single QUIRK, nor after such a call of their session:\n{}",
        unexplained.join("\n")
    );
    let path = repo().join(GOLDEN);
    if update_golden() {
        let mut text = String::from(
            "# Recorded calls of fixtures/transcripts/ that answer differently against\n\
             # `joblet-mock --profile server-v1`, with the QUIRKs that change them (each\n\
             # alone on the documented mock) and the fields that differ. The documented\n\
             # mock answers every call as recorded. Checked by conformance/tests/it/replay.rs;\n\
             # rewrite with UPDATE_GOLDEN=1 and review the diff.\n",
        );
        for o in &failed {
            let fields: Vec<String> = fields(o).into_iter().collect();
            text.push_str(&format!(
                "{}  # {}: {}\n",
                o.case,
                explained[&o.case],
                fields.join(", ")
            ));
        }
        std::fs::write(&path, text).expect("write the golden list");
    }
    let golden = parse_golden(
        &std::fs::read_to_string(&path)
            .expect("the golden list exists (UPDATE_GOLDEN=1 writes it)"),
    );
    let got: BTreeSet<String> = failed.iter().map(|o| o.case.clone()).collect();
    let unexpected: Vec<String> = failed
        .iter()
        .filter(|o| !golden.contains(&o.case))
        .map(|o| describe(o))
        .collect();
    let missing: Vec<_> = golden.difference(&got).collect();
    assert!(
        unexpected.is_empty() && missing.is_empty(),
        "server-v1 replay differences differ from {GOLDEN}:\n  differ but not in the list:\n{}\n  listed but the same: {missing:?}",
        unexpected.join("\n")
    );
    let quirks: BTreeSet<&str> = by_quirk.values().flatten().map(|q| q.id()).collect();
    eprintln!(
        "checked: {} recorded calls against server-v1, {} differ, each explained by a QUIRK alone or an earlier such call of its session ({} QUIRKs show), equal to {GOLDEN}",
        result.outcomes.len(),
        failed.len(),
        quirks.len()
    );
}

#[test]
fn a_rule_file_turns_a_difference_into_a_pass() {
    let mock = || MockConfig {
        mutant: Some(Mutant::NetworkBridgeBr),
        ..MockConfig::default()
    };
    let strict = replay_against(
        mock(),
        vec![fixture("networks.jsonl")],
        None,
        Duration::from_secs(2),
    );
    let differing: BTreeSet<String> = strict
        .outcomes
        .iter()
        .filter(|o| o.state != State::Pass)
        .flat_map(fields)
        .collect();
    assert_eq!(
        differing,
        BTreeSet::from([
            "CreateNetwork.bridge".to_owned(),
            "ListNetworks.networks.bridge".to_owned()
        ]),
        "{}",
        not_passed(&strict)
            .into_iter()
            .map(describe)
            .collect::<Vec<_>>()
            .join("\n")
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("relax.yaml");
    std::fs::write(
        &file,
        "rules:\n  # any bridge name will do\n  - path: \"*.**.bridge\"\n    rule: shape\n",
    )
    .expect("write the rule file");
    let relaxed = replay_against(
        mock(),
        vec![fixture("networks.jsonl")],
        Some(RuleSet::load(&file).expect("the rule file loads")),
        Duration::from_secs(2),
    );
    let bad: Vec<String> = not_passed(&relaxed).into_iter().map(describe).collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// `joblet-conformance record` as a child process, stopped with SIGTERM.
struct Proxy {
    child: Child,
    plain: String,
    tls: String,
}

impl Proxy {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_joblet-conformance"))
            .arg("record")
            .args(args)
            .env_remove("JOBLET_HOST")
            .env_remove("JOBLET_PORT")
            .env_remove("JOBLET_NODE")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the proxy starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let (mut plain, mut tls) = (String::new(), String::new());
        while plain.is_empty() || tls.is_empty() {
            let line = lines
                .next()
                .expect("the proxy prints its addresses")
                .expect("stdout");
            if let Some(a) = line.strip_prefix("joblet-conformance record listening on tls ") {
                tls = a.to_owned();
            } else if let Some(a) = line.strip_prefix("joblet-conformance record listening on ") {
                plain = a.to_owned();
            }
        }
        Self { child, plain, tls }
    }

    /// SIGTERM, then the exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("the proxy did not stop within 10 s of SIGTERM");
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tls_client(dir: &Path, name: &str) -> TlsFiles {
    TlsFiles {
        ca_cert: dir.join("ca.pem"),
        client_cert: dir.join(format!("{name}.pem")),
        client_key: dir.join(format!("{name}-key.pem")),
        server_name: joblet_testkit::tls::SERVER_NAME.into(),
    }
}

#[test]
fn recording_through_the_proxy_over_plaintext_and_mutual_tls_gives_a_valid_transcript() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let mock_certs = dir.path().join("mock-certs");
    let proxy_certs = dir.path().join("proxy-certs");
    let out = dir.path().join("recorded.jsonl");
    let mock = rt
        .block_on(
            MockServer::builder()
                .config(MockConfig::default())
                .tls(TlsSetup::Generate(mock_certs.clone()))
                .start(),
        )
        .expect("the mock starts");
    // Toward the mock: mutual TLS with the rnx-config nodes (admin, viewer).
    let rnx = mock_certs.join("rnx-config.yml");
    let proxy = Proxy::start(&[
        "--listen",
        "127.0.0.1:0",
        "--tls-listen",
        "127.0.0.1:0",
        "--certs-dir",
        proxy_certs.to_str().expect("utf-8"),
        "--rnx-config",
        rnx.to_str().expect("utf-8"),
        "--node",
        "default",
        "--viewer-node",
        "viewer",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    let (plain, tls) = (proxy.plain.clone(), proxy.tls.clone());
    rt.block_on(async {
        // A plaintext client (admin): run a job, wait for it, read its logs.
        let ch = Target::plaintext(plain).connect().await.expect("plaintext");
        let mut jobs = pb::job_service_client::JobServiceClient::new(ch);
        let uuid = jobs
            .run_job(pb::RunJobRequest {
                command: "echo".into(),
                args: vec!["recorded".into()],
                ..Default::default()
            })
            .await
            .expect("RunJob through the proxy")
            .into_inner()
            .job_uuid;
        for _ in 0..100 {
            let s = jobs
                .get_job_status(pb::GetJobStatusReq { uuid: uuid.clone() })
                .await
                .expect("GetJobStatus")
                .into_inner();
            if s.status == "COMPLETED" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut logs = jobs
            .get_job_logs(pb::GetJobLogsReq { uuid: uuid.clone() })
            .await
            .expect("GetJobLogs")
            .into_inner();
        let mut text = Vec::new();
        while let Some(chunk) = logs.message().await.expect("a log chunk") {
            text.extend_from_slice(&chunk.payload);
        }
        assert_eq!(text, b"recorded\n");
        // A viewer over mutual TLS, with the proxy's generated certificate:
        // it may list, not run (the proxy calls the mock as viewer).
        let ch = Target::plaintext(tls)
            .with_tls(tls_client(&proxy_certs, "viewer"))
            .connect()
            .await
            .expect("mutual TLS to the proxy");
        let mut viewer = pb::job_service_client::JobServiceClient::new(ch);
        let listed = viewer
            .list_jobs(pb::EmptyRequest {})
            .await
            .expect("ListJobs as viewer")
            .into_inner();
        assert!(listed.jobs.iter().any(|j| j.uuid == uuid));
        let denied = viewer
            .run_job(pb::RunJobRequest {
                command: "echo".into(),
                ..Default::default()
            })
            .await
            .expect_err("a viewer may not run jobs");
        assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    });
    let status = proxy.stop();
    assert!(status.success(), "the proxy exits 0 on SIGTERM: {status}");
    rt.block_on(mock.shutdown()).ok();

    // Every line validates against the transcript schema.
    let schema: Value = serde_json::from_str(SCHEMA).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let text = std::fs::read_to_string(&out).expect("the transcript was written");
    for (n, line) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(line).expect("a JSON line");
        let errors: Vec<String> = validator
            .iter_errors(&v)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "line {}: {errors:?}\n{line}", n + 1);
    }
    let t = Transcript::load(&out).expect("the transcript reads back");
    let calls: Vec<(String, String, String)> = t
        .lines
        .iter()
        .map(|l| (l.role.clone(), l.method.clone(), l.status.code.clone()))
        .collect();
    let has = |role: &str, method: &str, code: &str| {
        calls
            .iter()
            .any(|(r, m, c)| r == role && m == method && c == code)
    };
    assert!(has("admin", "RunJob", "OK"), "{calls:?}");
    assert!(has("admin", "GetJobLogs", "OK"), "{calls:?}");
    assert!(has("viewer", "ListJobs", "OK"), "{calls:?}");
    assert!(has("viewer", "RunJob", "PERMISSION_DENIED"), "{calls:?}");
    let logs = t
        .lines
        .iter()
        .find(|l| l.method == "GetJobLogs")
        .and_then(|l| l.response.log.as_ref())
        .expect("the log stream, stored compactly");
    assert_eq!(logs.bytes, 9);

    // The recording replays against a fresh mock without difference, the
    // viewer's calls as viewer.
    let result = replay_against(MockConfig::default(), vec![t], None, Duration::from_secs(5));
    let bad: Vec<String> = not_passed(&result).into_iter().map(describe).collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert_eq!(result.outcomes.len(), calls.len());
}

fn replay_cli(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_joblet-conformance"))
        .arg("replay")
        .args(args)
        .env_remove("JOBLET_HOST")
        .env_remove("JOBLET_PORT")
        .env_remove("JOBLET_NODE")
        .env_remove("JOBLET_CA_CERT_PATH")
        .env_remove("JOBLET_CLIENT_CERT_PATH")
        .env_remove("JOBLET_CLIENT_KEY_PATH")
        .output()
        .expect("the binary runs")
}

fn output_text(out: &std::process::Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_replay_command_reports_differences_with_exit_code_one() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let fixture = repo().join("fixtures/transcripts/networks.jsonl");
    let fixture = fixture.to_str().expect("utf-8");
    let start = |mutant| {
        rt.block_on(
            MockServer::builder()
                .config(MockConfig {
                    mutant,
                    ..MockConfig::default()
                })
                .start(),
        )
        .expect("the mock starts")
    };
    // The documented mock: every call as recorded, exit 0.
    let good = start(None);
    let addr = good.addr().to_string();
    let out = replay_cli(&[fixture, "--target", &addr]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("NO DIFFERENCE"),
        "{}",
        output_text(&out)
    );
    rt.block_on(good.shutdown()).ok();
    // A mutant: exit 1, the differing call in the human, JSON and JUnit reports.
    let bad = start(Some(Mutant::NetworkBridgeBr));
    let addr = bad.addr().to_string();
    let json = dir.path().join("replay.json");
    let junit = dir.path().join("replay.xml");
    let out = replay_cli(&[
        fixture,
        "--target",
        &addr,
        "--settle",
        "1s",
        "--json",
        json.to_str().expect("utf-8"),
        "--junit",
        junit.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("replay.networks.0001_create_network")
            && stdout.contains("CreateNetwork.bridge"),
        "{}",
        output_text(&out)
    );
    let report = joblet_conformance::report::JsonReport::parse(
        &std::fs::read_to_string(&json).expect("the JSON report"),
    )
    .expect("a JSON report");
    let first = report
        .run
        .outcomes
        .iter()
        .find(|o| o.state == State::Fail)
        .expect("a failing call in the JSON report");
    let info = first.replay.as_ref().expect("its replay details");
    assert_eq!(
        (info.seq, info.method.as_str()),
        (1, "joblet.NetworkService/CreateNetwork")
    );
    assert_eq!(info.differences[0].path, "CreateNetwork.bridge");
    let xml = std::fs::read_to_string(&junit).expect("the JUnit report");
    assert!(
        xml.contains("replay.networks.0001_create_network") && xml.contains("<failure"),
        "{xml}"
    );
    rt.block_on(bad.shutdown()).ok();
}

#[test]
fn bad_replay_inputs_are_clear_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = |name: &str| dir.path().join(name).display().to_string();
    std::fs::write(path("broken.jsonl"), "{\"v\":1,\"seq\":1}\nnot json\n").expect("write");
    std::fs::write(path("empty.jsonl"), "").expect("write");
    std::fs::write(
        path("bad-rule.yaml"),
        "rules:\n  - path: GetJobStatus.status\n    rule: roughly\n",
    )
    .expect("write");
    let fixture = repo().join("fixtures/transcripts/monitoring.jsonl");
    let fixture = fixture.to_str().expect("utf-8").to_owned();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec![path("missing.jsonl")], "missing.jsonl"),
        (vec![path("broken.jsonl")], "broken.jsonl, line 1"),
        (vec![path("empty.jsonl")], "holds no call"),
        (
            vec![fixture.clone(), "--rules".into(), path("bad-rule.yaml")],
            "unknown rule \"roughly\"",
        ),
        (
            vec![fixture.clone(), "--rules".into(), path("nope.yaml")],
            "nope.yaml",
        ),
        (
            vec![
                fixture.clone(),
                "--profile".into(),
                "server-v1".into(),
                "--target".into(),
                "127.0.0.1:9".into(),
            ],
            "--profile server-v1 is the embedded mock's",
        ),
        (vec![fixture, "--settle".into(), "soon".into()], "--settle"),
    ];
    for (args, want) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = replay_cli(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            output_text(&out)
        );
        assert!(
            stderr.contains(want),
            "{args:?}: wanted {want:?} in {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn the_fixtures_validate_against_the_transcript_schema_and_keep_logs_compact() {
    let schema: Value = serde_json::from_str(SCHEMA).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let dir = repo().join("fixtures/transcripts");
    let mut lines = 0;
    for t in fixtures() {
        let text = std::fs::read_to_string(dir.join(&t.name)).expect("the fixture");
        for (n, line) in text.lines().enumerate() {
            let v: Value = serde_json::from_str(line).expect("a JSON line");
            let errors: Vec<String> = validator
                .iter_errors(&v)
                .map(|e| format!("{e} at {}", e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{} line {}: {errors:?}", t.name, n + 1);
            // Log streams: the count and hash always, the bytes up to the
            // recording's limit (ci/record-transcripts: 4096).
            if let Some(log) = v["response"].get("log") {
                let kept = log["text"].as_str().map_or(0, str::len);
                assert!(
                    kept <= 4096,
                    "{} line {}: {kept} log bytes kept",
                    t.name,
                    n + 1
                );
                let bytes = log["bytes"].as_u64().expect("bytes");
                assert_eq!(
                    log.get("truncated")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                    bytes as usize > kept,
                    "{} line {}",
                    t.name,
                    n + 1
                );
            }
            lines += 1;
        }
    }
    assert!(
        lines > 300,
        "only {lines} recorded calls in fixtures/transcripts/"
    );
}

/// Issue #16 item 7: v2 traffic records (every v2 field and method, the
/// contract on each line) and replays against a fresh mock like v1 traffic.
#[test]
fn v2_traffic_records_with_its_contract_and_replays() {
    use joblet_testkit::pb::v2;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v2.jsonl");
    let recorded = path.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let recorder = joblet_mock::Recorder::new(joblet_mock::RecorderOptions {
                file: Some(recorded),
                contract: Some(joblet_mock::Api::Both),
                ..Default::default()
            })
            .unwrap();
            let mock = MockServer::builder()
                .config(MockConfig {
                    transcript: Some(std::sync::Arc::new(recorder)),
                    ..MockConfig::default()
                })
                .start()
                .await
                .unwrap();
            let ch = tonic::transport::Endpoint::from_shared(mock.url())
                .unwrap()
                .connect()
                .await
                .unwrap();
            let mut jobs = v2::job_service_client::JobServiceClient::new(ch.clone());
            let job = jobs
                .run_job(v2::RunJobRequest {
                    command: "echo".into(),
                    args: vec!["v2".into()],
                    timeout: "30s".into(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            let mut logs = jobs
                .get_job_logs(v2::GetJobLogsRequest {
                    uuid: job.job_uuid.clone(),
                })
                .await
                .unwrap()
                .into_inner();
            while logs.message().await.unwrap().is_some() {}
            jobs.get_job_status(v2::GetJobStatusRequest {
                uuid: job.job_uuid.clone(),
            })
            .await
            .unwrap();
            let yaml =
                std::fs::read_to_string(repo().join("fixtures/runtimes/python-ml.yaml")).unwrap();
            let mut runtimes = v2::runtime_service_client::RuntimeServiceClient::new(ch);
            runtimes
                .validate_runtime_yaml(v2::ValidateRuntimeYamlRequest {
                    yaml_content: yaml.clone(),
                })
                .await
                .unwrap();
            let mut build = runtimes
                .build_runtime(v2::BuildRuntimeRequest {
                    yaml_content: yaml,
                    dry_run: true,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            while build.message().await.unwrap().is_some() {}
            jobs.delete_job(v2::DeleteJobRequest { uuid: job.job_uuid })
                .await
                .unwrap();
            mock.shutdown().await.unwrap();
        });
    })
    .join()
    .expect("the recording");
    let transcript = Transcript::load(&path).unwrap();
    let methods: Vec<&str> = transcript.lines.iter().map(|l| l.method.as_str()).collect();
    assert_eq!(
        methods,
        [
            "RunJob",
            "GetJobLogs",
            "GetJobStatus",
            "ValidateRuntimeYAML",
            "BuildRuntime",
            "DeleteJob"
        ]
    );
    assert!(
        transcript
            .lines
            .iter()
            .all(|l| l.contract.as_deref() == Some("both")),
        "every line names the recorded node's contract"
    );
    assert_eq!(
        transcript.lines[0].request["timeout"], "30s",
        "{:?}",
        transcript.lines[0]
    );
    let status = &transcript.lines[2].response.messages[0];
    assert_eq!(status["timeout"], "30s", "{status}");
    let result = replay_against(
        MockConfig::default(),
        vec![transcript],
        None,
        Duration::from_secs(30),
    );
    let bad: Vec<String> = not_passed(&result).into_iter().map(describe).collect();
    assert!(
        bad.is_empty(),
        "v2 calls differ on replay:\n{}",
        bad.join("\n")
    );
    assert_eq!(result.outcomes.len(), 6);
}
