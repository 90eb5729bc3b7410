//! The `joblet-conformance` binary end to end, against mocks on ephemeral
//! loopback ports: over mutual TLS with roles, from an rnx-config, read-only
//! over plaintext, against a broken endpoint, and with bad flags.

use std::path::Path;
use std::process::{Command, Output};

use joblet_conformance::cases::catalogue;
use joblet_conformance::report::JsonReport;
use joblet_conformance::{Effect, State};
use joblet_mock::{MockConfig, MockServer, Mutant, RunningMock, TlsSetup};
use joblet_testkit::pb;

struct Mock {
    rt: tokio::runtime::Runtime,
    mock: Option<RunningMock>,
    dir: tempfile::TempDir,
}

impl Mock {
    fn start(config: MockConfig) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let certs = dir.path().join("certs");
        let mock = rt
            .block_on(
                MockServer::builder()
                    .config(MockConfig { gpus: 2, ..config })
                    .tls(TlsSetup::Generate(certs))
                    .start(),
            )
            .expect("mock starts");
        Self {
            rt,
            mock: Some(mock),
            dir,
        }
    }

    fn mock(&self) -> &RunningMock {
        self.mock.as_ref().expect("running")
    }

    fn plain(&self) -> String {
        self.mock().addr().to_string()
    }

    fn tls(&self) -> String {
        self.mock().tls_addr().expect("tls").to_string()
    }

    fn cert(&self, name: &str) -> String {
        self.dir
            .path()
            .join("certs")
            .join(name)
            .display()
            .to_string()
    }

    fn file(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        if let Some(m) = self.mock.take() {
            let _ = self.rt.block_on(m.shutdown());
        }
    }
}

fn conformance(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_joblet-conformance"))
        .args(args)
        .env_remove("JOBLET_HOST")
        .env_remove("JOBLET_PORT")
        .env_remove("JOBLET_CA_CERT_PATH")
        .env_remove("JOBLET_CLIENT_CERT_PATH")
        .env_remove("JOBLET_CLIENT_KEY_PATH")
        .env_remove("JOBLET_NODE")
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

fn report(path: &str) -> JsonReport {
    JsonReport::parse(&std::fs::read_to_string(path).expect("the JSON report was written"))
        .expect("a JSON report")
}

#[test]
fn list_prints_one_line_per_case() {
    let out = conformance(&["--list"]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), catalogue().len(), "{stdout}");
    for (line, case) in lines.iter().zip(catalogue()) {
        assert!(
            line.starts_with(case.name) && line.contains(case.ids[0]),
            "{line}"
        );
        assert!(line.contains("MUST") || line.contains("SHOULD"), "{line}");
        assert!(
            line.contains("read-only") || line.contains("mutating"),
            "{line}"
        );
    }
    let ro = conformance(&["--list", "--read-only"]);
    let count = String::from_utf8_lossy(&ro.stdout).lines().count();
    assert_eq!(
        count,
        catalogue()
            .iter()
            .filter(|c| c.effect == Effect::ReadOnly)
            .count()
    );
}

#[test]
fn certifies_a_mutual_tls_node_with_viewer_and_no_role_identities() {
    let m = Mock::start(MockConfig::default());
    let (json, junit) = (m.file("report.json"), m.file("junit.xml"));
    // A certificate whose OU is reader (AUTH-6), of the mock's CA.
    m.mock()
        .certs()
        .expect("generated certificates")
        .issue_client("reader", "reader-client", &["reader"])
        .expect("a reader certificate");
    let out = conformance(&[
        "--target",
        &m.tls(),
        "--ca",
        &m.cert("ca.pem"),
        "--cert",
        &m.cert("admin.pem"),
        "--key",
        &m.cert("admin-key.pem"),
        "--viewer-cert",
        &m.cert("viewer.pem"),
        "--viewer-key",
        &m.cert("viewer-key.pem"),
        "--no-role-cert",
        &m.cert("norole.pem"),
        "--no-role-key",
        &m.cert("norole-key.pem"),
        "--reader-cert",
        &m.cert("reader.pem"),
        "--reader-key",
        &m.cert("reader-key.pem"),
        "--allow-delete-all",
        "--allow-remote-installs",
        "--json",
        &json,
        "--junit",
        &junit,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let r = report(&json);
    assert!(r.run.tls && r.summary.passed, "{}", text(&out));
    // Only AUTH-1 (plaintext mode) cannot run over TLS.
    let skipped: Vec<&str> = r
        .run
        .outcomes
        .iter()
        .filter(|o| o.state == State::Skip)
        .map(|o| o.case.as_str())
        .collect();
    assert_eq!(skipped, ["auth.plaintext.every_caller_is_admin"]);
    assert_eq!(r.summary.pass, catalogue().len() - 1);
    let xml = std::fs::read_to_string(&junit).expect("JUnit written");
    assert!(
        xml.starts_with("<?xml")
            && xml.contains("<testsuites name=\"joblet-conformance\"")
            && xml.contains("<skipped"),
        "{xml}"
    );
    assert_eq!(xml.matches("<testcase ").count(), catalogue().len());
}

#[test]
fn rnx_config_nodes_select_the_identities() {
    let m = Mock::start(MockConfig::default());
    let json = m.file("report.json");
    let out = conformance(&[
        "--rnx-config",
        &m.cert("rnx-config.yml"),
        "--node",
        "default",
        "--viewer-node",
        "viewer",
        "--no-role-node",
        "norole",
        "--focus",
        "auth.*",
        "--json",
        &json,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let r = report(&json);
    let states: Vec<(String, State)> = r
        .run
        .outcomes
        .iter()
        .map(|o| (o.case.clone(), o.state))
        .collect();
    // No --reader-node: AUTH-6's reader case is skipped, saying how to give one.
    let reader = "auth.roles.v2_reader_certificate_is_viewer";
    assert!(
        states
            .iter()
            .filter(|(c, _)| c != "auth.plaintext.every_caller_is_admin" && c != reader)
            .all(|(_, s)| *s == State::Pass),
        "{states:?}"
    );
    let skipped = r
        .run
        .outcomes
        .iter()
        .find(|o| o.case == reader)
        .expect("the reader case");
    assert_eq!(skipped.state, State::Skip);
    assert!(
        skipped.message.as_deref().is_some_and(
            |m| m.contains("--reader-node NAME or --reader-cert FILE --reader-key FILE")
        ),
        "{skipped:?}"
    );
    assert_eq!(r.run.target, m.tls());
}

#[test]
fn read_only_over_plaintext_creates_nothing() {
    let m = Mock::start(MockConfig::default());
    let json = m.file("report.json");
    let out = conformance(&["--target", &m.plain(), "--read-only", "--json", &json]);
    assert!(out.status.success(), "{}", text(&out));
    let r = report(&json);
    assert!(r.run.outcomes.iter().all(|o| o.effect == Effect::ReadOnly));
    assert_eq!(
        r.run.outcomes.len(),
        catalogue()
            .iter()
            .filter(|c| c.effect == Effect::ReadOnly)
            .count()
    );
    // Nothing was created: no job, no network but the built-in, no volume, and
    // only the catalogue's runtimes; no call but reads was made.
    let url = m.mock().url();
    m.rt.block_on(async {
        let ch = tonic::transport::Endpoint::from_shared(url)
            .unwrap()
            .connect()
            .await
            .unwrap();
        let jobs = pb::job_service_client::JobServiceClient::new(ch.clone())
            .list_jobs(pb::EmptyRequest {})
            .await
            .unwrap()
            .into_inner();
        assert!(jobs.jobs.is_empty(), "{:?}", jobs.jobs);
        let nets = pb::network_service_client::NetworkServiceClient::new(ch.clone())
            .list_networks(pb::EmptyRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(nets.networks.len(), 1, "{:?}", nets.networks);
        let vols = pb::volume_service_client::VolumeServiceClient::new(ch.clone())
            .list_volumes(pb::EmptyRequest {})
            .await
            .unwrap()
            .into_inner();
        assert!(vols.volumes.is_empty());
        let wfs = pb::job_service_client::JobServiceClient::new(ch)
            .list_workflows(pb::ListWorkflowsRequest {
                include_completed: true,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(wfs.workflows.is_empty());
    });
    let writes = [
        "RunJob",
        "Stop",
        "Delete",
        "Create",
        "Remove",
        "Install",
        "Cancel",
        "RunWorkflow",
    ];
    let called: Vec<&String> = r
        .run
        .outcomes
        .iter()
        .flat_map(|o| &o.rpcs)
        .filter(|p| writes.iter().any(|w| p.contains(w)))
        .collect();
    assert!(called.is_empty(), "read-only cases called {called:?}");
}

#[test]
fn a_broken_endpoint_fails_the_run_and_rerun_failed_picks_it() {
    let broken = Mock::start(MockConfig {
        mutant: Some(Mutant::StopFinishedOk),
        ..MockConfig::default()
    });
    let json = broken.file("report.json");
    let out = conformance(&[
        "--target",
        &broken.plain(),
        "--focus",
        "jobs.stop.*",
        "--json",
        &json,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("FAIL  MUST   jobs.stop.finished_job_is_failed_precondition"),
        "{stdout}"
    );
    assert!(
        stdout.contains("expected: FAILED_PRECONDITION") && stdout.contains("got:      OK"),
        "{stdout}"
    );
    assert!(stdout.contains("NOT CONFORMANT"), "{stdout}");
    // --rerun-failed against a conformant node runs just that case, which passes.
    let good = Mock::start(MockConfig::default());
    let again = good.file("again.json");
    let out = conformance(&[
        "--target",
        &good.plain(),
        "--rerun-failed",
        &json,
        "--json",
        &again,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let names: Vec<String> = report(&again)
        .run
        .outcomes
        .iter()
        .map(|o| o.case.clone())
        .collect();
    assert_eq!(names, ["jobs.stop.finished_job_is_failed_precondition"]);
}

#[test]
fn an_unreachable_target_is_an_error_not_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json").display().to_string();
    let out = conformance(&[
        "--target",
        "127.0.0.1:1",
        "--focus",
        "jobs.status.*",
        "--json",
        &json,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let r = report(&json);
    assert!(
        r.run.outcomes.iter().all(|o| o.state == State::Error),
        "{:?}",
        r.run.outcomes
    );
    assert!(
        r.run.outcomes[0]
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("cannot connect to 127.0.0.1:1: transport error: tcp connect error")
    );
    // One line gives the reason, not one per case.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.matches("tcp connect error").count(),
        1,
        "{}",
        text(&out)
    );
    assert!(stdout.contains("ERROR every one of the"), "{}", text(&out));
}

#[test]
fn bad_flags_are_clear_errors() {
    let out = conformance(&["--target", "127.0.0.1:1", "--ca", "ca.pem"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--cert"),
        "{}",
        text(&out)
    );
    let out = conformance(&["--focus", "no.such.case"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no case matches"),
        "{}",
        text(&out)
    );
    let out = conformance(&["--case-timeout", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    // Deadlines of zero, and reports that could not be written at the end,
    // are refused before anything runs, naming the flag or the file.
    for (args, named) in [
        (&["--case-timeout", "0s"][..], "--case-timeout"),
        (&["--timeout", "0"][..], "--timeout"),
        (
            &["replay", "--call-timeout", "0ms", "t.jsonl"][..],
            "--call-timeout",
        ),
        (
            &[
                "--json",
                "/nonexistent-dir/r.json",
                "--focus",
                "jobs.stop.*",
            ][..],
            "/nonexistent-dir/r.json",
        ),
        (
            &[
                "--junit",
                "/nonexistent-dir/r.xml",
                "--focus",
                "jobs.stop.*",
            ][..],
            "/nonexistent-dir/r.xml",
        ),
    ] {
        let out = conformance(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(named),
            "{args:?} names {named}: {}",
            text(&out)
        );
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("cases against"),
            "{args:?} ran: {}",
            text(&out)
        );
    }
    let out = conformance(&["--viewer-cert", "v.pem", "--viewer-key", "v-key.pem"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(Path::new(env!("CARGO_BIN_EXE_joblet-conformance")).exists());
}
