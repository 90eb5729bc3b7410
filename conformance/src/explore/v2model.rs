//! The model of the v2-only calls (JOB-RUN-11, JOB-METRICS-1..3,
//! JOB-TELEM-1..4, RT-YAML-1..3, RT-BUILD-1..5), written from
//! `docs/behaviours.md`: pure, over the job model of [`super::model`].
//!
//! It does not predict a sample's figures. It checks their shape (the job's
//! full UUID, percentages, counters never negative and never decreasing, the
//! job's limits), their times (increasing; each within the job's life and
//! the call's window, through the sequence's epoch in Unix time that every
//! timestamp seen narrows; the metrics samples a whole number of intervals
//! apart), the filter and range and limit asked for, that a history keeps
//! what was seen before, how many samples a job of a known length has, and
//! when a stream must end (the job final) or may stay open.

use tonic::Code;

use super::call::{Answer, Call, Cmd, RunReq, Sched};
use super::checks::{self, SLACK_MS, Verdict};
use super::model::{Job, Model, Phase};
use super::v2call::{End, Event, OUT_FILE, Range, Sample, Target, V2Answer, V2Call};

/// The seven telematics types (JOB-TELEM-1).
pub const TYPES: [&str; 7] = [
    "exec",
    "connect",
    "accept",
    "file",
    "mmap",
    "mprotect",
    "socket_data",
];

const MIB: i64 = 1024 * 1024;

/// Judges `answer` to any call of a sequence, sent at `a` and answered at
/// `b`: the v2-only ones here, the others by [`Model::check`].
pub fn judge(m: &mut Model, call: &Call, a: f64, b: f64, answer: &Answer) -> Verdict {
    match call {
        Call::V2(c) => check(m, c, a, b, answer),
        Call::RunJobV2(req) => run(m, req, a, b, answer),
        other => m.check(other, a, b, answer),
    }
}

/// Judges `answer` to the v2-only `call`, sent at `a` and answered at `b`.
pub fn check(m: &mut Model, call: &V2Call, a: f64, b: f64, answer: &Answer) -> Verdict {
    match call {
        V2Call::StreamMetrics(id) => metrics(m, id, None, a, b, answer),
        V2Call::GetMetrics(id, r) => metrics(m, id, Some(*r), a, b, answer),
        V2Call::StreamTelem(id, types) => telem(m, id, types, None, a, b, answer),
        V2Call::GetTelem(id, types, r) => telem(m, id, types, Some(*r), a, b, answer),
        V2Call::Validate(y) => super::v2yaml::validate(m, y, answer),
        V2Call::Build {
            yaml,
            dry_run,
            verbose,
        } => super::v2build::build(m, yaml, *dry_run, *verbose, a, b, answer),
        V2Call::ListRuntimes => super::v2build::list(m, answer),
    }
}

pub fn run(m: &mut Model, req: &RunReq, a: f64, b: f64, answer: &Answer) -> Verdict {
    let known = checks::Known {
        networks: &m.networks,
        volumes: &m.volumes,
        runtimes: &m.runtimes,
    };
    let problems = checks::run_problems(known, req);
    if !problems.is_empty() {
        let mut ids = vec!["ALL-4"];
        ids.extend(problems.iter().map(|(id, _)| *id));
        let what: Vec<&str> = problems.iter().map(|(_, w)| *w).collect();
        return checks::error_code(answer, &[Code::InvalidArgument], &ids, &what.join(", "));
    }
    let Answer::V2(V2Answer::Run(uuid, status)) = answer else {
        return Verdict::fail(&["JOB-RUN-11"], "OK {job_uuid, status}");
    };
    let (start_at, scheduled) = match req.sched {
        Sched::Future(ms) => (a + ms, true),
        _ => (a, false),
    };
    if !checks::is_v4_uuid(uuid) {
        return Verdict::fail(&["ALL-2", "JOB-RUN-11"], "a lower-case v4 UUID");
    }
    let may_run = !scheduled || b + SLACK_MS >= start_at;
    let ok = match status.as_str() {
        "SCHEDULED" => scheduled,
        "RUNNING" => may_run,
        _ => false,
    };
    if !ok {
        let want = if scheduled { "SCHEDULED" } else { "RUNNING" };
        return Verdict::fail(&["JOB-RUN-11", "JOB-RUN-5"], &format!("status {want}"));
    }
    m.jobs.push(Job {
        uuid: uuid.clone(),
        cmd: req.cmd.clone(),
        start_at,
        scheduled,
        phase: Phase::Live,
        started: status == "RUNNING",
        deleted: false,
        may_fail_start: false,
        network: req.network.clone(),
        volumes: req.volumes.clone(),
        runtime: req.runtime.clone(),
        secret: !req.secret.is_empty(),
        gpu: req.gpu_count,
        timeout: String::new(),
        limit: None,
    });
    m.v2.note_run(uuid, req.limits);
    let mut ids = vec!["JOB-RUN-11", "ALL-2"];
    if !req.runtime.is_empty() {
        ids.push("JOB-RUN-8");
        if m.v2.built.keys().any(|(n, _)| n == &req.runtime) {
            ids.push("RT-BUILD-5");
        }
    }
    let mut v = Verdict::pass(&ids);
    v.state = Some(status.clone());
    v
}

/// Which job an ID names: `Err` with the verdict when it names none (an
/// empty ID, an ambiguous prefix; unknown and deleted jobs are `Ok(None)`).
fn target(
    m: &Model,
    id: &Target,
    answer: &Answer,
    ids: &[&'static str],
) -> Result<Option<usize>, Verdict> {
    if id.id.is_empty() {
        let ok = matches!(answer, Answer::Error(Code::InvalidArgument, msg) if msg == "job_uuid is required");
        let mut v = if ok {
            Verdict::pass(ids)
        } else {
            Verdict::fail(ids, "INVALID_ARGUMENT \"job_uuid is required\"")
        };
        v.state = Some("EMPTY ID".into());
        return Err(v);
    }
    if id.ambiguous {
        let mut v = checks::error_code(
            answer,
            &[Code::InvalidArgument],
            &["ALL-2"],
            "an ambiguous prefix",
        );
        v.state = Some("AMBIGUOUS PREFIX".into());
        return Err(v);
    }
    Ok(id.job.filter(|j| !m.jobs[*j].deleted))
}

/// A stream or history of an unknown (or deleted) job: NOT_FOUND "job not
/// found: <id>" for a stream, an empty stream and OK for a history.
fn unknown(id: &Target, history: bool, ids: &[&'static str], answer: &Answer) -> Verdict {
    let want = format!("job not found: {}", id.id);
    let ok = match answer {
        Answer::Error(Code::NotFound, msg) => !history && msg == &want,
        Answer::V2(V2Answer::Samples(s, End::Ok)) => history && s.is_empty(),
        Answer::V2(V2Answer::Events(e, End::Ok)) => history && e.is_empty(),
        _ => false,
    };
    let mut v = if ok {
        Verdict::pass(ids)
    } else if history {
        Verdict::fail(ids, "an empty stream and OK (an unknown job)")
    } else {
        Verdict::fail(ids, &format!("NOT_FOUND {want:?}"))
    };
    v.state = Some(
        if id.job.is_some() {
            "DELETED"
        } else {
            "UNKNOWN ID"
        }
        .into(),
    );
    v
}

/// Whether job `j` ran: it has a first sample and its command's exec event.
/// `Some(false)`: it never ran; `None`: not known.
fn ran(m: &Model, j: usize, a: f64, b: f64) -> Option<bool> {
    let job = &m.jobs[j];
    match &job.phase {
        Phase::Final(s, _) if s == "CANCELED" => return Some(false),
        Phase::Final(s, Some(-1)) if s == "FAILED" => return None,
        _ => {}
    }
    if job.may_fail_start {
        return None;
    }
    let may = m.may(j, a, b);
    if job.started {
        Some(true)
    } else if may.scheduled && !may.running && !may.finished() {
        Some(false)
    } else {
        None
    }
}

/// How a stream (`history` false) or a history of job `j` may end.
fn end_rule(m: &Model, j: usize, history: bool, a: f64, b: f64, end: &End) -> Option<String> {
    let job = &m.jobs[j];
    let may = m.may(j, a, b);
    let known_final = job.phase != Phase::Live;
    match end {
        End::Error(c, msg) => Some(format!(
            "no error (got {} {msg:?})",
            joblet_testkit::code_name(*c)
        )),
        End::Open if history => Some("the history, then the end with OK".into()),
        End::Open if known_final || !may.active() => {
            Some("the end with OK: the job is final".into())
        }
        End::Ok if !history && !known_final && !may.finished() => {
            Some("the stream open: the job is not final".into())
        }
        _ => None,
    }
}

/// The end a stream (not a history) of a job that may be final tells the
/// model.
fn learn_end(m: &mut Model, j: usize, history: bool, end: &End) {
    if !history && *end == End::Ok && m.jobs[j].phase == Phase::Live {
        m.jobs[j].phase = Phase::Ended;
    }
}

fn bad(ids: &[&'static str], label: String, what: &str) -> Verdict {
    let mut v = Verdict::fail(ids, what);
    v.state = Some(label);
    v
}

/// A sample's own shape (JOB-METRICS-1).
fn sample_shape(job: &Job, limits: Option<(i32, i32)>, s: &Sample) -> Option<String> {
    if s.uuid != job.uuid {
        return Some(format!("job_uuid {} (the full UUID)", job.uuid));
    }
    if !(0.0..=100.0).contains(&s.cpu) || !(0.0..=100.0).contains(&s.gpu) {
        return Some("cpu_percent and gpu_percent in 0..100".into());
    }
    let ints = [s.memory, s.memory_limit, s.gpu_memory];
    if ints.iter().chain(&s.counters).any(|v| *v < 0) {
        return Some("no negative figure".into());
    }
    if let Some((cpu, mem)) = limits {
        let want = i64::from(mem) * MIB;
        if s.memory_limit != want {
            return Some(format!("memory_limit {want} (max_memory {mem} MB)"));
        }
        if cpu > 0 && s.cpu > f64::from(cpu) {
            return Some(format!("cpu_percent at most max_cpu {cpu}"));
        }
        if mem > 0 && s.memory > want {
            return Some(format!("memory_bytes at most max_memory ({want})"));
        }
    }
    if job.network == "none" && (s.counters[2] != 0 || s.counters[3] != 0) {
        return Some("net_recv_bytes and net_sent_bytes 0 (network none)".into());
    }
    if job.gpu == 0 && (s.gpu != 0.0 || s.gpu_memory != 0) {
        return Some("gpu_percent and gpu_memory_bytes 0 (a job without GPUs)".into());
    }
    None
}

/// Timestamps increasing, within the job's life and the call's window.
fn times(m: &mut Model, j: usize, stamps: &[i64], b: f64) -> Option<String> {
    if stamps.windows(2).any(|w| w[0] >= w[1]) {
        return Some("increasing timestamps".into());
    }
    let job = &m.jobs[j];
    let lo = if job.scheduled {
        job.start_at - 1_000.0
    } else {
        job.start_at
    };
    for t in stamps {
        if !m.v2.stamp(*t, lo, b) {
            return Some(format!(
                "timestamps within the job's life and the call (Unix ns; {t} fits no epoch the others allow)"
            ));
        }
    }
    None
}

/// What a history (or a stream's history) must hold of what was seen: every
/// item seen in `range` up to the last one sent, all of them when nothing
/// cut the answer short.
fn keeps(seen: &[i64], got: &[i64], range: Range, complete: bool) -> Option<String> {
    let inside =
        |t: i64| (range.start == 0 || t >= range.start) && (range.end == 0 || t <= range.end);
    if let Some(t) = got.iter().find(|t| !inside(**t)) {
        return Some(format!("only timestamps within the range (got {t})"));
    }
    if range.limit > 0 && got.len() > range.limit as usize {
        return Some(format!("at most limit {} item(s)", range.limit));
    }
    let cut = range.limit > 0 && got.len() == range.limit as usize;
    let last = got.last().copied().unwrap_or(i64::MIN);
    for t in seen.iter().filter(|t| inside(**t)) {
        let due = if cut || !complete { *t <= last } else { true };
        if due && !got.contains(t) {
            return Some(format!(
                "the history seen before kept (timestamp {t} missing)"
            ));
        }
    }
    None
}

/// The job a metrics or telematics call names, after the rules both
/// share: a negative limit refused naming `limit` (whichever the node
/// checks first when the ID is bad too: the documents do not say), the ID's
/// problems, an unknown job. `Err`: the verdict already reached.
#[allow(clippy::too_many_arguments)]
fn stream_job(
    m: &Model,
    id: &Target,
    r: Range,
    history: bool,
    ids: &[&'static str],
    a: f64,
    b: f64,
    answer: &Answer,
) -> Result<(usize, String), Verdict> {
    if r.limit < 0
        && matches!(answer, Answer::Error(Code::InvalidArgument, msg) if msg.contains("limit"))
    {
        // Only a history call has a limit: `ids` is its behaviour's.
        return Err(Verdict::pass(&[ids[0], "ALL-4"]));
    }
    let j = match target(m, id, answer, ids) {
        Err(v) => return Err(v),
        Ok(None) if r.limit < 0 => {
            return Err(Verdict::fail(
                ids,
                "INVALID_ARGUMENT naming limit (a negative limit)",
            ));
        }
        Ok(None) => return Err(unknown(id, history, ids, answer)),
        Ok(Some(j)) => j,
    };
    let label = m.state_label(j, a, b);
    if r.limit < 0 {
        return Err(bad(
            ids,
            label,
            "INVALID_ARGUMENT naming limit (a negative limit)",
        ));
    }
    Ok((j, label))
}

fn metrics(
    m: &mut Model,
    id: &Target,
    range: Option<Range>,
    a: f64,
    b: f64,
    answer: &Answer,
) -> Verdict {
    let history = range.is_some();
    let ids: &[&'static str] = if history {
        &["JOB-METRICS-3"]
    } else {
        &["JOB-METRICS-2"]
    };
    let r = range.unwrap_or_default();
    let (j, label) = match stream_job(m, id, r, history, ids, a, b, answer) {
        Ok(found) => found,
        Err(v) => return v,
    };
    let Answer::V2(V2Answer::Samples(samples, end)) = answer else {
        return bad(ids, label, "the job's samples");
    };
    let mut all_ids = vec!["JOB-METRICS-1"];
    all_ids.extend_from_slice(ids);
    if let Some(e) = end_rule(m, j, history, a, b, end) {
        return bad(&all_ids, label, &e);
    }
    if let Some(e) = samples_rule(m, j, samples, r, history, a, b, end) {
        return bad(&all_ids, label, &e);
    }
    let facts = m.v2.jobs.entry(m.jobs[j].uuid.clone()).or_default();
    facts.samples.extend(samples.iter().map(|s| s.ts));
    learn_end(m, j, history, end);
    if id.id.len() < 36 {
        all_ids.push("ALL-2");
    }
    let mut v = Verdict::pass(&all_ids);
    v.state = Some(label);
    v
}

/// The rules of JOB-METRICS-1 over the samples of one answer.
#[allow(clippy::too_many_arguments)]
fn samples_rule(
    m: &mut Model,
    j: usize,
    samples: &[Sample],
    r: Range,
    history: bool,
    a: f64,
    b: f64,
    end: &End,
) -> Option<String> {
    let job = m.jobs[j].clone();
    let facts = m.v2.jobs.get(&job.uuid).cloned().unwrap_or_default();
    for s in samples {
        if let Some(e) = sample_shape(&job, facts.limits, s) {
            return Some(e);
        }
    }
    let stamps: Vec<i64> = samples.iter().map(|s| s.ts).collect();
    if let Some(e) = times(m, j, &stamps, b) {
        return Some(e);
    }
    for w in samples.windows(2) {
        if (0..4).any(|k| w[1].counters[k] < w[0].counters[k]) {
            return Some("byte counters that never decrease".into());
        }
        let d = w[1].ts - w[0].ts;
        match m.v2.interval {
            None => m.v2.interval = Some(d),
            Some(i) if (d - i).abs() > (SLACK_MS * 1e6) as i64 => {
                return Some(format!("samples one interval apart ({i} ns; got {d} ns)"));
            }
            Some(_) => {}
        }
    }
    let seen: Vec<i64> = facts.samples.iter().copied().collect();
    let complete = *end == End::Ok;
    if let Some(e) = keeps(&seen, &stamps, r, complete) {
        return Some(e);
    }
    let whole = r == Range::default();
    match ran(m, j, a, b) {
        Some(false) if !samples.is_empty() => {
            return Some("no sample: the job has not run".into());
        }
        Some(true) if whole && samples.is_empty() => {
            return Some("at least the sample taken when the job started".into());
        }
        _ => {}
    }
    if let Some(first) = samples.first()
        && whole
        && first.counters != [0; 4]
    {
        return Some("byte counters 0 in the first sample".into());
    }
    let _ = history;
    count_rule(m, j, samples.len(), whole && complete)
}

/// A job that ended on its own after running `d` ms has a sample every
/// interval from its start to its end, both included.
fn count_rule(m: &Model, j: usize, n: usize, whole: bool) -> Option<String> {
    let job = &m.jobs[j];
    let (Some(i), true) = (m.v2.interval, whole) else {
        return None;
    };
    let natural = matches!(&job.phase, Phase::Final(s, Some(c)) if (s == "COMPLETED" || s == "FAILED") && *c >= 0);
    if !natural || job.may_fail_start {
        return None;
    }
    let d = job.cmd.duration_ms();
    let per = i as f64 / 1e6;
    let lo = ((d - SLACK_MS).max(0.0) / per).floor() as usize + 1;
    let hi = ((d + m.grace) / per).floor() as usize + 1;
    (n < lo || n > hi)
        .then(|| format!("{lo} to {hi} samples (a job of {d} ms, one every {per} ms; got {n})"))
}

/// The types a filter keeps (JOB-TELEM-2).
pub fn kept(types: &[String]) -> Vec<&'static str> {
    let known = |t: &String| TYPES.contains(&t.as_str()) || t == "metrics";
    if types.iter().any(known) {
        TYPES
            .iter()
            .copied()
            .filter(|t| types.iter().any(|s| s == t))
            .collect()
    } else {
        TYPES.to_vec()
    }
}

/// An event's own shape (JOB-TELEM-1).
fn event_shape(job: &Job, keep: &[&str], e: &Event) -> Option<String> {
    if e.uuid != job.uuid {
        return Some(format!("job_uuid {} (the full UUID)", job.uuid));
    }
    if !TYPES.contains(&e.kind.as_str()) {
        return Some(format!("a type among {TYPES:?}"));
    }
    if e.data != Some(e.kind.as_str()) {
        return Some("exactly the data member of its type".into());
    }
    if !keep.contains(&e.kind.as_str()) {
        return Some(format!("only the types {keep:?} (the filter)"));
    }
    let filled = e.pid > 0
        && match e.kind.as_str() {
            "exec" | "file" => !e.what.is_empty(),
            _ => true,
        }
        && (e.kind != "file" || !e.operation.is_empty());
    (!filled).then(|| "every payload field filled".into())
}

fn telem(
    m: &mut Model,
    id: &Target,
    types: &[String],
    range: Option<Range>,
    a: f64,
    b: f64,
    answer: &Answer,
) -> Verdict {
    let history = range.is_some();
    let ids: &[&'static str] = if history {
        &["JOB-TELEM-4"]
    } else {
        &["JOB-TELEM-3"]
    };
    let r = range.unwrap_or_default();
    let (j, label) = match stream_job(m, id, r, history, ids, a, b, answer) {
        Ok(found) => found,
        Err(v) => return v,
    };
    let Answer::V2(V2Answer::Events(events, end)) = answer else {
        return bad(ids, label, "the job's events");
    };
    let mut all_ids = vec!["JOB-TELEM-1"];
    all_ids.extend_from_slice(ids);
    if !types.is_empty() {
        all_ids.push("JOB-TELEM-2");
    }
    if let Some(e) = end_rule(m, j, history, a, b, end) {
        return bad(&all_ids, label, &e);
    }
    if let Some(e) = events_rule(m, j, types, events, r, a, b, end) {
        return bad(&all_ids, label, &e);
    }
    let facts = m.v2.jobs.entry(m.jobs[j].uuid.clone()).or_default();
    facts
        .events
        .extend(events.iter().map(|e| (e.ts, e.kind.clone())));
    learn_end(m, j, history, end);
    let mut v = Verdict::pass(&all_ids);
    v.state = Some(label);
    v
}

/// The rules of JOB-TELEM-1..4 over the events of one answer.
#[allow(clippy::too_many_arguments)]
fn events_rule(
    m: &mut Model,
    j: usize,
    types: &[String],
    events: &[Event],
    r: Range,
    a: f64,
    b: f64,
    end: &End,
) -> Option<String> {
    let job = m.jobs[j].clone();
    let keep = kept(types);
    for e in events {
        if let Some(x) = event_shape(&job, &keep, e) {
            return Some(x);
        }
    }
    let stamps: Vec<i64> = events.iter().map(|e| e.ts).collect();
    if let Some(x) = times(m, j, &stamps, b) {
        return Some(x);
    }
    let seen: Vec<i64> =
        m.v2.jobs
            .get(&job.uuid)
            .map(|f| {
                f.events
                    .iter()
                    .filter(|(_, k)| keep.contains(&k.as_str()))
                    .map(|(t, _)| *t)
                    .collect()
            })
            .unwrap_or_default();
    if let Some(x) = keeps(&seen, &stamps, r, *end == End::Ok) {
        return Some(x);
    }
    let whole = r == Range::default();
    let ran = ran(m, j, a, b);
    if ran == Some(false) && !events.is_empty() {
        return Some("no event: the job has not run".into());
    }
    if ran != Some(true) || !whole || !keep.contains(&"exec") {
        return None;
    }
    own_exec(&job, events).or_else(|| {
        let wrote = matches!(job.cmd, Cmd::Shell(..));
        let natural = matches!(&job.phase, Phase::Final(s, _) if s == "COMPLETED");
        let file = events
            .iter()
            .any(|e| e.kind == "file" && e.operation == "write" && e.what.ends_with(OUT_FILE));
        (wrote && natural && keep.contains(&"file") && !file)
            .then(|| format!("a file event: write {}", OUT_FILE))
    })
}

/// The job's own command is an exec event: pid 1, ppid 0, its binary and
/// arguments, and in the history of a job that ended on its own, its exit
/// code.
fn own_exec(job: &Job, events: &[Event]) -> Option<String> {
    let (command, args) = job.cmd.command_args();
    let Some(e) = events.iter().find(|e| e.kind == "exec" && e.pid == 1) else {
        return Some(format!(
            "an exec event of the job's command {command:?} (pid 1)"
        ));
    };
    if e.ppid != 0 {
        return Some("the job's command with ppid 0".into());
    }
    if job.runtime.is_empty() && (e.what != format!("/usr/bin/{command}") || e.args != args) {
        return Some(format!(
            "the job's command as binary /usr/bin/{command} with args {args:?}"
        ));
    }
    match &job.phase {
        Phase::Final(s, Some(c)) if (s == "COMPLETED" || s == "FAILED") && *c >= 0 => {
            (e.exit_code != *c).then(|| format!("the command's exit_code {c} in the history"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UUID: &str = "3f2a1c4e-0d9b-4c1a-8e2f-1a2b3c4d5e6f";
    /// Unix ms of the sequence's time 0 in these tests.
    const EPOCH: i64 = 1_800_000_000_000;

    fn req(cmd: Cmd, limits: (i32, i32, i32)) -> RunReq {
        RunReq {
            cmd,
            sched: Sched::None,
            schedule: String::new(),
            limits,
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

    /// A model with one running `sleep 30` job (max_memory 64) started at 0.
    fn model() -> Model {
        let mut m = Model::new("cf-t-s0-", 300.0);
        let call = Call::RunJobV2(Box::new(req(Cmd::Sleep(30_000), (50, 64, 0))));
        let v = judge(
            &mut m,
            &call,
            0.0,
            1.0,
            &Answer::V2(V2Answer::Run(UUID.into(), "RUNNING".into())),
        );
        assert!(v.is_pass(), "{v:?}");
        m
    }

    fn id() -> Target {
        Target {
            id: UUID.into(),
            job: Some(0),
            ambiguous: false,
        }
    }

    /// Sample `k` of the job, one every 100 ms from time 0.
    fn sample(k: i64) -> Sample {
        Sample {
            ts: (EPOCH + 100 * k) * 1_000_000,
            uuid: UUID.into(),
            cpu: 10.0,
            gpu: 0.0,
            memory: 1_000,
            memory_limit: 64 * MIB,
            counters: [k * 10, k * 10, k, k],
            gpu_memory: 0,
        }
    }

    fn samples(v: Vec<Sample>, end: End) -> Answer {
        Answer::V2(V2Answer::Samples(v, end))
    }

    fn stream(m: &mut Model, a: f64, answer: &Answer) -> Verdict {
        judge(
            m,
            &Call::V2(Box::new(V2Call::StreamMetrics(id()))),
            a,
            a + 10.0,
            answer,
        )
    }

    fn get(m: &mut Model, r: Range, answer: &Answer) -> Verdict {
        judge(
            m,
            &Call::V2(Box::new(V2Call::GetMetrics(id(), r))),
            300.0,
            310.0,
            answer,
        )
    }

    #[test]
    fn explore_job_metrics_1_samples_have_the_jobs_shape() {
        let ok = samples(vec![sample(0), sample(1), sample(2)], End::Open);
        assert!(stream(&mut model(), 250.0, &ok).is_pass());
        // memory_limit 0 for a job with max_memory 64 (the mutant's answer).
        let mut s = sample(0);
        s.memory_limit = 0;
        let v = stream(&mut model(), 250.0, &samples(vec![s], End::Open));
        assert!(v.expected.unwrap().contains("memory_limit"));
        // A prefix of the UUID, a counter that decreases, the first sample's
        // counters not 0, uneven intervals.
        let mut prefix = sample(0);
        prefix.uuid = UUID[..8].into();
        let mut down = sample(2);
        down.counters[0] = 0;
        let mut late = sample(3);
        late.ts += 40_000_000;
        for bad in [
            vec![prefix],
            vec![sample(0), sample(1), down],
            vec![sample(1), sample(2)],
            vec![sample(0), sample(1), sample(2), late],
        ] {
            let v = stream(&mut model(), 350.0, &samples(bad.clone(), End::Open));
            assert!(!v.is_pass(), "{bad:?}");
        }
        // A running job that has no sample at all.
        let v = stream(&mut model(), 250.0, &samples(vec![], End::Open));
        assert!(!v.is_pass());
    }

    #[test]
    fn explore_job_metrics_timestamps_fit_the_calls_windows() {
        let mut m = model();
        let first = samples(vec![sample(0), sample(1)], End::Open);
        assert!(stream(&mut m, 150.0, &first).is_pass());
        // Sample 5 (500 ms after the start) cannot have been read by 310 ms.
        let v = stream(
            &mut m,
            200.0,
            &samples((0..6).map(sample).collect(), End::Open),
        );
        assert!(
            v.expected.as_deref().unwrap_or("").contains("timestamps"),
            "{v:?}"
        );
    }

    #[test]
    fn explore_job_metrics_2_the_stream_ends_when_the_job_is_final() {
        // A running 30 s job: OK is early, open is right.
        let early = stream(&mut model(), 250.0, &samples(vec![sample(0)], End::Ok));
        assert_eq!(
            early.expected.as_deref(),
            Some("the stream open: the job is not final")
        );
        let mut m = model();
        assert!(stream(&mut m, 250.0, &samples(vec![sample(0)], End::Open)).is_pass());
        // Once the job is seen STOPPED, the stream must end.
        m.saw_status(0, "STOPPED", -1);
        let open = stream(
            &mut m,
            260.0,
            &samples(vec![sample(0), sample(1), sample(2)], End::Open),
        );
        assert!(!open.is_pass());
        let done = stream(
            &mut m,
            260.0,
            &samples(vec![sample(0), sample(1), sample(2)], End::Ok),
        );
        assert!(done.is_pass(), "{done:?}");
        // An unknown job: NOT_FOUND naming it (not an empty stream).
        let unknown = Target {
            id: "00000000-0000-4000-a000-000000000000".into(),
            job: None,
            ambiguous: false,
        };
        let call = Call::V2(Box::new(V2Call::StreamMetrics(unknown.clone())));
        let v = judge(&mut m, &call, 1.0, 2.0, &samples(vec![], End::Ok));
        assert!(!v.is_pass());
        let nf = Answer::Error(Code::NotFound, format!("job not found: {}", unknown.id));
        assert!(judge(&mut m, &call, 1.0, 2.0, &nf).is_pass());
        // GetJobMetrics of it: an empty stream and OK.
        let call = Call::V2(Box::new(V2Call::GetMetrics(unknown, Range::default())));
        assert!(judge(&mut m, &call, 1.0, 2.0, &samples(vec![], End::Ok)).is_pass());
    }

    #[test]
    fn explore_job_metrics_3_limit_range_and_the_history_kept() {
        let mut m = model();
        let three = samples(vec![sample(0), sample(1), sample(2)], End::Open);
        assert!(stream(&mut m, 250.0, &three).is_pass());
        let one = Range {
            limit: 1,
            ..Range::default()
        };
        // limit 1: the oldest only (every sample is the mutant's answer).
        let all = samples(vec![sample(0), sample(1), sample(2)], End::Ok);
        assert!(!get(&mut m.clone(), one, &all).is_pass());
        assert!(get(&mut m.clone(), one, &samples(vec![sample(0)], End::Ok)).is_pass());
        assert!(!get(&mut m.clone(), one, &samples(vec![sample(1)], End::Ok)).is_pass());
        // A history keeps what was seen, and ends by itself.
        assert!(
            !get(
                &mut m.clone(),
                Range::default(),
                &samples(vec![sample(0)], End::Ok)
            )
            .is_pass()
        );
        assert!(!get(&mut m.clone(), Range::default(), &three).is_pass());
        // The range is inclusive at both ends.
        let r = Range {
            start: sample(1).ts,
            end: sample(2).ts,
            limit: 0,
        };
        assert!(
            get(
                &mut m.clone(),
                r,
                &samples(vec![sample(1), sample(2)], End::Ok)
            )
            .is_pass()
        );
        assert!(!get(&mut m.clone(), r, &samples(vec![sample(1)], End::Ok)).is_pass());
        assert!(!get(&mut m, r, &all).is_pass());
    }

    fn event(k: i64, kind: &str, pid: u32) -> Event {
        Event {
            ts: (EPOCH + k) * 1_000_000,
            uuid: UUID.into(),
            kind: kind.into(),
            data: Some(if kind == "exec" { "exec" } else { "file" }),
            pid,
            ppid: 0,
            what: if kind == "exec" {
                "/usr/bin/sleep".into()
            } else {
                "/work/cf-out.txt".into()
            },
            args: vec!["30".into()],
            exit_code: 0,
            operation: if kind == "file" {
                "write".into()
            } else {
                String::new()
            },
        }
    }

    fn telem(m: &mut Model, types: &[&str], r: Range, events: Vec<Event>) -> Verdict {
        let types = types.iter().map(|t| (*t).to_owned()).collect();
        judge(
            m,
            &Call::V2(Box::new(V2Call::GetTelem(id(), types, r))),
            300.0,
            310.0,
            &Answer::V2(V2Answer::Events(events, End::Ok)),
        )
    }

    #[test]
    fn explore_job_telem_1_2_4_types_filter_and_limit() {
        assert_eq!(kept(&[]), TYPES.to_vec());
        assert_eq!(kept(&["EXEC".into()]), TYPES.to_vec());
        assert_eq!(kept(&["metrics".into()]), Vec::<&str>::new());
        assert_eq!(kept(&["file".into(), "nope".into()]), vec!["file"]);
        let exec = event(1, "exec", 1);
        let file = event(2, "file", 1);
        let r = Range::default();
        assert!(telem(&mut model(), &[], r, vec![exec.clone(), file.clone()]).is_pass());
        // Upper-case types, a filter not honoured, a missing exec event.
        let mut upper = exec.clone();
        upper.kind = "EXEC".into();
        assert!(!telem(&mut model(), &[], r, vec![upper]).is_pass());
        assert!(!telem(&mut model(), &["file"], r, vec![exec.clone(), file.clone()]).is_pass());
        assert!(telem(&mut model(), &["file"], r, vec![file.clone()]).is_pass());
        assert!(!telem(&mut model(), &[], r, vec![file.clone()]).is_pass());
        // limit caps the whole answer (not each type).
        let one = Range {
            limit: 1,
            ..Range::default()
        };
        assert!(!telem(&mut model(), &[], one, vec![exec.clone(), file]).is_pass());
        assert!(telem(&mut model(), &[], one, vec![exec]).is_pass());
    }
}
