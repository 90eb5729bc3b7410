//! The Kubernetes manifest of distributed runs (ci/k8s/loadgen.yaml) holds
//! together: an Indexed Job whose size matches the worker count it passes,
//! load flags and thresholds this binary accepts, and a merge step over the
//! workers' reports.

use clap::Parser;
use joblet_loadgen::cli::Cli;
use joblet_loadgen::threshold;
use serde::Deserialize;

fn docs() -> Vec<serde_norway::Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../ci/k8s/loadgen.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    serde_norway::Deserializer::from_str(&text)
        .map(|d| serde_norway::Value::deserialize(d).unwrap())
        .collect()
}

fn get<'a>(v: &'a serde_norway::Value, path: &[&str]) -> &'a serde_norway::Value {
    path.iter().fold(v, |v, k| &v[*k])
}

fn text(v: &serde_norway::Value) -> String {
    match v {
        serde_norway::Value::String(s) => s.clone(),
        other => serde_norway::to_string(other).unwrap().trim().to_owned(),
    }
}

#[test]
fn the_indexed_job_matches_its_worker_count_and_flags() {
    let docs = docs();
    let kind = |k: &str, name: &str| {
        docs.iter()
            .find(|d| text(&d["kind"]) == k && text(&d["metadata"]["name"]) == name)
            .unwrap_or_else(|| panic!("{k} {name}"))
    };
    let config = kind("ConfigMap", "joblet-loadgen");
    let workers = text(&config["data"]["WORKERS"]);
    let job = kind("Job", "joblet-loadgen");
    assert_eq!(text(get(job, &["spec", "completionMode"])), "Indexed");
    assert_eq!(text(get(job, &["spec", "completions"])), workers);
    assert_eq!(text(get(job, &["spec", "parallelism"])), workers);
    let container = &get(job, &["spec", "template", "spec", "containers"])[0];
    let args = text(&container["args"][0]);
    for flag in [
        "--worker-index \"$JOB_COMPLETION_INDEX\"",
        "--worker-count \"$WORKERS\"",
        "--json \"/results/worker-",
        "--start-at",
    ] {
        assert!(args.contains(flag), "{flag} in {args}");
    }
    // The load flags of the ConfigMap are accepted as the workers pass them.
    let scenario = text(&config["data"]["SCENARIO_ARGS"]);
    let targets = text(&config["data"]["TARGETS"]);
    let argv: Vec<String> = std::iter::once("joblet-loadgen".to_owned())
        .chain(scenario.split_whitespace().map(str::to_owned))
        .chain([
            "--target".into(),
            targets,
            "--worker-index".into(),
            "3".into(),
            "--worker-count".into(),
            workers,
        ])
        .collect();
    Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    let rules = text(&config["data"]["THRESHOLDS"]);
    for rule in rules
        .split("--threshold")
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        threshold::parse(rule).unwrap();
    }
    let merge = kind("Job", "joblet-loadgen-merge");
    let margs = text(&get(merge, &["spec", "template", "spec", "containers"])[0]["args"][0]);
    assert!(
        margs.contains("joblet-loadgen merge /results/worker-*.json"),
        "{margs}"
    );
    assert!(
        margs.contains("-lt \"$WORKERS\""),
        "waits for every worker: {margs}"
    );
}
