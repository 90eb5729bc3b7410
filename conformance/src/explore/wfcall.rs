//! The workflow calls an explored sequence makes and the answers they get,
//! reduced to what [`super::wfmodel`] judges; both print as readable text.
//! No dependency on the rest of the explorer: `call` wraps them.

use std::fmt;

/// A dependency graph the explorer submits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// a → b → c (map form, `requires`); with `fail`, b runs `false` and c
    /// is canceled.
    Chain,
    /// a → (b, c) → d; c sleeps 50 ms.
    Diamond,
    /// `bad` fails; `next` (requires it COMPLETED) and `last` (requires
    /// `next`) are canceled; `handler` (requires it FAILED) runs; `aside`
    /// is independent.
    FailDeps,
    /// The list form with `depends_on`: first → (second, third); with
    /// `fail`, third runs `false`.
    ListForm,
    /// A 30 s sleep and a job that requires it: running for the whole
    /// sequence.
    Long,
    /// `cat in.txt` with `in.txt` in workflowFiles.
    Upload,
    /// `cat in.txt` with `in.txt` missing from workflowFiles (WF-RUN-2).
    MissingUpload,
}

/// A workflow ID as the explorer meant it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WfId {
    /// The text sent.
    pub id: String,
    /// The model's workflow (index in creation order), if any.
    pub wf: Option<usize>,
}

/// A workflow call, resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum WfCall {
    /// RunWorkflow.
    Run {
        /// `workflow` (a file name under the run's prefix).
        workflow: String,
        /// yamlContent.
        yaml: String,
        /// workflowFiles: path and content.
        files: Vec<(String, String)>,
        /// The shape.
        shape: Shape,
        /// Its variant with a failing job.
        fail: bool,
        /// What the job names end with (unique to the run and workflow).
        tag: String,
        /// What the jobs' arguments start with (the run's prefix).
        marker: String,
    },
    /// GetWorkflowStatus.
    Status(WfId),
    /// GetWorkflowJobs.
    Jobs(WfId),
    /// ListWorkflows(includeCompleted); the run's workflows (UUIDs).
    List(bool, Vec<String>),
    /// GetJobStatus of job `job` of workflow `wf`, whose UUID is known.
    JobStatus {
        /// The workflow (index).
        wf: usize,
        /// The job (index).
        job: usize,
        /// Its UUID.
        uuid: String,
    },
    /// ListJobs; the workflows' started jobs: (workflow, job, UUID).
    ListJobs(Vec<(usize, usize, String)>),
}

impl WfCall {
    /// The RPC's name.
    pub fn rpc(&self) -> &'static str {
        match self {
            WfCall::Run { .. } => "RunWorkflow",
            WfCall::Status(_) => "GetWorkflowStatus",
            WfCall::Jobs(_) => "GetWorkflowJobs",
            WfCall::List(..) => "ListWorkflows",
            WfCall::JobStatus { .. } => "GetJobStatus",
            WfCall::ListJobs(_) => "ListJobs",
        }
    }
}

fn show_wf(f: &mut fmt::Formatter<'_>, rpc: &str, id: &WfId) -> fmt::Result {
    write!(f, "{rpc}{{workflowUuid: {:?}}}", id.id)?;
    match id.wf {
        Some(w) => write!(f, " (workflow #{w})"),
        None => write!(f, " (no such workflow)"),
    }
}

impl fmt::Display for WfCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WfCall::Run {
                workflow,
                yaml,
                files,
                ..
            } => {
                write!(
                    f,
                    "RunWorkflow{{workflow: {workflow:?}, yamlContent: {yaml:?}"
                )?;
                if !files.is_empty() {
                    write!(f, ", workflowFiles: {files:?}")?;
                }
                write!(f, "}}")
            }
            WfCall::Status(id) => show_wf(f, "GetWorkflowStatus", id),
            WfCall::Jobs(id) => show_wf(f, "GetWorkflowJobs", id),
            WfCall::List(all, _) => write!(f, "ListWorkflows{{includeCompleted: {all}}}"),
            WfCall::JobStatus { wf, job, uuid } => {
                write!(
                    f,
                    "GetJobStatus{{uuid: {uuid:?}}} (job #{job} of workflow #{wf})"
                )
            }
            WfCall::ListJobs(_) => write!(f, "ListJobs{{}} (the workflows' jobs)"),
        }
    }
}

/// A workflow as GetWorkflowStatus and ListWorkflows show it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Info {
    /// uuid
    pub uuid: String,
    /// status
    pub status: String,
    /// totalJobs, completedJobs, failedJobs, canceledJobs
    pub counters: (i32, i32, i32, i32),
}

/// A workflow's job as GetWorkflowStatus and GetWorkflowJobs show it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Row {
    /// jobUuid
    pub uuid: String,
    /// jobName
    pub name: String,
    /// status
    pub status: String,
    /// dependencies
    pub deps: Vec<String>,
}

/// A workflow answer, reduced to what the model judges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WfAnswer {
    /// RunWorkflow: workflowUuid, status.
    Run(String, String),
    /// GetWorkflowStatus: the workflow (if any) and its jobs.
    Status(Option<Info>, Vec<Row>),
    /// GetWorkflowJobs.
    Jobs(Vec<Row>),
    /// ListWorkflows: the run's workflows among those listed.
    List(Vec<Info>),
}

fn show_rows(f: &mut fmt::Formatter<'_>, rows: &[Row]) -> fmt::Result {
    write!(f, "[")?;
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            write!(f, ", ")?;
        }
        write!(f, "{} {} jobUuid {:?}", r.name, r.status, r.uuid)?;
    }
    write!(f, "]")
}

fn show_info(f: &mut fmt::Formatter<'_>, i: &Info) -> fmt::Result {
    let (t, c, x, k) = i.counters;
    write!(
        f,
        "{} {} total {t} completed {c} failed {x} canceled {k}",
        &i.uuid[..i.uuid.len().min(8)],
        i.status
    )
}

impl fmt::Display for WfAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WfAnswer::Run(u, s) => write!(f, "OK {{workflowUuid {u}, status {s}}}"),
            WfAnswer::Status(info, rows) => {
                write!(f, "OK {{")?;
                match info {
                    Some(i) => show_info(f, i)?,
                    None => write!(f, "no workflow")?,
                }
                write!(f, "; jobs ")?;
                show_rows(f, rows)?;
                write!(f, "}}")
            }
            WfAnswer::Jobs(rows) => {
                write!(f, "OK, jobs ")?;
                show_rows(f, rows)
            }
            WfAnswer::List(infos) => {
                write!(f, "OK, the run's: [")?;
                for (i, info) in infos.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    show_info(f, info)?;
                }
                write!(f, "]")
            }
        }
    }
}
