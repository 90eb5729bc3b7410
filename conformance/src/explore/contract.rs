//! The v2 rules the model states without state, on a node that serves v2
//! (the operations that reach them are [`super::mix`]'s): RunJob's v2 answer
//! (JOB-RUN-11), GetJobLogs without an ID (JOB-LOGS-4), the v1-only paths
//! of a node of v2 alone (CONTRACT-1), what only the v2 messages show of
//! the node (CONTRACT-2, MON-STATUS-2, RT-LIST-2) and the v2 role IDs
//! (AUTH-6, AUTH-7).

use joblet_testkit::contract::Api;
use tonic::Code;

use super::call::{Answer, Call, JobView, RunReq};
use super::checks::{self, SLACK_MS, Verdict};
pub use super::facts::Facts;
use super::identity::Who;

/// JOB-RUN-11: the answer of an accepted RunJob on a node that speaks v2
/// alone, or through the v2 messages: a v4 UUID, RUNNING (or SCHEDULED for a
/// future schedule), and nothing else (a v1 client sees its other fields
/// empty).
pub fn run_answer_v2(
    req: &RunReq,
    view: &JobView,
    sched_time: &str,
    scheduled: bool,
    start_at: f64,
    b: f64,
) -> Verdict {
    if !checks::is_v4_uuid(&view.uuid) {
        return Verdict::fail(&["ALL-2", "JOB-RUN-11"], "a lower-case v4 UUID");
    }
    let may_run = !scheduled || b + SLACK_MS >= start_at;
    let status_ok = match view.status.as_str() {
        "SCHEDULED" => scheduled,
        "RUNNING" => may_run,
        _ => false,
    };
    if !status_ok {
        let want = match (scheduled, may_run) {
            (true, true) => "SCHEDULED or RUNNING",
            (true, false) => "SCHEDULED",
            _ => "RUNNING",
        };
        return Verdict::fail(
            &["JOB-RUN-11", "JOB-RUN-5", "ALL-1"],
            &format!("status {want}"),
        );
    }
    let bare = JobView {
        uuid: view.uuid.clone(),
        status: view.status.clone(),
        timeout: view.timeout.clone(),
        ..JobView::default()
    };
    if view != &bare || !sched_time.is_empty() {
        return Verdict::fail(
            &["JOB-RUN-11"],
            "only jobUuid and status (command, args, times, exitCode and scheduledTime empty)",
        );
    }
    let mut ids = vec!["JOB-RUN-11", "ALL-2"];
    ids.extend(checks::run_arg_ids(req));
    Verdict::pass(&ids)
}

/// JOB-LOGS-4: GetJobLogs with an empty `uuid` on a node that speaks v2:
/// INVALID_ARGUMENT "job_uuid is required". (A node of v1 alone: NOT_FOUND
/// or INVALID_ARGUMENT, ALL-4.)
pub fn logs_without_id(api: Api, answer: &Answer) -> Verdict {
    if !api.serves_v2() {
        return checks::error_code(
            answer,
            &[Code::NotFound, Code::InvalidArgument],
            &["ALL-4"],
            "no job ID",
        );
    }
    match answer {
        Answer::Error(Code::InvalidArgument, m) if m.contains("job_uuid") => {
            Verdict::pass(&["JOB-LOGS-4", "ALL-4"])
        }
        _ => Verdict::fail(
            &["JOB-LOGS-4", "ALL-4"],
            "INVALID_ARGUMENT \"job_uuid is required\"",
        ),
    }
}

/// CONTRACT-1: a v1-only path on a node of v2 alone answers UNIMPLEMENTED
/// "unknown method `<Method>` for service joblet.`<Service>`".
pub fn v1_only(call: &Call, answer: &Answer) -> Verdict {
    let want = format!(
        "unknown method {} for service joblet.RuntimeService",
        call.rpc()
    );
    match answer {
        Answer::Error(Code::Unimplemented, m) if m == &want => Verdict::pass(&["CONTRACT-1"]),
        _ => Verdict::fail(&["CONTRACT-1"], &format!("UNIMPLEMENTED {want:?}")),
    }
}

/// The role `who` has on a node that serves `api`: the reader is the
/// viewer where v2 is spoken (AUTH-6), no role on a node of v1 alone
/// (AUTH-3).
pub fn role_of(api: Api, who: Who) -> Who {
    match who {
        Who::Reader if api.serves_v2() => Who::Viewer,
        Who::Reader => Who::NoRole,
        other => other,
    }
}

/// The role IDs of a verdict on `who`'s call: on a node that speaks v2
/// the v2 role rules (AUTH-6 for the certificate without a role and the
/// reader, AUTH-7 for the viewer) are judged too, and on one of v2 alone
/// instead of the v1 ones (AUTH-3, AUTH-4).
pub fn role_ids(api: Api, who: Who, mut v: Verdict) -> Verdict {
    if !api.serves_v2() {
        return v;
    }
    for (v1, v2) in [("AUTH-3", "AUTH-6"), ("AUTH-4", "AUTH-7")] {
        if v.ids.contains(&v1) {
            if !api.serves_v1() {
                v.ids.retain(|id| *id != v1);
            }
            if !v.ids.contains(&v2) {
                v.ids.push(v2);
            }
        }
    }
    if who == Who::Reader {
        v.ids.retain(|id| *id != "AUTH-3" && *id != "AUTH-4");
        if !v.ids.contains(&"AUTH-6") {
            v.ids.push("AUTH-6");
        }
    }
    v
}

/// The answer a v1 client would judge of `facts` (what both contracts
/// show), and the verdict on what only v2 shows: CONTRACT-2 (a node that
/// speaks v2 reports a proto tag of v2, not of v1), MON-STATUS-2 (the v2
/// host has its MAC addresses), RT-LIST-2 (a runtime's language_version
/// filled).
pub fn facts(api: Api, facts: &Facts) -> (Answer, Verdict) {
    match facts {
        Facts::System {
            available,
            proto_tag,
            macs,
        } => {
            let shared = Answer::System(*available);
            let tag = proto_tag.as_deref().unwrap_or("");
            let wrong = if api.serves_v2() { "v1." } else { "v2." };
            if tag.starts_with(wrong) {
                let want = if api.serves_v2() { "v2.5.9" } else { "v1.0.6" };
                return (
                    shared,
                    Verdict::fail(
                        &["CONTRACT-2"],
                        &format!("server_version.proto_tag {want:?}"),
                    ),
                );
            }
            if api.serves_v2() && macs.is_none_or(|n| n == 0) {
                return (
                    shared,
                    Verdict::fail(&["MON-STATUS-2"], "host with its mac_addresses"),
                );
            }
            (shared, Verdict::pass(&["CONTRACT-2", "MON-STATUS-2"]))
        }
        Facts::Runtimes(list) => {
            let shared = Answer::Runtimes(list.iter().map(|(n, a, _)| (n.clone(), *a)).collect());
            match list.iter().find(|(_, _, lv)| lv.is_empty()) {
                Some((n, ..)) if api.serves_v2() => (
                    shared,
                    Verdict::fail(&["RT-LIST-2"], &format!("{n}'s language_version filled")),
                ),
                _ => (shared, Verdict::pass(&["RT-LIST-2"])),
            }
        }
        Facts::Runtime(found, lv) => {
            let shared = Answer::Found(*found);
            if *found && lv.is_empty() && api.serves_v2() {
                return (
                    shared,
                    Verdict::fail(&["RT-LIST-2"], "language_version filled"),
                );
            }
            (shared, Verdict::pass(&["RT-LIST-2"]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::call::{Cmd, Sched};

    fn req() -> RunReq {
        RunReq {
            cmd: Cmd::Echo("x".into()),
            sched: Sched::None,
            schedule: String::new(),
            limits: (0, 0, 0),
            cpu_cores: String::new(),
            network: String::new(),
            volumes: vec![],
            runtime: String::new(),
            env: vec![],
            secret: vec![],
            uploads: vec![],
            gpu_count: 0,
            timeout: String::new(),
        }
    }

    const UUID: &str = "3f2a1c4e-0d9b-4c1a-8e2f-1a2b3c4d5e6f";

    #[test]
    fn a_v2_run_answer_is_the_id_and_status_only_job_run_11() {
        let bare = JobView {
            uuid: UUID.into(),
            status: "RUNNING".into(),
            ..JobView::default()
        };
        assert!(run_answer_v2(&req(), &bare, "", false, 0.0, 1.0).is_pass());
        let echoed = JobView {
            command: "echo".into(),
            args: vec!["x".into()],
            ..bare.clone()
        };
        let v = run_answer_v2(&req(), &echoed, "", false, 0.0, 1.0);
        assert_eq!(v.ids, vec!["JOB-RUN-11"]);
        assert!(!v.is_pass());
        // A future schedule: SCHEDULED, and no scheduledTime either.
        let sched = JobView {
            status: "SCHEDULED".into(),
            ..bare.clone()
        };
        assert!(run_answer_v2(&req(), &sched, "", true, 60_000.0, 1.0).is_pass());
        assert!(
            !run_answer_v2(&req(), &sched, "2030-01-01T00:00:00Z", true, 60_000.0, 1.0).is_pass()
        );
        assert!(!run_answer_v2(&req(), &sched, "", false, 0.0, 1.0).is_pass());
    }

    #[test]
    fn logs_without_an_id_and_v1_paths_on_a_v2_node_job_logs_4_contract_1() {
        let required = Answer::Error(Code::InvalidArgument, "job_uuid is required".into());
        let missing = Answer::Error(Code::NotFound, "job not found: ".into());
        assert!(logs_without_id(Api::V2, &required).is_pass());
        assert!(!logs_without_id(Api::V2, &missing).is_pass());
        assert!(logs_without_id(Api::V1, &missing).is_pass());
        let spec = Call::ValidateRuntimeSpec("python:3.11".into(), true);
        let go = Answer::Error(
            Code::Unimplemented,
            "unknown method ValidateRuntimeSpec for service joblet.RuntimeService".into(),
        );
        let other = Answer::Error(
            Code::Unimplemented,
            "method ValidateRuntimeSpec not implemented".into(),
        );
        assert!(v1_only(&spec, &go).is_pass());
        assert!(!v1_only(&spec, &other).is_pass());
        assert!(!v1_only(&spec, &Answer::Valid(true)).is_pass());
    }

    #[test]
    fn v2_node_facts_contract_2_mon_status_2_rt_list_2() {
        let system = |tag: &str, macs| Facts::System {
            available: true,
            proto_tag: Some(tag.into()),
            macs,
        };
        let (shared, v) = facts(Api::V2, &system("v2.5.9", Some(1)));
        assert_eq!(shared, Answer::System(true));
        assert!(v.is_pass());
        assert!(!facts(Api::V2, &system("v1.0.6", Some(1))).1.is_pass());
        assert!(!facts(Api::Both, &system("v2.5.9", Some(0))).1.is_pass());
        // A dev build's tag says nothing.
        assert!(facts(Api::V2, &system("unknown", Some(1))).1.is_pass());
        let rts = |lv: &str| Facts::Runtimes(vec![("python-3.11".into(), true, lv.into())]);
        assert!(facts(Api::V2, &rts("3.11")).1.is_pass());
        assert!(!facts(Api::V2, &rts("")).1.is_pass());
        assert_eq!(
            facts(Api::V2, &rts("3.11")).0,
            Answer::Runtimes(vec![("python-3.11".into(), true)])
        );
        assert!(
            !facts(Api::V2, &Facts::Runtime(true, String::new()))
                .1
                .is_pass()
        );
        assert!(
            facts(Api::V2, &Facts::Runtime(false, String::new()))
                .1
                .is_pass()
        );
    }

    #[test]
    fn the_v2_role_rules_join_or_replace_the_v1_ones_auth_6_auth_7() {
        let v = Verdict::pass(&["AUTH-4", "AUTH-5"]);
        let ids = |api, who, v: &Verdict| role_ids(api, who, v.clone()).ids;
        assert_eq!(
            ids(Api::Both, Who::Viewer, &v),
            vec!["AUTH-4", "AUTH-5", "AUTH-7"]
        );
        assert_eq!(ids(Api::V2, Who::Viewer, &v), vec!["AUTH-5", "AUTH-7"]);
        assert_eq!(ids(Api::V1, Who::Viewer, &v), vec!["AUTH-4", "AUTH-5"]);
        let no_role = Verdict::pass(&["AUTH-3", "AUTH-5"]);
        assert_eq!(
            ids(Api::V2, Who::NoRole, &no_role),
            vec!["AUTH-5", "AUTH-6"]
        );
        // The reader: the viewer where v2 is spoken, no role on v1 alone.
        assert_eq!(role_of(Api::Both, Who::Reader), Who::Viewer);
        assert_eq!(role_of(Api::V2, Who::Reader), Who::Viewer);
        assert_eq!(role_of(Api::V1, Who::Reader), Who::NoRole);
        assert_eq!(
            ids(Api::Both, Who::Reader, &v),
            vec!["AUTH-5", "AUTH-7", "AUTH-6"]
        );
    }
}
