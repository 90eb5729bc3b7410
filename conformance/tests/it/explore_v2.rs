//! The explorer's v2-only operations (job metrics and telematics, runtime
//! YAML and builds): no false alarm against the documented mock, which
//! serves both contracts, and the v2 mutants of those behaviours killed
//! against a mock that speaks v2 alone.

use std::collections::BTreeSet;
use std::time::Duration;

use joblet_conformance::embedded::Embedded;
use joblet_conformance::explore::admin::Admin;
use joblet_conformance::explore::driver::{self, ExploreConfig, ExploreResult};
use joblet_conformance::explore::explore;
use joblet_mock::{MockConfig, Mutant};
use joblet_testkit::contract::Api;

/// The test mocks' metrics interval: short, so that a job has several
/// samples within a sequence.
const INTERVAL: Duration = Duration::from_millis(100);

/// The v2 mutants of the behaviours the v2 operations judge.
const FAMILIES: &[&str] = &["JOB-METRICS-", "JOB-TELEM-", "RT-BUILD-", "RT-YAML-"];

/// Of those, how many the budget below kills at least: measured 2026-12-06.
const KILLED_AT_LEAST: usize = 15;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Explores an embedded mock of `mock` over its plaintext listener (the
/// admin), with builds allowed.
async fn explore_v2(mock: MockConfig, mut config: ExploreConfig) -> ExploreResult {
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
        grace: Duration::from_secs(1),
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
    for state in ["RUNNING", "COMPLETED", "SCHEDULED", "UNKNOWN ID", "EMPTY ID"] {
        assert!(
            states.iter().any(|s| s.split('|').any(|p| p == state)),
            "no stream of a job {state}: {states:?}\n{}",
            driver::show_coverage(&result)
        );
    }
}
