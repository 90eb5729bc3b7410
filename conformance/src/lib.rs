//! # joblet-conformance
//!
//! Certifies that a Joblet v1 endpoint (a real node, or the mock) behaves as
//! the API documents: every behaviour of the project's catalogue
//! (`docs/behaviours.md`, IDs such as `JOB-STOP-3`) has named cases here that
//! check status codes, field values, stream contents and the state after each
//! call.
//!
//! # Architecture
//!
//! A [`case::Case`] is data: a stable snake_case name grouped by family
//! (`jobs.stop.finished_job_is_failed_precondition`), the behaviour IDs it
//! covers, the `server-v1` quirks that replace one of them, a level (MUST or
//! SHOULD), whether it changes state, what it needs ([`Need`]: a viewer
//! identity, an opt-in), and an async function over a [`ctx::Ctx`]. The
//! catalogue ([`cases::catalogue`]) is one static list. A run first finds
//! which wire contract the target speaks ([`joblet_testkit::detect`]: v1.0.6,
//! v2.5.9 or both; or `--contract`), reports it and certifies against it:
//! every case declares the contracts it holds in ([`case::Case::contracts`]), and a case
//! of the other contract alone is skipped (`not in contract v2.5.9`). The [`runner`] selects
//! cases (globs on names or IDs, `--read-only`, `--rerun-failed`), runs them in
//! parallel under per-case deadlines, and, whatever the verdict, removes what
//! each case created through its [`cleanup::Tracker`] (everything carries the
//! run prefix `cf-<run id>-`; nothing else is ever stopped, deleted or
//! removed). Verdicts ([`outcome`]) are Pass, Fail (with the call, what was
//! expected and what came back: [`check::Failure`]), Skip (with the reason) or
//! Error (harness or connection problem). [`report`] writes the human summary,
//! JSON (`schema/report.schema.json`) and JUnit. Cases speak only the five
//! Joblet services through [`joblet_testkit::Target`], so they run the same
//! against a node as against `embedded`, the in-process mock used when no
//! target is given; `mutants` runs the catalogue against every mutant of the
//! mock, the proof that the suite can fail. [`replay`] plays recorded
//! transcripts against any endpoint and compares every answer; [`proxy`]
//! records them in front of any endpoint. What describes Joblet (the role
//! table, the transcript format, test TLS, the session header) comes from the
//! contract crate `joblet-testkit`; the mock is used only to start an embedded
//! one, behind the default cargo feature `embedded` (without it, a run
//! without a target, `--mock-profile` and `mutants` are usage errors).
//!
//! Modules depend downwards only, without cycles: `glob`, `need`, [`status`]
//! and [`check`] at the bottom; then [`case`](mod@case) and [`cleanup`]; [`ctx`];
//! [`outcome`]; [`runner`], [`report`] and [`compat`]; the catalogue ([`cases`]),
//! [`replay`], [`proxy`], `embedded` and `mutants`; the binary's commands
//! ([`cli`]) on top. The binary `joblet-conformance` only parses flags and
//! calls [`cli::execute`].
//!
//! # Modules
//!
//! | module | what |
//! |---|---|
//! | [`case`](mod@case), `need` | what a case is, and what it needs from a run |
//! | [`cases`] | the catalogue, one module per family (`cases::jobs` split by group) |
//! | [`check`] | verdicts and the assertions cases make |
//! | [`ctx`] | what a case works with: clients, names, targets, options |
//! | [`cleanup`] | tracking and removing what a case created |
//! | [`status`] | job statuses as the contract spells them |
//! | [`runner`] | selecting and running cases |
//! | [`outcome`] | the verdict on each case or replayed call, and a run's result |
//! | [`report`] | human, JSON and JUnit reports |
//! | [`compat`] | the compatibility report: a client of one contract against a node of the other |
//! | [`replay`] | transcripts replayed and compared (plan, calls, answers, rules, IDs) |
//! | [`proxy`] | the recording proxy of `joblet-conformance record` |
//! | [`explore`] | random sequences judged by a model of the documented behaviours, shrunk findings |
//! | `embedded`, `mutants` | the in-process mock and the mutants run (feature `embedded`) |
//! | [`cli`] | the binary's flags and commands |
//!
//! # Example
//!
//! ```no_run
//! # #[cfg(feature = "embedded")]
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use joblet_conformance::{cases, embedded::Embedded, runner};
//!
//! let embedded = Embedded::start(joblet_mock::MockConfig::default()).await?;
//! let selection = runner::Selection { focus: vec!["jobs.stop.*".into()], ..Default::default() };
//! let cases = selection.apply(cases::catalogue());
//! let result = runner::run(&cases, runner::RunConfig::new(embedded.targets.clone())).await;
//! assert!(result.passed(), "{}", joblet_conformance::report::human(&result, false));
//! # Ok(()) }
//! ```

pub mod case;
pub mod cases;
pub mod check;
pub mod cleanup;
pub mod cli;
pub mod compat;
pub mod conn;
pub mod ctx;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod explore;
mod glob;
#[cfg(feature = "embedded")]
pub mod mutants;
mod need;
pub mod outcome;
pub mod proxy;
pub mod replay;
pub mod report;
pub mod runner;
pub mod status;

pub use case::{Case, Effect, Level, Need};
pub use ctx::{Options, Targets};
pub use joblet_testkit::Target;
pub use outcome::{ErrorKind, Outcome, RunResult, State};
pub use runner::{RunConfig, Selection};
