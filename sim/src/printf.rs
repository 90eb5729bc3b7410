//! `printf` (bash builtin semantics) and the backslash escapes of `echo -e`.

use std::ops::ControlFlow;

/// What `printf` produced.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Printed {
    /// Standard output.
    pub out: Vec<u8>,
    /// Diagnostics (without the `printf: ` prefix), one per line.
    pub errors: Vec<String>,
    /// Exit status.
    pub status: i32,
}

/// Pushes `c` as UTF-8 (invalid code points become U+FFFD).
fn push_char(out: &mut Vec<u8>, code: u32) {
    let c = char::from_u32(code).unwrap_or('\u{FFFD}');
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

fn hex_val(b: u8) -> Option<u32> {
    (b as char).to_digit(16)
}

/// Which dialect of backslash escapes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Escapes {
    /// `echo -e` and `printf %b`: octal is `\0NNN`, `\c` stops output.
    Echo,
    /// A `printf` format: octal is `\NNN`.
    Format,
}

/// Interprets backslash escapes of `s`; returns the bytes and whether `\c`
/// asked to stop all further output.
pub(crate) fn unescape(s: &str, dialect: Escapes) -> (Vec<u8>, bool) {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 >= b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let e = b[i + 1];
        i += 2;
        match e {
            b'\\' => out.push(b'\\'),
            b'a' => out.push(0x07),
            b'b' => out.push(0x08),
            b'e' | b'E' => out.push(0x1b),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'c' if dialect == Escapes::Echo => return (out, true),
            b'"' if dialect == Escapes::Format => out.push(b'"'),
            b'\'' if dialect == Escapes::Format => out.push(b'\''),
            b'?' if dialect == Escapes::Format => out.push(b'?'),
            b'0'..=b'7' => {
                // Echo: \0 then up to 3 digits; format: up to 3 digits including this one.
                let (mut v, mut n, max) = if dialect == Escapes::Echo {
                    if e == b'0' {
                        (0u32, 0, 3)
                    } else {
                        (u32::from(e - b'0'), 1, 3)
                    }
                } else {
                    (u32::from(e - b'0'), 1, 3)
                };
                while n < max && i < b.len() && (b'0'..=b'7').contains(&b[i]) {
                    v = v * 8 + u32::from(b[i] - b'0');
                    i += 1;
                    n += 1;
                }
                out.push((v & 0xff) as u8);
            }
            b'x' => {
                let mut v = 0u32;
                let mut n = 0;
                while n < 2 && i < b.len() {
                    match hex_val(b[i]) {
                        Some(d) => {
                            v = v * 16 + d;
                            i += 1;
                            n += 1;
                        }
                        None => break,
                    }
                }
                if n == 0 {
                    out.extend_from_slice(b"\\x");
                } else {
                    out.push(v as u8);
                }
            }
            b'u' | b'U' => {
                let max = if e == b'u' { 4 } else { 8 };
                let mut v = 0u32;
                let mut n = 0;
                while n < max && i < b.len() {
                    match hex_val(b[i]) {
                        Some(d) => {
                            v = v.wrapping_mul(16).wrapping_add(d);
                            i += 1;
                            n += 1;
                        }
                        None => break,
                    }
                }
                if n == 0 {
                    out.push(b'\\');
                    out.push(e);
                } else {
                    push_char(&mut out, v);
                }
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    (out, false)
}

/// One conversion of a format.
#[derive(Debug, Default, Clone)]
struct Spec {
    minus: bool,
    plus: bool,
    space: bool,
    alt: bool,
    zero: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

/// Largest width or precision honoured (keeps a hostile format from eating memory).
const MAX_WIDTH: usize = 1 << 20;

/// Arguments being consumed.
struct Args<'a> {
    args: &'a [String],
    next: usize,
}

impl Args<'_> {
    fn take(&mut self) -> Option<&str> {
        let a = self.args.get(self.next)?;
        self.next += 1;
        Some(a)
    }
}

/// Parses an integer argument like bash's printf: decimal, `0x` hex, `0`
/// octal, or `'c` (the character's code). Returns the value and an error.
pub(crate) fn parse_int(arg: &str) -> (i64, Option<String>) {
    parse_int_as(arg, false)
}

/// [`parse_int`]; `unsigned`: values up to `u64::MAX` are kept (as their bits).
fn parse_int_as(arg: &str, unsigned: bool) -> (i64, Option<String>) {
    let s = arg.trim_start_matches([' ', '\t', '\n']);
    if let Some(rest) = s.strip_prefix(['\'', '"']) {
        return (
            rest.chars().next().map_or(0, |c| i64::from(u32::from(c))),
            None,
        );
    }
    if s.is_empty() {
        return (0, None);
    }
    let (neg, body) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(h) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        (16, h)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    let end = digits
        .char_indices()
        .find(|(_, c)| !c.is_digit(radix))
        .map_or(digits.len(), |(i, _)| i);
    let mut v: i128 = 0;
    let mut overflow = false;
    for c in digits[..end].chars() {
        let d = i128::from(c.to_digit(radix).unwrap_or(0));
        v = v * i128::from(radix) + d;
        if v > i128::from(u64::MAX) {
            overflow = true;
            v = i128::from(u64::MAX);
        }
    }
    if neg {
        v = -v;
    }
    let clamped = if v > i128::from(i64::MAX) {
        // Values up to u64::MAX wrap like strtoumax for unsigned conversions.
        if unsigned && v <= i128::from(u64::MAX) && !overflow {
            v as u64 as i64
        } else {
            overflow = true;
            i64::MAX
        }
    } else if v < i128::from(i64::MIN) {
        overflow = true;
        i64::MIN
    } else {
        v as i64
    };
    let rest_bad = end < digits.len() || (end == 0 && (radix != 8));
    let err = if overflow {
        Some(format!("warning: {arg}: Numerical result out of range"))
    } else if rest_bad {
        Some(format!("{arg}: invalid number"))
    } else {
        None
    };
    (clamped, err)
}

/// Parses a floating-point argument (like strtod: decimal, `inf`, `nan`, hex integers, `'c`).
fn parse_float(arg: &str) -> (f64, Option<String>) {
    let s = arg.trim();
    if let Some(rest) = s.strip_prefix(['\'', '"']) {
        return (
            rest.chars().next().map_or(0.0, |c| f64::from(u32::from(c))),
            None,
        );
    }
    if s.is_empty() {
        return (0.0, None);
    }
    if let Ok(v) = s.parse::<f64>() {
        return (v, None);
    }
    let lower = s.to_ascii_lowercase();
    if lower.contains("0x") {
        let (v, e) = parse_int(s);
        return (v as f64, e);
    }
    // The longest prefix that parses.
    let mut best = (0.0, 0);
    for (i, _) in s
        .char_indices()
        .skip(1)
        .chain(std::iter::once((s.len(), ' ')))
    {
        if let Ok(v) = s[..i].parse::<f64>() {
            best = (v, i);
        }
    }
    (best.0, Some(format!("{arg}: invalid number")))
}

fn pad(spec: &Spec, body: &[u8], out: &mut Vec<u8>) {
    let width = spec.width.unwrap_or(0).min(MAX_WIDTH);
    if body.len() >= width {
        out.extend_from_slice(body);
    } else if spec.minus {
        out.extend_from_slice(body);
        out.resize(out.len() + width - body.len(), b' ');
    } else {
        out.resize(out.len() + width - body.len(), b' ');
        out.extend_from_slice(body);
    }
}

/// Pads a number: `sign`/`prefix` go before zero padding.
fn pad_number(spec: &Spec, sign: &str, digits: &str, out: &mut Vec<u8>, zero_ok: bool) {
    let width = spec.width.unwrap_or(0).min(MAX_WIDTH);
    let len = sign.len() + digits.len();
    if spec.zero && !spec.minus && zero_ok && len < width {
        out.extend_from_slice(sign.as_bytes());
        out.resize(out.len() + width - len, b'0');
        out.extend_from_slice(digits.as_bytes());
    } else {
        let mut body = String::with_capacity(len);
        body.push_str(sign);
        body.push_str(digits);
        pad(spec, body.as_bytes(), out);
    }
}

fn fmt_int(spec: &Spec, conv: char, v: i64, out: &mut Vec<u8>) {
    let (sign, mut digits, prefix) = match conv {
        'd' | 'i' => {
            let sign = if v < 0 {
                "-"
            } else if spec.plus {
                "+"
            } else if spec.space {
                " "
            } else {
                ""
            };
            (sign, v.unsigned_abs().to_string(), "")
        }
        'u' => ("", (v as u64).to_string(), ""),
        'o' => (
            "",
            format!("{:o}", v as u64),
            if spec.alt { "0" } else { "" },
        ),
        'x' => (
            "",
            format!("{:x}", v as u64),
            if spec.alt && v != 0 { "0x" } else { "" },
        ),
        _ => (
            "",
            format!("{:X}", v as u64),
            if spec.alt && v != 0 { "0X" } else { "" },
        ),
    };
    if let Some(p) = spec.precision {
        let p = p.min(MAX_WIDTH);
        if p == 0 && v == 0 {
            digits.clear();
        } else if digits.len() < p {
            digits = format!("{}{digits}", "0".repeat(p - digits.len()));
        }
    }
    let prefix = if conv == 'o' && digits.starts_with('0') {
        ""
    } else {
        prefix
    };
    let sign = format!("{sign}{prefix}");
    pad_number(spec, &sign, &digits, out, spec.precision.is_none());
}

/// `%e` with C's exponent form (`1.500000e+00`).
fn exp_form(v: f64, prec: usize, upper: bool) -> String {
    let s = format!("{:.*e}", prec, v.abs());
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let e = if upper { 'E' } else { 'e' };
    let esign = if exp < 0 { '-' } else { '+' };
    format!("{mant}{e}{esign}{:02}", exp.unsigned_abs())
}

fn strip_trailing_zeros(s: &str) -> String {
    if let Some((m, e)) = s.split_once(['e', 'E']) {
        let sep = if s.contains('E') { 'E' } else { 'e' };
        let m = if m.contains('.') {
            m.trim_end_matches('0').trim_end_matches('.')
        } else {
            m
        };
        format!("{m}{sep}{e}")
    } else if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s.to_owned()
    }
}

fn fmt_float(spec: &Spec, conv: char, v: f64, out: &mut Vec<u8>) {
    let upper = conv.is_ascii_uppercase();
    let sign = if v.is_sign_negative() && !(v.is_nan()) {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    };
    if !v.is_finite() {
        let body = if v.is_nan() { "nan" } else { "inf" };
        let body = if upper {
            body.to_uppercase()
        } else {
            body.to_owned()
        };
        pad_number(spec, sign, &body, out, false);
        return;
    }
    let prec = spec.precision.unwrap_or(6).min(512);
    let body = match conv.to_ascii_lowercase() {
        'f' => format!("{:.*}", prec, v.abs()),
        'e' => exp_form(v, prec, upper),
        _ => {
            // %g
            let p = if prec == 0 { 1 } else { prec };
            let exp = if v == 0.0 {
                0
            } else {
                let e = exp_form(v, p - 1, false);
                e.split_once('e')
                    .and_then(|(_, x)| x.parse::<i32>().ok())
                    .unwrap_or(0)
            };
            let s = if exp < -4 || exp >= p as i32 {
                exp_form(v, p - 1, upper)
            } else {
                let fp = (p as i32 - 1 - exp).max(0) as usize;
                format!("{:.*}", fp, v.abs())
            };
            if spec.alt {
                s
            } else {
                strip_trailing_zeros(&s)
            }
        }
    };
    let body = if spec.alt && prec == 0 && !body.contains('.') && conv.eq_ignore_ascii_case(&'f') {
        format!("{body}.")
    } else {
        body
    };
    pad_number(spec, sign, &body, out, true);
}

/// Quotes `s` for reuse as shell input (`%q`).
pub(crate) fn shell_quote(s: &str) -> String {
    if s.is_empty() {
        return "''".to_owned();
    }
    let safe = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c);
    if s.chars().all(safe) {
        return s.to_owned();
    }
    let mut q = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if safe(c) {
            q.push(c);
        } else {
            q.push('\\');
            q.push(c);
        }
    }
    q
}

/// Runs `printf FORMAT ARGS…`.
pub(crate) fn printf(format: &str, args: &[String]) -> Printed {
    let mut p = Printed::default();
    let fmt = format.as_bytes();
    let mut args = Args { args, next: 0 };
    loop {
        let before = args.next;
        let mut i = 0;
        let mut conversions = 0;
        while i < fmt.len() {
            let b = fmt[i];
            if b == b'\\' {
                i = escape(fmt, i, &mut p.out);
                continue;
            }
            if b != b'%' {
                p.out.push(b);
                i += 1;
                continue;
            }
            let start = i;
            i += 1;
            if i < fmt.len() && fmt[i] == b'%' {
                p.out.push(b'%');
                i += 1;
                continue;
            }
            let spec = spec(fmt, &mut i, &mut args, &mut p);
            let Some(&conv) = fmt.get(i) else {
                p.errors.push(format!(
                    "`{}': missing format character",
                    String::from_utf8_lossy(&fmt[start..])
                ));
                p.status = 1;
                return p;
            };
            // The conversion may be a multi-byte character: take it whole.
            let conv_char = std::str::from_utf8(&fmt[i..])
                .ok()
                .and_then(|s| s.chars().next())
                .unwrap_or(conv as char);
            i += conv_char.len_utf8().max(1);
            conversions += 1;
            if convert(conv_char, &spec, &mut args, &mut p).is_break() {
                return p;
            }
        }
        // Reuse the format while arguments remain and the format consumes some.
        if conversions == 0 || args.next >= args.args.len() || args.next == before {
            break;
        }
    }
    p
}

/// Appends the one escape at `fmt[i]` (a backslash) to `out`; returns the
/// index after it.
fn escape(fmt: &[u8], i: usize, out: &mut Vec<u8>) -> usize {
    let mut j = i + 1;
    if j < fmt.len() {
        let e = fmt[j];
        j += 1;
        let extra = match e {
            b'0'..=b'7' => 2,
            b'x' => 2,
            b'u' => 4,
            b'U' => 8,
            _ => 0,
        };
        let mut k = 0;
        while k < extra && j < fmt.len() && fmt[j].is_ascii_hexdigit() {
            j += 1;
            k += 1;
        }
    }
    let piece = String::from_utf8_lossy(&fmt[i..j]);
    let (bytes, _) = unescape(&piece, Escapes::Format);
    out.extend_from_slice(&bytes);
    j
}

/// Reads the flags, width, precision and length modifiers of a conversion
/// at `fmt[*i]`, moving `i` past them (`*` takes an argument).
fn spec(fmt: &[u8], i: &mut usize, args: &mut Args<'_>, p: &mut Printed) -> Spec {
    let mut spec = Spec::default();
    while *i < fmt.len() {
        match fmt[*i] {
            b'-' => spec.minus = true,
            b'+' => spec.plus = true,
            b' ' => spec.space = true,
            b'#' => spec.alt = true,
            b'0' => spec.zero = true,
            _ => break,
        }
        *i += 1;
    }
    if *i < fmt.len() && fmt[*i] == b'*' {
        *i += 1;
        let (w, e) = parse_int(args.take().unwrap_or(""));
        if let Some(e) = e {
            p.errors.push(e);
            p.status = 1;
        }
        if w < 0 {
            spec.minus = true;
        }
        spec.width = Some((w.unsigned_abs() as usize).min(MAX_WIDTH));
    } else {
        let mut w: Option<usize> = None;
        while *i < fmt.len() && fmt[*i].is_ascii_digit() {
            w = Some(
                w.unwrap_or(0)
                    .saturating_mul(10)
                    .saturating_add(usize::from(fmt[*i] - b'0'))
                    .min(MAX_WIDTH),
            );
            *i += 1;
        }
        spec.width = w;
    }
    if *i < fmt.len() && fmt[*i] == b'.' {
        *i += 1;
        if *i < fmt.len() && fmt[*i] == b'*' {
            *i += 1;
            let (v, e) = parse_int(args.take().unwrap_or(""));
            if let Some(e) = e {
                p.errors.push(e);
                p.status = 1;
            }
            spec.precision = if v < 0 {
                None
            } else {
                Some((v as usize).min(MAX_WIDTH))
            };
        } else {
            let mut v = 0usize;
            while *i < fmt.len() && fmt[*i].is_ascii_digit() {
                v = v
                    .saturating_mul(10)
                    .saturating_add(usize::from(fmt[*i] - b'0'))
                    .min(MAX_WIDTH);
                *i += 1;
            }
            spec.precision = Some(v);
        }
    }
    // Length modifiers are accepted and ignored.
    while *i < fmt.len() && b"hlLjzt".contains(&fmt[*i]) {
        *i += 1;
    }
    spec
}

/// Converts one argument by `conv_char`; `Break` when printf stops (an
/// invalid conversion, or `\c` in a `%b` argument).
fn convert(conv_char: char, spec: &Spec, args: &mut Args<'_>, p: &mut Printed) -> ControlFlow<()> {
    match conv_char {
        's' => {
            let a = args.take().unwrap_or("");
            let bytes = a.as_bytes();
            let cut = spec.precision.map_or(bytes.len(), |p| p.min(bytes.len()));
            pad(spec, &bytes[..cut], &mut p.out);
        }
        'b' => {
            let a = args.take().unwrap_or("");
            let (bytes, stop) = unescape(a, Escapes::Echo);
            let cut = spec.precision.map_or(bytes.len(), |p| p.min(bytes.len()));
            pad(spec, &bytes[..cut], &mut p.out);
            if stop {
                return ControlFlow::Break(());
            }
        }
        'q' => {
            let a = args.take().unwrap_or("");
            pad(spec, shell_quote(a).as_bytes(), &mut p.out);
        }
        'c' => {
            let a = args.take().unwrap_or("");
            let mut buf = [0u8; 4];
            let c = a.chars().next().map(|c| c.encode_utf8(&mut buf).as_bytes());
            pad(spec, c.unwrap_or(&[]), &mut p.out);
        }
        'd' | 'i' | 'u' | 'o' | 'x' | 'X' => {
            let unsigned = !matches!(conv_char, 'd' | 'i');
            let (v, e) = parse_int_as(args.take().unwrap_or(""), unsigned);
            if let Some(e) = e {
                if !e.starts_with("warning: ") {
                    p.status = 1;
                }
                p.errors.push(e);
            }
            fmt_int(spec, conv_char, v, &mut p.out);
        }
        'f' | 'F' | 'e' | 'E' | 'g' | 'G' | 'a' | 'A' => {
            let (v, e) = parse_float(args.take().unwrap_or(""));
            if let Some(e) = e {
                p.errors.push(e);
                p.status = 1;
            }
            let conv = match conv_char {
                'a' => 'e',
                'A' => 'E',
                c => c,
            };
            fmt_float(spec, conv, v, &mut p.out);
        }
        other => {
            p.errors
                .push(format!("`{other}': invalid format character"));
            p.status = 1;
            return ControlFlow::Break(());
        }
    }
    ControlFlow::Continue(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pf(f: &str, a: &[&str]) -> String {
        let args: Vec<String> = a.iter().map(|s| s.to_string()).collect();
        String::from_utf8(printf(f, &args).out).unwrap()
    }

    #[test]
    fn basics() {
        assert_eq!(pf("%s\n", &["a", "b", "c"]), "a\nb\nc\n");
        assert_eq!(pf("%s=%d\n", &["x", "1", "y"]), "x=1\ny=0\n");
        assert_eq!(pf("%5s|%-5s|%.2s", &["ab", "cd", "xyz"]), "   ab|cd   |xy");
        assert_eq!(
            pf(
                "%05d %+d % d %x %X %#x %o %#o",
                &["42", "7", "7", "255", "255", "255", "8", "8"]
            ),
            "00042 +7  7 ff FF 0xff 10 010"
        );
        assert_eq!(
            pf(
                "%.3f %8.2f %-8.1f| %e %E",
                &["3.14159", "2.5", "1", "12345.678", "0.00012"]
            ),
            "3.142     2.50 1.0     | 1.234568e+04 1.200000E-04"
        );
        assert_eq!(
            pf(
                "%g %g %g %g %G",
                &["100000", "1000000", "0.0001", "0.00001", "1e-10"]
            ),
            "100000 1e+06 0.0001 1e-05 1E-10"
        );
        assert_eq!(pf("%c%c%%\t|", &["hello", "w"]), "hw%\t|");
        assert_eq!(pf("%d %d %d", &["0x1f", "010", "'A"]), "31 8 65");
        assert_eq!(pf("%i|%5.3d|%.0d|", &["-5", "7", "0"]), "-5|  007||");
        assert_eq!(pf("no conversions\\n", &["ignored"]), "no conversions\n");
        assert_eq!(pf("%*d|%-*d|", &["4", "1", "3", "2"]), "   1|2  |");
        assert_eq!(pf("\\101\\x42\\u00e9\\\\", &[]), "AB\u{e9}\\");
        assert_eq!(pf("%b", &["a\\tb\\n"]), "a\tb\n");
        assert_eq!(pf("%b|", &["x\\cy"]), "x");
        assert_eq!(pf("%q %q", &["a b", ""]), "a\\ b ''");
        assert_eq!(pf("%d", &["-9223372036854775808"]), "-9223372036854775808");
        assert_eq!(pf("%u", &["-1"]), "18446744073709551615");
        assert_eq!(pf("%x", &["18446744073709551615"]), "ffffffffffffffff");
        let r = printf("%d", &["9223372036854775808".into()]);
        assert_eq!(
            (r.out.as_slice(), r.status),
            (&b"9223372036854775807"[..], 0)
        );
        assert_eq!(
            r.errors,
            vec!["warning: 9223372036854775808: Numerical result out of range".to_string()]
        );
        assert_eq!(pf("%s", &[]), "");
    }

    #[test]
    fn errors() {
        let r = printf("%d\n", &["abc".into()]);
        assert_eq!(r.out, b"0\n");
        assert_eq!(r.status, 1);
        assert_eq!(r.errors, vec!["abc: invalid number".to_string()]);
        let r = printf("%d\n", &["12abc".into()]);
        assert_eq!(r.out, b"12\n");
        let r = printf("%y", &[]);
        assert_eq!(r.status, 1);
        assert_eq!(r.errors, vec!["`y': invalid format character".to_string()]);
        let r = printf("abc%", &[]);
        assert_eq!(r.status, 1);
        assert_eq!(r.out, b"abc");
    }

    #[test]
    fn echo_escapes() {
        assert_eq!(
            unescape("a\\nb\\tc\\\\", Escapes::Echo),
            (b"a\nb\tc\\".to_vec(), false)
        );
        assert_eq!(
            unescape("\\0101\\x41\\q", Escapes::Echo),
            (b"AA\\q".to_vec(), false)
        );
        assert_eq!(unescape("x\\cy", Escapes::Echo), (b"x".to_vec(), true));
        assert_eq!(
            unescape("trailing\\", Escapes::Echo),
            (b"trailing\\".to_vec(), false)
        );
    }

    proptest! {
        #[test]
        fn printf_never_panics(f in ".{0,40}", args in proptest::collection::vec(".{0,12}", 0..5)) {
            let _ = printf(&f, &args);
        }

        #[test]
        fn printf_format_chars_never_panic(
            f in "[%sdixXofeEgGcbq*.0-9 #+\\\\-]{0,30}",
            args in proptest::collection::vec("[0-9a-z.'x-]{0,6}", 0..5),
        ) {
            let _ = printf(&f, &args);
        }

        #[test]
        fn plain_s_roundtrip(words in proptest::collection::vec("[a-zA-Z0-9 ]{0,10}", 1..6)) {
            let out = printf("%s\n", &words).out;
            let want: String = words.iter().map(|w| format!("{w}\n")).collect();
            prop_assert_eq!(out, want.into_bytes());
        }
    }
}
