//! Lowering words: quoting, `$'…'`, `~`, `${…}` with its operators, command
//! and arithmetic substitution, here-documents and brace expansion.

use brush_parser::word::{self as bw, BraceExpressionMember, BraceExpressionOrText, WordPiece};

use super::ast::{Param, ParamExp, ParamOp, Piece, ReplaceKind, Word, plain_word};
use super::lower::{Lowered, Lowerer, err, options};
use crate::printf::{Escapes, unescape};

/// The most words a brace expansion may produce.
const MAX_BRACE_WORDS: usize = 100_000;

impl Lowerer {
    pub(super) fn heredoc(&mut self, raw: &str, depth: usize) -> Lowered<Word> {
        match bw::parse_heredoc(raw, &options()) {
            Ok(pieces) => Ok(Word {
                pieces: self.pieces(pieces.into_iter().map(|p| p.piece).collect(), true, depth)?,
                raw: raw.to_owned(),
            }),
            Err(e) => err(self.line, format!("bad here-document: {e}")),
        }
    }

    /// A word in a list context: brace expansion applies.
    pub(super) fn words_braced(&mut self, raw: &str, depth: usize) -> Lowered<Vec<Word>> {
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

    pub(super) fn word(&mut self, raw: &str, depth: usize) -> Lowered<Word> {
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
                    let (bytes, _) = unescape(&t, Escapes::Format);
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

    /// `${…}` (and `$x`).
    fn param(&mut self, e: bw::ParameterExpr, depth: usize) -> Lowered<Piece> {
        use bw::ParameterExpr as E;
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
            other => match self.transform(other, depth)? {
                Ok(lowered) => lowered,
                Err(what) => return Ok(Piece::Unsupported(what)),
            },
        };
        let param = match lower_parameter(parameter) {
            Ok(p) => p,
            Err(what) => return Ok(Piece::Unsupported(what.to_owned())),
        };
        Ok(Piece::Param(Box::new(ParamExp {
            param,
            indirect,
            op,
        })))
    }

    /// The operators of `${…}` that trim, cut, replace or change case;
    /// `Ok(Err(what))` for the forms the interpreter does not support.
    #[allow(clippy::type_complexity)] // (parameter, indirect, operator), or what is not supported
    fn transform(
        &mut self,
        e: bw::ParameterExpr,
        depth: usize,
    ) -> Lowered<Result<(bw::Parameter, bool, ParamOp), String>> {
        use bw::ParameterExpr as E;
        let unsupported = |what: &str| Ok(Err(what.to_owned()));
        Ok(Ok(match e {
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
            e @ (E::UppercaseFirstChar { .. }
            | E::UppercasePattern { .. }
            | E::LowercaseFirstChar { .. }
            | E::LowercasePattern { .. }) => return Ok(case_op(e)),
            E::Transform { .. } => return unsupported("${parameter@operator}"),
            E::VariableNames { .. } => return unsupported("${!prefix*}"),
            E::MemberKeys { .. } => return unsupported("${!array[@]}"),
            // The other forms are lowered by `param`, which passes only these.
            _ => return unsupported("this parameter expansion"),
        }))
    }
}

/// `${x^}`, `${x^^}`, `${x,}`, `${x,,}`; `Err(what)` with a pattern.
fn case_op(e: bw::ParameterExpr) -> Result<(bw::Parameter, bool, ParamOp), String> {
    use bw::ParameterExpr as E;
    Ok(match e {
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
        | E::LowercasePattern { .. } => return Err("case modification with a pattern".to_owned()),
        _ => return Err("this parameter expansion".to_owned()),
    })
}

/// The parameter of `${…}`; `Err(what)` for arrays.
fn lower_parameter(parameter: bw::Parameter) -> Result<Param, &'static str> {
    Ok(match parameter {
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
            return Err("arrays");
        }
    })
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
