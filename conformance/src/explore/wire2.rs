//! The job calls made with the v2.5.9 messages (`joblet_testkit::pb::v2`):
//! RunJob with its `timeout`, GetJobStatus and ListJobs with theirs echoed
//! (JOB-TIMEOUT-4), GetJobLogs; their answers reduced to the same
//! [`Answer`]s as the v1 calls', with what only v2 shows.

use std::time::Duration;

use joblet_testkit::pb::v2 as pb;
use joblet_testkit::pb::v2::job_service_client::JobServiceClient;
use tonic::transport::Channel;

use super::call::{Answer, Call, JobView, LogEnd, RunReq};
use super::exec::{err, timed};

fn run_request(r: &RunReq) -> pb::RunJobRequest {
    let (command, args) = r.cmd.command_args();
    pb::RunJobRequest {
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
        environment: r.env.iter().cloned().collect(),
        secret_environment: r.secret.iter().cloned().collect(),
        uploads: r
            .uploads
            .iter()
            .map(|(p, c)| pb::FileUpload {
                path: p.clone(),
                content: c.clone().into_bytes(),
                mode: 0o644,
                is_directory: false,
            })
            .collect(),
        gpu_count: r.gpu_count,
        timeout: r.timeout.clone(),
        ..Default::default()
    }
}

fn status_view(s: pb::GetJobStatusResponse) -> JobView {
    JobView {
        uuid: s.uuid,
        status: s.status,
        exit_code: s.exit_code,
        command: s.command,
        args: s.args,
        start_time: s.start_time,
        end_time: s.end_time,
        secret_values: s.secret_environment.into_values().collect(),
        work_dir: s.work_dir,
        network: s.network,
        runtime: s.runtime,
        gpu_count: s.gpu_count,
        gpu_indices: s.gpu_indices,
        timeout: Some(s.timeout),
    }
}

fn list_view(j: pb::Job) -> JobView {
    JobView {
        uuid: j.uuid,
        status: j.status,
        exit_code: j.exit_code,
        command: j.command,
        args: j.args,
        start_time: j.start_time,
        end_time: j.end_time,
        secret_values: j.secret_environment.into_values().collect(),
        runtime: j.runtime,
        gpu_count: j.gpu_count,
        gpu_indices: j.gpu_indices,
        timeout: Some(j.timeout),
        ..JobView::default()
    }
}

/// Reads one v2 log stream of `id` for at most `deadline`.
async fn read_logs(
    mut jobs: JobServiceClient<Channel>,
    id: String,
    deadline: Duration,
) -> (Vec<u8>, LogEnd) {
    let open = async move { jobs.get_job_logs(pb::GetJobLogsRequest { uuid: id }).await };
    super::exec::read_chunks(open, |c: pb::DataChunk| c.payload, deadline).await
}

/// Makes `call` with the v2 messages over `channel`; the run's own jobs
/// (`own`) select what ListJobs shows of the run.
pub async fn execute(channel: &Channel, call: &Call, own: &[String]) -> Answer {
    let mut jobs = JobServiceClient::new(channel.clone());
    match call {
        Call::RunJob(r) => match timed(jobs.run_job(run_request(r))).await {
            Ok(a) => Answer::Run(
                JobView {
                    uuid: a.job_uuid,
                    status: a.status,
                    ..JobView::default()
                },
                String::new(),
            ),
            Err(s) => err(s),
        },
        Call::GetJobStatus(id) => {
            match timed(jobs.get_job_status(pb::GetJobStatusRequest {
                uuid: id.id.clone(),
            }))
            .await
            {
                Ok(s) => Answer::Status(status_view(s)),
                Err(s) => err(s),
            }
        }
        Call::ListJobs => match timed(jobs.list_jobs(pb::EmptyRequest {})).await {
            Ok(l) => Answer::Jobs(
                l.jobs
                    .into_iter()
                    .filter(|j| own.contains(&j.uuid))
                    .map(list_view)
                    .collect(),
            ),
            Err(s) => err(s),
        },
        Call::GetJobLogs(id, readers, deadline) => {
            let deadline = Duration::from_millis(*deadline);
            let reads = (0..*readers).map(|_| read_logs(jobs.clone(), id.id.clone(), deadline));
            let got = futures::future::join_all(reads).await;
            // Every reader refused alike: the call's answer is that error.
            match got.first() {
                Some((bytes, LogEnd::Error(code, m)))
                    if bytes.is_empty() && got.iter().all(|r| r == &got[0]) =>
                {
                    Answer::Error(*code, m.clone())
                }
                _ => Answer::Logs(got),
            }
        }
        other => node(channel, other).await,
    }
}

/// GetSystemStatus, ListRuntimes and GetRuntimeInfo with the v2 messages:
/// what only they show (CONTRACT-2, MON-STATUS-2, RT-LIST-2).
async fn node(channel: &Channel, call: &Call) -> Answer {
    use super::facts::Facts;
    use joblet_testkit::pb::v2::monitoring_service_client::MonitoringServiceClient;
    use joblet_testkit::pb::v2::runtime_service_client::RuntimeServiceClient;
    let mut rts = RuntimeServiceClient::new(channel.clone());
    match call {
        Call::GetSystemStatus => {
            let mut m = MonitoringServiceClient::new(channel.clone());
            match timed(m.get_system_status(pb::EmptyRequest {})).await {
                Ok(s) => Answer::Facts(Facts::System {
                    available: s.available,
                    proto_tag: s.server_version.map(|v| v.proto_tag),
                    macs: s.host.map(|h| h.mac_addresses.len()),
                }),
                Err(s) => err(s),
            }
        }
        Call::ListRuntimes => match timed(rts.list_runtimes(pb::EmptyRequest {})).await {
            Ok(l) => Answer::Facts(Facts::Runtimes(
                l.runtimes
                    .into_iter()
                    .map(|r| (r.name, r.available, r.language_version))
                    .collect(),
            )),
            Err(s) => err(s),
        },
        Call::GetRuntimeInfo(name) => match timed(rts.get_runtime_info(pb::GetRuntimeInfoRequest {
            runtime: name.clone(),
        }))
        .await
        {
            Ok(r) => Answer::Facts(Facts::Runtime(
                r.found,
                r.runtime.map(|x| x.language_version).unwrap_or_default(),
            )),
            Err(s) => err(s),
        },
        other => Answer::Error(
            tonic::Code::Unimplemented,
            format!("the explorer makes no {} with the v2 messages", other.rpc()),
        ),
    }
}
