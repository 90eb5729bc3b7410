//! Commands that print: `echo`, `printf`, `seq`, `yes`, `date`.

use bytes::Bytes;

use crate::args::{SeqPlan, parse_seq};
use crate::date;
use crate::host::{Clock, Output};
use crate::io::{FLUSH_AT, YES};
use crate::observe::Observer;
use crate::printf::{self, Escapes};
use crate::shell::{Res, Shell};

impl<O: Output, C: Clock, W: Observer> Shell<'_, O, C, W> {
    /// `echo [-neE] ARGS…`.
    pub(super) async fn b_echo(&mut self, args: &[String]) -> Res {
        let mut newline = true;
        let mut escapes = false;
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            if a.len() >= 2
                && a.starts_with('-')
                && a[1..].chars().all(|c| matches!(c, 'n' | 'e' | 'E'))
            {
                for c in a[1..].chars() {
                    match c {
                        'n' => newline = false,
                        'e' => escapes = true,
                        _ => escapes = false,
                    }
                }
                i += 1;
            } else {
                break;
            }
        }
        let text = args[i..].join(" ");
        let (mut bytes, stop) = if escapes {
            printf::unescape(&text, Escapes::Echo)
        } else {
            (text.into_bytes(), false)
        };
        if newline && !stop {
            bytes.push(b'\n');
        }
        put!(self, &bytes);
        Ok(0)
    }

    /// `printf [-v VAR] FORMAT ARGS…`.
    pub(super) async fn b_printf(&mut self, args: &[String]) -> Res {
        let mut args = args;
        let mut var = None;
        loop {
            match args.first().map(String::as_str) {
                Some("-v") if args.len() >= 2 => {
                    var = Some(args[1].clone());
                    args = &args[2..];
                }
                Some("--") => {
                    args = &args[1..];
                    break;
                }
                _ => break,
            }
        }
        let Some((format, rest)) = args.split_first() else {
            self.diag("printf: usage: printf [-v var] format [arguments]")
                .await;
            return Ok(2);
        };
        let r = printf::printf(format, rest);
        for e in &r.errors {
            let m = format!("{}printf: {e}", self.prefix());
            self.diag(&m).await;
        }
        match var {
            Some(v) => self.set_var(&v, String::from_utf8_lossy(&r.out).into_owned()),
            None => put!(self, &r.out),
        }
        Ok(r.status)
    }

    /// `seq [-w] [-s SEP] [-f FORMAT] [FIRST [STEP]] LAST`, in batches.
    pub(super) async fn b_seq(&mut self, args: &[String]) -> Res {
        let seq = match parse_seq(args) {
            Ok(s) => s,
            Err(msg) => {
                self.diag(&msg).await;
                return Ok(1);
            }
        };
        let sep = seq.sep.as_bytes().to_vec();
        let mut buf: Vec<u8> = Vec::with_capacity(FLUSH_AT + 64);
        let mut any = false;
        match (&seq.plan, &seq.format) {
            (SeqPlan::Int { first, step, last }, None) => {
                let (first, step, last) = (*first, *step, *last);
                let width = if seq.equal_width {
                    let w = |v: i64| v.unsigned_abs().to_string().len() + usize::from(v < 0);
                    w(first).max(w(last))
                } else {
                    0
                };
                let mut v = first;
                while (step > 0 && v <= last) || (step < 0 && v >= last) {
                    if any {
                        buf.extend_from_slice(&sep);
                    }
                    any = true;
                    push_int(&mut buf, v, width);
                    if buf.len() >= FLUSH_AT {
                        let chunk = Bytes::from(std::mem::replace(
                            &mut buf,
                            Vec::with_capacity(FLUSH_AT + 64),
                        ));
                        put_bytes!(self, chunk);
                    }
                    v = match v.checked_add(step) {
                        Some(n) => n,
                        None => break,
                    };
                }
            }
            (plan, format) => {
                let (first, step, last, prec) = match plan {
                    SeqPlan::Int { first, step, last } => {
                        (*first as f64, *step as f64, *last as f64, 0)
                    }
                    SeqPlan::Float {
                        first,
                        step,
                        last,
                        prec,
                    } => (*first, *step, *last, *prec),
                };
                let fmt = |v: f64| -> String {
                    match format {
                        Some(f) => {
                            String::from_utf8_lossy(&printf::printf(f, &[format!("{v}")]).out)
                                .into_owned()
                        }
                        None => format!("{v:.prec$}"),
                    }
                };
                let width = if seq.equal_width && format.is_none() {
                    fmt(first).len().max(fmt(last).len())
                } else {
                    0
                };
                let mut i: u64 = 0;
                loop {
                    let v = first + (i as f64) * step;
                    if (step > 0.0 && v > last) || (step < 0.0 && v < last) || !v.is_finite() {
                        break;
                    }
                    if any {
                        buf.extend_from_slice(&sep);
                    }
                    any = true;
                    buf.extend_from_slice(pad_float(fmt(v), width).as_bytes());
                    if buf.len() >= FLUSH_AT {
                        let chunk = Bytes::from(std::mem::replace(
                            &mut buf,
                            Vec::with_capacity(FLUSH_AT + 64),
                        ));
                        put_bytes!(self, chunk);
                    }
                    i += 1;
                }
            }
        }
        if any {
            buf.push(b'\n');
        }
        put_bytes!(self, Bytes::from(buf));
        Ok(0)
    }

    /// `yes [TEXT]`: until its reader goes away.
    pub(super) async fn b_yes(&mut self, args: &[String]) -> Res {
        let block = if args.is_empty() || (args.len() == 1 && args[0] == "y") {
            Bytes::from_static(&YES)
        } else {
            let mut line = args.join(" ");
            line.push('\n');
            let reps = (FLUSH_AT / line.len()).max(1);
            Bytes::from(line.repeat(reps))
        };
        loop {
            put_bytes!(self, block.clone());
        }
    }

    /// `date [-u] [-d @SECONDS] [+FORMAT]` and the ISO / RFC forms, on the job's clock.
    pub(super) async fn b_date(&mut self, args: &[String]) -> Res {
        let help = "Try 'date --help' for more information.";
        let mut utc = false;
        let mut format: Option<String> = None;
        let mut when: Option<String> = None;
        let mut i = 0;
        while i < args.len() {
            let a = args[i].clone();
            i += 1;
            if let Some(f) = a.strip_prefix('+') {
                if format.is_some() {
                    let m = format!("date: extra operand '{a}'\n{help}");
                    self.diag(&m).await;
                    return Ok(1);
                }
                format = Some(f.to_owned());
                continue;
            }
            let iso = |spec: &str| -> Option<&'static str> {
                Some(match spec {
                    "" | "date" => "%Y-%m-%d",
                    "hours" => "%Y-%m-%dT%H%:z",
                    "minutes" => "%Y-%m-%dT%H:%M%:z",
                    "seconds" => "%Y-%m-%dT%H:%M:%S%:z",
                    "ns" => "%Y-%m-%dT%H:%M:%S,%N%:z",
                    _ => return None,
                })
            };
            match a.as_str() {
                "-u" | "--utc" | "--universal" => utc = true,
                "-R" | "--rfc-email" | "--rfc-2822" => {
                    format = Some("%a, %d %b %Y %H:%M:%S %z".into())
                }
                "-d" | "--date" => match args.get(i) {
                    Some(v) => {
                        when = Some(v.clone());
                        i += 1;
                    }
                    None => {
                        let m = format!("date: option requires an argument -- 'd'\n{help}");
                        self.diag(&m).await;
                        return Ok(1);
                    }
                },
                _ if a.starts_with("--date=") => when = Some(a["--date=".len()..].to_owned()),
                _ if a.starts_with("-I") || a.starts_with("--iso-8601") => {
                    let spec = a
                        .strip_prefix("--iso-8601")
                        .map(|s| s.trim_start_matches('='))
                        .unwrap_or_else(|| &a[2..]);
                    match iso(spec) {
                        Some(f) => format = Some(f.to_owned()),
                        None => {
                            let m =
                                format!("date: invalid argument '{spec}' for '--iso-8601'\n{help}");
                            self.diag(&m).await;
                            return Ok(1);
                        }
                    }
                }
                _ if a.starts_with("--rfc-3339=") => {
                    let f = match &a["--rfc-3339=".len()..] {
                        "date" => "%Y-%m-%d",
                        "seconds" => "%Y-%m-%d %H:%M:%S%:z",
                        "ns" => "%Y-%m-%d %H:%M:%S.%N%:z",
                        other => {
                            let m = format!(
                                "date: invalid argument '{other}' for '--rfc-3339'\n{help}"
                            );
                            self.diag(&m).await;
                            return Ok(1);
                        }
                    };
                    format = Some(f.to_owned());
                }
                _ if a.starts_with('-') && a.len() > 1 => {
                    let m = format!("date: invalid option -- '{}'\n{help}", &a[1..2]);
                    self.diag(&m).await;
                    return Ok(1);
                }
                _ => {
                    self.diag("date: cannot set date: Operation not permitted")
                        .await;
                    return Ok(1);
                }
            }
        }
        let t = match when.as_deref().map(str::trim) {
            None | Some("now") | Some("") => date::now(utc, self.clock.now_ms()),
            Some(w) => {
                let parsed = w.strip_prefix('@').and_then(|n| {
                    let (s, frac) = n.split_once('.').unwrap_or((n, ""));
                    let secs: i64 = s.parse().ok()?;
                    let mut ns_text: String = frac.chars().take(9).collect();
                    while ns_text.len() < 9 {
                        ns_text.push('0');
                    }
                    let ns: u32 = if frac.is_empty() {
                        0
                    } else {
                        ns_text.parse().ok()?
                    };
                    date::from_epoch(secs, ns, utc)
                });
                match parsed {
                    Some(t) => t,
                    None => {
                        let m = format!(
                            "date: invalid date '{w}' (joblet-mock understands only @SECONDS and now)"
                        );
                        self.diag(&m).await;
                        return Ok(1);
                    }
                }
            }
        };
        let mut s = date::format(&t, format.as_deref().unwrap_or(date::DEFAULT_FORMAT));
        s.push('\n');
        put!(self, s.as_bytes());
        Ok(0)
    }
}

/// Appends `v` in decimal, zero-padded to `width` (after the sign).
fn push_int(buf: &mut Vec<u8>, v: i64, width: usize) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    let mut u = v.unsigned_abs();
    loop {
        i -= 1;
        tmp[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    let digits = &tmp[i..];
    let neg = v < 0;
    if neg {
        buf.push(b'-');
    }
    let len = digits.len() + usize::from(neg);
    if width > len {
        buf.resize(buf.len() + width - len, b'0');
    }
    buf.extend_from_slice(digits);
}

fn pad_float(s: String, width: usize) -> String {
    if s.len() >= width {
        return s;
    }
    match s.strip_prefix('-') {
        Some(rest) => format!("-{}{rest}", "0".repeat(width - s.len())),
        None => format!("{}{s}", "0".repeat(width - s.len())),
    }
}
