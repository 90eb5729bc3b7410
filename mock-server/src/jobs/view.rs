//! GetJobStatus and ListJobs: a job record as the wire shows it, secrets
//! masked (ALL-6), times in RFC 3339 (ALL-3), statuses upper case (ALL-1).

use joblet_testkit::pb::union as pb;

use super::request::MASK;
use crate::behaviour::{Mutant, Quirk};
use crate::error::{Error, Result};
use crate::session::Shared;
use crate::state::Job;
use crate::time::{rfc3339, rfc3339_opt};

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
    let seq = match state.jobs.resolve(id) {
        // JOB-STATUS-2 mutant: an unknown ID answers OK with an empty record.
        Err(Error::NotFound(_)) if shared.mutant(Mutant::StatusUnknownOk) => {
            return Ok(pb::GetJobStatusRes {
                uuid: id.to_string(),
                ..Default::default()
            });
        }
        resolved => resolved?,
    };
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
        // ALL-1 mutant: the status in lower case.
        status: if shared.mutant(Mutant::LowercaseStatus) {
            job.status.as_str().to_ascii_lowercase()
        } else {
            job.status.as_str().to_string()
        },
        // ALL-3 mutant: startTime with milliseconds.
        start_time: if shared.mutant(Mutant::TimeMillis) {
            crate::time::rfc3339_local_ms(job.start_time)
        } else {
            rfc3339(job.start_time)
        },
        end_time: rfc3339_opt(job.end_time),
        exit_code: job.exit_code,
        scheduled_time: rfc3339_opt(job.scheduled_time),
        environment: plain(&s.environment),
        secret_environment: masked(&s.secret_environment),
        network: s.network.clone(),
        volumes: s.volumes.clone(),
        runtime: s.runtime.clone(),
        // JOB-STATUS-1 mutant: workDir is left out; QUIRK-14: a v5.6 node
        // reports none.
        work_dir: if shared.mutant(Mutant::StatusNoWorkDir)
            || shared.quirk(Quirk::IgnoredGpuWorkDir)
        {
            String::new()
        } else {
            s.work_dir.clone()
        },
        uploads: s.uploads.clone(),
        dependencies: s.dependencies.clone(),
        workflow_uuid: s.workflow_uuid.clone(),
        // JOB-GPU-1 mutant: the GPUs held are not reported.
        gpu_indices: if shared.mutant(Mutant::GpuIndicesHidden) {
            Vec::new()
        } else {
            job.gpu_indices.clone()
        },
        gpu_count: s.gpu_count,
        gpu_memory_mb: s.gpu_memory_mb,
        node_id: shared.config.node_id.clone(),
        timeout: echoed_timeout(shared, &s.timeout),
    })
}

/// The timeout as sent (JOB-TIMEOUT-4), or "" under its mutant.
fn echoed_timeout(shared: &Shared, timeout: &str) -> String {
    if shared.mutant(Mutant::TimeoutNotEchoed) {
        String::new()
    } else {
        timeout.to_owned()
    }
}

/// ListJobs (JOB-LIST-1). An answer larger than the gRPC message limit is
/// `RESOURCE_EXHAUSTED` naming its size, the limit and what to do, rather
/// than a message the transport cannot encode.
pub fn list(shared: &Shared) -> Result<pb::Jobs> {
    // QUIRK-4: the deployed server's ListJobs shows secret values.
    // ALL-6 mutant: the same, in the documented profile.
    let show_secrets =
        shared.quirk(Quirk::UnmaskedListJobs) || shared.mutant(Mutant::ListLeaksSecrets);
    let limit = shared.config.message_limit() as u64;
    let state = shared.state.lock();
    let job_message = |job: &Job| {
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
            end_time: rfc3339_opt(job.end_time),
            exit_code: job.exit_code,
            scheduled_time: rfc3339_opt(job.scheduled_time),
            runtime: s.runtime.clone(),
            environment: plain(&s.environment),
            secret_environment: if show_secrets {
                plain(&s.secret_environment)
            } else {
                masked(&s.secret_environment)
            },
            gpu_indices: job.gpu_indices.clone(),
            gpu_count: s.gpu_count,
            gpu_memory_mb: s.gpu_memory_mb,
            node_id: shared.config.node_id.clone(),
            timeout: echoed_timeout(shared, &s.timeout),
        }
    };
    let listed = state
        .jobs
        .iter()
        // JOB-LIST-1 mutant: finished jobs are left out.
        .filter(|(_, job)| !(shared.mutant(Mutant::ListDropsFinished) && job.status.is_final()))
        // WF-EXEC-1 mutant: jobs started by workflows are left out.
        .filter(|(_, job)| {
            !shared.mutant(Mutant::WfJobsHiddenFromList) || job.spec.workflow_uuid.is_empty()
        })
        .map(|(_, job)| job);
    let mut jobs = Vec::new();
    let mut size = 0u64;
    let mut count = 0usize;
    for job in listed {
        let message = job_message(job);
        size += prost::encoding::message::encoded_len(1, &message) as u64;
        count += 1;
        if size <= limit {
            jobs.push(message);
        } else if !jobs.is_empty() {
            // Too large: keep counting the size, without keeping the answer.
            jobs = Vec::new();
        }
    }
    if size > limit {
        return Err(Error::ResourceExhausted(format!(
            "ListJobs: the answer would be {size} bytes ({count} jobs), over the gRPC message \
             limit of {limit} bytes; delete finished jobs (DeleteJob, DeleteAllJobs), or start \
             joblet-mock with a lower --max-jobs (now {}) so that it keeps fewer finished \
             job records",
            shared.config.max_jobs
        )));
    }
    // ALL-5 mutant: newest first.
    if shared.mutant(Mutant::ListsReversed) {
        jobs.reverse();
    }
    Ok(pb::Jobs { jobs })
}
