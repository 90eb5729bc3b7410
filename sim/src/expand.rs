//! Word expansion (parameters, command substitution, arithmetic, splitting),
//! arithmetic evaluation and conditional expressions.

use brush_parser::ast::{BinaryOperator, UnaryOperator};

use super::glob::Pattern;
use crate::host::{Clock, Output};
use super::shell::{Flow, Grow, Node, Shell, grow};
use super::syntax::{self, Arith, Cond, Param, ParamExp, ParamOp, Piece, ReplaceKind, Word};

/// Fields being built by word expansion.
#[derive(Debug, Default)]
pub(super) struct Fields {
    done: Vec<String>,
    cur: String,
    /// Whether `cur` is a field even if empty (something quoted was seen).
    has: bool,
    /// Pattern segments (text, quoted) when building a pattern.
    segments: Option<Vec<(String, bool)>>,
}

impl Fields {
    fn push_text(&mut self, s: &str, quoted: bool) {
        self.cur.push_str(s);
        if quoted || !s.is_empty() {
            self.has = true;
        }
        if let Some(segs) = &mut self.segments {
            segs.push((s.to_owned(), quoted));
        }
    }

    fn end_field(&mut self) {
        if self.has {
            self.done.push(std::mem::take(&mut self.cur));
            self.has = false;
        }
    }

    /// Appends the result of an unquoted expansion: split on `ifs`.
    fn push_split(&mut self, s: &str, ifs: &str) {
        if let Some(segs) = &mut self.segments {
            segs.push((s.to_owned(), false));
            self.cur.push_str(s);
            self.has = true;
            return;
        }
        for c in s.chars() {
            if ifs.contains(c) {
                if c.is_whitespace() {
                    self.end_field();
                } else {
                    self.done.push(std::mem::take(&mut self.cur));
                    self.has = false;
                }
            } else {
                self.cur.push(c);
                self.has = true;
            }
        }
    }

    fn finish(mut self) -> Vec<String> {
        self.end_field();
        self.done
    }
}

/// An arithmetic error message.
struct ArithError(String);

impl<O: Output, C: Clock> Shell<'_, O, C> {
    fn ifs(&self) -> String {
        self.vars
            .get("IFS")
            .cloned()
            .unwrap_or_else(|| " \t\n".to_owned())
    }

    /// Expands words into fields (splitting, `"$@"`), as for command arguments.
    pub(super) async fn expand_words(&mut self, words: &[Word]) -> Result<Vec<String>, Flow> {
        let mut out = Vec::with_capacity(words.len());
        for w in words {
            let mut f = Fields::default();
            self.expand_into_boxed(&mut f, &w.pieces, false).await?;
            out.extend(f.finish());
        }
        Ok(out)
    }

    /// Expands a word to one string (no splitting), as for assignments.
    pub(super) async fn expand_word(&mut self, w: &Word) -> Result<String, Flow> {
        let mut f = Fields::default();
        self.expand_into_boxed(&mut f, &w.pieces, true).await?;
        let mut parts = f.done;
        parts.push(f.cur);
        Ok(parts.join(" "))
    }

    /// Expands a word to a pattern (quoted parts match literally).
    pub(super) async fn expand_pattern(&mut self, w: &Word) -> Result<Pattern, Flow> {
        let mut f = Fields {
            segments: Some(Vec::new()),
            ..Fields::default()
        };
        self.expand_into_boxed(&mut f, &w.pieces, false).await?;
        Ok(Pattern::from_segments(&f.segments.unwrap_or_default()))
    }

    fn expand_into_boxed<'s>(
        &'s mut self,
        f: &'s mut Fields,
        pieces: &'s [Piece],
        quoted: bool,
    ) -> Grow<'s, Result<(), Flow>> {
        grow(self.expand_into(f, pieces, quoted))
    }

    /// Expands `pieces` into `f`; `quoted`: inside double quotes (no splitting).
    async fn expand_into(
        &mut self,
        f: &mut Fields,
        pieces: &[Piece],
        quoted: bool,
    ) -> Result<(), Flow> {
        for p in pieces {
            match p {
                Piece::Lit(s) => f.push_text(s, quoted),
                Piece::Quoted(s) => f.push_text(s, true),
                Piece::Double(inner) => {
                    let before = f.has;
                    f.has = true;
                    let only_at = inner.len() == 1
                        && matches!(&inner[0], Piece::Param(pe) if pe.param == Param::All(false) && matches!(pe.op, ParamOp::Plain));
                    if only_at && self.positional.is_empty() {
                        f.has = before;
                        continue;
                    }
                    self.expand_into_boxed(f, inner, true).await?;
                }
                Piece::Param(pe) => self.expand_param(f, pe, quoted).await?,
                Piece::CmdSub(src) => {
                    let out = self.command_substitution(src).await?;
                    if quoted {
                        f.push_text(&out, true);
                    } else {
                        let ifs = self.ifs();
                        f.push_split(&out, &ifs);
                    }
                }
                Piece::Arith(text) => {
                    let v = self.arith_text(text).await?;
                    f.push_text(&v.to_string(), quoted);
                }
                Piece::Tilde(user) => {
                    let home = if user.is_empty() {
                        self.get_var("HOME").unwrap_or_else(|| "/root".to_owned())
                    } else if user == "root" {
                        "/root".to_owned()
                    } else {
                        format!("/home/{user}")
                    };
                    f.push_text(&home, true);
                }
                Piece::Unsupported(what) => {
                    let what = what.clone();
                    return self.unsupported(&what).await.map(|_| ());
                }
            }
        }
        Ok(())
    }

    /// The value of a parameter (`None`: unset).
    fn param_value(&self, p: &Param) -> Option<String> {
        match p {
            Param::Named(n) => self.get_var(n),
            Param::Positional(0) => Some(self.arg0.clone()),
            Param::Positional(k) => self.positional.get(*k as usize - 1).cloned(),
            Param::All(_) => {
                if self.positional.is_empty() {
                    None
                } else {
                    Some(self.positional.join(" "))
                }
            }
            Param::Count => Some(self.positional.len().to_string()),
            Param::Status => Some(self.status.to_string()),
            Param::Pid => Some("1".to_owned()),
            Param::Flags => {
                let mut s = String::new();
                if self.opts.errexit {
                    s.push('e');
                }
                if self.opts.nounset {
                    s.push('u');
                }
                if self.opts.xtrace {
                    s.push('x');
                }
                s.push_str("hB");
                Some(s)
            }
            Param::LastBg => None,
            Param::ShellName => Some(self.arg0.clone()),
        }
    }

    fn param_name(p: &Param) -> String {
        match p {
            Param::Named(n) => n.clone(),
            Param::Positional(k) => k.to_string(),
            Param::All(false) => "@".into(),
            Param::All(true) => "*".into(),
            Param::Count => "#".into(),
            Param::Status => "?".into(),
            Param::Pid => "$".into(),
            Param::Flags => "-".into(),
            Param::LastBg => "!".into(),
            Param::ShellName => "0".into(),
        }
    }

    async fn fatal(&mut self, msg: &str, status: i32) -> Result<(), Flow> {
        let m = format!("{}{msg}", self.prefix());
        self.diag(&m).await;
        Err(Flow::Exit(status))
    }

    /// Pushes a value: split when unquoted.
    fn push_value(&self, f: &mut Fields, v: &str, quoted: bool) {
        if quoted {
            f.push_text(v, true);
        } else {
            let ifs = self.ifs();
            f.push_split(v, &ifs);
        }
    }

    async fn expand_param(
        &mut self,
        f: &mut Fields,
        pe: &ParamExp,
        quoted: bool,
    ) -> Result<(), Flow> {
        let mut param = pe.param.clone();
        if pe.indirect {
            let target = self.param_value(&param).unwrap_or_default();
            param = match target.parse::<u32>() {
                Ok(n) => Param::Positional(n),
                Err(_)
                    if !target.is_empty()
                        && target
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
                {
                    Param::Named(target)
                }
                Err(_) => {
                    return self
                        .fatal(
                            &format!(
                                "{}: invalid indirect expansion",
                                Self::param_name(&pe.param)
                            ),
                            1,
                        )
                        .await;
                }
            };
        }
        let value = self.param_value(&param);
        let is_all = matches!(param, Param::All(_));
        match &pe.op {
            ParamOp::Plain => {
                if value.is_none() && self.opts.nounset && !is_all {
                    return self
                        .fatal(
                            &format!("{}: unbound variable", Self::param_name(&param)),
                            127,
                        )
                        .await;
                }
                if let Param::All(concat) = param {
                    return self.push_all(f, concat, quoted, self.positional.clone());
                }
                self.push_value(f, &value.unwrap_or_default(), quoted);
            }
            ParamOp::Length => {
                let n = if is_all {
                    self.positional.len()
                } else {
                    if value.is_none() && self.opts.nounset {
                        return self
                            .fatal(
                                &format!("{}: unbound variable", Self::param_name(&param)),
                                127,
                            )
                            .await;
                    }
                    value.unwrap_or_default().chars().count()
                };
                f.push_text(&n.to_string(), quoted);
            }
            ParamOp::Default { colon, word } | ParamOp::Assign { colon, word } => {
                let missing = value.is_none() || (*colon && value.as_deref() == Some(""));
                if missing {
                    if matches!(pe.op, ParamOp::Assign { .. }) {
                        let v = self.expand_word(word).await?;
                        match &param {
                            Param::Named(n) => self.set_var(n, v.clone()),
                            other => {
                                return self
                                    .fatal(
                                        &format!(
                                            "${}: cannot assign in this way",
                                            Self::param_name(other)
                                        ),
                                        1,
                                    )
                                    .await;
                            }
                        }
                        self.push_value(f, &v, quoted);
                    } else {
                        self.expand_into_boxed(f, &word.pieces, quoted).await?;
                    }
                } else if let Param::All(concat) = param {
                    return self.push_all(f, concat, quoted, self.positional.clone());
                } else {
                    self.push_value(f, &value.unwrap_or_default(), quoted);
                }
            }
            ParamOp::Alt { colon, word } => {
                let missing = value.is_none() || (*colon && value.as_deref() == Some(""));
                if !missing {
                    self.expand_into_boxed(f, &word.pieces, quoted).await?;
                }
            }
            ParamOp::Error { colon, word } => {
                let missing = value.is_none() || (*colon && value.as_deref() == Some(""));
                if missing {
                    let msg = match word {
                        Some(w) => self.expand_word(w).await?,
                        None if *colon => "parameter null or not set".to_owned(),
                        None => "parameter not set".to_owned(),
                    };
                    return self
                        .fatal(&format!("{}: {msg}", Self::param_name(&param)), 127)
                        .await;
                }
                self.push_value(f, &value.unwrap_or_default(), quoted);
            }
            ParamOp::Trim {
                suffix,
                longest,
                pattern,
            } => {
                let pat = self.expand_pattern(pattern).await?;
                let trim = |v: &str| -> String {
                    if *suffix {
                        match pat.match_suffix(v, *longest) {
                            Some(start) => v[..start].to_owned(),
                            None => v.to_owned(),
                        }
                    } else {
                        match pat.match_prefix(v, *longest) {
                            Some(end) => v[end..].to_owned(),
                            None => v.to_owned(),
                        }
                    }
                };
                if let Param::All(concat) = param {
                    let items: Vec<String> = self.positional.iter().map(|v| trim(v)).collect();
                    return self.push_all(f, concat, quoted, items);
                }
                let v = trim(&value.unwrap_or_default());
                self.push_value(f, &v, quoted);
            }
            ParamOp::Substring { offset, length } => {
                let off = self.arith_text(offset).await?;
                let len = match length {
                    Some(l) => Some(self.arith_text(l).await?),
                    None => None,
                };
                if let Param::All(concat) = param {
                    // ${@:off:len}: positional parameters, $0 at offset 0.
                    let mut all = vec![self.arg0.clone()];
                    all.extend(self.positional.iter().cloned());
                    let items = slice_items(&all, off, len);
                    return self.push_all(f, concat, quoted, items);
                }
                let v = value.unwrap_or_default();
                let chars: Vec<char> = v.chars().collect();
                match slice_range(chars.len(), off, len) {
                    Some((a, b)) => {
                        let s: String = chars[a..b].iter().collect();
                        self.push_value(f, &s, quoted);
                    }
                    None => {
                        if len.is_some_and(|l| l < 0) {
                            return self
                                .fatal(
                                    &format!("{}: substring expression < 0", len.unwrap_or(0)),
                                    1,
                                )
                                .await;
                        }
                    }
                }
            }
            ParamOp::Replace {
                pattern,
                with,
                kind,
            } => {
                let pat = self.expand_pattern(pattern).await?;
                let rep = self.expand_word(with).await?;
                let v = value.unwrap_or_default();
                let out = replace(&v, &pat, &rep, *kind);
                self.push_value(f, &out, quoted);
            }
            ParamOp::Case { upper, all } => {
                let v = value.unwrap_or_default();
                let out = match (upper, all) {
                    (true, true) => v.to_uppercase(),
                    (false, true) => v.to_lowercase(),
                    (u, false) => {
                        let mut c = v.chars();
                        match c.next() {
                            Some(first) => {
                                let head: String = if *u {
                                    first.to_uppercase().collect()
                                } else {
                                    first.to_lowercase().collect()
                                };
                                format!("{head}{}", c.as_str())
                            }
                            None => String::new(),
                        }
                    }
                };
                self.push_value(f, &out, quoted);
            }
        }
        Ok(())
    }

    /// `$@`/`$*` style expansion of `items`.
    fn push_all(
        &self,
        f: &mut Fields,
        concat: bool,
        quoted: bool,
        items: Vec<String>,
    ) -> Result<(), Flow> {
        if quoted {
            if concat {
                let sep = self
                    .ifs()
                    .chars()
                    .next()
                    .map(String::from)
                    .unwrap_or_default();
                f.push_text(&items.join(&sep), true);
            } else {
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.done.push(std::mem::take(&mut f.cur));
                    }
                    f.push_text(v, true);
                }
            }
        } else {
            let ifs = self.ifs();
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    f.end_field();
                }
                f.push_split(v, &ifs);
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------------
    // Arithmetic.

    /// Expands and evaluates an arithmetic text (`$((…))`, `((…))`, offsets).
    pub(super) async fn arith_text(&mut self, text: &str) -> Result<i64, Flow> {
        // Parameter and command substitutions inside the expression.
        let expanded = if text.contains('$') || text.contains('`') {
            match brush_parser::word::parse(text, &brush_parser::ParserOptions::default()) {
                Ok(pieces) if text.len() <= 4096 => {
                    let w = Word {
                        pieces: pieces
                            .into_iter()
                            .map(|p| match p.piece {
                                brush_parser::word::WordPiece::ParameterExpansion(_)
                                | brush_parser::word::WordPiece::CommandSubstitution(_)
                                | brush_parser::word::WordPiece::BackquotedCommandSubstitution(_) => {
                                    lower_simple_piece(p.piece)
                                }
                                brush_parser::word::WordPiece::ArithmeticExpression(e) => Piece::Arith(e.value),
                                other => Piece::Lit(raw_text(&other)),
                            })
                            .collect(),
                        raw: text.to_owned(),
                    };
                    self.expand_word(&w).await?
                }
                _ => {
                    self.fatal(&format!("{text}: bad arithmetic expression"), 1)
                        .await?;
                    String::new()
                }
            }
        } else {
            text.to_owned()
        };
        let expr = match syntax::parse_arith(&expanded) {
            Ok(e) => e,
            Err(msg) => {
                self.fatal(&format!("{}: {msg}", expanded.trim()), 1)
                    .await?;
                return Ok(0);
            }
        };
        match self.eval_arith(&expr, 0) {
            Ok(v) => Ok(v),
            Err(ArithError(msg)) => {
                self.fatal(&format!("{}: {msg}", expanded.trim()), 1)
                    .await?;
                Ok(0)
            }
        }
    }

    fn arith_var(&self, name: &str, depth: usize) -> Result<i64, ArithError> {
        let v = self.get_var(name).unwrap_or_default();
        let t = v.trim();
        if t.is_empty() {
            if self.opts.nounset && !self.vars.contains_key(name) {
                return Err(ArithError(format!("{name}: unbound variable")));
            }
            return Ok(0);
        }
        if let Some(n) = parse_arith_int(t) {
            return Ok(n);
        }
        if depth < 8
            && let Ok(e) = syntax::parse_arith(t)
            && let Ok(v) = self.eval_arith_ro(&e, depth + 1)
        {
            return Ok(v);
        }
        Err(ArithError(format!(
            "{t}: syntax error: invalid arithmetic operator"
        )))
    }

    /// Evaluates without assignments (for values of variables).
    fn eval_arith_ro(&self, e: &Arith, depth: usize) -> Result<i64, ArithError> {
        match e {
            Arith::Lit(v) => Ok(*v),
            Arith::Var(n) => self.arith_var(n, depth),
            Arith::Unary(op, x) => unary(*op, self.eval_arith_ro(x, depth)?),
            Arith::Binary(op, a, b) => binary(
                *op,
                self.eval_arith_ro(a, depth)?,
                self.eval_arith_ro(b, depth)?,
            ),
            Arith::Cond(c, a, b) => {
                if self.eval_arith_ro(c, depth)? != 0 {
                    self.eval_arith_ro(a, depth)
                } else {
                    self.eval_arith_ro(b, depth)
                }
            }
            _ => Err(ArithError("assignment in a variable's value".to_owned())),
        }
    }

    fn eval_arith(&mut self, e: &Arith, depth: usize) -> Result<i64, ArithError> {
        Ok(match e {
            Arith::Lit(v) => *v,
            Arith::Var(n) => self.arith_var(n, depth)?,
            Arith::Unary(op, x) => unary(*op, self.eval_arith(x, depth)?)?,
            Arith::Binary(BinaryOperator::LogicalAnd, a, b) => {
                i64::from(self.eval_arith(a, depth)? != 0 && self.eval_arith(b, depth)? != 0)
            }
            Arith::Binary(BinaryOperator::LogicalOr, a, b) => {
                i64::from(self.eval_arith(a, depth)? != 0 || self.eval_arith(b, depth)? != 0)
            }
            Arith::Binary(op, a, b) => {
                let x = self.eval_arith(a, depth)?;
                let y = self.eval_arith(b, depth)?;
                binary(*op, x, y)?
            }
            Arith::Cond(c, a, b) => {
                if self.eval_arith(c, depth)? != 0 {
                    self.eval_arith(a, depth)?
                } else {
                    self.eval_arith(b, depth)?
                }
            }
            Arith::Assign(name, op, x) => {
                let rhs = self.eval_arith(x, depth)?;
                let v = match op {
                    None => rhs,
                    Some(op) => binary(*op, self.arith_var(name, depth)?, rhs)?,
                };
                self.set_var(name, v.to_string());
                v
            }
            Arith::Step(name, delta, prefix) => {
                let old = self.arith_var(name, depth)?;
                let new = old.wrapping_add(*delta);
                self.set_var(name, new.to_string());
                if *prefix { new } else { old }
            }
        })
    }

    // ---------------------------------------------------------------------
    // [[ … ]]

    fn eval_cond_boxed<'s>(&'s mut self, c: &'s Cond) -> Grow<'s, Result<bool, Flow>> {
        grow(async move {
            Ok(match c {
                Cond::And(a, b) => {
                    self.eval_cond_boxed(a).await? && self.eval_cond_boxed(b).await?
                }
                Cond::Or(a, b) => self.eval_cond_boxed(a).await? || self.eval_cond_boxed(b).await?,
                Cond::Not(a) => !self.eval_cond_boxed(a).await?,
                Cond::Unary(op, w) => {
                    let v = self.expand_word(w).await?;
                    match self.unary_test(op, &v) {
                        Ok(b) => b,
                        Err(msg) => {
                            self.fatal(&msg, 2).await?;
                            false
                        }
                    }
                }
                Cond::Binary(op, a, b) => {
                    let l = self.expand_word(a).await?;
                    if op == "==" || op == "!=" || op == "=" {
                        let pat = self.expand_pattern(b).await?;
                        let m = pat.matches(&l);
                        if op == "!=" { !m } else { m }
                    } else {
                        let r = self.expand_word(b).await?;
                        match self.binary_test(op, &l, &r) {
                            Ok(b) => b,
                            Err(msg) => {
                                self.fatal(&msg, 2).await?;
                                false
                            }
                        }
                    }
                }
            })
        })
    }

    /// `[[ … ]]`: status 0 (true), 1 (false).
    pub(super) async fn eval_cond(&mut self, c: &Cond) -> Result<i32, Flow> {
        Ok(i32::from(!self.eval_cond_boxed(c).await?))
    }

    /// `test`-style unary operators.
    pub(super) fn unary_test(&self, op: &str, v: &str) -> Result<bool, String> {
        let node = || self.fs.lookup(v);
        Ok(match op {
            "-z" => v.is_empty(),
            "-n" => !v.is_empty(),
            "-e" | "-a" => !v.is_empty() && node().is_some(),
            "-f" => matches!(node(), Some(Node::File(_))),
            "-d" => matches!(node(), Some(Node::Dir)),
            "-s" => matches!(node(), Some(Node::File(d)) if !d.is_empty()),
            "-r" | "-w" => !v.is_empty() && node().is_some(),
            "-x" => match node() {
                Some(Node::Dir) => true,
                Some(Node::File(_)) => {
                    let abs = super::shell::absolute(&self.fs.cwd, v);
                    let wd = &self.fs.work_dir;
                    let rel = abs.strip_prefix(&format!("{wd}/")).unwrap_or("");
                    self.fs
                        .uploaded
                        .get(rel)
                        .is_some_and(|f| f.mode & 0o111 != 0)
                }
                _ => false,
            },
            "-c" => matches!(node(), Some(Node::Null | Node::Zero | Node::Random)),
            "-b" | "-g" | "-k" | "-p" | "-u" | "-G" | "-N" | "-O" | "-S" | "-t" | "-h" | "-L" => {
                false
            }
            "-v" => self.vars.contains_key(v),
            "-R" => false,
            "-o" => match v {
                "errexit" => self.opts.errexit,
                "nounset" => self.opts.nounset,
                "xtrace" => self.opts.xtrace,
                "pipefail" => self.opts.pipefail,
                _ => false,
            },
            other => return Err(format!("{other}: unary operator expected")),
        })
    }

    /// `test`-style binary operators.
    pub(super) fn binary_test(&self, op: &str, l: &str, r: &str) -> Result<bool, String> {
        let int = |s: &str| -> Result<i64, String> {
            let t = s.trim();
            t.parse::<i64>()
                .map_err(|_| format!("{s}: integer expression expected"))
        };
        Ok(match op {
            "=" | "==" => l == r,
            "!=" => l != r,
            "<" => l < r,
            ">" => l > r,
            "-eq" => int(l)? == int(r)?,
            "-ne" => int(l)? != int(r)?,
            "-lt" => int(l)? < int(r)?,
            "-le" => int(l)? <= int(r)?,
            "-gt" => int(l)? > int(r)?,
            "-ge" => int(l)? >= int(r)?,
            "-nt" | "-ot" | "-ef" => false,
            other => return Err(format!("{other}: binary operator expected")),
        })
    }
}

/// The source text of a word piece (for arithmetic, where only `$` forms expand).
fn raw_text(p: &brush_parser::word::WordPiece) -> String {
    use brush_parser::word::WordPiece as W;
    match p {
        W::Text(s) | W::EscapeSequence(s) => s.clone(),
        W::SingleQuotedText(s) | W::AnsiCQuotedText(s) => s.clone(),
        W::DoubleQuotedSequence(inner) | W::GettextDoubleQuotedSequence(inner) => {
            inner.iter().map(|x| raw_text(&x.piece)).collect()
        }
        _ => String::new(),
    }
}

/// Lowers a `$…` piece found inside an arithmetic expression.
fn lower_simple_piece(p: brush_parser::word::WordPiece) -> Piece {
    use brush_parser::word::{
        Parameter as P, ParameterExpr as E, SpecialParameter as S, WordPiece as W,
    };
    match p {
        W::CommandSubstitution(s) | W::BackquotedCommandSubstitution(s) => Piece::CmdSub(s),
        W::ParameterExpansion(E::Parameter {
            parameter,
            indirect,
        }) => {
            let param = match parameter {
                P::Positional(n) => Param::Positional(n),
                P::Named(n) => Param::Named(n),
                P::Special(S::LastExitStatus) => Param::Status,
                P::Special(S::PositionalParameterCount) => Param::Count,
                P::Special(S::ProcessId) => Param::Pid,
                P::Special(S::ShellName) => Param::ShellName,
                P::Special(S::AllPositionalParameters { concatenate }) => Param::All(concatenate),
                P::Special(S::CurrentOptionFlags) => Param::Flags,
                P::Special(S::LastBackgroundProcessId) => Param::LastBg,
                _ => return Piece::Unsupported("arrays".to_owned()),
            };
            Piece::Param(Box::new(ParamExp {
                param,
                indirect,
                op: ParamOp::Plain,
            }))
        }
        W::ParameterExpansion(E::ParameterLength {
            parameter: P::Named(n),
            indirect,
        }) => Piece::Param(Box::new(ParamExp {
            param: Param::Named(n),
            indirect,
            op: ParamOp::Length,
        })),
        _ => Piece::Unsupported("this expansion inside arithmetic".to_owned()),
    }
}

/// Parses an integer as bash arithmetic does: decimal, `0x` hex, `0` octal, `base#digits`.
pub(super) fn parse_arith_int(s: &str) -> Option<i64> {
    let (neg, t) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if t.is_empty() {
        return None;
    }
    let v = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()? as i64
    } else if let Some((base, digits)) = t.split_once('#') {
        let base: u32 = base.parse().ok()?;
        if !(2..=36).contains(&base) {
            return None;
        }
        u64::from_str_radix(digits, base).ok()? as i64
    } else if t.len() > 1 && t.starts_with('0') {
        u64::from_str_radix(&t[1..], 8).ok()? as i64
    } else {
        if !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse::<u64>().ok()? as i64
    };
    Some(if neg { v.wrapping_neg() } else { v })
}

fn unary(op: UnaryOperator, v: i64) -> Result<i64, ArithError> {
    Ok(match op {
        UnaryOperator::UnaryPlus => v,
        UnaryOperator::UnaryMinus => v.wrapping_neg(),
        UnaryOperator::BitwiseNot => !v,
        UnaryOperator::LogicalNot => i64::from(v == 0),
    })
}

fn binary(op: BinaryOperator, a: i64, b: i64) -> Result<i64, ArithError> {
    Ok(match op {
        BinaryOperator::Power => {
            if b < 0 {
                return Err(ArithError("exponent less than 0".to_owned()));
            }
            let mut r: i64 = 1;
            let mut base = a;
            let mut e = b as u64;
            while e > 0 {
                if e & 1 == 1 {
                    r = r.wrapping_mul(base);
                }
                base = base.wrapping_mul(base);
                e >>= 1;
            }
            r
        }
        BinaryOperator::Multiply => a.wrapping_mul(b),
        BinaryOperator::Divide => {
            if b == 0 {
                return Err(ArithError("division by 0".to_owned()));
            }
            a.wrapping_div(b)
        }
        BinaryOperator::Modulo => {
            if b == 0 {
                return Err(ArithError("division by 0".to_owned()));
            }
            a.wrapping_rem(b)
        }
        BinaryOperator::Comma => b,
        BinaryOperator::Add => a.wrapping_add(b),
        BinaryOperator::Subtract => a.wrapping_sub(b),
        BinaryOperator::ShiftLeft => a.wrapping_shl((b & 63) as u32),
        BinaryOperator::ShiftRight => a.wrapping_shr((b & 63) as u32),
        BinaryOperator::LessThan => i64::from(a < b),
        BinaryOperator::LessThanOrEqualTo => i64::from(a <= b),
        BinaryOperator::GreaterThan => i64::from(a > b),
        BinaryOperator::GreaterThanOrEqualTo => i64::from(a >= b),
        BinaryOperator::Equals => i64::from(a == b),
        BinaryOperator::NotEquals => i64::from(a != b),
        BinaryOperator::BitwiseAnd => a & b,
        BinaryOperator::BitwiseXor => a ^ b,
        BinaryOperator::BitwiseOr => a | b,
        BinaryOperator::LogicalAnd => i64::from(a != 0 && b != 0),
        BinaryOperator::LogicalOr => i64::from(a != 0 || b != 0),
    })
}

/// `${x:off:len}` on a string of `n` characters: the char range, or `None`
/// when empty/out of range.
fn slice_range(n: usize, off: i64, len: Option<i64>) -> Option<(usize, usize)> {
    let n_i = n as i64;
    let start = if off < 0 { n_i + off } else { off };
    if start < 0 || start > n_i {
        return None;
    }
    let end = match len {
        None => n_i,
        Some(l) if l < 0 => {
            let e = n_i + l;
            if e < start {
                return None;
            }
            e
        }
        Some(l) => (start.saturating_add(l)).min(n_i),
    };
    Some((start as usize, end as usize))
}

fn slice_items(all: &[String], off: i64, len: Option<i64>) -> Vec<String> {
    match slice_range(all.len(), off, len) {
        Some((a, b)) => all[a..b].to_vec(),
        None => Vec::new(),
    }
}

fn replace(v: &str, pat: &Pattern, rep: &str, kind: ReplaceKind) -> String {
    match kind {
        ReplaceKind::Prefix => match pat.match_prefix(v, true) {
            Some(end) => format!("{rep}{}", &v[end..]),
            None => v.to_owned(),
        },
        ReplaceKind::Suffix => match pat.match_suffix(v, true) {
            Some(start) => format!("{}{rep}", &v[..start]),
            None => v.to_owned(),
        },
        ReplaceKind::First | ReplaceKind::All => {
            let mut out = String::with_capacity(v.len());
            let mut pos = 0;
            while pos <= v.len() {
                match pat.find(v, pos) {
                    Some((a, b)) if b > a => {
                        out.push_str(&v[pos..a]);
                        out.push_str(rep);
                        pos = b;
                        if kind == ReplaceKind::First {
                            break;
                        }
                    }
                    _ => break,
                }
            }
            out.push_str(&v[pos.min(v.len())..]);
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints() {
        assert_eq!(parse_arith_int("42"), Some(42));
        assert_eq!(parse_arith_int("-0x10"), Some(-16));
        assert_eq!(parse_arith_int("010"), Some(8));
        assert_eq!(parse_arith_int("2#101"), Some(5));
        assert_eq!(parse_arith_int("abc"), None);
        assert_eq!(parse_arith_int("09"), None);
    }

    #[test]
    fn slicing() {
        assert_eq!(slice_range(5, 1, Some(2)), Some((1, 3)));
        assert_eq!(slice_range(5, -2, None), Some((3, 5)));
        assert_eq!(slice_range(5, 1, Some(-1)), Some((1, 4)));
        assert_eq!(slice_range(5, 9, None), None);
    }

    #[test]
    fn replacing() {
        let p = Pattern::new("o");
        assert_eq!(replace("foo boo", &p, "0", ReplaceKind::All), "f00 b00");
        assert_eq!(replace("foo boo", &p, "0", ReplaceKind::First), "f0o boo");
        assert_eq!(
            replace("foo", &Pattern::new("f"), "g", ReplaceKind::Prefix),
            "goo"
        );
        assert_eq!(
            replace("foo", &Pattern::new("o"), "x", ReplaceKind::Suffix),
            "fox"
        );
    }
}
