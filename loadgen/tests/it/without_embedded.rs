//! Built without the `embedded` feature: no embedded mock, so a run with no
//! target is bad usage (exit 2) that says what to do, and sends nothing.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_joblet-loadgen");

#[test]
fn a_run_without_a_target_is_a_usage_error_naming_the_ways_out() {
    let o = Command::new(BIN)
        .args(["submit", "--requests", "1", "--progress", "off"])
        .env_remove("JOBLET_HOST")
        .env_remove("JOBLET_NODE")
        .env_remove("JOB_COMPLETION_INDEX")
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    for want in [
        "no target",
        "--target",
        "--rnx-config",
        "`embedded` feature",
    ] {
        assert!(stderr.contains(want), "{want:?} in {stderr}");
    }
    assert!(o.stdout.is_empty(), "no report without a run");
}
