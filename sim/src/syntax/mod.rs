//! Shell syntax: parsing with `brush-parser` and lowering its AST into the
//! small tree the interpreter runs (see [`crate::shell`] for why `brush-parser`).
//!
//! Lowering does three things the raw AST does not:
//! - words are split into [`Piece`]s once (brace expansion included), not on
//!   every execution of a loop body;
//! - constructs the interpreter does not run become [`CommandKind::Unsupported`]
//!   / [`Piece::Unsupported`] nodes that fail with a clear message *when run*
//!   (like a real shell, a script only fails on what it executes);
//! - nesting is bounded ([`MAX_DEPTH`](ast::MAX_DEPTH)), so running and dropping the tree never
//!   recurses deeply.
//!
//! `brush-parser` is recursive-descent (PEG) and can exhaust a thread's stack on
//! deeply nested input, and directly nested subshells `( ( ( …` make it
//! backtrack exponentially. So scripts are size-limited, pre-scanned for
//! nesting, and parsed on a helper thread with a large (virtual) stack, inside
//! `catch_unwind`. Parsed scripts are cached process-wide.
//!
//! [`ast`] is the tree, [`mod@parse`] the entry point (limits, cache, parser
//! thread, bash-like error messages), [`lower`] lowers commands and [`words`]
//! words, [`arith`] arithmetic expressions.

mod arith;
mod ast;
mod lower;
mod parse;
mod words;

pub(crate) use arith::{Arith, parse_arith};
pub(crate) use ast::{
    Assign, CaseNext, Command, CommandKind, Cond, Item, List, Param, ParamExp, ParamOp, Piece,
    Pipeline, Redir, RedirKind, ReplaceKind, Word,
};
pub(crate) use parse::parse;
