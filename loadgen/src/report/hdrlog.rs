//! `--hdr-log FILE`: the standard HdrHistogram interval log (format 1.3, as
//! Java's `HistogramLogWriter` writes it), written as the run goes: one line
//! per operation per interval, tagged with the operation's name (`submit`;
//! `submit-uncorrected` for the uncorrected latency under a rate). Values are
//! microseconds; the `Interval_Max` column is in milliseconds. Tools such as
//! `HistogramLogProcessor` and HdrHistogram's log readers read it.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::SystemTime;

use hdrhistogram::Histogram;

use crate::stats::{self, Interval};

/// An interval log being written.
#[derive(Debug)]
pub struct HdrLog {
    out: BufWriter<File>,
}

impl HdrLog {
    /// Creates `path` (before the run: a path that cannot be written
    /// fails it early); [`HdrLog::begin`] writes the header.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        Ok(Self {
            out: BufWriter::new(File::create(path)?),
        })
    }

    /// Writes the header: the run started at `start`.
    pub fn begin(&mut self, start: SystemTime, comment: &str) -> std::io::Result<()> {
        let out = &mut self.out;
        let secs = start
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let date = chrono::DateTime::<chrono::Utc>::from(start).to_rfc2822();
        writeln!(out, "#[Histogram log format version 1.3]")?;
        writeln!(
            out,
            "#[joblet-loadgen {}: {}; values in microseconds]",
            env!("CARGO_PKG_VERSION"),
            comment.replace(['\n', ']'], " ")
        )?;
        writeln!(out, "#[StartTime: {secs:.3} (seconds since epoch), {date}]")?;
        writeln!(out, "#[BaseTime: {secs:.3} (seconds since epoch)]")?;
        writeln!(
            out,
            "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
        )?;
        Ok(())
    }

    /// Writes one histogram line.
    pub fn write(
        &mut self,
        tag: &str,
        offset_s: f64,
        length_s: f64,
        h: &Histogram<u64>,
    ) -> std::io::Result<()> {
        writeln!(
            self.out,
            "Tag={tag},{offset_s:.3},{length_s:.3},{:.3},{}",
            h.max() as f64 / 1000.0,
            stats::encode(h)
        )
    }

    /// Writes an interval's operations (with the uncorrected latency when
    /// `uncorrected`).
    pub(crate) fn write_interval(
        &mut self,
        f: &Interval,
        uncorrected: bool,
    ) -> std::io::Result<()> {
        let (offset, length) = (f.offset.as_secs_f64(), f.length.as_secs_f64());
        for (op, s) in &f.by_op {
            if s.ok == 0 {
                continue;
            }
            self.write(op.name(), offset, length, &s.latency)?;
            if uncorrected && s.paced > 0 {
                self.write(
                    &format!("{}-uncorrected", op.name()),
                    offset,
                    length,
                    &s.uncorrected,
                )?;
            }
        }
        Ok(())
    }

    /// Flushes the file.
    pub fn finish(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
