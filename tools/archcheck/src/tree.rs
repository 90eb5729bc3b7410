//! A crate's module tree, read from its source files with `syn`: which file
//! holds each module, what each module binds with `use`, and every path it
//! names (in `use` items, in code, and in macro bodies). Test code
//! (`#[cfg(test)]` items and `#[test]` functions) is left out: tests may reach
//! anywhere.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

use crate::error::Error;

/// One crate root (a library or a binary) and every module under it.
#[derive(Debug)]
pub struct ModuleTree {
    /// The directory the files are named relative to (the package directory).
    pub base: PathBuf,
    /// Modules; index 0 is the crate root.
    pub modules: Vec<Module>,
    /// What each file holds beyond its modules: test ranges and functions.
    pub files: BTreeMap<PathBuf, FileFacts>,
}

/// Sizes in one file.
#[derive(Debug, Default, Clone)]
pub struct FileFacts {
    /// Lines of code outside test items: not blank, not only a comment.
    pub code_lines: usize,
    /// Non-test functions (free, in impls, default trait bodies):
    /// `(name, first line, line count)`.
    pub functions: Vec<(String, usize, usize)>,
}

/// A module: inline modules share their parent's file.
#[derive(Debug)]
pub struct Module {
    /// Path from the crate root (`["service", "job"]`); empty for the root.
    pub path: Vec<String>,
    /// The file that holds it, relative to [`ModuleTree::base`].
    pub file: PathBuf,
    /// The enclosing module.
    pub parent: Option<usize>,
    /// Child modules by name.
    pub children: BTreeMap<String, usize>,
    /// Names bound by `use` at module level, to the path they stand for.
    pub bindings: BTreeMap<String, Vec<String>>,
    /// Names of the items the module defines itself (functions, types,
    /// constants, ...): a path to one of them ends here even when a `use` binds
    /// the same name in another namespace.
    pub items: std::collections::BTreeSet<String>,
    /// Every path of two or more segments that the module names.
    pub refs: Vec<Reference>,
}

/// A path named in a module's code.
#[derive(Debug, Clone)]
pub struct Reference {
    /// The segments as written (`crate`, `super`, `self` kept).
    pub path: Vec<String>,
    /// 1-based line in the module's file.
    pub line: usize,
}

impl Reference {
    /// The path as Rust spells it.
    pub fn text(&self) -> String {
        self.path.join("::")
    }
}

impl ModuleTree {
    /// Reads the crate whose root file is `base/root` (`src/lib.rs`, a
    /// `src/bin/x.rs`) and every module file it declares.
    pub fn load(base: &Path, root: &Path) -> Result<Self, Error> {
        let mut tree = ModuleTree {
            base: base.to_owned(),
            modules: Vec::new(),
            files: BTreeMap::new(),
        };
        tree.modules.push(Module {
            path: Vec::new(),
            file: root.to_owned(),
            parent: None,
            children: BTreeMap::new(),
            bindings: BTreeMap::new(),
            items: Default::default(),
            refs: Vec::new(),
        });
        let file = tree.parse(root)?;
        tree.measure(root, &file)?;
        let dir = root.parent().unwrap_or(Path::new("")).to_owned();
        tree.walk(0, &file.items, &dir)?;
        Ok(tree)
    }

    /// The file of module `m`.
    pub fn file(&self, m: usize) -> &Path {
        &self.modules[m].file
    }

    fn parse(&self, rel: &Path) -> Result<syn::File, Error> {
        let path = self.base.join(rel);
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })?;
        let file = syn::parse_file(&text).map_err(|e| Error::Parse {
            line: e.span().start().line,
            path,
            message: e.to_string(),
        })?;
        Ok(file)
    }

    /// Records the sizes of file `rel` (parsed as `file`).
    fn measure(&mut self, rel: &Path, file: &syn::File) -> Result<(), Error> {
        let path = self.base.join(rel);
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })?;
        let mut sizes = Sizes::default();
        sizes.visit_file(file);
        let code_lines = text
            .lines()
            .enumerate()
            .filter(|(i, line)| {
                let t = line.trim();
                !t.is_empty()
                    && !t.starts_with("//")
                    && !sizes.test_ranges.iter().any(|r| r.contains(&(i + 1)))
            })
            .count();
        self.files.insert(
            rel.to_owned(),
            FileFacts {
                code_lines,
                functions: sizes.functions,
            },
        );
        Ok(())
    }

    /// Records the items of module `m`; `dir` is where its `mod x;` files live.
    fn walk(&mut self, m: usize, items: &[syn::Item], dir: &Path) -> Result<(), Error> {
        for item in items {
            if is_test(item_attrs(item)) {
                continue;
            }
            match item {
                syn::Item::Mod(decl) => self.child(m, decl, dir)?,
                syn::Item::Use(u) => {
                    let mut flat = Vec::new();
                    flatten_use(&u.tree, &mut Vec::new(), &mut flat);
                    let line = u.use_token.span.start().line;
                    for (path, name) in flat {
                        if let Some(name) = name {
                            self.modules[m].bindings.insert(name, path.clone());
                        }
                        self.modules[m].refs.push(Reference { path, line });
                    }
                }
                other => {
                    if let Some(name) = item_name(other) {
                        self.modules[m].items.insert(name);
                    }
                    let mut collector = Collector::default();
                    collector.visit_item(other);
                    self.modules[m].refs.extend(collector.refs);
                }
            }
        }
        Ok(())
    }

    fn child(&mut self, m: usize, decl: &syn::ItemMod, dir: &Path) -> Result<(), Error> {
        let name = decl.ident.to_string();
        let mut path = self.modules[m].path.clone();
        path.push(name.clone());
        let (file, items, child_dir) = match &decl.content {
            Some((_, items)) => (
                self.modules[m].file.clone(),
                Vec::clone(items),
                dir.join(&name),
            ),
            None => {
                let file = match path_attr(&decl.attrs) {
                    Some(p) => dir.join(p),
                    None => {
                        let flat = dir.join(format!("{name}.rs"));
                        if self.base.join(&flat).is_file() {
                            flat
                        } else {
                            dir.join(&name).join("mod.rs")
                        }
                    }
                };
                let parsed = self.parse(&file)?;
                self.measure(&file, &parsed)?;
                let child_dir = if file.file_name().is_some_and(|f| f == "mod.rs") {
                    file.parent().unwrap_or(Path::new("")).to_owned()
                } else {
                    dir.join(&name)
                };
                (file, parsed.items, child_dir)
            }
        };
        let id = self.modules.len();
        self.modules.push(Module {
            path,
            file,
            parent: Some(m),
            children: BTreeMap::new(),
            bindings: BTreeMap::new(),
            items: Default::default(),
            refs: Vec::new(),
        });
        self.modules[m].children.insert(name, id);
        self.walk(id, &items, &child_dir)
    }
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    use syn::Item::*;
    match item {
        Const(i) => &i.attrs,
        Enum(i) => &i.attrs,
        ExternCrate(i) => &i.attrs,
        Fn(i) => &i.attrs,
        ForeignMod(i) => &i.attrs,
        Impl(i) => &i.attrs,
        Macro(i) => &i.attrs,
        Mod(i) => &i.attrs,
        Static(i) => &i.attrs,
        Struct(i) => &i.attrs,
        Trait(i) => &i.attrs,
        TraitAlias(i) => &i.attrs,
        Type(i) => &i.attrs,
        Union(i) => &i.attrs,
        Use(i) => &i.attrs,
        _ => &[],
    }
}

/// The name an item defines in its module, if any.
fn item_name(item: &syn::Item) -> Option<String> {
    use syn::Item::*;
    let ident = match item {
        Const(i) => &i.ident,
        Enum(i) => &i.ident,
        Fn(i) => &i.sig.ident,
        Static(i) => &i.ident,
        Struct(i) => &i.ident,
        Trait(i) => &i.ident,
        TraitAlias(i) => &i.ident,
        Type(i) => &i.ident,
        Union(i) => &i.ident,
        Macro(i) => i.ident.as_ref()?,
        _ => return None,
    };
    Some(ident.to_string())
}

/// `#[cfg(test)]`, `#[test]` or `#[tokio::test]`: code that only tests build.
fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        let path = a.path();
        if path.is_ident("test") || path.segments.last().is_some_and(|s| s.ident == "test") {
            return true;
        }
        if path.is_ident("cfg")
            && let syn::Meta::List(list) = &a.meta
        {
            return list.tokens.to_string() == "test";
        }
        false
    })
}

fn path_attr(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|a| {
        if !a.path().is_ident("path") {
            return None;
        }
        match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        }
    })
}

/// Flattens a use tree into (path, bound name) pairs; a glob binds nothing
/// and its path ends at the module it reads.
fn flatten_use(
    tree: &syn::UseTree,
    prefix: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, Option<String>)>,
) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            flatten_use(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let name = n.ident.to_string();
            if name == "self" {
                let bound = prefix.last().cloned();
                out.push((prefix.clone(), bound));
            } else {
                let mut path = prefix.clone();
                path.push(name.clone());
                out.push((path, Some(name)));
            }
        }
        syn::UseTree::Rename(r) => {
            let mut path = prefix.clone();
            if r.ident != "self" {
                path.push(r.ident.to_string());
            }
            let bound = r.rename.to_string();
            out.push((path, (bound != "_").then_some(bound)));
        }
        syn::UseTree::Glob(_) => out.push((prefix.clone(), None)),
        syn::UseTree::Group(g) => {
            for t in &g.items {
                flatten_use(t, prefix, out);
            }
        }
    }
}

/// Collects the paths an item names, skipping test code and nested modules.
#[derive(Default)]
struct Collector {
    refs: Vec<Reference>,
}

impl Collector {
    fn push(&mut self, path: Vec<String>, line: usize) {
        if path.len() >= 2 {
            self.refs.push(Reference { path, line });
        }
    }

    /// Paths inside a macro's tokens (`crate::x::y`, `$crate::x`, `super::y`).
    fn scan_tokens(&mut self, tokens: TokenStream) {
        let trees: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < trees.len() {
            match &trees[i] {
                TokenTree::Group(g) => self.scan_tokens(g.stream()),
                TokenTree::Ident(id) => {
                    let mut path = vec![id.to_string()];
                    let line = id.span().start().line;
                    let mut j = i + 1;
                    while j + 2 < trees.len()
                        && is_colon(&trees[j])
                        && is_colon(&trees[j + 1])
                        && matches!(trees[j + 2], TokenTree::Ident(_))
                    {
                        path.push(trees[j + 2].to_string());
                        j += 3;
                    }
                    if path.len() >= 2 {
                        self.push(path, line);
                        i = j;
                        continue;
                    }
                }
                TokenTree::Punct(_) | TokenTree::Literal(_) => {}
            }
            i += 1;
        }
    }
}

fn is_colon(t: &TokenTree) -> bool {
    matches!(t, TokenTree::Punct(p) if p.as_char() == ':')
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        if is_test(item_attrs(item)) {
            return;
        }
        match item {
            syn::Item::Mod(_) => {}
            syn::Item::Use(u) => {
                let mut flat = Vec::new();
                flatten_use(&u.tree, &mut Vec::new(), &mut flat);
                let line = u.use_token.span.start().line;
                for (path, _) in flat {
                    self.push(path, line);
                }
            }
            other => syn::visit::visit_item(self, other),
        }
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        if !is_test(&f.attrs) {
            syn::visit::visit_impl_item_fn(self, f);
        }
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let path: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        let line = p
            .segments
            .first()
            .map(|s| s.ident.span().start().line)
            .unwrap_or(0);
        self.push(path, line);
        syn::visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.visit_path(&m.path);
        self.scan_tokens(m.tokens.clone());
    }
}

/// Test line ranges and function sizes of one file.
#[derive(Default)]
struct Sizes {
    test_ranges: Vec<std::ops::RangeInclusive<usize>>,
    functions: Vec<(String, usize, usize)>,
}

impl Sizes {
    fn function(&mut self, name: &syn::Ident, attrs: &[syn::Attribute], span: proc_macro2::Span) {
        let (start, end) = (span.start().line, span.end().line);
        let start = attrs
            .iter()
            .map(|a| a.pound_token.span.start().line)
            .min()
            .unwrap_or(start)
            .min(start);
        if is_test(attrs) {
            self.test_ranges.push(start..=end);
        } else {
            self.functions
                .push((name.to_string(), start, end - start + 1));
        }
    }
}

impl<'ast> Visit<'ast> for Sizes {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = item_attrs(item);
        if is_test(attrs) {
            let span = syn::spanned::Spanned::span(item);
            let start = attrs
                .iter()
                .map(|a| a.pound_token.span.start().line)
                .min()
                .unwrap_or(span.start().line);
            self.test_ranges.push(start..=span.end().line);
            return;
        }
        if let syn::Item::Fn(f) = item {
            self.function(&f.sig.ident, &f.attrs, syn::spanned::Spanned::span(item));
            return;
        }
        syn::visit::visit_item(self, item);
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.function(&f.sig.ident, &f.attrs, syn::spanned::Spanned::span(f));
    }

    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        if f.default.is_some() {
            self.function(&f.sig.ident, &f.attrs, syn::spanned::Spanned::span(f));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(src: &str) -> Vec<(String, Option<String>)> {
        let item: syn::ItemUse = syn::parse_str(src).unwrap();
        let mut out = Vec::new();
        flatten_use(&item.tree, &mut Vec::new(), &mut out);
        out.into_iter().map(|(p, n)| (p.join("::"), n)).collect()
    }

    #[test]
    fn use_trees_flatten_to_paths_and_names() {
        assert_eq!(
            flat("use crate::a::{b::{C, self}, d as e, f::*};"),
            vec![
                ("crate::a::b::C".to_owned(), Some("C".to_owned())),
                ("crate::a::b".to_owned(), Some("b".to_owned())),
                ("crate::a::d".to_owned(), Some("e".to_owned())),
                ("crate::a::f".to_owned(), None),
            ]
        );
        assert_eq!(flat("use x::Y as _;"), vec![("x::Y".to_owned(), None)]);
    }

    #[test]
    fn macro_tokens_yield_paths() {
        let mut c = Collector::default();
        let tokens: TokenStream = "a, crate::x::y(1), $crate::z::W, super::super::q"
            .parse()
            .unwrap();
        c.scan_tokens(tokens);
        let texts: Vec<String> = c.refs.iter().map(Reference::text).collect();
        assert_eq!(texts, ["crate::x::y", "crate::z::W", "super::super::q"]);
    }

    #[test]
    fn test_code_is_recognised() {
        let f: syn::File = syn::parse_str(
            "#[cfg(test)] mod tests {} #[test] fn t() {} #[tokio::test] async fn u() {} #[cfg(feature = \"x\")] fn v() {}",
        )
        .unwrap();
        let tests: Vec<bool> = f.items.iter().map(|i| is_test(item_attrs(i))).collect();
        assert_eq!(tests, [true, true, true, false]);
    }
}
