//! What a case works with: clients of the five Joblet services on the target,
//! the run's names, and the tracker that removes what the case created.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use joblet_testkit::Target;
use joblet_testkit::contract::Api;
use joblet_testkit::pb;
use joblet_testkit::pb::job_service_client::JobServiceClient;
use joblet_testkit::pb::monitoring_service_client::MonitoringServiceClient;
use joblet_testkit::pb::network_service_client::NetworkServiceClient;
use joblet_testkit::pb::runtime_service_client::RuntimeServiceClient;
use joblet_testkit::pb::volume_service_client::VolumeServiceClient;
use parking_lot::Mutex;
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::check::{self, CaseError, CaseResult, fail, show_status};
use crate::cleanup::{Resource, Tracker};
pub use crate::conn::Rec;
use crate::conn::{Lane, Transport};
use crate::need::Need;
use crate::status::FINAL;

/// Largest message a client sends or accepts (above the 128 MiB the contract
/// allows, so the server's limit is what is tested).
pub const MAX_MESSAGE: usize = 256 << 20;

/// Options of a run that cases consult.
#[derive(Debug, Clone)]
pub struct Options {
    /// DeleteAllJobs may be called.
    pub allow_delete_all: bool,
    /// Runtimes may be installed from GitHub.
    pub allow_remote_installs: bool,
    /// Runtimes may be built (BuildRuntime installs them).
    pub allow_builds: bool,
    /// Per-case deadline.
    pub case_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            allow_delete_all: false,
            allow_remote_installs: false,
            allow_builds: false,
            case_timeout: Duration::from_secs(30),
        }
    }
}

/// The endpoints of a run: the main (admin) target and optional role identities
/// on the same node.
#[derive(Debug, Clone)]
pub struct Targets {
    /// The admin identity (or plaintext).
    pub main: Target,
    /// A viewer identity.
    pub viewer: Option<Target>,
    /// A CA-signed certificate without a role.
    pub no_role: Option<Target>,
    /// A certificate whose OU is `reader` (the four-role servers' read-only
    /// role; a v2 node counts it as viewer, AUTH-6).
    pub reader: Option<Target>,
}

impl Targets {
    /// Only a main target.
    pub fn new(main: Target) -> Self {
        Self {
            main,
            viewer: None,
            no_role: None,
            reader: None,
        }
    }

    /// Whether any identity speaks TLS.
    pub fn any_tls(&self) -> bool {
        self.main.is_tls()
            || self.viewer.as_ref().is_some_and(Target::is_tls)
            || self.no_role.as_ref().is_some_and(Target::is_tls)
            || self.reader.as_ref().is_some_and(Target::is_tls)
    }
}

/// What every case of one run shares.
#[derive(Debug)]
pub struct Env {
    /// Where the run goes.
    pub targets: Targets,
    /// The main target's channel.
    pub channel: Channel,
    /// The main target's channel as cases use it: renewed when its
    /// connection goes away.
    pub lane: Arc<Lane>,
    /// The run ID (6 lower-case letters and digits).
    pub run_id: String,
    /// Options.
    pub options: Options,
    /// The contract the run certifies (detected, or given by `--contract`):
    /// the client's, whose messages and methods the cases use.
    pub contract: Api,
    /// The contract the node speaks: `contract`, but in a compatibility
    /// report (a client of a contract the node does not serve) the detected
    /// one. Checks of what the node itself serves go by it.
    pub node: Api,
    counter: AtomicU32,
    cidr_octet: u8,
    host_cores: tokio::sync::OnceCell<u32>,
}

impl Env {
    /// A run's environment over an already connected main channel.
    pub(crate) fn new(
        targets: Targets,
        channel: Channel,
        run_id: String,
        options: Options,
        (contract, node): (Api, Api),
    ) -> Self {
        let cidr_octet = 64
            + (run_id
                .bytes()
                .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32))
                % 180) as u8;
        let lane = Lane::new(channel.clone(), Some(targets.main.clone()));
        Self {
            targets,
            channel,
            lane,
            run_id,
            options,
            contract,
            node,
            counter: AtomicU32::new(0),
            cidr_octet,
            host_cores: tokio::sync::OnceCell::new(),
        }
    }

    /// The prefix of every name the run gives: `cf-<run id>-`.
    pub fn prefix(&self) -> String {
        format!("cf-{}-", self.run_id)
    }

    fn next(&self) -> u32 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }
}

/// A fresh run ID: 6 characters of `[a-z0-9]`.
pub(crate) fn new_run_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..6)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Job service client of a case.
pub type Jobs = JobServiceClient<Rec>;
/// Network service client of a case.
pub type Networks = NetworkServiceClient<Rec>;
/// Volume service client of a case.
pub type Volumes = VolumeServiceClient<Rec>;
/// Monitoring service client of a case.
pub type Monitoring = MonitoringServiceClient<Rec>;
/// Runtime service client of a case.
pub type Runtimes = RuntimeServiceClient<Rec>;

/// The context of one case run: clients, names, the tracker.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The run.
    pub env: Arc<Env>,
    /// The case's name.
    pub case: &'static str,
    /// What the case created.
    pub tracker: Arc<Tracker>,
    /// The transport failures of the case's calls on the main target.
    pub transport: Arc<Transport>,
    rpcs: Arc<Mutex<BTreeSet<String>>>,
    chan: Rec,
}

macro_rules! client {
    ($ty:ident, $ch:expr) => {
        $ty::new($ch)
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
    };
}

impl Ctx {
    /// A context for `case` in `env`.
    pub(crate) fn new(env: Arc<Env>, case: &'static str) -> Self {
        let rpcs = Arc::new(Mutex::new(BTreeSet::new()));
        let transport = Arc::new(Transport::default());
        let chan = Rec::new(
            Arc::clone(&env.lane),
            Some(Arc::clone(&rpcs)),
            Arc::clone(&transport),
        );
        Self {
            env,
            case,
            tracker: Arc::new(Tracker::default()),
            transport,
            rpcs,
            chan,
        }
    }

    /// The RPC paths this case called (`/joblet.JobService/RunJob`).
    pub fn rpcs(&self) -> Vec<String> {
        self.rpcs.lock().iter().cloned().collect()
    }

    fn rec(&self, channel: Channel) -> Rec {
        // A role's channel: its failures are the case's to judge (a
        // handshake refused is an answer there), so they are not recorded.
        Rec::new(
            Lane::new(channel, None),
            Some(Arc::clone(&self.rpcs)),
            Arc::new(Transport::default()),
        )
    }

    /// The recorded channel to the main target (for the v2 clients).
    pub fn channel(&self) -> Rec {
        self.chan.clone()
    }

    /// JobService on the main target.
    pub fn jobs(&self) -> Jobs {
        client!(JobServiceClient, self.chan.clone())
    }

    /// NetworkService on the main target.
    pub fn networks(&self) -> Networks {
        client!(NetworkServiceClient, self.chan.clone())
    }

    /// VolumeService on the main target.
    pub fn volumes(&self) -> Volumes {
        client!(VolumeServiceClient, self.chan.clone())
    }

    /// MonitoringService on the main target.
    pub fn monitoring(&self) -> Monitoring {
        client!(MonitoringServiceClient, self.chan.clone())
    }

    /// RuntimeService on the main target.
    pub fn runtimes(&self) -> Runtimes {
        client!(RuntimeServiceClient, self.chan.clone())
    }

    /// A recorded channel to `target` (a role's identity).
    pub async fn connect(&self, target: &Target, who: &str) -> CaseResult<Rec> {
        let channel = target.connect().await.map_err(|e| {
            CaseError::Error(format!("cannot connect as {who} to {}: {e}", target.addr))
        })?;
        Ok(self.rec(channel))
    }

    /// JobService as the viewer (the case must need [`Need::Viewer`]).
    pub async fn viewer(&self) -> CaseResult<Rec> {
        let t = self
            .env
            .targets
            .viewer
            .clone()
            .ok_or_else(|| check::skip(Need::Viewer.skip_reason()))?;
        self.connect(&t, "viewer").await
    }

    /// A channel presenting the certificate without a role.
    pub async fn no_role(&self) -> CaseResult<Rec> {
        let t = self
            .env
            .targets
            .no_role
            .clone()
            .ok_or_else(|| check::skip(Need::NoRole.skip_reason()))?;
        self.connect(&t, "no-role client").await
    }

    /// A channel presenting the certificate whose OU is `reader` (the case
    /// must need [`Need::Reader`]).
    pub async fn reader(&self) -> CaseResult<Rec> {
        let t = self
            .env
            .targets
            .reader
            .clone()
            .ok_or_else(|| check::skip(Need::Reader.skip_reason()))?;
        self.connect(&t, "reader").await
    }

    /// A fresh name carrying the run prefix: `cf-<run>-<what>-<n>`.
    pub fn name(&self, what: &str) -> String {
        format!("{}{what}-{}", self.env.prefix(), self.env.next())
    }

    /// A /24 network for this run that no other case of the run uses.
    pub fn cidr(&self) -> String {
        format!("10.{}.{}.0/24", self.env.cidr_octet, self.env.next() % 250)
    }

    /// A marker for commands (`cf-<run>-<case>`), so a case finds its jobs.
    pub fn marker(&self) -> String {
        format!("{}{}", self.env.prefix(), self.case.replace('.', "-"))
    }

    // ---- jobs ------------------------------------------------------------

    /// RunJob; a job that was created is tracked for removal.
    pub async fn run_raw(&self, req: pb::RunJobRequest) -> Result<pb::RunJobResponse, Status> {
        let res = self
            .jobs()
            .run_job(req)
            .await
            .map(tonic::Response::into_inner);
        if let Ok(r) = &res
            && !r.job_uuid.is_empty()
        {
            self.tracker.add(Resource::Job(r.job_uuid.clone()));
        }
        res
    }

    /// RunJob that must succeed.
    pub async fn run(&self, req: pb::RunJobRequest) -> CaseResult<pb::RunJobResponse> {
        let call = describe_run(&req);
        let r = check::ok(&call, self.run_raw(req).await)?;
        if r.job_uuid.is_empty() {
            return Err(fail(call, "a jobUuid", "an empty jobUuid"));
        }
        Ok(r)
    }

    /// Runs `command args…` and returns the job ID.
    pub async fn start(&self, command: &str, args: &[&str]) -> CaseResult<String> {
        Ok(self.run(job(command, args)).await?.job_uuid)
    }

    /// A job that runs until stopped (`sleep 600`), RUNNING when this returns.
    pub async fn start_long(&self) -> CaseResult<String> {
        let id = self.start("sleep", &["600"]).await?;
        self.wait_status(&id, &["RUNNING"]).await?;
        Ok(id)
    }

    /// A job scheduled an hour ahead (SCHEDULED when this returns).
    pub async fn start_scheduled(&self) -> CaseResult<String> {
        let mut req = job("echo", &["scheduled"]);
        req.schedule = rfc3339_in(Duration::from_secs(3600));
        let r = self.run(req).await?;
        if r.status != "SCHEDULED" {
            return Err(fail(
                "RunJob{schedule: now + 1h}",
                "status \"SCHEDULED\"",
                format!("status {:?}", r.status),
            ));
        }
        Ok(r.job_uuid)
    }

    /// GetJobStatus that must succeed.
    pub async fn status(&self, id: &str) -> CaseResult<pb::GetJobStatusRes> {
        let call = format!("GetJobStatus{{uuid: {id}}}");
        check::ok(
            &call,
            self.jobs()
                .get_job_status(pb::GetJobStatusReq { uuid: id.into() })
                .await
                .map(tonic::Response::into_inner),
        )
    }

    /// Polls GetJobStatus until the status is one of `want` (up to 20 s).
    pub async fn wait_status(&self, id: &str, want: &[&str]) -> CaseResult<pb::GetJobStatusRes> {
        self.wait_status_for(id, want, Duration::from_secs(20))
            .await
    }

    /// Polls GetJobStatus until the status is one of `want`, for at most `limit`.
    pub async fn wait_status_for(
        &self,
        id: &str,
        want: &[&str],
        limit: Duration,
    ) -> CaseResult<pb::GetJobStatusRes> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut delay = Duration::from_millis(5);
        loop {
            let s = self.status(id).await?;
            if want.contains(&s.status.as_str()) {
                return Ok(s);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(fail(
                    format!("GetJobStatus{{uuid: {id}}} (polled for {limit:?})"),
                    format!("status {}", want.join(" or ")),
                    format!("status {:?} (exit code {})", s.status, s.exit_code),
                ));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(100));
        }
    }

    /// Waits for a final status.
    pub async fn wait_final(&self, id: &str) -> CaseResult<pb::GetJobStatusRes> {
        self.wait_status(id, FINAL).await
    }

    /// Reads a job's whole log stream; it must end with OK within `limit`.
    pub async fn logs_within(&self, id: &str, limit: Duration) -> CaseResult<Vec<u8>> {
        let call = format!("GetJobLogs{{uuid: {id}}}");
        let mut stream = check::ok(
            &call,
            self.jobs()
                .get_job_logs(pb::GetJobLogsReq { uuid: id.into() })
                .await,
        )?
        .into_inner();
        let mut out = Vec::new();
        let read = async {
            while let Some(item) = stream.next().await {
                match item {
                    Ok(chunk) => out.extend_from_slice(&chunk.payload),
                    Err(s) if check::is_transport(&s) => {
                        return Err(CaseError::Error(format!(
                            "{call}: stream broken: {}",
                            show_status(&s)
                        )));
                    }
                    Err(s) => {
                        return Err(fail(&call, "the stream to end with OK", show_status(&s)));
                    }
                }
            }
            Ok(())
        };
        match tokio::time::timeout(limit, read).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(fail(
                    &call,
                    format!("the stream to end once the job is final (within {limit:?})"),
                    format!("still open after {limit:?}, {} bytes received", out.len()),
                ));
            }
        }
        Ok(out)
    }

    /// Reads a job's whole log (20 s at most).
    pub async fn logs(&self, id: &str) -> CaseResult<Vec<u8>> {
        self.logs_within(id, Duration::from_secs(20)).await
    }

    /// StopJob that must succeed.
    pub async fn stop(&self, id: &str) -> CaseResult<pb::StopJobRes> {
        check::ok(
            &format!("StopJob{{uuid: {id}}}"),
            self.jobs()
                .stop_job(pb::StopJobReq { uuid: id.into() })
                .await
                .map(tonic::Response::into_inner),
        )
    }

    /// DeleteJob of `id` (or a prefix) that must answer success true; the job is
    /// then no longer tracked.
    pub async fn delete(&self, id: &str, call: &str) -> CaseResult {
        let r = check::ok(
            call,
            self.jobs()
                .delete_job(pb::DeleteJobReq { uuid: id.into() })
                .await,
        )?
        .into_inner();
        if !r.success {
            return Err(fail(
                call,
                "success true",
                format!("success false ({:?})", r.message),
            ));
        }
        self.tracker.forget(&Resource::Job(id.to_owned()));
        Ok(())
    }

    /// GetJobStatus of `id` must answer NOT_FOUND (`call` says why).
    pub async fn expect_no_job(&self, id: &str, call: &str) -> CaseResult {
        let r = self
            .jobs()
            .get_job_status(pb::GetJobStatusReq { uuid: id.into() })
            .await;
        check::code(call, r, Code::NotFound).map(|_| ())
    }

    /// The node's CPU count (GetSystemStatus host.cpuCount), fetched once per run.
    pub async fn host_cores(&self) -> CaseResult<u32> {
        let monitoring = self.monitoring();
        self.env
            .host_cores
            .get_or_try_init(|| async move {
                let mut m = monitoring;
                let s = check::ok("GetSystemStatus", m.get_system_status(pb::EmptyRequest {}).await)?.into_inner();
                // v2 has no host.cpuCount (MON-STATUS-2): cpu.cores then.
                let cores = match s.host.map(|h| h.cpu_count).unwrap_or_default() {
                    0 => s.cpu.map(|c| c.cores).unwrap_or_default(),
                    n => n,
                };
                if cores <= 0 {
                    return Err(CaseError::Error(format!(
                        "GetSystemStatus reports host.cpuCount and cpu.cores {cores}: cannot tell the node's cores"
                    )));
                }
                Ok(cores as u32)
            })
            .await
            .copied()
    }

    // ---- networks, volumes, runtimes --------------------------------------

    /// CreateNetwork; a network that was created is tracked (also when the
    /// call was meant to be refused).
    pub async fn create_network_raw(
        &self,
        name: &str,
        cidr: &str,
    ) -> Result<pb::CreateNetworkRes, Status> {
        let res = self
            .networks()
            .create_network(pb::CreateNetworkReq {
                name: name.into(),
                cidr: cidr.into(),
            })
            .await
            .map(tonic::Response::into_inner);
        if res.is_ok() {
            self.tracker.add(Resource::Network(name.to_owned()));
        }
        res
    }

    /// Creates a network of this run on a fresh /24: (name, cidr). A CIDR that
    /// overlaps another client's network is skipped for the next one.
    pub async fn create_network(&self) -> CaseResult<(String, String)> {
        let name = self.name("net");
        let mut last = None;
        for _ in 0..8 {
            let cidr = self.cidr();
            match self.create_network_raw(&name, &cidr).await {
                Ok(_) => return Ok((name, cidr)),
                Err(s)
                    if s.code() == Code::InvalidArgument
                        && s.message().to_ascii_lowercase().contains("overlap") =>
                {
                    last = Some(s);
                }
                Err(s) => {
                    return Err(check::unexpected(
                        &format!("CreateNetwork{{name: {name}, cidr: {cidr}}}"),
                        &s,
                    ));
                }
            }
        }
        Err(CaseError::Error(format!(
            "no free /24 under 10.{}.0.0/16 for a network of this run: {}",
            self.env.cidr_octet,
            last.map(|s| show_status(&s)).unwrap_or_default()
        )))
    }

    /// CreateVolume; a volume that was created is tracked.
    pub async fn create_volume_raw(
        &self,
        name: &str,
        size: &str,
        kind: &str,
    ) -> Result<pb::CreateVolumeRes, Status> {
        let res = self
            .volumes()
            .create_volume(pb::CreateVolumeReq {
                name: name.into(),
                size: size.into(),
                r#type: kind.into(),
            })
            .await
            .map(tonic::Response::into_inner);
        if res.is_ok() {
            self.tracker.add(Resource::Volume(name.to_owned()));
        }
        res
    }

    /// Creates a 1MB filesystem volume of this run; returns its name.
    pub async fn create_volume(&self) -> CaseResult<String> {
        let name = self.name("vol");
        check::ok(
            &format!("CreateVolume{{name: {name}, size: 1MB}}"),
            self.create_volume_raw(&name, "1MB", "filesystem").await,
        )?;
        Ok(name)
    }

    /// The spec of a runtime of this run: `python:3.11-cf<run><n>`.
    pub fn runtime_spec(&self) -> String {
        format!("python:3.11-cf{}{}", self.env.run_id, self.env.next())
    }

    /// The runtime name a spec installs as (`python:3.11-x` → `python-3.11-x`).
    pub fn runtime_name(spec: &str) -> String {
        spec.replacen(':', "-", 1)
    }

    /// The small runtime this suite installs from local files.
    pub fn runtime_files(&self, name: &str) -> Vec<pb::RuntimeFile> {
        vec![
            pb::RuntimeFile {
                path: "runtime.yml".into(),
                content: format!(
                    "name: {name}\nlanguage: python\nversion: \"3.11\"\ndescription: joblet-conformance run {} (removed at the end)\n",
                    self.env.run_id
                )
                .into_bytes(),
                executable: false,
            },
            pb::RuntimeFile {
                path: "setup.sh".into(),
                content: b"#!/bin/sh\necho joblet-conformance runtime\n".to_vec(),
                executable: true,
            },
        ]
    }

    /// InstallRuntimeFromLocal of `spec`; the runtime is tracked when the call
    /// succeeds.
    pub async fn install_local_raw(
        &self,
        spec: &str,
        force: bool,
    ) -> Result<pb::InstallRuntimeResponse, Status> {
        let res = self
            .runtimes()
            .install_runtime_from_local(pb::InstallRuntimeFromLocalRequest {
                runtime_spec: spec.into(),
                files: self.runtime_files(&Self::runtime_name(spec)),
                force_reinstall: force,
            })
            .await
            .map(tonic::Response::into_inner);
        if res.is_ok() {
            self.tracker
                .add(Resource::Runtime(Self::runtime_name(spec)));
        }
        res
    }

    /// Installs a runtime of this run from local files and returns its name.
    pub async fn install_runtime(&self) -> CaseResult<(String, String)> {
        let spec = self.runtime_spec();
        let call = format!("InstallRuntimeFromLocal{{runtimeSpec: {spec}}}");
        let r = self.install_local_raw(&spec, false).await;
        let r = match r {
            Err(s) if s.code() == Code::Unimplemented => {
                return Err(check::skip(format!(
                    "the node does not implement InstallRuntimeFromLocal ({}), so this case has no runtime of its own",
                    show_status(&s)
                )));
            }
            r => check::ok(&call, r)?,
        };
        if r.status != "completed" {
            return Err(fail(
                call,
                "status \"completed\"",
                format!("status {:?} ({})", r.status, r.message),
            ));
        }
        Ok((spec.clone(), Self::runtime_name(&spec)))
    }
}

/// A RunJob request for `command args…`.
pub fn job(command: &str, args: &[&str]) -> pb::RunJobRequest {
    pb::RunJobRequest {
        command: command.into(),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        ..Default::default()
    }
}

/// `sh -c SCRIPT`.
pub fn sh(script: &str) -> pb::RunJobRequest {
    job("sh", &["-c", script])
}

/// How a report names a RunJob call.
pub fn describe_run(req: &pb::RunJobRequest) -> String {
    let mut parts = vec![format!("command: {:?}", req.command)];
    if !req.args.is_empty() {
        let args: Vec<String> = req
            .args
            .iter()
            .map(|a| {
                if a.len() > 60 {
                    format!(
                        "{:?}…",
                        &a[..a.char_indices().nth(60).map(|(i, _)| i).unwrap_or(a.len())]
                    )
                } else {
                    format!("{a:?}")
                }
            })
            .collect();
        parts.push(format!("args: [{}]", args.join(", ")));
    }
    let mut field = |name: &str, v: String| parts.push(format!("{name}: {v}"));
    if req.max_cpu != 0 {
        field("maxCpu", req.max_cpu.to_string());
    }
    if req.max_memory != 0 {
        field("maxMemory", req.max_memory.to_string());
    }
    if req.max_iobps != 0 {
        field("maxIobps", req.max_iobps.to_string());
    }
    if !req.cpu_cores.is_empty() {
        field("cpuCores", format!("{:?}", req.cpu_cores));
    }
    if !req.schedule.is_empty() {
        field("schedule", format!("{:?}", req.schedule));
    }
    if !req.network.is_empty() {
        field("network", format!("{:?}", req.network));
    }
    if !req.volumes.is_empty() {
        field("volumes", format!("{:?}", req.volumes));
    }
    if !req.runtime.is_empty() {
        field("runtime", format!("{:?}", req.runtime));
    }
    if !req.uploads.is_empty() {
        let paths: Vec<&str> = req.uploads.iter().map(|u| u.path.as_str()).collect();
        field("uploads", format!("{paths:?}"));
    }
    if !req.environment.is_empty() {
        let keys: Vec<&String> = req.environment.keys().collect();
        field("environment", format!("{keys:?}"));
    }
    if !req.secret_environment.is_empty() {
        let keys: Vec<&String> = req.secret_environment.keys().collect();
        field("secret_environment", format!("{keys:?}"));
    }
    if req.gpu_count != 0 {
        field("gpu_count", req.gpu_count.to_string());
    }
    format!("RunJob{{{}}}", parts.join(", "))
}

/// Now + `ahead`, RFC 3339 with this machine's offset and whole seconds.
pub fn rfc3339_in(ahead: Duration) -> String {
    let t = chrono::Local::now() + chrono::Duration::from_std(ahead).unwrap_or_default();
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Now − `ago`, RFC 3339.
pub fn rfc3339_ago(ago: Duration) -> String {
    let t = chrono::Local::now() - chrono::Duration::from_std(ago).unwrap_or_default();
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
