//! Comparing a replayed answer with the recorded one, field by field, under
//! the [`RuleSet`] and through the [`IdMap`].

use serde_json::Value;

use super::ids::{Conflict, IdMap, is_time, is_uuid};
use super::rules::{Rule, RuleSet};
use crate::outcome::Difference;

/// An answer in the form compared: messages in full proto3 JSON (every field,
/// 64-bit integers as numbers), or a log stream, and the status.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Answer {
    /// Every message (not for log streams).
    pub messages: Vec<Value>,
    /// A log stream.
    pub log: Option<LogView>,
    /// The gRPC code by name.
    pub code: String,
    /// The status message.
    pub message: String,
}

/// A log stream: its length, hash and first bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogView {
    /// Bytes in all.
    pub bytes: u64,
    /// SHA-256 of all of them, hex.
    pub sha256: String,
    /// The first bytes (all of them when short).
    pub kept: Vec<u8>,
}

/// Compares `got` with `expected` for a call of `method` in replay session
/// `session`. Returns the differences and the ID map with what this answer
/// taught (to be kept only if the answer is accepted). With `cancelled` the
/// recorded client left early: the status and the message count are not
/// compared.
pub fn compare(
    rules: &RuleSet,
    method: &str,
    session: usize,
    ids: &IdMap,
    expected: &Answer,
    got: &Answer,
    cancelled: bool,
) -> (Vec<Difference>, IdMap) {
    let mut c = Comparer {
        rules,
        session,
        ids: ids.clone(),
        diffs: Vec::new(),
    };
    let mut segs = vec![method.to_owned()];
    let code_rule = c.rule(&segs, "@code");
    if !cancelled && code_rule != Rule::Ignore && expected.code != got.code {
        c.push(
            &format!("{method}.@code"),
            code_rule,
            format!(
                "{} {:?}",
                expected.code,
                c.ids.map_text(session, &expected.message)
            ),
            format!("{} {:?}", got.code, got.message),
        );
        return (c.diffs, c.ids);
    }
    if !cancelled {
        let rule = c.rule(&segs, "@message");
        c.scalar(
            rule,
            &format!("{method}.@message"),
            &Value::String(expected.message.clone()),
            &Value::String(got.message.clone()),
        );
    }
    let count_rule = c.rule(&segs, "@count");
    if !cancelled
        && count_rule != Rule::Ignore
        && expected.messages.len() != got.messages.len()
        && expected.log.is_none()
    {
        c.push(
            &format!("{method}.@count"),
            count_rule,
            format!("{} message(s)", expected.messages.len()),
            format!("{} message(s)", got.messages.len()),
        );
    }
    let stream = expected.messages.len() > 1 || got.messages.len() > 1;
    for (i, (e, g)) in expected.messages.iter().zip(&got.messages).enumerate() {
        let shown = if stream {
            format!("{method}[{i}]")
        } else {
            method.to_owned()
        };
        c.walk(&mut segs, &shown, e, g);
    }
    if let Some(e) = &expected.log {
        let rule = c.rule(&segs, "@log");
        c.log(rule, &format!("{method}.@log"), e, got.log.as_ref());
    }
    (c.diffs, c.ids)
}

struct Comparer<'a> {
    rules: &'a RuleSet,
    session: usize,
    ids: IdMap,
    diffs: Vec<Difference>,
}

/// A value as a report shows it: compact JSON, at most 160 characters.
pub fn show(v: &Value) -> String {
    let s = match v {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "(absent)".into(),
        other => other.to_string(),
    };
    clip(&s, 160)
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push('…');
    out
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Bool(b) => !b,
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The kind of a value for the `shape` rule.
fn shape(v: &Value) -> String {
    match v {
        Value::Null => "absent".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Number(n) => {
            let int = n.is_i64() || n.is_u64();
            let sign = match n.as_f64() {
                Some(x) if x < 0.0 => "negative",
                Some(0.0) => "zero",
                _ => "positive",
            };
            format!("a {sign} {}", if int { "integer" } else { "number" })
        }
        Value::String(s) if s.is_empty() => "empty text".into(),
        Value::String(s) if is_uuid(s) => "a UUID".into(),
        Value::String(s) if is_time(s) => "an RFC 3339 time".into(),
        Value::String(s) if s.parse::<f64>().is_ok() => "a number in text".into(),
        Value::String(_) => "text".into(),
        Value::Array(a) if a.is_empty() => "an empty list".into(),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a message".into(),
    }
}

/// Whether `o` is a `Timestamp` message in full form.
fn is_timestamp(o: &serde_json::Map<String, Value>) -> bool {
    o.len() == 2 && o.contains_key("seconds") && o.contains_key("nanos")
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "absent",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a message",
    }
}

impl Comparer<'_> {
    fn rule(&self, segs: &[String], last: &str) -> Rule {
        let mut path: Vec<&str> = segs.iter().map(String::as_str).collect();
        path.push(last);
        self.rules.rule_for(&path)
    }

    fn push(&mut self, path: &str, rule: Rule, expected: String, got: String) {
        self.diffs.push(Difference {
            path: path.to_owned(),
            rule: rule.to_string(),
            expected,
            got,
        });
    }

    fn walk(&mut self, segs: &mut Vec<String>, shown: &str, e: &Value, g: &Value) {
        let rule = {
            let path: Vec<&str> = segs.iter().map(String::as_str).collect();
            self.rules.rule_for(&path)
        };
        if rule == Rule::Ignore {
            return;
        }
        match (e, g) {
            // A `Timestamp {seconds, nanos}`: by shape (set or not), like
            // RFC 3339 times; exactly only under `exact`.
            (Value::Object(eo), Value::Object(go))
                if rule != Rule::Exact && is_timestamp(eo) && is_timestamp(go) =>
            {
                let set = |o: &serde_json::Map<String, Value>| {
                    o.values().any(|v| number(v).is_some_and(|n| n != 0.0))
                };
                if set(eo) != set(go) {
                    let says = |o| if set(o) { "a time" } else { "an unset time" };
                    self.push(
                        shown,
                        rule,
                        says(eo).into(),
                        format!("{}: {}", says(go), show(g)),
                    );
                }
            }
            (Value::Object(eo), Value::Object(go)) => {
                let mut keys: Vec<&String> = eo.keys().collect();
                keys.extend(go.keys().filter(|k| !eo.contains_key(*k)));
                for k in keys {
                    segs.push(k.clone());
                    let child = format!("{shown}.{k}");
                    self.walk(
                        segs,
                        &child,
                        eo.get(k).unwrap_or(&Value::Null),
                        go.get(k).unwrap_or(&Value::Null),
                    );
                    segs.pop();
                }
            }
            (Value::Array(ea), Value::Array(ga)) => self.list(rule, segs, shown, ea, ga),
            _ => self.scalar(rule, shown, e, g),
        }
    }

    /// Whether `e` and `g` compare equal, with the IDs it would teach.
    fn trial(&self, segs: &mut Vec<String>, e: &Value, g: &Value) -> Option<IdMap> {
        let mut sub = Comparer {
            rules: self.rules,
            session: self.session,
            ids: self.ids.clone(),
            diffs: Vec::new(),
        };
        sub.walk(segs, "", e, g);
        sub.diffs.is_empty().then_some(sub.ids)
    }

    fn list(&mut self, rule: Rule, segs: &mut Vec<String>, shown: &str, e: &[Value], g: &[Value]) {
        match rule {
            Rule::Subset => {
                let mut from = 0;
                for (i, item) in e.iter().enumerate() {
                    let found = (from..g.len())
                        .find_map(|k| self.trial(segs, item, &g[k]).map(|ids| (k, ids)));
                    match found {
                        Some((k, ids)) => {
                            self.ids = ids;
                            from = k + 1;
                        }
                        None => self.push(
                            &format!("{shown}[{i}]"),
                            rule,
                            show(item),
                            format!(
                                "no such element (after position {from}) among {} element(s)",
                                g.len()
                            ),
                        ),
                    }
                }
            }
            Rule::Unordered => {
                if e.len() != g.len() {
                    self.push(
                        shown,
                        rule,
                        format!("{} element(s)", e.len()),
                        format!("{} element(s)", g.len()),
                    );
                    return;
                }
                let mut used = vec![false; g.len()];
                for (i, item) in e.iter().enumerate() {
                    let found = (0..g.len())
                        .filter(|k| !used[*k])
                        .find_map(|k| self.trial(segs, item, &g[k]).map(|ids| (k, ids)));
                    match found {
                        Some((k, ids)) => {
                            used[k] = true;
                            self.ids = ids;
                        }
                        None => self.push(
                            &format!("{shown}[{i}]"),
                            rule,
                            show(item),
                            "no such element".into(),
                        ),
                    }
                }
            }
            Rule::Length => {
                if e.len() != g.len() {
                    self.push(
                        shown,
                        rule,
                        format!("{} element(s)", e.len()),
                        format!("{} element(s)", g.len()),
                    );
                }
            }
            Rule::Type | Rule::Shape | Rule::Range(..) => {
                if !e.is_empty() && g.is_empty() {
                    self.push(
                        shown,
                        rule,
                        format!("{} element(s)", e.len()),
                        "an empty list".into(),
                    );
                }
                for (i, (a, b)) in e.iter().zip(g).enumerate() {
                    self.walk(segs, &format!("{shown}[{i}]"), a, b);
                }
            }
            _ => {
                if e.len() != g.len() {
                    self.push(
                        shown,
                        rule,
                        format!(
                            "{} element(s): {}",
                            e.len(),
                            show(&Value::Array(e.to_vec()))
                        ),
                        format!(
                            "{} element(s): {}",
                            g.len(),
                            show(&Value::Array(g.to_vec()))
                        ),
                    );
                    return;
                }
                for (i, (a, b)) in e.iter().zip(g).enumerate() {
                    self.walk(segs, &format!("{shown}[{i}]"), a, b);
                }
            }
        }
    }

    fn scalar(&mut self, rule: Rule, shown: &str, e: &Value, g: &Value) {
        match rule {
            Rule::Ignore => {}
            Rule::Type => {
                if std::mem::discriminant(e) != std::mem::discriminant(g) {
                    self.push(
                        shown,
                        rule,
                        type_name(e).into(),
                        format!("{} {}", type_name(g), show(g)),
                    );
                } else if !is_empty(e)
                    && is_empty(g)
                    && !matches!(e, Value::Number(_) | Value::Bool(_))
                {
                    self.push(shown, rule, format!("non-empty {}", type_name(e)), show(g));
                }
            }
            Rule::Shape => {
                let (se, sg) = (shape(e), shape(g));
                if se != sg {
                    self.push(shown, rule, se, format!("{sg}: {}", show(g)));
                }
            }
            Rule::Range(lo, hi) => match number(g) {
                Some(x) if (lo..=hi).contains(&x) => {}
                _ => self.push(shown, rule, format!("a number in {lo}..{hi}"), show(g)),
            },
            Rule::Length => {
                let len = |v: &Value| match v {
                    Value::String(s) => Some(s.chars().count()),
                    _ => None,
                };
                if len(e) != len(g) || len(e).is_none() && e != g {
                    self.push(shown, rule, format!("length of {}", show(e)), show(g));
                }
            }
            Rule::Auto | Rule::Exact | Rule::Ordered | Rule::Unordered | Rule::Subset => {
                self.exact(rule, rule == Rule::Exact, shown, e, g)
            }
        }
    }

    fn exact(&mut self, rule: Rule, strict_times: bool, shown: &str, e: &Value, g: &Value) {
        match (e, g) {
            (Value::String(es), Value::String(gs)) if is_uuid(es) => {
                if !is_uuid(gs) {
                    self.push(shown, rule, "a UUID".into(), show(g));
                    return;
                }
                match self.ids.learn(es, gs) {
                    Ok(()) => {}
                    Err(Conflict::Mapped(m)) => self.push(
                        shown,
                        rule,
                        format!("{m:?} (the replay's ID for recorded {es})"),
                        show(g),
                    ),
                    Err(Conflict::Taken(other)) => self.push(
                        shown,
                        rule,
                        format!("the replay's ID for recorded {es}"),
                        format!("{gs:?}, which already stands for recorded {other}"),
                    ),
                }
            }
            (Value::String(es), Value::String(gs)) if !strict_times && is_time(es) => {
                if !is_time(gs) {
                    self.push(shown, rule, "an RFC 3339 time".into(), show(g));
                }
            }
            (Value::String(es), Value::String(gs)) => {
                let want = self.ids.map_text(self.session, es);
                if want != *gs {
                    self.push(shown, rule, format!("{want:?}"), show(g));
                }
            }
            (Value::Number(a), Value::Number(b)) => {
                let same = match (a.as_i64(), b.as_i64(), a.as_u64(), b.as_u64()) {
                    (Some(x), Some(y), _, _) => x == y,
                    (_, _, Some(x), Some(y)) => x == y,
                    _ => a.as_f64() == b.as_f64(),
                };
                if !same {
                    self.push(shown, rule, a.to_string(), b.to_string());
                }
            }
            _ if e == g => {}
            _ => self.push(shown, rule, show(e), show(g)),
        }
    }

    fn log(&mut self, rule: Rule, shown: &str, e: &LogView, g: Option<&LogView>) {
        let Some(g) = g else {
            self.push(
                shown,
                rule,
                format!("{} log byte(s)", e.bytes),
                "no log stream".into(),
            );
            return;
        };
        let same = match rule {
            Rule::Ignore => true,
            Rule::Length => e.bytes == g.bytes,
            Rule::Type | Rule::Shape => (e.bytes == 0) == (g.bytes == 0),
            _ => e.bytes == g.bytes && e.sha256 == g.sha256,
        };
        if same {
            return;
        }
        let at = e
            .kept
            .iter()
            .zip(&g.kept)
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| e.kept.len().min(g.kept.len()));
        let excerpt = |bytes: &[u8]| {
            let from = at.saturating_sub(10);
            let to = (at + 30).min(bytes.len());
            clip(
                &format!("{:?}", String::from_utf8_lossy(&bytes[from.min(to)..to])),
                80,
            )
        };
        let head = |v: &LogView| {
            format!(
                "{} byte(s), sha256 {}",
                v.bytes,
                &v.sha256[..v.sha256.len().min(12)]
            )
        };
        if e.kept.is_empty() && g.kept.is_empty() {
            self.push(shown, rule, head(e), head(g));
        } else {
            self.push(
                shown,
                rule,
                format!("{}; at byte {at}: {}", head(e), excerpt(&e.kept)),
                format!("{}; at byte {at}: {}", head(g), excerpt(&g.kept)),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const A: &str = "6f1c2d3e-0000-4000-8000-00000000000a";
    const B: &str = "6f1c2d3e-0000-4000-8000-00000000000b";
    const X: &str = "aaaaaaaa-1111-4111-8111-111111111111";
    const Y: &str = "bbbbbbbb-2222-4222-8222-222222222222";

    fn ok(messages: Vec<Value>) -> Answer {
        Answer {
            messages,
            code: "OK".into(),
            ..Answer::default()
        }
    }

    fn run(rules: &RuleSet, method: &str, e: &Answer, g: &Answer) -> (Vec<Difference>, IdMap) {
        compare(rules, method, 0, &IdMap::default(), e, g, false)
    }

    #[test]
    fn ids_are_learned_times_by_shape_the_rest_exactly() {
        let rules = RuleSet::defaults();
        let e = ok(vec![
            json!({"uuid": A, "status": "COMPLETED", "startTime": "2025-01-01T10:00:00Z", "exitCode": 0}),
        ]);
        let g = ok(vec![
            json!({"uuid": X, "status": "COMPLETED", "startTime": "2026-02-02T11:11:11+01:00", "exitCode": 0}),
        ]);
        let (diffs, ids) = run(&rules, "GetJobStatus", &e, &g);
        assert!(diffs.is_empty(), "{diffs:?}");
        assert_eq!(ids.uuid(A), Some(X));
        // The status string and the exit code are exact.
        let g2 = ok(vec![
            json!({"uuid": X, "status": "FAILED", "startTime": "", "exitCode": 1}),
        ]);
        let (diffs, _) = compare(&rules, "GetJobStatus", 0, &ids, &e, &g2, false);
        let paths: Vec<&str> = diffs.iter().map(|d| d.path.as_str()).collect();
        // Fields in name order.
        assert_eq!(
            paths,
            [
                "GetJobStatus.exitCode",
                "GetJobStatus.startTime",
                "GetJobStatus.status"
            ]
        );
        assert_eq!(diffs[2].expected, "\"COMPLETED\"");
        assert_eq!(diffs[2].got, "\"FAILED\"");
    }

    #[test]
    fn timestamps_by_shape() {
        let t = |s: i64, n: i64| json!({"seconds": s, "nanos": n});
        let e = ok(vec![
            json!({"createdAt": t(1_700_000_000, 5), "completedAt": t(0, 0)}),
        ]);
        let same = ok(vec![
            json!({"createdAt": t(1_800_000_000, 0), "completedAt": t(0, 0)}),
        ]);
        assert!(
            run(&RuleSet::default(), "GetWorkflowStatus", &e, &same)
                .0
                .is_empty()
        );
        let set = ok(vec![
            json!({"createdAt": t(1_800_000_000, 0), "completedAt": t(1, 0)}),
        ]);
        let (d, _) = run(&RuleSet::default(), "GetWorkflowStatus", &e, &set);
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0].path.as_str(), d[0].expected.as_str()),
            ("GetWorkflowStatus.completedAt", "an unset time")
        );
        let exact = RuleSet::parse("- {path: \"*.createdAt\", rule: exact}\n", "t").unwrap();
        assert_eq!(run(&exact, "GetWorkflowStatus", &e, &same).0.len(), 2);
    }

    #[test]
    fn a_mapped_id_must_come_back() {
        let mut ids = IdMap::default();
        ids.learn(A, X).unwrap();
        let rules = RuleSet::default();
        let e = ok(vec![json!({"jobs": [{"uuid": A}, {"uuid": B}]})]);
        // B is new: learned; A must be X.
        let (d, learned) = compare(
            &rules,
            "ListJobs",
            0,
            &ids,
            &e,
            &ok(vec![json!({"jobs": [{"uuid": X}, {"uuid": Y}]})]),
            false,
        );
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(learned.uuid(B), Some(Y));
        let (d, _) = compare(
            &rules,
            "ListJobs",
            0,
            &ids,
            &e,
            &ok(vec![json!({"jobs": [{"uuid": Y}, {"uuid": X}]})]),
            false,
        );
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(d[0].path, "ListJobs.jobs[0].uuid");
        assert!(d[1].got.contains("already stands for"), "{d:?}");
    }

    #[test]
    fn codes_messages_and_counts() {
        let rules = RuleSet::defaults();
        let mut ids = IdMap::default();
        ids.learn(A, X).unwrap();
        let e = Answer {
            code: "FAILED_PRECONDITION".into(),
            message: format!("job is not running: {A}"),
            ..Answer::default()
        };
        let mut g = e.clone();
        g.message = format!("job is not running: {X}");
        assert!(
            compare(&rules, "StopJob", 0, &ids, &e, &g, false)
                .0
                .is_empty()
        );
        g.code = "INTERNAL".into();
        let (d, _) = compare(&rules, "StopJob", 0, &ids, &e, &g, false);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path, "StopJob.@code");
        assert_eq!(
            d[0].expected,
            format!("FAILED_PRECONDITION \"job is not running: {X}\"")
        );
        // A client that left: neither status nor count.
        assert!(
            compare(&rules, "StopJob", 0, &ids, &e, &g, true)
                .0
                .is_empty()
        );
        let (d, _) = run(
            &rules,
            "StreamSystemMetrics",
            &ok(vec![json!({}), json!({})]),
            &ok(vec![json!({})]),
        );
        assert_eq!(d[0].path, "StreamSystemMetrics.@count");
    }

    #[test]
    fn monitoring_is_compared_by_type_and_range() {
        let rules = RuleSet::defaults();
        let e = ok(vec![
            json!({"available": true, "host": {"hostname": "a", "cpuCount": 8},
            "cpu": {"usagePercent": 12.5, "perCoreUsage": [1.0, 2.0]}, "disks": [{"name": "sda"}]}),
        ]);
        let g = ok(vec![
            json!({"available": true, "host": {"hostname": "bb", "cpuCount": 2},
            "cpu": {"usagePercent": 99.0, "perCoreUsage": [3.0]}, "disks": [{"name": "nvme0"}, {"name": "x"}]}),
        ]);
        assert!(run(&rules, "GetSystemStatus", &e, &g).0.is_empty());
        let bad = ok(vec![
            json!({"available": false, "host": {"hostname": "", "cpuCount": "x"},
            "cpu": {"usagePercent": 120.0, "perCoreUsage": []}, "disks": []}),
        ]);
        let (d, _) = run(&rules, "GetSystemStatus", &e, &bad);
        let paths: Vec<&str> = d.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "GetSystemStatus.available",
                "GetSystemStatus.cpu.perCoreUsage",
                "GetSystemStatus.cpu.usagePercent",
                "GetSystemStatus.disks",
                "GetSystemStatus.host.cpuCount",
                "GetSystemStatus.host.hostname",
            ]
        );
    }

    #[test]
    fn list_rules() {
        let subset = RuleSet::parse("- {path: ListJobs.jobs, rule: subset}\n", "t").unwrap();
        let e = ok(vec![
            json!({"jobs": [{"uuid": A, "n": 1}, {"uuid": B, "n": 2}]}),
        ]);
        // Other clients' jobs around ours: fine with subset, learning as it goes.
        let g = ok(vec![
            json!({"jobs": [{"uuid": Y, "n": 9}, {"uuid": X, "n": 1},
            {"uuid": "cccccccc-3333-4333-8333-333333333333", "n": 2}]}),
        ]);
        let (d, ids) = run(&subset, "ListJobs", &e, &g);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(ids.uuid(A), Some(X));
        assert!(
            run(&RuleSet::default(), "ListJobs", &e, &g).0[0]
                .expected
                .starts_with("2 element(s)")
        );
        // The first element is missing; the second is there (B learns X).
        let (d, ids) = run(
            &subset,
            "ListJobs",
            &e,
            &ok(vec![json!({"jobs": [{"uuid": X, "n": 2}]})]),
        );
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].path, "ListJobs.jobs[0]");
        assert_eq!(ids.uuid(B), Some(X));
        let unordered = RuleSet::parse("- {path: \"*.names\", rule: unordered}\n", "t").unwrap();
        let e = ok(vec![json!({"names": ["a", "b"]})]);
        assert!(
            run(&unordered, "X", &e, &ok(vec![json!({"names": ["b", "a"]})]))
                .0
                .is_empty()
        );
        assert_eq!(
            run(&unordered, "X", &e, &ok(vec![json!({"names": ["b", "c"]})]))
                .0
                .len(),
            1
        );
        assert!(
            !run(
                &RuleSet::default(),
                "X",
                &e,
                &ok(vec![json!({"names": ["b", "a"]})])
            )
            .0
            .is_empty()
        );
    }

    #[test]
    fn a_rule_file_relaxes_a_field() {
        let e = ok(vec![json!({"message": "took 12 ms", "status": "OK"})]);
        let g = ok(vec![json!({"message": "took 15 ms", "status": "OK"})]);
        assert_eq!(run(&RuleSet::default(), "TestRuntime", &e, &g).0.len(), 1);
        let relaxed = RuleSet::parse("- {path: TestRuntime.message, rule: ignore}\n", "t").unwrap();
        assert!(run(&relaxed, "TestRuntime", &e, &g).0.is_empty());
        let shape = RuleSet::parse("- {path: \"*.message\", rule: shape}\n", "t").unwrap();
        assert!(run(&shape, "TestRuntime", &e, &g).0.is_empty());
    }

    #[test]
    fn logs_by_bytes_and_hash() {
        let view = |s: &str| LogView {
            bytes: s.len() as u64,
            sha256: joblet_testkit::transcript::sha256_hex(s.as_bytes()),
            kept: s.as_bytes().to_vec(),
        };
        let with = |s: &str| Answer {
            log: Some(view(s)),
            code: "OK".into(),
            ..Answer::default()
        };
        let rules = RuleSet::defaults();
        assert!(
            run(&rules, "GetJobLogs", &with("hello\n"), &with("hello\n"))
                .0
                .is_empty()
        );
        let (d, _) = run(
            &rules,
            "GetJobLogs",
            &with("hello world\n"),
            &with("hello there\n"),
        );
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path, "GetJobLogs.@log");
        assert!(
            d[0].expected.contains("at byte 6") && d[0].got.contains("there"),
            "{d:?}"
        );
        let length = RuleSet::parse("- {path: GetJobLogs.@log, rule: length}\n", "t").unwrap();
        assert!(
            run(
                &length,
                "GetJobLogs",
                &with("12:00:01\n"),
                &with("12:00:02\n")
            )
            .0
            .is_empty()
        );
    }

    #[test]
    fn names_created_by_the_transcript_are_expected_renamed() {
        let mut ids = IdMap::default();
        ids.add_name(3, "sdk-net".into(), "rpabcdefs3-sdk-net".into());
        let e = ok(vec![json!({"name": "sdk-net", "bridge": "joblet-sdk-net"})]);
        let g = ok(vec![
            json!({"name": "rpabcdefs3-sdk-net", "bridge": "joblet-rpabcdefs3-sdk-net"}),
        ]);
        assert!(
            compare(&RuleSet::default(), "CreateNetwork", 3, &ids, &e, &g, false)
                .0
                .is_empty()
        );
        assert_eq!(
            compare(&RuleSet::default(), "CreateNetwork", 0, &ids, &e, &g, false)
                .0
                .len(),
            2
        );
    }
}
