//! Relative links between the repository's Markdown files, checked.
//!
//! [`markdown_files`] finds the Markdown files under a root (skipping
//! `target`, `node_modules` and hidden directories such as `.git` and
//! `.venv`), and [`check`] reads each and reports every relative link whose
//! file or directory does not exist or lies outside the root, and every
//! `#anchor` (in the same page or `file.md#anchor`) that no heading of the
//! target Markdown file has. Anchors follow GitHub's slug rules ([`slug`]):
//! lower case, each space a `-`, punctuation other than `-` and `_` dropped,
//! and a repeated heading's slug suffixed `-1`, `-2`, ... ([`anchors`]).
//!
//! What counts as a link ([`links`]): inline links and images (`[text](dest)`,
//! `![alt](dest)`, also when the text runs over a line break) and reference
//! definitions (`[label]: dest`). Fenced code blocks, code spans and HTML
//! comments hold no links and no headings. Headings are ATX headings
//! (`## Title`); `<a name="...">` and `<a id="...">` tags count as anchors
//! too. A link with a scheme (`https:`, `mailto:`, ...) is external and not
//! fetched; an anchor into a file that is not Markdown (a source line such
//! as `#L10`) is not checked.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::Error;

/// A relative link that leads nowhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    /// The Markdown file holding the link, relative to the root.
    pub file: PathBuf,
    /// The line of the link's destination (1-based).
    pub line: usize,
    /// The destination as written.
    pub link: String,
    /// Why it is broken.
    pub reason: String,
}

impl fmt::Display for BrokenLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: ({}) {}",
            self.file.display(),
            self.line,
            self.link,
            self.reason
        )
    }
}

/// A link found in a Markdown text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The line of its destination (1-based).
    pub line: usize,
    /// The destination as written (without `<` `>` and title).
    pub dest: String,
}

/// The Markdown files (`*.md`) under `root`, relative to it and sorted,
/// leaving out `target`, `node_modules` and hidden directories (`.git`,
/// `.venv*`, `.pytest_cache`, ...).
pub fn markdown_files(root: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut found = Vec::new();
    walk(root, Path::new(""), &mut found)?;
    found.sort();
    Ok(found)
}

fn walk(root: &Path, rel: &Path, found: &mut Vec<PathBuf>) -> Result<(), Error> {
    let dir = root.join(rel);
    let read_err = |source| Error::Read {
        path: dir.clone(),
        source,
    };
    for entry in std::fs::read_dir(&dir).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let kind = entry.file_type().map_err(read_err)?;
        if kind.is_dir() {
            if !(name.starts_with('.') || name == "target" || name == "node_modules") {
                walk(root, &rel.join(&*name), found)?;
            }
        } else if name.ends_with(".md") {
            found.push(rel.join(&*name));
        }
    }
    Ok(())
}

/// Checks the relative links of `files` (paths relative to `root`) and
/// returns the broken ones, in file and line order.
pub fn check(root: &Path, files: &[PathBuf]) -> Result<Vec<BrokenLink>, Error> {
    let mut anchors_of: HashMap<PathBuf, HashSet<String>> = HashMap::new();
    let mut broken = Vec::new();
    for file in files {
        let text = read(&root.join(file))?;
        for link in links(&text) {
            if let Some(reason) = verify(root, file, &link.dest, &mut anchors_of)? {
                broken.push(BrokenLink {
                    file: file.clone(),
                    line: link.line,
                    link: link.dest,
                    reason,
                });
            }
        }
    }
    Ok(broken)
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Why `dest`, written in `file`, is broken; `None` when it resolves or is
/// not checked (external, empty).
fn verify(
    root: &Path,
    file: &Path,
    dest: &str,
    anchors_of: &mut HashMap<PathBuf, HashSet<String>>,
) -> Result<Option<String>, Error> {
    if dest.is_empty() || dest.starts_with("//") || has_scheme(dest) {
        return Ok(None);
    }
    let (path, anchor) = match dest.split_once('#') {
        Some((path, anchor)) => (path, Some(percent_decode(anchor))),
        None => (dest, None),
    };
    let path = percent_decode(path.split('?').next().unwrap_or(""));
    let target = if path.is_empty() {
        file.to_path_buf()
    } else {
        let mut parts: Vec<String> = if path.starts_with('/') {
            Vec::new()
        } else {
            file.parent()
                .into_iter()
                .flat_map(Path::components)
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect()
        };
        for segment in path.split('/') {
            match segment {
                "" | "." => {}
                ".." => {
                    if parts.pop().is_none() {
                        return Ok(Some("leads outside the repository".to_owned()));
                    }
                }
                name => parts.push(name.to_owned()),
            }
        }
        parts.iter().collect()
    };
    let full = root.join(&target);
    if !full.exists() {
        return Ok(Some(format!(
            "no such file or directory: {}",
            target.display()
        )));
    }
    let Some(anchor) = anchor.filter(|a| !a.is_empty() && a != "top") else {
        return Ok(None);
    };
    let markdown = full.is_file()
        && full
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("md") || e.eq_ignore_ascii_case("markdown"));
    if !markdown {
        return Ok(None);
    }
    if !anchors_of.contains_key(&target) {
        let known = anchors(&read(&full)?).into_iter().collect();
        anchors_of.insert(target.clone(), known);
    }
    if anchors_of[&target].contains(&anchor) {
        Ok(None)
    } else {
        Ok(Some(format!(
            "no heading with anchor #{anchor} in {}",
            target.display()
        )))
    }
}

/// `scheme:` as in `https:`, `mailto:`: a letter, then letters, digits,
/// `+`, `-` or `.`, then a colon.
fn has_scheme(dest: &str) -> bool {
    let Some((scheme, _)) = dest.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// GitHub's slug of a heading's text: lower case, each space a `-`, and
/// every character that is not a letter, a digit, `-` or `_` dropped.
pub fn slug(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a Markdown text, in document order: the slug of each
/// heading (a repeated slug suffixed `-1`, `-2`, ... as GitHub does), then
/// the `name`/`id` of `<a>` tags.
pub fn anchors(text: &str) -> Vec<String> {
    let prose = mask_fences(text);
    let mut taken: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    for line in prose.lines() {
        let Some(heading) = atx_heading(line) else {
            continue;
        };
        let base = slug(&inline_text(heading));
        let mut unique = base.clone();
        if let Some(&count) = taken.get(&base) {
            let mut n = count;
            loop {
                n += 1;
                unique = format!("{base}-{n}");
                if !taken.contains_key(&unique) {
                    break;
                }
            }
            taken.insert(base, n);
        }
        taken.insert(unique.clone(), 0);
        out.push(unique);
    }
    out.extend(html_anchors(&prose));
    out
}

/// The content of an ATX heading line (`## Title ##` gives `Title`).
fn atx_heading(line: &str) -> Option<&str> {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() > 3 {
        return None;
    }
    let level = trimmed.bytes().take_while(|&b| b == b'#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let rest = &trimmed[level..];
    if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    let content = rest.trim();
    let without_closing = content.trim_end_matches('#');
    if without_closing.is_empty() {
        return Some("");
    }
    if without_closing.ends_with([' ', '\t']) {
        return Some(without_closing.trim_end());
    }
    Some(content)
}

/// The text a heading renders, near enough for its slug: a link or image
/// gives its text (its `(destination)` goes), HTML tags and the backslash of
/// an escape go; code spans keep their text as written.
fn inline_text(heading: &str) -> String {
    let chars: Vec<char> = heading.chars().collect();
    let mut out = String::new();
    let mut in_code = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c == '`' {
            while chars.get(i) == Some(&'`') {
                i += 1;
            }
            in_code = !in_code;
            continue;
        }
        if in_code {
            out.push(c);
            continue;
        }
        match c {
            '\\' => {
                if let Some(&next) = chars.get(i) {
                    out.push(next);
                    i += 1;
                }
            }
            ']' if chars.get(i) == Some(&'(') => {
                let mut depth = 0usize;
                i += 1;
                while let Some(&d) = chars.get(i) {
                    i += 1;
                    match d {
                        '(' => depth += 1,
                        ')' if depth == 0 => break,
                        ')' => depth -= 1,
                        _ => {}
                    }
                }
            }
            '<' => {
                while let Some(&d) = chars.get(i) {
                    i += 1;
                    if d == '>' {
                        break;
                    }
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// `name` and `id` values of `<a ...>` tags.
fn html_anchors(prose: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = prose;
    while let Some(at) = rest.find("<a ") {
        let tag_end = rest[at..].find('>').map_or(rest.len(), |e| at + e);
        let tag = &rest[at..tag_end];
        for attr in ["name=\"", "id=\""] {
            if let Some(start) = tag.find(attr) {
                let value = &tag[start + attr.len()..];
                if let Some(end) = value.find('"') {
                    out.push(value[..end].to_owned());
                }
            }
        }
        rest = &rest[tag_end..];
    }
    out
}

/// `text` with every line of a fenced code block (fences included) emptied,
/// so that line numbers stay and nothing inside reads as a link or heading.
fn mask_fences(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut open: Option<(u8, usize)> = None;
    for line in text.split_inclusive('\n') {
        let body = line.trim_start();
        let fence_char = body.bytes().next().filter(|b| matches!(b, b'`' | b'~'));
        let fence_len = fence_char.map_or(0, |c| body.bytes().take_while(|&b| b == c).count());
        let in_fence = match (open, fence_char) {
            (None, Some(c)) if fence_len >= 3 => {
                let info = &body[fence_len..];
                if c == b'`' && info.contains('`') {
                    false
                } else {
                    open = Some((c, fence_len));
                    true
                }
            }
            (Some((c, len)), Some(f)) if f == c && fence_len >= len => {
                if body[fence_len..].trim().is_empty() {
                    open = None;
                }
                true
            }
            (Some(_), _) => true,
            (None, _) => false,
        };
        if in_fence {
            if line.ends_with('\n') {
                out.push('\n');
            }
        } else {
            out.push_str(line);
        }
    }
    out
}

/// The links of a Markdown text: inline links and images, and reference
/// definitions, outside fenced code blocks, code spans and HTML comments.
pub fn links(text: &str) -> Vec<Link> {
    let prose = mask_fences(text);
    let bytes = prose.as_bytes();
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(
            bytes
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i + 1),
        )
        .collect();
    let line_of = |pos: usize| line_starts.partition_point(|&s| s <= pos);
    let mut out = Vec::new();
    let mut opens: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'`' => {
                let run = bytes[i..].iter().take_while(|&&b| b == b'`').count();
                i = code_span_end(bytes, i + run, run).unwrap_or(i + run);
            }
            b'<' if bytes[i..].starts_with(b"<!--") => {
                i = prose[i + 4..]
                    .find("-->")
                    .map_or(bytes.len(), |e| i + 4 + e + 3);
            }
            b'\n' => {
                if blank_line_follows(bytes, i) {
                    opens.clear();
                }
                if let Some(link) = reference_definition(&prose[i + 1..]) {
                    out.push(Link {
                        line: line_of(i + 1),
                        dest: link,
                    });
                }
                i += 1;
            }
            b'[' => {
                opens.push(i);
                i += 1;
            }
            b']' => {
                let closes = opens.pop().is_some();
                match (closes, bytes.get(i + 1)) {
                    (true, Some(b'(')) => match destination(&prose, i + 2) {
                        Some((dest, at, end)) => {
                            out.push(Link {
                                line: line_of(at),
                                dest,
                            });
                            i = end;
                        }
                        None => i += 1,
                    },
                    _ => i += 1,
                }
            }
            _ => i += 1,
        }
    }
    if let Some(link) = reference_definition(&prose) {
        out.insert(
            0,
            Link {
                line: 1,
                dest: link,
            },
        );
    }
    out
}

/// Whether the line after the newline at `newline` is blank (or the text
/// ends): a paragraph ends there.
fn blank_line_follows(bytes: &[u8], newline: usize) -> bool {
    bytes[newline + 1..]
        .iter()
        .take_while(|&&b| b != b'\n')
        .all(u8::is_ascii_whitespace)
}

/// Where a code span opened by `run` backticks ending at `from` closes (the
/// position after its closing run), if it closes within the paragraph.
fn code_span_end(bytes: &[u8], from: usize, run: usize) -> Option<usize> {
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'`' => {
                let len = bytes[i..].iter().take_while(|&&b| b == b'`').count();
                if len == run {
                    return Some(i + len);
                }
                i += len;
            }
            b'\n' if blank_line_follows(bytes, i) => return None,
            _ => i += 1,
        }
    }
    None
}

/// The destination of a reference definition (`[label]: dest`) starting
/// `line`.
fn reference_definition(line: &str) -> Option<String> {
    let line = line.lines().next()?;
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() > 3 || !trimmed.starts_with('[') || trimmed.starts_with("[^") {
        return None;
    }
    let close = trimmed.find("]:")?;
    if close < 2 || trimmed[1..close].contains(['[', ']']) {
        return None;
    }
    let dest = trimmed[close + 2..].split_whitespace().next()?;
    let dest = dest
        .strip_prefix('<')
        .and_then(|d| d.strip_suffix('>'))
        .unwrap_or(dest);
    Some(dest.to_owned())
}

/// The destination of an inline link whose `(` ends at `start`: the
/// destination, where it starts, and the position after the closing `)`;
/// `None` when what follows is not a destination and optional title.
fn destination(text: &str, start: usize) -> Option<(String, usize, usize)> {
    let bytes = text.as_bytes();
    let skip_space = |mut i: usize| {
        while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        }
        i
    };
    let begin = skip_space(start);
    let (dest, mut i) = if bytes.get(begin) == Some(&b'<') {
        let end = begin + 1 + text[begin + 1..].find(['>', '\n'])?;
        if bytes[end] != b'>' {
            return None;
        }
        (&text[begin + 1..end], end + 1)
    } else {
        let mut depth = 0usize;
        let mut j = begin;
        while j < bytes.len() {
            match bytes[j] {
                b'\\' => j += 1,
                b if b.is_ascii_whitespace() => break,
                b'(' => depth += 1,
                b')' if depth == 0 => break,
                b')' => depth -= 1,
                _ => {}
            }
            j += 1;
        }
        let j = j.min(bytes.len());
        (&text[begin..j], j)
    };
    i = skip_space(i);
    if let Some(&quote) = bytes.get(i).filter(|b| matches!(b, b'"' | b'\'' | b'(')) {
        let closing = if quote == b'(' { b')' } else { quote };
        i += 1;
        while i < bytes.len() && bytes[i] != closing {
            i += if bytes[i] == b'\\' { 2 } else { 1 };
        }
        i = skip_space(i + 1);
    }
    (bytes.get(i) == Some(&b')')).then(|| (dest.to_owned(), begin, i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dests(text: &str) -> Vec<(usize, String)> {
        links(text).into_iter().map(|l| (l.line, l.dest)).collect()
    }

    #[test]
    fn slugs_follow_github() {
        assert_eq!(
            slug("The mock for Python users"),
            "the-mock-for-python-users"
        );
        assert_eq!(
            slug("Control API and joblet-mock ctl"),
            "control-api-and-joblet-mock-ctl"
        );
        assert_eq!(
            slug("Use it from the Python SDK (copy-paste)"),
            "use-it-from-the-python-sdk-copy-paste"
        );
        assert_eq!(slug("What's new: v1.2 & more"), "whats-new-v12--more");
        assert_eq!(slug("snake_case  Twice"), "snake_case--twice");
        assert_eq!(slug("Ünïcode Straße"), "ünïcode-straße");
    }

    #[test]
    fn headings_render_their_text_and_repeat_with_suffixes() {
        let text = "# Title\n\n## `JobletMock`\n\n### Control API and `joblet-mock ctl`\n\
                    ## Notes ##\n## Notes\n## Notes-1\n## Notes\n#### [Linked](other.md#x) heading\n\
                    #NoSpace\n    # indented code\n## Escaped \\#1\n";
        assert_eq!(
            anchors(text),
            vec![
                "title",
                "jobletmock",
                "control-api-and-joblet-mock-ctl",
                "notes",
                "notes-1",
                "notes-1-1",
                "notes-2",
                "linked-heading",
                "escaped-1",
            ]
        );
    }

    #[test]
    fn code_in_headings_is_text_and_tags_are_not() {
        assert_eq!(
            anchors("## `Vec<String>` is <em>fine</em>\n"),
            vec!["vecstring-is-fine"]
        );
    }

    #[test]
    fn fenced_code_holds_no_headings_and_no_links() {
        let text = "# Real\n\n```sh\n# budget 512 MiB\n[a](missing.md)\n````\n~~~\n# still code\n~~~\n\
                    after [b](b.md)\n\n  ```\n  [c](c.md)\n  ```\n";
        assert_eq!(anchors(text), vec!["real"]);
        assert_eq!(dests(text), vec![(10, "b.md".to_owned())]);
    }

    #[test]
    fn code_spans_hold_no_links_even_across_lines() {
        let text = "`[a](a.md)` and ``x ` [b](b.md) ``, `multi\nline [c](c.md)` [d](d.md)\n\n\
                    a lone ` backtick [e](e.md)\n";
        assert_eq!(
            dests(text),
            vec![(2, "d.md".to_owned()), (4, "e.md".to_owned())]
        );
    }

    #[test]
    fn links_images_titles_and_definitions() {
        let text = "See [Record and\nreplay](#record-and-replay), ![fig](img/a.png \"A figure\"),\n\
                    [`code` text](<with space.md>) and [nested [brackets]](n.md#x).\n\
                    [![badge](b.svg)](https://example.com) [paren](a_(b).md) [no link] (x.md)\n\
                    [ref]: docs/ref.md \"title\"\n<!-- [hidden](h.md) -->\n\\[escaped](e.md)\n";
        assert_eq!(
            dests(text),
            vec![
                (2, "#record-and-replay".to_owned()),
                (2, "img/a.png".to_owned()),
                (3, "with space.md".to_owned()),
                (3, "n.md#x".to_owned()),
                (4, "b.svg".to_owned()),
                (4, "https://example.com".to_owned()),
                (4, "a_(b).md".to_owned()),
                (5, "docs/ref.md".to_owned()),
            ]
        );
        assert_eq!(dests("[first]: first.md\n")[0], (1, "first.md".to_owned()));
    }

    #[test]
    fn schemes_are_external() {
        assert!(has_scheme("https://github.com/x"));
        assert!(has_scheme("mailto:a@b.c"));
        assert!(!has_scheme("docs/a.md#b:c"));
        assert!(!has_scheme("#x"));
        assert_eq!(percent_decode("a%20b%2Fc%zz"), "a b/c%zz");
    }

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        dir
    }

    #[test]
    fn every_kind_of_break_is_named_with_file_line_and_reason() {
        let dir = tree(&[
            (
                "README.md",
                "# Top\n[ok](docs/a.md#section-two) [ok](#top) [ok](docs/) [ok](src/x.rs#L3)\n\
                 [gone](docs/missing.md)\n[bad anchor](docs/a.md#nope)\n[here](#missing)\n\
                 [up](../outside.md) [ok](https://nowhere.invalid/x.md)\n",
            ),
            (
                "docs/a.md",
                "# A\n## Section two\n[back](../README.md#top) [self](#a)\n",
            ),
            ("src/x.rs", "fn main() {}\n"),
        ]);
        let files = markdown_files(dir.path()).unwrap();
        assert_eq!(
            files,
            vec![PathBuf::from("README.md"), PathBuf::from("docs/a.md")]
        );
        let broken: Vec<String> = check(dir.path(), &files)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            broken,
            vec![
                "README.md:3: (docs/missing.md) no such file or directory: docs/missing.md",
                "README.md:4: (docs/a.md#nope) no heading with anchor #nope in docs/a.md",
                "README.md:5: (#missing) no heading with anchor #missing in README.md",
                "README.md:6: (../outside.md) leads outside the repository",
            ]
        );
    }

    #[test]
    fn hidden_and_build_directories_are_not_walked() {
        let dir = tree(&[
            ("a.md", ""),
            ("sub/b.md", ""),
            ("sub/c.txt", ""),
            ("target/d.md", ""),
            (".venv/e.md", ""),
            (".git/f.md", ""),
            ("node_modules/g.md", ""),
        ]);
        assert_eq!(
            markdown_files(dir.path()).unwrap(),
            vec![PathBuf::from("a.md"), PathBuf::from("sub/b.md")]
        );
    }

    #[test]
    fn html_anchors_count() {
        let text = "<a name=\"legacy\"></a>\n<a id=\"other\" href=\"x\">x</a>\n";
        assert_eq!(anchors(text), vec!["legacy", "other"]);
    }
}
