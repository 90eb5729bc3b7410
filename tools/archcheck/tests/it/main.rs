//! The check on small workspaces written for each rule, and on this workspace.

use std::path::Path;

mod docs;
mod workspace;

use joblet_archcheck::{Finding, check};

/// Writes `files` (path, text) under a new temporary directory.
fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

const MANIFEST: (&str, &str) = ("Cargo.toml", "[workspace]\nmembers = [\"a\"]\n");

fn findings(root: &Path, doc: Option<&str>) -> Vec<Finding> {
    check(root, doc).unwrap().findings
}

#[test]
fn a_cycle_is_named_with_the_path_that_closes_it() {
    let ws = tree(&[
        MANIFEST,
        ("a/src/lib.rs", "mod x;\nmod y;\nmod z;\n"),
        ("a/src/x.rs", "use crate::y::Y;\npub struct X;\n"),
        ("a/src/y.rs", "pub struct Y;\nfn f() { crate::z::g(); }\n"),
        ("a/src/z.rs", "pub fn g() { let _ = super::x::X; }\n"),
    ]);
    let found = findings(ws.path(), None);
    assert_eq!(found.len(), 1, "{found:?}");
    let text = found[0].to_string();
    assert_eq!(
        text,
        "cycle of 3 files in a: src/x.rs, src/y.rs, src/z.rs\n  closed by:\n    \
         src/x.rs:1 `crate::y::Y` -> src/y.rs\n    \
         src/y.rs:2 `crate::z::g` -> src/z.rs\n    \
         src/z.rs:1 `super::x::X` -> src/x.rs"
    );
}

#[test]
fn re_exports_are_followed_to_the_defining_file() {
    // b names `crate::Thing`, which the root re-exports from c: the edge is
    // b -> c, so the root naming b is no cycle.
    let ws = tree(&[
        MANIFEST,
        (
            "a/src/lib.rs",
            "mod b;\nmod c;\npub use c::Thing;\npub use b::f;\n",
        ),
        (
            "a/src/b.rs",
            "pub fn f() -> crate::Thing { crate::Thing }\n",
        ),
        ("a/src/c.rs", "pub struct Thing;\n"),
    ]);
    assert_eq!(findings(ws.path(), None), vec![]);
}

#[test]
fn test_code_and_macro_bodies() {
    // The test module's reach upward is allowed; the macro's is not.
    let ws = tree(&[
        MANIFEST,
        ("a/src/lib.rs", "mod p;\n"),
        ("a/src/p/mod.rs", "mod q;\npub use q::Q;\npub struct P;\n"),
        (
            "a/src/p/q.rs",
            "pub struct Q;\n#[cfg(test)]\nmod tests { use super::super::P; }\n",
        ),
    ]);
    assert_eq!(findings(ws.path(), None), vec![]);
    let ws = tree(&[
        MANIFEST,
        ("a/src/lib.rs", "mod p;\n"),
        ("a/src/p/mod.rs", "mod q;\npub use q::Q;\npub struct P;\n"),
        (
            "a/src/p/q.rs",
            "pub struct Q;\nfn f() { tracing::info!(\"{:?}\", super::P); }\n",
        ),
    ]);
    let found = findings(ws.path(), None);
    assert!(
        matches!(&found[..], [Finding::Cycle { cycle, .. }] if cycle.path[1].2 == "super::P"),
        "{found:?}"
    );
}

#[test]
fn layers_forbid_upward_edges_and_unplaced_files() {
    let ws = tree(&[
        MANIFEST,
        ("a/src/lib.rs", "mod top;\nmod low;\nmod stray;\n"),
        ("a/src/top.rs", "pub fn t() { crate::low::l() }\n"),
        (
            "a/src/low.rs",
            "pub fn l() {}\npub fn m() { crate::top::t() }\n",
        ),
        ("a/src/stray.rs", "\n"),
    ]);
    let doc = "# Architecture\n```layers a\ntop: top\nfoundations: low\n```\n";
    let found: Vec<String> = findings(ws.path(), Some(doc))
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        found,
        [
            "cycle of 2 files in a: src/low.rs, src/top.rs\n  closed by:\n    \
             src/low.rs:2 `crate::top::t` -> src/top.rs\n    \
             src/top.rs:1 `crate::low::l` -> src/low.rs",
            "a: src/stray.rs (module `stray`) is in no layer of docs/architecture.md",
            "upward edge in a: src/low.rs:2 (foundations layer) names `crate::top::t` in src/top.rs (top layer)",
        ]
    );
}

#[test]
fn only_limits_what_a_package_names_of_another_crate() {
    let ws = tree(&[
        MANIFEST,
        (
            "a/src/lib.rs",
            "use other::{Allowed, internal};\npub fn f() { internal::g(); let _ = other::Allowed; }\n",
        ),
        ("a/src/bin/tool.rs", "fn main() { other::secret::x(); }\n"),
    ]);
    let doc = "```layers a\nonly other: Allowed\n```\n";
    let found: Vec<String> = findings(ws.path(), Some(doc))
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        found,
        [
            "a: src/lib.rs:1 names `other::internal`; it may name only Allowed",
            "a: src/lib.rs:2 names `other::internal::g`; it may name only Allowed",
            "a: src/bin/tool.rs:1 names `other::secret::x`; it may name only Allowed",
        ]
    );
}

#[test]
fn rules_for_a_package_that_does_not_exist_are_an_error() {
    let ws = tree(&[MANIFEST, ("a/src/lib.rs", "\n")]);
    let err = check(ws.path(), Some("```layers nope\nx: y\n```\n")).unwrap_err();
    assert!(err.to_string().contains("`nope`"), "{err}");
}

#[test]
fn unparsable_source_is_an_error_naming_the_file() {
    let ws = tree(&[
        MANIFEST,
        ("a/src/lib.rs", "mod m;\n"),
        ("a/src/m.rs", "fn (\n"),
    ]);
    let err = check(ws.path(), None).unwrap_err().to_string();
    assert!(err.contains("m.rs:1: cannot parse"), "{err}");
}

#[test]
fn long_functions_and_large_files_unless_allowed() {
    let long_body = "    let _x = 1;\n".repeat(150);
    let long_fn = format!(
        "pub fn long() {{\n{long_body}}}\n#[cfg(test)]\nmod tests {{\nfn t() {{\n{long_body}}}\n}}\n"
    );
    let large = format!(
        "// comments do not count\n{}",
        "pub fn f() {}\n\n".repeat(801)
    );
    let ws = tree(&[
        MANIFEST,
        ("a/src/lib.rs", "mod l;\nmod big;\n"),
        ("a/src/l.rs", &long_fn),
        ("a/src/big.rs", &large),
    ]);
    let found: Vec<String> = findings(ws.path(), None)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found[0].starts_with("a: src/big.rs has 801 lines of non-test code"),
        "{found:?}"
    );
    assert!(
        found[1].starts_with("a: src/l.rs:1 fn `long` runs 152 lines"),
        "{found:?}"
    );
    let doc = "```layers a\nallow src/big.rs: a generated table\nallow src/l.rs::long: one match over every flag\n```\n";
    assert_eq!(findings(ws.path(), Some(doc)), vec![]);
}

#[test]
fn an_item_of_a_module_wins_over_a_binding_of_the_same_name() {
    // `cli::replay::replay` is the function of cli/replay.rs, although that
    // module also binds the name `replay` to the module `crate::replay`.
    let ws = tree(&[
        MANIFEST,
        ("a/src/lib.rs", "mod cli;\nmod replay;\n"),
        ("a/src/replay.rs", "pub fn run() {}\n"),
        (
            "a/src/cli/mod.rs",
            "mod replay;\npub fn go() { replay::replay() }\n",
        ),
        (
            "a/src/cli/replay.rs",
            "use crate::replay;\npub fn replay() { replay::run() }\n",
        ),
    ]);
    assert_eq!(findings(ws.path(), None), vec![]);
    let report = check(ws.path(), None).unwrap();
    assert_eq!(report.edges, 2, "cli/mod -> cli/replay -> replay");
}
