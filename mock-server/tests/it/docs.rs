//! The Rust examples the docs show are files this binary compiles and runs:
//! `readme_example.rs` in `README.md` and `docs/mock-server.md`, and
//! `v2_example.rs` (a contract v2 client) in `docs/mock-server.md`. Each
//! page must show its file once, byte for byte.

use std::path::Path;

/// The example, as compiled.
const EXAMPLE: &str = include_str!("readme_example.rs");

/// The contract v2 example, as compiled.
const V2_EXAMPLE: &str = include_str!("v2_example.rs");

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
fn the_manual_shows_the_compiled_v2_example() {
    let needle = "async fn a_v2_job_past_its_timeout_ends_timeout";
    assert!(V2_EXAMPLE.contains(needle), "{V2_EXAMPLE}");
    let page = "docs/mock-server.md";
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join(page)).expect(page);
    let blocks = rust_blocks_with(&text, needle);
    assert_eq!(
        blocks.len(),
        1,
        "{page} must show mock-server/tests/it/v2_example.rs once"
    );
    assert_eq!(
        blocks[0], V2_EXAMPLE,
        "{page}'s v2 example differs from mock-server/tests/it/v2_example.rs"
    );
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
