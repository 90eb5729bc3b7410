//! Simple commands: assignments and words expanded, then a function, a
//! builtin, a nested shell, an uploaded script, a scenario or an unknown
//! program runs.

use std::sync::Arc;

use super::fs::Node;
use super::grow::{Grow, grow};
use super::names::{UNSUPPORTED_BUILTINS, as_builtin, builtin_name, is_shell, trace_quote};
use super::procs::status_of;
use super::state::{Flow, Opts, Res, SIGPIPE_STATUS, Shell, Stdin};
use crate::context::UnknownCommand;
use crate::host::{Clock, Output};
use crate::observe::Observer;
use crate::scenario;
use crate::syntax::{self, Command};

/// A simple command after expansion: assignments `(name, value, append)` and words.
pub(crate) type Expanded = (Vec<(String, String, bool)>, Vec<String>);

impl<O: Output, C: Clock, W: Observer> Shell<'_, O, C, W> {
    /// Expands a simple command's assignments and words.
    pub(super) async fn expand_simple(
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
    pub(crate) async fn run_simple(
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
        let first_pid = self.procs.next;
        let r = self.run_argv(argv).await;
        // A file this command's redirections opened was written by the first
        // process it started (`seq 3 > f`), else by the shell.
        let mut saved = saved;
        if self.procs.next != first_pid {
            saved.writer = Some(first_pid);
        }
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
    pub(crate) async fn run_argv(&mut self, argv: Vec<String>) -> Res {
        let Some(name) = argv.first() else {
            return Ok(0);
        };
        if let Some(body) = self.functions.get(name).cloned() {
            return self.call_function(&body, argv).await;
        }
        self.run_program(argv).await
    }

    /// [`Self::run_program`] behind a [`Grow`] (for builtins that run commands).
    pub(crate) fn run_program_boxed(&mut self, argv: Vec<String>) -> Grow<'_, Res> {
        grow(self.run_program(argv))
    }

    /// Like [`Self::run_argv`] but ignoring functions (`command`, `exec`):
    /// a process for the observer, unless a bash builtin runs in the shell.
    pub(crate) async fn run_program(&mut self, argv: Vec<String>) -> Res {
        if argv.is_empty() {
            return Ok(0);
        }
        let started = self.start_process(&argv);
        let r = self.run_program_here(argv).await;
        self.end_process(started, status_of(&r));
        r
    }

    /// Runs a program or builtin in the current process.
    async fn run_program_here(&mut self, argv: Vec<String>) -> Res {
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
    pub(crate) async fn shell_command(&mut self, argv: Vec<String>) -> i32 {
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
        let r = scenario::play(&sc.steps, &mut self.io, &self.fs).await;
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

    /// The command patterns of all scenarios (for `which` / `command -v`).
    pub(crate) fn scenario_commands(&self) -> Vec<String> {
        self.scenarios
            .iter()
            .map(|s| s.matcher.command.clone())
            .collect()
    }
}
