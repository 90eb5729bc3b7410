//! Timestamps as the wire shows them: RFC 3339 in the server's offset with
//! whole seconds (ALL-3), and in UTC with milliseconds for the control API.

use chrono::{DateTime, Local, SecondsFormat, TimeZone, Utc};

/// Unix seconds as RFC 3339 with whole seconds in the server's offset (ALL-3),
/// as Go's `time.RFC3339`; empty when out of range.
pub fn rfc3339(secs: i64) -> String {
    Local
        .timestamp_opt(secs, 0)
        .single()
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// [`rfc3339`] of a time that may be unset (empty then).
pub fn rfc3339_opt(secs: Option<i64>) -> String {
    secs.map(rfc3339).unwrap_or_default()
}

/// Unix milliseconds as RFC 3339 in UTC with milliseconds (the raw number when
/// out of range).
pub fn rfc3339_ms(unix_ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(unix_ms).map_or_else(
        || unix_ms.to_string(),
        |t| t.to_rfc3339_opts(SecondsFormat::Millis, true),
    )
}

/// Unix seconds as RFC 3339 with milliseconds in the server's offset (the
/// ALL-3 mutant's timestamps); empty when out of range.
pub fn rfc3339_local_ms(secs: i64) -> String {
    Local
        .timestamp_opt(secs, 0)
        .single()
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}
