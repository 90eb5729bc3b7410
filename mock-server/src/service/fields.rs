//! The fields of one contract that a node of the other does not have
//! (CONTRACT-1): a node that speaks only v2 ignores the request fields only
//! v1 has and leaves the answer fields only v1 has empty, and the reverse for
//! a node of v1 alone. A node of both sends every field; each client decodes
//! its own contract's and skips the rest, as proto3 does.

use joblet_testkit::pb::union as pb;

use joblet_testkit::contract::Api;

/// RunJob's request: `name`, `workflowUuid`, `jobUuid`, `requirements` are
/// v1's; `timeout` is v2's (the job engine ignores it on v1).
pub fn run_job_request(api: Api, r: &mut pb::RunJobRequest) {
    if !api.serves_v1() {
        r.name.clear();
        r.workflow_uuid.clear();
        r.job_uuid.clear();
        r.requirements.clear();
    }
}

/// RunJob's answer: on v2 only `job_uuid` and `status` (JOB-RUN-11).
pub fn run_job(api: Api, r: pb::RunJobResponse) -> pb::RunJobResponse {
    if api.serves_v1() {
        return r;
    }
    pb::RunJobResponse {
        job_uuid: r.job_uuid,
        status: r.status,
        ..Default::default()
    }
}

/// GetJobStatus's answer: `name`, `dependencies`, `workflowUuid` are v1's,
/// `timeout` v2's.
pub fn job_status(api: Api, mut r: pb::GetJobStatusRes) -> pb::GetJobStatusRes {
    if !api.serves_v1() {
        r.name.clear();
        r.dependencies.clear();
        r.workflow_uuid.clear();
    }
    if !api.serves_v2() {
        r.timeout.clear();
    }
    r
}

/// ListJobs's answer: a job's `name` is v1's, its `timeout` v2's.
pub fn jobs(api: Api, mut r: pb::Jobs) -> pb::Jobs {
    if api == Api::Both {
        return r;
    }
    for job in &mut r.jobs {
        if !api.serves_v1() {
            job.name.clear();
        }
        if !api.serves_v2() {
            job.timeout.clear();
        }
    }
    r
}

/// The host section: v2 dropped `platform`, `platformFamily`,
/// `platformVersion`, `kernelArch`, `cpuCount` and `totalMemory`.
fn host(api: Api, h: &mut pb::HostInfo) {
    if !api.serves_v1() {
        h.platform.clear();
        h.platform_family.clear();
        h.platform_version.clear();
        h.kernel_arch.clear();
        h.cpu_count = 0;
        h.total_memory = 0;
    }
}

/// Processes: v2 dropped a process's `user`.
fn processes(api: Api, p: &mut pb::ProcessMetrics) {
    if !api.serves_v1() {
        for x in p.top_by_cpu.iter_mut().chain(p.top_by_memory.iter_mut()) {
            x.user.clear();
        }
    }
}

/// Network interfaces: `ip_addresses` and `mac_address` are v2's.
fn interfaces(api: Api, n: &mut [pb::NetworkMetrics]) {
    if !api.serves_v2() {
        for x in n {
            x.ip_addresses.clear();
            x.mac_address.clear();
        }
    }
}

/// GetSystemStatus's answer.
pub fn system_status(api: Api, mut r: pb::SystemStatusRes) -> pb::SystemStatusRes {
    if let Some(h) = r.host.as_mut() {
        host(api, h);
    }
    if let Some(p) = r.processes.as_mut() {
        processes(api, p);
    }
    interfaces(api, &mut r.networks);
    r
}

/// A StreamSystemMetrics message.
pub fn system_metrics(api: Api, mut r: pb::SystemMetricsRes) -> pb::SystemMetricsRes {
    if let Some(h) = r.host.as_mut() {
        host(api, h);
    }
    if let Some(p) = r.processes.as_mut() {
        processes(api, p);
    }
    interfaces(api, &mut r.networks);
    r
}

/// A runtime: `language_version`, `libraries`, `environment`, `build_info`
/// and `original_yaml` are v2's.
pub fn runtime(api: Api, r: &mut pb::RuntimeInfo) {
    if !api.serves_v2() {
        r.language_version.clear();
        r.libraries.clear();
        r.environment.clear();
        r.build_info = None;
        r.original_yaml.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_v2_node_answers_run_job_with_uuid_and_status_only_job_run_11() {
        let full = pb::RunJobResponse {
            job_uuid: "u".into(),
            status: "RUNNING".into(),
            command: "echo".into(),
            args: vec!["hi".into()],
            max_cpu: 5,
            ..Default::default()
        };
        assert_eq!(run_job(Api::Both, full.clone()), full);
        assert_eq!(run_job(Api::V1, full.clone()), full);
        let v2 = run_job(Api::V2, full);
        assert_eq!(
            v2,
            pb::RunJobResponse {
                job_uuid: "u".into(),
                status: "RUNNING".into(),
                ..Default::default()
            }
        );
    }

    #[test]
    fn each_contract_keeps_its_own_status_fields_contract_1() {
        let full = pb::GetJobStatusRes {
            uuid: "u".into(),
            name: "n".into(),
            dependencies: vec!["d".into()],
            workflow_uuid: "w".into(),
            timeout: "30s".into(),
            ..Default::default()
        };
        assert_eq!(job_status(Api::Both, full.clone()), full);
        let v1 = job_status(Api::V1, full.clone());
        assert_eq!((v1.name.as_str(), v1.timeout.as_str()), ("n", ""));
        let v2 = job_status(Api::V2, full);
        assert_eq!((v2.name.as_str(), v2.workflow_uuid.as_str()), ("", ""));
        assert!(v2.dependencies.is_empty());
        assert_eq!(v2.timeout, "30s");
        let mut req = pb::RunJobRequest {
            name: "n".into(),
            workflow_uuid: "w".into(),
            timeout: "1s".into(),
            ..Default::default()
        };
        run_job_request(Api::V2, &mut req);
        assert_eq!((req.name.as_str(), req.workflow_uuid.as_str()), ("", ""));
        assert_eq!(req.timeout, "1s");
    }
}
