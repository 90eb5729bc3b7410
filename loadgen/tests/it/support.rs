//! Helpers: a mock in its own runtime, runs with fixed request counts, and
//! schema checks.

use std::time::Duration;

use joblet_loadgen::plan::{Action, JobSpec, Load, Plan};
use joblet_loadgen::report::{Report, json};
use joblet_loadgen::run::{self, RunConfig, Stop, TargetSpec};
use joblet_mock::{MockServer, MockServerBuilder, RunningMock};
use joblet_testkit::Target;
use joblet_testkit::pb::{self, job_service_client::JobServiceClient};

/// A mock served by a runtime of its own (the generator runs its own
/// runtimes, so tests call it from a plain thread).
pub struct Mock {
    pub rt: tokio::runtime::Runtime,
    pub mock: Option<RunningMock>,
}

impl Mock {
    pub fn start() -> Self {
        Self::start_with(MockServer::builder())
    }

    pub fn start_with(builder: MockServerBuilder) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mock = rt.block_on(builder.start()).expect("the mock starts");
        Self {
            rt,
            mock: Some(mock),
        }
    }

    pub fn running(&self) -> &RunningMock {
        self.mock.as_ref().unwrap()
    }

    pub fn target(&self) -> TargetSpec {
        TargetSpec::new(Target::plaintext(self.running().addr().to_string()))
    }

    /// Every job on the node (default session), as (id, status).
    pub fn jobs(&self) -> Vec<(String, String)> {
        let url = self.running().url();
        self.rt.block_on(async move {
            let mut c = JobServiceClient::connect(url).await.unwrap();
            let jobs = c.list_jobs(pb::EmptyRequest {}).await.unwrap().into_inner();
            jobs.jobs.into_iter().map(|j| (j.uuid, j.status)).collect()
        })
    }

    /// Submits a job as another client would.
    pub fn submit(&self, command: &str, args: &[&str]) -> String {
        let url = self.running().url();
        let req = pb::RunJobRequest {
            command: command.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            ..Default::default()
        };
        self.rt.block_on(async move {
            let mut c = JobServiceClient::connect(url).await.unwrap();
            c.run_job(req).await.unwrap().into_inner().job_uuid
        })
    }

    /// RunJob calls the node received.
    pub fn run_job_calls(&self) -> usize {
        self.running()
            .received_calls()
            .iter()
            .filter(|c| c.method.ends_with("/RunJob"))
            .count()
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        if let Some(m) = self.mock.take() {
            let _ = self.rt.block_on(m.shutdown());
        }
    }
}

/// A config for `plan` against `targets` (the embedded mock when empty),
/// quiet, with short timeouts.
pub fn config(plan: Plan, targets: Vec<TargetSpec>) -> RunConfig {
    let mut c = RunConfig::new(plan);
    c.targets = targets;
    c.connections = 2;
    c.drain_timeout = Duration::from_secs(20);
    c
}

/// A one-stage plan with a fixed request count.
pub fn plan(scenario: &str, action: Action, job: JobSpec, load: Load, requests: u64) -> Plan {
    Plan::single(scenario, action, job, load, None, Some(requests)).unwrap()
}

/// Runs and checks the report against the schema (through its JSON form).
pub fn run_checked(config: &RunConfig) -> Report {
    let report = run::run(config, &Stop::new()).expect("the run completes");
    assert_valid(&report);
    report
}

/// The report, written as JSON, matches the schema and reads back equal.
pub fn assert_valid(report: &Report) {
    let value = serde_json::to_value(report).unwrap();
    let problems = json::violations(&value);
    assert!(problems.is_empty(), "schema violations: {problems:#?}");
    let back: Report = serde_json::from_value(value).unwrap();
    assert_eq!(&back, report);
}
