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
//! SHOULD), whether it changes state, what it needs (a viewer identity, an
//! opt-in), and an async function over a [`ctx::Ctx`]. The catalogue
//! ([`cases::catalogue`]) is one static list. The [`runner`] selects cases
//! (globs on names or IDs, `--read-only`, `--rerun-failed`), runs them in
//! parallel under per-case deadlines, and, whatever the verdict, removes what
//! each case created through its [`cleanup::Tracker`] (everything carries the
//! run prefix `cf-<run id>-`; nothing else is ever stopped, deleted or
//! removed). Verdicts are Pass, Fail (with the call, what was expected and
//! what came back: [`check::Failure`]), Skip (with the reason) or Error
//! (harness or connection problem). [`report`] writes the human summary, JSON
//! (`schema/report.schema.json`) and JUnit. Cases speak only the five Joblet
//! services through [`joblet_testkit::Target`], so they run the same against
//! a node as against [`embedded`], the in-process mock used when no target is
//! given. [`mutants`] runs the catalogue against every mutant of the mock, the
//! proof that the suite can fail.
//!
//! # Example
//!
//! ```no_run
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
pub mod conn;
pub mod ctx;
pub mod embedded;
pub mod mutants;
pub mod proxy;
pub mod replay;
pub mod report;
pub mod runner;

pub use case::{Case, Effect, Level, Need};
pub use ctx::{Options, Targets};
pub use joblet_testkit::Target;
pub use runner::{ErrorKind, Outcome, RunConfig, RunResult, Selection, State};
