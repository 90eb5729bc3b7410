//! The runtime catalogue: which runtimes the simulated node has installed.
//!
//! The default catalogue is `fixtures/runtimes.yaml`, embedded at build time so
//! the binary works from anywhere; `--runtimes FILE` replaces it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// One installed runtime (also as a snapshot holds it, `crate::snapshot`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// v2: the language's own version (a runtime YAML's `base.version`);
    /// empty for the catalogue's runtimes, whose `version` is the language's.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub language_version: String,
    /// v2: system libraries the runtime brings (a runtime YAML's `libraries`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub libraries: Vec<String>,
    /// v2: environment of the runtime's jobs (a runtime YAML's `environment`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    /// v2: how BuildRuntime built it; `None` for a runtime it did not build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<BuildRecord>,
    /// v2: the runtime YAML it was built from, as sent.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub original_yaml: String,
}

impl RuntimeRecord {
    /// The version of the language it runs: `language_version` when set,
    /// else `version` (the catalogue's `python-3.11` runs Python 3.11).
    pub fn base_version(&self) -> &str {
        if self.language_version.is_empty() {
            &self.version
        } else {
            &self.language_version
        }
    }
}

/// How a runtime was built (v2 `RuntimeInfo.build_info`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildRecord {
    /// RFC 3339, whole seconds, the server's offset.
    pub built_at: String,
    /// The builder, e.g. `joblet-mock 0.1.0`.
    pub built_with: String,
    /// The node's platform, `<os>-<arch>` (`ubuntu-amd64`).
    pub platform: String,
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

/// Finds a runtime by name (of several versions of one name, the highest),
/// by `name@version`, or by `lang:version[-variant]` (`python:3.11-ml` is
/// `python-3.11-ml`; else a runtime of that language whose
/// [`base_version`](RuntimeRecord::base_version) it is).
pub fn resolve<'a>(runtimes: &'a [RuntimeRecord], spec: &str) -> Option<&'a RuntimeRecord> {
    let spec = spec.trim();
    if spec.is_empty() {
        return None;
    }
    if let Some(r) = newest(runtimes.iter().filter(|r| r.name == spec)) {
        return Some(r);
    }
    if let Some((name, version)) = spec.split_once('@')
        && let Some(r) = runtimes
            .iter()
            .find(|r| r.name == name && r.version == version)
    {
        return Some(r);
    }
    let (lang, rest) = spec.split_once(':')?;
    let rest = rest.split('@').next().unwrap_or(rest);
    let dashed = format!("{lang}-{rest}");
    newest(runtimes.iter().filter(|r| r.name == dashed)).or_else(|| {
        runtimes
            .iter()
            .find(|r| r.language == lang && r.base_version() == rest)
    })
}

/// The runtime of the highest version (compared as numbers part by part, see
/// [`version_order`]); the first installed among equals.
fn newest<'a>(candidates: impl Iterator<Item = &'a RuntimeRecord>) -> Option<&'a RuntimeRecord> {
    candidates.fold(None, |best: Option<&RuntimeRecord>, r| match best {
        Some(b) if version_order(&r.version, &b.version).is_le() => Some(b),
        _ => Some(r),
    })
}

/// Orders versions by their dot-separated parts, numerically where both parts
/// are numbers (`1.10.0` after `1.9.2`), else as text.
pub fn version_order(a: &str, b: &str) -> std::cmp::Ordering {
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => {
                let order = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    _ => x.cmp(y),
                };
                if order.is_ne() {
                    return order;
                }
            }
        }
    }
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

    fn built(name: &str, version: &str, language: &str, language_version: &str) -> RuntimeRecord {
        RuntimeRecord {
            name: name.into(),
            version: version.into(),
            language: language.into(),
            language_version: language_version.into(),
            ..RuntimeRecord::default()
        }
    }

    #[test]
    fn rt_build_5_built_runtimes_resolve_by_name_version_and_language() {
        let mut rts = builtin();
        rts.push(built("ml", "1.9.0", "python", "3.12"));
        rts.push(built("ml", "1.10.0", "python", "3.12"));
        rts.push(built("ml", "1.2.0", "python", "3.12"));
        rts.push(built("web", "2.0.0", "node", "22"));
        let found = |spec: &str| resolve(&rts, spec).map(|r| (r.name.clone(), r.version.clone()));
        // Of several versions of a name, the highest.
        assert_eq!(found("ml"), Some(("ml".into(), "1.10.0".into())));
        assert_eq!(found("ml@1.2.0"), Some(("ml".into(), "1.2.0".into())));
        assert_eq!(found("ml@9.9.9"), None);
        // `lang:version` is the language's version.
        assert_eq!(found("node:22"), Some(("web".into(), "2.0.0".into())));
        assert_eq!(found("node:2.0.0"), None);
        assert_eq!(found("python:3.12"), Some(("ml".into(), "1.9.0".into())));
        // The catalogue's runtimes resolve as before.
        assert_eq!(found("python:3.11").unwrap().0, "python-3.11");
        assert_eq!(found("node:18").unwrap().0, "node-18");
        assert_eq!(found("python-3.11-ml@amd64"), None);
    }

    #[test]
    fn versions_order_by_their_numbers() {
        use std::cmp::Ordering::*;
        assert_eq!(version_order("1.10.0", "1.9.2"), Greater);
        assert_eq!(version_order("1.0.0", "1.0.0"), Equal);
        assert_eq!(version_order("1.0", "1.0.0"), Less);
        assert_eq!(version_order("3.11", "1.0.0"), Greater);
        assert_eq!(version_order("1.x", "1.y"), Less);
    }

    #[test]
    fn records_without_the_v2_fields_still_read_and_write_the_same() {
        // A snapshot written before the v2 fields existed.
        let old = r#"{"name":"python-3.11","language":"python","version":"3.11","description":"d","size_bytes":1,"packages":[],"architectures":["amd64"],"gpu":false}"#;
        let r: RuntimeRecord = serde_json::from_str(old).unwrap();
        assert_eq!(r.base_version(), "3.11");
        assert!(r.build.is_none() && r.original_yaml.is_empty());
        assert_eq!(serde_json::to_string(&r).unwrap(), old);
        let mut b = built("ml", "1.0.0", "python", "3.12");
        b.build = Some(BuildRecord {
            built_at: "2030-01-01T00:00:00Z".into(),
            built_with: "joblet-mock".into(),
            platform: "ubuntu-amd64".into(),
        });
        b.environment.insert("A".into(), "1".into());
        b.original_yaml = "name: ml\n".into();
        let back: RuntimeRecord =
            serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap();
        assert_eq!(back, b);
        assert_eq!(back.base_version(), "3.12");
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
