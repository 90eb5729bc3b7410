//! Shell pattern matching (`*`, `?`, `[...]`), used by `case`, `[[ == ]]`,
//! `${x#pattern}` and scenario matching.

/// One element of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Char(char),
    Any,
    One,
    Class {
        negated: bool,
        items: Vec<ClassItem>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ClassItem {
    Char(char),
    Range(char, char),
    Named(String),
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Pattern {
    toks: Vec<Tok>,
}

impl Pattern {
    /// Compiles `pattern`, where all characters are active.
    pub(crate) fn new(pattern: &str) -> Self {
        Self::from_segments(&[(pattern.to_owned(), false)])
    }

    /// Compiles a pattern made of segments; quoted segments match literally.
    pub(crate) fn from_segments(segments: &[(String, bool)]) -> Self {
        let mut toks = Vec::new();
        for (text, quoted) in segments {
            if *quoted {
                toks.extend(text.chars().map(Tok::Char));
                continue;
            }
            let chars: Vec<char> = text.chars().collect();
            let mut i = 0;
            while i < chars.len() {
                match chars[i] {
                    '*' => {
                        if toks.last() != Some(&Tok::Any) {
                            toks.push(Tok::Any);
                        }
                        i += 1;
                    }
                    '?' => {
                        toks.push(Tok::One);
                        i += 1;
                    }
                    '\\' if i + 1 < chars.len() => {
                        toks.push(Tok::Char(chars[i + 1]));
                        i += 2;
                    }
                    '[' => match parse_class(&chars, i) {
                        Some((tok, next)) => {
                            toks.push(tok);
                            i = next;
                        }
                        None => {
                            toks.push(Tok::Char('['));
                            i += 1;
                        }
                    },
                    c => {
                        toks.push(Tok::Char(c));
                        i += 1;
                    }
                }
            }
        }
        Self { toks }
    }

    /// Whether `text` matches the whole pattern.
    pub(crate) fn matches(&self, text: &str) -> bool {
        let t: Vec<char> = text.chars().collect();
        self.matches_chars(&t)
    }

    fn matches_chars(&self, t: &[char]) -> bool {
        let p = &self.toks;
        let (mut pi, mut ti) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while ti < t.len() {
            if pi < p.len() {
                match &p[pi] {
                    Tok::Any => {
                        star = Some((pi, ti));
                        pi += 1;
                        continue;
                    }
                    tok if tok_matches(tok, t[ti]) => {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                    _ => {}
                }
            }
            match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            }
        }
        p[pi..].iter().all(|t| *t == Tok::Any)
    }

    /// The byte length of the shortest or longest prefix of `s` that matches.
    pub(crate) fn match_prefix(&self, s: &str, longest: bool) -> Option<usize> {
        let chars: Vec<(usize, char)> = s.char_indices().collect();
        let t: Vec<char> = chars.iter().map(|&(_, c)| c).collect();
        let ends = (0..=t.len()).map(|n| (n, chars.get(n).map_or(s.len(), |&(b, _)| b)));
        let mut found = None;
        for (n, byte) in ends {
            if self.matches_chars(&t[..n]) {
                found = Some(byte);
                if !longest {
                    break;
                }
            }
        }
        found
    }

    /// The byte offset where the shortest or longest matching suffix of `s` starts.
    pub(crate) fn match_suffix(&self, s: &str, longest: bool) -> Option<usize> {
        let chars: Vec<(usize, char)> = s.char_indices().collect();
        let t: Vec<char> = chars.iter().map(|&(_, c)| c).collect();
        let mut found = None;
        for n in (0..=t.len()).rev() {
            let start = t.len() - (t.len() - n);
            if self.matches_chars(&t[start..]) {
                found = Some(chars.get(start).map_or(s.len(), |&(b, _)| b));
                if !longest {
                    break;
                }
            }
        }
        found
    }

    /// The first (leftmost, longest) match in `s`, as a byte range.
    pub(crate) fn find(&self, s: &str, from: usize) -> Option<(usize, usize)> {
        let chars: Vec<(usize, char)> = s.char_indices().collect();
        let t: Vec<char> = chars.iter().map(|&(_, c)| c).collect();
        let byte = |i: usize| chars.get(i).map_or(s.len(), |&(b, _)| b);
        for start in 0..=t.len() {
            if byte(start) < from {
                continue;
            }
            for end in (start..=t.len()).rev() {
                if end == start && !self.toks.is_empty() && !self.matches_chars(&[]) {
                    continue;
                }
                if self.matches_chars(&t[start..end]) {
                    return Some((byte(start), byte(end)));
                }
            }
        }
        None
    }
}

fn tok_matches(tok: &Tok, c: char) -> bool {
    match tok {
        Tok::Char(x) => *x == c,
        Tok::One => true,
        Tok::Any => true,
        Tok::Class { negated, items } => {
            let hit = items.iter().any(|it| match it {
                ClassItem::Char(x) => *x == c,
                ClassItem::Range(a, b) => *a <= c && c <= *b,
                ClassItem::Named(n) => named_class(n, c),
            });
            hit != *negated
        }
    }
}

fn named_class(name: &str, c: char) -> bool {
    match name {
        "alpha" => c.is_alphabetic(),
        "digit" => c.is_ascii_digit(),
        "alnum" => c.is_alphanumeric(),
        "upper" => c.is_uppercase(),
        "lower" => c.is_lowercase(),
        "space" => c.is_whitespace(),
        "blank" => c == ' ' || c == '\t',
        "punct" => c.is_ascii_punctuation(),
        "xdigit" => c.is_ascii_hexdigit(),
        "cntrl" => c.is_control(),
        "print" => !c.is_control(),
        "graph" => !c.is_control() && c != ' ',
        _ => false,
    }
}

/// Parses `[...]` starting at `start`; returns the token and the index after `]`.
fn parse_class(chars: &[char], start: usize) -> Option<(Tok, usize)> {
    let mut i = start + 1;
    let mut negated = false;
    if i < chars.len() && (chars[i] == '!' || chars[i] == '^') {
        negated = true;
        i += 1;
    }
    let mut items = Vec::new();
    let mut first = true;
    while i < chars.len() {
        let c = chars[i];
        if c == ']' && !first {
            return Some((Tok::Class { negated, items }, i + 1));
        }
        first = false;
        if c == '[' && chars.get(i + 1) == Some(&':') {
            let rest: String = chars[i + 2..].iter().collect();
            if let Some(end) = rest.find(":]") {
                let name: String = rest[..end].to_owned();
                items.push(ClassItem::Named(name.clone()));
                i += 2 + name.chars().count() + 2;
                continue;
            }
        }
        let c = if c == '\\' && i + 1 < chars.len() {
            i += 1;
            chars[i]
        } else {
            c
        };
        if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|&e| e != ']') {
            let e = chars[i + 2];
            items.push(ClassItem::Range(c, e));
            i += 3;
        } else {
            items.push(ClassItem::Char(c));
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn matching() {
        assert!(Pattern::new("*.py").matches("train.py"));
        assert!(!Pattern::new("*.py").matches("train.pyc"));
        assert!(Pattern::new("a?c").matches("abc"));
        assert!(Pattern::new("[a-c]x").matches("bx"));
        assert!(!Pattern::new("[!a-c]x").matches("bx"));
        assert!(Pattern::new("[[:digit:]]*").matches("1abc"));
        assert!(Pattern::new("*").matches(""));
        assert!(Pattern::new("a*b*c").matches("aXXbYYc"));
        assert!(Pattern::new("[").matches("["));
        assert!(Pattern::new("\\*").matches("*"));
        assert!(!Pattern::new("\\*").matches("x"));
        let quoted = Pattern::from_segments(&[("*".into(), true), ("*".into(), false)]);
        assert!(quoted.matches("*abc"));
        assert!(!quoted.matches("abc"));
    }

    #[test]
    fn prefix_suffix() {
        let p = Pattern::new("*.");
        assert_eq!(p.match_prefix("a.b.c", false), Some(2));
        assert_eq!(p.match_prefix("a.b.c", true), Some(4));
        let s = Pattern::new(".*");
        assert_eq!(s.match_suffix("a.b.c", false), Some(3));
        assert_eq!(s.match_suffix("a.b.c", true), Some(1));
        assert_eq!(Pattern::new("b").find("abcb", 0), Some((1, 2)));
        assert_eq!(Pattern::new("b*").find("abcb", 0), Some((1, 4)));
    }

    proptest! {
        #[test]
        fn never_panics(p in ".{0,12}", t in ".{0,12}") {
            let pat = Pattern::new(&p);
            let _ = pat.matches(&t);
            let _ = pat.match_prefix(&t, true);
            let _ = pat.match_suffix(&t, false);
            let _ = pat.find(&t, 0);
        }

        #[test]
        fn literal_matches_itself(t in "[a-z0-9 ._-]{0,12}") {
            prop_assert!(Pattern::new(&t).matches(&t));
        }
    }
}
