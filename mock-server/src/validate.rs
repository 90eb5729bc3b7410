//! Validators and parsers for request fields. Pure functions, property-tested.
//!
//! Each returns [`crate::error::Error::Invalid`] naming the field on bad input.
//! PLACEHOLDER signatures: implementations land in this module.

use chrono::{DateTime, FixedOffset, Local};

use crate::error::{Error, Result};

/// `cpuCores`: `N`, `a-b` or `a,b,c` within `0..host_cores`, no duplicates.
/// Returns the sorted core list ("" → empty list).
pub fn cpu_cores(spec: &str, host_cores: u32) -> Result<Vec<u32>> {
    let _ = host_cores;
    if spec.is_empty() {
        return Ok(Vec::new());
    }
    Err(Error::invalid("cpuCores", "not implemented"))
}

/// `schedule`: RFC 3339 with offset, or `YYYY-MM-DDTHH:MM:SS` (local time of `now`'s zone).
pub fn schedule(spec: &str, now: DateTime<Local>) -> Result<DateTime<FixedOffset>> {
    let _ = now;
    DateTime::parse_from_rfc3339(spec).map_err(|e| Error::invalid("schedule", e.to_string()))
}

/// Environment variable name `^[A-Za-z_][A-Za-z0-9_]*$` (`field` is `environment` or `secret_environment`).
pub fn env_name(field: &str, name: &str) -> Result<()> {
    let _ = (field, name);
    Ok(())
}

/// Environment value at most 32768 bytes.
pub fn env_value(field: &str, name: &str, value: &str) -> Result<()> {
    let _ = (field, name, value);
    Ok(())
}

/// Upload path: relative, no `..`, normalised (`./a//b/` → `a/b`).
pub fn upload_path(path: &str) -> Result<String> {
    Ok(path.to_string())
}
