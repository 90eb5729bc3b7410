//! `capacity` against mocks whose capacity is known: a fault rule serves
//! RunJob with a fixed service time and at most K calls at once, so the
//! node takes K calls per service time and its latency climbs past that.

use std::time::Duration;

use joblet_loadgen::capacity::search::Settings;
use joblet_loadgen::capacity::{CapacityConfig, capacity};
use joblet_loadgen::plan::{Action, JobSpec, Load, Plan};
use joblet_loadgen::report::capacity::CapacityReport;
use joblet_loadgen::report::{capacity_html, json};
use joblet_loadgen::run::{ProgressMode, Stop};
use joblet_loadgen::threshold;
use joblet_loadgen::transport::Rpc;
use joblet_mock::faults::parse_rule;
use joblet_mock::{MockConfig, MockServer};

use crate::support::{Mock, config};

fn submit() -> Plan {
    Plan::single(
        "submit",
        Action::Call(Rpc::RunJob),
        JobSpec::true_job(),
        Load::Rate(1.0),
        Some(Duration::from_secs(1)),
        None,
    )
    .unwrap()
}

/// A mock whose RunJob holds `k` calls at once for `service` each: `k` calls
/// per `service`.
fn mock_of_capacity(k: u32, service: &str) -> Mock {
    let rule = parse_rule(&format!("RunJob:delay={service}:concurrency={k}")).unwrap();
    Mock::start_with(MockServer::builder().config(MockConfig {
        faults: vec![rule],
        ..MockConfig::default()
    }))
}

/// The report, through its JSON, matches the schema and reads back equal.
fn assert_valid(r: &CapacityReport) {
    let value = serde_json::to_value(r).unwrap();
    let problems = json::violations(&value);
    assert!(problems.is_empty(), "schema violations: {problems:#?}");
    let back: CapacityReport = serde_json::from_value(value).unwrap();
    assert_eq!(&back, r);
}

/// A quiet search of the submit plan against `targets` under `slo`, from
/// `start` to `max` per second doubling, with no warm-up, steps of `step`
/// and the generator lag limit `max_lag` (`None`: the default).
fn search(
    targets: Vec<joblet_loadgen::run::TargetSpec>,
    slo: &str,
    (start, max): (f64, f64),
    step: Duration,
    max_lag: Option<Duration>,
) -> CapacityConfig {
    let mut base = config(submit(), targets);
    base.progress = ProgressMode::Off;
    CapacityConfig {
        base,
        slo: vec![threshold::parse(slo).unwrap()],
        search: Settings {
            start,
            max,
            growth: 2.0,
            precision: 0.05,
            confirm: 1,
        },
        warmup: Duration::ZERO,
        step,
        max_generator_lag: max_lag,
        progress: false,
    }
}

#[test]
fn the_search_lands_within_its_precision_of_a_known_capacity() {
    // Two nodes sharing the load equally, each 10 calls at once for 100 ms:
    // 100 calls/s each, 200/s together. Past it their queues grow and p99
    // climbs through the 200 ms limit.
    let (a, b) = (mock_of_capacity(10, "100ms"), mock_of_capacity(10, "100ms"));
    let mut base = config(submit(), vec![a.target(), b.target()]);
    base.progress = ProgressMode::Off;
    let precision = 0.02;
    let cfg = CapacityConfig {
        base,
        slo: vec![
            threshold::parse("submit.p99<200ms").unwrap(),
            threshold::parse("errors<0.1%").unwrap(),
        ],
        search: Settings {
            start: 100.0,
            max: 1000.0,
            growth: 2.0,
            precision,
            confirm: 1,
        },
        warmup: Duration::from_millis(500),
        step: Duration::from_secs(2),
        // Half the latency limit (the default is a quarter): the test binary
        // runs its other tests alongside on a shared machine, and a debug
        // generator that starts a call 50 ms late at 250/s is not the node.
        max_generator_lag: Some(Duration::from_millis(100)),
        progress: false,
    };
    let r = capacity(&cfg, &Stop::new()).expect("the search runs");
    assert_valid(&r);
    eprintln!("{}", r.result.summary);
    assert_eq!(r.result.outcome, "found", "{}", r.result.summary);
    let found = r.result.capacity_per_s.unwrap();
    let known = 200.0;
    assert!(
        (found - known).abs() <= 0.05 * known,
        "found {found}/s for a node of {known}/s: {}",
        r.result.summary
    );
    let (pass, fail) = (
        r.result.highest_pass_per_s.unwrap(),
        r.result.lowest_fail_per_s.unwrap(),
    );
    assert!(fail > pass && fail - pass <= precision * pass + 1e-9);
    // Every step is in the report, the step-up first.
    assert_eq!(r.steps[0].phase, "step-up");
    assert_eq!(r.steps[0].rate_per_s, 100.0);
    assert!(r.steps.iter().any(|s| s.phase == "bisect"));
    assert!(r.steps.iter().all(|s| s.operations.contains_key("submit")));
    assert!(r.steps.iter().all(|s| s.slo.len() == 2));
    // Each step deleted its jobs.
    assert_eq!(r.cleanup.failed, 0);
    assert_eq!(r.cleanup.created, r.cleanup.deleted);
    assert!(a.jobs().is_empty() && b.jobs().is_empty());
    assert_eq!(r.parameters.targets.len(), 2);
    // The page draws the chart with the SLO line and the knee.
    let page = capacity_html::render(&r);
    assert!(
        page.contains("uPlot") && page.contains("\"knee\":"),
        "chart data"
    );
    assert!(page.contains("submit.p99<200ms"));
    let table = joblet_loadgen::report::capacity::render_table(&r);
    assert!(table.contains("capacity: "), "{table}");
}

#[test]
fn a_rate_the_generator_cannot_drive_is_never_the_nodes_capacity() {
    // A generator lag limit no generator meets, and an SLO no node meets:
    // the first step fails while the generator is late, so it is the
    // generator's limit, and the search says so instead of a figure.
    let mock = Mock::start();
    let cfg = search(
        vec![mock.target()],
        "submit.p50<1us",
        (2000.0, 4000.0),
        Duration::from_millis(500),
        Some(Duration::from_nanos(1)),
    );
    let r = capacity(&cfg, &Stop::new()).unwrap();
    assert_valid(&r);
    assert_eq!(
        r.result.outcome, "generator_limited",
        "{}",
        r.result.summary
    );
    assert_eq!(r.result.capacity_per_s, None);
    assert_eq!(r.result.generator_limit_per_s, Some(2000.0));
    assert_eq!(r.steps[0].verdict, "generator-limited");
    assert!(r.steps[0].note.as_deref().unwrap().contains("start lag"));
}

#[test]
fn a_pass_stands_when_the_generator_was_late() {
    // The same impossible lag limit, an SLO every step meets: the lateness
    // is in the latency the SLO judged, so the steps pass, with a note.
    let mock = Mock::start();
    let cfg = search(
        vec![mock.target()],
        "errors<1%",
        (1000.0, 2000.0),
        Duration::from_millis(500),
        Some(Duration::from_nanos(1)),
    );
    let r = capacity(&cfg, &Stop::new()).unwrap();
    assert_valid(&r);
    assert_eq!(r.result.outcome, "above_max", "{}", r.result.summary);
    assert!(r.steps.iter().all(|s| s.verdict == "pass"));
    assert!(
        r.steps[0]
            .note
            .as_deref()
            .unwrap()
            .contains("passed although")
    );
}

/// GetSystemStatus calls `mock` received: the contract detection's first
/// call (nothing else in a run asks for it).
fn status_calls(mock: &Mock) -> usize {
    mock.running()
        .received_calls()
        .iter()
        .filter(|c| c.method.ends_with("/GetSystemStatus"))
        .count()
}

#[test]
fn a_search_detects_the_contract_once_for_all_its_steps() {
    // Three steps (20, 40, 80/s, all passing) on two nodes: each node is
    // asked what it speaks once, by the first step; the others reuse it.
    let (a, b) = (Mock::start(), Mock::start());
    let cfg = search(
        vec![a.target(), b.target()],
        "errors<50%",
        (20.0, 80.0),
        Duration::from_millis(200),
        None,
    );
    let r = capacity(&cfg, &Stop::new()).unwrap();
    assert_valid(&r);
    assert_eq!(r.steps.len(), 3, "{}", r.result.summary);
    assert!(a.run_job_calls() > 0 && b.run_job_calls() > 0);
    assert_eq!((status_calls(&a), status_calls(&b)), (1, 1));
    let contract = r.contract.expect("the contract the first step found");
    assert_eq!(contract.detected, "both");
}
