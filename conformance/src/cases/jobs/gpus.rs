//! GPUs: allocation, reporting and release, and requests over the node's capacity (JOB-GPU-*).

use joblet_testkit::pb;
use tonic::Code;

use crate::case;
use crate::case::Case;
use crate::check::{self, CaseResult, ensure, ensure_eq, fail, skip};
use crate::ctx::{Ctx, describe_run, job};

pub(crate) const CASES: &[Case] = &[
    case!(
        "jobs.gpu.allocated_reported_and_released",
        ["JOB-GPU-1", "JOB-GPU-2"],
        Must,
        Mutating,
        "A GPU job gets GPUs (gpu_indices), busy GPUs answer RESOURCE_EXHAUSTED, and are free again when jobs end",
        gpu_allocation,
        quirks = ["QUIRK-12"],
        quirks_v2 = ["QUIRK-14"],
        lock = "gpu"
    ),
    case!(
        "jobs.gpu.over_node_capacity_is_invalid_argument",
        ["JOB-GPU-2", "ALL-4"],
        Must,
        Mutating,
        "More GPUs than the node has, or negative GPU values, answer INVALID_ARGUMENT",
        gpu_over_capacity,
        quirks = ["QUIRK-12"],
        quirks_v2 = ["QUIRK-14"],
    ),
];

fn gpu_job(count: i32) -> pb::RunJobRequest {
    let mut req = job("sleep", &["600"]);
    req.gpu_count = count;
    req
}

async fn gpu_allocation(cx: Ctx) -> CaseResult {
    let first = cx.run_raw(gpu_job(1)).await;
    let first = match first {
        Err(s) if s.code() == Code::InvalidArgument => {
            return Err(skip(format!(
                "the node has no GPU (RunJob{{gpu_count: 1}} answers {})",
                check::show_status(&s)
            )));
        }
        Err(s) if s.code() == Code::ResourceExhausted => {
            return Err(skip(format!(
                "every GPU of the node is busy ({})",
                check::show_status(&s)
            )));
        }
        r => check::ok(
            "RunJob{command: \"sleep\", args: [\"600\"], gpu_count: 1}",
            r,
        )?,
    };
    let mut held = vec![first.job_uuid.clone()];
    let s = cx.status(&first.job_uuid).await?;
    let call = format!(
        "GetJobStatus{{uuid: {}}} of a job with gpu_count 1",
        first.job_uuid
    );
    ensure_eq(&call, "gpu_count", &1, &s.gpu_count)?;
    ensure(
        s.gpu_indices.len() == 1,
        &call,
        "gpu_indices with one index",
        format!("gpu_indices {:?}", s.gpu_indices),
    )?;
    let listed =
        check::ok("ListJobs", cx.jobs().list_jobs(pb::EmptyRequest {}).await)?.into_inner();
    let entry = listed.jobs.iter().find(|j| j.uuid == first.job_uuid);
    ensure(
        entry.is_some_and(|j| j.gpu_count == 1 && j.gpu_indices == s.gpu_indices),
        "ListJobs",
        format!(
            "the GPU job with gpu_count 1 and gpu_indices {:?}",
            s.gpu_indices
        ),
        format!("{:?}", entry.map(|j| (j.gpu_count, j.gpu_indices.clone()))),
    )?;
    // Take GPUs until the node has none free (bounded).
    let mut exhausted = None;
    for _ in 0..64 {
        match cx.run_raw(gpu_job(1)).await {
            Ok(r) => held.push(r.job_uuid),
            Err(s) if s.code() == Code::ResourceExhausted => {
                exhausted = Some(s);
                break;
            }
            Err(s) => {
                return Err(fail(
                    "RunJob{gpu_count: 1} while other GPU jobs run",
                    "OK, or RESOURCE_EXHAUSTED once every GPU is busy",
                    check::show_status(&s),
                ));
            }
        }
    }
    if exhausted.is_none() {
        return Err(skip("the node has more than 64 GPUs: not exhausting them"));
    }
    // GPU indices of running jobs are distinct.
    let mut seen = std::collections::BTreeSet::new();
    for id in &held {
        for i in cx.status(id).await?.gpu_indices {
            ensure(
                seen.insert(i),
                &format!("GetJobStatus{{uuid: {id}}}"),
                "GPU indices no other running job holds",
                format!("index {i} held twice"),
            )?;
        }
    }
    // Freed when a job ends.
    let victim = held.remove(0);
    cx.stop(&victim).await?;
    cx.wait_final(&victim).await?;
    let again = cx.run_raw(gpu_job(1)).await;
    check::ok(
        "RunJob{gpu_count: 1} after a GPU job was stopped (its GPU is free again)",
        again,
    )?;
    Ok(())
}

async fn gpu_over_capacity(cx: Ctx) -> CaseResult {
    let req = gpu_job(4096);
    check::code_naming(
        &describe_run(&req),
        cx.run_raw(req).await,
        Code::InvalidArgument,
        &["gpu"],
    )?;
    let req = gpu_job(-1);
    check::code_naming(
        &describe_run(&req),
        cx.run_raw(req).await,
        Code::InvalidArgument,
        &["gpu"],
    )?;
    let mut req = gpu_job(0);
    req.gpu_memory_mb = -1;
    check::code_naming(
        "RunJob{gpu_memory_mb: -1}",
        cx.run_raw(req).await,
        Code::InvalidArgument,
        &["gpu"],
    )?;
    Ok(())
}
