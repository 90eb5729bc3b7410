//! Which wire contract a node speaks (issue #17, item 1): v1.0.6, v2.5.9 or
//! both, and how that was decided, so a tool can judge or drive the node by
//! the right contract.
//!
//! [`detect`] asks `GetSystemStatus` first: its `server_version.proto_tag`
//! names the contract (CONTRACT-2; a node speaking both reports v2.5.9), and
//! without a tag, a Joblet server version of a known range does. Where that
//! leaves a question open (no `server_version`, an unknown tag, or a v2 tag
//! that does not say whether v1 is served too), side-effect-free reads
//! probe it: `ListWorkflows` (v1 only) and `GetJobMetrics` for an impossible
//! job (v2 only). A method a node does not serve answers UNIMPLEMENTED with
//! `unknown method` (CONTRACT-1); any other answer means it is served.
//!
//! The decision itself is the pure [`decide`], from what `GetSystemStatus`
//! answered and what the probes answered; [`detect`] only makes the calls.

use std::time::Duration;

use tonic::transport::Channel;

use crate::contract::Api;
use crate::pb;

/// The contract a node was found to speak: [`Api::V1`], [`Api::V2`] or
/// [`Api::Both`].
pub type Detected = Api;

/// How long each detection call may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The v1-only read that probes v1: `JobService/ListWorkflows`.
pub const V1_PROBE: &str = "ListWorkflows";

/// The v2-only read that probes v2: `JobService/GetJobMetrics` of a job that
/// cannot exist.
pub const V2_PROBE: &str = "GetJobMetrics";

/// The job UUID the v2 probe asks about: no node has it.
const IMPOSSIBLE_UUID: &str = "00000000-0000-0000-0000-000000000000";

/// What a node speaks, and how that was decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    /// The contract.
    pub contract: Detected,
    /// How it was decided, one line: `from server_version proto tag v2.5.9;
    /// probe: ListWorkflows UNIMPLEMENTED (unknown method)`.
    pub how: String,
    /// What `GetSystemStatus` reported, when it reported a version.
    pub server_version: Option<pb::ServerVersionInfo>,
}

impl Detection {
    /// The contract as reports name it: `v1.0.6`, `v2.5.9` or `both`.
    pub fn label(&self) -> &'static str {
        label(self.contract)
    }

    /// A contract given rather than detected (`--contract`).
    pub fn given(contract: Detected, by: &str) -> Self {
        Self {
            contract,
            how: format!("given by {by}"),
            server_version: None,
        }
    }
}

/// `v1.0.6`, `v2.5.9` or `both`: a contract as reports name it.
pub fn label(contract: Detected) -> &'static str {
    match contract {
        Api::V1 => "v1.0.6",
        Api::V2 => "v2.5.9",
        Api::Both => "both",
    }
}

impl std::fmt::Display for Detection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.label(), self.how)
    }
}

/// What `GetSystemStatus` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusAnswer {
    /// A `server_version`.
    Version(pb::ServerVersionInfo),
    /// An answer without `server_version`.
    NoVersion,
    /// No answer: the status or error, as one line.
    Failed(String),
}

/// What a probe answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Any answer but UNIMPLEMENTED `unknown method`: the method is served.
    Served,
    /// UNIMPLEMENTED `unknown method`: the method is not served.
    NotServed,
    /// No answer that tells (the connection failed, the deadline passed):
    /// why, as one line.
    Failed(String),
}

impl Probe {
    /// The probe of a call's result: `Ok` or any status but UNIMPLEMENTED
    /// with `unknown method` (or `unknown service`) is served; UNAVAILABLE,
    /// DEADLINE_EXCEEDED and CANCELLED tell nothing.
    pub fn of<T>(result: &Result<T, tonic::Status>) -> Self {
        let Err(status) = result else {
            return Probe::Served;
        };
        match status.code() {
            tonic::Code::Unimplemented
                if status.message().contains("unknown method")
                    || status.message().contains("unknown service") =>
            {
                Probe::NotServed
            }
            tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
                Probe::Failed(format!(
                    "{} {}",
                    crate::code::code_name(status.code()),
                    status.message()
                ))
            }
            _ => Probe::Served,
        }
    }

    fn text(&self, method: &str) -> String {
        match self {
            Probe::Served => format!("{method} answered"),
            Probe::NotServed => format!("{method} UNIMPLEMENTED (unknown method)"),
            Probe::Failed(why) => format!("{method} failed ({why})"),
        }
    }
}

/// What a `server_version` says on its own: the contract its proto tag names,
/// or, without a tag, the one a Joblet server version of a known range
/// speaks (v4.5.0 to v5.0.1: v1; v5.0.2 and later: v2, perhaps v1 too).
/// `None` when it says nothing.
fn clue(version: &pb::ServerVersionInfo) -> Option<(Detected, String)> {
    let tag = version.proto_tag.trim();
    match tag {
        "v1.0.6" => return Some((Api::V1, format!("server_version proto tag {tag}"))),
        "v2.5.9" => return Some((Api::V2, format!("server_version proto tag {tag}"))),
        _ => {}
    }
    if !tag.is_empty() {
        return None;
    }
    let v = version.version.trim();
    let numbers: Vec<u32> = v
        .trim_start_matches('v')
        .split(['.', '-', '+'])
        .take(3)
        .map_while(|p| p.parse().ok())
        .collect();
    let [major, minor, patch] = numbers[..] else {
        return None;
    };
    let n = (major, minor, patch);
    if n >= (5, 0, 2) {
        Some((Api::V2, format!("server_version version {v}, no proto tag")))
    } else if n >= (4, 5, 0) {
        Some((Api::V1, format!("server_version version {v}, no proto tag")))
    } else {
        None
    }
}

/// What the `GetSystemStatus` answer says, as text, when it says nothing of
/// the contract.
fn no_clue(status: &StatusAnswer) -> String {
    match status {
        StatusAnswer::Version(v) if !v.proto_tag.trim().is_empty() => format!(
            "server_version proto tag {:?} is not a known contract",
            v.proto_tag
        ),
        StatusAnswer::Version(v) if !v.version.trim().is_empty() => format!(
            "server_version version {:?} without a proto tag tells no contract",
            v.version
        ),
        StatusAnswer::Version(_) => "server_version is empty".into(),
        StatusAnswer::NoVersion => "GetSystemStatus has no server_version".into(),
        StatusAnswer::Failed(why) => format!("GetSystemStatus failed ({why})"),
    }
}

/// Which probes [`decide`] needs after `status`: `(v1 probe, v2 probe)`.
pub fn probes_needed(status: &StatusAnswer) -> (bool, bool) {
    match status {
        StatusAnswer::Version(v) => match clue(v) {
            Some((Api::V1, _)) => (false, false),
            // v2 for sure; v1 as well?
            Some(_) => (true, false),
            None => (true, true),
        },
        _ => (true, true),
    }
}

/// The contract `status` and the probes (`None`: not made) show, and how.
/// A version that names v1 is taken as is; one that names v2 asks the v1
/// probe whether v1 is served too; without either, the probes decide alone,
/// and a probe that failed counts as the other contract's complement (when
/// nothing tells at all, v1, the catalogue's contract, with the reason).
pub fn decide(status: &StatusAnswer, v1: Option<&Probe>, v2: Option<&Probe>) -> Detection {
    let server_version = match status {
        StatusAnswer::Version(v) => Some(v.clone()),
        _ => None,
    };
    let clue = server_version.as_ref().and_then(clue);
    let (contract, how) = match (clue, v1) {
        (Some((Api::V1, from)), _) => (Api::V1, format!("from {from}")),
        (Some((_, from)), Some(p)) => {
            let contract = if *p == Probe::Served {
                Api::Both
            } else {
                Api::V2
            };
            (
                contract,
                format!("from {from}; probe: {}", p.text(V1_PROBE)),
            )
        }
        (Some((_, from)), None) => (Api::V2, format!("from {from}")),
        (None, _) => from_probes(&no_clue(status), v1, v2),
    };
    Detection {
        contract,
        how,
        server_version,
    }
}

/// The decision of the probes alone (`why`: why they were needed).
fn from_probes(why: &str, v1: Option<&Probe>, v2: Option<&Probe>) -> (Detected, String) {
    let not_made = Probe::Failed("not made".into());
    let v1 = v1.unwrap_or(&not_made);
    let v2 = v2.unwrap_or(&not_made);
    let text = format!(
        "{why}; probes: {}, {}",
        v1.text(V1_PROBE),
        v2.text(V2_PROBE)
    );
    use Probe::{Failed, NotServed, Served};
    let contract = match (v1, v2) {
        (Served, Served) => Api::Both,
        (Served, _) | (Failed(_), NotServed) => Api::V1,
        (NotServed, Served | Failed(_)) | (Failed(_), Served) => Api::V2,
        (NotServed, NotServed) => {
            return (
                Api::V1,
                format!("{text}: neither contract answered, taken as v1"),
            );
        }
        (Failed(_), Failed(_)) => {
            return (Api::V1, format!("{text}: undecided, taken as v1"));
        }
    };
    (contract, text)
}

/// Asks the node behind `channel` which contract it speaks: `GetSystemStatus`,
/// then the probes [`probes_needed`] names. Every call is a read and has
/// [`CALL_TIMEOUT`]; nothing fails: what could not be learnt is in `how`.
pub async fn detect(channel: Channel) -> Detection {
    let status = system_status(channel.clone()).await;
    let (need_v1, need_v2) = probes_needed(&status);
    let v1 = if need_v1 {
        Some(probe_v1(channel.clone()).await)
    } else {
        None
    };
    let v2 = if need_v2 {
        Some(probe_v2(channel).await)
    } else {
        None
    };
    decide(&status, v1.as_ref(), v2.as_ref())
}

/// The call's result within [`CALL_TIMEOUT`] (a timeout is DEADLINE_EXCEEDED).
async fn timed<T>(
    call: impl Future<Output = Result<T, tonic::Status>>,
) -> Result<T, tonic::Status> {
    tokio::time::timeout(CALL_TIMEOUT, call)
        .await
        .unwrap_or_else(|_| {
            Err(tonic::Status::deadline_exceeded(format!(
                "no answer within {} s",
                CALL_TIMEOUT.as_secs()
            )))
        })
}

async fn system_status(channel: Channel) -> StatusAnswer {
    let mut client = pb::monitoring_service_client::MonitoringServiceClient::new(channel);
    match timed(client.get_system_status(pb::EmptyRequest {})).await {
        Ok(r) => match r.into_inner().server_version {
            Some(v) => StatusAnswer::Version(v),
            None => StatusAnswer::NoVersion,
        },
        Err(s) => StatusAnswer::Failed(format!(
            "{} {}",
            crate::code::code_name(s.code()),
            s.message()
        )),
    }
}

async fn probe_v1(channel: Channel) -> Probe {
    let mut client = pb::job_service_client::JobServiceClient::new(channel);
    let result = timed(client.list_workflows(pb::ListWorkflowsRequest {
        include_completed: false,
    }))
    .await;
    Probe::of(&result)
}

async fn probe_v2(channel: Channel) -> Probe {
    let mut client = pb::v2::job_service_client::JobServiceClient::new(channel);
    let result = timed(client.get_job_metrics(pb::v2::GetJobMetricsRequest {
        job_uuid: IMPOSSIBLE_UUID.into(),
        ..Default::default()
    }))
    .await;
    // An answer that opens a stream is served; the stream is dropped unread.
    Probe::of(&result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(tag: &str, version: &str) -> StatusAnswer {
        StatusAnswer::Version(pb::ServerVersionInfo {
            version: version.into(),
            proto_tag: tag.into(),
            ..Default::default()
        })
    }

    #[test]
    fn a_v1_tag_decides_alone() {
        let s = version("v1.0.6", "0.1.0");
        assert_eq!(probes_needed(&s), (false, false));
        let d = decide(&s, None, None);
        assert_eq!(d.contract, Api::V1);
        assert_eq!(d.how, "from server_version proto tag v1.0.6");
        assert_eq!(
            d.to_string(),
            "v1.0.6 (from server_version proto tag v1.0.6)"
        );
        assert!(d.server_version.is_some());
    }

    #[test]
    fn a_v2_tag_asks_whether_v1_is_served_too() {
        let s = version("v2.5.9", "0.1.0");
        assert_eq!(probes_needed(&s), (true, false));
        let d = decide(&s, Some(&Probe::NotServed), None);
        assert_eq!(d.contract, Api::V2);
        assert_eq!(
            d.how,
            "from server_version proto tag v2.5.9; probe: ListWorkflows UNIMPLEMENTED (unknown method)"
        );
        let d = decide(&s, Some(&Probe::Served), None);
        assert_eq!(d.contract, Api::Both);
        assert_eq!(
            d.to_string(),
            "both (from server_version proto tag v2.5.9; probe: ListWorkflows answered)"
        );
        let d = decide(&s, Some(&Probe::Failed("UNAVAILABLE x".into())), None);
        assert_eq!(d.contract, Api::V2);
        assert!(
            d.how.ends_with("ListWorkflows failed (UNAVAILABLE x)"),
            "{}",
            d.how
        );
    }

    #[test]
    fn a_joblet_version_without_a_tag_is_a_clue() {
        let s = version("", "v5.0.1");
        assert_eq!(probes_needed(&s), (false, false));
        let d = decide(&s, None, None);
        assert_eq!(d.contract, Api::V1);
        assert_eq!(d.how, "from server_version version v5.0.1, no proto tag");
        let s = version("", "5.1.0");
        assert_eq!(probes_needed(&s), (true, false));
        assert_eq!(decide(&s, Some(&Probe::NotServed), None).contract, Api::V2);
        // Too old, or not a version: the probes decide.
        for v in ["4.4.9", "dev", ""] {
            assert_eq!(probes_needed(&version("", v)), (true, true), "{v}");
        }
    }

    #[test]
    fn without_a_clue_the_probes_decide() {
        let none = StatusAnswer::NoVersion;
        assert_eq!(probes_needed(&none), (true, true));
        let d = decide(&none, Some(&Probe::Served), Some(&Probe::NotServed));
        assert_eq!(d.contract, Api::V1);
        assert_eq!(
            d.to_string(),
            "v1.0.6 (GetSystemStatus has no server_version; probes: ListWorkflows answered, GetJobMetrics UNIMPLEMENTED (unknown method))"
        );
        assert!(d.server_version.is_none());
        let d = decide(&none, Some(&Probe::NotServed), Some(&Probe::Served));
        assert_eq!(d.contract, Api::V2);
        let d = decide(&none, Some(&Probe::Served), Some(&Probe::Served));
        assert_eq!(d.contract, Api::Both);

        let unknown = version("v9.9.9", "1.0.0");
        assert_eq!(probes_needed(&unknown), (true, true));
        let d = decide(&unknown, Some(&Probe::NotServed), Some(&Probe::Served));
        assert_eq!(d.contract, Api::V2);
        assert!(
            d.how.starts_with(
                "server_version proto tag \"v9.9.9\" is not a known contract; probes: "
            ),
            "{}",
            d.how
        );
        let failed = StatusAnswer::Failed("UNAVAILABLE down".into());
        let d = decide(&failed, Some(&Probe::Served), Some(&Probe::Served));
        assert!(
            d.how
                .starts_with("GetSystemStatus failed (UNAVAILABLE down)")
        );
    }

    #[test]
    fn a_failed_probe_leaves_the_other_to_decide() {
        let none = StatusAnswer::NoVersion;
        let failed = Probe::Failed("DEADLINE_EXCEEDED".into());
        let cases = [
            (Probe::Served, failed.clone(), Api::V1),
            (failed.clone(), Probe::NotServed, Api::V1),
            (Probe::NotServed, failed.clone(), Api::V2),
            (failed.clone(), Probe::Served, Api::V2),
        ];
        for (v1, v2, want) in cases {
            assert_eq!(
                decide(&none, Some(&v1), Some(&v2)).contract,
                want,
                "{v1:?} {v2:?}"
            );
        }
        let d = decide(&none, Some(&failed), Some(&failed));
        assert_eq!(d.contract, Api::V1);
        assert!(d.how.ends_with(": undecided, taken as v1"), "{}", d.how);
        let d = decide(&none, Some(&Probe::NotServed), Some(&Probe::NotServed));
        assert!(d.how.ends_with(": neither contract answered, taken as v1"));
    }

    #[test]
    fn probes_read_the_status_a_go_server_refuses_with() {
        let refused: Result<(), _> =
            Err(crate::contract::refusal(Api::V1, "/joblet.JobService/GetJobMetrics").unwrap());
        assert_eq!(Probe::of(&refused), Probe::NotServed);
        let other: Result<(), _> = Err(tonic::Status::unimplemented("CancelJob is not supported"));
        assert_eq!(Probe::of(&other), Probe::Served);
        let not_found: Result<(), _> = Err(tonic::Status::not_found("job not found"));
        assert_eq!(Probe::of(&not_found), Probe::Served);
        assert_eq!(Probe::of(&Ok::<(), tonic::Status>(())), Probe::Served);
        let down: Result<(), _> = Err(tonic::Status::unavailable("connection refused"));
        assert!(matches!(Probe::of(&down), Probe::Failed(_)));
    }

    #[test]
    fn a_given_contract_says_so() {
        let d = Detection::given(Api::V2, "--contract");
        assert_eq!(d.to_string(), "v2.5.9 (given by --contract)");
    }
}
