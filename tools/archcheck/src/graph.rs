//! From a module tree to a graph between files: each path a module names is
//! resolved to the module that defines the item (following `use` re-exports),
//! and an edge runs from the naming file to the defining file. Cycles are the
//! graph's strongly connected components of two or more files.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;

use crate::tree::{ModuleTree, Reference};

/// How deep re-exports and `use` aliases are followed.
const MAX_DEPTH: u8 = 16;

/// Files and the edges between them, each edge with the references behind it.
#[derive(Debug, Default)]
pub struct FileGraph {
    /// Files, relative to the package directory.
    pub files: Vec<PathBuf>,
    /// The module path of each file (its outermost module), `crate` for the root.
    pub modules: Vec<String>,
    /// `(from, to)` file indices to the references that make the edge.
    pub edges: BTreeMap<(usize, usize), Vec<Reference>>,
    /// Paths into other crates: `(file, reference)`.
    pub external: Vec<(usize, Reference)>,
}

/// A cycle: files in order, each naming the next, the last naming the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    /// Every file of the strongly connected component, sorted.
    pub component: Vec<PathBuf>,
    /// One shortest closed path through the component's first file:
    /// `(from, reference, to)` hops.
    pub path: Vec<(PathBuf, usize, String, PathBuf)>,
}

impl FileGraph {
    /// Builds the graph of one crate root.
    pub fn build(tree: &ModuleTree) -> Self {
        let mut g = FileGraph::default();
        let mut index: BTreeMap<PathBuf, usize> = BTreeMap::new();
        let mut file_of = Vec::with_capacity(tree.modules.len());
        for m in &tree.modules {
            let next = index.len();
            let i = *index.entry(m.file.clone()).or_insert(next);
            if i == g.files.len() {
                g.files.push(m.file.clone());
                g.modules.push(if m.path.is_empty() {
                    "crate".to_owned()
                } else {
                    m.path.join("::")
                });
            }
            file_of.push(i);
        }
        for (m, module) in tree.modules.iter().enumerate() {
            for r in &module.refs {
                match resolve(tree, m, &r.path, 0) {
                    Resolved::Local(target) => {
                        let (a, b) = (file_of[m], file_of[target]);
                        if a != b {
                            g.edges.entry((a, b)).or_default().push(r.clone());
                        }
                    }
                    Resolved::External(path) => g
                        .external
                        .push((file_of[m], Reference { path, line: r.line })),
                    Resolved::Unknown => {}
                }
            }
        }
        g
    }

    /// The files `from` names.
    fn successors(&self, from: usize) -> impl Iterator<Item = usize> + '_ {
        self.edges
            .range((from, 0)..(from + 1, 0))
            .map(|(&(_, to), _)| to)
    }

    /// Every cycle between files, one per strongly connected component.
    pub fn cycles(&self) -> Vec<Cycle> {
        let mut out = Vec::new();
        for comp in self.components() {
            if comp.len() < 2 {
                continue;
            }
            let members: BTreeSet<usize> = comp.iter().copied().collect();
            let start = *comp
                .iter()
                .min_by_key(|&&f| &self.files[f])
                .expect("non-empty component");
            let hops = self.shortest_cycle(start, &members);
            let mut component: Vec<PathBuf> = comp.iter().map(|&f| self.files[f].clone()).collect();
            component.sort();
            let path = hops
                .windows(2)
                .map(|w| {
                    let r = &self.edges[&(w[0], w[1])][0];
                    (
                        self.files[w[0]].clone(),
                        r.line,
                        r.text(),
                        self.files[w[1]].clone(),
                    )
                })
                .collect();
            out.push(Cycle { component, path });
        }
        out.sort_by(|a, b| a.component.cmp(&b.component));
        out
    }

    /// Files from `start` back to `start` (both ends included), fewest hops,
    /// staying inside `members`.
    fn shortest_cycle(&self, start: usize, members: &BTreeSet<usize>) -> Vec<usize> {
        let mut prev: BTreeMap<usize, usize> = BTreeMap::new();
        let mut queue = VecDeque::from([start]);
        while let Some(f) = queue.pop_front() {
            for next in self.successors(f) {
                if !members.contains(&next) {
                    continue;
                }
                if next == start {
                    let mut hops = vec![start, f];
                    let mut at = f;
                    while at != start {
                        at = prev[&at];
                        hops.push(at);
                    }
                    hops.reverse();
                    return hops;
                }
                if let std::collections::btree_map::Entry::Vacant(e) = prev.entry(next) {
                    e.insert(f);
                    queue.push_back(next);
                }
            }
        }
        unreachable!("a file of a strongly connected component reaches itself")
    }

    /// Tarjan's strongly connected components.
    fn components(&self) -> Vec<Vec<usize>> {
        struct State {
            index: Vec<Option<usize>>,
            low: Vec<usize>,
            on_stack: Vec<bool>,
            stack: Vec<usize>,
            next: usize,
            out: Vec<Vec<usize>>,
        }
        fn visit(g: &FileGraph, v: usize, s: &mut State) {
            s.index[v] = Some(s.next);
            s.low[v] = s.next;
            s.next += 1;
            s.stack.push(v);
            s.on_stack[v] = true;
            let succ: Vec<usize> = g.successors(v).collect();
            for w in succ {
                match s.index[w] {
                    None => {
                        visit(g, w, s);
                        s.low[v] = s.low[v].min(s.low[w]);
                    }
                    Some(iw) if s.on_stack[w] => s.low[v] = s.low[v].min(iw),
                    Some(_) => {}
                }
            }
            if Some(s.low[v]) == s.index[v] {
                let mut comp = Vec::new();
                loop {
                    let w = s.stack.pop().expect("v is on the stack");
                    s.on_stack[w] = false;
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                s.out.push(comp);
            }
        }
        let n = self.files.len();
        let mut s = State {
            index: vec![None; n],
            low: vec![0; n],
            on_stack: vec![false; n],
            stack: Vec::new(),
            next: 0,
            out: Vec::new(),
        };
        for v in 0..n {
            if s.index[v].is_none() {
                visit(self, v, &mut s);
            }
        }
        s.out
    }
}

enum Resolved {
    /// A module of this crate.
    Local(usize),
    /// A path into another crate (its first segment names no local module),
    /// with `use` aliases replaced by what they stand for.
    External(Vec<String>),
    /// A local item, a generic, or what the tree cannot tell.
    Unknown,
}

/// The module that defines what `path`, named in module `from`, stands for.
fn resolve(tree: &ModuleTree, from: usize, path: &[String], depth: u8) -> Resolved {
    let Some(first) = path.first() else {
        return Resolved::Unknown;
    };
    let module = &tree.modules[from];
    let (mut cur, rest): (usize, &[String]) = match first.as_str() {
        "crate" => (0, &path[1..]),
        "self" => (from, &path[1..]),
        "super" => {
            let mut m = from;
            let mut i = 0;
            while path.get(i).is_some_and(|s| s == "super") {
                match tree.modules[m].parent {
                    Some(p) => m = p,
                    None => return Resolved::Unknown,
                }
                i += 1;
            }
            (m, &path[i..])
        }
        name if module.children.contains_key(name) => (from, path),
        name => {
            return match module.bindings.get(name) {
                Some(bound) if depth < MAX_DEPTH && bound.as_slice() != path => {
                    let mut full = bound.clone();
                    full.extend_from_slice(&path[1..]);
                    resolve(tree, from, &full, depth + 1)
                }
                _ if path.len() >= 2 && is_crate_name(name) => Resolved::External(path.to_vec()),
                _ => Resolved::Unknown,
            };
        }
    };
    for (i, seg) in rest.iter().enumerate() {
        if seg == "self" {
            continue;
        }
        if let Some(&child) = tree.modules[cur].children.get(seg) {
            cur = child;
            continue;
        }
        if depth < MAX_DEPTH
            && !tree.modules[cur].items.contains(seg)
            && let Some(bound) = tree.modules[cur].bindings.get(seg)
        {
            let mut full = bound.clone();
            full.extend_from_slice(&rest[i + 1..]);
            if let Resolved::Local(t) = resolve(tree, cur, &full, depth + 1) {
                return Resolved::Local(t);
            }
        }
        return Resolved::Local(cur);
    }
    Resolved::Local(cur)
}

/// Crate names are snake_case; types, traits and variants are not.
fn is_crate_name(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && !matches!(s, "std" | "core" | "alloc")
}
