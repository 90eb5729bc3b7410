//! The Rust example that `README.md` and `docs/mock-server.md` show is
//! `readme_example.rs`, which this binary compiles and runs: each page must
//! show that file once, byte for byte.

use std::path::Path;

/// The example, as compiled.
const EXAMPLE: &str = include_str!("readme_example.rs");

/// The ```rust blocks of a Markdown text that hold `needle`.
fn rust_blocks_with<'a>(markdown: &'a str, needle: &str) -> Vec<&'a str> {
    markdown
        .split("```rust\n")
        .skip(1)
        .filter_map(|rest| rest.split_once("```").map(|(block, _)| block))
        .filter(|block| block.contains(needle))
        .collect()
}

#[test]
fn the_readme_and_the_manual_show_the_compiled_example() {
    assert!(EXAMPLE.contains("async fn runs_a_job"), "{EXAMPLE}");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for page in ["README.md", "docs/mock-server.md"] {
        let text = std::fs::read_to_string(root.join(page)).expect(page);
        let blocks = rust_blocks_with(&text, "async fn runs_a_job");
        assert_eq!(
            blocks.len(),
            1,
            "{page} must show mock-server/tests/it/readme_example.rs once"
        );
        assert_eq!(
            blocks[0], EXAMPLE,
            "{page}'s example differs from mock-server/tests/it/readme_example.rs"
        );
    }
}

#[test]
fn a_changed_copy_is_caught() {
    let page = format!("intro\n\n```rust\n{EXAMPLE}```\n\n```rust\nlet other = 1;\n```\n");
    assert_eq!(
        rust_blocks_with(&page, "async fn runs_a_job"),
        vec![EXAMPLE]
    );
    let changed = page.replace("\"RUNNING\"", "\"PENDING\"");
    assert_ne!(
        rust_blocks_with(&changed, "async fn runs_a_job"),
        vec![EXAMPLE]
    );
}
