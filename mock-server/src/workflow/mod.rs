//! Workflow YAML: the parsed model, the parser and the up-front validation
//! (WF-YAML-1, WF-RUN-2). Pure functions: no gRPC, no job engine, no state.
//!
//! - [`parse`] turns the `yamlContent` of a `RunWorkflowRequest` into a
//!   [`WorkflowDoc`], keeping the job order as written. Unknown keys are errors
//!   naming the key and the job; [`Forms`] restricts the accepted forms for the
//!   `server-v1` profile (QUIRK-9).
//! - [`validate`] checks a parsed workflow against the node (a [`NodeView`]) and
//!   the paths of the request's `workflowFiles` before anything starts
//!   (`documented` profile); [`validate_server_v1`] runs only the checks the real
//!   server runs, in its order (server-facts §6.3).
//! - [`topological_order`] gives the jobs dependencies first; [`default_name`]
//!   the workflow's name when the YAML has none (server-facts §6.5).
//!
//! Every [`WorkflowError`] message names the job (or the top level) and the
//! problem; it converts into [`crate::error::Error`] as `INVALID_ARGUMENT`.
//!
//! # Accepted YAML
//!
//! ```yaml
//! version: "3.0"                  # accepted, unused
//! name: etl                       # optional; see default_name
//! description: nightly load       # optional
//! environment: { STAGE: prod }    # every job gets these ...
//! secret_environment: { TOKEN: x } # ... and these
//! jobs:                           # a map (name → job, order kept) ...
//!   extract:
//!     command: sh
//!     args: ["-c", "cat data/in.csv"]
//!     runtime: python-3.11        # optional
//!     network: bridge             # optional
//!     volumes: [cache]            # optional
//!     uploads: { files: [data/in.csv] }   # each must be in workflowFiles
//!     environment: { A: "1" }
//!     secret_environment: { B: "2" }
//!     resources: { max_cpu: 50, max_memory: 512, max_io_bps: 0,
//!                  cpu_cores: "0-1", gpu_count: 0, gpu_memory_mb: 0 }
//!   load:
//!     command: echo
//!     requires: [ { extract: COMPLETED } ]   # or depends_on: [extract]
//! # ... or a list of jobs, each with a `name` key:
//! # jobs:
//! #   - name: extract
//! #     command: echo
//! ```
//!
//! Scalars are read as text where the server expects text (`PORT: 8080` is
//! `"8080"`, `args: [-n, 5]` is `["-n", "5"]`); resource numbers are whole,
//! non-negative numbers given as YAML integers or digit strings (`512` or
//! `"512"`; `max_memory` is in MB, no unit suffixes). Anchors, aliases and `<<`
//! merge keys work; merged keys never override explicit ones.

pub(crate) mod check;
pub(crate) mod doc;
pub mod engine;
mod mask;
pub(crate) mod table;
mod yaml;

pub use check::{validate, validate_server_v1};
pub use doc::{
    Forms, NodeView, Requirement, ResourceKind, Resources, Scope, WorkflowDoc, WorkflowError,
    WorkflowJobDef,
};
pub use yaml::parse;
