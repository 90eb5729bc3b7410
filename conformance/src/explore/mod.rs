//! `joblet-conformance explore`: random sequences of operations against a
//! target, every answer judged by an executable model of the documented
//! behaviours ([`model`]), the first disagreement shrunk to the shortest
//! sequence that still disagrees.
//!
//! [`ops`] makes operations from a seed; [`sequence`] resolves each into a
//! concrete [`call::Call`] (jobs named by creation order, networks and
//! volumes under the sequence's prefix), makes it ([`exec`]), asks the
//! model ([`model`], with its stateless rules in [`checks`]) and removes
//! what the sequence created; [`driver`] runs many sequences, in parallel,
//! collects the coverage of behaviour IDs and of (call, job state) pairs,
//! and shrinks and reports a finding, optionally as a transcript that
//! `joblet-conformance replay` runs. Workflows have their operations in
//! [`workflow`], their graphs and YAML in [`wfshape`], their calls and
//! answers in [`wfcall`], made by [`wfexec`], and their model in
//! [`wfmodel`]. The contracts the target serves shape the operations and
//! the model: [`mix`] makes the operations, [`contract`] and [`timeout`]
//! judge the v2 answers, jobs run and are read through the v2 messages
//! too ([`wire2`], what only they show of the node in [`facts`]).
//! [`wfmodel`]. The v2-only calls (job metrics and telematics, runtime YAML
//! and builds) have their operations in [`v2ops`], their calls and answers
//! in [`v2call`], made by [`v2exec`], and their model in [`v2model`]
//! (over [`v2state`]), [`v2yaml`] and [`v2build`].

pub mod admin;
pub mod admin_model;
pub mod call;
pub mod checks;
pub mod clock;
pub mod contract;
pub mod driver;
pub mod exec;
pub mod facts;
pub mod identity;
pub mod mix;
pub mod model;
pub mod ops;
pub mod sequence;
pub mod timeout;
pub mod v2build;
pub mod v2call;
pub mod v2exec;
pub mod v2model;
pub mod v2ops;
pub mod v2state;
pub mod v2yaml;
pub mod wfcall;
pub mod wfexec;
pub mod wfmodel;
pub mod wfshape;
pub mod wire2;
pub mod workflow;

pub use driver::{ExploreConfig, ExploreResult, Finding, explore};
