//! Redirections (`<`, `>`, `>>`, `2>&1`, `&>`, here-documents and
//! here-strings): routes of the output stack and files of the in-memory file
//! system.

use bytes::Bytes;

use super::fs::{Node, absolute};
use super::state::{Flow, Shell, Stdin};
use crate::host::{Clock, Output};
use crate::io::Route;
use crate::observe::FileOperation;
use crate::observe::Observer;
use crate::syntax::{Redir, RedirKind};

/// Total size of files written by a job (`> file`).
const WRITTEN_LIMIT: usize = 64 << 20;

impl<O: Output, C: Clock, W: Observer> Shell<'_, O, C, W> {
    // ---------------------------------------------------------------------
    // Redirections.

    /// Applies redirections; `Ok(Err(status))` when one fails (reported).
    pub(crate) async fn apply_redirs(
        &mut self,
        redirs: &[Redir],
    ) -> Result<Result<SavedIo, i32>, Flow> {
        let saved = SavedIo {
            stdout: self.io.stdout,
            stderr: self.io.stderr,
            stdin: if redirs.is_empty() {
                None
            } else {
                Some(self.stdin.clone())
            },
            files: Vec::new(),
            writer: None,
        };
        if redirs.is_empty() {
            return Ok(Ok(saved));
        }
        let mut saved = saved;
        for r in redirs {
            let out_fd = r.fd.unwrap_or(1);
            match &r.kind {
                RedirKind::In(w) => {
                    let path = self.expand_word(w).await?;
                    let input = match self.fs.lookup(&path) {
                        Some(Node::File(d)) => Stdin::Data(d),
                        Some(Node::Null) => Stdin::Empty,
                        Some(Node::Zero) => Stdin::Zero,
                        Some(Node::Random) => Stdin::Random,
                        Some(Node::Stdin) => self.stdin.clone(),
                        Some(Node::Dir) => {
                            let msg = format!("{}{path}: Is a directory", self.prefix());
                            self.diag(&msg).await;
                            self.undo_redirs(saved).await;
                            return Ok(Err(1));
                        }
                        Some(Node::Stdout | Node::Stderr) => Stdin::Empty,
                        None => {
                            let msg = format!("{}{path}: No such file or directory", self.prefix());
                            self.diag(&msg).await;
                            self.undo_redirs(saved).await;
                            return Ok(Err(1));
                        }
                    };
                    if r.fd.unwrap_or(0) == 0 {
                        self.stdin = input;
                    }
                }
                RedirKind::Out(w) | RedirKind::Append(w) => {
                    let append = matches!(r.kind, RedirKind::Append(_));
                    let path = self.expand_word(w).await?;
                    let route = match self.open_out(&path, append, &mut saved).await {
                        Ok(route) => route,
                        Err(status) => {
                            self.undo_redirs(saved).await;
                            return Ok(Err(status));
                        }
                    };
                    match out_fd {
                        1 => self.io.stdout = route,
                        2 => self.io.stderr = route,
                        _ => {}
                    }
                }
                RedirKind::OutErr(w, append) => {
                    let path = self.expand_word(w).await?;
                    let route = match self.open_out(&path, *append, &mut saved).await {
                        Ok(route) => route,
                        Err(status) => {
                            self.undo_redirs(saved).await;
                            return Ok(Err(status));
                        }
                    };
                    self.io.stdout = route;
                    self.io.stderr = route;
                }
                RedirKind::DupOut(w) => {
                    let target = self.expand_word(w).await?;
                    let route = match target.as_str() {
                        "1" => self.io.stdout,
                        "2" => self.io.stderr,
                        "-" => Route::Null,
                        other => {
                            // `>&file` is `&>file` in bash.
                            if r.fd.is_none() && other.parse::<u32>().is_err() {
                                let route = match self.open_out(other, false, &mut saved).await {
                                    Ok(route) => route,
                                    Err(status) => {
                                        self.undo_redirs(saved).await;
                                        return Ok(Err(status));
                                    }
                                };
                                self.io.stderr = route;
                                route
                            } else {
                                self.undo_redirs(saved).await;
                                self.unsupported(&format!(
                                    "redirection to file descriptor {other}"
                                ))
                                .await?;
                                return Ok(Err(2));
                            }
                        }
                    };
                    match out_fd {
                        1 => self.io.stdout = route,
                        2 => self.io.stderr = route,
                        _ => {}
                    }
                }
                RedirKind::DupIn(w) => {
                    let target = self.expand_word(w).await?;
                    if target != "0" && target != "-" {
                        self.undo_redirs(saved).await;
                        self.unsupported(&format!("input from file descriptor {target}"))
                            .await?;
                        return Ok(Err(2));
                    }
                }
                RedirKind::HereDoc(w) => {
                    let text = self.expand_word(w).await?;
                    if r.fd.unwrap_or(0) == 0 {
                        self.stdin = Stdin::Data(Bytes::from(text));
                    }
                }
                RedirKind::HereString(w) => {
                    let mut text = self.expand_word(w).await?;
                    text.push('\n');
                    if r.fd.unwrap_or(0) == 0 {
                        self.stdin = Stdin::Data(Bytes::from(text));
                    }
                }
                RedirKind::Unsupported(what) => {
                    let what = what.clone();
                    self.undo_redirs(saved).await;
                    self.unsupported(&what).await?;
                    return Ok(Err(2));
                }
            }
        }
        Ok(Ok(saved))
    }

    /// Opens `path` for output; returns the route to it.
    async fn open_out(
        &mut self,
        path: &str,
        append: bool,
        saved: &mut SavedIo,
    ) -> Result<Route, i32> {
        match self.fs.lookup(path) {
            Some(Node::Null) => return Ok(Route::Null),
            Some(Node::Stdout) => return Ok(self.io.stdout),
            Some(Node::Stderr) => return Ok(self.io.stderr),
            Some(Node::Dir) => {
                let msg = format!("{}{path}: Is a directory", self.prefix());
                self.diag(&msg).await;
                return Err(1);
            }
            Some(Node::Zero | Node::Random | Node::Stdin) => return Ok(Route::Null),
            Some(Node::File(_)) | None => {}
        }
        let abs = absolute(&self.fs.cwd, path);
        let parent = abs
            .rsplit_once('/')
            .map_or("/", |(p, _)| if p.is_empty() { "/" } else { p });
        if !matches!(self.fs.lookup(parent), Some(Node::Dir)) {
            let msg = format!("{}{path}: No such file or directory", self.prefix());
            self.diag(&msg).await;
            return Err(1);
        }
        let mut existing = match self.fs.lookup(&abs) {
            Some(Node::File(d)) => d,
            _ => Bytes::new(),
        };
        if !append {
            existing = Bytes::new();
        }
        // Create (or truncate) now, so the file exists while the command runs.
        self.store_file(&abs, existing.clone());
        let room = WRITTEN_LIMIT.saturating_sub(self.fs.written_bytes);
        let frame = self.io.begin_capture(room);
        saved.files.push(OpenFile {
            frame,
            path: abs,
            kept: existing,
            append,
        });
        Ok(Route::Frame(frame))
    }

    pub(crate) fn store_file(&mut self, abs: &str, data: Bytes) {
        let old = self
            .fs
            .written
            .insert(abs.to_owned(), data.clone())
            .map_or(0, |d| d.len());
        self.fs.written_bytes = self.fs.written_bytes.saturating_sub(old) + data.len();
    }

    /// Undoes [`Self::apply_redirs`], storing written files.
    pub(crate) async fn undo_redirs(&mut self, saved: SavedIo) {
        let SavedIo {
            stdout,
            stderr,
            stdin,
            files,
            writer,
        } = saved;
        let writer = writer.unwrap_or(self.procs.pid);
        for file in files.into_iter().rev() {
            let OpenFile {
                frame,
                path: abs,
                kept: prefix,
                append,
            } = file;
            let (data, truncated) = self.io.end_capture(frame);
            let op = if append {
                FileOperation::Append
            } else {
                FileOperation::Write
            };
            self.report_write(writer, &abs, op, data.len());
            let content = if prefix.is_empty() {
                data
            } else {
                let mut v = Vec::with_capacity(prefix.len() + data.len());
                v.extend_from_slice(&prefix);
                v.extend_from_slice(&data);
                Bytes::from(v)
            };
            self.store_file(&abs, content);
            if truncated {
                let msg = format!(
                    "{}{abs}: write error: No space left on device",
                    self.prefix()
                );
                self.diag(&msg).await;
            }
        }
        self.io.stdout = stdout;
        self.io.stderr = stderr;
        if let Some(stdin) = stdin {
            self.stdin = stdin;
        }
    }
}

/// What [`Shell::apply_redirs`] changed.
#[derive(Debug)]
pub(crate) struct SavedIo {
    stdout: Route,
    stderr: Route,
    stdin: Option<Stdin>,
    /// The files opened for output.
    files: Vec<OpenFile>,
    /// The process that writes them (`None`: the shell's).
    pub(crate) writer: Option<u32>,
}

/// A file a redirection opened for output (`> file`, `>> file`).
#[derive(Debug)]
struct OpenFile {
    /// The capture frame its output goes to.
    frame: usize,
    /// Its absolute path.
    path: String,
    /// What it held before (kept when appending).
    kept: Bytes,
    append: bool,
}
