//! The two Joblet wire contracts side by side: which methods each has
//! (CONTRACT-1), what a node that speaks one, the other or both ([`Api`])
//! serves, how a Go node refuses the rest, and the proto tag it reports
//! (CONTRACT-2). The mock serves by it (`joblet-mock --api`); the conformance
//! suite and the load generator decide by it what to call.

/// The contracts a node serves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Api {
    /// Both contracts: SDK 1.x and SDK 2.x clients on the same ports (35
    /// method paths; the 20 shared ones answer the union of both messages).
    #[default]
    Both,
    /// Exactly v1.0.6 (joblet-sdk-python 1.x, Joblet servers v4.5.0 to v5.0.1).
    V1,
    /// Exactly v2.5.9 (joblet-sdk-python 2.x, Joblet servers v5.0.2 and later).
    V2,
}

/// Methods only v1.0.6 has, as `(service, method)`.
pub const V1_ONLY: [(&str, &str); 9] = [
    ("JobService", "RunWorkflow"),
    ("JobService", "GetWorkflowStatus"),
    ("JobService", "ListWorkflows"),
    ("JobService", "GetWorkflowJobs"),
    ("RuntimeService", "InstallRuntimeFromGithub"),
    ("RuntimeService", "InstallRuntimeFromLocal"),
    ("RuntimeService", "StreamingInstallRuntimeFromGithub"),
    ("RuntimeService", "StreamingInstallRuntimeFromLocal"),
    ("RuntimeService", "ValidateRuntimeSpec"),
];

/// Methods only v2.5.9 has, as `(service, method)`.
pub const V2_ONLY: [(&str, &str); 6] = [
    ("JobService", "StreamJobMetrics"),
    ("JobService", "GetJobMetrics"),
    ("JobService", "StreamJobTelematics"),
    ("JobService", "GetJobTelematics"),
    ("RuntimeService", "BuildRuntime"),
    ("RuntimeService", "ValidateRuntimeYAML"),
];

/// The five Joblet services (the same names in both contracts).
pub const SERVICES: [&str; 5] = [
    "JobService",
    "NetworkService",
    "VolumeService",
    "MonitoringService",
    "RuntimeService",
];

impl Api {
    /// Whether v1 clients are served (v1-only methods, v1-only fields).
    pub fn serves_v1(self) -> bool {
        self != Api::V2
    }

    /// Whether v2 clients are served (v2-only methods, v2-only fields).
    pub fn serves_v2(self) -> bool {
        self != Api::V1
    }

    /// The contract a transcript line or report names: `both`, `v1`, `v2`
    /// (as the flag spells it); [`parse`](Self::parse) reads it back.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "both" => Some(Api::Both),
            "v1" => Some(Api::V1),
            "v2" => Some(Api::V2),
            _ => None,
        }
    }

    /// The flag's spelling: `both`, `v1`, `v2`.
    pub fn name(self) -> &'static str {
        match self {
            Api::Both => "both",
            Api::V1 => "v1",
            Api::V2 => "v2",
        }
    }

    /// The proto tag `GetSystemStatus.server_version` reports (CONTRACT-2):
    /// a node that speaks v2 reports v2.5.9.
    pub fn proto_tag(self) -> &'static str {
        match self {
            Api::V1 => "v1.0.6",
            Api::Both | Api::V2 => "v2.5.9",
        }
    }

    /// Whether `joblet.<service>/<method>` is a method this node serves.
    /// Unknown names are not served.
    pub fn serves(self, service: &str, method: &str) -> bool {
        if !SERVICES.contains(&service) {
            return false;
        }
        let pair = (service, method);
        if V1_ONLY.contains(&pair) {
            return self.serves_v1();
        }
        if V2_ONLY.contains(&pair) {
            return self.serves_v2();
        }
        SHARED.contains(&pair)
    }
}

/// The 20 methods both contracts have.
const SHARED: [(&str, &str); 20] = [
    ("JobService", "RunJob"),
    ("JobService", "GetJobStatus"),
    ("JobService", "StopJob"),
    ("JobService", "CancelJob"),
    ("JobService", "DeleteJob"),
    ("JobService", "DeleteAllJobs"),
    ("JobService", "GetJobLogs"),
    ("JobService", "ListJobs"),
    ("NetworkService", "CreateNetwork"),
    ("NetworkService", "ListNetworks"),
    ("NetworkService", "RemoveNetwork"),
    ("VolumeService", "CreateVolume"),
    ("VolumeService", "ListVolumes"),
    ("VolumeService", "RemoveVolume"),
    ("MonitoringService", "GetSystemStatus"),
    ("MonitoringService", "StreamSystemMetrics"),
    ("RuntimeService", "ListRuntimes"),
    ("RuntimeService", "GetRuntimeInfo"),
    ("RuntimeService", "TestRuntime"),
    ("RuntimeService", "RemoveRuntime"),
];

/// What a Go gRPC server answers for a path it does not serve (CONTRACT-1):
/// `unknown service joblet.X` when the service is not one of the five,
/// `unknown method M for service joblet.S` otherwise. `None` for paths
/// outside package `joblet` and for served methods.
pub fn refusal(api: Api, path: &str) -> Option<tonic::Status> {
    let rest = path.strip_prefix("/joblet.")?;
    let (service, method) = rest.split_once('/').unwrap_or((rest, ""));
    if !SERVICES.contains(&service) {
        return Some(tonic::Status::unimplemented(format!(
            "unknown service joblet.{service}"
        )));
    }
    if api.serves(service, method) {
        return None;
    }
    Some(tonic::Status::unimplemented(format!(
        "unknown method {method} for service joblet.{service}"
    )))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use prost::Message;

    use super::*;

    /// `(service, method)` of a contract's descriptor set.
    fn methods(set: &[u8]) -> BTreeSet<(String, String)> {
        let set = prost_types::FileDescriptorSet::decode(set).unwrap();
        let mut out = BTreeSet::new();
        for f in set.file.iter().filter(|f| f.package() == "joblet") {
            for s in &f.service {
                for m in &s.method {
                    out.insert((s.name().to_owned(), m.name().to_owned()));
                }
            }
        }
        out
    }

    fn served(api: Api) -> BTreeSet<(String, String)> {
        let all = methods(crate::FILE_DESCRIPTOR_SET_UNION);
        all.into_iter().filter(|(s, m)| api.serves(s, m)).collect()
    }

    #[test]
    fn each_mode_serves_exactly_its_contracts_methods_contract_1() {
        let v1 = methods(crate::FILE_DESCRIPTOR_SET);
        let v2 = methods(crate::FILE_DESCRIPTOR_SET_V2);
        assert_eq!(served(Api::V1), v1);
        assert_eq!(served(Api::V2), v2);
        assert_eq!(served(Api::Both), &v1 | &v2);
        assert_eq!(served(Api::Both).len(), 35);
    }

    #[test]
    fn refusals_read_as_a_go_server_writes_them_contract_1() {
        let r = refusal(Api::V2, "/joblet.JobService/RunWorkflow").unwrap();
        assert_eq!(r.code(), tonic::Code::Unimplemented);
        assert_eq!(
            r.message(),
            "unknown method RunWorkflow for service joblet.JobService"
        );
        let r = refusal(Api::V1, "/joblet.RuntimeService/ValidateRuntimeYAML").unwrap();
        assert_eq!(
            r.message(),
            "unknown method ValidateRuntimeYAML for service joblet.RuntimeService"
        );
        let r = refusal(Api::Both, "/joblet.FooService/Bar").unwrap();
        assert_eq!(r.message(), "unknown service joblet.FooService");
        let r = refusal(Api::Both, "/joblet.JobService/NoSuchMethod").unwrap();
        assert_eq!(
            r.message(),
            "unknown method NoSuchMethod for service joblet.JobService"
        );
        assert!(refusal(Api::Both, "/joblet.JobService/RunWorkflow").is_none());
        assert!(refusal(Api::V1, "/grpc.health.v1.Health/Check").is_none());
    }
}
