//! The entry point: [`parse`] a script (bounded, pre-scanned, on a
//! big-stack thread, cached), with bash-like messages for syntax errors.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use parking_lot::Mutex;

use super::ast::{MAX_DEPTH, Script, SyntaxError};
use super::lower::{Lowerer, err, options};

/// The longest script accepted.
pub(crate) const MAX_SCRIPT: usize = 256 * 1024;
/// Directly nested parentheses accepted (the parser backtracks exponentially).
const MAX_PAREN_RUN: usize = 10;
/// Stack for the parser thread (virtual memory; only touched pages count).
const PARSER_STACK: usize = 256 << 20;
/// Fallback when a thread with that stack cannot be created.
const PARSER_STACK_SMALL: usize = 16 << 20;

type Parsed = Result<Arc<Script>, SyntaxError>;

static CACHE: LazyLock<Mutex<HashMap<String, Parsed>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));
const CACHE_ENTRIES: usize = 512;
const CACHE_MAX_SCRIPT: usize = 16 * 1024;

/// Parses `src` (cached).
pub(crate) fn parse(src: &str) -> Result<Arc<Script>, SyntaxError> {
    if src.len() <= CACHE_MAX_SCRIPT
        && let Some(hit) = CACHE.lock().get(src)
    {
        return hit.clone();
    }
    let result = parse_uncached(src);
    if src.len() <= CACHE_MAX_SCRIPT {
        let mut cache = CACHE.lock();
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(src.to_owned(), result.clone());
    }
    result
}

fn parse_uncached(src: &str) -> Result<Arc<Script>, SyntaxError> {
    if src.len() > MAX_SCRIPT {
        return err(1, format!("script longer than {MAX_SCRIPT} bytes"));
    }
    prescan(src)?;
    let owned = src.to_owned();
    match on_big_stack(move || parse_and_lower(&owned)) {
        Some(r) => r.map(Arc::new),
        None => err(1, "the shell parser failed on this script"),
    }
}

/// Runs `f` on a thread with a large stack, catching panics.
pub(crate) fn on_big_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let f = Arc::new(Mutex::new(Some(f)));
    for stack in [PARSER_STACK, PARSER_STACK_SMALL] {
        let f2 = Arc::clone(&f);
        let spawned = std::thread::Builder::new()
            .name("joblet-mock-sh-parse".into())
            .stack_size(stack)
            .spawn(move || {
                let taken = f2.lock().take();
                taken.and_then(|f| std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok())
            });
        match spawned {
            Ok(handle) => return handle.join().ok().flatten(),
            Err(e) => tracing::warn!(stack, error = %e, "cannot start the shell parser thread"),
        }
    }
    None
}

/// Rejects scripts nested deeper than the parser can take safely.
fn prescan(src: &str) -> Result<(), SyntaxError> {
    let b = src.as_bytes();
    let (mut depth, mut max_depth) = (0usize, 0usize);
    let (mut run, mut max_run) = (0usize, 0usize);
    let mut line = 1;
    let mut max_line = 1;
    let mut i = 0;
    let mut word_start = true;
    let mut last_sig = b' ';
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => line += 1,
            b'\\' => {
                i += 2;
                word_start = false;
                continue;
            }
            b'\'' => {
                i += 1;
                while i < b.len() && b[i] != b'\'' {
                    if b[i] == b'\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
            b'#' if word_start => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'(' | b'{' => {
                depth += 1;
                if c == b'(' {
                    run = if last_sig == b'(' { run + 1 } else { 1 };
                    max_run = max_run.max(run);
                }
            }
            b')' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if word_start && c.is_ascii_alphabetic() {
            let end = b[i..]
                .iter()
                .position(|x| !x.is_ascii_alphanumeric() && *x != b'_')
                .map_or(b.len(), |p| i + p);
            match &src[i..end] {
                "if" | "while" | "until" | "for" | "case" | "select" => depth += 1,
                "fi" | "done" | "esac" => depth = depth.saturating_sub(1),
                _ => {}
            }
            i = end;
            word_start = false;
            last_sig = b'a';
            continue;
        }
        if depth > max_depth {
            max_depth = depth;
            max_line = line;
        }
        word_start = matches!(
            c,
            b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'(' | b')' | b'{' | b'}' | b'`' | b'"'
        );
        if !matches!(c, b' ' | b'\t') {
            last_sig = c;
        }
        i += 1;
    }
    if max_run > MAX_PAREN_RUN {
        return err(max_line, "too many directly nested parentheses");
    }
    if max_depth > 2 * MAX_DEPTH {
        return err(max_line, "nesting too deep");
    }
    Ok(())
}

fn parse_and_lower(src: &str) -> Result<Script, SyntaxError> {
    let mut parser = brush_parser::Parser::new(std::io::BufReader::new(src.as_bytes()), &options());
    let program = match parser.parse_program() {
        Ok(p) => p,
        Err(e) => return Err(syntax_error(src, &e)),
    };
    let mut lw = Lowerer::new();
    let mut body = Vec::new();
    for list in &program.complete_commands {
        body.extend(lw.list(list, 0)?);
    }
    Ok(Script { body })
}

/// A bash-like message for a parse error.
fn syntax_error(src: &str, e: &brush_parser::ParseError) -> SyntaxError {
    let eof_line = src.lines().count() + 1;
    match e {
        brush_parser::ParseError::ParsingNear(p) => {
            let line_text = src.lines().nth(p.line.saturating_sub(1)).unwrap_or("");
            let token: String = line_text
                .chars()
                .skip(p.column.saturating_sub(1))
                .take_while(|c| !c.is_whitespace())
                .take(40)
                .collect();
            SyntaxError {
                line: p.line,
                message: format!("syntax error near unexpected token `{token}'"),
                source_line: Some(line_text.trim().to_owned()),
            }
        }
        brush_parser::ParseError::ParsingAtEndOfInput => SyntaxError {
            line: eof_line,
            message: "syntax error: unexpected end of file".to_owned(),
            source_line: None,
        },
        brush_parser::ParseError::Tokenizing { inner, position } => {
            let text = inner.to_string();
            let matching = [
                ("double quote", "\""),
                ("single quote", "'"),
                ("backquote", "`"),
                ("variable expression", "}"),
                ("command substitution", ")"),
                ("arithmetic", ")"),
                ("brace", "}"),
            ]
            .iter()
            .find(|(k, _)| text.contains("unterminated") && text.contains(k))
            .map(|(_, m)| *m);
            match matching {
                Some(m) => SyntaxError {
                    line: position.as_ref().map_or(eof_line, |p| p.line),
                    message: format!("unexpected EOF while looking for matching `{m}'"),
                    source_line: None,
                },
                None => SyntaxError {
                    line: position.as_ref().map_or(eof_line, |p| p.line),
                    message: format!("syntax error: {text}"),
                    source_line: None,
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::CommandKind;
    use proptest::prelude::*;

    #[test]
    fn parses_sdk_example() {
        let s = parse(
            "\n    for i in $(seq 1 600); do\n        echo \"Counter: $i - Time: $(date +%H:%M:%S.%3N)\"\n        sleep 0.1\n    done\n    echo \"Completed 60 seconds of counting!\"\n",
        )
        .unwrap();
        assert_eq!(s.body.len(), 2);
        assert_eq!(s.body[1].line, 6);
    }

    #[test]
    fn syntax_errors_have_lines() {
        let e = parse("echo a\nif true; then\n").unwrap_err();
        assert!(e.message.contains("syntax error"), "{e:?}");
        let e = parse("echo a\necho )\n").unwrap_err();
        assert_eq!(e.line, 2, "{e:?}");
    }

    #[test]
    fn deep_nesting_is_refused_not_crashing() {
        for src in [
            format!("{}echo;{}", "{ ".repeat(5000), "}; ".repeat(5000)),
            format!(
                "{}echo;{}",
                "if true; then ".repeat(500),
                "fi; ".repeat(500)
            ),
            format!("{}echo{}", "( ".repeat(40), ") ".repeat(40)),
            format!("{}echo;{}", "{ echo }; ".repeat(300), "}; ".repeat(300)),
            "(".repeat(100_000),
            format!("echo {}x{}", "\"$(echo ".repeat(2000), ")\"".repeat(2000)),
        ] {
            assert!(parse(&src).is_err() || src.contains("$("), "{}", &src[..40]);
        }
        // Moderate nesting is fine.
        let ok = format!("{}echo;{}", "{ ".repeat(20), "}; ".repeat(20));
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn braces() {
        let s = parse("echo {1..3} a{b,c}d \"{x,y}\"").unwrap();
        let CommandKind::Simple { words, .. } = &s.body[0].first.cmds[0].kind else {
            panic!()
        };
        let raws: Vec<&str> = words.iter().map(|w| w.raw.as_str()).collect();
        assert_eq!(raws, ["echo", "1", "2", "3", "abd", "acd", "\"{x,y}\""]);
        assert!(parse("echo {1..10000000}").is_ok());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        #[test]
        fn parse_never_panics(src in ".{0,60}") {
            let _ = parse(&src);
        }

        #[test]
        fn parse_shellish_never_panics(src in "[a-z$(){}\\[\\];|&<>\"' \n=*?#!-]{0,60}") {
            let _ = parse(&src);
        }
    }
}
