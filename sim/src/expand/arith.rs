//! Arithmetic: `$((…))`, `((…))`, `let`, `for ((…))` and the offsets of
//! `${x:o:l}`, evaluated on 64-bit integers with bash's wrapping, base and
//! error rules.

use brush_parser::ast::{BinaryOperator, UnaryOperator};

use crate::host::{Clock, Output};
use crate::observe::Observer;
use crate::shell::{Flow, Shell};
use crate::syntax::{self, Arith, Param, ParamExp, ParamOp, Piece, Word};

/// An arithmetic error message.
struct ArithError(String);

impl<O: Output, C: Clock, W: Observer> Shell<'_, O, C, W> {
    /// Expands and evaluates an arithmetic text (`$((…))`, `((…))`, offsets).
    pub(crate) async fn arith_text(&mut self, text: &str) -> Result<i64, Flow> {
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
}
