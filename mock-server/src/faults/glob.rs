//! The globs of rule matchers: `*`, `?`, and `\` quoting the next character.

/// One element of a glob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GTok {
    Char(char),
    One,
    Any,
}

/// A compiled glob: `*`, `?`, and `\` quoting the next character.
#[derive(Debug, Clone)]
pub(crate) struct Glob(Vec<GTok>);

impl Glob {
    pub(crate) fn new(pattern: &str) -> Self {
        let mut toks = Vec::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            let tok = match c {
                '*' if toks.last() == Some(&GTok::Any) => continue,
                '*' => GTok::Any,
                '?' => GTok::One,
                '\\' => GTok::Char(chars.next().unwrap_or('\\')),
                c => GTok::Char(c),
            };
            toks.push(tok);
        }
        Self(toks)
    }

    pub(crate) fn matches(&self, text: &str) -> bool {
        let p = &self.0;
        let mut pi = 0;
        let mut t = text.chars();
        let mut star: Option<(usize, std::str::Chars<'_>)> = None;
        loop {
            let here = t.clone();
            let Some(c) = t.next() else { break };
            match p.get(pi) {
                Some(GTok::Any) => {
                    star = Some((pi, here.clone()));
                    pi += 1;
                    t = here;
                    continue;
                }
                Some(GTok::One) => {
                    pi += 1;
                    continue;
                }
                Some(GTok::Char(x)) if *x == c => {
                    pi += 1;
                    continue;
                }
                _ => {}
            }
            match &mut star {
                Some((sp, st)) => {
                    st.next();
                    pi = *sp + 1;
                    t = st.clone();
                }
                None => return false,
            }
        }
        p[pi.min(p.len())..].iter().all(|t| *t == GTok::Any)
    }
}
