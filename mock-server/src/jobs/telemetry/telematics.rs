//! StreamJobTelematics and GetJobTelematics (JOB-TELEM-1..4).
//!
//! A job's telematics are the exec event of its own command (pid 1, at the
//! moment it started running) followed by the events its simulated
//! processes reported (see `observe`), in timestamp order. The simulator has
//! no network and maps no memory, so there are `exec` and `file` events only:
//! nothing honestly maps to `connect`, `accept`, `socket_data`, `mmap` or
//! `mprotect`.

use std::collections::VecDeque;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use joblet_testkit::pb::union as pb;
use pb::telematics_event::Data;

use super::target::{Range, Target, end_of_stream, find, find_followed, limit};
use crate::behaviour::{Mutant, Quirk};
use crate::error::Result;
use crate::job_telemetry::{Event, EventKind, Progress, Watch};
use crate::session::Shared;
use crate::sim::FileOperation;
use crate::state::JobSpec;

/// The event types of the wire, in the order of the `data` oneof.
pub const TYPES: [&str; 7] = [
    "exec",
    "connect",
    "accept",
    "file",
    "mmap",
    "mprotect",
    "socket_data",
];

/// Accepted in a filter and matching nothing (JOB-TELEM-2).
const METRICS: &str = "metrics";

/// A `types` filter (JOB-TELEM-2): exact, case-sensitive type names; none,
/// or only unknown ones, keeps all seven; `metrics` is known and matches
/// nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Types(u8);

impl Types {
    /// Every type.
    pub const ALL: Self = Self((1 << TYPES.len()) - 1);

    /// The filter of a request's `types`.
    pub fn parse(types: &[String]) -> Self {
        let mut known = false;
        let mut bits = 0u8;
        for t in types {
            if let Some(i) = TYPES.iter().position(|k| k == t) {
                bits |= 1 << i;
                known = true;
            } else if t == METRICS {
                known = true;
            }
        }
        if known { Self(bits) } else { Self::ALL }
    }

    /// Whether events of type `name` are kept.
    pub fn keeps(self, name: &str) -> bool {
        TYPES
            .iter()
            .position(|k| *k == name)
            .is_some_and(|i| self.0 & (1 << i) != 0)
    }
}

/// Open flags a file event reports (Linux `O_*` values).
mod flags {
    const O_WRONLY: u32 = 0o1;
    const O_CREAT: u32 = 0o100;
    const O_TRUNC: u32 = 0o1000;
    const O_APPEND: u32 = 0o2000;
    pub(super) const CREATE: u32 = O_WRONLY | O_CREAT;
    pub(super) const WRITE: u32 = O_WRONLY | O_CREAT | O_TRUNC;
    pub(super) const APPEND: u32 = O_WRONLY | O_CREAT | O_APPEND;
}

/// The work dir a job's relative program paths start from (the simulator's
/// default when the request sets none).
fn work_dir(spec: &JobSpec) -> &str {
    if spec.work_dir.is_empty() {
        "/work"
    } else {
        &spec.work_dir
    }
}

/// Turns a job's records into wire events.
#[derive(Debug, Clone)]
struct Render {
    job_uuid: String,
    spec: Arc<JobSpec>,
    /// QUIRK-18: as a v5.6 node sends them, with exec.exit_code and
    /// file.flags unset.
    sparse: bool,
}

impl Render {
    fn event(&self, timestamp: i64, name: &str, data: Data) -> pb::TelematicsEvent {
        pb::TelematicsEvent {
            timestamp,
            job_uuid: self.job_uuid.clone(),
            r#type: name.to_owned(),
            data: Some(data),
        }
    }

    /// The exec event of the job's own command, if it ran: its exit code
    /// once it has ended, 0 while it runs.
    fn own(&self, progress: &Progress) -> Option<pb::TelematicsEvent> {
        let ran_ms = progress.ran_ms?;
        let exit_code = if progress.ended() && !self.sparse {
            progress.exit_code
        } else {
            0
        };
        let spec = &self.spec;
        Some(self.event(
            ran_ms.saturating_mul(1_000_000),
            "exec",
            Data::Exec(pb::TelematicsExecData {
                pid: 1,
                ppid: 0,
                binary: crate::sim::program_binary(&spec.command, work_dir(spec)),
                args: spec.args.clone(),
                exit_code,
            }),
        ))
    }

    /// A recorded event.
    fn recorded(&self, e: Event) -> pb::TelematicsEvent {
        match e.kind {
            EventKind::Exec {
                pid,
                ppid,
                binary,
                args,
                exit_code,
            } => self.event(
                e.timestamp_ns,
                "exec",
                Data::Exec(pb::TelematicsExecData {
                    pid,
                    ppid,
                    binary,
                    args,
                    exit_code: if self.sparse { 0 } else { exit_code },
                }),
            ),
            EventKind::File {
                pid,
                path,
                operation,
                bytes,
            } => {
                let (operation, flags) = match operation {
                    FileOperation::Create => ("create", flags::CREATE),
                    FileOperation::Write => ("write", flags::WRITE),
                    FileOperation::Append => ("write", flags::APPEND),
                };
                self.event(
                    e.timestamp_ns,
                    "file",
                    Data::File(pb::TelematicsFileData {
                        pid,
                        path,
                        operation: operation.to_owned(),
                        bytes: i64::try_from(bytes).unwrap_or(i64::MAX),
                        flags: if self.sparse { 0 } else { flags },
                    }),
                )
            }
        }
    }
}

/// How a history is cut: the whole answer at `max` events, or (QUIRK-19)
/// each type at `max` events.
#[derive(Debug, Clone, Copy)]
struct Cut {
    max: usize,
    per_type: bool,
}

/// The events of `target` held now, kept by `types`, in `range`, cut at
/// `cut`, oldest first.
fn history(
    shared: &Shared,
    target: &Target,
    types: Types,
    range: Range,
    cut: Cut,
) -> Vec<pb::TelematicsEvent> {
    let render = Render {
        job_uuid: target.id.clone(),
        spec: Arc::clone(&target.spec),
        sparse: shared.quirk(Quirk::SparseHistory),
    };
    let (progress, events, _) = target.telemetry.read(0, usize::MAX);
    let kept = render
        .own(&progress)
        .into_iter()
        .chain(events.into_iter().map(|e| render.recorded(e)))
        .filter(|e| types.keeps(&e.r#type) && range.contains(e.timestamp));
    if !cut.per_type {
        return kept.take(cut.max).collect();
    }
    let mut counts = [0usize; TYPES.len()];
    kept.filter(|e| {
        let i = TYPES.iter().position(|t| *t == e.r#type).unwrap_or(0);
        counts[i] += 1;
        counts[i] <= cut.max
    })
    .collect()
}

/// The types filter of a request (JOB-TELEM-2), or every type under its mutant.
fn filter(shared: &Shared, types: &[String]) -> Types {
    if shared.mutant(Mutant::TelemTypeFilterOff) {
        Types::ALL
    } else {
        Types::parse(types)
    }
}

/// JOB-TELEM-1 mutant: the type in upper case (applied last, after the filter).
fn mutated(shared: &Shared) -> impl Fn(pb::TelematicsEvent) -> pb::TelematicsEvent + use<> {
    let upper = shared.mutant(Mutant::TelemTypeUppercase);
    move |mut e| {
        if upper {
            e.r#type = e.r#type.to_uppercase();
        }
        e
    }
}

/// GetJobTelematics (JOB-TELEM-4): the history only, kept by `types`, in the
/// time range, the first `limit` of the whole answer; an unknown job has none.
pub fn get_telematics(
    shared: &Shared,
    req: &pb::GetJobTelematicsRequest,
) -> Result<impl Stream<Item = pb::TelematicsEvent> + Send + 'static + use<>> {
    let cut = Cut {
        max: limit(req.limit)?,
        // QUIRK-19 and the JOB-TELEM-4 mutant: the limit applies per type.
        per_type: shared.quirk(Quirk::TelematicsLimitPerType)
            || shared.mutant(Mutant::TelemLimitPerType),
    };
    let range = Range::new(req.start_time, req.end_time);
    let types = filter(shared, &req.types);
    let events = match find(shared, &req.job_uuid)? {
        Some(target) => history(shared, &target, types, range, cut),
        None => Vec::new(),
    };
    Ok(futures::stream::iter(events).map(mutated(shared)))
}

/// StreamJobTelematics (JOB-TELEM-3): the history, then each event as it
/// happens until the job ends, kept by `types`; only the history for a job
/// that had ended.
pub fn stream_telematics(
    shared: &Arc<Shared>,
    job_uuid: &str,
    types: &[String],
) -> Result<impl Stream<Item = pb::TelematicsEvent> + Send + 'static + use<>> {
    use futures::future::Either;
    let mutated = mutated(shared);
    let Some(target) = find_followed(shared, job_uuid, Mutant::TelemUnknownEmpty)? else {
        return Ok(Either::Left(Either::Left(futures::stream::empty())));
    };
    let types = filter(shared, types);
    if target.ended {
        let all = history(
            shared,
            &target,
            types,
            Range::ALL,
            Cut {
                max: usize::MAX,
                per_type: false,
            },
        );
        // QUIRK-16: a CANCELED job's stream does not end.
        let shared = Arc::clone(shared);
        let id = target.id.clone();
        let hang = futures::stream::once(async move { end_of_stream(&shared, &id).await })
            .filter_map(|()| std::future::ready(None));
        let all = futures::stream::iter(all).chain(hang).map(mutated);
        return Ok(Either::Left(Either::Right(all)));
    }
    let live = Live {
        watch: target.telemetry.watch(),
        shared: Arc::clone(shared),
        render: Render {
            job_uuid: target.id,
            spec: target.spec,
            // QUIRK-18: the history part leaves exec.exit_code unset, and
            // live events carry 0 anyway; file.flags are unset in both.
            sparse: shared.quirk(Quirk::SparseHistory),
        },
        types,
        position: 0,
        own_sent: false,
        pending: VecDeque::new(),
    };
    Ok(Either::Right(
        futures::stream::unfold(live, |mut live| async move {
            let event = live.next().await?;
            Some((event, live))
        })
        .map(mutated),
    ))
}

/// Events read from a job's history at a time.
const BATCH: usize = 256;

/// A follower of a job's events.
struct Live {
    shared: Arc<Shared>,
    watch: Watch,
    render: Render,
    types: Types,
    /// The next recorded event to read.
    position: u64,
    /// The exec of the job's own command was sent (or filtered out).
    own_sent: bool,
    pending: VecDeque<pb::TelematicsEvent>,
}

impl Live {
    /// The next event kept by the filter; `None` once the job has ended and
    /// every event was sent.
    async fn next(&mut self) -> Option<pb::TelematicsEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            let (progress, events, next) = self.watch.telemetry().read(self.position, BATCH);
            let read_any = !events.is_empty();
            self.position = next;
            if !self.own_sent
                && let Some(own) = self.render.own(&progress)
            {
                self.own_sent = true;
                self.pending
                    .extend(Some(own).filter(|e| self.types.keeps(&e.r#type)));
            }
            let kept = events
                .into_iter()
                .map(|e| self.render.recorded(e))
                .filter(|e| self.types.keeps(&e.r#type));
            self.pending.extend(kept);
            if !self.pending.is_empty() || read_any {
                continue;
            }
            // Every event is recorded before the job's end: none is left.
            if progress.ended() {
                end_of_stream(&self.shared, &self.render.job_uuid).await;
                return None;
            }
            self.watch.changed(progress.version).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(t: &[&str]) -> Types {
        Types::parse(&t.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn the_types_filter_telem_2() {
        assert_eq!(types(&[]), Types::ALL);
        assert_eq!(types(&["bogus", "EXEC"]), Types::ALL);
        let exec = types(&["exec", "bogus"]);
        assert!(exec.keeps("exec") && !exec.keeps("file"));
        let none = types(&["metrics"]);
        assert!(TYPES.iter().all(|t| !none.keeps(t)));
        assert!(!types(&["metrics", "bogus"]).keeps("exec"));
        let both = types(&["file", "socket_data"]);
        assert!(both.keeps("file") && both.keeps("socket_data") && !both.keeps("exec"));
        assert!(!Types::ALL.keeps("metrics"));
    }

    #[test]
    fn file_events_carry_operation_and_open_flags() {
        let render = Render {
            job_uuid: "u".into(),
            spec: Arc::default(),
            sparse: false,
        };
        let event = |operation| Event {
            timestamp_ns: 5,
            kind: EventKind::File {
                pid: 2,
                path: "/work/f".into(),
                operation,
                bytes: 9,
            },
        };
        let data = |e: pb::TelematicsEvent| match e.data {
            Some(Data::File(f)) => (e.r#type, f.operation, f.flags, f.bytes),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            data(render.recorded(event(FileOperation::Write))),
            ("file".into(), "write".into(), 0o1101, 9)
        );
        assert_eq!(
            data(render.recorded(event(FileOperation::Append))).2,
            0o2101
        );
        assert_eq!(
            data(render.recorded(event(FileOperation::Create))).1,
            "create"
        );
    }

    #[test]
    fn the_own_exec_follows_the_spec() {
        let spec = JobSpec {
            command: "./run.sh".into(),
            args: vec!["a".into()],
            ..JobSpec::default()
        };
        let render = Render {
            job_uuid: "u".into(),
            spec: Arc::new(spec),
            sparse: false,
        };
        assert!(render.own(&Progress::default()).is_none());
        let mut p = Progress {
            ran_ms: Some(2),
            exit_code: 7,
            ..Progress::default()
        };
        let exec = |e: pb::TelematicsEvent| match e.data {
            Some(Data::Exec(x)) => (e.timestamp, x.pid, x.ppid, x.binary, x.args, x.exit_code),
            other => panic!("{other:?}"),
        };
        let running = exec(render.own(&p).unwrap());
        assert_eq!(
            running,
            (2_000_000, 1, 0, "/work/run.sh".into(), vec!["a".into()], 0)
        );
        p.ended_ms = Some(3);
        assert_eq!(exec(render.own(&p).unwrap()).5, 7);
    }
}
