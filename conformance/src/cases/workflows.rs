//! Workflows (WF-*). Workflow jobs carry the case's marker in their arguments;
//! the tracker stops and deletes them (workflow records themselves have no
//! removal RPC).

use std::time::Duration;

use joblet_testkit::pb;
use tonic::{Code, Status};

use super::shapes;
use crate::case;
use crate::case::Case;
use crate::check::{self, CaseResult, ensure, ensure_eq, fail};
use crate::cleanup::Resource;
use crate::ctx::Ctx;
use crate::status::FINAL;

pub(crate) const CASES: &[Case] = &[
    case!(
        "workflows.run.map_form_answers_started_and_completes",
        ["WF-RUN-1", "WF-YAML-1", "WF-STATUS-1"],
        Must,
        Mutating,
        "RunWorkflow of a map-form YAML with requires answers {workflowUuid, STARTED}; the workflow ends COMPLETED",
        map_form,
        contracts = [V1]
    ),
    case!(
        "workflows.yaml.list_form_with_depends_on_runs",
        ["WF-YAML-1"],
        Must,
        Mutating,
        "The list form (jobs with name and depends_on) runs in dependency order",
        list_form,
        quirks = ["QUIRK-9"],
        contracts = [V1]
    ),
    case!(
        "workflows.yaml.unknown_key_is_invalid_argument",
        ["WF-YAML-1", "WF-RUN-2"],
        Must,
        Mutating,
        "An unknown job key answers INVALID_ARGUMENT naming the key",
        unknown_key,
        quirks = ["QUIRK-2"],
        contracts = [V1]
    ),
    case!(
        "workflows.run.workflow_field_is_required",
        ["WF-RUN-1", "ALL-4"],
        Must,
        Mutating,
        "RunWorkflow without `workflow` answers INVALID_ARGUMENT naming it",
        workflow_required,
        contracts = [V1]
    ),
    case!(
        "workflows.run.invalid_definitions_start_nothing",
        ["WF-RUN-2"],
        Must,
        Mutating,
        "A cycle, an unknown dependency, a missing network, a bad env name or an upload missing from workflowFiles answer INVALID_ARGUMENT naming the job; no job starts",
        invalid_definitions,
        quirks = ["QUIRK-2"],
        contracts = [V1]
    ),
    case!(
        "workflows.exec.jobs_are_ordinary_jobs",
        ["WF-EXEC-1"],
        Must,
        Mutating,
        "Workflow jobs are listed by ListJobs, have a status and logs",
        ordinary_jobs,
        contracts = [V1]
    ),
    case!(
        "workflows.exec.independent_jobs_run_concurrently",
        ["WF-EXEC-1", "WF-STATUS-1"],
        Must,
        Mutating,
        "Two jobs without requirements run at the same time; the workflow is RUNNING meanwhile",
        concurrent,
        contracts = [V1]
    ),
    case!(
        "workflows.exec.failed_requirement_cancels_dependents",
        ["WF-EXEC-2", "WF-STATUS-1"],
        Must,
        Mutating,
        "When a requirement fails, its dependents and theirs end CANCELED without running; the workflow ends FAILED",
        cascade,
        quirks = ["QUIRK-9"],
        contracts = [V1]
    ),
    case!(
        "workflows.status.reports_counters_times_and_jobs",
        ["WF-STATUS-2", "ALL-3"],
        Must,
        Mutating,
        "GetWorkflowStatus reports counters, createdAt/startedAt/completedAt, yamlContent, name and every job's fields",
        status_fields,
        quirks = ["QUIRK-9"],
        contracts = [V1]
    ),
    case!(
        "workflows.status.unknown_is_not_found",
        ["WF-STATUS-2"],
        Must,
        ReadOnly,
        "GetWorkflowStatus of an unknown ID answers NOT_FOUND",
        status_unknown,
        contracts = [V1]
    ),
    case!(
        "workflows.list.include_completed",
        ["WF-LIST-1"],
        Must,
        Mutating,
        "ListWorkflows(false) returns running workflows only; (true) returns finished ones too",
        list,
        contracts = [V1]
    ),
    case!(
        "workflows.jobs.reports_the_requested_workflow",
        ["WF-JOBS-1"],
        Must,
        Mutating,
        "GetWorkflowJobs returns the jobs of the workflow asked for",
        jobs_of,
        quirks = ["QUIRK-9"],
        contracts = [V1]
    ),
];

/// RunWorkflow of `yaml`; a workflow that was started is tracked.
async fn run_raw(
    cx: &Ctx,
    yaml: &str,
    files: Vec<pb::FileUpload>,
) -> Result<pb::RunWorkflowResponse, Status> {
    let r = cx
        .jobs()
        .run_workflow(pb::RunWorkflowRequest {
            workflow: format!("{}.yaml", cx.name("wf")),
            yaml_content: yaml.into(),
            workflow_files: files,
            ..Default::default()
        })
        .await
        .map(tonic::Response::into_inner);
    if let Ok(w) = &r
        && !w.workflow_uuid.is_empty()
    {
        cx.tracker.add(Resource::Workflow(w.workflow_uuid.clone()));
    }
    r
}

async fn run(cx: &Ctx, yaml: &str) -> CaseResult<String> {
    let r = check::ok("RunWorkflow", run_raw(cx, yaml, vec![]).await)?;
    if r.workflow_uuid.is_empty() {
        return Err(fail("RunWorkflow", "a workflowUuid", "\"\""));
    }
    Ok(r.workflow_uuid)
}

async fn status(cx: &Ctx, id: &str) -> CaseResult<pb::GetWorkflowStatusResponse> {
    Ok(check::ok(
        &format!("GetWorkflowStatus{{workflowUuid: {id}}}"),
        cx.jobs()
            .get_workflow_status(pb::GetWorkflowStatusRequest {
                workflow_uuid: id.into(),
            })
            .await,
    )?
    .into_inner())
}

fn wf_status(s: &pb::GetWorkflowStatusResponse) -> &str {
    s.workflow
        .as_ref()
        .map(|w| w.status.as_str())
        .unwrap_or_default()
}

/// Polls until the workflow is final (40 s at most).
async fn wait_done(cx: &Ctx, id: &str) -> CaseResult<pb::GetWorkflowStatusResponse> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        let s = status(cx, id).await?;
        if FINAL.contains(&wf_status(&s)) {
            return Ok(s);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(fail(
                format!("GetWorkflowStatus{{workflowUuid: {id}}} (polled 40 s)"),
                "a final workflow status",
                format!("status {:?}", wf_status(&s)),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn job_of<'a>(s: &'a pb::GetWorkflowStatusResponse, name: &str) -> Option<&'a pb::WorkflowJob> {
    s.jobs.iter().find(|j| j.job_name == name)
}

fn statuses(s: &pb::GetWorkflowStatusResponse) -> String {
    let mut v: Vec<String> = s
        .jobs
        .iter()
        .map(|j| format!("{}={}", j.job_name, j.status))
        .collect();
    v.sort();
    v.join(", ")
}

async fn map_form(cx: Ctx) -> CaseResult {
    let m = cx.marker();
    let yaml = format!(
        "version: \"1.0\"\nname: {m}\njobs:\n  extract:\n    command: echo\n    args: [\"{m}-extract\"]\n  load:\n    command: echo\n    args: [\"{m}-load\"]\n    requires:\n      - extract: COMPLETED\n"
    );
    let r = check::ok("RunWorkflow (map form)", run_raw(&cx, &yaml, vec![]).await)?;
    ensure_eq(
        "RunWorkflow (map form)",
        "status",
        "STARTED",
        r.status.as_str(),
    )?;
    ensure(
        shapes::is_v4_uuid(&r.workflow_uuid),
        "RunWorkflow (map form)",
        "workflowUuid a v4 UUID",
        format!("{:?}", r.workflow_uuid),
    )?;
    let s = wait_done(&cx, &r.workflow_uuid).await?;
    let call = format!("GetWorkflowStatus{{workflowUuid: {}}}", r.workflow_uuid);
    ensure_eq(&call, "status", "COMPLETED", wf_status(&s))?;
    ensure(
        s.jobs.len() == 2 && s.jobs.iter().all(|j| j.status == "COMPLETED"),
        &call,
        "extract=COMPLETED, load=COMPLETED",
        statuses(&s),
    )
}

async fn list_form(cx: Ctx) -> CaseResult {
    let m = cx.marker();
    let yaml = format!(
        "name: {m}\njobs:\n  - name: first\n    command: echo\n    args: [\"{m}-1\"]\n  - name: second\n    command: echo\n    args: [\"{m}-2\"]\n    depends_on: [first]\n"
    );
    let id = run(&cx, &yaml).await?;
    let s = wait_done(&cx, &id).await?;
    let call = format!("GetWorkflowStatus{{workflowUuid: {id}}} (list form)");
    ensure_eq(&call, "status", "COMPLETED", wf_status(&s))?;
    let first = job_of(&s, "first").ok_or_else(|| fail(&call, "job first", statuses(&s)))?;
    let second = job_of(&s, "second").ok_or_else(|| fail(&call, "job second", statuses(&s)))?;
    ensure_eq(
        &call,
        "second.dependencies",
        &["first".to_owned()][..],
        &second.dependencies[..],
    )?;
    let (a, b) = (
        cx.status(&first.job_uuid).await?,
        cx.status(&second.job_uuid).await?,
    );
    ensure(
        a.end_time <= b.start_time,
        &call,
        "second started after first ended",
        format!(
            "first ended {}, second started {}",
            a.end_time, b.start_time
        ),
    )
}

async fn unknown_key(cx: Ctx) -> CaseResult {
    let m = cx.marker();
    let yaml = format!("jobs:\n  only:\n    command: echo\n    args: [\"{m}\"]\n    retries: 3\n");
    let r = run_raw(&cx, &yaml, vec![]).await;
    check::code_naming(
        "RunWorkflow (job key `retries`)",
        r,
        Code::InvalidArgument,
        &["retries"],
    )?;
    Ok(())
}

async fn workflow_required(cx: Ctx) -> CaseResult {
    let m = cx.marker();
    let r = cx
        .jobs()
        .run_workflow(pb::RunWorkflowRequest {
            workflow: String::new(),
            yaml_content: format!("jobs:\n  a:\n    command: echo\n    args: [\"{m}\"]\n"),
            ..Default::default()
        })
        .await
        .map(tonic::Response::into_inner);
    if let Ok(w) = &r {
        cx.tracker.add(Resource::Workflow(w.workflow_uuid.clone()));
    }
    check::code_naming(
        "RunWorkflow{workflow: \"\"}",
        r,
        Code::InvalidArgument,
        &["workflow"],
    )?;
    Ok(())
}

async fn invalid_definitions(cx: Ctx) -> CaseResult {
    let m = cx.marker();
    let bad_net = cx.name("no-such-net");
    let cases: Vec<(&str, String, Vec<String>)> = vec![
        (
            "a cycle",
            format!(
                "jobs:\n  a:\n    command: echo\n    args: [\"{m}\"]\n    requires:\n      - b: COMPLETED\n  b:\n    command: echo\n    args: [\"{m}\"]\n    requires:\n      - a: COMPLETED\n"
            ),
            vec!["cycle".into(), "circular".into()],
        ),
        (
            "an unknown dependency",
            format!(
                "jobs:\n  a:\n    command: echo\n    args: [\"{m}\"]\n    requires:\n      - ghost: COMPLETED\n"
            ),
            vec!["ghost".into()],
        ),
        (
            "a missing network",
            format!(
                "jobs:\n  a:\n    command: echo\n    args: [\"{m}\"]\n    network: {bad_net}\n"
            ),
            vec![bad_net.clone()],
        ),
        (
            "a bad environment name",
            format!(
                "jobs:\n  a:\n    command: echo\n    args: [\"{m}\"]\n    environment:\n      1BAD: x\n"
            ),
            vec!["1bad".into()],
        ),
        (
            "an upload missing from workflowFiles",
            format!(
                "jobs:\n  a:\n    command: cat\n    args: [\"in.txt\"]\n    uploads:\n      files: [\"in.txt\"]\n  b:\n    command: echo\n    args: [\"{m}\"]\n"
            ),
            vec!["in.txt".into()],
        ),
    ];
    for (what, yaml, naming) in cases {
        let r = run_raw(&cx, &yaml, vec![]).await;
        let call = format!("RunWorkflow with {what}");
        let naming: Vec<&str> = naming.iter().map(String::as_str).collect();
        let s = check::code_naming(&call, r, Code::InvalidArgument, &naming)?;
        if what != "an upload missing from workflowFiles" && what != "a cycle" {
            ensure(
                s.message().contains('a'),
                &call,
                "a message naming job a",
                check::show_status(&s),
            )?;
        }
    }
    // Nothing started: no job carries the marker.
    let list = check::ok("ListJobs", cx.jobs().list_jobs(pb::EmptyRequest {}).await)?.into_inner();
    let started: Vec<&str> = list
        .jobs
        .iter()
        .filter(|j| j.args.iter().any(|a| a.contains(&m)))
        .map(|j| j.uuid.as_str())
        .collect();
    ensure(
        started.is_empty(),
        "ListJobs after the refused workflows",
        "no job of them",
        format!("jobs {started:?}"),
    )
}

async fn ordinary_jobs(cx: Ctx) -> CaseResult {
    let m = cx.marker();
    let yaml = format!("jobs:\n  hello:\n    command: echo\n    args: [\"{m}\"]\n");
    let id = run(&cx, &yaml).await?;
    let s = wait_done(&cx, &id).await?;
    let job =
        job_of(&s, "hello").ok_or_else(|| fail("GetWorkflowStatus", "job hello", statuses(&s)))?;
    let uuid = job.job_uuid.clone();
    ensure(
        shapes::is_v4_uuid(&uuid),
        "GetWorkflowStatus",
        "hello's jobUuid a v4 UUID",
        format!("{uuid:?}"),
    )?;
    let list = check::ok("ListJobs", cx.jobs().list_jobs(pb::EmptyRequest {}).await)?.into_inner();
    ensure(
        list.jobs.iter().any(|j| j.uuid == uuid),
        "ListJobs",
        format!("the workflow's job {uuid}"),
        "not listed",
    )?;
    let st = cx.status(&uuid).await?;
    ensure_eq(
        &format!("GetJobStatus{{uuid: {uuid}}} (workflow job)"),
        "status",
        "COMPLETED",
        st.status.as_str(),
    )?;
    let log = cx.logs(&uuid).await?;
    check::ensure_bytes(
        &format!("GetJobLogs{{uuid: {uuid}}} (workflow job)"),
        format!("{m}\n").as_bytes(),
        &log,
    )
}

async fn concurrent(cx: Ctx) -> CaseResult {
    let m = cx.marker();
    let yaml = format!(
        "jobs:\n  left:\n    command: sleep\n    args: [\"3\"]\n    environment:\n      CF: \"{m}\"\n  right:\n    command: sleep\n    args: [\"3\"]\n    environment:\n      CF: \"{m}\"\n"
    );
    let id = run(&cx, &yaml).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    loop {
        let s = status(&cx, &id).await?;
        let both = ["left", "right"]
            .iter()
            .all(|n| job_of(&s, n).is_some_and(|j| j.status == "RUNNING"));
        if both {
            ensure_eq(
                &format!("GetWorkflowStatus{{workflowUuid: {id}}} while both jobs run"),
                "status",
                "RUNNING",
                wf_status(&s),
            )?;
            return Ok(());
        }
        seen.push(statuses(&s));
        if FINAL.contains(&wf_status(&s)) || tokio::time::Instant::now() >= deadline {
            seen.dedup();
            return Err(fail(
                format!("GetWorkflowStatus{{workflowUuid: {id}}} (polled)"),
                "left and right RUNNING at the same time",
                format!("seen: {}", seen.join(" | ")),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn cascade(cx: Ctx) -> CaseResult {
    let m = cx.marker();
    let yaml = format!(
        "jobs:\n  fails:\n    command: sh\n    args: [\"-c\", \"exit 1\"]\n  next:\n    command: echo\n    args: [\"{m}-next\"]\n    requires:\n      - fails: COMPLETED\n  last:\n    command: echo\n    args: [\"{m}-last\"]\n    requires:\n      - next: COMPLETED\n  aside:\n    command: echo\n    args: [\"{m}-aside\"]\n"
    );
    let id = run(&cx, &yaml).await?;
    let s = wait_done(&cx, &id).await?;
    let call = format!("GetWorkflowStatus{{workflowUuid: {id}}}");
    let want = "aside=COMPLETED, fails=FAILED, last=CANCELED, next=CANCELED";
    ensure(statuses(&s) == want, &call, want, statuses(&s))?;
    for n in ["next", "last"] {
        let j = job_of(&s, n).ok_or_else(|| fail(&call, format!("job {n}"), statuses(&s)))?;
        ensure(
            j.job_uuid.is_empty(),
            &call,
            format!("{n} never started (jobUuid \"\")"),
            format!("jobUuid {:?}", j.job_uuid),
        )?;
    }
    let w = s
        .workflow
        .as_ref()
        .ok_or_else(|| fail(&call, "workflow", "none"))?;
    ensure_eq(&call, "workflow.status", "FAILED", w.status.as_str())?;
    ensure_eq(
        &call,
        "(completedJobs, failedJobs, canceledJobs)",
        &(1, 1, 2),
        &(w.completed_jobs, w.failed_jobs, w.canceled_jobs),
    )?;
    let list = check::ok("ListJobs", cx.jobs().list_jobs(pb::EmptyRequest {}).await)?.into_inner();
    let ran: Vec<&String> = list
        .jobs
        .iter()
        .flat_map(|j| &j.args)
        .filter(|a| a.contains(&format!("{m}-next")) || a.contains(&format!("{m}-last")))
        .collect();
    ensure(
        ran.is_empty(),
        "ListJobs",
        "no job for next or last",
        format!("{ran:?}"),
    )
}

async fn status_fields(cx: Ctx) -> CaseResult {
    let m = cx.marker();
    let yaml = format!(
        "name: {m}\njobs:\n  one:\n    command: echo\n    args: [\"{m}-1\"]\n  two:\n    command: sh\n    args: [\"-c\", \"echo {m}-2\"]\n    requires:\n      - one: COMPLETED\n"
    );
    let id = run(&cx, &yaml).await?;
    let s = wait_done(&cx, &id).await?;
    let call = format!("GetWorkflowStatus{{workflowUuid: {id}}}");
    let w = s
        .workflow
        .as_ref()
        .ok_or_else(|| fail(&call, "workflow", "none"))?;
    ensure_eq(&call, "uuid", id.as_str(), w.uuid.as_str())?;
    ensure_eq(&call, "status", "COMPLETED", w.status.as_str())?;
    ensure_eq(
        &call,
        "(totalJobs, completedJobs, failedJobs, canceledJobs)",
        &(2, 2, 0, 0),
        &(
            w.total_jobs,
            w.completed_jobs,
            w.failed_jobs,
            w.canceled_jobs,
        ),
    )?;
    ensure_eq(&call, "yamlContent", yaml.as_str(), w.yaml_content.as_str())?;
    ensure(!w.workflow.is_empty(), &call, "the workflow's name", "\"\"")?;
    let t = |ts: &Option<pb::Timestamp>| ts.as_ref().map(|t| t.seconds).unwrap_or(0);
    let (c, st, done) = (t(&w.created_at), t(&w.started_at), t(&w.completed_at));
    ensure(
        c > 0 && st >= c && done >= st,
        &call,
        "createdAt <= startedAt <= completedAt, all set",
        format!("{c} {st} {done}"),
    )?;
    let two = job_of(&s, "two").ok_or_else(|| fail(&call, "job two", statuses(&s)))?;
    ensure_eq(
        &call,
        "two.dependencies",
        &["one".to_owned()][..],
        &two.dependencies[..],
    )?;
    for j in &s.jobs {
        let jc = format!("{call} job {}", j.job_name);
        ensure(
            shapes::is_v4_uuid(&j.job_uuid),
            &jc,
            "jobUuid a v4 UUID",
            format!("{:?}", j.job_uuid),
        )?;
        ensure_eq(&jc, "status", "COMPLETED", j.status.as_str())?;
        ensure_eq(&jc, "exitCode", &0, &j.exit_code)?;
        let (a, b) = (t(&j.start_time), t(&j.end_time));
        ensure(
            a > 0 && b >= a,
            &jc,
            "startTime and endTime set, in order",
            format!("{a} {b}"),
        )?;
    }
    Ok(())
}

async fn status_unknown(cx: Ctx) -> CaseResult {
    let id = uuid::Uuid::new_v4().to_string();
    let r = cx
        .jobs()
        .get_workflow_status(pb::GetWorkflowStatusRequest {
            workflow_uuid: id.clone(),
        })
        .await;
    check::code(
        &format!("GetWorkflowStatus{{workflowUuid: {id}}} (unknown)"),
        r,
        Code::NotFound,
    )?;
    Ok(())
}

async fn list(cx: Ctx) -> CaseResult {
    let m = cx.marker();
    let quick = run(
        &cx,
        &format!("jobs:\n  q:\n    command: echo\n    args: [\"{m}-q\"]\n"),
    )
    .await?;
    wait_done(&cx, &quick).await?;
    let long = run(&cx, &format!("jobs:\n  l:\n    command: sleep\n    args: [\"600\"]\n    environment:\n      CF: \"{m}\"\n")).await?;
    let listed =
        |r: pb::ListWorkflowsResponse| r.workflows.into_iter().map(|w| w.uuid).collect::<Vec<_>>();
    let active = listed(
        check::ok(
            "ListWorkflows{includeCompleted: false}",
            cx.jobs()
                .list_workflows(pb::ListWorkflowsRequest {
                    include_completed: false,
                })
                .await,
        )?
        .into_inner(),
    );
    ensure(
        active.contains(&long),
        "ListWorkflows{includeCompleted: false}",
        format!("the running workflow {long}"),
        "not listed",
    )?;
    ensure(
        !active.contains(&quick),
        "ListWorkflows{includeCompleted: false}",
        format!("not the COMPLETED workflow {quick}"),
        "listed",
    )?;
    let all = listed(
        check::ok(
            "ListWorkflows{includeCompleted: true}",
            cx.jobs()
                .list_workflows(pb::ListWorkflowsRequest {
                    include_completed: true,
                })
                .await,
        )?
        .into_inner(),
    );
    ensure(
        all.contains(&long) && all.contains(&quick),
        "ListWorkflows{includeCompleted: true}",
        format!("both {quick} and {long}"),
        format!(
            "{} workflows, ours: {}",
            all.len(),
            all.iter().filter(|u| **u == quick || **u == long).count()
        ),
    )
}

async fn jobs_of(cx: Ctx) -> CaseResult {
    let m = cx.marker();
    let a = run(
        &cx,
        &format!("jobs:\n  alpha:\n    command: echo\n    args: [\"{m}-a\"]\n"),
    )
    .await?;
    let b = run(&cx, &format!("jobs:\n  beta:\n    command: echo\n    args: [\"{m}-b\"]\n  gamma:\n    command: echo\n    args: [\"{m}-g\"]\n")).await?;
    wait_done(&cx, &a).await?;
    wait_done(&cx, &b).await?;
    for (id, want) in [(&b, vec!["beta", "gamma"]), (&a, vec!["alpha"])] {
        let call = format!("GetWorkflowJobs{{workflowUuid: {id}}}");
        let r = check::ok(
            &call,
            cx.jobs()
                .get_workflow_jobs(pb::GetWorkflowJobsRequest {
                    workflow_uuid: id.clone(),
                })
                .await,
        )?
        .into_inner();
        let mut names: Vec<&str> = r.jobs.iter().map(|j| j.job_name.as_str()).collect();
        names.sort_unstable();
        ensure(
            names == want,
            &call,
            format!("jobs {want:?}"),
            format!("jobs {names:?}"),
        )?;
    }
    Ok(())
}
