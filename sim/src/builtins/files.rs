//! Reading files and devices: `cat`, `head`, `tail`, `wc` over uploaded and
//! written files, standard input, `/dev/zero` and `/dev/urandom`.

use bytes::Bytes;

use crate::args::{Unit, parse_head_tail, parse_wc};
use crate::host::{Clock, Output};
use crate::io::{FLUSH_AT, WcCounts, ZEROS, tail_lines_start, wc_line};
use crate::observe::Observer;
use crate::shell::{Node, Res, Shell, Stdin};

/// Where a command reads from.
#[derive(Debug, Clone)]
pub(super) enum Source {
    Data(Bytes),
    Zero,
    Random,
}

impl<O: Output, C: Clock, W: Observer> Shell<'_, O, C, W> {
    /// Takes the remaining standard input.
    pub(super) fn take_stdin(&mut self) -> Source {
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
    pub(super) fn open_in(&mut self, tool: &str, path: &str) -> Result<Source, String> {
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

    /// `cat [-n] FILE…`.
    pub(super) async fn b_cat(&mut self, args: &[String]) -> Res {
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

    /// `head`: files, stdin and devices.
    pub(super) async fn b_head(&mut self, args: &[String]) -> Res {
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
                            Unit::Lines => tail_lines_start(&d, o.n),
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

    /// `tail` (not `-f`).
    pub(super) async fn b_tail(&mut self, args: &[String]) -> Res {
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
                        (Unit::Lines, false) => tail_lines_start(&d, o.n),
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

    /// `wc [-lwmc] FILE…`.
    pub(super) async fn b_wc(&mut self, args: &[String]) -> Res {
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
            out.push_str(&wc_line(counts, width, name.as_deref()));
        }
        if names.len() > 1 {
            out.push_str(&wc_line(&total.selected(what), width, Some("total")));
        }
        put!(self, out.as_bytes());
        Ok(status)
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

fn fill_random(buf: &mut [u8]) {
    use rand::RngCore;
    rand::rng().fill_bytes(buf);
}
