//! # joblet-sim
//!
//! Simulated Linux commands for the Joblet mock: no processes are started.
//! The command decides what a job writes, how long it takes and how it exits.
//!
//! # What is simulated
//!
//! - Built-in commands act as GNU coreutils and bash builtins do on a Linux
//!   node (C locale): `echo`, `printf`, `seq`, `sleep`, `cat`, `head`, `tail`,
//!   `wc`, `yes`, `date`, `env`, `printenv`, `ls`, `mkdir`, `touch`, `cd`,
//!   `pwd`, `basename`, `dirname`, `test` / `[`, `timeout`, `nice`, `nohup`,
//!   `stdbuf`, `which`, `true`, `false` and the shell builtins (`export`,
//!   `set`, `read`, `eval`, `source`, `trap`, …). `/bin/echo` is `echo`.
//! - `sh -c` / `bash -c` scripts (and uploaded `#!/bin/sh` scripts) built from
//!   them are interpreted: lists, pipelines, `if`, `for`, `while`, `case`,
//!   functions, parameter expansion, command substitution, arithmetic,
//!   `[[ ]]`, redirections on an in-memory file system of the uploaded files.
//!   Pipelines stream where it matters: `yes | head -n 10000000` and
//!   `head -c 1G /dev/zero` run in constant memory at the reader's pace.
//! - Anything else is matched against [scenario files](scenario) (what
//!   `python train.py` prints, how long it sleeps, how it exits); with no
//!   match, the [`UnknownCommand`] policy decides.
//!
//! Not supported (the script stops with `sh: line N: X: not supported by
//! joblet-mock`, status 2): background jobs, arrays, process substitution,
//! coprocesses, `[[ =~ ]]`, `${x@op}`, job control, redirections to other file
//! descriptors; file-name globbing is not done (patterns stay literal).
//!
//! # Use
//!
//! A [`Simulator`] runs a command with an [`ExecContext`] (environment,
//! uploaded files, work dir, job id and a [`Clock`]) and writes to an
//! [`Output`]. The host implements the two traits: in the mock, the output is
//! the job's log and the clock the session's (possibly virtual) clock.
//!
//! ```
//! use bytes::Bytes;
//! use joblet_sim::{Clock, ExecContext, Output, Simulator};
//!
//! /// Keeps the output in memory.
//! #[derive(Default)]
//! struct Buffer(Vec<u8>);
//!
//! impl Output for Buffer {
//!     async fn write(&mut self, data: Bytes) {
//!         self.0.extend_from_slice(&data);
//!     }
//!     fn is_closed(&self) -> bool {
//!         false
//!     }
//! }
//!
//! /// Wall time and tokio's timers.
//! #[derive(Debug, Clone, Default)]
//! struct Wall;
//!
//! impl Clock for Wall {
//!     fn now_ms(&self) -> i64 {
//!         let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
//!         now.map_or(0, |d| d.as_millis() as i64)
//!     }
//!     fn monotonic_ms(&self) -> i64 {
//!         self.now_ms()
//!     }
//!     fn job_sleep(&self, d: std::time::Duration) -> impl Future<Output = ()> + Send + use<> {
//!         tokio::time::sleep(d)
//!     }
//!     fn sleep(&self, d: std::time::Duration) -> impl Future<Output = ()> + Send + use<> {
//!         tokio::time::sleep(d)
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let ctx = ExecContext::<Wall>::default();
//! let mut out = Buffer::default();
//! let script = "for i in $(seq 3); do echo \"line $i\"; done; exit 3".to_owned();
//! let code = Simulator::default()
//!     .run("bash", &["-c".to_owned(), script], &ctx, &mut out)
//!     .await;
//! assert_eq!(code, 3);
//! assert_eq!(out.0, b"line 1\nline 2\nline 3\n");
//! # }
//! ```
//!
//! # Observing processes and files
//!
//! [`Simulator::run_observed`] also reports what a tracer would see of the
//! job to an [`Observer`]: each process the job starts ([`ProcessStart`]:
//! pid and ppid in the job's PID namespace, the program file, the
//! arguments), each exit with its status, and each file the job writes
//! ([`FileWrite`]: redirections to files and `touch`). The observer is a
//! trait with empty default methods and the simulator is generic over it, so
//! the calls are statically dispatched and cost nothing when unused:
//! [`Simulator::run`] passes `()`. The [`observe`] module describes which
//! commands are processes.
//!
//! ```
//! # use bytes::Bytes;
//! # use joblet_sim::{Clock, ExecContext, Output, Simulator};
//! # #[derive(Default)]
//! # struct Sink;
//! # impl Output for Sink {
//! #     async fn write(&mut self, _: Bytes) {}
//! #     fn is_closed(&self) -> bool { false }
//! # }
//! # #[derive(Debug, Clone, Default)]
//! # struct Wall;
//! # impl Clock for Wall {
//! #     fn now_ms(&self) -> i64 { 0 }
//! #     fn monotonic_ms(&self) -> i64 { 0 }
//! #     fn job_sleep(&self, d: std::time::Duration) -> impl Future<Output = ()> + Send + use<> { tokio::time::sleep(d) }
//! #     fn sleep(&self, d: std::time::Duration) -> impl Future<Output = ()> + Send + use<> { tokio::time::sleep(d) }
//! # }
//! use joblet_sim::{FileWrite, Observer, ProcessStart};
//!
//! /// Lists what the job does.
//! #[derive(Default)]
//! struct Trace(Vec<String>);
//!
//! impl Observer for Trace {
//!     fn process_started(&mut self, p: &ProcessStart<'_>) {
//!         self.0.push(format!("exec {} {} {}", p.pid, p.ppid, p.binary()));
//!     }
//!     fn file_written(&mut self, w: &FileWrite<'_>) {
//!         self.0.push(format!("file {} {} {}", w.pid, w.path, w.bytes));
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let mut trace = Trace::default();
//! let script = "echo hi > out.txt; seq 3 > n.txt".to_owned();
//! Simulator::default()
//!     .run_observed("sh", &["-c".to_owned(), script], &ExecContext::<Wall>::default(), &mut Sink, &mut trace)
//!     .await;
//! assert_eq!(
//!     trace.0,
//!     [
//!         "exec 1 0 /usr/bin/sh",
//!         "file 1 /work/out.txt 3", // `echo` is a builtin of the shell (pid 1)
//!         "exec 2 1 /usr/bin/seq",
//!         "file 2 /work/n.txt 6",
//!     ]
//! );
//! # }
//! ```
//!
//! # Architecture
//!
//! Layers, each naming only those below it. At the bottom, the host traits
//! ([`Output`], [`Clock`], [`Observer`] with its events, and the path
//! arithmetic its program names use) and what a job brings ([`ExecContext`]); then the
//! text helpers (`glob` patterns, `printf`, `date` formats) and `args`, the
//! options of the text tools; `io`, a job's output stack (capture frames for
//! `$(…)` and `> file`, streaming filters for `| head`, batching to the
//! [`Output`] in pieces of up to 64 KiB, flushed before every sleep); the
//! [`scenario`] format and player; `syntax`, which parses scripts with
//! brush-parser and lowers them to a small tree; `shell`, the interpreter's
//! state and the execution of that tree; `expand` (word expansion,
//! arithmetic, conditions) and `builtins` (one module per command family),
//! which add methods to the shell that it calls by name, so it never names
//! them; and the [`Simulator`] on top. Everything is generic over the
//! [`Output`] and the [`Clock`], so the host's writes and waits are statically
//! dispatched. This page is the public API; everything else is crate-private.

mod args;
mod builtins;
mod context;
mod date;
mod expand;
mod glob;
mod host;
mod io;
pub mod observe;
mod path;
mod printf;
pub mod scenario;
mod shell;
mod simulator;
mod syntax;

pub use context::{DEFAULT_PATH, ExecContext, UnknownCommand, UploadedFile, job_environment};
pub use host::{Clock, Output};
pub use observe::{FileOperation, FileWrite, Observer, PROGRAM_DIR, ProcessStart, program_binary};
pub use scenario::{
    Lifecycle, Plan, Resources, Scenario, ScenarioError, load_scenarios, parse_scenarios,
};
pub use simulator::Simulator;

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
