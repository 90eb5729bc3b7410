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
fn a_failing_threshold_exits_3_and_an_unknown_metric_is_a_usage_error() {
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
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
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
    let o = loadgen(&[
        "submit",
        "--ca",
        "/nonexistent/ca.pem",
        "--cert",
        "/nonexistent/c.pem",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--key"),
        "{}",
        text(&o)
    );
    // --ca alone is server-only TLS: it needs a target.
    let o = loadgen(&["submit", "--ca", "/nonexistent/ca.pem"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("server-only TLS"),
        "{}",
        text(&o)
    );
    let o = loadgen(&["mix", "/nonexistent/plan.yaml"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("/nonexistent/plan.yaml"),
        "{}",
        text(&o)
    );
    // Values clap accepts but the run cannot: usage errors naming the flag,
    // before anything is sent.
    for (args, flag) in [
        (&["logs", "--concurrency", "0"][..], "--concurrency"),
        (&["submit", "--concurrency", "0"][..], "--concurrency"),
        (&["submit", "--rate", "0"][..], "--rate"),
        (&["lifecycle", "--rate", "0"][..], "--rate"),
        (&["submit", "--h2-max-frame", "1KiB"][..], "--h2-max-frame"),
        (&["submit", "--metadata", "novalue"][..], "--metadata"),
        (
            &["submit", "--threshold", "submit.p99<<5ms"][..],
            "submit.p99<<5ms",
        ),
        (&["submit", "--threshold", "logs.mbps>5"][..], "logs"),
        (&["submit", "--connections", "0"][..], "--connections"),
        (
            &["submit", "--json", "/nonexistent-dir/r.json"][..],
            "--json",
        ),
        (
            &["submit", "--html", "/nonexistent-dir/r.html"][..],
            "--html",
        ),
        (&["submit", "--json", "/tmp"][..], "is a directory"),
        (
            &["submit", "--worker-index", "2", "--worker-count", "2"][..],
            "--worker-index",
        ),
    ] {
        let o = loadgen(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(flag),
            "{args:?} names {flag}: {}",
            text(&o)
        );
    }
    let o = loadgen(&["submit", "--duration", "10 parsecs"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = loadgen(&["--help"]);
    let help = String::from_utf8_lossy(&o.stdout);
    for s in [
        "submit",
        "lifecycle",
        "logs",
        "mix",
        "capacity",
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

/// A real SIGINT to the binary: it stops issuing, deletes the run's jobs,
/// prints the table, writes the report marked interrupted and exits 130.
#[test]
fn sigint_stops_the_binary_cleanly_and_it_still_reports() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;

    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("int.json");
    let mut child = Command::new(BIN)
        .args([
            "submit",
            "--duration",
            "10m",
            "--concurrency",
            "4",
            "--interval",
            "100ms",
            "--progress",
            "plain",
            "--json",
            path(&json),
        ])
        .env_remove("JOBLET_HOST")
        .env_remove("JOBLET_NODE")
        .env_remove("JOB_COMPLETION_INDEX")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once a progress line shows requests were answered.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            panic!("the binary ended before any progress:\n{seen}");
        }
        seen.push_str(&line);
        if line.starts_with('[') && !line.contains("] 0 req") {
            break;
        }
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let all = format!(
        "status {:?}\nstdout:\n{stdout}\nstderr:\n{seen}{rest}",
        out.status.code()
    );
    assert_eq!(out.status.code(), Some(130), "{all}");
    assert!(rest.contains("stopping: no new requests"), "{all}");
    assert!(stdout.contains("submit"), "the table is printed: {all}");
    let r = joblet_loadgen::report::json::read(&json).unwrap();
    assert!(r.interrupted, "{all}");
    let c = &r.cleanup;
    assert!(c.created > 0, "{all}");
    assert_eq!(c.created, r.operations["submit"].ok, "{all}");
    assert_eq!((c.deleted, c.failed), (c.created, 0), "{all}");
}

#[test]
fn capacity_exits_by_its_outcome_and_writes_a_valid_report() {
    let dir = tempfile::tempdir().unwrap();
    let (json, html) = (dir.path().join("c.json"), dir.path().join("c.html"));
    let quick = [
        "--start-rate",
        "20",
        "--max-rate",
        "40",
        "--step-duration",
        "300ms",
        "--warmup",
        "0s",
        "--confirm",
        "1",
        "--progress",
        "off",
    ];
    // Every rate up to --max-rate meets the SLO: exit 0, a lower bound.
    let mut args = vec!["capacity", "--slo", "errors<50%", "--json", path(&json)];
    args.extend(["--html", path(&html)]);
    args.extend(quick);
    let o = loadgen(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("every rate up to 40/s"), "{}", text(&o));
    assert!(out.contains("step-up"), "{}", text(&o));
    let v = loadgen(&["validate-report", path(&json)]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    assert!(String::from_utf8_lossy(&v.stdout).contains("valid (capacity search)"));
    assert!(
        std::fs::read_to_string(&html)
            .unwrap()
            .contains("id=\"chart\"")
    );
    // merge takes run reports only, and says why.
    let m = loadgen(&["merge", path(&json)]);
    assert_ne!(m.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&m.stderr).contains("capacity"),
        "{}",
        text(&m)
    );

    // Not even the first rate meets the SLO: exit 3.
    let mut args = vec!["capacity", "--slo", "submit.p99<1us"];
    args.extend(quick);
    let o = loadgen(&args);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("not even 20/s"));

    // Bad rules and settings are usage errors naming the flag.
    for (args, want) in [
        (vec!["capacity", "--slo", "submit.p98<5ms"], "--slo"),
        (
            vec!["capacity", "--slo", "logs.mbps>1"],
            "no logs operation",
        ),
        (
            vec!["capacity", "--slo", "errors<1%", "--growth", "1"],
            "--growth",
        ),
        (
            vec!["capacity", "--slo", "errors<1%", "--max-rate", "10"],
            "--max-rate",
        ),
    ] {
        let o = loadgen(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(want),
            "{args:?}: {}",
            text(&o)
        );
    }
}

#[test]
fn sigint_stops_a_capacity_search_and_it_still_reports() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;

    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("cap.json");
    let mut child = Command::new(BIN)
        .args([
            "capacity",
            "--slo",
            "errors<50%",
            "--start-rate",
            "20",
            "--step-duration",
            "1s",
            "--warmup",
            "0s",
            "--json",
            path(&json),
        ])
        .env_remove("JOBLET_HOST")
        .env_remove("JOBLET_NODE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once the first step has ended.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            panic!("the binary ended before a step:\n{seen}");
        }
        seen.push_str(&line);
        if line.starts_with("step 1 ") {
            break;
        }
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let all = format!(
        "status {:?}\nstdout:\n{stdout}\nstderr:\n{seen}",
        out.status.code()
    );
    assert_eq!(out.status.code(), Some(130), "{all}");
    assert!(stdout.contains("interrupted after"), "{all}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(r["result"]["outcome"], "interrupted", "{all}");
    assert_eq!(r["cleanup"]["failed"], 0, "{all}");
    assert!(joblet_loadgen::report::json::violations(&r).is_empty());
}
