//! Validators and parsers for request fields. Pure functions, property-tested.
//!
//! Each returns [`crate::error::Error::Invalid`] naming the field on bad input,
//! with a reason that quotes the offending value. None of them panics on any
//! input: parsing works on `char` boundaries and all arithmetic is checked.

use std::net::Ipv4Addr;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Local, LocalResult, NaiveDateTime, TimeZone};

use crate::error::{Error, Result};

/// `cpuCores`: `N`, `a-b` or `a,b,c` within `0..host_cores`, no duplicates.
/// Returns the sorted core list ("" → empty list).
///
/// Whitespace around the spec and around each number is ignored. Ranges and
/// lists cannot be mixed (`0-2,4` is refused, as by the real server).
pub fn cpu_cores(spec: &str, host_cores: u32) -> Result<Vec<u32>> {
    const FIELD: &str = "cpuCores";
    const FORMS: &str = "expected N, a-b or a,b,c, e.g. 2, 0-3 or 0,2,4";
    let spec = spec.trim();
    if spec.is_empty() {
        return Ok(Vec::new());
    }
    let host = || {
        if host_cores == 0 {
            "the host's cores (the host reports no cores)".to_string()
        } else {
            format!("the host's cores 0-{}", host_cores - 1)
        }
    };
    // One core number: ASCII digits only (no sign), below `host_cores`.
    let core = |token: &str| -> Result<u32> {
        let token = token.trim();
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::invalid(
                FIELD,
                format!("invalid core number {token:?} in {spec:?} ({FORMS})"),
            ));
        }
        match token.parse::<u32>() {
            Ok(n) if n < host_cores => Ok(n),
            // Too large for u32 is certainly outside the host too.
            _ => Err(Error::invalid(
                FIELD,
                format!("core {token} is outside {}", host()),
            )),
        }
    };

    if spec.starts_with('-') {
        return Err(Error::invalid(
            FIELD,
            format!("negative core numbers are not allowed in {spec:?} ({FORMS})"),
        ));
    }
    let has_list = spec.contains(',');
    let has_range = spec.contains('-');
    if has_list && has_range {
        return Err(Error::invalid(
            FIELD,
            format!("cannot mix ranges and lists in {spec:?} (use either a-b or a,b,c)"),
        ));
    }
    if has_range {
        let (a, b) = spec.split_once('-').unwrap_or((spec, ""));
        if b.contains('-') {
            return Err(Error::invalid(
                FIELD,
                format!("invalid range {spec:?} ({FORMS})"),
            ));
        }
        let (a, b) = (core(a)?, core(b)?);
        if a > b {
            return Err(Error::invalid(
                FIELD,
                format!("range {a}-{b} is reversed (start must not exceed end)"),
            ));
        }
        return Ok((a..=b).collect());
    }
    let mut cores = Vec::new();
    for token in spec.split(',') {
        cores.push(core(token)?);
    }
    cores.sort_unstable();
    if let Some(w) = cores.windows(2).find(|w| w[0] == w[1]) {
        return Err(Error::invalid(
            FIELD,
            format!("core {} is listed more than once in {spec:?}", w[0]),
        ));
    }
    Ok(cores)
}

/// Whether `s` has the shape `YYYY-MM-DDTHH:MM:SS` optionally followed by
/// `.` and one or more digits (ASCII only, fixed widths).
fn is_naive_shape(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 19 {
        return false;
    }
    let (main, frac) = b.split_at(19);
    let shape_ok = main.iter().enumerate().all(|(i, &c)| match i {
        4 | 7 => c == b'-',
        10 => c == b'T',
        13 | 16 => c == b':',
        _ => c.is_ascii_digit(),
    });
    let frac_ok = match frac.split_first() {
        None => true,
        Some((b'.', digits)) => !digits.is_empty() && digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    };
    shape_ok && frac_ok
}

/// `schedule`: RFC 3339 with offset, or `YYYY-MM-DDTHH:MM:SS` (local time of `now`'s zone).
///
/// Both forms take optional fractional seconds. A naive time that is ambiguous
/// in the local zone (DST fall-back) resolves to the earliest instant; one that
/// does not exist (DST spring-forward gap) is refused. Past times are accepted
/// (the caller runs them at once). Surrounding whitespace is ignored.
pub fn schedule(spec: &str, now: DateTime<Local>) -> Result<DateTime<FixedOffset>> {
    const FIELD: &str = "schedule";
    const FORMS: &str = "accepted: RFC 3339 with an offset, e.g. 2026-11-28T10:00:00Z or \
                         2026-11-28T10:00:00+02:00, or the server's local time as \
                         YYYY-MM-DDTHH:MM:SS; fractional seconds are allowed";
    let spec = spec.trim();
    if spec.is_empty() {
        return Err(Error::invalid(FIELD, format!("empty time ({FORMS})")));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(spec) {
        return Ok(t);
    }
    if is_naive_shape(spec) {
        let naive = NaiveDateTime::parse_from_str(spec, "%Y-%m-%dT%H:%M:%S%.f").map_err(|e| {
            Error::invalid(FIELD, format!("invalid local time {spec:?}: {e} ({FORMS})"))
        })?;
        // chrono's `Local` does not order the two candidates of an ambiguous
        // time by instant (`earliest()` may give the later one), so take the
        // minimum explicitly.
        return match now.timezone().from_local_datetime(&naive) {
            LocalResult::Single(t) => Ok(t.fixed_offset()),
            LocalResult::Ambiguous(a, b) => Ok(a.min(b).fixed_offset()),
            LocalResult::None => Err(Error::invalid(
                FIELD,
                format!(
                    "local time {spec:?} does not exist in the server's time zone \
                     (skipped by a daylight-saving change); give an explicit offset"
                ),
            )),
        };
    }
    Err(Error::invalid(
        FIELD,
        format!("invalid time {spec:?} ({FORMS})"),
    ))
}

/// Environment variable name `^[A-Za-z_][A-Za-z0-9_]*$` (`field` is `environment` or `secret_environment`).
pub fn env_name(field: &str, name: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("invalid variable name {name:?} (must match ^[A-Za-z_][A-Za-z0-9_]*$)"),
        ))
    }
}

/// Maximum length of one environment value, in bytes.
pub const MAX_ENV_VALUE_BYTES: usize = 32768;

/// Environment value at most 32768 bytes.
pub fn env_value(field: &str, name: &str, value: &str) -> Result<()> {
    if value.len() > MAX_ENV_VALUE_BYTES {
        return Err(Error::invalid(
            field,
            format!(
                "value of {name} is too long ({} bytes, max {MAX_ENV_VALUE_BYTES})",
                value.len()
            ),
        ));
    }
    Ok(())
}

/// Upload path: relative, no `..`, normalised (`./a//b/` → `a/b`).
///
/// Linux semantics: `/` is the only separator (a `\` is an ordinary
/// character). Empty and `.` components are dropped. Refused: empty paths,
/// absolute paths, any `..` component, NUL bytes, and paths that name no file
/// (`.`, `./`). Errors use the field `path`; the reason quotes the path.
pub fn upload_path(path: &str) -> Result<String> {
    const FIELD: &str = "path";
    if path.is_empty() {
        return Err(Error::invalid(FIELD, "upload path must not be empty"));
    }
    if path.contains('\0') {
        return Err(Error::invalid(
            FIELD,
            format!("upload path {path:?} contains a NUL byte"),
        ));
    }
    if path.starts_with('/') {
        return Err(Error::invalid(
            FIELD,
            format!("upload path {path:?} must be relative (no leading '/')"),
        ));
    }
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(Error::invalid(
                    FIELD,
                    format!("upload path {path:?} must not contain '..' components"),
                ));
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(Error::invalid(
            FIELD,
            format!("upload path {path:?} names no file (it normalises to an empty path)"),
        ));
    }
    Ok(parts.join("/"))
}

/// Network names that cannot be created (NET-CREATE-2).
pub const RESERVED_NETWORKS: [&str; 4] = ["bridge", "isolated", "none", "host"];

/// Maximum length of a resource name.
const MAX_RESOURCE_NAME: usize = 63;

/// A resource name (network or volume): 1-63 of `[A-Za-z0-9_-]`, starting and
/// ending alphanumeric (NET-CREATE-2, VOL-CREATE-2). `field` is named in errors.
///
/// Reserved network names are checked by the caller, not here.
pub fn resource_name(field: &str, name: &str) -> Result<()> {
    const RULE: &str = "1-63 characters of A-Z, a-z, 0-9, '_' or '-', \
                        starting and ending with a letter or digit";
    if name.is_empty() {
        return Err(Error::invalid(
            field,
            format!("name must not be empty ({RULE})"),
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
    {
        return Err(Error::invalid(
            field,
            format!("invalid character {c:?} in name {name:?} ({RULE})"),
        ));
    }
    // Only ASCII is left, so bytes are characters.
    if name.len() > MAX_RESOURCE_NAME {
        return Err(Error::invalid(
            field,
            format!(
                "name {name:?} is too long ({} characters, max {MAX_RESOURCE_NAME})",
                name.len()
            ),
        ));
    }
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !alnum(name.chars().next()) || !alnum(name.chars().next_back()) {
        return Err(Error::invalid(
            field,
            format!("name {name:?} must start and end with a letter or digit ({RULE})"),
        ));
    }
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

/// The netmask of a prefix length (lengths above 32 count as 32).
fn prefix_mask(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p if p >= 32 => u32::MAX,
        p => u32::MAX << (32 - u32::from(p)),
    }
}

impl Ipv4Cidr {
    /// Whether the two networks share any address.
    ///
    /// Two CIDR blocks either are disjoint or one contains the other, so they
    /// overlap iff they agree on the bits of the shorter prefix. Host bits of
    /// a hand-built value are ignored.
    pub fn overlaps(&self, other: &Ipv4Cidr) -> bool {
        let mask = prefix_mask(self.prefix.min(other.prefix));
        u32::from(self.network) & mask == u32::from(other.network) & mask
    }
}

/// Parses `a.b.c.d/n` (NET-CREATE-3); `field` is named in errors.
///
/// Strict: four decimal octets (no leading zeros), a decimal prefix from 8 to
/// 30, no surrounding whitespace. IPv6 and a missing prefix are refused. An
/// address with host bits set (`10.0.0.1/24`) is accepted and normalised:
/// `network` is the network address (`10.0.0.0`).
pub fn cidr(field: &str, text: &str) -> Result<Ipv4Cidr> {
    const FORM: &str = "expected IPv4 a.b.c.d/n with n from 8 to 30, e.g. 10.1.0.0/24";
    if text.is_empty() {
        return Err(Error::invalid(
            field,
            format!("CIDR must not be empty ({FORM})"),
        ));
    }
    let Some((addr, prefix)) = text.split_once('/') else {
        let reason = if text.contains(':') {
            format!("IPv6 is not supported: {text:?} ({FORM})")
        } else {
            format!("missing prefix length in {text:?} ({FORM})")
        };
        return Err(Error::invalid(field, reason));
    };
    if addr.contains(':') {
        return Err(Error::invalid(
            field,
            format!("IPv6 is not supported: {text:?} ({FORM})"),
        ));
    }
    let ip: Ipv4Addr = addr.parse().map_err(|_| {
        Error::invalid(
            field,
            format!("invalid IPv4 address {addr:?} in {text:?} ({FORM})"),
        )
    })?;
    let canonical = !prefix.is_empty()
        && prefix.bytes().all(|b| b.is_ascii_digit())
        && (prefix == "0" || !prefix.starts_with('0'));
    let n = match prefix.parse::<u8>() {
        Ok(n) if canonical => n,
        _ if canonical => {
            return Err(Error::invalid(
                field,
                format!("prefix /{prefix} in {text:?} is outside /8 to /30"),
            ));
        }
        _ => {
            return Err(Error::invalid(
                field,
                format!("invalid prefix length {prefix:?} in {text:?} ({FORM})"),
            ));
        }
    };
    if !(8..=30).contains(&n) {
        return Err(Error::invalid(
            field,
            format!("prefix /{n} in {text:?} is outside /8 to /30"),
        ));
    }
    Ok(Ipv4Cidr {
        network: Ipv4Addr::from(u32::from(ip) & prefix_mask(n)),
        prefix: n,
    })
}

/// `floor((int.frac) * mult)`, exactly, or `None` on u64 overflow. Both
/// strings are ASCII digits.
fn scaled_floor(int: &str, frac: &str, mult: u64) -> Option<u64> {
    // Multiply the decimal digit string int‖frac by `mult` (little-endian
    // result digits), then drop frac.len() lowest digits.
    let mut out: Vec<u8> = Vec::with_capacity(int.len() + frac.len() + 20);
    let mut carry: u128 = 0;
    for d in int.bytes().chain(frac.bytes()).rev() {
        let v = u128::from(d.saturating_sub(b'0')) * u128::from(mult) + carry;
        out.push((v % 10) as u8);
        carry = v / 10;
    }
    while carry > 0 {
        out.push((carry % 10) as u8);
        carry /= 10;
    }
    out.iter().skip(frac.len()).rev().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u64::from(d))
    })
}

/// A volume size: positive number with unit B, KB, MB, GB, TB (case-insensitive,
/// powers of 1024). Returns bytes (VOL-CREATE-2).
///
/// The number is decimal digits with an optional `.` fraction (`1.5GB`); the
/// unit follows immediately. Fractional bytes round down; a size that rounds
/// to 0 bytes or exceeds u64 is refused.
pub fn volume_size(text: &str) -> Result<u64> {
    const FIELD: &str = "size";
    const UNITS: &str = "accepted units: B, KB, MB, GB, TB (case-insensitive, powers of 1024), \
                         e.g. 512MB or 1.5GB";
    let t = text.trim();
    if t.is_empty() {
        return Err(Error::invalid(
            FIELD,
            format!("size must not be empty ({UNITS})"),
        ));
    }
    if t.starts_with('-') {
        return Err(Error::invalid(
            FIELD,
            format!("size {t:?} must be positive ({UNITS})"),
        ));
    }
    // `find` yields a char boundary, so the split is safe.
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.is_empty() || frac.contains('.') || (num.contains('.') && frac.is_empty()) {
        return Err(Error::invalid(
            FIELD,
            format!("invalid size {t:?}: expected a positive number followed by a unit ({UNITS})"),
        ));
    }
    if unit.is_empty() {
        return Err(Error::invalid(
            FIELD,
            format!("size {t:?} has no unit ({UNITS})"),
        ));
    }
    if unit.starts_with(char::is_whitespace) {
        return Err(Error::invalid(
            FIELD,
            format!("size {t:?} has a space between number and unit ({UNITS})"),
        ));
    }
    let mult: u64 = match unit.to_ascii_uppercase().as_str() {
        "B" => 1,
        "KB" => 1 << 10,
        "MB" => 1 << 20,
        "GB" => 1 << 30,
        "TB" => 1 << 40,
        _ => {
            return Err(Error::invalid(
                FIELD,
                format!("unknown unit {unit:?} in {t:?} ({UNITS})"),
            ));
        }
    };
    if num.bytes().all(|b| b == b'0' || b == b'.') {
        return Err(Error::invalid(
            FIELD,
            format!("size {t:?} must be positive ({UNITS})"),
        ));
    }
    match scaled_floor(int, frac, mult) {
        None => Err(Error::invalid(
            FIELD,
            format!("size {t:?} is too large (max {} bytes)", u64::MAX),
        )),
        Some(0) => Err(Error::invalid(
            FIELD,
            format!("size {t:?} is less than one byte"),
        )),
        Some(bytes) => Ok(bytes),
    }
}

/// A volume type: "" → `filesystem`; `filesystem` or `memory` (VOL-CREATE-1/2).
pub fn volume_type(text: &str) -> Result<&'static str> {
    match text {
        "" | "filesystem" => Ok("filesystem"),
        "memory" => Ok("memory"),
        other => Err(Error::invalid(
            "type",
            format!("unknown volume type {other:?} (allowed: filesystem, memory)"),
        )),
    }
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
        let mut s = format!("{}:{}", self.language, self.version);
        for v in &self.variants {
            s.push('-');
            s.push_str(v);
        }
        if self.architecture != "amd64" {
            s.push('@');
            s.push_str(&self.architecture);
        }
        s
    }
}

/// Languages a runtime spec may name.
const RUNTIME_LANGUAGES: [&str; 6] = ["python", "java", "golang", "node", "ruby", "php"];
/// Architectures a runtime spec may name (`amd64` is the default).
const RUNTIME_ARCHITECTURES: [&str; 3] = ["amd64", "arm64", "x86_64"];

/// Parses a runtime spec; the error is the user-facing message
/// (e.g. "Unsupported language: cobol. Supported: python, java, golang, node, ruby, php").
///
/// Checks in the real server's order: empty, format, language, architecture.
/// Everything after the first `@` is the architecture (so `a@b@c` names the
/// unsupported architecture `b@c`).
pub fn runtime_spec(text: &str) -> std::result::Result<RuntimeSpec, String> {
    const FORMAT: &str = "Runtime spec must be in format language:version (e.g., python:3.11)";
    if text.is_empty() {
        return Err("Runtime spec cannot be empty".into());
    }
    let (main, arch) = text.split_once('@').unwrap_or((text, "amd64"));
    let mut halves = main.split(':');
    let (Some(language), Some(version_part), None) = (halves.next(), halves.next(), halves.next())
    else {
        return Err(FORMAT.into());
    };
    let mut pieces = version_part.split('-');
    let version = pieces.next().unwrap_or_default();
    let variants: Vec<String> = pieces.map(str::to_string).collect();
    if language.is_empty() || version.is_empty() || variants.iter().any(String::is_empty) {
        return Err(FORMAT.into());
    }
    if !RUNTIME_LANGUAGES.contains(&language) {
        return Err(format!(
            "Unsupported language: {language}. Supported: {}",
            RUNTIME_LANGUAGES.join(", ")
        ));
    }
    if !RUNTIME_ARCHITECTURES.contains(&arch) {
        return Err(format!(
            "Unsupported architecture: {arch}. Supported: {}",
            RUNTIME_ARCHITECTURES.join(", ")
        ));
    }
    Ok(RuntimeSpec {
        language: language.to_string(),
        version: version.to_string(),
        variants,
        architecture: arch.to_string(),
    })
}

/// A Go duration (`time.ParseDuration`): an optional sign, then one or more
/// decimal numbers, each with an optional fraction and a unit `ns`, `us`
/// (`µs`, `μs`), `ms`, `s`, `m` or `h` (`30s`, `1h30m`, `1.5h`); a bare `0`
/// too. `Ok(None)` for "" and any zero duration (no limit, JOB-TIMEOUT-1);
/// an error (saying why) for anything else that does not parse, a negative
/// duration, or one longer than Go's 292 years.
pub fn go_duration(text: &str) -> std::result::Result<Option<Duration>, String> {
    const UNITS: [(&str, u128); 8] = [
        ("ns", 1),
        ("us", 1_000),
        ("\u{b5}s", 1_000),
        ("\u{3bc}s", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
    ];
    let mut rest = text;
    if rest.is_empty() {
        return Ok(None);
    }
    let negative = match rest.as_bytes()[0] {
        b'-' => true,
        b'+' => false,
        _ => {
            if rest == "0" {
                return Ok(None);
            }
            false
        }
    };
    if matches!(rest.as_bytes()[0], b'-' | b'+') {
        rest = &rest[1..];
    }
    if rest == "0" {
        return Ok(None);
    }
    if rest.is_empty() {
        return Err("no number".into());
    }
    // Whole nanoseconds, and the fractional part as a rational (num / den ns).
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int, after) = rest.split_at(int_len);
        let (frac, after) = match after.strip_prefix('.') {
            Some(a) => {
                let n = a.bytes().take_while(u8::is_ascii_digit).count();
                a.split_at(n)
            }
            None => ("", after),
        };
        if int.is_empty() && frac.is_empty() {
            return Err(format!("expected a number at {rest:?}"));
        }
        let unit_len = after
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(after.len(), |(i, _)| i);
        let (unit, next) = after.split_at(unit_len);
        let Some(&(_, scale)) = UNITS.iter().find(|(u, _)| *u == unit) else {
            return Err(if unit.is_empty() {
                format!("missing unit after {:?}", &rest[..rest.len() - after.len()])
            } else {
                format!("unknown unit {unit:?} (ns, us, ms, s, m, h)")
            });
        };
        let whole: u128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| "number out of range".to_owned())?
        };
        let mut part = whole.checked_mul(scale).ok_or("out of range")?;
        if !frac.is_empty() {
            // Only the digits that can still matter at nanosecond precision.
            let digits = &frac[..frac.len().min(30)];
            let f: u128 = digits
                .parse()
                .map_err(|_| "fraction out of range".to_owned())?;
            part += f * scale / 10u128.pow(digits.len() as u32);
        }
        total = total.checked_add(part).ok_or("out of range")?;
        if total > i64::MAX as u128 {
            return Err("out of range (at most 2562047h)".into());
        }
        rest = next;
    }
    if total == 0 {
        return Ok(None);
    }
    if negative {
        return Err("negative".into());
    }
    Ok(Some(Duration::from_nanos(total as u64)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveDate, SecondsFormat, Timelike};
    use proptest::prelude::*;

    /// The reason of an `Invalid` error (panics on success or another kind).
    fn reason<T: std::fmt::Debug>(r: Result<T>) -> String {
        match r {
            Err(Error::Invalid { reason, .. }) => reason,
            other => panic!("expected Error::Invalid, got {other:?}"),
        }
    }

    /// The full message of an error.
    fn message<T: std::fmt::Debug>(r: Result<T>) -> String {
        r.expect_err("expected an error").to_string()
    }

    // ---------------------------------------------------------------- cpu_cores

    #[test]
    fn cpu_cores_accepts_the_three_forms() {
        assert_eq!(cpu_cores("", 4).unwrap(), Vec::<u32>::new());
        assert_eq!(cpu_cores("   ", 4).unwrap(), Vec::<u32>::new());
        assert_eq!(cpu_cores("2", 4).unwrap(), vec![2]);
        assert_eq!(cpu_cores("0", 1).unwrap(), vec![0]);
        assert_eq!(cpu_cores("0-3", 4).unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(cpu_cores("2-2", 4).unwrap(), vec![2]);
        assert_eq!(cpu_cores("3,0,2", 4).unwrap(), vec![0, 2, 3]);
        assert_eq!(cpu_cores(" 1 , 3 ", 4).unwrap(), vec![1, 3]);
        assert_eq!(cpu_cores("\t1-2\n", 4).unwrap(), vec![1, 2]);
        assert_eq!(cpu_cores("007", 8).unwrap(), vec![7]);
    }

    #[test]
    fn cpu_cores_rejects_out_of_range() {
        let e = cpu_cores("7", 4).unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert_eq!(
            e.to_string(),
            "cpuCores: core 7 is outside the host's cores 0-3"
        );
        assert_eq!(
            message(cpu_cores("0-4", 4)),
            "cpuCores: core 4 is outside the host's cores 0-3"
        );
        assert_eq!(
            message(cpu_cores("1,9", 4)),
            "cpuCores: core 9 is outside the host's cores 0-3"
        );
        assert!(reason(cpu_cores("0", 0)).contains("no cores"));
        assert!(
            reason(cpu_cores("99999999999999999999", 4))
                .contains("core 99999999999999999999 is outside")
        );
        assert!(
            reason(cpu_cores("4294967295", u32::MAX))
                .contains("outside the host's cores 0-4294967294")
        );
    }

    #[test]
    fn cpu_cores_rejects_malformed() {
        let mixed = reason(cpu_cores("0-2,4", 8));
        assert!(
            mixed.contains("cannot mix ranges and lists") && mixed.contains("\"0-2,4\""),
            "{mixed}"
        );
        assert!(reason(cpu_cores("3-1", 4)).contains("range 3-1 is reversed"));
        assert!(reason(cpu_cores("1,1", 4)).contains("core 1 is listed more than once"));
        assert!(reason(cpu_cores("2,0,2", 4)).contains("core 2 is listed more than once"));
        assert!(reason(cpu_cores("-1", 4)).contains("negative"));
        for bad in [
            "x", "1-", "-", "1,", ",1", "1,,2", "1-2-3", "+1", "1.5", "0x1", "1 2", "a-b", "١",
        ] {
            let r = reason(cpu_cores(bad, 4));
            assert!(r.contains(&format!("{bad:?}")), "{bad:?}: {r}");
        }
        assert!(reason(cpu_cores("x", 4)).contains("expected N, a-b or a,b,c"));
    }

    // ----------------------------------------------------------------- schedule

    fn now() -> DateTime<Local> {
        Local::now()
    }

    #[test]
    fn schedule_accepts_rfc3339() {
        let t = schedule("2026-11-28T10:00:00Z", now()).unwrap();
        assert_eq!(
            t,
            DateTime::parse_from_rfc3339("2026-11-28T10:00:00+00:00").unwrap()
        );
        assert_eq!(t.offset().local_minus_utc(), 0);

        let t = schedule("2026-11-28T10:00:00+02:00", now()).unwrap();
        assert_eq!(t.offset().local_minus_utc(), 7200);
        assert_eq!(t.timestamp(), 1_795_860_000 - 7200);

        let t = schedule("2026-11-28T10:00:00.123456-05:30", now()).unwrap();
        assert_eq!(t.nanosecond(), 123_456_000);
        assert_eq!(t.offset().local_minus_utc(), -(5 * 3600 + 1800));

        // Surrounding whitespace is ignored; past times are accepted.
        assert!(schedule("  2001-01-01T00:00:00Z\n", now()).is_ok());
    }

    #[test]
    fn schedule_accepts_naive_local_time() {
        let t = schedule("2026-11-28T10:00:00", now()).unwrap();
        let naive = NaiveDate::from_ymd_opt(2026, 11, 28)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap();
        assert_eq!(t.naive_local(), naive);
        assert_eq!(
            t.timestamp(),
            Local
                .from_local_datetime(&naive)
                .earliest()
                .unwrap()
                .timestamp()
        );

        let t = schedule("2026-11-28T10:00:00.5", now()).unwrap();
        assert_eq!(t.nanosecond(), 500_000_000);
        let t = schedule("2026-11-28T10:00:00.123456789", now()).unwrap();
        assert_eq!(t.nanosecond(), 123_456_789);
    }

    #[test]
    fn schedule_handles_dst_transitions() {
        // Candidate gap / overlap local times in common zones (EU, US). Which
        // of them are special depends on the server's zone (run with e.g.
        // TZ=Europe/Berlin); the contract holds in every zone.
        for text in [
            "2026-03-29T02:30:00",
            "2026-10-25T02:30:00",
            "2026-03-08T02:30:00",
            "2026-11-01T01:30:00",
        ] {
            let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").unwrap();
            match Local.from_local_datetime(&naive) {
                LocalResult::None => {
                    let r = reason(schedule(text, now()));
                    assert!(r.contains("does not exist") && r.contains(text), "{r}");
                }
                LocalResult::Single(t) => {
                    assert_eq!(schedule(text, now()).unwrap(), t.fixed_offset());
                }
                LocalResult::Ambiguous(a, b) => {
                    // The earlier instant wins, whatever order chrono gives.
                    let got = schedule(text, now()).unwrap();
                    assert_eq!(got, a.min(b).fixed_offset());
                    assert!(got < a.max(b).fixed_offset(), "{got} {a} {b}");
                    assert_eq!(got.naive_local(), naive);
                }
            }
        }
    }

    #[test]
    fn schedule_rejects_other_forms() {
        for bad in [
            "",
            "   ",
            "5min",
            "+5m",
            "now",
            "tomorrow",
            "garbage",
            "2026-11-28",
            "10:00:00",
            "2026-11-28T10:00",
            "2026-11-28T10:00:00.",
            "2026-11-28T10:00:00.x",
            "2026-11-28T10:00:00+2",
            "2026-13-01T00:00:00",
            "2026-02-30T00:00:00",
            "2026-11-28T25:00:00",
            "2026-11-28T10:60:00",
            "2026-11-28X10:00:00",
            "2026/11/28T10:00:00",
            "26-11-28T10:00:00",
            "+2026-11-28T10:00:00",
            "2026-11-28T10:00:00Zjunk",
            "1700000000",
            "２０２６-11-28T10:00:00",
        ] {
            let e = schedule(bad, now()).unwrap_err();
            assert_eq!(e.code(), tonic::Code::InvalidArgument);
            let msg = e.to_string();
            assert!(msg.starts_with("schedule: "), "{bad:?}: {msg}");
            assert!(
                msg.contains("RFC 3339") && msg.contains("YYYY-MM-DDTHH:MM:SS"),
                "{bad:?}: {msg}"
            );
        }
        assert!(reason(schedule("5min", now())).contains("\"5min\""));
    }

    #[test]
    fn naive_shape_is_strict() {
        assert!(is_naive_shape("2026-11-28T10:00:00"));
        assert!(is_naive_shape("2026-11-28T10:00:00.1"));
        assert!(!is_naive_shape("2026-11-28T10:00:00."));
        assert!(!is_naive_shape("2026-11-28t10:00:00"));
        assert!(!is_naive_shape("2026-11-28 10:00:00"));
        assert!(!is_naive_shape("2026-11-28T10:00:00Z"));
        assert!(!is_naive_shape("2026-11-28T10:00:0é"));
    }

    // --------------------------------------------------------------- env_*

    #[test]
    fn env_name_accepts_identifiers() {
        for ok in ["A", "_", "_1", "FOO", "foo_bar", "PATH", "a1B2_c3", "__"] {
            env_name("environment", ok).unwrap();
        }
    }

    #[test]
    fn env_name_rejects_others() {
        assert_eq!(
            message(env_name("environment", "1X")),
            "environment: invalid variable name \"1X\" (must match ^[A-Za-z_][A-Za-z0-9_]*$)"
        );
        assert!(message(env_name("secret_environment", "A-B")).starts_with("secret_environment: "));
        for bad in [
            "", "1", "A-B", "A B", " A", "A=", "é", "Aé", "A\0", "A.B", "$A",
        ] {
            let r = reason(env_name("environment", bad));
            assert!(r.contains(&format!("{bad:?}")), "{bad:?}: {r}");
        }
    }

    #[test]
    fn env_value_length_limit() {
        env_value("environment", "FOO", "").unwrap();
        env_value("environment", "FOO", &"x".repeat(32768)).unwrap();
        assert_eq!(
            message(env_value("environment", "FOO", &"x".repeat(40000))),
            "environment: value of FOO is too long (40000 bytes, max 32768)"
        );
        assert!(env_value("environment", "FOO", &"x".repeat(32769)).is_err());
        // Bytes, not characters: 16385 two-byte chars = 32770 bytes.
        let r = reason(env_value("secret_environment", "K", &"é".repeat(16385)));
        assert!(r.contains("32770 bytes"), "{r}");
    }

    // -------------------------------------------------------------- upload_path

    #[test]
    fn upload_path_normalises() {
        assert_eq!(upload_path("a").unwrap(), "a");
        assert_eq!(upload_path("./a//b/").unwrap(), "a/b");
        assert_eq!(upload_path("a/./b/.").unwrap(), "a/b");
        assert_eq!(upload_path("dir/").unwrap(), "dir");
        assert_eq!(upload_path("a\\..\\b").unwrap(), "a\\..\\b");
        assert_eq!(upload_path("..a/b..").unwrap(), "..a/b..");
        assert_eq!(upload_path("...").unwrap(), "...");
        assert_eq!(upload_path(" a b ").unwrap(), " a b ");
        assert_eq!(upload_path("ünï/cödé").unwrap(), "ünï/cödé");
    }

    #[test]
    fn upload_path_rejects() {
        let cases = [
            ("", "must not be empty"),
            ("/x", "must be relative"),
            ("/", "must be relative"),
            ("//a", "must be relative"),
            ("..", "'..'"),
            ("../a", "'..'"),
            ("a/../b", "'..'"),
            ("a/..", "'..'"),
            ("./a/../../etc", "'..'"),
            ("a\0b", "NUL"),
            (".", "normalises to an empty path"),
            ("./", "normalises to an empty path"),
            ("./././/", "normalises to an empty path"),
        ];
        for (bad, want) in cases {
            let e = upload_path(bad).unwrap_err();
            assert_eq!(e.code(), tonic::Code::InvalidArgument);
            let msg = e.to_string();
            assert!(msg.starts_with("path: "), "{bad:?}: {msg}");
            assert!(msg.contains(want), "{bad:?}: {msg}");
            if !bad.is_empty() {
                assert!(msg.contains(&format!("{bad:?}")), "{bad:?}: {msg}");
            }
        }
    }

    // ------------------------------------------------------------ resource_name

    #[test]
    fn resource_name_accepts() {
        for ok in [
            "a",
            "Z",
            "0",
            "my-net",
            "my_net",
            "a-b_c-9",
            "A1",
            &"a".repeat(63),
        ] {
            resource_name("name", ok).unwrap();
        }
        // Reserved names are the caller's business.
        for r in RESERVED_NETWORKS {
            resource_name("name", r).unwrap();
        }
    }

    #[test]
    fn resource_name_rejects() {
        assert!(message(resource_name("name", "")).starts_with("name: name must not be empty"));
        let long = "a".repeat(64);
        let r = reason(resource_name("name", &long));
        assert!(r.contains("too long (64 characters, max 63)"), "{r}");
        for bad in ["-a", "a-", "_a", "a_", "-", "_"] {
            let r = reason(resource_name("volume", bad));
            assert!(
                r.contains("must start and end with a letter or digit"),
                "{bad:?}: {r}"
            );
            assert!(r.contains(&format!("{bad:?}")), "{bad:?}: {r}");
        }
        for (bad, c) in [
            ("a b", "' '"),
            ("a.b", "'.'"),
            ("né", "'é'"),
            ("a/b", "'/'"),
            ("a\0", "'\\0'"),
        ] {
            let r = reason(resource_name("name", bad));
            assert!(
                r.contains(&format!("invalid character {c}")),
                "{bad:?}: {r}"
            );
        }
        assert!(message(resource_name("network", "a b")).starts_with("network: "));
    }

    // --------------------------------------------------------------------- cidr

    fn net(a: [u8; 4], prefix: u8) -> Ipv4Cidr {
        Ipv4Cidr {
            network: Ipv4Addr::from(a),
            prefix,
        }
    }

    #[test]
    fn cidr_accepts_and_normalises() {
        assert_eq!(cidr("cidr", "10.1.0.0/24").unwrap(), net([10, 1, 0, 0], 24));
        assert_eq!(cidr("cidr", "10.0.0.1/24").unwrap(), net([10, 0, 0, 0], 24));
        assert_eq!(
            cidr("cidr", "192.168.77.200/30").unwrap(),
            net([192, 168, 77, 200], 30)
        );
        assert_eq!(
            cidr("cidr", "192.168.77.203/30").unwrap(),
            net([192, 168, 77, 200], 30)
        );
        assert_eq!(
            cidr("cidr", "10.255.255.255/8").unwrap(),
            net([10, 0, 0, 0], 8)
        );
        assert_eq!(
            cidr("cidr", "172.31.255.255/12").unwrap(),
            net([172, 16, 0, 0], 12)
        );
    }

    #[test]
    fn cidr_rejects() {
        let cases = [
            ("", "must not be empty"),
            ("10.0.0.0", "missing prefix length"),
            ("fd00::/64", "IPv6 is not supported"),
            ("::1", "IPv6 is not supported"),
            ("::ffff:10.0.0.0/104", "IPv6 is not supported"),
            ("10.0.0.0/7", "outside /8 to /30"),
            ("10.0.0.0/31", "outside /8 to /30"),
            ("10.0.0.0/32", "outside /8 to /30"),
            ("10.0.0.0/0", "outside /8 to /30"),
            ("10.0.0.0/300", "outside /8 to /30"),
            ("10.0.0.0/99999999999999999999", "outside /8 to /30"),
            ("10.0.0.0/", "invalid prefix length"),
            ("10.0.0.0/024", "invalid prefix length"),
            ("10.0.0.0/+24", "invalid prefix length"),
            ("10.0.0.0/24/", "invalid prefix length"),
            ("10.0.0.0/ 24", "invalid prefix length"),
            ("10.0.0.0/x", "invalid prefix length"),
            ("10.0.0/24", "invalid IPv4 address"),
            ("10.0.0.0.0/24", "invalid IPv4 address"),
            ("256.0.0.0/24", "invalid IPv4 address"),
            ("010.0.0.0/24", "invalid IPv4 address"),
            (" 10.0.0.0/24", "invalid IPv4 address"),
            ("/24", "invalid IPv4 address"),
            ("ten.0.0.0/24", "invalid IPv4 address"),
        ];
        for (bad, want) in cases {
            let e = cidr("cidr", bad).unwrap_err();
            assert_eq!(e.code(), tonic::Code::InvalidArgument);
            let msg = e.to_string();
            assert!(
                msg.starts_with("cidr: ") && msg.contains(want),
                "{bad:?}: {msg}"
            );
            if !bad.is_empty() {
                assert!(msg.contains(&format!("{bad:?}")), "{bad:?}: {msg}");
            }
        }
    }

    #[test]
    fn cidr_overlaps() {
        let a = net([10, 0, 0, 0], 8);
        let b = net([10, 1, 0, 0], 24);
        let c = net([10, 1, 1, 0], 24);
        let d = net([11, 0, 0, 0], 8);
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(a.overlaps(&a));
        assert!(!b.overlaps(&c) && !c.overlaps(&b));
        assert!(!a.overlaps(&d));
        assert!(net([10, 1, 0, 0], 16).overlaps(&c));
        assert!(!net([192, 168, 0, 0], 30).overlaps(&net([192, 168, 0, 4], 30)));
        // Hand-built values with host bits or odd prefixes do not panic.
        assert!(net([10, 0, 0, 1], 24).overlaps(&net([10, 0, 0, 200], 24)));
        assert!(net([1, 2, 3, 4], 0).overlaps(&net([9, 9, 9, 9], 40)));
        assert!(!net([1, 2, 3, 4], 40).overlaps(&net([1, 2, 3, 5], 32)));
    }

    // -------------------------------------------------------------- volume_size

    #[test]
    fn volume_size_accepts() {
        assert_eq!(volume_size("1B").unwrap(), 1);
        assert_eq!(volume_size("512b").unwrap(), 512);
        assert_eq!(volume_size("1KB").unwrap(), 1024);
        assert_eq!(volume_size("1kb").unwrap(), 1024);
        assert_eq!(volume_size("1Kb").unwrap(), 1024);
        assert_eq!(volume_size("100MB").unwrap(), 100 << 20);
        assert_eq!(volume_size("1GB").unwrap(), 1 << 30);
        assert_eq!(volume_size(" 2tb \n").unwrap(), 2 << 40);
        assert_eq!(volume_size("1.5GB").unwrap(), 3 << 29);
        assert_eq!(volume_size("0.5KB").unwrap(), 512);
        assert_eq!(volume_size("1.5B").unwrap(), 1);
        assert_eq!(volume_size("0.001KB").unwrap(), 1); // 1.024 → 1
        assert_eq!(volume_size("0001MB").unwrap(), 1 << 20);
        assert_eq!(
            volume_size("1.00000000000000000000000000000001TB").unwrap(),
            1 << 40
        );
        assert_eq!(volume_size("18446744073709551615B").unwrap(), u64::MAX);
        assert_eq!(volume_size("16777215.99999999999999TB").unwrap(), u64::MAX);
    }

    #[test]
    fn volume_size_rejects() {
        let cases = [
            ("", "must not be empty"),
            ("   ", "must not be empty"),
            ("100", "has no unit"),
            ("1.5", "has no unit"),
            ("1G", "unknown unit \"G\""),
            ("1GiB", "unknown unit \"GiB\""),
            ("1K", "unknown unit"),
            ("1PB", "unknown unit"),
            ("1GBs", "unknown unit"),
            ("1 GB", "space between number and unit"),
            ("0GB", "must be positive"),
            ("0.0MB", "must be positive"),
            ("0B", "must be positive"),
            ("-1GB", "must be positive"),
            ("0.5B", "less than one byte"),
            ("0.0009KB", "less than one byte"),
            ("GB", "invalid size"),
            (".5GB", "invalid size"),
            ("1.GB", "invalid size"),
            ("1..5GB", "invalid size"),
            ("1.2.3GB", "invalid size"),
            ("+1GB", "invalid size"),
            ("١GB", "invalid size"),
            ("18446744073709551616B", "too large"),
            ("16777216TB", "too large"),
            ("99999999999999999999999999TB", "too large"),
        ];
        for (bad, want) in cases {
            let e = volume_size(bad).unwrap_err();
            assert_eq!(e.code(), tonic::Code::InvalidArgument);
            let msg = e.to_string();
            assert!(
                msg.starts_with("size: ") && msg.contains(want),
                "{bad:?}: {msg}"
            );
            if !bad.trim().is_empty() {
                assert!(
                    msg.contains(&format!("{:?}", bad.trim())) || msg.contains(want),
                    "{bad:?}: {msg}"
                );
            }
        }
        // Errors about the unit list the accepted ones.
        for bad in ["100", "1G", "1GiB"] {
            assert!(
                reason(volume_size(bad)).contains("B, KB, MB, GB, TB"),
                "{bad}"
            );
        }
    }

    #[test]
    fn scaled_floor_is_exact() {
        assert_eq!(scaled_floor("0", "1", 1 << 40), Some((1u64 << 40) / 10));
        assert_eq!(scaled_floor("3", "", 7), Some(21));
        assert_eq!(scaled_floor("18446744073709551615", "", 1), Some(u64::MAX));
        assert_eq!(scaled_floor("18446744073709551616", "", 1), None);
        assert_eq!(scaled_floor("0000000000000000000000000001", "", 2), Some(2));
    }

    // -------------------------------------------------------------- volume_type

    #[test]
    fn volume_type_values() {
        assert_eq!(volume_type("").unwrap(), "filesystem");
        assert_eq!(volume_type("filesystem").unwrap(), "filesystem");
        assert_eq!(volume_type("memory").unwrap(), "memory");
        for bad in ["tmpfs", "Memory", " memory", "fs", "\0"] {
            let msg = message(volume_type(bad));
            assert!(msg.starts_with("type: "), "{msg}");
            assert!(
                msg.contains("filesystem") && msg.contains("memory"),
                "{msg}"
            );
            assert!(msg.contains(&format!("{bad:?}")), "{msg}");
        }
    }

    // ------------------------------------------------------------- runtime_spec

    const FORMAT_ERR: &str = "Runtime spec must be in format language:version (e.g., python:3.11)";

    fn spec(language: &str, version: &str, variants: &[&str], arch: &str) -> RuntimeSpec {
        RuntimeSpec {
            language: language.into(),
            version: version.into(),
            variants: variants.iter().map(|v| v.to_string()).collect(),
            architecture: arch.into(),
        }
    }

    #[test]
    fn runtime_spec_accepts() {
        assert_eq!(
            runtime_spec("python:3.11").unwrap(),
            spec("python", "3.11", &[], "amd64")
        );
        assert_eq!(
            runtime_spec("python:3.11-ml-gpu@arm64").unwrap(),
            spec("python", "3.11", &["ml", "gpu"], "arm64")
        );
        assert_eq!(
            runtime_spec("java:21@x86_64").unwrap(),
            spec("java", "21", &[], "x86_64")
        );
        assert_eq!(
            runtime_spec("golang:1.21@amd64").unwrap(),
            spec("golang", "1.21", &[], "amd64")
        );
        for lang in ["python", "java", "golang", "node", "ruby", "php"] {
            assert_eq!(runtime_spec(&format!("{lang}:1")).unwrap().language, lang);
        }
    }

    #[test]
    fn runtime_spec_normalized() {
        assert_eq!(
            runtime_spec("python:3.11@amd64").unwrap().normalized(),
            "python:3.11"
        );
        assert_eq!(
            runtime_spec("python:3.11-ml@arm64").unwrap().normalized(),
            "python:3.11-ml@arm64"
        );
        assert_eq!(
            spec("node", "20", &["a", "b"], "x86_64").normalized(),
            "node:20-a-b@x86_64"
        );
    }

    #[test]
    fn runtime_spec_rejects_with_exact_messages() {
        assert_eq!(
            runtime_spec("").unwrap_err(),
            "Runtime spec cannot be empty"
        );
        for bad in [
            "python",
            "python:",
            ":3.11",
            ":",
            "python:3:11",
            "python::3",
            "python:-ml",
            "python:3.11-",
            "python:3.11--ml",
            "python-3.11",
            "@arm64",
            "python@arm64",
            "python:@arm64",
        ] {
            assert_eq!(runtime_spec(bad).unwrap_err(), FORMAT_ERR, "{bad:?}");
        }
        assert_eq!(
            runtime_spec("cobol:1").unwrap_err(),
            "Unsupported language: cobol. Supported: python, java, golang, node, ruby, php"
        );
        assert_eq!(
            runtime_spec("Python:3").unwrap_err(),
            "Unsupported language: Python. Supported: python, java, golang, node, ruby, php"
        );
        assert_eq!(
            runtime_spec("python:3.11@riscv").unwrap_err(),
            "Unsupported architecture: riscv. Supported: amd64, arm64, x86_64"
        );
        assert_eq!(
            runtime_spec("python:3.11@").unwrap_err(),
            "Unsupported architecture: . Supported: amd64, arm64, x86_64"
        );
        assert_eq!(
            runtime_spec("python:3.11@arm64@amd64").unwrap_err(),
            "Unsupported architecture: arm64@amd64. Supported: amd64, arm64, x86_64"
        );
        // Language is checked before architecture.
        assert!(
            runtime_spec("cobol:1@riscv")
                .unwrap_err()
                .starts_with("Unsupported language: cobol.")
        );
    }

    // --------------------------------------------------------------- properties

    const UNITS: [(&str, u64); 5] = [
        ("B", 1),
        ("KB", 1 << 10),
        ("MB", 1 << 20),
        ("GB", 1 << 30),
        ("TB", 1 << 40),
    ];

    /// Random ASCII case of `s`.
    fn random_case(s: &str, mask: u32) -> String {
        s.chars()
            .enumerate()
            .map(|(i, c)| {
                if mask >> (i % 32) & 1 == 1 {
                    c.to_ascii_lowercase()
                } else {
                    c
                }
            })
            .collect()
    }

    /// A valid cpuCores spec, its host core count and the expected result.
    fn valid_cpu_spec() -> impl Strategy<Value = (String, u32, Vec<u32>)> {
        (1u32..=256).prop_flat_map(|host| {
            let ws = prop::sample::select(vec!["", " ", "\t", "  "]);
            let single = (0..host).prop_map(|n| (n.to_string(), vec![n]));
            let range = (0..host, 0..host).prop_map(|(a, b)| {
                let (a, b) = (a.min(b), a.max(b));
                (format!("{a}-{b}"), (a..=b).collect::<Vec<_>>())
            });
            let list = prop::collection::btree_set(0..host, 1..=host.min(16) as usize)
                .prop_flat_map(|set| {
                    let sorted: Vec<u32> = set.into_iter().collect();
                    (Just(sorted.clone()), Just(sorted).prop_shuffle())
                })
                .prop_map(|(sorted, shuffled)| {
                    let text = shuffled
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(",");
                    (text, sorted)
                });
            (prop_oneof![single, range, list], ws.clone(), ws, Just(host))
                .prop_map(|((text, want), l, r, host)| (format!("{l}{text}{r}"), host, want))
        })
    }

    /// Strings biased towards the characters each parser cares about.
    fn tricky_string() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[0-9,\\- .:/@a-zA-Z_TZ+\u{e9}\u{0}\u{661}]{0,30}",
            "[0-9]{0,4}-[0-9]{0,2}-[0-9]{0,2}[T ][0-9]{0,2}:[0-9]{0,2}:[0-9]{0,2}(\\.[0-9]{0,12})?(Z|[+-][0-9]{2}:[0-9]{2})?",
        ]
    }

    #[test]
    fn go_durations_job_timeout_1() {
        let ok = |t: &str| go_duration(t).unwrap_or_else(|e| panic!("{t:?}: {e}"));
        assert_eq!(ok(""), None);
        assert_eq!(ok("0"), None);
        assert_eq!(ok("0s"), None);
        assert_eq!(ok("-0"), None);
        assert_eq!(ok("30s"), Some(Duration::from_secs(30)));
        assert_eq!(ok("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(ok("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(ok(".5s"), Some(Duration::from_millis(500)));
        assert_eq!(ok("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(ok("1us"), Some(Duration::from_micros(1)));
        assert_eq!(ok("1\u{b5}s"), Some(Duration::from_micros(1)));
        assert_eq!(ok("1\u{3bc}s"), Some(Duration::from_micros(1)));
        assert_eq!(ok("+2m3.5s"), Some(Duration::from_millis(123_500)));
        assert_eq!(ok("1ns"), Some(Duration::from_nanos(1)));
        for bad in [
            "5",
            "-1s",
            "abc",
            "1x",
            "30 s",
            "s",
            ".s",
            "1h-2m",
            "99999999999h",
            "+",
            "-",
        ] {
            assert!(go_duration(bad).is_err(), "{bad:?} must be refused");
        }
        assert_eq!(ok("2562047h"), Some(Duration::from_secs(2_562_047 * 3600)));
        assert!(go_duration("2562048h").is_err());
    }

    proptest! {
        /// JOB-TIMEOUT-1: the parser never panics, and a duration written
        /// back in seconds reads as itself.
        #[test]
        fn go_duration_never_panics(text in "\\PC{0,24}") {
            let _ = go_duration(&text);
        }

        #[test]
        fn go_duration_reads_whole_seconds(secs in 1u64..1_000_000_000) {
            prop_assert_eq!(go_duration(&format!("{secs}s")), Ok(Some(Duration::from_secs(secs))));
            let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
            prop_assert_eq!(
                go_duration(&format!("{h}h{m}m{s}s")),
                Ok(Some(Duration::from_secs(secs)))
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn prop_cpu_cores_round_trips((text, host, want) in valid_cpu_spec()) {
            prop_assert_eq!(cpu_cores(&text, host).unwrap(), want);
        }

        #[test]
        fn prop_cpu_cores_never_panics(s in tricky_string(), host in 0u32..=4096) {
            if let Ok(cores) = cpu_cores(&s, host) {
                prop_assert!(cores.windows(2).all(|w| w[0] < w[1]));
                prop_assert!(cores.iter().all(|&c| c < host));
            }
        }

        #[test]
        fn prop_schedule_round_trips_rfc3339(
            secs in -30_000_000_000i64..=250_000_000_000,
            nanos in 0u32..1_000_000_000,
            offset_min in -1439i32..=1439,
            fmt in 0usize..4,
        ) {
            let offset = FixedOffset::east_opt(offset_min * 60).unwrap();
            let dt = DateTime::from_timestamp(secs, nanos).unwrap().with_timezone(&offset);
            let text = match fmt {
                0 => dt.to_rfc3339(),
                1 => dt.to_rfc3339_opts(SecondsFormat::Secs, true),
                2 => dt.to_rfc3339_opts(SecondsFormat::Millis, true),
                _ => dt.to_rfc3339_opts(SecondsFormat::Nanos, false),
            };
            let got = schedule(&text, Local::now()).unwrap();
            let want = match fmt {
                1 => dt.with_nanosecond(0).unwrap(),
                2 => dt.with_nanosecond(nanos / 1_000_000 * 1_000_000).unwrap(),
                _ => dt,
            };
            prop_assert_eq!(got, want);
            prop_assert_eq!(got.offset(), want.offset());
        }

        #[test]
        fn prop_schedule_round_trips_naive(
            year in 1000i32..=9999,
            ordinal in 1u32..=365,
            h in 0u32..24, m in 0u32..60, s in 0u32..60,
            nanos in 0u32..1_000_000_000,
            with_frac in any::<bool>(),
        ) {
            let date = NaiveDate::from_yo_opt(year, ordinal).unwrap();
            let naive = date.and_hms_nano_opt(h, m, s, if with_frac { nanos } else { 0 }).unwrap();
            let mut text = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                date.year(), date.month(), date.day(), h, m, s
            );
            if with_frac {
                text.push_str(&format!(".{nanos:09}"));
            }
            match schedule(&text, Local::now()) {
                Ok(got) => {
                    prop_assert_eq!(got.naive_local(), naive);
                    let earliest = match Local.from_local_datetime(&naive) {
                        LocalResult::Single(t) => t,
                        LocalResult::Ambiguous(a, b) => a.min(b),
                        LocalResult::None => unreachable!("accepted a nonexistent time"),
                    };
                    prop_assert_eq!(got, earliest.fixed_offset());
                }
                Err(e) => {
                    // Only a local time skipped by a DST change may fail.
                    prop_assert!(Local.from_local_datetime(&naive).earliest().is_none(), "{}", e);
                }
            }
        }

        #[test]
        fn prop_schedule_never_panics(s in tricky_string()) {
            if let Err(e) = schedule(&s, Local::now()) {
                prop_assert_eq!(e.code(), tonic::Code::InvalidArgument);
            }
        }

        #[test]
        fn prop_env_name_matches_regex(s in prop_oneof![any::<String>(), "[A-Za-z0-9_\\-é ]{0,8}"]) {
            let mut chars = s.chars();
            let first_ok = matches!(chars.next(), Some('A'..='Z' | 'a'..='z' | '_'));
            let rest_ok = chars.all(|c| matches!(c, 'A'..='Z' | 'a'..='z' | '0'..='9' | '_'));
            prop_assert_eq!(env_name("environment", &s).is_ok(), first_ok && rest_ok);
        }

        #[test]
        fn prop_env_name_accepts_identifiers(s in "[A-Za-z_][A-Za-z0-9_]{0,40}") {
            prop_assert!(env_name("environment", &s).is_ok());
        }

        #[test]
        fn prop_upload_path_output_is_clean(s in prop_oneof![
            any::<String>(),
            "[a./\\\\\u{0}é]{0,16}",
            prop::collection::vec(prop::sample::select(vec!["a", "b", ".", "..", "", "...", "\\", "é"]), 0..8)
                .prop_map(|v| v.join("/")),
        ]) {
            if let Ok(p) = upload_path(&s) {
                prop_assert!(!p.is_empty());
                prop_assert!(!p.starts_with('/'));
                prop_assert!(!p.contains('\0'));
                prop_assert!(p.split('/').all(|c| !c.is_empty() && c != "." && c != ".."), "{:?}", p);
                prop_assert_eq!(upload_path(&p).unwrap(), p);
            } else {
                let has_named = s.split('/').any(|c| !c.is_empty() && c != ".");
                let clean = !s.starts_with('/') && !s.contains('\0') && s.split('/').all(|c| c != "..");
                prop_assert!(!(clean && has_named), "{:?} should be accepted", s);
            }
        }

        #[test]
        fn prop_upload_path_normalises_separators(
            parts in prop::collection::vec("[a-z0-9_é\\\\][a-z0-9_.é\\\\]{0,6}", 1..6),
            seps in prop::collection::vec(prop::sample::select(vec!["/", "//", "/./", "/.//"]), 6),
            prefix in prop::sample::select(vec!["", "./", ".//", "././"]),
            suffix in prop::sample::select(vec!["", "/", "/.", "//"]),
        ) {
            prop_assume!(parts.iter().all(|p| p != "." && p != ".."));
            let mut text = prefix.to_string();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    text.push_str(seps[i]);
                }
                text.push_str(p);
            }
            text.push_str(suffix);
            prop_assert_eq!(upload_path(&text).unwrap(), parts.join("/"));
        }

        #[test]
        fn prop_resource_name_matches_rule(s in prop_oneof![any::<String>(), "[A-Za-z0-9_\\-. é]{0,70}"]) {
            let b = s.as_bytes();
            let alnum = |c: &u8| c.is_ascii_alphanumeric();
            let want = (1..=63).contains(&b.len())
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
                && b.first().is_some_and(alnum)
                && b.last().is_some_and(alnum);
            prop_assert_eq!(resource_name("name", &s).is_ok(), want);
        }

        #[test]
        fn prop_cidr_round_trips(ip in any::<u32>(), p in 8u8..=30) {
            let addr = Ipv4Addr::from(ip);
            let got = cidr("cidr", &format!("{addr}/{p}")).unwrap();
            let host_bits = (1u64 << (32 - p)) - 1;
            prop_assert_eq!(got.prefix, p);
            prop_assert_eq!(u64::from(u32::from(got.network)), u64::from(ip) & !host_bits);
            // The normalised form re-parses to itself.
            prop_assert_eq!(cidr("cidr", &format!("{}/{}", got.network, got.prefix)).unwrap(), got);
        }

        #[test]
        fn prop_cidr_rejects_bad_prefixes(ip in any::<u32>(), p in prop_oneof![0u32..8, 31u32..1000]) {
            let text = format!("{}/{p}", Ipv4Addr::from(ip));
            prop_assert!(cidr("cidr", &text).is_err());
        }

        #[test]
        fn prop_cidr_never_panics(s in tricky_string()) {
            let _ = cidr("cidr", &s);
        }

        #[test]
        fn prop_overlap_matches_ranges(a in any::<u32>(), pa in 8u8..=30, b in any::<u32>(), pb in 8u8..=30, near in any::<bool>()) {
            // Half the time put b near a so overlaps are common.
            let b = if near { (a & 0xFF00_0000) | (b & 0x00FF_FFFF) } else { b };
            let x = cidr("cidr", &format!("{}/{pa}", Ipv4Addr::from(a))).unwrap();
            let y = cidr("cidr", &format!("{}/{pb}", Ipv4Addr::from(b))).unwrap();
            let range = |c: &Ipv4Cidr| {
                let start = u64::from(u32::from(c.network));
                (start, start + (1u64 << (32 - c.prefix)) - 1)
            };
            let ((s1, e1), (s2, e2)) = (range(&x), range(&y));
            let want = s1 <= e2 && s2 <= e1;
            prop_assert_eq!(x.overlaps(&y), want);
            prop_assert_eq!(y.overlaps(&x), want);
        }

        #[test]
        fn prop_overlap_brute_force_small(a in 0u32..2048, pa in 22u8..=30, b in 0u32..2048, pb in 22u8..=30) {
            // Small networks within 10.0.0.0/21: enumerate the addresses.
            let base = u32::from(Ipv4Addr::new(10, 0, 0, 0));
            let x = cidr("cidr", &format!("{}/{pa}", Ipv4Addr::from(base + a))).unwrap();
            let y = cidr("cidr", &format!("{}/{pb}", Ipv4Addr::from(base + b))).unwrap();
            let members = |c: &Ipv4Cidr| {
                let start = u32::from(c.network);
                (start..start + (1u32 << (32 - c.prefix))).collect::<std::collections::HashSet<u32>>()
            };
            let want = !members(&x).is_disjoint(&members(&y));
            prop_assert_eq!(x.overlaps(&y), want);
            prop_assert_eq!(y.overlaps(&x), want);
        }

        #[test]
        fn prop_volume_size_round_trips(n in prop_oneof![1u64..=4096, any::<u64>()], unit in 0usize..5, case in any::<u32>()) {
            let (name, mult) = UNITS[unit];
            let text = format!("{n}{}", random_case(name, case));
            match n.checked_mul(mult) {
                Some(bytes) if n > 0 => prop_assert_eq!(volume_size(&text).unwrap(), bytes),
                _ => prop_assert!(volume_size(&text).is_err()),
            }
        }

        #[test]
        fn prop_volume_size_fraction_rounds_down(int in 0u64..100_000, frac in "[0-9]{1,12}", unit in 0usize..5) {
            let (name, mult) = UNITS[unit];
            let text = format!("{int}.{frac}{name}");
            let scale = 10u128.pow(frac.len() as u32);
            let exact = (u128::from(int) * scale + frac.parse::<u128>().unwrap()) * u128::from(mult) / scale;
            match volume_size(&text) {
                Ok(bytes) => prop_assert_eq!(u128::from(bytes), exact),
                Err(_) => prop_assert_eq!(exact, 0),
            }
        }

        #[test]
        fn prop_volume_size_never_panics(s in prop_oneof![tricky_string(), "[0-9.]{0,30}[kKmMgGtTbBiI ]{0,3}"]) {
            if let Ok(bytes) = volume_size(&s) {
                prop_assert!(bytes > 0);
            }
        }

        #[test]
        fn prop_runtime_spec_normalized_reparses(
            lang in prop::sample::select(RUNTIME_LANGUAGES.to_vec()),
            version in "[0-9a-z.]{1,6}",
            variants in prop::collection::vec("[a-z0-9_.]{1,5}", 0..4),
            arch in prop::option::of(prop::sample::select(RUNTIME_ARCHITECTURES.to_vec())),
        ) {
            let mut text = format!("{lang}:{version}");
            for v in &variants {
                text.push('-');
                text.push_str(v);
            }
            if let Some(a) = arch {
                text.push('@');
                text.push_str(a);
            }
            let parsed = runtime_spec(&text).unwrap();
            prop_assert_eq!(&parsed.language, lang);
            prop_assert_eq!(&parsed.version, &version);
            prop_assert_eq!(&parsed.variants, &variants);
            prop_assert_eq!(parsed.architecture.as_str(), arch.unwrap_or("amd64"));
            let norm = parsed.normalized();
            prop_assert_eq!(runtime_spec(&norm).unwrap(), parsed.clone());
            prop_assert_eq!(runtime_spec(&norm).unwrap().normalized(), norm);
        }

        #[test]
        fn prop_runtime_spec_never_panics(s in prop_oneof![tricky_string(), "[a-z]{0,7}[:@-]{0,2}[0-9.a-z_]{0,5}[:@-]{0,2}[a-z0-9_]{0,6}"]) {
            if let Ok(parsed) = runtime_spec(&s) {
                prop_assert_eq!(runtime_spec(&parsed.normalized()).unwrap(), parsed);
            }
        }
    }
}
