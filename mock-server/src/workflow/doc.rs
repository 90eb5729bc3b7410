//! A workflow document: its jobs, requirements, resources and the errors
//! that refuse it (WF-YAML-*), with the node facts validation reads.

use std::collections::BTreeSet;
use std::fmt;

use crate::catalogue::{self, RuntimeRecord};

/// A parsed workflow (WF-YAML-1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkflowDoc {
    /// Top-level `name` as written (`None` when absent or null); see [`default_name`].
    pub name: Option<String>,
    /// Top-level `description`.
    pub description: Option<String>,
    /// Top-level `environment`, given to every job (a job's own value wins), in YAML order.
    pub environment: Vec<(String, String)>,
    /// Top-level `secret_environment`, given to every job, in YAML order.
    pub secret_environment: Vec<(String, String)>,
    /// The jobs, in the order written.
    pub jobs: Vec<WorkflowJobDef>,
}

/// One job of a workflow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkflowJobDef {
    /// The job's name: its key in the map form, its `name` in the list form.
    pub name: String,
    /// `command` ("" when absent; [`validate`] refuses that).
    pub command: String,
    /// `args`.
    pub args: Vec<String>,
    /// `runtime`, `None` when absent or blank.
    pub runtime: Option<String>,
    /// `network`, `None` when absent or blank (the engine's default applies).
    pub network: Option<String>,
    /// `volumes`.
    pub volumes: Vec<String>,
    /// `uploads.files`: paths that must be among the request's `workflowFiles`.
    pub uploads: Vec<String>,
    /// The job's own `environment`, in YAML order.
    pub environment: Vec<(String, String)>,
    /// The job's own `secret_environment`, in YAML order.
    pub secret_environment: Vec<(String, String)>,
    /// `resources` (zero / empty when not given, as in a `RunJobRequest`).
    pub resources: Resources,
    /// `requires` entries, then `depends_on` entries (as `COMPLETED`), in YAML order.
    pub requires: Vec<Requirement>,
}

/// A job's `resources`, typed as the `RunJobRequest` fields they become.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// `max_cpu`: percent of one core (100 per core).
    pub max_cpu: i32,
    /// `max_memory`: MB.
    pub max_memory: i32,
    /// `max_io_bps`: bytes per second.
    pub max_io_bps: i32,
    /// `cpu_cores`: `N`, `a-b` or `a,b,c` ("" for none); checked when the job starts.
    pub cpu_cores: String,
    /// `gpu_count`.
    pub gpu_count: i32,
    /// `gpu_memory_mb`: per GPU.
    pub gpu_memory_mb: i32,
}

/// "Start this job once `job` has status `status`".
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Requirement {
    /// The job depended on.
    pub job: String,
    /// The status it must reach, compared exactly (see [`JOB_STATUSES`]).
    pub status: String,
}

impl WorkflowJobDef {
    /// The names of the jobs this one requires, in order, without repeats
    /// (`dependencies` of a WorkflowJob).
    pub fn dependencies(&self) -> Vec<&str> {
        let mut seen = BTreeSet::new();
        self.requires
            .iter()
            .filter(|r| seen.insert(r.job.as_str()))
            .map(|r| r.job.as_str())
            .collect()
    }
}

/// Which YAML forms [`parse`] accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Forms {
    /// `documented`: `jobs` as a map or a list, `requires` and `depends_on`.
    #[default]
    All,
    /// `server-v1` (QUIRK-9): only `jobs` as a map and dependencies as `requires`;
    /// the list form and `depends_on` are errors.
    MapWithRequiresOnly,
}

/// What [`validate`] needs to know about the node.
///
/// Implementors decide what exists: built-in networks (`bridge`, `isolated`,
/// `none`) should count as existing, and runtimes should be resolved as RunJob
/// resolves them ([`catalogue::resolve`]: `python:3.11-ml` is `python-3.11-ml`).
pub trait NodeView {
    /// Whether volume `name` exists.
    fn has_volume(&self, name: &str) -> bool;
    /// Whether network `name` exists (built-ins included).
    fn has_network(&self, name: &str) -> bool;
    /// Whether runtime `spec` is installed.
    fn has_runtime(&self, spec: &str) -> bool;
}

/// A [`NodeView`] over copies of the node's resource names, so validation can
/// run without holding the state lock.
#[derive(Debug, Clone, Default)]
pub struct NodeSnapshot {
    /// Existing volume names.
    pub volumes: BTreeSet<String>,
    /// Existing network names, built-ins included.
    pub networks: BTreeSet<String>,
    /// Installed runtimes (resolved with [`catalogue::resolve`]).
    pub runtimes: Vec<RuntimeRecord>,
}

impl NodeView for NodeSnapshot {
    fn has_volume(&self, name: &str) -> bool {
        self.volumes.contains(name)
    }

    fn has_network(&self, name: &str) -> bool {
        self.networks.contains(name)
    }

    fn has_runtime(&self, spec: &str) -> bool {
        catalogue::resolve(&self.runtimes, spec).is_some()
    }
}

/// Where in the workflow a problem is: the top level or one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The top level of the YAML (global `environment`, `secret_environment`).
    Workflow,
    /// The named job.
    Job(String),
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Workflow => f.write_str("workflow top level"),
            Self::Job(name) => write!(f, "job '{name}'"),
        }
    }
}

/// A node resource a job refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    /// A volume (`volumes`).
    Volume,
    /// A network (`network`).
    Network,
    /// A runtime (`runtime`).
    Runtime,
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Volume => "volume",
            Self::Network => "network",
            Self::Runtime => "runtime",
        })
    }
}

/// Why a workflow is refused. Each message names the job (or the top level)
/// and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WorkflowError {
    /// Not YAML at all (or a duplicate key, which the YAML parser refuses).
    #[error("invalid workflow YAML: {message}")]
    Syntax {
        /// The parser's message (with the location when it has one).
        message: String,
        /// 1-based line, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
    },
    /// A key the schema does not have.
    #[error("{at}: unknown key '{key}' (expected one of: {expected}){hint}")]
    UnknownKey {
        /// Where: `top level`, `job 'x'`, `job 'x' resources`...
        at: String,
        /// The key as written.
        key: String,
        /// The keys accepted there.
        expected: String,
        /// A suggestion (starts with `; `), or "".
        hint: String,
    },
    /// A value of the wrong shape or type (a string where a list is expected...).
    #[error("{at}: {message}")]
    Shape {
        /// Where.
        at: String,
        /// What is wrong.
        message: String,
    },
    /// A form the selected [`Forms`] does not accept.
    #[error("{at}: {message}")]
    UnsupportedForm {
        /// Where.
        at: String,
        /// What to write instead.
        message: String,
    },
    /// No jobs at all.
    #[error("workflow has no jobs (add a `jobs` map of name → job)")]
    NoJobs,
    /// Two jobs with one name.
    #[error("duplicate job name '{job}' (job names must be unique)")]
    DuplicateJob {
        /// The name.
        job: String,
    },
    /// A job lists a requirement on the same job twice.
    #[error("job '{job}': requirement on job '{dependency}' is listed more than once")]
    DuplicateRequirement {
        /// The job.
        job: String,
        /// The job required twice.
        dependency: String,
    },
    /// A job without a command.
    #[error("job '{job}': command is required")]
    EmptyCommand {
        /// The job.
        job: String,
    },
    /// A requirement on a job the workflow does not have.
    #[error("job '{job}' depends on non-existent job '{dependency}'")]
    UnknownDependency {
        /// The job.
        job: String,
        /// The missing job.
        dependency: String,
    },
    /// A requirement status no job ever has, so it could never hold.
    #[error(
        "job '{job}': requirement on job '{dependency}' has status {status:?}, which no job \
         ever has (statuses are upper case and compared exactly: COMPLETED, FAILED, STOPPED \
         or CANCELED){hint}"
    )]
    BadStatus {
        /// The job.
        job: String,
        /// The job required.
        dependency: String,
        /// The status as written.
        status: String,
        /// A suggestion (starts with `; `), or "".
        hint: String,
    },
    /// Requirements that form a cycle.
    #[error(
        "circular dependency detected: {} (each job requires the next)",
        cycle_text(jobs)
    )]
    Cycle {
        /// The jobs on the cycle in requirement order, starting with the
        /// earliest-written one; the first requires the second, ..., the last
        /// requires the first.
        jobs: Vec<String>,
    },
    /// A volume, network or runtime the node does not have.
    #[error("job '{job}': {kind} '{name}' does not exist on the node (missing {kind}s: [{name}])")]
    MissingResource {
        /// The job.
        job: String,
        /// Volume, network or runtime.
        kind: ResourceKind,
        /// The name as written.
        name: String,
    },
    /// An invalid environment variable name or value.
    #[error("{scope}: {reason}")]
    BadEnv {
        /// Where.
        scope: Scope,
        /// The field and problem (`environment: invalid variable name ...`).
        reason: String,
    },
    /// A variable in both `environment` and `secret_environment`.
    #[error(
        "{scope}: environment variable conflict: '{name}' is defined in both environment and \
         secret_environment"
    )]
    EnvConflict {
        /// Where (a job sees the top-level maps merged with its own).
        scope: Scope,
        /// The variable.
        name: String,
    },
    /// An upload path that is not usable (absolute, `..`).
    #[error("job '{job}': uploads.files: {reason}")]
    BadUploadPath {
        /// The job.
        job: String,
        /// What is wrong.
        reason: String,
    },
    /// An upload the request did not send in `workflowFiles`.
    #[error(
        "job '{job}': upload '{path}' is not among the workflowFiles sent with the request \
         (file {path} not found in uploaded files)"
    )]
    MissingUpload {
        /// The job.
        job: String,
        /// The path as written in the YAML.
        path: String,
    },
}

fn cycle_text(jobs: &[String]) -> String {
    let mut parts: Vec<String> = jobs.iter().map(|j| format!("'{j}'")).collect();
    if let Some(first) = parts.first().cloned() {
        parts.push(first);
    }
    parts.join(" -> ")
}

impl WorkflowError {
    /// The `RunWorkflowRequest` field the error is about: `workflowFiles` for
    /// uploads missing from the request, `yamlContent` otherwise.
    pub fn field(&self) -> &'static str {
        match self {
            Self::MissingUpload { .. } => "workflowFiles",
            _ => "yamlContent",
        }
    }
}

impl From<WorkflowError> for crate::error::Error {
    /// `INVALID_ARGUMENT` naming [`WorkflowError::field`] (WF-RUN-2).
    fn from(e: WorkflowError) -> Self {
        crate::error::Error::invalid(e.field(), e.to_string())
    }
}

/// The workflow's name as the server reports it (server-facts §6.5): the YAML
/// `name` if not blank, else `workflow-<job>` (1 job), `workflow-<a>-<b>[-<c>]`
/// (2 or 3 jobs), `workflow-<a>-<b>-and-<n>-more` (4 or more; `n` = jobs − 2),
/// and `client-uploaded.yaml` for a workflow without jobs. Jobs in YAML order.
pub fn default_name(doc: &WorkflowDoc) -> String {
    if let Some(name) = doc.name.as_deref().filter(|n| !n.trim().is_empty()) {
        return name.to_owned();
    }
    let names: Vec<&str> = doc.jobs.iter().map(|j| j.name.as_str()).collect();
    match names.len() {
        0 => "client-uploaded.yaml".to_owned(),
        1..=3 => format!("workflow-{}", names.join("-")),
        n => format!("workflow-{}-{}-and-{}-more", names[0], names[1], n - 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::check::topological_order;
    use crate::workflow::{parse, validate, validate_server_v1};

    const ETL: &str = include_str!("../../../fixtures/workflows/etl-pipeline.yaml");
    const DIAMOND: &str = include_str!("../../../fixtures/workflows/diamond.yaml");
    const FAILING: &str = include_str!("../../../fixtures/workflows/failing-branch.yaml");

    fn node() -> NodeSnapshot {
        NodeSnapshot {
            volumes: BTreeSet::new(),
            networks: ["bridge", "isolated", "none"].map(String::from).into(),
            runtimes: catalogue::builtin(),
        }
    }

    fn names(doc: &WorkflowDoc) -> Vec<&str> {
        doc.jobs.iter().map(|j| j.name.as_str()).collect()
    }

    #[test]
    fn etl_fixture_parses_and_validates_wf_yaml_1() {
        for form in [Forms::All, Forms::MapWithRequiresOnly] {
            let doc = parse(ETL, form).unwrap();
            assert_eq!(names(&doc), ["extract", "transform", "load"]);
            assert_eq!(doc.name.as_deref(), Some("etl-pipeline"));
            let files = BTreeSet::from(["data/orders.csv".to_owned()]);
            validate(&doc, &node(), &files).unwrap();
            validate_server_v1(&doc, &node()).unwrap();
            assert_eq!(doc.jobs[1].dependencies(), ["extract"]);
            assert_eq!(doc.jobs[0].resources.max_memory, 256);
            // Without the uploaded file the documented profile refuses it.
            let err = validate(&doc, &node(), &BTreeSet::new()).unwrap_err();
            assert!(
                matches!(&err, WorkflowError::MissingUpload { job, .. } if job == "extract"),
                "{err}"
            );
        }
    }

    #[test]
    fn diamond_fixture_parses_and_validates_wf_yaml_1() {
        let doc = parse(DIAMOND, Forms::All).unwrap();
        assert_eq!(names(&doc), ["prepare", "left", "right", "merge"]);
        assert_eq!(doc.jobs[3].dependencies(), ["left", "right"]);
        assert!(doc.jobs[3].requires.iter().all(|r| r.status == "COMPLETED"));
        validate(&doc, &node(), &BTreeSet::new()).unwrap();
        let order: Vec<&str> = topological_order(&doc)
            .unwrap()
            .iter()
            .map(|j| j.name.as_str())
            .collect();
        assert_eq!(order, ["prepare", "left", "right", "merge"]);
        // The list form with depends_on is not accepted by server-v1 (QUIRK-9).
        assert!(matches!(
            parse(DIAMOND, Forms::MapWithRequiresOnly),
            Err(WorkflowError::UnsupportedForm { .. })
        ));
    }

    #[test]
    fn failing_branch_fixture_parses_and_validates_wf_yaml_1() {
        for form in [Forms::All, Forms::MapWithRequiresOnly] {
            let doc = parse(FAILING, form).unwrap();
            validate(&doc, &node(), &BTreeSet::new()).unwrap();
            let flaky = &doc.jobs[0];
            assert_eq!(
                flaky.args.last().map(String::as_str),
                Some("echo connecting to the api; exit 1")
            );
            let statuses: Vec<(&str, &str)> = doc
                .jobs
                .iter()
                .flat_map(|j| {
                    j.requires
                        .iter()
                        .map(|r| (j.name.as_str(), r.status.as_str()))
                })
                .collect();
            assert_eq!(statuses, [("report", "COMPLETED"), ("alert", "FAILED")]);
        }
    }

    #[test]
    fn default_name_follows_the_server() {
        let mut doc = WorkflowDoc::default();
        assert_eq!(default_name(&doc), "client-uploaded.yaml");
        for (n, want) in [
            (1, "workflow-j0"),
            (2, "workflow-j0-j1"),
            (3, "workflow-j0-j1-j2"),
            (4, "workflow-j0-j1-and-2-more"),
            (7, "workflow-j0-j1-and-5-more"),
        ] {
            doc.jobs = (0..n)
                .map(|i| WorkflowJobDef {
                    name: format!("j{i}"),
                    ..Default::default()
                })
                .collect();
            assert_eq!(default_name(&doc), want);
        }
        doc.name = Some("  ".into());
        assert_eq!(default_name(&doc), "workflow-j0-j1-and-5-more");
        doc.name = Some("nightly".into());
        assert_eq!(default_name(&doc), "nightly");
        assert_eq!(
            default_name(&parse(DIAMOND, Forms::All).unwrap()),
            "diamond"
        );
    }

    #[test]
    fn errors_become_invalid_argument_naming_the_field_wf_run_2() {
        let e: crate::error::Error = WorkflowError::EmptyCommand { job: "a".into() }.into();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert_eq!(e.to_string(), "yamlContent: job 'a': command is required");
        let e: crate::error::Error = WorkflowError::MissingUpload {
            job: "a".into(),
            path: "x.csv".into(),
        }
        .into();
        assert!(
            e.to_string()
                .starts_with("workflowFiles: job 'a': upload 'x.csv'"),
            "{e}"
        );
    }

    #[test]
    fn cycle_message_closes_the_loop() {
        let e = WorkflowError::Cycle {
            jobs: vec!["a".into(), "b".into()],
        };
        assert_eq!(
            e.to_string(),
            "circular dependency detected: 'a' -> 'b' -> 'a' (each job requires the next)"
        );
    }
}
