//! Making a resolved call on the target and reducing its answer to what the
//! model judges.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use joblet_testkit::pb;
use joblet_testkit::pb::job_service_client::JobServiceClient;
use joblet_testkit::pb::monitoring_service_client::MonitoringServiceClient;
use joblet_testkit::pb::network_service_client::NetworkServiceClient;
use joblet_testkit::pb::runtime_service_client::RuntimeServiceClient;
use joblet_testkit::pb::volume_service_client::VolumeServiceClient;
use tokio_stream::StreamExt;
use tonic::Status;
use tonic::transport::Channel;

use super::call::{Answer, Call, JobView, Listed, LogEnd, RunReq};

/// Longest any unary call may take before it counts as an error answer.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Clients of the five services over one channel.
#[derive(Debug, Clone)]
pub struct Clients {
    jobs: JobServiceClient<Channel>,
    networks: NetworkServiceClient<Channel>,
    volumes: VolumeServiceClient<Channel>,
    runtimes: RuntimeServiceClient<Channel>,
    monitoring: MonitoringServiceClient<Channel>,
}

impl Clients {
    /// Clients over `channel`.
    pub fn new(channel: &Channel) -> Self {
        Self {
            jobs: JobServiceClient::new(channel.clone()),
            networks: NetworkServiceClient::new(channel.clone()),
            volumes: VolumeServiceClient::new(channel.clone()),
            runtimes: RuntimeServiceClient::new(channel.clone()),
            monitoring: MonitoringServiceClient::new(channel.clone()),
        }
    }

    /// A JobService client over the channel.
    pub fn job_client(&self) -> JobServiceClient<Channel> {
        self.jobs.clone()
    }

    /// StopJob.
    pub async fn stop(&self, id: &str) -> Result<(), Status> {
        timed(self.jobs.clone().stop_job(pb::StopJobReq {
            uuid: id.to_owned(),
        }))
        .await
        .map(|_| ())
    }

    /// DeleteJob: success and message.
    pub async fn delete(&self, id: &str) -> Result<(bool, String), Status> {
        timed(self.jobs.clone().delete_job(pb::DeleteJobReq {
            uuid: id.to_owned(),
        }))
        .await
        .map(|r| (r.success, r.message))
    }

    /// RemoveNetwork: success and message.
    pub async fn remove_network(&self, name: &str) -> Result<(bool, String), Status> {
        timed(self.networks.clone().remove_network(pb::RemoveNetworkReq {
            name: name.to_owned(),
        }))
        .await
        .map(|r| (r.success, r.message))
    }

    /// RemoveVolume: success and message.
    pub async fn remove_volume(&self, name: &str) -> Result<(bool, String), Status> {
        timed(self.volumes.clone().remove_volume(pb::RemoveVolumeReq {
            name: name.to_owned(),
        }))
        .await
        .map(|r| (r.success, r.message))
    }

    /// The names and CIDRs of every network, and the names of every runtime.
    pub async fn node(&self) -> Result<(Vec<(String, String)>, BTreeSet<String>), Status> {
        let nets = self
            .networks
            .clone()
            .list_networks(pb::EmptyRequest {})
            .await?
            .into_inner()
            .networks
            .into_iter()
            .map(|n| (n.name, n.cidr))
            .collect();
        let rts = self
            .runtimes
            .clone()
            .list_runtimes(pb::EmptyRequest {})
            .await?
            .into_inner()
            .runtimes
            .into_iter()
            .map(|r| r.name)
            .collect();
        Ok((nets, rts))
    }
}

/// The first sample of StreamSystemMetrics (interval 1 s), or why none.
async fn first_sample(c: &Clients, types: &[String]) -> Result<Answer, Status> {
    let mut m = c.monitoring.clone();
    let first = async {
        let mut stream = m
            .stream_system_metrics(pb::StreamMetricsReq {
                interval_seconds: 1,
                metric_types: types.to_vec(),
            })
            .await?
            .into_inner();
        match stream.next().await {
            Some(r) => r,
            None => Err(Status::unknown(
                "the stream ended without a sample (explorer)",
            )),
        }
    };
    let s = match tokio::time::timeout(Duration::from_secs(5), first).await {
        Ok(r) => r?,
        Err(_) => return Err(Status::deadline_exceeded("no sample within 5 s (explorer)")),
    };
    let mut sections = Vec::new();
    let present = [
        ("timestamp", !s.timestamp.is_empty()),
        ("host", s.host.is_some()),
        ("cpu", s.cpu.is_some()),
        ("memory", s.memory.is_some()),
        ("disk", !s.disks.is_empty()),
        ("network", !s.networks.is_empty()),
        ("io", s.io.is_some()),
        ("process", s.processes.is_some()),
    ];
    for (name, here) in present {
        if here {
            sections.push(name);
        }
    }
    Ok(Answer::Sample(sections))
}

pub(super) fn err(s: Status) -> Answer {
    Answer::Error(s.code(), s.message().to_owned())
}

pub(super) async fn timed<T>(
    f: impl std::future::Future<Output = Result<tonic::Response<T>, Status>>,
) -> Result<T, Status> {
    match tokio::time::timeout(CALL_TIMEOUT, f).await {
        Ok(r) => r.map(tonic::Response::into_inner),
        Err(_) => Err(Status::deadline_exceeded(
            "no answer within 30 s (explorer)",
        )),
    }
}

fn run_request(r: &RunReq) -> pb::RunJobRequest {
    let (command, args) = r.cmd.command_args();
    pb::RunJobRequest {
        command,
        args,
        max_cpu: r.limits.0,
        max_memory: r.limits.1,
        max_iobps: r.limits.2,
        cpu_cores: r.cpu_cores.clone(),
        schedule: r.schedule.clone(),
        network: r.network.clone(),
        volumes: r.volumes.clone(),
        runtime: r.runtime.clone(),
        environment: r.env.iter().cloned().collect::<HashMap<_, _>>(),
        secret_environment: r.secret.iter().cloned().collect::<HashMap<_, _>>(),
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
        ..Default::default()
    }
}

pub(super) fn status_view(s: pb::GetJobStatusRes) -> JobView {
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
        timeout: None,
    }
}

pub(super) fn list_view(j: pb::Job) -> JobView {
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
        ..JobView::default()
    }
}

/// Reads one log stream of `id` for at most `deadline`.
async fn read_logs(
    mut jobs: JobServiceClient<Channel>,
    id: String,
    deadline: Duration,
) -> (Vec<u8>, LogEnd) {
    let open = async move { jobs.get_job_logs(pb::GetJobLogsReq { uuid: id }).await };
    read_chunks(open, |c: pb::DataChunk| c.payload, deadline).await
}

/// Reads the log stream that `open` opens (either contract's: `payload`
/// takes a chunk's bytes) for at most `deadline`: the bytes, and how the
/// stream ended (`Open` when the deadline came first).
pub(super) async fn read_chunks<T, O, B: AsRef<[u8]>>(
    open: O,
    payload: impl Fn(T) -> B,
    deadline: Duration,
) -> (Vec<u8>, LogEnd)
where
    O: std::future::Future<Output = Result<tonic::Response<tonic::Streaming<T>>, Status>>,
{
    let mut bytes = Vec::new();
    let read = async {
        let mut stream = match open.await {
            Ok(s) => s.into_inner(),
            Err(s) => return LogEnd::Error(s.code(), s.message().to_owned()),
        };
        loop {
            match stream.next().await {
                Some(Ok(chunk)) => bytes.extend_from_slice(payload(chunk).as_ref()),
                Some(Err(s)) => return LogEnd::Error(s.code(), s.message().to_owned()),
                None => return LogEnd::Ok,
            }
        }
    };
    let end = tokio::time::timeout(deadline, read)
        .await
        .unwrap_or(LogEnd::Open);
    (bytes, end)
}

/// Makes `call` on the target; the run's own jobs (`own`) and name prefix
/// select what lists show of the run.
pub async fn execute(c: &Clients, call: &Call, own: &[String], prefix: &str) -> Answer {
    let mut jobs = c.jobs.clone();
    match call {
        Call::RunJob(r) => match timed(jobs.run_job(run_request(r))).await {
            Ok(a) => Answer::Run(
                JobView {
                    uuid: a.job_uuid,
                    status: a.status,
                    exit_code: a.exit_code,
                    command: a.command,
                    args: a.args,
                    start_time: a.start_time,
                    end_time: a.end_time,
                    ..JobView::default()
                },
                a.scheduled_time,
            ),
            Err(s) => err(s),
        },
        Call::GetJobStatus(id) => {
            match timed(jobs.get_job_status(pb::GetJobStatusReq {
                uuid: id.id.clone(),
            }))
            .await
            {
                Ok(s) => Answer::Status(status_view(s)),
                Err(s) => err(s),
            }
        }
        Call::StopJob(id) => match timed(jobs.stop_job(pb::StopJobReq {
            uuid: id.id.clone(),
        }))
        .await
        {
            Ok(s) => Answer::Stop(s.uuid, s.status, s.end_time, s.exit_code),
            Err(s) => err(s),
        },
        Call::CancelJob(id) => {
            match timed(jobs.cancel_job(pb::CancelJobReq {
                uuid: id.id.clone(),
            }))
            .await
            {
                Ok(s) => Answer::Cancel(s.uuid, s.status),
                Err(s) => err(s),
            }
        }
        Call::DeleteJob(id) => {
            match timed(jobs.delete_job(pb::DeleteJobReq {
                uuid: id.id.clone(),
            }))
            .await
            {
                Ok(s) => Answer::Delete(s.success),
                Err(s) => err(s),
            }
        }
        Call::GetJobLogs(id, readers, deadline) => {
            let deadline = Duration::from_millis(*deadline);
            let reads = (0..*readers).map(|_| read_logs(c.jobs.clone(), id.id.clone(), deadline));
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
        Call::Wait(ms) => {
            tokio::time::sleep(Duration::from_millis(*ms)).await;
            Answer::Nothing
        }
        other => resources(c, other, prefix).await,
    }
}

async fn resources(c: &Clients, call: &Call, prefix: &str) -> Answer {
    let mut nets = c.networks.clone();
    let mut vols = c.volumes.clone();
    let mut rts = c.runtimes.clone();
    let r = match call {
        Call::CreateNetwork { name, cidr } => timed(nets.create_network(pb::CreateNetworkReq {
            name: name.clone(),
            cidr: cidr.clone(),
        }))
        .await
        .map(|n| Answer::Created(vec![n.name, n.cidr, n.bridge])),
        Call::ListNetworks => timed(nets.list_networks(pb::EmptyRequest {}))
            .await
            .map(|l| {
                let all: Vec<Listed> = l
                    .networks
                    .into_iter()
                    .map(|n| Listed {
                        name: n.name,
                        detail: n.cidr,
                        kind: n.bridge,
                        job_count: n.job_count,
                    })
                    .collect();
                let first = all.first().cloned();
                Answer::Listing(
                    first,
                    all.into_iter()
                        .filter(|n| n.name.starts_with(prefix))
                        .collect(),
                )
            }),
        Call::RemoveNetwork(name) => {
            timed(nets.remove_network(pb::RemoveNetworkReq { name: name.clone() }))
                .await
                .map(|r| Answer::Removed(r.success, r.message))
        }
        Call::CreateVolume { name, size, kind } => timed(vols.create_volume(pb::CreateVolumeReq {
            name: name.clone(),
            size: size.clone(),
            r#type: kind.clone(),
        }))
        .await
        .map(|v| Answer::Created(vec![v.name, v.size, v.r#type, v.path])),
        Call::ListVolumes => timed(vols.list_volumes(pb::EmptyRequest {}))
            .await
            .map(|l| {
                let own = l
                    .volumes
                    .into_iter()
                    .filter(|v| v.name.starts_with(prefix))
                    .map(|v| Listed {
                        name: v.name,
                        detail: v.size,
                        kind: v.r#type,
                        job_count: v.job_count,
                    })
                    .collect();
                Answer::Listing(None, own)
            }),
        Call::RemoveVolume(name) => {
            timed(vols.remove_volume(pb::RemoveVolumeReq { name: name.clone() }))
                .await
                .map(|r| Answer::Removed(r.success, r.message))
        }
        Call::ListRuntimes => timed(rts.list_runtimes(pb::EmptyRequest {}))
            .await
            .map(|l| {
                Answer::Runtimes(
                    l.runtimes
                        .into_iter()
                        .map(|r| (r.name, r.available))
                        .collect(),
                )
            }),
        Call::GetRuntimeInfo(name) => timed(rts.get_runtime_info(pb::RuntimeInfoReq {
            runtime: name.clone(),
        }))
        .await
        .map(|r| Answer::Found(r.found)),
        Call::TestRuntime(name) => timed(rts.test_runtime(pb::RuntimeTestReq {
            runtime: name.clone(),
        }))
        .await
        .map(|r| Answer::Tested(r.success, r.exit_code)),
        Call::GetSystemStatus => timed(c.monitoring.clone().get_system_status(pb::EmptyRequest {}))
            .await
            .map(|s| Answer::System(s.available)),
        Call::ValidateRuntimeSpec(spec, _) => {
            timed(rts.validate_runtime_spec(pb::ValidateRuntimeSpecRequest {
                runtime_spec: spec.clone(),
            }))
            .await
            .map(|r| Answer::Valid(r.valid))
        }
        Call::StreamSystemMetrics(types) => first_sample(c, types).await,
        _ => Ok(Answer::Nothing),
    };
    r.unwrap_or_else(err)
}
