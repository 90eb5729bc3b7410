//! Everything a case creates is tracked here and removed when the case ends,
//! whether it passed, failed or timed out; what cannot be removed is reported
//! as a leak. Only tracked resources are ever stopped, deleted or removed.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use joblet_testkit::pb;
use joblet_testkit::pb::job_service_client::JobServiceClient;
use joblet_testkit::pb::network_service_client::NetworkServiceClient;
use joblet_testkit::pb::runtime_service_client::RuntimeServiceClient;
use joblet_testkit::pb::volume_service_client::VolumeServiceClient;
use parking_lot::Mutex;
use tonic::Code;

use crate::check::show_status;
use crate::conn::{Lane, Rec, Transport};
use crate::status::FINAL;

/// How long the cleanup of one case keeps trying after transport failures.
pub const CLEANUP_RETRY: Duration = Duration::from_secs(30);

/// Something a case created on the target.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(tag = "kind", content = "id", rename_all = "lowercase")]
pub enum Resource {
    /// A job (UUID).
    Job(String),
    /// A workflow (UUID): its jobs are stopped and deleted; the workflow record
    /// itself has no removal RPC.
    Workflow(String),
    /// A network (name).
    Network(String),
    /// A volume (name).
    Volume(String),
    /// A runtime (name).
    Runtime(String),
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::Job(id) => write!(f, "job {id}"),
            Resource::Workflow(id) => write!(f, "workflow {id}"),
            Resource::Network(n) => write!(f, "network {n}"),
            Resource::Volume(n) => write!(f, "volume {n}"),
            Resource::Runtime(n) => write!(f, "runtime {n}"),
        }
    }
}

/// What could not be removed, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Leak {
    /// The case that created it.
    pub case: String,
    /// The resource.
    pub resource: Resource,
    /// Why it is still there.
    pub reason: String,
}

/// The resources of one case, in creation order.
#[derive(Debug, Default)]
pub struct Tracker {
    items: Mutex<Vec<Resource>>,
}

impl Tracker {
    /// Records `r` (once).
    pub fn add(&self, r: Resource) {
        let mut items = self.items.lock();
        if !items.contains(&r) {
            items.push(r);
        }
    }

    /// Forgets `r` (the case removed it itself).
    pub fn forget(&self, r: &Resource) {
        self.items.lock().retain(|x| x != r);
    }

    /// What is tracked now.
    pub fn items(&self) -> Vec<Resource> {
        self.items.lock().clone()
    }

    /// Removes everything tracked over `lane` (the main, admin target):
    /// jobs first (stopped if still active, then deleted), then runtimes,
    /// networks and volumes. A call the server never processed is sent again
    /// at once; what a transport failure left is tried again with backoff
    /// until it is removed or [`CLEANUP_RETRY`] has passed. Returns what could
    /// not be removed.
    pub async fn cleanup(&self, lane: &Arc<Lane>, case: &str) -> Vec<Leak> {
        let deadline = tokio::time::Instant::now() + CLEANUP_RETRY;
        let mut pause = Duration::from_millis(100);
        loop {
            let seen = Arc::new(Transport::default());
            let chan = Rec::new(Arc::clone(lane), None, Arc::clone(&seen));
            let leaks = self.cleanup_once(&chan, case).await;
            if leaks.is_empty()
                || seen.failures() == 0
                || tokio::time::Instant::now() + pause > deadline
            {
                return leaks;
            }
            for l in &leaks {
                self.add(l.resource.clone());
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    async fn cleanup_once(&self, channel: &Rec, case: &str) -> Vec<Leak> {
        let items = std::mem::take(&mut *self.items.lock());
        let mut leaks = Vec::new();
        let mut jobs: Vec<String> = Vec::new();
        let mut workflows = Vec::new();
        for r in &items {
            match r {
                Resource::Job(id) => jobs.push(id.clone()),
                Resource::Workflow(id) => workflows.push(id.clone()),
                _ => {}
            }
        }
        let mut jc = JobServiceClient::new(channel.clone());
        for wf in &workflows {
            match jc
                .get_workflow_status(pb::GetWorkflowStatusRequest {
                    workflow_uuid: wf.clone(),
                })
                .await
            {
                Ok(res) => {
                    for j in res.into_inner().jobs {
                        if !j.job_uuid.is_empty()
                            && j.job_uuid != "0"
                            && !jobs.contains(&j.job_uuid)
                        {
                            jobs.push(j.job_uuid);
                        }
                    }
                }
                Err(s) if s.code() == Code::NotFound => {}
                Err(s) => leaks.push(Leak {
                    case: case.into(),
                    resource: Resource::Workflow(wf.clone()),
                    reason: format!("cannot list its jobs: {}", show_status(&s)),
                }),
            }
        }
        // Stop every active job first, then delete them all: stopping takes a
        // moment on a real node.
        let mut to_delete = Vec::new();
        for id in jobs {
            match remove_job_begin(&mut jc, &id).await {
                Ok(true) => to_delete.push(id),
                Ok(false) => {}
                Err(reason) => leaks.push(Leak {
                    case: case.into(),
                    resource: Resource::Job(id),
                    reason,
                }),
            }
        }
        for id in to_delete {
            if let Err(reason) = remove_job_finish(&mut jc, &id).await {
                leaks.push(Leak {
                    case: case.into(),
                    resource: Resource::Job(id),
                    reason,
                });
            }
        }
        for r in items.iter().rev() {
            let result = match r {
                Resource::Runtime(name) => {
                    let mut c = RuntimeServiceClient::new(channel.clone());
                    match c
                        .remove_runtime(pb::RuntimeRemoveReq {
                            runtime: name.clone(),
                        })
                        .await
                    {
                        Ok(res) => {
                            let res = res.into_inner();
                            if res.success || res.message.to_ascii_lowercase().contains("not found")
                            {
                                Ok(())
                            } else {
                                Err(format!(
                                    "RemoveRuntime answered success false: {:?}",
                                    res.message
                                ))
                            }
                        }
                        Err(s) => Err(format!("RemoveRuntime: {}", show_status(&s))),
                    }
                }
                Resource::Network(name) => {
                    let c = NetworkServiceClient::new(channel.clone());
                    retry_busy(|| {
                        let mut c = c.clone();
                        let name = name.clone();
                        async move {
                            c.remove_network(pb::RemoveNetworkReq { name })
                                .await
                                .map(|r| {
                                    let r = r.into_inner();
                                    (r.success, r.message)
                                })
                        }
                    })
                    .await
                    .map_err(|e| format!("RemoveNetwork: {e}"))
                }
                Resource::Volume(name) => {
                    let c = VolumeServiceClient::new(channel.clone());
                    retry_busy(|| {
                        let mut c = c.clone();
                        let name = name.clone();
                        async move {
                            c.remove_volume(pb::RemoveVolumeReq { name })
                                .await
                                .map(|r| {
                                    let r = r.into_inner();
                                    (r.success, r.message)
                                })
                        }
                    })
                    .await
                    .map_err(|e| format!("RemoveVolume: {e}"))
                }
                Resource::Job(_) | Resource::Workflow(_) => Ok(()),
            };
            if let Err(reason) = result {
                leaks.push(Leak {
                    case: case.into(),
                    resource: r.clone(),
                    reason,
                });
            }
        }
        leaks
    }
}

/// Stops `id` if it is still active. `Ok(true)`: delete it next; `Ok(false)`:
/// already gone.
async fn remove_job_begin(jc: &mut JobServiceClient<Rec>, id: &str) -> Result<bool, String> {
    let status = match jc
        .get_job_status(pb::GetJobStatusReq { uuid: id.into() })
        .await
    {
        Ok(s) => s.into_inner().status,
        Err(s) if s.code() == Code::NotFound => return Ok(false),
        Err(s) => return Err(format!("GetJobStatus: {}", show_status(&s))),
    };
    if !FINAL.contains(&status.as_str())
        && let Err(s) = jc.stop_job(pb::StopJobReq { uuid: id.into() }).await
        && s.code() != Code::FailedPrecondition
        && s.code() != Code::NotFound
    {
        return Err(format!("StopJob (status {status}): {}", show_status(&s)));
    }
    Ok(true)
}

/// Waits (up to 10 s) until `id` is final, then deletes it.
async fn remove_job_finish(jc: &mut JobServiceClient<Rec>, id: &str) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let last = loop {
        match jc
            .get_job_status(pb::GetJobStatusReq { uuid: id.into() })
            .await
        {
            Ok(s) => {
                let status = s.into_inner().status;
                if FINAL.contains(&status.as_str()) {
                    break status;
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(format!("still {status} 10 s after StopJob"));
                }
            }
            Err(s) if s.code() == Code::NotFound => return Ok(()),
            Err(s) => return Err(format!("GetJobStatus: {}", show_status(&s))),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    match jc.delete_job(pb::DeleteJobReq { uuid: id.into() }).await {
        Ok(r) => {
            let r = r.into_inner();
            if r.success {
                Ok(())
            } else {
                Err(format!("DeleteJob answered success false: {:?}", r.message))
            }
        }
        Err(s) if s.code() == Code::NotFound => Ok(()),
        Err(s) => Err(format!("DeleteJob ({last}): {}", show_status(&s))),
    }
}

/// Calls a Remove RPC until it succeeds, answers "not found", or 5 s pass while
/// the resource is still in use by a job that is stopping.
async fn retry_busy<F, Fut>(mut call: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(bool, String), tonic::Status>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match call().await {
            Ok((true, _)) => return Ok(()),
            Ok((false, m)) if m.to_ascii_lowercase().contains("not found") => return Ok(()),
            Ok((false, m)) => {
                if !m.to_ascii_lowercase().contains("in use")
                    || tokio::time::Instant::now() >= deadline
                {
                    return Err(format!("success false: {m:?}"));
                }
            }
            Err(s) if s.code() == Code::NotFound => return Ok(()),
            Err(s) => return Err(show_status(&s)),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
