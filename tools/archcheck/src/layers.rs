//! The layer rules, read from the architecture document: fenced blocks whose
//! info string is `layers <package dir>`. Each line `name: a, b::c` is one
//! layer, top to bottom, holding the files of those modules and everything
//! under them (the longest listed prefix wins). A file may name files of its
//! own layer or of layers below it, never above. A line
//! `only <crate>: Item, Item` limits what the package (library and binaries)
//! may name of another crate to those top-level items. A line
//! `allow src/file.rs: reason` lets that file exceed the size limit, and
//! `allow src/file.rs::function: reason` that function.
//!
//! ````text
//! ```layers mock-server
//! adapters: server, service
//! engine: jobs
//! foundations: clock, logs
//! only joblet_sim: Simulator
//! ```
//! ````

use std::collections::{BTreeMap, BTreeSet};

use crate::error::Error;

/// The rules of one package.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    /// Layers top to bottom: `(name, module prefixes)`.
    pub layers: Vec<(String, Vec<String>)>,
    /// Other crates the package may name only partly: crate to allowed items.
    pub only: BTreeMap<String, BTreeSet<String>>,
    /// Files (`src/x.rs`) and functions (`src/x.rs::name`) allowed past the
    /// size limits, with the reason.
    pub allow: BTreeMap<String, String>,
}

impl Rules {
    /// The layer index (0 = top) and name of module `path` (`a::b`), if any.
    pub fn layer_of(&self, path: &str) -> Option<(usize, &str)> {
        let mut best: Option<(usize, usize, &str)> = None;
        for (i, (name, prefixes)) in self.layers.iter().enumerate() {
            for p in prefixes {
                let hit = path == p || path.starts_with(&format!("{p}::"));
                if hit && best.is_none_or(|(len, _, _)| p.len() > len) {
                    best = Some((p.len(), i, name));
                }
            }
        }
        best.map(|(_, i, name)| (i, name))
    }
}

/// Every `layers` block of a Markdown document, by package directory.
pub fn parse(doc: &str) -> Result<BTreeMap<String, Rules>, Error> {
    let mut out: BTreeMap<String, Rules> = BTreeMap::new();
    let mut current: Option<String> = None;
    for (n, line) in doc.lines().enumerate() {
        let line_no = n + 1;
        let trimmed = line.trim();
        if let Some(pkg) = &current {
            if trimmed.starts_with("```") {
                current = None;
                continue;
            }
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if let Some(rest) = trimmed.strip_prefix("allow ") {
                let (what, why) = rest.split_once(": ").ok_or_else(|| Error::Rules {
                    line: line_no,
                    message: format!(
                        "expected `allow src/file.rs[::function]: reason`, got `{trimmed}`"
                    ),
                })?;
                out.get_mut(pkg)
                    .expect("block opened")
                    .allow
                    .insert(what.trim().to_owned(), why.trim().to_owned());
                continue;
            }
            let (head, list) = trimmed.split_once(':').ok_or_else(|| Error::Rules {
                line: line_no,
                message: format!(
                    "expected `layer: module, ...` or `only crate: Item, ...`, got `{trimmed}`"
                ),
            })?;
            let items: Vec<String> = list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            let rules = out.get_mut(pkg).expect("block opened");
            match head.trim().strip_prefix("only ") {
                Some(krate) => {
                    rules
                        .only
                        .entry(krate.trim().to_owned())
                        .or_default()
                        .extend(items);
                }
                None => rules.layers.push((head.trim().to_owned(), items)),
            }
        } else if let Some(info) = trimmed.strip_prefix("```layers") {
            let pkg = info.trim();
            if pkg.is_empty() {
                return Err(Error::Rules {
                    line: line_no,
                    message: "a `layers` block names its package directory: ```layers mock-server"
                        .to_owned(),
                });
            }
            if out.contains_key(pkg) {
                return Err(Error::Rules {
                    line: line_no,
                    message: format!("a second `layers {pkg}` block"),
                });
            }
            out.insert(pkg.to_owned(), Rules::default());
            current = Some(pkg.to_owned());
        }
    }
    if let Some(pkg) = current {
        return Err(Error::Rules {
            line: doc.lines().count(),
            message: format!("the `layers {pkg}` block is not closed"),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_parse_top_to_bottom() {
        let doc = "text\n```layers mock-server\n# comment\nadapters: server, service\nfoundations: clock\nonly joblet_sim: Simulator, Io\nallow src/pb.rs::f: generated\n```\n";
        let rules = parse(doc).unwrap();
        let r = &rules["mock-server"];
        assert_eq!(r.layers.len(), 2);
        assert_eq!(r.layer_of("service::job"), Some((0, "adapters")));
        assert_eq!(r.layer_of("clock"), Some((1, "foundations")));
        assert_eq!(r.layer_of("clocks"), None);
        assert_eq!(r.allow["src/pb.rs::f"], "generated");
        assert_eq!(
            r.only["joblet_sim"],
            BTreeSet::from(["Simulator".to_owned(), "Io".to_owned()])
        );
    }

    #[test]
    fn longest_prefix_wins() {
        let doc = "```layers x\na: service::control\nb: service\n```\n";
        let r = &parse(doc).unwrap()["x"];
        assert_eq!(r.layer_of("service::control"), Some((0, "a")));
        assert_eq!(r.layer_of("service::job"), Some((1, "b")));
    }

    #[test]
    fn malformed_blocks_are_errors() {
        assert!(parse("```layers\n```").is_err());
        assert!(parse("```layers x\nno colon\n```").is_err());
        assert!(parse("```layers x\na: b\n").is_err());
        assert!(parse("```layers x\n```\n```layers x\n```").is_err());
    }
}
