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

use chrono::{Local, SecondsFormat, TimeZone};
use futures::FutureExt;
use joblet_testkit::pb;
use uuid::Uuid;

use crate::catalogue;
use crate::error::{Error, Result};
use crate::logs::{LogBuffer, LogReader};
use crate::sim::{ExecContext, UploadedFile};
use crate::state::{Job, JobSpec, JobStatus, Shared, State};
use crate::validate;

/// Largest environment value, in bytes (JOB-RUN-10).
pub const MAX_ENV_VALUE: usize = 32 * 1024;
/// Default working directory of a job.
pub const DEFAULT_WORK_DIR: &str = "/work";
/// Secret values as every response shows them (ALL-6).
pub const MASK: &str = "***";

/// Formats Unix seconds as RFC 3339 with whole seconds in the server's offset (ALL-3).
pub fn rfc3339(secs: i64) -> String {
    Local
        .timestamp_opt(secs, 0)
        .single()
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn opt_time(t: Option<i64>) -> String {
    t.map(rfc3339).unwrap_or_default()
}

/// Unix seconds now (no time-zone work: times are stored as Unix seconds and
/// only formatted in the server's offset when answered).
fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A validated RunJob request.
struct Accepted {
    spec: JobSpec,
    files: BTreeMap<String, UploadedFile>,
    /// Due time (Unix seconds) and the wait, when in the future.
    schedule: Option<(i64, Option<Duration>)>,
}

/// Checks everything that does not need the state (JOB-RUN-2..5, 9, 10, JOB-GPU-2).
fn validate_request(shared: &Shared, req: pb::RunJobRequest) -> Result<Accepted> {
    let cfg = &shared.config;
    if req.command.trim().is_empty() {
        return Err(Error::invalid("command", "command is required"));
    }
    for (field, v) in [
        ("maxCpu", req.max_cpu),
        ("maxMemory", req.max_memory),
        ("maxIobps", req.max_iobps),
    ] {
        if v < 0 {
            return Err(Error::invalid(
                field,
                format!("must not be negative (got {v})"),
            ));
        }
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
    validate::cpu_cores(&req.cpu_cores, cfg.host_cores)?;
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
    if req.gpu_count as u32 > cfg.gpus {
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
            if !env_keys.insert(k.as_str()) {
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
        let now = Local::now();
        let due = validate::schedule(req.schedule.trim(), now)?;
        let wait = (due.timestamp_millis() - now.timestamp_millis()).max(0);
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
        files,
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
    job_id: &str,
    spec: &JobSpec,
    files: BTreeMap<String, UploadedFile>,
) -> ExecContext {
    let mut env = BTreeMap::new();
    env.insert(
        "PATH".to_string(),
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
    );
    for (k, v) in spec.environment.iter().chain(&spec.secret_environment) {
        env.insert(k.clone(), v.clone());
    }
    ExecContext {
        env,
        files: Arc::new(files),
        work_dir: spec.work_dir.clone(),
        job_id: job_id.to_string(),
    }
}

/// RunJob (JOB-RUN-*, JOB-GPU-*).
pub fn run(shared: &Arc<Shared>, req: pb::RunJobRequest) -> Result<pb::RunJobResponse> {
    let Accepted {
        spec,
        files,
        schedule,
    } = validate_request(shared, req)?;
    let id = Uuid::new_v4();
    let log = LogBuffer::new(shared.config.log_retention_bytes);
    let submitted = now_secs();
    let wait = schedule.and_then(|(_, w)| w);
    let status = if wait.is_some() {
        JobStatus::Scheduled
    } else {
        JobStatus::Running
    };
    let id_text = id.to_string();
    let ctx = exec_context(&id_text, &spec, files);
    let spec = Arc::new(spec);
    let seq = {
        let mut state = shared.state.lock();
        check_resources(&state, &spec)?;
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
        });
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
    ));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    if job.as_mut().poll(&mut cx).is_pending() {
        // Spawned outside the lock, so the job never contends with this handler.
        let task = tokio::spawn(job);
        let mut state = shared.state.lock();
        match state.jobs.get_mut(seq) {
            Some(job) if !job.status.is_final() => job.task = Some(task.abort_handle()),
            // Stopped, canceled or deleted before the handle was stored: make
            // sure the simulation does not go on (a no-op if it already ended).
            _ => task.abort(),
        }
    }
    Ok(pb::RunJobResponse {
        job_uuid: id_text,
        status: status.as_str().to_string(),
        command: spec.command.clone(),
        args: spec.args.clone(),
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
fn finish_locked(state: &mut State, seq: u64, status: JobStatus, exit_code: i32) {
    let Some(job) = state.jobs.get_mut(seq) else {
        return;
    };
    if job.status.is_final() {
        return;
    }
    let was_running = job.status == JobStatus::Running;
    job.status = status;
    job.exit_code = exit_code;
    job.end_time = Some(now_secs());
    job.task = None;
    let log = Arc::clone(&job.log);
    let spec = Arc::clone(&job.spec);
    if was_running {
        state.mark_not_running(&spec);
        state.release_gpus(seq);
    }
    log.close();
}

/// The life of one job: wait for the schedule, run the command, record the end.
async fn job_task(
    shared: Arc<Shared>,
    seq: u64,
    spec: Arc<JobSpec>,
    log: Arc<LogBuffer>,
    ctx: ExecContext,
    wait: Option<Duration>,
) {
    let mut out = log.writer();
    if let Some(wait) = wait {
        tokio::time::sleep(wait).await;
        // JOB-LIFE-2: due now. The node may have changed since submission.
        let problem = {
            let mut state = shared.state.lock();
            match state.jobs.get(seq) {
                Some(job) if job.status == JobStatus::Scheduled => {
                    let spec = Arc::clone(&job.spec);
                    check_resources(&state, &spec)
                        .and_then(|()| start_locked(&mut state, seq))
                        .err()
                }
                _ => return,
            }
        };
        if let Some(e) = problem {
            // JOB-LIFE-1: a job that cannot start ends FAILED with exit code -1.
            out.line(&format!("joblet: job could not start: {e}")).await;
            finish_locked(&mut shared.state.lock(), seq, JobStatus::Failed, -1);
            return;
        }
    }
    let (command, args) = (&spec.command, &spec.args);
    // A bug in the simulator must not leave the job RUNNING forever (holding its
    // GPUs, its readers waiting): it ends FAILED like a job that could not run.
    let simulated = std::panic::AssertUnwindSafe(shared.sim.run(command, args, &ctx, &mut out))
        .catch_unwind()
        .await;
    let code = match simulated {
        Ok(code) => code,
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
        let status = if code == 0 {
            JobStatus::Completed
        } else {
            JobStatus::Failed
        };
        finish_locked(&mut state, seq, status, code);
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
    let seq = state.jobs.resolve(id)?;
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
        status: job.status.as_str().to_string(),
        start_time: rfc3339(job.start_time),
        end_time: opt_time(job.end_time),
        exit_code: job.exit_code,
        scheduled_time: opt_time(job.scheduled_time),
        environment: plain(&s.environment),
        secret_environment: masked(&s.secret_environment),
        network: s.network.clone(),
        volumes: s.volumes.clone(),
        runtime: s.runtime.clone(),
        work_dir: s.work_dir.clone(),
        uploads: s.uploads.clone(),
        dependencies: s.dependencies.clone(),
        workflow_uuid: s.workflow_uuid.clone(),
        gpu_indices: job.gpu_indices.clone(),
        gpu_count: s.gpu_count,
        gpu_memory_mb: s.gpu_memory_mb,
        node_id: shared.config.node_id.clone(),
    })
}

/// ListJobs (JOB-LIST-1).
pub fn list(shared: &Shared) -> pb::Jobs {
    let state = shared.state.lock();
    let jobs = state
        .jobs
        .iter()
        .map(|(_, job)| {
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
                secret_environment: masked(&s.secret_environment),
                gpu_indices: job.gpu_indices.clone(),
                gpu_count: s.gpu_count,
                gpu_memory_mb: s.gpu_memory_mb,
                node_id: shared.config.node_id.clone(),
            }
        })
        .collect();
    pb::Jobs { jobs }
}

fn abort_task(job: &mut Job) {
    if let Some(task) = job.task.take() {
        task.abort();
    }
}

/// StopJob (JOB-STOP-1..3).
pub fn stop(shared: &Shared, id: &str) -> Result<pb::StopJobRes> {
    let mut state = shared.state.lock();
    let seq = state.jobs.resolve(id)?;
    let job = state.jobs.get_mut(seq).expect("resolved");
    let (status, code) = match job.status {
        JobStatus::Running | JobStatus::Initializing => (JobStatus::Stopped, -1),
        JobStatus::Scheduled => (JobStatus::Canceled, 0),
        other => {
            return Err(Error::FailedPrecondition(format!(
                "job is not running: {} (status: {})",
                job.id,
                other.as_str()
            )));
        }
    };
    abort_task(job);
    finish_locked(&mut state, seq, status, code);
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
    let mut state = shared.state.lock();
    let seq = state.jobs.resolve(id)?;
    let job = state.jobs.get_mut(seq).expect("resolved");
    if job.status != JobStatus::Scheduled {
        return Err(Error::FailedPrecondition(format!(
            "job is not scheduled: {} (status: {}); use StopJob for running jobs",
            job.id,
            job.status.as_str()
        )));
    }
    abort_task(job);
    finish_locked(&mut state, seq, JobStatus::Canceled, 0);
    let job = state.jobs.get(seq).expect("still there");
    Ok(pb::CancelJobRes {
        uuid: job.id.to_string(),
        status: job.status.as_str().to_string(),
    })
}

/// DeleteJob (JOB-DEL-1/2).
pub fn delete(shared: &Shared, id: &str) -> Result<pb::DeleteJobRes> {
    let mut state = shared.state.lock();
    let seq = state.jobs.resolve(id)?;
    let job = state.jobs.get(seq).expect("resolved");
    if !job.status.is_final() {
        return Err(Error::FailedPrecondition(format!(
            "cannot delete job {} (status: {}) - stop the job first",
            job.id,
            job.status.as_str()
        )));
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
        skipped_count: skipped,
    }
}

/// GetJobLogs (JOB-LOGS-*): a reader that replays, follows and ends with the job.
pub fn logs(shared: &Shared, id: &str) -> Result<LogReader> {
    let state = shared.state.lock();
    let seq = state.jobs.resolve(id)?;
    Ok(state.jobs.get(seq).expect("resolved").log.reader())
}
