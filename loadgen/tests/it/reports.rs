//! The report formats: JSON against the schema, exact merging, the HDR
//! interval log, the HTML page and threshold verdicts on real runs.

use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use joblet_loadgen::merge::{MergeError, merge};
use joblet_loadgen::plan::{Action, JobSpec, Load};
use joblet_loadgen::report::{self, Report};
use joblet_loadgen::transport::Rpc;
use joblet_loadgen::{stats, threshold};

use crate::support::{config, plan, run_checked};

fn small_run(requests: u64) -> Report {
    run_checked(&config(
        plan(
            "submit",
            Action::Call(Rpc::RunJob),
            JobSpec::true_job(),
            Load::Rate(4000.0),
            requests,
        ),
        vec![],
    ))
}

#[test]
fn merged_percentiles_are_those_of_all_samples_together() {
    let (a, b, c) = (small_run(150), small_run(60), small_run(90));
    let merged = merge(&[a.clone(), b.clone(), c.clone()]).unwrap();
    let mut all = stats::histogram();
    for r in [&a, &b, &c] {
        stats::add(
            &mut all,
            &stats::decode(&r.operations["submit"].histogram).unwrap(),
        );
    }
    let m = &merged.operations["submit"];
    assert_eq!(m.count, 300);
    assert_eq!(m.latency_ms, report::Percentiles::of_micros(&all));
    assert_eq!(
        m.rate_per_s,
        a.operations["submit"].rate_per_s
            + b.operations["submit"].rate_per_s
            + c.operations["submit"].rate_per_s
    );
    let series_total: u64 = merged.timeseries["submit"].iter().map(|p| p.count).sum();
    assert_eq!(series_total, 300);
    assert_eq!(merged.cleanup.created, 300);
    crate::support::assert_valid(&merged);
}

#[test]
fn merge_refuses_a_report_given_twice_or_different_scenarios() {
    let a = small_run(10);
    assert!(
        matches!(merge(&[a.clone(), a.clone()]), Err(MergeError::Mismatch(m)) if m.contains("twice"))
    );
    let mut other = small_run(10);
    other.scenario = "logs".into();
    assert!(matches!(merge(&[a, other]), Err(MergeError::Mismatch(m)) if m.contains("scenarios")));
    assert!(matches!(merge(&[]), Err(MergeError::Empty)));
}

#[test]
fn the_hdr_log_is_a_standard_interval_log_of_every_sample() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.hlog");
    let mut c = config(
        plan(
            "submit",
            Action::Call(Rpc::RunJob),
            JobSpec::true_job(),
            Load::Rate(4000.0),
            250,
        ),
        vec![],
    );
    c.hdr_log = Some(path.clone());
    run_checked(&c);
    let text = std::fs::read(&path).unwrap();
    let mut corrected = 0;
    let mut uncorrected = 0;
    let mut saw_start_time = false;
    for entry in IntervalLogIterator::new(&text) {
        match entry.expect("every line parses") {
            LogEntry::StartTime(_) => saw_start_time = true,
            LogEntry::BaseTime(_) => {}
            LogEntry::Interval(h) => {
                let decoded = stats::decode(h.encoded_histogram()).unwrap();
                match h.tag().map(|t| t.as_str()) {
                    Some("submit") => corrected += decoded.len(),
                    Some("submit-uncorrected") => uncorrected += decoded.len(),
                    other => panic!("unexpected tag {other:?}"),
                }
            }
        }
    }
    assert!(saw_start_time);
    assert_eq!((corrected, uncorrected), (250, 250));
}

#[test]
fn the_html_page_needs_no_network_and_carries_the_charts() {
    let r = small_run(40);
    let page = report::html::render(&r);
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(
        page.contains("var uPlot="),
        "the plotting library is inlined"
    );
    assert!(page.contains("MIT License"), "with its licence");
    for id in ["id=\"dist\"", "id=\"rate\"", "id=\"lat\"", "id=\"server\""] {
        assert!(page.contains(id), "{id}");
    }
    for external in ["src=\"http", "href=\"http", "<link ", "@import"] {
        assert!(!page.contains(external), "no external resource: {external}");
    }
    assert!(page.contains("\"distribution\":[{"), "the data is inlined");
}

#[test]
fn thresholds_pass_and_fail_on_real_figures() {
    let r = small_run(50);
    let rules: Vec<_> = [
        "submit.p99<1h",
        "errors<0.1%",
        "count>=50",
        "submit.count<50",
        "submit.rate>1000000",
    ]
    .iter()
    .map(|s| threshold::parse(s).unwrap())
    .collect();
    let verdicts = threshold::evaluate(&rules, &r);
    let passes: Vec<bool> = verdicts.iter().map(|v| v.pass).collect();
    assert_eq!(passes, [true, true, true, false, false], "{verdicts:#?}");
    assert!(
        verdicts[3].detail.contains("measured 50"),
        "{}",
        verdicts[3].detail
    );
}

#[test]
fn the_table_names_every_figure_that_matters() {
    let r = small_run(20);
    let t = report::table::render(&r);
    for want in [
        "submit",
        "uncorrected",
        "errors: 0 of 20",
        "jobs: 20 created, 20 deleted",
        "generator:",
    ] {
        assert!(t.contains(want), "{want:?} in\n{t}");
    }
}
