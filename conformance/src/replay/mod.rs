//! Replay: the calls of recorded transcripts (`joblet-mock --record`,
//! `joblet-conformance record`) played against any endpoint, each answer
//! compared with the recorded one. A contract test from real traffic, in both
//! directions: record a client against the mock and replay against a node
//! (does the node do what the client's tests assumed?), or record against a
//! node and replay against the mock (has the mock drifted?).
//!
//! # How calls are played
//!
//! - **Order and overlap.** Calls start in the recorded order. A call waits
//!   for every call that had *ended* before it started in the recording; calls
//!   that overlapped there (a log stream read while the job is stopped, three
//!   readers at once) overlap in the replay too. `--pace recorded` also keeps
//!   the recorded gaps.
//! - **Sessions.** Each recorded session (`x-joblet-mock-session`) becomes a
//!   session of the replay's own, `rp<run id>-<n>`, so a mock keeps them apart;
//!   a real node ignores the header and the ID map keeps the calls right.
//! - **IDs and names** map from recorded to replayed ([`ids`]).
//! - **Eventually.** A read (GetJobStatus, ListJobs, GetJobLogs, ... : the
//!   calls a viewer may make) whose answer differs is repeated until it
//!   matches, or matches a *later* recorded answer to the same request (the
//!   target is ahead of the recording), or its settle time runs out: twice the
//!   recorded time since the session's last change, plus 300 ms, at most
//!   `--settle` (30 s). A change refused with FAILED_PRECONDITION where the
//!   recording succeeded (the job is not finished yet) is retried the same
//!   way; it changed nothing.
//! - **Answers** are compared by [`rules`] ([`compare`]): codes, status strings,
//!   messages and log bytes exactly, UUIDs through the map, times by shape,
//!   monitoring figures by type and range; a rule file relaxes any field.
//!
//! Every call is one [`Outcome`] of the usual reports (human, JSON, JUnit),
//! named `replay.<transcript>.<seq>_<method>`: Pass (same answer), Fail (the
//! differences, each with the path, the rule, what was expected and what came
//! back), Skip (a call that cannot be replayed here: DeleteAllJobs without
//! `--allow-delete-all`, a role without an identity) or Error (no answer).
//! Whatever the replay created and did not remove itself is removed at the
//! end, as the conformance cases do.

pub mod call;
pub mod compare;
pub mod ids;
pub mod rules;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use joblet_mock::auth::{Access, access};
use joblet_mock::transcript::{Line, Sha256, TranscriptError};
use parking_lot::Mutex;
use prost::Message as _;
use prost_reflect::{DynamicMessage, MessageDescriptor, MethodDescriptor, SerializeOptions};
use serde_json::Value;
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic::transport::Channel;

use crate::case::{Effect, Level};
use crate::check::{Failure, code_name};
use crate::cleanup::{Leak, Resource, Tracker};
use crate::ctx::{Targets, new_run_id};
use crate::runner::{Outcome, Progress, Quiet, RunResult, State};

use self::call::{CallSpec, Received, StopAt};
use self::compare::{Answer, Difference, LogView};
use self::ids::IdMap;
use self::rules::RuleSet;

/// The replay detail of an [`Outcome`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReplayInfo {
    /// The transcript (its file name).
    pub transcript: String,
    /// The call's `seq` in it.
    pub seq: u64,
    /// The recorded session (`""`: the default one).
    pub session: String,
    /// The recorded caller's role.
    pub role: String,
    /// `joblet.JobService/RunJob`.
    pub method: String,
    /// How many times the call was made (reads are repeated until they match).
    pub attempts: u32,
    /// Every field that differs.
    #[serde(default)]
    pub differences: Vec<Difference>,
}

/// A transcript to replay.
#[derive(Debug, Clone)]
pub struct Transcript {
    /// Its name in reports (the file name).
    pub name: String,
    /// Its calls, in `seq` order.
    pub lines: Vec<Line>,
}

impl Transcript {
    /// Reads a transcript file.
    pub fn load(path: &Path) -> Result<Self, TranscriptError> {
        let lines = joblet_mock::transcript::read(path)?;
        Ok(Self {
            name: path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
            lines,
        })
    }

    /// The transcript's segment of outcome names: its file stem in lower case,
    /// other characters as `_`.
    pub fn stem(&self) -> String {
        let stem = self
            .name
            .rsplit_once('.')
            .map_or(self.name.as_str(), |(s, _)| s);
        let mut out = String::new();
        for c in stem.chars() {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() {
                out.push(c);
            } else if !out.ends_with('_') {
                out.push('_');
            }
        }
        let out = out.trim_matches('_').to_owned();
        if out.is_empty() {
            "transcript".into()
        } else {
            out
        }
    }
}

/// `recorded`: keep the recorded gaps between calls; `asap`: start each call
/// as soon as the calls before it allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Pace {
    /// As fast as the order allows.
    #[default]
    Asap,
    /// With the recorded gaps.
    Recorded,
}

/// How to replay.
#[derive(Clone)]
pub struct ReplayConfig {
    /// Where (the main target for admin calls, viewer and no-role identities
    /// for those roles' calls).
    pub targets: Targets,
    /// Comparison rules (the built-in ones, then a rule file's).
    pub rules: RuleSet,
    /// The run ID (names get `rp<run id>s<n>-`); random when `None`.
    pub run_id: Option<String>,
    /// Longest a differing read is repeated.
    pub settle: Duration,
    /// Longest a call may take (streams included).
    pub call_timeout: Duration,
    /// Gaps between calls.
    pub pace: Pace,
    /// Replay DeleteAllJobs (it deletes EVERY finished job on a node).
    pub allow_delete_all: bool,
    /// Replay installs from GitHub (the node downloads).
    pub allow_remote_installs: bool,
    /// Remove what the replay created and did not remove itself.
    pub cleanup: bool,
    /// Stops the replay (Ctrl-C).
    pub cancel: CancellationToken,
    /// Live display.
    pub progress: Arc<dyn Progress>,
}

impl std::fmt::Debug for ReplayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayConfig")
            .field("targets", &self.targets)
            .field("settle", &self.settle)
            .field("call_timeout", &self.call_timeout)
            .field("pace", &self.pace)
            .finish_non_exhaustive()
    }
}

/// The shortest settle time of a differing read.
pub const SETTLE_MIN: Duration = Duration::from_millis(300);

/// The shortest deadline of a call: twice its recorded duration plus this.
pub const CALL_SLACK: Duration = Duration::from_secs(5);

impl ReplayConfig {
    /// Defaults for `targets`: built-in rules, settle 30 s, calls 60 s,
    /// cleanup on.
    pub fn new(targets: Targets) -> Self {
        Self {
            targets,
            rules: RuleSet::defaults(),
            run_id: None,
            settle: Duration::from_secs(30),
            call_timeout: Duration::from_secs(60),
            pace: Pace::Asap,
            allow_delete_all: false,
            allow_remote_installs: false,
            cleanup: true,
            cancel: CancellationToken::new(),
            progress: Arc::new(Quiet),
        }
    }
}

/// The options that render answers in the compared form: every field, 64-bit
/// integers as numbers.
fn full_options() -> SerializeOptions {
    SerializeOptions::new()
        .skip_default_fields(false)
        .stringify_64_bit_integers(false)
}

/// A recorded message (compact proto3 JSON) in the compared form.
fn full_form(desc: &MessageDescriptor, compact: &Value) -> Value {
    DynamicMessage::deserialize(desc.clone(), compact.clone())
        .ok()
        .and_then(|m| {
            m.serialize_with_options(serde_json::value::Serializer, &full_options())
                .ok()
        })
        .unwrap_or_else(|| compact.clone())
}

/// The recorded answer of `line`, in the compared form.
fn expected_answer(line: &Line, method: &MethodDescriptor) -> Answer {
    let output = method.output();
    Answer {
        messages: line
            .response
            .messages
            .iter()
            .map(|m| full_form(&output, m))
            .collect(),
        log: line.response.log.as_ref().map(|l| LogView {
            bytes: l.bytes,
            sha256: l.sha256.clone(),
            kept: l.kept(),
        }),
        code: line.status.code.clone(),
        message: line.status.message.clone(),
    }
}

/// Log bytes kept from a replayed stream for showing where it differs.
const KEPT: usize = 64 << 10;

/// What came back, in the compared form; a log stream is hashed over its
/// first `log_limit` bytes when the recorded client stopped there.
fn got_answer(
    received: &Received,
    method: &MethodDescriptor,
    is_log: bool,
    log_limit: Option<u64>,
) -> Answer {
    let output = method.output();
    let mut answer = Answer {
        code: code_name(received.code).to_owned(),
        message: received.message.clone(),
        ..Answer::default()
    };
    if is_log {
        let mut hash = Sha256::new();
        let (mut bytes, mut kept) = (0u64, Vec::new());
        for m in &received.messages {
            let payload = joblet_testkit::pb::DataChunk::decode(m.clone())
                .map(|c| c.payload)
                .unwrap_or_default();
            let take = match log_limit {
                Some(limit) => (limit.saturating_sub(bytes) as usize).min(payload.len()),
                None => payload.len(),
            };
            hash.update(&payload[..take]);
            bytes += take as u64;
            let room = KEPT.saturating_sub(kept.len());
            kept.extend_from_slice(&payload[..take.min(room)]);
        }
        answer.log = Some(LogView {
            bytes,
            sha256: hash.finish(),
            kept,
        });
    } else {
        answer.messages = received
            .messages
            .iter()
            .map(|m| {
                DynamicMessage::decode(output.clone(), m.clone())
                    .ok()
                    .and_then(|d| {
                        d.serialize_with_options(serde_json::value::Serializer, &full_options())
                            .ok()
                    })
                    .unwrap_or(Value::Null)
            })
            .collect();
    }
    answer
}

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
pub fn is_read(service: &str, method: &str) -> bool {
    access(service.trim_start_matches("joblet."), method) == Some(Access::Read)
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push('…');
    out
}

fn session_label(s: &str) -> &str {
    if s.is_empty() { "default" } else { s }
}

/// One call prepared for the replay.
struct Planned {
    transcript: usize,
    line: Line,
    case: String,
    session: usize,
    /// Recorded time since the session last changed (for the settle time).
    since_change: Duration,
    /// Later calls with the same request in the same session (reads only).
    later: Vec<usize>,
}

/// What the calls of one replay share.
struct Shared {
    config: ReplayConfig,
    run_id: String,
    main: Channel,
    viewer: OnceCell<Result<Channel, String>>,
    no_role: OnceCell<Result<Channel, String>>,
    ids: Mutex<IdMap>,
    tracker: Tracker,
    created: Mutex<HashMap<Resource, usize>>,
    plan: Vec<Planned>,
    /// The answer a request (session, role, method, request as sent) kept
    /// giving until its settle time ran out: the same answer again is the
    /// same difference, reported without waiting again.
    settled: Mutex<HashMap<String, Answer>>,
}

impl Shared {
    async fn channel(&self, role: &str) -> Result<Channel, String> {
        let (cell, target, what) = match role {
            "admin" => return Ok(self.main.clone()),
            "viewer" => (
                &self.viewer,
                &self.config.targets.viewer,
                "a viewer identity (--viewer-node, or --viewer-cert and --viewer-key)",
            ),
            "unknown" => (
                &self.no_role,
                &self.config.targets.no_role,
                "an identity without a role (--no-role-node, or --no-role-cert and --no-role-key)",
            ),
            "none" => return Err(
                "recorded from a TLS client without a certificate: a replay always presents one"
                    .into(),
            ),
            other => return Err(format!("unknown role {other:?}")),
        };
        let Some(target) = target else {
            return Err(format!(
                "the call was made as {role}: the replay needs {what}"
            ));
        };
        cell.get_or_init(|| async {
            target
                .connect()
                .await
                .map_err(|e| format!("cannot connect as {role}: {e}"))
        })
        .await
        .clone()
    }

    fn session_name(&self, session: usize) -> String {
        format!("rp{}-{session}", self.run_id)
    }
}

/// Replays `transcripts` (one after the other) against `config.targets`.
pub async fn replay(transcripts: &[Transcript], config: ReplayConfig) -> RunResult {
    let started = Instant::now();
    let run_id = config.run_id.clone().unwrap_or_else(new_run_id);
    let target = config.targets.main.addr.clone();
    let tls = config.targets.main.is_tls();
    let (plan, ids) = prepare(transcripts, &run_id);
    let main = match config.targets.main.connect().await {
        Ok(c) => c,
        Err(e) => {
            let reason = joblet_testkit::error_chain(&e);
            let outcomes = plan
                .iter()
                .map(|p| {
                    let mut o = base_outcome(p, &transcripts[p.transcript], State::Error);
                    o.message = Some(reason.clone());
                    config.progress.finished(&o);
                    o
                })
                .collect();
            return RunResult {
                run_id,
                target,
                tls,
                duration_ms: started.elapsed().as_millis() as u64,
                outcomes,
                interrupted: false,
            };
        }
    };
    let shared = Arc::new(Shared {
        config: config.clone(),
        run_id: run_id.clone(),
        main,
        viewer: OnceCell::new(),
        no_role: OnceCell::new(),
        ids: Mutex::new(ids),
        tracker: Tracker::default(),
        created: Mutex::new(HashMap::new()),
        plan,
        settled: Mutex::new(HashMap::new()),
    });
    let names: Vec<String> = transcripts.iter().map(|t| t.name.clone()).collect();
    let mut outcomes: Vec<Option<Outcome>> = vec![None; shared.plan.len()];
    let mut interrupted = false;
    let mut index = 0;
    while index < shared.plan.len() {
        let t = shared.plan[index].transcript;
        let end = shared.plan[index..]
            .iter()
            .position(|p| p.transcript != t)
            .map_or(shared.plan.len(), |n| index + n);
        interrupted |= play(&shared, index..end, &names[t], &mut outcomes).await;
        index = end;
        if interrupted {
            break;
        }
    }
    let mut outcomes: Vec<Outcome> = outcomes
        .into_iter()
        .zip(&shared.plan)
        .map(|(o, p)| {
            o.unwrap_or_else(|| {
                let mut o = base_outcome(p, &transcripts[p.transcript], State::Error);
                o.message = Some("not replayed: the replay was stopped (Ctrl-C)".into());
                o
            })
        })
        .collect();
    if config.cleanup {
        let leaks = tokio::time::timeout(
            Duration::from_secs(120),
            shared
                .tracker
                .cleanup(&crate::conn::Lane::new(shared.main.clone(), None), "replay"),
        )
        .await
        .unwrap_or_else(|_| {
            shared
                .tracker
                .items()
                .into_iter()
                .map(|resource| Leak {
                    case: "replay".into(),
                    resource,
                    reason: "cleanup did not finish within 120 s".into(),
                })
                .collect()
        });
        let created = shared.created.lock();
        for mut leak in leaks {
            let at = created.get(&leak.resource).copied().unwrap_or(0);
            if let Some(o) = outcomes.get_mut(at) {
                leak.case = o.case.clone();
                o.leaks.push(leak);
            }
        }
    }
    RunResult {
        run_id,
        target,
        tls,
        duration_ms: started.elapsed().as_millis() as u64,
        outcomes,
        interrupted,
    }
}

/// Numbers sessions, plans names and later requests, and returns the calls
/// in order with the ID map holding the created names.
fn prepare(transcripts: &[Transcript], run_id: &str) -> (Vec<Planned>, IdMap) {
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

fn base_outcome(p: &Planned, t: &Transcript, state: State) -> Outcome {
    let read = is_read(&p.line.service, &p.line.method);
    Outcome {
        case: p.case.clone(),
        ids: Vec::new(),
        quirks: Vec::new(),
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

/// Plays the calls `range` of the plan (one transcript). Returns whether it
/// was stopped.
async fn play(
    shared: &Arc<Shared>,
    range: std::ops::Range<usize>,
    transcript: &str,
    outcomes: &mut [Option<Outcome>],
) -> bool {
    let start = tokio::time::Instant::now();
    let first_at = shared.plan[range.start].line.at_ms;
    let mut in_flight: Vec<(u64, usize, tokio::task::JoinHandle<Outcome>)> = Vec::new();
    let cancel = shared.config.cancel.clone();
    for i in range {
        if cancel.is_cancelled() {
            break;
        }
        let at = shared.plan[i].line.at_ms;
        // Calls that had ended before this one started, end first.
        let (done, running): (Vec<_>, Vec<_>) =
            in_flight.into_iter().partition(|(end, _, _)| *end <= at);
        in_flight = running;
        for (_, j, handle) in done {
            outcomes[j] = Some(join(shared, j, transcript, handle).await);
        }
        if shared.config.pace == Pace::Recorded {
            let due = start + Duration::from_millis(at - first_at);
            tokio::select! {
                () = tokio::time::sleep_until(due) => {}
                () = cancel.cancelled() => break,
            }
        }
        shared.config.progress.started(&shared.plan[i].case);
        let task = tokio::spawn(replay_call(Arc::clone(shared), i, transcript.to_owned()));
        in_flight.push((shared.plan[i].line.end_ms, i, task));
    }
    for (_, j, handle) in in_flight {
        outcomes[j] = Some(join(shared, j, transcript, handle).await);
    }
    cancel.is_cancelled()
}

async fn join(
    shared: &Arc<Shared>,
    i: usize,
    transcript: &str,
    handle: tokio::task::JoinHandle<Outcome>,
) -> Outcome {
    let outcome = match handle.await {
        Ok(o) => o,
        Err(e) => {
            let t = Transcript {
                name: transcript.to_owned(),
                lines: Vec::new(),
            };
            let mut o = base_outcome(&shared.plan[i], &t, State::Error);
            o.message = Some(format!("the replay of this call failed: {e}"));
            o
        }
    };
    shared.config.progress.finished(&outcome);
    outcome
}

/// The call as a report names it: `#12 GetJobStatus {"uuid":"…"} (session s,
/// role admin)`.
fn describe(line: &Line, sent: &Value) -> String {
    format!(
        "#{} {} {} (session {}, role {})",
        line.seq,
        line.method,
        clip(&sent.to_string(), 200),
        session_label(&line.session),
        line.role
    )
}

fn failure_of(call: String, diffs: &[Difference]) -> Failure {
    let show = |d: &Difference, v: &str| format!("{} = {v}", d.path);
    let (expected, got) = if let [d] = diffs {
        (show(d, &d.expected), show(d, &d.got))
    } else {
        let n = diffs.len();
        let e: Vec<String> = diffs.iter().take(5).map(|d| show(d, &d.expected)).collect();
        let g: Vec<String> = diffs.iter().take(5).map(|d| show(d, &d.got)).collect();
        let more = if n > 5 {
            format!("; … {} more", n - 5)
        } else {
            String::new()
        };
        (
            format!("{n} differences: {}{more}", e.join("; ")),
            format!("{}{more}", g.join("; ")),
        )
    };
    Failure {
        call,
        expected: clip(&expected, 1200),
        got: clip(&got, 1200),
    }
}

/// Why a call cannot be replayed with this configuration, if it cannot.
fn skip_reason(line: &Line, config: &ReplayConfig) -> Option<String> {
    if line.request.is_null() {
        return Some(match line.request_omitted {
            Some(n) => format!("the request ({n} bytes) was too large to record"),
            None => "the request was not recorded (it did not decode)".into(),
        });
    }
    match line.method.as_str() {
        "DeleteAllJobs" if !config.allow_delete_all => Some(
            "DeleteAllJobs deletes EVERY finished job on the target: pass --allow-delete-all to replay it"
                .into(),
        ),
        "InstallRuntimeFromGithub" | "StreamingInstallRuntimeFromGithub"
            if !config.allow_remote_installs =>
        {
            Some("installing from GitHub makes the target download: pass --allow-remote-installs".into())
        }
        _ => None,
    }
}

async fn replay_call(shared: Arc<Shared>, i: usize, transcript: String) -> Outcome {
    let p = &shared.plan[i];
    let line = &p.line;
    let t = Transcript {
        name: transcript,
        lines: Vec::new(),
    };
    let started = Instant::now();
    let mut outcome = base_outcome(p, &t, State::Pass);
    let finish = |mut o: Outcome, attempts: u32| {
        o.duration_ms = started.elapsed().as_millis() as u64;
        if let Some(r) = &mut o.replay {
            r.attempts = attempts;
        }
        o
    };
    let Some(method) = line.descriptor() else {
        outcome.state = State::Skip;
        outcome.message = Some(format!(
            "{}/{} is not a method of the v1 contract",
            line.service, line.method
        ));
        return finish(outcome, 0);
    };
    if let Some(reason) = skip_reason(line, &shared.config) {
        outcome.state = State::Skip;
        outcome.message = Some(reason);
        return finish(outcome, 0);
    }
    let channel = match shared.channel(&line.role).await {
        Ok(c) => c,
        Err(reason) => {
            outcome.state = State::Skip;
            outcome.message = Some(reason);
            return finish(outcome, 0);
        }
    };
    // Schedules move by the time since the recorded call.
    let shift = chrono::DateTime::parse_from_rfc3339(&line.time)
        .map(|t| (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds())
        .unwrap_or(0);
    let sent = shared
        .ids
        .lock()
        .rewrite_request(p.session, &line.request, shift);
    let request = match DynamicMessage::deserialize(method.input(), sent.clone()) {
        Ok(m) => Bytes::from(m.encode_to_vec()),
        Err(e) => {
            outcome.state = State::Skip;
            outcome.message = Some(format!(
                "the recorded request is not a {}: {e}",
                method.input().full_name()
            ));
            return finish(outcome, 0);
        }
    };
    let call_text = describe(line, &sent);
    let is_log = line.response.log.is_some() || method.output().full_name() == "joblet.DataChunk";
    let stop = match (line.client_cancelled, &line.response.log) {
        (false, _) => StopAt::End,
        (true, Some(log)) => StopAt::LogBytes(log.bytes),
        (true, None) => StopAt::Messages(line.response.messages.len()),
    };
    let log_limit = match stop {
        StopAt::LogBytes(n) => Some(n),
        _ => None,
    };
    let expected = expected_answer(line, &method);
    let recorded = Duration::from_millis(line.end_ms - line.at_ms);
    let timeout = (recorded * 2 + CALL_SLACK).min(shared.config.call_timeout);
    let read = is_read(&line.service, &line.method);
    let settle =
        (p.since_change * 2 + SETTLE_MIN).clamp(SETTLE_MIN, shared.config.settle.max(SETTLE_MIN));
    let deadline = Instant::now() + settle;
    let session = shared.session_name(p.session);
    let settled_key = format!(
        "{}\u{0}{}\u{0}{}\u{0}{sent}",
        p.session,
        line.role,
        line.path()
    );
    let mut pause = Duration::from_millis(20);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let received = call::call(
            channel.clone(),
            CallSpec {
                path: &line.path(),
                streaming: method.is_server_streaming(),
                request: request.clone(),
                session: Some(&session),
                timeout,
            },
            stop,
        )
        .await;
        let transport = received.code == Code::Unavailable && {
            let m = received.message.to_ascii_lowercase();
            m.contains("transport") || m.contains("connect") || m.contains("broken pipe")
        };
        if transport && expected.code != "UNAVAILABLE" {
            outcome.state = State::Error;
            outcome.message = Some(format!(
                "{call_text}: no answer from the target: {}",
                received.message
            ));
            return finish(outcome, attempts);
        }
        let got = got_answer(&received, &method, is_log, log_limit);
        let snapshot = shared.ids.lock().clone();
        let (diffs, learned) = compare::compare(
            &shared.config.rules,
            &line.method,
            p.session,
            &snapshot,
            &expected,
            &got,
            line.client_cancelled,
        );
        if diffs.is_empty() {
            commit(&shared, &learned);
            track(&shared, i, line, &sent, &got);
            return finish(outcome, attempts);
        }
        let retry = !received.timed_out
            && (read
                || (got.code == "FAILED_PRECONDITION" && expected.code != "FAILED_PRECONDITION"));
        if retry {
            // The target may be ahead of the recording.
            for &j in &p.later {
                let later = &shared.plan[j].line;
                let (d, l) = compare::compare(
                    &shared.config.rules,
                    &line.method,
                    p.session,
                    &snapshot,
                    &expected_answer(later, &method),
                    &got,
                    later.client_cancelled,
                );
                if d.is_empty() {
                    commit(&shared, &l);
                    outcome.message =
                        Some(format!("matched the later recorded answer #{}", later.seq));
                    return finish(outcome, attempts);
                }
            }
            let persistent = shared.settled.lock().get(&settled_key) == Some(&got);
            if !persistent
                && Instant::now() + pause < deadline
                && !shared.config.cancel.is_cancelled()
            {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(250));
                continue;
            }
            shared.settled.lock().insert(settled_key, got.clone());
        }
        commit(&shared, &learned);
        track(&shared, i, line, &sent, &got);
        outcome.state = State::Fail;
        let failure = failure_of(call_text, &diffs);
        outcome.message = Some(failure.to_string());
        outcome.failure = Some(failure);
        if let Some(r) = &mut outcome.replay {
            r.differences = diffs;
        }
        return finish(outcome, attempts);
    }
}

/// Keeps the IDs a call taught (those that do not contradict the map).
fn commit(shared: &Shared, learned: &IdMap) {
    shared.ids.lock().merge(learned);
}

/// Tracks what a call created, for the cleanup at the end.
fn track(shared: &Shared, i: usize, line: &Line, sent: &Value, got: &Answer) {
    if got.code != "OK" {
        return;
    }
    let field = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let first = got.messages.first().unwrap_or(&Value::Null);
    let resource = match line.method.as_str() {
        "RunJob" => field(first, "jobUuid").map(Resource::Job),
        "RunWorkflow" => field(first, "workflowUuid").map(Resource::Workflow),
        "CreateNetwork" => field(sent, "name").map(Resource::Network),
        "CreateVolume" => field(sent, "name").map(Resource::Volume),
        _ => None,
    };
    if let Some(r) = resource
        .filter(|r| !matches!(r, Resource::Job(id) | Resource::Workflow(id) if id.is_empty()))
    {
        shared.created.lock().entry(r.clone()).or_insert(i);
        shared.tracker.add(r);
    }
}

/// The differences of a replay, one line each, for golden lists and tests:
/// `<transcript> <seq> <Method> <path>`.
pub fn difference_lines(result: &RunResult) -> Vec<String> {
    let mut out = Vec::new();
    for o in &result.outcomes {
        if let Some(r) = &o.replay {
            for d in &r.differences {
                out.push(format!(
                    "{} {} {} {}",
                    r.transcript, r.seq, r.method, d.path
                ));
            }
        }
    }
    out
}
