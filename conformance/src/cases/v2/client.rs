//! The v2 clients of a case and the helpers the v2 cases share: RunJob,
//! GetJobStatus and ListJobs with the v2 messages, and reading streams to
//! their end.

use std::time::Duration;

use joblet_testkit::pb::v2;
use joblet_testkit::pb::v2::job_service_client::JobServiceClient;
use joblet_testkit::pb::v2::runtime_service_client::RuntimeServiceClient;
use tokio_stream::StreamExt;
use tonic::Status;

use crate::check::{self, CaseError, CaseResult, fail, show_status};
use crate::cleanup::Resource;
use crate::ctx::{Ctx, MAX_MESSAGE, Rec};

/// JobService of contract v2.5.9 on a recorded channel.
pub(crate) type Jobs2 = JobServiceClient<Rec>;
/// RuntimeService of contract v2.5.9 on a recorded channel.
pub(crate) type Runtimes2 = RuntimeServiceClient<Rec>;

/// JobService (v2 messages) on the main target.
pub(crate) fn jobs2(cx: &Ctx) -> Jobs2 {
    JobServiceClient::new(cx.channel())
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE)
}

/// RuntimeService (v2 messages) on the main target.
pub(crate) fn runtimes2(cx: &Ctx) -> Runtimes2 {
    RuntimeServiceClient::new(cx.channel())
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE)
}

/// A v2 RunJob request for `command args…`.
pub(crate) fn job2(command: &str, args: &[&str]) -> v2::RunJobRequest {
    v2::RunJobRequest {
        command: command.into(),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        ..Default::default()
    }
}

/// How a report names a v2 RunJob call.
pub(crate) fn describe2(req: &v2::RunJobRequest) -> String {
    let mut s = format!("RunJob{{command: {:?}, args: {:?}", req.command, req.args);
    if !req.timeout.is_empty() {
        s.push_str(&format!(", timeout: {:?}", req.timeout));
    }
    if !req.schedule.is_empty() {
        s.push_str(&format!(", schedule: {:?}", req.schedule));
    }
    s.push('}');
    s
}

/// RunJob with the v2 message; a created job is tracked for removal.
pub(crate) async fn run2_raw(
    cx: &Ctx,
    req: v2::RunJobRequest,
) -> Result<v2::RunJobResponse, Status> {
    let r = jobs2(cx)
        .run_job(req)
        .await
        .map(tonic::Response::into_inner);
    if let Ok(r) = &r
        && !r.job_uuid.is_empty()
    {
        cx.tracker.add(Resource::Job(r.job_uuid.clone()));
    }
    r
}

/// RunJob with the v2 message that must succeed; the job's ID.
pub(crate) async fn run2(cx: &Ctx, req: v2::RunJobRequest) -> CaseResult<String> {
    let call = describe2(&req);
    let r = check::ok(&call, run2_raw(cx, req).await)?;
    if r.job_uuid.is_empty() {
        return Err(fail(call, "a job_uuid", "an empty job_uuid"));
    }
    Ok(r.job_uuid)
}

/// GetJobStatus with the v2 message.
pub(crate) async fn status2(cx: &Ctx, id: &str) -> CaseResult<v2::GetJobStatusResponse> {
    check::ok(
        &format!("GetJobStatus{{uuid: {id}}}"),
        jobs2(cx)
            .get_job_status(v2::GetJobStatusRequest { uuid: id.into() })
            .await
            .map(tonic::Response::into_inner),
    )
}

/// The job `id` as ListJobs (v2) reports it.
pub(crate) async fn listed2(cx: &Ctx, id: &str) -> CaseResult<Option<v2::Job>> {
    let jobs = check::ok(
        "ListJobs",
        jobs2(cx)
            .list_jobs(v2::EmptyRequest {})
            .await
            .map(tonic::Response::into_inner),
    )?;
    Ok(jobs.jobs.into_iter().find(|j| j.uuid == id))
}

/// Reads a stream to its end: the messages and how it ended, or a failure
/// when it is still open after `limit`.
pub(crate) async fn drain<T>(
    call: &str,
    mut stream: tonic::Streaming<T>,
    limit: Duration,
) -> CaseResult<(Vec<T>, Result<(), Status>)> {
    let mut out = Vec::new();
    let read = async {
        while let Some(item) = stream.next().await {
            match item {
                Ok(m) => out.push(m),
                Err(s) => return Err(s),
            }
        }
        Ok(())
    };
    match tokio::time::timeout(limit, read).await {
        Ok(end) => {
            if let Err(s) = &end
                && check::is_transport(s)
            {
                return Err(CaseError::Error(format!(
                    "{call}: stream broken: {}",
                    show_status(s)
                )));
            }
            Ok((out, end))
        }
        Err(_) => Err(fail(
            call,
            format!("the stream to end within {limit:?}"),
            format!(
                "still open after {limit:?}, {} messages received",
                out.len()
            ),
        )),
    }
}

/// A stream that must end with OK within `limit`: its messages.
pub(crate) async fn drain_ok<T>(
    call: &str,
    stream: Result<tonic::Response<tonic::Streaming<T>>, Status>,
    limit: Duration,
) -> CaseResult<Vec<T>> {
    let stream = check::ok(call, stream)?.into_inner();
    let (items, end) = drain(call, stream, limit).await?;
    match end {
        Ok(()) => Ok(items),
        Err(s) => Err(fail(call, "the stream to end with OK", show_status(&s))),
    }
}

/// A call (or a stream's first answer) that must fail with `code` and the
/// message `message` exactly.
pub(crate) fn code_message<T: std::fmt::Debug>(
    call: &str,
    r: Result<T, Status>,
    code: tonic::Code,
    message: &str,
) -> CaseResult {
    let s = check::code(call, r, code)?;
    check::ensure_eq(call, "message", message, s.message())
}

/// The first error of a stream (its opening or its first message), or OK.
pub(crate) async fn stream_status<T>(
    r: Result<tonic::Response<tonic::Streaming<T>>, Status>,
) -> Result<Vec<T>, Status> {
    let mut stream = r?.into_inner();
    let mut out = Vec::new();
    while let Some(item) = stream.next().await {
        out.push(item?);
    }
    Ok(out)
}

/// A runtime of this run's own for a v1 case: installed from local files
/// (InstallRuntimeFromLocal), or, when the node serves v2 alone (a
/// compatibility report of a v1 client), built with BuildRuntime, the way
/// that node installs runtimes, so that a behaviour the node keeps
/// (RemoveRuntime, a job on an installed runtime) is still checked; the
/// install behaviours then meet the install methods gone. Returns the spec
/// and the runtime's name (the same for a built one).
pub(crate) async fn own_runtime(cx: &Ctx) -> CaseResult<(String, String)> {
    if cx.env.node.serves_v1() || !cx.env.node.serves_v2() {
        return cx.install_runtime().await;
    }
    if !cx.env.options.allow_builds {
        return Err(check::skip(
            "the node serves v2.5.9 alone (no InstallRuntimeFromLocal): this case's runtime would be built with BuildRuntime: pass --allow-builds",
        ));
    }
    let name = cx.name("rt");
    cx.tracker.add(Resource::Runtime(name.clone()));
    let call = format!("BuildRuntime{{{name}}} (the case's runtime, on a node of v2.5.9 alone)");
    let yaml = format!(
        "schema_version: \"1.0\"\nname: {name}\nversion: 1.0.0\ndescription: joblet-conformance runtime (removed at the end)\nbase:\n  language: python\n  version: \"3.11\"\n"
    );
    let request = v2::BuildRuntimeRequest {
        yaml_content: yaml,
        ..Default::default()
    };
    drain_ok(
        &call,
        runtimes2(cx).build_runtime(request).await,
        Duration::from_secs(60),
    )
    .await?;
    Ok((name.clone(), name))
}
