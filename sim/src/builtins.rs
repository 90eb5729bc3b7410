//! Built-in commands, acting as GNU coreutils / bash builtins do on a Linux
//! node (C locale: messages quote with ASCII apostrophes).

use std::time::Duration;

use bytes::Bytes;

use super::date;
use crate::host::{Clock, Output};
use super::io::{FLUSH_AT, Filter, WcCounts, WcWhat, YES, ZEROS};
use super::printf::{self, Escapes};
use super::shell::{
    Flow, Node, Res, SIGPIPE_STATUS, Shell, Stdin, absolute, builtin_name, is_shell,
};

/// Writes to stdout; a broken pipe ends the command with status 141.
macro_rules! put {
    ($sh:expr, $data:expr) => {
        if $sh.io.out_slice($data).await.is_err() {
            return Ok(SIGPIPE_STATUS);
        }
    };
}

/// Writes shared bytes to stdout (no copy on the way to the log).
macro_rules! put_bytes {
    ($sh:expr, $data:expr) => {
        if $sh.io.out($data).await.is_err() {
            return Ok(SIGPIPE_STATUS);
        }
    };
}

/// Where a command reads from.
#[derive(Debug, Clone)]
enum Source {
    Data(Bytes),
    Zero,
    Random,
}

/// What `head`/`tail` count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Lines,
    Bytes,
}

/// Parses a count with GNU size suffixes (`K`, `MiB`, `kB`, `b`, …).
pub(super) fn parse_count(s: &str) -> Option<u64> {
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
struct HeadTail {
    unit: Unit,
    n: u64,
    /// `head -n -N` (all but the last N) / `tail -n +N` (from the Nth).
    other_end: bool,
    follow: bool,
    files: Vec<String>,
    headers: Option<bool>,
}

fn parse_head_tail(tool: &str, args: &[String]) -> Result<HeadTail, String> {
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
fn parse_wc(args: &[String]) -> Result<(WcWhat, Vec<String>), String> {
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
pub(super) fn stream_filter(argv: &[String]) -> Option<Filter> {
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
pub(super) fn parse_sleep(args: &[String]) -> Result<Option<Duration>, String> {
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
pub(super) enum SeqPlan {
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
pub(super) struct Seq {
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
pub(super) fn parse_seq(args: &[String]) -> Result<Seq, String> {
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

/// Splits off `n` lines (or all) from `data`: the byte count to keep.
fn head_cut(data: &[u8], unit: Unit, n: u64) -> usize {
    match unit {
        Unit::Bytes => n.min(data.len() as u64) as usize,
        Unit::Lines => {
            if n == 0 {
                return 0;
            }
            let mut seen = 0;
            for (i, &b) in data.iter().enumerate() {
                if b == b'\n' {
                    seen += 1;
                    if seen == n {
                        return i + 1;
                    }
                }
            }
            data.len()
        }
    }
}

fn valid_name(n: &str) -> bool {
    let mut c = n.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// `declare -x` quoting.
fn declare_quote(v: &str) -> String {
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for c in v.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('"');
    s
}

/// Evaluates `test` arguments (POSIX rules by argument count, then a small
/// recursive parser for longer expressions).
fn test_eval<O: Output, C: Clock>(sh: &Shell<'_, O, C>, args: &[String]) -> Result<bool, String> {
    let is_unary = |s: &str| {
        matches!(
            s,
            "-z" | "-n"
                | "-e"
                | "-a"
                | "-f"
                | "-d"
                | "-s"
                | "-r"
                | "-w"
                | "-x"
                | "-c"
                | "-b"
                | "-g"
                | "-k"
                | "-p"
                | "-u"
                | "-G"
                | "-N"
                | "-O"
                | "-S"
                | "-t"
                | "-h"
                | "-L"
                | "-v"
                | "-R"
                | "-o"
        )
    };
    let is_binary = |s: &str| {
        matches!(
            s,
            "=" | "=="
                | "!="
                | "<"
                | ">"
                | "-eq"
                | "-ne"
                | "-lt"
                | "-le"
                | "-gt"
                | "-ge"
                | "-nt"
                | "-ot"
                | "-ef"
        )
    };
    match args.len() {
        0 => Ok(false),
        1 => Ok(!args[0].is_empty()),
        2 => {
            if args[0] == "!" {
                Ok(args[1].is_empty())
            } else if is_unary(&args[0]) {
                sh.unary_test(&args[0], &args[1])
            } else {
                Err(format!("{}: unary operator expected", args[0]))
            }
        }
        3 => {
            if is_binary(&args[1]) {
                sh.binary_test(&args[1], &args[0], &args[2])
            } else if args[1] == "-a" {
                Ok(!args[0].is_empty() && !args[2].is_empty())
            } else if args[1] == "-o" {
                Ok(!args[0].is_empty() || !args[2].is_empty())
            } else if args[0] == "!" {
                test_eval(sh, &args[1..]).map(|b| !b)
            } else if args[0] == "(" && args[2] == ")" {
                Ok(!args[1].is_empty())
            } else {
                Err(format!("{}: binary operator expected", args[1]))
            }
        }
        4 if args[0] == "!" => test_eval(sh, &args[1..]).map(|b| !b),
        4 if args[0] == "(" && args[3] == ")" => test_eval(sh, &args[1..3]),
        _ => {
            let mut p = TestParser { sh, args, pos: 0 };
            let v = p.or()?;
            if p.pos != args.len() {
                return Err("too many arguments".to_owned());
            }
            Ok(v)
        }
    }
}

struct TestParser<'x, 'y, O, C> {
    sh: &'x Shell<'y, O, C>,
    args: &'x [String],
    pos: usize,
}

impl<O: Output, C: Clock> TestParser<'_, '_, O, C> {
    fn peek(&self) -> Option<&str> {
        self.args.get(self.pos).map(String::as_str)
    }

    fn or(&mut self) -> Result<bool, String> {
        let mut v = self.and()?;
        while self.peek() == Some("-o") {
            self.pos += 1;
            let r = self.and()?;
            v = v || r;
        }
        Ok(v)
    }

    fn and(&mut self) -> Result<bool, String> {
        let mut v = self.not()?;
        while self.peek() == Some("-a") {
            self.pos += 1;
            let r = self.not()?;
            v = v && r;
        }
        Ok(v)
    }

    fn not(&mut self) -> Result<bool, String> {
        if self.peek() == Some("!") {
            self.pos += 1;
            if self.pos > 64 {
                return Err("expression too complex".to_owned());
            }
            return self.not().map(|b| !b);
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<bool, String> {
        let Some(a) = self.peek().map(str::to_owned) else {
            return Err("argument expected".to_owned());
        };
        if a == "(" {
            self.pos += 1;
            let v = self.or()?;
            if self.peek() != Some(")") {
                return Err("')' expected".to_owned());
            }
            self.pos += 1;
            return Ok(v);
        }
        if let Some(op) = self.args.get(self.pos + 1)
            && let Some(r) = self.args.get(self.pos + 2)
            && matches!(
                op.as_str(),
                "=" | "=="
                    | "!="
                    | "<"
                    | ">"
                    | "-eq"
                    | "-ne"
                    | "-lt"
                    | "-le"
                    | "-gt"
                    | "-ge"
                    | "-nt"
                    | "-ot"
                    | "-ef"
            )
        {
            self.pos += 3;
            return self.sh.binary_test(op, &a, r);
        }
        if a.starts_with('-') && a.len() == 2 && self.args.get(self.pos + 1).is_some() {
            let v = self.args[self.pos + 1].clone();
            self.pos += 2;
            return self.sh.unary_test(&a, &v);
        }
        self.pos += 1;
        Ok(!a.is_empty())
    }
}

impl<O: Output, C: Clock> Shell<'_, O, C> {
    /// Runs builtin `name` (already resolved by [`builtin_name`]).
    pub(super) async fn builtin(&mut self, name: &str, args: &[String]) -> Res {
        match name {
            ":" | "true" => Ok(0),
            "false" => Ok(1),
            "echo" => self.b_echo(args).await,
            "printf" => self.b_printf(args).await,
            "sleep" => self.b_sleep(args).await,
            "seq" => self.b_seq(args).await,
            "cat" => self.b_cat(args).await,
            "head" => self.b_head(args).await,
            "tail" => self.b_tail(args).await,
            "wc" => self.b_wc(args).await,
            "yes" => self.b_yes(args).await,
            "env" => self.b_env(args).await,
            "printenv" => self.b_printenv(args).await,
            "pwd" => {
                let s = format!("{}\n", self.fs.cwd);
                put!(self, s.as_bytes());
                Ok(0)
            }
            "exit" => self.b_exit(args).await,
            "date" => self.b_date(args).await,
            "test" => self.b_test(args, false).await,
            "[" => self.b_test(args, true).await,
            "export" => self.b_export(args).await,
            "readonly" | "declare" | "typeset" | "local" => self.b_declare(name, args).await,
            "unset" => {
                let mut funcs = false;
                for a in args {
                    match a.as_str() {
                        "-f" => funcs = true,
                        "-v" => funcs = false,
                        n if funcs => {
                            self.functions.remove(n);
                        }
                        n => self.unset_var(n),
                    }
                }
                Ok(0)
            }
            "cd" => self.b_cd(args).await,
            "set" => self.b_set(args).await,
            "shift" => {
                let n = match args.first() {
                    Some(a) => match a.parse::<usize>() {
                        Ok(n) => n,
                        Err(_) => {
                            let m =
                                format!("{}shift: {a}: numeric argument required", self.prefix());
                            self.diag(&m).await;
                            return Ok(1);
                        }
                    },
                    None => 1,
                };
                if n > self.positional.len() {
                    return Ok(1);
                }
                self.positional.drain(..n);
                Ok(0)
            }
            "return" => {
                if self.locals.is_empty() && self.sourcing == 0 {
                    let m = format!(
                        "{}return: can only `return' from a function or sourced script",
                        self.prefix()
                    );
                    self.diag(&m).await;
                    return Ok(2);
                }
                let s = match args.first() {
                    Some(a) => a.parse::<i64>().map_or(2, |v| (v & 0xff) as i32),
                    None => self.status,
                };
                Err(Flow::Return(s))
            }
            "break" | "continue" => {
                let n = match args.first() {
                    Some(a) => match a.parse::<u32>() {
                        Ok(n) if n >= 1 => n,
                        _ => {
                            let m =
                                format!("{}{name}: {a}: loop count out of range", self.prefix());
                            self.diag(&m).await;
                            return Ok(1);
                        }
                    },
                    None => 1,
                };
                if self.loops == 0 {
                    let m = format!(
                        "{}{name}: only meaningful in a `for', `while', or `until' loop",
                        self.prefix()
                    );
                    self.diag(&m).await;
                    return Ok(0);
                }
                let n = n.min(u32::try_from(self.loops).unwrap_or(u32::MAX));
                if name == "break" {
                    Err(Flow::Break(n))
                } else {
                    Err(Flow::Continue(n))
                }
            }
            "eval" => {
                let src = args.join(" ");
                if src.trim().is_empty() {
                    return Ok(0);
                }
                self.eval_str(&src).await
            }
            "source" | "." => self.b_source(name, args).await,
            "read" => self.b_read(args).await,
            "let" => {
                if args.is_empty() {
                    let m = format!("{}let: expression expected", self.prefix());
                    self.diag(&m).await;
                    return Ok(1);
                }
                let mut last = 0;
                for a in args {
                    last = self.arith_text(a).await?;
                }
                Ok(i32::from(last == 0))
            }
            "exec" => {
                if args.is_empty() {
                    return Ok(0);
                }
                let s = self.run_program_boxed(args.to_vec()).await?;
                Err(Flow::Exit(s))
            }
            "command" => self.b_command(args).await,
            "which" => {
                let mut status = 0;
                for a in args.iter().filter(|a| !a.starts_with('-')) {
                    match self.program_path(a) {
                        Some(p) => {
                            let line = format!("{p}\n");
                            put!(self, line.as_bytes());
                        }
                        None => status = 1,
                    }
                }
                Ok(status)
            }
            "trap" => {
                if args.len() >= 2 {
                    let action = &args[0];
                    for sig in &args[1..] {
                        if matches!(sig.as_str(), "EXIT" | "0" | "SIGEXIT") {
                            self.exit_trap = if action == "-" || action.is_empty() {
                                None
                            } else {
                                Some(action.clone())
                            };
                        }
                    }
                }
                Ok(0)
            }
            "wait" | "shopt" => Ok(0),
            "timeout" => self.b_timeout(args).await,
            "nohup" => self.run_program_boxed(args.to_vec()).await,
            "nice" | "stdbuf" => {
                // Skip options (and their values): `nice -n 10 cmd`, `stdbuf -oL cmd`.
                let mut i = 0;
                while i < args.len() && args[i].starts_with('-') {
                    if matches!(args[i].as_str(), "-n" | "-o" | "-e" | "-i") {
                        i += 1;
                    }
                    i += 1;
                }
                if i >= args.len() {
                    return Ok(0);
                }
                self.run_program_boxed(args[i..].to_vec()).await
            }
            "basename" => self.b_basename(args).await,
            "dirname" => {
                let Some(p) = args.iter().find(|a| !a.starts_with('-') || a.len() == 1) else {
                    self.diag(
                        "dirname: missing operand\nTry 'dirname --help' for more information.",
                    )
                    .await;
                    return Ok(1);
                };
                let t = p.trim_end_matches('/');
                let d = if t.is_empty() && p.starts_with('/') {
                    "/".to_owned()
                } else {
                    match t.rsplit_once('/') {
                        Some((d, _)) => {
                            let d = d.trim_end_matches('/');
                            if d.is_empty() {
                                "/".to_owned()
                            } else {
                                d.to_owned()
                            }
                        }
                        None => ".".to_owned(),
                    }
                };
                let line = format!("{d}\n");
                put!(self, line.as_bytes());
                Ok(0)
            }
            "ls" => self.b_ls(args).await,
            "mkdir" => self.b_mkdir(args).await,
            "touch" => {
                let mut status = 0;
                for a in args.iter().filter(|a| !a.starts_with('-')) {
                    let abs = absolute(&self.fs.cwd, a);
                    match self.fs.lookup(&abs) {
                        Some(_) => {}
                        None => {
                            let parent = abs
                                .rsplit_once('/')
                                .map_or("/", |(p, _)| if p.is_empty() { "/" } else { p });
                            if matches!(self.fs.lookup(parent), Some(Node::Dir)) {
                                self.store_file(&abs, Bytes::new());
                            } else {
                                let m =
                                    format!("touch: cannot touch '{a}': No such file or directory");
                                self.diag(&m).await;
                                status = 1;
                            }
                        }
                    }
                }
                Ok(status)
            }
            _ => self.unsupported(name).await,
        }
    }

    async fn b_echo(&mut self, args: &[String]) -> Res {
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

    async fn b_timeout(&mut self, args: &[String]) -> Res {
        let help = "Try 'timeout --help' for more information.";
        let mut i = 0;
        let mut preserve = false;
        while i < args.len() && args[i].starts_with('-') && args[i].len() > 1 {
            match args[i].as_str() {
                "-s" | "-k" | "--signal" | "--kill-after" => i += 1,
                "--preserve-status" => preserve = true,
                _ => {}
            }
            i += 1;
        }
        let Some(limit) = args.get(i) else {
            let m = format!("timeout: missing operand\n{help}");
            self.diag(&m).await;
            return Ok(125);
        };
        let limit = match parse_sleep(std::slice::from_ref(limit)) {
            Ok(d) => d,
            Err(_) => {
                let m = format!("timeout: invalid time interval '{limit}'\n{help}");
                self.diag(&m).await;
                return Ok(125);
            }
        };
        let argv = args[i + 1..].to_vec();
        if argv.is_empty() {
            let m = format!("timeout: missing operand\n{help}");
            self.diag(&m).await;
            return Ok(125);
        }
        let zero = limit.is_some_and(|d| d.is_zero());
        let Some(limit) = limit.filter(|_| !zero) else {
            // No limit.
            return self.run_program_boxed(argv).await;
        };
        let checkpoint = self.checkpoint();
        // The limit is a plain timer: while the program sleeps, the clock
        // may skip to it.
        let timer = self.clock.sleep(limit);
        let r = tokio::select! {
            r = self.run_program_boxed(argv) => Some(r),
            () = timer => None,
        };
        match r {
            Some(r) => r,
            None => {
                self.rollback(checkpoint);
                let _ = self.io.flush().await;
                Ok(if preserve { 143 } else { 124 })
            }
        }
    }

    async fn b_printf(&mut self, args: &[String]) -> Res {
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

    async fn b_sleep(&mut self, args: &[String]) -> Res {
        match parse_sleep(args) {
            Ok(d) => {
                self.io.sleep(d).await;
                Ok(0)
            }
            Err(msg) => {
                self.diag(&msg).await;
                Ok(1)
            }
        }
    }

    async fn b_seq(&mut self, args: &[String]) -> Res {
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

    /// Takes the remaining standard input.
    fn take_stdin(&mut self) -> Source {
        match std::mem::take(&mut self.stdin) {
            Stdin::Empty => Source::Data(Bytes::new()),
            Stdin::Data(d) => Source::Data(d),
            Stdin::Zero => {
                self.stdin = Stdin::Zero;
                Source::Zero
            }
            Stdin::Random => {
                self.stdin = Stdin::Random;
                Source::Random
            }
        }
    }

    /// Opens `path` for reading (`-`: stdin); `Err` carries the message.
    fn open_in(&mut self, tool: &str, path: &str) -> Result<Source, String> {
        if path == "-" {
            return Ok(self.take_stdin());
        }
        match self.fs.lookup(path) {
            Some(Node::File(d)) => Ok(Source::Data(d)),
            Some(Node::Null | Node::Stdout | Node::Stderr) => Ok(Source::Data(Bytes::new())),
            Some(Node::Zero) => Ok(Source::Zero),
            Some(Node::Random) => Ok(Source::Random),
            Some(Node::Stdin) => Ok(self.take_stdin()),
            Some(Node::Dir) => Err(if tool == "head" || tool == "tail" {
                format!("{tool}: error reading '{path}': Is a directory")
            } else {
                format!("{tool}: {path}: Is a directory")
            }),
            None => Err(if tool == "head" || tool == "tail" {
                format!("{tool}: cannot open '{path}' for reading: No such file or directory")
            } else {
                format!("{tool}: {path}: No such file or directory")
            }),
        }
    }

    /// Copies an endless device to stdout, at most `limit` bytes.
    async fn emit_device(&mut self, zero: bool, limit: Option<u64>) -> Res {
        let mut left = limit.unwrap_or(u64::MAX);
        let mut rnd = Vec::new();
        while left > 0 {
            let take = left.min(ZEROS.len() as u64) as usize;
            let chunk = if zero {
                Bytes::from_static(&ZEROS[..take])
            } else {
                rnd.resize(take.min(FLUSH_AT), 0);
                fill_random(&mut rnd);
                Bytes::copy_from_slice(&rnd)
            };
            let n = chunk.len() as u64;
            put_bytes!(self, chunk);
            left -= n;
        }
        Ok(0)
    }

    async fn b_cat(&mut self, args: &[String]) -> Res {
        let mut number = false;
        let mut files = Vec::new();
        for a in args {
            match a.as_str() {
                "-n" | "--number" => number = true,
                "-u" => {}
                "-" => files.push(a.clone()),
                o if o.starts_with('-') && o.len() > 1 => {
                    let m = format!("cat: option {o} not supported by joblet-mock");
                    self.diag(&m).await;
                    return Ok(2);
                }
                _ => files.push(a.clone()),
            }
        }
        if files.is_empty() {
            files.push("-".to_owned());
        }
        let mut status = 0;
        let mut line_no = 0u64;
        let mut at_line_start = true;
        for f in files {
            match self.open_in("cat", &f) {
                Ok(Source::Data(d)) => {
                    if number {
                        let mut out = Vec::with_capacity(d.len() + d.len() / 4);
                        for &b in d.iter() {
                            if at_line_start {
                                line_no += 1;
                                out.extend_from_slice(format!("{line_no:>6}\t").as_bytes());
                            }
                            out.push(b);
                            at_line_start = b == b'\n';
                        }
                        put!(self, &out);
                    } else {
                        put_bytes!(self, d);
                    }
                }
                Ok(Source::Zero) => return self.emit_device(true, None).await,
                Ok(Source::Random) => return self.emit_device(false, None).await,
                Err(msg) => {
                    self.diag(&msg).await;
                    status = 1;
                }
            }
        }
        Ok(status)
    }

    async fn b_head(&mut self, args: &[String]) -> Res {
        let o = match parse_head_tail("head", args) {
            Ok(o) => o,
            Err(msg) => {
                self.diag(&msg).await;
                return Ok(1);
            }
        };
        let files = if o.files.is_empty() {
            vec!["-".to_owned()]
        } else {
            o.files.clone()
        };
        let headers = o.headers.unwrap_or(files.len() > 1);
        let mut status = 0;
        for (idx, f) in files.iter().enumerate() {
            let src = match self.open_in("head", f) {
                Ok(s) => s,
                Err(msg) => {
                    self.diag(&msg).await;
                    status = 1;
                    continue;
                }
            };
            if headers {
                let name = if f == "-" { "standard input" } else { f };
                let h = format!("{}==> {name} <==\n", if idx > 0 { "\n" } else { "" });
                put!(self, h.as_bytes());
            }
            match src {
                Source::Data(d) => {
                    let cut = if o.other_end {
                        // All but the last N.
                        match o.unit {
                            Unit::Bytes => d.len().saturating_sub(o.n.min(d.len() as u64) as usize),
                            Unit::Lines => super::io::tail_lines_start(&d, o.n),
                        }
                    } else {
                        head_cut(&d, o.unit, o.n)
                    };
                    put_bytes!(self, d.slice(..cut));
                }
                Source::Zero | Source::Random => {
                    let zero = matches!(src, Source::Zero);
                    match (o.unit, o.other_end) {
                        (Unit::Bytes, false) => {
                            let s = self.emit_device(zero, Some(o.n)).await?;
                            if s != 0 {
                                return Ok(s);
                            }
                        }
                        (Unit::Lines, false) if !zero => {
                            // Random bytes until N newlines.
                            let mut left = o.n;
                            let mut buf = vec![0u8; FLUSH_AT];
                            while left > 0 {
                                fill_random(&mut buf);
                                let mut cut = buf.len();
                                for (i, &b) in buf.iter().enumerate() {
                                    if b == b'\n' {
                                        left -= 1;
                                        if left == 0 {
                                            cut = i + 1;
                                            break;
                                        }
                                    }
                                }
                                put!(self, &buf[..cut]);
                            }
                        }
                        // Never reaches a newline / the end: runs until stopped.
                        _ => return self.emit_device(zero, None).await,
                    }
                }
            }
        }
        Ok(status)
    }

    async fn b_tail(&mut self, args: &[String]) -> Res {
        let o = match parse_head_tail("tail", args) {
            Ok(o) => o,
            Err(msg) => {
                self.diag(&msg).await;
                return Ok(1);
            }
        };
        if o.follow {
            return self.unsupported("tail -f").await;
        }
        let files = if o.files.is_empty() {
            vec!["-".to_owned()]
        } else {
            o.files.clone()
        };
        let headers = o.headers.unwrap_or(files.len() > 1);
        let mut status = 0;
        for (idx, f) in files.iter().enumerate() {
            let src = match self.open_in("tail", f) {
                Ok(s) => s,
                Err(msg) => {
                    self.diag(&msg).await;
                    status = 1;
                    continue;
                }
            };
            if headers {
                let name = if f == "-" { "standard input" } else { f };
                let h = format!("{}==> {name} <==\n", if idx > 0 { "\n" } else { "" });
                put!(self, h.as_bytes());
            }
            match src {
                Source::Data(d) => {
                    let start = match (o.unit, o.other_end) {
                        (Unit::Bytes, false) => d.len() - (o.n.min(d.len() as u64) as usize),
                        (Unit::Bytes, true) => (o.n.saturating_sub(1)).min(d.len() as u64) as usize,
                        (Unit::Lines, false) => super::io::tail_lines_start(&d, o.n),
                        (Unit::Lines, true) => {
                            if o.n <= 1 {
                                0
                            } else {
                                // Skip N-1 lines.
                                let mut seen = 0;
                                let mut pos = d.len();
                                for (i, &b) in d.iter().enumerate() {
                                    if b == b'\n' {
                                        seen += 1;
                                        if seen == o.n - 1 {
                                            pos = i + 1;
                                            break;
                                        }
                                    }
                                }
                                pos
                            }
                        }
                    };
                    put_bytes!(self, d.slice(start..));
                }
                Source::Zero | Source::Random => {
                    // An endless input has no end to show: wait until stopped.
                    self.io.sleep(None).await;
                }
            }
        }
        Ok(status)
    }

    async fn b_wc(&mut self, args: &[String]) -> Res {
        let (what, files) = match parse_wc(args) {
            Ok(x) => x,
            Err(msg) => {
                self.diag(&msg).await;
                return Ok(1);
            }
        };
        let names = if files.is_empty() {
            vec![None]
        } else {
            files.iter().map(|f| Some(f.clone())).collect()
        };
        let mut results: Vec<(Vec<u64>, Option<String>)> = Vec::new();
        let mut total = WcCounts::default();
        let mut total_size: u64 = 0;
        let mut non_regular = false;
        let mut status = 0;
        for n in &names {
            let src = match self.open_in("wc", n.as_deref().unwrap_or("-")) {
                Ok(s) => s,
                Err(msg) => {
                    self.diag(&msg).await;
                    status = 1;
                    continue;
                }
            };
            match src {
                Source::Data(d) => {
                    let mut c = WcCounts::default();
                    c.add(&d);
                    total.lines += c.lines;
                    total.words += c.words;
                    total.chars += c.chars;
                    total.bytes += c.bytes;
                    let is_stdin = n.as_deref().is_none_or(|x| x == "-");
                    if is_stdin {
                        non_regular = true;
                    } else {
                        total_size += d.len() as u64;
                    }
                    results.push((c.selected(what), n.clone()));
                }
                Source::Zero | Source::Random => {
                    self.io.sleep(None).await;
                }
            }
        }
        let counts_per_line = results.first().map_or(0, |r| r.0.len());
        let mut width = if counts_per_line == 1 && names.len() == 1 {
            1
        } else {
            total_size.max(1).to_string().len()
        };
        if non_regular && !(counts_per_line == 1 && names.len() == 1) {
            width = width.max(7);
        }
        let mut out = String::new();
        for (counts, name) in &results {
            out.push_str(&super::io::wc_line(counts, width, name.as_deref()));
        }
        if names.len() > 1 {
            out.push_str(&super::io::wc_line(
                &total.selected(what),
                width,
                Some("total"),
            ));
        }
        put!(self, out.as_bytes());
        Ok(status)
    }

    async fn b_yes(&mut self, args: &[String]) -> Res {
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

    async fn b_env(&mut self, args: &[String]) -> Res {
        let mut i = 0;
        let mut clear = false;
        let mut unsets = Vec::new();
        while i < args.len() {
            match args[i].as_str() {
                "-i" | "-" | "--ignore-environment" => clear = true,
                "-u" if i + 1 < args.len() => {
                    unsets.push(args[i + 1].clone());
                    i += 1;
                }
                "--" => {
                    i += 1;
                    break;
                }
                a if a.starts_with('-') && a.len() > 1 => {
                    let m = format!("env: option {a} not supported by joblet-mock");
                    self.diag(&m).await;
                    return Ok(125);
                }
                _ => break,
            }
            i += 1;
        }
        let mut sets = Vec::new();
        while i < args.len() {
            match args[i].split_once('=') {
                Some((k, v)) if !k.is_empty() => sets.push((k.to_owned(), v.to_owned())),
                _ => break,
            }
            i += 1;
        }
        let saved = (self.vars.clone(), self.exported.clone());
        if clear {
            let exported = std::mem::take(&mut self.exported);
            self.vars_mut().retain(|k, _| !exported.contains(k));
        }
        for u in &unsets {
            self.unset_var(u);
        }
        for (k, v) in sets {
            self.vars_mut().insert(k.clone(), v);
            self.exported.insert(k);
        }
        let r = if i < args.len() {
            self.run_program_boxed(args[i..].to_vec()).await
        } else {
            let mut out = String::new();
            for (k, v) in self.environment() {
                out.push_str(&k);
                out.push('=');
                out.push_str(&v);
                out.push('\n');
            }
            if self.io.out_slice(out.as_bytes()).await.is_err() {
                Ok(SIGPIPE_STATUS)
            } else {
                Ok(0)
            }
        };
        self.vars = saved.0;
        self.exported = saved.1;
        r
    }

    async fn b_printenv(&mut self, args: &[String]) -> Res {
        let names: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
        let mut out = String::new();
        let mut status = 0;
        if names.is_empty() {
            for (k, v) in self.environment() {
                out.push_str(&format!("{k}={v}\n"));
            }
        } else {
            for n in names {
                match self
                    .vars
                    .get(n.as_str())
                    .filter(|_| self.exported.contains(n.as_str()))
                {
                    Some(v) => {
                        out.push_str(v);
                        out.push('\n');
                    }
                    None => status = 1,
                }
            }
        }
        put!(self, out.as_bytes());
        Ok(status)
    }

    async fn b_exit(&mut self, args: &[String]) -> Res {
        let s = match args.first() {
            None => self.status,
            Some(a) => match a.trim().parse::<i64>() {
                Ok(v) => (v & 0xff) as i32,
                Err(_) => {
                    let m = format!("{}exit: {a}: numeric argument required", self.prefix());
                    self.diag(&m).await;
                    2
                }
            },
        };
        Err(Flow::Exit(s))
    }

    async fn b_date(&mut self, args: &[String]) -> Res {
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

    async fn b_test(&mut self, args: &[String], bracket: bool) -> Res {
        let name = if bracket { "[" } else { "test" };
        let args = if bracket {
            match args.split_last() {
                Some((last, rest)) if last == "]" => rest,
                _ => {
                    let m = format!("{}[: missing `]'", self.prefix());
                    self.diag(&m).await;
                    return Ok(2);
                }
            }
        } else {
            args
        };
        match test_eval(self, args) {
            Ok(b) => Ok(i32::from(!b)),
            Err(msg) => {
                let m = format!("{}{name}: {msg}", self.prefix());
                self.diag(&m).await;
                Ok(2)
            }
        }
    }

    async fn b_export(&mut self, args: &[String]) -> Res {
        let mut unexport = false;
        let mut names = Vec::new();
        for a in args {
            match a.as_str() {
                "-n" => unexport = true,
                "-p" | "-f" | "--" => {}
                _ => names.push(a.clone()),
            }
        }
        if names.is_empty() {
            let mut out = String::new();
            for (k, v) in self.environment() {
                out.push_str(&format!("declare -x {k}={}\n", declare_quote(&v)));
            }
            put!(self, out.as_bytes());
            return Ok(0);
        }
        let mut status = 0;
        for n in names {
            let (name, value) = match n.split_once('=') {
                Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                None => (n.clone(), None),
            };
            if !valid_name(&name) {
                let m = format!("{}export: `{n}': not a valid identifier", self.prefix());
                self.diag(&m).await;
                status = 1;
                continue;
            }
            if let Some(v) = value {
                self.set_var(&name, v);
            }
            if unexport {
                self.exported.remove(&name);
            } else {
                self.exported.insert(name);
            }
        }
        Ok(status)
    }

    async fn b_declare(&mut self, name: &str, args: &[String]) -> Res {
        let in_function = !self.locals.is_empty();
        if name == "local" && !in_function {
            let m = format!("{}local: can only be used in a function", self.prefix());
            self.diag(&m).await;
            return Ok(1);
        }
        let mut export = false;
        let mut global = false;
        let mut items = Vec::new();
        for a in args {
            if let Some(flags) = a
                .strip_prefix('-')
                .filter(|f| !f.is_empty() && items.is_empty())
            {
                for c in flags.chars() {
                    match c {
                        'x' => export = true,
                        'g' => global = true,
                        'r' | 'i' | 'l' | 'u' | 't' => {}
                        other => return self.unsupported(&format!("{name} -{other}")).await,
                    }
                }
                continue;
            }
            if let Some(flags) = a
                .strip_prefix('+')
                .filter(|f| !f.is_empty() && items.is_empty())
            {
                let _ = flags;
                continue;
            }
            items.push(a.clone());
        }
        if items.is_empty() {
            return Ok(0);
        }
        let make_local = in_function && !global && matches!(name, "local" | "declare" | "typeset");
        let mut status = 0;
        for it in items {
            let (var, value) = match it.split_once('=') {
                Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                None => (it.clone(), None),
            };
            if !valid_name(&var) {
                let m = format!("{}{name}: `{it}': not a valid identifier", self.prefix());
                self.diag(&m).await;
                status = 1;
                continue;
            }
            if make_local && let Some(frame) = self.locals.last_mut() {
                if !frame.iter().any(|(n, _, _)| *n == var) {
                    let old = self.vars.get(&var).cloned();
                    let was_exported = self.exported.contains(&var);
                    frame.push((var.clone(), old, was_exported));
                }
                if value.is_none() && !self.vars.contains_key(&var) {
                    self.vars_mut().insert(var.clone(), String::new());
                }
            }
            if let Some(v) = value {
                self.set_var(&var, v);
            }
            if export {
                self.exported.insert(var);
            }
        }
        Ok(status)
    }

    async fn b_cd(&mut self, args: &[String]) -> Res {
        let args: Vec<&String> = args
            .iter()
            .filter(|a| !matches!(a.as_str(), "-L" | "-P" | "--"))
            .collect();
        let (target, print) = match args.first() {
            None => (
                self.get_var("HOME").unwrap_or_else(|| "/root".to_owned()),
                false,
            ),
            Some(a) if a.as_str() == "-" => match self.get_var("OLDPWD") {
                Some(o) => (o, true),
                None => {
                    let m = format!("{}cd: OLDPWD not set", self.prefix());
                    self.diag(&m).await;
                    return Ok(1);
                }
            },
            Some(a) => ((*a).clone(), false),
        };
        match self.fs.lookup(&target) {
            Some(Node::Dir) => {
                let abs = absolute(&self.fs.cwd, &target);
                let old = std::mem::replace(&mut self.fs.cwd, abs.as_str().into());
                self.set_var("OLDPWD", old.to_string());
                self.set_var("PWD", abs.clone());
                if print {
                    let line = format!("{abs}\n");
                    put!(self, line.as_bytes());
                }
                Ok(0)
            }
            Some(_) => {
                let m = format!("{}cd: {target}: Not a directory", self.prefix());
                self.diag(&m).await;
                Ok(1)
            }
            None => {
                let m = format!("{}cd: {target}: No such file or directory", self.prefix());
                self.diag(&m).await;
                Ok(1)
            }
        }
    }

    async fn b_set(&mut self, args: &[String]) -> Res {
        if args.is_empty() {
            let mut out = String::new();
            for (k, v) in self.vars.iter() {
                out.push_str(&format!("{k}={}\n", super::printf::shell_quote(v)));
            }
            put!(self, out.as_bytes());
            return Ok(0);
        }
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            i += 1;
            if a == "--" {
                self.positional = args[i..].to_vec();
                return Ok(0);
            }
            let (on, letters) = match (a.strip_prefix('-'), a.strip_prefix('+')) {
                (Some(l), _) if !l.is_empty() => (true, l),
                (_, Some(l)) if !l.is_empty() => (false, l),
                _ => {
                    self.positional = args[i - 1..].to_vec();
                    return Ok(0);
                }
            };
            for c in letters.chars() {
                match c {
                    'e' => self.opts.errexit = on,
                    'u' => self.opts.nounset = on,
                    'x' => self.opts.xtrace = on,
                    'v' | 'h' | 'B' | 'H' | 'm' | 'b' | 'C' | 'f' | 'a' | 'T' | 'E' | 'P' | 'k'
                    | 'n' => {}
                    'o' => {
                        let Some(opt) = args.get(i) else {
                            return Ok(0);
                        };
                        i += 1;
                        match opt.as_str() {
                            "errexit" => self.opts.errexit = on,
                            "nounset" => self.opts.nounset = on,
                            "xtrace" => self.opts.xtrace = on,
                            "pipefail" => self.opts.pipefail = on,
                            _ => {}
                        }
                    }
                    other => {
                        let m = format!("{}set: -{other}: invalid option", self.prefix());
                        self.diag(&m).await;
                        return Ok(2);
                    }
                }
            }
        }
        Ok(0)
    }

    async fn b_source(&mut self, name: &str, args: &[String]) -> Res {
        let Some((file, rest)) = args.split_first() else {
            let m = format!("{}{name}: filename argument required", self.prefix());
            self.diag(&m).await;
            return Ok(2);
        };
        let data = match self.fs.lookup(file) {
            Some(Node::File(d)) => d,
            _ => {
                let m = format!("{}{file}: No such file or directory", self.prefix());
                self.diag(&m).await;
                return Ok(1);
            }
        };
        let src = String::from_utf8_lossy(&data).into_owned();
        let saved_pos = if rest.is_empty() {
            None
        } else {
            Some(std::mem::replace(&mut self.positional, rest.to_vec()))
        };
        self.sourcing += 1;
        let r = self.eval_str(&src).await;
        self.sourcing -= 1;
        if let Some(p) = saved_pos {
            self.positional = p;
        }
        match r {
            Err(Flow::Return(s)) => Ok(s),
            other => other,
        }
    }

    async fn b_read(&mut self, args: &[String]) -> Res {
        let mut raw = false;
        let mut delim = b'\n';
        let mut vars = Vec::new();
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            i += 1;
            match a.as_str() {
                "-r" => raw = true,
                "-s" | "-e" => {}
                "-p" | "-t" | "-u" | "-n" | "-N" | "-d" | "-a" if i >= args.len() => {
                    let m = format!("{}read: {a}: option requires an argument", self.prefix());
                    self.diag(&m).await;
                    return Ok(2);
                }
                "-p" => {
                    let p = args[i].clone();
                    i += 1;
                    self.io.err_slice(p.as_bytes()).await;
                }
                "-t" => i += 1,
                "-d" => {
                    delim = args[i].bytes().next().unwrap_or(0);
                    i += 1;
                }
                "-a" | "-u" | "-n" | "-N" => return self.unsupported(&format!("read {a}")).await,
                _ => vars.push(a.clone()),
            }
        }
        let data = match std::mem::take(&mut self.stdin) {
            Stdin::Data(d) => d,
            Stdin::Empty => Bytes::new(),
            other => {
                self.stdin = other;
                return self.unsupported("read from a device").await;
            }
        };
        if data.is_empty() {
            for v in vars
                .iter()
                .chain(std::iter::once(&"REPLY".to_owned()).filter(|_| vars.is_empty()))
            {
                self.set_var(v, String::new());
            }
            return Ok(1);
        }
        let (line, rest, status) = match data.iter().position(|&b| b == delim) {
            Some(p) => (data.slice(..p), data.slice(p + 1..), 0),
            None => (data.clone(), Bytes::new(), 1),
        };
        self.stdin = Stdin::Data(rest);
        let mut text = String::from_utf8_lossy(&line).into_owned();
        if !raw {
            let mut s = String::with_capacity(text.len());
            let mut esc = false;
            for c in text.chars() {
                if esc {
                    s.push(c);
                    esc = false;
                } else if c == '\\' {
                    esc = true;
                } else {
                    s.push(c);
                }
            }
            text = s;
        }
        if vars.is_empty() {
            self.set_var("REPLY", text);
            return Ok(status);
        }
        let ifs = self
            .vars
            .get("IFS")
            .cloned()
            .unwrap_or_else(|| " \t\n".to_owned());
        let is_ifs = |c: char| ifs.contains(c);
        let mut rest_text = text.trim_start_matches(is_ifs);
        for (k, v) in vars.iter().enumerate() {
            if k + 1 == vars.len() {
                let val = rest_text.trim_end_matches(|c: char| is_ifs(c) && c.is_whitespace());
                self.set_var(v, val.to_owned());
            } else {
                let end = rest_text.find(is_ifs).unwrap_or(rest_text.len());
                self.set_var(v, rest_text[..end].to_owned());
                rest_text = rest_text[end..].trim_start_matches(is_ifs);
            }
        }
        Ok(status)
    }

    /// Where `name` would be found on the node's PATH, if anywhere.
    fn program_path(&self, name: &str) -> Option<String> {
        if name.contains('/') {
            return match self.fs.lookup(name) {
                Some(Node::File(_)) => Some(name.to_owned()),
                _ => None,
            };
        }
        if builtin_name(name).is_some() || is_shell(name) {
            return Some(format!("/usr/bin/{name}"));
        }
        let known = self
            .scenario_commands()
            .iter()
            .any(|p| super::glob::Pattern::new(p).matches(name));
        known.then(|| format!("/usr/bin/{name}"))
    }

    async fn b_command(&mut self, args: &[String]) -> Res {
        match args.first().map(String::as_str) {
            Some("-v") => {
                let mut status = 0;
                for a in &args[1..] {
                    let found = if self.functions.contains_key(a.as_str())
                        || (builtin_name(a).is_some() && !a.contains('/'))
                    {
                        Some(a.clone())
                    } else {
                        self.program_path(a)
                    };
                    match found {
                        Some(p) => {
                            let line = format!("{p}\n");
                            put!(self, line.as_bytes());
                        }
                        None => status = 1,
                    }
                }
                Ok(status)
            }
            Some("-V") => self.unsupported("command -V").await,
            Some("-p") => self.run_program_boxed(args[1..].to_vec()).await,
            Some(_) => self.run_program_boxed(args.to_vec()).await,
            None => Ok(0),
        }
    }

    async fn b_basename(&mut self, args: &[String]) -> Res {
        let ops: Vec<&String> = args
            .iter()
            .filter(|a| !a.starts_with('-') || a.len() == 1)
            .collect();
        let Some(path) = ops.first() else {
            self.diag("basename: missing operand\nTry 'basename --help' for more information.")
                .await;
            return Ok(1);
        };
        let t = path.trim_end_matches('/');
        let mut base = if t.is_empty() {
            if path.is_empty() {
                String::new()
            } else {
                "/".to_owned()
            }
        } else {
            t.rsplit('/').next().unwrap_or(t).to_owned()
        };
        if let Some(suffix) = ops.get(1)
            && base.len() > suffix.len()
            && base.ends_with(suffix.as_str())
        {
            base.truncate(base.len() - suffix.len());
        }
        base.push('\n');
        put!(self, base.as_bytes());
        Ok(0)
    }

    async fn b_ls(&mut self, args: &[String]) -> Res {
        let mut all = false;
        let mut paths = Vec::new();
        for a in args {
            if let Some(flags) = a.strip_prefix('-').filter(|f| !f.is_empty()) {
                for c in flags.chars() {
                    match c {
                        'a' => all = true,
                        '1' | 'A' => {}
                        other => {
                            let m = format!("ls: option -{other} not supported by joblet-mock");
                            self.diag(&m).await;
                            return Ok(2);
                        }
                    }
                }
            } else {
                paths.push(a.clone());
            }
        }
        if paths.is_empty() {
            paths.push(".".to_owned());
        }
        let mut status = 0;
        let mut out = String::new();
        let multi = paths.len() > 1;
        let mut first = true;
        for p in &paths {
            match self.fs.lookup(p) {
                Some(Node::Dir) => {
                    if multi {
                        if !first {
                            out.push('\n');
                        }
                        out.push_str(&format!("{p}:\n"));
                    }
                    if all {
                        out.push_str(".\n..\n");
                    }
                    for n in self.fs.list_dir(p) {
                        if all || !n.starts_with('.') {
                            out.push_str(&n);
                            out.push('\n');
                        }
                    }
                }
                Some(_) => out.push_str(&format!("{p}\n")),
                None => {
                    let m = format!("ls: cannot access '{p}': No such file or directory");
                    self.diag(&m).await;
                    status = 2;
                }
            }
            first = false;
        }
        put!(self, out.as_bytes());
        Ok(status)
    }

    async fn b_mkdir(&mut self, args: &[String]) -> Res {
        let parents = args.iter().any(|a| a == "-p" || a == "--parents");
        let mut status = 0;
        for a in args.iter().filter(|a| !a.starts_with('-')) {
            let abs = absolute(&self.fs.cwd, a);
            match self.fs.lookup(&abs) {
                Some(Node::Dir) if parents => {}
                Some(_) => {
                    let m = format!("mkdir: cannot create directory '{a}': File exists");
                    self.diag(&m).await;
                    status = 1;
                }
                None => {
                    let parent = abs
                        .rsplit_once('/')
                        .map_or("/", |(p, _)| if p.is_empty() { "/" } else { p });
                    if parents || matches!(self.fs.lookup(parent), Some(Node::Dir)) {
                        let mut cur = String::new();
                        for part in abs.split('/').filter(|s| !s.is_empty()) {
                            cur.push('/');
                            cur.push_str(part);
                            self.fs.dirs.insert(cur.clone());
                        }
                    } else {
                        let m = format!(
                            "mkdir: cannot create directory '{a}': No such file or directory"
                        );
                        self.diag(&m).await;
                        status = 1;
                    }
                }
            }
        }
        Ok(status)
    }
}

fn fill_random(buf: &mut [u8]) {
    use rand::RngCore;
    rand::rng().fill_bytes(buf);
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
