//! The job's processes as the host's [`Observer`] sees them (the model is
//! described in [`crate::observe`]): which commands are processes, their
//! numbering, and the reports of their starts, exits and file writes.

use super::names::UNSUPPORTED_BUILTINS;
use super::state::{Flow, Res, Shell, Spawn};
use crate::host::{Clock, Output};
use crate::observe::{FileOperation, FileWrite, Observer, ProcessStart};

/// Bash builtins among the commands the interpreter runs itself: run by a
/// shell, they start no process (sorted).
const BASH_BUILTINS: &[&str] = &[
    ".", ":", "[", "break", "cd", "command", "continue", "declare", "echo", "eval", "exec", "exit",
    "export", "false", "let", "local", "printf", "pwd", "read", "readonly", "return", "set",
    "shift", "shopt", "source", "test", "trap", "true", "typeset", "unset", "wait",
];

/// Whether the shell runs `name` without starting a process (the builtins
/// it does not support included: they stop the script).
fn is_bash_builtin(name: &str) -> bool {
    BASH_BUILTINS.binary_search(&name).is_ok() || UNSUPPORTED_BUILTINS.contains(&name)
}

/// A process started by [`Shell::start_process`], ended by [`Shell::end_process`].
#[derive(Debug)]
#[must_use = "a started process must be ended"]
pub(crate) struct Started {
    pid: u32,
    /// The running process and its parent before it started.
    outer: (u32, u32),
    /// It replaced the running process, whose exit is its exit.
    replaced: bool,
}

/// The exit status of a command that ended with `r`.
pub(crate) fn status_of(r: &Res) -> i32 {
    match r {
        Ok(s) | Err(Flow::Exit(s) | Flow::Return(s)) => *s,
        Err(Flow::Break(_) | Flow::Continue(_)) => 0,
    }
}

impl<O: Output, C: Clock, W: Observer> Shell<'_, O, C, W> {
    /// Starts the process of `argv` if running it makes one (see [`Spawn`]),
    /// and reports it; `None` for a bash builtin run by the shell.
    pub(crate) fn start_process(&mut self, argv: &[String]) -> Option<Started> {
        if !W::ACTIVE {
            return None;
        }
        let spawn = std::mem::take(&mut self.procs.spawn);
        let name = argv.first()?;
        if spawn == Spawn::Shell && !name.contains('/') && is_bash_builtin(name) {
            return None;
        }
        let outer = (self.procs.pid, self.procs.ppid);
        let replaced = spawn == Spawn::Replace && self.procs.pid != 0;
        if !replaced {
            let pid = self.procs.next;
            self.procs.next = pid.checked_add(1).unwrap_or(2);
            self.procs.ppid = self.procs.pid;
            self.procs.pid = pid;
        }
        self.obs.process_started(&ProcessStart {
            pid: self.procs.pid,
            ppid: self.procs.ppid,
            argv,
            cwd: &self.fs.cwd,
        });
        Some(Started {
            pid: self.procs.pid,
            outer,
            replaced,
        })
    }

    /// Ends a process [`start_process`](Self::start_process) started, with
    /// `status`; the process before it runs again.
    pub(crate) fn end_process(&mut self, started: Option<Started>, status: i32) {
        let Some(started) = started else { return };
        if !started.replaced {
            self.obs.process_exited(started.pid, status);
        }
        (self.procs.pid, self.procs.ppid) = started.outer;
    }

    /// Starts a process that runs beside the shell (a streaming stage of a
    /// pipeline), which goes on as its parent; its pid, for
    /// [`end_sibling`](Self::end_sibling).
    pub(crate) fn start_sibling(&mut self, argv: &[String]) -> Option<u32> {
        let started = self.start_process(argv)?;
        (self.procs.pid, self.procs.ppid) = started.outer;
        Some(started.pid)
    }

    /// Ends a process [`start_sibling`](Self::start_sibling) started.
    pub(crate) fn end_sibling(&mut self, pid: Option<u32>, status: i32) {
        if let Some(pid) = pid {
            self.obs.process_exited(pid, status);
        }
    }

    /// The next program runs as `spawn` says (for the builtins that run one).
    pub(crate) fn spawn_next(&mut self, spawn: Spawn) {
        self.procs.spawn = spawn;
    }

    /// Reports that process `pid` wrote `bytes` to the file at `path`.
    pub(crate) fn report_write(&mut self, pid: u32, path: &str, op: FileOperation, bytes: usize) {
        if !W::ACTIVE {
            return;
        }
        self.obs.file_written(&FileWrite {
            pid,
            path,
            operation: op,
            bytes: bytes as u64,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_list_is_sorted_and_known() {
        assert!(BASH_BUILTINS.windows(2).all(|w| w[0] < w[1]));
        for b in BASH_BUILTINS {
            assert!(super::super::as_builtin(b).is_some(), "{b}");
        }
        assert!(is_bash_builtin("echo") && !is_bash_builtin("sleep"));
    }
}
