//! The interpreter state of one job: its [`Shell`] (variables, options,
//! positional parameters, functions, where output goes), the control flow
//! that leaves a command ([`Flow`]), and what a subshell saves and restores.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use bytes::Bytes;

use super::fs::{Fs, absolute, is_normal};
use crate::context::{ExecContext, UnknownCommand};
use crate::host::{Clock, Output};
use crate::io::{Io, Route};
use crate::observe::Observer;
use crate::scenario::Scenario;
use crate::syntax::Command;

/// Status of a command stopped because its reader went away.
pub(crate) const SIGPIPE_STATUS: i32 = 141;
/// Deepest nesting of function calls, substitutions and nested shells.
pub(crate) const MAX_CALL_DEPTH: usize = 256;

/// Non-local control flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// `exit N`, `set -e`, fatal errors: leave the (sub)shell.
    Exit(i32),
    /// `break N`.
    Break(u32),
    /// `continue N`.
    Continue(u32),
    /// `return N`.
    Return(i32),
}

/// How the next program starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Spawn {
    /// Run by the shell: a child process, unless it is a bash builtin.
    #[default]
    Shell,
    /// A child process whatever it is (the job's own command, `timeout`'s).
    Child,
    /// Replaces the running process, keeping its pid (`exec`, `env`, `nice`,
    /// `nohup`, `stdbuf`).
    Replace,
}

/// The process running the current command, and the numbering.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Procs {
    /// The process running the current command (0 before the job's own starts).
    pub pid: u32,
    /// Its parent.
    pub ppid: u32,
    /// The next pid to give.
    pub next: u32,
    /// How the next program starts (reset to [`Spawn::Shell`] as it does).
    pub spawn: Spawn,
}

impl Default for Procs {
    /// Before the job's command: it is a process, pid 1, whatever it is.
    fn default() -> Self {
        Self {
            pid: 0,
            ppid: 0,
            next: 1,
            spawn: Spawn::Child,
        }
    }
}

/// Result of running something: its status, or control flow.
pub(crate) type Res = Result<i32, Flow>;

/// Standard input of the running command.
#[derive(Debug, Clone, Default)]
pub(crate) enum Stdin {
    /// Nothing (end of file).
    #[default]
    Empty,
    /// These bytes (a file, a here-document, a previous pipeline stage).
    Data(Bytes),
    /// `/dev/zero`.
    Zero,
    /// `/dev/urandom`.
    Random,
}

/// `set` options.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Opts {
    pub errexit: bool,
    pub nounset: bool,
    pub xtrace: bool,
    pub pipefail: bool,
}

/// Shell variables (copy-on-write: shared with the job's environment until a
/// script changes one, see [`Shell::vars_mut`]).
pub(crate) type Vars = Arc<BTreeMap<String, String>>;

/// Which variable names are exported: those of the job's environment, plus
/// and minus what the script changed (so a job need not copy the names).
#[derive(Debug, Clone, Default)]
pub(crate) struct Exported {
    /// The job's environment: its names start exported.
    initial: Vars,
    /// Names whose state differs from `initial` (`true`: exported).
    changed: BTreeMap<String, bool>,
}

impl Exported {
    /// Every name of `env` exported, nothing else.
    fn new(env: &Vars) -> Self {
        Self {
            initial: Arc::clone(env),
            changed: BTreeMap::new(),
        }
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        match self.changed.get(name) {
            Some(&on) => on,
            None => self.initial.contains_key(name),
        }
    }

    pub(crate) fn insert(&mut self, name: String) {
        self.set(name, true);
    }

    pub(crate) fn remove(&mut self, name: &str) {
        if self.contains(name) {
            self.set(name.to_owned(), false);
        }
    }

    fn set(&mut self, name: String, on: bool) {
        if self.initial.contains_key(&name) == on {
            self.changed.remove(&name);
        } else {
            self.changed.insert(name, on);
        }
    }
}

/// Variables and everything a subshell copies.
#[derive(Debug, Clone)]
pub(crate) struct Saved {
    vars: Vars,
    exported: Exported,
    positional: Vec<String>,
    arg0: String,
    cwd: Arc<str>,
    functions: HashMap<String, Arc<Command>>,
    opts: Opts,
    name: String,
    exit_trap: Option<String>,
}

/// The interpreter state of one job.
#[derive(Debug)]
pub(crate) struct Shell<'a, O, C, W> {
    pub io: Io<'a, O, C>,
    pub fs: Fs,
    pub vars: Vars,
    pub exported: Exported,
    pub positional: Vec<String>,
    pub arg0: String,
    pub status: i32,
    pub functions: HashMap<String, Arc<Command>>,
    pub opts: Opts,
    pub stdin: Stdin,
    pub line: usize,
    /// Nesting of calls, substitutions and nested shells.
    pub depth: usize,
    /// Inside `if`/`while` conditions, `&&`/`||` left sides, `!`: no errexit.
    pub cond_depth: usize,
    /// Nesting of command substitutions (for `set -x` prefixes).
    pub subst_depth: usize,
    /// Name for messages (`bash`, `sh`); empty outside scripts.
    pub name: String,
    /// Status of the last command substitution of the current command.
    pub last_subst: Option<i32>,
    /// `local` saves, one frame per function call.
    pub locals: Vec<Vec<(String, Option<String>, bool)>>,
    pub exit_trap: Option<String>,
    /// Loops around the running command (for `break`/`continue`).
    pub loops: usize,
    /// Files being sourced (for `return`).
    pub sourcing: usize,
    /// When the job started, on the session's clock (Unix ms).
    pub started: i64,
    pub clock: C,
    pub scenarios: Arc<Vec<Scenario>>,
    pub unknown: UnknownCommand,
    pub job_id: Arc<str>,
    /// What the host learns of the job's processes and files.
    pub obs: &'a mut W,
    /// The process running the current command, and how the next one starts.
    pub procs: Procs,
}

impl<'a, O: Output, C: Clock, W: Observer> Shell<'a, O, C, W> {
    /// A shell for one job.
    pub(crate) fn new(
        ctx: &ExecContext<C>,
        scenarios: Arc<Vec<Scenario>>,
        unknown: UnknownCommand,
        log: &'a mut O,
        obs: &'a mut W,
    ) -> Self {
        let work_dir: Arc<str> = if ctx.work_dir.is_empty() {
            "/work".into()
        } else if is_normal(&ctx.work_dir) {
            Arc::clone(&ctx.work_dir)
        } else {
            absolute("/", &ctx.work_dir).into()
        };
        Self {
            io: Io::new(log, ctx.clock.clone()),
            fs: Fs {
                uploaded: Arc::clone(&ctx.files),
                written: BTreeMap::new(),
                written_bytes: 0,
                dirs: BTreeSet::new(),
                cwd: Arc::clone(&work_dir),
                work_dir,
            },
            vars: Arc::clone(&ctx.env),
            exported: Exported::new(&ctx.env),
            positional: Vec::new(),
            arg0: String::new(),
            status: 0,
            functions: HashMap::new(),
            opts: Opts::default(),
            stdin: Stdin::Empty,
            line: 1,
            depth: 0,
            cond_depth: 0,
            subst_depth: 0,
            name: String::new(),
            last_subst: None,
            locals: Vec::new(),
            exit_trap: None,
            loops: 0,
            sourcing: 0,
            started: ctx.clock.monotonic_ms(),
            clock: ctx.clock.clone(),
            scenarios,
            unknown,
            job_id: Arc::clone(&ctx.job_id),
            obs,
            procs: Procs::default(),
        }
    }

    // ---------------------------------------------------------------------
    // Messages.

    /// The prefix of shell diagnostics: `bash: line 3: ` (nothing outside a script).
    pub(crate) fn prefix(&self) -> String {
        if self.name.is_empty() {
            String::new()
        } else {
            format!("{}: line {}: ", self.name, self.line)
        }
    }

    /// Prints a diagnostic line to stderr.
    pub(crate) async fn diag(&mut self, msg: &str) {
        self.io.err_line(msg).await;
    }

    /// Reports an unsupported construct; the script stops with status 2.
    pub(crate) async fn unsupported(&mut self, what: &str) -> Res {
        let shell = if self.name.is_empty() {
            "sh"
        } else {
            &self.name
        };
        let msg = format!(
            "{shell}: line {}: {what}: not supported by joblet-mock",
            self.line
        );
        self.diag(&msg).await;
        Err(Flow::Exit(2))
    }

    // ---------------------------------------------------------------------
    // Variables.

    pub(crate) fn get_var(&self, name: &str) -> Option<String> {
        match name {
            "RANDOM" => Some(rand::random_range(0..32768u32).to_string()),
            "SECONDS" => Some(((self.clock.monotonic_ms() - self.started) / 1000).to_string()),
            "LINENO" => Some(self.line.to_string()),
            "BASHPID" => Some("1".to_owned()),
            "JOBLET_MOCK_JOB_ID" if !self.vars.contains_key(name) => Some(self.job_id.to_string()),
            _ => self.vars.get(name).cloned(),
        }
    }

    /// The variables, to change (copied first if still shared).
    pub(crate) fn vars_mut(&mut self) -> &mut BTreeMap<String, String> {
        Arc::make_mut(&mut self.vars)
    }

    pub(crate) fn set_var(&mut self, name: &str, value: String) {
        self.vars_mut().insert(name.to_owned(), value);
    }

    pub(crate) fn unset_var(&mut self, name: &str) {
        if self.vars.contains_key(name) {
            self.vars_mut().remove(name);
        }
        self.exported.remove(name);
    }

    /// Drops the variables that are not exported (a new shell process).
    pub(crate) fn keep_exported(&mut self) {
        if self.vars.keys().any(|k| !self.exported.contains(k)) {
            let exported = &self.exported;
            Arc::make_mut(&mut self.vars).retain(|k, _| exported.contains(k));
        }
    }

    /// `NAME=value` lines of the exported variables.
    pub(crate) fn environment(&self) -> Vec<(String, String)> {
        self.vars
            .iter()
            .filter(|(k, _)| self.exported.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    pub(crate) fn save(&self) -> Saved {
        Saved {
            vars: self.vars.clone(),
            exported: self.exported.clone(),
            positional: self.positional.clone(),
            arg0: self.arg0.clone(),
            cwd: Arc::clone(&self.fs.cwd),
            functions: self.functions.clone(),
            opts: self.opts,
            name: self.name.clone(),
            exit_trap: self.exit_trap.clone(),
        }
    }

    pub(crate) fn restore(&mut self, s: Saved) {
        self.vars = s.vars;
        self.exported = s.exported;
        self.positional = s.positional;
        self.arg0 = s.arg0;
        self.fs.cwd = s.cwd;
        self.functions = s.functions;
        self.opts = s.opts;
        self.name = s.name;
        self.exit_trap = s.exit_trap;
    }

    /// Everything needed to recover after a command is cut short (`timeout`).
    pub(crate) fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            saved: self.save(),
            stdout: self.io.stdout,
            stderr: self.io.stderr,
            frames: self.io.frame_count(),
            stdin: self.stdin.clone(),
            process: (self.procs.pid, self.procs.ppid),
            counters: (
                self.depth,
                self.cond_depth,
                self.subst_depth,
                self.loops,
                self.sourcing,
                self.locals.len(),
                self.line,
            ),
        }
    }

    /// Returns to `c` (a subshell that was cut short leaves no trace).
    pub(crate) fn rollback(&mut self, c: Checkpoint) {
        self.restore(c.saved);
        self.io.truncate_frames(c.frames);
        self.io.stdout = c.stdout;
        self.io.stderr = c.stderr;
        self.stdin = c.stdin;
        // The processes cut short report no exit; pids are not given again.
        (self.procs.pid, self.procs.ppid) = c.process;
        self.procs.spawn = Spawn::Shell;
        let (depth, cond, subst, loops, sourcing, locals, line) = c.counters;
        self.depth = depth;
        self.cond_depth = cond;
        self.subst_depth = subst;
        self.loops = loops;
        self.sourcing = sourcing;
        self.locals.truncate(locals);
        self.line = line;
    }

    /// Enters one more level of nesting, or reports that it is too deep.
    pub(crate) async fn enter(&mut self) -> Result<(), Flow> {
        if self.depth >= MAX_CALL_DEPTH {
            let msg = format!(
                "{}line {}: maximum nesting depth ({MAX_CALL_DEPTH}) exceeded",
                self.prefix(),
                self.line
            );
            self.diag(&msg).await;
            return Err(Flow::Exit(2));
        }
        self.depth += 1;
        Ok(())
    }
}

/// A snapshot taken by [`Shell::checkpoint`].
#[derive(Debug)]
pub(crate) struct Checkpoint {
    saved: Saved,
    stdout: Route,
    stderr: Route,
    frames: usize,
    stdin: Stdin,
    process: (u32, u32),
    counters: (usize, usize, usize, usize, usize, usize, usize),
}
