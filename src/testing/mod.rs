//! Helpers shared by the workspace's tests (feature `test-util`).

use std::path::PathBuf;
use std::time::Duration;

/// The repository's `fixtures/` directory, independent of the current directory.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// A file under `fixtures/`.
pub fn fixture(path: &str) -> PathBuf {
    fixtures_dir().join(path)
}

/// How long an eventually-assertion waits: `JOBLET_TEST_PATIENCE_MS`, default 10 s.
pub fn patience() -> Duration {
    std::env::var("JOBLET_TEST_PATIENCE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(10))
}

/// Polls `check` until it returns `Some`, or panics with `what` after [`patience`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + patience();
    let mut delay = Duration::from_millis(2);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("condition not reached within {:?}: {what}", patience());
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(50));
    }
}
