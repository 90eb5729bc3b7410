//! What a host may learn of a simulated job besides its output: the
//! processes its shell starts and the files it writes, through an
//! [`Observer`].
//!
//! # The process model
//!
//! Processes are numbered as in the job's own PID namespace: the job's
//! command is pid 1 (what `$$` prints), with ppid 0, and every further
//! process takes the next number. A process is what a Linux node would
//! `execve`:
//!
//! - the job's own command, whatever it is (`echo hi` as a job runs
//!   `/usr/bin/echo`);
//! - in a script, every program: the commands that are not bash builtins
//!   (`sleep`, `cat`, `seq`, `date`, `ls`, a nested `sh -c`, an uploaded
//!   script, a command a scenario plays, an unknown command), each stage of a
//!   pipeline that is one (`yes | head -n 3` starts `yes` and `head`), and any
//!   command named by a path (`/bin/echo`). Bash builtins (`echo`,
//!   `printf`, `test`, `cd`, `export`, `read`, …), functions, subshells and
//!   command substitutions start no program;
//! - a program started by `exec`, `env`, `nice`, `nohup` or `stdbuf` replaces
//!   that process: it keeps its pid (a second start with the same pid), and
//!   its exit is the one of that pid. `timeout` starts its command as a child.
//!
//! Each start is reported before the program runs, each exit after it ends
//! with its status. A program cut short (by `timeout`, or the job being
//! stopped) reports no exit.
//!
//! # Files
//!
//! A redirection to a file of the job's in-memory file system (`> f`, `>> f`,
//! `&> f`) reports one write when the command it applies to ends: the path,
//! the bytes that command wrote, and whether it truncated or appended. `touch`
//! creating a file reports a creation. Devices (`/dev/null`, …) report
//! nothing.

use crate::path::absolute;

/// Where a Linux node keeps the programs a job runs by bare name
/// (coreutils, shells, interpreters): the directory [`ProcessStart::binary`]
/// names.
pub const PROGRAM_DIR: &str = "/usr/bin";

/// A process the simulated job starts (see the [module docs](self)).
#[derive(Debug, Clone, Copy)]
pub struct ProcessStart<'a> {
    /// Its process ID (1 for the job's own command).
    pub pid: u32,
    /// The process that started it (0 for the job's own command).
    pub ppid: u32,
    /// The program and its arguments, as the shell passes them (`argv[0]`
    /// first; never empty).
    pub argv: &'a [String],
    /// The directory it starts in (absolute).
    pub cwd: &'a str,
}

impl ProcessStart<'_> {
    /// The program file: `argv[0]` made absolute against [`cwd`](Self::cwd)
    /// when it names a path (`./run.sh` in `/work` is `/work/run.sh`), else
    /// `/usr/bin/NAME` ([`PROGRAM_DIR`]). Computed on demand: an observer that
    /// does not ask pays nothing.
    pub fn binary(&self) -> String {
        program_binary(self.argv.first().map_or("", String::as_str), self.cwd)
    }

    /// The arguments after the program name.
    pub fn args(&self) -> &[String] {
        self.argv.get(1..).unwrap_or_default()
    }
}

/// The program file a job running `program` in directory `cwd` executes, as
/// [`ProcessStart::binary`] names it.
pub fn program_binary(program: &str, cwd: &str) -> String {
    if program.contains('/') {
        absolute(if cwd.is_empty() { "/" } else { cwd }, program)
    } else {
        format!("{PROGRAM_DIR}/{program}")
    }
}

/// How a job wrote a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileOperation {
    /// Created empty (`touch` of a file that did not exist).
    Create,
    /// Created or truncated, then written (`> file`).
    Write,
    /// Written at the end (`>> file`).
    Append,
}

/// A file the simulated job wrote (see the [module docs](self)).
#[derive(Debug, Clone, Copy)]
pub struct FileWrite<'a> {
    /// The process that wrote it.
    pub pid: u32,
    /// Its absolute path.
    pub path: &'a str,
    /// What was done.
    pub operation: FileOperation,
    /// Bytes written (0 for a creation).
    pub bytes: u64,
}

/// What a host learns of a job's processes and files while the simulator
/// runs it ([`Simulator::run_observed`](crate::Simulator::run_observed)).
///
/// Every method has an empty default, and the simulator is generic over its
/// observer, so calls are statically dispatched and an observer that ignores
/// something costs nothing for it; `()` ignores everything (what
/// [`Simulator::run`](crate::Simulator::run) uses). The calls come from the
/// job's own task, in the order things happen, never concurrently; an
/// observer should not block.
pub trait Observer: Send {
    /// Whether the observer wants reports at all. `false` (only `()` says so)
    /// lets the simulator skip even its bookkeeping of processes: a job run
    /// without an observer does exactly what it did before observers existed.
    const ACTIVE: bool = true;

    /// A process starts (before it runs).
    fn process_started(&mut self, process: &ProcessStart<'_>) {
        let _ = process;
    }

    /// Process `pid` ended with `status` (its exit code, as `$?` shows it).
    fn process_exited(&mut self, pid: u32, status: i32) {
        let _ = (pid, status);
    }

    /// A file was written.
    fn file_written(&mut self, write: &FileWrite<'_>) {
        let _ = write;
    }
}

/// Observes nothing.
impl Observer for () {
    const ACTIVE: bool = false;
}

impl<T: Observer + ?Sized> Observer for &mut T {
    const ACTIVE: bool = T::ACTIVE;

    fn process_started(&mut self, process: &ProcessStart<'_>) {
        (**self).process_started(process);
    }

    fn process_exited(&mut self, pid: u32, status: i32) {
        (**self).process_exited(pid, status);
    }

    fn file_written(&mut self, write: &FileWrite<'_>) {
        (**self).file_written(write);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binaries_are_absolute() {
        let argv = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let sleep = argv(&["sleep", "1"]);
        let p = ProcessStart {
            pid: 2,
            ppid: 1,
            argv: &sleep,
            cwd: "/work",
        };
        assert_eq!(p.binary(), "/usr/bin/sleep");
        assert_eq!(p.args(), ["1"]);
        let script = argv(&["./bin/../run.sh"]);
        let p = ProcessStart { argv: &script, ..p };
        assert_eq!(p.binary(), "/work/run.sh");
        assert!(p.args().is_empty());
        assert_eq!(program_binary("/bin/echo", ""), "/bin/echo");
        assert_eq!(program_binary("x/y", ""), "/x/y");
    }
}
