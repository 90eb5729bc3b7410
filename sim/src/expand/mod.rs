//! Word expansion: what a word of a script stands for when it runs.
//!
//! [`words`] turns a word's pieces into fields (quoting, `IFS` splitting,
//! `"$@"`), [`param`] expands `$x` and `${x…}`, [`subst`] runs `$(…)`,
//! [`arith`] evaluates `$((…))`, `((…))` and `let`, and [`cond`] evaluates
//! `[[ … ]]` and the operators of `test`. Each adds methods to
//! [`Shell`](crate::shell::Shell), which the interpreter calls by name.

mod arith;
mod cond;
mod param;
mod subst;
mod words;
