//! Conditional expressions: `[[ … ]]` (globs on the right of `==`/`!=`) and
//! the unary and binary operators shared with `test` / `[`.

use crate::host::{Clock, Output};
use crate::observe::Observer;
use crate::shell::{Flow, Grow, Node, Shell, absolute, grow};
use crate::syntax::Cond;

impl<O: Output, C: Clock, W: Observer> Shell<'_, O, C, W> {
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
    pub(crate) async fn eval_cond(&mut self, c: &Cond) -> Result<i32, Flow> {
        Ok(i32::from(!self.eval_cond_boxed(c).await?))
    }

    /// `test`-style unary operators.
    pub(crate) fn unary_test(&self, op: &str, v: &str) -> Result<bool, String> {
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
                    let abs = absolute(&self.fs.cwd, v);
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
    pub(crate) fn binary_test(&self, op: &str, l: &str, r: &str) -> Result<bool, String> {
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
