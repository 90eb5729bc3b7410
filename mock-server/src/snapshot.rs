//! Snapshot and Restore: a session's state as JSON.
//!
//! [`take`] captures the state of one session: its networks, volumes, installed
//! runtimes, jobs (each with its spec, status, times, exit code and the log
//! history it retains) and workflows, and its clock time. [`to_json`] and [`from_json`]
//! convert a [`Snapshot`] to and from text; [`restore`] replaces a session's
//! state with one. The control API's `Snapshot`/`Restore`, `joblet-mock ctl
//! snapshot|restore` and `RunningMock::snapshot|restore` all go through here.
//!
//! # What a restore gives back
//!
//! - Networks (built-in ones are always there and are not restored from the
//!   file), volumes, runtimes and jobs, in the snapshot's order, with their IDs.
//! - Jobs that were final (`COMPLETED`, `FAILED`, `STOPPED`, `CANCELED`) come
//!   back exactly, their log readable to the end.
//! - Jobs that were not final (`INITIALIZING`, `SCHEDULED`, `RUNNING`) come back
//!   **`STOPPED` with exit code -1**, ended at the restore, with the line
//!   [`RESTORED_LINE`] appended to their log: a running simulation (its place
//!   in a script, its timers, its uploads) is not part of the state and cannot
//!   be captured.
//! - A virtual clock moves forward to the snapshot's time if it is behind (a
//!   clock never goes back); a real clock is left alone.
//! - Workflows come back with their IDs, names, YAML (secrets masked), times
//!   and, per job, status, job UUID, times, exit code and dependencies, linked
//!   to the restored jobs: a workflow that had finished answers
//!   `GetWorkflowStatus`, `ListWorkflows` and `GetWorkflowJobs` as before.
//!   A workflow that had not finished is finished by the restore, like its
//!   jobs: a job of it that had started takes the status of its restored job
//!   (so one that was not final is **`STOPPED` with exit code -1**, ended at
//!   the restore), a job still `PENDING` is **`CANCELED`** (ended at the
//!   restore, as when a requirement can no longer hold), and the workflow is
//!   completed at the restore (`FAILED`; `CANCELED` under server-v1, QUIRK-9).
//!   Nothing of it runs any more: its engine state (uploaded workflowFiles,
//!   pending requirements, scheduler ticks) is not part of the snapshot.
//! - Fault rules, scenarios and the call journal are not part of the state: a
//!   restore keeps the session's own.
//! - Secret environment values are saved in clear, so that restored jobs keep
//!   them: treat snapshot files as you treat the test's secrets.
//!
//! A log is saved as `{"text": "..."}` when it is UTF-8, else as
//! `{"base64": "..."}`; only the history the job retains
//! (`--log-retention-bytes`) is there.
//!
//! # Format
//!
//! ```json
//! {
//!   "format": 1,
//!   "session": "default",
//!   "clock": { "now": "2030-01-01T00:00:00.000Z", "now_unix_ms": 1893456000000, "mode": "manual" },
//!   "networks": [ { "name": "bridge", "cidr": "172.20.0.0/16", "bridge": "joblet0", "builtin": true } ],
//!   "volumes": [ { "name": "cache", "size": "1GB", "kind": "filesystem", "path": "/opt/joblet/volumes/cache", "created": "..." } ],
//!   "runtimes": [ { "name": "python-3.11", "language": "python", "version": "3.11", ... } ],
//!   "jobs": [ {
//!     "id": "6f1c…", "status": "COMPLETED", "exit_code": 0,
//!     "start_time": "2030-01-01T00:00:00+00:00", "end_time": "2030-01-01T00:00:01+00:00",
//!     "spec": { "command": "echo", "args": ["hi"], "network": "bridge", "work_dir": "/work", ... },
//!     "log": { "text": "hi\n" }
//!   } ],
//!   "workflows": [ {
//!     "id": "0b7e…", "name": "etl", "yaml": "jobs:\n  extract: …",
//!     "created": "2030-01-01T00:00:00+00:00", "created_unix_ms": 1893456000000,
//!     "started": "2030-01-01T00:00:00+00:00", "completed": "2030-01-01T00:00:05+00:00",
//!     "jobs": [ { "name": "extract", "status": "COMPLETED", "job_uuid": "6f1c…",
//!                 "start_time": "…", "end_time": "…", "exit_code": 0 },
//!               { "name": "load", "status": "CANCELED", "dependencies": ["extract"],
//!                 "end_time": "…", "cascaded": true } ]
//!   } ]
//! }
//! ```
//!
//! Every table is captured by its own function pair (`*_out` and `*_in`) and
//! is one top-level key of [`Snapshot`]; a new table of [`State`] becomes one
//! more key and pair. Unknown keys are refused, so a snapshot is never
//! half-restored by an older mock.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::catalogue::RuntimeRecord;
use crate::error::{Error, Result};
use crate::logs::LogBuffer;
use crate::session::Shared;
use crate::state::{Job, JobSpec, JobStatus, NetworkRecord, State, VolumeRecord};
use crate::time::{rfc3339, rfc3339_ms};
use crate::workflow::table::{self, WorkflowJobRecord, WorkflowRecord};

/// The version of the snapshot format this mock writes and reads.
pub const FORMAT: u32 = 1;

/// The line appended to the log of a job restored as `STOPPED`.
pub const RESTORED_LINE: &str = "joblet-mock: restored from a snapshot; this job was not finished \
     when the snapshot was taken and its execution cannot be restored, so it is STOPPED";

/// A session's state (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// [`FORMAT`].
    pub format: u32,
    /// The session the snapshot was taken from (`default` for the default one).
    #[serde(default)]
    pub session: String,
    /// The session clock when the snapshot was taken.
    pub clock: ClockSnapshot,
    /// Networks, built-in ones included, in creation order.
    #[serde(default)]
    pub networks: Vec<NetworkSnapshot>,
    /// Volumes in creation order.
    #[serde(default)]
    pub volumes: Vec<VolumeSnapshot>,
    /// Installed runtimes in install order.
    #[serde(default)]
    pub runtimes: Vec<RuntimeSnapshot>,
    /// Jobs in creation order.
    #[serde(default)]
    pub jobs: Vec<JobSnapshot>,
    /// Workflows in creation order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workflows: Vec<WorkflowSnapshot>,
}

/// A workflow record: what GetWorkflowStatus, ListWorkflows and
/// GetWorkflowJobs show of it (the workflow's status and counts follow from
/// its jobs').
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowSnapshot {
    /// The workflow's UUID.
    pub id: String,
    /// Its reported name.
    #[serde(default)]
    pub name: String,
    /// The submitted YAML, secret values masked (as `yamlContent` shows it).
    #[serde(default)]
    pub yaml: String,
    /// Run by the server-v1 engine (QUIRK-9): shown as that engine shows it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub server_v1: bool,
    /// Creation time, RFC 3339 (informative; `created_unix_ms` counts).
    #[serde(default)]
    pub created: String,
    /// Creation time, Unix milliseconds.
    pub created_unix_ms: i64,
    /// When its first job started, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    /// When its last job became final, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<String>,
    /// Its jobs, in the order of the YAML.
    #[serde(default)]
    pub jobs: Vec<WorkflowJobSnapshot>,
}

/// A job of a workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowJobSnapshot {
    /// Its name in the YAML.
    pub name: String,
    /// `PENDING` until started, then a job status (upper case).
    pub status: String,
    /// The job (one of the snapshot's `jobs`), once started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_uuid: Option<String>,
    /// The jobs it depends on, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    #[serde(default)]
    pub exit_code: i32,
    /// Canceled by the engine because it could no longer run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cascaded: bool,
}

/// The session clock of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSnapshot {
    /// RFC 3339 in UTC with milliseconds (informative; `now_unix_ms` counts).
    #[serde(default)]
    pub now: String,
    /// Unix milliseconds.
    pub now_unix_ms: i64,
    /// `real`, `virtual` or `manual` (informative).
    #[serde(default)]
    pub mode: String,
}

/// A network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSnapshot {
    pub name: String,
    #[serde(default)]
    pub cidr: String,
    #[serde(default)]
    pub bridge: String,
    /// Built in (`bridge`, `isolated`, `none`): always present, not restored.
    #[serde(default)]
    pub builtin: bool,
}

/// A volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeSnapshot {
    pub name: String,
    #[serde(default)]
    pub size: String,
    /// `filesystem` or `memory`.
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub path: String,
    /// Creation time, RFC 3339.
    pub created: String,
}

/// An installed runtime, as the catalogue describes it.
pub type RuntimeSnapshot = RuntimeRecord;

/// A job record with its retained log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSnapshot {
    /// The job's UUID.
    pub id: String,
    /// What was asked.
    pub spec: JobSpecSnapshot,
    /// `COMPLETED`, `RUNNING`, ... (upper case, as on the wire).
    pub status: String,
    /// Submission time, RFC 3339.
    pub start_time: String,
    /// End time, RFC 3339, once final.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// The requested schedule, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_time: Option<String>,
    #[serde(default)]
    pub exit_code: i32,
    /// The GPUs the job was given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpu_indices: Vec<i32>,
    /// The retained log history.
    #[serde(default)]
    pub log: LogSnapshot,
}

/// What a job was asked to run (the fields of its RunJob request that the
/// record keeps); secret values in clear (see the module docs).
pub type JobSpecSnapshot = JobSpec;

/// A job's retained log: `{"text": "..."}` or `{"base64": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum LogSnapshot {
    /// UTF-8 output.
    Text(String),
    /// Any other output, base64 (standard alphabet, padded).
    Base64(String),
}

impl Default for LogSnapshot {
    fn default() -> Self {
        Self::Text(String::new())
    }
}

impl LogSnapshot {
    fn of(bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(text) => Self::Text(text.to_owned()),
            Err(_) => Self::Base64(base64::engine::general_purpose::STANDARD.encode(bytes)),
        }
    }

    fn bytes(&self, field: &str) -> Result<Vec<u8>> {
        match self {
            Self::Text(t) => Ok(t.as_bytes().to_vec()),
            Self::Base64(b) => base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .map_err(|e| Error::invalid(format!("{field}.base64"), format!("not base64: {e}"))),
        }
    }
}

/// What `restore` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestoreSummary {
    /// Jobs restored.
    pub jobs: usize,
    /// Of those, jobs that were not final and are now `STOPPED` (-1).
    pub stopped: usize,
    /// User networks restored (built-in ones not counted).
    pub networks: usize,
    pub volumes: usize,
    pub runtimes: usize,
    /// Workflow records rebuilt.
    pub workflows: usize,
}

// ---------------------------------------------------------------------------
// Taking a snapshot

/// The state of `shared` now.
pub fn take(shared: &Shared) -> Snapshot {
    let clock = ClockSnapshot {
        now: rfc3339_ms(shared.clock.now_ms()),
        now_unix_ms: shared.clock.now_ms(),
        mode: shared.clock.mode().name().to_owned(),
    };
    let state = shared.state.lock();
    Snapshot {
        format: FORMAT,
        session: crate::session::label(&shared.session).to_owned(),
        clock,
        networks: state.networks.iter().map(network_out).collect(),
        volumes: state.volumes.iter().map(volume_out).collect(),
        runtimes: state.runtimes.clone(),
        jobs: state.jobs.iter().map(|(_, job)| job_out(job)).collect(),
        workflows: table::export(&state.workflows)
            .iter()
            .map(workflow_out)
            .collect(),
    }
}

fn workflow_out(w: &WorkflowRecord) -> WorkflowSnapshot {
    WorkflowSnapshot {
        id: w.id.to_string(),
        name: w.name.clone(),
        yaml: w.yaml.clone(),
        server_v1: w.v1,
        created: rfc3339(w.created_ms.div_euclid(1000)),
        created_unix_ms: w.created_ms,
        started: w.started.map(rfc3339),
        completed: w.completed.map(rfc3339),
        jobs: w
            .jobs
            .iter()
            .map(|j| WorkflowJobSnapshot {
                name: j.name.clone(),
                status: j.status.map_or("PENDING", JobStatus::as_str).to_owned(),
                job_uuid: j.job.map(|id| id.to_string()),
                dependencies: j.dependencies.clone(),
                start_time: j.start.map(rfc3339),
                end_time: j.end.map(rfc3339),
                exit_code: j.exit_code,
                cascaded: j.cascaded,
            })
            .collect(),
    }
}

/// `snapshot` as pretty-printed JSON.
pub fn to_json(snapshot: &Snapshot) -> String {
    serde_json::to_string_pretty(snapshot).unwrap_or_else(|e| {
        // Every field is a string, number, list or map: this cannot fail.
        tracing::error!("cannot encode a snapshot: {e}");
        String::from("{}")
    })
}

/// Parses a snapshot; `INVALID_ARGUMENT` naming `json`, the line and column.
pub fn from_json(json: &str) -> Result<Snapshot> {
    let snap: Snapshot = serde_json::from_str(json)
        .map_err(|e| Error::invalid("json", format!("not a joblet-mock snapshot: {e}")))?;
    if snap.format != FORMAT {
        return Err(Error::invalid(
            "json",
            format!(
                "snapshot format {} is not supported (this mock reads format {FORMAT})",
                snap.format
            ),
        ));
    }
    Ok(snap)
}

fn network_out(n: &NetworkRecord) -> NetworkSnapshot {
    NetworkSnapshot {
        name: n.name.clone(),
        cidr: n.cidr.clone(),
        bridge: n.bridge.clone(),
        builtin: n.builtin,
    }
}

fn volume_out(v: &VolumeRecord) -> VolumeSnapshot {
    VolumeSnapshot {
        name: v.name.clone(),
        size: v.size.clone(),
        kind: v.kind.clone(),
        path: v.path.clone(),
        created: rfc3339(v.created),
    }
}

fn job_out(job: &Job) -> JobSnapshot {
    JobSnapshot {
        id: job.id.to_string(),
        spec: JobSpec::clone(&job.spec),
        status: job.status.as_str().to_owned(),
        start_time: rfc3339(job.start_time),
        end_time: job.end_time.map(rfc3339),
        scheduled_time: job.scheduled_time.map(rfc3339),
        exit_code: job.exit_code,
        gpu_indices: job.gpu_indices.clone(),
        log: LogSnapshot::of(&job.log.snapshot()),
    }
}

// ---------------------------------------------------------------------------
// Restoring

/// Replaces the state of `shared` with `snapshot` (see the module docs for
/// what comes back). The snapshot is checked completely first: on an error
/// (`INVALID_ARGUMENT` naming the offending key, e.g. `jobs[2].status`) the
/// session is left as it was.
pub async fn restore(shared: &Shared, snapshot: &Snapshot) -> Result<RestoreSummary> {
    let mut state = shared.fresh_state();
    let mut summary = RestoreSummary::default();
    networks_in(&mut state, &snapshot.networks)?;
    summary.networks = state.networks.iter().filter(|n| !n.builtin).count();
    state.volumes = volumes_in(&snapshot.volumes)?;
    summary.volumes = state.volumes.len();
    state.runtimes = runtimes_in(&snapshot.runtimes)?;
    summary.runtimes = state.runtimes.len();
    let jobs = jobs_in(&snapshot.jobs)?;
    let job_ids: HashSet<Uuid> = jobs.iter().map(|p| p.job.id).collect();
    let mut workflows = workflows_in(&snapshot.workflows, &job_ids)?;

    // Checked: from here on the session changes. Its current jobs end first
    // (their tasks stop, their logs close), then the clock catches up.
    shared.abort_all();
    if shared.clock.is_virtual() && snapshot.clock.now_unix_ms > shared.clock.now_ms() {
        // Cannot fail: the clock is virtual.
        let _ = shared.clock.advance_to(snapshot.clock.now_unix_ms).await;
    }
    let now = shared.clock.now_secs();
    let retention = shared.config.log_retention_bytes;
    // Each restored job: its sequence number and how it ended.
    let mut restored: HashMap<Uuid, (u64, JobStatus, i32, Option<i64>)> = HashMap::new();
    for pending in jobs {
        // No reader and no grace: history beyond the retention is dropped at
        // once, as it would have been on the node.
        let log = LogBuffer::accounted(retention, Duration::ZERO, Arc::clone(&shared.account));
        let mut out = log.writer();
        out.write(pending.log).await;
        let mut job = pending.job;
        if !job.status.is_final() {
            out.line(RESTORED_LINE).await;
            job.status = JobStatus::Stopped;
            job.exit_code = -1;
            job.end_time = Some(now);
            summary.stopped += 1;
        }
        log.close();
        job.log = log;
        let (id, status, exit_code, end) = (job.id, job.status, job.exit_code, job.end_time);
        let seq = state.jobs.insert(job);
        restored.insert(id, (seq, status, exit_code, end));
        summary.jobs += 1;
    }
    for w in &mut workflows {
        finish_workflow(w, &restored, now);
    }
    summary.workflows = workflows.len();
    let seqs: HashMap<Uuid, u64> = restored.iter().map(|(id, r)| (*id, r.0)).collect();
    table::import(
        &mut state.workflows,
        shared.behaviour.mutant,
        workflows,
        &seqs,
    );
    // --max-jobs holds for restored jobs too; then the memory budget.
    state.jobs.evict_past_cap();
    let old = std::mem::replace(&mut *shared.state.lock(), state);
    drop(old);
    shared.account.budget().relieve();
    Ok(summary)
}

/// Ends what a restored workflow had not finished (see the module docs): a
/// started job takes the end of its restored job, a pending one is canceled.
fn finish_workflow(
    w: &mut WorkflowRecord,
    restored: &HashMap<Uuid, (u64, JobStatus, i32, Option<i64>)>,
    now: i64,
) {
    for j in &mut w.jobs {
        if j.status.is_some_and(JobStatus::is_final) {
            continue;
        }
        match j.job.and_then(|id| restored.get(&id)) {
            Some(&(_, status, exit_code, end)) => {
                j.status = Some(status);
                j.exit_code = exit_code;
                j.end = end.or(Some(now));
            }
            None => {
                j.status = Some(JobStatus::Canceled);
                j.cascaded = true;
                j.end = Some(now);
            }
        }
    }
    if w.completed.is_none() && !w.jobs.is_empty() {
        w.completed = Some(now);
    }
}

fn networks_in(state: &mut State, networks: &[NetworkSnapshot]) -> Result<()> {
    let mut seen = HashSet::new();
    for (i, n) in networks.iter().enumerate() {
        let field = format!("networks[{i}]");
        if !seen.insert(n.name.as_str()) {
            return Err(Error::invalid(
                format!("{field}.name"),
                format!("network {:?} appears twice", n.name),
            ));
        }
        let existing = state.network(&n.name).map(|r| r.builtin);
        match (existing, n.builtin) {
            (Some(true), _) => continue,
            (None, true) => {
                return Err(Error::invalid(
                    format!("{field}.builtin"),
                    format!(
                        "{:?} is not a built-in network (bridge, isolated, none)",
                        n.name
                    ),
                ));
            }
            _ => {}
        }
        if n.name.trim().is_empty() {
            return Err(Error::invalid(format!("{field}.name"), "must not be empty"));
        }
        state.networks.push(NetworkRecord {
            name: n.name.clone(),
            cidr: n.cidr.clone(),
            bridge: n.bridge.clone(),
            builtin: false,
            listed: true,
        });
    }
    Ok(())
}

fn volumes_in(volumes: &[VolumeSnapshot]) -> Result<Vec<VolumeRecord>> {
    let mut seen = HashSet::new();
    volumes
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let field = format!("volumes[{i}]");
            if v.name.trim().is_empty() {
                return Err(Error::invalid(format!("{field}.name"), "must not be empty"));
            }
            if !seen.insert(v.name.as_str()) {
                return Err(Error::invalid(
                    format!("{field}.name"),
                    format!("volume {:?} appears twice", v.name),
                ));
            }
            Ok(VolumeRecord {
                name: v.name.clone(),
                size: v.size.clone(),
                kind: v.kind.clone(),
                path: v.path.clone(),
                created: time_in(&format!("{field}.created"), &v.created)?,
            })
        })
        .collect()
}

fn runtimes_in(runtimes: &[RuntimeSnapshot]) -> Result<Vec<RuntimeRecord>> {
    let mut seen = HashSet::new();
    runtimes
        .iter()
        .enumerate()
        .map(|(i, r)| {
            // Versions of one name (BuildRuntime) are distinct runtimes.
            if r.name.trim().is_empty() || !seen.insert((r.name.as_str(), r.version.as_str())) {
                return Err(Error::invalid(
                    format!("runtimes[{i}].name"),
                    format!(
                        "{:?} is empty or appears twice with version {:?}",
                        r.name, r.version
                    ),
                ));
            }
            Ok(r.clone())
        })
        .collect()
}

/// A job checked and ready to insert, with its log bytes.
struct PendingJob {
    job: Job,
    log: Vec<u8>,
}

fn jobs_in(jobs: &[JobSnapshot]) -> Result<Vec<PendingJob>> {
    let mut seen = HashSet::new();
    jobs.iter()
        .enumerate()
        .map(|(i, j)| {
            let field = format!("jobs[{i}]");
            let id = uuid_in(&format!("{field}.id"), &j.id)?;
            if !seen.insert(id) {
                return Err(Error::invalid(
                    format!("{field}.id"),
                    format!("job {id} appears twice"),
                ));
            }
            let status = status_in(&format!("{field}.status"), &j.status)?;
            if j.spec.command.trim().is_empty() {
                return Err(Error::invalid(
                    format!("{field}.spec.command"),
                    "must not be empty",
                ));
            }
            let job = Job {
                id,
                spec: Arc::new(j.spec.clone()),
                status,
                start_time: time_in(&format!("{field}.start_time"), &j.start_time)?,
                end_time: opt_time_in(&field, "end_time", &j.end_time)?,
                scheduled_time: opt_time_in(&field, "scheduled_time", &j.scheduled_time)?,
                exit_code: j.exit_code,
                gpu_indices: j.gpu_indices.clone(),
                // Replaced by the restored log.
                log: LogBuffer::new(1),
                // A snapshot does not carry telemetry: the job's history starts empty.
                telemetry: Default::default(),
                task: None,
                charge: Default::default(),
            };
            Ok(PendingJob {
                job,
                log: j.log.bytes(&format!("{field}.log"))?,
            })
        })
        .collect()
}

fn workflows_in(
    workflows: &[WorkflowSnapshot],
    job_ids: &HashSet<Uuid>,
) -> Result<Vec<WorkflowRecord>> {
    let mut seen = HashSet::new();
    let mut linked = HashSet::new();
    workflows
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let field = format!("workflows[{i}]");
            let id = uuid_in(&format!("{field}.id"), &w.id)?;
            if !seen.insert(id) {
                return Err(Error::invalid(
                    format!("{field}.id"),
                    format!("workflow {id} appears twice"),
                ));
            }
            let mut names = HashSet::new();
            let jobs = w
                .jobs
                .iter()
                .enumerate()
                .map(|(k, j)| {
                    let field = format!("{field}.jobs[{k}]");
                    if j.name.trim().is_empty() || !names.insert(j.name.as_str()) {
                        return Err(Error::invalid(
                            format!("{field}.name"),
                            format!("{:?} is empty or appears twice", j.name),
                        ));
                    }
                    let status = if j.status.trim().eq_ignore_ascii_case("PENDING") {
                        None
                    } else {
                        Some(status_in(&format!("{field}.status"), &j.status)?)
                    };
                    let job = j
                        .job_uuid
                        .as_deref()
                        .filter(|u| !u.trim().is_empty())
                        .map(|u| uuid_in(&format!("{field}.job_uuid"), u))
                        .transpose()?;
                    if let Some(job) = job {
                        if !job_ids.contains(&job) {
                            return Err(Error::invalid(
                                format!("{field}.job_uuid"),
                                format!("job {job} is not among the snapshot's jobs"),
                            ));
                        }
                        if !linked.insert(job) {
                            return Err(Error::invalid(
                                format!("{field}.job_uuid"),
                                format!("job {job} belongs to another workflow job already"),
                            ));
                        }
                    }
                    Ok(WorkflowJobRecord {
                        name: j.name.clone(),
                        dependencies: j.dependencies.clone(),
                        status,
                        job,
                        start: opt_time_in(&field, "start_time", &j.start_time)?,
                        end: opt_time_in(&field, "end_time", &j.end_time)?,
                        exit_code: j.exit_code,
                        cascaded: j.cascaded,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(WorkflowRecord {
                id,
                name: w.name.clone(),
                yaml: w.yaml.clone(),
                v1: w.server_v1,
                created_ms: w.created_unix_ms,
                started: opt_time_in(&field, "started", &w.started)?,
                completed: opt_time_in(&field, "completed", &w.completed)?,
                jobs,
            })
        })
        .collect()
}

fn uuid_in(field: &str, text: &str) -> Result<Uuid> {
    Uuid::parse_str(text.trim())
        .map_err(|e| Error::invalid(field, format!("{text:?} is not a UUID: {e}")))
}

fn status_in(field: &str, text: &str) -> Result<JobStatus> {
    const ALL: [JobStatus; 8] = [
        JobStatus::Initializing,
        JobStatus::Scheduled,
        JobStatus::Running,
        JobStatus::Completed,
        JobStatus::Failed,
        JobStatus::Stopped,
        JobStatus::Canceled,
        JobStatus::Timeout,
    ];
    let wanted = text.trim().to_ascii_uppercase();
    ALL.into_iter()
        .find(|s| s.as_str() == wanted)
        .ok_or_else(|| {
            Error::invalid(
                field,
                format!(
                    "{text:?} is not a job status (one of {})",
                    ALL.map(JobStatus::as_str).join(", ")
                ),
            )
        })
}

/// `{field}.{name}`, an optional time: `None` when absent or blank.
fn opt_time_in(field: &str, name: &str, text: &Option<String>) -> Result<Option<i64>> {
    text.as_deref()
        .filter(|t| !t.trim().is_empty())
        .map(|t| time_in(&format!("{field}.{name}"), t))
        .transpose()
}

fn time_in(field: &str, text: &str) -> Result<i64> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.timestamp())
        .map_err(|e| Error::invalid(field, format!("{text:?} is not an RFC 3339 time: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MockConfig;
    use crate::workflow::engine;

    #[test]
    fn logs_are_text_or_base64() {
        assert_eq!(LogSnapshot::of(b"hi\n"), LogSnapshot::Text("hi\n".into()));
        let bin = LogSnapshot::of(&[0xff, 0, 1]);
        assert_eq!(bin, LogSnapshot::Base64("/wAB".into()));
        assert_eq!(bin.bytes("x").unwrap(), [0xff, 0, 1]);
        let json = serde_json::to_string(&bin).unwrap();
        assert_eq!(json, r#"{"base64":"/wAB"}"#);
        let e = LogSnapshot::Base64("!!".into())
            .bytes("jobs[0].log")
            .unwrap_err();
        assert!(e.to_string().starts_with("jobs[0].log.base64:"), "{e}");
    }

    #[test]
    fn bad_json_names_the_problem() {
        let e = from_json("{").unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert!(e.to_string().starts_with("json:"), "{e}");
        let e = from_json(r#"{"format": 1, "clock": {"now_unix_ms": 0}, "extra": 1}"#).unwrap_err();
        assert!(e.to_string().contains("extra"), "{e}");
        let e = from_json(r#"{"format": 9, "clock": {"now_unix_ms": 0}}"#).unwrap_err();
        assert!(e.to_string().contains("format 9"), "{e}");
        assert!(from_json(r#"{"format": 1, "clock": {"now_unix_ms": 0}}"#).is_ok());
    }

    #[tokio::test]
    async fn round_trip_and_checks() {
        let shared = Shared::new(MockConfig::default());
        let mut snap = take(&shared);
        assert_eq!(snap.networks.len(), 3);
        assert!(snap.jobs.is_empty());
        snap.networks.push(NetworkSnapshot {
            name: "mine".into(),
            cidr: "10.1.0.0/24".into(),
            bridge: "br-mine".into(),
            builtin: false,
        });
        snap.jobs.push(JobSnapshot {
            id: "00000000-0000-4000-8000-000000000001".into(),
            spec: JobSpecSnapshot {
                command: "sleep".into(),
                args: vec!["60".into()],
                ..JobSpecSnapshot::default()
            },
            status: "running".into(),
            start_time: "2030-01-01T00:00:00Z".into(),
            end_time: None,
            scheduled_time: None,
            exit_code: 0,
            gpu_indices: Vec::new(),
            log: LogSnapshot::Text("started\n".into()),
        });
        let summary = restore(&shared, &from_json(&to_json(&snap)).unwrap())
            .await
            .unwrap();
        assert_eq!((summary.jobs, summary.stopped, summary.networks), (1, 1, 1));
        let back = take(&shared);
        assert_eq!(back.networks.len(), 4);
        let job = &back.jobs[0];
        assert_eq!((job.status.as_str(), job.exit_code), ("STOPPED", -1));
        let LogSnapshot::Text(log) = &job.log else {
            panic!("{:?}", job.log)
        };
        assert_eq!(log, &format!("started\n{RESTORED_LINE}\n"));

        // A bad key leaves the state alone.
        let mut bad = back.clone();
        bad.jobs[0].status = "DONE".into();
        let e = restore(&shared, &bad).await.unwrap_err();
        assert!(e.to_string().starts_with("jobs[0].status:"), "{e}");
        let mut bad = back.clone();
        bad.networks.push(bad.networks[3].clone());
        let e = restore(&shared, &bad).await.unwrap_err();
        assert!(e.to_string().starts_with("networks[4].name:"), "{e}");
        let now = take(&shared);
        assert_eq!((now.jobs, now.networks), (back.jobs, back.networks));
    }

    /// RT-BUILD-5: built runtimes (several versions of one name, with their
    /// v2 fields) survive a snapshot; a name and version twice is refused.
    #[tokio::test]
    async fn rt_build_5_built_runtimes_round_trip() {
        let shared = Shared::new(MockConfig::default());
        let mut snap = take(&shared);
        for version in ["1.0.0", "1.1.0"] {
            snap.runtimes.push(RuntimeRecord {
                name: "ml".into(),
                language: "python".into(),
                version: version.into(),
                language_version: "3.12".into(),
                libraries: vec!["libgomp1".into()],
                environment: [("A".to_string(), "1".to_string())].into(),
                build: Some(crate::catalogue::BuildRecord {
                    built_at: "2030-01-01T00:00:00+00:00".into(),
                    built_with: "joblet-mock".into(),
                    platform: "ubuntu-amd64".into(),
                }),
                original_yaml: "name: ml\n".into(),
                ..RuntimeRecord::default()
            });
        }
        let json = to_json(&snap);
        let summary = restore(&shared, &from_json(&json).unwrap()).await.unwrap();
        assert_eq!(summary.runtimes, 7);
        assert_eq!(take(&shared).runtimes, snap.runtimes);
        let mut bad = snap.clone();
        bad.runtimes.push(bad.runtimes[6].clone());
        let e = restore(&shared, &bad).await.unwrap_err();
        assert!(e.to_string().starts_with("runtimes[7].name:"), "{e}");
    }

    #[tokio::test]
    async fn unfinished_workflows_end_at_the_restore() {
        let shared = Shared::new(MockConfig::default());
        let wf = "00000000-0000-4000-8000-0000000000aa";
        let job = "00000000-0000-4000-8000-000000000002";
        let mut snap = take(&shared);
        snap.jobs.push(JobSnapshot {
            id: job.into(),
            spec: JobSpecSnapshot {
                name: "a".into(),
                command: "sleep".into(),
                workflow_uuid: wf.into(),
                ..JobSpecSnapshot::default()
            },
            status: "RUNNING".into(),
            start_time: "2030-01-01T00:00:00Z".into(),
            end_time: None,
            scheduled_time: None,
            exit_code: 0,
            gpu_indices: Vec::new(),
            log: LogSnapshot::default(),
        });
        let wf_job = |name: &str, status: &str, uuid: Option<&str>| WorkflowJobSnapshot {
            name: name.into(),
            status: status.into(),
            job_uuid: uuid.map(str::to_owned),
            dependencies: Vec::new(),
            start_time: uuid.map(|_| "2030-01-01T00:00:00Z".to_owned()),
            end_time: None,
            exit_code: 0,
            cascaded: false,
        };
        snap.workflows.push(WorkflowSnapshot {
            id: wf.into(),
            name: "wf".into(),
            yaml: "jobs: {a: {command: sleep}, b: {command: echo, requires: [{a: COMPLETED}]}}"
                .into(),
            server_v1: true,
            created: String::new(),
            created_unix_ms: 1_893_456_000_000,
            started: Some("2030-01-01T00:00:00Z".into()),
            completed: None,
            jobs: vec![
                wf_job("a", "RUNNING", Some(job)),
                wf_job("b", "PENDING", None),
            ],
        });
        let summary = restore(&shared, &from_json(&to_json(&snap)).unwrap())
            .await
            .unwrap();
        assert_eq!((summary.workflows, summary.stopped), (1, 1));
        let st = engine::status(&shared, wf).unwrap();
        let info = st.workflow.unwrap();
        // QUIRK-9: a canceled job makes a server-v1 workflow CANCELED.
        assert_eq!((info.status.as_str(), info.canceled_jobs), ("CANCELED", 0));
        assert!(info.completed_at.is_some());
        let shown: Vec<(&str, &str, &str)> = st
            .jobs
            .iter()
            .map(|j| (j.job_name.as_str(), j.status.as_str(), j.job_uuid.as_str()))
            .collect();
        assert_eq!(shown, [("a", "STOPPED", job), ("b", "CANCELED", "0")]);
        let back = take(&shared);
        let b = &back.workflows[0].jobs[1];
        assert!(b.cascaded && b.end_time.is_some(), "{b:?}");
        assert_eq!(back.workflows[0].jobs[0].exit_code, -1);

        // Links are checked.
        let mut bad = back.clone();
        bad.workflows[0].jobs[1].job_uuid = Some(job.into());
        let e = restore(&shared, &bad).await.unwrap_err();
        assert!(
            e.to_string().starts_with("workflows[0].jobs[1].job_uuid:"),
            "{e}"
        );
        let mut bad = back.clone();
        bad.workflows[0].jobs[0].status = "WAITING".into();
        let e = restore(&shared, &bad).await.unwrap_err();
        assert!(
            e.to_string().starts_with("workflows[0].jobs[0].status:"),
            "{e}"
        );
    }
}
