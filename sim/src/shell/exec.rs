//! Running scripts: a script as a new shell process (`bash -c`) or in the
//! current one (`eval`, `source`), lists, pipelines (with streaming filter
//! stages), compound commands and loops.

use std::sync::Arc;

use super::command::Expanded;
use super::grow::{Grow, grow};
use super::state::{Flow, Opts, Res, Shell, Stdin};
use crate::args::stream_filter;
use crate::host::{Clock, Output};
use crate::io::{Filter, Route};
use crate::observe::Observer;
use crate::syntax::{self, Command, CommandKind, Item, List, Pipeline};

/// Most data a pipe stage hands to the next (non-streaming) stage.
const PIPE_BUFFER_LIMIT: usize = 16 << 20;

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

impl<O: Output, C: Clock, W: Observer> Shell<'_, O, C, W> {
    /// Runs a command line as given to the job (no shell expansion).
    pub(crate) async fn run_top(&mut self, argv: Vec<String>) -> i32 {
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
    // Scripts.

    /// Parses and runs `src` in the current shell (`eval`, `source`).
    pub(crate) async fn eval_str(&mut self, src: &str) -> Res {
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
    pub(crate) async fn run_script(
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

    pub(crate) fn exec_list_boxed<'s>(&'s mut self, list: &'s [Item]) -> Grow<'s, Res> {
        grow(self.exec_list(list))
    }

    pub(crate) async fn exec_list(&mut self, list: &[Item]) -> Res {
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
        let r = if p.cmds.is_empty() {
            // A lone `!`: an empty pipeline, which succeeds (then negated).
            Ok(0)
        } else if p.cmds.len() == 1 {
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
                    stream_filter(&expanded.1)
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
        // The streaming stages are processes of their own, started with stage k.
        let streaming: Vec<Option<u32>> = if W::ACTIVE {
            argvs[k + 1..]
                .iter()
                .flatten()
                .map(|(_, argv)| self.start_sibling(argv))
                .collect()
        } else {
            Vec::new()
        };
        let argv = argvs[k].take();
        statuses[k] = self.run_stage(&cmds[k], argv).await;
        for &frame in frames.iter().rev() {
            self.io.end_filter(frame).await;
        }
        for pid in streaming {
            self.end_sibling(pid, 0);
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

    pub(crate) fn exec_command_boxed<'s>(&'s mut self, cmd: &'s Command) -> Grow<'s, Res> {
        grow(self.exec_command(cmd))
    }

    pub(crate) async fn exec_command(&mut self, cmd: &Command) -> Res {
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
}
