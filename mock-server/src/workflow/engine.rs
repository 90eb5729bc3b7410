//! The workflow engine: runs a validated workflow as ordinary jobs
//! (WF-RUN-1/2, WF-EXEC-1/2, WF-STATUS-1/2, WF-LIST-1, WF-JOBS-1, QUIRK-9).
//!
//! # Design
//! A workflow is a record in [`State::workflows`] (one table per session) that
//! mirrors the status of each of its jobs. Its jobs are created through the job
//! engine (`jobs::run_workflow_job`: RunJob's validation and lifecycle, so
//! they show in ListJobs, stream logs and answer StopJob like any job).
//!
//! - When a job reaches a final state, the job engine calls
//!   `job_ended_locked` under the state lock: the mirror is updated and every
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
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Weak};
use std::time::Duration;

use joblet_testkit::pb;
use uuid::Uuid;

use super::{
    Forms, NodeSnapshot, WorkflowDoc, WorkflowError, default_name, parse, validate,
    validate_server_v1,
};
use crate::behaviour::{Mutant, Quirk};
use crate::clock::{Activity, Sleep};
use crate::error::{Error, Result};
use crate::jobs::{self, MASK};
use crate::session::Shared;
use crate::snapshot::{WorkflowJobRecord, WorkflowRecord};
use crate::state::{JobStatus, JobTable, State, prefix_range, shown};

/// The server-v1 scheduler's period (QUIRK-9).
pub const TICK: Duration = Duration::from_secs(5);

/// The status RunWorkflow answers (WF-RUN-1).
pub const STARTED: &str = "STARTED";

/// The prefix of every RunWorkflow failure of the deployed server (QUIRK-9).
const V1_PREFIX: &str = "failed to start workflow orchestration";

/// A session's workflows, in creation order (ALL-5), keyed by a creation
/// number so that the oldest finished ones can be evicted past
/// `--max-workflows` without renumbering the rest.
#[derive(Debug, Default)]
pub struct Workflows {
    list: BTreeMap<usize, Workflow>,
    /// The key of the next workflow.
    next: usize,
    /// Finished workflows evicted past `--max-workflows`.
    evicted: u64,
    by_id: HashMap<u128, usize>,
    /// Running job (sequence number) → (workflow, job) indices.
    by_seq: HashMap<u64, (usize, usize)>,
    /// Workflows with something to look at: a job ended or started, a tick fired.
    dirty: BTreeSet<usize>,
}

impl Workflows {
    /// Number of workflows held.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether no workflow was run.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Finished workflows evicted past `--max-workflows` so far.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Adds `workflow` as the newest; returns its key.
    fn push(&mut self, workflow: Workflow) -> usize {
        let w = self.next;
        self.next += 1;
        self.by_id.insert(workflow.id.as_u128(), w);
        self.list.insert(w, workflow);
        w
    }

    /// Makes room for one more workflow under `max` (0: no cap) by evicting
    /// the oldest finished one; `false` when every workflow held is still
    /// pending or running.
    fn make_room(&mut self, max: usize) -> bool {
        if max == 0 || self.list.len() < max {
            return true;
        }
        while self.list.len() >= max {
            let Some(w) = self
                .list
                .iter()
                .find(|(_, wf)| wf.is_finished())
                .map(|(w, _)| *w)
            else {
                return false;
            };
            if let Some(wf) = self.list.remove(&w) {
                self.by_id.remove(&wf.id.as_u128());
            }
            self.dirty.remove(&w);
            self.by_seq.retain(|_, (of, _)| *of != w);
            self.evicted += 1;
        }
        true
    }
}

#[derive(Debug)]
struct Workflow {
    id: Uuid,
    /// Reported name (server-facts §6.5).
    name: String,
    /// The submitted YAML, secret values masked (ALL-6).
    yaml: String,
    /// Creation time, Unix ms (the tick phase).
    created_ms: i64,
    /// Unix seconds.
    created: i64,
    started: Option<i64>,
    completed: Option<i64>,
    doc: Arc<WorkflowDoc>,
    /// The request's workflowFiles; dropped once no job is left to start.
    files: Arc<Vec<pb::FileUpload>>,
    /// One per job of `doc`, same order.
    jobs: Vec<WfJob>,
    /// Per job, the jobs that require it.
    dependents: Vec<Vec<usize>>,
    /// Pending jobs whose requirements may have changed since last examined.
    candidates: BTreeSet<usize>,
    /// The server-v1 engine (QUIRK-9).
    v1: bool,
    /// The mutant of the mock, if any (the WF-* ones act here).
    mutant: Option<Mutant>,
    /// QUIRK-9: a tick fired and is to be handled.
    tick_now: bool,
    /// QUIRK-9: a tick timer is armed.
    tick_armed: bool,
}

#[derive(Debug)]
struct WfJob {
    name: String,
    /// (job index, required status).
    requires: Vec<(usize, String)>,
    dependencies: Vec<String>,
    /// `None`: PENDING.
    status: Option<JobStatus>,
    /// Being created by the job engine (not PENDING any more for the engine).
    starting: bool,
    /// The job record once started.
    job: Option<(u64, Uuid)>,
    start: Option<i64>,
    end: Option<i64>,
    exit_code: i32,
    /// Canceled because a requirement could no longer hold.
    cascaded: bool,
}

impl WfJob {
    fn status_text(&self) -> &'static str {
        self.status.map_or("PENDING", JobStatus::as_str)
    }

    fn pending(&self) -> bool {
        self.status.is_none() && !self.starting
    }

    fn is_final(&self) -> bool {
        self.status.is_some_and(JobStatus::is_final)
    }
}

impl Workflow {
    fn requirement_holds(&self, (dep, status): &(usize, String)) -> bool {
        // WF-EXEC-2 mutant: any final status satisfies a requirement.
        if self.mutant == Some(Mutant::WfNoCascade) {
            return self.jobs.get(*dep).is_some_and(WfJob::is_final);
        }
        self.jobs
            .get(*dep)
            .is_some_and(|d| d.status_text() == status)
    }

    fn requirement_impossible(&self, (dep, status): &(usize, String)) -> bool {
        if self.mutant == Some(Mutant::WfNoCascade) {
            return false;
        }
        self.jobs
            .get(*dep)
            .is_some_and(|d| d.is_final() && d.status_text() != status)
    }

    /// Job `j` changed status: its dependents are to be examined again, the
    /// ones that can no longer run are canceled (transitively), and the
    /// workflow completes when every job is final.
    fn job_changed(&mut self, j: usize, now: i64) {
        let mut stack = vec![j];
        while let Some(k) = stack.pop() {
            let dependents = self.dependents.get(k).cloned().unwrap_or_default();
            for d in dependents {
                let doomed = self.jobs[d].pending()
                    && self.jobs[d]
                        .requires
                        .iter()
                        .any(|r| self.requirement_impossible(r));
                if doomed {
                    let job = &mut self.jobs[d];
                    job.status = Some(JobStatus::Canceled);
                    job.cascaded = true;
                    job.end = Some(now);
                    self.candidates.remove(&d);
                    stack.push(d);
                } else if self.jobs[d].pending() {
                    self.candidates.insert(d);
                }
            }
        }
        if self.completed.is_none()
            && !self.jobs.is_empty()
            && self.jobs.iter().all(WfJob::is_final)
        {
            self.completed = Some(now);
        }
        if !self.jobs.iter().any(WfJob::pending) {
            self.files = Arc::default();
        }
    }

    fn count(&self, status: JobStatus) -> i32 {
        self.jobs
            .iter()
            .filter(|j| j.status == Some(status))
            .count() as i32
    }

    /// Every job final (whatever the status): nothing of it can change, so
    /// it may be evicted past `--max-workflows`.
    fn is_finished(&self) -> bool {
        !self.jobs.is_empty() && self.jobs.iter().all(WfJob::is_final)
    }

    /// WF-STATUS-1 (QUIRK-9: cascade-canceled ends CANCELED).
    fn status(&self) -> &'static str {
        if self.jobs.is_empty() {
            return "PENDING";
        }
        if self.jobs.iter().all(WfJob::is_final) {
            let all_completed = self
                .jobs
                .iter()
                .all(|j| j.status == Some(JobStatus::Completed));
            // WF-STATUS-1 mutant: finished is COMPLETED, failures or not.
            let all_completed =
                all_completed || self.mutant == Some(Mutant::WfFailedReportedCompleted);
            return if self.v1 && self.jobs.iter().any(|j| j.cascaded) {
                "CANCELED"
            } else if all_completed {
                "COMPLETED"
            } else {
                "FAILED"
            };
        }
        if self.started.is_some() {
            "RUNNING"
        } else {
            "PENDING"
        }
    }

    fn info(&self) -> pb::WorkflowInfo {
        // A stopped job counts as failed (it did not complete).
        let failed = self.count(JobStatus::Failed) + self.count(JobStatus::Stopped);
        pb::WorkflowInfo {
            uuid: self.id.to_string(),
            workflow: self.name.clone(),
            status: self.status().to_owned(),
            total_jobs: self.jobs.len() as i32,
            // WF-STATUS-2 mutant: completedJobs stays 0.
            completed_jobs: if self.mutant == Some(Mutant::WfCountersZero) {
                0
            } else {
                self.count(JobStatus::Completed)
            },
            failed_jobs: failed,
            // QUIRK-9: the deployed server never fills canceledJobs.
            canceled_jobs: if self.v1 {
                0
            } else {
                self.count(JobStatus::Canceled)
            },
            created_at: timestamp(Some(self.created)),
            started_at: timestamp(self.started),
            completed_at: timestamp(self.completed),
            yaml_content: self.yaml.clone(),
        }
    }

    /// The jobs as WorkflowJob messages; a job not final yet shows its live
    /// status (INITIALIZING, RUNNING) from `table`.
    fn job_views(&self, table: &JobTable) -> Vec<pb::WorkflowJob> {
        self.jobs
            .iter()
            .map(|j| {
                let uuid = j.job.map(|(_, id)| id.to_string());
                let live = match (j.job, j.is_final()) {
                    (Some((seq, _)), false) => table.get(seq).map(|r| r.status.as_str()),
                    _ => None,
                };
                let status = live.unwrap_or_else(|| j.status_text()).to_owned();
                if self.v1 {
                    // QUIRK-9: "0" until started; no times, no exit codes.
                    pb::WorkflowJob {
                        job_uuid: uuid.unwrap_or_else(|| "0".to_owned()),
                        job_name: j.name.clone(),
                        status,
                        dependencies: j.dependencies.clone(),
                        ..Default::default()
                    }
                } else {
                    pb::WorkflowJob {
                        job_uuid: uuid.unwrap_or_default(),
                        job_name: j.name.clone(),
                        status,
                        dependencies: j.dependencies.clone(),
                        start_time: timestamp(j.start),
                        end_time: timestamp(j.end),
                        exit_code: j.exit_code,
                    }
                }
            })
            .collect()
    }
}

fn timestamp(secs: Option<i64>) -> Option<pb::Timestamp> {
    secs.map(|seconds| pb::Timestamp { seconds, nanos: 0 })
}

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

// ------------------------------------------------------------ snapshots

/// The session's workflows as plain records, for a snapshot
/// ([`crate::snapshot`]); the job engine's live status is not consulted.
pub(crate) fn export(state: &State) -> Vec<WorkflowRecord> {
    let job = |j: &WfJob| WorkflowJobRecord {
        name: j.name.clone(),
        dependencies: j.dependencies.clone(),
        status: j.status,
        job: j.job.map(|(_, id)| id),
        start: j.start,
        end: j.end,
        exit_code: j.exit_code,
        cascaded: j.cascaded,
    };
    let workflow = |w: &Workflow| WorkflowRecord {
        id: w.id,
        name: w.name.clone(),
        yaml: w.yaml.clone(),
        v1: w.v1,
        created_ms: w.created_ms,
        started: w.started,
        completed: w.completed,
        jobs: w.jobs.iter().map(job).collect(),
    };
    state.workflows.list.values().map(workflow).collect()
}

/// Adds restored workflow records to `state`, whose jobs are restored already
/// (`seqs`: a job's sequence number by UUID). The records' jobs are final
/// ([`crate::snapshot`] ends the others): nothing is left to start, so the
/// YAML is not parsed again and no requirement is kept.
pub(crate) fn import(
    shared: &Shared,
    state: &mut State,
    records: Vec<WorkflowRecord>,
    seqs: &HashMap<Uuid, u64>,
) {
    let wfs = &mut state.workflows;
    for r in records {
        let jobs: Vec<WfJob> = r
            .jobs
            .into_iter()
            .map(|j| WfJob {
                name: j.name,
                requires: Vec::new(),
                dependencies: j.dependencies,
                status: j.status,
                starting: false,
                job: j.job.and_then(|id| Some((*seqs.get(&id)?, id))),
                start: j.start,
                end: j.end,
                exit_code: j.exit_code,
                cascaded: j.cascaded,
            })
            .collect();
        wfs.push(Workflow {
            id: r.id,
            name: r.name,
            yaml: r.yaml,
            created_ms: r.created_ms,
            created: r.created_ms.div_euclid(1000),
            started: r.started,
            completed: r.completed,
            doc: Arc::default(),
            files: Arc::default(),
            dependents: vec![Vec::new(); jobs.len()],
            jobs,
            candidates: BTreeSet::new(),
            v1: r.v1,
            mutant: shared.behaviour.mutant,
            tick_now: false,
            tick_armed: false,
        });
    }
}

// ------------------------------------------------------------ execution

/// Called by the job engine under the state lock when job `seq` has become
/// final: updates its workflow (if any) and cancels what can no longer run.
pub(crate) fn job_ended_locked(state: &mut State, seq: u64) {
    let Some((w, j)) = state.workflows.by_seq.remove(&seq) else {
        return;
    };
    let Some(job) = state.jobs.get(seq) else {
        return;
    };
    let (status, exit_code, end) = (job.status, job.exit_code, job.end_time);
    let wfs = &mut state.workflows;
    let Some(wf) = wfs.list.get_mut(&w) else {
        return;
    };
    let now = end.unwrap_or_else(|| wf.jobs[j].start.unwrap_or(wf.created));
    let entry = &mut wf.jobs[j];
    entry.status = Some(status);
    entry.exit_code = exit_code;
    entry.end = Some(now);
    wf.job_changed(j, now);
    wfs.dirty.insert(w);
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

/// A job to create.
struct Start {
    workflow: usize,
    job: usize,
    request: pb::RunJobRequest,
    dependencies: Vec<String>,
    /// An upload not among the workflowFiles (QUIRK-9 checks it this late).
    missing_upload: Option<String>,
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

/// Takes the dirty workflows: the jobs to start now, the ticks to arm.
fn collect(wfs: &mut Workflows, now_ms: i64) -> (Vec<Start>, Vec<(Uuid, Duration)>) {
    let mut starts = Vec::new();
    let mut ticks = Vec::new();
    for w in std::mem::take(&mut wfs.dirty) {
        let Some(wf) = wfs.list.get_mut(&w) else {
            continue;
        };
        if !wf.v1 || std::mem::take(&mut wf.tick_now) {
            for j in std::mem::take(&mut wf.candidates) {
                let ready = wf.jobs[j].pending()
                    && wf.jobs[j].requires.iter().all(|r| wf.requirement_holds(r));
                if ready {
                    wf.jobs[j].starting = true;
                    starts.push(prepare(wf, w, j));
                }
            }
        }
        if wf.v1 && !wf.tick_armed && wf.candidates.iter().any(|&j| wf.jobs[j].pending()) {
            // The next tick of this workflow's 5 s grid, strictly after now.
            let tick = TICK.as_millis() as i64;
            let elapsed = (now_ms - wf.created_ms).max(0);
            let due = wf.created_ms + (elapsed / tick + 1) * tick;
            wf.tick_armed = true;
            ticks.push((wf.id, Duration::from_millis((due - now_ms).max(0) as u64)));
        }
    }
    (starts, ticks)
}

/// The RunJob request of job `j`: global environment merged with the job's
/// (the job wins), secrets likewise, uploads from the workflowFiles.
fn prepare(wf: &Workflow, w: usize, j: usize) -> Start {
    let doc = &wf.doc;
    let def = &doc.jobs[j];
    let merge = |global: &[(String, String)], own: &[(String, String)]| {
        global
            .iter()
            .chain(own)
            .cloned()
            .collect::<HashMap<String, String>>()
    };
    let mut uploads = Vec::new();
    let mut missing_upload = None;
    for path in &def.uploads {
        let wanted = crate::validate::upload_path(path).unwrap_or_else(|_| path.clone());
        let mut found = false;
        for f in wf.files.iter() {
            let have = crate::validate::upload_path(&f.path).unwrap_or_else(|_| f.path.clone());
            let inside = have
                .strip_prefix(wanted.as_str())
                .is_some_and(|rest| rest.starts_with('/'));
            if f.path == *path || have == wanted || inside {
                found = true;
                uploads.push(f.clone());
            }
        }
        if !found && missing_upload.is_none() {
            missing_upload = Some(path.clone());
        }
    }
    let r = &def.resources;
    let request = pb::RunJobRequest {
        name: def.name.clone(),
        command: def.command.clone(),
        args: def.args.clone(),
        max_cpu: r.max_cpu,
        cpu_cores: r.cpu_cores.clone(),
        max_memory: r.max_memory,
        max_iobps: r.max_io_bps,
        uploads,
        network: def.network.clone().unwrap_or_default(),
        volumes: def.volumes.clone(),
        runtime: def.runtime.clone().unwrap_or_default(),
        environment: merge(&doc.environment, &def.environment),
        secret_environment: merge(&doc.secret_environment, &def.secret_environment),
        workflow_uuid: wf.id.to_string(),
        gpu_count: r.gpu_count,
        gpu_memory_mb: r.gpu_memory_mb,
        ..Default::default()
    };
    Start {
        workflow: w,
        job: j,
        request,
        dependencies: wf.jobs[j].dependencies.clone(),
        missing_upload,
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
            jobs::run_workflow_job(shared, request, dependencies, &mut register).map(|_| ())
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

// --------------------------------------------------------------- masking

/// `yaml` with the values of secret variables replaced by `***` (ALL-6):
/// each `KEY: value` of a secret key whose value is the secret, then any
/// other verbatim occurrence of a secret of three characters or more.
fn mask_secrets(yaml: &str, doc: &WorkflowDoc) -> String {
    let secrets: Vec<(&str, &str)> = doc
        .secret_environment
        .iter()
        .chain(doc.jobs.iter().flat_map(|j| j.secret_environment.iter()))
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if secrets.is_empty() {
        return yaml.to_owned();
    }
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let keys: BTreeSet<&str> = secrets.iter().map(|(k, _)| *k).collect();
    for key in keys {
        let values: Vec<&str> = secrets
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .collect();
        for (pos, _) in yaml.match_indices(key) {
            if let Some(span) = value_span(yaml, pos, key, &values) {
                spans.push(span);
            }
        }
    }
    spans.sort_unstable();
    let mut out = String::with_capacity(yaml.len());
    let mut at = 0;
    for (from, to) in spans {
        if from < at {
            continue;
        }
        out.push_str(&yaml[at..from]);
        out.push_str(&format!("\"{MASK}\""));
        at = to;
    }
    out.push_str(&yaml[at..]);
    for (_, value) in secrets {
        if value.chars().count() >= 3 && out.contains(value) {
            out = out.replace(value, MASK);
        }
    }
    out
}

/// The byte span of the value of `key` written at `pos`, when `pos` is a
/// mapping key and the value is one of `values` (or a block scalar, or a
/// quoted text with escapes).
fn value_span(yaml: &str, pos: usize, key: &str, values: &[&str]) -> Option<(usize, usize)> {
    let head = yaml.get(..pos)?;
    let mut before = head.chars().next_back();
    let mut after = pos + key.len();
    let quote = before.filter(|c| matches!(c, '"' | '\''));
    if let Some(q) = quote {
        before = head[..head.len() - 1].chars().next_back();
        if !yaml.get(after..)?.starts_with(q) {
            return None;
        }
        after += 1;
    }
    if !matches!(before, None | Some(' ' | '\t' | '\n' | '\r' | '{' | ',')) {
        return None;
    }
    let rest = yaml.get(after..)?;
    let colon = after + (rest.len() - rest.trim_start_matches([' ', '\t']).len());
    if !yaml.get(colon..)?.starts_with(':') {
        return None;
    }
    let value_at = colon + 1;
    match yaml.get(value_at..)?.chars().next() {
        None | Some(' ' | '\t' | '\n' | '\r') => {}
        Some(_) if quote.is_some() => {}
        Some(_) => return None,
    }
    let rest = yaml.get(value_at..)?;
    let mut start = value_at + (rest.len() - rest.trim_start_matches([' ', '\t']).len());
    // An anchor or a tag before the value.
    for _ in 0..2 {
        let text = yaml.get(start..)?;
        if text.starts_with('&') || text.starts_with('!') {
            let word = text.find([' ', '\t', '\n', '\r']).unwrap_or(text.len());
            let tail = text.get(word..)?;
            start += word + (tail.len() - tail.trim_start_matches([' ', '\t']).len());
        }
    }
    let text = yaml.get(start..)?;
    let line_end = text.find(['\n', '\r']).unwrap_or(text.len());
    let line = &text[..line_end];
    match line.chars().next()? {
        '"' => {
            let bytes = line.as_bytes();
            let mut i = 1;
            while i < bytes.len() {
                match bytes[i] {
                    b'\\' => i += 2,
                    b'"' => {
                        let raw = &line[1..i];
                        let plain = raw.replace("\\\"", "\"").replace("\\\\", "\\");
                        let hit =
                            raw.contains('\\') || values.iter().any(|v| *v == raw || *v == plain);
                        return hit.then_some((start, start + i + 1));
                    }
                    _ => i += 1,
                }
            }
            None
        }
        '\'' => {
            let bytes = line.as_bytes();
            let mut i = 1;
            while i < bytes.len() {
                if bytes[i] == b'\'' {
                    if bytes.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    let raw = line[1..i].replace("''", "'");
                    return values
                        .iter()
                        .any(|v| *v == raw)
                        .then_some((start, start + i + 1));
                }
                i += 1;
            }
            None
        }
        '|' | '>' => {
            // A block scalar: every following line indented deeper than the key's.
            let line_start = head.rfind(['\n', '\r']).map_or(0, |i| i + 1);
            let indent = yaml[line_start..].chars().take_while(|c| *c == ' ').count();
            let mut end = start + line_end;
            let mut cursor = end;
            while cursor < yaml.len() {
                let next = &yaml[cursor..];
                let skip = next
                    .chars()
                    .take_while(|c| matches!(c, '\n' | '\r'))
                    .count();
                let body = &next[skip..];
                let len = body.find(['\n', '\r']).unwrap_or(body.len());
                let content = &body[..len];
                let deeper = content.chars().take_while(|c| *c == ' ').count() > indent;
                if !(deeper || content.trim().is_empty()) || skip == 0 {
                    break;
                }
                cursor += skip + len;
                if !content.trim().is_empty() {
                    end = cursor;
                }
            }
            Some((start, end))
        }
        '*' => None,
        _ => {
            let token = line.split(" #").next().unwrap_or(line).trim_end();
            if values.contains(&token) {
                return Some((start, start + token.len()));
            }
            let cut = line.find([',', '}', ']']).unwrap_or(line.len());
            let token = line[..cut].trim_end();
            values
                .contains(&token)
                .then_some((start, start + token.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(yaml: &str) -> String {
        let doc = parse(yaml, Forms::All).expect("parses");
        let out = mask_secrets(yaml, &doc);
        // Still YAML of the same shape.
        let again = parse(&out, Forms::All).expect("masked YAML parses");
        assert_eq!(again.jobs.len(), doc.jobs.len());
        out
    }

    #[test]
    fn secrets_are_masked_in_yaml_content_all_6() {
        let yaml = "secret_environment:\n  TOKEN: hunter2\n  PIN: '12'\njobs:\n  a:\n    command: echo\n    environment: {MODE: x, N: '12'}\n    secret_environment: {DB_PASSWORD: \"p@ss \\\"w\\\"\", K: v}\n  b:\n    command: echo\n    secret_environment:\n      CERT: |\n        line one\n        line two\n      ALIAS: &pw s3cret-value\n";
        let out = masked(yaml);
        for secret in ["hunter2", "p@ss", "line one", "line two", "s3cret-value"] {
            assert!(!out.contains(secret), "{secret} leaked:\n{out}");
        }
        assert!(out.contains("PIN: \"***\""), "{out}");
        assert!(out.contains("K: \"***\"}"), "{out}");
        // Non-secret values stay, even when equal to a secret elsewhere.
        assert!(out.contains("N: '12'"), "{out}");
        assert!(out.contains("MODE: x"), "{out}");
        assert!(out.contains("command: echo"), "{out}");
    }

    #[test]
    fn yaml_without_secrets_is_unchanged() {
        let yaml = "jobs:\n  a: {command: echo, environment: {A: b}}\n";
        assert_eq!(masked(yaml), yaml);
    }

    proptest::proptest! {
        #[test]
        fn prop_masking_never_panics(text in "\\PC{0,60}", key in "[A-Z]{1,3}", value in "\\PC{1,4}") {
            let doc = WorkflowDoc {
                secret_environment: vec![(key.clone(), value.clone())],
                ..Default::default()
            };
            let _ = mask_secrets(&text, &doc);
            let yaml = format!("{key}: {text}\n{key}: '{value}'\n  {key}: |\n   {value}\n");
            let _ = mask_secrets(&yaml, &doc);
        }
    }

    #[test]
    fn masking_never_panics_on_odd_text() {
        let doc = WorkflowDoc {
            secret_environment: vec![("K".into(), "v".into()), ("É".into(), "ü".into())],
            ..Default::default()
        };
        for text in [
            "K",
            "K:",
            "'K':",
            "\"K\": \"v",
            "K: 'v",
            "É: ü",
            "K: |",
            "xK: v",
            "K: *a",
        ] {
            let _ = mask_secrets(text, &doc);
        }
    }
}
