//! Up-front validation of a parsed workflow (WF-RUN-2) and its dependency graph.

use std::collections::{BTreeMap, BTreeSet};

use super::{NodeView, ResourceKind, Scope, WorkflowDoc, WorkflowError, WorkflowJobDef};
use crate::validate as fields;

/// The statuses a requirement may name: the terminal job statuses (ALL-1).
///
/// A requirement holds when the required job ends with exactly this status;
/// when it ends with another one, the dependent job is canceled (WF-EXEC-2).
/// `CANCELED` is useful too: a job canceled by such a cascade has it. Upper
/// case only, as the real server compares exactly: `completed` or `FINISHED`
/// could never hold, so [`validate`] refuses them.
pub const JOB_STATUSES: [&str; 4] = ["COMPLETED", "FAILED", "STOPPED", "CANCELED"];

/// Checks a parsed workflow before anything starts (`documented` profile, WF-RUN-2).
///
/// `files` holds the `path`s of the request's `workflowFiles`. In this order,
/// the first failure wins:
/// 1. at least one job; unique job names;
/// 2. every job has a non-blank `command`;
/// 3. every requirement names a job of the workflow, with a status of
///    [`JOB_STATUSES`];
/// 4. no cycle;
/// 5. every volume, then every network, then every runtime exists on `node`
///    (jobs in order);
/// 6. environment names and values (top level, then each job; `environment`
///    then `secret_environment`), and no variable in both a job's merged
///    environment (top level + its own) and its merged secret environment;
/// 7. every upload is a valid relative path found in `files` (compared after
///    normalisation, so `./data/in.csv` matches `data/in.csv`).
pub fn validate(
    doc: &WorkflowDoc,
    node: &dyn NodeView,
    files: &BTreeSet<String>,
) -> Result<(), WorkflowError> {
    if doc.jobs.is_empty() {
        return Err(WorkflowError::NoJobs);
    }
    let index = job_index(doc)?;
    for job in &doc.jobs {
        if job.command.trim().is_empty() {
            return Err(WorkflowError::EmptyCommand {
                job: job.name.clone(),
            });
        }
    }
    check_dependencies(doc, &index)?;
    for job in &doc.jobs {
        for r in &job.requires {
            if !JOB_STATUSES.contains(&r.status.as_str()) {
                return Err(WorkflowError::BadStatus {
                    job: job.name.clone(),
                    dependency: r.job.clone(),
                    status: r.status.clone(),
                    hint: status_hint(&r.status),
                });
            }
        }
    }
    check_cycles(doc, &index)?;
    check_volumes(doc, node)?;
    for job in &doc.jobs {
        if let Some(net) = &job.network
            && !node.has_network(net)
        {
            return Err(missing(job, ResourceKind::Network, net));
        }
    }
    check_runtimes(doc, node)?;
    check_environment(doc)?;

    let normalised: BTreeSet<String> = files
        .iter()
        .filter_map(|f| fields::upload_path(f).ok())
        .collect();
    for job in &doc.jobs {
        for path in &job.uploads {
            let clean = fields::upload_path(path).map_err(|e| WorkflowError::BadUploadPath {
                job: job.name.clone(),
                reason: reason_of(e),
            })?;
            if !files.contains(path) && !normalised.contains(&clean) {
                return Err(WorkflowError::MissingUpload {
                    job: job.name.clone(),
                    path: path.clone(),
                });
            }
        }
    }
    Ok(())
}

/// Runs only the checks the real server runs up front, in its order
/// (`server-v1` profile, server-facts §6.3): cycles, volumes, runtimes,
/// unknown dependencies, environment names, values and conflicts.
///
/// Networks, requirement statuses, empty commands and uploads are not checked
/// (the server fails such jobs when they start, or never satisfies the
/// requirement); a workflow without jobs is accepted. Duplicate job names
/// cannot occur in the map form (the YAML parser refuses duplicate keys) and are
/// still refused here.
pub fn validate_server_v1(doc: &WorkflowDoc, node: &dyn NodeView) -> Result<(), WorkflowError> {
    let index = job_index(doc)?;
    check_cycles(doc, &index)?;
    check_volumes(doc, node)?;
    check_runtimes(doc, node)?;
    check_dependencies(doc, &index)?;
    check_environment(doc)
}

/// The jobs, every one after the jobs it requires; among jobs that are ready
/// together, the earlier-written one first (so a workflow without
/// dependencies keeps its order).
///
/// Errors: duplicate job names, a requirement on an unknown job, a cycle.
#[cfg(test)]
pub fn topological_order(doc: &WorkflowDoc) -> Result<Vec<&WorkflowJobDef>, WorkflowError> {
    let index = job_index(doc)?;
    check_dependencies(doc, &index)?;
    let deps = edges(doc, &index);
    let mut waiting: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); doc.jobs.len()];
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            dependents[d].push(i);
        }
    }
    let mut ready: BTreeSet<usize> = (0..doc.jobs.len()).filter(|&i| waiting[i] == 0).collect();
    let mut order = Vec::with_capacity(doc.jobs.len());
    while let Some(i) = ready.pop_first() {
        order.push(&doc.jobs[i]);
        for &j in &dependents[i] {
            waiting[j] -= 1;
            if waiting[j] == 0 {
                ready.insert(j);
            }
        }
    }
    if order.len() < doc.jobs.len() {
        check_cycles(doc, &index)?;
    }
    Ok(order)
}

/// Job name → index; refuses duplicate names.
fn job_index(doc: &WorkflowDoc) -> Result<BTreeMap<&str, usize>, WorkflowError> {
    let mut index = BTreeMap::new();
    for (i, job) in doc.jobs.iter().enumerate() {
        if index.insert(job.name.as_str(), i).is_some() {
            return Err(WorkflowError::DuplicateJob {
                job: job.name.clone(),
            });
        }
    }
    Ok(index)
}

fn check_dependencies(
    doc: &WorkflowDoc,
    index: &BTreeMap<&str, usize>,
) -> Result<(), WorkflowError> {
    for job in &doc.jobs {
        for r in &job.requires {
            if !index.contains_key(r.job.as_str()) {
                return Err(WorkflowError::UnknownDependency {
                    job: job.name.clone(),
                    dependency: r.job.clone(),
                });
            }
        }
    }
    Ok(())
}

/// For each job, the indices of the jobs it requires (unknown names skipped,
/// no repeats).
fn edges(doc: &WorkflowDoc, index: &BTreeMap<&str, usize>) -> Vec<Vec<usize>> {
    doc.jobs
        .iter()
        .map(|job| {
            let mut out: Vec<usize> = Vec::new();
            for r in &job.requires {
                if let Some(&d) = index.get(r.job.as_str())
                    && !out.contains(&d)
                {
                    out.push(d);
                }
            }
            out
        })
        .collect()
}

/// Finds a cycle with an iterative depth-first search (no recursion, so long
/// chains cannot overflow the stack), starting from the jobs in written order.
fn check_cycles(doc: &WorkflowDoc, index: &BTreeMap<&str, usize>) -> Result<(), WorkflowError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let deps = edges(doc, index);
    let mut mark = vec![Mark::New; doc.jobs.len()];
    for start in 0..doc.jobs.len() {
        if mark[start] != Mark::New {
            continue;
        }
        // (job, next edge to follow); the stack is the current path.
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        mark[start] = Mark::OnPath;
        while let Some(&mut (job, ref mut next)) = stack.last_mut() {
            let Some(&dep) = deps[job].get(*next) else {
                mark[job] = Mark::Done;
                stack.pop();
                continue;
            };
            *next += 1;
            match mark[dep] {
                Mark::Done => {}
                Mark::New => {
                    mark[dep] = Mark::OnPath;
                    stack.push((dep, 0));
                }
                Mark::OnPath => {
                    let from = stack.iter().position(|&(j, _)| j == dep).unwrap_or(0);
                    let mut cycle: Vec<usize> = stack[from..].iter().map(|&(j, _)| j).collect();
                    // Start with the earliest-written job on the cycle.
                    let first = (0..cycle.len()).min_by_key(|&k| cycle[k]).unwrap_or(0);
                    cycle.rotate_left(first);
                    return Err(WorkflowError::Cycle {
                        jobs: cycle
                            .into_iter()
                            .map(|j| doc.jobs[j].name.clone())
                            .collect(),
                    });
                }
            }
        }
    }
    Ok(())
}

fn missing(job: &WorkflowJobDef, kind: ResourceKind, name: &str) -> WorkflowError {
    WorkflowError::MissingResource {
        job: job.name.clone(),
        kind,
        name: name.to_owned(),
    }
}

fn check_volumes(doc: &WorkflowDoc, node: &dyn NodeView) -> Result<(), WorkflowError> {
    for job in &doc.jobs {
        if let Some(v) = job.volumes.iter().find(|v| !node.has_volume(v)) {
            return Err(missing(job, ResourceKind::Volume, v));
        }
    }
    Ok(())
}

fn check_runtimes(doc: &WorkflowDoc, node: &dyn NodeView) -> Result<(), WorkflowError> {
    for job in &doc.jobs {
        if let Some(rt) = &job.runtime
            && !node.has_runtime(rt)
        {
            return Err(missing(job, ResourceKind::Runtime, rt));
        }
    }
    Ok(())
}

/// The reason of a field error from [`crate::validate`], without the field.
fn reason_of(e: crate::error::Error) -> String {
    match e {
        crate::error::Error::Invalid { reason, .. } => reason,
        other => other.to_string(),
    }
}

fn check_env_map(
    scope: &Scope,
    field: &str,
    map: &[(String, String)],
) -> Result<(), WorkflowError> {
    for (k, v) in map {
        fields::env_name(field, k)
            .and_then(|()| fields::env_value(field, k, v))
            .map_err(|e| WorkflowError::BadEnv {
                scope: scope.clone(),
                reason: e.to_string(),
            })?;
    }
    Ok(())
}

fn check_environment(doc: &WorkflowDoc) -> Result<(), WorkflowError> {
    let top = Scope::Workflow;
    check_env_map(&top, "environment", &doc.environment)?;
    check_env_map(&top, "secret_environment", &doc.secret_environment)?;
    let keys =
        |m: &[(String, String)]| -> BTreeSet<String> { m.iter().map(|(k, _)| k.clone()).collect() };
    let (global_env, global_secret) = (keys(&doc.environment), keys(&doc.secret_environment));
    if let Some(k) = global_env.intersection(&global_secret).next() {
        return Err(WorkflowError::EnvConflict {
            scope: top,
            name: k.clone(),
        });
    }
    for job in &doc.jobs {
        let scope = Scope::Job(job.name.clone());
        check_env_map(&scope, "environment", &job.environment)?;
        check_env_map(&scope, "secret_environment", &job.secret_environment)?;
        let env: BTreeSet<String> = &global_env | &keys(&job.environment);
        let secret: BTreeSet<String> = &global_secret | &keys(&job.secret_environment);
        // Report a key of the job's own maps first, in YAML order.
        let own = job.environment.iter().chain(&job.secret_environment);
        let clash = own
            .map(|(k, _)| k)
            .find(|k| env.contains(*k) && secret.contains(*k))
            .or_else(|| env.intersection(&secret).next());
        if let Some(k) = clash {
            return Err(WorkflowError::EnvConflict {
                scope,
                name: k.clone(),
            });
        }
    }
    Ok(())
}

/// A suggestion for a requirement status no job has.
fn status_hint(status: &str) -> String {
    let upper = status.trim().to_ascii_uppercase();
    let suggestion = match upper.as_str() {
        s if JOB_STATUSES.contains(&s) => s,
        "FINISHED" | "SUCCESS" | "SUCCEEDED" | "DONE" | "OK" => "COMPLETED",
        "CANCELLED" => "CANCELED",
        "FAILURE" | "ERROR" => "FAILED",
        _ => return String::new(),
    };
    format!("; did you mean {suggestion}?")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::doc::{Forms, NodeSnapshot, Requirement};
    use crate::workflow::parse;
    use proptest::prelude::*;

    fn node() -> NodeSnapshot {
        NodeSnapshot {
            volumes: ["cache".to_owned()].into(),
            networks: ["bridge", "isolated", "none", "dev"]
                .map(String::from)
                .into(),
            runtimes: crate::catalogue::builtin(),
        }
    }

    fn check(yaml: &str) -> Result<(), WorkflowError> {
        let doc = parse(yaml, Forms::All).unwrap();
        validate(&doc, &node(), &BTreeSet::from(["data/in.csv".to_owned()]))
    }

    fn job(name: &str, deps: &[&str]) -> WorkflowJobDef {
        WorkflowJobDef {
            name: name.into(),
            command: "echo".into(),
            requires: deps
                .iter()
                .map(|d| Requirement {
                    job: (*d).into(),
                    status: "COMPLETED".into(),
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_valid_workflow_passes_wf_run_2() {
        check(
            r#"
environment: { STAGE: ci }
secret_environment: { TOKEN: x }
jobs:
  a:
    command: echo
    runtime: "python:3.11-ml"
    network: dev
    volumes: [cache]
    uploads: { files: [./data/in.csv] }
  b:
    command: echo
    requires: [{a: FAILED}]
  c:
    command: echo
    requires: [{b: CANCELED}, {a: STOPPED}]
"#,
        )
        .unwrap();
    }

    #[test]
    fn cycle_is_rejected_wf_run_2() {
        let e = check(
            "jobs:\n  a: {command: echo, requires: [{c: COMPLETED}]}\n  b: {command: echo, requires: [{a: COMPLETED}]}\n  c: {command: echo, requires: [{b: COMPLETED}]}\n",
        )
        .unwrap_err();
        assert_eq!(
            e,
            WorkflowError::Cycle {
                jobs: vec!["a".into(), "c".into(), "b".into()]
            }
        );
        assert!(e.to_string().contains("'a' -> 'c' -> 'b' -> 'a'"), "{e}");
    }

    #[test]
    fn self_dependency_is_a_cycle_wf_run_2() {
        let e = check("jobs:\n  a: {command: echo, depends_on: [a]}\n").unwrap_err();
        assert_eq!(
            e,
            WorkflowError::Cycle {
                jobs: vec!["a".into()]
            }
        );
    }

    #[test]
    fn unknown_dependency_is_rejected_wf_run_2() {
        let e = check("jobs:\n  a: {command: echo, requires: [{ghost: COMPLETED}]}\n").unwrap_err();
        assert_eq!(e.to_string(), "job 'a' depends on non-existent job 'ghost'");
    }

    #[test]
    fn duplicate_job_name_is_rejected_wf_run_2() {
        let e = check(
            "jobs:\n  - {name: a, command: echo}\n  - {name: b, command: echo}\n  - {name: a, command: echo}\n",
        )
        .unwrap_err();
        assert_eq!(e, WorkflowError::DuplicateJob { job: "a".into() });
        assert!(e.to_string().contains("'a'"), "{e}");
    }

    #[test]
    fn no_jobs_is_rejected_wf_run_2() {
        assert_eq!(check("name: empty\n").unwrap_err(), WorkflowError::NoJobs);
        validate_server_v1(&WorkflowDoc::default(), &node()).unwrap();
    }

    #[test]
    fn empty_command_is_rejected_wf_run_2() {
        let e = check("jobs:\n  a: {command: echo}\n  b: {args: [x]}\n").unwrap_err();
        assert_eq!(e.to_string(), "job 'b': command is required");
        let e = check("jobs:\n  a: {command: '  '}\n").unwrap_err();
        assert_eq!(e, WorkflowError::EmptyCommand { job: "a".into() });
    }

    #[test]
    fn missing_volume_network_runtime_are_rejected_wf_run_2() {
        let e = check("jobs:\n  a: {command: echo, volumes: [cache, scratch]}\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "job 'a': volume 'scratch' does not exist on the node (missing volumes: [scratch])"
        );
        let e = check("jobs:\n  a: {command: echo, network: prod}\n").unwrap_err();
        assert!(
            matches!(&e, WorkflowError::MissingResource { kind: ResourceKind::Network, name, .. } if name == "prod"),
            "{e:?}"
        );
        let e = check("jobs:\n  a: {command: echo}\n  b: {command: echo, runtime: 'ruby:3.2'}\n")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "job 'b': runtime 'ruby:3.2' does not exist on the node (missing runtimes: [ruby:3.2])"
        );
    }

    #[test]
    fn bad_environment_names_are_rejected_wf_run_2() {
        let e = check("environment: {1BAD: x}\njobs:\n  a: {command: echo}\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("workflow top level: environment: invalid variable name \"1BAD\""),
            "{e}"
        );
        let e =
            check("jobs:\n  a: {command: echo, secret_environment: {'MY-KEY': x}}\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("job 'a': secret_environment: invalid variable name \"MY-KEY\""),
            "{e}"
        );
        let long = "x".repeat(fields::MAX_ENV_VALUE_BYTES + 1);
        let e = check(&format!(
            "jobs:\n  a: {{command: echo, environment: {{BIG: {long}}}}}\n"
        ))
        .unwrap_err();
        assert!(e.to_string().contains("value of BIG is too long"), "{e}");
    }

    #[test]
    fn env_key_in_both_maps_is_rejected_wf_run_2() {
        let e =
            check("jobs:\n  a: {command: echo, environment: {K: 1}, secret_environment: {K: 2}}\n")
                .unwrap_err();
        assert_eq!(
            e,
            WorkflowError::EnvConflict {
                scope: Scope::Job("a".into()),
                name: "K".into()
            }
        );
        // A job's own secret clashing with a top-level variable.
        let e =
            check("environment: {K: 1}\njobs:\n  a: {command: echo, secret_environment: {K: 2}}\n")
                .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("job 'a': environment variable conflict: 'K'"),
            "{e}"
        );
        let e =
            check("environment: {K: 1}\nsecret_environment: {K: 2}\njobs:\n  a: {command: echo}\n")
                .unwrap_err();
        assert!(
            matches!(
                e,
                WorkflowError::EnvConflict {
                    scope: Scope::Workflow,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn upload_not_in_workflow_files_is_rejected_wf_run_2() {
        let e =
            check("jobs:\n  a: {command: cat, uploads: {files: [data/other.csv]}}\n").unwrap_err();
        assert_eq!(
            e,
            WorkflowError::MissingUpload {
                job: "a".into(),
                path: "data/other.csv".into()
            }
        );
        let e =
            check("jobs:\n  a: {command: cat, uploads: {files: [../etc/passwd]}}\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("job 'a': uploads.files: upload path \"../etc/passwd\" must not"),
            "{e}"
        );
    }

    #[test]
    fn requirement_status_must_be_a_job_status_wf_run_2() {
        let e = check(
            "jobs:\n  a: {command: echo}\n  b: {command: echo, requires: [{a: completed}]}\n",
        )
        .unwrap_err();
        assert!(
            matches!(&e, WorkflowError::BadStatus { job, dependency, status, .. }
                if job == "b" && dependency == "a" && status == "completed"),
            "{e:?}"
        );
        assert!(e.to_string().contains("did you mean COMPLETED?"), "{e}");
        let e =
            check("jobs:\n  a: {command: echo}\n  b: {command: echo, requires: [{a: FINISHED}]}\n")
                .unwrap_err();
        assert!(e.to_string().contains("did you mean COMPLETED?"), "{e}");
        let e =
            check("jobs:\n  a: {command: echo}\n  b: {command: echo, requires: [{a: RUNNING}]}\n")
                .unwrap_err();
        assert!(e.to_string().ends_with("CANCELED)"), "{e}");
        for status in JOB_STATUSES {
            check(&format!(
                "jobs:\n  a: {{command: echo}}\n  b: {{command: echo, requires: [{{a: {status}}}]}}\n"
            ))
            .unwrap();
        }
    }

    #[test]
    fn server_v1_checks_only_what_the_server_checks_quirk_9() {
        let doc = parse(
            "jobs:\n  a: {command: '', network: nowhere, uploads: {files: [x]}}\n  b: {command: echo, requires: [{a: completed}]}\n",
            Forms::MapWithRequiresOnly,
        )
        .unwrap();
        validate_server_v1(&doc, &node()).unwrap();
        // Its order: a cycle is reported before a missing volume.
        let doc = parse(
            "jobs:\n  a: {command: echo, volumes: [nope], requires: [{a: COMPLETED}]}\n",
            Forms::MapWithRequiresOnly,
        )
        .unwrap();
        assert!(matches!(
            validate_server_v1(&doc, &node()),
            Err(WorkflowError::Cycle { .. })
        ));
        assert!(matches!(
            validate(&doc, &node(), &BTreeSet::new()),
            Err(WorkflowError::Cycle { .. })
        ));
    }

    #[test]
    fn topological_order_puts_dependencies_first() {
        let doc = WorkflowDoc {
            jobs: vec![
                job("load", &["transform"]),
                job("extract", &[]),
                job("transform", &["extract"]),
                job("audit", &[]),
            ],
            ..Default::default()
        };
        let order: Vec<&str> = topological_order(&doc)
            .unwrap()
            .iter()
            .map(|j| j.name.as_str())
            .collect();
        // Ready together: the earlier-written first (load, index 0, before audit).
        assert_eq!(order, ["extract", "transform", "load", "audit"]);
        let mut cyclic = doc.clone();
        cyclic.jobs[1].requires.push(Requirement {
            job: "load".into(),
            status: "COMPLETED".into(),
        });
        assert!(matches!(
            topological_order(&cyclic),
            Err(WorkflowError::Cycle { .. })
        ));
        let mut unknown = doc;
        unknown.jobs[3].requires.push(Requirement {
            job: "nope".into(),
            status: "COMPLETED".into(),
        });
        assert!(matches!(
            topological_order(&unknown),
            Err(WorkflowError::UnknownDependency { .. })
        ));
    }

    #[test]
    fn a_long_chain_does_not_overflow_the_stack() {
        let n = 20_000;
        let mut jobs: Vec<WorkflowJobDef> = (0..n)
            .map(|i| {
                let prev = format!("j{}", i + 1);
                if i + 1 < n {
                    job(&format!("j{i}"), &[&prev])
                } else {
                    job(&format!("j{i}"), &[])
                }
            })
            .collect();
        let doc = WorkflowDoc {
            jobs: jobs.clone(),
            ..Default::default()
        };
        assert_eq!(topological_order(&doc).unwrap().len(), n);
        jobs[n - 1].requires.push(Requirement {
            job: "j0".into(),
            status: "COMPLETED".into(),
        });
        let doc = WorkflowDoc {
            jobs,
            ..Default::default()
        };
        let Err(WorkflowError::Cycle { jobs }) = validate(&doc, &node(), &BTreeSet::new()) else {
            panic!("expected a cycle")
        };
        assert_eq!(jobs.len(), n);
    }

    /// A random DAG: job i may require any job j < i.
    fn dag() -> impl Strategy<Value = Vec<Vec<usize>>> {
        (1usize..12).prop_flat_map(|n| {
            (0..n)
                .map(|i| prop::sample::subsequence((0..i).collect::<Vec<_>>(), 0..=i))
                .collect::<Vec<_>>()
        })
    }

    /// Renders a DAG as workflow YAML in the map form or the list form.
    fn render(deps: &[Vec<usize>], list_form: bool, back_edge: Option<(usize, usize)>) -> String {
        let mut out = String::from("jobs:\n");
        for (i, ds) in deps.iter().enumerate() {
            let mut ds: Vec<usize> = ds.clone();
            if let Some((from, to)) = back_edge
                && from == i
            {
                ds.push(to);
            }
            let reqs: Vec<String> = ds
                .iter()
                .map(|d| format!("{{job-{d}: COMPLETED}}"))
                .collect();
            let head = if list_form {
                format!("  - name: job-{i}\n   ")
            } else {
                format!("  job-{i}:\n   ")
            };
            out.push_str(&format!(
                "{head} command: echo\n    args: [\"{i}\"]\n    requires: [{}]\n",
                reqs.join(", ")
            ));
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn prop_random_dags_validate_and_a_back_edge_is_a_cycle(
            deps in dag(),
            list_form in any::<bool>(),
            pick in any::<prop::sample::Index>(),
        ) {
            let doc = parse(&render(&deps, list_form, None), Forms::All).unwrap();
            prop_assert_eq!(doc.jobs.len(), deps.len());
            validate(&doc, &node(), &BTreeSet::new()).unwrap();
            validate_server_v1(&doc, &node()).unwrap();
            let order = topological_order(&doc).unwrap();
            let pos: BTreeMap<&str, usize> =
                order.iter().enumerate().map(|(p, j)| (j.name.as_str(), p)).collect();
            prop_assert_eq!(pos.len(), deps.len());
            for (i, ds) in deps.iter().enumerate() {
                for d in ds {
                    let (dep, dependent) = (format!("job-{d}"), format!("job-{i}"));
                    prop_assert!(pos[dep.as_str()] < pos[dependent.as_str()], "{} after {}", dep, dependent);
                }
            }

            // Reverse one existing edge i → d (i requires d): d now requires i.
            let all_edges: Vec<(usize, usize)> = deps
                .iter()
                .enumerate()
                .flat_map(|(i, ds)| ds.iter().map(move |&d| (i, d)))
                .collect();
            prop_assume!(!all_edges.is_empty());
            let (i, d) = all_edges[pick.index(all_edges.len())];
            let doc = parse(&render(&deps, list_form, Some((d, i))), Forms::All).unwrap();
            let err = validate(&doc, &node(), &BTreeSet::new()).unwrap_err();
            let WorkflowError::Cycle { jobs } = &err else {
                return Err(TestCaseError::fail(format!("expected a cycle, got {err}")));
            };
            prop_assert!(jobs.contains(&format!("job-{i}")) && jobs.contains(&format!("job-{d}")), "{:?}", jobs);
            // The reported jobs really form a cycle, in requirement order.
            for (k, name) in jobs.iter().enumerate() {
                let next = &jobs[(k + 1) % jobs.len()];
                let def = doc.jobs.iter().find(|j| &j.name == name).unwrap();
                prop_assert!(def.requires.iter().any(|r| &r.job == next), "{} does not require {}", name, next);
            }
            let v1_cycle = matches!(validate_server_v1(&doc, &node()), Err(WorkflowError::Cycle { .. }));
            prop_assert!(v1_cycle, "server-v1 validation missed the cycle");
            let topo_cycle = matches!(topological_order(&doc), Err(WorkflowError::Cycle { .. }));
            prop_assert!(topo_cycle, "topological_order missed the cycle");
        }
    }
}
