//! Workflows in the explorer: the operations (RunWorkflow of the shapes of
//! [`super::wfshape`], GetWorkflowStatus, GetWorkflowJobs, ListWorkflows,
//! the workflows' jobs through ListJobs and GetJobStatus, short pauses)
//! and their resolution against the model into calls ([`super::wfcall`]).
//! [`super::wfexec`] makes the calls and cleans up; [`super::wfmodel`]
//! judges the answers (WF-*).
//!
//! Every workflow is named under the run's prefix and its jobs carry it in
//! their arguments.

use rand::Rng;
use rand::rngs::StdRng;

use super::call::Call;
use super::model::Model;
use super::wfcall::{Shape, WfCall, WfId};
use super::wfshape::{defs, tag, yaml};

/// A workflow an operation names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WfRef {
    /// The n-th most recent workflow of the run (modulo their count).
    Nth(u8),
    /// The first 8 characters of its UUID (ALL-2).
    Prefix(u8),
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
        0..5 => WfRef::Nth(rng.random_range(0..3)),
        5..7 => WfRef::Prefix(rng.random_range(0..3)),
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

fn wf_id(model: &Model, r: WfRef) -> Option<WfId> {
    let wfs = &model.workflows;
    match r {
        WfRef::Nth(_) | WfRef::Prefix(_) if wfs.is_empty() => None,
        WfRef::Nth(k) | WfRef::Prefix(k) => {
            let w = wfs.len() - 1 - k as usize % wfs.len();
            let uuid = &wfs[w].uuid;
            let id = match r {
                WfRef::Prefix(_) => uuid[..8.min(uuid.len())].to_owned(),
                _ => uuid.clone(),
            };
            Some(WfId { id, wf: Some(w) })
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
pub fn resolve(op: &WfOp, model: &Model, prefix: &str) -> Option<Call> {
    match op {
        WfOp::Pause => Some(Call::Wait(100)),
        _ => wf_call(op, model, prefix).map(|c| Call::Wf(Box::new(c))),
    }
}

fn wf_call(op: &WfOp, model: &Model, prefix: &str) -> Option<WfCall> {
    let wfs = &model.workflows;
    Some(match op {
        WfOp::Run(shape, fail) => {
            let k = wfs.len();
            let name = format!("{prefix}w{k}");
            let tag = tag(prefix, k);
            let defs = defs(*shape, *fail, &tag, prefix);
            let files = if *shape == Shape::Upload {
                vec![("in.txt".to_owned(), format!("{prefix}data\n"))]
            } else {
                vec![]
            };
            WfCall::Run {
                workflow: format!("{name}.yaml"),
                yaml: yaml(&name, *shape, &defs),
                files,
                shape: *shape,
                fail: *fail,
                tag,
                marker: prefix.to_owned(),
            }
        }
        WfOp::Status(r) => WfCall::Status(wf_id(model, *r)?),
        WfOp::Jobs(r) => WfCall::Jobs(wf_id(model, *r)?),
        WfOp::List(all) => WfCall::List(*all, wfs.iter().map(|w| w.uuid.clone()).collect()),
        WfOp::JobStatus(w, j) => {
            let known = started(model);
            let pick = known.get((*w as usize * 7 + *j as usize) % known.len().max(1))?;
            WfCall::JobStatus {
                wf: pick.0,
                job: pick.1,
                uuid: pick.2.clone(),
            }
        }
        WfOp::ListJobs => {
            let known = started(model);
            if known.is_empty() {
                return None;
            }
            WfCall::ListJobs(known)
        }
        WfOp::Pause => return None,
    })
}

/// The workflows' jobs whose UUID the model knows: (workflow, job, UUID).
fn started(model: &Model) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    for (w, wf) in model.workflows.iter().enumerate() {
        for (j, job) in wf.jobs.iter().enumerate() {
            if let Some(u) = &job.uuid {
                out.push((w, j, u.clone()));
            }
        }
    }
    out
}
