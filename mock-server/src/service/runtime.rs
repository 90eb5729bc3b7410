//! `joblet.RuntimeService`: runtimes (RT-*), over [`crate::runtimes`].

use std::sync::Arc;

use joblet_testkit::pb;
use joblet_testkit::pb::runtime_service_server::RuntimeService;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::BoxStream;
use crate::runtimes::{self, Install};
use crate::state::Shared;

/// Chunks buffered between a streaming install and a slow client.
const CHUNK_BUFFER: usize = 16;

/// The RuntimeService over the shared state.
#[derive(Debug, Clone)]
pub struct RuntimeSvc {
    shared: Arc<Shared>,
}

impl RuntimeSvc {
    /// A service over `shared`.
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Runs an install to the end and answers the unary response.
    async fn install(
        &self,
        install: Install,
    ) -> Result<Response<pb::InstallRuntimeResponse>, Status> {
        let result = runtimes::start(&self.shared, install.clone(), None)
            .await
            .map_err(|e| Status::internal(format!("runtime installation failed: {e}")))?;
        Ok(Response::new(install.response(&result)))
    }

    /// Starts an install and streams its chunks.
    fn stream(&self, install: Install) -> Response<BoxStream<pb::RuntimeInstallationChunk>> {
        let (tx, rx) = mpsc::channel(CHUNK_BUFFER);
        // The task runs on its own; the stream ends when it drops the sender.
        drop(runtimes::start(&self.shared, install, Some(tx)));
        Response::new(Box::pin(ReceiverStream::new(rx)))
    }
}

#[tonic::async_trait]
impl RuntimeService for RuntimeSvc {
    async fn list_runtimes(
        &self,
        _request: Request<pb::EmptyRequest>,
    ) -> Result<Response<pb::RuntimesRes>, Status> {
        Ok(Response::new(runtimes::list(&self.shared)))
    }

    async fn get_runtime_info(
        &self,
        request: Request<pb::RuntimeInfoReq>,
    ) -> Result<Response<pb::RuntimeInfoRes>, Status> {
        Ok(Response::new(runtimes::info(
            &self.shared,
            &request.get_ref().runtime,
        )?))
    }

    async fn test_runtime(
        &self,
        request: Request<pb::RuntimeTestReq>,
    ) -> Result<Response<pb::RuntimeTestRes>, Status> {
        Ok(Response::new(runtimes::test(
            &self.shared,
            &request.get_ref().runtime,
        )?))
    }

    async fn install_runtime_from_github(
        &self,
        request: Request<pb::InstallRuntimeRequest>,
    ) -> Result<Response<pb::InstallRuntimeResponse>, Status> {
        self.install(Install::github(request.into_inner())?).await
    }

    async fn install_runtime_from_local(
        &self,
        request: Request<pb::InstallRuntimeFromLocalRequest>,
    ) -> Result<Response<pb::InstallRuntimeResponse>, Status> {
        self.install(Install::local(request.into_inner())?).await
    }

    type StreamingInstallRuntimeFromGithubStream = BoxStream<pb::RuntimeInstallationChunk>;

    async fn streaming_install_runtime_from_github(
        &self,
        request: Request<pb::InstallRuntimeRequest>,
    ) -> Result<Response<Self::StreamingInstallRuntimeFromGithubStream>, Status> {
        Ok(self.stream(Install::github(request.into_inner())?))
    }

    type StreamingInstallRuntimeFromLocalStream = BoxStream<pb::RuntimeInstallationChunk>;

    async fn streaming_install_runtime_from_local(
        &self,
        request: Request<pb::InstallRuntimeFromLocalRequest>,
    ) -> Result<Response<Self::StreamingInstallRuntimeFromLocalStream>, Status> {
        Ok(self.stream(Install::local(request.into_inner())?))
    }

    async fn validate_runtime_spec(
        &self,
        request: Request<pb::ValidateRuntimeSpecRequest>,
    ) -> Result<Response<pb::ValidateRuntimeSpecResponse>, Status> {
        Ok(Response::new(runtimes::validate_spec(
            &request.get_ref().runtime_spec,
        )))
    }

    async fn remove_runtime(
        &self,
        request: Request<pb::RuntimeRemoveReq>,
    ) -> Result<Response<pb::RuntimeRemoveRes>, Status> {
        Ok(Response::new(runtimes::remove(
            &self.shared,
            &request.get_ref().runtime,
        )))
    }
}
