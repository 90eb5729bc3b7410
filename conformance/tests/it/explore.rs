//! The explorer (`joblet-conformance explore`): random sequences judged by
//! the model of the documented behaviours find nothing against the
//! documented mock, find (and shrink) the v1 mutants and the server-v1
//! quirks, and a finding becomes a transcript that `replay` turns into a
//! regression test.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use joblet_conformance::ctx::Targets;
use joblet_conformance::embedded::Embedded;
use joblet_conformance::explore::admin::Admin;
use joblet_conformance::explore::clock::TimeSource;
use joblet_conformance::explore::driver::{self, ExploreConfig, ExploreResult};
use joblet_conformance::explore::explore;
use joblet_mock::{ClockMode, MockConfig, Mutant, Profile};
use joblet_testkit::Role;
use joblet_testkit::contract::Api;

/// Mutants the explorer's budget (60 sequences of 50 operations, seed 1, 4 for those out of reach)
/// kills, at least: measured 2026-12-06 (the 9 workflow mutants, the other identities, runtime installs and GPU jobs among them).
const KILLED_AT_LEAST: usize = 68;

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Explores an embedded mock of `mock` with `config`: as the admin over
/// mutual TLS, with the viewer, no-role and certificate-less identities and
/// runtime installs.
async fn explore_mock(mut mock: MockConfig, mut config: ExploreConfig) -> ExploreResult {
    if matches!(config.time, TimeSource::Mock { .. }) {
        mock.clock = ClockMode::Manual;
    }
    let embedded = Embedded::start(mock)
        .await
        .expect("the embedded mock starts");
    let targets = Targets {
        main: embedded
            .mock
            .tls_target(Role::Admin)
            .expect("the embedded mock's admin certificate"),
        ..embedded.targets.clone()
    };
    config.admin = Admin::connect(&targets, true)
        .await
        .expect("the other identities connect");
    // AUTH-1: the plaintext listener's callers are admins too.
    config.admin.plaintext = Some(embedded.targets.main.connect().await.expect("connects"));
    let channel = targets.main.connect().await.expect("connects");
    let result = explore(channel, &config).await;
    embedded.shutdown().await;
    result
}

fn budget(sequences: usize, parallel: usize) -> ExploreConfig {
    ExploreConfig {
        seed: 1,
        steps: 50,
        sequences,
        parallel,
        run_id: "explore".into(),
        // On the mock's manual clock (moved by the explorer): a due timer
        // has fired and its job settled when AdvanceClock answers, so the
        // grace is only the clock's, however busy the two cores are.
        grace: Duration::from_millis(100),
        time: TimeSource::MOCK,
        ..ExploreConfig::default()
    }
}

#[test]
fn explore_finds_nothing_against_the_documented_mock() {
    let result = runtime().block_on(explore_mock(MockConfig::default(), budget(200, 8)));
    if let Some(f) = &result.finding {
        panic!("a false alarm:\n{}", driver::show_finding(f, 50));
    }
    assert_eq!(result.sequences, 200);
    assert!(result.errors.is_empty(), "{:?}", result.errors);
    assert!(result.leaks.is_empty(), "{:?}", result.leaks);
    assert!(result.steps >= 200 * 40, "{} calls", result.steps);
    for id in [
        "ALL-2",
        "JOB-RUN-1",
        "JOB-RUN-5",
        "JOB-STOP-1",
        "JOB-STOP-2",
        "JOB-STOP-3",
        "JOB-CANCEL-1",
        "JOB-CANCEL-2",
        "JOB-DEL-1",
        "JOB-DEL-2",
        "JOB-LOGS-1",
        "JOB-LIST-1",
        "NET-CREATE-3",
        "NET-RM-1",
        "VOL-CREATE-2",
        "VOL-RM-1",
        "RT-LIST-1",
        "WF-YAML-1",
        "WF-RUN-1",
        "WF-RUN-2",
        "WF-EXEC-1",
        "WF-EXEC-2",
        "WF-STATUS-1",
        "WF-STATUS-2",
        "WF-LIST-1",
        "WF-JOBS-1",
        "AUTH-1",
        "AUTH-2",
        "AUTH-3",
        "AUTH-4",
        "AUTH-5",
        "JOB-GPU-1",
        "JOB-GPU-2",
        "RT-INSTALL-1",
        "RT-INSTALL-2",
        "RT-INSTALL-3",
        "RT-RM-1",
        // The v2 operations mixed in (the mock serves both contracts).
        "JOB-RUN-11",
        "JOB-TIMEOUT-1",
        "JOB-TIMEOUT-2",
        "JOB-TIMEOUT-3",
        "JOB-TIMEOUT-4",
        "JOB-LOGS-4",
        "AUTH-7",
    ] {
        assert!(
            result.ids.contains_key(id),
            "{id} never exercised:\n{}",
            driver::show_coverage(&result)
        );
    }
    for (call, state) in [
        ("StopJob", "RUNNING"),
        ("StopJob", "SCHEDULED"),
        ("CancelJob", "SCHEDULED"),
        ("DeleteJob", "COMPLETED"),
    ] {
        assert!(
            result.pairs.keys().any(|(c, s)| c == call && s == state),
            "({call}, {state}) never exercised:\n{}",
            driver::show_coverage(&result)
        );
    }
}

/// Explores each mutant of `list` (`at_once` at a time) with what `each`
/// makes of it; the results in `list`'s order.
pub(crate) fn explore_each<R, Fut>(
    list: &[Mutant],
    at_once: usize,
    each: impl Fn(Mutant) -> Fut,
) -> Vec<(Mutant, R)>
where
    Fut: std::future::Future<Output = R> + Send + 'static,
    R: Send + Clone + 'static,
{
    runtime().block_on(async {
        let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(at_once));
        let mut tasks = tokio::task::JoinSet::new();
        for (i, m) in list.iter().copied().enumerate() {
            let semaphore = semaphore.clone();
            let run = each(m);
            tasks.spawn(async move {
                let _permit = semaphore.acquire_owned().await.ok();
                let t = std::time::Instant::now();
                let r = run.await;
                eprintln!("{m}: {:.1} s", t.elapsed().as_secs_f64());
                (i, m, r)
            });
        }
        let mut rows = vec![None; list.len()];
        while let Some(Ok((i, m, r))) = tasks.join_next().await {
            rows[i] = Some((m, r));
        }
        rows.into_iter().flatten().collect()
    })
}

/// The kill table (a line per mutant: killed in N calls, or SURVIVED),
/// printed, and how many were killed; fails when a finding is over 10
/// calls or a mutant not `out_of_reach` survived.
pub(crate) fn kill_table(
    rows: &[(Mutant, Option<usize>)],
    out_of_reach: &[&str],
) -> (usize, String) {
    let table: Vec<String> = rows
        .iter()
        .map(|(m, c)| match c {
            Some(n) => format!(
                "{:<28} {:<14} killed in {n} call(s)",
                m.name(),
                m.behaviour()
            ),
            None => format!("{:<28} {:<14} SURVIVED", m.name(), m.behaviour()),
        })
        .collect();
    let table = table.join("\n");
    let killed = rows.iter().filter(|(_, c)| c.is_some()).count();
    println!("killed {killed}/{}\n{table}", rows.len());
    let survivors: Vec<&str> = rows
        .iter()
        .filter(|(m, c)| c.is_none() && !out_of_reach.contains(&m.name()))
        .map(|(m, _)| m.name())
        .collect();
    assert!(survivors.is_empty(), "survived: {survivors:?}\n{table}");
    let long: Vec<&str> = rows
        .iter()
        .filter(|(_, c)| c.is_some_and(|n| n > 10))
        .map(|(m, _)| m.name())
        .collect();
    assert!(long.is_empty(), "findings over 10 calls: {long:?}\n{table}");
    (killed, table)
}

/// Mutants the explorer does not reach by design: roles and TLS
/// (it speaks as one admin), message sizes, DeleteAllJobs (never called on
/// a shared node), GPUs (a node's GPUs are not known to the model), the
/// metrics interval (it reads one sample), runtime installs and removal.
const OUT_OF_REACH: &[&str] = &[
    "small-messages",
    "delete-all-skipped-zero",
    "interval-ignored",
];

#[test]
fn explore_kills_the_v1_mutants_with_short_findings() {
    // The explorer's model is the v1 contract's; the v2 mutants are the
    // catalogue's to catch (conformance/tests/it/mutants.rs).
    let list = joblet_conformance::mutants::v1_mutants();
    let rows = explore_each(&list, 3, |m| {
        let mock = MockConfig {
            mutant: Some(m),
            ..MockConfig::default()
        };
        // Those out of reach get a token budget: they survive it.
        let sequences = if OUT_OF_REACH.contains(&m.name()) {
            4
        } else {
            60
        };
        // The v1 operations and model, as before the v2 ones (the mock
        // serves both).
        let config = ExploreConfig {
            contracts: Api::V1,
            ..budget(sequences, 2)
        };
        async move { explore_mock(mock, config).await.finding.map(|f| f.calls()) }
    });
    let (killed, table) = kill_table(&rows, OUT_OF_REACH);
    assert!(
        killed >= KILLED_AT_LEAST,
        "killed {killed}/{}:\n{table}",
        rows.len()
    );
}

#[test]
fn explore_finds_a_server_v1_quirk() {
    let mock = MockConfig {
        profile: Profile::ServerV1,
        ..MockConfig::default()
    };
    let result = runtime().block_on(explore_mock(mock, budget(20, 2)));
    let f = result
        .finding
        .expect("server-v1 differs from the documented model");
    assert!(f.calls() <= 10, "{}", driver::show_finding(&f, 50));
}

/// Against `--profile server-v2` (a v5.6 node's quirks) on a node of v2
/// alone, the explorer finds a quirk, and cleans up after it (the node's
/// INTERNAL "job deletion failed: job … not found" is a job gone).
#[test]
fn explore_finds_a_server_v2_quirk() {
    let mock = MockConfig {
        profile: Profile::ServerV2,
        api: Api::V2,
        ..MockConfig::default()
    };
    let config = ExploreConfig {
        contracts: Api::V2,
        ..budget(20, 2)
    };
    let result = runtime().block_on(explore_mock(mock, config));
    let f = result
        .finding
        .expect("server-v2 differs from the documented model");
    assert!(f.calls() <= 10, "{}", driver::show_finding(&f, 50));
    assert!(result.leaks.is_empty(), "{:?}", result.leaks);
}

fn cli(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_joblet-conformance"))
        .args(args)
        .env_remove("JOBLET_HOST")
        .env_remove("JOBLET_PORT")
        .env_remove("JOBLET_NODE")
        .output()
        .expect("the binary runs")
}

fn text(out: &std::process::Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn explore_refuses_read_only_and_bad_flags() {
    let out = cli(&["explore", "--read-only"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("--read-only: the explorer creates"),
        "{}",
        text(&out)
    );
    let out = cli(&["explore", "--mutant", "no-such-mutant"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--mutant"), "{}", text(&out));
    let out = cli(&["explore", "--steps", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--steps"), "{}", text(&out));
    // The role identities are a target's: the embedded mock has its own.
    let out = cli(&["explore", "--viewer-node", "viewer"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--viewer-*"), "{}", text(&out));
}

#[test]
fn explore_finding_becomes_a_transcript_that_replay_fails_on_the_documented_mock() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("finding.jsonl");
    let path_text = path.to_str().expect("utf-8");
    let out = cli(&[
        "explore",
        "--mutant",
        "network-bridge-br",
        "--seed",
        "1",
        "--sequences",
        "20",
        "--transcript",
        path_text,
    ]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("FINDING") && t.contains("CreateNetwork"), "{t}");
    assert!(
        t.contains("reproduce: joblet-conformance explore --seed"),
        "{t}"
    );
    assert!(t.contains("the recorded run disagreed again"), "{t}");
    let recorded = std::fs::read_to_string(&path).expect("the transcript");
    assert!(recorded.contains("\"CreateNetwork\""), "{recorded}");
    // The mutant's answer, replayed against the documented mock: a difference.
    let out = cli(&["replay", path_text]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("CreateNetwork") && t.contains("bridge"), "{t}");
    // Against the mutant itself the transcript replays as recorded... as far
    // as the replay compares: the finding is the regression test.
    let calls: BTreeSet<&str> = recorded
        .lines()
        .filter_map(|l| l.split("\"method\":\"").nth(1))
        .filter_map(|m| m.split('"').next())
        .collect();
    assert!(calls.len() >= 2, "{calls:?}");
}

/// A node of v2.5.9 alone (`Api::V2`): no workflow, no install, jobs run and
/// read through both contracts' messages, timeouts among them; the model
/// finds nothing.
#[test]
fn explore_finds_nothing_against_a_v2_node() {
    let mock = MockConfig {
        api: Api::V2,
        ..MockConfig::default()
    };
    let config = ExploreConfig {
        contracts: Api::V2,
        ..budget(120, 8)
    };
    let result = runtime().block_on(explore_mock(mock, config));
    if let Some(f) = &result.finding {
        panic!("a false alarm:\n{}", driver::show_finding(f, 50));
    }
    assert_eq!(result.sequences, 120);
    assert!(result.errors.is_empty(), "{:?}", result.errors);
    assert!(result.leaks.is_empty(), "{:?}", result.leaks);
    assert!(result.steps >= 120 * 40, "{} calls", result.steps);
    for id in [
        "CONTRACT-1",
        "CONTRACT-2",
        "MON-STATUS-2",
        "RT-LIST-2",
        "JOB-RUN-11",
        "JOB-TIMEOUT-1",
        "JOB-TIMEOUT-2",
        "JOB-TIMEOUT-3",
        "JOB-TIMEOUT-4",
        "JOB-LOGS-4",
        "JOB-STOP-1",
        "JOB-DEL-1",
        "JOB-LIST-1",
        "AUTH-6",
        "AUTH-7",
    ] {
        assert!(
            result.ids.contains_key(id),
            "{id} never exercised:\n{}",
            driver::show_coverage(&result)
        );
    }
    for gone in ["WF-RUN-1", "RT-INSTALL-1", "JOB-RUN-1", "AUTH-3", "AUTH-4"] {
        assert!(
            !result.ids.contains_key(gone),
            "{gone} judged on a v2 node:\n{}",
            driver::show_coverage(&result)
        );
    }
    assert!(
        result
            .pairs
            .keys()
            .any(|(c, s)| c == "GetJobStatus" && s.contains("TIMEOUT")),
        "no job seen TIMEOUT:\n{}",
        driver::show_coverage(&result)
    );
}

/// The v2 mutants the explorer does not reach: CONTRACT-3 (a probe a
/// client makes before it knows the contract), AUTH-7's BuildRuntime by the
/// viewer (builds are the admin's), AUTH-8's four roles (an option, off by
/// default).
const V2_OUT_OF_REACH: &[&str] = &[
    "probe-unimplemented",
    "viewer-may-build",
    "four-role-method-names",
];

/// The v2 mutants of the metrics, telematics, runtime builds and runtime
/// YAML: `explore_v2::explore_kills_the_v2_telemetry_and_build_mutants`
/// kills them all (15/15) with the v2-only operations alone.
const V2_TELEMETRY_AND_BUILDS: &[&str] = &[
    "metrics-no-memory-limit",
    "metrics-unknown-empty",
    "metrics-limit-ignored",
    "telem-type-uppercase",
    "telem-type-filter-off",
    "telem-unknown-empty",
    "telem-limit-per-type",
    "build-empty-yaml-starts",
    "build-thirteen-phases",
    "dry-run-installs",
    "build-failure-status",
    "built-runtime-unlisted",
    "yaml-empty-error",
    "yaml-accepts-missing-name",
    "yaml-no-exists-warning",
];

/// The other v2 mutants the explorer kills against a node of v2.5.9 alone:
/// measured 2026-12-06 (CONTRACT-1, CONTRACT-2, AUTH-6, JOB-RUN-11,
/// JOB-TIMEOUT-1 to 4, JOB-LOGS-4, MON-STATUS-2, RT-LIST-2). With the 15 of
/// the telemetry test, 26 of the 29 v2 mutants.
const V2_KILLED: usize = 11;

#[test]
fn explore_kills_the_v2_mutants_with_short_findings() {
    let all = joblet_conformance::mutants::v2_mutants();
    let list: Vec<Mutant> = all
        .iter()
        .copied()
        .filter(|m| !V2_TELEMETRY_AND_BUILDS.contains(&m.name()))
        .collect();
    assert_eq!(all.len(), list.len() + V2_TELEMETRY_AND_BUILDS.len());
    let rows = explore_each(&list, 3, |m| {
        let mock = MockConfig {
            api: Api::V2,
            mutant: Some(m),
            ..MockConfig::default()
        };
        // Those out of reach get a token budget: they survive it.
        let sequences = if V2_OUT_OF_REACH.contains(&m.name()) {
            1
        } else {
            30
        };
        let config = ExploreConfig {
            contracts: Api::V2,
            ..budget(sequences, 2)
        };
        async move { explore_mock(mock, config).await.finding.map(|f| f.calls()) }
    });
    let (killed, table) = kill_table(&rows, V2_OUT_OF_REACH);
    assert_eq!(list.len(), V2_OUT_OF_REACH.len() + V2_KILLED, "{table}");
    assert_eq!(
        killed,
        V2_KILLED,
        "killed {killed}/{}:\n{table}",
        rows.len()
    );
}
