//! The shapes of identifiers and times the contract promises: version-4
//! UUIDs and job times.

/// Whether `s` is a lower-case RFC 4122 version-4 UUID.
pub(crate) fn is_v4_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            14 => *c == b'4',
            19 => matches!(c, b'8' | b'9' | b'a' | b'b'),
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        })
}

/// Whether `s` is a job time: RFC 3339 with whole seconds and an offset
/// (`2025-09-28T10:15:00+02:00` or `…Z`).
pub(crate) fn is_job_time(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 20 {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let head = digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    let tail = &s[19..];
    let offset = tail == "Z"
        || (tail.len() == 6
            && matches!(tail.as_bytes()[0], b'+' | b'-')
            && tail.as_bytes()[3] == b':'
            && tail[1..3].bytes().all(|c| c.is_ascii_digit())
            && tail[4..6].bytes().all(|c| c.is_ascii_digit()));
    head && offset && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn uuids_and_times() {
        assert!(is_v4_uuid("3f2a1c9e-0b1d-4c6e-8f00-123456789abc"));
        assert!(!is_v4_uuid("3F2A1C9E-0B1D-4C6E-8F00-123456789ABC"));
        assert!(!is_v4_uuid("3f2a1c9e-0b1d-1c6e-8f00-123456789abc"));
        assert!(is_job_time("2025-09-28T10:15:00+02:00"));
        assert!(is_job_time("2025-09-28T10:15:00Z"));
        assert!(!is_job_time("2025-09-28T10:15:00.000+02:00"));
        assert!(!is_job_time("2025-09-28 10:15:00"));
        assert!(!is_job_time(""));
    }

    proptest! {
        #[test]
        fn generated_v4_uuids_pass(_x in 0u8..8) {
            prop_assert!(is_v4_uuid(&uuid::Uuid::new_v4().to_string()));
        }

        #[test]
        fn times_with_fractions_fail(secs in 0i64..4_000_000_000, ms in 1u32..1000) {
            let t = chrono::DateTime::from_timestamp(secs, ms * 1_000_000).unwrap();
            prop_assert!(is_job_time(&t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
            prop_assert!(!is_job_time(&t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)));
        }
    }
}
