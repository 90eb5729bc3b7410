//! Workflows in the explorer: RunWorkflow of a small set of generated
//! dependency graphs (chains, diamonds, a failing job with dependents, the
//! list form of `jobs:`, a long job, an upload given or missing from
//! `workflowFiles`), GetWorkflowStatus, GetWorkflowJobs, ListWorkflows, and
//! the workflow's jobs seen through ListJobs and GetJobStatus (WF-*). The
//! operations and calls are here; [`super::wfmodel`] judges the answers.
//!
//! Every workflow is named under the run's prefix and its jobs carry it in
//! their arguments; the cleanup stops and deletes every job a workflow
//! started ([`cleanup_jobs`]). Workflow records have no removal RPC.

use std::fmt;
use std::hash::{Hash, Hasher};

use joblet_testkit::pb;
use rand::Rng;
use rand::rngs::StdRng;

use super::call::{Answer, Call, Cmd, JobView};
use super::exec::Clients;
use super::ops::Names;
use crate::cleanup::{Leak, Resource};

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

/// A workflow an operation names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WfRef {
    /// The n-th most recent workflow of the run (modulo their count).
    Nth(u8),
    /// A v4 UUID no workflow has (from these bits).
    Unknown(u64),
}

/// A workflow operation, before its names are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WfOp {
    /// RunWorkflow of a shape (`fail`: its variant with a failing job).
    Run(Shape, bool),
    /// GetWorkflowStatus.
    Status(WfRef),
    /// GetWorkflowJobs.
    Jobs(WfRef),
    /// ListWorkflows(includeCompleted).
    List(bool),
    /// GetJobStatus of the n-th started job the model knows of a workflow.
    JobStatus(u8, u8),
    /// ListJobs, judged on the workflows' started jobs.
    ListJobs,
    /// A short pause (100 ms), so that instant jobs have ended.
    Pause,
}

/// Out of 100 operations, how many are workflow operations.
pub const SHARE: u32 = 14;

/// A workflow operation from `rng`.
pub fn op(rng: &mut StdRng) -> WfOp {
    let r = match rng.random_range(0..10) {
        0..6 => WfRef::Nth(rng.random_range(0..3)),
        _ => WfRef::Unknown(rng.random()),
    };
    match rng.random_range(0..100) {
        0..30 => {
            let shape = match rng.random_range(0..100) {
                0..18 => Shape::Chain,
                18..32 => Shape::Diamond,
                32..52 => Shape::FailDeps,
                52..70 => Shape::ListForm,
                70..82 => Shape::Long,
                82..91 => Shape::Upload,
                _ => Shape::MissingUpload,
            };
            WfOp::Run(shape, rng.random_range(0..3) == 0)
        }
        30..52 => WfOp::Status(if rng.random_range(0..6) == 0 {
            r
        } else {
            WfRef::Nth(rng.random_range(0..3))
        }),
        52..66 => WfOp::Jobs(r),
        66..80 => WfOp::List(rng.random()),
        80..88 => WfOp::JobStatus(rng.random_range(0..3), rng.random()),
        88..94 => WfOp::ListJobs,
        _ => WfOp::Pause,
    }
}

/// One job of a generated workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct Def {
    /// Its name.
    pub name: String,
    /// What it runs.
    pub cmd: Cmd,
    /// Its requirements: (index of the job, status).
    pub requires: Vec<(usize, &'static str)>,
    /// It reads the upload `in.txt`.
    pub upload: bool,
}

/// The jobs of `shape`, named with `tag` (unique to the run and workflow),
/// in an order where every requirement comes first.
pub fn defs(shape: Shape, fail: bool, tag: &str, marker: &str) -> Vec<Def> {
    let echo = |what: &str| Cmd::Echo(format!("{marker}{what}"));
    let def = |base: &str, cmd: Cmd, requires: Vec<(usize, &'static str)>| Def {
        name: format!("{base}_{tag}"),
        cmd,
        requires,
        upload: false,
    };
    const OK: &str = "COMPLETED";
    match shape {
        Shape::Chain => vec![
            def("a", echo("a"), vec![]),
            def(
                "b",
                if fail { Cmd::False } else { echo("b") },
                vec![(0, OK)],
            ),
            def("c", echo("c"), vec![(1, OK)]),
        ],
        Shape::Diamond => vec![
            def("a", if fail { Cmd::False } else { echo("a") }, vec![]),
            def("b", echo("b"), vec![(0, OK)]),
            def("c", Cmd::Sleep(50), vec![(0, OK)]),
            def("d", echo("d"), vec![(1, OK), (2, OK)]),
        ],
        Shape::FailDeps => vec![
            def("bad", Cmd::False, vec![]),
            def("next", echo("next"), vec![(0, OK)]),
            def("last", echo("last"), vec![(1, OK)]),
            def("handler", echo("handler"), vec![(0, "FAILED")]),
            def("aside", echo("aside"), vec![]),
        ],
        Shape::ListForm => vec![
            def("first", echo("first"), vec![]),
            def("second", echo("second"), vec![(0, OK)]),
            def(
                "third",
                if fail { Cmd::False } else { echo("third") },
                vec![(0, OK)],
            ),
        ],
        Shape::Long => vec![
            def("slow", Cmd::Sleep(30_000), vec![]),
            def("after", echo("after"), vec![(0, OK)]),
        ],
        Shape::Upload | Shape::MissingUpload => {
            let mut reader = def("reader", Cmd::Cat(format!("{marker}data\n")), vec![]);
            reader.upload = true;
            vec![reader, def("other", echo("other"), vec![])]
        }
    }
}

/// The YAML of a workflow named `name` with jobs `defs`.
pub fn yaml(name: &str, shape: Shape, defs: &[Def]) -> String {
    let list = shape == Shape::ListForm;
    let mut y = format!("version: \"1.0\"\nname: {name}\njobs:\n");
    for d in defs {
        let (command, args) = d.cmd.command_args();
        let args: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
        let ind = if list {
            y.push_str(&format!("  - name: {}\n", d.name));
            "    "
        } else {
            y.push_str(&format!("  {}:\n", d.name));
            "    "
        };
        y.push_str(&format!("{ind}command: {command:?}\n"));
        y.push_str(&format!("{ind}args: [{}]\n", args.join(", ")));
        if d.upload {
            y.push_str(&format!("{ind}uploads:\n{ind}  files: [\"in.txt\"]\n"));
        }
        if d.requires.is_empty() {
            continue;
        }
        if list {
            let deps: Vec<&str> = d
                .requires
                .iter()
                .map(|(r, _)| defs[*r].name.as_str())
                .collect();
            y.push_str(&format!("{ind}depends_on: [{}]\n", deps.join(", ")));
        } else {
            y.push_str(&format!("{ind}requires:\n"));
            for (r, status) in &d.requires {
                y.push_str(&format!("{ind}  - {}: {status}\n", defs[*r].name));
            }
        }
    }
    y
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
        /// The jobs.
        defs: Vec<Def>,
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

fn tag(prefix: &str, k: usize) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (prefix, k).hash(&mut h);
    format!("{k}{:05x}", h.finish() & 0xf_ffff)
}

fn wf_id(names: &Names<'_>, r: WfRef) -> Option<WfId> {
    let wfs = &names.model.workflows;
    match r {
        WfRef::Nth(_) if wfs.is_empty() => None,
        WfRef::Nth(k) => {
            let w = wfs.len() - 1 - k as usize % wfs.len();
            Some(WfId {
                id: wfs[w].uuid.clone(),
                wf: Some(w),
            })
        }
        WfRef::Unknown(bits) => {
            let hex = format!("{bits:016x}{:016x}", bits.rotate_right(23) ^ 0x27d4_eb2f);
            Some(WfId {
                id: format!(
                    "{}-{}-4{}-b{}-{}",
                    &hex[0..8],
                    &hex[8..12],
                    &hex[13..16],
                    &hex[17..20],
                    &hex[20..32]
                ),
                wf: None,
            })
        }
    }
}

/// The call `op` makes now, or `None` when it names nothing.
pub fn resolve(op: &WfOp, names: &Names<'_>) -> Option<Call> {
    match op {
        WfOp::Pause => Some(Call::Wait(100)),
        _ => wf_call(op, names).map(|c| Call::Wf(Box::new(c))),
    }
}

fn wf_call(op: &WfOp, names: &Names<'_>) -> Option<WfCall> {
    let wfs = &names.model.workflows;
    Some(match op {
        WfOp::Run(shape, fail) => {
            let k = wfs.len();
            let name = format!("{}w{k}", names.prefix);
            let defs = defs(*shape, *fail, &tag(names.prefix, k), names.prefix);
            let files = if *shape == Shape::Upload {
                vec![("in.txt".to_owned(), format!("{}data\n", names.prefix))]
            } else {
                vec![]
            };
            WfCall::Run {
                workflow: format!("{name}.yaml"),
                yaml: yaml(&name, *shape, &defs),
                files,
                shape: *shape,
                defs,
            }
        }
        WfOp::Status(r) => WfCall::Status(wf_id(names, *r)?),
        WfOp::Jobs(r) => WfCall::Jobs(wf_id(names, *r)?),
        WfOp::List(all) => WfCall::List(*all, wfs.iter().map(|w| w.uuid.clone()).collect()),
        WfOp::JobStatus(w, j) => {
            let known = started(names);
            let pick = known.get((*w as usize * 7 + *j as usize) % known.len().max(1))?;
            WfCall::JobStatus {
                wf: pick.0,
                job: pick.1,
                uuid: pick.2.clone(),
            }
        }
        WfOp::ListJobs => {
            let known = started(names);
            if known.is_empty() {
                return None;
            }
            WfCall::ListJobs(known)
        }
        WfOp::Pause => return None,
    })
}

/// The workflows' jobs whose UUID the model knows: (workflow, job, UUID).
fn started(names: &Names<'_>) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    for (w, wf) in names.model.workflows.iter().enumerate() {
        for (j, job) in wf.jobs.iter().enumerate() {
            if let Some(u) = &job.uuid {
                out.push((w, j, u.clone()));
            }
        }
    }
    out
}

fn info(w: pb::WorkflowInfo) -> Info {
    Info {
        uuid: w.uuid,
        status: w.status,
        counters: (
            w.total_jobs,
            w.completed_jobs,
            w.failed_jobs,
            w.canceled_jobs,
        ),
    }
}

fn rows(jobs: Vec<pb::WorkflowJob>) -> Vec<Row> {
    jobs.into_iter()
        .map(|j| Row {
            uuid: j.job_uuid,
            name: j.job_name,
            status: j.status,
            deps: j.dependencies,
        })
        .collect()
}

/// Makes `call` on the target.
pub async fn execute(c: &Clients, call: &WfCall) -> Answer {
    use super::exec::{err, list_view, status_view, timed};
    let mut jobs = c.job_client();
    let r = match call {
        WfCall::Run {
            workflow,
            yaml,
            files,
            ..
        } => timed(
            jobs.run_workflow(pb::RunWorkflowRequest {
                workflow: workflow.clone(),
                yaml_content: yaml.clone(),
                workflow_files: files
                    .iter()
                    .map(|(p, content)| pb::FileUpload {
                        path: p.clone(),
                        content: content.clone().into_bytes(),
                        mode: 0o644,
                        is_directory: false,
                    })
                    .collect(),
                ..Default::default()
            }),
        )
        .await
        .map(|r| Answer::Wf(WfAnswer::Run(r.workflow_uuid, r.status))),
        WfCall::Status(id) => timed(jobs.get_workflow_status(pb::GetWorkflowStatusRequest {
            workflow_uuid: id.id.clone(),
        }))
        .await
        .map(|r| Answer::Wf(WfAnswer::Status(r.workflow.map(info), rows(r.jobs)))),
        WfCall::Jobs(id) => timed(jobs.get_workflow_jobs(pb::GetWorkflowJobsRequest {
            workflow_uuid: id.id.clone(),
        }))
        .await
        .map(|r| Answer::Wf(WfAnswer::Jobs(rows(r.jobs)))),
        WfCall::List(all, ours) => timed(jobs.list_workflows(pb::ListWorkflowsRequest {
            include_completed: *all,
        }))
        .await
        .map(|r| {
            Answer::Wf(WfAnswer::List(
                r.workflows
                    .into_iter()
                    .filter(|w| ours.contains(&w.uuid))
                    .map(info)
                    .collect(),
            ))
        }),
        WfCall::JobStatus { uuid, .. } => {
            timed(jobs.get_job_status(pb::GetJobStatusReq { uuid: uuid.clone() }))
                .await
                .map(|s| Answer::Status(status_view(s)))
        }
        WfCall::ListJobs(known) => timed(jobs.list_jobs(pb::EmptyRequest {})).await.map(|l| {
            let views: Vec<JobView> = l
                .jobs
                .into_iter()
                .filter(|j| known.iter().any(|(_, _, u)| *u == j.uuid))
                .map(list_view)
                .collect();
            Answer::Jobs(views)
        }),
    };
    r.unwrap_or_else(err)
}

const FINAL: &[&str] = &["COMPLETED", "FAILED", "STOPPED", "CANCELED"];

/// The jobs workflow `id` started, once none of them can start any more:
/// the active ones are stopped (their dependents are then canceled), for
/// 2 s at most. `Err`: why they could not be listed.
pub async fn cleanup_jobs(c: &Clients, id: &str) -> Result<Vec<String>, String> {
    let mut jobs = c.job_client();
    let mut uuids: Vec<String> = Vec::new();
    for attempt in 0..40 {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let s = timed_status(&mut jobs, id).await?;
        let mut settled = true;
        for j in s {
            let started = !j.job_uuid.is_empty() && j.job_uuid != "0";
            if started && !uuids.contains(&j.job_uuid) {
                uuids.push(j.job_uuid.clone());
            }
            if !FINAL.contains(&j.status.as_str()) {
                settled = false;
                if started {
                    let _ = c.stop(&j.job_uuid).await;
                }
            }
        }
        if settled {
            return Ok(uuids);
        }
    }
    Err(format!(
        "jobs of workflow {id} still not final after 2 s (started: {uuids:?})"
    ))
}

/// `created`, with every job its workflows started (each stopped), and
/// the workflows whose jobs could not be listed or stopped.
pub async fn expand(c: &Clients, created: Vec<Resource>) -> (Vec<Resource>, Vec<Leak>) {
    let mut out = created.clone();
    let mut leaks = Vec::new();
    for r in &created {
        let Resource::Workflow(id) = r else { continue };
        match cleanup_jobs(c, id).await {
            Ok(jobs) => out.extend(jobs.into_iter().map(Resource::Job)),
            Err(reason) => leaks.push(Leak {
                case: "explore".into(),
                resource: r.clone(),
                reason,
            }),
        }
    }
    (out, leaks)
}

async fn timed_status(
    jobs: &mut pb::job_service_client::JobServiceClient<tonic::transport::Channel>,
    id: &str,
) -> Result<Vec<pb::WorkflowJob>, String> {
    super::exec::timed(jobs.get_workflow_status(pb::GetWorkflowStatusRequest {
        workflow_uuid: id.to_owned(),
    }))
    .await
    .map(|r| r.jobs)
    .map_err(|s| format!("{}: {}", joblet_testkit::code_name(s.code()), s.message()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explore_wf_yaml_1_map_and_list_forms_name_every_job_and_requirement() {
        let d = defs(Shape::Chain, true, "t", "cf-x-");
        let y = yaml("cf-x-w0", Shape::Chain, &d);
        assert!(y.contains("  b_t:\n    command: \"false\"\n"), "{y}");
        assert!(y.contains("    requires:\n      - b_t: COMPLETED\n"), "{y}");
        let d = defs(Shape::ListForm, false, "t", "cf-x-");
        let y = yaml("cf-x-w1", Shape::ListForm, &d);
        assert!(y.contains("  - name: second_t\n"), "{y}");
        assert!(y.contains("    depends_on: [first_t]\n"), "{y}");
        let d = defs(Shape::MissingUpload, false, "t", "cf-x-");
        let y = yaml("cf-x-w2", Shape::MissingUpload, &d);
        assert!(
            y.contains("    uploads:\n      files: [\"in.txt\"]\n"),
            "{y}"
        );
    }
}
