//! Replay: the calls of recorded transcripts (`joblet-mock --record`,
//! `joblet-conformance record`) played against any endpoint, each answer
//! compared with the recorded one. A contract test from real traffic, in both
//! directions: record a client against the mock and replay against a node
//! (does the node do what the client's tests assumed?), or record against a
//! node and replay against the mock (has the mock drifted?).
//!
//! # How calls are played
//!
//! - **Order and overlap.** Calls start in the recorded order. A call waits
//!   for every call that had *ended* before it started in the recording; calls
//!   that overlapped there (a log stream read while the job is stopped, three
//!   readers at once) overlap in the replay too. `--pace recorded` also keeps
//!   the recorded gaps.
//! - **Sessions.** Each recorded session (`x-joblet-mock-session`) becomes a
//!   session of the replay's own, `rp<run id>-<n>`, so a mock keeps them apart;
//!   a real node ignores the header and the ID map keeps the calls right.
//! - **IDs and names** map from recorded to replayed (module `ids`).
//! - **Eventually.** A read (GetJobStatus, ListJobs, GetJobLogs, ... : the
//!   calls a viewer may make) whose answer differs is repeated until it
//!   matches, or matches a *later* recorded answer to the same request (the
//!   target is ahead of the recording), or its settle time runs out: twice the
//!   recorded time since the session's last change, plus 300 ms, at most
//!   `--settle` (30 s). A change refused with FAILED_PRECONDITION where the
//!   recording succeeded (the job is not finished yet) is retried the same
//!   way; it changed nothing.
//! - **Answers** are compared by [`rules`] (module `compare`): codes, status strings,
//!   messages and log bytes exactly, UUIDs through the map, times by shape,
//!   monitoring figures by type and range; a rule file relaxes any field.
//!
//! Every call is one [`Outcome`](crate::Outcome) of the usual reports (human, JSON, JUnit),
//! named `replay.<transcript>.<seq>_<method>`: Pass (same answer), Fail (the
//! differences, each with the path, the rule, what was expected and what came
//! back), Skip (a call that cannot be replayed here: DeleteAllJobs without
//! `--allow-delete-all`, a role without an identity) or Error (no answer).
//! Whatever the replay created and did not remove itself is removed at the
//! end, as the conformance cases do.
//!
//! # Modules
//!
//! `transcript` reads a transcript, `config` says how to replay, `plan` puts
//! the calls in order (sessions, fresh names, settle times), `run` drives the
//! replay and the cleanup, `one` replays one call until it settles, `shared`
//! holds what the calls share, `answer` puts answers in the compared form,
//! `call` sends one raw gRPC call, `compare` compares answers under
//! [`rules`] through the ID map of `ids`.

mod answer;
pub(crate) mod compare;
mod config;
pub(crate) mod ids;
mod one;
mod plan;
pub mod rules;
mod run;
mod shared;
mod transcript;

pub use config::{CALL_SLACK, Pace, ReplayConfig, SETTLE_MIN};
pub use run::{difference_lines, replay};
pub use transcript::Transcript;
