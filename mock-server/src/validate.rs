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

/// Network names that cannot be created (NET-CREATE-2).
pub const RESERVED_NETWORKS: [&str; 4] = ["bridge", "isolated", "none", "host"];

/// A resource name (network or volume): 1-63 of `[A-Za-z0-9_-]`, starting and
/// ending alphanumeric (NET-CREATE-2, VOL-CREATE-2). `field` is named in errors.
pub fn resource_name(field: &str, name: &str) -> Result<()> {
    let _ = (field, name);
    Ok(())
}

/// An IPv4 network in CIDR form with prefix /8 to /30.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Cidr {
    /// Network address (host bits cleared).
    pub network: std::net::Ipv4Addr,
    /// Prefix length.
    pub prefix: u8,
}

impl Ipv4Cidr {
    /// Whether the two networks share any address.
    pub fn overlaps(&self, other: &Ipv4Cidr) -> bool {
        let _ = other;
        false
    }
}

/// Parses `a.b.c.d/n` (NET-CREATE-3); `field` is named in errors.
pub fn cidr(field: &str, text: &str) -> Result<Ipv4Cidr> {
    let _ = text;
    Err(Error::invalid(field, "not implemented"))
}

/// A volume size: positive number with unit B, KB, MB, GB, TB (case-insensitive,
/// powers of 1024). Returns bytes (VOL-CREATE-2).
pub fn volume_size(text: &str) -> Result<u64> {
    let _ = text;
    Err(Error::invalid("size", "not implemented"))
}

/// A volume type: "" → `filesystem`; `filesystem` or `memory` (VOL-CREATE-1/2).
pub fn volume_type(text: &str) -> Result<&'static str> {
    let _ = text;
    Ok("filesystem")
}

/// A parsed runtime spec `<lang>:<version>[-<variant>…][@<arch>]` (RT-SPEC-1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeSpec {
    pub language: String,
    pub version: String,
    pub variants: Vec<String>,
    /// `amd64` (default), `arm64` or `x86_64`.
    pub architecture: String,
}

impl RuntimeSpec {
    /// `<lang>:<ver>[-variants][@arch unless amd64]`.
    pub fn normalized(&self) -> String {
        String::new()
    }
}

/// Parses a runtime spec; the error is the user-facing message
/// (e.g. "Unsupported language: cobol. Supported: python, java, golang, node, ruby, php").
pub fn runtime_spec(text: &str) -> std::result::Result<RuntimeSpec, String> {
    let _ = text;
    Err("not implemented".into())
}
