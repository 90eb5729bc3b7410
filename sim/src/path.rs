//! Path arithmetic of the simulated file system: normal absolute paths.

/// Whether `path` is absolute and already normal (what [`absolute`] returns).
pub(crate) fn is_normal(path: &str) -> bool {
    path == "/"
        || path
            .strip_prefix('/')
            .is_some_and(|rest| rest.split('/').all(|p| !matches!(p, "" | "." | "..")))
}

/// Normalises `path` (absolute or relative to `cwd`) to an absolute path.
pub(crate) fn absolute(cwd: &str, path: &str) -> String {
    // Already normal (the usual work dir, `/work`): nothing to resolve.
    if is_normal(path) {
        return path.to_owned();
    }
    let joined = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("{cwd}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let mut s = String::with_capacity(joined.len());
    for p in &parts {
        s.push('/');
        s.push_str(p);
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(absolute("/work", "a/b"), "/work/a/b");
        assert_eq!(absolute("/work", "/x/../y/./z"), "/y/z");
        assert_eq!(absolute("/work", ".."), "/");
        assert_eq!(absolute("/", "../.."), "/");
        assert!(is_normal("/work/a") && !is_normal("/work/./a") && !is_normal("work"));
    }
}
