//! The model's judgement of the explorer's other identities (AUTH-2..AUTH-5:
//! which calls each role may make, and the codes and messages of a refusal,
//! authorization before validation) and of the run's runtime installs and
//! removals (RT-INSTALL-1..3, RT-RM-1, and what ListRuntimes then shows of
//! the run's runtimes). Written from docs/behaviours.md, like [`super::model`].

use std::collections::BTreeSet;

use tonic::Code;

use super::call::{Answer, Call};
use super::checks::{self, Verdict};
use super::identity::{Install, InstallEnd, Installed, Who};

/// Whether the viewer may make `call` (AUTH-4's list).
pub fn viewer_may(call: &Call) -> bool {
    matches!(
        call,
        Call::GetJobStatus(_)
            | Call::ListJobs
            | Call::GetJobLogs(..)
            | Call::ListNetworks
            | Call::ListVolumes
            | Call::ListRuntimes
            | Call::GetRuntimeInfo(_)
            | Call::ValidateRuntimeSpec(..)
            | Call::GetSystemStatus
            | Call::StreamSystemMetrics(_)
    )
}

/// AUTH-4: PERMISSION_DENIED "role `role` is not allowed to perform
/// operation `op`", whatever the request's arguments (AUTH-5).
fn denied(answer: &Answer, role: &str, ids: &[&'static str]) -> Verdict {
    let head = format!("role {role} is not allowed to perform operation ");
    match answer {
        Answer::Error(Code::PermissionDenied, m)
            if m.strip_prefix(&head)
                .is_some_and(|op| !op.is_empty() && !op.contains(' ')) =>
        {
            Verdict::pass(ids)
        }
        _ => Verdict::fail(
            ids,
            &format!("PERMISSION_DENIED \"{head}<op>\" (authorization before validation)"),
        ),
    }
}

/// The verdict on `answer` to `inner` made as `who`, when the identity
/// decides it; `None` when the call is to be judged as the admin's, with
/// [`admin_ids`] added (the viewer's reads, plaintext calls).
pub fn refusal(who: Who, inner: &Call, answer: &Answer) -> Option<Verdict> {
    Some(match who {
        Who::Viewer if viewer_may(inner) => return None,
        Who::Plaintext => return None,
        Who::Viewer => {
            let mut ids = vec!["AUTH-4"];
            if matches!(inner, Call::RunJob(_)) {
                ids.push("AUTH-5");
            }
            denied(answer, "viewer", &ids)
        }
        // A reader on a node of v1 alone (the model maps it: AUTH-6).
        Who::NoRole | Who::Reader => denied(answer, "unknown", &["AUTH-3", "AUTH-5"]),
        Who::Anonymous => match answer {
            // The handshake refused, the connection closed after it (TLS
            // 1.3 checks the client certificate after the client's
            // Finished), or UNAUTHENTICATED.
            Answer::Error(
                Code::Unauthenticated | Code::Unavailable | Code::Unknown | Code::Cancelled,
                _,
            ) => Verdict::pass(&["AUTH-2"]),
            _ => Verdict::fail(
                &["AUTH-2"],
                "the handshake refused or UNAUTHENTICATED (no client certificate)",
            ),
        },
    })
}

/// The IDs a call made as `who` and judged as the admin's is judged against
/// too.
pub fn admin_ids(who: Who) -> &'static [&'static str] {
    match who {
        Who::Plaintext => &["AUTH-1"],
        _ => &["AUTH-4"],
    }
}

/// An install of the run's runtime: judged against `runtimes`, the node's
/// installed runtimes as the model knows them, which it then joins.
pub fn install(runtimes: &mut BTreeSet<String>, i: &Install, answer: &Answer) -> Verdict {
    if i.spec.is_empty() {
        return checks::error_code(
            answer,
            &[Code::InvalidArgument],
            &["RT-INSTALL-1"],
            "an empty runtimeSpec",
        );
    }
    let installed = runtimes.contains(&i.name);
    let already = installed && !i.force;
    let mut ids = vec![if i.stream {
        "RT-INSTALL-2"
    } else {
        "RT-INSTALL-1"
    }];
    if installed {
        ids.push("RT-INSTALL-3");
    }
    let says_already = |message: &str| message.to_ascii_lowercase().contains("already installed");
    let (ok, expected) = match answer {
        Answer::Installed(Installed::Unary(spec, status, message)) if !i.stream => (
            spec == &i.spec && status == "completed" && says_already(message) == already,
            "OK {runtimeSpec as sent, status \"completed\"",
        ),
        Answer::Installed(Installed::Stream {
            before,
            results,
            after,
            end,
        }) if i.stream => (
            *end == InstallEnd::Ok
                && (already || *before >= 1)
                && *after == 0
                && matches!(&results[..], [(true, message)] if says_already(message) == already),
            "progress and log chunks, then exactly one result {success true",
        ),
        _ => (false, if i.stream { "a stream" } else { "OK" }),
    };
    if !ok {
        let how = if already {
            ", message \"already installed\"} (installed, no forceReinstall)"
        } else if installed {
            "}: reinstalled (forceReinstall), not \"already installed\""
        } else {
            "}: installed"
        };
        let end = if i.stream { ", then OK" } else { "" };
        return Verdict::fail(&ids, &format!("{expected}{how}{end}"));
    }
    runtimes.insert(i.name.clone());
    Verdict::pass(&ids)
}

/// RemoveRuntime of `name`: judged against `runtimes`, which it leaves.
pub fn remove(runtimes: &mut BTreeSet<String>, name: &str, answer: &Answer) -> Verdict {
    let installed = runtimes.contains(name);
    match answer {
        Answer::Removed(true, _) if installed => {
            runtimes.remove(name);
            Verdict::pass(&["RT-RM-1"])
        }
        Answer::Removed(false, message)
            if !installed && message == &format!("Runtime '{name}' not found") =>
        {
            Verdict::pass(&["RT-RM-1"])
        }
        _ if installed => Verdict::fail(&["RT-RM-1"], "OK {success true} (installed)"),
        _ => Verdict::fail(
            &["RT-RM-1"],
            &format!("OK {{success false, message \"Runtime '{name}' not found\"}}"),
        ),
    }
}

/// RT-LIST-1, and of the run's own runtimes exactly those installed and not
/// removed (RT-INSTALL-1, RT-RM-1).
pub fn list_runtimes(prefix: &str, runtimes: &BTreeSet<String>, answer: &Answer) -> Verdict {
    let v = checks::runtimes(answer);
    let Answer::Runtimes(list) = answer else {
        return v;
    };
    if !v.is_pass() {
        return v;
    }
    let own = |n: &&String| n.contains(prefix);
    let listed: BTreeSet<&String> = list.iter().map(|(n, _)| n).filter(own).collect();
    let want: BTreeSet<&String> = runtimes.iter().filter(own).collect();
    if listed == want {
        let mut ids = vec!["RT-LIST-1"];
        if !want.is_empty() {
            ids.push("RT-INSTALL-1");
        }
        return Verdict::pass(&ids);
    }
    Verdict::fail(
        &["RT-LIST-1", "RT-INSTALL-1", "RT-RM-1"],
        &format!("of the run's runtimes, those installed and not removed: {want:?}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::call::JobId;

    const SPEC: &str = "python:3.11-cf-t-s0-r0";
    const NAME: &str = "python-3.11-cf-t-s0-r0";

    fn install_call(force: bool, stream: bool) -> Install {
        Install {
            name: NAME.into(),
            spec: SPEC.into(),
            force,
            stream,
        }
    }

    fn unary(message: &str, status: &str) -> Answer {
        Answer::Installed(Installed::Unary(SPEC.into(), status.into(), message.into()))
    }

    #[test]
    fn explore_model_rt_install_1_3_rt_rm_1_installs_reinstalls_and_removes() {
        let mut rts = BTreeSet::from(["python-3.11".to_owned()]);
        let prefix = "cf-t-s0-";
        // RT-INSTALL-1: "completed"; "success" is not the documented status.
        let call = install_call(false, false);
        assert!(!install(&mut rts, &call, &unary("ok", "success")).is_pass());
        assert!(install(&mut rts, &call, &unary("ok", "completed")).is_pass());
        // RT-INSTALL-3: again without force says "already installed"; with
        // force it reinstalls.
        let again = unary("Runtime x is already installed", "completed");
        assert!(install(&mut rts, &call, &again).is_pass());
        assert!(!install(&mut rts, &install_call(true, false), &again).is_pass());
        // Listed now; a list without it is refused.
        let listed = Answer::Runtimes(vec![("python-3.11".into(), true), (NAME.into(), true)]);
        assert!(list_runtimes(prefix, &rts, &listed).is_pass());
        let missing = Answer::Runtimes(vec![("python-3.11".into(), true)]);
        assert!(!list_runtimes(prefix, &rts, &missing).is_pass());
        // RT-RM-1: removed, then no longer listed and not found.
        let gone = Answer::Removed(true, "gone".into());
        assert!(remove(&mut rts, NAME, &gone).is_pass());
        assert!(!list_runtimes(prefix, &rts, &listed).is_pass());
        assert!(list_runtimes(prefix, &rts, &missing).is_pass());
        let not_found = Answer::Removed(false, format!("Runtime '{NAME}' not found"));
        assert!(remove(&mut rts, NAME, &not_found).is_pass());
        assert!(!remove(&mut rts, NAME, &gone).is_pass());
        assert!(!remove(&mut rts, NAME, &Answer::Removed(false, "no".into())).is_pass());
    }

    #[test]
    fn explore_model_rt_install_2_wants_exactly_one_result_last() {
        let mut rts = BTreeSet::new();
        let stream = |results: Vec<(bool, String)>, after| {
            Answer::Installed(Installed::Stream {
                before: 3,
                results,
                after,
                end: InstallEnd::Ok,
            })
        };
        let call = install_call(false, true);
        assert!(!install(&mut rts, &call, &stream(vec![], 0)).is_pass());
        let one = vec![(true, "ok".to_owned())];
        assert!(!install(&mut rts, &call, &stream(one.clone(), 1)).is_pass());
        assert!(rts.is_empty());
        assert!(install(&mut rts, &call, &stream(one, 0)).is_pass());
        assert!(rts.contains(NAME));
    }

    #[test]
    fn explore_model_auth_2_5_refusals_by_role() {
        let unknown = JobId {
            id: "3f2a1c4e-0d9b-4c1a-8e2f-1a2b3c4d5e6f".into(),
            job: None,
            ambiguous: false,
        };
        let deny = |role: &str, op: &str| {
            Answer::Error(
                Code::PermissionDenied,
                format!("role {role} is not allowed to perform operation {op}"),
            )
        };
        let not_found = Answer::Error(Code::NotFound, "job not found".into());
        let judged =
            |who, call: &Call, answer: &Answer| refusal(who, call, answer).map(|v| v.is_pass());
        // AUTH-4: the viewer's reads are the admin's to judge; it may not stop.
        let status = Call::GetJobStatus(unknown.clone());
        assert_eq!(judged(Who::Viewer, &status, &not_found), None);
        assert_eq!(judged(Who::Plaintext, &Call::ListJobs, &not_found), None);
        // AUTH-5: an unknown job's StopJob is refused before it is looked up.
        let stop = Call::StopJob(unknown);
        assert_eq!(
            judged(Who::Viewer, &stop, &deny("viewer", "StopJob")),
            Some(true)
        );
        assert_eq!(judged(Who::Viewer, &stop, &not_found), Some(false));
        assert_eq!(
            judged(Who::Viewer, &stop, &deny("unknown", "StopJob")),
            Some(false)
        );
        // AUTH-3: no role may not even list.
        let list = Call::ListJobs;
        assert_eq!(
            judged(Who::NoRole, &list, &deny("unknown", "ListJobs")),
            Some(true)
        );
        assert_eq!(
            judged(Who::NoRole, &list, &Answer::Jobs(vec![])),
            Some(false)
        );
        // AUTH-2: without a certificate, no answer.
        assert_eq!(
            judged(Who::Anonymous, &list, &Answer::Jobs(vec![])),
            Some(false)
        );
        let refused = Answer::Error(Code::Unauthenticated, "no client certificate".into());
        assert_eq!(judged(Who::Anonymous, &list, &refused), Some(true));
    }
}
