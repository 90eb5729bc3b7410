//! Fields from words: quoting, `IFS` splitting, `"$@"`, patterns, and the
//! values of the special parameters.

use crate::glob::Pattern;
use crate::host::{Clock, Output};
use crate::observe::Observer;
use crate::shell::{Flow, Grow, Shell, grow};
use crate::syntax::{Param, ParamOp, Piece, Word};

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
    pub(super) fn push_text(&mut self, s: &str, quoted: bool) {
        self.cur.push_str(s);
        if quoted || !s.is_empty() {
            self.has = true;
        }
        if let Some(segs) = &mut self.segments {
            segs.push((s.to_owned(), quoted));
        }
    }

    pub(super) fn end_field(&mut self) {
        if self.has {
            self.done.push(std::mem::take(&mut self.cur));
            self.has = false;
        }
    }

    /// Appends the result of an unquoted expansion: split on `ifs`.
    pub(super) fn push_split(&mut self, s: &str, ifs: &str) {
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

    pub(super) fn finish(mut self) -> Vec<String> {
        self.end_field();
        self.done
    }
}

impl<O: Output, C: Clock, W: Observer> Shell<'_, O, C, W> {
    pub(super) fn ifs(&self) -> String {
        self.vars
            .get("IFS")
            .cloned()
            .unwrap_or_else(|| " \t\n".to_owned())
    }

    /// Expands words into fields (splitting, `"$@"`), as for command arguments.
    pub(crate) async fn expand_words(&mut self, words: &[Word]) -> Result<Vec<String>, Flow> {
        let mut out = Vec::with_capacity(words.len());
        for w in words {
            let mut f = Fields::default();
            self.expand_into_boxed(&mut f, &w.pieces, false).await?;
            out.extend(f.finish());
        }
        Ok(out)
    }

    /// Expands a word to one string (no splitting), as for assignments.
    pub(crate) async fn expand_word(&mut self, w: &Word) -> Result<String, Flow> {
        let mut f = Fields::default();
        self.expand_into_boxed(&mut f, &w.pieces, true).await?;
        let mut parts = f.done;
        parts.push(f.cur);
        Ok(parts.join(" "))
    }

    /// Expands a word to a pattern (quoted parts match literally).
    pub(crate) async fn expand_pattern(&mut self, w: &Word) -> Result<Pattern, Flow> {
        let mut f = Fields {
            segments: Some(Vec::new()),
            ..Fields::default()
        };
        self.expand_into_boxed(&mut f, &w.pieces, false).await?;
        Ok(Pattern::from_segments(&f.segments.unwrap_or_default()))
    }

    pub(super) fn expand_into_boxed<'s>(
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
    pub(super) fn param_value(&self, p: &Param) -> Option<String> {
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

    pub(super) fn param_name(p: &Param) -> String {
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

    pub(super) async fn fatal(&mut self, msg: &str, status: i32) -> Result<(), Flow> {
        let m = format!("{}{msg}", self.prefix());
        self.diag(&m).await;
        Err(Flow::Exit(status))
    }

    /// Pushes a value: split when unquoted.
    pub(super) fn push_value(&self, f: &mut Fields, v: &str, quoted: bool) {
        if quoted {
            f.push_text(v, true);
        } else {
            let ifs = self.ifs();
            f.push_split(v, &ifs);
        }
    }

    /// `$@`/`$*` style expansion of `items`.
    pub(super) fn push_all(
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
}
