//! Durations as the tools' flags write them.

use std::time::Duration;

/// Parses a duration as the load generator's and the conformance suite's
/// flags and plans write it: a sequence of `NUMBER UNIT` with units `us`, `ms`, `s`,
/// `m`, `h` (`1m30s`, `0.5s`, `250ms`); a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err(reason("empty (write e.g. 10s, 500ms, 1m30s)"));
    }
    if let Ok(secs) = s.parse::<f64>() {
        return secs_to_duration(secs).ok_or_else(|| reason("must be >= 0 and finite"));
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(reason("expected a number (write e.g. 10s, 500ms, 1m30s)"));
        }
        let n: f64 = rest[..num_len].parse().map_err(|_| reason("bad number"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = rest[..unit_len].trim();
        rest = rest[unit_len..].trim_start();
        let scale = match unit {
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" | "sec" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "" => return Err(reason("a unit is missing (us, ms, s, m, h)")),
            u => {
                return Err(reason(format!("unknown unit {u:?} (us, ms, s, m, h)")));
            }
        };
        total += n * scale;
    }
    secs_to_duration(total).ok_or_else(|| reason("out of range"))
}

fn secs_to_duration(secs: f64) -> Option<Duration> {
    (0.0..1e12)
        .contains(&secs)
        .then(|| Duration::from_secs_f64(secs))
}

fn reason(text: impl Into<String>) -> String {
    text.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1h 2m"), Ok(Duration::from_secs(3720)));
        assert!(parse_duration("5x").unwrap_err().contains("unknown unit"));
        for bad in ["", "x", "10 parsecs", "-1s", "-3", "5d", "s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
