//! The model's judgement of the explorer's other identities (AUTH-2..AUTH-5:
//! which calls each role may make, and the codes and messages of a refusal,
//! authorization before validation) and of the run's runtime installs and
//! removals (RT-INSTALL-1..3, RT-RM-1, and what ListRuntimes then shows of
//! the run's runtimes). Written from docs/behaviours.md, like [`super::model`].

use std::collections::BTreeSet;

use tonic::Code;

use super::admin::{Install, Installed, Who};
use super::call::{Answer, Call, LogEnd};
use super::checks::{self, Verdict};
use super::model::Model;

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

/// Judges `answer` to a call of another identity, an install or a removal.
pub fn check(m: &mut Model, call: &Call, a: f64, b: f64, answer: &Answer) -> Verdict {
    match call {
        Call::As(Who::Viewer, inner) if viewer_may(inner) => {
            m.check(inner, a, b, answer).with_ids(&["AUTH-4"])
        }
        Call::As(Who::Viewer, inner) => {
            let mut ids = vec!["AUTH-4"];
            if matches!(**inner, Call::RunJob(_)) {
                ids.push("AUTH-5");
            }
            denied(answer, "viewer", &ids)
        }
        Call::As(Who::NoRole, _) => denied(answer, "unknown", &["AUTH-3", "AUTH-5"]),
        Call::As(Who::Anonymous, _) => match answer {
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
        Call::As(Who::Plaintext, inner) => m.check(inner, a, b, answer).with_ids(&["AUTH-1"]),
        Call::Install(i) => install(m, i, answer),
        Call::RemoveRuntime(name) => remove(m, name, answer),
        other => m.check(other, a, b, answer),
    }
}

fn install(m: &mut Model, i: &Install, answer: &Answer) -> Verdict {
    if i.spec.is_empty() {
        return checks::error_code(
            answer,
            &[Code::InvalidArgument],
            &["RT-INSTALL-1"],
            "an empty runtimeSpec",
        );
    }
    let installed = m.runtimes.contains(&i.name);
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
            *end == LogEnd::Ok
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
    m.runtimes.insert(i.name.clone());
    Verdict::pass(&ids)
}

fn remove(m: &mut Model, name: &str, answer: &Answer) -> Verdict {
    let installed = m.runtimes.contains(name);
    match answer {
        Answer::Removed(true, _) if installed => {
            m.runtimes.remove(name);
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
pub fn list_runtimes(m: &Model, answer: &Answer) -> Verdict {
    let v = checks::runtimes(answer);
    let Answer::Runtimes(list) = answer else {
        return v;
    };
    if !v.is_pass() {
        return v;
    }
    let own = |n: &&String| n.contains(m.prefix.as_str());
    let listed: BTreeSet<&String> = list.iter().map(|(n, _)| n).filter(own).collect();
    let want: BTreeSet<&String> = m.runtimes.iter().filter(own).collect();
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

    fn install_call(force: bool, stream: bool) -> Call {
        let spec = "python:3.11-cf-t-s0-r0".to_owned();
        Call::Install(Install {
            name: super::super::admin::name_of(&spec),
            spec,
            force,
            stream,
        })
    }

    fn unary(message: &str, status: &str) -> Answer {
        Answer::Installed(Installed::Unary(
            "python:3.11-cf-t-s0-r0".into(),
            status.into(),
            message.into(),
        ))
    }

    #[test]
    fn explore_model_rt_install_1_3_rt_rm_1_installs_reinstalls_and_removes() {
        let mut m = Model::new("cf-t-s0-", 300.0);
        let name = "python-3.11-cf-t-s0-r0".to_owned();
        // RT-INSTALL-1: "completed"; "success" is not the documented status.
        let v = check(
            &mut m,
            &install_call(false, false),
            0.0,
            1.0,
            &unary("ok", "success"),
        );
        assert!(!v.is_pass());
        let v = check(
            &mut m,
            &install_call(false, false),
            0.0,
            1.0,
            &unary("ok", "completed"),
        );
        assert!(v.is_pass(), "{v:?}");
        // RT-INSTALL-3: again without force says "already installed"; with
        // force it reinstalls.
        let again = unary("Runtime x is already installed", "completed");
        assert!(check(&mut m, &install_call(false, false), 2.0, 3.0, &again).is_pass());
        assert!(!check(&mut m, &install_call(true, false), 2.0, 3.0, &again).is_pass());
        // Listed now; a list without it is refused.
        let listed = Answer::Runtimes(vec![("python-3.11".into(), true), (name.clone(), true)]);
        assert!(list_runtimes(&m, &listed).is_pass());
        let missing = Answer::Runtimes(vec![("python-3.11".into(), true)]);
        assert!(!list_runtimes(&m, &missing).is_pass());
        // RT-RM-1: removed, then no longer listed and not found.
        let call = Call::RemoveRuntime(name.clone());
        assert!(
            check(
                &mut m,
                &call,
                4.0,
                5.0,
                &Answer::Removed(true, "gone".into())
            )
            .is_pass()
        );
        assert!(!list_runtimes(&m, &listed).is_pass());
        assert!(list_runtimes(&m, &missing).is_pass());
        let not_found = Answer::Removed(false, format!("Runtime '{name}' not found"));
        assert!(check(&mut m, &call, 6.0, 7.0, &not_found).is_pass());
        assert!(
            !check(
                &mut m,
                &call,
                6.0,
                7.0,
                &Answer::Removed(true, "gone".into())
            )
            .is_pass()
        );
    }

    #[test]
    fn explore_model_rt_install_2_wants_exactly_one_result_last() {
        let mut m = Model::new("cf-t-s0-", 300.0);
        let stream = |results: Vec<(bool, String)>, after| {
            Answer::Installed(Installed::Stream {
                before: 3,
                results,
                after,
                end: LogEnd::Ok,
            })
        };
        let call = install_call(false, true);
        assert!(!check(&mut m, &call, 0.0, 1.0, &stream(vec![], 0)).is_pass());
        assert!(
            !check(
                &mut m,
                &call,
                0.0,
                1.0,
                &stream(vec![(true, "ok".into())], 1)
            )
            .is_pass()
        );
        assert!(
            check(
                &mut m,
                &call,
                0.0,
                1.0,
                &stream(vec![(true, "ok".into())], 0)
            )
            .is_pass()
        );
    }

    #[test]
    fn explore_model_auth_2_5_refusals_by_role() {
        let mut m = Model::new("cf-t-s0-", 300.0);
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
        // AUTH-4: the viewer reads as the admin does; it may not stop.
        let status = Call::As(Who::Viewer, Box::new(Call::GetJobStatus(unknown.clone())));
        let not_found = Answer::Error(Code::NotFound, "job not found".into());
        assert!(check(&mut m, &status, 0.0, 1.0, &not_found).is_pass());
        assert!(!check(&mut m, &status, 0.0, 1.0, &deny("viewer", "GetJobStatus")).is_pass());
        // AUTH-5: an unknown job's StopJob is refused before it is looked up.
        let stop = Call::As(Who::Viewer, Box::new(Call::StopJob(unknown)));
        assert!(check(&mut m, &stop, 0.0, 1.0, &deny("viewer", "StopJob")).is_pass());
        assert!(!check(&mut m, &stop, 0.0, 1.0, &not_found).is_pass());
        assert!(!check(&mut m, &stop, 0.0, 1.0, &deny("unknown", "StopJob")).is_pass());
        // AUTH-3: no role may not even list.
        let list = Call::As(Who::NoRole, Box::new(Call::ListJobs));
        assert!(check(&mut m, &list, 0.0, 1.0, &deny("unknown", "ListJobs")).is_pass());
        assert!(!check(&mut m, &list, 0.0, 1.0, &Answer::Jobs(vec![])).is_pass());
        // AUTH-2: without a certificate, no answer.
        let anon = Call::As(Who::Anonymous, Box::new(Call::ListJobs));
        assert!(!check(&mut m, &anon, 0.0, 1.0, &Answer::Jobs(vec![])).is_pass());
        let refused = Answer::Error(Code::Unauthenticated, "no client certificate".into());
        assert!(check(&mut m, &anon, 0.0, 1.0, &refused).is_pass());
    }
}
