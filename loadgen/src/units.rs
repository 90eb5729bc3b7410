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

/// Checks a job timeout as Go's `time.ParseDuration` writes it (what a
/// Joblet node parses RunJob's `timeout` with): one or more `NUMBER UNIT`
/// with units `ns`, `us` (`µs`), `ms`, `s`, `m`, `h` and no spaces (`30s`,
/// `1m30s`, `1.5h`); every number needs its unit. It must be above 0 (a node
/// refuses a negative one, and 0 means none) and at most Go's 2562047h.
pub(crate) fn go_duration(text: &str) -> Result<Duration, UnitError> {
    let bad = |reason: &str| err("timeout", text, reason);
    if text.is_empty() {
        return Err(bad("empty (write e.g. 30s, 5m, 1h30m)"));
    }
    if text.starts_with(['-', '+']) {
        return Err(bad("must be above 0, without a sign"));
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, after) = rest.split_at(num_len);
        let value: f64 = match num {
            "" | "." => return Err(bad("expected a number (Go syntax: 30s, 1m30s, 500ms)")),
            n => n
                .parse()
                .map_err(|_| bad("expected a number (Go syntax: 30s, 1m30s, 500ms)"))?,
        };
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let nanos = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(bad("a number without its unit (ns, us, ms, s, m, h)")),
            _ => return Err(bad("unknown unit (Go syntax: ns, us, ms, s, m, h)")),
        };
        total += value * nanos;
        rest = next;
    }
    // Go's largest duration: 2^63 - 1 ns (about 2562047h).
    if total >= 9.223_372_036_854_775e18 {
        return Err(bad("out of range (at most 2562047h)"));
    }
    if total < 1.0 {
        return Err(bad("must be above 0 (leave --job-timeout out for none)"));
    }
    Ok(Duration::from_nanos(total as u64))
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

    #[test]
    fn job_timeouts_are_go_durations_job_timeout_1() {
        let ok = |t: &str| go_duration(t).unwrap_or_else(|e| panic!("{t:?}: {e}"));
        assert_eq!(ok("30s"), Duration::from_secs(30));
        assert_eq!(ok("1m30s"), Duration::from_secs(90));
        assert_eq!(ok("1.5h"), Duration::from_secs(5400));
        assert_eq!(ok("250ms"), Duration::from_millis(250));
        assert_eq!(ok("2us"), Duration::from_micros(2));
        for bad in [
            "", "30", "-5s", "+5s", "0s", "5 s", "5sec", "s", "1m30", "abc", "2562048h", ".s",
        ] {
            let e = go_duration(bad).expect_err(bad);
            assert_eq!(e.what, "timeout", "{bad:?}");
        }
    }
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
