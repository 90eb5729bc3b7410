//! Built-in commands, acting as GNU coreutils / bash builtins do on a Linux
//! node (C locale: messages quote with ASCII apostrophes).
//!
//! Each command family has its module: [`output`] (commands that print:
//! `echo`, `printf`, `seq`, `yes`, `date`), [`files`] (reading files and
//! devices: `cat`, `head`, `tail`, `wc`), [`paths`] (the in-memory file
//! system: `pwd`, `cd`, `ls`, `mkdir`, `touch`, `basename`, `dirname`),
//! [`vars`] (variables and the environment), [`control`] (exit status, control
//! flow and commands that run commands), [`conditions`] (`test` / `[`).
//! The options of the text tools are parsed in [`crate::args`], shared with
//! the pipeline code that runs `| head`, `| tail`, `| wc` and `| cat` as
//! streaming filters.
//! Each adds methods to [`Shell`]; [`Shell::builtin`] dispatches by name.

use crate::host::{Clock, Output};
use crate::observe::Observer;
use crate::shell::{Res, Shell};

/// Writes to stdout; a broken pipe ends the command with status 141.
macro_rules! put {
    ($sh:expr, $data:expr) => {
        if $sh.io.out_slice($data).await.is_err() {
            return Ok($crate::shell::SIGPIPE_STATUS);
        }
    };
}

/// Writes shared bytes to stdout (no copy on the way to the log).
macro_rules! put_bytes {
    ($sh:expr, $data:expr) => {
        if $sh.io.out($data).await.is_err() {
            return Ok($crate::shell::SIGPIPE_STATUS);
        }
    };
}

mod conditions;
mod control;
mod files;
mod output;
mod paths;
mod vars;

impl<O: Output, C: Clock, W: Observer> Shell<'_, O, C, W> {
    /// Runs builtin `name` (already resolved by
    /// [`builtin_name`](crate::shell::builtin_name)).
    pub(crate) async fn builtin(&mut self, name: &str, args: &[String]) -> Res {
        match name {
            ":" | "true" | "wait" | "shopt" => Ok(0),
            "false" => Ok(1),
            // Commands that print.
            "echo" => self.b_echo(args).await,
            "printf" => self.b_printf(args).await,
            "seq" => self.b_seq(args).await,
            "yes" => self.b_yes(args).await,
            "date" => self.b_date(args).await,
            // Files and devices.
            "cat" => self.b_cat(args).await,
            "head" => self.b_head(args).await,
            "tail" => self.b_tail(args).await,
            "wc" => self.b_wc(args).await,
            // The file system.
            "pwd" => self.b_pwd().await,
            "cd" => self.b_cd(args).await,
            "ls" => self.b_ls(args).await,
            "mkdir" => self.b_mkdir(args).await,
            "touch" => self.b_touch(args).await,
            "basename" => self.b_basename(args).await,
            "dirname" => self.b_dirname(args).await,
            // Variables and the environment.
            "export" => self.b_export(args).await,
            "readonly" | "declare" | "typeset" | "local" => self.b_declare(name, args).await,
            "unset" => self.b_unset(args),
            "set" => self.b_set(args).await,
            "shift" => self.b_shift(args).await,
            "read" => self.b_read(args).await,
            "env" => self.b_env(args).await,
            "printenv" => self.b_printenv(args).await,
            // Status, control flow, commands that run commands.
            "exit" => self.b_exit(args).await,
            "return" => self.b_return(args).await,
            "break" | "continue" => self.b_loop_control(name, args).await,
            "eval" => self.b_eval(args).await,
            "source" | "." => self.b_source(name, args).await,
            "let" => self.b_let(args).await,
            "exec" => self.b_exec(args).await,
            "command" => self.b_command(args).await,
            "which" => self.b_which(args).await,
            "trap" => self.b_trap(args),
            "timeout" => self.b_timeout(args).await,
            "nohup" => {
                self.spawn_next(crate::shell::Spawn::Replace);
                self.run_program_boxed(args.to_vec()).await
            }
            "nice" | "stdbuf" => self.b_wrapper(args).await,
            "sleep" => self.b_sleep(args).await,
            // Conditions.
            "test" => self.b_test(args, false).await,
            "[" => self.b_test(args, true).await,
            _ => self.unsupported(name).await,
        }
    }
}
