//! Random operations from a seed, and their resolution into concrete calls
//! once the run's jobs exist. An operation names jobs by their order of
//! creation (so a shorter sequence still means something), networks and
//! volumes by a small number under the run's prefix.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::call::{Call, Cmd, JobId, RunReq, Sched};
use super::identity::{RtOp, Who};
use super::model::{Model, Phase};

/// A job an operation names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobRef {
    /// The n-th most recent job of the run (0: the last; modulo their
    /// count).
    Nth(u16),
    /// Its first 8 characters.
    Prefix(u16),
    /// A v4 UUID no job has (from these bits).
    Unknown(u64),
    /// A prefix shared by two of the run's jobs.
    Ambiguous,
    /// No ID at all: "" (JOB-LOGS-4).
    Empty,
}

/// A network or volume name an operation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRef {
    /// `<prefix>n<k>` or `<prefix>v<k>`.
    Own(u8),
    /// A fixed name (built in, reserved, or malformed).
    Fixed(&'static str),
}

/// A RunJob operation.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOp {
    cmd: Cmd,
    sched: Sched,
    limits: (i32, i32, i32),
    cores: &'static str,
    network: Option<NameRef>,
    volume: Option<NameRef>,
    runtime: Option<RtRef>,
    env: Vec<(&'static str, &'static str)>,
    secret: Vec<(&'static str, &'static str)>,
    upload: Option<&'static str>,
    gpu: i32,
}

impl RunOp {
    /// The same with a command that outlives any short timeout
    /// (JOB-TIMEOUT-3).
    pub(super) fn outliving(mut self) -> Self {
        self.cmd = Cmd::Sleep(30_000);
        self.upload = None;
        self
    }
}

/// A runtime an operation names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtRef {
    /// The first installed one (an unknown one when none is).
    Installed,
    /// One that is not installed.
    Unknown,
    /// "".
    Empty,
}

/// One operation of a sequence, before its names are resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// RunJob.
    Run(Box<RunOp>),
    /// GetJobStatus.
    Status(JobRef),
    /// StopJob.
    Stop(JobRef),
    /// CancelJob.
    Cancel(JobRef),
    /// DeleteJob.
    Delete(JobRef),
    /// GetJobLogs by 1 or 2 readers.
    Logs(JobRef, u8),
    /// ListJobs.
    ListJobs,
    /// CreateNetwork: name, and the CIDR's kind (0-3: a /24 of the
    /// sequence's block, 4: the whole block, 5+: malformed).
    CreateNetwork(NameRef, u8),
    /// ListNetworks.
    ListNetworks,
    /// RemoveNetwork.
    RemoveNetwork(NameRef),
    /// CreateVolume: name, size, type.
    CreateVolume(NameRef, &'static str, &'static str),
    /// ListVolumes.
    ListVolumes,
    /// RemoveVolume.
    RemoveVolume(NameRef),
    /// ListRuntimes.
    ListRuntimes,
    /// GetRuntimeInfo.
    RuntimeInfo(RtRef),
    /// TestRuntime.
    TestRuntime(RtRef),
    /// GetSystemStatus.
    SystemStatus,
    /// ValidateRuntimeSpec of one of the explorer's specs (index).
    Spec(u8),
    /// StreamSystemMetrics with a filter (bits of the sections; bit 6: an
    /// unknown type).
    Metrics(u8),
    /// A pause longer than the grace, so that what is due has happened.
    Wait,
    /// A workflow operation.
    Wf(super::workflow::WfOp),
    /// An operation made by another identity than the admin
    /// (`admin`).
    As(Who, Box<Op>),
    /// A runtime install or removal of the run's own runtimes (only when
    /// allowed: `admin::Admin::installs`).
    Runtime(RtOp),
    /// An operation made with the v2 messages, and the `timeout` of a
    /// RunJob ([`super::contract`]).
    ViaV2(Box<Op>, &'static str),
    /// A v2-only operation: job metrics and telematics, runtime YAML and
    /// builds ([`super::v2ops`]).
    V2(super::v2ops::V2Op),
}

const WORDS: &[&str] = &["alpha", "bravo", "hello world", "x", "42", "tab\tsep"];
const BAD_NAMES: &[&str] = &["-bad", "bad-", "a b", "host", "bridge", "none", ""];
/// Malformed volume names (the reserved network names are valid volume
/// names, and would be created outside the run's prefix).
const BAD_VOLUME_NAMES: &[&str] = &["-bad", "bad-", "a b", ""];
const BAD_CIDRS: &[&str] = &[
    "10.0.0.0/33",
    "999.1.1.0/24",
    "10.0.0.0/4",
    "abc",
    "10.1.2.0/31",
    "",
];
/// Runtime specs and whether RT-SPEC-1's grammar accepts them.
const SPECS: &[(&str, bool)] = &[
    ("python:3.11", true),
    ("golang:1.22@arm64", true),
    ("node:20-slim", true),
    ("java:21@x86_64", true),
    ("cobol:1", false),
    ("python", false),
    ("python:3.11@sparc", false),
    ("", false),
];
const SIZES: &[&str] = &["10MB", "1gb", "512KB", "5B"];
const BAD_SIZES: &[&str] = &["0MB", "-5MB", "10XB", "abc", ""];
const BAD_CORES: &[&str] = &["x", "0,0", "3-1", "99999", "-1"];

/// `n` operations from `seed`: without `v2`, [`generate`]'s (the v1 mix);
/// with it, the v2-only operations ([`super::v2ops::op`]) mixed into the v1
/// mix when `v1`, or alone with the job calls a node that speaks v2 alone
/// serves to every client (StopJob, DeleteJob) and pauses.
pub fn generate_for(seed: u64, n: usize, v1: bool, v2: bool) -> Vec<Op> {
    use super::v2ops::{SHARE, op as v2_op};
    if !v2 {
        return generate(seed, n);
    }
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let r = rng.random_range(0..100);
            match (v1, r) {
                (true, r) if r < SHARE => Op::V2(v2_op(&mut rng)),
                (true, r) if r < SHARE + super::workflow::SHARE => {
                    Op::Wf(super::workflow::op(&mut rng))
                }
                (true, _) => op(&mut rng),
                (false, 0..10) => Op::Stop(job_ref(&mut rng)),
                (false, 10..14) => Op::Delete(job_ref(&mut rng)),
                (false, 14..16) => Op::Wait,
                (false, _) => Op::V2(v2_op(&mut rng)),
            }
        })
        .collect()
}

/// `n` operations from `seed`.
pub fn generate(seed: u64, n: usize) -> Vec<Op> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            if rng.random_range(0..100) < super::workflow::SHARE {
                Op::Wf(super::workflow::op(&mut rng))
            } else {
                op(&mut rng)
            }
        })
        .collect()
}

fn job_ref(rng: &mut StdRng) -> JobRef {
    // Mostly one of the last few jobs: a reference that stays the same job
    // when the shrinking removes older operations.
    let k = if rng.random_range(0..10) < 7 {
        rng.random_range(0..3)
    } else {
        rng.random_range(0..12)
    };
    match rng.random_range(0..100) {
        0..70 => JobRef::Nth(k),
        70..85 => JobRef::Prefix(k),
        85..95 => JobRef::Unknown(rng.random()),
        _ => JobRef::Ambiguous,
    }
}

fn name_ref(rng: &mut StdRng, bad: &[&'static str]) -> NameRef {
    if rng.random_range(0..100) < 88 {
        NameRef::Own(rng.random_range(0..3))
    } else {
        NameRef::Fixed(bad[rng.random_range(0..bad.len())])
    }
}

fn pick<T: Copy>(rng: &mut StdRng, list: &[T]) -> T {
    list[rng.random_range(0..list.len())]
}

/// One operation (some of its range the other identities' and the runtime
/// installs').
fn op(rng: &mut StdRng) -> Op {
    match rng.random_range(0..110) {
        0..20 => Op::Run(Box::new(run_op(rng))),
        20..26 => Op::Run(Box::new(busy_op(rng))),
        26..35 => Op::Status(job_ref(rng)),
        35..43 => Op::Stop(job_ref(rng)),
        43..48 => Op::Cancel(job_ref(rng)),
        48..55 => Op::Delete(job_ref(rng)),
        55..62 => Op::Logs(
            job_ref(rng),
            if rng.random_range(0..5) == 0 { 2 } else { 1 },
        ),
        62..66 => Op::ListJobs,
        66..71 => Op::ListNetworks,
        71..76 => {
            let name = name_ref(rng, BAD_NAMES);
            let cidr = match (name, rng.random_range(0..10)) {
                (_, 0..2) => rng.random_range(5..5 + BAD_CIDRS.len() as u8),
                // Mostly a /24 of its own, so that creating it usually works.
                (NameRef::Own(k), 2..8) => k,
                _ => rng.random_range(0..5),
            };
            Op::CreateNetwork(name, cidr)
        }
        76..80 => Op::RemoveNetwork(if rng.random_range(0..10) == 0 {
            NameRef::Fixed("bridge")
        } else {
            NameRef::Own(rng.random_range(0..3))
        }),
        80..84 => {
            let size = if rng.random_range(0..5) == 0 {
                pick(rng, BAD_SIZES)
            } else {
                pick(rng, SIZES)
            };
            let kind = pick(rng, &["", "", "filesystem", "memory", "tmpfs"]);
            Op::CreateVolume(name_ref(rng, BAD_VOLUME_NAMES), size, kind)
        }
        84..88 => Op::ListVolumes,
        88..92 => Op::RemoveVolume(NameRef::Own(rng.random_range(0..3))),
        92..94 => Op::ListRuntimes,
        94..96 => Op::RuntimeInfo(pick(rng, &[RtRef::Installed, RtRef::Unknown, RtRef::Empty])),
        96..97 => Op::TestRuntime(pick(rng, &[RtRef::Installed, RtRef::Unknown])),
        97 => Op::SystemStatus,
        98 => match rng.random_range(0..3) {
            0 => Op::Metrics(rng.random_range(0..128)),
            _ => Op::Spec(rng.random_range(0..SPECS.len() as u8)),
        },
        99 => Op::Wait,
        _ => admin_op(rng),
    }
}

/// A RunJob operation, valid or (30%) with one invalid argument.
pub(super) fn run_op(rng: &mut StdRng) -> RunOp {
    let cmd = match rng.random_range(0..100) {
        0..30 => Cmd::Echo(pick(rng, WORDS).to_owned()),
        30..45 => Cmd::False,
        45..62 => Cmd::Sleep(50),
        62..85 => Cmd::Sleep(30_000),
        _ => Cmd::Cat(format!("content {}\n", rng.random_range(0..1000))),
    };
    let sched = match rng.random_range(0..100) {
        0..62 => Sched::None,
        62..70 => Sched::Past,
        70..84 => Sched::Future(rng.random_range(10..60) as f64),
        _ => Sched::Future(3_600_000.0),
    };
    let mut op = RunOp {
        upload: matches!(cmd, Cmd::Cat(_)).then_some("in.txt"),
        cmd,
        sched,
        limits: (0, 0, 0),
        cores: "",
        network: match rng.random_range(0..100) {
            0..45 => None,
            45..55 => Some(NameRef::Fixed(pick(rng, &["bridge", "isolated", "none"]))),
            _ => Some(NameRef::Own(rng.random_range(0..3))),
        },
        volume: (rng.random_range(0..3) == 0).then(|| NameRef::Own(rng.random_range(0..3))),
        runtime: (rng.random_range(0..20) == 0).then_some(RtRef::Installed),
        env: if rng.random_range(0..5) == 0 {
            vec![("EX_A", "1")]
        } else {
            vec![]
        },
        secret: if rng.random_range(0..6) == 0 {
            vec![("EX_S", "hush")]
        } else {
            vec![]
        },
        gpu: 0,
    };
    if rng.random_range(0..10) == 0 {
        // Limits, and a GPU (JOB-GPU-1), held long enough for a status or
        // a listing to see the job RUNNING with it.
        op.limits = (50, 64, 1000);
        op.gpu = 1;
        op.cmd = Cmd::Sleep(30_000);
        op.upload = None;
    }
    if rng.random_range(0..10) == 0 {
        op.cores = "0";
    }
    if rng.random_range(0..100) < 30 {
        spoil(rng, &mut op);
    }
    op
}

/// One of the explorer's operations that is not the admin's plain call
/// (`admin`).
fn admin_op(rng: &mut StdRng) -> Op {
    match rng.random_range(0..10) {
        0..3 => Op::As(Who::Viewer, Box::new(inner(rng, true))),
        3 => Op::As(Who::Plaintext, Box::new(inner(rng, true))),
        4..6 => Op::As(Who::NoRole, Box::new(inner(rng, false))),
        6 => Op::As(
            Who::Anonymous,
            Box::new(match rng.random_range(0..3) {
                0 => Op::ListJobs,
                1 => Op::ListNetworks,
                _ => Op::Run(Box::new(run_op(rng))),
            }),
        ),
        // An install takes a moment (a second on the mock): rarer, and
        // mostly of the run's installed runtime (at once when not forced).
        7..9 => Op::Runtime(RtOp::Install {
            k: rng.random_range(0..2),
            mine: rng.random_range(0..10) < 6,
            stream: rng.random_range(0..10) < 4,
            force: rng.random_range(0..10) < 4,
            empty: rng.random_range(0..20) == 0,
        }),
        _ => Op::Runtime(RtOp::Remove {
            k: rng.random_range(0..2),
            mine: rng.random_range(0..10) < 7,
            unknown: rng.random_range(0..7) == 0,
        }),
    }
}

/// An admin operation for another identity: often a RunJob (valid or
/// spoiled: AUTH-4, AUTH-5 for the viewer), else any plain operation.
fn inner(rng: &mut StdRng, runs: bool) -> Op {
    if runs && rng.random_range(0..10) < 4 {
        return Op::Run(Box::new(run_op(rng)));
    }
    loop {
        match op(rng) {
            // Workflow calls go by the admin's channel only (their own
            // executor).
            Op::Wait | Op::As(..) | Op::Runtime(_) | Op::Wf(_) | Op::V2(_) => {}
            other => return other,
        }
    }
}

/// A long job on one of the run's networks or volumes (or both), to keep
/// them busy.
fn busy_op(rng: &mut StdRng) -> RunOp {
    let k = rng.random_range(0..3);
    let (net, vol) = match rng.random_range(0..3) {
        0 => (true, false),
        1 => (false, true),
        _ => (true, true),
    };
    RunOp {
        cmd: Cmd::Sleep(30_000),
        sched: Sched::None,
        limits: (0, 0, 0),
        cores: "",
        network: net.then_some(NameRef::Own(k)),
        volume: vol.then_some(NameRef::Own(k)),
        runtime: None,
        env: vec![],
        secret: vec![],
        upload: None,
        gpu: 0,
    }
}

/// Makes one argument of `op` invalid.
fn spoil(rng: &mut StdRng, op: &mut RunOp) {
    match rng.random_range(0..11) {
        0 => op.cmd = Cmd::Empty,
        1 => match rng.random_range(0..3) {
            0 => op.limits.0 = -1,
            1 => op.limits.1 = -1,
            _ => op.limits.2 = -1,
        },
        2 => op.limits.0 = 1_000_000,
        3 => op.cores = pick(rng, BAD_CORES),
        4 => op.sched = Sched::Bad,
        5 => op.network = Some(NameRef::Fixed("nonet")),
        6 => op.volume = Some(NameRef::Fixed(pick(rng, &["", "novol"]))),
        7 => op.runtime = Some(RtRef::Unknown),
        8 => op.upload = Some(pick(rng, &["../escape.txt", "/etc/x"])),
        9 => {
            if rng.random() {
                op.env = vec![("1BAD", "x")];
            } else {
                op.env = vec![("EX_S", "a")];
                op.secret = vec![("EX_S", "b")];
            }
        }
        _ => op.gpu = pick(rng, &[-1, 99_999]),
    }
}

/// What resolving needs: the run's names and the model's jobs.
#[derive(Debug)]
pub struct Names<'a> {
    /// The sequence's name prefix.
    pub prefix: &'a str,
    /// The second octet of the sequence's `10.x.0.0/16` block.
    pub octet: u8,
    /// The model.
    pub model: &'a Model,
    /// Now, in milliseconds since the sequence began.
    pub now: f64,
    /// Now on the node's clock, in local time (for schedule texts).
    pub local: chrono::DateTime<chrono::Local>,
    /// Time moves only when the explorer moves it (a joblet-mock's manual
    /// clock): nothing due later than now happens while a call waits.
    pub still: bool,
}

fn own(names: &Names<'_>, r: NameRef, kind: char) -> String {
    match r {
        NameRef::Own(k) => format!("{}{kind}{k}", names.prefix),
        NameRef::Fixed("nonet" | "novol") => format!("{}missing", names.prefix),
        NameRef::Fixed(s) => s.to_owned(),
    }
}

/// A job's network or volume: `Own(k)` names the k-th of those the
/// sequence has (modulo their count), so that jobs use what exists and the
/// counts and removals of busy ones are checked (NET-LIST-1, NET-RM-1,
/// VOL-LIST-1, VOL-RM-1); with none yet, the name `own` gives.
fn job_own(names: &Names<'_>, r: NameRef, kind: char) -> String {
    let NameRef::Own(k) = r else {
        return own(names, r, kind);
    };
    let existing: Vec<&String> = if kind == 'n' {
        names.model.networks.iter().map(|(n, _)| n).collect()
    } else {
        names.model.volumes.iter().map(|(n, _, _)| n).collect()
    };
    match existing.len() {
        0 => own(names, r, kind),
        n => existing[usize::from(k) % n].clone(),
    }
}

fn runtime(names: &Names<'_>, r: RtRef) -> String {
    match r {
        RtRef::Installed => match names.model.runtimes.iter().next() {
            Some(n) => n.clone(),
            None => format!("{}rt:1.0", names.prefix.trim_end_matches('-')),
        },
        RtRef::Unknown => format!("{}rt:1.0", names.prefix.trim_end_matches('-')),
        RtRef::Empty => String::new(),
    }
}

fn job_id(names: &Names<'_>, r: JobRef) -> Option<JobId> {
    let jobs = &names.model.jobs;
    match r {
        JobRef::Nth(k) | JobRef::Prefix(k) if !jobs.is_empty() => {
            let j = jobs.len() - 1 - k as usize % jobs.len();
            let uuid = &jobs[j].uuid;
            let id = if matches!(r, JobRef::Prefix(_)) {
                uuid[..8.min(uuid.len())].to_owned()
            } else {
                uuid.clone()
            };
            Some(JobId {
                id,
                job: Some(j),
                ambiguous: false,
            })
        }
        JobRef::Nth(_) | JobRef::Prefix(_) => None,
        JobRef::Unknown(bits) => {
            let hex = format!("{bits:016x}{:016x}", bits.rotate_left(17) ^ 0x5bd1_e995);
            let id = format!(
                "{}-{}-4{}-a{}-{}",
                &hex[0..8],
                &hex[8..12],
                &hex[13..16],
                &hex[17..20],
                &hex[20..32]
            );
            Some(JobId {
                id,
                job: None,
                ambiguous: false,
            })
        }
        JobRef::Empty => Some(JobId {
            id: String::new(),
            job: None,
            ambiguous: false,
        }),
        JobRef::Ambiguous => {
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
                    .then(|| JobId {
                        id: c.to_owned(),
                        job: None,
                        ambiguous: true,
                    })
            })
        }
    }
}

/// How long GetJobLogs reads job `id` before it calls the stream open: long
/// enough for a job that ends soon, short for one that will not.
fn logs_deadline(names: &Names<'_>, id: &JobId) -> u64 {
    let grace = names.model.grace;
    let Some(j) = id.job else { return grace as u64 };
    let job = &names.model.jobs[j];
    if job.phase != Phase::Live {
        return grace as u64;
    }
    let end = job.start_at + job.run_ms();
    let left = end - names.now;
    if names.still && left > 0.0 {
        // It cannot end while the clock stands still: a glimpse of what it
        // wrote is all a longer read would get.
        30
    } else if left > 2_000.0 {
        30
    } else {
        (left.max(0.0) + grace) as u64
    }
}

/// The call `op` makes now, or `None` when it names nothing (a job before any
/// exists, an ambiguous prefix without two jobs to share it).
pub fn resolve(op: &Op, names: &Names<'_>) -> Option<Call> {
    Some(match op {
        Op::Run(r) => Call::RunJob(Box::new(run_req(r, names))),
        Op::Status(r) => Call::GetJobStatus(job_id(names, *r)?),
        Op::Stop(r) => Call::StopJob(job_id(names, *r)?),
        Op::Cancel(r) => Call::CancelJob(job_id(names, *r)?),
        Op::Delete(r) => Call::DeleteJob(job_id(names, *r)?),
        Op::Logs(r, readers) => {
            let id = job_id(names, *r)?;
            let deadline = logs_deadline(names, &id);
            Call::GetJobLogs(id, *readers, deadline)
        }
        Op::ListJobs => Call::ListJobs,
        Op::CreateNetwork(n, kind) => {
            let o = names.octet;
            let cidr = match kind {
                0..=3 => format!("10.{o}.{kind}.0/24"),
                4 => format!("10.{o}.0.0/16"),
                k => BAD_CIDRS[(*k as usize - 5) % BAD_CIDRS.len()].to_owned(),
            };
            Call::CreateNetwork {
                name: own(names, *n, 'n'),
                cidr,
            }
        }
        Op::ListNetworks => Call::ListNetworks,
        Op::RemoveNetwork(n) => Call::RemoveNetwork(own(names, *n, 'n')),
        Op::CreateVolume(n, size, kind) => Call::CreateVolume {
            name: own(names, *n, 'v'),
            size: (*size).to_owned(),
            kind: (*kind).to_owned(),
        },
        Op::ListVolumes => Call::ListVolumes,
        Op::RemoveVolume(n) => Call::RemoveVolume(own(names, *n, 'v')),
        Op::ListRuntimes => Call::ListRuntimes,
        Op::RuntimeInfo(r) => Call::GetRuntimeInfo(runtime(names, *r)),
        Op::TestRuntime(r) => Call::TestRuntime(runtime(names, *r)),
        Op::SystemStatus => Call::GetSystemStatus,
        Op::Wait => Call::Wait(names.model.grace as u64 + 100),
        Op::Spec(i) => {
            let (spec, valid) = SPECS[*i as usize % SPECS.len()];
            Call::ValidateRuntimeSpec(spec.to_owned(), valid)
        }
        Op::Metrics(bits) => {
            let mut types: Vec<String> = super::checks::SECTIONS
                .iter()
                .enumerate()
                .filter(|(i, _)| bits & (1 << i) != 0)
                .map(|(_, s)| (*s).to_owned())
                .collect();
            if bits & 64 != 0 && bits & 1 != 0 {
                types.push("gpuz".to_owned());
            }
            Call::StreamSystemMetrics(types)
        }
        Op::Wf(w) => super::workflow::resolve(w, names.model, names.prefix)?,
        Op::ViaV2(inner, timeout) => {
            let mut call = resolve(inner, names)?;
            if let Call::RunJob(r) = &mut call {
                r.timeout = (*timeout).to_owned();
            }
            Call::ViaV2(Box::new(call))
        }
        Op::As(..) | Op::Runtime(_) | Op::V2(_) => return None,
    })
}

fn schedule_text(sched: Sched, now: chrono::DateTime<chrono::Local>) -> String {
    use chrono::{Duration, SecondsFormat};
    match sched {
        Sched::None => String::new(),
        Sched::Past => (now - Duration::hours(1)).to_rfc3339_opts(SecondsFormat::Secs, false),
        Sched::Future(ms) if ms >= 60_000.0 => (now + Duration::milliseconds(ms as i64))
            .format("%Y-%m-%dT%H:%M:%S")
            .to_string(),
        Sched::Future(ms) => {
            (now + Duration::milliseconds(ms as i64)).to_rfc3339_opts(SecondsFormat::Millis, false)
        }
        Sched::Bad => "tomorrow at noon".to_owned(),
    }
}

fn run_req(r: &RunOp, names: &Names<'_>) -> RunReq {
    let content = match &r.cmd {
        Cmd::Cat(c) => c.clone(),
        _ => "data\n".to_owned(),
    };
    RunReq {
        cmd: r.cmd.clone(),
        sched: r.sched,
        schedule: schedule_text(r.sched, names.local),
        limits: r.limits,
        cpu_cores: r.cores.to_owned(),
        network: r
            .network
            .map(|n| job_own(names, n, 'n'))
            .unwrap_or_default(),
        volumes: r
            .volume
            .map(|v| job_own(names, v, 'v'))
            .into_iter()
            .collect(),
        runtime: r.runtime.map(|t| runtime(names, t)).unwrap_or_default(),
        env: r
            .env
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
        secret: r
            .secret
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
        uploads: r
            .upload
            .map(|p| (p.to_owned(), content))
            .into_iter()
            .collect(),
        gpu_count: r.gpu,
        timeout: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explore_generation_is_deterministic() {
        assert_eq!(generate(7, 50), generate(7, 50));
        assert_ne!(generate(7, 50), generate(8, 50));
    }

    #[test]
    fn explore_v2_generation_is_deterministic_and_keeps_the_v1_mix_apart() {
        assert_eq!(
            generate_for(7, 50, true, true),
            generate_for(7, 50, true, true)
        );
        assert_ne!(
            generate_for(7, 50, false, true),
            generate_for(8, 50, false, true)
        );
        // Without v1, every operation is one a node of v2 alone serves.
        assert!(
            generate_for(3, 200, false, true)
                .iter()
                .all(|op| matches!(op, Op::V2(_) | Op::Stop(_) | Op::Delete(_) | Op::Wait))
        );
        // The v1 mix alone is unchanged.
        assert_eq!(generate_for(5, 50, true, false), generate(5, 50));
    }
}
