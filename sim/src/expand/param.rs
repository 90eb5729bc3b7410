//! Parameter expansion: `$x` and `${x…}` with their operators (defaults,
//! alternatives, errors, lengths, trimming, substrings, replacement, case).

use super::words::Fields;
use crate::glob::Pattern;
use crate::host::{Clock, Output};
use crate::observe::Observer;
use crate::shell::{Flow, Shell};
use crate::syntax::{Param, ParamExp, ParamOp, ReplaceKind};

impl<O: Output, C: Clock, W: Observer> Shell<'_, O, C, W> {
    /// Expands `pe` into `f` (`quoted`: inside double quotes, no splitting).
    pub(super) async fn expand_param(
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
        match &pe.op {
            ParamOp::Plain | ParamOp::Length => {
                self.param_plain(f, &pe.op, param, value, quoted).await
            }
            ParamOp::Default { .. }
            | ParamOp::Assign { .. }
            | ParamOp::Alt { .. }
            | ParamOp::Error { .. } => self.param_test(f, &pe.op, param, value, quoted).await,
            ParamOp::Trim { .. } | ParamOp::Replace { .. } | ParamOp::Case { .. } => {
                self.param_pattern(f, &pe.op, param, value, quoted).await
            }
            ParamOp::Substring { offset, length } => {
                self.param_substring(f, (offset, length.as_deref()), param, value, quoted)
                    .await
            }
        }
    }

    /// `$x`, `${#x}`.
    async fn param_plain(
        &mut self,
        f: &mut Fields,
        op: &ParamOp,
        param: Param,
        value: Option<String>,
        quoted: bool,
    ) -> Result<(), Flow> {
        let is_all = matches!(param, Param::All(_));
        match op {
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
            _ => {}
        }
        Ok(())
    }

    /// `${x:-w}`, `${x:=w}`, `${x:+w}`, `${x:?w}` (and without the colon).
    async fn param_test(
        &mut self,
        f: &mut Fields,
        op: &ParamOp,
        param: Param,
        value: Option<String>,
        quoted: bool,
    ) -> Result<(), Flow> {
        match op {
            ParamOp::Default { colon, word } | ParamOp::Assign { colon, word } => {
                let missing = value.is_none() || (*colon && value.as_deref() == Some(""));
                if missing {
                    if matches!(op, ParamOp::Assign { .. }) {
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
            _ => {}
        }
        Ok(())
    }

    /// `${x#p}`, `${x%p}` (and `##`, `%%`), `${x/p/r}`, `${x^^}` and friends.
    async fn param_pattern(
        &mut self,
        f: &mut Fields,
        op: &ParamOp,
        param: Param,
        value: Option<String>,
        quoted: bool,
    ) -> Result<(), Flow> {
        match op {
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
            _ => {}
        }
        Ok(())
    }

    /// `${x:offset:length}` (and `${@:offset:length}`).
    async fn param_substring(
        &mut self,
        f: &mut Fields,
        (offset, length): (&str, Option<&str>),
        param: Param,
        value: Option<String>,
        quoted: bool,
    ) -> Result<(), Flow> {
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
        Ok(())
    }
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
