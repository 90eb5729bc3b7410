//! Lowering commands: lists, pipelines, simple and compound commands,
//! `[[ … ]]` and redirections, from brush-parser's AST to [`super::ast`].
//! Words are lowered in [`super::words`].

use std::sync::Arc;

use brush_parser::ast;

use super::ast::{
    Assign, CaseArm, CaseNext, Command, CommandKind, Cond, Item, List, MAX_DEPTH, Piece, Pipeline,
    Redir, RedirKind, SyntaxError, Word, plain_word,
};

/// The result of lowering: a tree, or a syntax error.
pub(super) type Lowered<T> = Result<T, SyntaxError>;

/// A syntax error on `line`.
pub(super) fn err<T>(line: usize, message: impl Into<String>) -> Lowered<T> {
    Err(SyntaxError {
        line,
        message: message.into(),
        source_line: None,
    })
}

/// The options of every brush-parser call.
pub(super) fn options() -> brush_parser::ParserOptions {
    brush_parser::ParserOptions {
        tilde_expansion_at_word_start: true,
        ..Default::default()
    }
}

fn line_of(loc: Option<&brush_parser::SourceSpan>) -> Option<usize> {
    loc.map(|l| l.start.line)
}

/// Lowers brush-parser's AST, keeping track of the line for messages.
pub(super) struct Lowerer {
    pub(super) line: usize,
}

impl Lowerer {
    /// A lowerer at line 1.
    pub(super) fn new() -> Self {
        Self { line: 1 }
    }

    pub(super) fn deeper(&self, depth: usize) -> Lowered<usize> {
        if depth >= MAX_DEPTH {
            err(self.line, "nesting too deep")
        } else {
            Ok(depth + 1)
        }
    }

    pub(super) fn list(&mut self, l: &ast::CompoundList, depth: usize) -> Lowered<List> {
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
