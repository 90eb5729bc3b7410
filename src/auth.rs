//! Roles and the per-RPC role tables of the Joblet contracts (AUTH-3, AUTH-4,
//! AUTH-6 to AUTH-8 of `docs/behaviours.md`): which role a client certificate
//! gives and which role may call which RPC, in the two-role model (admin and
//! viewer, both contracts) and in the four-role model of later v2 servers
//! (reader, developer, maintainer, admin, with their operation names). The
//! mock applies these tables in its server; the conformance suite judges a
//! real node's answers by them.

use std::fmt;
use std::net::SocketAddr;

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything (and every plaintext caller, AUTH-1).
    Admin,
    /// Read-only operations (AUTH-4).
    Viewer,
    /// A certificate with neither `admin` nor `viewer` OU: no Joblet RPC at all.
    Unknown,
}

impl Role {
    /// `admin`, `viewer` or `unknown`, as the server's messages spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Viewer => "viewer",
            Self::Unknown => "unknown",
        }
    }

    /// The first OU equal to `admin` or `viewer` (ASCII case-insensitive)
    /// decides; none gives [`Role::Unknown`] (AUTH-3).
    pub fn from_ous<I, S>(ous: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        ous.into_iter()
            .find_map(|ou| {
                let ou = ou.as_ref();
                if ou.eq_ignore_ascii_case("admin") {
                    Some(Self::Admin)
                } else if ou.eq_ignore_ascii_case("viewer") {
                    Some(Self::Viewer)
                } else {
                    None
                }
            })
            .unwrap_or(Self::Unknown)
    }

    /// As [`from_ous`](Self::from_ous) on a node that speaks v2 (AUTH-6): the
    /// OU `reader`, the four-role servers' read-only role, counts as `viewer`.
    pub fn from_ous_v2<I, S>(ous: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::from_ous(ous.into_iter().map(|ou| {
            let ou = ou.as_ref();
            if ou.eq_ignore_ascii_case("reader") {
                "viewer".to_owned()
            } else {
                ou.to_owned()
            }
        }))
    }

    /// The role of a client leaf certificate (DER), from its Subject OUs in
    /// order. A certificate that cannot be parsed is [`Role::Unknown`].
    #[cfg(feature = "tls")]
    pub fn from_cert_der(der: &[u8]) -> Self {
        match subject_ous(der) {
            Ok(ous) => Self::from_ous(ous),
            Err(e) => {
                tracing::debug!("cannot read the client certificate's subject: {e}");
                Self::Unknown
            }
        }
    }

    /// Whether this role may call `joblet.<service>/<method>` (AUTH-4): admin
    /// anything (a method the contract lacks included: the server answers
    /// UNIMPLEMENTED), viewer the [`Access::Read`] RPCs, unknown nothing.
    pub fn may_call(self, service: &str, method: &str) -> bool {
        match self {
            Self::Admin => true,
            Self::Viewer => access(service, method) == Some(Access::Read),
            Self::Unknown => false,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The Subject OUs of a certificate (DER), in the order they appear.
#[cfg(feature = "tls")]
pub fn subject_ous(der: &[u8]) -> Result<Vec<String>, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| e.to_string())?;
    cert.subject()
        .iter_organizational_unit()
        .map(|ou| ou.as_str().map(str::to_owned).map_err(|e| e.to_string()))
        .collect()
}

/// Who may call a Joblet RPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Admin and viewer.
    Read,
    /// Admin only.
    Write,
}

/// Every RPC of the five Joblet services (`joblet.<service>`) of both
/// contracts (29 in v1, 26 in v2, 35 in all), with its access rule in the
/// two-role model (AUTH-4, AUTH-7). A unit test checks this against the
/// descriptors.
pub const JOBLET_RPCS: &[(&str, &str, Access)] = &[
    ("JobService", "RunJob", Access::Write),
    ("JobService", "GetJobStatus", Access::Read),
    ("JobService", "StopJob", Access::Write),
    ("JobService", "CancelJob", Access::Write),
    ("JobService", "DeleteJob", Access::Write),
    ("JobService", "DeleteAllJobs", Access::Write),
    ("JobService", "GetJobLogs", Access::Read),
    ("JobService", "ListJobs", Access::Read),
    ("JobService", "RunWorkflow", Access::Write),
    ("JobService", "GetWorkflowStatus", Access::Read),
    ("JobService", "ListWorkflows", Access::Read),
    ("JobService", "GetWorkflowJobs", Access::Read),
    ("NetworkService", "CreateNetwork", Access::Write),
    ("NetworkService", "ListNetworks", Access::Read),
    ("NetworkService", "RemoveNetwork", Access::Write),
    ("VolumeService", "CreateVolume", Access::Write),
    ("VolumeService", "ListVolumes", Access::Read),
    ("VolumeService", "RemoveVolume", Access::Write),
    ("MonitoringService", "GetSystemStatus", Access::Read),
    ("MonitoringService", "StreamSystemMetrics", Access::Read),
    ("RuntimeService", "ListRuntimes", Access::Read),
    ("RuntimeService", "GetRuntimeInfo", Access::Read),
    ("RuntimeService", "TestRuntime", Access::Write),
    ("RuntimeService", "InstallRuntimeFromGithub", Access::Write),
    ("RuntimeService", "InstallRuntimeFromLocal", Access::Write),
    (
        "RuntimeService",
        "StreamingInstallRuntimeFromGithub",
        Access::Write,
    ),
    (
        "RuntimeService",
        "StreamingInstallRuntimeFromLocal",
        Access::Write,
    ),
    ("RuntimeService", "ValidateRuntimeSpec", Access::Read),
    ("RuntimeService", "RemoveRuntime", Access::Write),
    // v2 only (AUTH-7).
    ("JobService", "StreamJobMetrics", Access::Read),
    ("JobService", "GetJobMetrics", Access::Read),
    ("JobService", "StreamJobTelematics", Access::Read),
    ("JobService", "GetJobTelematics", Access::Read),
    ("RuntimeService", "BuildRuntime", Access::Write),
    ("RuntimeService", "ValidateRuntimeYAML", Access::Read),
];

/// Which role model a node's TLS listener applies (the mock's `--roles`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum RoleModel {
    /// `admin` and `viewer` (AUTH-3, AUTH-4; on v2 also `reader` as viewer,
    /// AUTH-6, AUTH-7): every Joblet server up to v5.6.
    #[default]
    Two,
    /// `reader`, `developer`, `maintainer`, `admin` with their operation names
    /// (AUTH-8): later v2 servers.
    Four,
}

/// A role of the four-role model (AUTH-8), least privileged first: each may
/// do what the ones before it may, and more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FourRole {
    /// Read-only (the OU `reader`, or `viewer`).
    Reader,
    /// Runs, stops and deletes jobs; tests runtimes.
    Developer,
    /// Builds runtimes, creates networks and volumes.
    Maintainer,
    /// Everything, removals included.
    Admin,
}

impl FourRole {
    /// `reader`, `developer`, `maintainer` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reader => "reader",
            Self::Developer => "developer",
            Self::Maintainer => "maintainer",
            Self::Admin => "admin",
        }
    }

    /// The role of a certificate with these Subject OUs: of the role OUs
    /// (any ASCII case; `viewer` means `reader`) the least privileged one;
    /// `None` (the role `unknown`) without any.
    pub fn from_ous<I, S>(ous: I) -> Option<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        ous.into_iter()
            .filter_map(|ou| match ou.as_ref().to_ascii_lowercase().as_str() {
                "reader" | "viewer" => Some(Self::Reader),
                "developer" => Some(Self::Developer),
                "maintainer" => Some(Self::Maintainer),
                "admin" => Some(Self::Admin),
                _ => None,
            })
            .min()
    }
}

/// The four-role model's table (AUTH-8): for each RPC, the operation name a
/// refusal quotes and the least role that may call it. The v1-only RPCs
/// (workflows, runtime installs, ValidateRuntimeSpec) get the operation of
/// their v2 counterpart (our choice: §4.2 predates none of them).
pub const FOUR_ROLE_OPS: &[(&str, &str, &str, FourRole)] = &[
    ("JobService", "RunJob", "run_job", FourRole::Developer),
    (
        "JobService",
        "GetJobStatus",
        "get_job_status",
        FourRole::Reader,
    ),
    ("JobService", "StopJob", "stop_job", FourRole::Developer),
    ("JobService", "CancelJob", "stop_job", FourRole::Developer),
    ("JobService", "DeleteJob", "delete_job", FourRole::Developer),
    (
        "JobService",
        "DeleteAllJobs",
        "delete_job",
        FourRole::Developer,
    ),
    ("JobService", "GetJobLogs", "get_job_logs", FourRole::Reader),
    ("JobService", "ListJobs", "list_jobs", FourRole::Reader),
    (
        "JobService",
        "StreamJobMetrics",
        "get_job",
        FourRole::Reader,
    ),
    ("JobService", "GetJobMetrics", "get_job", FourRole::Reader),
    (
        "JobService",
        "StreamJobTelematics",
        "get_job",
        FourRole::Reader,
    ),
    (
        "JobService",
        "GetJobTelematics",
        "get_job",
        FourRole::Reader,
    ),
    ("JobService", "RunWorkflow", "run_job", FourRole::Developer),
    (
        "JobService",
        "GetWorkflowStatus",
        "get_job_status",
        FourRole::Reader,
    ),
    ("JobService", "ListWorkflows", "list_jobs", FourRole::Reader),
    (
        "JobService",
        "GetWorkflowJobs",
        "list_jobs",
        FourRole::Reader,
    ),
    (
        "NetworkService",
        "CreateNetwork",
        "create_network",
        FourRole::Maintainer,
    ),
    (
        "NetworkService",
        "ListNetworks",
        "list_networks",
        FourRole::Reader,
    ),
    (
        "NetworkService",
        "RemoveNetwork",
        "remove_network",
        FourRole::Admin,
    ),
    (
        "VolumeService",
        "CreateVolume",
        "create_volume",
        FourRole::Maintainer,
    ),
    (
        "VolumeService",
        "ListVolumes",
        "list_volumes",
        FourRole::Reader,
    ),
    (
        "VolumeService",
        "RemoveVolume",
        "remove_volume",
        FourRole::Admin,
    ),
    (
        "MonitoringService",
        "GetSystemStatus",
        "get_metrics",
        FourRole::Reader,
    ),
    (
        "MonitoringService",
        "StreamSystemMetrics",
        "get_metrics",
        FourRole::Reader,
    ),
    (
        "RuntimeService",
        "ListRuntimes",
        "list_runtimes",
        FourRole::Reader,
    ),
    (
        "RuntimeService",
        "GetRuntimeInfo",
        "get_runtime_info",
        FourRole::Reader,
    ),
    (
        "RuntimeService",
        "TestRuntime",
        "test_runtime",
        FourRole::Developer,
    ),
    (
        "RuntimeService",
        "BuildRuntime",
        "build_runtime",
        FourRole::Maintainer,
    ),
    (
        "RuntimeService",
        "ValidateRuntimeYAML",
        "validate_runtime",
        FourRole::Maintainer,
    ),
    (
        "RuntimeService",
        "RemoveRuntime",
        "remove_runtime",
        FourRole::Admin,
    ),
    (
        "RuntimeService",
        "InstallRuntimeFromGithub",
        "build_runtime",
        FourRole::Maintainer,
    ),
    (
        "RuntimeService",
        "InstallRuntimeFromLocal",
        "build_runtime",
        FourRole::Maintainer,
    ),
    (
        "RuntimeService",
        "StreamingInstallRuntimeFromGithub",
        "build_runtime",
        FourRole::Maintainer,
    ),
    (
        "RuntimeService",
        "StreamingInstallRuntimeFromLocal",
        "build_runtime",
        FourRole::Maintainer,
    ),
    (
        "RuntimeService",
        "ValidateRuntimeSpec",
        "validate_runtime",
        FourRole::Maintainer,
    ),
];

/// In the four-role model, whether a caller of role `role` (`None`: no role
/// OU) may call `joblet.<service>/<method>`; the refusal's message when not:
/// `"role <role> is not allowed to perform operation <op>"` (AUTH-8). A method
/// outside the table is allowed (the server answers it UNIMPLEMENTED).
pub fn four_role_check(role: Option<FourRole>, service: &str, method: &str) -> Result<(), String> {
    let Some((_, _, op, least)) = FOUR_ROLE_OPS
        .iter()
        .find(|(s, m, _, _)| *s == service && *m == method)
    else {
        return Ok(());
    };
    match role {
        Some(r) if r >= *least => Ok(()),
        Some(r) => Err(format!(
            "role {} is not allowed to perform operation {op}",
            r.as_str()
        )),
        None => Err(format!(
            "role unknown is not allowed to perform operation {op}"
        )),
    }
}

/// The access rule of `joblet.<service>/<method>`; `None` for a method the
/// contract does not have.
pub fn access(service: &str, method: &str) -> Option<Access> {
    JOBLET_RPCS
        .iter()
        .find(|(s, m, _)| *s == service && *m == method)
        .map(|(_, _, a)| *a)
}

/// What a TLS connection proved at handshake: the connection info a TLS
/// listener attaches to every request of that connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// The role of the client certificate; `None` without a certificate.
    pub role: Option<Role>,
    /// The certificate's Subject OUs in order (empty without one): a server
    /// of another role model (AUTH-6, AUTH-8) reads its role from them.
    pub ous: Vec<String>,
    /// The peer's address.
    pub remote_addr: Option<SocketAddr>,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use prost::Message;

    use super::*;

    #[cfg(feature = "tls")]
    fn cert_with_ous(ous: &[&str]) -> Vec<u8> {
        use rcgen::{CertificateParams, DnType, KeyPair};
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, "client");
        // rcgen keeps one value per attribute type: the second OU goes in as
        // the same OID spelled as a custom type.
        let types = [
            DnType::OrganizationalUnitName,
            DnType::CustomDnType(vec![2, 5, 4, 11]),
        ];
        assert!(ous.len() <= types.len());
        for (ty, ou) in types.into_iter().zip(ous) {
            params.distinguished_name.push(ty, *ou);
        }
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[cfg(feature = "tls")]
    #[test]
    fn auth_3_ou_from_rcgen_certificates() {
        assert_eq!(Role::from_cert_der(&cert_with_ous(&["ADMIN"])), Role::Admin);
        assert_eq!(
            Role::from_cert_der(&cert_with_ous(&["Viewer"])),
            Role::Viewer
        );
        assert_eq!(Role::from_cert_der(&cert_with_ous(&[])), Role::Unknown);
        assert_eq!(Role::from_cert_der(&cert_with_ous(&["ops"])), Role::Unknown);
        let two = cert_with_ous(&["something", "admin"]);
        assert_eq!(subject_ous(&two).unwrap(), ["something", "admin"]);
        assert_eq!(Role::from_cert_der(&two), Role::Admin);
        // First matching OU wins.
        assert_eq!(
            Role::from_cert_der(&cert_with_ous(&["viewer", "admin"])),
            Role::Viewer
        );
        assert_eq!(Role::from_cert_der(b"not a certificate"), Role::Unknown);
    }

    #[test]
    fn auth_3_first_matching_ou() {
        assert_eq!(Role::from_ous(["something", "admin", "other"]), Role::Admin);
        assert_eq!(Role::from_ous(["x", "VIEWER", "admin"]), Role::Viewer);
        assert_eq!(Role::from_ous(["administrators", " admin"]), Role::Unknown);
        assert_eq!(Role::from_ous(Vec::<String>::new()), Role::Unknown);
    }

    /// Every (service, method) of the v1 contract, from the embedded descriptor.
    fn contract_rpcs() -> BTreeSet<(String, String)> {
        rpcs_of(crate::FILE_DESCRIPTOR_SET)
    }

    /// Every (service, method) of an encoded descriptor set.
    fn rpcs_of(set: &[u8]) -> BTreeSet<(String, String)> {
        let fds = prost_types::FileDescriptorSet::decode(set).unwrap();
        let mut rpcs = BTreeSet::new();
        for file in fds.file.iter().filter(|f| f.package() == "joblet") {
            for service in &file.service {
                for method in &service.method {
                    rpcs.insert((service.name().to_owned(), method.name().to_owned()));
                }
            }
        }
        rpcs
    }

    #[test]
    fn auth_4_table_covers_every_rpc() {
        let table: BTreeSet<(String, String)> = JOBLET_RPCS
            .iter()
            .map(|(s, m, _)| ((*s).to_owned(), (*m).to_owned()))
            .collect();
        assert_eq!(table.len(), JOBLET_RPCS.len(), "duplicate rows");
        let v1 = contract_rpcs();
        let v2 = rpcs_of(crate::FILE_DESCRIPTOR_SET_V2);
        assert_eq!(table, &v1 | &v2);
        assert_eq!(table.intersection(&v1).count(), 29);
        assert_eq!(table.intersection(&v2).count(), 26);
        assert_eq!(table.len(), 35);
        let four: BTreeSet<(String, String)> = FOUR_ROLE_OPS
            .iter()
            .map(|(s, m, _, _)| ((*s).to_owned(), (*m).to_owned()))
            .collect();
        assert_eq!(four.len(), FOUR_ROLE_OPS.len(), "duplicate rows");
        assert_eq!(four, table, "the four-role table covers every RPC");
    }

    #[test]
    fn auth_7_viewer_operations_of_v2() {
        let v2 = rpcs_of(crate::FILE_DESCRIPTOR_SET_V2);
        let viewer: BTreeSet<&str> = JOBLET_RPCS
            .iter()
            .filter(|(s, m, a)| {
                *a == Access::Read && v2.contains(&((*s).to_owned(), (*m).to_owned()))
            })
            .map(|(_, m, _)| *m)
            .collect();
        let expected: BTreeSet<&str> = [
            "GetJobStatus",
            "ListJobs",
            "GetJobLogs",
            "StreamJobMetrics",
            "GetJobMetrics",
            "StreamJobTelematics",
            "GetJobTelematics",
            "ListNetworks",
            "ListVolumes",
            "ListRuntimes",
            "GetRuntimeInfo",
            "ValidateRuntimeYAML",
            "GetSystemStatus",
            "StreamSystemMetrics",
        ]
        .into();
        assert_eq!(viewer, expected);
    }

    #[test]
    fn auth_6_reader_counts_as_viewer_on_v2_only() {
        assert_eq!(Role::from_ous_v2(["ops", "Reader"]), Role::Viewer);
        assert_eq!(Role::from_ous_v2(["admin", "reader"]), Role::Admin);
        assert_eq!(Role::from_ous(["reader"]), Role::Unknown);
        assert_eq!(Role::from_ous_v2(["ops"]), Role::Unknown);
    }

    #[test]
    fn auth_8_four_roles_least_privilege_and_operation_names() {
        assert_eq!(
            FourRole::from_ous(["admin", "developer"]),
            Some(FourRole::Developer)
        );
        assert_eq!(FourRole::from_ous(["VIEWER"]), Some(FourRole::Reader));
        assert_eq!(FourRole::from_ous(["ops"]), None);
        let reader = Some(FourRole::Reader);
        assert!(four_role_check(reader, "JobService", "GetJobLogs").is_ok());
        assert_eq!(
            four_role_check(reader, "JobService", "RunJob").unwrap_err(),
            "role reader is not allowed to perform operation run_job"
        );
        let dev = Some(FourRole::Developer);
        assert!(four_role_check(dev, "JobService", "DeleteAllJobs").is_ok());
        assert_eq!(
            four_role_check(dev, "RuntimeService", "BuildRuntime").unwrap_err(),
            "role developer is not allowed to perform operation build_runtime"
        );
        let maint = Some(FourRole::Maintainer);
        assert!(four_role_check(maint, "NetworkService", "CreateNetwork").is_ok());
        assert_eq!(
            four_role_check(maint, "VolumeService", "RemoveVolume").unwrap_err(),
            "role maintainer is not allowed to perform operation remove_volume"
        );
        assert!(four_role_check(Some(FourRole::Admin), "RuntimeService", "RemoveRuntime").is_ok());
        assert_eq!(
            four_role_check(None, "MonitoringService", "GetSystemStatus").unwrap_err(),
            "role unknown is not allowed to perform operation get_metrics"
        );
    }

    #[test]
    fn auth_4_viewer_operations() {
        let v1 = contract_rpcs();
        let viewer: BTreeSet<&str> = JOBLET_RPCS
            .iter()
            .filter(|(s, m, a)| {
                *a == Access::Read && v1.contains(&((*s).to_owned(), (*m).to_owned()))
            })
            .map(|(_, m, _)| *m)
            .collect();
        let expected: BTreeSet<&str> = [
            "GetJobStatus",
            "ListJobs",
            "GetJobLogs",
            "GetWorkflowStatus",
            "ListWorkflows",
            "GetWorkflowJobs",
            "ListNetworks",
            "ListVolumes",
            "ListRuntimes",
            "GetRuntimeInfo",
            "ValidateRuntimeSpec",
            "GetSystemStatus",
            "StreamSystemMetrics",
        ]
        .into();
        assert_eq!(viewer, expected);
    }

    #[test]
    fn auth_4_who_may_call_what() {
        for (service, method, access) in JOBLET_RPCS {
            assert!(Role::Admin.may_call(service, method));
            assert_eq!(
                Role::Viewer.may_call(service, method),
                *access == Access::Read,
                "{service}/{method}"
            );
            assert!(!Role::Unknown.may_call(service, method));
        }
        assert!(Role::Admin.may_call("JobService", "NoSuchRpc"));
        assert!(!Role::Viewer.may_call("JobService", "NoSuchRpc"));
        assert_eq!(access("JobService", "NoSuchRpc"), None);
    }
}
