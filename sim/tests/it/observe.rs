//! What an [`Observer`](joblet_sim::Observer) sees: one start per process
//! (bash builtins of a script are none), its exit with its status, and one
//! report per file written.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use joblet_sim::{
    ExecContext, FileOperation, FileWrite, Observer, Output, ProcessStart, Simulator,
    UnknownCommand, UploadedFile,
};

/// Discards output.
#[derive(Debug, Default)]
struct Sink(Vec<u8>);

impl Output for Sink {
    async fn write(&mut self, data: Bytes) {
        self.0.extend_from_slice(&data);
    }

    fn is_closed(&self) -> bool {
        false
    }
}

/// Every report, as a line of text.
#[derive(Debug, Default)]
struct Trace(Vec<String>);

impl Observer for Trace {
    fn process_started(&mut self, p: &ProcessStart<'_>) {
        self.0.push(format!(
            "start {} {} {} [{}]",
            p.pid,
            p.ppid,
            p.binary(),
            p.args().join(" ")
        ));
    }

    fn process_exited(&mut self, pid: u32, status: i32) {
        self.0.push(format!("exit {pid} {status}"));
    }

    fn file_written(&mut self, w: &FileWrite<'_>) {
        let op = match w.operation {
            FileOperation::Create => "create",
            FileOperation::Write => "write",
            FileOperation::Append => "append",
        };
        self.0
            .push(format!("{op} {} {} {}", w.pid, w.path, w.bytes));
    }
}

fn ctx() -> ExecContext<Wall> {
    let mut files = BTreeMap::new();
    files.insert(
        "run.sh".to_owned(),
        UploadedFile {
            content: Bytes::from_static(b"#!/bin/sh\nsleep 1\necho done\n"),
            mode: 0o755,
            is_dir: false,
        },
    );
    ExecContext {
        files: Arc::new(files),
        work_dir: "/work".into(),
        ..ExecContext::default()
    }
}

/// Tokio's (paused) time.
#[derive(Debug, Clone, Default)]
struct Wall;

impl joblet_sim::Clock for Wall {
    fn now_ms(&self) -> i64 {
        0
    }

    fn monotonic_ms(&self) -> i64 {
        0
    }

    fn job_sleep(&self, d: Duration) -> impl Future<Output = ()> + Send + use<> {
        tokio::time::sleep(d)
    }

    fn sleep(&self, d: Duration) -> impl Future<Output = ()> + Send + use<> {
        tokio::time::sleep(d)
    }
}

/// Runs `command args…`; the reports, the output and the exit code.
async fn observe(command: &str, args: &[&str]) -> (Vec<String>, String, i32) {
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    let mut trace = Trace::default();
    let mut out = Sink::default();
    let code = Simulator::new(Vec::new(), UnknownCommand::Succeed)
        .run_observed(command, &args, &ctx(), &mut out, &mut trace)
        .await;
    (trace.0, String::from_utf8_lossy(&out.0).into_owned(), code)
}

async fn script(text: &str) -> Vec<String> {
    observe("sh", &["-c", text]).await.0
}

/// The job's own command is pid 1 with ppid 0, even a shell builtin.
#[tokio::test]
async fn the_jobs_command_is_pid_1() {
    let (trace, out, code) = observe("echo", &["hi"]).await;
    assert_eq!((out.as_str(), code), ("hi\n", 0));
    assert_eq!(trace, ["start 1 0 /usr/bin/echo [hi]", "exit 1 0"]);
    let (trace, _, code) = observe("false", &[]).await;
    assert_eq!(code, 1);
    assert_eq!(trace, ["start 1 0 /usr/bin/false []", "exit 1 1"]);
}

/// In a script, programs are processes of the shell; bash builtins and
/// functions are not; a nested shell's commands are its children.
#[tokio::test(start_paused = true)]
async fn scripts_start_programs_not_builtins() {
    let trace = script(
        "f() { date +%s >/dev/null; }; echo a; cd /; f; sleep 1; \
         sh -c 'seq 2; printf x'; /bin/echo b; unknown-tool --flag; true",
    )
    .await;
    assert_eq!(
        trace,
        [
            "start 1 0 /usr/bin/sh [-c f() { date +%s >/dev/null; }; echo a; cd /; f; sleep 1; \
             sh -c 'seq 2; printf x'; /bin/echo b; unknown-tool --flag; true]",
            "start 2 1 /usr/bin/date [+%s]",
            "exit 2 0",
            "start 3 1 /usr/bin/sleep [1]",
            "exit 3 0",
            "start 4 1 /usr/bin/sh [-c seq 2; printf x]",
            "start 5 4 /usr/bin/seq [2]",
            "exit 5 0",
            "exit 4 0",
            "start 6 1 /bin/echo [b]",
            "exit 6 0",
            "start 7 1 /usr/bin/unknown-tool [--flag]",
            "exit 7 0",
            "exit 1 0",
        ]
    );
}

/// `exec`, `env`, `nice`, `nohup` and `stdbuf` replace the process (same
/// pid, one exit); `timeout` starts a child; `command` keeps builtins.
#[tokio::test(start_paused = true)]
async fn exec_and_wrappers_replace_the_process() {
    let trace =
        script("env X=1 nice -n 5 sleep 1; command echo a; timeout 5 echo b; exec false").await;
    let want = [
        "start 2 1 /usr/bin/env [X=1 nice -n 5 sleep 1]",
        "start 2 1 /usr/bin/nice [-n 5 sleep 1]",
        "start 2 1 /usr/bin/sleep [1]",
        "exit 2 0",
        "start 3 1 /usr/bin/timeout [5 echo b]",
        "start 4 3 /usr/bin/echo [b]",
        "exit 4 0",
        "exit 3 0",
        "start 1 0 /usr/bin/false []",
        "exit 1 1",
    ];
    assert_eq!(trace[1..], want);
}

/// Every stage of a pipeline that is a program is a process, streaming
/// filters included; the producer stopped by `head` exits 141.
#[tokio::test]
async fn pipeline_stages_are_processes() {
    let trace = script("yes | head -n 2 | wc -l").await;
    assert_eq!(
        trace[1..],
        [
            "start 2 1 /usr/bin/head [-n 2]",
            "start 3 1 /usr/bin/wc [-l]",
            "start 4 1 /usr/bin/yes []",
            "exit 4 141",
            "exit 2 0",
            "exit 3 0",
            "exit 1 0",
        ]
    );
}

/// Uploaded scripts are processes; relative program paths are made absolute.
#[tokio::test(start_paused = true)]
async fn uploaded_scripts_are_programs() {
    let (trace, out, _) = observe("./run.sh", &[]).await;
    assert_eq!(out, "done\n");
    assert_eq!(
        trace,
        [
            "start 1 0 /work/run.sh []",
            "start 2 1 /usr/bin/sleep [1]",
            "exit 2 0",
            "exit 1 0"
        ]
    );
}

/// A command cut short by `timeout` reports no exit; the numbering goes on.
#[tokio::test(start_paused = true)]
async fn a_program_cut_short_reports_no_exit() {
    let trace = script("timeout 1 sleep 10; seq 1").await;
    assert_eq!(
        trace[1..],
        [
            "start 2 1 /usr/bin/timeout [1 sleep 10]",
            "start 3 2 /usr/bin/sleep [10]",
            "exit 2 124",
            "start 4 1 /usr/bin/seq [1]",
            "exit 4 0",
            "exit 1 0",
        ]
    );
}

/// Redirections to files report one write each, by the process that ran the
/// command (the shell for its builtins); `touch` reports creations; devices
/// report nothing.
#[tokio::test]
async fn file_writes_are_reported_with_their_bytes() {
    let trace = script(
        "echo hello > a.txt; seq 3 >> a.txt; echo x >/dev/null; touch a.txt new; \
         { echo 1; echo 22; } &> /tmp/b; mkdir d; echo z > d/../c",
    )
    .await;
    let files: Vec<&str> = trace
        .iter()
        .map(String::as_str)
        .filter(|l| !l.starts_with("start") && !l.starts_with("exit"))
        .collect();
    assert_eq!(
        files,
        [
            "write 1 /work/a.txt 6",
            "append 2 /work/a.txt 6",
            "create 3 /work/new 0",
            "write 1 /tmp/b 5",
            "write 1 /work/c 2",
        ]
    );
}

/// Observing changes nothing: the same script gives the same output and
/// exit code with and without an observer.
#[tokio::test(start_paused = true)]
async fn observing_changes_nothing() {
    let text = "for i in 1 2 3; do echo $i > f$i; cat f$i; done; ls | wc -l; exit 3";
    let (_, observed, code) = observe("bash", &["-c", text]).await;
    let mut out = Sink::default();
    let plain = Simulator::new(Vec::new(), UnknownCommand::Succeed)
        .run(
            "bash",
            &["-c".to_owned(), text.to_owned()],
            &ctx(),
            &mut out,
        )
        .await;
    assert_eq!((observed.as_str(), code), ("1\n2\n3\n4\n", 3));
    assert_eq!(
        (String::from_utf8_lossy(&out.0).as_ref(), plain),
        ("1\n2\n3\n4\n", 3)
    );
}
