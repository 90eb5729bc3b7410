//! Arithmetic expressions (`$((…))`, `((…))`, `let`): parsed with
//! brush-parser and lowered to a depth-bounded [`Arith`] tree.

use brush_parser::ast;

use super::ast::MAX_DEPTH;
use super::parse::on_big_stack;

/// A lowered arithmetic expression (depth-bounded).
#[derive(Debug, Clone)]
pub(crate) enum Arith {
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
pub(crate) fn parse_arith(src: &str) -> Result<Arith, String> {
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
        fn arith_never_panics(src in "[0-9a-z+*/%()<>=!&|^~?:, -]{0,40}") {
            let _ = parse_arith(&src);
        }
    }
}
