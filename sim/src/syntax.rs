//! Shell syntax: parsing with `brush-parser` and lowering its AST into the
//! small tree the interpreter runs (see `shell.rs` for why `brush-parser`).
//!
//! Lowering does three things the raw AST does not:
//! - words are split into [`Piece`]s once (brace expansion included), not on
//!   every execution of a loop body;
//! - constructs the interpreter does not run become [`CommandKind::Unsupported`]
//!   / [`Piece::Unsupported`] nodes that fail with a clear message *when run*
//!   (like a real shell, a script only fails on what it executes);
//! - nesting is bounded ([`MAX_DEPTH`]), so running and dropping the tree never
//!   recurses deeply.
//!
//! `brush-parser` is recursive-descent (PEG) and can exhaust a thread's stack on
//! deeply nested input, and directly nested subshells `( ( ( …` make it
//! backtrack exponentially. So scripts are size-limited, pre-scanned for
//! nesting, and parsed on a helper thread with a large (virtual) stack, inside
//! `catch_unwind`. Parsed scripts are cached process-wide.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use brush_parser::ast;
use brush_parser::word::{self as bw, BraceExpressionMember, BraceExpressionOrText, WordPiece};
use parking_lot::Mutex;

/// The deepest nesting of commands and words accepted.
pub(super) const MAX_DEPTH: usize = 128;
/// The longest script accepted.
pub(super) const MAX_SCRIPT: usize = 256 * 1024;
/// The most words a brace expansion may produce.
const MAX_BRACE_WORDS: usize = 100_000;
/// Directly nested parentheses accepted (the parser backtracks exponentially).
const MAX_PAREN_RUN: usize = 10;
/// Stack for the parser thread (virtual memory; only touched pages count).
const PARSER_STACK: usize = 256 << 20;
/// Fallback when a thread with that stack cannot be created.
const PARSER_STACK_SMALL: usize = 16 << 20;

/// A parsed script.
#[derive(Debug)]
pub(super) struct Script {
    pub body: List,
}

/// Commands run one after the other.
pub(super) type List = Vec<Item>;

/// One `cmd1 && cmd2 || cmd3`, optionally backgrounded.
#[derive(Debug)]
pub(super) struct Item {
    pub first: Pipeline,
    /// `(true for &&, pipeline)`.
    pub rest: Vec<(bool, Pipeline)>,
    pub background: bool,
    pub line: usize,
}

/// `! a | b | c`.
#[derive(Debug)]
pub(super) struct Pipeline {
    pub bang: bool,
    pub timed: bool,
    pub cmds: Vec<Command>,
}

/// A command with its redirections.
#[derive(Debug)]
pub(super) struct Command {
    pub kind: CommandKind,
    pub redirs: Vec<Redir>,
    pub line: usize,
}

/// `NAME=value`.
#[derive(Debug)]
pub(super) struct Assign {
    pub name: String,
    pub value: Word,
    pub append: bool,
}

/// What a command is.
#[derive(Debug)]
pub(super) enum CommandKind {
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
pub(super) struct CaseArm {
    pub patterns: Vec<Word>,
    pub body: List,
    pub then: CaseNext,
}

/// What follows a case arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CaseNext {
    /// `;;`
    Stop,
    /// `;&`
    FallThrough,
    /// `;;&`
    TestNext,
}

/// `[[ … ]]`.
#[derive(Debug)]
pub(super) enum Cond {
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
    Unary(String, Word),
    Binary(String, Word, Word),
}

/// A redirection.
#[derive(Debug)]
pub(super) struct Redir {
    /// The file descriptor redirected (default: 0 for input, 1 for output).
    pub fd: Option<i32>,
    pub kind: RedirKind,
}

#[derive(Debug)]
pub(super) enum RedirKind {
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
pub(super) struct Word {
    pub pieces: Vec<Piece>,
    /// The source text (for messages and tests).
    #[allow(dead_code)]
    pub raw: String,
}

/// Part of a word.
#[derive(Debug, Clone)]
pub(super) enum Piece {
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
pub(super) enum Param {
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
pub(super) struct ParamExp {
    pub param: Param,
    pub indirect: bool,
    pub op: ParamOp,
}

#[derive(Debug, Clone)]
pub(super) enum ParamOp {
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
pub(super) enum ReplaceKind {
    First,
    All,
    Prefix,
    Suffix,
}

/// A syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SyntaxError {
    pub line: usize,
    pub message: String,
    /// The offending source line, for a second diagnostic line as bash prints.
    pub source_line: Option<String>,
}

type Lowered<T> = Result<T, SyntaxError>;

fn err<T>(line: usize, message: impl Into<String>) -> Lowered<T> {
    Err(SyntaxError {
        line,
        message: message.into(),
        source_line: None,
    })
}

type Parsed = Result<Arc<Script>, SyntaxError>;

static CACHE: LazyLock<Mutex<HashMap<String, Parsed>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));
const CACHE_ENTRIES: usize = 512;
const CACHE_MAX_SCRIPT: usize = 16 * 1024;

/// Parses `src` (cached).
pub(super) fn parse(src: &str) -> Result<Arc<Script>, SyntaxError> {
    if src.len() <= CACHE_MAX_SCRIPT
        && let Some(hit) = CACHE.lock().get(src)
    {
        return hit.clone();
    }
    let result = parse_uncached(src);
    if src.len() <= CACHE_MAX_SCRIPT {
        let mut cache = CACHE.lock();
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(src.to_owned(), result.clone());
    }
    result
}

fn parse_uncached(src: &str) -> Result<Arc<Script>, SyntaxError> {
    if src.len() > MAX_SCRIPT {
        return err(1, format!("script longer than {MAX_SCRIPT} bytes"));
    }
    prescan(src)?;
    let owned = src.to_owned();
    match on_big_stack(move || parse_and_lower(&owned)) {
        Some(r) => r.map(Arc::new),
        None => err(1, "the shell parser failed on this script"),
    }
}

/// Runs `f` on a thread with a large stack, catching panics.
pub(super) fn on_big_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let f = Arc::new(Mutex::new(Some(f)));
    for stack in [PARSER_STACK, PARSER_STACK_SMALL] {
        let f2 = Arc::clone(&f);
        let spawned = std::thread::Builder::new()
            .name("joblet-mock-sh-parse".into())
            .stack_size(stack)
            .spawn(move || {
                let taken = f2.lock().take();
                taken.and_then(|f| std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok())
            });
        match spawned {
            Ok(handle) => return handle.join().ok().flatten(),
            Err(e) => tracing::warn!(stack, error = %e, "cannot start the shell parser thread"),
        }
    }
    None
}

/// Rejects scripts nested deeper than the parser can take safely.
fn prescan(src: &str) -> Result<(), SyntaxError> {
    let b = src.as_bytes();
    let (mut depth, mut max_depth) = (0usize, 0usize);
    let (mut run, mut max_run) = (0usize, 0usize);
    let mut line = 1;
    let mut max_line = 1;
    let mut i = 0;
    let mut word_start = true;
    let mut last_sig = b' ';
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => line += 1,
            b'\\' => {
                i += 2;
                word_start = false;
                continue;
            }
            b'\'' => {
                i += 1;
                while i < b.len() && b[i] != b'\'' {
                    if b[i] == b'\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
            b'#' if word_start => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'(' | b'{' => {
                depth += 1;
                if c == b'(' {
                    run = if last_sig == b'(' { run + 1 } else { 1 };
                    max_run = max_run.max(run);
                }
            }
            b')' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if word_start && c.is_ascii_alphabetic() {
            let end = b[i..]
                .iter()
                .position(|x| !x.is_ascii_alphanumeric() && *x != b'_')
                .map_or(b.len(), |p| i + p);
            match &src[i..end] {
                "if" | "while" | "until" | "for" | "case" | "select" => depth += 1,
                "fi" | "done" | "esac" => depth = depth.saturating_sub(1),
                _ => {}
            }
            i = end;
            word_start = false;
            last_sig = b'a';
            continue;
        }
        if depth > max_depth {
            max_depth = depth;
            max_line = line;
        }
        word_start = matches!(
            c,
            b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'(' | b')' | b'{' | b'}' | b'`' | b'"'
        );
        if !matches!(c, b' ' | b'\t') {
            last_sig = c;
        }
        i += 1;
    }
    if max_run > MAX_PAREN_RUN {
        return err(max_line, "too many directly nested parentheses");
    }
    if max_depth > 2 * MAX_DEPTH {
        return err(max_line, "nesting too deep");
    }
    Ok(())
}

fn options() -> brush_parser::ParserOptions {
    brush_parser::ParserOptions {
        tilde_expansion_at_word_start: true,
        ..Default::default()
    }
}

fn parse_and_lower(src: &str) -> Result<Script, SyntaxError> {
    let mut parser = brush_parser::Parser::new(std::io::BufReader::new(src.as_bytes()), &options());
    let program = match parser.parse_program() {
        Ok(p) => p,
        Err(e) => return Err(syntax_error(src, &e)),
    };
    let mut lw = Lowerer { line: 1 };
    let mut body = Vec::new();
    for list in &program.complete_commands {
        body.extend(lw.list(list, 0)?);
    }
    Ok(Script { body })
}

/// A bash-like message for a parse error.
fn syntax_error(src: &str, e: &brush_parser::ParseError) -> SyntaxError {
    let eof_line = src.lines().count() + 1;
    match e {
        brush_parser::ParseError::ParsingNear(p) => {
            let line_text = src.lines().nth(p.line.saturating_sub(1)).unwrap_or("");
            let token: String = line_text
                .chars()
                .skip(p.column.saturating_sub(1))
                .take_while(|c| !c.is_whitespace())
                .take(40)
                .collect();
            SyntaxError {
                line: p.line,
                message: format!("syntax error near unexpected token `{token}'"),
                source_line: Some(line_text.trim().to_owned()),
            }
        }
        brush_parser::ParseError::ParsingAtEndOfInput => SyntaxError {
            line: eof_line,
            message: "syntax error: unexpected end of file".to_owned(),
            source_line: None,
        },
        brush_parser::ParseError::Tokenizing { inner, position } => {
            let text = inner.to_string();
            let matching = [
                ("double quote", "\""),
                ("single quote", "'"),
                ("backquote", "`"),
                ("variable expression", "}"),
                ("command substitution", ")"),
                ("arithmetic", ")"),
                ("brace", "}"),
            ]
            .iter()
            .find(|(k, _)| text.contains("unterminated") && text.contains(k))
            .map(|(_, m)| *m);
            match matching {
                Some(m) => SyntaxError {
                    line: position.as_ref().map_or(eof_line, |p| p.line),
                    message: format!("unexpected EOF while looking for matching `{m}'"),
                    source_line: None,
                },
                None => SyntaxError {
                    line: position.as_ref().map_or(eof_line, |p| p.line),
                    message: format!("syntax error: {text}"),
                    source_line: None,
                },
            }
        }
    }
}

fn line_of(loc: Option<&brush_parser::SourceSpan>) -> Option<usize> {
    loc.map(|l| l.start.line)
}

struct Lowerer {
    line: usize,
}

impl Lowerer {
    fn deeper(&self, depth: usize) -> Lowered<usize> {
        if depth >= MAX_DEPTH {
            err(self.line, "nesting too deep")
        } else {
            Ok(depth + 1)
        }
    }

    fn list(&mut self, l: &ast::CompoundList, depth: usize) -> Lowered<List> {
        let depth = self.deeper(depth)?;
        let mut out = Vec::with_capacity(l.0.len());
        for ast::CompoundListItem(ao, sep) in &l.0 {
            let first = self.pipeline(&ao.first, depth)?;
            let line = first_line(&first).unwrap_or(self.line);
            let mut rest = Vec::new();
            for a in &ao.additional {
                match a {
                    ast::AndOr::And(p) => rest.push((true, self.pipeline(p, depth)?)),
                    ast::AndOr::Or(p) => rest.push((false, self.pipeline(p, depth)?)),
                }
            }
            out.push(Item {
                first,
                rest,
                background: matches!(sep, ast::SeparatorOperator::Async),
                line,
            });
        }
        Ok(out)
    }

    fn pipeline(&mut self, p: &ast::Pipeline, depth: usize) -> Lowered<Pipeline> {
        let mut cmds = Vec::with_capacity(p.seq.len());
        for c in &p.seq {
            cmds.push(self.command(c, depth)?);
        }
        Ok(Pipeline {
            bang: p.bang,
            timed: p.timed.is_some(),
            cmds,
        })
    }

    fn command(&mut self, c: &ast::Command, depth: usize) -> Lowered<Command> {
        let depth = self.deeper(depth)?;
        match c {
            ast::Command::Simple(s) => self.simple(s, depth),
            ast::Command::Compound(cc, redirs) => {
                let line = compound_line(cc).unwrap_or(self.line);
                self.line = line;
                let kind = self.compound(cc, depth)?;
                let redirs = self.redirect_list(redirs.as_ref(), depth)?;
                Ok(Command { kind, redirs, line })
            }
            ast::Command::Function(f) => {
                let line = line_of(f.fname.loc.as_ref()).unwrap_or(self.line);
                self.line = line;
                let ast::FunctionBody(body, redirs) = &f.body;
                let body_kind = self.compound(body, depth)?;
                let redirs = self.redirect_list(redirs.as_ref(), depth)?;
                Ok(Command {
                    kind: CommandKind::FuncDef {
                        name: f.fname.value.clone(),
                        body: Arc::new(Command {
                            kind: body_kind,
                            redirs,
                            line,
                        }),
                    },
                    redirs: Vec::new(),
                    line,
                })
            }
            ast::Command::ExtendedTest(t, redirs) => {
                let line = line_of(Some(&t.loc)).unwrap_or(self.line);
                self.line = line;
                let cond = self.cond(&t.expr, depth)?;
                let redirs = self.redirect_list(redirs.as_ref(), depth)?;
                Ok(Command {
                    kind: match cond {
                        Ok(c) => CommandKind::Cond(c),
                        Err(what) => CommandKind::Unsupported(what),
                    },
                    redirs,
                    line,
                })
            }
        }
    }

    fn simple(&mut self, s: &ast::SimpleCommand, depth: usize) -> Lowered<Command> {
        let mut assigns = Vec::new();
        let mut words = Vec::new();
        let mut redirs = Vec::new();
        let mut unsupported = None;
        let mut line = None;
        if let Some(prefix) = &s.prefix {
            for item in &prefix.0 {
                match item {
                    ast::CommandPrefixOrSuffixItem::IoRedirect(r) => {
                        redirs.push(self.redirect(r, depth)?)
                    }
                    ast::CommandPrefixOrSuffixItem::Word(w) => {
                        line = line.or(line_of(w.loc.as_ref()));
                        words.extend(self.words_braced(&w.value, depth)?);
                    }
                    ast::CommandPrefixOrSuffixItem::AssignmentWord(a, w) => {
                        line = line.or(line_of(w.loc.as_ref()));
                        match self.assignment(a, depth)? {
                            Ok(a) => assigns.push(a),
                            Err(what) => unsupported = Some(what),
                        }
                    }
                    ast::CommandPrefixOrSuffixItem::ProcessSubstitution(..) => {
                        unsupported = Some("process substitution".to_owned());
                    }
                }
            }
        }
        if let Some(w) = &s.word_or_name {
            line = line.or(line_of(w.loc.as_ref()));
            words.extend(self.words_braced(&w.value, depth)?);
        }
        if let Some(suffix) = &s.suffix {
            for item in &suffix.0 {
                match item {
                    ast::CommandPrefixOrSuffixItem::IoRedirect(r) => {
                        redirs.push(self.redirect(r, depth)?)
                    }
                    ast::CommandPrefixOrSuffixItem::Word(w)
                    | ast::CommandPrefixOrSuffixItem::AssignmentWord(_, w) => {
                        words.extend(self.words_braced(&w.value, depth)?);
                    }
                    ast::CommandPrefixOrSuffixItem::ProcessSubstitution(..) => {
                        unsupported = Some("process substitution".to_owned());
                    }
                }
            }
        }
        let line = line.unwrap_or(self.line);
        self.line = line;
        let kind = match unsupported {
            Some(what) => CommandKind::Unsupported(what),
            None => CommandKind::Simple { assigns, words },
        };
        Ok(Command { kind, redirs, line })
    }

    /// `Ok(Err(what))` for assignments the interpreter does not support.
    fn assignment(&mut self, a: &ast::Assignment, depth: usize) -> Lowered<Result<Assign, String>> {
        let name = match &a.name {
            ast::AssignmentName::VariableName(n) => n.clone(),
            ast::AssignmentName::ArrayElementName(..) => return Ok(Err("arrays".to_owned())),
        };
        let value = match &a.value {
            ast::AssignmentValue::Scalar(w) => self.word(&w.value, depth)?,
            ast::AssignmentValue::Array(_) => return Ok(Err("arrays".to_owned())),
        };
        Ok(Ok(Assign {
            name,
            value,
            append: a.append,
        }))
    }

    fn compound(&mut self, cc: &ast::CompoundCommand, depth: usize) -> Lowered<CommandKind> {
        Ok(match cc {
            ast::CompoundCommand::Arithmetic(a) => CommandKind::Arith(a.expr.value.clone()),
            ast::CompoundCommand::ArithmeticForClause(f) => CommandKind::ArithFor {
                init: f
                    .initializer
                    .as_ref()
                    .map(|e| e.value.clone())
                    .unwrap_or_default(),
                cond: f
                    .condition
                    .as_ref()
                    .map(|e| e.value.clone())
                    .unwrap_or_default(),
                step: f
                    .updater
                    .as_ref()
                    .map(|e| e.value.clone())
                    .unwrap_or_default(),
                body: self.list(&f.body.list, depth)?,
            },
            ast::CompoundCommand::BraceGroup(g) => CommandKind::Group(self.list(&g.list, depth)?),
            ast::CompoundCommand::Subshell(s) => CommandKind::Subshell(self.list(&s.list, depth)?),
            ast::CompoundCommand::ForClause(f) => {
                let items = match &f.values {
                    None => None,
                    Some(ws) => {
                        let mut v = Vec::new();
                        for w in ws {
                            v.extend(self.words_braced(&w.value, depth)?);
                        }
                        Some(v)
                    }
                };
                CommandKind::For {
                    var: f.variable_name.clone(),
                    items,
                    body: self.list(&f.body.list, depth)?,
                }
            }
            ast::CompoundCommand::CaseClause(c) => {
                let subject = self.word(&c.value.value, depth)?;
                let mut arms = Vec::new();
                for item in &c.cases {
                    let mut patterns = Vec::new();
                    for p in &item.patterns {
                        patterns.push(self.word(&p.value, depth)?);
                    }
                    let body = match &item.cmd {
                        Some(l) => self.list(l, depth)?,
                        None => Vec::new(),
                    };
                    let then = match item.post_action {
                        ast::CaseItemPostAction::ExitCase => CaseNext::Stop,
                        ast::CaseItemPostAction::UnconditionallyExecuteNextCaseItem => {
                            CaseNext::FallThrough
                        }
                        ast::CaseItemPostAction::ContinueEvaluatingCases => CaseNext::TestNext,
                    };
                    arms.push(CaseArm {
                        patterns,
                        body,
                        then,
                    });
                }
                CommandKind::Case { subject, arms }
            }
            ast::CompoundCommand::IfClause(i) => {
                let mut branches =
                    vec![(self.list(&i.condition, depth)?, self.list(&i.then, depth)?)];
                let mut otherwise = None;
                for e in i.elses.iter().flatten() {
                    match &e.condition {
                        Some(c) => {
                            branches.push((self.list(c, depth)?, self.list(&e.body, depth)?))
                        }
                        None => otherwise = Some(self.list(&e.body, depth)?),
                    }
                }
                CommandKind::If {
                    branches,
                    otherwise,
                }
            }
            ast::CompoundCommand::WhileClause(w) => CommandKind::Loop {
                until: false,
                cond: self.list(&w.0, depth)?,
                body: self.list(&w.1.list, depth)?,
            },
            ast::CompoundCommand::UntilClause(w) => CommandKind::Loop {
                until: true,
                cond: self.list(&w.0, depth)?,
                body: self.list(&w.1.list, depth)?,
            },
            ast::CompoundCommand::Coprocess(_) => CommandKind::Unsupported("coproc".to_owned()),
        })
    }

    /// `Ok(Err(what))` for test expressions the interpreter does not support.
    fn cond(&mut self, e: &ast::ExtendedTestExpr, depth: usize) -> Lowered<Result<Cond, String>> {
        let depth = self.deeper(depth)?;
        Ok(Ok(match e {
            ast::ExtendedTestExpr::And(a, b) => {
                match (self.cond(a, depth)?, self.cond(b, depth)?) {
                    (Ok(a), Ok(b)) => Cond::And(Box::new(a), Box::new(b)),
                    (Err(w), _) | (_, Err(w)) => return Ok(Err(w)),
                }
            }
            ast::ExtendedTestExpr::Or(a, b) => match (self.cond(a, depth)?, self.cond(b, depth)?) {
                (Ok(a), Ok(b)) => Cond::Or(Box::new(a), Box::new(b)),
                (Err(w), _) | (_, Err(w)) => return Ok(Err(w)),
            },
            ast::ExtendedTestExpr::Not(a) => match self.cond(a, depth)? {
                Ok(a) => Cond::Not(Box::new(a)),
                Err(w) => return Ok(Err(w)),
            },
            ast::ExtendedTestExpr::Parenthesized(a) => return self.cond(a, depth),
            ast::ExtendedTestExpr::UnaryTest(op, w) => {
                Cond::Unary(op.to_string(), self.word(&w.value, depth)?)
            }
            ast::ExtendedTestExpr::BinaryTest(op, a, b) => {
                let name = match op {
                    ast::BinaryPredicate::StringMatchesRegex
                    | ast::BinaryPredicate::StringContainsSubstring => {
                        return Ok(Err("[[ =~ ]] (regular expressions)".to_owned()));
                    }
                    other => other.to_string(),
                };
                Cond::Binary(
                    name,
                    self.word(&a.value, depth)?,
                    self.word(&b.value, depth)?,
                )
            }
        }))
    }

    fn redirect_list(
        &mut self,
        r: Option<&ast::RedirectList>,
        depth: usize,
    ) -> Lowered<Vec<Redir>> {
        let mut out = Vec::new();
        for x in r.map(|r| r.0.as_slice()).unwrap_or(&[]) {
            out.push(self.redirect(x, depth)?);
        }
        Ok(out)
    }

    fn redirect(&mut self, r: &ast::IoRedirect, depth: usize) -> Lowered<Redir> {
        use ast::{IoFileRedirectKind as K, IoFileRedirectTarget as T};
        Ok(match r {
            ast::IoRedirect::File(fd, kind, target) => {
                let w = match target {
                    T::Filename(w) | T::Duplicate(w) => self.word(&w.value, depth)?,
                    T::Fd(n) => plain_word(&n.to_string()),
                    T::ProcessSubstitution(..) => {
                        return Ok(Redir {
                            fd: *fd,
                            kind: RedirKind::Unsupported("process substitution".to_owned()),
                        });
                    }
                };
                let kind = match kind {
                    K::Read => RedirKind::In(w),
                    K::Write | K::Clobber => RedirKind::Out(w),
                    K::Append => RedirKind::Append(w),
                    K::DuplicateOutput => RedirKind::DupOut(w),
                    K::DuplicateInput => RedirKind::DupIn(w),
                    K::ReadAndWrite => RedirKind::Unsupported("<> redirection".to_owned()),
                };
                Redir { fd: *fd, kind }
            }
            ast::IoRedirect::HereDocument(fd, h) => {
                let doc = if h.requires_expansion {
                    self.heredoc(&h.doc.value, depth)?
                } else {
                    Word {
                        pieces: vec![Piece::Quoted(h.doc.value.clone())],
                        raw: h.doc.value.clone(),
                    }
                };
                Redir {
                    fd: *fd,
                    kind: RedirKind::HereDoc(doc),
                }
            }
            ast::IoRedirect::HereString(fd, w) => Redir {
                fd: *fd,
                kind: RedirKind::HereString(self.word(&w.value, depth)?),
            },
            ast::IoRedirect::OutputAndError(w, append) => Redir {
                fd: None,
                kind: RedirKind::OutErr(self.word(&w.value, depth)?, *append),
            },
        })
    }

    fn heredoc(&mut self, raw: &str, depth: usize) -> Lowered<Word> {
        match bw::parse_heredoc(raw, &options()) {
            Ok(pieces) => Ok(Word {
                pieces: self.pieces(pieces.into_iter().map(|p| p.piece).collect(), true, depth)?,
                raw: raw.to_owned(),
            }),
            Err(e) => err(self.line, format!("bad here-document: {e}")),
        }
    }

    /// A word in a list context: brace expansion applies.
    fn words_braced(&mut self, raw: &str, depth: usize) -> Lowered<Vec<Word>> {
        if raw.contains('{')
            && (raw.contains(',') || raw.contains(".."))
            && let Ok(Some(parts)) = bw::parse_brace_expansions(raw, &options())
            && parts
                .iter()
                .any(|p| matches!(p, BraceExpressionOrText::Expr(_)))
        {
            let mut out = vec![String::new()];
            if !expand_braces(&parts, &mut out) {
                return Ok(vec![Word {
                    pieces: vec![Piece::Unsupported(format!(
                        "brace expansion to more than {MAX_BRACE_WORDS} words"
                    ))],
                    raw: raw.to_owned(),
                }]);
            }
            let mut words = Vec::with_capacity(out.len());
            for w in out {
                words.push(self.word(&w, depth)?);
            }
            return Ok(words);
        }
        Ok(vec![self.word(raw, depth)?])
    }

    fn word(&mut self, raw: &str, depth: usize) -> Lowered<Word> {
        let depth = self.deeper(depth)?;
        match bw::parse(raw, &options()) {
            Ok(pieces) => Ok(Word {
                pieces: self.pieces(pieces.into_iter().map(|p| p.piece).collect(), false, depth)?,
                raw: raw.to_owned(),
            }),
            Err(e) => err(self.line, format!("syntax error in word `{raw}`: {e}")),
        }
    }

    fn opt_word(&mut self, raw: Option<&String>, depth: usize) -> Lowered<Word> {
        match raw {
            Some(r) => self.word(r, depth),
            None => Ok(plain_word("")),
        }
    }

    fn pieces(
        &mut self,
        pieces: Vec<WordPiece>,
        in_double: bool,
        depth: usize,
    ) -> Lowered<Vec<Piece>> {
        let depth = self.deeper(depth)?;
        let mut out = Vec::with_capacity(pieces.len());
        for p in pieces {
            out.push(match p {
                WordPiece::Text(t) => {
                    if in_double {
                        Piece::Quoted(t)
                    } else {
                        Piece::Lit(t)
                    }
                }
                WordPiece::SingleQuotedText(t) => Piece::Quoted(t),
                WordPiece::AnsiCQuotedText(t) => {
                    let (bytes, _) = super::printf::unescape(&t, super::printf::Escapes::Format);
                    Piece::Quoted(String::from_utf8_lossy(&bytes).into_owned())
                }
                WordPiece::DoubleQuotedSequence(inner)
                | WordPiece::GettextDoubleQuotedSequence(inner) => Piece::Double(self.pieces(
                    inner.into_iter().map(|p| p.piece).collect(),
                    true,
                    depth,
                )?),
                WordPiece::TildeExpansion(t) => match t {
                    bw::TildeExpr::Home => Piece::Tilde(String::new()),
                    bw::TildeExpr::UserHome(u) => Piece::Tilde(u),
                    _ => Piece::Unsupported("directory stack (~+ / ~-)".to_owned()),
                },
                WordPiece::ParameterExpansion(e) => self.param(e, depth)?,
                WordPiece::CommandSubstitution(s) | WordPiece::BackquotedCommandSubstitution(s) => {
                    Piece::CmdSub(s)
                }
                WordPiece::EscapeSequence(s) => {
                    let c = s.strip_prefix('\\').unwrap_or(&s);
                    if in_double {
                        // Inside double quotes only \$ \` \" \\ and \newline are escapes.
                        match c {
                            "$" | "`" | "\"" | "\\" => Piece::Quoted(c.to_owned()),
                            "\n" => Piece::Quoted(String::new()),
                            _ => Piece::Quoted(s.clone()),
                        }
                    } else if c == "\n" {
                        Piece::Quoted(String::new())
                    } else {
                        Piece::Quoted(c.to_owned())
                    }
                }
                WordPiece::ArithmeticExpression(e) => Piece::Arith(e.value),
            });
        }
        Ok(out)
    }

    fn param(&mut self, e: bw::ParameterExpr, depth: usize) -> Lowered<Piece> {
        use bw::ParameterExpr as E;
        let unsupported = |what: &str| Ok(Piece::Unsupported(what.to_owned()));
        let colon = |t: &bw::ParameterTestType| matches!(t, bw::ParameterTestType::UnsetOrNull);
        let (parameter, indirect, op) = match e {
            E::Parameter {
                parameter,
                indirect,
            } => (parameter, indirect, ParamOp::Plain),
            E::ParameterLength {
                parameter,
                indirect,
            } => (parameter, indirect, ParamOp::Length),
            E::UseDefaultValues {
                parameter,
                indirect,
                test_type,
                default_value,
            } => (
                parameter,
                indirect,
                ParamOp::Default {
                    colon: colon(&test_type),
                    word: self.opt_word(default_value.as_ref(), depth)?,
                },
            ),
            E::AssignDefaultValues {
                parameter,
                indirect,
                test_type,
                default_value,
            } => (
                parameter,
                indirect,
                ParamOp::Assign {
                    colon: colon(&test_type),
                    word: self.opt_word(default_value.as_ref(), depth)?,
                },
            ),
            E::IndicateErrorIfNullOrUnset {
                parameter,
                indirect,
                test_type,
                error_message,
            } => (
                parameter,
                indirect,
                ParamOp::Error {
                    colon: colon(&test_type),
                    word: match &error_message {
                        Some(m) => Some(self.word(m, depth)?),
                        None => None,
                    },
                },
            ),
            E::UseAlternativeValue {
                parameter,
                indirect,
                test_type,
                alternative_value,
            } => (
                parameter,
                indirect,
                ParamOp::Alt {
                    colon: colon(&test_type),
                    word: self.opt_word(alternative_value.as_ref(), depth)?,
                },
            ),
            E::RemoveSmallestSuffixPattern {
                parameter,
                indirect,
                pattern,
            } => (
                parameter,
                indirect,
                ParamOp::Trim {
                    suffix: true,
                    longest: false,
                    pattern: self.opt_word(pattern.as_ref(), depth)?,
                },
            ),
            E::RemoveLargestSuffixPattern {
                parameter,
                indirect,
                pattern,
            } => (
                parameter,
                indirect,
                ParamOp::Trim {
                    suffix: true,
                    longest: true,
                    pattern: self.opt_word(pattern.as_ref(), depth)?,
                },
            ),
            E::RemoveSmallestPrefixPattern {
                parameter,
                indirect,
                pattern,
            } => (
                parameter,
                indirect,
                ParamOp::Trim {
                    suffix: false,
                    longest: false,
                    pattern: self.opt_word(pattern.as_ref(), depth)?,
                },
            ),
            E::RemoveLargestPrefixPattern {
                parameter,
                indirect,
                pattern,
            } => (
                parameter,
                indirect,
                ParamOp::Trim {
                    suffix: false,
                    longest: true,
                    pattern: self.opt_word(pattern.as_ref(), depth)?,
                },
            ),
            E::Substring {
                parameter,
                indirect,
                offset,
                length,
            } => (
                parameter,
                indirect,
                ParamOp::Substring {
                    offset: offset.value,
                    length: length.map(|l| l.value),
                },
            ),
            E::ReplaceSubstring {
                parameter,
                indirect,
                pattern,
                replacement,
                match_kind,
            } => (
                parameter,
                indirect,
                ParamOp::Replace {
                    pattern: self.word(&pattern, depth)?,
                    with: self.opt_word(replacement.as_ref(), depth)?,
                    kind: match match_kind {
                        bw::SubstringMatchKind::FirstOccurrence => ReplaceKind::First,
                        bw::SubstringMatchKind::Anywhere => ReplaceKind::All,
                        bw::SubstringMatchKind::Prefix => ReplaceKind::Prefix,
                        bw::SubstringMatchKind::Suffix => ReplaceKind::Suffix,
                    },
                },
            ),
            E::UppercaseFirstChar {
                parameter,
                indirect,
                pattern,
            } if pattern.as_deref().is_none_or(str::is_empty) => (
                parameter,
                indirect,
                ParamOp::Case {
                    upper: true,
                    all: false,
                },
            ),
            E::UppercasePattern {
                parameter,
                indirect,
                pattern,
            } if pattern.as_deref().is_none_or(str::is_empty) => (
                parameter,
                indirect,
                ParamOp::Case {
                    upper: true,
                    all: true,
                },
            ),
            E::LowercaseFirstChar {
                parameter,
                indirect,
                pattern,
            } if pattern.as_deref().is_none_or(str::is_empty) => (
                parameter,
                indirect,
                ParamOp::Case {
                    upper: false,
                    all: false,
                },
            ),
            E::LowercasePattern {
                parameter,
                indirect,
                pattern,
            } if pattern.as_deref().is_none_or(str::is_empty) => (
                parameter,
                indirect,
                ParamOp::Case {
                    upper: false,
                    all: true,
                },
            ),
            E::UppercaseFirstChar { .. }
            | E::UppercasePattern { .. }
            | E::LowercaseFirstChar { .. }
            | E::LowercasePattern { .. } => return unsupported("case modification with a pattern"),
            E::Transform { .. } => return unsupported("${parameter@operator}"),
            E::VariableNames { .. } => return unsupported("${!prefix*}"),
            E::MemberKeys { .. } => return unsupported("${!array[@]}"),
        };
        let param = match parameter {
            bw::Parameter::Positional(n) => Param::Positional(n),
            bw::Parameter::Named(n) => Param::Named(n),
            bw::Parameter::Special(s) => match s {
                bw::SpecialParameter::AllPositionalParameters { concatenate } => {
                    Param::All(concatenate)
                }
                bw::SpecialParameter::PositionalParameterCount => Param::Count,
                bw::SpecialParameter::LastExitStatus => Param::Status,
                bw::SpecialParameter::CurrentOptionFlags => Param::Flags,
                bw::SpecialParameter::ProcessId => Param::Pid,
                bw::SpecialParameter::LastBackgroundProcessId => Param::LastBg,
                bw::SpecialParameter::ShellName => Param::ShellName,
            },
            bw::Parameter::NamedWithIndex { .. } | bw::Parameter::NamedWithAllIndices { .. } => {
                return unsupported("arrays");
            }
        };
        Ok(Piece::Param(Box::new(ParamExp {
            param,
            indirect,
            op,
        })))
    }
}

/// Expands brace expressions into `out` (each entry a prefix so far).
/// Returns false when there would be too many words.
fn expand_braces(parts: &[BraceExpressionOrText], out: &mut Vec<String>) -> bool {
    for part in parts {
        match part {
            BraceExpressionOrText::Text(t) => {
                for o in out.iter_mut() {
                    o.push_str(t);
                }
            }
            BraceExpressionOrText::Expr(members) => {
                let mut alts: Vec<String> = Vec::new();
                for m in members {
                    match m {
                        BraceExpressionMember::NumberSequence {
                            start,
                            end,
                            increment,
                        } => {
                            let step = increment.unsigned_abs().max(1);
                            let count = start.abs_diff(*end) / step + 1;
                            if count as usize > MAX_BRACE_WORDS {
                                return false;
                            }
                            let mut v = i128::from(*start);
                            for _ in 0..count {
                                alts.push(v.to_string());
                                if start <= end {
                                    v += i128::from(step);
                                } else {
                                    v -= i128::from(step);
                                }
                            }
                        }
                        BraceExpressionMember::CharSequence {
                            start,
                            end,
                            increment,
                        } => {
                            let (a, b) = (u32::from(*start), u32::from(*end));
                            let step =
                                (increment.unsigned_abs().max(1)).min(u64::from(u32::MAX)) as u32;
                            let mut v = a;
                            loop {
                                if let Some(c) = char::from_u32(v) {
                                    alts.push(c.to_string());
                                }
                                if alts.len() > MAX_BRACE_WORDS {
                                    return false;
                                }
                                if a <= b {
                                    match v.checked_add(step) {
                                        Some(n) if n <= b => v = n,
                                        _ => break,
                                    }
                                } else {
                                    match v.checked_sub(step) {
                                        Some(n) if n >= b => v = n,
                                        _ => break,
                                    }
                                }
                            }
                        }
                        BraceExpressionMember::Child(c) => {
                            let mut sub = vec![String::new()];
                            if !expand_braces(c, &mut sub) {
                                return false;
                            }
                            alts.extend(sub);
                        }
                    }
                    if alts.len() > MAX_BRACE_WORDS {
                        return false;
                    }
                }
                if out.len().saturating_mul(alts.len()) > MAX_BRACE_WORDS {
                    return false;
                }
                let mut next = Vec::with_capacity(out.len() * alts.len());
                for o in out.iter() {
                    for a in &alts {
                        next.push(format!("{o}{a}"));
                    }
                }
                *out = next;
            }
        }
    }
    true
}

/// A word of literal text.
pub(super) fn plain_word(s: &str) -> Word {
    Word {
        pieces: vec![Piece::Quoted(s.to_owned())],
        raw: s.to_owned(),
    }
}

fn first_line(p: &Pipeline) -> Option<usize> {
    p.cmds.first().map(|c| c.line)
}

fn compound_line(cc: &ast::CompoundCommand) -> Option<usize> {
    let loc = match cc {
        ast::CompoundCommand::Arithmetic(a) => &a.loc,
        ast::CompoundCommand::ArithmeticForClause(a) => &a.loc,
        ast::CompoundCommand::BraceGroup(a) => &a.loc,
        ast::CompoundCommand::Subshell(a) => &a.loc,
        ast::CompoundCommand::ForClause(a) => &a.loc,
        ast::CompoundCommand::CaseClause(a) => &a.loc,
        ast::CompoundCommand::IfClause(a) => &a.loc,
        ast::CompoundCommand::WhileClause(a) | ast::CompoundCommand::UntilClause(a) => &a.2,
        ast::CompoundCommand::Coprocess(a) => &a.loc,
    };
    Some(loc.start.line)
}

// ---------------------------------------------------------------------------
// Arithmetic.

/// A lowered arithmetic expression (depth-bounded).
#[derive(Debug, Clone)]
pub(super) enum Arith {
    Lit(i64),
    Var(String),
    Unary(ast::UnaryOperator, Box<Arith>),
    Binary(ast::BinaryOperator, Box<Arith>, Box<Arith>),
    Cond(Box<Arith>, Box<Arith>, Box<Arith>),
    /// `x = e` / `x op= e`.
    Assign(String, Option<ast::BinaryOperator>, Box<Arith>),
    /// `++x`, `x--`, …: (name, delta, prefix).
    Step(String, i64, bool),
}

/// Expressions up to this length are parsed inline (shallow enough for any stack).
const ARITH_INLINE: usize = 64;
/// The longest arithmetic expression accepted.
const ARITH_MAX: usize = 16 * 1024;

/// Parses an (already expanded) arithmetic expression.
pub(super) fn parse_arith(src: &str) -> Result<Arith, String> {
    if src.len() > ARITH_MAX {
        return Err("expression too long".to_owned());
    }
    if src.len() <= ARITH_INLINE {
        return lower_arith_src(src);
    }
    let owned = src.to_owned();
    on_big_stack(move || lower_arith_src(&owned))
        .unwrap_or_else(|| Err("cannot parse expression".to_owned()))
}

fn lower_arith_src(src: &str) -> Result<Arith, String> {
    let e = brush_parser::arithmetic::parse(src).map_err(|_| {
        format!(
            "syntax error in expression (error token is \"{}\")",
            src.trim()
        )
    })?;
    lower_arith(&e, 0)
}

fn lower_arith(e: &ast::ArithmeticExpr, depth: usize) -> Result<Arith, String> {
    if depth > 2 * MAX_DEPTH {
        return Err("expression nested too deeply".to_owned());
    }
    let d = depth + 1;
    let target = |t: &ast::ArithmeticTarget| match t {
        ast::ArithmeticTarget::Variable(n) => Ok(n.clone()),
        ast::ArithmeticTarget::ArrayElement(..) => {
            Err("arrays are not supported by joblet-mock".to_owned())
        }
    };
    Ok(match e {
        ast::ArithmeticExpr::Literal(v) => Arith::Lit(*v),
        ast::ArithmeticExpr::Reference(t) => Arith::Var(target(t)?),
        ast::ArithmeticExpr::UnaryOp(op, x) => Arith::Unary(*op, Box::new(lower_arith(x, d)?)),
        ast::ArithmeticExpr::BinaryOp(op, a, b) => Arith::Binary(
            *op,
            Box::new(lower_arith(a, d)?),
            Box::new(lower_arith(b, d)?),
        ),
        ast::ArithmeticExpr::Conditional(c, a, b) => Arith::Cond(
            Box::new(lower_arith(c, d)?),
            Box::new(lower_arith(a, d)?),
            Box::new(lower_arith(b, d)?),
        ),
        ast::ArithmeticExpr::Assignment(t, x) => {
            Arith::Assign(target(t)?, None, Box::new(lower_arith(x, d)?))
        }
        ast::ArithmeticExpr::BinaryAssignment(op, t, x) => {
            Arith::Assign(target(t)?, Some(*op), Box::new(lower_arith(x, d)?))
        }
        ast::ArithmeticExpr::UnaryAssignment(op, t) => {
            let name = target(t)?;
            match op {
                ast::UnaryAssignmentOperator::PrefixIncrement => Arith::Step(name, 1, true),
                ast::UnaryAssignmentOperator::PrefixDecrement => Arith::Step(name, -1, true),
                ast::UnaryAssignmentOperator::PostfixIncrement => Arith::Step(name, 1, false),
                ast::UnaryAssignmentOperator::PostfixDecrement => Arith::Step(name, -1, false),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_sdk_example() {
        let s = parse(
            "\n    for i in $(seq 1 600); do\n        echo \"Counter: $i - Time: $(date +%H:%M:%S.%3N)\"\n        sleep 0.1\n    done\n    echo \"Completed 60 seconds of counting!\"\n",
        )
        .unwrap();
        assert_eq!(s.body.len(), 2);
        assert_eq!(s.body[1].line, 6);
    }

    #[test]
    fn syntax_errors_have_lines() {
        let e = parse("echo a\nif true; then\n").unwrap_err();
        assert!(e.message.contains("syntax error"), "{e:?}");
        let e = parse("echo a\necho )\n").unwrap_err();
        assert_eq!(e.line, 2, "{e:?}");
    }

    #[test]
    fn deep_nesting_is_refused_not_crashing() {
        for src in [
            format!("{}echo;{}", "{ ".repeat(5000), "}; ".repeat(5000)),
            format!(
                "{}echo;{}",
                "if true; then ".repeat(500),
                "fi; ".repeat(500)
            ),
            format!("{}echo{}", "( ".repeat(40), ") ".repeat(40)),
            format!("{}echo;{}", "{ echo }; ".repeat(300), "}; ".repeat(300)),
            "(".repeat(100_000),
            format!("echo {}x{}", "\"$(echo ".repeat(2000), ")\"".repeat(2000)),
        ] {
            assert!(parse(&src).is_err() || src.contains("$("), "{}", &src[..40]);
        }
        // Moderate nesting is fine.
        let ok = format!("{}echo;{}", "{ ".repeat(20), "}; ".repeat(20));
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn braces() {
        let s = parse("echo {1..3} a{b,c}d \"{x,y}\"").unwrap();
        let CommandKind::Simple { words, .. } = &s.body[0].first.cmds[0].kind else {
            panic!()
        };
        let raws: Vec<&str> = words.iter().map(|w| w.raw.as_str()).collect();
        assert_eq!(raws, ["echo", "1", "2", "3", "abd", "acd", "\"{x,y}\""]);
        assert!(parse("echo {1..10000000}").is_ok());
    }

    #[test]
    fn arith() {
        assert!(matches!(parse_arith("1 + 2"), Ok(Arith::Binary(..))));
        assert!(parse_arith("1 +").is_err());
        assert!(parse_arith(&"(".repeat(500)).is_err());
        let parens = format!("{}1{}", "(".repeat(200), ")".repeat(200));
        assert!(matches!(parse_arith(&parens), Ok(Arith::Lit(1))));
        assert!(parse_arith(&format!("{}1", "- ".repeat(500))).is_err());
        assert!(parse_arith(&format!("{}1", "1+".repeat(5000))).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        #[test]
        fn parse_never_panics(src in ".{0,60}") {
            let _ = parse(&src);
        }

        #[test]
        fn parse_shellish_never_panics(src in "[a-z$(){}\\[\\];|&<>\"' \n=*?#!-]{0,60}") {
            let _ = parse(&src);
        }

        #[test]
        fn arith_never_panics(src in "[0-9a-z+*/%()<>=!&|^~?:, -]{0,40}") {
            let _ = parse_arith(&src);
        }
    }
}
