//! The `joblet-loadgen` binary end to end: the embedded mock, mutual TLS
//! flags, outputs, thresholds and exit codes.

use std::path::Path;
use std::process::{Command, Output};

use joblet_mock::{MockServer, TlsSetup};

use crate::support::Mock;

const BIN: &str = env!("CARGO_BIN_EXE_joblet-loadgen");

fn loadgen(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("JOBLET_HOST")
        .env_remove("JOBLET_NODE")
        .env_remove("JOB_COMPLETION_INDEX")
        .output()
        .expect("the binary runs")
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn submit_against_the_embedded_mock_writes_valid_reports() {
    let dir = tempfile::tempdir().unwrap();
    let (json, html, hlog) = (
        dir.path().join("r.json"),
        dir.path().join("r.html"),
        dir.path().join("r.hlog"),
    );
    let o = loadgen(&[
        "submit",
        "--requests",
        "60",
        "--concurrency",
        "4",
        "--progress",
        "plain",
        "--json",
        path(&json),
        "--html",
        path(&html),
        "--hdr-log",
        path(&hlog),
        "--threshold",
        "submit.p99<1h",
        "--threshold",
        "errors<1%",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("submit") && out.contains("threshold submit.p99<1h: pass"),
        "{}",
        text(&o)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("embedded joblet-mock"));
    let v = loadgen(&["validate-report", path(&json)]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    assert!(std::fs::read_to_string(&html).unwrap().contains("uPlot"));
    assert!(
        std::fs::read_to_string(&hlog)
            .unwrap()
            .contains("Tag=submit,")
    );
}

#[test]
fn a_failing_threshold_exits_3_and_an_unknown_metric_is_an_error() {
    let o = loadgen(&[
        "submit",
        "--requests",
        "5",
        "-q",
        "--threshold",
        "submit.count>5",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let o = loadgen(&[
        "submit",
        "--requests",
        "5",
        "-q",
        "--threshold",
        "submit.p98<5ms",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("unknown metric"),
        "{}",
        text(&o)
    );
}

#[test]
fn mutual_tls_flags_reach_a_tls_node() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start_with(MockServer::builder().tls(TlsSetup::Generate(dir.path().into())));
    let addr = mock.running().tls_addr().unwrap().to_string();
    let json = dir.path().join("tls.json");
    let o = loadgen(&[
        "logs",
        "--requests",
        "3",
        "--bytes",
        "256KiB",
        "--target",
        &addr,
        "--ca",
        path(&dir.path().join("ca.pem")),
        "--cert",
        path(&dir.path().join("admin.pem")),
        "--key",
        path(&dir.path().join("admin-key.pem")),
        "--json",
        path(&json),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = joblet_loadgen::report::json::read(&json).unwrap();
    assert_eq!(r.operations["logs"].bytes, Some(3 * 256 * 1024));
    assert!(r.parameters.targets[0].tls);
    // The same node through its rnx-config.yml entry.
    let o = loadgen(&[
        "submit",
        "--requests",
        "3",
        "--node",
        "default",
        "-q",
        "--rnx-config",
        path(&dir.path().join("rnx-config.yml")),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn merge_combines_files_and_refuses_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for i in 0..2 {
        let f = dir.path().join(format!("w{i}.json"));
        let idx = i.to_string();
        let o = loadgen(&[
            "submit",
            "--requests",
            "21",
            "--worker-index",
            &idx,
            "--worker-count",
            "2",
            "--json",
            path(&f),
            "-q",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        files.push(f);
    }
    let merged = dir.path().join("m.json");
    let o = loadgen(&[
        "merge",
        path(&files[0]),
        path(&files[1]),
        "--json",
        path(&merged),
        "--threshold",
        "count>=21",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let m = joblet_loadgen::report::json::read(&merged).unwrap();
    assert_eq!(m.operations["submit"].count, 21);
    assert_eq!(m.workers.len(), 2);
    let o = loadgen(&["merge", path(&files[0]), path(&files[0])]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("appears twice"));
}

#[test]
fn bad_flags_get_clear_errors() {
    let o = loadgen(&["submit", "--rate", "5", "--concurrency", "3"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = loadgen(&["submit", "--ca", "/nonexistent/ca.pem"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--cert"),
        "{}",
        text(&o)
    );
    let o = loadgen(&["mix", "/nonexistent/plan.yaml"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let o = loadgen(&["submit", "--duration", "10 parsecs"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = loadgen(&["--help"]);
    let help = String::from_utf8_lossy(&o.stdout);
    for s in [
        "submit",
        "lifecycle",
        "logs",
        "mix",
        "merge",
        "validate-report",
    ] {
        assert!(help.contains(s), "{s} in --help");
    }
}

#[test]
fn validate_report_rejects_a_broken_report() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.json");
    std::fs::write(&f, r#"{"schema_version": 1, "scenario": "submit"}"#).unwrap();
    let o = loadgen(&["validate-report", path(&f)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not match the report schema"));
}
