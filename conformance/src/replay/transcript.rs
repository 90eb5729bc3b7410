//! A transcript to replay: its calls and its name in reports.

use std::path::Path;

use joblet_testkit::contract::{Api, V1_ONLY, V2_ONLY};
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

    /// The contract of the recorded node: the first line's `contract`, v1
    /// when it has none (every recording before contracts were recorded) or
    /// names one this version does not know.
    pub fn contract(&self) -> Api {
        self.lines
            .first()
            .and_then(Line::contract)
            .unwrap_or(Api::V1)
    }

    /// Which contracts a node must serve to replay this transcript, as
    /// `(v1, v2)`: the recorded node's, and for a recording of a node that
    /// served both, those of the contract-only methods it calls.
    pub fn needs(&self) -> (bool, bool) {
        match self.contract() {
            Api::V1 => (true, false),
            Api::V2 => (false, true),
            Api::Both => {
                let calls = |only: &[(&str, &str)]| {
                    self.lines.iter().any(|l| {
                        let service = l.service.strip_prefix("joblet.").unwrap_or(&l.service);
                        only.contains(&(service, l.method.as_str()))
                    })
                };
                (calls(&V1_ONLY), calls(&V2_ONLY))
            }
        }
    }

    /// Why this transcript should not be replayed against a node that speaks
    /// `node` (`how`: how that was decided), if it should not.
    pub fn refusal(&self, node: Api, how: &str) -> Option<String> {
        let (v1, v2) = self.needs();
        if (!v1 || node.serves_v1()) && (!v2 || node.serves_v2()) {
            return None;
        }
        let recorded = match self.contract() {
            Api::Both => format!(
                "calls {} methods of a node that served both contracts",
                if v1 { "v1.0.6-only" } else { "v2.5.9-only" }
            ),
            c => format!(
                "was recorded against a node of contract {}",
                joblet_testkit::detect::label(c)
            ),
        };
        Some(format!(
            "{} {recorded}, and the target speaks {} ({how}): its calls would not mean the same there; replay it against a node of its contract, or pass --any-contract to replay it anyway",
            self.name,
            joblet_testkit::detect::label(node),
        ))
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
