//! The `joblet-mock` binary end to end: start on port 0, announce the address,
//! serve, stop cleanly on SIGTERM; refuse bad flags with a useful message.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use joblet_testkit::pb;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::support::*;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_joblet-mock");
/// How long the binary may take to start or to stop.
const BOUND: Duration = Duration::from_secs(10);

/// A running `joblet-mock` process; killed on drop if still alive.
pub(crate) struct MockProcess {
    child: Child,
    addr: String,
    /// The TLS address, when started with --tls-listen.
    tls_addr: Option<String>,
    stderr: Arc<Mutex<String>>,
}

impl MockProcess {
    /// Starts the binary on an ephemeral port and waits for its announcement.
    pub(crate) async fn start(extra: &[&str]) -> MockProcess {
        Self::start_with_env(extra, &[]).await
    }

    /// [`start`](Self::start) with extra environment variables.
    pub(crate) async fn start_with_env(extra: &[&str], envs: &[(&str, &str)]) -> MockProcess {
        let mut child = spawn_piped(
            Command::new(BIN)
                .args(["--listen", "127.0.0.1:0"])
                .args(extra)
                .env("RUST_LOG", "info"),
            envs,
            "spawn joblet-mock",
        );
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().expect("stderr piped");
        let sink = Arc::clone(&stderr);
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let stdout = child.stdout.take().expect("stdout piped");
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(BOUND, lines.next_line()).await;
        let line = match first {
            Ok(Ok(Some(line))) => line,
            other => panic!(
                "no announcement line from joblet-mock ({other:?}); stderr: {}",
                stderr.lock().unwrap()
            ),
        };
        // With --tls-listen, a second line announces the TLS address.
        let mut tls_addr = None;
        if extra.contains(&"--tls-listen") {
            let line = match tokio::time::timeout(BOUND, lines.next_line()).await {
                Ok(Ok(Some(line))) => line,
                other => panic!("no TLS announcement line from joblet-mock ({other:?})"),
            };
            let addr = line
                .strip_prefix("joblet-mock listening on tls ")
                .unwrap_or_else(|| panic!("unexpected second line {line:?}"));
            tls_addr = Some(addr.trim().to_string());
        }
        // Keep draining stdout so the process never blocks on it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let addr = line
            .strip_prefix("joblet-mock listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .trim()
            .to_string();
        let parsed: std::net::SocketAddr = addr.parse().expect("ADDR is a socket address");
        assert!(parsed.ip().is_loopback());
        assert_ne!(parsed.port(), 0, "the bound port is announced, not 0");
        MockProcess {
            child,
            addr,
            tls_addr,
            stderr,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `HOST:PORT` of the TLS listener (started with --tls-listen).
    pub(crate) fn tls_addr(&self) -> Option<&str> {
        self.tls_addr.as_deref()
    }

    /// Sends SIGTERM (through `kill`, as this crate forbids unsafe code).
    fn terminate(&self) {
        let pid = self.child.id().expect("still running");
        let ok = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(ok.success(), "kill -TERM {pid} failed");
    }

    /// Waits for the process to exit within [`BOUND`].
    async fn exit_status(&mut self) -> std::process::ExitStatus {
        match tokio::time::timeout(BOUND, self.child.wait()).await {
            Ok(status) => status.expect("wait for joblet-mock"),
            Err(_) => panic!(
                "joblet-mock did not exit within {BOUND:?}; stderr: {}",
                self.stderr.lock().unwrap()
            ),
        }
    }
}

impl Drop for MockProcess {
    fn drop(&mut self) {
        // Never leave a server behind, whatever the test did.
        let _ = self.child.start_kill();
        let _ = self.child.try_wait();
    }
}

#[tokio::test]
async fn e2e_binary_serves_a_job_and_exits_0_on_sigterm() {
    let mut mock = MockProcess::start(&[]).await;
    let mut jobs = jobs_at(&mock.url()).await;
    let r = run(&mut jobs, cmd("echo", &["hello from the binary"])).await;
    assert_eq!(r.status, "RUNNING");
    assert_eq!(
        logs_text(&mut jobs, &r.job_uuid).await,
        "hello from the binary\n"
    );
    assert_eq!(wait_final(&jobs, &r.job_uuid).await.status, "COMPLETED");
    let listed = jobs
        .list_jobs(pb::EmptyRequest {})
        .await
        .unwrap()
        .into_inner()
        .jobs;
    assert_eq!(listed.len(), 1);

    mock.terminate();
    let status = mock.exit_status().await;
    assert!(
        status.success(),
        "exit status {status:?}; stderr: {}",
        mock.stderr.lock().unwrap()
    );
}

/// `--seed N`: any seed starts the binary (the node ID derived from it used
/// to overflow for seeds of 2 and more in debug builds), and the same seed
/// gives the same node ID.
#[tokio::test]
async fn e2e_any_seed_gives_a_reproducible_node_id() {
    let mut node_ids = Vec::new();
    for seed in ["2", "18446744073709551615", "2"] {
        let mut mock = MockProcess::start(&["--seed", seed]).await;
        let mut jobs = jobs_at(&mock.url()).await;
        let r = run(&mut jobs, cmd("true", &[])).await;
        let status = wait_final(&jobs, &r.job_uuid).await;
        assert!(uuid::Uuid::parse_str(&status.node_id).is_ok(), "{status:?}");
        node_ids.push(status.node_id);
        mock.terminate();
        let exit = mock.exit_status().await;
        assert!(
            exit.success(),
            "--seed {seed}: {exit:?}; stderr: {}",
            mock.stderr.lock().unwrap()
        );
    }
    assert_eq!(node_ids[0], node_ids[2]);
    assert_ne!(node_ids[0], node_ids[1]);
}

/// ALL-3 and JOB-RUN-5 with a server that is not on UTC: job times carry the
/// server's offset, and an offset-less schedule is the server's local time.
#[tokio::test]
async fn e2e_all_3_job_times_carry_the_server_offset() {
    // Kolkata: +05:30 all year (no DST), as a POSIX TZ rule (no tzdata needed).
    let mut mock = MockProcess::start_with_env(&[], &[("TZ", "IST-5:30")]).await;
    let mut jobs = jobs_at(&mock.url()).await;
    let r = run(&mut jobs, cmd("echo", &["tz"])).await;
    assert!(r.start_time.ends_with("+05:30"), "{}", r.start_time);
    let st = wait_final(&jobs, &r.job_uuid).await;
    assert!(st.end_time.ends_with("+05:30"), "{}", st.end_time);
    let server_now =
        chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(19_800).unwrap());
    let due = server_now + chrono::Duration::seconds(3600);
    let naive = due.format("%Y-%m-%dT%H:%M:%S").to_string();
    let s = run(
        &mut jobs,
        pb::RunJobRequest {
            schedule: naive.clone(),
            ..cmd("echo", &["later"])
        },
    )
    .await;
    assert_eq!(s.status, "SCHEDULED");
    assert_eq!(
        s.scheduled_time,
        format!("{naive}+05:30"),
        "taken as the server's local time"
    );
    let utc = (chrono::Utc::now() + chrono::Duration::seconds(7200))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let s = run(
        &mut jobs,
        pb::RunJobRequest {
            schedule: utc.clone(),
            ..cmd("echo", &["later"])
        },
    )
    .await;
    let shown = chrono::DateTime::parse_from_rfc3339(&s.scheduled_time).unwrap();
    assert_eq!(
        shown.timestamp(),
        chrono::DateTime::parse_from_rfc3339(&utc)
            .unwrap()
            .timestamp()
    );
    assert_eq!(
        shown.offset().local_minus_utc(),
        19_800,
        "{}",
        s.scheduled_time
    );
    mock.terminate();
    assert!(mock.exit_status().await.success());
}

/// SIGTERM while clients follow logs that would not end for long (a running
/// job and a scheduled one): the server still stops promptly and cleanly.
#[tokio::test]
async fn e2e_sigterm_with_open_log_streams_exits_0() {
    let mut mock = MockProcess::start(&[]).await;
    let mut jobs = jobs_at(&mock.url()).await;
    let running = run(&mut jobs, cmd("sh", &["-c", "echo tick; sleep 60"])).await;
    let sched = run(&mut jobs, scheduled(cmd("echo", &["later"]), 3600)).await;
    let mut following = open_logs(&mut jobs, &running.job_uuid).await;
    let waiting = open_logs(&mut jobs, &sched.job_uuid).await;
    let first = within(
        "the first log chunk",
        futures::StreamExt::next(&mut following),
    )
    .await;
    assert!(first.is_some(), "the running job's log has a first chunk");

    mock.terminate();
    let status = mock.exit_status().await;
    assert!(
        status.success(),
        "exit status {status:?}; stderr: {}",
        mock.stderr.lock().unwrap()
    );
    drop((following, waiting));
}

/// The library's `RunningMock::shutdown` with a log stream open that would not
/// end for an hour: it completes promptly.
#[tokio::test]
async fn e2e_library_shutdown_with_open_log_streams_completes() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let sched = run(&mut jobs, scheduled(cmd("echo", &["later"]), 3600)).await;
    let waiting = open_logs(&mut jobs, &sched.job_uuid).await;
    within("RunningMock::shutdown", mock.shutdown())
        .await
        .expect("clean shutdown");
    drop(waiting);
}

/// Runs the binary with `args`, expecting it to refuse them: non-zero exit
/// within [`BOUND`]; returns stderr.
pub(crate) async fn refused(args: &[&str]) -> String {
    let child = spawn_piped(Command::new(BIN).args(args), &[], "spawn joblet-mock");
    let out = match tokio::time::timeout(BOUND, child.wait_with_output()).await {
        Ok(out) => out.expect("joblet-mock output"),
        Err(_) => panic!("joblet-mock {args:?} kept running instead of refusing its flags"),
    };
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "joblet-mock {args:?} should fail; stderr: {stderr}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("listening on"),
        "joblet-mock {args:?} must not start serving"
    );
    stderr
}

#[tokio::test]
async fn e2e_bad_flags_exit_non_zero_naming_the_problem() {
    let err = refused(&["--listen", "127.0.0.1:0", "--log-retention-bytes", "0"]).await;
    assert!(
        err.contains("--log-retention-bytes"),
        "stderr should name the flag: {err}"
    );

    let err = refused(&["--listen", "127.0.0.1:0", "--scenario", "/nonexistent.yaml"]).await;
    assert!(
        err.contains("/nonexistent.yaml"),
        "stderr should name the file: {err}"
    );

    let err = refused(&["--listen", "127.0.0.1:0", "--no-such-flag"]).await;
    assert!(
        err.contains("--no-such-flag"),
        "stderr should name the flag: {err}"
    );

    let err = refused(&["--listen", "not-an-address"]).await;
    assert!(
        err.contains("--listen") || err.contains("not-an-address"),
        "{err}"
    );
}
