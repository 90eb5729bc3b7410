//! `date`: GNU `date +FORMAT` formatting (C locale).

use chrono::{DateTime, Datelike, FixedOffset, Local, Offset, TimeZone, Timelike, Utc};

const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The default format of `date` (C locale): `Sat Nov 28 08:46:32 UTC 2026`.
pub(crate) const DEFAULT_FORMAT: &str = "%a %b %e %H:%M:%S %Z %Y";

/// The time zone abbreviation: `UTC` for offset zero, otherwise `+HH[MM]` as
/// GNU prints for zones without a name.
fn zone_name(offset_secs: i32) -> String {
    if offset_secs == 0 {
        return "UTC".to_owned();
    }
    let sign = if offset_secs < 0 { '-' } else { '+' };
    let a = offset_secs.unsigned_abs();
    let (h, m) = (a / 3600, (a % 3600) / 60);
    if m == 0 {
        format!("{sign}{h:02}")
    } else {
        format!("{sign}{h:02}{m:02}")
    }
}

/// The time `now_ms` (Unix ms, from the session's clock), in UTC or local time.
pub(crate) fn now(utc: bool, now_ms: i64) -> DateTime<FixedOffset> {
    let t = Utc
        .timestamp_millis_opt(now_ms)
        .single()
        .unwrap_or_else(Utc::now);
    if utc {
        t.fixed_offset()
    } else {
        t.with_timezone(&Local).fixed_offset()
    }
}

/// A Unix timestamp as a date in UTC or local time.
pub(crate) fn from_epoch(secs: i64, nanos: u32, utc: bool) -> Option<DateTime<FixedOffset>> {
    let t = Utc.timestamp_opt(secs, nanos).single()?;
    if utc {
        Some(t.fixed_offset())
    } else {
        Some(t.with_timezone(&Local).fixed_offset())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Pad {
    Default,
    None,
    Space,
    Zero,
}

/// One `%` directive of a format: flags, width, colons, conversion.
struct Directive {
    pad: Pad,
    /// `^`: upper case.
    upper: bool,
    /// `#`: the opposite case.
    swap: bool,
    width: Option<usize>,
    /// `:` count (for `%z`).
    colons: usize,
    conv: char,
}

/// Reads the directive after the `%` at `chars[*i - 1]`, moving `i` past it;
/// `None` at the end of the format (nothing to convert).
fn directive(chars: &[char], i: &mut usize) -> Option<Directive> {
    // Flags.
    let mut pad = Pad::Default;
    let mut upper = false;
    let mut swap = false;
    while *i < chars.len() {
        match chars[*i] {
            '-' => pad = Pad::None,
            '_' => pad = Pad::Space,
            '0' => pad = Pad::Zero,
            '^' => upper = true,
            '#' => swap = true,
            '+' => pad = Pad::Zero,
            _ => break,
        }
        *i += 1;
    }
    // Width.
    let mut width: Option<usize> = None;
    while *i < chars.len() && chars[*i].is_ascii_digit() {
        let d = chars[*i] as usize - '0' as usize;
        width = Some(
            width
                .unwrap_or(0)
                .saturating_mul(10)
                .saturating_add(d)
                .min(1024),
        );
        *i += 1;
    }
    // Colons (for %z).
    let mut colons = 0;
    while *i < chars.len() && chars[*i] == ':' && colons < 3 {
        colons += 1;
        *i += 1;
    }
    // Modifiers E and O are accepted and ignored.
    while *i < chars.len() && (chars[*i] == 'E' || chars[*i] == 'O') {
        *i += 1;
    }
    let conv = *chars.get(*i)?;
    *i += 1;
    Some(Directive {
        pad,
        upper,
        swap,
        width,
        colons,
        conv,
    })
}

/// Formats `t` like GNU `date +FORMAT`. Never fails: unknown conversions are
/// printed as written.
pub(crate) fn format<Tz: TimeZone>(t: &DateTime<Tz>, fmt: &str) -> String {
    let mut out = String::with_capacity(fmt.len() + 16);
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '%' {
            out.push(c);
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        let Some(mut d) = directive(&chars, &mut i) else {
            out.extend(&chars[start..]);
            break;
        };
        if d.colons > 0 && d.conv != 'z' {
            out.extend(&chars[start..i]);
            continue;
        }
        match field(t, &mut d) {
            Some(f) => out.push_str(&render(f, &d)),
            None => out.extend(&chars[start..i]),
        }
    }
    out
}

/// The value `d` converts `t` to (`None`: an unknown conversion). `%N`
/// consumes the width (it is a number of digits there, not padding).
fn field<Tz: TimeZone>(t: &DateTime<Tz>, d: &mut Directive) -> Option<Field> {
    let offset = t.offset().fix().local_minus_utc();
    let num = |v: i64, w: usize, zero: bool| Field::Num(v, w, zero);
    Some(match d.conv {
        '%' => Field::Text("%".into()),
        'a' => Field::Text(DAYS[t.weekday().num_days_from_monday() as usize][..3].into()),
        'A' => Field::Text(DAYS[t.weekday().num_days_from_monday() as usize].into()),
        'b' | 'h' => Field::Text(MONTHS[t.month0() as usize][..3].into()),
        'B' => Field::Text(MONTHS[t.month0() as usize].into()),
        'c' => Field::Text(format(t, "%a %b %e %H:%M:%S %Y")),
        'C' => num(i64::from(t.year()).div_euclid(100), 2, true),
        'd' => num(t.day().into(), 2, true),
        'D' => Field::Text(format(t, "%m/%d/%y")),
        'e' => num(t.day().into(), 2, false),
        'F' => Field::Text(format(t, "%Y-%m-%d")),
        'g' => num(i64::from(t.iso_week().year()).rem_euclid(100), 2, true),
        'G' => num(t.iso_week().year().into(), 4, true),
        'H' => num(t.hour().into(), 2, true),
        'I' => num(t.hour12().1.into(), 2, true),
        'j' => num(t.ordinal().into(), 3, true),
        'k' => num(t.hour().into(), 2, false),
        'l' => num(t.hour12().1.into(), 2, false),
        'm' => num(t.month().into(), 2, true),
        'M' => num(t.minute().into(), 2, true),
        'n' => Field::Text("\n".into()),
        'N' => {
            let digits = format!("{:09}", t.nanosecond().min(999_999_999));
            let w = d.width.take().unwrap_or(9);
            let mut s: String = digits.chars().take(w.min(9)).collect();
            while s.len() < w {
                s.push('0');
            }
            Field::Text(s)
        }
        'p' => Field::Text(if t.hour() < 12 { "AM" } else { "PM" }.into()),
        'P' => Field::Text(if t.hour() < 12 { "am" } else { "pm" }.into()),
        'q' => num(i64::from(t.month0() / 3 + 1), 1, true),
        'r' => Field::Text(format(t, "%I:%M:%S %p")),
        'R' => Field::Text(format(t, "%H:%M")),
        's' => num(t.timestamp(), 1, true),
        'S' => num(t.second().min(60).into(), 2, true),
        't' => Field::Text("\t".into()),
        'T' => Field::Text(format(t, "%H:%M:%S")),
        'u' => num(t.weekday().number_from_monday().into(), 1, true),
        'U' => {
            let wd = i64::from(t.weekday().num_days_from_sunday());
            num((i64::from(t.ordinal0()) + 7 - wd) / 7, 2, true)
        }
        'V' => num(t.iso_week().week().into(), 2, true),
        'w' => num(t.weekday().num_days_from_sunday().into(), 1, true),
        'W' => {
            let wd = i64::from(t.weekday().num_days_from_monday());
            num((i64::from(t.ordinal0()) + 7 - wd) / 7, 2, true)
        }
        'x' => Field::Text(format(t, "%m/%d/%y")),
        'X' => Field::Text(format(t, "%H:%M:%S")),
        'y' => num(i64::from(t.year()).rem_euclid(100), 2, true),
        'Y' => num(t.year().into(), 1, true),
        'z' => Field::Text(zone_offset(offset, d.colons)),
        'Z' => Field::Text(zone_name(offset)),
        _ => return None,
    })
}

/// `f` as text, with the flags and width of `d`.
fn render(f: Field, d: &Directive) -> String {
    let (upper, swap, conv, width, pad) = (d.upper, d.swap, d.conv, d.width, d.pad);
    let mut text = match f {
        Field::Text(s) => {
            let s = if upper {
                s.to_uppercase()
            } else if swap {
                // `#`: the opposite case: names go upper, AM/PM and zones lower.
                match conv {
                    'a' | 'A' | 'b' | 'B' | 'h' => s.to_uppercase(),
                    'p' | 'Z' => s.to_lowercase(),
                    _ => s,
                }
            } else {
                s
            };
            match width {
                Some(w) if pad != Pad::None && s.chars().count() < w => {
                    let fill = if pad == Pad::Zero { '0' } else { ' ' };
                    let mut p: String = std::iter::repeat_n(fill, w - s.chars().count()).collect();
                    p.push_str(&s);
                    p
                }
                _ => s,
            }
        }
        Field::Num(v, default_w, zero) => {
            let w = width.unwrap_or(default_w);
            let digits = v.unsigned_abs().to_string();
            let sign = if v < 0 { "-" } else { "" };
            let fill = match pad {
                Pad::None => None,
                Pad::Space => Some(' '),
                Pad::Zero => Some('0'),
                Pad::Default => Some(if zero { '0' } else { ' ' }),
            };
            match fill {
                Some(f) if sign.len() + digits.len() < w => {
                    let n = w - sign.len() - digits.len();
                    if f == '0' {
                        format!("{sign}{}{digits}", "0".repeat(n))
                    } else {
                        format!("{}{sign}{digits}", " ".repeat(n))
                    }
                }
                _ => format!("{sign}{digits}"),
            }
        }
    };
    if upper {
        text = text.to_uppercase();
    }
    text
}

enum Field {
    Text(String),
    /// A number with its default width and whether the default padding is zeros.
    Num(i64, usize, bool),
}

fn zone_offset(offset: i32, colons: usize) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    let a = offset.unsigned_abs();
    let (h, m, s) = (a / 3600, (a % 3600) / 60, a % 60);
    match colons {
        0 => format!("{sign}{h:02}{m:02}"),
        1 => format!("{sign}{h:02}:{m:02}"),
        2 => format!("{sign}{h:02}:{m:02}:{s:02}"),
        _ => {
            if s != 0 {
                format!("{sign}{h:02}:{m:02}:{s:02}")
            } else if m != 0 {
                format!("{sign}{h:02}:{m:02}")
            } else {
                format!("{sign}{h:02}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t() -> DateTime<FixedOffset> {
        // Saturday 2026-11-28 08:46:32.123456789 UTC
        Utc.with_ymd_and_hms(2026, 11, 28, 8, 46, 32)
            .single()
            .unwrap()
            .with_nanosecond(123_456_789)
            .unwrap()
            .fixed_offset()
    }

    #[test]
    fn default_format() {
        assert_eq!(format(&t(), DEFAULT_FORMAT), "Sat Nov 28 08:46:32 UTC 2026");
        let early = Utc
            .with_ymd_and_hms(2026, 11, 8, 8, 6, 2)
            .single()
            .unwrap()
            .fixed_offset();
        assert_eq!(
            format(&early, DEFAULT_FORMAT),
            "Sun Nov  8 08:06:02 UTC 2026"
        );
    }

    #[test]
    fn fields() {
        let t = t();
        let cases = [
            ("%Y-%m-%d %H:%M:%S", "2026-11-28 08:46:32"),
            ("%H:%M:%S.%3N", "08:46:32.123"),
            ("%6N %9N %N", "123456 123456789 123456789"),
            ("%s", "1795855592"),
            ("%z %:z %::z %Z", "+0000 +00:00 +00:00:00 UTC"),
            ("%a %A %b %B", "Sat Saturday Nov November"),
            ("%e|%j|%T|%D|%F", "28|332|08:46:32|11/28/26|2026-11-28"),
            ("%p %I %y %%", "AM 08 26 %"),
            ("%-d/%-m %_H %k %l", "28/11  8  8  8"),
            ("%^a %^B %#Z", "SAT NOVEMBER utc"),
            ("%u %w %V %G %g %C %q", "6 6 48 2026 26 20 4"),
            ("%U %W", "47 47"),
            ("%10A|%-10A", "  Saturday|Saturday"),
            ("%#a %#b %#p %^p", "SAT NOV am AM"),
            ("%010A|%5N|%_5d|%-5d|%:::z", "00Saturday|12345|   28|28|+00"),
            ("%c", "Sat Nov 28 08:46:32 2026"),
            ("%x %X %_3N %:H", "11/28/26 08:46:32 123 %:H"),
            ("%Q %", "%Q %"),
            ("%R %r", "08:46 08:46:32 AM"),
            ("100%", "100%"),
        ];
        for (fmt, want) in cases {
            assert_eq!(format(&t, fmt), want, "format {fmt:?}");
        }
    }

    #[test]
    fn offsets() {
        let tz = FixedOffset::east_opt(5 * 3600 + 30 * 60).unwrap();
        let t = t().with_timezone(&tz);
        assert_eq!(format(&t, "%H:%M %z %:z %Z"), "14:16 +0530 +05:30 +0530");
        assert_eq!(zone_offset(-3600, 3), "-01");
    }

    proptest! {
        #[test]
        fn never_panics(fmt in ".{0,40}", secs in -100_000_000_000i64..100_000_000_000i64) {
            let _ = format(&t(), &fmt);
            if let Some(d) = from_epoch(secs, 0, true) {
                let _ = format(&d, &fmt);
            }
        }

        #[test]
        fn percent_heavy_never_panics(fmt in "[%_0^#:EO0-9a-zA-Z-]{0,30}") {
            let _ = format(&t(), &fmt);
        }
    }
}
