//! The job's view of the file system: uploaded files under the work dir,
//! files the job wrote, a few devices (`/dev/null`, `/dev/zero`, …), all in
//! memory.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bytes::Bytes;

use crate::context::UploadedFile;
pub(crate) use crate::path::{absolute, is_normal};
use crate::scenario::FileSource;

/// What a path names.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    File(Bytes),
    Dir,
    Null,
    Zero,
    Random,
    Stdin,
    Stdout,
    Stderr,
}

/// The job's view of the file system: uploaded files under the work dir,
/// files the job wrote, a few devices.
#[derive(Debug)]
pub(crate) struct Fs {
    pub uploaded: Arc<BTreeMap<String, UploadedFile>>,
    pub written: BTreeMap<String, Bytes>,
    pub written_bytes: usize,
    pub dirs: BTreeSet<String>,
    /// Absolute and normal.
    pub work_dir: Arc<str>,
    pub cwd: Arc<str>,
}

impl Fs {
    /// Resolves `path` to what it names.
    pub(crate) fn lookup(&self, path: &str) -> Option<Node> {
        let abs = absolute(&self.cwd, path);
        match abs.as_str() {
            "/dev/null" => return Some(Node::Null),
            "/dev/zero" => return Some(Node::Zero),
            "/dev/urandom" | "/dev/random" => return Some(Node::Random),
            "/dev/stdin" | "/proc/self/fd/0" | "/dev/fd/0" => return Some(Node::Stdin),
            "/dev/stdout" | "/proc/self/fd/1" | "/dev/fd/1" => return Some(Node::Stdout),
            "/dev/stderr" | "/proc/self/fd/2" | "/dev/fd/2" => return Some(Node::Stderr),
            "/" | "/tmp" | "/dev" => return Some(Node::Dir),
            _ => {}
        }
        if let Some(data) = self.written.get(&abs) {
            return Some(Node::File(data.clone()));
        }
        if self.dirs.contains(&abs) {
            return Some(Node::Dir);
        }
        let prefix = format!("{abs}/");
        if self
            .written
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(k, _)| k.starts_with(&prefix))
        {
            return Some(Node::Dir);
        }
        // Normal already (see `Shell::new`).
        let wd = &*self.work_dir;
        if abs == wd || (wd.starts_with(&abs) && wd.as_bytes().get(abs.len()) == Some(&b'/')) {
            return Some(Node::Dir);
        }
        let rel = if wd == "/" {
            abs.strip_prefix('/')
        } else {
            abs.strip_prefix(wd).and_then(|r| r.strip_prefix('/'))
        }?;
        if let Some(f) = self.uploaded.get(rel) {
            return Some(if f.is_dir {
                Node::Dir
            } else {
                Node::File(f.content.clone())
            });
        }
        let rel_prefix = format!("{rel}/");
        if self
            .uploaded
            .range(rel_prefix.clone()..)
            .next()
            .is_some_and(|(k, _)| k.starts_with(&rel_prefix))
        {
            return Some(Node::Dir);
        }
        None
    }

    /// The names directly inside directory `path`, sorted.
    pub(crate) fn list_dir(&self, path: &str) -> Vec<String> {
        let abs = absolute(&self.cwd, path);
        let mut names = BTreeSet::new();
        let prefix = if abs == "/" {
            "/".to_owned()
        } else {
            format!("{abs}/")
        };
        for k in self.written.keys().chain(self.dirs.iter()) {
            if let Some(rest) = k.strip_prefix(&prefix)
                && let Some(first) = rest.split('/').next()
                && !first.is_empty()
            {
                names.insert(first.to_owned());
            }
        }
        let wd = &*self.work_dir;
        let rel_prefix = if abs == wd {
            Some(String::new())
        } else {
            abs.strip_prefix(&format!("{wd}/")).map(|r| format!("{r}/"))
        };
        if let Some(rp) = rel_prefix {
            for k in self.uploaded.keys() {
                if let Some(rest) = k.strip_prefix(&rp)
                    && let Some(first) = rest.split('/').next()
                    && !first.is_empty()
                {
                    names.insert(first.to_owned());
                }
            }
        }
        names.into_iter().collect()
    }
}

impl FileSource for Fs {
    fn read(&self, path: &str) -> Result<Bytes, String> {
        match self.lookup(path) {
            Some(Node::File(b)) => Ok(b),
            Some(Node::Null) => Ok(Bytes::new()),
            Some(Node::Dir) => Err(format!("cat: {path}: Is a directory")),
            Some(_) => Err(format!("cat: {path}: not supported by joblet-mock")),
            None => Err(format!("cat: {path}: No such file or directory")),
        }
    }
}
