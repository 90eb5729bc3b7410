//! `--json FILE`: the report as JSON, and its validation against the schema
//! checked into the repository (`loadgen/schema/report.schema.json`, JSON
//! Schema 2020-12), which `joblet-loadgen validate-report` and the tests use.
//! One schema covers both kinds of report: a run's (or a merge's) and a
//! capacity search's (`"kind": "capacity"`).

use std::path::Path;

use super::Report;
use super::capacity::{CAPACITY_KIND, CapacityReport};

/// A report of either kind.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum AnyReport {
    /// A run's (or several workers' merged).
    Run(Report),
    /// A capacity search's.
    Capacity(CapacityReport),
}

/// The report schema.
pub const SCHEMA: &str = include_str!("../../schema/report.schema.json");

/// Reading, writing or validating a report failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What happened.
        source: std::io::Error,
    },
    /// The file is not JSON, or not a report.
    #[error("{path}: {reason}")]
    Parse {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The JSON breaks the schema.
    #[error("{path} does not match the report schema:\n  {}", .problems.join("\n  "))]
    Invalid {
        /// The file.
        path: String,
        /// Each violation, with where it is.
        problems: Vec<String>,
    },
}

/// The violations of `value` against the schema (empty when it is valid).
pub fn violations(value: &serde_json::Value) -> Vec<String> {
    let schema: serde_json::Value =
        serde_json::from_str(SCHEMA).expect("the embedded schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the embedded schema is valid");
    validator
        .iter_errors(value)
        .map(|e| {
            let at = e.instance_path().to_string();
            format!("{}: {e}", if at.is_empty() { "/" } else { &at })
        })
        .collect()
}

/// Writes `report` to `path` (pretty-printed), atomically: a reader (the
/// merge step of a distributed run) never sees half a report.
pub fn write(report: &Report, path: &Path) -> Result<(), JsonError> {
    write_text(
        serde_json::to_string_pretty(report).expect("a report serializes"),
        path,
    )
}

/// Writes a capacity search's report to `path`, as [`write()`] does.
pub fn write_capacity(report: &CapacityReport, path: &Path) -> Result<(), JsonError> {
    write_text(
        serde_json::to_string_pretty(report).expect("a report serializes"),
        path,
    )
}

fn write_text(text: String, path: &Path) -> Result<(), JsonError> {
    let io = |source| JsonError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    std::fs::write(&tmp, text + "\n").map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Reads a run report from `path`, checking it against the schema first
/// (a capacity search's report is refused, naming its kind).
pub fn read(path: &Path) -> Result<Report, JsonError> {
    match read_any(path)? {
        AnyReport::Run(r) => Ok(r),
        AnyReport::Capacity(_) => Err(JsonError::Parse {
            path: path.display().to_string(),
            reason: "is a capacity search's report; this takes a run's report".into(),
        }),
    }
}

/// Reads a report of either kind from `path`, checking it against the
/// schema first.
pub fn read_any(path: &Path) -> Result<AnyReport, JsonError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| JsonError::Io {
        path: name.clone(),
        source,
    })?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| JsonError::Parse {
        path: name.clone(),
        reason: format!("not JSON: {e}"),
    })?;
    let problems = violations(&value);
    if !problems.is_empty() {
        return Err(JsonError::Invalid {
            path: name,
            problems,
        });
    }
    let capacity = value.get("kind").and_then(|k| k.as_str()) == Some(CAPACITY_KIND);
    let parsed = if capacity {
        serde_json::from_value(value).map(AnyReport::Capacity)
    } else {
        serde_json::from_value(value).map(AnyReport::Run)
    };
    parsed.map_err(|e| JsonError::Parse {
        path: name,
        reason: format!("not a joblet-loadgen report: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_is_a_valid_json_schema() {
        let schema: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();
        assert!(jsonschema::meta::is_valid(&schema));
    }

    #[test]
    fn a_document_missing_fields_is_rejected_with_the_path() {
        let v = serde_json::json!({"schema_version": 1, "operations": {"submit": {"count": "x"}}});
        let problems = violations(&v);
        assert!(!problems.is_empty());
        assert!(
            problems.iter().any(|p| p.starts_with("/operations/submit")),
            "{problems:?}"
        );
    }
}
