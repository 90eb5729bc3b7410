//! The explorer's v2-only operations (job metrics and telematics, runtime
//! YAML and builds): no false alarm against the documented mock, which
//! serves both contracts, and the v2 mutants of those behaviours killed
//! against a mock that speaks v2 alone.

use std::collections::BTreeSet;
use std::time::Duration;

use joblet_conformance::embedded::Embedded;
use joblet_conformance::explore::admin::Admin;
use joblet_conformance::explore::clock::TimeSource;
use joblet_conformance::explore::driver::{self, ExploreConfig, ExploreResult};
use joblet_conformance::explore::explore;
use joblet_mock::{ClockMode, MockConfig, Mutant};
use joblet_testkit::contract::Api;

use super::explore::{explore_each, kill_table, runtime};

/// The test mocks' metrics interval: short, so that a job has several
/// samples within a sequence.
const INTERVAL: Duration = Duration::from_millis(100);

/// The v2 mutants of the behaviours the v2 operations judge.
const FAMILIES: &[&str] = &["JOB-METRICS-", "JOB-TELEM-", "RT-BUILD-", "RT-YAML-"];

/// Of those, how many the budget below kills at least: measured 2026-12-06.
const KILLED_AT_LEAST: usize = 15;

/// Explores an embedded mock of `mock` over its plaintext listener (the
/// admin), with builds allowed.
async fn explore_v2(mut mock: MockConfig, mut config: ExploreConfig) -> ExploreResult {
    if matches!(config.time, TimeSource::Mock { .. }) {
        mock.clock = ClockMode::Manual;
    }
    config.contracts = mock.api;
    let embedded = Embedded::start(mock)
        .await
        .expect("the embedded mock starts");
    config.admin = Admin {
        installs: true,
        ..Admin::default()
    };
    let channel = embedded.targets.main.connect().await.expect("connects");
    let result = explore(channel, &config).await;
    embedded.shutdown().await;
    result
}

fn budget(sequences: usize, parallel: usize, v1: bool) -> ExploreConfig {
    ExploreConfig {
        seed: 1,
        steps: 50,
        sequences,
        parallel,
        run_id: "explv2".into(),
        // On the mock's manual clock, which the explorer moves.
        grace: Duration::from_millis(100),
        time: TimeSource::MOCK,
        v2_ops: true,
        v1_ops: v1,
        ..ExploreConfig::default()
    }
}

fn mock(api: Api, mutant: Option<Mutant>) -> MockConfig {
    MockConfig {
        api,
        mutant,
        metrics_interval: INTERVAL,
        ..MockConfig::default()
    }
}

#[test]
fn explore_v2_telemetry_finds_nothing_against_the_documented_mock() {
    let result = runtime().block_on(explore_v2(mock(Api::Both, None), budget(100, 8, true)));
    if let Some(f) = &result.finding {
        panic!("a false alarm:\n{}", driver::show_finding(f, 50));
    }
    println!("{}", driver::show_coverage(&result));
    assert_eq!(result.sequences, 100);
    assert!(result.errors.is_empty(), "{:?}", result.errors);
    assert!(result.leaks.is_empty(), "{:?}", result.leaks);
    for id in [
        "JOB-RUN-11",
        "JOB-METRICS-1",
        "JOB-METRICS-2",
        "JOB-METRICS-3",
        "JOB-TELEM-1",
        "JOB-TELEM-2",
        "JOB-TELEM-3",
        "JOB-TELEM-4",
        "RT-YAML-1",
        "RT-YAML-2",
        "RT-YAML-3",
        "RT-BUILD-1",
        "RT-BUILD-2",
        "RT-BUILD-3",
        "RT-BUILD-4",
        "RT-BUILD-5",
        "RT-LIST-2",
    ] {
        assert!(
            result.ids.contains_key(id),
            "{id} never exercised:\n{}",
            driver::show_coverage(&result)
        );
    }
    let states: BTreeSet<&str> = result
        .pairs
        .keys()
        .filter(|(c, _)| c == "StreamJobMetrics" || c == "StreamJobTelematics")
        .map(|(_, s)| s.as_str())
        .collect();
    for state in [
        "RUNNING",
        "COMPLETED",
        "SCHEDULED",
        "UNKNOWN ID",
        "EMPTY ID",
    ] {
        assert!(
            states.iter().any(|s| s.split('|').any(|p| p == state)),
            "no stream of a job {state}: {states:?}\n{}",
            driver::show_coverage(&result)
        );
    }
}

#[test]
fn explore_kills_the_v2_telemetry_and_build_mutants() {
    let rt = runtime();
    let list: Vec<Mutant> = joblet_conformance::mutants::v2_mutants()
        .into_iter()
        .filter(|m| FAMILIES.iter().any(|f| m.behaviour().starts_with(f)))
        .collect();
    let begin = std::time::Instant::now();
    // The unmutated node of v2 alone first: the budget finds nothing there.
    let clean = rt.block_on(explore_v2(mock(Api::V2, None), budget(12, 3, false)));
    if let Some(f) = &clean.finding {
        panic!(
            "a false alarm on a node of v2 alone:\n{}",
            driver::show_finding(f, 50)
        );
    }
    assert!(
        clean.errors.is_empty() && clean.leaks.is_empty(),
        "{clean:?}"
    );
    let rows = explore_each(&list, 4, |m| async move {
        let r = explore_v2(mock(Api::V2, Some(m)), budget(12, 3, false)).await;
        let shown = r
            .finding
            .as_ref()
            .map(|f| driver::show_finding(f, 50))
            .unwrap_or_default();
        // Killed for its behaviour: the disagreeing answer was judged
        // against the behaviour the mutant breaks.
        let calls = r
            .finding
            .filter(|f| f.ids().contains(&m.behaviour()))
            .map(|f| f.calls());
        (calls, shown)
    });
    for (_, (_, shown)) in &rows {
        println!("{shown}");
    }
    let rows: Vec<(Mutant, Option<usize>)> = rows.into_iter().map(|(m, (c, _))| (m, c)).collect();
    let (killed, table) = kill_table(&rows, &[]);
    println!("in {:.1} s", begin.elapsed().as_secs_f64());
    assert!(
        killed >= KILLED_AT_LEAST,
        "killed {killed}/{}:\n{table}",
        rows.len()
    );
}
