//! The live progress line: on a terminal an `indicatif` spinner rewritten
//! every interval; otherwise a plain line every few seconds (CI logs).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::report::Percentiles;
use crate::units::{format_duration, format_ms};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// A live line on a terminal, plain lines otherwise.
    #[default]
    Auto,
    /// Plain lines every few seconds.
    Plain,
    /// Nothing.
    Off,
}

/// The figures shown.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Snapshot {
    /// Time since the start.
    pub elapsed: Duration,
    /// RPCs completed so far.
    pub requests: u64,
    /// Of which failed.
    pub errors: u64,
    /// RPCs per second in the last interval.
    pub rate: f64,
    /// Per operation: name, latency so far, stream bytes/s in the last interval.
    pub ops: Vec<(&'static str, Percentiles, Option<f64>)>,
}

impl Snapshot {
    /// The line.
    pub fn line(&self, total: Option<Duration>) -> String {
        let mut s = match total {
            Some(t) => format!("[{}/{}]", format_duration(self.elapsed), format_duration(t)),
            None => format!("[{}]", format_duration(self.elapsed)),
        };
        s.push_str(&format!(
            " {} req, {:.0}/s, {} err",
            self.requests, self.rate, self.errors
        ));
        for (name, p, bps) in &self.ops {
            s.push_str(&format!(
                " | {name} p50 {}ms p99 {}ms",
                format_ms(p.p50),
                format_ms(p.p99)
            ));
            if let Some(b) = bps {
                s.push_str(&format!(" {:.0} MB/s", b / 1e6));
            }
        }
        s
    }
}

/// Plain lines come at most this often.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// The progress display of a run.
#[derive(Debug)]
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    plain: bool,
    last_plain: Option<Instant>,
    total: Option<Duration>,
    last: Option<Snapshot>,
    /// Whether `last` has been printed as a plain line.
    printed: bool,
}

impl Progress {
    /// A display for a run of `total` (if bounded by time).
    pub fn new(mode: ProgressMode, total: Option<Duration>) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let (bar, plain) = match mode {
            ProgressMode::Off => (None, false),
            ProgressMode::Plain => (None, true),
            ProgressMode::Auto if terminal => {
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_message("connecting…");
                (Some(bar), false)
            }
            ProgressMode::Auto => (None, true),
        };
        Self {
            bar,
            plain,
            last_plain: None,
            total,
            last: None,
            printed: false,
        }
    }

    /// Shows new figures.
    pub fn update(&mut self, snap: &Snapshot) {
        if let Some(bar) = &self.bar {
            bar.set_message(snap.line(self.total));
            bar.tick();
        }
        self.printed = false;
        if self.plain && self.last_plain.is_none_or(|t| t.elapsed() >= PLAIN_EVERY) {
            eprintln!("{}", snap.line(self.total));
            self.last_plain = Some(Instant::now());
            self.printed = true;
        }
        self.last = Some(snap.clone());
    }

    /// Keeps the spinner moving between intervals.
    pub fn tick(&self) {
        if let Some(bar) = &self.bar {
            bar.tick();
        }
    }

    /// The load is over; jobs are being deleted.
    pub fn cleaning(&self) {
        if let Some(bar) = &self.bar {
            bar.set_message("load done; deleting the jobs the run created…");
        } else if self.plain {
            eprintln!("load done; deleting the jobs the run created…");
        }
    }

    /// Clears the line.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if self.plain
            && !self.printed
            && let Some(s) = &self.last
        {
            eprintln!("{}", s.line(self.total));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_shows_requests_rate_errors_and_percentiles() {
        let s = Snapshot {
            elapsed: Duration::from_secs(3),
            requests: 1200,
            errors: 2,
            rate: 400.4,
            ops: vec![(
                "logs",
                Percentiles {
                    p50: 1.5,
                    p99: 12.26,
                    ..Default::default()
                },
                Some(2.5e9),
            )],
        };
        assert_eq!(
            s.line(Some(Duration::from_secs(10))),
            "[3s/10s] 1200 req, 400/s, 2 err | logs p50 1.500ms p99 12.3ms 2500 MB/s"
        );
    }
}
