//! The plan of a replay: every call of the transcripts in order, with its
//! outcome name, its replay session, its settle time and the later calls
//! that asked the same; the names the transcripts create get fresh ones.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use joblet_testkit::auth::{Access, access};
use joblet_testkit::transcript::Line;
use serde_json::Value;

use super::ids::{self, IdMap};
use super::transcript::Transcript;
use crate::case::{Effect, Level};
use crate::outcome::{Outcome, ReplayInfo, State};

/// `GetJobStatus` → `get_job_status`.
fn snake(method: &str) -> String {
    let mut out = String::new();
    for (i, c) in method.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        }
    }
    out
}

/// Whether a call of `service`/`method` only reads (a viewer may make it).
pub(crate) fn is_read(service: &str, method: &str) -> bool {
    access(service.trim_start_matches("joblet."), method) == Some(Access::Read)
}

/// One call prepared for the replay.
pub(super) struct Planned {
    pub(super) transcript: usize,
    pub(super) line: Line,
    pub(super) case: String,
    pub(super) session: usize,
    /// Recorded time since the session last changed (for the settle time).
    pub(super) since_change: Duration,
    /// Later calls with the same request in the same session (reads only).
    pub(super) later: Vec<usize>,
}

/// Numbers sessions, plans names and later requests, and returns the calls
/// in order with the ID map holding the created names.
pub(super) fn prepare(transcripts: &[Transcript], run_id: &str) -> (Vec<Planned>, IdMap) {
    let mut ids = IdMap::default();
    let mut plan = Vec::new();
    let mut sessions: BTreeMap<(usize, String), usize> = BTreeMap::new();
    for (t, transcript) in transcripts.iter().enumerate() {
        let stem = transcript.stem();
        let mut lines = transcript.lines.clone();
        lines.sort_by_key(|l| (l.at_ms, l.seq));
        let mut last_change: HashMap<usize, u64> = HashMap::new();
        let mut same_request: HashMap<String, Vec<usize>> = HashMap::new();
        let first = plan.len();
        for line in lines {
            let next = sessions.len();
            let session = *sessions.entry((t, line.session.clone())).or_insert(next);
            let read = is_read(&line.service, &line.method);
            let since = line
                .at_ms
                .saturating_sub(*last_change.entry(session).or_insert(line.at_ms));
            if !read {
                last_change.insert(session, line.at_ms);
            }
            if matches!(line.method.as_str(), "CreateNetwork" | "CreateVolume")
                && line.status.code == "OK"
                && let Some(name) = line.request.get("name").and_then(Value::as_str)
                && let Some(fresh) = ids::fresh_name(run_id, session, name)
            {
                ids.add_name(session, name.to_owned(), fresh);
            }
            if read {
                let key = format!(
                    "{session}\u{0}{}\u{0}{}\u{0}{}",
                    line.role,
                    line.path(),
                    line.request
                );
                same_request.entry(key).or_default().push(plan.len());
            }
            plan.push(Planned {
                transcript: t,
                case: format!("replay.{stem}.{:04}_{}", line.seq, snake(&line.method)),
                line,
                session,
                since_change: Duration::from_millis(since),
                later: Vec::new(),
            });
        }
        for indices in same_request.values() {
            for (k, &i) in indices.iter().enumerate() {
                plan[i].later = indices[k + 1..].to_vec();
            }
        }
        debug_assert!(
            plan[first..]
                .windows(2)
                .all(|w| w[0].line.at_ms <= w[1].line.at_ms)
        );
    }
    (plan, ids)
}

pub(super) fn base_outcome(p: &Planned, t: &Transcript, state: State) -> Outcome {
    let read = is_read(&p.line.service, &p.line.method);
    Outcome {
        case: p.case.clone(),
        ids: Vec::new(),
        quirks: Vec::new(),
        contracts: Vec::new(),
        level: Level::Must,
        effect: if read {
            Effect::ReadOnly
        } else {
            Effect::Mutating
        },
        attempt: 1,
        state,
        failure: None,
        message: None,
        error: None,
        duration_ms: 0,
        rpcs: vec![p.line.path()],
        leaks: Vec::new(),
        replay: Some(ReplayInfo {
            transcript: t.name.clone(),
            seq: p.line.seq,
            session: p.line.session.clone(),
            role: p.line.role.clone(),
            method: format!("{}/{}", p.line.service, p.line.method),
            attempts: 0,
            differences: Vec::new(),
        }),
    }
}
