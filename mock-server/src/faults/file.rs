//! YAML fault files (`--faults-file`): `faults: [ ... ]`.

use std::path::Path;

use serde::Deserialize;

use super::rule::{FaultError, FaultRule};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FaultFile {
    faults: Vec<FaultRule>,
}

/// Parses a YAML fault file (`faults: [ ... ]`); `file_name` is for errors,
/// which carry the line of the problem when known.
pub fn parse_yaml(text: &str, file_name: &str) -> Result<Vec<FaultRule>, FaultError> {
    serde_norway::from_str::<FaultFile>(text)
        .map(|f| f.faults)
        .map_err(|e| {
            let mut reason = e.to_string();
            if let Some(at) = reason.rfind(" at line ") {
                reason.truncate(at);
            }
            FaultError::Yaml {
                file: file_name.to_owned(),
                line: e.location().map(|l| l.line()),
                reason,
            }
        })
}

/// Reads and parses a YAML fault file.
pub fn load_yaml(path: impl AsRef<Path>) -> Result<Vec<FaultRule>, FaultError> {
    let path = path.as_ref();
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| FaultError::Io {
        file: file.clone(),
        source,
    })?;
    parse_yaml(&text, &file)
}
