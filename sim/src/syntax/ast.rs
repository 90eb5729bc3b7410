//! The tree the interpreter runs: lists of pipelines of commands, words
//! made of [`Piece`]s, parameter expansions, redirections.

use std::sync::Arc;

/// The deepest nesting of commands and words accepted.
pub(crate) const MAX_DEPTH: usize = 128;

/// A parsed script.
#[derive(Debug)]
pub(crate) struct Script {
    pub body: List,
}

/// Commands run one after the other.
pub(crate) type List = Vec<Item>;

/// One `cmd1 && cmd2 || cmd3`, optionally backgrounded.
#[derive(Debug)]
pub(crate) struct Item {
    pub first: Pipeline,
    /// `(true for &&, pipeline)`.
    pub rest: Vec<(bool, Pipeline)>,
    pub background: bool,
    pub line: usize,
}

/// `! a | b | c`.
#[derive(Debug)]
pub(crate) struct Pipeline {
    pub bang: bool,
    pub timed: bool,
    pub cmds: Vec<Command>,
}

/// A command with its redirections.
#[derive(Debug)]
pub(crate) struct Command {
    pub kind: CommandKind,
    pub redirs: Vec<Redir>,
    pub line: usize,
}

/// `NAME=value`.
#[derive(Debug)]
pub(crate) struct Assign {
    pub name: String,
    pub value: Word,
    pub append: bool,
}

/// What a command is.
#[derive(Debug)]
pub(crate) enum CommandKind {
    Simple {
        assigns: Vec<Assign>,
        words: Vec<Word>,
    },
    Group(List),
    Subshell(List),
    If {
        branches: Vec<(List, List)>,
        otherwise: Option<List>,
    },
    For {
        var: String,
        items: Option<Vec<Word>>,
        body: List,
    },
    ArithFor {
        init: String,
        cond: String,
        step: String,
        body: List,
    },
    Loop {
        until: bool,
        cond: List,
        body: List,
    },
    Case {
        subject: Word,
        arms: Vec<CaseArm>,
    },
    Arith(String),
    Cond(Cond),
    FuncDef {
        name: String,
        body: Arc<Command>,
    },
    Unsupported(String),
}

/// `pattern | pattern) body ;;`.
#[derive(Debug)]
pub(crate) struct CaseArm {
    pub patterns: Vec<Word>,
    pub body: List,
    pub then: CaseNext,
}

/// What follows a case arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CaseNext {
    /// `;;`
    Stop,
    /// `;&`
    FallThrough,
    /// `;;&`
    TestNext,
}

/// `[[ … ]]`.
#[derive(Debug)]
pub(crate) enum Cond {
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
    Unary(String, Word),
    Binary(String, Word, Word),
}

/// A redirection.
#[derive(Debug)]
pub(crate) struct Redir {
    /// The file descriptor redirected (default: 0 for input, 1 for output).
    pub fd: Option<i32>,
    pub kind: RedirKind,
}

#[derive(Debug)]
pub(crate) enum RedirKind {
    /// `< file`
    In(Word),
    /// `> file`, `>| file`
    Out(Word),
    /// `>> file`
    Append(Word),
    /// `>&N`, `>&-`
    DupOut(Word),
    /// `<&N`
    DupIn(Word),
    /// `&> file`, `&>> file`
    OutErr(Word, bool),
    /// `<<EOF` (the document) / `<<<word`
    HereDoc(Word),
    HereString(Word),
    Unsupported(String),
}

/// A word: pieces, plus its brace-expanded alternatives where it has any.
#[derive(Debug, Clone)]
pub(crate) struct Word {
    pub pieces: Vec<Piece>,
    /// The source text (for messages and tests).
    #[allow(dead_code)]
    pub raw: String,
}

/// Part of a word.
#[derive(Debug, Clone)]
pub(crate) enum Piece {
    /// Unquoted text (subject to pattern matching, not to splitting).
    Lit(String),
    /// Quoted text: single quotes, `$'…'`, backslash escapes.
    Quoted(String),
    /// `"…"`.
    Double(Vec<Piece>),
    /// `$x`, `${x…}`.
    Param(Box<ParamExp>),
    /// `$(…)` or backquotes.
    CmdSub(String),
    /// `$((…))`.
    Arith(String),
    /// `~` / `~user`.
    Tilde(String),
    Unsupported(String),
}

/// Which parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Param {
    Named(String),
    Positional(u32),
    /// `$@` (false) / `$*` (true).
    All(bool),
    Count,
    Status,
    Pid,
    Flags,
    LastBg,
    ShellName,
}

/// `${…}` forms.
#[derive(Debug, Clone)]
pub(crate) struct ParamExp {
    pub param: Param,
    pub indirect: bool,
    pub op: ParamOp,
}

#[derive(Debug, Clone)]
pub(crate) enum ParamOp {
    Plain,
    Length,
    /// `${x:-w}` (`colon`: also when empty).
    Default {
        colon: bool,
        word: Word,
    },
    Assign {
        colon: bool,
        word: Word,
    },
    Error {
        colon: bool,
        word: Option<Word>,
    },
    Alt {
        colon: bool,
        word: Word,
    },
    /// `${x#p}`, `${x##p}`, `${x%p}`, `${x%%p}`.
    Trim {
        suffix: bool,
        longest: bool,
        pattern: Word,
    },
    /// `${x:off:len}` (arithmetic, unexpanded).
    Substring {
        offset: String,
        length: Option<String>,
    },
    /// `${x/p/r}` and friends.
    Replace {
        pattern: Word,
        with: Word,
        kind: ReplaceKind,
    },
    /// `${x^^}`, `${x,,}`, `${x^}`, `${x,}`.
    Case {
        upper: bool,
        all: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplaceKind {
    First,
    All,
    Prefix,
    Suffix,
}

/// A syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub line: usize,
    pub message: String,
    /// The offending source line, for a second diagnostic line as bash prints.
    pub source_line: Option<String>,
}

/// A word of literal text.
pub(crate) fn plain_word(s: &str) -> Word {
    Word {
        pieces: vec![Piece::Quoted(s.to_owned())],
        raw: s.to_owned(),
    }
}
