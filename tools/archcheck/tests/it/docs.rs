//! The repository's Markdown: every relative link and anchor resolves.

use std::path::{Path, PathBuf};

use joblet_archcheck::links::{check, markdown_files};

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

fn broken(root: &Path) -> Vec<String> {
    let files = markdown_files(root).unwrap();
    check(root, &files)
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn every_relative_link_of_the_repository_resolves() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let files = markdown_files(&root).unwrap();
    for page in ["README.md", "docs/behaviours.md", "python/README.md"] {
        assert!(
            files.contains(&PathBuf::from(page)),
            "{page} not among the Markdown files found: {files:?}"
        );
    }
    let broken: Vec<String> = check(&root, &files)
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        broken.is_empty(),
        "broken links in the repository's Markdown:\n{}",
        broken.join("\n")
    );
}

#[test]
fn a_missing_file_fails_the_check() {
    let dir = tree(&[
        (
            "README.md",
            "# Toolkit\n\nSee [the manual](docs/manual.md).\n",
        ),
        ("docs/other.md", "# Other\n"),
    ]);
    assert_eq!(
        broken(dir.path()),
        vec!["README.md:3: (docs/manual.md) no such file or directory: docs/manual.md"]
    );
    std::fs::write(dir.path().join("docs/manual.md"), "# Manual\n").unwrap();
    assert_eq!(broken(dir.path()), Vec::<String>::new());
}

#[test]
fn a_missing_anchor_fails_the_check_in_page_and_across_pages() {
    let dir = tree(&[
        (
            "README.md",
            "# Toolkit\n\n## Quick start\n\n[here](#quick-start), [there](docs/mock.md#the-clock),\n\
             [renamed](docs/mock.md#the-old-clock), [typo](#quick-strat)\n",
        ),
        (
            "docs/mock.md",
            "# The mock\n\n## The clock\n\n```sh\n# the-old-clock is a comment in code\n```\n\
             [back](../README.md#quick-start)\n",
        ),
    ]);
    assert_eq!(
        broken(dir.path()),
        vec![
            "README.md:6: (docs/mock.md#the-old-clock) no heading with anchor #the-old-clock in docs/mock.md",
            "README.md:6: (#quick-strat) no heading with anchor #quick-strat in README.md",
        ]
    );
}

#[test]
fn links_in_code_and_external_links_are_not_checked() {
    let dir = tree(&[(
        "README.md",
        "# Toolkit\n\n`[not a link](missing.md)`\n\n```md\n[nor this](missing.md)\n```\n\n\
         [external](https://example.invalid/missing.md) [mail](mailto:x@example.invalid)\n",
    )]);
    assert_eq!(broken(dir.path()), Vec::<String>::new());
}
