//! Exit status, control flow and commands that run commands: `exit`,
//! `return`, `break`, `continue`, `eval`, `source`, `let`, `exec`,
//! `command`, `which`, `trap`, `timeout`, `nice`, `stdbuf`, `sleep`.

use crate::args::parse_sleep;
use crate::glob::Pattern;
use crate::host::{Clock, Output};
use crate::observe::Observer;
use crate::shell::{Flow, Node, Res, Shell, Spawn, builtin_name, is_shell};

impl<O: Output, C: Clock, W: Observer> Shell<'_, O, C, W> {
    /// `exit [N]`.
    pub(super) async fn b_exit(&mut self, args: &[String]) -> Res {
        let s = match args.first() {
            None => self.status,
            Some(a) => match a.trim().parse::<i64>() {
                Ok(v) => (v & 0xff) as i32,
                Err(_) => {
                    let m = format!("{}exit: {a}: numeric argument required", self.prefix());
                    self.diag(&m).await;
                    2
                }
            },
        };
        Err(Flow::Exit(s))
    }

    /// `return [N]`.
    pub(super) async fn b_return(&mut self, args: &[String]) -> Res {
        if self.locals.is_empty() && self.sourcing == 0 {
            let m = format!(
                "{}return: can only `return' from a function or sourced script",
                self.prefix()
            );
            self.diag(&m).await;
            return Ok(2);
        }
        let s = match args.first() {
            Some(a) => a.parse::<i64>().map_or(2, |v| (v & 0xff) as i32),
            None => self.status,
        };
        Err(Flow::Return(s))
    }

    /// `break [N]` / `continue [N]`.
    pub(super) async fn b_loop_control(&mut self, name: &str, args: &[String]) -> Res {
        let n = match args.first() {
            Some(a) => match a.parse::<u32>() {
                Ok(n) if n >= 1 => n,
                _ => {
                    let m = format!("{}{name}: {a}: loop count out of range", self.prefix());
                    self.diag(&m).await;
                    return Ok(1);
                }
            },
            None => 1,
        };
        if self.loops == 0 {
            let m = format!(
                "{}{name}: only meaningful in a `for', `while', or `until' loop",
                self.prefix()
            );
            self.diag(&m).await;
            return Ok(0);
        }
        let n = n.min(u32::try_from(self.loops).unwrap_or(u32::MAX));
        if name == "break" {
            Err(Flow::Break(n))
        } else {
            Err(Flow::Continue(n))
        }
    }

    /// `eval ARGS…`.
    pub(super) async fn b_eval(&mut self, args: &[String]) -> Res {
        let src = args.join(" ");
        if src.trim().is_empty() {
            return Ok(0);
        }
        self.eval_str(&src).await
    }

    /// `source FILE [ARGS…]` / `. FILE`.
    pub(super) async fn b_source(&mut self, name: &str, args: &[String]) -> Res {
        let Some((file, rest)) = args.split_first() else {
            let m = format!("{}{name}: filename argument required", self.prefix());
            self.diag(&m).await;
            return Ok(2);
        };
        let data = match self.fs.lookup(file) {
            Some(Node::File(d)) => d,
            _ => {
                let m = format!("{}{file}: No such file or directory", self.prefix());
                self.diag(&m).await;
                return Ok(1);
            }
        };
        let src = String::from_utf8_lossy(&data).into_owned();
        let saved_pos = if rest.is_empty() {
            None
        } else {
            Some(std::mem::replace(&mut self.positional, rest.to_vec()))
        };
        self.sourcing += 1;
        let r = self.eval_str(&src).await;
        self.sourcing -= 1;
        if let Some(p) = saved_pos {
            self.positional = p;
        }
        match r {
            Err(Flow::Return(s)) => Ok(s),
            other => other,
        }
    }

    /// `let EXPR…`.
    pub(super) async fn b_let(&mut self, args: &[String]) -> Res {
        if args.is_empty() {
            let m = format!("{}let: expression expected", self.prefix());
            self.diag(&m).await;
            return Ok(1);
        }
        let mut last = 0;
        for a in args {
            last = self.arith_text(a).await?;
        }
        Ok(i32::from(last == 0))
    }

    /// `exec CMD…`: runs the command, then the shell exits with its status.
    pub(super) async fn b_exec(&mut self, args: &[String]) -> Res {
        if args.is_empty() {
            return Ok(0);
        }
        self.spawn_next(Spawn::Replace);
        let s = self.run_program_boxed(args.to_vec()).await?;
        Err(Flow::Exit(s))
    }

    pub(super) fn program_path(&self, name: &str) -> Option<String> {
        if name.contains('/') {
            return match self.fs.lookup(name) {
                Some(Node::File(_)) => Some(name.to_owned()),
                _ => None,
            };
        }
        if builtin_name(name).is_some() || is_shell(name) {
            return Some(format!("/usr/bin/{name}"));
        }
        let known = self
            .scenario_commands()
            .iter()
            .any(|p| Pattern::new(p).matches(name));
        known.then(|| format!("/usr/bin/{name}"))
    }

    /// `command [-v|-p] NAME…`.
    pub(super) async fn b_command(&mut self, args: &[String]) -> Res {
        match args.first().map(String::as_str) {
            Some("-v") => {
                let mut status = 0;
                for a in &args[1..] {
                    let found = if self.functions.contains_key(a.as_str())
                        || (builtin_name(a).is_some() && !a.contains('/'))
                    {
                        Some(a.clone())
                    } else {
                        self.program_path(a)
                    };
                    match found {
                        Some(p) => {
                            let line = format!("{p}\n");
                            put!(self, line.as_bytes());
                        }
                        None => status = 1,
                    }
                }
                Ok(status)
            }
            Some("-V") => self.unsupported("command -V").await,
            Some("-p") => self.run_program_boxed(args[1..].to_vec()).await,
            Some(_) => self.run_program_boxed(args.to_vec()).await,
            None => Ok(0),
        }
    }

    /// `which NAME…`.
    pub(super) async fn b_which(&mut self, args: &[String]) -> Res {
        let mut status = 0;
        for a in args.iter().filter(|a| !a.starts_with('-')) {
            match self.program_path(a) {
                Some(p) => {
                    let line = format!("{p}\n");
                    put!(self, line.as_bytes());
                }
                None => status = 1,
            }
        }
        Ok(status)
    }

    /// `trap ACTION EXIT` (other signals are accepted and ignored).
    pub(super) fn b_trap(&mut self, args: &[String]) -> Res {
        if args.len() >= 2 {
            let action = &args[0];
            for sig in &args[1..] {
                if matches!(sig.as_str(), "EXIT" | "0" | "SIGEXIT") {
                    self.exit_trap = if action == "-" || action.is_empty() {
                        None
                    } else {
                        Some(action.clone())
                    };
                }
            }
        }
        Ok(0)
    }

    /// `timeout [-s SIG] [-k T] [--preserve-status] DURATION COMMAND…`, on the job's clock.
    pub(super) async fn b_timeout(&mut self, args: &[String]) -> Res {
        let help = "Try 'timeout --help' for more information.";
        let mut i = 0;
        let mut preserve = false;
        while i < args.len() && args[i].starts_with('-') && args[i].len() > 1 {
            match args[i].as_str() {
                "-s" | "-k" | "--signal" | "--kill-after" => i += 1,
                "--preserve-status" => preserve = true,
                _ => {}
            }
            i += 1;
        }
        let Some(limit) = args.get(i) else {
            let m = format!("timeout: missing operand\n{help}");
            self.diag(&m).await;
            return Ok(125);
        };
        let limit = match parse_sleep(std::slice::from_ref(limit)) {
            Ok(d) => d,
            Err(_) => {
                let m = format!("timeout: invalid time interval '{limit}'\n{help}");
                self.diag(&m).await;
                return Ok(125);
            }
        };
        let argv = args[i + 1..].to_vec();
        if argv.is_empty() {
            let m = format!("timeout: missing operand\n{help}");
            self.diag(&m).await;
            return Ok(125);
        }
        let zero = limit.is_some_and(|d| d.is_zero());
        let Some(limit) = limit.filter(|_| !zero) else {
            // No limit.
            self.spawn_next(Spawn::Child);
            return self.run_program_boxed(argv).await;
        };
        let checkpoint = self.checkpoint();
        // The limit is a plain timer: while the program sleeps, the clock
        // may skip to it.
        let timer = self.clock.sleep(limit);
        self.spawn_next(Spawn::Child);
        let r = tokio::select! {
            r = self.run_program_boxed(argv) => Some(r),
            () = timer => None,
        };
        match r {
            Some(r) => r,
            None => {
                self.rollback(checkpoint);
                let _ = self.io.flush().await;
                Ok(if preserve { 143 } else { 124 })
            }
        }
    }

    /// `nice` / `stdbuf`: run the command (options skipped).
    pub(super) async fn b_wrapper(&mut self, args: &[String]) -> Res {
        // Skip options (and their values): `nice -n 10 cmd`, `stdbuf -oL cmd`.
        let mut i = 0;
        while i < args.len() && args[i].starts_with('-') {
            if matches!(args[i].as_str(), "-n" | "-o" | "-e" | "-i") {
                i += 1;
            }
            i += 1;
        }
        if i >= args.len() {
            return Ok(0);
        }
        self.spawn_next(Spawn::Replace);
        self.run_program_boxed(args[i..].to_vec()).await
    }

    /// `sleep DURATION…` on the job's clock.
    pub(super) async fn b_sleep(&mut self, args: &[String]) -> Res {
        match parse_sleep(args) {
            Ok(d) => {
                self.io.sleep(d).await;
                Ok(0)
            }
            Err(msg) => {
                self.diag(&msg).await;
                Ok(1)
            }
        }
    }
}
