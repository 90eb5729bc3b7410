//! `test` and `[`: POSIX rules by argument count, then a small recursive
//! parser for longer expressions (the operators are those of `[[ ]]`).

use crate::host::{Clock, Output};
use crate::observe::Observer;
use crate::shell::{Res, Shell};

/// Evaluates `test` arguments (POSIX rules by argument count, then a small
/// recursive parser for longer expressions).
fn test_eval<O: Output, C: Clock, W: Observer>(
    sh: &Shell<'_, O, C, W>,
    args: &[String],
) -> Result<bool, String> {
    let is_unary = |s: &str| {
        matches!(
            s,
            "-z" | "-n"
                | "-e"
                | "-a"
                | "-f"
                | "-d"
                | "-s"
                | "-r"
                | "-w"
                | "-x"
                | "-c"
                | "-b"
                | "-g"
                | "-k"
                | "-p"
                | "-u"
                | "-G"
                | "-N"
                | "-O"
                | "-S"
                | "-t"
                | "-h"
                | "-L"
                | "-v"
                | "-R"
                | "-o"
        )
    };
    let is_binary = |s: &str| {
        matches!(
            s,
            "=" | "=="
                | "!="
                | "<"
                | ">"
                | "-eq"
                | "-ne"
                | "-lt"
                | "-le"
                | "-gt"
                | "-ge"
                | "-nt"
                | "-ot"
                | "-ef"
        )
    };
    match args.len() {
        0 => Ok(false),
        1 => Ok(!args[0].is_empty()),
        2 => {
            if args[0] == "!" {
                Ok(args[1].is_empty())
            } else if is_unary(&args[0]) {
                sh.unary_test(&args[0], &args[1])
            } else {
                Err(format!("{}: unary operator expected", args[0]))
            }
        }
        3 => {
            if is_binary(&args[1]) {
                sh.binary_test(&args[1], &args[0], &args[2])
            } else if args[1] == "-a" {
                Ok(!args[0].is_empty() && !args[2].is_empty())
            } else if args[1] == "-o" {
                Ok(!args[0].is_empty() || !args[2].is_empty())
            } else if args[0] == "!" {
                test_eval(sh, &args[1..]).map(|b| !b)
            } else if args[0] == "(" && args[2] == ")" {
                Ok(!args[1].is_empty())
            } else {
                Err(format!("{}: binary operator expected", args[1]))
            }
        }
        4 if args[0] == "!" => test_eval(sh, &args[1..]).map(|b| !b),
        4 if args[0] == "(" && args[3] == ")" => test_eval(sh, &args[1..3]),
        _ => {
            let mut p = TestParser { sh, args, pos: 0 };
            let v = p.or()?;
            if p.pos != args.len() {
                return Err("too many arguments".to_owned());
            }
            Ok(v)
        }
    }
}

struct TestParser<'x, 'y, O, C, W> {
    sh: &'x Shell<'y, O, C, W>,
    args: &'x [String],
    pos: usize,
}

impl<O: Output, C: Clock, W: Observer> TestParser<'_, '_, O, C, W> {
    fn peek(&self) -> Option<&str> {
        self.args.get(self.pos).map(String::as_str)
    }

    fn or(&mut self) -> Result<bool, String> {
        let mut v = self.and()?;
        while self.peek() == Some("-o") {
            self.pos += 1;
            let r = self.and()?;
            v = v || r;
        }
        Ok(v)
    }

    fn and(&mut self) -> Result<bool, String> {
        let mut v = self.not()?;
        while self.peek() == Some("-a") {
            self.pos += 1;
            let r = self.not()?;
            v = v && r;
        }
        Ok(v)
    }

    fn not(&mut self) -> Result<bool, String> {
        if self.peek() == Some("!") {
            self.pos += 1;
            if self.pos > 64 {
                return Err("expression too complex".to_owned());
            }
            return self.not().map(|b| !b);
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<bool, String> {
        let Some(a) = self.peek().map(str::to_owned) else {
            return Err("argument expected".to_owned());
        };
        if a == "(" {
            self.pos += 1;
            let v = self.or()?;
            if self.peek() != Some(")") {
                return Err("')' expected".to_owned());
            }
            self.pos += 1;
            return Ok(v);
        }
        if let Some(op) = self.args.get(self.pos + 1)
            && let Some(r) = self.args.get(self.pos + 2)
            && matches!(
                op.as_str(),
                "=" | "=="
                    | "!="
                    | "<"
                    | ">"
                    | "-eq"
                    | "-ne"
                    | "-lt"
                    | "-le"
                    | "-gt"
                    | "-ge"
                    | "-nt"
                    | "-ot"
                    | "-ef"
            )
        {
            self.pos += 3;
            return self.sh.binary_test(op, &a, r);
        }
        if a.starts_with('-') && a.len() == 2 && self.args.get(self.pos + 1).is_some() {
            let v = self.args[self.pos + 1].clone();
            self.pos += 2;
            return self.sh.unary_test(&a, &v);
        }
        self.pos += 1;
        Ok(!a.is_empty())
    }
}

impl<O: Output, C: Clock, W: Observer> Shell<'_, O, C, W> {
    /// `test EXPR` / `[ EXPR ]`.
    pub(super) async fn b_test(&mut self, args: &[String], bracket: bool) -> Res {
        let name = if bracket { "[" } else { "test" };
        let args = if bracket {
            match args.split_last() {
                Some((last, rest)) if last == "]" => rest,
                _ => {
                    let m = format!("{}[: missing `]'", self.prefix());
                    self.diag(&m).await;
                    return Ok(2);
                }
            }
        } else {
            args
        };
        match test_eval(self, args) {
            Ok(b) => Ok(i32::from(!b)),
            Err(msg) => {
                let m = format!("{}{name}: {msg}", self.prefix());
                self.diag(&m).await;
                Ok(2)
            }
        }
    }
}
