use std::time::Duration;

use futures::StreamExt;

use tokio_util::sync::CancellationToken;

use super::file::*;
use super::glob::*;
use super::rule::*;
use super::rules::*;
use super::stream::*;
use super::text::*;
use crate::stream::BoxStream;
use proptest::prelude::*;

fn rule(text: &str) -> FaultRule {
    match parse_rule(text) {
        Ok(r) => r,
        Err(e) => panic!("{text}: {e}"),
    }
}

fn syntax_err(text: &str) -> (String, String) {
    match parse_rule(text) {
        Err(FaultError::Syntax { part, reason, .. }) => (part, reason),
        other => panic!("{text}: expected a syntax error, got {other:?}"),
    }
}

fn no_field(_: &str) -> Option<String> {
    None
}

fn code_of(d: &Decision) -> Option<tonic::Code> {
    d.fail.as_ref().map(|s| s.code())
}

#[test]
fn short_form() {
    let r = rule("RunJob:fail=UNAVAILABLE:after=2");
    let mut want = FaultRule::new("RunJob");
    want.fail = Some(Fail {
        code: tonic::Code::Unavailable,
        message: None,
    });
    want.after = 2;
    assert_eq!(r, want);
}

#[test]
fn long_form_with_field_and_quotes() {
    let r = rule(
        r#"rpc=RunJob, command=sleep*, fail="UNAVAILABLE/node busy, retry: later", after=2, times=1"#,
    );
    assert_eq!(r.rpc, "RunJob");
    assert_eq!(
        r.field,
        Some(FieldMatch {
            name: "command".into(),
            value: "sleep*".into()
        })
    );
    assert_eq!(
        r.fail,
        Some(Fail::new(
            tonic::Code::Unavailable,
            "node busy, retry: later"
        ))
    );
    assert_eq!((r.after, r.times), (2, Some(1)));

    let r = rule("GetJobLogs,cut_after_bytes=4096,fail=INTERNAL/'it''s: gone'");
    assert_eq!(r.fail, Some(Fail::new(tonic::Code::Internal, "its: gone")));
    assert_eq!(r.cut_after_bytes, Some(4096));

    let r = rule(r#"rpc="a\"b\\c",field.runtime=py*,delay= 100ms..2s ,probability=0.25"#);
    assert_eq!(r.rpc, r#"a"b\c"#);
    assert_eq!(r.field.as_ref().map(|f| f.name.as_str()), Some("runtime"));
    assert_eq!(
        r.delay,
        Some(Delay::range(
            Duration::from_millis(100),
            Duration::from_secs(2)
        ))
    );
    assert_eq!(r.probability, Some(0.25));

    let r = rule("*,session=\"127.0.0.1:*\",stall_after_messages=1,");
    assert_eq!(r.session.as_deref(), Some("127.0.0.1:*"));
    assert_eq!(r.stall_after_messages, Some(1));
    let r = rule("rpc=x , fail = UNAVAILABLE/' padded ' , delay=1s");
    assert_eq!(r.fail.and_then(|f| f.message).as_deref(), Some(" padded "));
}

#[test]
fn codes_and_durations() {
    for text in ["UNAVAILABLE", "unavailable", "Unavailable", "14", " 14 "] {
        assert_eq!(parse_code(text), Ok(tonic::Code::Unavailable), "{text}");
    }
    assert_eq!(
        parse_code("deadline-exceeded"),
        Ok(tonic::Code::DeadlineExceeded)
    );
    assert_eq!(
        parse_code("DeadlineExceeded"),
        Ok(tonic::Code::DeadlineExceeded)
    );
    assert_eq!(parse_code("CANCELED"), Ok(tonic::Code::Cancelled));
    assert!(parse_code("OK").is_err());
    assert!(parse_code("0").is_err());
    assert!(parse_code("17").is_err());
    assert!(parse_code("busy").is_err());
    assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
    assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
    assert_eq!(parse_duration(".5s"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
    assert_eq!(parse_duration("7us"), Ok(Duration::from_micros(7)));
    for bad in [
        "250",
        "ms",
        "1.2.3s",
        "5 parsecs",
        "",
        "99999999999999999999999h",
    ] {
        assert!(parse_duration(bad).is_err(), "{bad}");
    }
    assert!("2s..1s".parse::<Delay>().is_err());
    assert!("25h".parse::<Delay>().is_err());
    for d in [
        "0s",
        "250ms",
        "1500ms",
        "2m",
        "1h",
        "7us",
        "3ns",
        "100ms..2s",
    ] {
        assert_eq!(d.parse::<Delay>().map(|d| d.to_string()), Ok(d.to_owned()));
    }
}

#[test]
fn errors_name_the_part() {
    let cases = [
        ("RunJob:fial=UNAVAILABLE", "fial", "unknown key"),
        ("RunJob:fail=BUSY", "fail", "not a gRPC code"),
        ("RunJob:fail=OK", "fail", "OK is not a failure"),
        ("RunJob:delay=250", "delay", "no unit"),
        ("RunJob:after=two:fail=14", "after", "not a whole number"),
        ("RunJob:fail=14:after=1:after=2", "after", "given twice"),
        (
            "RunJob:command=a:field.name=b:fail=14",
            "field.name",
            "one field matcher",
        ),
        ("fail=UNAVAILABLE", "rpc", "missing"),
        ("RunJob", "action", "none given"),
        (
            "RunJob:fail=UNAVAILABLE/node busy: try later",
            "try later",
            "KEY=VALUE",
        ),
        (
            "RunJob:fail=\"UNAVAILABLE/x",
            "fail=\"UNAVAILABLE/x",
            "unterminated",
        ),
        (
            "RunJob:stall_after_messages=1:fail=14",
            "stall_after_messages",
            "cannot combine",
        ),
        (
            "RunJob:stall_after_messages=1:cut_after_bytes=1",
            "stall_after_messages",
            "cannot",
        ),
        (
            "RunJob:fail=14:probability=1.5",
            "probability",
            "between 0 and 1",
        ),
        (
            "RunJob:fail=14:probability=NaN",
            "probability",
            "between 0 and 1",
        ),
        ("RunJob:fail=14:times=0", "times", "at least 1"),
        ("RunJob:concurrency=2", "concurrency", "needs a delay"),
        ("RunJob:delay=1s:concurrency=0", "concurrency", "at least 1"),
        (
            "RunJob:delay=1s:concurrency=x",
            "concurrency",
            "not a whole number",
        ),
        (
            "RunJob:delay=1s:concurrency=99999999999",
            "concurrency",
            "too large",
        ),
        ("rpc=:fail=14", "rpc", "empty"),
        ("RunJob:field.=x:fail=14", "field", "JSON name"),
        ("RunJob:=x", "", "empty key"),
    ];
    for (text, part, reason) in cases {
        let (p, r) = syntax_err(text);
        assert_eq!(p, part, "{text}: {r}");
        assert!(r.contains(reason), "{text}: {r}");
    }
    let e = parse_rule("RunJob:fial=1").err().map(|e| e.to_string());
    assert!(e.is_some_and(|e| e.starts_with("fault rule `RunJob:fial=1`: fial: unknown key")));
}

#[test]
fn display_round_trips() {
    let texts = [
        "RunJob:fail=UNAVAILABLE:after=2",
        r#"rpc=RunJob,command=sleep*,fail="UNAVAILABLE/node busy, retry",after=2,times=1"#,
        "*,session='ci-*',delay=100ms..2s,probability=0.1",
        "GetJobLogs:cut_after_messages=3:cut_after_bytes=10:fail=DATA_LOSS",
    ];
    for text in texts {
        let r = rule(text);
        let again = rule(&r.to_string());
        assert_eq!(again, r, "{text} -> {r}");
    }
    assert_eq!(
        rule("RunJob:fail=unavailable/node busy:after=2").to_string(),
        "rpc=RunJob,fail=UNAVAILABLE/node busy,after=2"
    );
}

#[test]
fn yaml_and_json() {
    let yaml = r#"
faults:
  - rpc: RunJob
    field: { name: command, value: "sleep*" }
    fail: { code: UNAVAILABLE, message: node busy }
    after: 2
  - rpc: GetJobLogs
    cut_after_messages: 3
    fail: 13
  - rpc: "*"
    session: "ci-*"
    delay: 100ms..2s
    probability: 0.1
  - rpc: StopJob
    fail: aborted/gone
"#;
    let rules = parse_yaml(yaml, "f.yaml").unwrap_or_default();
    assert_eq!(rules.len(), 4);
    assert_eq!(
        rules[0],
        rule("RunJob:command=sleep*:fail='UNAVAILABLE/node busy':after=2")
    );
    assert_eq!(
        rules[1],
        rule("GetJobLogs:cut_after_messages=3:fail=INTERNAL")
    );
    assert_eq!(
        rules[2],
        rule("*:session=ci-*:delay=100ms..2s:probability=0.1")
    );
    assert_eq!(rules[3], rule("StopJob:fail=ABORTED/gone"));

    // Serialized and read back (YAML, and JSON which YAML reads too).
    let text = serde_norway::to_string(&serde_norway::Value::Sequence(
        rules
            .iter()
            .map(|r| serde_norway::to_value(r).unwrap_or_default())
            .collect(),
    ))
    .unwrap_or_default();
    let back = parse_yaml(&format!("faults:\n{}", indent(&text)), "f.yaml");
    assert_eq!(back.ok(), Some(rules.clone()));
    let json = r#"{"rpc": "RunJob", "fail": {"code": "unavailable"}, "after": 2}"#;
    let r: Result<FaultRule, _> = serde_norway::from_str(json);
    assert_eq!(r.ok(), Some(rule("RunJob:fail=UNAVAILABLE:after=2")));
    let unknown = r#"{"rpc": "RunJob", "fail": 14, "aftr": 2}"#;
    let e = serde_norway::from_str::<FaultRule>(unknown)
        .err()
        .map(|e| e.to_string());
    assert!(e.is_some_and(|e| e.contains("unknown field `aftr`")));
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

#[test]
fn yaml_errors_carry_file_and_line() {
    let cases = [
        (
            "faults:\n  - rpc: RunJob\n    fail: BUSY\n",
            3,
            "not a gRPC code",
        ),
        (
            "faults:\n  - rpc: RunJob\n    fail: 14\n    aftr: 2\n",
            4,
            "unknown field `aftr`",
        ),
        (
            "faults:\n  - rpc: RunJob\n    after: 2\n",
            2,
            "action: none given",
        ),
        (
            "faults:\n  - rpc: RunJob\n    delay: 3 parsecs\n",
            3,
            "not a unit",
        ),
        (
            "faults:\n  - rpc: RunJob\n    fail: { code: OK }\n",
            3,
            "OK is not a failure",
        ),
        ("fault: []\n", 1, "unknown field `fault`"),
        ("faults: [\n", 2, ""),
    ];
    for (yaml, line, reason) in cases {
        match parse_yaml(yaml, "faults.yaml") {
            Err(FaultError::Yaml {
                file,
                line: l,
                reason: r,
            }) => {
                assert_eq!(file, "faults.yaml");
                assert_eq!(l, Some(line), "{yaml}: {r}");
                assert!(r.contains(reason), "{yaml}: {r}");
                assert!(!r.contains(" at line "), "{r}");
            }
            other => panic!("{yaml}: {other:?}"),
        }
    }
    let e = parse_yaml("faults:\n  - rpc: x\n", "a.yaml")
        .err()
        .map(|e| e.to_string());
    assert!(e.is_some_and(|e| e.starts_with("fault file a.yaml:2: ")));
}

#[test]
fn load_yaml_reads_files() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("faults.yaml");
    std::fs::write(&path, "faults:\n  - rpc: RunJob\n    fail: UNAVAILABLE\n")?;
    assert_eq!(load_yaml(&path)?, vec![rule("RunJob:fail=UNAVAILABLE")]);
    let missing = load_yaml(dir.path().join("nope.yaml"));
    assert!(matches!(missing, Err(FaultError::Io { .. })));
    Ok(())
}

#[test]
fn globs() {
    let m = |p: &str, t: &str| Glob::new(p).matches(t);
    assert!(m("RunJob", "RunJob"));
    assert!(!m("RunJob", "RunJobs"));
    assert!(m("*", ""));
    assert!(m("Get*Logs", "GetJobLogs"));
    assert!(m("*Job*", "StopJob"));
    assert!(m("a?c", "abc"));
    assert!(!m("a?c", "ac"));
    assert!(m("a*b*c", "aXXbYYc"));
    assert!(!m("a*b*c", "aXXbYY"));
    assert!(m(r"\*", "*"));
    assert!(!m(r"\*", "x"));
    assert!(m("é*", "été"));
}

#[test]
fn empty_set_decides_nothing() {
    let f = Faults::new(Some(1));
    assert!(f.is_empty());
    assert!(
        f.decide("/joblet.JobService/RunJob", "", &no_field)
            .is_none()
    );
    assert_eq!(f.set(vec![rule("RunJob:fail=14")]).ok(), Some(()));
    assert!(!f.is_empty());
    f.clear();
    assert!(f.is_empty() && f.rules().is_empty());
    assert!(
        f.decide("/joblet.JobService/RunJob", "", &no_field)
            .is_none()
    );
}

#[test]
fn after_two_the_third_call_fails() {
    let f = Faults::new(Some(1));
    assert!(f.add(rule("RunJob:fail=UNAVAILABLE:after=2")).is_ok());
    let call = || f.decide("/joblet.JobService/RunJob", "s", &no_field);
    assert!(call().is_none());
    // Other RPCs do not advance the counter.
    assert!(
        f.decide("/joblet.JobService/StopJob", "s", &no_field)
            .is_none()
    );
    assert!(call().is_none());
    let third = call();
    assert_eq!(code_of(&third), Some(tonic::Code::Unavailable));
    assert_eq!(third.fail.as_ref().map(|s| s.message()), Some(FAIL_MESSAGE));
    assert_eq!(code_of(&call()), Some(tonic::Code::Unavailable));
}

#[test]
fn times_limits_firing() {
    let f = Faults::new(Some(1));
    assert!(
        f.set(vec![rule("RunJob:fail=ABORTED/x:after=1:times=2")])
            .is_ok()
    );
    let codes: Vec<_> = (0..5)
        .map(|_| code_of(&f.decide("joblet.JobService/RunJob", "", &no_field)))
        .collect();
    let a = Some(tonic::Code::Aborted);
    assert_eq!(codes, vec![None, a, a, None, None]);
    // set() resets the counters.
    assert!(f.set(f.rules()).is_ok());
    assert!(f.decide("RunJob", "", &no_field).is_none());
}

#[test]
fn rpc_matches_short_name_and_full_path() {
    let f = Faults::new(Some(1));
    assert!(f.add(rule("joblet.JobService/*:fail=14")).is_ok());
    assert!(
        f.decide("/joblet.JobService/RunJob", "", &no_field)
            .fail
            .is_some()
    );
    assert!(
        f.decide("/joblet.NetworkService/ListNetworks", "", &no_field)
            .is_none()
    );
    f.clear();
    assert!(f.add(rule("*Job:fail=14")).is_ok());
    assert!(
        f.decide("/joblet.JobService/StopJob", "", &no_field)
            .fail
            .is_some()
    );
    assert!(
        f.decide("/joblet.JobService/GetJobLogs", "", &no_field)
            .is_none()
    );
}

#[test]
fn session_and_field_globs() {
    let f = Faults::new(Some(1));
    assert!(
        f.add(rule("RunJob:session=ci-*:command=sleep*:fail=14:after=1"))
            .is_ok()
    );
    let cmd = |c: &'static str| move |name: &str| (name == "command").then(|| c.to_owned());
    let m = "/joblet.JobService/RunJob";
    assert!(f.decide(m, "ci-1", &cmd("sleep")).is_none()); // counted: after=1
    assert!(f.decide(m, "dev", &cmd("sleep")).is_none()); // wrong session
    assert!(f.decide(m, "ci-1", &cmd("echo")).is_none()); // wrong command
    assert!(f.decide(m, "ci-1", &no_field).is_none()); // no such field
    assert!(f.decide(m, "ci-2", &cmd("sleep 5")).fail.is_some());
}

#[test]
fn probability_is_reproducible_with_a_seed() {
    let run = |seed| {
        let f = Faults::new(Some(seed));
        assert!(f.add(rule("*:fail=14:probability=0.3")).is_ok());
        (0..1000)
            .map(|_| f.decide("/a.B/C", "", &no_field).fail.is_some())
            .collect::<Vec<_>>()
    };
    let a = run(7);
    assert_eq!(a, run(7));
    assert_ne!(a, run(8));
    let hits = a.iter().filter(|h| **h).count();
    assert!((220..380).contains(&hits), "{hits}");
    let f = Faults::new(None);
    assert!(f.add(rule("*:fail=14:probability=0")).is_ok());
    assert!(f.add(rule("*:delay=1s:probability=1")).is_ok());
    for _ in 0..100 {
        let d = f.decide("/a.B/C", "", &no_field);
        assert!(d.fail.is_none() && d.delay == Some(Duration::from_secs(1)));
    }
}

#[test]
fn delays_are_sampled_in_range() {
    let f = Faults::new(Some(3));
    assert!(f.add(rule("*:delay=100ms..200ms")).is_ok());
    let delays: Vec<_> = (0..200)
        .filter_map(|_| f.decide("/a.B/C", "", &no_field).delay)
        .collect();
    assert_eq!(delays.len(), 200);
    let range = Duration::from_millis(100)..=Duration::from_millis(200);
    assert!(delays.iter().all(|d| range.contains(d)));
    assert!(delays.iter().any(|d| *d != delays[0]));
}

#[test]
fn several_rules_combine() {
    let f = Faults::new(Some(1));
    let rules = vec![
        rule("*:delay=50ms"),
        rule("RunJob:fail=UNAVAILABLE/first"),
        rule("RunJob:fail=INTERNAL/second:times=1"),
        rule("*:delay=1s:fail=ABORTED"),
    ];
    assert!(f.set(rules).is_ok());
    let d = f.decide("/joblet.JobService/RunJob", "", &no_field);
    assert_eq!(d.delay, Some(Duration::from_millis(50)));
    assert_eq!(code_of(&d), Some(tonic::Code::Unavailable));
    assert_eq!(d.fail.as_ref().map(|s| s.message()), Some("first"));
    // Rules 2..4 were shadowed: the last one applies to other RPCs, with
    // the first rule's delay.
    let d = f.decide("/joblet.JobService/StopJob", "", &no_field);
    assert_eq!(d.delay, Some(Duration::from_millis(50)));
    assert_eq!(code_of(&d), Some(tonic::Code::Aborted));
    // A shadowed rule keeps its `times`: with the first fail rule gone,
    // the second fires once.
    let mut rules = f.rules();
    rules.remove(1);
    assert!(f.set(rules).is_ok());
    let m = "/joblet.JobService/RunJob";
    assert_eq!(
        code_of(&f.decide(m, "", &no_field)),
        Some(tonic::Code::Internal)
    );
    assert_eq!(
        code_of(&f.decide(m, "", &no_field)),
        Some(tonic::Code::Aborted)
    );
}

#[test]
fn stream_decisions() {
    let f = Faults::new(Some(1));
    assert!(f.add(rule("GetJobLogs:cut_after_messages=2")).is_ok());
    assert!(f.add(rule("StreamMetrics:stall_after_messages=1")).is_ok());
    assert!(
        f.add(rule("Other:cut_after_bytes=10:fail=DATA_LOSS/gone"))
            .is_ok()
    );
    let d = f.decide("/joblet.JobService/GetJobLogs", "", &no_field);
    match d.stream {
        Some(StreamFault::Cut {
            after_messages: Some(2),
            after_bytes: None,
            status,
        }) => {
            assert_eq!(status.code(), tonic::Code::Unavailable);
            assert_eq!(status.message(), CUT_MESSAGE);
        }
        other => panic!("{other:?}"),
    }
    assert!(d.fail.is_none());
    let d = f.decide("/x.Y/StreamMetrics", "", &no_field);
    assert!(matches!(
        d.stream,
        Some(StreamFault::Stall { after_messages: 1 })
    ));
    let d = f.decide("/x.Y/Other", "", &no_field);
    assert!(matches!(
        d.stream,
        Some(StreamFault::Cut { after_bytes: Some(10), ref status, .. })
            if status.code() == tonic::Code::DataLoss && status.message() == "gone"
    ));
}

#[test]
fn invalid_rules_are_refused() {
    let f = Faults::new(Some(1));
    let mut r = FaultRule::new("RunJob");
    assert!(matches!(f.add(r.clone()), Err(FaultError::Invalid { .. })));
    r.probability = Some(2.0);
    r.fail = Some(Fail::new(tonic::Code::Unavailable, "x"));
    assert!(f.set(vec![rule("A:fail=14"), r]).is_err());
    assert!(f.is_empty());
}

fn messages(n: usize) -> BoxStream<String> {
    Box::pin(futures::stream::iter(
        (0..n).map(|i| Ok::<_, tonic::Status>(format!("m{i}"))),
    ))
}

async fn collect(s: BoxStream<String>) -> Vec<Result<String, tonic::Code>> {
    s.map(|r| r.map_err(|e| e.code())).collect().await
}

fn cut(messages: Option<u64>, bytes: Option<u64>) -> StreamFault {
    StreamFault::Cut {
        after_messages: messages,
        after_bytes: bytes,
        status: tonic::Status::unavailable(CUT_MESSAGE),
    }
}

#[tokio::test]
async fn cut_after_messages() {
    let token = CancellationToken::new();
    let out = collect(apply_stream(messages(5), cut(Some(2), None), token.clone())).await;
    let u = Err(tonic::Code::Unavailable);
    assert_eq!(out, vec![Ok("m0".into()), Ok("m1".into()), u.clone()]);
    let out = collect(apply_stream(messages(5), cut(Some(0), None), token.clone())).await;
    assert_eq!(out, vec![u]);
    // A stream that ends before the limit ends normally.
    let out = collect(apply_stream(messages(2), cut(Some(3), None), token)).await;
    assert_eq!(out, vec![Ok("m0".into()), Ok("m1".into())]);
}

#[tokio::test]
async fn cut_after_bytes() {
    // Each "mN" is 4 bytes encoded: tag, length, two bytes.
    assert_eq!(prost::Message::encoded_len(&"m0".to_owned()), 4);
    let token = CancellationToken::new();
    let u = Err(tonic::Code::Unavailable);
    let out = collect(apply_stream(messages(5), cut(None, Some(8)), token.clone())).await;
    assert_eq!(out, vec![Ok("m0".into()), Ok("m1".into()), u.clone()]);
    // The message crossing the limit is sent whole.
    let out = collect(apply_stream(messages(5), cut(None, Some(5)), token.clone())).await;
    assert_eq!(out, vec![Ok("m0".into()), Ok("m1".into()), u.clone()]);
    let out = collect(apply_stream(messages(5), cut(None, Some(0)), token.clone())).await;
    assert_eq!(out, vec![u.clone()]);
    // Both limits: the first reached cuts.
    let out = collect(apply_stream(messages(5), cut(Some(1), Some(100)), token)).await;
    assert_eq!(out, vec![Ok("m0".into()), u]);
}

#[tokio::test]
async fn cut_ends_without_waiting_for_the_next_message() {
    let live = futures::stream::iter([Ok::<_, tonic::Status>("a".to_owned())])
        .chain(futures::stream::pending());
    let mut s = apply_stream(Box::pin(live), cut(Some(1), None), CancellationToken::new());
    assert_eq!(s.next().await.map(|r| r.ok()), Some(Some("a".into())));
    let next = tokio::time::timeout(Duration::from_secs(5), s.next()).await;
    assert!(matches!(next, Ok(Some(Err(ref e))) if e.code() == tonic::Code::Unavailable));
}

#[tokio::test(start_paused = true)]
async fn stall_ends_on_shutdown() {
    let token = CancellationToken::new();
    let fault = StreamFault::Stall { after_messages: 2 };
    let mut s = apply_stream(messages(5), fault, token.clone());
    assert_eq!(s.next().await.map(|r| r.ok()), Some(Some("m0".into())));
    assert_eq!(s.next().await.map(|r| r.ok()), Some(Some("m1".into())));
    let stalled = tokio::time::timeout(Duration::from_secs(3600), s.next()).await;
    assert!(stalled.is_err(), "the stream must stall");
    token.cancel();
    let end = tokio::time::timeout(Duration::from_secs(1), s.next()).await;
    assert!(matches!(end, Ok(Some(Err(ref e))) if e.code() == tonic::Code::Unavailable));
    assert!(s.next().await.is_none());
    // Stalling before the first message, and a stream that ends first.
    let mut s = apply_stream(
        messages(5),
        StreamFault::Stall { after_messages: 0 },
        token.clone(),
    );
    assert!(matches!(s.next().await, Some(Err(_))));
    let s = apply_stream(messages(1), StreamFault::Stall { after_messages: 3 }, token);
    assert_eq!(collect(s).await, vec![Ok("m0".into())]);
}

fn arb_rule() -> impl Strategy<Value = FaultRule> {
    let text = "\\PC{0,12}";
    (
        "[A-Za-z*?./]{1,20}",
        proptest::option::of(text),
        proptest::option::of(("[a-z][A-Za-z0-9_.]{0,8}", text)),
        proptest::option::of((0u64..=86_400_000_000_000, 0u64..=86_400_000_000_000)),
        proptest::option::of((1usize..=16, proptest::option::of(text))),
        (0u8..5, 0u64..100, 0u64..100_000),
        (
            any::<u64>(),
            proptest::option::of(1u64..),
            proptest::option::of(0.0f64..=1.0),
        ),
    )
        .prop_map(|(rpc, session, field, delay, fail, stream, trig)| {
            let mut r = FaultRule::new(rpc);
            r.session = session;
            r.field = field.map(|(name, value)| FieldMatch { name, value });
            r.delay = delay.map(|(a, b)| {
                Delay::range(
                    Duration::from_nanos(a.min(b)),
                    Duration::from_nanos(a.max(b)),
                )
            });
            if r.delay.is_some() && stream.2 % 3 == 0 {
                r.concurrency = Some((stream.1 % 64) as u32 + 1);
            }
            r.fail = fail.map(|(i, message)| Fail {
                code: CODES[i].0,
                message,
            });
            match stream.0 {
                1 => r.cut_after_messages = Some(stream.1),
                2 => r.cut_after_bytes = Some(stream.2),
                3 => (r.cut_after_messages, r.cut_after_bytes) = (Some(stream.1), Some(stream.2)),
                4 if r.fail.is_none() => r.stall_after_messages = Some(stream.1),
                _ => {}
            }
            if !r.has_outcome() && r.delay.is_none() {
                r.delay = Some(Delay::fixed(Duration::from_millis(stream.2)));
            }
            (r.after, r.times, r.probability) = trig;
            r
        })
}

proptest! {
    #[test]
    fn parser_never_panics(text in "\\PC{0,60}") {
        let _ = parse_rule(&text);
        let _ = parse_yaml(&text, "x.yaml");
    }

    #[test]
    fn parser_never_panics_on_syntax_soup(text in "[a-z=,:'\"\\\\ ./*0-9]{0,40}") {
        let _ = parse_rule(&text);
        let _ = parse_rule(&format!("RunJob:{text}"));
        let _ = text.parse::<Delay>();
    }

    #[test]
    fn rules_round_trip(r in arb_rule()) {
        prop_assert!(r.validate().is_ok(), "{:?}", r);
        let text = r.to_string();
        let back = parse_rule(&text);
        prop_assert!(back.is_ok(), "{} -> {:?}", text, back.err());
        prop_assert_eq!(back.ok(), Some(r.clone()));
        let yaml = serde_norway::to_string(&r).unwrap_or_default();
        let from_yaml: Result<FaultRule, _> = serde_norway::from_str(&yaml);
        prop_assert_eq!(from_yaml.ok(), Some(r));
    }

    #[test]
    fn glob_literal_matches_itself(t in "[a-zA-Z0-9 ._/-]{0,16}") {
        prop_assert!(Glob::new(&t).matches(&t));
        prop_assert!(Glob::new("*").matches(&t));
    }
}

#[test]
fn concurrency_queues_the_calls_a_delay_rule_holds() {
    let r = rule("RunJob:delay=50ms:concurrency=10");
    assert_eq!(r.concurrency, Some(10));
    assert_eq!(r.to_string(), "rpc=RunJob,delay=50ms,concurrency=10");
    let from_yaml: FaultRule =
        serde_norway::from_str("rpc: RunJob\ndelay: 50ms\nconcurrency: 10\n").unwrap();
    assert_eq!(from_yaml, r);
    let f = Faults::new(Some(1));
    f.set(vec![r, rule("RunJob:delay=1s:concurrency=3")])
        .unwrap();
    let a = f.decide("/joblet.JobService/RunJob", "default", &no_field);
    let b = f.decide("/joblet.JobService/RunJob", "default", &no_field);
    assert_eq!(a.delay, Some(Duration::from_millis(50)));
    let (qa, qb) = (a.queue.unwrap(), b.queue.unwrap());
    assert!(std::sync::Arc::ptr_eq(&qa, &qb), "one queue per rule");
    assert_eq!(qa.available_permits(), 10, "the first firing rule's queue");
    assert!(f.decide("ListJobs", "default", &no_field).queue.is_none());
}
