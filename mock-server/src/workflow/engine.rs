//! The workflow engine: runs a validated workflow as ordinary jobs
//! (WF-RUN-1/2, WF-EXEC-1/2, WF-STATUS-1/2, WF-LIST-1, WF-JOBS-1, QUIRK-9).
//!
//! # Design
//! A workflow is a record in [`State::workflows`](crate::state::State::workflows) (one table per session) that
//! mirrors the status of each of its jobs. Its jobs are created through the job
//! engine (`jobs::run_workflow_job`: RunJob's validation and lifecycle, so
//! they show in ListJobs, stream logs and answer StopJob like any job).
//!
//! - When a job reaches a final state, the job engine calls
//!   [`job_ended`](super::table::job_ended) under the state lock: the mirror is updated and every
//!   pending job whose requirement can no longer hold is canceled, transitively
//!   (WF-EXEC-2). The workflow is marked *dirty*.
//! - Whoever finished the job then calls [`advance`] without the lock: the task
//!   of a workflow job (through `AdvanceOnDrop`, before its clock
//!   [`Activity`] is released, so the virtual clock
//!   cannot skip between one job's end and the next one's start), the StopJob
//!   handler, RunWorkflow. `advance` starts the jobs of dirty workflows whose
//!   requirements hold (documented profile), or schedules the next scheduler
//!   tick (QUIRK-9). A job that ends at once while being started reports back
//!   re-entrantly; a thread-local queue flattens that, so a long chain of
//!   instant jobs does not deepen the stack.
//! - QUIRK-9: a tick is a timer on the session clock, 5 s apart from the
//!   workflow's creation, held like a job's sleep (it takes an activity when
//!   it fires), armed only while some pending job may have become ready.

use std::cell::RefCell;
use std::sync::{Arc, Weak};
use std::time::Duration;

use joblet_testkit::pb::union as pb;
use uuid::Uuid;

use std::collections::{BTreeSet, HashMap};

use super::doc::{Forms, NodeSnapshot, WorkflowDoc, WorkflowError, default_name};
use super::mask::mask_secrets;
use super::table::{Start, WfJob, Workflow, Workflows, collect};
use super::{parse, validate, validate_server_v1};
use crate::behaviour::{Mutant, Quirk};
use crate::clock::{Activity, Sleep};
use crate::error::{Error, Result};
use crate::jobs;
use crate::session::Shared;
use crate::state::{JobStatus, State, prefix_range, shown};

/// The status RunWorkflow answers (WF-RUN-1).
pub const STARTED: &str = "STARTED";

/// The prefix of every RunWorkflow failure of the deployed server (QUIRK-9).
const V1_PREFIX: &str = "failed to start workflow orchestration";

// ------------------------------------------------------------------ RPCs

/// RunWorkflow (WF-RUN-1/2; QUIRK-9 under server-v1).
pub fn run(shared: &Arc<Shared>, req: pb::RunWorkflowRequest) -> Result<pb::RunWorkflowResponse> {
    let v1 = shared.quirk(Quirk::WorkflowV1);
    if req.workflow.trim().is_empty() {
        return Err(Error::invalid("workflow", "workflow is required"));
    }
    let node = snapshot(&shared.state.lock());
    let (doc, name) = if v1 {
        accept_v1(&req, &node)?
    } else {
        // QUIRK-2: the deployed server's INTERNAL with its prefix.
        let internal = |e: WorkflowError| {
            Error::from(e).internal_if(shared.quirk(Quirk::InternalErrors), V1_PREFIX)
        };
        // WF-YAML-1 mutant: only the map form is accepted.
        let forms = if shared.mutant(Mutant::WfListFormRejected) {
            Forms::MapWithRequiresOnly
        } else {
            Forms::All
        };
        let doc = parse(&req.yaml_content, forms).map_err(internal)?;
        let mut files: BTreeSet<String> =
            req.workflow_files.iter().map(|f| f.path.clone()).collect();
        // WF-RUN-2 mutant: uploads missing from workflowFiles pass validation.
        if shared.mutant(Mutant::WfMissingUploadAccepted) {
            files.extend(doc.jobs.iter().flat_map(|j| j.uploads.iter().cloned()));
        }
        validate(&doc, &node, &files).map_err(internal)?;
        let name = default_name(&doc);
        (doc, name)
    };
    let id = shared.new_id();
    let yaml = mask_secrets(&req.yaml_content, &doc);
    let index: HashMap<&str, usize> = doc
        .jobs
        .iter()
        .enumerate()
        .map(|(i, j)| (j.name.as_str(), i))
        .collect();
    let mut dependents = vec![Vec::new(); doc.jobs.len()];
    let jobs: Vec<WfJob> = doc
        .jobs
        .iter()
        .enumerate()
        .map(|(i, def)| {
            let requires: Vec<(usize, String)> = def
                .requires
                .iter()
                .filter_map(|r| index.get(r.job.as_str()).map(|&d| (d, r.status.clone())))
                .collect();
            for (d, _) in &requires {
                if !dependents[*d].contains(&i) {
                    dependents[*d].push(i);
                }
            }
            WfJob {
                name: def.name.clone(),
                requires,
                dependencies: def.dependencies().into_iter().map(str::to_owned).collect(),
                status: None,
                starting: false,
                job: None,
                start: None,
                end: None,
                exit_code: 0,
                cascaded: false,
            }
        })
        .collect();
    let created_ms = shared.clock.now_ms();
    let workflow = Workflow {
        id,
        name,
        yaml,
        created_ms,
        created: created_ms.div_euclid(1000),
        started: None,
        completed: None,
        candidates: (0..jobs.len()).collect(),
        jobs,
        dependents,
        doc: Arc::new(doc),
        files: Arc::new(req.workflow_files),
        v1,
        mutant: shared.behaviour.mutant,
        tick_now: false,
        tick_armed: false,
    };
    {
        let mut state = shared.state.lock();
        let wfs = &mut state.workflows;
        let max = shared.config.max_workflows;
        if !wfs.make_room(max) {
            return Err(Error::ResourceExhausted(format!(
                "RunWorkflow: this session holds {} workflows, the --max-workflows cap of \
                 joblet-mock, and none has finished (only finished workflows are evicted to \
                 make room); wait for one to finish, or start joblet-mock with a higher \
                 --max-workflows",
                wfs.list.len()
            )));
        }
        let w = wfs.push(workflow);
        wfs.dirty.insert(w);
    }
    // WF-EXEC-1: the jobs without requirements start now (QUIRK-9: the first
    // tick is armed).
    advance(shared);
    Ok(pb::RunWorkflowResponse {
        workflow_uuid: id.to_string(),
        // WF-RUN-1 mutant: "OK" instead of "STARTED".
        status: if shared.mutant(Mutant::WfRunStatusOk) {
            "OK".to_owned()
        } else {
            STARTED.to_owned()
        },
    })
}

/// QUIRK-9: what the deployed server accepts, and its errors.
fn accept_v1(req: &pb::RunWorkflowRequest, node: &NodeSnapshot) -> Result<(WorkflowDoc, String)> {
    if req.yaml_content.is_empty() {
        let path = req.workflow.trim();
        if path.ends_with(".yaml") || path.ends_with(".yml") {
            // The server would read that path from its own disk.
            return Err(Error::Internal(format!(
                "{V1_PREFIX}: failed to parse workflow YAML: failed to read YAML file: \
                 open {path}: no such file or directory"
            )));
        }
        // A workflow without jobs, named as sent; it stays PENDING.
        return Ok((WorkflowDoc::default(), req.workflow.clone()));
    }
    let doc = parse(&req.yaml_content, Forms::MapWithRequiresOnly).map_err(|e| {
        Error::Internal(format!(
            "{V1_PREFIX}: failed to parse workflow YAML content: {e}"
        ))
    })?;
    validate_server_v1(&doc, node).map_err(|e: WorkflowError| {
        Error::Internal(format!("{V1_PREFIX}: workflow validation failed: {e}"))
    })?;
    let name = default_name(&doc);
    Ok((doc, name))
}

/// The node's volumes, networks and runtimes as validation sees them.
fn snapshot(state: &State) -> NodeSnapshot {
    NodeSnapshot {
        volumes: state.volumes.iter().map(|v| v.name.clone()).collect(),
        networks: state.networks.iter().map(|n| n.name.clone()).collect(),
        runtimes: state.runtimes.clone(),
    }
}

/// Finds a workflow by UUID or unique prefix (ALL-2). QUIRK-9: a miss reads
/// NOT_FOUND "workflow not found: …", as the deployed server words it.
fn resolve(shared: &Shared, wfs: &Workflows, id: &str) -> Result<usize> {
    let id = id.trim().to_ascii_lowercase();
    if id.is_empty() {
        return Err(Error::invalid("workflowUuid", "workflow uuid is required"));
    }
    let not_found = || {
        Error::NotFound(if shared.quirk(Quirk::WorkflowV1) {
            format!("workflow not found: {}", shown(&id))
        } else {
            format!("workflow {} not found", shown(&id))
        })
    };
    let Some((low, high)) = prefix_range(&id) else {
        return Err(not_found());
    };
    if low == high {
        return wfs.by_id.get(&low).copied().ok_or_else(not_found);
    }
    let hits: Vec<usize> = wfs
        .list
        .iter()
        .filter(|(_, w)| (low..=high).contains(&w.id.as_u128()))
        .map(|(i, _)| *i)
        .collect();
    match hits.as_slice() {
        [] => Err(not_found()),
        [one] => Ok(*one),
        many => Err(Error::invalid(
            "workflowUuid",
            format!(
                "workflow id prefix {id:?} is ambiguous: it matches {} workflows",
                many.len()
            ),
        )),
    }
}

/// GetWorkflowStatus (WF-STATUS-1/2).
pub fn status(shared: &Shared, id: &str) -> Result<pb::GetWorkflowStatusResponse> {
    let state = shared.state.lock();
    let wfs = &state.workflows;
    let w = &wfs.list[&resolve(shared, wfs, id)?];
    Ok(pb::GetWorkflowStatusResponse {
        workflow: Some(w.info()),
        jobs: w.job_views(&state.jobs),
    })
}

/// ListWorkflows (WF-LIST-1; QUIRK-9 keeps CANCELED ones).
pub fn list(shared: &Shared, include_completed: bool) -> pb::ListWorkflowsResponse {
    let state = shared.state.lock();
    let workflows = state
        .workflows
        .list
        .values()
        .filter(|w| {
            include_completed
                // WF-LIST-1 mutant: finished workflows are listed too.
                || shared.mutant(Mutant::WfListIncludesFinished)
                || matches!(w.status(), "PENDING" | "RUNNING" | "CANCELED")
        })
        .map(Workflow::info)
        .collect();
    pb::ListWorkflowsResponse { workflows }
}

/// GetWorkflowJobs (WF-JOBS-1; QUIRK-9: always the session's first workflow).
pub fn jobs(shared: &Shared, id: &str) -> Result<pb::GetWorkflowJobsResponse> {
    let state = shared.state.lock();
    let wfs = &state.workflows;
    // QUIRK-9 (and the WF-JOBS-1 mutant): always the first workflow.
    let w = if shared.quirk(Quirk::WorkflowV1) || shared.mutant(Mutant::WfJobsFirstWorkflow) {
        wfs.list
            .values()
            .next()
            .ok_or_else(|| Error::NotFound("workflow not found: workflow 1 not found".to_owned()))?
    } else if shared.quirk(Quirk::LimitedPrefixes) {
        // QUIRK-5: only the full UUID.
        let full = Uuid::parse_str(id.trim())
            .ok()
            .filter(|u| u.to_string() == id.trim())
            .and_then(|u| wfs.by_id.get(&u.as_u128()));
        let Some(&w) = full else {
            return Err(Error::NotFound(format!(
                "workflow not found: {}",
                shown(id.trim())
            )));
        };
        &wfs.list[&w]
    } else {
        &wfs.list[&resolve(shared, wfs, id)?]
    };
    Ok(pb::GetWorkflowJobsResponse {
        jobs: w.job_views(&state.jobs),
    })
}

/// Calls [`advance`] when dropped: held by the task of a workflow job, so
/// that whatever way the task ends, the workflow moves on before the job's
/// clock activity is released.
pub(crate) struct AdvanceOnDrop(Arc<Shared>);

impl AdvanceOnDrop {
    /// A guard for a job of `shared`.
    pub(crate) fn new(shared: &Arc<Shared>) -> Self {
        Self(Arc::clone(shared))
    }
}

impl Drop for AdvanceOnDrop {
    fn drop(&mut self) {
        if std::thread::panicking() || tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        advance(&self.0);
    }
}

thread_local! {
    /// `Some` while this thread is inside [`advance`]: sessions to look at again.
    static DRIVING: RefCell<Option<Vec<Arc<Shared>>>> = const { RefCell::new(None) };
}

/// Moves the session's workflows on: cancels what can no longer run, starts
/// the jobs whose requirements hold (QUIRK-9: arms the next tick instead).
/// Call without holding the state lock, after a workflow job ended.
pub fn advance(shared: &Arc<Shared>) {
    if shared.state.lock().workflows.dirty.is_empty() {
        return;
    }
    // A job started below may end at once and report back here: queue it.
    let nested = DRIVING.try_with(|d| {
        let mut d = d.borrow_mut();
        match d.as_mut() {
            Some(queue) => {
                if !queue.iter().any(|s| Arc::ptr_eq(s, shared)) {
                    queue.push(Arc::clone(shared));
                }
                true
            }
            None => {
                *d = Some(Vec::new());
                false
            }
        }
    });
    match nested {
        Ok(true) => return,
        Ok(false) => {}
        Err(_) => {
            // Thread-locals are gone (thread exit): no nesting to flatten.
            drive(shared);
            return;
        }
    }
    struct Done;
    impl Drop for Done {
        fn drop(&mut self) {
            let _ = DRIVING.try_with(|d| d.borrow_mut().take());
        }
    }
    let _done = Done;
    drive(shared);
    while let Some(next) = DRIVING
        .try_with(|d| d.borrow_mut().as_mut().and_then(Vec::pop))
        .ok()
        .flatten()
    {
        drive(&next);
    }
}

fn drive(shared: &Arc<Shared>) {
    // Holds the virtual clock while jobs are being started.
    let _busy = shared.clock.activity();
    loop {
        let (starts, ticks) = {
            let mut state = shared.state.lock();
            collect(&mut state.workflows, shared.clock.now_ms())
        };
        if starts.is_empty() && ticks.is_empty() {
            return;
        }
        for (id, delay) in ticks {
            arm_tick(shared, id, delay);
        }
        for start in starts {
            launch(shared, start);
        }
    }
}

/// Creates one job through the job engine; a job that cannot start ends
/// FAILED (exit code -1) in the workflow.
fn launch(shared: &Arc<Shared>, start: Start) {
    let Start {
        workflow: w,
        job: j,
        request,
        dependencies,
        missing_upload,
    } = start;
    let outcome = match missing_upload {
        Some(path) => Err(Error::invalid(
            "uploads",
            format!("file {path} not found in uploaded files"),
        )),
        None => {
            let now = shared.clock.now_secs();
            let mut register = |state: &mut State, seq: u64, id: Uuid| {
                let wfs = &mut state.workflows;
                let Some(wf) = wfs.list.get_mut(&w) else {
                    return;
                };
                let entry = &mut wf.jobs[j];
                entry.starting = false;
                entry.status = Some(JobStatus::Running);
                entry.job = Some((seq, id));
                entry.start = Some(now);
                wf.started.get_or_insert(now);
                wf.job_changed(j, now);
                wfs.by_seq.insert(seq, (w, j));
                wfs.dirty.insert(w);
            };
            let on_end = Box::new(AdvanceOnDrop::new(shared));
            jobs::run_workflow_job(shared, request, dependencies, &mut register, on_end).map(|_| ())
        }
    };
    if let Err(e) = outcome {
        tracing::info!(workflow_job = j, error = %e, "a workflow job could not start; it ends FAILED");
        let now = shared.clock.now_secs();
        let mut state = shared.state.lock();
        let wfs = &mut state.workflows;
        if let Some(wf) = wfs.list.get_mut(&w) {
            let entry = &mut wf.jobs[j];
            if entry.starting {
                entry.starting = false;
                entry.status = Some(JobStatus::Failed);
                entry.exit_code = -1;
                entry.end = Some(now);
                wf.job_changed(j, now);
                wfs.dirty.insert(w);
            }
        }
    }
}

/// The clock wait of a tick: the sleep drops before the activity.
struct TickWait {
    sleep: Sleep,
    _activity: Activity,
}

/// QUIRK-9: arms the workflow's next scheduler tick, `delay` from now.
fn arm_tick(shared: &Arc<Shared>, id: Uuid, delay: Duration) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    // Held like a job's sleep: when the tick fires it counts as busy until the
    // jobs it starts hold the clock themselves.
    let activity = shared.clock.activity();
    let mut wait = TickWait {
        sleep: shared.clock.job_sleep(delay),
        _activity: activity,
    };
    let weak: Weak<Shared> = Arc::downgrade(shared);
    runtime.spawn(async move {
        (&mut wait.sleep).await;
        let Some(shared) = weak.upgrade() else {
            return;
        };
        {
            let mut state = shared.state.lock();
            let wfs = &mut state.workflows;
            let Some(&w) = wfs.by_id.get(&id.as_u128()) else {
                return;
            };
            let Some(wf) = wfs.list.get_mut(&w) else {
                return;
            };
            wf.tick_armed = false;
            wf.tick_now = true;
            wfs.dirty.insert(w);
        }
        advance(&shared);
        drop(wait);
    });
}
