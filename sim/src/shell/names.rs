//! Which command names the interpreter runs itself: the builtins, the
//! shells, the bash builtins it knows but does not support.

/// Commands run by the interpreter itself, sorted (see [`as_builtin`]).
pub(crate) const BUILTINS: &[&str] = &[
    ".", ":", "[", "basename", "break", "cat", "cd", "command", "continue", "date", "declare",
    "dirname", "echo", "env", "eval", "exec", "exit", "export", "false", "head", "let", "local",
    "ls", "mkdir", "nice", "nohup", "printenv", "printf", "pwd", "read", "readonly", "return",
    "seq", "set", "shift", "shopt", "sleep", "source", "stdbuf", "tail", "test", "timeout",
    "touch", "trap", "true", "typeset", "unset", "wait", "wc", "which", "yes",
];

/// `name` if it is in [`BUILTINS`].
pub(crate) fn as_builtin(name: &str) -> Option<&'static str> {
    BUILTINS.binary_search(&name).ok().map(|i| BUILTINS[i])
}

/// Shell builtins the interpreter knows but does not run.
pub(crate) const UNSUPPORTED_BUILTINS: &[&str] = &[
    "alias",
    "bg",
    "bind",
    "builtin",
    "caller",
    "compgen",
    "complete",
    "coproc",
    "dirs",
    "disown",
    "enable",
    "fc",
    "fg",
    "getopts",
    "hash",
    "history",
    "jobs",
    "kill",
    "logout",
    "mapfile",
    "popd",
    "pushd",
    "readarray",
    "suspend",
    "times",
    "ulimit",
    "umask",
    "unalias",
];

/// Directories whose programs are the builtins (`/bin/echo` is `echo`).
const BIN_DIRS: &[&str] = &["/bin", "/usr/bin", "/usr/local/bin", "/sbin", "/usr/sbin"];

/// The builtin `name` stands for, if any.
pub(crate) fn builtin_name(name: &str) -> Option<&'static str> {
    let base = match name.rsplit_once('/') {
        Some((dir, base)) if BIN_DIRS.contains(&dir) => base,
        Some(_) => return None,
        None => name,
    };
    as_builtin(base)
}

/// Whether `name` is a shell (`sh`, `bash`, `/bin/sh`, …).
pub(crate) fn is_shell(name: &str) -> bool {
    let base = match name.rsplit_once('/') {
        Some((dir, base)) if BIN_DIRS.contains(&dir) => base,
        Some(_) => return false,
        None => name,
    };
    matches!(base, "sh" | "bash" | "dash")
}

/// Quotes an argument for `set -x` traces like bash does.
pub(crate) fn trace_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./-_^".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(builtin_name("/bin/echo"), Some("echo"));
        assert_eq!(builtin_name("/usr/bin/env"), Some("env"));
        assert_eq!(builtin_name("/opt/echo"), None);
        assert_eq!(builtin_name("python"), None);
        assert!(is_shell("/bin/bash"));
        assert!(!is_shell("./bash"));
        assert_eq!(trace_quote("a b"), "'a b'");
        assert_eq!(trace_quote("it's"), "'it'\\''s'");
        assert_eq!(trace_quote("plain"), "plain");
    }

    #[test]
    fn builtins_are_sorted_for_lookup() {
        assert!(BUILTINS.is_sorted());
        assert_eq!(as_builtin("true"), Some("true"));
        assert_eq!(as_builtin("."), Some("."));
        assert_eq!(as_builtin("python"), None);
    }
}
