//! Making a v2-only call on the target with the `pb::v2` clients and
//! reducing its answer. Every stream read ends by itself: a metrics or
//! telematics stream is read until it ends, until nothing more comes within
//! [`LIVE_WAIT`] (so it also ends when the node's clock does not move), for
//! [`LIVE_TOTAL`] at most, or for [`MAX_ITEMS`] messages; a history (the
//! Get calls) and a build must end by themselves within a longer wait.

use std::time::Duration;

use joblet_testkit::pb::v2;
use joblet_testkit::pb::v2::build_runtime_progress::ProgressType;
use joblet_testkit::pb::v2::job_service_client::JobServiceClient;
use joblet_testkit::pb::v2::runtime_service_client::RuntimeServiceClient;
use joblet_testkit::pb::v2::telematics_event::Data;
use tokio::time::Instant;
use tokio_stream::StreamExt;
use tonic::Status;
use tonic::transport::Channel;

use super::call::{Answer, RunReq};
use super::v2call::{
    BuildMsg, BuildResult, End, Event, Range, RtView, Sample, V2Answer, V2Call, Validated, YamlInfo,
};
use crate::cleanup::Resource;

/// The longest wait for the next message of a live stream.
pub const LIVE_WAIT: Duration = Duration::from_millis(300);
/// The longest read of a live stream.
pub const LIVE_TOTAL: Duration = Duration::from_millis(400);
/// The most messages read of one stream.
pub const MAX_ITEMS: usize = 400;
/// The longest wait for the next message of a history or a build.
const HISTORY_WAIT: Duration = Duration::from_secs(10);
/// The longest read of a history or a build.
const HISTORY_TOTAL: Duration = Duration::from_secs(30);
/// The longest wait for a unary answer.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads `stream` within the bounds: its messages and how it ended.
async fn read<T>(
    mut stream: tonic::Streaming<T>,
    wait: Duration,
    total: Duration,
) -> (Vec<T>, End) {
    let deadline = Instant::now() + total;
    let mut out = Vec::new();
    loop {
        if out.len() >= MAX_ITEMS {
            return (out, End::Open);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(wait.min(left), stream.next()).await {
            Ok(Some(Ok(m))) => out.push(m),
            Ok(Some(Err(s))) => return (out, End::Error(s.code(), s.message().to_owned())),
            Ok(None) => return (out, End::Ok),
            Err(_) => return (out, End::Open),
        }
    }
}

/// Opens a stream and reads it: an error before any message is the call's
/// answer.
async fn open<T, F>(opened: F, wait: Duration, total: Duration) -> Result<(Vec<T>, End), Answer>
where
    F: std::future::Future<Output = Result<tonic::Response<tonic::Streaming<T>>, Status>>,
{
    let stream = match tokio::time::timeout(CALL_TIMEOUT, opened).await {
        Ok(Ok(s)) => s.into_inner(),
        Ok(Err(s)) => return Err(Answer::Error(s.code(), s.message().to_owned())),
        Err(_) => {
            return Err(Answer::Error(
                tonic::Code::DeadlineExceeded,
                "no answer within 30 s (explorer)".into(),
            ));
        }
    };
    let (items, end) = read(stream, wait, total).await;
    match end {
        End::Error(code, m) if items.is_empty() => Err(Answer::Error(code, m)),
        end => Ok((items, end)),
    }
}

fn sample(s: v2::JobMetricsEvent) -> Sample {
    Sample {
        ts: s.timestamp,
        uuid: s.job_uuid,
        cpu: s.cpu_percent,
        gpu: s.gpu_percent,
        memory: s.memory_bytes,
        memory_limit: s.memory_limit,
        counters: [
            s.disk_read_bytes,
            s.disk_write_bytes,
            s.net_recv_bytes,
            s.net_sent_bytes,
        ],
        gpu_memory: s.gpu_memory_bytes,
    }
}

fn event(e: v2::TelematicsEvent) -> Event {
    let mut out = Event {
        ts: e.timestamp,
        uuid: e.job_uuid,
        kind: e.r#type,
        data: None,
        pid: 0,
        ppid: 0,
        what: String::new(),
        args: vec![],
        exit_code: 0,
        operation: String::new(),
    };
    let (name, pid) = match e.data {
        None => return out,
        Some(Data::Exec(x)) => {
            out.ppid = x.ppid;
            out.what = x.binary;
            out.args = x.args;
            out.exit_code = x.exit_code;
            ("exec", x.pid)
        }
        Some(Data::File(x)) => {
            out.what = x.path;
            out.operation = x.operation;
            ("file", x.pid)
        }
        Some(Data::Connect(x)) => ("connect", x.pid),
        Some(Data::Accept(x)) => ("accept", x.pid),
        Some(Data::Mmap(x)) => ("mmap", x.pid),
        Some(Data::Mprotect(x)) => ("mprotect", x.pid),
        Some(Data::SocketData(x)) => ("socket_data", x.pid),
    };
    out.data = Some(name);
    out.pid = pid;
    out
}

fn build_msg(m: v2::BuildRuntimeProgress) -> BuildMsg {
    match m.progress_type {
        Some(ProgressType::Phase(p)) => {
            BuildMsg::Phase(p.phase_number, p.total_phases, p.phase_name)
        }
        Some(ProgressType::Log(l)) => BuildMsg::Log(l.level, l.message, l.timestamp),
        Some(ProgressType::Result(r)) => BuildMsg::Result(BuildResult {
            success: r.success,
            message: r.message,
            name: r.runtime_name,
            version: r.runtime_version,
            path: r.install_path,
            size: r.size_bytes,
        }),
        None => BuildMsg::Empty,
    }
}

fn run_request(r: &RunReq) -> v2::RunJobRequest {
    let (command, args) = r.cmd.command_args();
    v2::RunJobRequest {
        command,
        args,
        max_cpu: r.limits.0,
        max_memory: r.limits.1,
        max_io_bps: r.limits.2,
        cpu_cores: r.cpu_cores.clone(),
        schedule: r.schedule.clone(),
        network: r.network.clone(),
        volumes: r.volumes.clone(),
        runtime: r.runtime.clone(),
        gpu_count: r.gpu_count,
        ..Default::default()
    }
}

/// RunJob with the v2 message on `channel`.
pub async fn run(channel: &Channel, req: &RunReq) -> Answer {
    let mut jobs = JobServiceClient::new(channel.clone());
    match tokio::time::timeout(CALL_TIMEOUT, jobs.run_job(run_request(req))).await {
        Ok(Ok(r)) => {
            let r = r.into_inner();
            Answer::V2(V2Answer::Run(r.job_uuid, r.status))
        }
        Ok(Err(s)) => Answer::Error(s.code(), s.message().to_owned()),
        Err(_) => timeout(),
    }
}

/// Makes `call` on `channel`; `prefix` selects the run's own runtimes in a
/// list.
pub async fn execute(channel: &Channel, call: &V2Call, prefix: &str) -> Answer {
    let mut jobs = JobServiceClient::new(channel.clone());
    let mut rts = RuntimeServiceClient::new(channel.clone());
    let r: Result<V2Answer, Answer> = match call {
        V2Call::StreamMetrics(id) => {
            let req = v2::StreamJobMetricsRequest {
                job_uuid: id.id.clone(),
            };
            open(jobs.stream_job_metrics(req), LIVE_WAIT, LIVE_TOTAL)
                .await
                .map(|(s, end)| V2Answer::Samples(s.into_iter().map(sample).collect(), end))
        }
        V2Call::GetMetrics(id, Range { start, end, limit }) => {
            let req = v2::GetJobMetricsRequest {
                job_uuid: id.id.clone(),
                start_time: *start,
                end_time: *end,
                limit: *limit,
            };
            open(jobs.get_job_metrics(req), HISTORY_WAIT, HISTORY_TOTAL)
                .await
                .map(|(s, end)| V2Answer::Samples(s.into_iter().map(sample).collect(), end))
        }
        V2Call::StreamTelem(id, types) => {
            let req = v2::StreamJobTelematicsRequest {
                job_uuid: id.id.clone(),
                types: types.clone(),
            };
            open(jobs.stream_job_telematics(req), LIVE_WAIT, LIVE_TOTAL)
                .await
                .map(|(e, end)| V2Answer::Events(e.into_iter().map(event).collect(), end))
        }
        V2Call::GetTelem(id, types, Range { start, end, limit }) => {
            let req = v2::GetJobTelematicsRequest {
                job_uuid: id.id.clone(),
                types: types.clone(),
                start_time: *start,
                end_time: *end,
                limit: *limit,
            };
            open(jobs.get_job_telematics(req), HISTORY_WAIT, HISTORY_TOTAL)
                .await
                .map(|(e, end)| V2Answer::Events(e.into_iter().map(event).collect(), end))
        }
        V2Call::Validate(y) => {
            let req = v2::ValidateRuntimeYamlRequest {
                yaml_content: y.text(),
            };
            match tokio::time::timeout(CALL_TIMEOUT, rts.validate_runtime_yaml(req)).await {
                Ok(Ok(r)) => Ok(V2Answer::Validated(validated(r.into_inner()))),
                Ok(Err(s)) => Err(Answer::Error(s.code(), s.message().to_owned())),
                Err(_) => Err(timeout()),
            }
        }
        V2Call::Build {
            yaml,
            dry_run,
            verbose,
        } => {
            let req = v2::BuildRuntimeRequest {
                yaml_content: yaml.text(),
                dry_run: *dry_run,
                verbose: *verbose,
                force_rebuild: false,
            };
            open(rts.build_runtime(req), HISTORY_WAIT, HISTORY_TOTAL)
                .await
                .map(|(m, end)| V2Answer::Build(m.into_iter().map(build_msg).collect(), end))
        }
        V2Call::ListRuntimes => {
            match tokio::time::timeout(CALL_TIMEOUT, rts.list_runtimes(v2::EmptyRequest {})).await {
                Ok(Ok(r)) => Ok(V2Answer::Runtimes(
                    r.into_inner()
                        .runtimes
                        .into_iter()
                        .filter(|r| r.name.contains(prefix))
                        .map(|r| RtView {
                            name: r.name,
                            language: r.language,
                            version: r.version,
                            language_version: r.language_version,
                            description: r.description,
                            yaml: r.original_yaml,
                        })
                        .collect(),
                )),
                Ok(Err(s)) => Err(Answer::Error(s.code(), s.message().to_owned())),
                Err(_) => Err(timeout()),
            }
        }
    };
    match r {
        Ok(a) => Answer::V2(a),
        Err(a) => a,
    }
}

fn timeout() -> Answer {
    Answer::Error(
        tonic::Code::DeadlineExceeded,
        "no answer within 30 s (explorer)".into(),
    )
}

fn validated(r: v2::ValidateRuntimeYamlResponse) -> Validated {
    Validated {
        valid: r.valid,
        message: r.message,
        errors: r.errors,
        warnings: r.warnings,
        info: r.spec_info.map(|i| YamlInfo {
            name: i.name,
            version: i.version,
            language: i.language,
            language_version: i.language_version,
            description: i.description,
            pip: i.pip_packages,
            hooks: i.has_hooks,
            gpu: i.requires_gpu,
        }),
    }
}

/// What `call` may have created that the cleanup removes: a runtime a build may have installed (any build of a
/// YAML with a name: removing a runtime that is not there costs nothing).
pub fn created(call: &V2Call) -> Option<Resource> {
    match call {
        V2Call::Build { yaml, .. } => yaml
            .name
            .as_ref()
            .filter(|_| !yaml.empty && !yaml.garbage)
            .map(|n| Resource::Runtime(n.clone())),
        _ => None,
    }
}
