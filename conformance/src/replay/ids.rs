//! ID mapping: the IDs and names a transcript recorded, and the ones the
//! replay target gave instead.
//!
//! - **UUIDs** (job and workflow IDs, node IDs): the first time a recorded
//!   UUID is compared with the target's answer at the same place, the pair is
//!   learned; from then on the recorded ID in a request is sent as the
//!   target's, a unique prefix of it as the same-length prefix of the
//!   target's, and an answer must show the target's where the recording
//!   showed the recorded one. The map is one-to-one: a target ID that already
//!   stands for another recorded ID is a difference.
//! - **Names** that the transcript creates (networks and volumes whose
//!   CreateNetwork/CreateVolume succeeded) get a fresh run prefix per session,
//!   `rp<run id>s<session>-<name>` (a recorded `cf-<id>-` or `rp…-` prefix is
//!   replaced), wherever they appear as a word: fields, workflow YAML,
//!   messages, `joblet-<name>` bridges, `/opt/joblet/volumes/<name>` paths.
//! - **Schedules** (`schedule` fields, RFC 3339 or without an offset) move by
//!   the time between the recorded call and its replay, so "in two minutes"
//!   stays in two minutes.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

/// Whether `s` is a UUID (8-4-4-4-12 hex digits).
pub fn is_uuid(s: &str) -> bool {
    uuid_bytes(s.as_bytes())
}

fn uuid_bytes(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The byte ranges of the UUIDs inside `text` (not touching other hex digits).
pub fn find_uuids(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 36 <= b.len() {
        let before_ok = i == 0 || !b[i - 1].is_ascii_hexdigit();
        let after_ok = i + 36 == b.len() || !(b[i + 36].is_ascii_hexdigit() || b[i + 36] == b'-');
        // All ASCII when it matches, so the range falls on char boundaries.
        if before_ok && after_ok && uuid_bytes(&b[i..i + 36]) {
            out.push((i, i + 36));
            i += 36;
        } else {
            i += 1;
        }
    }
    out
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

/// Replaces each whole-word occurrence of a `from` in `text` by its `to`
/// (longest first; `joblet-<name>` counts as a word boundary).
pub fn replace_words(text: &str, names: &[(String, String)]) -> String {
    if names.is_empty() {
        return text.to_owned();
    }
    let mut sorted: Vec<&(String, String)> = names.iter().collect();
    sorted.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        let left_ok = text.is_char_boundary(i)
            && (i == 0 || !is_word(b[i - 1]) || text[..i].ends_with("joblet-"));
        let mut hit = None;
        if left_ok {
            for (from, to) in &sorted {
                let end = i + from.len();
                if !from.is_empty()
                    && text[i..].starts_with(from.as_str())
                    && (end == b.len() || !is_word(b[end]))
                {
                    hit = Some((end, to));
                    break;
                }
            }
        }
        if let Some((end, to)) = hit {
            out.push_str(&text[copied..i]);
            out.push_str(to);
            i = end;
            copied = end;
        } else {
            i += 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// The name without a run prefix (`cf-<id>-` of the conformance suite, or
/// `rp<id>s<n>-` of an earlier replay).
pub fn strip_run_prefix(name: &str) -> &str {
    if let Some(rest) = name.strip_prefix("cf-")
        && let Some((id, tail)) = rest.split_once('-')
        && !id.is_empty()
        && id.len() <= 32
        && id
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && !tail.is_empty()
    {
        return tail;
    }
    if let Some(rest) = name.strip_prefix("rp")
        && let Some((id, tail)) = rest.split_once('-')
        && let Some((run, session)) = id.rsplit_once('s')
        && !run.is_empty()
        && run
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && !session.is_empty()
        && session.bytes().all(|c| c.is_ascii_digit())
        && !tail.is_empty()
    {
        return tail;
    }
    name
}

/// Longest network or volume name (NET-CREATE-2): longer fresh names are not
/// used and the recorded name is kept.
pub const MAX_NAME: usize = 63;

/// The replay's name for `name` created in session `session`.
pub fn fresh_name(run_id: &str, session: usize, name: &str) -> Option<String> {
    let fresh = format!("rp{run_id}s{session}-{}", strip_run_prefix(name));
    (fresh.len() <= MAX_NAME).then_some(fresh)
}

/// Recorded → replayed IDs and names.
#[derive(Debug, Clone, Default)]
pub struct IdMap {
    uuids: HashMap<String, String>,
    reverse: HashMap<String, String>,
    names: BTreeMap<usize, Vec<(String, String)>>,
}

/// A learned UUID pair that contradicts the map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// The recorded ID already maps to another target ID.
    Mapped(String),
    /// The target ID already stands for another recorded ID.
    Taken(String),
}

impl IdMap {
    /// The target's ID for a recorded one, if learned.
    pub fn uuid(&self, recorded: &str) -> Option<&str> {
        self.uuids
            .get(&recorded.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// How many UUIDs are mapped.
    #[cfg(test)]
    pub fn uuid_count(&self) -> usize {
        self.uuids.len()
    }

    /// Learns `recorded` → `got`, or says why they contradict the map.
    pub fn learn(&mut self, recorded: &str, got: &str) -> Result<(), Conflict> {
        let (r, g) = (recorded.to_ascii_lowercase(), got.to_ascii_lowercase());
        match (self.uuids.get(&r), self.reverse.get(&g)) {
            (Some(m), _) if *m == g => Ok(()),
            (Some(m), _) => Err(Conflict::Mapped(m.clone())),
            (None, Some(other)) => Err(Conflict::Taken(other.clone())),
            (None, None) => {
                self.uuids.insert(r.clone(), g.clone());
                self.reverse.insert(g, r);
                Ok(())
            }
        }
    }

    /// Learns every pair of `other` that does not contradict this map.
    pub fn merge(&mut self, other: &IdMap) {
        for (r, g) in &other.uuids {
            let _ = self.learn(r, g);
        }
    }

    /// Adds the names created in `session`.
    pub fn add_name(&mut self, session: usize, recorded: String, replayed: String) {
        let names = self.names.entry(session).or_default();
        if !names.iter().any(|(r, _)| *r == recorded) {
            names.push((recorded, replayed));
        }
    }

    /// The names of `session`.
    pub fn names(&self, session: usize) -> &[(String, String)] {
        self.names.get(&session).map_or(&[], Vec::as_slice)
    }

    /// The replay's form of a recorded string: its UUIDs mapped (those
    /// learned), its created names renamed.
    pub fn map_text(&self, session: usize, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        for (a, b) in find_uuids(text) {
            if let Some(m) = self.uuid(&text[a..b]) {
                out.push_str(&text[copied..a]);
                out.push_str(m);
                copied = b;
            }
        }
        out.push_str(&text[copied..]);
        replace_words(&out, self.names(session))
    }

    /// A request value as the replay sends it: strings through
    /// [`map_text`](Self::map_text), a unique prefix of a mapped UUID as the
    /// same-length prefix of its replay ID, `schedule` times moved by
    /// `shift_secs`.
    pub fn rewrite_request(&self, session: usize, value: &Value, shift_secs: i64) -> Value {
        self.rewrite(session, value, None, shift_secs)
    }

    fn rewrite(&self, session: usize, value: &Value, key: Option<&str>, shift: i64) -> Value {
        match value {
            Value::String(s) => {
                if key == Some("schedule")
                    && let Some(moved) = shift_time(s, shift)
                {
                    return Value::String(moved);
                }
                if let Some(p) = self.map_prefix(s) {
                    return Value::String(p);
                }
                Value::String(self.map_text(session, s))
            }
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| self.rewrite(session, v, key, shift))
                    .collect(),
            ),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        (
                            self.map_text(session, k),
                            self.rewrite(session, v, Some(k), shift),
                        )
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// A unique prefix (4 to 35 characters) of exactly one mapped UUID, as the
    /// same-length prefix of its replay ID.
    fn map_prefix(&self, s: &str) -> Option<String> {
        if !(4..36).contains(&s.len()) || !s.bytes().all(|c| c.is_ascii_hexdigit() || c == b'-') {
            return None;
        }
        let lower = s.to_ascii_lowercase();
        let mut hits = self.uuids.iter().filter(|(r, _)| r.starts_with(&lower));
        let (_, replay) = hits.next()?;
        if hits.next().is_some() {
            return None;
        }
        Some(replay[..s.len()].to_owned())
    }
}

/// `text` (RFC 3339 with an offset, or `YYYY-MM-DDTHH:MM:SS` without one)
/// moved by `secs`, in the same form; `None` for anything else.
pub fn shift_time(text: &str, secs: i64) -> Option<String> {
    let delta = chrono::Duration::try_seconds(secs)?;
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        let moved = t.checked_add_signed(delta)?;
        let fraction = text
            .split_once('.')
            .map(|(_, f)| f.bytes().take_while(u8::is_ascii_digit).count())
            .unwrap_or(0);
        let format = match fraction {
            0 => chrono::SecondsFormat::Secs,
            1..=3 => chrono::SecondsFormat::Millis,
            4..=6 => chrono::SecondsFormat::Micros,
            _ => chrono::SecondsFormat::Nanos,
        };
        return Some(moved.to_rfc3339_opts(format, text.ends_with('Z') || text.ends_with('z')));
    }
    let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").ok()?;
    Some(
        naive
            .checked_add_signed(delta)?
            .format("%Y-%m-%dT%H:%M:%S")
            .to_string(),
    )
}

/// Whether `text` is an RFC 3339 time.
pub fn is_time(text: &str) -> bool {
    text.len() >= 20
        && text.as_bytes()[10] == b'T'
        && chrono::DateTime::parse_from_rfc3339(text).is_ok()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    const A: &str = "6f1c2d3e-0000-4000-8000-00000000000a";
    const B: &str = "6f1c2d3e-0000-4000-8000-00000000000b";
    const X: &str = "aaaaaaaa-1111-4111-8111-111111111111";
    const Y: &str = "bbbbbbbb-2222-4222-8222-222222222222";

    #[test]
    fn uuids_are_found_as_words() {
        assert!(is_uuid(A) && !is_uuid(&A[1..]) && !is_uuid("x"));
        let text = format!("job {A} and {B}, not a{A} nor {A}-x");
        assert_eq!(find_uuids(&text).len(), 2);
        assert_eq!(find_uuids(A), vec![(0, 36)]);
        assert!(find_uuids("").is_empty());
    }

    #[test]
    fn the_map_is_one_to_one() {
        let mut m = IdMap::default();
        assert_eq!(m.learn(A, X), Ok(()));
        assert_eq!(m.learn(A, X), Ok(()));
        assert_eq!(m.learn(&A.to_uppercase(), X), Ok(()));
        assert_eq!(m.learn(A, Y), Err(Conflict::Mapped(X.into())));
        assert_eq!(m.learn(B, X), Err(Conflict::Taken(A.into())));
        assert_eq!(m.uuid(A), Some(X));
        assert_eq!(m.uuid_count(), 1);
    }

    #[test]
    fn requests_are_rewritten() {
        let mut m = IdMap::default();
        m.learn(A, X).unwrap();
        m.learn(B, Y).unwrap();
        m.add_name(0, "sdk-net".into(), "rpabc123s0-sdk-net".into());
        let req = json!({
            "uuid": A,
            "prefix": "6f1c2d3e-0000-4000-8000-00000000000",   // a prefix of both: ambiguous
            "unique": "6f1c2d3e-0000-4000-8000-00000000000b",
            "short": &A[..8],
            "network": "sdk-net",
            "yaml": "jobs:\n  a: {command: echo, network: sdk-net}\n",
            "volumes": ["sdk-net-2", "sdk-net"],
            "unknown": "00000000-0000-4000-8000-000000000000",
        });
        let got = m.rewrite_request(0, &req, 0);
        assert_eq!(got["uuid"], X);
        assert_eq!(got["prefix"], "6f1c2d3e-0000-4000-8000-00000000000");
        assert_eq!(got["unique"], Y);
        // An ambiguous short prefix is kept as it is.
        assert_eq!(got["short"], &A[..8]);
        assert_eq!(got["network"], "rpabc123s0-sdk-net");
        assert_eq!(
            got["yaml"],
            "jobs:\n  a: {command: echo, network: rpabc123s0-sdk-net}\n"
        );
        assert_eq!(got["volumes"], json!(["sdk-net-2", "rpabc123s0-sdk-net"]));
        assert_eq!(got["unknown"], "00000000-0000-4000-8000-000000000000");
        // Other sessions keep their names.
        assert_eq!(m.rewrite_request(1, &req, 0)["network"], "sdk-net");
    }

    #[test]
    fn a_unique_prefix_maps_to_a_prefix() {
        let mut m = IdMap::default();
        m.learn(A, X).unwrap();
        assert_eq!(
            m.rewrite_request(0, &json!({"uuid": &A[..8]}), 0)["uuid"],
            &X[..8]
        );
        assert_eq!(
            m.rewrite_request(0, &json!({"uuid": "6f1"}), 0)["uuid"],
            "6f1"
        );
    }

    #[test]
    fn words_bridges_and_paths() {
        let names = vec![("data".to_owned(), "rpx1s0-data".to_owned())];
        assert_eq!(
            replace_words("/opt/joblet/volumes/data", &names),
            "/opt/joblet/volumes/rpx1s0-data"
        );
        assert_eq!(replace_words("joblet-data", &names), "joblet-rpx1s0-data");
        assert_eq!(replace_words("my-data", &names), "my-data");
        assert_eq!(
            replace_words("data-2 database data.", &names),
            "data-2 database rpx1s0-data."
        );
        assert_eq!(
            replace_words("volume \"data\" is in use", &names),
            "volume \"rpx1s0-data\" is in use"
        );
        assert_eq!(replace_words("ünïcode data", &names), "ünïcode rpx1s0-data");
    }

    #[test]
    fn run_prefixes_are_replaced() {
        assert_eq!(strip_run_prefix("cf-k5dea2-net"), "net");
        assert_eq!(strip_run_prefix("rpk5dea2s12-net"), "net");
        assert_eq!(strip_run_prefix("cf-net"), "cf-net");
        assert_eq!(strip_run_prefix("rpx-net"), "rpx-net");
        assert_eq!(strip_run_prefix("sdk-net"), "sdk-net");
        assert_eq!(
            fresh_name("abc123", 4, "cf-zz9-vol").as_deref(),
            Some("rpabc123s4-vol")
        );
        assert_eq!(fresh_name("abc123", 4, &"x".repeat(60)), None);
    }

    #[test]
    fn schedules_move() {
        assert_eq!(
            shift_time("2025-01-01T10:00:00+02:00", 90).as_deref(),
            Some("2025-01-01T10:01:30+02:00")
        );
        assert_eq!(
            shift_time("2025-01-01T10:00:00Z", 60).as_deref(),
            Some("2025-01-01T10:01:00Z")
        );
        assert_eq!(
            shift_time("2025-01-01T10:00:00.500Z", 1).as_deref(),
            Some("2025-01-01T10:00:01.500Z")
        );
        assert_eq!(
            shift_time("2025-01-01T10:00:00", 3600).as_deref(),
            Some("2025-01-01T11:00:00")
        );
        assert_eq!(shift_time("tomorrow", 5), None);
        assert_eq!(shift_time("2030-01-01 10:00", 5), None);
        let mut m = IdMap::default();
        m.learn(A, X).unwrap();
        let got = m.rewrite_request(
            0,
            &json!({"schedule": "2025-01-01T10:00:00Z", "other": "2025-01-01T10:00:00Z"}),
            60,
        );
        assert_eq!(
            got,
            json!({"schedule": "2025-01-01T10:01:00Z", "other": "2025-01-01T10:00:00Z"})
        );
        assert!(is_time("2025-01-01T10:00:00Z") && is_time("2025-01-01T10:00:00.123456789+02:00"));
        assert!(!is_time("2025-01-01") && !is_time("") && !is_time("2025-01-01 10:00:00Z"));
    }

    proptest! {
        #[test]
        fn replacing_never_panics_and_is_identity_without_names(s in "\\PC{0,60}") {
            prop_assert_eq!(replace_words(&s, &[]), s.clone());
            let names = vec![("a".to_owned(), "b".to_owned())];
            let _ = replace_words(&s, &names);
            let _ = find_uuids(&s);
            let _ = shift_time(&s, 10);
            let _ = strip_run_prefix(&s);
        }

        #[test]
        fn shifting_there_and_back(secs in -100_000i64..100_000, h in 0u32..24, mi in 0u32..60) {
            let t = format!("2025-06-15T{h:02}:{mi:02}:07+01:00");
            let there = shift_time(&t, secs).unwrap();
            prop_assert_eq!(shift_time(&there, -secs).unwrap(), t);
        }
    }
}
