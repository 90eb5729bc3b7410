//! A small bash interpreter for `sh -c` / `bash -c` scripts.
//!
//! # Parser choice
//!
//! Scripts are parsed with [`brush-parser`](https://crates.io/crates/brush-parser)
//! (0.4, MIT), the parser of the brush shell: it covers POSIX sh and most bash
//! syntax, gives a complete AST (lists, pipelines, compound commands, functions,
//! redirections, here-documents, `[[ ]]`) plus word, brace and arithmetic
//! parsers, and is actively maintained. `yash-syntax` was the alternative but
//! is GPL-3.0, which does not fit this Apache-2.0 project; a hand-written parser
//! was not needed. Two weaknesses of brush-parser are contained in `syntax.rs`:
//! it recurses deeply on deeply nested input and backtracks exponentially on
//! directly nested subshells, so input is bounded, pre-scanned and parsed on a
//! big-stack helper thread.
//!
//! # Model
//!
//! No processes: commands run one after another inside the job's task.
//! Pipelines stream where it matters: trailing `head`, `tail`, `wc` and `cat`
//! stages become output filters, so `yes | head -n 10000000` or
//! `cat /dev/zero | head -c 1G` run in constant memory at the reader's pace and
//! the producer stops (SIGPIPE, status 141) once `head` has enough. Other
//! stages get the previous stage's output (bounded) as their standard input.
//! Output, waits and cancellation go through [`Io`]. Recursion (nested
//! commands, functions, substitutions, nested shells) is bounded by
//! [`MAX_CALL_DEPTH`] and runs on growable stack segments ([`Grow`]), so no
//! script can overflow the stack of the thread polling the job.
//!
//! # Supported
//!
//! Lists (`;`, newlines, `&&`, `||`, `!`), pipelines, `if`/`elif`/`else`,
//! `for … in`, `for ((…))`, `while`, `until`, `case` (`;;`, `;&`, `;;&`),
//! `{ …; }`, `( … )`, functions with `local` and `return`, `break`/`continue`,
//! variables and the environment (`export`, `unset`, `VAR=x cmd`), positional
//! parameters (`$0…`, `$#`, `$@`, `$*`, `shift`, `set --`), `$?`, `$$`,
//! `$RANDOM`, `$SECONDS`, `$LINENO`, quoting (`'…'`, `"…"`, `$'…'`, `\`),
//! `${x:-w}`, `${x:=w}`, `${x:+w}`, `${x:?w}`, `${#x}`, `${x#p}`, `${x%p}`,
//! `${x/p/r}`, `${x:o:l}`, `${x^^}`, `${!x}`, `$(…)` and backquotes, `$((…))`,
//! `((…))`, `let`, `[ ]`/`test`, `[[ ]]` (globs, no regex), brace expansion,
//! word splitting on `IFS`, `~`, redirections (`<`, `>`, `>>`, `2>&1`, `>&2`,
//! `&>`, `/dev/null`, here-documents, here-strings) on an in-memory file
//! system (uploaded files plus what the job writes), `read`, `eval`, `source`,
//! `trap … EXIT`, `set -euxo pipefail`, `time`, `timeout`, `exec`, `command`.
//!
//! # Not supported (the script stops: `sh: line N: X: not supported by joblet-mock`, status 2)
//!
//! Background jobs (`&`, `wait` is a no-op), arrays, process substitution,
//! coprocesses, `[[ =~ ]]`, `${x@op}`, job control and the builtins in
//! `UNSUPPORTED_BUILTINS`, redirections to other file descriptors. Globbing of
//! file names is not done (patterns stay literal, as with no match).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

use super::io::{Filter, Io, Route};
use super::syntax::{self, Command, CommandKind, Item, List, Pipeline, Redir, RedirKind};
use super::{ExecContext, Scenario, UnknownCommand, UploadedFile};
use crate::host::{Clock, Output};

/// Status of a command stopped because its reader went away.
pub(super) const SIGPIPE_STATUS: i32 = 141;
/// Most output a command substitution keeps.
pub(super) const CAPTURE_LIMIT: usize = 16 << 20;
/// Most data a pipe stage hands to the next (non-streaming) stage.
const PIPE_BUFFER_LIMIT: usize = 16 << 20;
/// Total size of files written by a job (`> file`).
const WRITTEN_LIMIT: usize = 64 << 20;
/// Deepest nesting of function calls, substitutions and nested shells.
pub(super) const MAX_CALL_DEPTH: usize = 256;

/// Non-local control flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flow {
    /// `exit N`, `set -e`, fatal errors: leave the (sub)shell.
    Exit(i32),
    /// `break N`.
    Break(u32),
    /// `continue N`.
    Continue(u32),
    /// `return N`.
    Return(i32),
}

/// A simple command after expansion: assignments `(name, value, append)` and words.
type Expanded = (Vec<(String, String, bool)>, Vec<String>);

/// Result of running something: its status, or control flow.
pub(super) type Res = Result<i32, Flow>;

/// How a loop goes on after one run of its body (shared by `for`, `for ((..))`,
/// `while` and `until`): `Ok(true)` next iteration (also on `continue`),
/// `Ok(false)` leave the loop (`break`); `break N`/`continue N` for an outer
/// loop, and any other flow, pass up.
fn after_body(run: Res, status: &mut i32) -> Result<bool, Flow> {
    match run {
        Ok(s) => {
            *status = s;
            Ok(true)
        }
        Err(Flow::Break(n)) if n > 1 => Err(Flow::Break(n - 1)),
        Err(Flow::Break(_)) => Ok(false),
        Err(Flow::Continue(n)) if n > 1 => Err(Flow::Continue(n - 1)),
        Err(Flow::Continue(_)) => Ok(true),
        Err(f) => Err(f),
    }
}

pub(super) type BoxFut<'s, T> = Pin<Box<dyn Future<Output = T> + Send + 's>>;

/// Stack kept free below every recursion point of the interpreter.
const RED_ZONE: usize = 256 * 1024;
/// Size of each extra stack segment.
const STACK_SEGMENT: usize = 4 << 20;

/// A boxed future polled with at least [`RED_ZONE`] bytes of stack, switching
/// to a fresh heap-allocated segment when the thread's stack runs low.
///
/// Scripts recurse (nested compound commands, functions, substitutions,
/// nested shells); each level costs several poll frames, which in debug builds
/// are large. Every recursion point goes through `Grow`, so the depth a script
/// can reach is bounded by [`MAX_CALL_DEPTH`] and memory, never by the stack
/// of the thread that polls the job.
pub(super) struct Grow<'s, T>(BoxFut<'s, T>);

impl<T> Future for Grow<'_, T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<T> {
        let inner = &mut self.0;
        stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || inner.as_mut().poll(cx))
    }
}

/// Wraps `f` in [`Grow`].
pub(super) fn grow<'s, T>(f: impl Future<Output = T> + Send + 's) -> Grow<'s, T> {
    Grow(Box::pin(f))
}

/// Standard input of the running command.
#[derive(Debug, Clone, Default)]
pub(super) enum Stdin {
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
pub(super) struct Opts {
    pub errexit: bool,
    pub nounset: bool,
    pub xtrace: bool,
    pub pipefail: bool,
}

/// What a path names.
#[derive(Debug, Clone)]
pub(super) enum Node {
    File(Bytes),
    Dir,
    Null,
    Zero,
    Random,
    Stdin,
    Stdout,
    Stderr,
}

/// The job's view of the file system: uploaded files under the work dir,
/// files the job wrote, a few devices.
#[derive(Debug)]
pub(super) struct Fs {
    pub uploaded: Arc<BTreeMap<String, UploadedFile>>,
    pub written: BTreeMap<String, Bytes>,
    pub written_bytes: usize,
    pub dirs: BTreeSet<String>,
    /// Absolute and normal.
    pub work_dir: Arc<str>,
    pub cwd: Arc<str>,
}

/// Whether `path` is absolute and already normal (what [`absolute`] returns).
fn is_normal(path: &str) -> bool {
    path == "/"
        || path
            .strip_prefix('/')
            .is_some_and(|rest| rest.split('/').all(|p| !matches!(p, "" | "." | "..")))
}

/// Normalises `path` (absolute or relative to `cwd`) to an absolute path.
pub(super) fn absolute(cwd: &str, path: &str) -> String {
    // Already normal (the usual work dir, `/work`): nothing to resolve.
    if is_normal(path) {
        return path.to_owned();
    }
    let joined = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("{cwd}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let mut s = String::with_capacity(joined.len());
    for p in &parts {
        s.push('/');
        s.push_str(p);
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

impl Fs {
    /// Resolves `path` to what it names.
    pub(super) fn lookup(&self, path: &str) -> Option<Node> {
        let abs = absolute(&self.cwd, path);
        match abs.as_str() {
            "/dev/null" => return Some(Node::Null),
            "/dev/zero" => return Some(Node::Zero),
            "/dev/urandom" | "/dev/random" => return Some(Node::Random),
            "/dev/stdin" | "/proc/self/fd/0" | "/dev/fd/0" => return Some(Node::Stdin),
            "/dev/stdout" | "/proc/self/fd/1" | "/dev/fd/1" => return Some(Node::Stdout),
            "/dev/stderr" | "/proc/self/fd/2" | "/dev/fd/2" => return Some(Node::Stderr),
            "/" | "/tmp" | "/dev" => return Some(Node::Dir),
            _ => {}
        }
        if let Some(data) = self.written.get(&abs) {
            return Some(Node::File(data.clone()));
        }
        if self.dirs.contains(&abs) {
            return Some(Node::Dir);
        }
        let prefix = format!("{abs}/");
        if self
            .written
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(k, _)| k.starts_with(&prefix))
        {
            return Some(Node::Dir);
        }
        // Normal already (see `Shell::new`).
        let wd = &*self.work_dir;
        if abs == wd || (wd.starts_with(&abs) && wd.as_bytes().get(abs.len()) == Some(&b'/')) {
            return Some(Node::Dir);
        }
        let rel = if wd == "/" {
            abs.strip_prefix('/')
        } else {
            abs.strip_prefix(wd).and_then(|r| r.strip_prefix('/'))
        }?;
        if let Some(f) = self.uploaded.get(rel) {
            return Some(if f.is_dir {
                Node::Dir
            } else {
                Node::File(f.content.clone())
            });
        }
        let rel_prefix = format!("{rel}/");
        if self
            .uploaded
            .range(rel_prefix.clone()..)
            .next()
            .is_some_and(|(k, _)| k.starts_with(&rel_prefix))
        {
            return Some(Node::Dir);
        }
        None
    }

    /// The names directly inside directory `path`, sorted.
    pub(super) fn list_dir(&self, path: &str) -> Vec<String> {
        let abs = absolute(&self.cwd, path);
        let mut names = BTreeSet::new();
        let prefix = if abs == "/" {
            "/".to_owned()
        } else {
            format!("{abs}/")
        };
        for k in self.written.keys().chain(self.dirs.iter()) {
            if let Some(rest) = k.strip_prefix(&prefix)
                && let Some(first) = rest.split('/').next()
                && !first.is_empty()
            {
                names.insert(first.to_owned());
            }
        }
        let wd = &*self.work_dir;
        let rel_prefix = if abs == wd {
            Some(String::new())
        } else {
            abs.strip_prefix(&format!("{wd}/")).map(|r| format!("{r}/"))
        };
        if let Some(rp) = rel_prefix {
            for k in self.uploaded.keys() {
                if let Some(rest) = k.strip_prefix(&rp)
                    && let Some(first) = rest.split('/').next()
                    && !first.is_empty()
                {
                    names.insert(first.to_owned());
                }
            }
        }
        names.into_iter().collect()
    }
}

impl super::scenario::FileSource for Fs {
    fn read(&self, path: &str) -> Result<Bytes, String> {
        match self.lookup(path) {
            Some(Node::File(b)) => Ok(b),
            Some(Node::Null) => Ok(Bytes::new()),
            Some(Node::Dir) => Err(format!("cat: {path}: Is a directory")),
            Some(_) => Err(format!("cat: {path}: not supported by joblet-mock")),
            None => Err(format!("cat: {path}: No such file or directory")),
        }
    }
}

/// Shell variables (copy-on-write: shared with the job's environment until a
/// script changes one, see [`Shell::vars_mut`]).
pub(super) type Vars = Arc<BTreeMap<String, String>>;

/// Which variable names are exported: those of the job's environment, plus
/// and minus what the script changed (so a job need not copy the names).
#[derive(Debug, Clone, Default)]
pub(super) struct Exported {
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

    pub(super) fn contains(&self, name: &str) -> bool {
        match self.changed.get(name) {
            Some(&on) => on,
            None => self.initial.contains_key(name),
        }
    }

    pub(super) fn insert(&mut self, name: String) {
        self.set(name, true);
    }

    pub(super) fn remove(&mut self, name: &str) {
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
struct Saved {
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
pub(super) struct Shell<'a, O, C> {
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
    scenarios: Arc<Vec<Scenario>>,
    unknown: UnknownCommand,
    job_id: Arc<str>,
}

/// Commands run by the interpreter itself, sorted (see [`as_builtin`]).
pub(super) const BUILTINS: &[&str] = &[
    ".", ":", "[", "basename", "break", "cat", "cd", "command", "continue", "date", "declare",
    "dirname", "echo", "env", "eval", "exec", "exit", "export", "false", "head", "let", "local",
    "ls", "mkdir", "nice", "nohup", "printenv", "printf", "pwd", "read", "readonly", "return",
    "seq", "set", "shift", "shopt", "sleep", "source", "stdbuf", "tail", "test", "timeout",
    "touch", "trap", "true", "typeset", "unset", "wait", "wc", "which", "yes",
];

/// `name` if it is in [`BUILTINS`].
pub(super) fn as_builtin(name: &str) -> Option<&'static str> {
    BUILTINS.binary_search(&name).ok().map(|i| BUILTINS[i])
}

/// Shell builtins the interpreter knows but does not run.
const UNSUPPORTED_BUILTINS: &[&str] = &[
    "alias",
    "bg",
    "bind",
    "builtin",
    "caller",
    "compgen",
    "complete",
    "coproc",
    "dirs",
    "disown",
    "enable",
    "fc",
    "fg",
    "getopts",
    "hash",
    "history",
    "jobs",
    "kill",
    "logout",
    "mapfile",
    "popd",
    "pushd",
    "readarray",
    "suspend",
    "times",
    "ulimit",
    "umask",
    "unalias",
];

/// Directories whose programs are the builtins (`/bin/echo` is `echo`).
const BIN_DIRS: &[&str] = &["/bin", "/usr/bin", "/usr/local/bin", "/sbin", "/usr/sbin"];

/// The builtin `name` stands for, if any.
pub(super) fn builtin_name(name: &str) -> Option<&'static str> {
    let base = match name.rsplit_once('/') {
        Some((dir, base)) if BIN_DIRS.contains(&dir) => base,
        Some(_) => return None,
        None => name,
    };
    as_builtin(base)
}

/// Whether `name` is a shell (`sh`, `bash`, `/bin/sh`, …).
pub(super) fn is_shell(name: &str) -> bool {
    let base = match name.rsplit_once('/') {
        Some((dir, base)) if BIN_DIRS.contains(&dir) => base,
        Some(_) => return false,
        None => name,
    };
    matches!(base, "sh" | "bash" | "dash")
}

/// Quotes an argument for `set -x` traces like bash does.
pub(super) fn trace_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./-_^".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

impl<'a, O: Output, C: Clock> Shell<'a, O, C> {
    /// A shell for one job.
    pub(super) fn new(
        ctx: &ExecContext<C>,
        scenarios: Arc<Vec<Scenario>>,
        unknown: UnknownCommand,
        log: &'a mut O,
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
        }
    }

    /// Runs a command line as given to the job (no shell expansion).
    pub(super) async fn run_top(&mut self, argv: Vec<String>) -> i32 {
        // Not behind a `Grow`: the job's own future is boxed, and polled on a
        // shallow stack.
        let status = match self.run_argv(argv).await {
            Ok(s) => s,
            Err(Flow::Exit(s) | Flow::Return(s)) => s,
            Err(Flow::Break(_) | Flow::Continue(_)) => 0,
        };
        let _ = self.io.flush().await;
        status
    }

    // ---------------------------------------------------------------------
    // Messages.

    /// The prefix of shell diagnostics: `bash: line 3: ` (nothing outside a script).
    pub(super) fn prefix(&self) -> String {
        if self.name.is_empty() {
            String::new()
        } else {
            format!("{}: line {}: ", self.name, self.line)
        }
    }

    /// Prints a diagnostic line to stderr.
    pub(super) async fn diag(&mut self, msg: &str) {
        self.io.err_line(msg).await;
    }

    /// Reports an unsupported construct; the script stops with status 2.
    pub(super) async fn unsupported(&mut self, what: &str) -> Res {
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

    pub(super) fn get_var(&self, name: &str) -> Option<String> {
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
    pub(super) fn vars_mut(&mut self) -> &mut BTreeMap<String, String> {
        Arc::make_mut(&mut self.vars)
    }

    pub(super) fn set_var(&mut self, name: &str, value: String) {
        self.vars_mut().insert(name.to_owned(), value);
    }

    pub(super) fn unset_var(&mut self, name: &str) {
        if self.vars.contains_key(name) {
            self.vars_mut().remove(name);
        }
        self.exported.remove(name);
    }

    /// Drops the variables that are not exported (a new shell process).
    fn keep_exported(&mut self) {
        if self.vars.keys().any(|k| !self.exported.contains(k)) {
            let exported = &self.exported;
            Arc::make_mut(&mut self.vars).retain(|k, _| exported.contains(k));
        }
    }

    /// `NAME=value` lines of the exported variables.
    pub(super) fn environment(&self) -> Vec<(String, String)> {
        self.vars
            .iter()
            .filter(|(k, _)| self.exported.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn save(&self) -> Saved {
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

    fn restore(&mut self, s: Saved) {
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
    pub(super) fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            saved: self.save(),
            stdout: self.io.stdout,
            stderr: self.io.stderr,
            frames: self.io.frame_count(),
            stdin: self.stdin.clone(),
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
    pub(super) fn rollback(&mut self, c: Checkpoint) {
        self.restore(c.saved);
        self.io.truncate_frames(c.frames);
        self.io.stdout = c.stdout;
        self.io.stderr = c.stderr;
        self.stdin = c.stdin;
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
    async fn enter(&mut self) -> Result<(), Flow> {
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

    // ---------------------------------------------------------------------
    // Scripts.

    /// Parses and runs `src` in the current shell (`eval`, `source`).
    pub(super) async fn eval_str(&mut self, src: &str) -> Res {
        match syntax::parse(src) {
            Ok(script) => {
                self.enter().await?;
                let r = self.exec_list_boxed(&script.body).await;
                self.depth -= 1;
                r
            }
            Err(e) => {
                let msg = format!("{}line {}: {}", self.prefix(), e.line, e.message);
                self.diag(&msg).await;
                Ok(2)
            }
        }
    }

    /// Runs `src` as a new shell process named `name` (`bash -c`): only
    /// exported variables are inherited, and `exit` ends only that shell.
    pub(super) async fn run_script(
        &mut self,
        name: &str,
        src: &str,
        arg0: String,
        args: Vec<String>,
        opts: Opts,
        origin: &str,
    ) -> i32 {
        let script = match syntax::parse(src) {
            Ok(s) => s,
            Err(e) => {
                let msg = format!("{name}: {origin}: line {}: {}", e.line, e.message);
                self.diag(&msg).await;
                if let Some(text) = &e.source_line {
                    let msg = format!("{name}: {origin}: line {}: `{text}'", e.line);
                    self.diag(&msg).await;
                }
                return 2;
            }
        };
        if let Err(Flow::Exit(s)) = self.enter().await {
            return s;
        }
        let saved = self.save();
        let saved_line = self.line;
        let saved_cond = self.cond_depth;
        self.keep_exported();
        self.positional = args;
        self.arg0 = arg0;
        self.functions.clear();
        self.opts = opts;
        self.name = name.to_owned();
        self.exit_trap = None;
        self.cond_depth = 0;
        let r = self.exec_list_boxed(&script.body).await;
        let mut status = match r {
            Ok(s) => s,
            Err(Flow::Exit(s) | Flow::Return(s)) => s,
            Err(Flow::Break(_) | Flow::Continue(_)) => self.status,
        };
        if let Some(trap) = self.exit_trap.take() {
            self.status = status;
            if let Ok(s) | Err(Flow::Exit(s)) = self.eval_str(&trap).await
                && s != 0
                && status == 0
            {
                status = s;
            }
        }
        self.restore(saved);
        self.line = saved_line;
        self.cond_depth = saved_cond;
        self.depth -= 1;
        self.status = status;
        status
    }

    pub(super) fn exec_list_boxed<'s>(&'s mut self, list: &'s [Item]) -> Grow<'s, Res> {
        grow(self.exec_list(list))
    }

    pub(super) async fn exec_list(&mut self, list: &[Item]) -> Res {
        let mut status = 0;
        for item in list {
            status = self.exec_item(item).await?;
        }
        Ok(status)
    }

    async fn exec_item(&mut self, item: &Item) -> Res {
        self.line = item.line;
        if item.background {
            return self.unsupported("background jobs (&)").await;
        }
        let single = item.rest.is_empty();
        let mut status = self.exec_pipeline(&item.first, !single).await?;
        let mut last_is_final = single;
        let mut last_bang = item.first.bang;
        for (i, (and, p)) in item.rest.iter().enumerate() {
            let run = if *and { status == 0 } else { status != 0 };
            if run {
                let is_last = i + 1 == item.rest.len();
                status = self.exec_pipeline(p, !is_last).await?;
                last_is_final = is_last;
                last_bang = p.bang;
            }
        }
        self.status = status;
        if self.opts.errexit && status != 0 && self.cond_depth == 0 && last_is_final && !last_bang {
            return Err(Flow::Exit(status));
        }
        Ok(status)
    }

    async fn exec_pipeline(&mut self, p: &Pipeline, in_condition: bool) -> Res {
        if p.timed {
            // `time`: run, then report on stderr like bash's default TIMEFORMAT.
            let start = self.clock.monotonic_ms();
            let r = self.exec_pipeline_untimed(p, in_condition).await;
            let secs = (self.clock.monotonic_ms() - start) as f64 / 1000.0;
            let _ = self.io.flush().await;
            let fmt = |t: f64| format!("{}m{:.3}s", (t / 60.0).floor() as u64, t % 60.0);
            let msg = format!("\nreal\t{}\nuser\t0m0.000s\nsys\t0m0.000s", fmt(secs));
            self.io.err_line(&msg).await;
            return r;
        }
        self.exec_pipeline_untimed(p, in_condition).await
    }

    async fn exec_pipeline_untimed(&mut self, p: &Pipeline, in_condition: bool) -> Res {
        let cond = in_condition || p.bang;
        if cond {
            self.cond_depth += 1;
        }
        let r = if p.cmds.len() == 1 {
            self.exec_command(&p.cmds[0]).await
        } else {
            self.exec_multi(&p.cmds).await
        };
        if cond {
            self.cond_depth -= 1;
        }
        let status = r?;
        let status = if p.bang {
            i32::from(status == 0)
        } else {
            status
        };
        self.status = status;
        Ok(status)
    }

    /// A pipeline of several commands.
    async fn exec_multi(&mut self, cmds: &[Command]) -> Res {
        let n = cmds.len();
        // Expand simple stages once; recognise trailing streaming filters.
        let mut argvs: Vec<Option<Expanded>> = Vec::with_capacity(n);
        let mut filters: Vec<Option<Filter>> = Vec::with_capacity(n);
        for (i, c) in cmds.iter().enumerate() {
            if let CommandKind::Simple { assigns, words } = &c.kind {
                self.line = c.line;
                let expanded = match self.expand_simple(assigns, words).await {
                    Ok(e) => e,
                    Err(Flow::Exit(s)) => {
                        // An expansion error ends only this stage.
                        argvs.push(None);
                        filters.push(None);
                        self.status = s;
                        continue;
                    }
                    Err(f) => return Err(f),
                };
                let f = if i > 0
                    && c.redirs.is_empty()
                    && !self
                        .functions
                        .contains_key(expanded.1.first().map_or("", String::as_str))
                {
                    super::builtins::stream_filter(&expanded.1)
                } else {
                    None
                };
                filters.push(f);
                argvs.push(Some(expanded));
            } else {
                argvs.push(None);
                filters.push(None);
            }
        }
        // The last stage that is not a streaming filter.
        let k = (1..n).rev().find(|&i| filters[i].is_none()).unwrap_or(0);
        let mut statuses = vec![0; n];
        let orig_stdout = self.io.stdout;
        let orig_stdin = std::mem::take(&mut self.stdin);
        let mut input = orig_stdin.clone();
        for i in 0..k {
            let frame = self.io.begin_capture(PIPE_BUFFER_LIMIT);
            self.io.stdout = Route::Frame(frame);
            self.stdin = std::mem::take(&mut input);
            let argv = argvs[i].take();
            statuses[i] = self.run_stage(&cmds[i], argv).await;
            self.io.stdout = orig_stdout;
            let (data, _) = self.io.end_capture(frame);
            input = Stdin::Data(data);
        }
        // Stage k streams through the filters after it.
        let mut next = orig_stdout;
        let mut frames = Vec::new();
        for i in (k + 1..n).rev() {
            if let Some(f) = filters[i].take() {
                let frame = self.io.begin_filter(f, next);
                next = Route::Frame(frame);
                frames.push(frame);
            }
        }
        self.io.stdout = next;
        self.stdin = input;
        let argv = argvs[k].take();
        statuses[k] = self.run_stage(&cmds[k], argv).await;
        for &frame in frames.iter().rev() {
            self.io.end_filter(frame).await;
        }
        self.io.stdout = orig_stdout;
        self.stdin = orig_stdin;
        let status = if self.opts.pipefail {
            statuses
                .iter()
                .rev()
                .copied()
                .find(|&s| s != 0)
                .unwrap_or(0)
        } else {
            statuses[n - 1]
        };
        Ok(status)
    }

    /// Runs one pipeline stage as a subshell.
    async fn run_stage(&mut self, cmd: &Command, argv: Option<Expanded>) -> i32 {
        let saved = self.save();
        let saved_cond = self.cond_depth;
        let r = match argv {
            Some((assigns, argv)) => self.run_simple(cmd, assigns, argv).await,
            None => self.exec_command(cmd).await,
        };
        self.restore(saved);
        self.cond_depth = saved_cond;
        match r {
            Ok(s) => s,
            Err(Flow::Exit(s) | Flow::Return(s)) => s,
            Err(Flow::Break(_) | Flow::Continue(_)) => 0,
        }
    }

    fn exec_command_boxed<'s>(&'s mut self, cmd: &'s Command) -> Grow<'s, Res> {
        grow(self.exec_command(cmd))
    }

    pub(super) async fn exec_command(&mut self, cmd: &Command) -> Res {
        self.line = cmd.line;
        self.io.tick().await;
        match &cmd.kind {
            CommandKind::Simple { assigns, words } => {
                let (assigns, argv) = self.expand_simple(assigns, words).await?;
                self.run_simple(cmd, assigns, argv).await
            }
            CommandKind::FuncDef { name, body } => {
                self.functions.insert(name.clone(), Arc::clone(body));
                Ok(0)
            }
            CommandKind::Unsupported(what) => self.unsupported(what).await,
            _ => {
                let saved = match self.apply_redirs(&cmd.redirs).await? {
                    Ok(saved) => saved,
                    Err(status) => return Ok(status),
                };
                let r = self.exec_compound_boxed(&cmd.kind).await;
                self.undo_redirs(saved).await;
                r
            }
        }
    }

    fn exec_compound_boxed<'s>(&'s mut self, kind: &'s CommandKind) -> Grow<'s, Res> {
        grow(async move {
            self.enter().await?;
            let r = self.exec_compound(kind).await;
            self.depth -= 1;
            r
        })
    }

    async fn exec_cond_list(&mut self, list: &List) -> Res {
        self.cond_depth += 1;
        let r = self.exec_list(list).await;
        self.cond_depth -= 1;
        r
    }

    async fn exec_compound(&mut self, kind: &CommandKind) -> Res {
        if matches!(
            kind,
            CommandKind::For { .. } | CommandKind::ArithFor { .. } | CommandKind::Loop { .. }
        ) {
            self.loops += 1;
            let r = self.exec_loop(kind).await;
            self.loops -= 1;
            return r;
        }
        self.exec_other_compound(kind).await
    }

    async fn exec_other_compound(&mut self, kind: &CommandKind) -> Res {
        match kind {
            CommandKind::Group(list) => self.exec_list(list).await,
            CommandKind::Subshell(list) => {
                let saved = self.save();
                let r = self.exec_list(list).await;
                self.restore(saved);
                match r {
                    Ok(s) => Ok(s),
                    Err(Flow::Exit(s)) => Ok(s),
                    Err(Flow::Break(_) | Flow::Continue(_)) => Ok(self.status),
                    Err(other) => Err(other),
                }
            }
            CommandKind::If {
                branches,
                otherwise,
            } => {
                for (cond, body) in branches {
                    if self.exec_cond_list(cond).await? == 0 {
                        return self.exec_list(body).await;
                    }
                }
                match otherwise {
                    Some(body) => self.exec_list(body).await,
                    None => Ok(0),
                }
            }
            CommandKind::Case { subject, arms } => {
                let value = self.expand_word(subject).await?;
                let mut status = 0;
                let mut i = 0;
                let mut fall = false;
                while i < arms.len() {
                    let arm = &arms[i];
                    let mut hit = fall;
                    if !hit {
                        for p in &arm.patterns {
                            if self.expand_pattern(p).await?.matches(&value) {
                                hit = true;
                                break;
                            }
                        }
                    }
                    if hit {
                        status = self.exec_list(&arm.body).await?;
                        match arm.then {
                            syntax::CaseNext::Stop => break,
                            syntax::CaseNext::FallThrough => fall = true,
                            syntax::CaseNext::TestNext => fall = false,
                        }
                    }
                    i += 1;
                }
                Ok(status)
            }
            CommandKind::Arith(text) => {
                let v = self.arith_text(text).await?;
                Ok(i32::from(v == 0))
            }
            CommandKind::Cond(c) => {
                let r = self.eval_cond(c).await?;
                Ok(r)
            }
            _ => Ok(0),
        }
    }

    async fn exec_loop(&mut self, kind: &CommandKind) -> Res {
        match kind {
            CommandKind::For { var, items, body } => {
                let values = match items {
                    Some(words) => self.expand_words(words).await?,
                    None => self.positional.clone(),
                };
                let mut status = 0;
                for v in values {
                    self.set_var(var, v);
                    if !after_body(self.exec_list(body).await, &mut status)? {
                        break;
                    }
                }
                Ok(status)
            }
            CommandKind::ArithFor {
                init,
                cond,
                step,
                body,
            } => {
                if !init.trim().is_empty() {
                    self.arith_text(init).await?;
                }
                let mut status = 0;
                loop {
                    if !cond.trim().is_empty() && self.arith_text(cond).await? == 0 {
                        break;
                    }
                    if !after_body(self.exec_list(body).await, &mut status)? {
                        break;
                    }
                    if !step.trim().is_empty() {
                        self.arith_text(step).await?;
                    }
                }
                Ok(status)
            }
            CommandKind::Loop { until, cond, body } => {
                let mut status = 0;
                loop {
                    let c = self.exec_cond_list(cond).await?;
                    if (c == 0) == *until {
                        break;
                    }
                    if !after_body(self.exec_list(body).await, &mut status)? {
                        break;
                    }
                }
                Ok(status)
            }
            _ => Ok(0),
        }
    }

    /// Expands a simple command's assignments and words.
    async fn expand_simple(
        &mut self,
        assigns: &[syntax::Assign],
        words: &[syntax::Word],
    ) -> Result<Expanded, Flow> {
        self.last_subst = None;
        let argv = self.expand_words(words).await?;
        let mut values = Vec::with_capacity(assigns.len());
        for a in assigns {
            let v = self.expand_word(&a.value).await?;
            values.push((a.name.clone(), v, a.append));
        }
        Ok((values, argv))
    }

    /// Runs an expanded simple command with its redirections.
    async fn run_simple(
        &mut self,
        cmd: &Command,
        assigns: Vec<(String, String, bool)>,
        argv: Vec<String>,
    ) -> Res {
        if argv.is_empty() {
            for (name, value, append) in assigns {
                let value = if append {
                    format!("{}{value}", self.get_var(&name).unwrap_or_default())
                } else {
                    value
                };
                if self.opts.xtrace {
                    let t = format!(
                        "{} {name}={}",
                        "+".repeat(self.subst_depth + 1),
                        trace_quote(&value)
                    );
                    self.diag(&t).await;
                }
                self.set_var(&name, value);
            }
            let status = self.last_subst.unwrap_or(0);
            if !cmd.redirs.is_empty() {
                match self.apply_redirs(&cmd.redirs).await? {
                    Ok(saved) => self.undo_redirs(saved).await,
                    Err(s) => return Ok(s),
                }
            }
            return Ok(status);
        }
        if self.opts.xtrace {
            let mut t = "+".repeat(self.subst_depth + 1);
            for (name, value, _) in &assigns {
                t.push(' ');
                t.push_str(name);
                t.push('=');
                t.push_str(&trace_quote(value));
            }
            for a in &argv {
                t.push(' ');
                t.push_str(&trace_quote(a));
            }
            self.diag(&t).await;
        }
        let saved = match self.apply_redirs(&cmd.redirs).await? {
            Ok(saved) => saved,
            Err(status) => return Ok(status),
        };
        // Assignments before a command are in its environment only.
        let mut restore_vars = Vec::with_capacity(assigns.len());
        for (name, value, append) in assigns {
            let old = self.vars.get(&name).cloned();
            let was_exported = self.exported.contains(&name);
            let value = if append {
                format!("{}{value}", old.clone().unwrap_or_default())
            } else {
                value
            };
            self.vars_mut().insert(name.clone(), value);
            self.exported.insert(name.clone());
            restore_vars.push((name, old, was_exported));
        }
        let r = self.run_argv(argv).await;
        for (name, old, was_exported) in restore_vars.into_iter().rev() {
            match old {
                Some(v) => {
                    self.vars_mut().insert(name.clone(), v);
                }
                None => {
                    self.vars_mut().remove(&name);
                }
            }
            if !was_exported {
                self.exported.remove(&name);
            }
        }
        self.undo_redirs(saved).await;
        r
    }

    /// Runs an expanded command: function, builtin, shell, scenario, or unknown.
    pub(super) async fn run_argv(&mut self, argv: Vec<String>) -> Res {
        let Some(name) = argv.first() else {
            return Ok(0);
        };
        if let Some(body) = self.functions.get(name).cloned() {
            return self.call_function(&body, argv).await;
        }
        self.run_program(argv).await
    }

    /// [`Self::run_program`] behind a [`Grow`] (for builtins that run commands).
    pub(super) fn run_program_boxed(&mut self, argv: Vec<String>) -> Grow<'_, Res> {
        grow(self.run_program(argv))
    }

    /// Like [`Self::run_argv`] but ignoring functions (`command`, `exec`).
    pub(super) async fn run_program(&mut self, argv: Vec<String>) -> Res {
        let Some(name) = argv.first() else {
            return Ok(0);
        };
        // An uploaded or written file at that path is the program, else
        // `/any/dir/echo` is the builtin `echo`.
        let is_file = name.contains('/') && matches!(self.fs.lookup(name), Some(Node::File(_)));
        let builtin = if is_file {
            None
        } else {
            builtin_name(name).or_else(|| {
                let base = name.rsplit('/').next().unwrap_or("");
                name.starts_with('/').then_some(base).and_then(as_builtin)
            })
        };
        if let Some(b) = builtin {
            // Not behind a `Grow` (no allocation for `true`, `echo`, …): the
            // builtins that run commands again (`eval`, `source`, `command`,
            // `timeout`, …) go through one on their way back.
            return self.builtin(b, &argv[1..]).await;
        }
        if is_shell(name)
            || (name.starts_with('/')
                && !is_file
                && matches!(name.rsplit('/').next(), Some("sh" | "bash")))
        {
            return Ok(grow(self.shell_command(argv)).await);
        }
        if !self.name.is_empty() && UNSUPPORTED_BUILTINS.contains(&name.as_str()) {
            return self.unsupported(name).await;
        }
        self.external(argv).await
    }

    async fn call_function(&mut self, body: &Arc<Command>, argv: Vec<String>) -> Res {
        self.enter().await?;
        let mut it = argv.into_iter();
        let _ = it.next();
        let saved_pos = std::mem::replace(&mut self.positional, it.collect());
        self.locals.push(Vec::new());
        let saved_loops = std::mem::replace(&mut self.loops, 0);
        let r = self.exec_command_boxed(body).await;
        self.loops = saved_loops;
        if let Some(frame) = self.locals.pop() {
            for (name, old, was_exported) in frame.into_iter().rev() {
                match old {
                    Some(v) => {
                        self.vars_mut().insert(name.clone(), v);
                    }
                    None => {
                        self.vars_mut().remove(&name);
                    }
                }
                if was_exported {
                    self.exported.insert(name);
                } else {
                    self.exported.remove(&name);
                }
            }
        }
        self.positional = saved_pos;
        self.depth -= 1;
        match r {
            Err(Flow::Return(s)) => Ok(s),
            other => other,
        }
    }

    /// `sh …` / `bash …`.
    pub(super) async fn shell_command(&mut self, argv: Vec<String>) -> i32 {
        let name = argv[0].rsplit('/').next().unwrap_or("sh").to_owned();
        let mut opts = Opts::default();
        let mut command_mode = false;
        let mut i = 1;
        while i < argv.len() {
            let a = &argv[i];
            if a == "--" {
                i += 1;
                break;
            }
            if a.starts_with("--") {
                // --login, --norc, --noprofile, --posix: nothing to do.
                i += 1;
                continue;
            }
            let (on, letters) = match (a.strip_prefix('-'), a.strip_prefix('+')) {
                (Some(l), _) if !l.is_empty() => (true, l),
                (_, Some(l)) if !l.is_empty() => (false, l),
                _ => break,
            };
            i += 1;
            for c in letters.chars() {
                match c {
                    'c' => command_mode = true,
                    'e' => opts.errexit = on,
                    'u' => opts.nounset = on,
                    'x' => opts.xtrace = on,
                    'o' => {
                        if let Some(o) = argv.get(i) {
                            if o == "pipefail" {
                                opts.pipefail = on;
                            } else if o == "errexit" {
                                opts.errexit = on;
                            } else if o == "nounset" {
                                opts.nounset = on;
                            } else if o == "xtrace" {
                                opts.xtrace = on;
                            }
                            i += 1;
                        }
                    }
                    _ => {}
                }
            }
        }
        let rest: Vec<String> = argv[i.min(argv.len())..].to_vec();
        if command_mode {
            let Some((script, rest)) = rest.split_first() else {
                self.diag(&format!("{name}: -c: option requires an argument"))
                    .await;
                return 2;
            };
            let (arg0, args) = match rest.split_first() {
                Some((a0, args)) => (a0.clone(), args.to_vec()),
                None => (name.clone(), Vec::new()),
            };
            return self.run_script(&name, script, arg0, args, opts, "-c").await;
        }
        if let Some((file, args)) = rest.split_first() {
            return match self.fs.lookup(file) {
                Some(Node::File(data)) => {
                    let src = String::from_utf8_lossy(&data).into_owned();
                    self.run_script(&name, &src, file.clone(), args.to_vec(), opts, file)
                        .await
                }
                Some(Node::Dir) => {
                    self.diag(&format!("{name}: {file}: Is a directory")).await;
                    126
                }
                _ => {
                    // Not uploaded: maybe a scenario plays it.
                    if let Some(s) = self.play_scenario(&argv).await {
                        return s;
                    }
                    self.diag(&format!("{name}: {file}: No such file or directory"))
                        .await;
                    127
                }
            };
        }
        // The script on standard input.
        let src = match std::mem::take(&mut self.stdin) {
            Stdin::Data(d) => String::from_utf8_lossy(&d).into_owned(),
            _ => String::new(),
        };
        self.run_script(&name, &src, name.clone(), Vec::new(), opts, "stdin")
            .await
    }

    /// Plays the first scenario matching `argv`, if any; returns its exit code.
    async fn play_scenario(&mut self, argv: &[String]) -> Option<i32> {
        let (cmd, args) = argv.split_first()?;
        let scenarios = Arc::clone(&self.scenarios);
        let sc = scenarios.iter().find(|s| s.matches(cmd, args))?;
        tracing::debug!(scenario = sc.label(), command = %cmd, "playing scenario");
        let r = super::scenario::play(&sc.steps, &mut self.io, &self.fs).await;
        Some(if r.is_err() { SIGPIPE_STATUS } else { sc.exit })
    }

    /// Anything that is not built in.
    async fn external(&mut self, argv: Vec<String>) -> Res {
        if let Some(s) = self.play_scenario(&argv).await {
            return Ok(s);
        }
        let name = argv[0].clone();
        // An uploaded shell script (`./run.sh` with a sh/bash shebang).
        if name.contains('/')
            && let Some(Node::File(data)) = self.fs.lookup(&name)
        {
            let first = data.split(|&b| b == b'\n').next().unwrap_or(&[]);
            let first = String::from_utf8_lossy(first);
            if let Some(interp) = first.strip_prefix("#!") {
                let mut parts = interp.split_whitespace();
                let prog = parts.next().unwrap_or("");
                let prog = if prog.ends_with("/env") {
                    parts.next().unwrap_or("")
                } else {
                    prog
                };
                if is_shell(prog) || matches!(prog, "sh" | "bash") {
                    let shell_name = prog.rsplit('/').next().unwrap_or("sh").to_owned();
                    let src = String::from_utf8_lossy(&data).into_owned();
                    let args = argv[1..].to_vec();
                    let s = grow(self.run_script(
                        &shell_name,
                        &src,
                        name,
                        args,
                        Opts::default(),
                        "script",
                    ))
                    .await;
                    return Ok(s);
                }
            }
        }
        match self.unknown {
            UnknownCommand::Succeed => {
                tracing::info!(
                    command = %name,
                    args = ?&argv[1..],
                    job = %self.job_id,
                    "no scenario matches; the simulated command exits 0 (--unknown-command=succeed)"
                );
                Ok(0)
            }
            UnknownCommand::Fail => {
                let msg = format!("{}{name}: command not found", self.prefix());
                self.diag(&msg).await;
                Ok(127)
            }
        }
    }

    // ---------------------------------------------------------------------
    // Redirections.

    /// Applies redirections; `Ok(Err(status))` when one fails (reported).
    async fn apply_redirs(&mut self, redirs: &[Redir]) -> Result<Result<SavedIo, i32>, Flow> {
        let saved = SavedIo {
            stdout: self.io.stdout,
            stderr: self.io.stderr,
            stdin: if redirs.is_empty() {
                None
            } else {
                Some(self.stdin.clone())
            },
            files: Vec::new(),
        };
        if redirs.is_empty() {
            return Ok(Ok(saved));
        }
        let mut saved = saved;
        for r in redirs {
            let out_fd = r.fd.unwrap_or(1);
            match &r.kind {
                RedirKind::In(w) => {
                    let path = self.expand_word(w).await?;
                    let input = match self.fs.lookup(&path) {
                        Some(Node::File(d)) => Stdin::Data(d),
                        Some(Node::Null) => Stdin::Empty,
                        Some(Node::Zero) => Stdin::Zero,
                        Some(Node::Random) => Stdin::Random,
                        Some(Node::Stdin) => self.stdin.clone(),
                        Some(Node::Dir) => {
                            let msg = format!("{}{path}: Is a directory", self.prefix());
                            self.diag(&msg).await;
                            self.undo_redirs(saved).await;
                            return Ok(Err(1));
                        }
                        Some(Node::Stdout | Node::Stderr) => Stdin::Empty,
                        None => {
                            let msg = format!("{}{path}: No such file or directory", self.prefix());
                            self.diag(&msg).await;
                            self.undo_redirs(saved).await;
                            return Ok(Err(1));
                        }
                    };
                    if r.fd.unwrap_or(0) == 0 {
                        self.stdin = input;
                    }
                }
                RedirKind::Out(w) | RedirKind::Append(w) => {
                    let append = matches!(r.kind, RedirKind::Append(_));
                    let path = self.expand_word(w).await?;
                    let route = match self.open_out(&path, append, &mut saved).await {
                        Ok(route) => route,
                        Err(status) => {
                            self.undo_redirs(saved).await;
                            return Ok(Err(status));
                        }
                    };
                    match out_fd {
                        1 => self.io.stdout = route,
                        2 => self.io.stderr = route,
                        _ => {}
                    }
                }
                RedirKind::OutErr(w, append) => {
                    let path = self.expand_word(w).await?;
                    let route = match self.open_out(&path, *append, &mut saved).await {
                        Ok(route) => route,
                        Err(status) => {
                            self.undo_redirs(saved).await;
                            return Ok(Err(status));
                        }
                    };
                    self.io.stdout = route;
                    self.io.stderr = route;
                }
                RedirKind::DupOut(w) => {
                    let target = self.expand_word(w).await?;
                    let route = match target.as_str() {
                        "1" => self.io.stdout,
                        "2" => self.io.stderr,
                        "-" => Route::Null,
                        other => {
                            // `>&file` is `&>file` in bash.
                            if r.fd.is_none() && other.parse::<u32>().is_err() {
                                let route = match self.open_out(other, false, &mut saved).await {
                                    Ok(route) => route,
                                    Err(status) => {
                                        self.undo_redirs(saved).await;
                                        return Ok(Err(status));
                                    }
                                };
                                self.io.stderr = route;
                                route
                            } else {
                                self.undo_redirs(saved).await;
                                self.unsupported(&format!(
                                    "redirection to file descriptor {other}"
                                ))
                                .await?;
                                return Ok(Err(2));
                            }
                        }
                    };
                    match out_fd {
                        1 => self.io.stdout = route,
                        2 => self.io.stderr = route,
                        _ => {}
                    }
                }
                RedirKind::DupIn(w) => {
                    let target = self.expand_word(w).await?;
                    if target != "0" && target != "-" {
                        self.undo_redirs(saved).await;
                        self.unsupported(&format!("input from file descriptor {target}"))
                            .await?;
                        return Ok(Err(2));
                    }
                }
                RedirKind::HereDoc(w) => {
                    let text = self.expand_word(w).await?;
                    if r.fd.unwrap_or(0) == 0 {
                        self.stdin = Stdin::Data(Bytes::from(text));
                    }
                }
                RedirKind::HereString(w) => {
                    let mut text = self.expand_word(w).await?;
                    text.push('\n');
                    if r.fd.unwrap_or(0) == 0 {
                        self.stdin = Stdin::Data(Bytes::from(text));
                    }
                }
                RedirKind::Unsupported(what) => {
                    let what = what.clone();
                    self.undo_redirs(saved).await;
                    self.unsupported(&what).await?;
                    return Ok(Err(2));
                }
            }
        }
        Ok(Ok(saved))
    }

    /// Opens `path` for output; returns the route to it.
    async fn open_out(
        &mut self,
        path: &str,
        append: bool,
        saved: &mut SavedIo,
    ) -> Result<Route, i32> {
        match self.fs.lookup(path) {
            Some(Node::Null) => return Ok(Route::Null),
            Some(Node::Stdout) => return Ok(self.io.stdout),
            Some(Node::Stderr) => return Ok(self.io.stderr),
            Some(Node::Dir) => {
                let msg = format!("{}{path}: Is a directory", self.prefix());
                self.diag(&msg).await;
                return Err(1);
            }
            Some(Node::Zero | Node::Random | Node::Stdin) => return Ok(Route::Null),
            Some(Node::File(_)) | None => {}
        }
        let abs = absolute(&self.fs.cwd, path);
        let parent = abs
            .rsplit_once('/')
            .map_or("/", |(p, _)| if p.is_empty() { "/" } else { p });
        if !matches!(self.fs.lookup(parent), Some(Node::Dir)) {
            let msg = format!("{}{path}: No such file or directory", self.prefix());
            self.diag(&msg).await;
            return Err(1);
        }
        let mut existing = match self.fs.lookup(&abs) {
            Some(Node::File(d)) => d,
            _ => Bytes::new(),
        };
        if !append {
            existing = Bytes::new();
        }
        // Create (or truncate) now, so the file exists while the command runs.
        self.store_file(&abs, existing.clone());
        let room = WRITTEN_LIMIT.saturating_sub(self.fs.written_bytes);
        let frame = self.io.begin_capture(room);
        saved.files.push((frame, abs, existing));
        Ok(Route::Frame(frame))
    }

    pub(super) fn store_file(&mut self, abs: &str, data: Bytes) {
        let old = self
            .fs
            .written
            .insert(abs.to_owned(), data.clone())
            .map_or(0, |d| d.len());
        self.fs.written_bytes = self.fs.written_bytes.saturating_sub(old) + data.len();
    }

    /// Undoes [`Self::apply_redirs`], storing written files.
    async fn undo_redirs(&mut self, saved: SavedIo) {
        let SavedIo {
            stdout,
            stderr,
            stdin,
            files,
        } = saved;
        for (frame, abs, prefix) in files.into_iter().rev() {
            let (data, truncated) = self.io.end_capture(frame);
            let content = if prefix.is_empty() {
                data
            } else {
                let mut v = Vec::with_capacity(prefix.len() + data.len());
                v.extend_from_slice(&prefix);
                v.extend_from_slice(&data);
                Bytes::from(v)
            };
            self.store_file(&abs, content);
            if truncated {
                let msg = format!(
                    "{}{abs}: write error: No space left on device",
                    self.prefix()
                );
                self.diag(&msg).await;
            }
        }
        self.io.stdout = stdout;
        self.io.stderr = stderr;
        if let Some(stdin) = stdin {
            self.stdin = stdin;
        }
    }

    // ---------------------------------------------------------------------
    // Command substitution.

    /// Runs `src` capturing its output (trailing newlines removed).
    pub(super) async fn command_substitution(&mut self, src: &str) -> Result<String, Flow> {
        let script = match syntax::parse(src) {
            Ok(s) => s,
            Err(e) => {
                let msg = format!(
                    "{}command substitution: line {}: {}",
                    self.prefix(),
                    e.line,
                    e.message
                );
                self.diag(&msg).await;
                self.last_subst = Some(2);
                self.status = 2;
                return Ok(String::new());
            }
        };
        self.enter().await?;
        let saved = self.save();
        let saved_stdout = self.io.stdout;
        let saved_cond = self.cond_depth;
        let saved_line = self.line;
        let frame = self.io.begin_capture(CAPTURE_LIMIT);
        self.io.stdout = Route::Frame(frame);
        self.subst_depth += 1;
        let r = self.exec_list_boxed(&script.body).await;
        self.subst_depth -= 1;
        self.io.stdout = saved_stdout;
        let (data, truncated) = self.io.end_capture(frame);
        self.restore(saved);
        self.cond_depth = saved_cond;
        self.line = saved_line;
        self.depth -= 1;
        let status = match r {
            Ok(s) => s,
            Err(Flow::Exit(s) | Flow::Return(s)) => s,
            Err(Flow::Break(_) | Flow::Continue(_)) => 0,
        };
        if truncated {
            let msg = format!(
                "{}warning: command substitution: output truncated at {} MiB by joblet-mock",
                self.prefix(),
                CAPTURE_LIMIT >> 20
            );
            self.diag(&msg).await;
        }
        self.last_subst = Some(status);
        self.status = status;
        let mut end = data.len();
        while end > 0 && data[end - 1] == b'\n' {
            end -= 1;
        }
        let bytes: Vec<u8> = data[..end].iter().copied().filter(|&b| b != 0).collect();
        if bytes.len() != end {
            let msg = format!(
                "{}warning: command substitution: ignored null byte in input",
                self.prefix()
            );
            self.diag(&msg).await;
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The command patterns of all scenarios (for `which` / `command -v`).
    pub(super) fn scenario_commands(&self) -> Vec<String> {
        self.scenarios
            .iter()
            .map(|s| s.matcher.command.clone())
            .collect()
    }
}

/// A snapshot taken by [`Shell::checkpoint`].
#[derive(Debug)]
pub(super) struct Checkpoint {
    saved: Saved,
    stdout: Route,
    stderr: Route,
    frames: usize,
    stdin: Stdin,
    counters: (usize, usize, usize, usize, usize, usize, usize),
}

/// What [`Shell::apply_redirs`] changed.
#[derive(Debug)]
pub(super) struct SavedIo {
    stdout: Route,
    stderr: Route,
    stdin: Option<Stdin>,
    /// Capture frames of `> file` with the file's path and kept content.
    files: Vec<(usize, String, Bytes)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(absolute("/work", "a/b"), "/work/a/b");
        assert_eq!(absolute("/work", "/x/../y/./z"), "/y/z");
        assert_eq!(absolute("/work", ".."), "/");
        assert_eq!(absolute("/", "../.."), "/");
    }

    #[test]
    fn names() {
        assert_eq!(builtin_name("/bin/echo"), Some("echo"));
        assert_eq!(builtin_name("/usr/bin/env"), Some("env"));
        assert_eq!(builtin_name("/opt/echo"), None);
        assert_eq!(builtin_name("python"), None);
        assert!(is_shell("/bin/bash"));
        assert!(!is_shell("./bash"));
        assert_eq!(trace_quote("a b"), "'a b'");
        assert_eq!(trace_quote("it's"), "'it'\\''s'");
        assert_eq!(trace_quote("plain"), "plain");
    }
}
