//! Roles and the per-RPC role table of the Joblet v1 contract (AUTH-3 and
//! AUTH-4 of `docs/behaviours.md`): which role a client certificate gives and
//! which role may call which RPC. The mock applies this table in its server;
//! the conformance suite judges a real node's answers by it.

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

/// Every RPC of the five Joblet services (`joblet.<service>`), with its access
/// rule (AUTH-4). A unit test checks this against the proto descriptor.
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
];

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

    /// Every (service, method) of the contract, from the embedded descriptor.
    fn contract_rpcs() -> BTreeSet<(String, String)> {
        let fds = prost_types::FileDescriptorSet::decode(crate::FILE_DESCRIPTOR_SET).unwrap();
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
        assert_eq!(table, contract_rpcs());
        assert_eq!(table.len(), 29);
    }

    #[test]
    fn auth_4_viewer_operations() {
        let viewer: BTreeSet<&str> = JOBLET_RPCS
            .iter()
            .filter(|(_, _, a)| *a == Access::Read)
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
