//! The runtime catalogue: which runtimes the simulated node has installed.
//!
//! The default catalogue is `fixtures/runtimes.yaml`, embedded at build time so
//! the binary works from anywhere; `--runtimes FILE` replaces it.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// One installed runtime (also as a snapshot holds it, `crate::snapshot`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeRecord {
    /// Name clients use, e.g. `python-3.11-ml`.
    pub name: String,
    /// Language, e.g. `python`.
    pub language: String,
    /// Version, e.g. `3.11`.
    pub version: String,
    /// Human description.
    #[serde(default)]
    pub description: String,
    /// Installed size in bytes.
    #[serde(default)]
    pub size_bytes: i64,
    /// Installed packages.
    #[serde(default)]
    pub packages: Vec<String>,
    /// Supported architectures.
    #[serde(default)]
    pub architectures: Vec<String>,
    /// Whether the runtime needs a GPU.
    #[serde(default)]
    pub gpu: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    runtimes: Vec<RuntimeRecord>,
}

/// A catalogue file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// The file cannot be read.
    #[error("cannot read runtime catalogue {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid catalogue.
    #[error("invalid runtime catalogue {path}: {message}")]
    Parse { path: String, message: String },
}

const BUILTIN: &str = include_str!("../../fixtures/runtimes.yaml");

/// Parses catalogue YAML (`source` names it in errors).
pub fn parse(yaml: &str, source: &str) -> Result<Vec<RuntimeRecord>, CatalogueError> {
    let file: CatalogueFile = serde_norway::from_str(yaml).map_err(|e| CatalogueError::Parse {
        path: source.to_string(),
        message: e.to_string(),
    })?;
    Ok(file.runtimes)
}

/// Loads a catalogue file.
pub fn load(path: &Path) -> Result<Vec<RuntimeRecord>, CatalogueError> {
    let text = std::fs::read_to_string(path).map_err(|source| CatalogueError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text, &path.display().to_string())
}

/// The embedded default catalogue (`fixtures/runtimes.yaml`).
pub fn builtin() -> Vec<RuntimeRecord> {
    parse(BUILTIN, "fixtures/runtimes.yaml").expect("the embedded catalogue is valid (tested)")
}

/// Finds a runtime by exact name, or by `lang:version[-variant]`
/// (`python:3.11-ml` is `python-3.11-ml`).
pub fn resolve<'a>(runtimes: &'a [RuntimeRecord], spec: &str) -> Option<&'a RuntimeRecord> {
    let spec = spec.trim();
    if spec.is_empty() {
        return None;
    }
    if let Some(r) = runtimes.iter().find(|r| r.name == spec) {
        return Some(r);
    }
    let (lang, rest) = spec.split_once(':')?;
    let rest = rest.split('@').next().unwrap_or(rest);
    let dashed = format!("{lang}-{rest}");
    runtimes.iter().find(|r| r.name == dashed).or_else(|| {
        runtimes
            .iter()
            .find(|r| r.language == lang && r.version == rest)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalogue_has_the_five_runtimes() {
        let names: Vec<_> = builtin().into_iter().map(|r| r.name).collect();
        assert_eq!(
            names,
            [
                "python-3.11",
                "python-3.11-ml",
                "node-18",
                "openjdk-21",
                "golang-1.21"
            ]
        );
    }

    #[test]
    fn resolves_names_and_lang_version_specs() {
        let rts = builtin();
        assert_eq!(resolve(&rts, "python-3.11").unwrap().name, "python-3.11");
        assert_eq!(resolve(&rts, "python:3.11").unwrap().name, "python-3.11");
        assert_eq!(
            resolve(&rts, "python:3.11-ml").unwrap().name,
            "python-3.11-ml"
        );
        assert_eq!(resolve(&rts, "java:21").unwrap().name, "openjdk-21");
        assert!(resolve(&rts, "ruby:3.2").is_none());
        assert!(resolve(&rts, "").is_none());
    }

    #[test]
    fn unknown_keys_are_rejected_with_the_source_named() {
        let err = parse(
            "runtimes:\n  - name: x\n    language: y\n    version: '1'\n    colour: red\n",
            "t.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("t.yaml") && err.contains("colour"), "{err}");
    }
}
