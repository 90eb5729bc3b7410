//! The model's verdicts and the rules it states without state: RunJob's
//! argument checks, name, size and CIDR rules, the shape of answers.

use std::collections::BTreeSet;

use tonic::Code;

use super::call::{Answer, JobView, Listed, RunReq, Sched};

/// Built-in networks (JOB-RUN-6, NET-CREATE-2).
pub const BUILTIN_NETWORKS: &[&str] = &["bridge", "isolated", "none"];

/// What the model knows of the node when it judges a RunJob.
#[derive(Debug, Clone, Copy)]
pub struct Known<'a> {
    /// The run's networks (name, cidr).
    pub networks: &'a [(String, String)],
    /// The run's volumes (name, size, type).
    pub volumes: &'a [(String, String, String)],
    /// Installed runtimes.
    pub runtimes: &'a BTreeSet<String>,
}

/// What the model knows of a job when it judges how it is shown.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// What its command does.
    pub cmd: &'a super::call::Cmd,
    /// It has secret values.
    pub secret: bool,
    /// It was scheduled in the future.
    pub scheduled: bool,
    /// Its network as sent.
    pub network: &'a str,
    /// Its runtime as sent.
    pub runtime: &'a str,
    /// Its gpu_count.
    pub gpu: i32,
}

/// The model's judgement of one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The behaviour IDs the answer was judged against.
    pub ids: Vec<&'static str>,
    /// What the documents allow, when the answer is not one of them.
    pub expected: Option<String>,
    /// The state the target job was in (for the coverage of pairs).
    pub state: Option<String>,
}

impl Verdict {
    /// The answer is allowed.
    pub fn pass(ids: &[&'static str]) -> Self {
        Self {
            ids: ids.to_vec(),
            expected: None,
            state: None,
        }
    }

    /// The answer is not allowed: the documents say `expected`.
    pub fn fail(ids: &[&'static str], expected: &str) -> Self {
        Self {
            ids: ids.to_vec(),
            expected: Some(expected.to_owned()),
            state: None,
        }
    }

    /// Whether the answer is allowed.
    pub fn is_pass(&self) -> bool {
        self.expected.is_none()
    }

    /// The same, judged against `more` IDs too.
    pub fn with_ids(mut self, more: &[&'static str]) -> Self {
        for id in more {
            if !self.ids.contains(id) {
                self.ids.push(id);
            }
        }
        self
    }
}

/// Passes when `answer` is an error with one of `codes`.
pub fn error_code(answer: &Answer, codes: &[Code], ids: &[&'static str], what: &str) -> Verdict {
    match answer {
        Answer::Error(code, _) if codes.contains(code) => Verdict::pass(ids),
        _ => {
            let names: Vec<&str> = codes
                .iter()
                .map(|c| joblet_testkit::code_name(*c))
                .collect();
            Verdict::fail(ids, &format!("{} ({what})", names.join(" or ")))
        }
    }
}

/// NET-CREATE-2, VOL-CREATE-2: 1-63 of `[A-Za-z0-9_-]`, starting and ending
/// alphanumeric.
pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// VOL-CREATE-2: a positive number with a unit B, KB, MB, GB or TB, any case.
pub fn valid_size(size: &str) -> bool {
    let upper = size.to_ascii_uppercase();
    let digits: String = upper.chars().take_while(char::is_ascii_digit).collect();
    let unit = &upper[digits.len()..];
    matches!(unit, "B" | "KB" | "MB" | "GB" | "TB") && digits.parse::<u64>().is_ok_and(|n| n > 0)
}

/// NET-CREATE-3: an IPv4 network with a prefix of /8 to /30 (its address and
/// prefix length), host bits zero or not.
pub fn parse_cidr(cidr: &str) -> Option<(u32, u32)> {
    let (addr, len) = cidr.split_once('/')?;
    let len: u32 = len.parse().ok()?;
    if !(8..=30).contains(&len) {
        return None;
    }
    let ip: std::net::Ipv4Addr = addr.parse().ok()?;
    Some((u32::from(ip), len))
}

/// Whether two networks share an address.
pub fn overlap(a: (u32, u32), b: (u32, u32)) -> bool {
    let len = a.1.min(b.1);
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    a.0 & mask == b.0 & mask
}

/// JOB-RUN-4: `N`, `a-b` or `a,b,c`, no duplicates, within the host's cores
/// (the explorer only ever asks for core 0 when it means a valid set; a core
/// number of 4096 or more is beyond any host).
fn valid_cores(cores: &str) -> bool {
    if cores.is_empty() {
        return true;
    }
    let num = |s: &str| s.parse::<u32>().ok().filter(|n| *n < 4096);
    if let Some((a, b)) = cores.split_once('-') {
        return matches!((num(a), num(b)), (Some(a), Some(b)) if a <= b);
    }
    let mut seen = BTreeSet::new();
    cores
        .split(',')
        .all(|c| num(c).is_some_and(|n| seen.insert(n)))
}

fn valid_env_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// Why RunJob must refuse `req` (behaviour ID, what), if it must.
pub fn run_problems(model: Known<'_>, req: &RunReq) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    let (command, _) = req.cmd.command_args();
    if command.is_empty() {
        out.push(("JOB-RUN-2", "an empty command"));
    }
    let (cpu, mem, io) = req.limits;
    if cpu < 0 || mem < 0 || io < 0 {
        out.push(("JOB-RUN-3", "a negative limit"));
    }
    if cpu > 100_000 {
        out.push(("JOB-RUN-3", "maxCpu over 100 x the host's cores"));
    }
    if !valid_cores(&req.cpu_cores) {
        out.push(("JOB-RUN-4", "bad cpuCores"));
    }
    if req.sched == Sched::Bad {
        out.push(("JOB-RUN-5", "a schedule that is no time"));
    }
    let net = &req.network;
    if !net.is_empty()
        && !BUILTIN_NETWORKS.contains(&net.as_str())
        && !model.networks.iter().any(|(n, _)| n == net)
    {
        out.push(("JOB-RUN-6", "an unknown network"));
    }
    if req
        .volumes
        .iter()
        .any(|v| v.is_empty() || !model.volumes.iter().any(|(n, ..)| n == v))
    {
        out.push(("JOB-RUN-7", "an unknown volume"));
    }
    if !req.runtime.is_empty() && !model.runtimes.contains(&req.runtime) {
        out.push(("JOB-RUN-8", "a runtime that is not installed"));
    }
    if req
        .uploads
        .iter()
        .any(|(p, _)| p.starts_with('/') || p.split('/').any(|s| s == ".."))
    {
        out.push(("JOB-RUN-9", "an upload path outside the work dir"));
    }
    let env_bad = req
        .env
        .iter()
        .chain(&req.secret)
        .any(|(k, v)| !valid_env_name(k) || v.len() > 32768);
    let dup = req
        .env
        .iter()
        .any(|(k, _)| req.secret.iter().any(|(s, _)| s == k));
    if env_bad || dup {
        out.push(("JOB-RUN-10", "a bad environment"));
    }
    if req.gpu_count < 0 || req.gpu_count > 1000 {
        out.push(("JOB-GPU-2", "a GPU count beyond the node"));
    }
    out
}

/// ALL-2: a lower-case RFC 4122 v4 UUID.
pub fn is_v4_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            14 => *c == b'4',
            19 => matches!(c, b'8' | b'9' | b'a' | b'b'),
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        })
}

/// ALL-3: RFC 3339 with whole seconds and an offset, or "".
pub fn is_job_time(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    let base = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    let zone = &s[19.min(s.len())..];
    let zone_ok = zone == "Z"
        || (zone.len() == 6
            && matches!(zone.as_bytes()[0], b'+' | b'-')
            && zone.as_bytes()[3] == b':');
    base && zone_ok
}

/// How early a scheduled job may start or end against the model's clock:
/// the schedule text is cut to the millisecond and the node's timers tick
/// by milliseconds.
pub const SLACK_MS: f64 = 5.0;

/// The behaviours a RunJob's arguments exercise, whichever contract's
/// message carried them: a schedule, a network, volumes, a runtime, uploads.
pub fn run_arg_ids(req: &RunReq) -> Vec<&'static str> {
    [
        (req.sched != Sched::None, "JOB-RUN-5"),
        (!req.network.is_empty(), "JOB-RUN-6"),
        (!req.volumes.is_empty(), "JOB-RUN-7"),
        (!req.runtime.is_empty(), "JOB-RUN-8"),
        (!req.uploads.is_empty(), "JOB-RUN-9"),
    ]
    .into_iter()
    .filter_map(|(given, id)| given.then_some(id))
    .collect()
}

/// JOB-RUN-1: the answer to an accepted RunJob.
pub fn run_answer(
    req: &RunReq,
    view: &JobView,
    sched_time: &str,
    scheduled: bool,
    start_at: f64,
    b: f64,
) -> Verdict {
    if !is_v4_uuid(&view.uuid) {
        return Verdict::fail(&["ALL-2", "JOB-RUN-1"], "a lower-case v4 UUID");
    }
    let may_run = !scheduled || b + SLACK_MS >= start_at;
    let status_ok = match view.status.as_str() {
        "SCHEDULED" => scheduled,
        "RUNNING" => may_run,
        _ => false,
    };
    if !status_ok {
        let want = if scheduled && may_run {
            "SCHEDULED or RUNNING"
        } else if scheduled {
            "SCHEDULED"
        } else {
            "RUNNING"
        };
        return Verdict::fail(
            &["JOB-RUN-1", "JOB-RUN-5", "ALL-1"],
            &format!("status {want}"),
        );
    }
    let (command, args) = req.cmd.command_args();
    if view.command != command || view.args != args {
        return Verdict::fail(
            &["JOB-RUN-1"],
            &format!("the command {command:?} and args {args:?} echoed"),
        );
    }
    if view.status == "SCHEDULED" && (sched_time.is_empty() || !is_job_time(sched_time)) {
        return Verdict::fail(&["JOB-RUN-5", "ALL-3"], "scheduledTime set, RFC 3339");
    }
    let mut ids = vec!["JOB-RUN-1", "ALL-2"];
    ids.extend(run_arg_ids(req));
    if req.limits == (0, 0, 0) {
        ids.push("JOB-RUN-3");
    }
    Verdict::pass(&ids)
}

/// A job as GetJobStatus (`full`) or ListJobs shows it.
pub fn job_view(
    job: Facts<'_>,
    view: &JobView,
    allowed: &[(&'static str, Option<i32>)],
    full: bool,
) -> Verdict {
    let ok = allowed
        .iter()
        .any(|(s, code)| *s == view.status && code.is_none_or(|c| c == view.exit_code));
    if !ok {
        let list: Vec<String> = allowed
            .iter()
            .map(|(s, c)| match c {
                Some(c) => format!("{s} (exitCode {c})"),
                None => (*s).to_owned(),
            })
            .collect();
        return Verdict::fail(
            &["ALL-1", "JOB-LIFE-1", "JOB-LIFE-2", "JOB-STOP-1"],
            &format!("status {}", list.join(" or ")),
        );
    }
    if let Some(v) = gpus(&job, view) {
        return v;
    }
    let (command, args) = job.cmd.command_args();
    if view.command != command || view.args != args {
        return Verdict::fail(
            &["JOB-STATUS-1"],
            &format!("command {command:?} args {args:?}"),
        );
    }
    if !is_job_time(&view.start_time) || !is_job_time(&view.end_time) {
        return Verdict::fail(&["ALL-3"], "times RFC 3339 with whole seconds");
    }
    if job.secret && view.secret_values.iter().any(|v| v != "***") {
        return Verdict::fail(&["ALL-6"], "secret values masked as \"***\"");
    }
    let mut ids = vec!["ALL-1", "ALL-3", "JOB-LIFE-1"];
    if job.scheduled {
        ids.push("JOB-LIFE-2");
    }
    if job.secret {
        ids.push("ALL-6");
    }
    if job.gpu > 0 && view.status == "RUNNING" {
        ids.push("JOB-GPU-1");
    }
    if full {
        if view.work_dir.is_empty() {
            return Verdict::fail(&["JOB-STATUS-1"], "workDir set");
        }
        let net_ok =
            view.network == job.network || (job.network.is_empty() && view.network == "bridge");
        if !net_ok || view.runtime != job.runtime {
            return Verdict::fail(
                &["JOB-STATUS-1", "JOB-RUN-6", "JOB-RUN-8"],
                &format!(
                    "network {:?} and runtime {:?} echoed",
                    job.network, job.runtime
                ),
            );
        }
        ids.push("JOB-STATUS-1");
    }
    Verdict::pass(&ids)
}

/// The run's networks or volumes in a list: (name, cidr or size, bridge or
/// type, the range of its jobCount).
pub fn listing(
    got: &[Listed],
    want: &[(String, String, String, (i32, i32))],
    id: &'static str,
) -> Verdict {
    let names: Vec<&str> = got.iter().map(|l| l.name.as_str()).collect();
    let want_names: Vec<&str> = want.iter().map(|w| w.0.as_str()).collect();
    if names != want_names {
        return Verdict::fail(
            &[id, "ALL-5"],
            &format!("the run's, in creation order: {want_names:?}"),
        );
    }
    for (l, (name, detail, kind, (min, max))) in got.iter().zip(want) {
        if &l.detail != detail || &l.kind != kind || l.job_count < *min || l.job_count > *max {
            let count = if min == max {
                format!("{min}")
            } else {
                format!("{min} to {max}")
            };
            return Verdict::fail(&[id], &format!("{name} {detail} {kind} jobCount {count}"));
        }
    }
    Verdict::pass(&[id, "ALL-5"])
}

/// NET-RM-1, VOL-RM-1: {success, message}.
pub fn removal(
    answer: &Answer,
    exists: bool,
    (min, max): (i32, i32),
    id: &'static str,
    what: &str,
) -> Verdict {
    let Answer::Removed(success, message) = answer else {
        return Verdict::fail(&[id], "OK {success, message}");
    };
    let ok = match (exists, success) {
        (false, false) => {
            message.contains("not found")
                || message.contains("cannot")
                || message.contains("built-in")
                || message.contains("builtin")
        }
        (false, true) => false,
        (true, true) => min == 0,
        (true, false) => max > 0 && message.contains("in use"),
    };
    if ok {
        return Verdict::pass(&[id]);
    }
    let want = if !exists {
        format!("success false, \"{what} not found\"")
    } else if min > 0 {
        format!("success false, \"{what} is still in use by N job(s)\"")
    } else if max > 0 {
        "success true, or false \"in use\" (a job may be running on it)".to_owned()
    } else {
        "success true".to_owned()
    };
    Verdict::fail(&[id], &want)
}

/// RT-LIST-1: every listed runtime is available.
pub fn runtimes(answer: &Answer) -> Verdict {
    match answer {
        Answer::Runtimes(list) if list.iter().all(|(n, a)| !n.is_empty() && *a) => {
            Verdict::pass(&["RT-LIST-1"])
        }
        _ => Verdict::fail(
            &["RT-LIST-1"],
            "OK, every installed runtime named and available",
        ),
    }
}

/// RT-INFO-1: found for an installed runtime, not found for another, and
/// INVALID_ARGUMENT for an empty name.
pub fn runtime_info(name: &str, installed: &BTreeSet<String>, answer: &Answer) -> Verdict {
    if name.is_empty() {
        return error_code(
            answer,
            &[Code::InvalidArgument],
            &["RT-INFO-1"],
            "an empty name",
        );
    }
    let want = installed.contains(name);
    match answer {
        Answer::Found(f) if *f == want => Verdict::pass(&["RT-INFO-1"]),
        _ => Verdict::fail(&["RT-INFO-1"], &format!("OK {{found {want}}}")),
    }
}

/// RT-TEST-1: an unknown runtime answers success false, exitCode 1.
pub fn runtime_test(name: &str, installed: &BTreeSet<String>, answer: &Answer) -> Verdict {
    let want = if installed.contains(name) {
        (true, 0)
    } else {
        (false, 1)
    };
    match answer {
        Answer::Tested(s, x) if (*s, *x) == want => Verdict::pass(&["RT-TEST-1"]),
        _ => Verdict::fail(
            &["RT-TEST-1"],
            &format!("OK {{success {}, exitCode {}}}", want.0, want.1),
        ),
    }
}

/// MON-STATUS-1: available true.
pub fn system(answer: &Answer) -> Verdict {
    match answer {
        Answer::System(true) => Verdict::pass(&["MON-STATUS-1"]),
        _ => Verdict::fail(&["MON-STATUS-1"], "OK {available true}"),
    }
}

/// RT-SPEC-1: {valid} as the grammar says, never a gRPC error.
pub fn spec(valid: bool, answer: &Answer) -> Verdict {
    match answer {
        Answer::Valid(v) if *v == valid => Verdict::pass(&["RT-SPEC-1"]),
        _ => Verdict::fail(&["RT-SPEC-1"], &format!("OK {{valid {valid}}}")),
    }
}

/// The sections a metrics sample may carry (MON-STREAM-2).
pub const SECTIONS: &[&str] = &["cpu", "memory", "disk", "network", "io", "process"];

/// MON-STREAM-1/2: the first sample at once, with host and timestamp and
/// exactly the asked sections (all without a filter); an unknown type is
/// INVALID_ARGUMENT.
pub fn sample(types: &[String], answer: &Answer) -> Verdict {
    if types.iter().any(|t| !SECTIONS.contains(&t.as_str())) {
        return error_code(
            answer,
            &[Code::InvalidArgument],
            &["MON-STREAM-2", "ALL-4"],
            "an unknown metric type",
        );
    }
    let mut want: Vec<&str> = vec!["timestamp", "host"];
    want.extend(
        SECTIONS
            .iter()
            .filter(|s| types.is_empty() || types.iter().any(|t| t == *s)),
    );
    match answer {
        Answer::Sample(got) if got == &want => Verdict::pass(&["MON-STREAM-1", "MON-STREAM-2"]),
        _ => Verdict::fail(
            &["MON-STREAM-1", "MON-STREAM-2"],
            &format!("a first sample with {want:?}"),
        ),
    }
}

/// JOB-GPU-2: a valid GPU request may find the node without GPUs enough
/// (INVALID_ARGUMENT) or them busy, other clients' jobs included
/// (RESOURCE_EXHAUSTED).
pub fn gpu_refusal(req: &RunReq, answer: &Answer) -> Option<Verdict> {
    match answer {
        Answer::Error(Code::InvalidArgument | Code::ResourceExhausted, _) if req.gpu_count > 0 => {
            Some(Verdict::pass(&["JOB-GPU-2"]))
        }
        _ => None,
    }
}

/// JOB-GPU-1: a running GPU job reports its gpu_count and holds that many
/// GPUs (gpu_indices).
fn gpus(job: &Facts<'_>, view: &JobView) -> Option<Verdict> {
    let n = usize::try_from(job.gpu).unwrap_or(0);
    let holds = view.gpu_count == job.gpu && view.gpu_indices.len() == n;
    (n > 0 && view.status == "RUNNING" && !holds).then(|| {
        Verdict::fail(
            &["JOB-GPU-1"],
            &format!("gpu_count {n} and {n} gpu_indices (a running GPU job)"),
        )
    })
}

/// The status text `s` as one of the statuses a job may show.
pub fn status_str(s: &str) -> &'static str {
    match s {
        "COMPLETED" => "COMPLETED",
        "FAILED" => "FAILED",
        "STOPPED" => "STOPPED",
        "CANCELED" => "CANCELED",
        "TIMEOUT" => "TIMEOUT",
        "RUNNING" => "RUNNING",
        "SCHEDULED" => "SCHEDULED",
        _ => "INITIALIZING",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explore_rules_job_gpu_1_a_running_gpu_job_reports_its_gpus() {
        let cmd = super::super::call::Cmd::Sleep(30_000);
        let facts = Facts {
            cmd: &cmd,
            secret: false,
            scheduled: false,
            network: "",
            runtime: "",
            gpu: 1,
        };
        let mut view = JobView {
            status: "RUNNING".into(),
            command: "sleep".into(),
            args: vec!["30".into()],
            gpu_count: 1,
            gpu_indices: vec![0],
            ..JobView::default()
        };
        let running = [("RUNNING", None)];
        let v = job_view(facts, &view, &running, false);
        assert!(v.is_pass() && v.ids.contains(&"JOB-GPU-1"), "{v:?}");
        view.gpu_indices.clear();
        let v = job_view(facts, &view, &running, false);
        assert_eq!(v.ids, vec!["JOB-GPU-1"]);
        assert!(!v.is_pass());
        // Ended, its GPUs are free: nothing is required of the indices.
        view.status = "STOPPED".into();
        assert!(job_view(facts, &view, &[("STOPPED", None)], false).is_pass());
    }

    #[test]
    fn explore_rules_of_names_sizes_cidrs_and_cores() {
        assert!(valid_name("cf-ab12-n1"));
        assert!(!valid_name("-x") && !valid_name("x-") && !valid_name("") && !valid_name("a b"));
        assert!(valid_size("10MB") && valid_size("1gb") && valid_size("5B"));
        assert!(
            !valid_size("0MB") && !valid_size("-5MB") && !valid_size("10XB") && !valid_size("")
        );
        assert_eq!(parse_cidr("10.1.0.0/16"), Some((0x0a01_0000, 16)));
        assert!(parse_cidr("10.0.0.0/31").is_none() && parse_cidr("300.0.0.0/8").is_none());
        assert!(overlap((0x0a01_0000, 16), (0x0a01_0200, 24)));
        assert!(!overlap((0x0a01_0000, 24), (0x0a01_0100, 24)));
        assert!(valid_cores("0") && valid_cores("0-0") && !valid_cores("3-1"));
        assert!(!valid_cores("0,0") && !valid_cores("x") && !valid_cores("99999"));
        assert!(is_v4_uuid("3f2a1c4e-0d9b-4c1a-8e2f-1a2b3c4d5e6f"));
        assert!(!is_v4_uuid("3F2A1C4E-0D9B-4C1A-8E2F-1A2B3C4D5E6F"));
        assert!(is_job_time("2025-01-02T03:04:05+02:00") && is_job_time("2025-01-02T03:04:05Z"));
        assert!(!is_job_time("2025-01-02T03:04:05.000+02:00"));
    }
}
