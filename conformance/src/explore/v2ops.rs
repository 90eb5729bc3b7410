//! The v2-only operations of the explorer and their resolution into
//! [`super::v2call::V2Call`]s: RunJob with the v2 message, StreamJobMetrics,
//! GetJobMetrics, StreamJobTelematics, GetJobTelematics (jobs named as the
//! other job operations name them, an empty ID, an unknown one),
//! ValidateRuntimeYAML of runtime YAMLs that keep or break the rules of
//! RT-YAML-2, BuildRuntime of the run's own runtimes (`rt-<prefix>b<k>`, so
//! that the cleanup removes them; only with runtime installs allowed, as it
//! changes the node), their removal, and ListRuntimes with the v2 message.

use rand::Rng;
use rand::rngs::StdRng;

use super::call::{Call, Cmd, RunReq, Sched};
use super::model::Model;
use super::v2call::{OUT_FILE, Range, RtYaml, Target, V2Call};

/// A job a v2 operation names (as the other job operations name one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V2Job {
    /// The n-th most recent job of the run (0: the last; modulo their
    /// count).
    Nth(u16),
    /// Its first 8 characters.
    Prefix(u16),
    /// A v4 UUID no job has (from these bits).
    Unknown(u64),
    /// A prefix shared by two of the run's jobs.
    Ambiguous,
    /// "" (INVALID_ARGUMENT "job_uuid is required").
    Empty,
}

/// A runtime YAML: which of the run's runtimes, which version, which rule
/// it breaks (0: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YamlOp {
    /// The run's runtime `b<k>`.
    pub k: u8,
    /// Index in [`VERSIONS`].
    pub version: u8,
    /// The language (index in [`LANGUAGES`]).
    pub language: u8,
    /// Index in the flaws ([`flawed`]); 0 is a valid YAML.
    pub flaw: u8,
    /// Optional keys set: pip, GPU, hooks, platforms.
    pub extras: u8,
}

/// A v2-only operation, before its names are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V2Op {
    /// RunJob with the v2 message.
    Run {
        /// Index in [`COMMANDS`].
        cmd: u8,
        /// Scheduled (1: in a moment, 2: in an hour).
        sched: u8,
        /// max_cpu 50 and max_memory 64.
        limits: bool,
        /// On the network `none`.
        none_net: bool,
        /// On the run's built runtime `b<k>`.
        runtime: Option<u8>,
    },
    /// StreamJobMetrics.
    StreamMetrics(V2Job),
    /// GetJobMetrics: range kind, limit.
    GetMetrics(V2Job, u8, i8),
    /// StreamJobTelematics: filter (index in [`FILTERS`]).
    StreamTelem(V2Job, u8),
    /// GetJobTelematics: filter, range kind, limit.
    GetTelem(V2Job, u8, u8, i8),
    /// ValidateRuntimeYAML.
    Validate(YamlOp),
    /// BuildRuntime: YAML, dry_run, verbose.
    Build(YamlOp, bool, bool),
    /// RemoveRuntime of the run's built runtime `b<k>`.
    Remove(u8),
    /// ListRuntimes with the v2 message.
    ListRuntimes,
}

/// The commands of v2 jobs: what they do, as the model predicts it.
pub const COMMANDS: &[(&str, u32)] = &[
    ("echo", 0),
    ("false", 0),
    ("sleep", 50),
    ("sleep", 30_000),
    ("sh", 0),
    ("sh", 200),
    ("sh", 30_000),
];

/// The telematics filters the explorer sends.
pub const FILTERS: &[&[&str]] = &[
    &[],
    &["exec"],
    &["file"],
    &["exec", "file"],
    &["metrics"],
    &["EXEC"],
    &["no-such-type"],
    &["file", "no-such-type"],
    &["connect"],
];

/// The versions of the run's built runtimes.
pub const VERSIONS: &[&str] = &["1.0.0", "1.1.0", "1.10.0"];
/// Languages and base versions of the run's built runtimes.
pub const LANGUAGES: &[(&str, &str)] = &[
    ("python", "3.11"),
    ("node", "20"),
    ("go", "1.22"),
    ("java", "21"),
    ("rust", "1.79"),
];

/// Out of 100 operations, how many are v2 operations when the v1 ones are
/// mixed in.
pub const SHARE: u32 = 25;

fn v2_job(rng: &mut StdRng) -> V2Job {
    // Mostly one of the last few jobs, as the other job operations.
    let k = if rng.random_range(0..10) < 7 {
        rng.random_range(0..3)
    } else {
        rng.random_range(0..12)
    };
    match rng.random_range(0..100) {
        0..4 => V2Job::Empty,
        4..70 => V2Job::Nth(k),
        70..85 => V2Job::Prefix(k),
        85..95 => V2Job::Unknown(rng.random()),
        _ => V2Job::Ambiguous,
    }
}

fn limit(rng: &mut StdRng) -> i8 {
    match rng.random_range(0..10) {
        0 => -1,
        1..4 => 0,
        r => 1 + (r - 4) as i8 % 3,
    }
}

fn yaml_op(rng: &mut StdRng, valid_share: u32) -> YamlOp {
    YamlOp {
        k: rng.random_range(0..2),
        version: rng.random_range(0..VERSIONS.len() as u8),
        language: rng.random_range(0..LANGUAGES.len() as u8),
        flaw: match rng.random_range(0..100) {
            r if r < valid_share => 0,
            // The commonest mistakes (a missing name, an empty text) more
            // often than the rest.
            r if r < valid_share + 8 => 1,
            r if r < valid_share + 12 => 13,
            _ => rng.random_range(1..FLAWS),
        },
        extras: rng.random_range(0..16),
    }
}

/// One v2 operation.
pub fn op(rng: &mut StdRng) -> V2Op {
    match rng.random_range(0..100) {
        0..20 => V2Op::Run {
            cmd: rng.random_range(0..COMMANDS.len() as u8),
            sched: match rng.random_range(0..10) {
                0 => 1,
                1 => 2,
                _ => 0,
            },
            limits: rng.random_range(0..3) == 0,
            none_net: rng.random_range(0..5) == 0,
            runtime: (rng.random_range(0..6) == 0).then(|| rng.random_range(0..2)),
        },
        20..32 => V2Op::StreamMetrics(v2_job(rng)),
        32..44 => V2Op::GetMetrics(v2_job(rng), rng.random_range(0..5), limit(rng)),
        44..54 => V2Op::StreamTelem(v2_job(rng), rng.random_range(0..FILTERS.len() as u8)),
        54..64 => V2Op::GetTelem(
            v2_job(rng),
            // Often every type, so that a limit has several types to cap.
            if rng.random_range(0..5) < 2 {
                0
            } else {
                rng.random_range(0..FILTERS.len() as u8)
            },
            rng.random_range(0..5),
            limit(rng),
        ),
        64..75 => V2Op::Validate(yaml_op(rng, 40)),
        75..89 => V2Op::Build(yaml_op(rng, 75), rng.random_range(0..4) == 0, rng.random()),
        89..93 => V2Op::Remove(rng.random_range(0..2)),
        _ => V2Op::ListRuntimes,
    }
}

/// The name of the run's built runtime `k`.
pub fn built_name(prefix: &str, k: u8) -> String {
    format!("rt-{prefix}b{k}")
}

/// Whether `name` is a runtime some run built (not one it installed).
pub fn is_built(name: &str) -> bool {
    name.starts_with("rt-cf-")
}

/// How many flaws [`flawed`] knows (0 included: none).
pub const FLAWS: u8 = 16;

/// The YAML of `y` for the run with `prefix`.
pub fn flawed(prefix: &str, y: &YamlOp) -> RtYaml {
    let (language, base) = LANGUAGES[y.language as usize % LANGUAGES.len()];
    let some = |s: &str| Some(s.to_owned());
    let mut out = RtYaml {
        schema: some("1.0"),
        name: Some(built_name(prefix, y.k)),
        version: some(VERSIONS[y.version as usize % VERSIONS.len()]),
        description: some("joblet-conformance explore runtime (removed at the end)"),
        language: some(language),
        base_version: some(base),
        ..RtYaml::default()
    };
    if y.extras & 1 != 0 {
        out.pip = vec!["numpy".into(), "requests".into()];
    }
    if y.extras & 2 != 0 {
        out.gpu = true;
    }
    if y.extras & 4 != 0 {
        out.hooks_timeout = some("5m");
    }
    if y.extras & 8 != 0 {
        out.platforms = vec!["ubuntu-amd64".into(), "ubuntu-arm64".into()];
    }
    match y.flaw {
        1 => out.name = None,
        2 => out.name = some("Bad Name"),
        3 => out.version = some("1.0"),
        4 => out.version = None,
        5 => out.schema = some("0.9"),
        6 => out.schema = None,
        7 => out.language = some("cobol"),
        8 => out.description = None,
        9 => out.description = Some("d".repeat(300)),
        10 => out.platforms = vec!["ubuntu-amd64".into(), "windows-amd64".into()],
        11 => out.hooks_timeout = some("30"),
        12 => out.garbage = true,
        13 => out.empty = true,
        14 => out.base_version = None,
        15 => {
            out.version = some("v2");
            out.language = some("perl");
        }
        _ => {}
    }
    out
}

fn job(model: &Model, j: V2Job) -> Option<Target> {
    let jobs = &model.jobs;
    let target = |id: String, job| Target {
        id,
        job,
        ambiguous: false,
    };
    match j {
        V2Job::Empty => Some(target(String::new(), None)),
        V2Job::Nth(_) | V2Job::Prefix(_) if jobs.is_empty() => None,
        V2Job::Nth(k) | V2Job::Prefix(k) => {
            let n = jobs.len() - 1 - k as usize % jobs.len();
            let uuid = &jobs[n].uuid;
            let id = match j {
                V2Job::Prefix(_) => uuid[..8.min(uuid.len())].to_owned(),
                _ => uuid.clone(),
            };
            Some(target(id, Some(n)))
        }
        V2Job::Unknown(bits) => {
            let hex = format!("{bits:016x}{:016x}", bits.rotate_left(29) ^ 0x1b87_3593);
            Some(target(
                format!(
                    "{}-{}-4{}-8{}-{}",
                    &hex[0..8],
                    &hex[8..12],
                    &hex[13..16],
                    &hex[17..20],
                    &hex[20..32]
                ),
                None,
            ))
        }
        V2Job::Ambiguous => {
            let live: Vec<&str> = jobs
                .iter()
                .filter(|j| !j.deleted)
                .map(|j| j.uuid.as_str())
                .collect();
            live.iter().enumerate().find_map(|(i, a)| {
                let c = &a[..1];
                live[i + 1..]
                    .iter()
                    .any(|b| b.starts_with(c))
                    .then(|| Target {
                        id: c.to_owned(),
                        job: None,
                        ambiguous: true,
                    })
            })
        }
    }
}

/// The schedule text of `sched` (as the v1 RunJob operations write it).
fn schedule_text(sched: Sched, now: chrono::DateTime<chrono::Local>) -> String {
    use chrono::{Duration, SecondsFormat};
    match sched {
        Sched::Future(ms) if ms >= 60_000.0 => (now + Duration::milliseconds(ms as i64))
            .format("%Y-%m-%dT%H:%M:%S")
            .to_string(),
        Sched::Future(ms) => {
            (now + Duration::milliseconds(ms as i64)).to_rfc3339_opts(SecondsFormat::Millis, false)
        }
        _ => String::new(),
    }
}

/// A range of kind `kind` over what the model has seen of job `id` (Unix
/// ns), and `limit`.
fn range(model: &Model, id: &Target, kind: u8, limit: i8, events: bool) -> Range {
    let seen = id
        .job
        .map(|j| model.v2.seen(&model.jobs[j].uuid, events))
        .unwrap_or_default();
    let at = |i: usize| seen.get(i.min(seen.len().saturating_sub(1))).copied();
    let (start, end) = match (kind, at(0)) {
        (0, _) | (_, None) => (0, 0),
        (1, _) => (at(1).unwrap_or(0), 0),
        (2, Some(first)) => (0, first),
        (3, _) => (at(1).unwrap_or(0), at(2).unwrap_or(0)),
        (_, Some(first)) => (0, first - 1),
    };
    Range {
        start,
        end,
        limit: i32::from(limit),
    }
}

fn run(prefix: &str, op: &V2Op, now: chrono::DateTime<chrono::Local>) -> Option<RunReq> {
    let V2Op::Run {
        cmd,
        sched,
        limits,
        none_net,
        runtime,
    } = *op
    else {
        return None;
    };
    let (command, ms) = COMMANDS[cmd as usize % COMMANDS.len()];
    let cmd = match (command, ms) {
        ("echo", _) => Cmd::Echo("v2 hello".into()),
        ("false", _) => Cmd::False,
        ("sleep", ms) => Cmd::Sleep(ms),
        (_, 0) => Cmd::Shell(format!("echo x > {OUT_FILE}"), 0),
        (_, ms) => Cmd::Shell(
            format!("sleep {}; echo x > {OUT_FILE}", ms as f64 / 1000.0),
            ms,
        ),
    };
    let sched = match sched {
        1 => Sched::Future(40.0),
        2 => Sched::Future(3_600_000.0),
        _ => Sched::None,
    };
    Some(RunReq {
        cmd,
        sched,
        schedule: schedule_text(sched, now),
        limits: if limits { (50, 64, 0) } else { (0, 0, 0) },
        cpu_cores: String::new(),
        network: if none_net {
            "none".into()
        } else {
            String::new()
        },
        volumes: vec![],
        runtime: runtime.map(|k| built_name(prefix, k)).unwrap_or_default(),
        env: vec![],
        secret: vec![],
        uploads: vec![],
        gpu_count: 0,
        timeout: String::new(),
    })
}

/// The call `op` makes now, or `None` when it names nothing or changes the
/// node's runtimes without `installs`.
pub fn resolve(
    op: &V2Op,
    model: &Model,
    prefix: &str,
    installs: bool,
    now: chrono::DateTime<chrono::Local>,
) -> Option<Call> {
    let types = |f: u8| -> Vec<String> {
        FILTERS[f as usize % FILTERS.len()]
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    };
    let call = match op {
        V2Op::Run { .. } => return Some(Call::RunJobV2(Box::new(run(prefix, op, now)?))),
        V2Op::StreamMetrics(j) => V2Call::StreamMetrics(job(model, *j)?),
        V2Op::GetMetrics(j, kind, limit) => {
            let id = job(model, *j)?;
            let r = range(model, &id, *kind, *limit, false);
            V2Call::GetMetrics(id, r)
        }
        V2Op::StreamTelem(j, f) => V2Call::StreamTelem(job(model, *j)?, types(*f)),
        V2Op::GetTelem(j, f, kind, limit) => {
            let id = job(model, *j)?;
            let r = range(model, &id, *kind, *limit, true);
            V2Call::GetTelem(id, types(*f), r)
        }
        V2Op::Validate(y) => V2Call::Validate(flawed(prefix, y)),
        V2Op::Build(y, dry_run, verbose) if installs => V2Call::Build {
            yaml: flawed(prefix, y),
            dry_run: *dry_run,
            verbose: *verbose,
        },
        V2Op::Remove(k) if installs => {
            return Some(Call::RemoveRuntime(built_name(prefix, *k)));
        }
        V2Op::Build(..) | V2Op::Remove(_) => return None,
        V2Op::ListRuntimes => V2Call::ListRuntimes,
    };
    Some(Call::V2(Box::new(call)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explore_rt_yaml_2_flawed_yamls_break_one_rule_each() {
        let y = |flaw| YamlOp {
            k: 0,
            version: 0,
            language: 0,
            flaw,
            extras: 0,
        };
        let valid = flawed("cf-t-s0-", &y(0)).text();
        assert!(valid.contains("name: \"rt-cf-t-s0-b0\"\n"), "{valid}");
        assert!(valid.contains("base:\n  language: \"python\"\n  version: \"3.11\"\n"));
        assert!(!flawed("cf-t-s0-", &y(1)).text().contains("name:"));
        assert_eq!(flawed("cf-t-s0-", &y(13)).text(), "");
        for f in 1..FLAWS {
            assert_ne!(flawed("p-", &y(f)), flawed("p-", &y(0)), "flaw {f}");
        }
    }
}
