//! A job's life: RunJob admits it in the memory budget, records it and plays
//! its task (schedule, scenario stages, the simulated command) to the end,
//! which finalises the record before its log closes.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use joblet_testkit::pb::union as pb;

use super::request::{
    Accepted, check_resources, exec_context, skipped_by_mutant, validate_request,
};
use super::telemetry::TelemetryObserver;
use crate::behaviour::{Mutant, Quirk};
use crate::clock::{Activity, Clock};
use crate::error::{Error, Result};
use crate::job_telemetry::Telemetry;
use crate::logs::{LogBuffer, LogWriter};
use crate::session::Shared;
use crate::sim::{ExecContext, Plan};
use crate::state::{Charge, Job, JobSpec, JobStatus, State};
use crate::time::{rfc3339, rfc3339_opt};

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
    /// Held by the job's task until it ends, however it ends (dropped before
    /// the task's clock activity): the workflow moves on as it drops.
    on_end: Option<Box<dyn Send>>,
}

/// Starts a job of a workflow with RunJob's validation and lifecycle (`req`
/// carries the workflowUuid), recording `dependencies` on the job. `register`
/// runs under the state lock as soon as the record exists, before the job can
/// end. `on_end` is held by the job's task until the task ends, however it
/// ends, and dropped before the task's clock activity (the workflow engine
/// moves on as it drops). Returns the job's sequence number and UUID.
pub(crate) fn run_workflow_job(
    shared: &Arc<Shared>,
    req: pb::RunJobRequest,
    dependencies: Vec<String>,
    register: &mut dyn FnMut(&mut State, u64, uuid::Uuid),
    on_end: Box<dyn Send>,
) -> Result<(u64, uuid::Uuid)> {
    let mut started = None;
    let mut note = |state: &mut State, seq: u64, id: uuid::Uuid| {
        started = Some((seq, id));
        register(state, seq, id);
    };
    let link = WorkflowLink {
        dependencies,
        register: &mut note,
        on_end: Some(on_end),
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
        timeout,
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
    let charge = admit(shared, &spec, upload_bytes)?;
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
    let telemetry = Telemetry::new();
    let job = Job {
        id,
        spec: Arc::clone(&spec),
        status,
        start_time: submitted,
        end_time: None,
        scheduled_time: schedule.map(|(due, _)| due),
        exit_code: 0,
        gpu_indices: Vec::new(),
        log: Arc::clone(&log),
        telemetry: Arc::clone(&telemetry),
        task: None,
        charge,
    };
    let seq = record(shared, job, wait.is_none(), link.as_mut())?;
    // The job starts right here: a job that ends at once (`true`, `echo hi`)
    // costs no task. One that must wait (sleep, schedule, back-pressure) goes
    // on in a task; tokio polls it again at once, registering real wake-ups.
    let on_end = link.as_mut().and_then(|l| l.on_end.take());
    let job = Box::pin(job_task(
        Arc::clone(shared),
        seq,
        Arc::clone(&spec),
        log,
        telemetry,
        ctx,
        (wait, timeout),
        plan,
        (shared.clock.activity(), on_end),
    ));
    start_task(shared, seq, job);
    Ok(run_response(
        shared, &spec, id_text, status, submitted, schedule,
    ))
}

/// The memory budget: evicts finished work if this job would not fit, or
/// refuses it when only live jobs are left. The job's charge.
fn admit(shared: &Shared, spec: &JobSpec, upload_bytes: u64) -> Result<Charge> {
    let charge = Charge {
        record: crate::job_table::record_bytes(spec),
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
    Ok(charge)
}

/// Inserts the job's record under the state lock, after the checks that need
/// the state (resources, free GPUs for a job that starts now, `--max-jobs`);
/// a RUNNING job takes its GPUs. Its sequence number.
fn record(
    shared: &Shared,
    job: Job,
    starts_now: bool,
    link: Option<&mut WorkflowLink<'_>>,
) -> Result<u64> {
    let mut state = shared.state.lock();
    let spec = Arc::clone(&job.spec);
    // QUIRK-7: the deployed server accepts unknown networks, volumes and
    // runtimes; the job fails as it starts (see `job_task`).
    if !shared.quirk(Quirk::LateResourceChecks) {
        match check_resources(&state, &spec) {
            // JOB-RUN-6..8 mutants: an unknown network, volume or runtime is accepted.
            Err(Error::Invalid { field, .. }) if skipped_by_mutant(shared, &field) => {}
            checked => checked?,
        }
    }
    if starts_now && spec.gpu_count > 0 {
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
    let (id, status) = (job.id, job.status);
    let seq = state.jobs.insert(job);
    if let Some(link) = link {
        (link.register)(&mut state, seq, id);
    }
    if status == JobStatus::Running {
        start_locked(&mut state, seq, shared.clock.now_ms())
            .expect("GPUs were checked under the same lock");
    }
    Ok(seq)
}

/// Polls the job once; if it must wait, spawns it as a task (outside the
/// lock) whose handle and cost the record keeps until the job ends.
fn start_task(
    shared: &Shared,
    seq: u64,
    mut job: std::pin::Pin<Box<impl Future<Output = ()> + Send + 'static>>,
) {
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
}

/// RunJob's answer.
fn run_response(
    shared: &Shared,
    spec: &JobSpec,
    job_uuid: String,
    status: JobStatus,
    submitted: i64,
    schedule: Option<(i64, Option<Duration>)>,
) -> pb::RunJobResponse {
    // QUIRK-3: the deployed server answers only jobUuid and status.
    if shared.quirk(Quirk::MinimalRunResponse) {
        return pb::RunJobResponse {
            job_uuid,
            status: status.as_str().to_string(),
            ..Default::default()
        };
    }
    pb::RunJobResponse {
        job_uuid,
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
        scheduled_time: rfc3339_opt(schedule.map(|(due, _)| due)),
    }
}

/// What a spawned task costs besides its future (tokio's header and scheduler
/// links, the allocation).
const TASK_OVERHEAD: usize = 128;

/// What a job's task costs (the same for every job: its future's size),
/// known once a first one was spawned; RunJob weighs it before admitting a job.
static TASK_BYTES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Moves job `seq` to RUNNING at `now_ms`: takes its GPUs and counts it on
/// its network and volumes; its metrics sampling starts (JOB-METRICS-1).
fn start_locked(state: &mut State, seq: u64, now_ms: i64) -> Result<()> {
    let gpu_count = state.jobs.get(seq).map(|j| j.spec.gpu_count).unwrap_or(0);
    let gpus = allocate_gpus(state, seq, gpu_count)?;
    let job = state.jobs.get_mut(seq).expect("job exists");
    job.telemetry.running(now_ms, gpus.len() as u32);
    job.gpu_indices = gpus;
    job.status = JobStatus::Running;
    let spec = Arc::clone(&job.spec);
    state.mark_running(&spec);
    Ok(())
}

/// Sets a final status at the time `clock` shows, frees what the job held and
/// closes its log and telemetry. A job that is already final keeps its first
/// outcome (for example a scheduled job that was canceled while its start was
/// failing).
pub(crate) fn finish_locked(
    state: &mut State,
    seq: u64,
    status: JobStatus,
    exit_code: i32,
    clock: &Clock,
) {
    let Some(job) = state.jobs.get_mut(seq) else {
        return;
    };
    if job.status.is_final() {
        return;
    }
    let now_ms = clock.now_ms();
    let now = now_ms.div_euclid(1000);
    // Its telemetry followers end (JOB-METRICS-2); what its telematics
    // history holds counts with its record from now on.
    let history = job.telemetry.finish(now_ms, exit_code);
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
        crate::workflow::table::job_ended(&mut state.workflows, &state.jobs, seq);
    }
    let has_log = log.close();
    state.jobs.charge_record(seq, history);
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

/// Moves a due scheduled job on at `now_ms`: INITIALIZING when its scenario
/// has stages, else RUNNING.
fn begin_locked(state: &mut State, seq: u64, plan: Option<&Plan>, now_ms: i64) -> Result<()> {
    if plan.is_some_and(|p| p.initializing) {
        if let Some(job) = state.jobs.get_mut(seq) {
            job.status = JobStatus::Initializing;
        }
        return Ok(());
    }
    start_locked(state, seq, now_ms)
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
        let mut state = shared.state.lock();
        if state
            .jobs
            .get(seq)
            .is_some_and(|j| j.status == JobStatus::Initializing)
        {
            finish_locked(&mut state, seq, JobStatus::Failed, f.exit, &shared.clock);
        }
        return false;
    }
    let problem = {
        let mut state = shared.state.lock();
        match state.jobs.get(seq) {
            Some(job) if job.status == JobStatus::Initializing => {
                start_locked(&mut state, seq, shared.clock.now_ms()).err()
            }
            _ => return false,
        }
    };
    if let Some(e) = problem {
        out.line(&format!("joblet: job could not start: {e}")).await;
        finish_locked(
            &mut shared.state.lock(),
            seq,
            JobStatus::Failed,
            -1,
            &shared.clock,
        );
        return false;
    }
    true
}

/// Plays the job that `start` makes to its end, or until `limit` passes on
/// the clock (`None`: cut short). The job's future is made here rather than
/// passed in: an `async fn` keeps its arguments apart from what it awaits, so
/// a future argument would take its room twice in every job's task.
async fn within<F: Future<Output = i32>>(
    clock: &crate::clock::Clock,
    limit: Option<Duration>,
    start: impl FnOnce() -> F,
) -> Option<i32> {
    let job = start();
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
    telemetry: Arc<Telemetry>,
    ctx: ExecContext,
    (wait, limit): (Option<Duration>, Option<Duration>),
    plan: Option<Plan>,
    (activity, on_end): (Activity, Option<Box<dyn Send>>),
) {
    // Held until the job ends: while it runs, the virtual clock does not skip
    // (its own sleeps set it aside).
    let _activity = activity;
    // A workflow moves on as the job's task ends, however it ends, while the
    // activity above still holds the clock (dropped before it).
    let _on_end = on_end;
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
                        .and_then(|()| {
                            begin_locked(&mut state, seq, plan.as_ref(), shared.clock.now_ms())
                        })
                        .err()
                }
                _ => return,
            }
        };
        if let Some(e) = problem {
            // JOB-LIFE-1: a job that cannot start ends FAILED with exit code -1.
            out.line(&format!("joblet: job could not start: {e}")).await;
            finish_locked(
                &mut shared.state.lock(),
                seq,
                JobStatus::Failed,
                -1,
                &shared.clock,
            );
            return;
        }
    }
    // QUIRK-7: a job accepted with an unknown network, volume or runtime fails
    // as it starts (a scheduled one failed above, at its due time); QUIRK-13
    // likewise for an unknown runtime.
    if wait.is_none()
        && (shared.quirk(Quirk::LateResourceChecks) || shared.quirk(Quirk::RuntimeSyntaxOnly))
    {
        let problem = check_resources(&shared.state.lock(), &spec).err();
        if let Some(e) = problem {
            out.line(&format!("joblet: job could not start: {e}")).await;
            finish_locked(
                &mut shared.state.lock(),
                seq,
                JobStatus::Failed,
                -1,
                &shared.clock,
            );
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
    // JOB-TIMEOUT-3: the limit (`timeout`, parsed as RunJob validated it)
    // counts from here, the job being RUNNING.
    let run = async {
        // A bug in the simulator must not leave the job RUNNING forever (holding its
        // GPUs, its readers waiting): it ends FAILED like a job that could not run.
        if shared.config.exec {
            // --exec: the command runs for real (see crate::exec).
            // Boxed: the exec future is large and rare; it would otherwise grow
            // every job's future.
            Ok(Some(
                Box::pin(crate::exec::run(command, args, &ctx, &mut out)).await,
            ))
        } else {
            let sim = shared.sim();
            let limit = plan.as_ref().and_then(Plan::cutoff);
            // JOB-TELEM-1: its processes and file writes go to its telematics.
            let mut observer = TelemetryObserver::new(telemetry, shared.clock.clone());
            let played = within(&shared.clock, limit, || {
                sim.run_observed(command, args, &ctx, &mut out, &mut observer)
            });
            std::panic::AssertUnwindSafe(played).catch_unwind().await
        }
    };
    let simulated = match limit {
        None => run.await,
        Some(limit) => {
            let timer = shared.clock.sleep(limit);
            tokio::select! {
                // The run first: a command that ends at once never registers
                // the timer (no trip through the timer wheel), and a job that
                // ends at the very instant of its limit ends as it ran.
                biased;
                simulated = run => simulated,
                () = timer => {
                    let mut state = shared.state.lock();
                    if state.jobs.get(seq).is_some_and(|j| j.status == JobStatus::Running) {
                        // JOB-TIMEOUT-3 mutant: exit code 0.
                        let code = if shared.mutant(Mutant::TimeoutExitZero) { 0 } else { 124 };
                        finish_locked(&mut state, seq, JobStatus::Timeout, code, &shared.clock);
                    }
                    return;
                }
            }
        }
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
        finish_locked(&mut state, seq, status, code, &shared.clock);
    }
}
