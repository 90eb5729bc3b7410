//! The in-memory file system and paths: `pwd`, `cd`, `ls`, `mkdir`,
//! `touch`, `basename`, `dirname`.

use bytes::Bytes;

use crate::host::{Clock, Output};
use crate::observe::{FileOperation, Observer};
use crate::shell::{Node, Res, Shell, absolute};

impl<O: Output, C: Clock, W: Observer> Shell<'_, O, C, W> {
    /// `pwd`.
    pub(super) async fn b_pwd(&mut self) -> Res {
        let s = format!("{}\n", self.fs.cwd);
        put!(self, s.as_bytes());
        Ok(0)
    }

    /// `cd [DIR|-]`.
    pub(super) async fn b_cd(&mut self, args: &[String]) -> Res {
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

    /// `ls [-a] PATH…`.
    pub(super) async fn b_ls(&mut self, args: &[String]) -> Res {
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

    /// `mkdir [-p] DIR…`.
    pub(super) async fn b_mkdir(&mut self, args: &[String]) -> Res {
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

    /// `touch`: creates empty files.
    pub(super) async fn b_touch(&mut self, args: &[String]) -> Res {
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
                        let pid = self.procs.pid;
                        self.report_write(pid, &abs, FileOperation::Create, 0);
                    } else {
                        let m = format!("touch: cannot touch '{a}': No such file or directory");
                        self.diag(&m).await;
                        status = 1;
                    }
                }
            }
        }
        Ok(status)
    }

    /// `basename PATH [SUFFIX]`.
    pub(super) async fn b_basename(&mut self, args: &[String]) -> Res {
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

    /// `dirname`.
    pub(super) async fn b_dirname(&mut self, args: &[String]) -> Res {
        let Some(p) = args.iter().find(|a| !a.starts_with('-') || a.len() == 1) else {
            self.diag("dirname: missing operand\nTry 'dirname --help' for more information.")
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
}
