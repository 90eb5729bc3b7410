//! A session's workflows as data: each workflow mirrors the status of its
//! jobs, knows which pending jobs may have become ready, and prepares their
//! RunJob requests. The [engine](super::engine) drives it; the job engine
//! reports finished jobs to it ([`job_ended`]) under the state lock; snapshots
//! export and import it as plain records.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use joblet_testkit::pb::union as pb;
use uuid::Uuid;

use super::doc::WorkflowDoc;
use crate::behaviour::Mutant;
use crate::job_table::{JobStatus, JobTable};

/// The server-v1 scheduler's period (QUIRK-9).
pub const TICK: Duration = Duration::from_secs(5);

/// A session's workflows, in creation order (ALL-5), keyed by a creation
/// number so that the oldest finished ones can be evicted past
/// `--max-workflows` without renumbering the rest.
#[derive(Debug, Default)]
pub struct Workflows {
    pub(crate) list: BTreeMap<usize, Workflow>,
    /// The key of the next workflow.
    pub(crate) next: usize,
    /// Finished workflows evicted past `--max-workflows`.
    pub(crate) evicted: u64,
    pub(crate) by_id: HashMap<u128, usize>,
    /// Running job (sequence number) → (workflow, job) indices.
    pub(crate) by_seq: HashMap<u64, (usize, usize)>,
    /// Workflows with something to look at: a job ended or started, a tick fired.
    pub(crate) dirty: BTreeSet<usize>,
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
    pub(crate) fn push(&mut self, workflow: Workflow) -> usize {
        let w = self.next;
        self.next += 1;
        self.by_id.insert(workflow.id.as_u128(), w);
        self.list.insert(w, workflow);
        w
    }

    /// Makes room for one more workflow under `max` (0: no cap) by evicting
    /// the oldest finished one; `false` when every workflow held is still
    /// pending or running.
    pub(crate) fn make_room(&mut self, max: usize) -> bool {
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
pub(crate) struct Workflow {
    pub(crate) id: Uuid,
    /// Reported name (server-facts §6.5).
    pub(crate) name: String,
    /// The submitted YAML, secret values masked (ALL-6).
    pub(crate) yaml: String,
    /// Creation time, Unix ms (the tick phase).
    pub(crate) created_ms: i64,
    /// Unix seconds.
    pub(crate) created: i64,
    pub(crate) started: Option<i64>,
    pub(crate) completed: Option<i64>,
    pub(crate) doc: Arc<WorkflowDoc>,
    /// The request's workflowFiles; dropped once no job is left to start.
    pub(crate) files: Arc<Vec<pb::FileUpload>>,
    /// One per job of `doc`, same order.
    pub(crate) jobs: Vec<WfJob>,
    /// Per job, the jobs that require it.
    pub(crate) dependents: Vec<Vec<usize>>,
    /// Pending jobs whose requirements may have changed since last examined.
    pub(crate) candidates: BTreeSet<usize>,
    /// The server-v1 engine (QUIRK-9).
    pub(crate) v1: bool,
    /// The mutant of the mock, if any (the WF-* ones act here).
    pub(crate) mutant: Option<Mutant>,
    /// QUIRK-9: a tick fired and is to be handled.
    pub(crate) tick_now: bool,
    /// QUIRK-9: a tick timer is armed.
    pub(crate) tick_armed: bool,
}

#[derive(Debug)]
pub(crate) struct WfJob {
    pub(crate) name: String,
    /// (job index, required status).
    pub(crate) requires: Vec<(usize, String)>,
    pub(crate) dependencies: Vec<String>,
    /// `None`: PENDING.
    pub(crate) status: Option<JobStatus>,
    /// Being created by the job engine (not PENDING any more for the engine).
    pub(crate) starting: bool,
    /// The job record once started.
    pub(crate) job: Option<(u64, Uuid)>,
    pub(crate) start: Option<i64>,
    pub(crate) end: Option<i64>,
    pub(crate) exit_code: i32,
    /// Canceled because a requirement could no longer hold.
    pub(crate) cascaded: bool,
}

impl WfJob {
    pub(crate) fn status_text(&self) -> &'static str {
        self.status.map_or("PENDING", JobStatus::as_str)
    }

    pub(crate) fn pending(&self) -> bool {
        self.status.is_none() && !self.starting
    }

    pub(crate) fn is_final(&self) -> bool {
        self.status.is_some_and(JobStatus::is_final)
    }
}

impl Workflow {
    pub(crate) fn requirement_holds(&self, (dep, status): &(usize, String)) -> bool {
        // WF-EXEC-2 mutant: any final status satisfies a requirement.
        if self.mutant == Some(Mutant::WfNoCascade) {
            return self.jobs.get(*dep).is_some_and(WfJob::is_final);
        }
        self.jobs
            .get(*dep)
            .is_some_and(|d| d.status_text() == status)
    }

    pub(crate) fn requirement_impossible(&self, (dep, status): &(usize, String)) -> bool {
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
    pub(crate) fn job_changed(&mut self, j: usize, now: i64) {
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

    pub(crate) fn count(&self, status: JobStatus) -> i32 {
        self.jobs
            .iter()
            .filter(|j| j.status == Some(status))
            .count() as i32
    }

    /// Every job final (whatever the status): nothing of it can change, so
    /// it may be evicted past `--max-workflows`.
    pub(crate) fn is_finished(&self) -> bool {
        !self.jobs.is_empty() && self.jobs.iter().all(WfJob::is_final)
    }

    /// WF-STATUS-1 (QUIRK-9: cascade-canceled ends CANCELED).
    pub(crate) fn status(&self) -> &'static str {
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

    pub(crate) fn info(&self) -> pb::WorkflowInfo {
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
    pub(crate) fn job_views(&self, table: &JobTable) -> Vec<pb::WorkflowJob> {
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

pub(crate) fn timestamp(secs: Option<i64>) -> Option<pb::Timestamp> {
    secs.map(|seconds| pb::Timestamp { seconds, nanos: 0 })
}

/// A workflow as the engine exports and imports it
/// ([`export`], [`import`]); times in Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WorkflowRecord {
    pub id: Uuid,
    pub name: String,
    pub yaml: String,
    pub v1: bool,
    pub created_ms: i64,
    pub started: Option<i64>,
    pub completed: Option<i64>,
    pub jobs: Vec<WorkflowJobRecord>,
}

/// A job of a [`WorkflowRecord`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WorkflowJobRecord {
    pub name: String,
    pub dependencies: Vec<String>,
    /// `None`: PENDING.
    pub status: Option<JobStatus>,
    /// The job's UUID; on import, with its sequence number in the job table.
    pub job: Option<Uuid>,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub exit_code: i32,
    pub cascaded: bool,
}

/// The session's workflows as plain records, for a snapshot
/// ([`crate::snapshot`]); the job engine's live status is not consulted.
pub(crate) fn export(wfs: &Workflows) -> Vec<WorkflowRecord> {
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
    wfs.list.values().map(workflow).collect()
}

/// Adds restored workflow records to `wfs`, whose jobs are restored already
/// (`seqs`: a job's sequence number by UUID). The records' jobs are final
/// ([`crate::snapshot`] ends the others): nothing is left to start, so the
/// YAML is not parsed again and no requirement is kept.
pub(crate) fn import(
    wfs: &mut Workflows,
    mutant: Option<Mutant>,
    records: Vec<WorkflowRecord>,
    seqs: &HashMap<Uuid, u64>,
) {
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
            mutant,
            tick_now: false,
            tick_armed: false,
        });
    }
}

/// Called under the state lock when workflow job `seq` has become
/// final: updates its workflow (if any) and cancels what can no longer run.
pub(crate) fn job_ended(wfs: &mut Workflows, jobs: &JobTable, seq: u64) {
    let Some((w, j)) = wfs.by_seq.remove(&seq) else {
        return;
    };
    let Some(job) = jobs.get(seq) else {
        return;
    };
    let (status, exit_code, end) = (job.status, job.exit_code, job.end_time);
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

/// A job to create.
pub(crate) struct Start {
    pub(crate) workflow: usize,
    pub(crate) job: usize,
    pub(crate) request: pb::RunJobRequest,
    pub(crate) dependencies: Vec<String>,
    /// An upload not among the workflowFiles (QUIRK-9 checks it this late).
    pub(crate) missing_upload: Option<String>,
}

/// Takes the dirty workflows: the jobs to start now, the ticks to arm.
pub(crate) fn collect(wfs: &mut Workflows, now_ms: i64) -> (Vec<Start>, Vec<(Uuid, Duration)>) {
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
pub(crate) fn prepare(wf: &Workflow, w: usize, j: usize) -> Start {
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
