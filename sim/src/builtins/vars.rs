//! Variables and the environment: `export`, `declare` / `local` /
//! `readonly` / `typeset`, `unset`, `set`, `shift`, `read`, `env`,
//! `printenv`.

use bytes::Bytes;

use crate::host::{Clock, Output};
use crate::observe::Observer;
use crate::printf::shell_quote;
use crate::shell::{Res, SIGPIPE_STATUS, Shell, Stdin};

impl<O: Output, C: Clock, W: Observer> Shell<'_, O, C, W> {
    /// `export [-n] NAME[=VALUE]…` (no names: the exported variables).
    pub(super) async fn b_export(&mut self, args: &[String]) -> Res {
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

    /// `declare`, `local`, `readonly`, `typeset` (`-x`, `-g`; other flags accepted).
    pub(super) async fn b_declare(&mut self, name: &str, args: &[String]) -> Res {
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

    /// `unset [-f|-v] NAME…`.
    pub(super) fn b_unset(&mut self, args: &[String]) -> Res {
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

    /// `set`: options (`-euxo pipefail`), positional parameters; no arguments: the variables.
    pub(super) async fn b_set(&mut self, args: &[String]) -> Res {
        if args.is_empty() {
            let mut out = String::new();
            for (k, v) in self.vars.iter() {
                out.push_str(&format!("{k}={}\n", shell_quote(v)));
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

    /// `shift [N]`.
    pub(super) async fn b_shift(&mut self, args: &[String]) -> Res {
        let n = match args.first() {
            Some(a) => match a.parse::<usize>() {
                Ok(n) => n,
                Err(_) => {
                    let m = format!("{}shift: {a}: numeric argument required", self.prefix());
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

    /// `read [-r] [-d DELIM] [-p PROMPT] NAME…` from standard input.
    pub(super) async fn b_read(&mut self, args: &[String]) -> Res {
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
    pub(super) async fn b_env(&mut self, args: &[String]) -> Res {
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
            self.spawn_next(crate::shell::Spawn::Replace);
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

    /// `printenv [NAME…]`.
    pub(super) async fn b_printenv(&mut self, args: &[String]) -> Res {
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
