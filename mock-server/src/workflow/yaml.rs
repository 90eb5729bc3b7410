//! The workflow YAML parser (WF-YAML-1).
//!
//! The text is read into a [`serde_norway::Value`] (syntax errors and duplicate
//! keys come with their line and column), then walked by hand so that every
//! error names the key and the job, the job order is kept as written, and
//! scalars are coerced the way the real server's decoder coerces them.

use serde_norway::{Mapping, Value};

use super::{Forms, Requirement, Resources, WorkflowDoc, WorkflowError, WorkflowJobDef};

const TOP_KEYS: &[&str] = &[
    "version",
    "name",
    "description",
    "environment",
    "secret_environment",
    "jobs",
];

const JOB_KEYS: &[&str] = &[
    "command",
    "args",
    "runtime",
    "network",
    "volumes",
    "uploads",
    "environment",
    "secret_environment",
    "resources",
    "requires",
    "depends_on",
];

const RESOURCE_KEYS: &[&str] = &[
    "max_cpu",
    "max_memory",
    "max_io_bps",
    "cpu_cores",
    "gpu_count",
    "gpu_memory_mb",
];

const UPLOAD_KEYS: &[&str] = &["files"];

/// Parses workflow YAML (the `yamlContent` of a RunWorkflowRequest).
///
/// Checks the shape only: unknown keys, wrong types, duplicate keys and
/// requirements, the forms `form` allows. What needs the node or the whole
/// graph (cycles, unknown dependencies, resources, environment names,
/// uploads, empty commands) is left to [`super::validate`]. An empty document
/// parses to a workflow without jobs. Never panics.
pub fn parse(yaml: &str, form: Forms) -> Result<WorkflowDoc, WorkflowError> {
    let root: Value = serde_norway::from_str(yaml).map_err(|e| {
        let loc = e.location();
        WorkflowError::Syntax {
            message: e.to_string(),
            line: loc.as_ref().map(|l| l.line()),
            column: loc.as_ref().map(|l| l.column()),
        }
    })?;
    let root = untag(&root);
    let mut doc = WorkflowDoc::default();
    let top = match root {
        Value::Null => return Ok(doc),
        Value::Mapping(m) => entries(m, "top level")?,
        other => {
            return Err(shape(
                "top level",
                format!(
                    "a workflow is a mapping with `jobs`, got {}",
                    describe(other)
                ),
            ));
        }
    };
    for (key, value) in top {
        let at = "top level";
        match key.as_str() {
            "version" => {
                scalar_text(value, at, "version")?;
            }
            "name" => doc.name = scalar_text(value, at, "name")?,
            "description" => doc.description = scalar_text(value, at, "description")?,
            "environment" => doc.environment = env_map(value, at, "environment")?,
            "secret_environment" => {
                doc.secret_environment = env_map(value, at, "secret_environment")?;
            }
            "jobs" => doc.jobs = jobs(value, form)?,
            _ => return Err(unknown_key(at, &key, TOP_KEYS)),
        }
    }
    Ok(doc)
}

/// The jobs, in the order written.
fn jobs(value: &Value, form: Forms) -> Result<Vec<WorkflowJobDef>, WorkflowError> {
    const AT: &str = "jobs";
    match untag(value) {
        Value::Null => Ok(Vec::new()),
        Value::Mapping(m) => {
            let mut out = Vec::new();
            for (name, job) in entries(m, AT)? {
                if name.trim().is_empty() {
                    return Err(shape(AT, "a job name must not be empty"));
                }
                let at = format!("job '{name}'");
                let Value::Mapping(body) = untag(job) else {
                    return Err(shape(
                        &at,
                        format!("a job is a mapping with `command`, got {}", describe(job)),
                    ));
                };
                out.push(job_def(name, entries(body, &at)?, form, false)?);
            }
            Ok(out)
        }
        Value::Sequence(items) => {
            if form == Forms::MapWithRequiresOnly {
                return Err(WorkflowError::UnsupportedForm {
                    at: AT.into(),
                    message: "jobs must be a map of job name → job in this profile (the list \
                              form with `name` keys is not supported)"
                        .into(),
                });
            }
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let at = format!("jobs[{i}]");
                let Value::Mapping(body) = untag(item) else {
                    return Err(shape(
                        &at,
                        format!(
                            "a job is a mapping with `name` and `command`, got {}",
                            describe(item)
                        ),
                    ));
                };
                let mut fields = entries(body, &at)?;
                let pos = fields.iter().position(|(k, _)| k == "name");
                let name = match pos {
                    Some(p) => scalar_text(fields.remove(p).1, &at, "name")?,
                    None => None,
                };
                let Some(name) = name.filter(|n| !n.trim().is_empty()) else {
                    return Err(shape(
                        &at,
                        "a job in the list form needs a non-empty `name`",
                    ));
                };
                out.push(job_def(name, fields, form, true)?);
            }
            Ok(out)
        }
        other => Err(shape(
            AT,
            format!(
                "jobs must be a map of job name → job or a list of jobs, got {}",
                describe(other)
            ),
        )),
    }
}

/// One job from its (merged) keys.
fn job_def(
    name: String,
    fields: Vec<(String, &Value)>,
    form: Forms,
    list_form: bool,
) -> Result<WorkflowJobDef, WorkflowError> {
    let at = format!("job '{name}'");
    let mut job = WorkflowJobDef {
        name,
        ..Default::default()
    };
    let mut depends_on = Vec::new();
    for (key, value) in fields {
        match key.as_str() {
            "command" => job.command = scalar_text(value, &at, "command")?.unwrap_or_default(),
            "args" => job.args = text_list(value, &at, "args")?,
            "runtime" => job.runtime = non_blank(scalar_text(value, &at, "runtime")?),
            "network" => job.network = non_blank(scalar_text(value, &at, "network")?),
            "volumes" => job.volumes = text_list(value, &at, "volumes")?,
            "uploads" => job.uploads = uploads(value, &at)?,
            "environment" => job.environment = env_map(value, &at, "environment")?,
            "secret_environment" => {
                job.secret_environment = env_map(value, &at, "secret_environment")?;
            }
            "resources" => job.resources = resources(value, &at)?,
            "requires" => job.requires = requires(value, &at, form)?,
            "depends_on" => {
                if form == Forms::MapWithRequiresOnly {
                    return Err(WorkflowError::UnsupportedForm {
                        at,
                        message: "depends_on is not supported in this profile; write \
                                  `requires: [{<job>: COMPLETED}]`"
                            .into(),
                    });
                }
                depends_on = text_list(value, &at, "depends_on")?;
            }
            _ => {
                let mut expected: Vec<&str> = Vec::new();
                if list_form {
                    expected.push("name");
                }
                expected.extend(JOB_KEYS);
                return Err(unknown_key(&at, &key, &expected));
            }
        }
    }
    job.requires
        .extend(depends_on.into_iter().map(|dep| Requirement {
            job: dep,
            status: "COMPLETED".into(),
        }));
    let mut seen = std::collections::BTreeSet::new();
    for r in &job.requires {
        if r.job.trim().is_empty() {
            return Err(shape(&at, "a requirement names an empty job"));
        }
        if !seen.insert(r.job.as_str()) {
            return Err(WorkflowError::DuplicateRequirement {
                job: job.name.clone(),
                dependency: r.job.clone(),
            });
        }
    }
    Ok(job)
}

/// `uploads: {files: [...]}`.
fn uploads(value: &Value, at: &str) -> Result<Vec<String>, WorkflowError> {
    let Value::Mapping(m) = untag(value) else {
        if matches!(untag(value), Value::Null) {
            return Ok(Vec::new());
        }
        return Err(shape(
            at,
            format!(
                "uploads must be a mapping like `uploads: {{files: [data.csv]}}`, got {}",
                describe(value)
            ),
        ));
    };
    let uat = format!("{at} uploads");
    let mut files = Vec::new();
    for (key, v) in entries(m, &uat)? {
        match key.as_str() {
            "files" => files = text_list(v, at, "uploads.files")?,
            _ => return Err(unknown_key(&uat, &key, UPLOAD_KEYS)),
        }
    }
    Ok(files)
}

/// `resources: {...}`.
fn resources(value: &Value, at: &str) -> Result<Resources, WorkflowError> {
    let mut r = Resources::default();
    let m = match untag(value) {
        Value::Null => return Ok(r),
        Value::Mapping(m) => m,
        other => {
            return Err(shape(
                at,
                format!(
                    "resources must be a mapping like `resources: {{max_cpu: 50, max_memory: 512}}`, got {}",
                    describe(other)
                ),
            ));
        }
    };
    let rat = format!("{at} resources");
    for (key, v) in entries(m, &rat)? {
        match key.as_str() {
            "max_cpu" => r.max_cpu = whole(v, at, "max_cpu")?,
            "max_memory" => r.max_memory = whole(v, at, "max_memory")?,
            "max_io_bps" => r.max_io_bps = whole(v, at, "max_io_bps")?,
            "gpu_count" => r.gpu_count = whole(v, at, "gpu_count")?,
            "gpu_memory_mb" => r.gpu_memory_mb = whole(v, at, "gpu_memory_mb")?,
            "cpu_cores" => {
                r.cpu_cores = scalar_text(v, at, "resources.cpu_cores")?.unwrap_or_default();
            }
            _ => return Err(unknown_key(&rat, &key, RESOURCE_KEYS)),
        }
    }
    Ok(r)
}

/// A whole, non-negative resource number that fits a proto `int32`: a YAML
/// integer or a string of digits (`512`, `"512"`); null is 0.
fn whole(value: &Value, at: &str, key: &str) -> Result<i32, WorkflowError> {
    let bad = |got: String| {
        shape(
            at,
            format!(
                "resources.{key} must be a whole number from 0 to {}, got {got}",
                i32::MAX
            ),
        )
    };
    match untag(value) {
        Value::Null => Ok(0),
        Value::Number(n) => n
            .as_i64()
            .and_then(|v| i32::try_from(v).ok())
            .filter(|v| *v >= 0)
            .ok_or_else(|| bad(n.to_string())),
        Value::String(s) => {
            let t = s.trim();
            if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
                t.parse::<i32>().map_err(|_| bad(format!("{s:?}")))
            } else {
                Err(bad(format!("{s:?}")))
            }
        }
        other => Err(bad(describe(other))),
    }
}

/// `requires: [{<job>: <STATUS>}, ...]`.
fn requires(value: &Value, at: &str, form: Forms) -> Result<Vec<Requirement>, WorkflowError> {
    const EXAMPLE: &str = "e.g. `requires: [{extract: COMPLETED}]`";
    let items = match untag(value) {
        Value::Null => return Ok(Vec::new()),
        Value::Sequence(items) => items,
        other => {
            return Err(shape(
                at,
                format!(
                    "requires must be a list of single-entry maps ({EXAMPLE}), got {}",
                    describe(other)
                ),
            ));
        }
    };
    let mut out = Vec::new();
    for item in items {
        let m = match untag(item) {
            Value::Mapping(m) => m,
            Value::String(s) => {
                let alt = if form == Forms::All {
                    " or `depends_on: [<job>]`"
                } else {
                    ""
                };
                return Err(shape(
                    at,
                    format!(
                        "requirement {s:?} must be a single-entry map <job>: <STATUS> \
                         ({EXAMPLE}{alt}); expression strings are not supported"
                    ),
                ));
            }
            other => {
                return Err(shape(
                    at,
                    format!(
                        "each requirement must be a single-entry map <job>: <STATUS> ({EXAMPLE}), got {}",
                        describe(other)
                    ),
                ));
            }
        };
        let pairs = entries(m, at)?;
        let [(job, status)] = pairs.as_slice() else {
            return Err(shape(
                at,
                format!(
                    "each requirement must be a map with exactly one entry <job>: <STATUS> \
                     ({EXAMPLE}), got {} entries",
                    pairs.len()
                ),
            ));
        };
        let Some(status) = scalar_text(status, at, &format!("requires.{job}"))? else {
            return Err(shape(
                at,
                format!("requirement on job '{job}' has no status ({EXAMPLE})"),
            ));
        };
        out.push(Requirement {
            job: job.clone(),
            status,
        });
    }
    Ok(out)
}

/// An environment map, in YAML order; scalar values as text, null as "".
fn env_map(value: &Value, at: &str, field: &str) -> Result<Vec<(String, String)>, WorkflowError> {
    let m = match untag(value) {
        Value::Null => return Ok(Vec::new()),
        Value::Mapping(m) => m,
        other => {
            return Err(shape(
                at,
                format!(
                    "{field} must be a mapping of NAME: value, got {}",
                    describe(other)
                ),
            ));
        }
    };
    entries(m, at)?
        .into_iter()
        .map(|(k, v)| {
            let v = scalar_text(v, at, &format!("{field}.{k}"))?.unwrap_or_default();
            Ok((k, v))
        })
        .collect()
}

/// A list of scalars as text (null is an empty list).
fn text_list(value: &Value, at: &str, key: &str) -> Result<Vec<String>, WorkflowError> {
    match untag(value) {
        Value::Null => Ok(Vec::new()),
        Value::Sequence(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| match untag(v) {
                Value::Null => Err(shape(at, format!("{key}[{i}] is empty"))),
                _ => Ok(scalar_text(v, at, &format!("{key}[{i}]"))?.unwrap_or_default()),
            })
            .collect(),
        other => Err(shape(
            at,
            format!("{key} must be a list, got {}", describe(other)),
        )),
    }
}

/// A scalar as text (`None` for null); sequences and mappings are errors.
fn scalar_text(value: &Value, at: &str, key: &str) -> Result<Option<String>, WorkflowError> {
    match untag(value) {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        other => Err(shape(
            at,
            format!("{key} must be a single value, got {}", describe(other)),
        )),
    }
}

fn non_blank(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

/// A mapping's entries with scalar keys as text, `<<` merge keys expanded in
/// place (merged keys never override explicit ones nor earlier merges), and
/// the written order kept.
fn entries<'v>(m: &'v Mapping, at: &str) -> Result<Vec<(String, &'v Value)>, WorkflowError> {
    let mut explicit = std::collections::BTreeSet::new();
    for (k, _) in m {
        if !is_merge_key(k) {
            explicit.insert(key_text(k, at)?);
        }
    }
    let mut out: Vec<(String, &Value)> = Vec::with_capacity(m.len());
    let mut taken = std::collections::BTreeSet::new();
    for (k, v) in m {
        if is_merge_key(k) {
            let sources: Vec<&Mapping> = match untag(v) {
                Value::Mapping(src) => vec![src],
                Value::Sequence(items) => items
                    .iter()
                    .map(|i| match untag(i) {
                        Value::Mapping(src) => Ok(src),
                        other => Err(shape(
                            at,
                            format!("a `<<` merge takes mappings, got {}", describe(other)),
                        )),
                    })
                    .collect::<Result<_, _>>()?,
                other => {
                    return Err(shape(
                        at,
                        format!(
                            "a `<<` merge takes a mapping or a list of mappings, got {}",
                            describe(other)
                        ),
                    ));
                }
            };
            for src in sources {
                for (mk, mv) in entries(src, at)? {
                    if !explicit.contains(&mk) && taken.insert(mk.clone()) {
                        out.push((mk, mv));
                    }
                }
            }
        } else {
            let key = key_text(k, at)?;
            taken.insert(key.clone());
            out.push((key, v));
        }
    }
    Ok(out)
}

fn is_merge_key(k: &Value) -> bool {
    matches!(k, Value::String(s) if s == "<<")
}

/// A mapping key as text: strings, numbers and booleans; nothing else.
fn key_text(k: &Value, at: &str) -> Result<String, WorkflowError> {
    match untag(k) {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(shape(
            at,
            format!("keys must be plain names, got {} as a key", describe(other)),
        )),
    }
}

/// The value under any `!tag`s.
fn untag(mut v: &Value) -> &Value {
    while let Value::Tagged(t) = v {
        v = &t.value;
    }
    v
}

/// A short description of a value for error messages.
fn describe(v: &Value) -> String {
    match untag(v) {
        Value::Null => "nothing (null)".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => {
            let mut shown: String = s.chars().take(40).collect();
            if shown.len() < s.len() {
                shown.push('…');
            }
            format!("the string {shown:?}")
        }
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(_) => "a tagged value".into(),
    }
}

fn shape(at: &str, message: impl Into<String>) -> WorkflowError {
    WorkflowError::Shape {
        at: at.into(),
        message: message.into(),
    }
}

fn unknown_key(at: &str, key: &str, expected: &[&str]) -> WorkflowError {
    let hint = match key {
        "max_iobps" | "maxIobps" | "max_io" => "; did you mean max_io_bps?".to_owned(),
        "dependencies" | "depends-on" | "dependsOn" | "needs" => {
            "; dependencies are `requires: [{<job>: COMPLETED}]` or `depends_on: [<job>]`"
                .to_owned()
        }
        "cmd" => "; did you mean command?".to_owned(),
        "env" => "; did you mean environment?".to_owned(),
        "workflows" | "defaults" | "schedule" | "workdir" | "extends" | "conditions"
        | "max_wait" | "directories" => {
            format!("; `{key}` is understood by the rnx CLI only, not by the server")
        }
        _ => String::new(),
    };
    WorkflowError::UnknownKey {
        at: at.into(),
        key: key.into(),
        expected: expected.join(", "),
        hint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn err(yaml: &str) -> WorkflowError {
        match parse(yaml, Forms::All) {
            Ok(doc) => panic!("expected an error for {yaml:?}, got {doc:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn map_form_keeps_order_and_reads_every_key_wf_yaml_1() {
        let doc = parse(
            r#"
version: "3.0"
name: full
description: every key
environment: { STAGE: prod, PORT: 8080, DEBUG: true, EMPTY: }
secret_environment: { TOKEN: s3cret }
jobs:
  zeta:
    command: sh
    args: ["-c", "echo hi", 5]
    runtime: "python:3.11"
    network: bridge
    volumes: [cache]
    uploads: { files: [data/in.csv] }
    environment: { A: "1" }
    secret_environment: { B: "2" }
    resources: { max_cpu: 50, max_memory: "512", max_io_bps: 1000, cpu_cores: 0-1, gpu_count: 1, gpu_memory_mb: 2048 }
  alpha:
    command: echo
    requires:
      - zeta: COMPLETED
    depends_on: [mid]
  mid:
    command: "true"
    resources: { cpu_cores: 2 }
"#,
            Forms::All,
        )
        .unwrap();
        assert_eq!(doc.name.as_deref(), Some("full"));
        assert_eq!(doc.description.as_deref(), Some("every key"));
        assert_eq!(
            doc.environment,
            [
                ("STAGE".into(), "prod".into()),
                ("PORT".into(), "8080".into()),
                ("DEBUG".into(), "true".into()),
                ("EMPTY".into(), String::new()),
            ]
        );
        let names: Vec<_> = doc.jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["zeta", "alpha", "mid"]);
        let z = &doc.jobs[0];
        assert_eq!(z.args, ["-c", "echo hi", "5"]);
        assert_eq!(z.runtime.as_deref(), Some("python:3.11"));
        assert_eq!(z.network.as_deref(), Some("bridge"));
        assert_eq!(z.volumes, ["cache"]);
        assert_eq!(z.uploads, ["data/in.csv"]);
        assert_eq!(
            z.resources,
            Resources {
                max_cpu: 50,
                max_memory: 512,
                max_io_bps: 1000,
                cpu_cores: "0-1".into(),
                gpu_count: 1,
                gpu_memory_mb: 2048,
            }
        );
        assert_eq!(
            doc.jobs[1].requires,
            [
                Requirement {
                    job: "zeta".into(),
                    status: "COMPLETED".into()
                },
                Requirement {
                    job: "mid".into(),
                    status: "COMPLETED".into()
                },
            ]
        );
        assert_eq!(doc.jobs[2].command, "true");
        assert_eq!(doc.jobs[2].resources.cpu_cores, "2");
    }

    #[test]
    fn list_form_uses_the_name_key_wf_yaml_1() {
        let doc = parse(
            "jobs:\n  - name: b\n    command: echo\n  - command: echo\n    name: a\n    depends_on: [b]\n",
            Forms::All,
        )
        .unwrap();
        let names: Vec<_> = doc.jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["b", "a"]);
        assert_eq!(doc.jobs[1].dependencies(), ["b"]);
    }

    #[test]
    fn list_form_needs_a_name_wf_yaml_1() {
        let e = err("jobs:\n  - command: echo\n");
        assert!(
            e.to_string().contains("jobs[0]") && e.to_string().contains("`name`"),
            "{e}"
        );
    }

    #[test]
    fn empty_and_null_documents_have_no_jobs() {
        for text in ["", "~", "# just a comment\n", "jobs:\n"] {
            assert!(parse(text, Forms::All).unwrap().jobs.is_empty(), "{text:?}");
        }
    }

    #[test]
    fn syntax_errors_carry_line_and_column_wf_run_2() {
        let e = err("jobs:\n  a:\n    command: [echo,\n");
        let WorkflowError::Syntax { line, column, .. } = &e else {
            panic!("{e:?}")
        };
        assert!(line.is_some() && column.is_some(), "{e:?}");
        assert!(e.to_string().starts_with("invalid workflow YAML: "), "{e}");
    }

    #[test]
    fn duplicate_job_keys_are_rejected_wf_run_2() {
        let e = err("jobs:\n  a:\n    command: echo\n  a:\n    command: echo\n");
        assert!(
            matches!(
                &e,
                WorkflowError::Syntax {
                    line: Some(_),
                    column: Some(_),
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(
            e.to_string().contains("duplicate entry with key \"a\""),
            "{e}"
        );
    }

    #[test]
    fn unknown_keys_name_the_key_and_the_job_wf_yaml_1() {
        let e = err("jobs:\n  extract:\n    command: echo\n    colour: red\n");
        assert!(
            matches!(&e, WorkflowError::UnknownKey { key, at, .. } if key == "colour" && at == "job 'extract'"),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with("job 'extract': unknown key 'colour'"),
            "{e}"
        );

        let e = err("jobs:\n  x:\n    command: echo\n    resources: { max_iobps: 5 }\n");
        assert!(
            e.to_string()
                .contains("job 'x' resources: unknown key 'max_iobps'"),
            "{e}"
        );
        assert!(e.to_string().contains("did you mean max_io_bps"), "{e}");

        let e = err("jobs:\n  x:\n    command: echo\n    uploads: { directories: [d] }\n");
        assert!(
            e.to_string()
                .contains("job 'x' uploads: unknown key 'directories'"),
            "{e}"
        );

        let e = err("schedule: now\njobs: {}\n");
        assert!(
            e.to_string()
                .starts_with("top level: unknown key 'schedule'"),
            "{e}"
        );

        let e = err("jobs:\n  - name: x\n    command: echo\n    when: always\n");
        assert!(e.to_string().contains("job 'x': unknown key 'when'"), "{e}");
        assert!(e.to_string().contains("name, command"), "{e}");
    }

    #[test]
    fn server_v1_accepts_only_the_map_form_with_requires_quirk_9() {
        let e = parse(
            "jobs:\n  - name: a\n    command: echo\n",
            Forms::MapWithRequiresOnly,
        )
        .unwrap_err();
        assert!(matches!(e, WorkflowError::UnsupportedForm { .. }), "{e:?}");
        let e = parse(
            "jobs:\n  a: {command: echo}\n  b: {command: echo, depends_on: [a]}\n",
            Forms::MapWithRequiresOnly,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("job 'b': depends_on is not supported"),
            "{e}"
        );
        parse(
            "jobs:\n  a: {command: echo}\n  b: {command: echo, requires: [{a: FAILED}]}\n",
            Forms::MapWithRequiresOnly,
        )
        .unwrap();
    }

    #[test]
    fn requirement_shapes_are_checked_wf_yaml_1() {
        let e = err("jobs:\n  b:\n    command: echo\n    requires: [\"a=COMPLETED\"]\n");
        assert!(
            e.to_string()
                .contains("expression strings are not supported"),
            "{e}"
        );
        let e = err("jobs:\n  b:\n    command: echo\n    requires: [{a: COMPLETED, c: FAILED}]\n");
        assert!(e.to_string().contains("exactly one entry"), "{e}");
        let e = err("jobs:\n  b:\n    command: echo\n    requires: [{a: }]\n");
        assert!(
            e.to_string()
                .contains("requirement on job 'a' has no status"),
            "{e}"
        );
        let e = err("jobs:\n  b:\n    command: echo\n    requires: {a: COMPLETED}\n");
        assert!(
            e.to_string()
                .starts_with("job 'b': requires must be a list"),
            "{e}"
        );
    }

    #[test]
    fn duplicate_requirements_are_rejected_wf_run_2() {
        let e = err(
            "jobs:\n  b:\n    command: echo\n    requires: [{a: COMPLETED}]\n    depends_on: [a]\n",
        );
        assert_eq!(
            e,
            WorkflowError::DuplicateRequirement {
                job: "b".into(),
                dependency: "a".into()
            }
        );
    }

    #[test]
    fn resource_numbers_are_whole_and_non_negative_wf_yaml_1() {
        for (value, ok) in [
            ("512", Some(512)),
            ("\"512\"", Some(512)),
            ("' 64 '", Some(64)),
            ("~", Some(0)),
            ("-1", None),
            ("1.5", None),
            ("\"512MB\"", None),
            ("99999999999", None),
            ("[1]", None),
            ("true", None),
        ] {
            let text = format!(
                "jobs:\n  j:\n    command: echo\n    resources: {{ max_memory: {value} }}\n"
            );
            match (parse(&text, Forms::All), ok) {
                (Ok(doc), Some(want)) => assert_eq!(doc.jobs[0].resources.max_memory, want),
                (Err(e), None) => assert!(
                    e.to_string()
                        .starts_with("job 'j': resources.max_memory must be a whole number"),
                    "{e}"
                ),
                (got, want) => panic!("{value}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn wrong_types_name_the_job_and_key_wf_yaml_1() {
        for (body, want) in [
            ("args: echo", "job 'j': args must be a list"),
            ("volumes: data", "job 'j': volumes must be a list"),
            ("command: [echo]", "job 'j': command must be a single value"),
            (
                "environment: [A=1]",
                "job 'j': environment must be a mapping",
            ),
            (
                "environment: {A: [1]}",
                "job 'j': environment.A must be a single value",
            ),
            ("uploads: [a.txt]", "job 'j': uploads must be a mapping"),
            (
                "uploads: {files: a.txt}",
                "job 'j': uploads.files must be a list",
            ),
            ("resources: 5", "job 'j': resources must be a mapping"),
            ("args: [a, ~]", "job 'j': args[1] is empty"),
        ] {
            let e = err(&format!("jobs:\n  j:\n    {body}\n"));
            assert!(e.to_string().starts_with(want), "{body}: {e}");
        }
        let e = err("jobs: 5\n");
        assert!(e.to_string().starts_with("jobs: jobs must be a map"), "{e}");
        let e = err("- a\n- b\n");
        assert!(
            e.to_string()
                .starts_with("top level: a workflow is a mapping"),
            "{e}"
        );
        let e = err("jobs:\n  j: echo hi\n");
        assert!(
            e.to_string().starts_with("job 'j': a job is a mapping"),
            "{e}"
        );
        let e = err("jobs:\n  '': {command: echo}\n");
        assert!(e.to_string().contains("job name must not be empty"), "{e}");
    }

    #[test]
    fn merge_keys_and_anchors_work_without_reordering() {
        let doc = parse(
            r#"
x-defaults: &defaults
  command: echo
  resources: { max_memory: 64 }
"#,
            Forms::All,
        );
        // Extension keys are unknown keys like any other.
        assert!(matches!(doc, Err(WorkflowError::UnknownKey { .. })));
        let doc = parse(
            r#"
jobs:
  first: &base
    command: echo
    args: [one]
    resources: { max_memory: 64 }
  second:
    <<: *base
    args: [two]
  third:
    command: "true"
"#,
            Forms::All,
        )
        .unwrap();
        let names: Vec<_> = doc.jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["first", "second", "third"]);
        assert_eq!(doc.jobs[1].command, "echo");
        assert_eq!(doc.jobs[1].args, ["two"]);
        assert_eq!(doc.jobs[1].resources.max_memory, 64);
    }

    #[test]
    fn blank_runtime_and_network_are_unset() {
        let doc = parse(
            "jobs:\n  j: {command: echo, runtime: '', network: ' '}\n",
            Forms::All,
        )
        .unwrap();
        assert_eq!(doc.jobs[0].runtime, None);
        assert_eq!(doc.jobs[0].network, None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn prop_parse_never_panics(text in prop_oneof![
            any::<String>(),
            "[a-z:{}\\[\\],\\-#&*!<>|'\" \n]{0,120}",
            prop::collection::vec(
                prop::sample::select(vec![
                    "jobs:", "  a:", "  - name: a", "    command: echo", "    requires:",
                    "      - a: COMPLETED", "    depends_on: [a]", "    resources:",
                    "      max_memory: 5", "    <<: *x", "  b: &x", "environment:", "  A: 1",
                    "name: w", "    uploads: {files: [f]}", "    args: [1, 2]", "- x", "  ? [k]",
                ]),
                0..12,
            ).prop_map(|lines| lines.join("\n")),
        ]) {
            for form in [Forms::All, Forms::MapWithRequiresOnly] {
                if let Err(e) = parse(&text, form) {
                    prop_assert!(!e.to_string().is_empty());
                }
            }
        }
    }
}
