//! The job engine: validation, lifecycle, stop/cancel/delete, logs (JOB-*).
//!
//! A job is a record in [`State`] plus, while it is
//! scheduled or running, one tokio task that waits for the schedule and then
//! runs the simulated command, writing to the job's [`LogBuffer`]. Stopping or
//! canceling aborts that task; a task that ends on its own finalises the record.
//! The record always reaches its final state before the log is closed, so a
//! reader whose stream ended sees the final status.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Activity;
use futures::FutureExt;
use joblet_testkit::pb;

use crate::behaviour::{Mutant, Quirk};
use crate::catalogue;
use crate::error::{Error, Result};
use crate::logs::{LogBuffer, LogReader, LogWriter};
use crate::session::Shared;
use crate::sim::{ExecContext, Plan, UploadedFile};
use crate::state::{Charge, Job, JobSpec, JobStatus, State};
use crate::time::rfc3339;
use crate::validate;

/// Largest environment value, in bytes (JOB-RUN-10).
pub const MAX_ENV_VALUE: usize = 32 * 1024;
/// Default working directory of a job.
pub const DEFAULT_WORK_DIR: &str = "/work";
/// Secret values as every response shows them (ALL-6).
pub const MASK: &str = "***";

fn opt_time(t: Option<i64>) -> String {
    t.map(rfc3339).unwrap_or_default()
}

/// A validated RunJob request.
struct Accepted {
    spec: JobSpec,
    files: BTreeMap<String, UploadedFile>,
    /// Bytes of the uploaded contents (held while the job is live).
    upload_bytes: u64,
    /// Due time (Unix seconds) and the wait, when in the future.
    schedule: Option<(i64, Option<Duration>)>,
}

/// Checks everything that does not need the state (JOB-RUN-2..5, 9, 10, JOB-GPU-2).
fn validate_request(shared: &Shared, mut req: pb::RunJobRequest) -> Result<Accepted> {
    let cfg = &shared.config;
    // JOB-RUN-2 mutant: an empty command is accepted.
    if req.command.trim().is_empty() && !shared.mutant(Mutant::EmptyCommandOk) {
        return Err(Error::invalid("command", "command is required"));
    }
    // QUIRK-12: the deployed server ignores these fields (no GPU checks either).
    if shared.quirk(Quirk::IgnoredRunFields) {
        req.name.clear();
        req.work_dir.clear();
        req.gpu_count = 0;
        req.gpu_memory_mb = 0;
    }
    for (field, v) in [
        ("maxCpu", req.max_cpu),
        ("maxMemory", req.max_memory),
        ("maxIobps", req.max_iobps),
    ] {
        // JOB-RUN-3 mutant: negative limits are accepted.
        if v < 0 && !shared.mutant(Mutant::NegativeLimitsOk) {
            return Err(Error::invalid(
                field,
                format!("must not be negative (got {v})"),
            ));
        }
    }
    // QUIRK-6: a maxCpu the deployed server cannot parse (over 10000) is dropped.
    if shared.quirk(Quirk::LenientValues) && req.max_cpu > 10_000 {
        req.max_cpu = 0;
    }
    // QUIRK-2: the deployed server allows 100 whatever the cores, else INTERNAL.
    if shared.quirk(Quirk::InternalErrors) && req.max_cpu > 100 {
        return Err(Error::quirk_internal(
            "job run failed",
            "job creation failed: invalid CPU limit: must be between 0-100",
        ));
    }
    let cpu_limit = 100i64 * i64::from(cfg.host_cores);
    if i64::from(req.max_cpu) > cpu_limit {
        return Err(Error::invalid(
            "maxCpu",
            format!(
                "{} exceeds {cpu_limit} (100 per core, {} cores)",
                req.max_cpu, cfg.host_cores
            ),
        ));
    }
    // JOB-RUN-4 mutant: cpuCores is not checked.
    if let Err(e) = validate::cpu_cores(&req.cpu_cores, cfg.host_cores)
        && !shared.mutant(Mutant::CpuCoresUnchecked)
    {
        // QUIRK-6: an invalid or out-of-range cpuCores is dropped silently.
        if !shared.quirk(Quirk::LenientValues) {
            return Err(e);
        }
        req.cpu_cores.clear();
    }
    if req.gpu_count < 0 {
        return Err(Error::invalid(
            "gpu_count",
            format!("must not be negative (got {})", req.gpu_count),
        ));
    }
    if req.gpu_memory_mb < 0 {
        return Err(Error::invalid(
            "gpu_memory_mb",
            format!("must not be negative (got {})", req.gpu_memory_mb),
        ));
    }
    // JOB-GPU-2 mutant: too many GPUs pass here and fail later as RESOURCE_EXHAUSTED.
    if req.gpu_count as u32 > cfg.gpus && !shared.mutant(Mutant::GpuOverNodeExhausted) {
        return Err(Error::invalid(
            "gpu_count",
            format!(
                "{} GPUs requested but the node has {}",
                req.gpu_count, cfg.gpus
            ),
        ));
    }
    if req.gpu_count > 0 && req.gpu_memory_mb as u32 > cfg.gpu_memory_mb {
        return Err(Error::invalid(
            "gpu_memory_mb",
            format!(
                "{} MB per GPU requested but the node's GPUs have {} MB",
                req.gpu_memory_mb, cfg.gpu_memory_mb
            ),
        ));
    }

    let mut env_keys = BTreeSet::new();
    for (field, map) in [
        ("environment", &req.environment),
        ("secret_environment", &req.secret_environment),
    ] {
        for (k, v) in map {
            validate::env_name(field, k)?;
            validate::env_value(field, k, v)?;
            // JOB-RUN-10 mutant: the same key in both maps is accepted.
            if !env_keys.insert(k.as_str()) && !shared.mutant(Mutant::EnvDuplicateOk) {
                return Err(Error::invalid(
                    "secret_environment",
                    format!("{k} is set in both environment and secret_environment"),
                ));
            }
        }
    }

    let schedule = if req.schedule.trim().is_empty() {
        None
    } else {
        let now = shared.clock.now_local();
        let spec = req.schedule.trim();
        let due = validate::schedule(spec, now)
            .and_then(|due| {
                // QUIRK-12: the deployed server takes RFC 3339 with an offset only.
                if shared.quirk(Quirk::IgnoredRunFields)
                    && chrono::DateTime::parse_from_rfc3339(spec).is_err()
                {
                    return Err(Error::invalid(
                        "schedule",
                        format!("{spec:?} is not RFC 3339 with an offset"),
                    ));
                }
                Ok(due)
            })
            // QUIRK-2: a bad schedule is INTERNAL on the deployed server.
            .map_err(|e| {
                e.internal_if(
                    shared.quirk(Quirk::InternalErrors),
                    "job run failed: invalid schedule format",
                )
            })?;
        let wait = (due.timestamp_millis() - now.timestamp_millis()).max(0);
        // JOB-RUN-5 mutant: a future schedule is ignored, the job runs at once.
        let wait = if shared.mutant(Mutant::ScheduleIgnored) {
            0
        } else {
            wait
        };
        let wait = (wait > 0).then(|| Duration::from_millis(wait as u64));
        Some((due.timestamp(), wait))
    };

    for (i, v) in req.volumes.iter().enumerate() {
        if v.trim().is_empty() {
            return Err(Error::invalid(
                format!("volumes[{i}]"),
                "volume name must not be empty",
            ));
        }
    }

    let mut files = BTreeMap::new();
    let mut upload_paths = Vec::with_capacity(req.uploads.len());
    let upload_bytes = req.uploads.iter().map(|u| u.content.len() as u64).sum();
    for (i, up) in req.uploads.into_iter().enumerate() {
        let path = validate::upload_path(&up.path)
            .map_err(|e| Error::invalid(format!("uploads[{i}].path"), e.to_string()))?;
        let mode = if up.mode == 0 {
            if up.is_directory { 0o755 } else { 0o644 }
        } else {
            up.mode & 0o7777
        };
        upload_paths.push(path.clone());
        // Parent directories of a file exist implicitly.
        let mut parent = path.as_str();
        while let Some((dir, _)) = parent.rsplit_once('/') {
            files.entry(dir.to_string()).or_insert(UploadedFile {
                content: Default::default(),
                mode: 0o755,
                is_dir: true,
            });
            parent = dir;
        }
        files.insert(
            path,
            UploadedFile {
                content: if up.is_directory {
                    Default::default()
                } else {
                    up.content.into()
                },
                mode,
                is_dir: up.is_directory,
            },
        );
    }

    let network = if req.network.trim().is_empty() {
        "bridge".to_string()
    } else {
        req.network.trim().to_string()
    };
    let work_dir = if req.work_dir.trim().is_empty() {
        DEFAULT_WORK_DIR.to_string()
    } else {
        req.work_dir.trim().to_string()
    };
    let sorted = |m: std::collections::HashMap<String, String>| {
        let mut v: Vec<_> = m.into_iter().collect();
        v.sort();
        v
    };
    Ok(Accepted {
        spec: JobSpec {
            name: req.name,
            command: req.command,
            args: req.args,
            max_cpu: req.max_cpu,
            cpu_cores: req.cpu_cores,
            max_memory: req.max_memory,
            max_iobps: req.max_iobps,
            network,
            volumes: req.volumes,
            runtime: req.runtime,
            work_dir,
            environment: sorted(req.environment),
            secret_environment: sorted(req.secret_environment),
            uploads: upload_paths,
            gpu_count: req.gpu_count,
            gpu_memory_mb: req.gpu_memory_mb,
            workflow_uuid: req.workflow_uuid,
            dependencies: Vec::new(),
        },
        // JOB-RUN-9 mutant: the uploads never reach the job's command.
        files: if shared.mutant(Mutant::UploadsLost) {
            BTreeMap::new()
        } else {
            files
        },
        upload_bytes,
        schedule,
    })
}

/// Checks what the job needs from the node's state (JOB-RUN-6..8).
fn check_resources(state: &State, spec: &JobSpec) -> Result<()> {
    if state.network(&spec.network).is_none() {
        return Err(Error::invalid(
            "network",
            format!(
                "network {:?} does not exist (built in: bridge, isolated, none)",
                spec.network
            ),
        ));
    }
    for v in &spec.volumes {
        if state.volume(v).is_none() {
            return Err(Error::invalid(
                "volumes",
                format!("volume {v:?} does not exist"),
            ));
        }
    }
    if !spec.runtime.trim().is_empty()
        && catalogue::resolve(&state.runtimes, &spec.runtime).is_none()
    {
        return Err(Error::invalid(
            "runtime",
            format!("runtime {:?} is not installed", spec.runtime),
        ));
    }
    Ok(())
}

/// JOB-RUN-6..8 mutants: whether the active mutant skips the check of `field`.
fn skipped_by_mutant(shared: &Shared, field: &str) -> bool {
    match field {
        "network" => shared.mutant(Mutant::UnknownNetworkOk),
        "volumes" => shared.mutant(Mutant::UnknownVolumeOk),
        "runtime" => shared.mutant(Mutant::UnknownRuntimeOk),
        _ => false,
    }
}

/// Takes `count` free GPUs for job `seq` (JOB-GPU-1/2).
fn allocate_gpus(state: &mut State, seq: u64, count: i32) -> Result<Vec<i32>> {
    if count <= 0 {
        return Ok(Vec::new());
    }
    let free: Vec<usize> = state
        .gpus
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_none())
        .map(|(i, _)| i)
        .take(count as usize)
        .collect();
    if free.len() < count as usize {
        return Err(Error::ResourceExhausted(format!(
            "gpu_count: {count} GPUs requested but only {} of {} are free",
            state.gpus.iter().filter(|s| s.is_none()).count(),
            state.gpus.len()
        )));
    }
    for &i in &free {
        state.gpus[i] = Some(seq);
    }
    Ok(free.into_iter().map(|i| i as i32).collect())
}

fn exec_context(
    shared: &Shared,
    job_id: &str,
    spec: &JobSpec,
    files: BTreeMap<String, UploadedFile>,
) -> ExecContext {
    ExecContext {
        env: crate::sim::job_environment(spec.environment.iter().chain(&spec.secret_environment)),
        files: Arc::new(files),
        work_dir: spec.work_dir.as_str().into(),
        job_id: job_id.into(),
        clock: shared.clock.clone(),
    }
}

/// Validates a RunJob request without running it (the AUTH-5 mutant's order).
pub fn check_run(shared: &Shared, req: pb::RunJobRequest) -> Result<()> {
    validate_request(shared, req).map(|_| ())
}

/// RunJob (JOB-RUN-*, JOB-GPU-*).
pub fn run(shared: &Arc<Shared>, req: pb::RunJobRequest) -> Result<pb::RunJobResponse> {
    run_with(shared, req, None)
}

/// What a workflow adds to a job it starts (see [`run_workflow_job`]).
struct WorkflowLink<'a> {
    dependencies: Vec<String>,
    register: &'a mut dyn FnMut(&mut State, u64, uuid::Uuid),
}

/// Starts a job of a workflow with RunJob's validation and lifecycle (`req`
/// carries the workflowUuid), recording `dependencies` on the job. `register`
/// runs under the state lock as soon as the record exists, before the job can
/// end. Returns the job's sequence number and UUID.
pub(crate) fn run_workflow_job(
    shared: &Arc<Shared>,
    req: pb::RunJobRequest,
    dependencies: Vec<String>,
    register: &mut dyn FnMut(&mut State, u64, uuid::Uuid),
) -> Result<(u64, uuid::Uuid)> {
    let mut started = None;
    let mut note = |state: &mut State, seq: u64, id: uuid::Uuid| {
        started = Some((seq, id));
        register(state, seq, id);
    };
    let link = WorkflowLink {
        dependencies,
        register: &mut note,
    };
    run_with(shared, req, Some(link))?;
    started.ok_or_else(|| Error::Internal("the workflow job was not recorded".into()))
}

fn run_with(
    shared: &Arc<Shared>,
    req: pb::RunJobRequest,
    mut link: Option<WorkflowLink<'_>>,
) -> Result<pb::RunJobResponse> {
    let Accepted {
        mut spec,
        files,
        upload_bytes,
        schedule,
    } = validate_request(shared, req).map_err(|e| {
        // ALL-4 mutant: a validation error answers INTERNAL.
        if shared.mutant(Mutant::ValidationInternal) && e.code() == tonic::Code::InvalidArgument {
            Error::Internal(e.to_string())
        } else {
            e
        }
    })?;
    if let Some(link) = &mut link {
        spec.dependencies = std::mem::take(&mut link.dependencies);
    }
    // The memory budget: evict finished work if this job would not fit, or
    // refuse it when only live jobs are left.
    let charge = Charge {
        record: crate::job_table::record_bytes(&spec),
        live: upload_bytes,
    };
    // Its task, should it need one, is weighed too (charged once spawned).
    let task_guess = TASK_BYTES.load(std::sync::atomic::Ordering::Relaxed) as u64;
    shared
        .account
        .budget()
        .admit(charge.record + charge.live + task_guess)
        .map_err(|e| match e {
            Error::ResourceExhausted(m) => Error::ResourceExhausted(format!("RunJob: {m}")),
            other => other,
        })?;
    let id = shared.new_id();
    let log = LogBuffer::accounted(
        shared.config.log_retention_bytes,
        crate::logs::FIRST_READER_GRACE,
        Arc::clone(&shared.account),
    );
    let submitted = shared.clock.now_secs();
    let wait = schedule.and_then(|(_, w)| w);
    // The scenario's lifecycle (stages, failure, timeout): the dice are thrown now.
    let plan = scenario_plan(shared, &spec);
    let status = if wait.is_some() {
        JobStatus::Scheduled
    } else if plan.as_ref().is_some_and(|p| p.initializing) {
        JobStatus::Initializing
    } else {
        JobStatus::Running
    };
    let id_text = id.to_string();
    let ctx = exec_context(shared, &id_text, &spec, files);
    let spec = Arc::new(spec);
    let seq = {
        let mut state = shared.state.lock();
        // QUIRK-7: the deployed server accepts unknown networks, volumes and
        // runtimes; the job fails as it starts (see `job_task`).
        if !shared.quirk(Quirk::LateResourceChecks) {
            match check_resources(&state, &spec) {
                // JOB-RUN-6..8 mutants: an unknown network, volume or runtime is accepted.
                Err(Error::Invalid { field, .. }) if skipped_by_mutant(shared, &field) => {}
                checked => checked?,
            }
        }
        if wait.is_none() && spec.gpu_count > 0 {
            // Fail fast before the record exists.
            let free = state.gpus.iter().filter(|s| s.is_none()).count();
            if free < spec.gpu_count as usize {
                return Err(Error::ResourceExhausted(format!(
                    "gpu_count: {} GPUs requested but only {free} of {} are free",
                    spec.gpu_count,
                    state.gpus.len()
                )));
            }
        }
        // --max-jobs: the oldest finished records make room.
        state
            .jobs
            .make_room()
            .map_err(|e| Error::ResourceExhausted(format!("RunJob: {e}")))?;
        let seq = state.jobs.insert(Job {
            id,
            spec: Arc::clone(&spec),
            status,
            start_time: submitted,
            end_time: None,
            scheduled_time: schedule.map(|(due, _)| due),
            exit_code: 0,
            gpu_indices: Vec::new(),
            log: Arc::clone(&log),
            task: None,
            charge,
        });
        if let Some(link) = &mut link {
            (link.register)(&mut state, seq, id);
        }
        if status == JobStatus::Running {
            start_locked(&mut state, seq).expect("GPUs were checked under the same lock");
        }
        seq
    };
    // The job starts right here: a job that ends at once (`true`, `echo hi`)
    // costs no task. One that must wait (sleep, schedule, back-pressure) goes
    // on in a task; tokio polls it again at once, registering real wake-ups.
    let mut job = Box::pin(job_task(
        Arc::clone(shared),
        seq,
        Arc::clone(&spec),
        log,
        ctx,
        wait,
        plan,
        shared.clock.activity(),
    ));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    if job.as_mut().poll(&mut cx).is_pending() {
        // What the task costs while the job lives (the future and tokio's
        // task header), counted in the memory budget until the job ends.
        let task_bytes = std::mem::size_of_val(&*job) + TASK_OVERHEAD;
        if TASK_BYTES.load(std::sync::atomic::Ordering::Relaxed) != task_bytes {
            TASK_BYTES.store(task_bytes, std::sync::atomic::Ordering::Relaxed);
        }
        let task_bytes = task_bytes as u64;
        // Spawned outside the lock, so the job never contends with this handler.
        let task = tokio::spawn(job);
        let mut state = shared.state.lock();
        match state.jobs.get_mut(seq) {
            Some(job) if !job.status.is_final() => {
                job.task = Some(task.abort_handle());
                state.jobs.charge_live(seq, task_bytes);
            }
            // Stopped, canceled or deleted before the handle was stored: make
            // sure the simulation does not go on (a no-op if it already ended).
            _ => task.abort(),
        }
    }
    // QUIRK-3: the deployed server answers only jobUuid and status.
    if shared.quirk(Quirk::MinimalRunResponse) {
        return Ok(pb::RunJobResponse {
            job_uuid: id_text,
            status: status.as_str().to_string(),
            ..Default::default()
        });
    }
    Ok(pb::RunJobResponse {
        job_uuid: id_text,
        status: status.as_str().to_string(),
        command: spec.command.clone(),
        // JOB-RUN-1 mutant: the args are not echoed.
        args: if shared.mutant(Mutant::RunNoEcho) {
            Vec::new()
        } else {
            spec.args.clone()
        },
        max_cpu: spec.max_cpu,
        cpu_cores: spec.cpu_cores.clone(),
        max_memory: spec.max_memory,
        max_iobps: spec.max_iobps,
        start_time: rfc3339(submitted),
        end_time: String::new(),
        exit_code: 0,
        scheduled_time: opt_time(schedule.map(|(due, _)| due)),
    })
}

/// What a spawned task costs besides its future (tokio's header and scheduler
/// links, the allocation).
const TASK_OVERHEAD: usize = 128;

/// What a job's task costs (the same for every job: its future's size),
/// known once a first one was spawned; RunJob weighs it before admitting a job.
static TASK_BYTES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Moves job `seq` to RUNNING: takes its GPUs and counts it on its network and volumes.
fn start_locked(state: &mut State, seq: u64) -> Result<()> {
    let gpu_count = state.jobs.get(seq).map(|j| j.spec.gpu_count).unwrap_or(0);
    let gpus = allocate_gpus(state, seq, gpu_count)?;
    let job = state.jobs.get_mut(seq).expect("job exists");
    job.gpu_indices = gpus;
    job.status = JobStatus::Running;
    let spec = Arc::clone(&job.spec);
    state.mark_running(&spec);
    Ok(())
}

/// Sets a final status, frees what the job held and closes its log. A job that
/// is already final keeps its first outcome (for example a scheduled job that
/// was canceled while its start was failing).
fn finish_locked(state: &mut State, seq: u64, status: JobStatus, exit_code: i32, now: i64) {
    let Some(job) = state.jobs.get_mut(seq) else {
        return;
    };
    if job.status.is_final() {
        return;
    }
    let was_running = job.status == JobStatus::Running;
    job.status = status;
    job.exit_code = exit_code;
    job.end_time = Some(now);
    job.task = None;
    let log = Arc::clone(&job.log);
    let spec = Arc::clone(&job.spec);
    if was_running {
        state.mark_not_running(&spec);
        state.release_gpus(seq);
    }
    if !spec.workflow_uuid.is_empty() {
        crate::workflow::engine::job_ended_locked(state, seq);
    }
    let has_log = log.close();
    // Now evictable, oldest first (see crate::budget).
    state.jobs.finished(seq, has_log);
}

/// The scenario lifecycle of a job with its dice thrown (none with `--exec`).
fn scenario_plan(shared: &Shared, spec: &JobSpec) -> Option<Plan> {
    if shared.config.exec {
        return None;
    }
    let lifecycle = shared.sim().lifecycle(&spec.command, &spec.args)?;
    Some(lifecycle.decide(|| shared.random_f64()))
}

/// Moves a due scheduled job on: INITIALIZING when its scenario has stages,
/// else RUNNING.
fn begin_locked(state: &mut State, seq: u64, plan: Option<&Plan>) -> Result<()> {
    if plan.is_some_and(|p| p.initializing) {
        if let Some(job) = state.jobs.get_mut(seq) {
            job.status = JobStatus::Initializing;
        }
        return Ok(());
    }
    start_locked(state, seq)
}

/// Plays a scenario's INITIALIZING stages, then moves the job to RUNNING.
/// False when the job ended meanwhile (a stage failed, it could not start, or
/// it was stopped).
async fn initialize(shared: &Shared, seq: u64, plan: &Plan, out: &mut LogWriter) -> bool {
    shared.clock.job_sleep(plan.setup).await;
    if let Some(f) = &plan.setup_failure {
        if let Some(m) = &f.message {
            out.line(m).await;
        }
        let now = shared.clock.now_secs();
        let mut state = shared.state.lock();
        if state
            .jobs
            .get(seq)
            .is_some_and(|j| j.status == JobStatus::Initializing)
        {
            finish_locked(&mut state, seq, JobStatus::Failed, f.exit, now);
        }
        return false;
    }
    let problem = {
        let mut state = shared.state.lock();
        match state.jobs.get(seq) {
            Some(job) if job.status == JobStatus::Initializing => {
                start_locked(&mut state, seq).err()
            }
            _ => return false,
        }
    };
    if let Some(e) = problem {
        out.line(&format!("joblet: job could not start: {e}")).await;
        let now = shared.clock.now_secs();
        finish_locked(&mut shared.state.lock(), seq, JobStatus::Failed, -1, now);
        return false;
    }
    true
}

/// Plays `job` to its end, or until `limit` passes on the clock (`None`: cut short).
async fn within(
    clock: &crate::clock::Clock,
    limit: Option<Duration>,
    job: impl Future<Output = i32>,
) -> Option<i32> {
    let Some(limit) = limit else {
        return Some(job.await);
    };
    tokio::select! {
        code = job => Some(code),
        () = clock.sleep(limit) => None,
    }
}

/// The exit code of a job given how its steps ended (`None`: cut short by its
/// scenario's `fail.after` or `timeout`); writes the scenario's failure message.
async fn ended(plan: Option<&Plan>, played: Option<i32>, out: &mut LogWriter) -> i32 {
    let Some(plan) = plan else {
        return played.unwrap_or(-1);
    };
    let (code, message) = plan.outcome(played);
    if let Some(m) = message {
        out.line(&m).await;
    }
    code
}

/// The life of one job: wait for the schedule, run the command, record the end.
#[allow(clippy::too_many_arguments)] // the parts of one job, moved into its task
async fn job_task(
    shared: Arc<Shared>,
    seq: u64,
    spec: Arc<JobSpec>,
    log: Arc<LogBuffer>,
    ctx: ExecContext,
    wait: Option<Duration>,
    plan: Option<Plan>,
    activity: Activity,
) {
    // Held until the job ends: while it runs, the virtual clock does not skip
    // (its own sleeps set it aside).
    let _activity = activity;
    // A workflow moves on as the job's task ends, however it ends, while the
    // activity above still holds the clock (dropped before it).
    let _workflow = (!spec.workflow_uuid.is_empty())
        .then(|| crate::workflow::engine::AdvanceOnDrop::new(&shared));
    let mut out = log.writer();
    if let Some(wait) = wait {
        shared.clock.job_sleep(wait).await;
        // JOB-LIFE-2 mutant: the job never starts; it stays SCHEDULED (its log
        // stays open until it is stopped or the server shuts down).
        if shared.mutant(Mutant::ScheduledNeverStarts) {
            return;
        }
        // JOB-LIFE-2: due now. The node may have changed since submission.
        let problem = {
            let mut state = shared.state.lock();
            match state.jobs.get(seq) {
                Some(job) if job.status == JobStatus::Scheduled => {
                    let spec = Arc::clone(&job.spec);
                    check_resources(&state, &spec)
                        .and_then(|()| begin_locked(&mut state, seq, plan.as_ref()))
                        .err()
                }
                _ => return,
            }
        };
        if let Some(e) = problem {
            // JOB-LIFE-1: a job that cannot start ends FAILED with exit code -1.
            out.line(&format!("joblet: job could not start: {e}")).await;
            let now = shared.clock.now_secs();
            finish_locked(&mut shared.state.lock(), seq, JobStatus::Failed, -1, now);
            return;
        }
    }
    // QUIRK-7: a job accepted with an unknown network, volume or runtime fails
    // as it starts (a scheduled one failed above, at its due time).
    if wait.is_none() && shared.quirk(Quirk::LateResourceChecks) {
        let problem = check_resources(&shared.state.lock(), &spec).err();
        if let Some(e) = problem {
            out.line(&format!("joblet: job could not start: {e}")).await;
            let now = shared.clock.now_secs();
            finish_locked(&mut shared.state.lock(), seq, JobStatus::Failed, -1, now);
            return;
        }
    }
    // Scenario stages: INITIALIZING for a while, maybe failing there.
    if let Some(plan) = plan.as_ref().filter(|p| p.initializing)
        && !initialize(&shared, seq, plan, &mut out).await
    {
        return;
    }
    let (command, args) = (&spec.command, &spec.args);
    // A bug in the simulator must not leave the job RUNNING forever (holding its
    // GPUs, its readers waiting): it ends FAILED like a job that could not run.
    let simulated = if shared.config.exec {
        // --exec: the command runs for real (see crate::exec).
        // Boxed: the exec future is large and rare; it would otherwise grow
        // every job's future.
        Ok(Some(
            Box::pin(crate::exec::run(command, args, &ctx, &mut out)).await,
        ))
    } else {
        let sim = shared.sim();
        let limit = plan.as_ref().and_then(Plan::cutoff);
        let played = within(&shared.clock, limit, sim.run(command, args, &ctx, &mut out));
        std::panic::AssertUnwindSafe(played).catch_unwind().await
    };
    let code = match simulated {
        Ok(played) => ended(plan.as_ref(), played, &mut out).await,
        Err(_) => {
            tracing::error!(job = %ctx.job_id, %command, "the simulator panicked; the job ends FAILED (-1)");
            out.line("joblet-mock: internal error while simulating this command")
                .await;
            -1
        }
    };
    let mut state = shared.state.lock();
    if state
        .jobs
        .get(seq)
        .is_some_and(|j| j.status == JobStatus::Running)
    {
        // JOB-LIFE-1 mutant: a non-zero exit ends COMPLETED too.
        let status = if code == 0 || shared.mutant(Mutant::NonzeroCompletes) {
            JobStatus::Completed
        } else {
            JobStatus::Failed
        };
        let now = shared.clock.now_secs();
        finish_locked(&mut state, seq, status, code, now);
    }
}

fn masked(pairs: &[(String, String)]) -> std::collections::HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, _)| (k.clone(), MASK.to_string()))
        .collect()
}

fn plain(pairs: &[(String, String)]) -> std::collections::HashMap<String, String> {
    pairs.iter().cloned().collect()
}

/// GetJobStatus (JOB-STATUS-1/2).
pub fn status(shared: &Shared, id: &str) -> Result<pb::GetJobStatusRes> {
    let state = shared.state.lock();
    let seq = match state.jobs.resolve(id) {
        // JOB-STATUS-2 mutant: an unknown ID answers OK with an empty record.
        Err(Error::NotFound(_)) if shared.mutant(Mutant::StatusUnknownOk) => {
            return Ok(pb::GetJobStatusRes {
                uuid: id.to_string(),
                ..Default::default()
            });
        }
        resolved => resolved?,
    };
    let job = state.jobs.get(seq).expect("resolved");
    let s = &job.spec;
    Ok(pb::GetJobStatusRes {
        uuid: job.id.to_string(),
        name: s.name.clone(),
        command: s.command.clone(),
        args: s.args.clone(),
        max_cpu: s.max_cpu,
        cpu_cores: s.cpu_cores.clone(),
        max_memory: s.max_memory,
        max_iobps: s.max_iobps,
        // ALL-1 mutant: the status in lower case.
        status: if shared.mutant(Mutant::LowercaseStatus) {
            job.status.as_str().to_ascii_lowercase()
        } else {
            job.status.as_str().to_string()
        },
        // ALL-3 mutant: startTime with milliseconds.
        start_time: if shared.mutant(Mutant::TimeMillis) {
            crate::time::rfc3339_local_ms(job.start_time)
        } else {
            rfc3339(job.start_time)
        },
        end_time: opt_time(job.end_time),
        exit_code: job.exit_code,
        scheduled_time: opt_time(job.scheduled_time),
        environment: plain(&s.environment),
        secret_environment: masked(&s.secret_environment),
        network: s.network.clone(),
        volumes: s.volumes.clone(),
        runtime: s.runtime.clone(),
        // JOB-STATUS-1 mutant: workDir is left out.
        work_dir: if shared.mutant(Mutant::StatusNoWorkDir) {
            String::new()
        } else {
            s.work_dir.clone()
        },
        uploads: s.uploads.clone(),
        dependencies: s.dependencies.clone(),
        workflow_uuid: s.workflow_uuid.clone(),
        // JOB-GPU-1 mutant: the GPUs held are not reported.
        gpu_indices: if shared.mutant(Mutant::GpuIndicesHidden) {
            Vec::new()
        } else {
            job.gpu_indices.clone()
        },
        gpu_count: s.gpu_count,
        gpu_memory_mb: s.gpu_memory_mb,
        node_id: shared.config.node_id.clone(),
    })
}

/// ListJobs (JOB-LIST-1). An answer larger than the gRPC message limit is
/// `RESOURCE_EXHAUSTED` naming its size, the limit and what to do, rather
/// than a message the transport cannot encode.
pub fn list(shared: &Shared) -> Result<pb::Jobs> {
    // QUIRK-4: the deployed server's ListJobs shows secret values.
    // ALL-6 mutant: the same, in the documented profile.
    let show_secrets =
        shared.quirk(Quirk::UnmaskedListJobs) || shared.mutant(Mutant::ListLeaksSecrets);
    let limit = shared.config.message_limit() as u64;
    let state = shared.state.lock();
    let job_message = |job: &Job| {
        let s = &job.spec;
        pb::Job {
            uuid: job.id.to_string(),
            name: s.name.clone(),
            command: s.command.clone(),
            args: s.args.clone(),
            max_cpu: s.max_cpu,
            cpu_cores: s.cpu_cores.clone(),
            max_memory: s.max_memory,
            max_iobps: s.max_iobps,
            status: job.status.as_str().to_string(),
            start_time: rfc3339(job.start_time),
            end_time: opt_time(job.end_time),
            exit_code: job.exit_code,
            scheduled_time: opt_time(job.scheduled_time),
            runtime: s.runtime.clone(),
            environment: plain(&s.environment),
            secret_environment: if show_secrets {
                plain(&s.secret_environment)
            } else {
                masked(&s.secret_environment)
            },
            gpu_indices: job.gpu_indices.clone(),
            gpu_count: s.gpu_count,
            gpu_memory_mb: s.gpu_memory_mb,
            node_id: shared.config.node_id.clone(),
        }
    };
    let listed = state
        .jobs
        .iter()
        // JOB-LIST-1 mutant: finished jobs are left out.
        .filter(|(_, job)| !(shared.mutant(Mutant::ListDropsFinished) && job.status.is_final()))
        // WF-EXEC-1 mutant: jobs started by workflows are left out.
        .filter(|(_, job)| {
            !shared.mutant(Mutant::WfJobsHiddenFromList) || job.spec.workflow_uuid.is_empty()
        })
        .map(|(_, job)| job);
    let mut jobs = Vec::new();
    let mut size = 0u64;
    let mut count = 0usize;
    for job in listed {
        let message = job_message(job);
        size += prost::encoding::message::encoded_len(1, &message) as u64;
        count += 1;
        if size <= limit {
            jobs.push(message);
        } else if !jobs.is_empty() {
            // Too large: keep counting the size, without keeping the answer.
            jobs = Vec::new();
        }
    }
    if size > limit {
        return Err(Error::ResourceExhausted(format!(
            "ListJobs: the answer would be {size} bytes ({count} jobs), over the gRPC message \
             limit of {limit} bytes; delete finished jobs (DeleteJob, DeleteAllJobs), or start \
             joblet-mock with a lower --max-jobs (now {}) so that it keeps fewer finished \
             job records",
            shared.config.max_jobs
        )));
    }
    // ALL-5 mutant: newest first.
    if shared.mutant(Mutant::ListsReversed) {
        jobs.reverse();
    }
    Ok(pb::Jobs { jobs })
}

fn abort_task(job: &mut Job) {
    if let Some(task) = job.task.take() {
        task.abort();
    }
}

/// The job a StopJob, CancelJob or DeleteJob names. QUIRK-5: the deployed
/// server looks those up exactly (no prefixes, no case folding).
fn resolve_target(shared: &Shared, state: &State, id: &str) -> Result<u64> {
    if !shared.quirk(Quirk::LimitedPrefixes) {
        return state.jobs.resolve(id);
    }
    uuid::Uuid::parse_str(id)
        .ok()
        .filter(|u| u.to_string() == id)
        .and_then(|_| state.jobs.resolve(id).ok())
        .ok_or_else(|| {
            let shown: String = id.chars().take(64).collect();
            Error::NotFound(format!("job not found: {shown}"))
        })
}

/// StopJob (JOB-STOP-1..3).
pub fn stop(shared: &Shared, id: &str) -> Result<pb::StopJobRes> {
    // QUIRK-2: the deployed server answers INTERNAL "job stop failed: …".
    let failed = |e: Error| e.internal_if(shared.quirk(Quirk::InternalErrors), "job stop failed");
    let mut state = shared.state.lock();
    let seq = resolve_target(shared, &state, id).map_err(failed)?;
    let job = state.jobs.get_mut(seq).expect("resolved");
    let (status, code) = match job.status {
        // JOB-STOP-1 mutant: a stopped job reports exit code 0.
        JobStatus::Running | JobStatus::Initializing if shared.mutant(Mutant::StopExitZero) => {
            (JobStatus::Stopped, 0)
        }
        JobStatus::Running | JobStatus::Initializing => (JobStatus::Stopped, -1),
        // JOB-STOP-2 mutant: a scheduled job ends STOPPED.
        JobStatus::Scheduled if shared.mutant(Mutant::StopScheduledStopped) => {
            (JobStatus::Stopped, 0)
        }
        JobStatus::Scheduled => (JobStatus::Canceled, 0),
        // JOB-STOP-3 mutant: a finished job answers OK, as it is.
        other if shared.mutant(Mutant::StopFinishedOk) => (other, job.exit_code),
        other => {
            return Err(failed(Error::FailedPrecondition(format!(
                "job is not running: {} (status: {})",
                job.id,
                other.as_str()
            ))));
        }
    };
    abort_task(job);
    finish_locked(&mut state, seq, status, code, shared.clock.now_secs());
    // QUIRK-10: the deployed server's answer carries only the uuid it was sent.
    if shared.quirk(Quirk::CanceledLogsHang) {
        return Ok(pb::StopJobRes {
            uuid: id.to_string(),
            ..Default::default()
        });
    }
    let job = state.jobs.get(seq).expect("still there");
    Ok(pb::StopJobRes {
        uuid: job.id.to_string(),
        status: job.status.as_str().to_string(),
        end_time: opt_time(job.end_time),
        exit_code: job.exit_code,
    })
}

/// CancelJob (JOB-CANCEL-1/2).
pub fn cancel(shared: &Shared, id: &str) -> Result<pb::CancelJobRes> {
    // QUIRK-1: the deployed server does not implement CancelJob.
    if shared.quirk(Quirk::CancelUnimplemented) {
        return Err(Error::Unimplemented(
            "method CancelJob not implemented".into(),
        ));
    }
    let mut state = shared.state.lock();
    let seq = resolve_target(shared, &state, id)?;
    let job = state.jobs.get_mut(seq).expect("resolved");
    // JOB-CANCEL-2 mutant: a running job is canceled too.
    let running_ok = shared.mutant(Mutant::CancelRunningOk) && job.status == JobStatus::Running;
    if job.status != JobStatus::Scheduled && !running_ok {
        return Err(Error::FailedPrecondition(format!(
            "job is not scheduled: {} (status: {}); use StopJob for running jobs",
            job.id,
            job.status.as_str()
        )));
    }
    abort_task(job);
    finish_locked(
        &mut state,
        seq,
        JobStatus::Canceled,
        0,
        shared.clock.now_secs(),
    );
    // JOB-CANCEL-1 mutant: the canceled job is not kept in history.
    if shared.mutant(Mutant::CancelForgets) {
        let job = state.jobs.remove(seq).expect("still there");
        return Ok(pb::CancelJobRes {
            uuid: job.id.to_string(),
            status: job.status.as_str().to_string(),
        });
    }
    let job = state.jobs.get(seq).expect("still there");
    Ok(pb::CancelJobRes {
        uuid: job.id.to_string(),
        status: job.status.as_str().to_string(),
    })
}

/// DeleteJob (JOB-DEL-1/2).
pub fn delete(shared: &Shared, id: &str) -> Result<pb::DeleteJobRes> {
    // QUIRK-2: the deployed server answers INTERNAL "job deletion failed: …".
    let failed =
        |e: Error| e.internal_if(shared.quirk(Quirk::InternalErrors), "job deletion failed");
    let mut state = shared.state.lock();
    let seq = resolve_target(shared, &state, id).map_err(failed)?;
    // JOB-DEL-2 mutant: a running or scheduled job is stopped, then deleted.
    if shared.mutant(Mutant::DeleteRunningOk)
        && let Some(job) = state.jobs.get_mut(seq).filter(|j| !j.status.is_final())
    {
        abort_task(job);
        let now = shared.clock.now_secs();
        finish_locked(&mut state, seq, JobStatus::Stopped, -1, now);
    }
    let job = state.jobs.get(seq).expect("resolved");
    if !job.status.is_final() {
        return Err(failed(Error::FailedPrecondition(format!(
            "cannot delete job {} (status: {}) - stop the job first",
            job.id,
            job.status.as_str()
        ))));
    }
    // JOB-DEL-1 mutant: success is answered but the job stays.
    if shared.mutant(Mutant::DeleteNoop) {
        return Ok(pb::DeleteJobRes {
            uuid: job.id.to_string(),
            success: true,
            message: "Job deleted successfully".to_string(),
        });
    }
    let job = state.jobs.remove(seq).expect("resolved");
    Ok(pb::DeleteJobRes {
        uuid: job.id.to_string(),
        success: true,
        message: "Job deleted successfully".to_string(),
    })
}

/// DeleteAllJobs (JOB-DELALL-1).
pub fn delete_all(shared: &Shared) -> pb::DeleteAllJobsRes {
    let mut state = shared.state.lock();
    let mut finished = Vec::new();
    let mut skipped = 0;
    for (seq, job) in state.jobs.iter() {
        if job.status.is_final() {
            finished.push(seq);
        } else {
            skipped += 1;
        }
    }
    for &seq in &finished {
        state.jobs.remove(seq);
    }
    let deleted = finished.len() as i32;
    pb::DeleteAllJobsRes {
        success: true,
        message: format!(
            "Successfully deleted {deleted} jobs, skipped {skipped} running/scheduled jobs"
        ),
        deleted_count: deleted,
        // JOB-DELALL-1 mutant: the skipped jobs are not counted.
        skipped_count: if shared.mutant(Mutant::DeleteAllSkippedZero) {
            0
        } else {
            skipped
        },
    }
}

/// GetJobLogs (JOB-LOGS-*): a reader that replays, follows and ends with the job.
pub fn logs(shared: &Shared, id: &str) -> Result<LogReader> {
    let state = shared.state.lock();
    let seq = match state.jobs.resolve(id) {
        // JOB-LOGS-3 mutant: an unknown job has an empty log.
        Err(Error::NotFound(_)) if shared.mutant(Mutant::LogsUnknownEmpty) => {
            let log = LogBuffer::new(1);
            log.close();
            return Ok(log.reader());
        }
        resolved => resolved?,
    };
    let job = state.jobs.get(seq).expect("resolved");
    let log = &job.log;
    if log.is_evicted() {
        let budget = shared.account.budget();
        return Err(Error::FailedPrecondition(format!(
            "job {} finished and its log history was evicted to keep joblet-mock within its \
             memory budget (--memory-budget {} bytes, {}); read a job's logs before the \
             budget fills, or start the mock with a larger --memory-budget",
            job.id,
            budget.limit(),
            crate::budget::format_size(budget.limit())
        )));
    }
    // JOB-LOGS-2 mutant: a second concurrent reader is refused.
    if shared.mutant(Mutant::LogsOneReader) && log.reader_count() > 0 {
        return Err(Error::FailedPrecondition(format!(
            "job {id} already has a log reader"
        )));
    }
    Ok(log.reader())
}

/// What a GetJobLogs stream sends after the job's log has ended: nothing, or
/// (QUIRK-10) a wait that never ends if the job ended CANCELED: the deployed
/// server never closes those streams (until the client leaves or the server
/// shuts down).
pub fn log_tail<T: Send + 'static>(
    shared: &Arc<Shared>,
    id: &str,
) -> impl futures::Stream<Item = T> + Send + 'static + use<T> {
    let seq = shared
        .quirk(Quirk::CanceledLogsHang)
        .then(|| shared.state.lock().jobs.resolve(id).ok())
        .flatten();
    let shared = Arc::clone(shared);
    let wait = futures::stream::once(async move {
        let canceled = seq.is_some_and(|seq| {
            let state = shared.state.lock();
            state
                .jobs
                .get(seq)
                .is_some_and(|j| j.status == JobStatus::Canceled)
        });
        if canceled {
            std::future::pending::<()>().await;
        }
    });
    futures::StreamExt::filter_map(wait, |()| std::future::ready(None))
}
