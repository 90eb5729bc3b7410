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
//! Output, waits and cancellation go through [`Io`](crate::io::Io). Recursion
//! (nested commands, functions, substitutions, nested shells) is bounded by
//! [`MAX_CALL_DEPTH`](state::MAX_CALL_DEPTH) and runs on growable stack segments ([`Grow`]), so no
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
//!
//! # Modules
//!
//! [`state`] holds a job's [`Shell`]: variables, options, what a subshell
//! saves. [`exec`] runs scripts, lists, pipelines and compound commands,
//! [`command`] simple commands (functions, builtins, nested shells, scenarios,
//! unknown programs), [`redirect`] redirections on the in-memory file system
//! of [`fs`]. Word expansion is in [`crate::expand`], the builtins in
//! [`crate::builtins`]; both add methods to [`Shell`] and are called by name,
//! so this module never names them.

mod command;
mod exec;
mod fs;
mod grow;
mod names;
mod procs;
mod redirect;
mod state;

pub(crate) use fs::{Node, absolute};
pub(crate) use grow::{Grow, grow};
pub(crate) use names::{as_builtin, builtin_name, is_shell};
pub(crate) use state::{Flow, Res, SIGPIPE_STATUS, Shell, Spawn, Stdin};
