//! The rules hold on this workspace (the CI gate).

use std::path::Path;

#[test]
fn this_workspace_has_no_cycle_and_keeps_its_layers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let doc = std::fs::read_to_string(root.join("docs/architecture.md"))
        .expect("docs/architecture.md declares the layers");
    let report = joblet_archcheck::check(&root, Some(&doc)).unwrap();
    assert!(report.files > 100, "read only {} files", report.files);
    assert!(report.findings.is_empty(), "\n{report}");
}
