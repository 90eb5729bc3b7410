//! `joblet.RuntimeService` (placeholder until its issue lands).

use std::sync::Arc;

use joblet_testkit::pb;
use joblet_testkit::pb::runtime_service_server::RuntimeService;
use tonic::{Request, Response, Status};

#[allow(unused_imports)]
use super::{BoxStream, not_built};
use crate::state::Shared;

/// The RuntimeService over the shared state.
#[derive(Debug, Clone)]
pub struct RuntimeSvc {
    #[allow(dead_code)]
    shared: Arc<Shared>,
}

impl RuntimeSvc {
    /// A service over `shared`.
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

#[tonic::async_trait]
impl RuntimeService for RuntimeSvc {
    async fn list_runtimes(&self, _request: Request<pb::EmptyRequest>) -> Result<Response<pb::RuntimesRes>, Status> {
        Err(not_built("ListRuntimes", "runtime management"))
    }

    async fn get_runtime_info(&self, _request: Request<pb::RuntimeInfoReq>) -> Result<Response<pb::RuntimeInfoRes>, Status> {
        Err(not_built("GetRuntimeInfo", "runtime management"))
    }

    async fn test_runtime(&self, _request: Request<pb::RuntimeTestReq>) -> Result<Response<pb::RuntimeTestRes>, Status> {
        Err(not_built("TestRuntime", "runtime management"))
    }

    async fn install_runtime_from_github(&self, _request: Request<pb::InstallRuntimeRequest>) -> Result<Response<pb::InstallRuntimeResponse>, Status> {
        Err(not_built("InstallRuntimeFromGithub", "runtime management"))
    }

    async fn install_runtime_from_local(&self, _request: Request<pb::InstallRuntimeFromLocalRequest>) -> Result<Response<pb::InstallRuntimeResponse>, Status> {
        Err(not_built("InstallRuntimeFromLocal", "runtime management"))
    }

    type StreamingInstallRuntimeFromGithubStream = BoxStream<pb::RuntimeInstallationChunk>;

    async fn streaming_install_runtime_from_github(&self, _request: Request<pb::InstallRuntimeRequest>) -> Result<Response<Self::StreamingInstallRuntimeFromGithubStream>, Status> {
        Err(not_built("StreamingInstallRuntimeFromGithub", "runtime management"))
    }

    type StreamingInstallRuntimeFromLocalStream = BoxStream<pb::RuntimeInstallationChunk>;

    async fn streaming_install_runtime_from_local(&self, _request: Request<pb::InstallRuntimeFromLocalRequest>) -> Result<Response<Self::StreamingInstallRuntimeFromLocalStream>, Status> {
        Err(not_built("StreamingInstallRuntimeFromLocal", "runtime management"))
    }

    async fn validate_runtime_spec(&self, _request: Request<pb::ValidateRuntimeSpecRequest>) -> Result<Response<pb::ValidateRuntimeSpecResponse>, Status> {
        Err(not_built("ValidateRuntimeSpec", "runtime management"))
    }

    async fn remove_runtime(&self, _request: Request<pb::RuntimeRemoveReq>) -> Result<Response<pb::RuntimeRemoveRes>, Status> {
        Err(not_built("RemoveRuntime", "runtime management"))
    }

}
