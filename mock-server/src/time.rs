//! Timestamps as the wire shows them: RFC 3339 in the server's offset with
//! whole seconds (ALL-3), and in UTC with milliseconds for the control API.

use chrono::{DateTime, Local, SecondsFormat, TimeZone, Utc};

/// Unix seconds as RFC 3339 with whole seconds in the server's offset (ALL-3),
/// as Go's `time.RFC3339`; empty when out of range.
///
/// The last second formatted is kept per thread: RunJob and the status calls
/// mostly show the current second, and the local offset's look-up costs more
/// than the copy.
pub fn rfc3339(secs: i64) -> String {
    thread_local! {
        static LAST: std::cell::RefCell<Option<(i64, String)>> =
            const { std::cell::RefCell::new(None) };
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        match &*last {
            Some((s, text)) if *s == secs => text.clone(),
            _ => {
                let text = format_rfc3339(secs);
                *last = Some((secs, text.clone()));
                text
            }
        }
    })
}

fn format_rfc3339(secs: i64) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_kept_per_second_matches_a_fresh_formatting_all_3() {
        for secs in [
            1_700_000_000,
            1_700_000_000,
            1_700_000_001,
            0,
            1_700_000_001,
        ] {
            let shown = rfc3339(secs);
            assert_eq!(shown, format_rfc3339(secs), "{secs}");
            assert!(DateTime::parse_from_rfc3339(&shown).is_ok(), "{shown}");
        }
        assert_ne!(rfc3339(1_700_000_000), rfc3339(1_700_000_001));
        // Out of range: empty, twice (the kept value does not leak).
        assert_eq!(rfc3339(i64::MAX), "");
        assert_eq!(rfc3339(i64::MAX), "");
        assert_ne!(rfc3339(1_700_000_000), "");
    }
}
