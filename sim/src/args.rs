//! Options and operands of the text tools (`head`, `tail`, `wc`, `sleep`,
//! `seq`), as GNU coreutils reads them; also which pipeline stages can run
//! as streaming filters.

use std::time::Duration;

use crate::io::{Filter, WcCounts, WcWhat};
use crate::shell::builtin_name;

/// What `head`/`tail` count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Lines,
    Bytes,
}

/// Parses a count with GNU size suffixes (`K`, `MiB`, `kB`, `b`, …).
pub(crate) fn parse_count(s: &str) -> Option<u64> {
    let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if digits_end == 0 {
        return None;
    }
    let n: u64 = s[..digits_end].parse().ok()?;
    let mult: u64 = match &s[digits_end..] {
        "" => 1,
        "b" => 512,
        "kB" | "KB" => 1000,
        "k" | "K" | "KiB" => 1 << 10,
        "MB" => 1_000_000,
        "M" | "MiB" => 1 << 20,
        "GB" => 1_000_000_000,
        "G" | "GiB" => 1 << 30,
        "TB" => 1_000_000_000_000,
        "T" | "TiB" => 1 << 40,
        "P" | "PiB" => 1 << 50,
        "E" | "EiB" => 1 << 60,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// `head`/`tail` options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeadTail {
    pub unit: Unit,
    pub n: u64,
    /// `head -n -N` (all but the last N) / `tail -n +N` (from the Nth).
    pub other_end: bool,
    pub follow: bool,
    pub files: Vec<String>,
    pub headers: Option<bool>,
}

pub(crate) fn parse_head_tail(tool: &str, args: &[String]) -> Result<HeadTail, String> {
    let mut o = HeadTail {
        unit: Unit::Lines,
        n: 10,
        other_end: false,
        follow: false,
        files: Vec::new(),
        headers: None,
    };
    let mut i = 0;
    let mut only_files = false;
    let set = |o: &mut HeadTail, unit: Unit, v: &str| -> Result<(), String> {
        let what = if unit == Unit::Lines {
            "lines"
        } else {
            "bytes"
        };
        let (other, num) = if tool == "head" {
            match v.strip_prefix('-') {
                Some(r) => (true, r),
                None => (false, v),
            }
        } else {
            match v.strip_prefix('+') {
                Some(r) => (true, r),
                None => (false, v.strip_prefix('-').unwrap_or(v)),
            }
        };
        let n =
            parse_count(num).ok_or_else(|| format!("{tool}: invalid number of {what}: '{v}'"))?;
        o.unit = unit;
        o.n = n;
        o.other_end = other;
        Ok(())
    };
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if only_files || a == "-" || !a.starts_with('-') {
            o.files.push(a.clone());
            continue;
        }
        if a == "--" {
            only_files = true;
            continue;
        }
        if let Some(v) = a.strip_prefix("--lines=") {
            set(&mut o, Unit::Lines, v)?;
            continue;
        }
        if let Some(v) = a.strip_prefix("--bytes=") {
            set(&mut o, Unit::Bytes, v)?;
            continue;
        }
        match a.as_str() {
            "--quiet" | "--silent" => {
                o.headers = Some(false);
                continue;
            }
            "--verbose" => {
                o.headers = Some(true);
                continue;
            }
            "--follow" => {
                o.follow = true;
                continue;
            }
            _ => {}
        }
        let body = &a[1..];
        if body.bytes().all(|b| b.is_ascii_digit()) {
            // -N
            set(&mut o, Unit::Lines, body)?;
            continue;
        }
        for (pos, c) in body.char_indices() {
            match c {
                'n' | 'c' => {
                    let unit = if c == 'n' { Unit::Lines } else { Unit::Bytes };
                    let rest = &body[pos + 1..];
                    let v = if rest.is_empty() {
                        let Some(v) = args.get(i) else {
                            return Err(format!(
                                "{tool}: option requires an argument -- '{c}'\nTry '{tool} --help' for more information."
                            ));
                        };
                        i += 1;
                        v.clone()
                    } else {
                        rest.to_owned()
                    };
                    set(&mut o, unit, &v)?;
                    break;
                }
                'q' => o.headers = Some(false),
                'v' => o.headers = Some(true),
                'f' | 'F' if tool == "tail" => o.follow = true,
                _ => {
                    return Err(format!(
                        "{tool}: invalid option -- '{c}'\nTry '{tool} --help' for more information."
                    ));
                }
            }
        }
    }
    Ok(o)
}

/// `wc` options.
pub(crate) fn parse_wc(args: &[String]) -> Result<(WcWhat, Vec<String>), String> {
    let mut what = WcWhat::default();
    let mut files = Vec::new();
    let mut only_files = false;
    for a in args {
        if only_files || a == "-" || !a.starts_with('-') {
            files.push(a.clone());
            continue;
        }
        match a.as_str() {
            "--" => only_files = true,
            "--lines" => what.lines = true,
            "--words" => what.words = true,
            "--chars" => what.chars = true,
            "--bytes" => what.bytes = true,
            _ if !a.starts_with("--") => {
                for c in a[1..].chars() {
                    match c {
                        'l' => what.lines = true,
                        'w' => what.words = true,
                        'm' => what.chars = true,
                        'c' => what.bytes = true,
                        _ => {
                            return Err(format!(
                                "wc: invalid option -- '{c}'\nTry 'wc --help' for more information."
                            ));
                        }
                    }
                }
            }
            _ => {
                return Err(format!(
                    "wc: unrecognized option '{a}'\nTry 'wc --help' for more information."
                ));
            }
        }
    }
    if what == WcWhat::default() {
        what = WcWhat {
            lines: true,
            words: true,
            chars: false,
            bytes: true,
        };
    }
    Ok((what, files))
}

/// Recognises a pipeline stage that can run as a streaming filter of the
/// previous stage's output: `head`, `tail`, `wc`, `cat` reading stdin.
pub(crate) fn stream_filter(argv: &[String]) -> Option<Filter> {
    let (name, args) = argv.split_first()?;
    match builtin_name(name)? {
        "cat" => args.iter().all(|a| a == "-").then_some(Filter::Cat),
        "head" => {
            let o = parse_head_tail("head", args).ok()?;
            if o.other_end || !o.files.iter().all(|f| f == "-") || o.files.len() > 1 {
                return None;
            }
            Some(match o.unit {
                Unit::Lines => Filter::HeadLines(o.n),
                Unit::Bytes => Filter::HeadBytes(o.n),
            })
        }
        "tail" => {
            let o = parse_head_tail("tail", args).ok()?;
            if o.other_end || o.follow || !o.files.iter().all(|f| f == "-") || o.files.len() > 1 {
                return None;
            }
            Some(match o.unit {
                Unit::Lines => Filter::TailLines {
                    n: o.n,
                    buf: Default::default(),
                },
                Unit::Bytes => Filter::TailBytes {
                    n: o.n,
                    buf: Default::default(),
                },
            })
        }
        "wc" => {
            let (what, files) = parse_wc(args).ok()?;
            files.iter().all(|f| f == "-").then_some(())?;
            (files.len() <= 1).then_some(Filter::Wc {
                what,
                counts: WcCounts::default(),
            })
        }
        _ => None,
    }
}

/// Parses `sleep` operands: the total, or `None` for `infinity`.
pub(crate) fn parse_sleep(args: &[String]) -> Result<Option<Duration>, String> {
    let help = "Try 'sleep --help' for more information.";
    if args.is_empty() {
        return Err(format!("sleep: missing operand\n{help}"));
    }
    let mut total = 0f64;
    for a in args {
        if a.len() > 1 && a.starts_with('-') && a.parse::<f64>().is_ok() {
            let c = a.chars().nth(1).unwrap_or('-');
            return Err(format!("sleep: invalid option -- '{c}'\n{help}"));
        }
        let (num, mult) = match a.char_indices().last() {
            Some((i, 's')) => (&a[..i], 1.0),
            Some((i, 'm')) => (&a[..i], 60.0),
            Some((i, 'h')) => (&a[..i], 3600.0),
            Some((i, 'd')) => (&a[..i], 86400.0),
            _ => (a.as_str(), 1.0),
        };
        let lower = num.to_ascii_lowercase();
        if lower == "inf" || lower == "infinity" {
            return Ok(None);
        }
        let ok_chars = !num.is_empty()
            && num
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
        let v: f64 = match num.parse::<f64>() {
            Ok(v) if ok_chars && v.is_finite() && v >= 0.0 => v,
            _ => return Err(format!("sleep: invalid time interval '{a}'\n{help}")),
        };
        total += v * mult;
    }
    if !total.is_finite() || total > 1e12 {
        return Ok(None);
    }
    Ok(Duration::try_from_secs_f64(total).ok())
}

/// How `seq` counts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SeqPlan {
    /// Integers (exact).
    Int { first: i64, step: i64, last: i64 },
    /// Decimals printed with `prec` digits after the point.
    Float {
        first: f64,
        step: f64,
        last: f64,
        prec: usize,
    },
}

/// `seq` options and operands.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Seq {
    pub plan: SeqPlan,
    pub sep: String,
    pub equal_width: bool,
    pub format: Option<String>,
}

fn frac_digits(s: &str) -> usize {
    let lower = s.to_ascii_lowercase();
    let (mant, exp) = match lower.split_once('e') {
        Some((m, e)) => (m, e.parse::<i64>().unwrap_or(0)),
        None => (lower.as_str(), 0),
    };
    let frac = mant.split_once('.').map_or(0, |(_, f)| f.len()) as i64;
    (frac - exp).clamp(0, 64) as usize
}

/// Parses `seq` arguments.
pub(crate) fn parse_seq(args: &[String]) -> Result<Seq, String> {
    let help = "Try 'seq --help' for more information.";
    let mut sep = "\n".to_owned();
    let mut equal_width = false;
    let mut format = None;
    let mut nums: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        let numeric = a.parse::<f64>().is_ok();
        if !numeric && a.starts_with('-') && a.len() > 1 && nums.is_empty() {
            match a.as_str() {
                "-w" | "--equal-width" => equal_width = true,
                "-s" | "-f" => {
                    let Some(v) = args.get(i) else {
                        return Err(format!(
                            "seq: option requires an argument -- '{}'\n{help}",
                            &a[1..]
                        ));
                    };
                    i += 1;
                    if a == "-s" {
                        sep = v.clone();
                    } else {
                        format = Some(v.clone());
                    }
                }
                "--" => {}
                _ => {
                    if let Some(v) = a.strip_prefix("--separator=") {
                        sep = v.to_owned();
                    } else if let Some(v) = a.strip_prefix("-s") {
                        sep = v.to_owned();
                    } else if let Some(v) = a.strip_prefix("--format=") {
                        format = Some(v.to_owned());
                    } else if let Some(v) = a.strip_prefix("-f") {
                        format = Some(v.to_owned());
                    } else {
                        return Err(format!("seq: invalid option -- '{}'\n{help}", &a[1..2]));
                    }
                }
            }
            continue;
        }
        nums.push(a);
    }
    if nums.is_empty() {
        return Err(format!("seq: missing operand\n{help}"));
    }
    if nums.len() > 3 {
        return Err(format!("seq: extra operand '{}'\n{help}", nums[3]));
    }
    let (first, step, last) = match nums.len() {
        1 => ("1", "1", nums[0]),
        2 => (nums[0], "1", nums[1]),
        _ => (nums[0], nums[1], nums[2]),
    };
    let parse = |s: &str| -> Result<f64, String> {
        let t = s.trim();
        let lower = t.to_ascii_lowercase();
        let ok = !t.is_empty()
            && (t
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
                || matches!(lower.trim_start_matches(['+', '-']), "inf" | "infinity"));
        match t.parse::<f64>() {
            Ok(v) if ok && !v.is_nan() => Ok(v),
            _ => Err(format!(
                "seq: invalid floating point argument: '{s}'\n{help}"
            )),
        }
    };
    let (f, s, l) = (parse(first)?, parse(step)?, parse(last)?);
    if s == 0.0 {
        return Err(format!(
            "seq: invalid Zero increment value: '{step}'\n{help}"
        ));
    }
    if !f.is_finite() || !s.is_finite() {
        return Err(format!(
            "seq: invalid floating point argument: '{}'\n{help}",
            if f.is_finite() { step } else { first }
        ));
    }
    let is_int = |t: &str| {
        let t = t.trim().strip_prefix(['+', '-']).unwrap_or(t.trim());
        !t.is_empty() && t.len() <= 18 && t.bytes().all(|b| b.is_ascii_digit())
    };
    let plan = if is_int(first) && is_int(step) && (is_int(last) || l.is_infinite()) {
        let li = if l.is_infinite() {
            if l > 0.0 { i64::MAX } else { i64::MIN }
        } else {
            l as i64
        };
        SeqPlan::Int {
            first: f as i64,
            step: s as i64,
            last: li,
        }
    } else {
        SeqPlan::Float {
            first: f,
            step: s,
            last: l,
            prec: frac_digits(first).max(frac_digits(step)),
        }
    };
    Ok(Seq {
        plan,
        sep,
        equal_width,
        format,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count("10"), Some(10));
        assert_eq!(parse_count("1K"), Some(1024));
        assert_eq!(parse_count("1kB"), Some(1000));
        assert_eq!(parse_count("1G"), Some(1 << 30));
        assert_eq!(parse_count("2MiB"), Some(2 << 20));
        assert_eq!(parse_count("x"), None);
        assert_eq!(parse_count("99999999999999999999"), None);
    }

    #[test]
    fn sleep_parsing() {
        assert_eq!(parse_sleep(&s(&["1"])), Ok(Some(Duration::from_secs(1))));
        assert_eq!(
            parse_sleep(&s(&["0.1"])),
            Ok(Some(Duration::from_millis(100)))
        );
        assert_eq!(
            parse_sleep(&s(&["1m", "1s"])),
            Ok(Some(Duration::from_secs(61)))
        );
        assert_eq!(
            parse_sleep(&s(&["2h"])),
            Ok(Some(Duration::from_secs(7200)))
        );
        assert_eq!(
            parse_sleep(&s(&[".5"])),
            Ok(Some(Duration::from_millis(500)))
        );
        assert_eq!(parse_sleep(&s(&["infinity"])), Ok(None));
        assert_eq!(
            parse_sleep(&s(&["1e3"])),
            Ok(Some(Duration::from_secs(1000)))
        );
        assert!(
            parse_sleep(&s(&["abc"]))
                .unwrap_err()
                .starts_with("sleep: invalid time interval 'abc'")
        );
        assert!(parse_sleep(&s(&["-1"])).is_err());
        assert!(parse_sleep(&s(&["nan"])).is_err());
        assert!(
            parse_sleep(&[])
                .unwrap_err()
                .starts_with("sleep: missing operand")
        );
    }

    #[test]
    fn seq_parsing() {
        assert_eq!(
            parse_seq(&s(&["3"])).unwrap().plan,
            SeqPlan::Int {
                first: 1,
                step: 1,
                last: 3
            }
        );
        assert_eq!(
            parse_seq(&s(&["-5", "5"])).unwrap().plan,
            SeqPlan::Int {
                first: -5,
                step: 1,
                last: 5
            }
        );
        assert_eq!(
            parse_seq(&s(&["1", "0.5", "3"])).unwrap().plan,
            SeqPlan::Float {
                first: 1.0,
                step: 0.5,
                last: 3.0,
                prec: 1
            }
        );
        let w = parse_seq(&s(&["-w", "-s", ",", "8", "11"])).unwrap();
        assert!(w.equal_width);
        assert_eq!(w.sep, ",");
        assert!(
            parse_seq(&[])
                .unwrap_err()
                .starts_with("seq: missing operand")
        );
        assert!(
            parse_seq(&s(&["abc"]))
                .unwrap_err()
                .contains("invalid floating point argument: 'abc'")
        );
        assert!(
            parse_seq(&s(&["1", "0", "3"]))
                .unwrap_err()
                .contains("Zero increment")
        );
    }

    #[test]
    fn head_options() {
        let o = parse_head_tail("head", &s(&["-n", "5", "f"])).unwrap();
        assert_eq!((o.unit, o.n, o.files.clone()), (Unit::Lines, 5, s(&["f"])));
        let o = parse_head_tail("head", &s(&["-c1G"])).unwrap();
        assert_eq!((o.unit, o.n), (Unit::Bytes, 1 << 30));
        let o = parse_head_tail("head", &s(&["-3"])).unwrap();
        assert_eq!(o.n, 3);
        let o = parse_head_tail("tail", &s(&["-n", "+2"])).unwrap();
        assert!(o.other_end);
        assert!(
            parse_head_tail("head", &s(&["-n", "abc"]))
                .unwrap_err()
                .contains("invalid number of lines: 'abc'")
        );
        assert!(stream_filter(&s(&["head", "-n", "3"])).is_some());
        assert!(stream_filter(&s(&["/usr/bin/wc", "-l"])).is_some());
        assert!(stream_filter(&s(&["head", "-n", "3", "file"])).is_none());
        assert!(stream_filter(&s(&["cat"])).is_some());
        assert!(stream_filter(&s(&["cat", "x"])).is_none());
        assert!(stream_filter(&s(&["grep", "x"])).is_none());
    }

    proptest! {
        #[test]
        fn sleep_parser_never_panics(args in proptest::collection::vec(".{0,10}", 0..4)) {
            let _ = parse_sleep(&args);
        }

        #[test]
        fn sleep_seconds_roundtrip(ms in 0u64..10_000_000) {
            let arg = format!("{}.{:03}", ms / 1000, ms % 1000);
            let d = parse_sleep(&[arg]).unwrap().unwrap();
            prop_assert!((d.as_secs_f64() - ms as f64 / 1000.0).abs() < 1e-6);
        }

        #[test]
        fn seq_parser_never_panics(args in proptest::collection::vec("[-+0-9.eEwsf,a-z]{0,8}", 0..5)) {
            let _ = parse_seq(&args);
        }

        #[test]
        fn head_parser_never_panics(args in proptest::collection::vec("[-+0-9nckqvKMG=a-z]{0,8}", 0..4)) {
            let _ = parse_head_tail("head", &args);
            let _ = parse_head_tail("tail", &args);
            let _ = stream_filter(&args);
        }
    }
}
