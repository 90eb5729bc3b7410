//! Exec mode: jobs run for real, as child processes of the mock.
//!
//! **Security warning.** Exec mode executes whatever command and arguments
//! clients send, as child processes with the mock's own user, privileges,
//! network access and file-system access. There is no isolation and no limit is
//! enforced (CPU, memory, I/O, GPUs, networks and volumes are only bookkeeping).
//! Anyone who can reach the mock's listener can run arbitrary programs on the
//! host. Use it only on trusted loopback setups (a developer machine, a CI job),
//! never on a listener reachable by others. It is off by default.
//!
//! What a job gets:
//!
//! - a fresh temporary directory as its current directory and `HOME`, holding
//!   the uploaded files (directories created, modes applied); the job's
//!   `work_dir` is not used. The directory is removed when the job ends;
//! - exactly the job's environment (`ExecContext::env`: `PATH`, the job's
//!   environment and secret environment), plus `HOME` and `JOBLET_JOB_ID`;
//!   stdin is `/dev/null`;
//! - its stdout and stderr, forwarded to the job's log chunk by chunk in arrival
//!   order, unchanged (binary output passes through). When the log
//!   back-pressures, the pipes are no longer read, so the program blocks on
//!   its writes and memory stays bounded;
//! - its own process group. The job ends when the command exits: processes it
//!   left running in the background are then killed (`SIGKILL` to the group),
//!   as a real node tears down the job's cgroup. When the job is stopped (its
//!   future is dropped) the group gets `SIGTERM`, then `SIGKILL` after
//!   [`STOP_GRACE`], and the command is reaped.
//!
//! Exit codes: the command's own code; `128 + N` when killed by signal `N`; 127
//! when the program is not found and 126 when it cannot be executed (with a
//! `joblet: cannot run …` line in the log); -1 when the work directory cannot
//! be prepared (a line in the log says why).

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Component, Path};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tempfile::TempDir;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, ChildStderr, ChildStdout, Command};

use crate::logs::LogWriter;
use crate::sim::{ExecContext, UploadedFile};

/// How long a stopped job's process group has between `SIGTERM` and `SIGKILL`.
pub const STOP_GRACE: Duration = Duration::from_secs(2);

/// Largest piece read from a pipe at once.
const READ_CHUNK: usize = 64 * 1024;

/// Once the command has exited (and its group was killed), how long the pipes
/// may stay silent before the job ends anyway (a process that left the group
/// may still hold them open).
const DRAIN_IDLE: Duration = Duration::from_millis(500);

/// Poll interval while waiting for the rest of a stopped job's group.
const GROUP_POLL: Duration = Duration::from_millis(20);

/// Runs `command args…` as a real child process in a temporary work directory
/// holding `ctx.files`, with `ctx.env` as its whole environment (plus `HOME`
/// and `JOBLET_JOB_ID`), forwarding its stdout and stderr to `out`, and returns
/// the exit code (see the [module documentation](self)).
///
/// Cancel-safe: dropping the future stops the job — its process group gets
/// `SIGTERM`, then `SIGKILL` after [`STOP_GRACE`], in a background tokio task
/// that also reaps the command and removes the work directory.
pub async fn run(command: &str, args: &[String], ctx: &ExecContext, out: &mut LogWriter) -> i32 {
    let files = Arc::clone(&ctx.files);
    let prepared = tokio::task::spawn_blocking(move || prepare_work_dir(&files))
        .await
        .map_err(io::Error::other)
        .and_then(|r| r);
    let dir = match prepared {
        Ok(dir) => dir,
        Err(e) => {
            out.line(&format!("joblet: cannot prepare the work directory: {e}"))
                .await;
            return -1;
        }
    };

    let mut cmd = Command::new(command);
    cmd.args(args)
        .current_dir(dir.path())
        .env_clear()
        .envs(ctx.env.iter())
        .env("HOME", dir.path())
        .env("JOBLET_JOB_ID", &*ctx.job_id)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            drop(dir);
            out.line(&format!("joblet: cannot run {command}: {e}"))
                .await;
            return if e.kind() == io::ErrorKind::NotFound {
                127
            } else {
                126
            };
        }
    };
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let Some(pgid) = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw)
    else {
        // Not possible before the child was waited for; stay safe anyway.
        let _ = child.start_kill();
        let _ = child.wait().await;
        drop(dir);
        out.line(&format!("joblet: cannot run {command}: no process id"))
            .await;
        return 126;
    };
    let mut guard = Running {
        child: Some(child),
        pgid,
        dir: Some(dir),
        exited: false,
    };
    let code = forward(&mut guard, stdout, stderr, out).await;
    drop(guard);
    code
}

/// A started command: stops it (and removes the work directory) when dropped
/// before it exited.
#[derive(Debug)]
struct Running {
    child: Option<Child>,
    pgid: Pid,
    dir: Option<WorkDir>,
    /// The command exited and was reaped (its group was killed).
    exited: bool,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = self.child.take()
            && !self.exited
        {
            stop_in_background(child, self.pgid, self.dir.take());
        }
        // Otherwise the work directory is removed here, with `self.dir`.
    }
}

/// One pipe of the command.
enum Pipe {
    Out(ChildStdout),
    Err(ChildStderr),
}

impl Pipe {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Pipe::Out(p) => p.read(buf).await,
            Pipe::Err(p) => p.read(buf).await,
        }
    }
}

/// What happened while waiting on the command.
enum Event {
    Read(usize, io::Result<usize>),
    Exited(io::Result<ExitStatus>),
    Idle,
}

/// Forwards both pipes to `out` until the command exited and the pipes are
/// closed (or silent for [`DRAIN_IDLE`] after the exit); returns the exit code.
async fn forward(
    guard: &mut Running,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    out: &mut LogWriter,
) -> i32 {
    let mut pipes = [stdout.map(Pipe::Out), stderr.map(Pipe::Err)];
    let mut bufs = [vec![0u8; READ_CHUNK], vec![0u8; READ_CHUNK]];
    let mut status: Option<ExitStatus> = None;
    let pgid = guard.pgid;
    let Some(child) = guard.child.as_mut() else {
        return -1;
    };
    loop {
        if status.is_some() && pipes.iter().all(Option::is_none) {
            break;
        }
        let [p0, p1] = &mut pipes;
        let [b0, b1] = &mut bufs;
        // Reads are cancel-safe: a read that loses the race consumed nothing.
        let event = tokio::select! {
            r = read_some(p0, b0), if p0.is_some() => Event::Read(0, r),
            r = read_some(p1, b1), if p1.is_some() => Event::Read(1, r),
            s = child.wait(), if status.is_none() => Event::Exited(s),
            () = tokio::time::sleep(DRAIN_IDLE), if status.is_some() => Event::Idle,
        };
        match event {
            Event::Read(i, Ok(n)) if n > 0 => {
                // While this waits, nothing is read: the pipe fills and the
                // command blocks, so a slow log reader slows the command down.
                out.write(Bytes::copy_from_slice(&bufs[i][..n])).await;
            }
            Event::Read(i, _) => pipes[i] = None,
            Event::Exited(Ok(s)) => {
                status = Some(s);
                guard.exited = true;
                kill_leftovers(pgid);
            }
            Event::Exited(Err(e)) => {
                out.line(&format!("joblet: lost track of the process: {e}"))
                    .await;
                // The guard stops the group and reaps what it can.
                return -1;
            }
            Event::Idle => break,
        }
    }
    status.map(exit_code).unwrap_or(-1)
}

/// The command exited: the job is over, so whatever it left running in its
/// process group is killed (the group may already be empty).
fn kill_leftovers(pgid: Pid) {
    let _ = killpg(pgid, Signal::SIGKILL);
}

async fn read_some(pipe: &mut Option<Pipe>, buf: &mut [u8]) -> io::Result<usize> {
    match pipe {
        Some(p) => p.read(buf).await,
        None => Ok(0),
    }
}

/// The job's exit code for a process status.
fn exit_code(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig,
        (None, None) => -1,
    }
}

/// Stops a command whose job was dropped: `SIGTERM` to its group now,
/// `SIGKILL` after [`STOP_GRACE`], reaps it, then removes the work directory.
fn stop_in_background(mut child: Child, pgid: Pid, dir: Option<WorkDir>) {
    let _ = killpg(pgid, Signal::SIGTERM);
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        // No runtime: no grace either.
        let _ = killpg(pgid, Signal::SIGKILL);
        let _ = child.try_wait();
        drop(child);
        drop(dir);
        return;
    };
    handle.spawn(async move {
        // If this task is dropped (the runtime shuts down), the group is killed.
        let mut last_resort = KillGroupOnDrop(Some(pgid));
        let deadline = tokio::time::Instant::now() + STOP_GRACE;
        let reaped = tokio::time::timeout_at(deadline, child.wait())
            .await
            .is_ok();
        if reaped {
            // The leader is gone; give the rest of its group the same grace.
            while tokio::time::Instant::now() < deadline && killpg(pgid, None).is_ok() {
                tokio::time::sleep(GROUP_POLL).await;
            }
        }
        let _ = killpg(pgid, Signal::SIGKILL);
        if !reaped {
            let _ = child.wait().await;
        }
        last_resort.0 = None;
        if let Some(dir) = dir {
            let _ = tokio::task::spawn_blocking(move || drop(dir)).await;
        }
    });
}

/// Sends `SIGKILL` to a process group when dropped, unless disarmed.
struct KillGroupOnDrop(Option<Pid>);

impl Drop for KillGroupOnDrop {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

/// Whether an upload path is a plain relative path (no `..`, not absolute).
fn safe_relative(path: &str) -> bool {
    !path.is_empty()
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// A new temporary directory holding the uploaded files.
fn prepare_work_dir(
    files: &std::collections::BTreeMap<String, UploadedFile>,
) -> io::Result<WorkDir> {
    let dir = WorkDir(Some(
        tempfile::Builder::new().prefix("joblet-job-").tempdir()?,
    ));
    for path in files.keys() {
        if !safe_relative(path) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("upload path {path:?} is not a plain relative path"),
            ));
        }
    }
    let result = (|| {
        for (path, file) in files {
            let target = dir.path().join(path);
            if file.is_dir {
                std::fs::create_dir_all(&target)?;
            } else {
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(&target, &file.content)?;
                std::fs::set_permissions(
                    &target,
                    std::fs::Permissions::from_mode(file.mode & 0o7777),
                )?;
            }
        }
        // Directory modes last, deepest first, so a read-only directory can
        // still be filled.
        for (path, file) in files.iter().rev().filter(|(_, f)| f.is_dir) {
            std::fs::set_permissions(
                dir.path().join(path),
                std::fs::Permissions::from_mode(file.mode & 0o7777),
            )?;
        }
        io::Result::Ok(())
    })();
    result.map(|()| dir)
}

/// A job's temporary work directory, removed when dropped.
#[derive(Debug)]
struct WorkDir(Option<TempDir>);

impl WorkDir {
    fn path(&self) -> &Path {
        self.0
            .as_ref()
            .map_or(Path::new("/nonexistent"), TempDir::path)
    }
}

impl Drop for WorkDir {
    /// Removes the directory, first making its directories writable so that
    /// read-only ones (uploaded or made by the job) do not keep it around.
    fn drop(&mut self) {
        let Some(dir) = self.0.take() else {
            return;
        };
        // Iterative: a job may nest directories deeper than the stack allows.
        let mut pending = vec![dir.path().to_path_buf()];
        while let Some(path) = pending.pop() {
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if !meta.is_dir() {
                continue;
            }
            let mode = meta.permissions().mode();
            if mode & 0o700 != 0o700 {
                let _ =
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode | 0o700));
            }
            if let Ok(entries) = std::fs::read_dir(&path) {
                pending.extend(
                    entries
                        .flatten()
                        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                        .map(|e| e.path()),
                );
            }
        }
        if let Err(e) = dir.close() {
            tracing::warn!(error = %e, "could not remove a job's work directory");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Instant;

    use nix::errno::Errno;
    use nix::sys::signal::kill;

    use super::*;
    use crate::logs::{LogBuffer, LogReader};

    fn ctx() -> ExecContext {
        ExecContext {
            env: crate::sim::job_environment(&[]),
            files: Arc::default(),
            work_dir: "/work".into(),
            job_id: "job-1".into(),
            ..ExecContext::default()
        }
    }

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    async fn exec(command: &str, args: &[&str], ctx: &ExecContext) -> (i32, Bytes) {
        let log = LogBuffer::new(16 << 20);
        let mut w = log.writer();
        let code = run(command, &strings(args), ctx, &mut w).await;
        (code, log.snapshot())
    }

    async fn sh(script: &str) -> (i32, String) {
        let (code, out) = exec("sh", &["-c", script], &ctx()).await;
        (code, String::from_utf8_lossy(&out).into_owned())
    }

    /// Whether `pid` is a live process (not gone, not a zombie).
    fn running(pid: i32) -> bool {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim().chars().next());
        !matches!(state, Some('Z' | 'X') | None)
    }

    /// Whether `pid` is gone entirely (exited and reaped).
    fn reaped(pid: i32) -> bool {
        kill(Pid::from_raw(pid), None) == Err(Errno::ESRCH)
    }

    async fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if check() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Starts a job in its own task (as the job engine does) and returns the
    /// task, plus a reader of its log.
    fn start(script: &str) -> (tokio::task::JoinHandle<i32>, LogReader) {
        let log = LogBuffer::new(1 << 20);
        let reader = log.reader();
        let script = script.to_string();
        let task = tokio::spawn(async move {
            let mut w = log.writer();
            let code = run("sh", &strings(&["-c", &script]), &ctx(), &mut w).await;
            log.close();
            code
        });
        (task, reader)
    }

    /// Reads until `n` lines arrived.
    async fn lines(reader: &mut LogReader, n: usize) -> Vec<String> {
        let mut text = String::new();
        while text.matches('\n').count() < n {
            let chunk = tokio::time::timeout(Duration::from_secs(5), reader.next())
                .await
                .expect("output in time")
                .expect("log open");
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
        text.lines().map(str::to_string).collect()
    }

    #[tokio::test]
    async fn stdout_and_stderr_reach_the_log_in_arrival_order() {
        let (code, out) = sh(
            "echo out1; sleep 0.1; echo err1 >&2; sleep 0.1; echo out2; sleep 0.1; echo err2 >&2",
        )
        .await;
        assert_eq!(code, 0);
        assert_eq!(out, "out1\nerr1\nout2\nerr2\n");
    }

    #[tokio::test]
    async fn exit_codes() {
        assert_eq!(exec("true", &[], &ctx()).await.0, 0);
        assert_eq!(sh("exit 3").await.0, 3);
        assert_eq!(sh("kill -9 $$").await.0, 128 + 9);

        let (code, out) = exec("no-such-program-joblet", &["x"], &ctx()).await;
        assert_eq!(code, 127);
        let out = String::from_utf8_lossy(&out);
        assert!(
            out.starts_with("joblet: cannot run no-such-program-joblet: "),
            "{out}"
        );

        // A directory cannot be executed.
        let (code, out) = exec("/", &[], &ctx()).await;
        assert_eq!(code, 126, "{}", String::from_utf8_lossy(&out));
    }

    #[tokio::test]
    async fn a_non_executable_upload_exits_126() {
        let mut files = BTreeMap::new();
        files.insert(
            "tool".to_string(),
            UploadedFile {
                content: Bytes::from_static(b"#!/bin/sh\necho hi\n"),
                mode: 0o644,
                is_dir: false,
            },
        );
        let ctx = ExecContext {
            files: Arc::new(files),
            ..ctx()
        };
        let (code, out) = exec("./tool", &[], &ctx).await;
        assert_eq!(code, 126);
        assert!(out.starts_with(b"joblet: cannot run ./tool: "));
    }

    #[tokio::test]
    async fn uploads_are_in_the_work_dir_which_is_removed_afterwards() {
        let mut files = BTreeMap::new();
        let file = |content: &'static [u8], mode| UploadedFile {
            content: Bytes::from_static(content),
            mode,
            is_dir: false,
        };
        let dir = |mode| UploadedFile {
            content: Bytes::new(),
            mode,
            is_dir: true,
        };
        files.insert("data".to_string(), dir(0o555));
        files.insert("data/in.txt".to_string(), file(b"hello upload\n", 0o644));
        files.insert(
            "run.sh".to_string(),
            file(b"#!/bin/sh\necho script ran\n", 0o755),
        );
        files.insert("empty".to_string(), dir(0o700));
        let ctx = ExecContext {
            files: Arc::new(files),
            ..ctx()
        };
        let script = "pwd; cat data/in.txt; ./run.sh; echo \"$HOME\"; echo \"$JOBLET_JOB_ID\"; \
                      test -d empty && echo empty-dir; stat -c %a data run.sh; mkdir -m 500 ro";
        let (code, out) = exec("sh", &["-c", script], &ctx).await;
        let out = String::from_utf8(out.to_vec()).unwrap();
        assert_eq!(code, 0, "{out}");
        let lines: Vec<&str> = out.lines().collect();
        let work_dir = lines[0];
        assert!(work_dir.contains("joblet-job-"), "{out}");
        assert_eq!(
            &lines[1..],
            [
                "hello upload",
                "script ran",
                work_dir,
                "job-1",
                "empty-dir",
                "555",
                "755"
            ]
        );
        assert!(!Path::new(work_dir).exists(), "{work_dir} is left behind");
    }

    #[tokio::test]
    async fn unsafe_upload_paths_are_refused() {
        for bad in ["../escape", "a/../../escape", "/tmp/abs", ""] {
            let mut files = BTreeMap::new();
            files.insert(
                bad.to_string(),
                UploadedFile {
                    content: Bytes::from_static(b"x"),
                    mode: 0o644,
                    is_dir: false,
                },
            );
            let ctx = ExecContext {
                files: Arc::new(files),
                ..ctx()
            };
            let (code, out) = exec("true", &[], &ctx).await;
            assert_eq!(code, -1, "{bad}");
            let out = String::from_utf8_lossy(&out);
            assert!(
                out.starts_with("joblet: cannot prepare the work directory: "),
                "{out}"
            );
        }
        assert!(safe_relative("a/b.txt"));
        assert!(safe_relative("./a"));
    }

    #[tokio::test]
    async fn the_environment_is_exactly_the_jobs() {
        let ctx = ExecContext {
            env: crate::sim::job_environment(&[
                ("A".to_string(), "plain value".to_string()),
                ("SECRET_TOKEN".to_string(), "s3cret".to_string()),
            ]),
            ..ctx()
        };
        let (code, out) = exec("sh", &["-c", "echo \"$A\" \"$SECRET_TOKEN\"; env"], &ctx).await;
        let out = String::from_utf8(out.to_vec()).unwrap();
        assert_eq!(code, 0);
        assert!(out.starts_with("plain value s3cret\n"), "{out}");
        assert!(out.contains("\nJOBLET_JOB_ID=job-1\n"), "{out}");
        // Nothing of the mock's own environment leaks in (cargo sets CARGO_*).
        assert!(!out.contains("CARGO"), "{out}");
    }

    #[tokio::test]
    async fn binary_output_passes_unchanged() {
        let (code, out) = exec("printf", &["\\000\\001\\377a\\r\\n\\200"], &ctx()).await;
        assert_eq!(code, 0);
        assert_eq!(&out[..], b"\x00\x01\xffa\r\n\x80");

        let (code, out) = exec("head", &["-c", "100000", "/dev/urandom"], &ctx()).await;
        assert_eq!(code, 0);
        assert_eq!(out.len(), 100_000);
    }

    #[tokio::test]
    async fn a_slow_log_reader_blocks_the_command_and_memory_stays_bounded() {
        let retention = 64 * 1024;
        let log = LogBuffer::new(retention);
        let mut reader = log.reader();
        let task = {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let mut w = log.writer();
                let args = strings(&["-c", "2000000", "/dev/zero"]);
                let code = run("head", &args, &ctx(), &mut w).await;
                log.close();
                code
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!task.is_finished());
        assert!(
            log.total_written() <= retention as u64,
            "{}",
            log.total_written()
        );
        let mut total = 0;
        while let Some(chunk) = reader.next().await {
            assert!(chunk.iter().all(|&b| b == 0));
            total += chunk.len();
        }
        assert_eq!(total, 2_000_000);
        assert_eq!(task.await.unwrap(), 0);
    }

    #[tokio::test]
    async fn background_leftovers_are_killed_when_the_command_exits() {
        let started = Instant::now();
        let (code, out) = sh("sleep 30 & echo $!").await;
        assert_eq!(code, 0);
        assert!(started.elapsed() < Duration::from_secs(2));
        let pid: i32 = out.trim().parse().unwrap();
        assert!(eventually(Duration::from_secs(2), || !running(pid)).await);
    }

    #[tokio::test]
    async fn stopping_ends_a_command_with_sigterm_at_once() {
        let (task, mut reader) = start("echo $$; pwd; exec sleep 30");
        let lines = lines(&mut reader, 2).await;
        let pid: i32 = lines[0].parse().unwrap();
        let work_dir = lines[1].clone();
        assert!(running(pid));
        let stopped = Instant::now();
        task.abort();
        assert!(eventually(Duration::from_secs(1), || reaped(pid)).await);
        assert!(stopped.elapsed() < STOP_GRACE);
        assert!(eventually(Duration::from_secs(1), || !Path::new(&work_dir).exists()).await);
    }

    #[tokio::test]
    async fn stopping_a_command_that_ignores_sigterm_kills_it_after_the_grace() {
        let (task, mut reader) = start("trap '' TERM; sleep 30 & echo $$ $!; wait; echo never");
        let lines = lines(&mut reader, 1).await;
        let pids: Vec<i32> = lines[0].split(' ').map(|p| p.parse().unwrap()).collect();
        let (shell, sleeper) = (pids[0], pids[1]);
        let stopped = Instant::now();
        task.abort();
        // SIGTERM is ignored: both live on through most of the grace...
        tokio::time::sleep(STOP_GRACE - Duration::from_millis(500)).await;
        assert!(running(shell) && running(sleeper));
        // ...and SIGKILL ends them (the shell is reaped) soon after it.
        assert!(
            eventually(Duration::from_secs(2), || reaped(shell)
                && !running(sleeper))
            .await
        );
        assert!(stopped.elapsed() >= STOP_GRACE);
    }
}
