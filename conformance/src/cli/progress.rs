//! Live progress on a terminal: one line, redrawn, with the counts so far
//! and the case running; failures are printed above it as they come.

use std::io::IsTerminal;

use crate::outcome::{Outcome, State};
use crate::runner::Progress;

/// Live progress on a terminal: one line, redrawn.
pub(crate) struct Bar {
    pub(crate) bar: indicatif::ProgressBar,
    counts: parking_lot::Mutex<[usize; 4]>,
}

impl Bar {
    /// A bar of `total` steps (hidden when standard error is not a terminal).
    pub(crate) fn new(total: usize) -> Self {
        let bar = if std::io::stderr().is_terminal() {
            indicatif::ProgressBar::new(total as u64)
        } else {
            indicatif::ProgressBar::hidden()
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template("[{pos}/{len}] {elapsed:>3} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Self {
            bar,
            counts: parking_lot::Mutex::new([0; 4]),
        }
    }
}

impl Progress for Bar {
    fn started(&self, case: &str) {
        let c = *self.counts.lock();
        self.bar.set_message(format!(
            "{} pass {} fail {} skip {} error | {case}",
            c[0], c[1], c[2], c[3]
        ));
    }

    fn finished(&self, o: &Outcome) {
        let mut c = self.counts.lock();
        c[match o.state {
            State::Pass => 0,
            State::Fail => 1,
            State::Skip => 2,
            State::Error => 3,
        }] += 1;
        self.bar.inc(1);
        self.bar.set_message(format!(
            "{} pass {} fail {} skip {} error | {}",
            c[0], c[1], c[2], c[3], o.case
        ));
        if o.state == State::Fail && !self.bar.is_hidden() {
            self.bar.println(format!(
                "FAIL {}: {}",
                o.case,
                o.message.clone().unwrap_or_default()
            ));
        }
    }
}
