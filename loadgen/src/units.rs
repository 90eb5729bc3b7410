//! Durations (`500ms`, `10s`, `1m30s`), byte sizes (`64MiB`, `1G`) and rates
//! as flags and plans write them.

use std::time::Duration;

/// A value that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {value:?}: {reason}")]
pub(crate) struct UnitError {
    /// What was being read (`duration`).
    pub what: &'static str,
    /// The text given.
    pub value: String,
    /// Why it is not valid.
    pub reason: String,
}

fn err(what: &'static str, value: &str, reason: impl Into<String>) -> UnitError {
    UnitError {
        what,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

/// Parses a duration ([`joblet_testkit::parse_duration`]: `1m30s`, `0.5s`,
/// `250ms`; a bare number is seconds).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    joblet_testkit::parse_duration(text).map_err(|reason| err("duration", text, reason))
}

/// Parses a byte size: a number with an optional unit `K`/`KiB` (1024),
/// `M`/`MiB`, `G`/`GiB`, `KB`/`MB`/`GB` (powers of 1000), or `B`.
pub(crate) fn parse_bytes(text: &str) -> Result<u64, UnitError> {
    let s = text.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| {
        err(
            "size",
            text,
            "expected a number with an optional unit (64MiB, 1G, 4096)",
        )
    })?;
    let scale: f64 = match unit.trim() {
        "" | "B" | "b" => 1.0,
        "K" | "k" | "KiB" | "Ki" => 1024.0,
        "M" | "MiB" | "Mi" => 1024.0 * 1024.0,
        "G" | "GiB" | "Gi" => 1024.0 * 1024.0 * 1024.0,
        "KB" | "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        u => {
            return Err(err(
                "size",
                text,
                format!("unknown unit {u:?} (B, KiB, MiB, GiB, KB, MB, GB)"),
            ));
        }
    };
    let v = n * scale;
    if !v.is_finite() || v < 0.0 || v > u64::MAX as f64 || v.fract() != 0.0 {
        return Err(err("size", text, "must be a whole number of bytes"));
    }
    Ok(v as u64)
}

/// Parses a fraction: `5%` or `0.05` (between 0 and 1, exclusive of 0).
pub(crate) fn parse_fraction(text: &str) -> Result<f64, UnitError> {
    let s = text.trim();
    let (num, scale) = match s.strip_suffix('%') {
        Some(n) => (n.trim(), 0.01),
        None => (s, 1.0),
    };
    let v = num.parse::<f64>().map_err(|_| {
        err(
            "fraction",
            text,
            "expected a percentage (5%) or a fraction (0.05)",
        )
    })? * scale;
    if !(v.is_finite() && v > 0.0 && v < 1.0) {
        return Err(err("fraction", text, "must be above 0 and below 100%"));
    }
    Ok(v)
}

/// Formats a rate per second for tables (`4850/s`, `12.5/s`).
pub(crate) fn format_rate(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}/s")
    } else {
        format!("{}/s", trim_float(r, 1))
    }
}

/// Formats a duration compactly (`1.5s`, `250ms`, `2m0s`).
pub(crate) fn format_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 60.0 {
        let m = (s / 60.0).floor();
        format!("{}m{}s", m as u64, (s - m * 60.0).round() as u64)
    } else if s >= 1.0 {
        format!("{}s", trim_float(s, 3))
    } else {
        format!("{}ms", trim_float(s * 1e3, 3))
    }
}

/// Formats a float with at most `decimals` decimals and no trailing zeros.
pub(crate) fn trim_float(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// Formats milliseconds for tables (`0.951`, `12.3`, `1520`).
pub(crate) fn format_ms(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0}")
    } else if ms >= 10.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1h 2m"), Ok(Duration::from_secs(3720)));
        for bad in ["", "x", "10 parsecs", "-1s", "5d", "s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_bytes("64MiB"), Ok(64 << 20));
        assert_eq!(parse_bytes("1G"), Ok(1 << 30));
        assert_eq!(parse_bytes("1073741824"), Ok(1 << 30));
        assert_eq!(parse_bytes("2MB"), Ok(2_000_000));
        assert!(parse_bytes("1.5B").is_err());
        assert!(parse_bytes("3 parsecs").is_err());
    }

    #[test]
    fn fractions_parse() {
        assert_eq!(parse_fraction("5%"), Ok(0.05));
        assert_eq!(parse_fraction("0.1"), Ok(0.1));
        assert_eq!(parse_fraction(" 2.5 % "), Ok(0.025));
        for bad in ["", "0", "0%", "100%", "1", "-5%", "x", "NaN"] {
            assert!(parse_fraction(bad).is_err(), "{bad}");
        }
        assert_eq!(format_rate(4850.4), "4850/s");
        assert_eq!(format_rate(12.5), "12.5/s");
    }

    proptest! {
        #[test]
        fn whole_milliseconds_round_trip(ms in 0u64..10_000_000) {
            prop_assert_eq!(parse_duration(&format!("{ms}ms")), Ok(Duration::from_millis(ms)));
        }

        #[test]
        fn duration_parser_never_panics(s in "\\PC{0,12}") {
            let _ = parse_duration(&s);
            let _ = parse_bytes(&s);
            let _ = parse_fraction(&s);
        }
    }
}
