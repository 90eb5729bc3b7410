//! # joblet-archcheck
//!
//! The workspace's architecture, checked. For every package of the workspace
//! and every crate root in it (`src/lib.rs`, `src/main.rs`, `src/bin/*.rs`),
//! [`tree`] reads the module tree with `syn` and every path each module names
//! (in `use` items, in code, in macro bodies; test code left out), and
//! [`graph`] resolves each path to the file that defines the item, following
//! `use` re-exports, so that an edge runs from the naming file to the defining
//! file. Three rules are then checked: no cycle between files (each reported
//! with one shortest closed path, file, line and path of every hop); no edge
//! up the layers that `docs/architecture.md` declares in its `layers` blocks
//! ([`layers`]); and no path into another crate beyond the items a block's
//! `only` line allows. `cargo test -p joblet-archcheck` runs the check on the
//! workspace; `cargo run -p joblet-archcheck -- --graph mock-server` prints a
//! package's file graph.
//!
//! [`links`] checks the documentation: every relative link and `#anchor` of
//! the repository's Markdown files resolves (`tests/it/docs.rs` runs it on the
//! repository).

use std::fmt;
use std::path::{Path, PathBuf};

mod error;
pub mod graph;
pub mod layers;
pub mod links;
pub mod tree;

pub use error::Error;

pub use graph::{Cycle, FileGraph};
pub use layers::Rules;
pub use tree::ModuleTree;

/// The longest a non-test function may be, in lines.
pub const MAX_FUNCTION_LINES: usize = 150;
/// The most lines of non-test code a file may carry.
pub const MAX_FILE_LINES: usize = 800;

/// A package of the workspace and its crate roots.
#[derive(Debug, Clone)]
pub struct Package {
    /// Its directory, relative to the workspace (`.` for the root package).
    pub dir: String,
    /// Its crate roots, relative to the package directory; the library first.
    pub roots: Vec<PathBuf>,
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Files that name each other in a circle.
    Cycle {
        /// Package directory.
        package: String,
        /// The cycle.
        cycle: Cycle,
    },
    /// A file names a file of a higher layer.
    Upward {
        /// Package directory.
        package: String,
        /// The naming file and its layer.
        from: (PathBuf, String),
        /// The named file and its layer.
        to: (PathBuf, String),
        /// Line of the reference in `from`.
        line: usize,
        /// The path as written.
        path: String,
    },
    /// A file of a package with layers that no layer lists.
    Unplaced {
        /// Package directory.
        package: String,
        /// The file.
        file: PathBuf,
        /// Its module path.
        module: String,
    },
    /// A non-test function longer than [`MAX_FUNCTION_LINES`].
    LongFunction {
        /// Package directory.
        package: String,
        /// Its file.
        file: PathBuf,
        /// Its name.
        name: String,
        /// Its first line.
        line: usize,
        /// Its length in lines.
        lines: usize,
    },
    /// A file with more than [`MAX_FILE_LINES`] lines of non-test code.
    LargeFile {
        /// Package directory.
        package: String,
        /// The file.
        file: PathBuf,
        /// Its lines of non-test code.
        lines: usize,
    },
    /// A path into another crate beyond what an `only` line allows.
    Forbidden {
        /// Package directory.
        package: String,
        /// The naming file.
        file: PathBuf,
        /// Line of the reference.
        line: usize,
        /// The path as written.
        path: String,
        /// The items allowed.
        allowed: Vec<String>,
    },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Cycle { package, cycle } => {
                writeln!(
                    f,
                    "cycle of {} files in {package}: {}",
                    cycle.component.len(),
                    cycle
                        .component
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )?;
                write!(f, "  closed by:")?;
                for (from, line, path, to) in &cycle.path {
                    write!(
                        f,
                        "\n    {}:{line} `{path}` -> {}",
                        from.display(),
                        to.display()
                    )?;
                }
                Ok(())
            }
            Finding::Upward {
                package,
                from,
                to,
                line,
                path,
            } => write!(
                f,
                "upward edge in {package}: {}:{line} ({} layer) names `{path}` in {} ({} layer)",
                from.0.display(),
                from.1,
                to.0.display(),
                to.1
            ),
            Finding::Unplaced {
                package,
                file,
                module,
            } => write!(
                f,
                "{package}: {} (module `{module}`) is in no layer of docs/architecture.md",
                file.display()
            ),
            Finding::LongFunction {
                package,
                file,
                name,
                line,
                lines,
            } => write!(
                f,
                "{package}: {}:{line} fn `{name}` runs {lines} lines (limit {MAX_FUNCTION_LINES}; \
                 split it, or `allow {}::{name}: reason` in docs/architecture.md)",
                file.display(),
                file.display()
            ),
            Finding::LargeFile {
                package,
                file,
                lines,
            } => write!(
                f,
                "{package}: {} has {lines} lines of non-test code (limit {MAX_FILE_LINES}; \
                 split it, or `allow {}: reason` in docs/architecture.md)",
                file.display(),
                file.display()
            ),
            Finding::Forbidden {
                package,
                file,
                line,
                path,
                allowed,
            } => write!(
                f,
                "{package}: {}:{line} names `{path}`; it may name only {}",
                file.display(),
                allowed.join(", ")
            ),
        }
    }
}

/// What the check saw and found.
#[derive(Debug, Default)]
pub struct Report {
    /// Broken rules, in package order.
    pub findings: Vec<Finding>,
    /// Files read.
    pub files: usize,
    /// Edges between files.
    pub edges: usize,
    /// Packages read.
    pub packages: usize,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for finding in &self.findings {
            writeln!(f, "{finding}")?;
        }
        write!(
            f,
            "{} finding(s) in {} files ({} edges between files) of {} packages",
            self.findings.len(),
            self.files,
            self.edges,
            self.packages
        )
    }
}

/// The members of the workspace whose manifest is `root/Cargo.toml`.
pub fn workspace_packages(root: &Path) -> Result<Vec<Package>, Error> {
    let manifest_path = root.join("Cargo.toml");
    let manifest = std::fs::read_to_string(&manifest_path).map_err(|source| Error::Read {
        path: manifest_path.clone(),
        source,
    })?;
    let start = manifest
        .find("members")
        .and_then(|i| manifest[i..].find('[').map(|j| i + j + 1))
        .ok_or_else(|| {
            Error::Workspace(format!("{}: no `members = [...]`", manifest_path.display()))
        })?;
    let end = manifest[start..]
        .find(']')
        .map(|j| start + j)
        .ok_or_else(|| {
            Error::Workspace(format!(
                "{}: `members` is not closed",
                manifest_path.display()
            ))
        })?;
    let mut packages = Vec::new();
    for member in manifest[start..end]
        .split(',')
        .map(|s| s.trim().trim_matches('"'))
        .filter(|s| !s.is_empty())
    {
        let dir = root.join(member);
        let mut roots = Vec::new();
        for candidate in ["src/lib.rs", "src/main.rs"] {
            if dir.join(candidate).is_file() {
                roots.push(PathBuf::from(candidate));
            }
        }
        if let Ok(entries) = std::fs::read_dir(dir.join("src/bin")) {
            let mut bins: Vec<PathBuf> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "rs"))
                .filter_map(|p| p.strip_prefix(&dir).ok().map(Path::to_owned))
                .collect();
            bins.sort();
            roots.extend(bins);
        }
        packages.push(Package {
            dir: member.to_owned(),
            roots,
        });
    }
    Ok(packages)
}

/// Checks every package of the workspace at `root` against the rules of the
/// Markdown document `doc` (none: cycles only).
pub fn check(root: &Path, doc: Option<&str>) -> Result<Report, Error> {
    let rules = match doc {
        Some(text) => layers::parse(text)?,
        None => Default::default(),
    };
    let packages = workspace_packages(root)?;
    for pkg in rules.keys() {
        if !packages.iter().any(|p| &p.dir == pkg) {
            return Err(Error::Workspace(format!(
                "the architecture document has rules for `{pkg}`, which is no member of the workspace"
            )));
        }
    }
    let mut report = Report {
        packages: packages.len(),
        ..Report::default()
    };
    for pkg in &packages {
        let base = root.join(&pkg.dir);
        for (i, crate_root) in pkg.roots.iter().enumerate() {
            let tree = ModuleTree::load(&base, crate_root)?;
            let graph = FileGraph::build(&tree);
            report.files += graph.files.len();
            report.edges += graph.edges.len();
            report
                .findings
                .extend(graph.cycles().into_iter().map(|cycle| Finding::Cycle {
                    package: pkg.dir.clone(),
                    cycle,
                }));
            let no_rules = Rules::default();
            let r = rules.get(&pkg.dir).unwrap_or(&no_rules);
            report.findings.extend(size_findings(&pkg.dir, &tree, r));
            {
                if i == 0 && crate_root.ends_with("lib.rs") && !r.layers.is_empty() {
                    report.findings.extend(layer_findings(&pkg.dir, &graph, r));
                }
                report.findings.extend(only_findings(&pkg.dir, &graph, r));
            }
        }
    }
    Ok(report)
}

fn layer_findings(package: &str, graph: &FileGraph, rules: &Rules) -> Vec<Finding> {
    let mut out = Vec::new();
    // The crate root is the top: it assembles and re-exports.
    let layer = |f: usize| -> Option<(usize, String)> {
        if f == 0 {
            return Some((0, "crate root".to_owned()));
        }
        rules
            .layer_of(&graph.modules[f])
            .map(|(i, name)| (i + 1, name.to_owned()))
    };
    for f in 1..graph.files.len() {
        if layer(f).is_none() {
            out.push(Finding::Unplaced {
                package: package.to_owned(),
                file: graph.files[f].clone(),
                module: graph.modules[f].clone(),
            });
        }
    }
    for (&(a, b), refs) in &graph.edges {
        let (Some((la, na)), Some((lb, nb))) = (layer(a), layer(b)) else {
            continue;
        };
        if lb < la {
            let r = &refs[0];
            out.push(Finding::Upward {
                package: package.to_owned(),
                from: (graph.files[a].clone(), na),
                to: (graph.files[b].clone(), nb),
                line: r.line,
                path: r.text(),
            });
        }
    }
    out
}

fn size_findings(package: &str, tree: &ModuleTree, rules: &Rules) -> Vec<Finding> {
    let mut out = Vec::new();
    for (file, facts) in &tree.files {
        let shown = file.display().to_string();
        if facts.code_lines > MAX_FILE_LINES && !rules.allow.contains_key(&shown) {
            out.push(Finding::LargeFile {
                package: package.to_owned(),
                file: file.clone(),
                lines: facts.code_lines,
            });
        }
        for (name, line, lines) in &facts.functions {
            if *lines > MAX_FUNCTION_LINES && !rules.allow.contains_key(&format!("{shown}::{name}"))
            {
                out.push(Finding::LongFunction {
                    package: package.to_owned(),
                    file: file.clone(),
                    name: name.clone(),
                    line: *line,
                    lines: *lines,
                });
            }
        }
    }
    out
}

fn only_findings(package: &str, graph: &FileGraph, rules: &Rules) -> Vec<Finding> {
    let mut out = Vec::new();
    for (f, r) in &graph.external {
        let Some(allowed) = rules.only.get(&r.path[0]) else {
            continue;
        };
        if !allowed.contains(&r.path[1]) {
            out.push(Finding::Forbidden {
                package: package.to_owned(),
                file: graph.files[*f].clone(),
                line: r.line,
                path: r.text(),
                allowed: allowed.iter().cloned().collect(),
            });
        }
    }
    out
}
