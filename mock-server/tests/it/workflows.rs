//! Workflows (WF-RUN, WF-YAML, WF-EXEC, WF-STATUS, WF-LIST, WF-JOBS) and the
//! server-v1 workflow engine (QUIRK-9). Each fixture of `fixtures/workflows/`
//! runs to its documented end.

use std::collections::HashSet;
use std::time::Duration;

use joblet_mock::{ClockMode, MockConfig, MockServer, Profile, RunningMock};
use joblet_testkit::pb;
use tonic::{Code, Status};

use crate::support::*;

fn with_clock(clock: ClockMode) -> MockConfig {
    MockConfig {
        clock,
        host_cores: 4,
        ..MockConfig::default()
    }
}

fn server_v1(clock: ClockMode) -> MockConfig {
    MockConfig {
        profile: Profile::ServerV1,
        ..with_clock(clock)
    }
}

async fn start_config(config: MockConfig) -> (RunningMock, Jobs) {
    let mock = start_with(MockServer::builder().config(config)).await;
    let jobs = jobs(&mock).await;
    (mock, jobs)
}

async fn workflow_jobs(jobs: &mut Jobs, id: &str) -> Result<Vec<pb::WorkflowJob>, Status> {
    jobs.get_workflow_jobs(pb::GetWorkflowJobsRequest {
        workflow_uuid: id.into(),
    })
    .await
    .map(|r| r.into_inner().jobs)
}

async fn status_err(jobs: &mut Jobs, id: &str) -> Status {
    match jobs
        .get_workflow_status(pb::GetWorkflowStatusRequest {
            workflow_uuid: id.into(),
        })
        .await
    {
        Ok(r) => panic!(
            "GetWorkflowStatus {id:?} should fail, got {:?}",
            r.into_inner()
        ),
        Err(e) => e,
    }
}

async fn run_workflow_err(jobs: &mut Jobs, req: pb::RunWorkflowRequest) -> Status {
    match jobs.run_workflow(req.clone()).await {
        Ok(r) => panic!(
            "RunWorkflow should fail, got {:?}\n{}",
            r.into_inner(),
            req.yaml_content
        ),
        Err(e) => e,
    }
}

#[track_caller]
fn info(s: &pb::GetWorkflowStatusResponse) -> &pb::WorkflowInfo {
    s.workflow.as_ref().expect("workflow info")
}

/// Seconds of a Timestamp that must be set.
#[track_caller]
fn secs(t: &Option<pb::Timestamp>) -> i64 {
    let t = t.as_ref().expect("timestamp set");
    assert!(t.seconds > 0, "{t:?}");
    t.seconds
}

/// (total, completed, failed, canceled).
fn counters(w: &pb::WorkflowInfo) -> (i32, i32, i32, i32) {
    (
        w.total_jobs,
        w.completed_jobs,
        w.failed_jobs,
        w.canceled_jobs,
    )
}

fn statuses(jobs: &[pb::WorkflowJob]) -> Vec<(&str, &str)> {
    jobs.iter()
        .map(|j| (j.job_name.as_str(), j.status.as_str()))
        .collect()
}

// ------------------------------------------------------------ WF-RUN

#[tokio::test]
async fn wf_run_1_returns_a_uuid_and_started() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let id = run_workflow(&mut jobs, "jobs:\n  a: {command: echo}\n", vec![]).await;
    assert!(is_v4_uuid(&id), "{id}");
    let again = run_workflow(&mut jobs, "jobs:\n  a: {command: echo}\n", vec![]).await;
    assert_ne!(id, again);
}

#[tokio::test]
async fn wf_run_1_workflow_is_required() {
    for config in [with_clock(ClockMode::Real), server_v1(ClockMode::Real)] {
        let (_mock, mut jobs) = start_config(config).await;
        let mut req = workflow_req("jobs:\n  a: {command: echo}\n", vec![]);
        req.workflow = "  ".into();
        let e = run_workflow_err(&mut jobs, req).await;
        assert_code(&e, Code::InvalidArgument, "workflow is required");
        assert!(list_jobs(&mut jobs).await.is_empty());
    }
}

/// WF-RUN-2: every kind of invalid workflow is refused with INVALID_ARGUMENT
/// naming the field, the job and the problem; nothing starts.
#[tokio::test]
async fn wf_run_2_every_rejection_names_the_job_and_the_problem() {
    let mock = start().await;
    add_volume(&mock, "cache");
    let mut jobs = jobs(&mock).await;
    let ok = "  ok: {command: sleep, args: ['30']}\n";
    let cases: Vec<(&str, String, &str, &[&str])> = vec![
        (
            "syntax",
            "jobs: [unclosed".into(),
            "yamlContent",
            &["invalid workflow YAML"],
        ),
        (
            "unknown key",
            format!("jobs:\n{ok}  a: {{command: echo, comand: x}}\n"),
            "yamlContent",
            &["job 'a'", "unknown key 'comand'"],
        ),
        (
            "cycle",
            format!(
                "jobs:\n{ok}  a: {{command: echo, requires: [{{b: COMPLETED}}]}}\n  b: {{command: echo, depends_on: [a]}}\n"
            ),
            "yamlContent",
            &["circular dependency", "'a' -> 'b' -> 'a'"],
        ),
        (
            "unknown dependency",
            format!("jobs:\n{ok}  a: {{command: echo, depends_on: [ghost]}}\n"),
            "yamlContent",
            &["job 'a' depends on non-existent job 'ghost'"],
        ),
        (
            "duplicate job name",
            "jobs:\n  - {name: a, command: echo}\n  - {name: a, command: echo}\n".into(),
            "yamlContent",
            &["duplicate job name 'a'"],
        ),
        (
            "missing volume",
            format!("jobs:\n{ok}  a: {{command: echo, volumes: [cache, data]}}\n"),
            "yamlContent",
            &["job 'a'", "volume 'data' does not exist"],
        ),
        (
            "missing network",
            format!("jobs:\n{ok}  a: {{command: echo, network: prod}}\n"),
            "yamlContent",
            &["job 'a'", "network 'prod' does not exist"],
        ),
        (
            "missing runtime",
            format!("jobs:\n{ok}  a: {{command: echo, runtime: 'ruby:3.2'}}\n"),
            "yamlContent",
            &["job 'a'", "runtime 'ruby:3.2' does not exist"],
        ),
        (
            "bad environment name",
            format!("jobs:\n{ok}  a: {{command: echo, environment: {{1BAD: x}}}}\n"),
            "yamlContent",
            &["job 'a'", "invalid variable name"],
        ),
        (
            "environment conflict",
            format!(
                "environment: {{K: a}}\njobs:\n{ok}  a: {{command: echo, secret_environment: {{K: b}}}}\n"
            ),
            "yamlContent",
            &["job 'a'", "'K' is defined in both"],
        ),
        (
            "upload not in workflowFiles",
            format!("jobs:\n{ok}  a: {{command: cat, uploads: {{files: [data/orders.csv]}}}}\n"),
            "workflowFiles",
            &["job 'a'", "data/orders.csv"],
        ),
        (
            "no jobs",
            "name: empty\n".into(),
            "yamlContent",
            &["no jobs"],
        ),
        (
            "empty command",
            format!("jobs:\n{ok}  b: {{args: [x]}}\n"),
            "yamlContent",
            &["job 'b': command is required"],
        ),
        (
            "status no job has",
            format!("jobs:\n{ok}  b: {{command: echo, requires: [{{ok: completed}}]}}\n"),
            "yamlContent",
            &["job 'b'", "did you mean COMPLETED?"],
        ),
    ];
    for (what, yaml, field, needles) in cases {
        let e = run_workflow_err(&mut jobs, workflow_req(&yaml, vec![])).await;
        assert_eq!(e.code(), Code::InvalidArgument, "{what}: {e:?}");
        assert!(
            e.message().starts_with(&format!("{field}: ")),
            "{what}: {:?} should name {field}",
            e.message()
        );
        for needle in needles {
            assert!(
                e.message().contains(needle),
                "{what}: {:?} should contain {needle:?}",
                e.message()
            );
        }
    }
    // Nothing started, nothing recorded.
    assert!(list_jobs(&mut jobs).await.is_empty());
    assert!(list_workflows(&mut jobs, true).await.is_empty());
}

// ------------------------------------------------------ fixtures, forms

/// WF-YAML-1 map form with `requires`: the ETL fixture ends COMPLETED, each
/// job a normal job with its uploads, merged environment and masked secrets.
#[tokio::test]
async fn wf_yaml_1_etl_fixture_map_form_runs_to_completed() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let id = run_workflow(&mut jobs, ETL_YAML, etl_files()).await;
    let done = wait_workflow_final(&jobs, &id).await;
    let w = info(&done);
    assert_eq!(w.status, "COMPLETED", "{done:?}");
    assert_eq!(
        (w.uuid.as_str(), w.workflow.as_str()),
        (id.as_str(), "etl-pipeline")
    );
    assert_eq!(counters(w), (3, 3, 0, 0));
    // ALL-6: the secret value does not leave the server, even in yamlContent.
    assert!(!w.yaml_content.contains("not-a-real-password"));
    assert_eq!(
        w.yaml_content,
        ETL_YAML.replace("not-a-real-password", "\"***\"")
    );
    let (created, started, completed) = (
        secs(&w.created_at),
        secs(&w.started_at),
        secs(&w.completed_at),
    );
    assert!(created <= started && started <= completed, "{w:?}");

    assert_eq!(
        statuses(&done.jobs),
        [
            ("extract", "COMPLETED"),
            ("transform", "COMPLETED"),
            ("load", "COMPLETED")
        ]
    );
    let (extract, transform, load) = (
        wf_job(&done.jobs, "extract"),
        wf_job(&done.jobs, "transform"),
        wf_job(&done.jobs, "load"),
    );
    assert!(extract.dependencies.is_empty());
    assert_eq!(transform.dependencies, ["extract"]);
    assert_eq!(load.dependencies, ["transform"]);
    for j in &done.jobs {
        assert!(is_v4_uuid(&j.job_uuid), "{j:?}");
        assert_eq!(j.exit_code, 0);
        assert!(secs(&j.start_time) <= secs(&j.end_time), "{j:?}");
    }
    assert!(secs(&transform.start_time) >= secs(&extract.end_time));
    assert!(secs(&load.start_time) >= secs(&transform.end_time));

    // Normal jobs: logs, status, list.
    let extract_log = logs_text(&mut jobs, &extract.job_uuid).await;
    assert!(
        extract_log.starts_with("extracting orders\n"),
        "{extract_log}"
    );
    assert!(extract_log.contains(ORDERS_CSV), "{extract_log}");
    let load_log = logs_text(&mut jobs, &load.job_uuid).await;
    assert_eq!(load_log, "loading into warehouse\nload complete\n");
    let st = status(&mut jobs, &load.job_uuid).await;
    assert_eq!(st.status, "COMPLETED");
    assert_eq!(st.workflow_uuid, id);
    assert_eq!(st.dependencies, ["transform"]);
    assert_eq!(
        st.environment.get("PIPELINE").map(String::as_str),
        Some("orders")
    );
    assert_eq!(
        st.environment.get("TARGET").map(String::as_str),
        Some("warehouse")
    );
    assert_eq!(
        st.secret_environment.get("DB_PASSWORD").map(String::as_str),
        Some("***")
    );
    let st = status(&mut jobs, &extract.job_uuid).await;
    assert_eq!(st.uploads, ["data/orders.csv"]);
    assert_eq!((st.max_cpu, st.max_memory), (50, 256));
    let listed: Vec<String> = list_jobs(&mut jobs)
        .await
        .into_iter()
        .map(|j| j.uuid)
        .collect();
    let ids: Vec<String> = done.jobs.iter().map(|j| j.job_uuid.clone()).collect();
    assert_eq!(listed, ids, "ListJobs in creation order");
}

/// WF-YAML-1 list form with `depends_on`: the diamond's two branches run at
/// the same time (virtual clock: both start when `prepare` ends and end a
/// second later, when `merge` starts).
#[tokio::test]
async fn wf_yaml_1_diamond_fixture_list_form_runs_branches_concurrently() {
    let (_mock, mut jobs) = start_config(with_clock(ClockMode::Virtual)).await;
    let id = run_workflow(&mut jobs, DIAMOND_YAML, vec![]).await;
    let done = wait_workflow_final(&jobs, &id).await;
    assert_eq!(wf_state(&done), "COMPLETED", "{done:?}");
    assert_eq!(info(&done).workflow, "diamond");
    assert_eq!(counters(info(&done)), (4, 4, 0, 0));
    let t = |name: &str, end: bool| {
        let j = wf_job(&done.jobs, name);
        secs(if end { &j.end_time } else { &j.start_time })
    };
    let fork = t("prepare", true);
    assert_eq!((t("left", false), t("right", false)), (fork, fork));
    assert_eq!((t("left", true), t("right", true)), (fork + 1, fork + 1));
    assert_eq!(t("merge", false), fork + 1);
    assert_eq!(wf_job(&done.jobs, "merge").dependencies, ["left", "right"]);
    let w = info(&done);
    assert_eq!(secs(&w.completed_at) - secs(&w.started_at), 1, "{w:?}");
    let right = wf_job(&done.jobs, "right").job_uuid.clone();
    assert_eq!(logs_text(&mut jobs, &right).await, "right half done\n");
}

/// WF-EXEC-2 with the failing-branch fixture: `report` is canceled without
/// running, `alert` (requires FAILED) and `backup` complete; FAILED.
#[tokio::test]
async fn wf_exec_2_failure_cascades_to_canceled() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let id = run_workflow(&mut jobs, FAILING_YAML, vec![]).await;
    let done = wait_workflow_final(&jobs, &id).await;
    assert_eq!(wf_state(&done), "FAILED", "{done:?}");
    assert_eq!(counters(info(&done)), (4, 2, 1, 1));
    assert_eq!(
        statuses(&done.jobs),
        [
            ("flaky", "FAILED"),
            ("report", "CANCELED"),
            ("alert", "COMPLETED"),
            ("backup", "COMPLETED")
        ]
    );
    assert_eq!(wf_job(&done.jobs, "flaky").exit_code, 1);
    let report = wf_job(&done.jobs, "report");
    assert_eq!(report.job_uuid, "", "a canceled job never ran");
    assert!(
        report.start_time.is_none() && report.end_time.is_some(),
        "{report:?}"
    );
    // It never became a job.
    let names: HashSet<String> = list_jobs(&mut jobs)
        .await
        .into_iter()
        .map(|j| j.name)
        .collect();
    assert_eq!(
        names,
        HashSet::from(["flaky", "alert", "backup"].map(String::from))
    );
    let alert = wf_job(&done.jobs, "alert").job_uuid.clone();
    assert_eq!(
        logs_text(&mut jobs, &alert).await,
        "flaky failed, paging the on-call\n"
    );
}

/// WF-EXEC-2: a cascade goes on through dependents; a job requiring CANCELED runs.
#[tokio::test]
async fn wf_exec_2_cascade_is_transitive_and_canceled_can_be_required() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let yaml = "jobs:
  a: {command: sh, args: ['-c', 'exit 3']}
  b: {command: echo, requires: [{a: COMPLETED}]}
  c: {command: echo, depends_on: [b]}
  d: {command: echo, args: [cleanup], requires: [{c: CANCELED}]}
  e: {command: echo, depends_on: [d]}
";
    let id = run_workflow(&mut jobs, yaml, vec![]).await;
    let done = wait_workflow_final(&jobs, &id).await;
    assert_eq!(
        statuses(&done.jobs),
        [
            ("a", "FAILED"),
            ("b", "CANCELED"),
            ("c", "CANCELED"),
            ("d", "COMPLETED"),
            ("e", "COMPLETED")
        ]
    );
    assert_eq!(wf_job(&done.jobs, "a").exit_code, 3);
    assert_eq!(wf_state(&done), "FAILED");
    assert_eq!(counters(info(&done)), (5, 2, 1, 2));
}

/// WF-EXEC-2 through StopJob: a stopped workflow job (STOPPED) fails the
/// requirement on COMPLETED and satisfies one on STOPPED, at once.
#[tokio::test]
async fn wf_exec_2_stop_job_on_a_workflow_job_cascades() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let yaml = "jobs:
  a: {command: sleep, args: ['30']}
  b: {command: echo, requires: [{a: COMPLETED}]}
  c: {command: echo, args: [after stop], requires: [{a: STOPPED}]}
";
    let id = run_workflow(&mut jobs, yaml, vec![]).await;
    let s = workflow_status(&mut jobs, &id).await;
    let a = wf_job(&s.jobs, "a").job_uuid.clone();
    assert_eq!(status(&mut jobs, &a).await.status, "RUNNING");
    let stopped = jobs
        .stop_job(pb::StopJobReq { uuid: a.clone() })
        .await
        .expect("StopJob")
        .into_inner();
    assert_eq!(stopped.status, "STOPPED");
    // The cascade and the next start happened within StopJob.
    let s = workflow_status(&mut jobs, &id).await;
    assert_eq!(
        statuses(&s.jobs),
        [("a", "STOPPED"), ("b", "CANCELED"), ("c", "COMPLETED")]
    );
    assert_eq!(wf_job(&s.jobs, "a").exit_code, -1);
    assert_eq!(wf_state(&s), "FAILED");
    // A STOPPED job counts as failed.
    assert_eq!(counters(info(&s)), (3, 1, 1, 1));
    let c = wf_job(&s.jobs, "c").job_uuid.clone();
    assert_eq!(logs_text(&mut jobs, &c).await, "after stop\n");
}

/// WF-EXEC-1: a job whose start fails (a cpu_cores the host does not have)
/// ends FAILED with exit code -1 and no job UUID; dependents follow.
#[tokio::test]
async fn wf_exec_1_a_job_that_cannot_start_ends_failed() {
    let (_mock, mut jobs) = start_config(with_clock(ClockMode::Real)).await;
    let yaml = "jobs:
  a: {command: echo, resources: {cpu_cores: '6-7'}}
  b: {command: echo, requires: [{a: COMPLETED}]}
  c: {command: echo, requires: [{a: FAILED}]}
";
    let id = run_workflow(&mut jobs, yaml, vec![]).await;
    let s = wait_workflow_final(&jobs, &id).await;
    assert_eq!(
        statuses(&s.jobs),
        [("a", "FAILED"), ("b", "CANCELED"), ("c", "COMPLETED")]
    );
    let a = wf_job(&s.jobs, "a");
    assert_eq!((a.job_uuid.as_str(), a.exit_code), ("", -1));
    assert_eq!(wf_state(&s), "FAILED");
    assert_eq!(list_jobs(&mut jobs).await.len(), 1, "only c became a job");
}

/// WF-EXEC-1: jobs without requirements start at once, together, as normal
/// jobs (ListJobs, GetJobStatus, GetJobLogs); dependents wait, PENDING.
#[tokio::test]
async fn wf_exec_1_independent_jobs_start_at_once_as_normal_jobs() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let yaml = "name: pair
jobs:
  a: {command: sh, args: ['-c', 'echo a up; sleep 30']}
  b: {command: sleep, args: ['30']}
  c: {command: echo, requires: [{a: COMPLETED}, {b: COMPLETED}]}
";
    let id = run_workflow(&mut jobs, yaml, vec![]).await;
    // Started before RunWorkflow answered.
    let s = workflow_status(&mut jobs, &id).await;
    assert_eq!(wf_state(&s), "RUNNING");
    assert_eq!(
        statuses(&s.jobs),
        [("a", "RUNNING"), ("b", "RUNNING"), ("c", "PENDING")]
    );
    let c = wf_job(&s.jobs, "c");
    assert_eq!(c.job_uuid, "");
    assert!(c.start_time.is_none() && c.end_time.is_none());
    assert_eq!(c.dependencies, ["a", "b"]);
    let w = info(&s);
    assert!(w.started_at.is_some() && w.completed_at.is_none(), "{w:?}");
    let (a, b) = (
        wf_job(&s.jobs, "a").job_uuid.clone(),
        wf_job(&s.jobs, "b").job_uuid.clone(),
    );
    let listed = list_jobs(&mut jobs).await;
    let names: Vec<(&str, &str)> = listed
        .iter()
        .map(|j| (j.uuid.as_str(), j.name.as_str()))
        .collect();
    assert_eq!(names, [(a.as_str(), "a"), (b.as_str(), "b")]);
    assert_eq!(status(&mut jobs, &b).await.workflow_uuid, id);
    let mut log = open_logs(&mut jobs, &a).await;
    let first = within("the first log chunk", futures::StreamExt::next(&mut log)).await;
    assert_eq!(&first.expect("a chunk").expect("ok").payload[..], b"a up\n");
    stop_ok(&mut jobs, &a).await;
    stop_ok(&mut jobs, &b).await;
    let s = workflow_status(&mut jobs, &id).await;
    assert_eq!(
        statuses(&s.jobs),
        [("a", "STOPPED"), ("b", "STOPPED"), ("c", "CANCELED")]
    );
}

// ------------------------------------------------------- WF-STATUS

/// WF-STATUS-1: RUNNING while a job runs, then COMPLETED (manual clock).
#[tokio::test]
async fn wf_status_1_running_then_completed() {
    let (mock, mut jobs) = start_config(with_clock(ClockMode::Manual)).await;
    let yaml =
        "jobs:\n  a: {command: sleep, args: ['60']}\n  b: {command: echo, depends_on: [a]}\n";
    let id = run_workflow(&mut jobs, yaml, vec![]).await;
    let s = workflow_status(&mut jobs, &id).await;
    assert_eq!(wf_state(&s), "RUNNING");
    assert_eq!(statuses(&s.jobs), [("a", "RUNNING"), ("b", "PENDING")]);
    mock.advance_clock("", Duration::from_secs(59))
        .await
        .expect("advance");
    assert_eq!(wf_state(&workflow_status(&mut jobs, &id).await), "RUNNING");
    mock.advance_clock("", Duration::from_secs(1))
        .await
        .expect("advance");
    let s = wait_workflow_final(&jobs, &id).await;
    assert_eq!(wf_state(&s), "COMPLETED");
    let w = info(&s);
    assert_eq!(secs(&w.completed_at) - secs(&w.started_at), 60);
}

/// WF-STATUS-2: the name when the YAML has none (server-facts §6.5), the
/// fields, prefixes (ALL-2), NOT_FOUND.
#[tokio::test]
async fn wf_status_2_fields_default_name_prefix_and_not_found() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let yaml = "jobs:\n  a: {command: echo}\n  b: {command: echo}\n  c: {command: echo}\n  d: {command: echo}\n";
    let id = run_workflow(&mut jobs, yaml, vec![]).await;
    let s = wait_workflow_final(&jobs, &id).await;
    let w = info(&s);
    assert_eq!(w.workflow, "workflow-a-b-and-2-more");
    assert_eq!(w.yaml_content, yaml);
    assert_eq!(counters(w), (4, 4, 0, 0));
    assert_eq!(w.status, "COMPLETED");
    // Prefix and upper case.
    let by_prefix = workflow_status(&mut jobs, &id[..8]).await;
    assert_eq!(info(&by_prefix).uuid, id);
    let upper = workflow_status(&mut jobs, &id.to_uppercase()).await;
    assert_eq!(info(&upper).uuid, id);
    assert_code(
        &status_err(&mut jobs, "00000000-0000-4000-8000-000000000000").await,
        Code::NotFound,
        "not found",
    );
    assert_code(
        &status_err(&mut jobs, "not-a-uuid").await,
        Code::NotFound,
        "not found",
    );
    assert_code(
        &status_err(&mut jobs, "").await,
        Code::InvalidArgument,
        "workflowUuid",
    );
}

/// ALL-2: an ambiguous workflow prefix is INVALID_ARGUMENT with the count.
#[tokio::test]
async fn all_2_ambiguous_workflow_prefix() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let mut ids = Vec::new();
    // 17 UUIDs: two share their first hex digit.
    for _ in 0..17 {
        ids.push(run_workflow(&mut jobs, "jobs:\n  a: {command: echo}\n", vec![]).await);
    }
    let first = ids
        .iter()
        .map(|id| &id[..1])
        .find(|p| ids.iter().filter(|id| id.starts_with(*p)).count() >= 2)
        .expect("pigeonhole");
    let count = ids.iter().filter(|id| id.starts_with(first)).count();
    let e = status_err(&mut jobs, first).await;
    assert_code(&e, Code::InvalidArgument, &format!("{count} workflows"));
    let e = workflow_jobs(&mut jobs, first).await.unwrap_err();
    assert_code(&e, Code::InvalidArgument, "ambiguous");
}

// ------------------------------------------------------ WF-LIST, WF-JOBS

/// WF-LIST-1: without includeCompleted only PENDING and RUNNING workflows;
/// with it, all of them, in creation order.
#[tokio::test]
async fn wf_list_1_with_and_without_completed() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let done = run_workflow(&mut jobs, "jobs:\n  a: {command: echo}\n", vec![]).await;
    let running = run_workflow(
        &mut jobs,
        "jobs:\n  a: {command: sleep, args: ['30']}\n",
        vec![],
    )
    .await;
    let failed = run_workflow(&mut jobs, "jobs:\n  a: {command: 'false'}\n", vec![]).await;
    wait_workflow_final(&jobs, &done).await;
    wait_workflow_final(&jobs, &failed).await;
    let open = list_workflows(&mut jobs, false).await;
    assert_eq!(
        open.iter()
            .map(|w| (w.uuid.as_str(), w.status.as_str()))
            .collect::<Vec<_>>(),
        [(running.as_str(), "RUNNING")]
    );
    let all = list_workflows(&mut jobs, true).await;
    assert_eq!(
        all.iter()
            .map(|w| (w.uuid.as_str(), w.status.as_str()))
            .collect::<Vec<_>>(),
        [
            (done.as_str(), "COMPLETED"),
            (running.as_str(), "RUNNING"),
            (failed.as_str(), "FAILED")
        ]
    );
    assert_eq!(all[0].workflow, "workflow-a");
    assert_eq!(counters(&all[2]), (1, 0, 1, 0));
}

/// WF-JOBS-1: the jobs of the workflow asked for (by UUID or prefix).
#[tokio::test]
async fn wf_jobs_1_returns_the_requested_workflows_jobs() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let first = run_workflow(&mut jobs, "jobs:\n  one: {command: echo}\n", vec![]).await;
    let second = run_workflow(&mut jobs, FAILING_YAML, vec![]).await;
    wait_workflow_final(&jobs, &second).await;
    let got = workflow_jobs(&mut jobs, &second)
        .await
        .expect("GetWorkflowJobs");
    assert_eq!(
        statuses(&got),
        [
            ("flaky", "FAILED"),
            ("report", "CANCELED"),
            ("alert", "COMPLETED"),
            ("backup", "COMPLETED")
        ]
    );
    assert_eq!(got, workflow_status(&mut jobs, &second).await.jobs);
    let got = workflow_jobs(&mut jobs, &first[..10])
        .await
        .expect("by prefix");
    assert_eq!(statuses(&got), [("one", "COMPLETED")]);
    let e = workflow_jobs(&mut jobs, "00000000-0000-4000-8000-000000000000")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
}

// ------------------------------------------------------- virtual clock

/// WF-EXEC-1 under the virtual clock: 600 s then 300 s of sleep pass at
/// once, and the workflow's times follow the clock.
#[tokio::test]
async fn wf_exec_1_virtual_clock_runs_long_sleeps() {
    let (mock, mut jobs) = start_config(with_clock(ClockMode::Virtual)).await;
    let t0 = mock.shared().clock.now_secs();
    let yaml = "jobs:
  long: {command: sleep, args: ['600']}
  longer: {command: sh, args: ['-c', 'sleep 300; echo done'], requires: [{long: COMPLETED}]}
";
    let id = run_workflow(&mut jobs, yaml, vec![]).await;
    let s = within("the virtual workflow", wait_workflow_final(&jobs, &id)).await;
    assert_eq!(wf_state(&s), "COMPLETED", "{s:?}");
    let w = info(&s);
    let span = secs(&w.completed_at) - secs(&w.started_at);
    assert!((900..=901).contains(&span), "{span} s: {w:?}");
    assert!(secs(&w.started_at) - t0 <= 1);
    let (long, longer) = (wf_job(&s.jobs, "long"), wf_job(&s.jobs, "longer"));
    assert_eq!(secs(&longer.start_time), secs(&long.end_time));
    assert_eq!(secs(&longer.end_time) - secs(&longer.start_time), 300);
    assert!(mock.shared().clock.now_secs() >= t0 + 900);
    let id = longer.job_uuid.clone();
    assert_eq!(logs_text(&mut jobs, &id).await, "done\n");
}

/// JOB-LIFE-2 under the virtual clock: a job scheduled an hour ahead runs
/// then; its start (submission), scheduled and end times are consistent.
#[tokio::test]
async fn job_life_2_virtual_clock_runs_an_hour_ahead_schedule() {
    let (mock, mut jobs) = start_config(with_clock(ClockMode::Virtual)).await;
    let t0 = mock.shared().clock.now_secs();
    let job = run(&mut jobs, scheduled(cmd("echo", &["later"]), 3600)).await;
    assert_eq!(job.status, "SCHEDULED");
    let done = within("the scheduled job", wait_final(&jobs, &job.job_uuid)).await;
    assert_eq!(done.status, "COMPLETED", "{done:?}");
    let start = job_time(&done.start_time).timestamp();
    let due = job_time(&done.scheduled_time).timestamp();
    let end = job_time(&done.end_time).timestamp();
    assert!((start - t0).abs() <= 1, "{done:?}");
    assert!((due - start - 3600).abs() <= 1, "{done:?}");
    assert!(end >= due && end - due <= 1, "{done:?}");
}

// ------------------------------------------------------------ QUIRK-9

/// QUIRK-9: nothing starts before the first tick, 5 s after RunWorkflow;
/// then each dependent starts at the next tick after its requirement holds.
/// Unstarted jobs show jobUuid "0"; WorkflowJob times and exit codes are unset.
#[tokio::test]
async fn quirk_9_ticks_every_5s_and_nothing_starts_before_the_first() {
    let (mock, mut jobs) = start_config(server_v1(ClockMode::Manual)).await;
    let yaml = "jobs:
  a: {command: echo, args: [a]}
  b: {command: echo, requires: [{a: COMPLETED}]}
  c: {command: sh, args: ['-c', 'exit 2'], requires: [{b: COMPLETED}]}
";
    let id = run_workflow(&mut jobs, yaml, vec![]).await;
    let s = workflow_status(&mut jobs, &id).await;
    assert_eq!(wf_state(&s), "PENDING");
    assert!(info(&s).started_at.is_none());
    assert!(
        s.jobs
            .iter()
            .all(|j| j.job_uuid == "0" && j.status == "PENDING"),
        "{s:?}"
    );
    assert!(list_jobs(&mut jobs).await.is_empty());
    mock.advance_clock("", Duration::from_millis(4999))
        .await
        .expect("advance");
    assert!(
        list_jobs(&mut jobs).await.is_empty(),
        "started before the first tick"
    );
    let mut expect = vec![
        [("a", "COMPLETED"), ("b", "PENDING"), ("c", "PENDING")],
        [("a", "COMPLETED"), ("b", "COMPLETED"), ("c", "PENDING")],
        [("a", "COMPLETED"), ("b", "COMPLETED"), ("c", "FAILED")],
    ]
    .into_iter();
    let mut step = Duration::from_millis(1);
    for want in expect.by_ref() {
        mock.advance_clock("", step).await.expect("advance");
        step = Duration::from_secs(5);
        let s = wait_workflow(&jobs, &id, "the tick's jobs", |s| statuses(&s.jobs) == want).await;
        assert!(
            s.jobs
                .iter()
                .all(|j| j.start_time.is_none() && j.end_time.is_none() && j.exit_code == 0)
        );
    }
    let s = workflow_status(&mut jobs, &id).await;
    assert_eq!(wf_state(&s), "FAILED");
    let w = info(&s);
    assert_eq!(secs(&w.completed_at) - secs(&w.created_at), 15, "{w:?}");
    assert_eq!(secs(&w.started_at) - secs(&w.created_at), 5, "{w:?}");
    assert!(s.jobs.iter().all(|j| is_v4_uuid(&j.job_uuid)));
}

/// QUIRK-9: a cascade-canceled workflow ends CANCELED, canceledJobs is 0,
/// the canceled job keeps jobUuid "0"; ListWorkflows(false) keeps CANCELED
/// ones and drops COMPLETED ones.
#[tokio::test]
async fn quirk_9_cascade_canceled_workflow_ends_canceled() {
    let (_mock, mut jobs) = start_config(server_v1(ClockMode::Virtual)).await;
    let etl = run_workflow(&mut jobs, ETL_YAML, etl_files()).await;
    let failing = run_workflow(&mut jobs, FAILING_YAML, vec![]).await;
    let s = within("the failing branch", wait_workflow_final(&jobs, &failing)).await;
    assert_eq!(wf_state(&s), "CANCELED", "{s:?}");
    assert_eq!(counters(info(&s)), (4, 2, 1, 0));
    assert_eq!(
        statuses(&s.jobs),
        [
            ("flaky", "FAILED"),
            ("report", "CANCELED"),
            ("alert", "COMPLETED"),
            ("backup", "COMPLETED")
        ]
    );
    assert_eq!(wf_job(&s.jobs, "report").job_uuid, "0");
    assert_eq!(wf_job(&s.jobs, "flaky").exit_code, 0, "exit codes unset");
    let e = within("the ETL pipeline", wait_workflow_final(&jobs, &etl)).await;
    assert_eq!(wf_state(&e), "COMPLETED");
    let open: Vec<String> = list_workflows(&mut jobs, false)
        .await
        .into_iter()
        .map(|w| w.uuid)
        .collect();
    assert_eq!(open, [failing]);
    assert_eq!(list_workflows(&mut jobs, true).await.len(), 2);
}

/// QUIRK-9: the ETL fixture completes under server-v1 (uploads included).
#[tokio::test]
async fn quirk_9_etl_fixture_completes() {
    let (_mock, mut jobs) = start_config(server_v1(ClockMode::Virtual)).await;
    let id = run_workflow(&mut jobs, ETL_YAML, etl_files()).await;
    let s = within("the ETL pipeline", wait_workflow_final(&jobs, &id)).await;
    assert_eq!(wf_state(&s), "COMPLETED", "{s:?}");
    let w = info(&s);
    assert_eq!(counters(w), (3, 3, 0, 0));
    // Three ticks, 5 s apart, after creation.
    assert!(secs(&w.completed_at) - secs(&w.created_at) >= 15, "{w:?}");
    let extract = wf_job(&s.jobs, "extract").job_uuid.clone();
    assert!(logs_text(&mut jobs, &extract).await.contains(ORDERS_CSV));
}

/// QUIRK-9: GetWorkflowJobs reports the session's first workflow, whatever
/// is asked; NOT_FOUND "workflow 1 not found" before any.
#[tokio::test]
async fn quirk_9_get_workflow_jobs_reports_the_first_workflow() {
    let (_mock, mut jobs) = start_config(server_v1(ClockMode::Virtual)).await;
    let e = workflow_jobs(&mut jobs, "anything").await.unwrap_err();
    assert_code(
        &e,
        Code::NotFound,
        "workflow not found: workflow 1 not found",
    );
    run_workflow(&mut jobs, ETL_YAML, etl_files()).await;
    let second = run_workflow(&mut jobs, FAILING_YAML, vec![]).await;
    let got = workflow_jobs(&mut jobs, &second)
        .await
        .expect("GetWorkflowJobs");
    let names: Vec<&str> = got.iter().map(|j| j.job_name.as_str()).collect();
    assert_eq!(names, ["extract", "transform", "load"]);
}

/// QUIRK-9: only the map form with `requires`; failures answer INTERNAL
/// "failed to start workflow orchestration: …"; nothing starts.
#[tokio::test]
async fn quirk_9_only_the_map_form_and_internal_errors() {
    let (_mock, mut jobs) = start_config(server_v1(ClockMode::Virtual)).await;
    let cases = [
        (
            DIAMOND_YAML.to_owned(),
            "failed to parse workflow YAML content",
        ),
        (
            "jobs:\n  a: {command: echo}\n  b: {command: echo, depends_on: [a]}\n".to_owned(),
            "failed to parse workflow YAML content",
        ),
        (
            "jobs: [unclosed".to_owned(),
            "failed to parse workflow YAML content",
        ),
        (
            "jobs:\n  a: {command: echo, requires: [{a: COMPLETED}]}\n".to_owned(),
            "workflow validation failed: circular dependency",
        ),
        (
            "jobs:\n  a: {command: echo, volumes: [nope]}\n".to_owned(),
            "workflow validation failed",
        ),
    ];
    for (yaml, needle) in cases {
        let e = run_workflow_err(&mut jobs, workflow_req(&yaml, vec![])).await;
        assert_code(
            &e,
            Code::Internal,
            "failed to start workflow orchestration: ",
        );
        assert_code(&e, Code::Internal, needle);
    }
    let mut req = workflow_req("", vec![]);
    req.workflow = "pipeline.yaml".into();
    let e = run_workflow_err(&mut jobs, req).await;
    assert_code(&e, Code::Internal, "failed to read YAML file");
    assert!(list_workflows(&mut jobs, true).await.is_empty());
    assert!(list_jobs(&mut jobs).await.is_empty());
}

/// QUIRK-9: a request without YAML makes an empty workflow named as sent,
/// PENDING for ever; GetWorkflowStatus takes prefixes; misses are NOT_FOUND
/// "workflow not found: …".
#[tokio::test]
async fn quirk_9_empty_workflow_prefix_lookup_and_not_found() {
    let (_mock, mut jobs) = start_config(server_v1(ClockMode::Virtual)).await;
    let mut req = workflow_req("", vec![]);
    req.workflow = "nightly".into();
    let id = jobs
        .run_workflow(req)
        .await
        .expect("RunWorkflow")
        .into_inner()
        .workflow_uuid;
    let s = workflow_status(&mut jobs, &id[..6]).await;
    let w = info(&s);
    assert_eq!(
        (w.uuid.as_str(), w.workflow.as_str(), w.status.as_str()),
        (id.as_str(), "nightly", "PENDING")
    );
    assert_eq!(w.total_jobs, 0);
    let e = status_err(&mut jobs, "00000000-0000-4000-8000-000000000000").await;
    assert_code(
        &e,
        Code::NotFound,
        "workflow not found: 00000000-0000-4000-8000-000000000000",
    );
    // A workflow whose network the node lacks is accepted; the job fails.
    let id = run_workflow(
        &mut jobs,
        "jobs:\n  a: {command: echo, network: nowhere}\n  b: {command: echo, requires: [{a: COMPLETED}]}\n",
        vec![],
    )
    .await;
    let s = within("the failing job", wait_workflow_final(&jobs, &id)).await;
    assert_eq!(statuses(&s.jobs), [("a", "FAILED"), ("b", "CANCELED")]);
    assert_eq!(wf_state(&s), "CANCELED");
}

/// WF-EXEC-1: a long chain of jobs that end at once runs to its end (each
/// job starts the next as it ends; the engine does not nest those starts).
#[tokio::test]
async fn wf_exec_1_a_long_chain_of_instant_jobs_completes() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let n = 2000;
    let mut yaml = String::from("jobs:\n  j0: {command: 'true'}\n");
    for i in 1..n {
        yaml.push_str(&format!(
            "  j{i}: {{command: 'true', depends_on: [j{}]}}\n",
            i - 1
        ));
    }
    let id = run_workflow(&mut jobs, &yaml, vec![]).await;
    let s = wait_workflow_final(&jobs, &id).await;
    assert_eq!(wf_state(&s), "COMPLETED");
    assert_eq!(counters(info(&s)), (n, n, 0, 0));
}

/// QUIRK-2 alone: a refused workflow answers INTERNAL with the server's prefix.
#[tokio::test]
async fn quirk_2_refused_workflow_answers_internal() {
    let (_mock, mut jobs) = start_config(MockConfig {
        extra_quirks: vec![joblet_mock::Quirk::InternalErrors],
        ..with_clock(ClockMode::Real)
    })
    .await;
    let yaml = "jobs:\n  a: {command: echo, depends_on: [ghost]}\n";
    let e = run_workflow_err(&mut jobs, workflow_req(yaml, vec![])).await;
    assert_code(
        &e,
        Code::Internal,
        "failed to start workflow orchestration: yamlContent: job 'a' depends on non-existent job 'ghost'",
    );
}

/// QUIRK-5 alone: GetWorkflowJobs takes only a full UUID (GetWorkflowStatus
/// still takes a prefix).
#[tokio::test]
async fn quirk_5_get_workflow_jobs_needs_the_full_uuid() {
    let (_mock, mut jobs) = start_config(MockConfig {
        extra_quirks: vec![joblet_mock::Quirk::LimitedPrefixes],
        ..with_clock(ClockMode::Real)
    })
    .await;
    let id = run_workflow(&mut jobs, "jobs:\n  a: {command: echo}\n", vec![]).await;
    assert_eq!(
        workflow_jobs(&mut jobs, &id)
            .await
            .expect("full UUID")
            .len(),
        1
    );
    let e = workflow_jobs(&mut jobs, &id[..8]).await.unwrap_err();
    assert_code(&e, Code::NotFound, "workflow not found");
    assert_eq!(info(&workflow_status(&mut jobs, &id[..8]).await).uuid, id);
}

// ------------------------------------------------------------ --max-workflows

/// `--max-workflows`: past the cap the oldest *finished* workflow is evicted
/// (a running one, however old, never is); when none has finished,
/// RunWorkflow answers RESOURCE_EXHAUSTED naming the flag. No workload makes
/// a session's workflows grow without bound.
#[tokio::test]
async fn max_workflows_evicts_the_oldest_finished_and_refuses_when_none_has() {
    let config = MockConfig {
        max_workflows: 3,
        ..with_clock(ClockMode::Manual)
    };
    let (mock, mut jobs) = start_config(config).await;
    let sleeper = "jobs:\n  a: {command: sleep, args: ['60']}\n";
    let quick = "jobs:\n  a: {command: echo, args: [hi]}\n";
    // The oldest runs for a minute of manual clock; two quick ones finish.
    let running = run_workflow(&mut jobs, sleeper, vec![]).await;
    let done1 = run_workflow(&mut jobs, quick, vec![]).await;
    wait_workflow_final(&jobs, &done1).await;
    let done2 = run_workflow(&mut jobs, quick, vec![]).await;
    wait_workflow_final(&jobs, &done2).await;
    // A fourth: the oldest finished (done1) goes, not the older running one.
    let fourth = run_workflow(&mut jobs, sleeper, vec![]).await;
    assert_code(
        &status_err(&mut jobs, &done1).await,
        Code::NotFound,
        "not found",
    );
    for id in [&running, &done2, &fourth] {
        assert_eq!(info(&workflow_status(&mut jobs, id).await).uuid, *id);
    }
    // A fifth: done2 goes; then all three are running and a sixth is refused.
    let fifth = run_workflow(&mut jobs, sleeper, vec![]).await;
    assert_code(
        &status_err(&mut jobs, &done2).await,
        Code::NotFound,
        "not found",
    );
    let refused = run_workflow_err(&mut jobs, workflow_req(quick, vec![])).await;
    assert_code(&refused, Code::ResourceExhausted, "--max-workflows");
    let listed: Vec<String> = jobs
        .list_workflows(pb::ListWorkflowsRequest {
            include_completed: true,
        })
        .await
        .expect("ListWorkflows")
        .into_inner()
        .workflows
        .into_iter()
        .map(|w| w.uuid)
        .collect();
    assert_eq!(listed, [running.clone(), fourth.clone(), fifth.clone()]);
    // Once the sleeps end, there is room again (the oldest finished goes).
    mock.advance_clock("", Duration::from_secs(60))
        .await
        .expect("advance");
    wait_workflow_final(&jobs, &running).await;
    let sixth = run_workflow(&mut jobs, quick, vec![]).await;
    assert_code(
        &status_err(&mut jobs, &running).await,
        Code::NotFound,
        "not found",
    );
    assert_eq!(info(&workflow_status(&mut jobs, &sixth).await).uuid, sixth);
}
