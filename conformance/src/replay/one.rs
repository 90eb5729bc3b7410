//! One recorded call replayed: the request rewritten through the ID map,
//! sent, compared with the recorded answer, and repeated while a read
//! settles.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use joblet_testkit::transcript::Line;
use prost::Message as _;
use prost_reflect::{DynamicMessage, MethodDescriptor};
use serde_json::Value;
use tonic::Code;
use tonic::transport::Channel;

use super::answer::{expected_answer, got_answer};
use super::compare::{self, Answer};
use super::config::{CALL_SLACK, ReplayConfig, SETTLE_MIN};
use super::ids::IdMap;
use super::plan::{Planned, base_outcome, is_read};
use super::shared::{Shared, commit, track};
use super::transcript::Transcript;
use crate::check::Failure;
use crate::outcome::{Difference, Outcome, State};
use joblet_testkit::raw::{self as call, CallSpec, StopAt};

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

/// A call ready to be sent, and what its answer is compared with.
struct Prepared {
    method: MethodDescriptor,
    channel: Channel,
    /// The request as sent (IDs and names rewritten), in proto3 JSON.
    sent: Value,
    /// The same, encoded.
    request: Bytes,
    /// How reports name the call.
    call_text: String,
    is_log: bool,
    stop: StopAt,
    log_limit: Option<u64>,
    expected: Answer,
    timeout: Duration,
    /// A read: repeated while it differs, until its settle time runs out.
    read: bool,
    deadline: Instant,
    /// The replay session the call goes to.
    session: String,
    /// The key of [`Shared::settled`].
    settled_key: String,
}

/// Replays call `i` of the plan of `transcript`.
pub(super) async fn replay_call(shared: Arc<Shared>, i: usize, transcript: String) -> Outcome {
    let p = &shared.plan[i];
    let t = Transcript {
        name: transcript,
        lines: Vec::new(),
    };
    let started = Instant::now();
    let mut outcome = base_outcome(p, &t, State::Pass);
    let attempts = match prepare_call(&shared, p).await {
        Ok(call) => attempt(&shared, i, &call, &mut outcome).await,
        Err(reason) => {
            outcome.state = State::Skip;
            outcome.message = Some(reason);
            0
        }
    };
    outcome.duration_ms = started.elapsed().as_millis() as u64;
    if let Some(r) = &mut outcome.replay {
        r.attempts = attempts;
    }
    outcome
}

/// Everything before the first attempt: the method, the identity of the
/// recorded role, the request rewritten through the ID map, the deadlines.
/// `Err` says why the call cannot be replayed here.
async fn prepare_call(shared: &Shared, p: &Planned) -> Result<Prepared, String> {
    let line = &p.line;
    let Some(method) = line.descriptor() else {
        return Err(format!(
            "{}/{} is not a method of the v1 contract",
            line.service, line.method
        ));
    };
    if let Some(reason) = skip_reason(line, &shared.config) {
        return Err(reason);
    }
    let channel = shared.channel(&line.role).await?;
    // Schedules move by the time since the recorded call.
    let shift = chrono::DateTime::parse_from_rfc3339(&line.time)
        .map(|t| (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds())
        .unwrap_or(0);
    let sent = shared
        .ids
        .lock()
        .rewrite_request(p.session, &line.request, shift);
    let request = DynamicMessage::deserialize(method.input(), sent.clone())
        .map(|m| Bytes::from(m.encode_to_vec()))
        .map_err(|e| {
            format!(
                "the recorded request is not a {}: {e}",
                method.input().full_name()
            )
        })?;
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
    Ok(Prepared {
        method,
        channel,
        sent,
        request,
        call_text,
        is_log,
        stop,
        log_limit,
        expected,
        timeout,
        read,
        deadline,
        session,
        settled_key,
    })
}

/// Sends call `i` until its answer matches the recorded one, matches a later
/// recorded answer, or (for a read or a refused change) its settle time runs
/// out; fills in `outcome` and returns the attempts made.
async fn attempt(shared: &Shared, i: usize, call: &Prepared, outcome: &mut Outcome) -> u32 {
    let p = &shared.plan[i];
    let line = &p.line;
    let mut pause = Duration::from_millis(20);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let received = call::call(
            call.channel.clone(),
            CallSpec {
                path: &line.path(),
                streaming: call.method.is_server_streaming(),
                request: call.request.clone(),
                session: Some(&call.session),
                timeout: call.timeout,
            },
            call.stop,
        )
        .await;
        let transport = received.code == Code::Unavailable && {
            let m = received.message.to_ascii_lowercase();
            m.contains("transport") || m.contains("connect") || m.contains("broken pipe")
        };
        if transport && call.expected.code != "UNAVAILABLE" {
            outcome.state = State::Error;
            outcome.message = Some(format!(
                "{}: no answer from the target: {}",
                call.call_text, received.message
            ));
            return attempts;
        }
        let got = got_answer(&received, &call.method, call.is_log, call.log_limit);
        let snapshot = shared.ids.lock().clone();
        let (diffs, learned) = compare::compare(
            &shared.config.rules,
            &line.method,
            p.session,
            &snapshot,
            &call.expected,
            &got,
            line.client_cancelled,
        );
        if diffs.is_empty() {
            commit(shared, &learned);
            track(shared, i, line, &call.sent, &got);
            return attempts;
        }
        let retry = !received.timed_out
            && (call.read
                || (got.code == "FAILED_PRECONDITION"
                    && call.expected.code != "FAILED_PRECONDITION"));
        if retry {
            // The target may be ahead of the recording.
            if let Some((seq, learned)) = later_match(shared, p, call, &snapshot, &got) {
                commit(shared, &learned);
                outcome.message = Some(format!("matched the later recorded answer #{seq}"));
                return attempts;
            }
            let persistent = shared.settled.lock().get(&call.settled_key) == Some(&got);
            if !persistent
                && Instant::now() + pause < call.deadline
                && !shared.config.cancel.is_cancelled()
            {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(250));
                continue;
            }
            shared
                .settled
                .lock()
                .insert(call.settled_key.clone(), got.clone());
        }
        commit(shared, &learned);
        track(shared, i, line, &call.sent, &got);
        outcome.state = State::Fail;
        let failure = failure_of(call.call_text.clone(), &diffs);
        outcome.message = Some(failure.to_string());
        outcome.failure = Some(failure);
        if let Some(r) = &mut outcome.replay {
            r.differences = diffs;
        }
        return attempts;
    }
}

/// The first later recorded answer to the same request that `got` matches:
/// its `seq` and the IDs it taught.
fn later_match(
    shared: &Shared,
    p: &Planned,
    call: &Prepared,
    snapshot: &IdMap,
    got: &Answer,
) -> Option<(u64, IdMap)> {
    p.later.iter().find_map(|&j| {
        let later = &shared.plan[j].line;
        let (diffs, learned) = compare::compare(
            &shared.config.rules,
            &p.line.method,
            p.session,
            snapshot,
            &expected_answer(later, &call.method),
            got,
            later.client_cancelled,
        );
        diffs.is_empty().then_some((later.seq, learned))
    })
}
