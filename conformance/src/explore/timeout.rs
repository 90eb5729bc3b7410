//! Job timeouts of the v2 contract in the model (JOB-TIMEOUT-1 to
//! JOB-TIMEOUT-4): the Go duration grammar a `timeout` is read with, when
//! a job with a limit ends (`TIMEOUT`, exit code 124, no earlier than its
//! start plus the limit), and how status and list answers echo it. Written
//! from `docs/behaviours.md`, not from any server's parser.

use tonic::Code;

use super::call::{Answer, Cmd, JobView, RunReq};
use super::checks::Verdict;

/// Valid timeouts the explorer sends: short ones a `sleep` outlives, long
/// ones it does not, and the zero ones that mean no limit.
pub const VALID: &[&str] = &[
    "100ms", "250ms", "1s", "2s", "1.5s", "1m30s", "1h", "0", "0s",
];

/// Valid timeouts that a `sleep` of the explorer's outlives while the
/// sequence watches.
pub const SHORT: &[&str] = &["100ms", "250ms", "300ms"];

/// Timeouts that must be refused (JOB-TIMEOUT-2): no number, no unit, an
/// unknown unit, negative, out of range.
pub const INVALID: &[&str] = &["abc", "5", "10d", "-1s", "1.2.3s", "s", "9999999h"];

/// The largest duration a Go `time.Duration` holds: 2^63 - 1 nanoseconds.
const MAX_NS: u128 = i64::MAX as u128;

/// A Go duration (JOB-TIMEOUT-1) in milliseconds: `Ok(None)` for "" and any
/// zero duration (no limit), `Err` with why for a text that does not parse,
/// is negative or is out of range (JOB-TIMEOUT-2).
pub fn parse(text: &str) -> Result<Option<f64>, String> {
    if text.is_empty() || text == "0" {
        return Ok(None);
    }
    let (negative, mut rest) = match text.as_bytes()[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(None);
    }
    if rest.is_empty() {
        return Err("no number".into());
    }
    // Nanoseconds, as a float: exact enough to tell zero, the range and
    // milliseconds apart.
    let mut total = 0f64;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int, after) = rest.split_at(digits);
        let (frac, after) = match after.strip_prefix('.') {
            Some(a) => a.split_at(a.bytes().take_while(u8::is_ascii_digit).count()),
            None => ("", after),
        };
        if int.is_empty() && frac.is_empty() {
            return Err(format!("a number expected at {rest:?}"));
        }
        let unit_len = after
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(after.len(), |(i, _)| i);
        let (unit, next) = after.split_at(unit_len);
        let scale: f64 = match unit {
            "ns" => 1.0,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err("a unit missing".into()),
            other => return Err(format!("unknown unit {other:?}")),
        };
        let number: f64 = format!("{}.{}0", if int.is_empty() { "0" } else { int }, frac)
            .parse()
            .map_err(|_| format!("a bad number in {text:?}"))?;
        total += number * scale;
        if total > MAX_NS as f64 {
            return Err("out of range".into());
        }
        rest = next;
    }
    if total == 0.0 {
        return Ok(None);
    }
    if negative {
        return Err("negative".into());
    }
    Ok(Some(total / 1e6))
}

/// How long a job runs once started: its command's time, or its timeout
/// (`limit`) when that is shorter (JOB-TIMEOUT-3).
pub fn run_ms(cmd: &Cmd, limit: Option<f64>) -> f64 {
    let natural = cmd.duration_ms();
    match limit {
        Some(limit) if limit < natural => limit,
        _ => natural,
    }
}

/// The status and exit code a job ends with on its own: `TIMEOUT` and 124
/// when its timeout is shorter than its command (JOB-TIMEOUT-3), else as
/// its command ends (JOB-LIFE-1).
pub fn natural_end(cmd: &Cmd, limit: Option<f64>) -> (&'static str, i32) {
    match limit {
        Some(limit) if limit < cmd.duration_ms() => ("TIMEOUT", 124),
        _ => cmd.natural_end(),
    }
}

/// RunJob with a `timeout` that must be refused: INVALID_ARGUMENT naming
/// the field, nothing started (JOB-TIMEOUT-2). `other` says whether the
/// request has other problems too (then any INVALID_ARGUMENT will do).
pub fn refusal(req: &RunReq, other: bool, answer: &Answer) -> Option<Verdict> {
    let why = parse(&req.timeout).err()?;
    let ids: &[&'static str] = &["JOB-TIMEOUT-2", "ALL-4"];
    Some(match answer {
        Answer::Error(Code::InvalidArgument, m) if other || m.contains("timeout") => {
            Verdict::pass(ids)
        }
        _ => Verdict::fail(
            ids,
            &format!(
                "INVALID_ARGUMENT \"invalid request: invalid timeout: {}\" ({why})",
                req.timeout
            ),
        ),
    })
}

/// A view of a job sent with `timeout` (parsed: `limit`): `TIMEOUT` only
/// with exit code 124 (the allowed statuses say when), and, read through
/// the v2 messages, the timeout echoed exactly as sent (JOB-TIMEOUT-4).
pub fn judge_view(timeout: &str, limit: Option<f64>, view: &JobView, verdict: Verdict) -> Verdict {
    if !verdict.is_pass() {
        return if limit.is_some() {
            verdict.with_ids(&["JOB-TIMEOUT-3"])
        } else {
            verdict
        };
    }
    let mut v = verdict;
    if view.status == "TIMEOUT" {
        v = v.with_ids(&["JOB-TIMEOUT-3"]);
    }
    if let Some(echo) = &view.timeout {
        if echo != timeout {
            return Verdict::fail(
                &["JOB-TIMEOUT-4"],
                &format!("timeout {timeout:?} echoed as sent"),
            );
        }
        if !timeout.is_empty() {
            v = v.with_ids(&["JOB-TIMEOUT-4"]);
        }
    }
    v
}

/// The IDs an accepted RunJob with `timeout` exercised.
pub fn accepted_ids(timeout: &str) -> &'static [&'static str] {
    if timeout.is_empty() {
        &[]
    } else {
        &["JOB-TIMEOUT-1"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_job_timeout_1() {
        let ms = |t: &str| parse(t).unwrap_or_else(|e| panic!("{t:?}: {e}"));
        assert_eq!(ms(""), None);
        assert_eq!(ms("0"), None);
        assert_eq!(ms("0s"), None);
        assert_eq!(ms("-0"), None);
        assert_eq!(ms("0h0m"), None);
        assert_eq!(ms("100ms"), Some(100.0));
        assert_eq!(ms("1s"), Some(1000.0));
        assert_eq!(ms("1.5s"), Some(1500.0));
        assert_eq!(ms(".5s"), Some(500.0));
        assert_eq!(ms("1m30s"), Some(90_000.0));
        assert_eq!(ms("1.5h"), Some(5_400_000.0));
        assert_eq!(ms("+2m3.5s"), Some(123_500.0));
        assert_eq!(ms("1500us"), Some(1.5));
        assert_eq!(ms("2\u{b5}s"), Some(0.002));
        assert_eq!(ms("1000000ns"), Some(1.0));
        for t in VALID {
            assert!(parse(t).is_ok(), "{t}");
        }
    }

    #[test]
    fn bad_durations_are_refused_job_timeout_2() {
        for t in INVALID {
            assert!(parse(t).is_err(), "{t:?} must be refused");
        }
        for t in [
            "1", "1sec", "1 s", "-", "+", ".s", "1..5s", "1e3s", "-5m", "2562048h",
        ] {
            assert!(parse(t).is_err(), "{t:?} must be refused");
        }
        // The largest Go duration is just under 2562048 hours.
        assert!(parse("2562047h").is_ok());
    }

    use super::super::model::Job;

    fn job(cmd: super::super::call::Cmd, timeout: &str) -> Job {
        Job {
            uuid: "u".into(),
            cmd,
            start_at: 0.0,
            scheduled: false,
            phase: super::super::model::Phase::Live,
            started: false,
            deleted: false,
            may_fail_start: false,
            network: String::new(),
            volumes: vec![],
            runtime: String::new(),
            secret: false,
            gpu: 0,
            timeout: timeout.into(),
            limit: parse(timeout).ok().flatten(),
        }
    }

    #[test]
    fn a_command_that_outlives_its_timeout_ends_timeout_124_job_timeout_3() {
        use super::super::call::Cmd;
        let j = job(Cmd::Sleep(30_000), "250ms");
        assert_eq!((j.run_ms(), j.natural_end()), (250.0, ("TIMEOUT", 124)));
        // One that ends first ends as usual.
        let j = job(Cmd::Sleep(50), "1s");
        assert_eq!((j.run_ms(), j.natural_end()), (50.0, ("COMPLETED", 0)));
        let j = job(Cmd::False, "100ms");
        assert_eq!((j.run_ms(), j.natural_end()), (0.0, ("FAILED", 1)));
        // No limit.
        let j = job(Cmd::Sleep(30_000), "0s");
        assert_eq!((j.run_ms(), j.natural_end()), (30_000.0, ("COMPLETED", 0)));
    }

    #[test]
    fn the_model_times_a_timeout_from_the_start_with_slack_and_grace_job_timeout_3() {
        use super::super::call::Cmd;
        use super::super::model::Model;
        let mut m = Model::new("cf-t-", 300.0);
        m.jobs.push(job(Cmd::Sleep(30_000), "1s"));
        // Before start + 1 s - slack: only RUNNING.
        let early = m.statuses(0, 900.0, 990.0);
        assert!(!early.iter().any(|(s, _)| *s == "TIMEOUT"), "{early:?}");
        // Around start + 1 s: RUNNING or TIMEOUT 124.
        let around = m.statuses(0, 990.0, 1_100.0);
        assert!(around.contains(&("TIMEOUT", Some(124))), "{around:?}");
        assert!(around.contains(&("RUNNING", None)), "{around:?}");
        // After start + 1 s + grace: only TIMEOUT 124.
        assert_eq!(
            m.statuses(0, 1_301.0, 1_302.0),
            vec![("TIMEOUT", Some(124))]
        );
    }

    #[test]
    fn refusals_name_the_field_and_echoes_are_exact_job_timeout_2_and_4() {
        use super::super::call::Cmd;
        let mut req = RunReq {
            cmd: Cmd::Sleep(50),
            sched: super::super::call::Sched::None,
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
            timeout: "abc".into(),
        };
        let named = Answer::Error(
            Code::InvalidArgument,
            "invalid request: invalid timeout: abc".into(),
        );
        let unnamed = Answer::Error(Code::InvalidArgument, "bad request".into());
        assert!(refusal(&req, false, &named).is_some_and(|v| v.is_pass()));
        assert!(refusal(&req, false, &unnamed).is_some_and(|v| !v.is_pass()));
        assert!(refusal(&req, true, &unnamed).is_some_and(|v| v.is_pass()));
        let started = Answer::Run(JobView::default(), String::new());
        assert!(refusal(&req, false, &started).is_some_and(|v| !v.is_pass()));
        req.timeout = "1m30s".into();
        assert!(refusal(&req, false, &started).is_none());
        let j = job(Cmd::Sleep(30_000), "1m30s");
        let mut view = JobView {
            timeout: Some("1m30s".into()),
            ..JobView::default()
        };
        let judge = |view: &JobView| judge_view(&j.timeout, j.limit, view, Verdict::pass(&[]));
        assert!(judge(&view).is_pass());
        view.timeout = Some(String::new());
        assert!(!judge(&view).is_pass());
        // A v1 client does not see it.
        view.timeout = None;
        assert!(judge(&view).is_pass());
    }
}
