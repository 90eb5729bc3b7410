//! Command substitution: `$(…)` and backquotes run in a subshell whose
//! output is captured (bounded), trailing newlines removed.

use crate::host::{Clock, Output};
use crate::io::Route;
use crate::observe::Observer;
use crate::shell::{Flow, Shell};
use crate::syntax;

/// Most output a command substitution keeps.
pub(super) const CAPTURE_LIMIT: usize = 16 << 20;

impl<O: Output, C: Clock, W: Observer> Shell<'_, O, C, W> {
    /// Runs `src` capturing its output (trailing newlines removed).
    pub(crate) async fn command_substitution(&mut self, src: &str) -> Result<String, Flow> {
        let script = match syntax::parse(src) {
            Ok(s) => s,
            Err(e) => {
                let msg = format!(
                    "{}command substitution: line {}: {}",
                    self.prefix(),
                    e.line,
                    e.message
                );
                self.diag(&msg).await;
                self.last_subst = Some(2);
                self.status = 2;
                return Ok(String::new());
            }
        };
        self.enter().await?;
        let saved = self.save();
        let saved_stdout = self.io.stdout;
        let saved_cond = self.cond_depth;
        let saved_line = self.line;
        let frame = self.io.begin_capture(CAPTURE_LIMIT);
        self.io.stdout = Route::Frame(frame);
        self.subst_depth += 1;
        let r = self.exec_list_boxed(&script.body).await;
        self.subst_depth -= 1;
        self.io.stdout = saved_stdout;
        let (data, truncated) = self.io.end_capture(frame);
        self.restore(saved);
        self.cond_depth = saved_cond;
        self.line = saved_line;
        self.depth -= 1;
        let status = match r {
            Ok(s) => s,
            Err(Flow::Exit(s) | Flow::Return(s)) => s,
            Err(Flow::Break(_) | Flow::Continue(_)) => 0,
        };
        if truncated {
            let msg = format!(
                "{}warning: command substitution: output truncated at {} MiB by joblet-mock",
                self.prefix(),
                CAPTURE_LIMIT >> 20
            );
            self.diag(&msg).await;
        }
        self.last_subst = Some(status);
        self.status = status;
        let mut end = data.len();
        while end > 0 && data[end - 1] == b'\n' {
            end -= 1;
        }
        let bytes: Vec<u8> = data[..end].iter().copied().filter(|&b| b != 0).collect();
        if bytes.len() != end {
            let msg = format!(
                "{}warning: command substitution: ignored null byte in input",
                self.prefix()
            );
            self.diag(&msg).await;
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}
