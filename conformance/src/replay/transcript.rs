//! A transcript to replay: its calls and its name in reports.

use std::path::Path;

use joblet_testkit::transcript::{Line, TranscriptError};

/// A transcript to replay.
#[derive(Debug, Clone)]
pub struct Transcript {
    /// Its name in reports (the file name).
    pub name: String,
    /// Its calls, in `seq` order.
    pub lines: Vec<Line>,
}

impl Transcript {
    /// Reads a transcript file.
    pub fn load(path: &Path) -> Result<Self, TranscriptError> {
        let lines = joblet_testkit::transcript::read(path)?;
        Ok(Self {
            name: path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
            lines,
        })
    }

    /// The transcript's segment of outcome names: its file stem in lower case,
    /// other characters as `_`.
    pub fn stem(&self) -> String {
        let stem = self
            .name
            .rsplit_once('.')
            .map_or(self.name.as_str(), |(s, _)| s);
        let mut out = String::new();
        for c in stem.chars() {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() {
                out.push(c);
            } else if !out.ends_with('_') {
                out.push('_');
            }
        }
        let out = out.trim_matches('_').to_owned();
        if out.is_empty() {
            "transcript".into()
        } else {
            out
        }
    }
}
