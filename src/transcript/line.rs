//! The transcript line: one recorded call with its whole answer, and the
//! reader of transcript files.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use prost_reflect::MethodDescriptor;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::code::parse_code;
use crate::contract::Api;
use crate::reflect::method_descriptor_in;

/// The `v` of the lines this version writes.
pub const FORMAT_VERSION: u32 = 1;

/// The JSON schema of one line (`schema/transcript.schema.json`).
pub const SCHEMA: &str = include_str!("../../schema/transcript.schema.json");

/// One recorded call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Line {
    /// Format version ([`FORMAT_VERSION`]).
    pub v: u32,
    /// Order in which the calls started, from 1.
    pub seq: u64,
    /// Start, in milliseconds from the start of the recording.
    pub at_ms: u64,
    /// End (last answer or status), in milliseconds from the start.
    pub end_ms: u64,
    /// Wall time of the start, RFC 3339 in UTC with milliseconds.
    pub time: String,
    /// The `x-joblet-mock-session` metadata, `""` without it.
    #[serde(default)]
    pub session: String,
    /// `admin`, `viewer`, `unknown` (a certificate without a role) or `none`
    /// (TLS without a client certificate).
    pub role: String,
    /// `joblet.JobService`, ...
    pub service: String,
    /// `RunJob`, ...
    pub method: String,
    /// The request in proto3 JSON; `null` when it could not be decoded or was
    /// too large.
    pub request: Value,
    /// Size of a request too large to record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_omitted: Option<u64>,
    /// What came back before the status.
    #[serde(default)]
    pub response: Response,
    /// The final status.
    pub status: CallStatus,
    /// The client left before the end.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub client_cancelled: bool,
    /// The contract the recorded node speaks: `v1`, `v2` or `both`. Absent
    /// from recordings that did not know it (all of them before contracts
    /// were recorded spoke v1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<String>,
}

/// The messages of an answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Response {
    /// Every message, in proto3 JSON (one for a unary call); empty for log
    /// streams, which use `log`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<Value>,
    /// A `GetJobLogs` stream, compactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<LogSummary>,
    /// Messages beyond [`MAX_STREAM_MESSAGES`](crate::transcript::MAX_STREAM_MESSAGES), counted but not kept.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A log stream: how much, its hash, and the bytes up to a limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSummary {
    /// Messages (`DataChunk`s) received.
    pub chunks: u64,
    /// Bytes of payload in all.
    pub bytes: u64,
    /// SHA-256 of all the bytes, lower-case hex.
    pub sha256: String,
    /// The bytes kept, when they are UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The bytes kept, in base64, when they are not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base64: Option<String>,
    /// Only the first bytes are kept.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

impl LogSummary {
    /// The bytes kept (a prefix when `truncated`).
    pub fn kept(&self) -> Vec<u8> {
        if let Some(t) = &self.text {
            return t.as_bytes().to_vec();
        }
        self.base64
            .as_deref()
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .unwrap_or_default()
    }
}

/// A call's final status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallStatus {
    /// The gRPC code by name: `OK`, `NOT_FOUND`, ...
    pub code: String,
    /// The status message (`""` on OK).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

impl Line {
    /// `/service/method`, the gRPC path.
    pub fn path(&self) -> String {
        format!("/{}/{}", self.service, self.method)
    }

    /// The contract of the recorded node (`None` when the line does not say:
    /// v1, for every recording before contracts were recorded).
    pub fn contract(&self) -> Option<Api> {
        self.contract.as_deref().and_then(Api::parse)
    }

    /// The method's descriptor in the recorded node's contract, when that
    /// contract has it.
    pub fn descriptor(&self) -> Option<MethodDescriptor> {
        method_descriptor_in(self.contract(), &self.service, &self.method)
    }
}

/// A transcript that cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TranscriptError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A line is not a transcript line.
    #[error("{origin}, line {line}: {reason}")]
    Line {
        /// The file (or `<text>`).
        origin: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Parses transcript text (JSON Lines; blank lines and lines starting with
/// `#` are skipped), in `seq` order. `origin` names the text in errors.
pub fn parse(text: &str, origin: &str) -> Result<Vec<Line>, TranscriptError> {
    let mut lines = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let raw = raw.trim();
        if raw.is_empty() || raw.starts_with('#') {
            continue;
        }
        let bad = |reason: String| TranscriptError::Line {
            origin: origin.to_owned(),
            line: i + 1,
            reason,
        };
        let line: Line = serde_json::from_str(raw).map_err(|e| bad(e.to_string()))?;
        if line.v != FORMAT_VERSION {
            return Err(bad(format!(
                "format version {} (this tool reads version {FORMAT_VERSION})",
                line.v
            )));
        }
        if line.end_ms < line.at_ms {
            return Err(bad(format!(
                "end_ms {} is before at_ms {}",
                line.end_ms, line.at_ms
            )));
        }
        if parse_code(&line.status.code).is_none() {
            return Err(bad(format!("unknown status code {:?}", line.status.code)));
        }
        lines.push(line);
    }
    lines.sort_by_key(|l| (l.seq, l.at_ms));
    if let Some(w) = lines.windows(2).find(|w| w[0].seq == w[1].seq) {
        return Err(TranscriptError::Line {
            origin: origin.to_owned(),
            line: 0,
            reason: format!("seq {} appears twice", w[0].seq),
        });
    }
    Ok(lines)
}

/// Reads a transcript file (see [`parse`]).
pub fn read(path: &Path) -> Result<Vec<Line>, TranscriptError> {
    let text = std::fs::read_to_string(path).map_err(|source| TranscriptError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn parse_reports_the_line() {
        let good = r#"{"v":1,"seq":1,"at_ms":0,"end_ms":1,"time":"t","role":"admin","service":"joblet.JobService","method":"ListJobs","request":{},"status":{"code":"OK"}}"#;
        let lines = parse(&format!("# a comment\n\n{good}\n"), "x.jsonl").unwrap();
        assert_eq!(lines.len(), 1);
        let err = parse(&format!("{good}\n{{\"v\":1}}\n"), "x.jsonl").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("x.jsonl, line 2: missing field"),
            "{err}"
        );
        let err = parse(&good.replace("\"v\":1", "\"v\":2"), "x").unwrap_err();
        assert!(err.to_string().contains("format version 2"), "{err}");
        let err = parse(&good.replace("\"OK\"", "\"NOPE\""), "x").unwrap_err();
        assert!(err.to_string().contains("unknown status code"), "{err}");
        let err = parse(
            &good.replace("\"end_ms\":1", "\"end_ms\":0,\"bogus\":1"),
            "x",
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `bogus`"), "{err}");
        let err = parse(&format!("{good}\n{good}"), "x").unwrap_err();
        assert!(err.to_string().contains("seq 1 appears twice"), "{err}");
    }

    proptest! {
        #[test]
        fn the_parser_never_panics(s in "\\PC{0,200}") {
            let _ = parse(&s, "x");
        }
    }
}
