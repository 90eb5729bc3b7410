//! Shared runs: each catalogue run happens once per test binary, on a thread
//! of its own (the embedded mock lives on that thread's runtime).

use std::path::PathBuf;
use std::sync::OnceLock;

use joblet_conformance::RunResult;
use joblet_conformance::cases::catalogue;
use joblet_conformance::embedded::Embedded;
use joblet_conformance::runner::{self, RunConfig};
use joblet_mock::{MockConfig, Profile};

/// Runs the whole catalogue against an embedded mock of `profile`.
pub fn run_catalogue(profile: Profile) -> RunResult {
    run_catalogue_with(MockConfig {
        profile,
        ..MockConfig::default()
    })
}

/// Runs the whole catalogue against an embedded mock of `config` (every
/// opt-in given: the mock is the run's own).
pub fn run_catalogue_with(config: MockConfig) -> RunResult {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        rt.block_on(async move {
            let embedded = Embedded::start(config)
                .await
                .expect("the embedded mock starts");
            let mut run = RunConfig::new(embedded.targets.clone());
            run.options.allow_delete_all = true;
            run.options.allow_remote_installs = true;
            run.options.allow_builds = true;
            let cases: Vec<_> = catalogue().iter().collect();
            let result = runner::run(&cases, run).await;
            embedded.shutdown().await;
            result
        })
    })
    .join()
    .expect("the catalogue run")
}

/// The catalogue against the documented mock (once per test binary).
pub fn documented_run() -> &'static RunResult {
    static RUN: OnceLock<RunResult> = OnceLock::new();
    RUN.get_or_init(|| run_catalogue(Profile::Documented))
}

/// The catalogue against the server-v1 mock (once per test binary).
pub fn server_v1_run() -> &'static RunResult {
    static RUN: OnceLock<RunResult> = OnceLock::new();
    RUN.get_or_init(|| run_catalogue(Profile::ServerV1))
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Whether golden files are to be rewritten (`UPDATE_GOLDEN=1`).
pub fn update_golden() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1")
}
