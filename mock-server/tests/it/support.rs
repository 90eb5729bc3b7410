//! Helpers shared by the integration tests: start a mock, connect clients, run a
//! job and wait for its final status, collect its logs.
//!
//! Every wait is a bounded poll (`eventually`, patience from
//! `JOBLET_TEST_PATIENCE_MS`, default 10 s) or a bounded timeout; no test sleeps
//! for readiness.

#![allow(dead_code)]

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Local, TimeZone};
use futures::StreamExt;
use joblet_mock::SESSION_HEADER;
use joblet_mock::{MockConfig, MockServer, MockServerBuilder, RunningMock, TlsSetup};
use joblet_testkit::Target;
use joblet_testkit::pb::{
    self, job_service_client::JobServiceClient, monitoring_service_client::MonitoringServiceClient,
    network_service_client::NetworkServiceClient, runtime_service_client::RuntimeServiceClient,
    volume_service_client::VolumeServiceClient,
};
pub use joblet_testkit::testing::{eventually, patience};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Request, Status};

/// A JobService client.
pub type Jobs = JobServiceClient<Channel>;
/// A NetworkService client.
pub type Networks = NetworkServiceClient<Channel>;
/// A VolumeService client.
pub type Volumes = VolumeServiceClient<Channel>;
/// A RuntimeService client.
pub type Runtimes = RuntimeServiceClient<Channel>;
/// A MonitoringService client.
pub type Monitoring = MonitoringServiceClient<Channel>;

/// Every status a job record can have (ALL-1).
pub const JOB_STATUSES: [&str; 7] = [
    "INITIALIZING",
    "SCHEDULED",
    "RUNNING",
    "COMPLETED",
    "FAILED",
    "STOPPED",
    "CANCELED",
];

/// The final statuses.
pub const FINAL: [&str; 5] = ["COMPLETED", "FAILED", "STOPPED", "CANCELED", "TIMEOUT"];

/// A default mock on an ephemeral loopback port.
pub async fn start() -> RunningMock {
    start_with(MockServer::builder()).await
}

/// A mock from a configured builder.
pub async fn start_with(builder: MockServerBuilder) -> RunningMock {
    builder.start().await.expect("the mock starts")
}

/// A mock from a configured builder and a client made by `client` for it.
pub async fn start_and<C>(
    builder: MockServerBuilder,
    client: impl AsyncFnOnce(&RunningMock) -> C,
) -> (RunningMock, C) {
    let mock = start_with(builder).await;
    let c = client(&mock).await;
    (mock, c)
}

/// A mock with plaintext and TLS listeners, certificates generated into `dir`.
pub async fn start_tls(dir: &std::path::Path) -> RunningMock {
    MockServer::builder()
        .tls(TlsSetup::Generate(dir.to_owned()))
        .start()
        .await
        .expect("the mock starts with TLS")
}

/// `target` with a 20 s request timeout.
pub fn with_timeout(mut target: Target) -> Target {
    target.request_timeout = Some(Duration::from_secs(20));
    target
}

/// A mock whose simulated host has 4 CPU cores (deterministic limits checks)
/// and a fixed node id.
pub async fn start_4_cores() -> RunningMock {
    start_with(MockServer::builder().config(config_4_cores())).await
}

/// The default configuration with 4 host cores and node id `node-it-1`.
pub fn config_4_cores() -> MockConfig {
    MockConfig {
        host_cores: 4,
        node_id: "node-it-1".into(),
        ..MockConfig::default()
    }
}

/// A channel to `url`.
pub async fn channel(url: &str) -> Channel {
    Channel::from_shared(url.to_string())
        .expect("valid url")
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("connects to the mock")
}

/// An endpoint to the TLS listener of `mock` that trusts its CA but presents
/// no client certificate.
pub fn anonymous_tls(mock: &RunningMock) -> Endpoint {
    let certs = mock.certs().expect("generated certificates");
    Endpoint::from_shared(format!("https://{}", mock.tls_addr().expect("TLS is on")))
        .unwrap()
        .timeout(Duration::from_secs(10))
        .tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(&certs.ca_pem))
                .domain_name("localhost"),
        )
        .unwrap()
}

/// `msg` for session `session` (the `x-joblet-mock-session` header).
pub fn in_session<T>(session: &str, msg: T) -> Request<T> {
    let mut req = Request::new(msg);
    req.metadata_mut()
        .insert(SESSION_HEADER, session.parse().expect("ascii"));
    req
}

/// Spawns `command` with `envs` added, stdin closed, stdout and stderr piped,
/// killed on drop; panics with `what` if it cannot start.
pub fn spawn_piped(
    command: &mut tokio::process::Command,
    envs: &[(&str, &str)],
    what: &str,
) -> tokio::process::Child {
    command
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect(what)
}

/// A JobService client with no message size limits of its own.
pub async fn jobs_at(url: &str) -> Jobs {
    JobServiceClient::new(channel(url).await)
        .max_encoding_message_size(usize::MAX)
        .max_decoding_message_size(usize::MAX)
}

/// A JobService client for `mock`.
pub async fn jobs(mock: &RunningMock) -> Jobs {
    jobs_at(&mock.url()).await
}

/// A NetworkService client for `mock`.
pub async fn networks(mock: &RunningMock) -> Networks {
    NetworkServiceClient::new(channel(&mock.url()).await)
}

/// A VolumeService client for `mock`.
pub async fn volumes(mock: &RunningMock) -> Volumes {
    VolumeServiceClient::new(channel(&mock.url()).await)
}

/// A RuntimeService client for `mock`.
pub async fn runtimes(mock: &RunningMock) -> Runtimes {
    RuntimeServiceClient::new(channel(&mock.url()).await)
}

/// A MonitoringService client for `mock`.
pub async fn monitoring(mock: &RunningMock) -> Monitoring {
    MonitoringServiceClient::new(channel(&mock.url()).await)
}

/// ListNetworks of `mock` that must succeed.
pub async fn list_networks(mock: &RunningMock) -> Vec<pb::Network> {
    networks(mock)
        .await
        .list_networks(pb::EmptyRequest {})
        .await
        .expect("ListNetworks")
        .into_inner()
        .networks
}

/// ListVolumes of `mock` that must succeed.
pub async fn list_volumes(mock: &RunningMock) -> Vec<pb::Volume> {
    volumes(mock)
        .await
        .list_volumes(pb::EmptyRequest {})
        .await
        .expect("ListVolumes")
        .into_inner()
        .volumes
}

/// `command args…`.
pub fn cmd(command: &str, args: &[&str]) -> pb::RunJobRequest {
    pb::RunJobRequest {
        command: command.into(),
        args: args.iter().map(|a| a.to_string()).collect(),
        ..Default::default()
    }
}

/// `sh -c script`.
pub fn sh(script: &str) -> pb::RunJobRequest {
    cmd("sh", &["-c", script])
}

/// A job scheduled `secs` from now, as RFC 3339 with the local offset.
pub fn scheduled(mut req: pb::RunJobRequest, secs: i64) -> pb::RunJobRequest {
    req.schedule = rfc3339_in(secs);
    req
}

/// RFC 3339 (whole seconds, local offset) `secs` from now.
pub fn rfc3339_in(secs: i64) -> String {
    (Local::now() + chrono::Duration::seconds(secs))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Environment map from pairs.
pub fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// RunJob that must succeed.
pub async fn run(jobs: &mut Jobs, req: pb::RunJobRequest) -> pb::RunJobResponse {
    let what = format!("RunJob {} {:?}", req.command, req.args);
    match jobs.run_job(req).await {
        Ok(r) => r.into_inner(),
        Err(e) => panic!("{what} failed: {e:?}"),
    }
}

/// A job scheduled an hour ahead.
pub fn later() -> pb::RunJobRequest {
    scheduled(cmd("echo", &["later"]), 3600)
}

/// A job that runs until stopped: `sleep 30`.
pub fn long() -> pb::RunJobRequest {
    cmd("sleep", &["30"])
}

/// RunJob that must succeed with the job RUNNING at once: its id.
pub async fn run_running(jobs: &mut Jobs, req: pb::RunJobRequest) -> String {
    let res = run(jobs, req).await;
    assert_eq!(res.status, "RUNNING");
    res.job_uuid
}

/// StopJob that must succeed.
pub async fn stop_ok(jobs: &mut Jobs, id: &str) {
    jobs.stop_job(pb::StopJobReq { uuid: id.into() })
        .await
        .expect("StopJob");
}

/// StopJob: the answer or the status.
pub async fn stop(jobs: &mut Jobs, id: &str) -> Result<pb::StopJobRes, Status> {
    jobs.stop_job(pb::StopJobReq { uuid: id.into() })
        .await
        .map(|r| r.into_inner())
}

/// CancelJob: the answer or the status.
pub async fn cancel(jobs: &mut Jobs, id: &str) -> Result<pb::CancelJobRes, Status> {
    jobs.cancel_job(pb::CancelJobReq { uuid: id.into() })
        .await
        .map(|r| r.into_inner())
}

/// DeleteJob: the answer or the status.
pub async fn delete(jobs: &mut Jobs, id: &str) -> Result<pb::DeleteJobRes, Status> {
    jobs.delete_job(pb::DeleteJobReq { uuid: id.into() })
        .await
        .map(|r| r.into_inner())
}

/// ListJobs that must succeed: the jobs.
pub async fn list_jobs(jobs: &mut Jobs) -> Vec<pb::Job> {
    jobs.list_jobs(pb::EmptyRequest {})
        .await
        .expect("ListJobs")
        .into_inner()
        .jobs
}

/// The IDs of the jobs ListJobs lists, in its order.
pub async fn listed_ids(jobs: &mut Jobs) -> Vec<String> {
    list_jobs(jobs).await.into_iter().map(|j| j.uuid).collect()
}

/// RunJob that must fail: the status.
pub async fn run_err(jobs: &mut Jobs, req: pb::RunJobRequest) -> Status {
    let what = format!("RunJob {} {:?}", req.command, req.args);
    match jobs.run_job(req).await {
        Ok(r) => panic!("{what} should fail, got {:?}", r.into_inner()),
        Err(e) => e,
    }
}

/// RunJob that must fail with INVALID_ARGUMENT, the message naming `field`.
pub async fn run_invalid(jobs: &mut Jobs, req: pb::RunJobRequest, field: &str) {
    assert_code(&run_err(jobs, req).await, Code::InvalidArgument, field);
}

/// Asserts a failed call has `code` and a message containing `needle`.
#[track_caller]
pub fn assert_code(status: &Status, code: Code, needle: &str) {
    assert_eq!(status.code(), code, "wrong code: {status:?}");
    assert!(
        status.message().contains(needle),
        "message {:?} should contain {needle:?}",
        status.message()
    );
}

/// The code of a result (`Ok` for success).
pub fn code_of<T>(r: &Result<T, Status>) -> Code {
    match r {
        Ok(_) => Code::Ok,
        Err(e) => e.code(),
    }
}

/// GetJobStatus that must succeed.
pub async fn status(jobs: &mut Jobs, id: &str) -> pb::GetJobStatusRes {
    match jobs
        .get_job_status(pb::GetJobStatusReq { uuid: id.into() })
        .await
    {
        Ok(r) => r.into_inner(),
        Err(e) => panic!("GetJobStatus {id} failed: {e:?}"),
    }
}

/// GetJobStatus: the status code alone.
pub async fn status_code(jobs: &mut Jobs, id: &str) -> Code {
    code_of(
        &jobs
            .get_job_status(pb::GetJobStatusReq { uuid: id.into() })
            .await,
    )
}

/// Polls until the job is in a final state; returns that status.
pub async fn wait_final(jobs: &Jobs, id: &str) -> pb::GetJobStatusRes {
    wait_until(jobs, id, "a final state", |s| {
        FINAL.contains(&s.status.as_str())
    })
    .await
}

/// Polls until the job has status `want`.
pub async fn wait_status(jobs: &Jobs, id: &str, want: &str) -> pb::GetJobStatusRes {
    wait_until(jobs, id, want, |s| s.status == want).await
}

/// Polls GetJobStatus until `done` holds.
pub async fn wait_until(
    jobs: &Jobs,
    id: &str,
    what: &str,
    done: impl Fn(&pb::GetJobStatusRes) -> bool,
) -> pb::GetJobStatusRes {
    let done = &done;
    eventually(&format!("job {id} reaches {what}"), || {
        let mut jobs = jobs.clone();
        let id = id.to_string();
        async move {
            let s = jobs
                .get_job_status(pb::GetJobStatusReq { uuid: id })
                .await
                .ok()?
                .into_inner();
            done(&s).then_some(s)
        }
    })
    .await
}

/// Opens a job's log stream (must succeed).
pub async fn open_logs(jobs: &mut Jobs, id: &str) -> tonic::Streaming<pb::DataChunk> {
    match jobs
        .get_job_logs(pb::GetJobLogsReq { uuid: id.into() })
        .await
    {
        Ok(r) => r.into_inner(),
        Err(e) => panic!("GetJobLogs {id} failed: {e:?}"),
    }
}

/// Reads a log stream to its end (bounded by [`patience`]); panics if the stream
/// fails or does not end in time.
pub async fn read_to_end(stream: tonic::Streaming<pb::DataChunk>) -> Vec<u8> {
    let mut stream = stream;
    let mut out = Vec::new();
    let all = async {
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(c) => out.extend_from_slice(&c.payload),
                Err(e) => panic!("log stream failed after {} bytes: {e:?}", out.len()),
            }
        }
    };
    if tokio::time::timeout(patience(), all).await.is_err() {
        panic!("log stream did not end within {:?}", patience());
    }
    out
}

/// The whole log of a job: replay, follow and end.
pub async fn logs(jobs: &mut Jobs, id: &str) -> Vec<u8> {
    read_to_end(open_logs(jobs, id).await).await
}

/// The whole log of a job as UTF-8.
pub async fn logs_text(jobs: &mut Jobs, id: &str) -> String {
    String::from_utf8(logs(jobs, id).await).expect("UTF-8 log")
}

/// Runs a job to its end: (final status, whole log).
pub async fn run_to_end(jobs: &mut Jobs, req: pb::RunJobRequest) -> (pb::GetJobStatusRes, String) {
    let id = run(jobs, req).await.job_uuid;
    let log = logs_text(jobs, &id).await;
    let st = wait_final(jobs, &id).await;
    (st, log)
}

/// `seq 1 n` as the job writes it.
pub fn seq_text(n: u64) -> String {
    let mut s = String::new();
    for i in 1..=n {
        s.push_str(&i.to_string());
        s.push('\n');
    }
    s
}

/// Asserts `a == b` for long texts without printing megabytes on failure.
#[track_caller]
pub fn assert_same_text(got: &[u8], want: &[u8], what: &str) {
    if got == want {
        return;
    }
    let first_diff = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    let around = |b: &[u8]| {
        let from = first_diff.saturating_sub(40);
        let to = (first_diff + 40).min(b.len());
        String::from_utf8_lossy(&b[from..to]).into_owned()
    };
    panic!(
        "{what}: got {} bytes, want {}; first difference at byte {first_diff}: got {:?}, want {:?}",
        got.len(),
        want.len(),
        around(got),
        around(want)
    );
}

/// Parses a job time string, asserting the ALL-3 format: RFC 3339, whole
/// seconds, the server's (local) offset for that instant.
#[track_caller]
pub fn job_time(s: &str) -> DateTime<FixedOffset> {
    let t =
        DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("{s:?} is not RFC 3339: {e}"));
    assert!(!s.contains('.'), "{s:?} has fractional seconds");
    assert_eq!(t.timestamp_subsec_nanos(), 0, "{s:?}");
    let local = Local
        .timestamp_opt(t.timestamp(), 0)
        .single()
        .expect("valid instant");
    assert_eq!(
        t.offset().local_minus_utc(),
        local.offset().local_minus_utc(),
        "{s:?} should carry the server's local offset"
    );
    assert_eq!(s, local.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    t
}

/// Whether `id` is a lower-case RFC 4122 version-4 UUID.
pub fn is_v4_uuid(id: &str) -> bool {
    id.len() == 36
        && id == id.to_ascii_lowercase()
        && uuid::Uuid::parse_str(id)
            .is_ok_and(|u| u.get_version_num() == 4 && u.get_variant() == uuid::Variant::RFC4122)
}

/// The log buffer of a job, white-box.
pub fn log_buffer(
    mock: &RunningMock,
    id: &str,
) -> std::sync::Arc<joblet_mock::test_support::LogBuffer> {
    let shared = mock.shared();
    let state = shared.state.lock();
    let seq = state.jobs.resolve(id).expect("job exists");
    std::sync::Arc::clone(&state.jobs.get(seq).expect("job exists").log)
}

/// Adds a network record directly (the job engine only needs it to exist).
pub fn add_network(mock: &RunningMock, name: &str, cidr: &str) {
    mock.shared()
        .state
        .lock()
        .networks
        .push(joblet_mock::test_support::NetworkRecord {
            name: name.into(),
            cidr: cidr.into(),
            bridge: format!("joblet-{name}"),
            builtin: false,
            listed: true,
        });
}

/// Adds a volume record directly.
pub fn add_volume(mock: &RunningMock, name: &str) {
    mock.shared()
        .state
        .lock()
        .volumes
        .push(joblet_mock::test_support::VolumeRecord {
            name: name.into(),
            size: "1GB".into(),
            kind: "filesystem".into(),
            path: format!("/opt/joblet/volumes/{name}"),
            created: 0,
        });
}

/// Runs `f` at most `patience()`; panics naming `what` otherwise.
pub async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(patience(), f).await {
        Ok(v) => v,
        Err(_) => panic!("{what} did not finish within {:?}", patience()),
    }
}

/// A whole-second local time at least `min_ms` and at most `min_ms + 1000` ms ahead.
pub fn whole_second_ahead(min_ms: i64) -> DateTime<Local> {
    let t = Local::now() + chrono::Duration::milliseconds(min_ms);
    Local
        .timestamp_opt(t.timestamp() + 1, 0)
        .single()
        .expect("valid instant")
}

// ------------------------------------------------------------ workflows

/// The sample workflows of `fixtures/workflows/`.
pub const ETL_YAML: &str = include_str!("../../../fixtures/workflows/etl-pipeline.yaml");
/// The diamond (list form with `depends_on`).
pub const DIAMOND_YAML: &str = include_str!("../../../fixtures/workflows/diamond.yaml");
/// One failing branch.
pub const FAILING_YAML: &str = include_str!("../../../fixtures/workflows/failing-branch.yaml");
/// The file the ETL pipeline uploads.
pub const ORDERS_CSV: &str = include_str!("../../../fixtures/workflows/data/orders.csv");

/// The workflowFiles of the ETL pipeline.
pub fn etl_files() -> Vec<pb::FileUpload> {
    vec![pb::FileUpload {
        path: "data/orders.csv".into(),
        content: ORDERS_CSV.as_bytes().to_vec(),
        mode: 0o644,
        is_directory: false,
    }]
}

/// A RunWorkflowRequest for `yaml` with `files`.
pub fn workflow_req(yaml: &str, files: Vec<pb::FileUpload>) -> pb::RunWorkflowRequest {
    pb::RunWorkflowRequest {
        workflow: "workflow.yaml".into(),
        yaml_content: yaml.into(),
        workflow_files: files,
        ..Default::default()
    }
}

/// RunWorkflow that must succeed: the workflow's UUID.
pub async fn run_workflow(jobs: &mut Jobs, yaml: &str, files: Vec<pb::FileUpload>) -> String {
    match jobs.run_workflow(workflow_req(yaml, files)).await {
        Ok(r) => {
            let r = r.into_inner();
            assert_eq!(r.status, "STARTED", "{r:?}");
            r.workflow_uuid
        }
        Err(e) => panic!("RunWorkflow failed: {e:?}\n{yaml}"),
    }
}

/// GetWorkflowStatus that must succeed.
pub async fn workflow_status(jobs: &mut Jobs, id: &str) -> pb::GetWorkflowStatusResponse {
    match jobs
        .get_workflow_status(pb::GetWorkflowStatusRequest {
            workflow_uuid: id.into(),
        })
        .await
    {
        Ok(r) => r.into_inner(),
        Err(e) => panic!("GetWorkflowStatus {id} failed: {e:?}"),
    }
}

/// ListWorkflows that must succeed.
pub async fn list_workflows(jobs: &mut Jobs, include_completed: bool) -> Vec<pb::WorkflowInfo> {
    jobs.list_workflows(pb::ListWorkflowsRequest { include_completed })
        .await
        .expect("ListWorkflows")
        .into_inner()
        .workflows
}

/// The workflow's own status string.
pub fn wf_state(s: &pb::GetWorkflowStatusResponse) -> &str {
    s.workflow.as_ref().map_or("", |w| w.status.as_str())
}

/// Polls GetWorkflowStatus until `done` holds.
pub async fn wait_workflow(
    jobs: &Jobs,
    id: &str,
    what: &str,
    done: impl Fn(&pb::GetWorkflowStatusResponse) -> bool,
) -> pb::GetWorkflowStatusResponse {
    let done = &done;
    eventually(&format!("workflow {id} reaches {what}"), || {
        let mut jobs = jobs.clone();
        let id = id.to_string();
        async move {
            let s = jobs
                .get_workflow_status(pb::GetWorkflowStatusRequest { workflow_uuid: id })
                .await
                .ok()?
                .into_inner();
            done(&s).then_some(s)
        }
    })
    .await
}

/// Polls until the workflow is COMPLETED, FAILED or CANCELED.
pub async fn wait_workflow_final(jobs: &Jobs, id: &str) -> pb::GetWorkflowStatusResponse {
    wait_workflow(jobs, id, "a final state", |s| {
        matches!(wf_state(s), "COMPLETED" | "FAILED" | "CANCELED")
    })
    .await
}

/// The job named `name` of a workflow view.
#[track_caller]
pub fn wf_job<'a>(jobs: &'a [pb::WorkflowJob], name: &str) -> &'a pb::WorkflowJob {
    jobs.iter()
        .find(|j| j.job_name == name)
        .unwrap_or_else(|| panic!("no job {name} in {jobs:?}"))
}
