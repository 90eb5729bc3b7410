//! `joblet.RuntimeService`: runtimes (RT-*), over [`crate::runtimes`].

use std::sync::Arc;

use joblet_testkit::pb::union as pb;
use joblet_testkit::pb::union::runtime_service_server::RuntimeService;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::{BoxStream, Gate};
use crate::behaviour::Mutant;
use crate::runtimes::{self, Install};

use crate::session::Shared;

/// Chunks buffered between a streaming install and a slow client.
const CHUNK_BUFFER: usize = 16;

/// The RuntimeService.
#[derive(Debug, Clone)]
pub struct RuntimeSvc {
    gate: Gate,
}

impl RuntimeSvc {
    /// A service behind `gate`.
    pub fn new(gate: Gate) -> Self {
        Self { gate }
    }
}

/// Runs an install to the end and answers the unary response.
async fn install(
    shared: &Arc<Shared>,
    install: Install,
) -> Result<pb::InstallRuntimeResponse, Status> {
    let result = runtimes::start(shared, install.clone(), None)
        .await
        .map_err(|e| Status::internal(format!("runtime installation failed: {e}")))?;
    let mut response = install.response(&result);
    // RT-INSTALL-1 mutant: status "success" instead of "completed".
    if shared.mutant(Mutant::InstallStatusSuccess) && response.status == "completed" {
        response.status = "success".into();
    }
    Ok(response)
}

/// Starts an install and streams its chunks.
fn stream(
    shared: &Arc<Shared>,
    install: Install,
) -> ReceiverStream<Result<pb::RuntimeInstallationChunk, Status>> {
    let (tx, rx) = mpsc::channel(CHUNK_BUFFER);
    // The task runs on its own; the stream ends when it drops the sender.
    drop(runtimes::start(shared, install, Some(tx)));
    ReceiverStream::new(rx)
}

macro_rules! method {
    ($name:literal) => {
        concat!("joblet.RuntimeService/", $name)
    };
}

#[tonic::async_trait]
impl RuntimeService for RuntimeSvc {
    async fn list_runtimes(
        &self,
        request: Request<pb::EmptyRequest>,
    ) -> Result<Response<pb::RuntimesRes>, Status> {
        self.gate
            .unary(method!("ListRuntimes"), request, |s, _| async move {
                let mut list = runtimes::list(&s);
                for rt in &mut list.runtimes {
                    super::fields::runtime(s.config.api, rt);
                }
                Ok(list)
            })
            .await
    }

    async fn get_runtime_info(
        &self,
        request: Request<pb::RuntimeInfoReq>,
    ) -> Result<Response<pb::RuntimeInfoRes>, Status> {
        self.gate
            .unary(method!("GetRuntimeInfo"), request, |s, r| async move {
                let mut info = runtimes::info(&s, &r.runtime)?;
                if let Some(rt) = info.runtime.as_mut() {
                    super::fields::runtime(s.config.api, rt);
                }
                Ok(info)
            })
            .await
    }

    type BuildRuntimeStream = BoxStream<pb::BuildRuntimeProgress>;

    async fn build_runtime(
        &self,
        request: Request<pb::BuildRuntimeRequest>,
    ) -> Result<Response<Self::BuildRuntimeStream>, Status> {
        self.gate
            .stream(method!("BuildRuntime"), request, |s, r| async move {
                let build = crate::runtime_build::Build::new(&s, r)?;
                let (tx, rx) = mpsc::channel(crate::runtime_build::EVENT_BUFFER);
                // The task runs on its own; the stream ends when it drops the sender.
                drop(crate::runtime_build::start(&s, build, tx));
                Ok(ReceiverStream::new(rx))
            })
            .await
    }

    async fn validate_runtime_yaml(
        &self,
        request: Request<pb::ValidateRuntimeYamlRequest>,
    ) -> Result<Response<pb::ValidateRuntimeYamlResponse>, Status> {
        self.gate
            .unary(method!("ValidateRuntimeYAML"), request, |s, r| async move {
                Ok(crate::runtime_build::validate(&s, &r.yaml_content)?)
            })
            .await
    }

    async fn test_runtime(
        &self,
        request: Request<pb::RuntimeTestReq>,
    ) -> Result<Response<pb::RuntimeTestRes>, Status> {
        self.gate
            .unary(method!("TestRuntime"), request, |s, r| async move {
                Ok(runtimes::test(&s, &r.runtime)?)
            })
            .await
    }

    async fn install_runtime_from_github(
        &self,
        request: Request<pb::InstallRuntimeRequest>,
    ) -> Result<Response<pb::InstallRuntimeResponse>, Status> {
        self.gate
            .unary(
                method!("InstallRuntimeFromGithub"),
                request,
                |s, r| async move { install(&s, Install::github(r)?).await },
            )
            .await
    }

    async fn install_runtime_from_local(
        &self,
        request: Request<pb::InstallRuntimeFromLocalRequest>,
    ) -> Result<Response<pb::InstallRuntimeResponse>, Status> {
        self.gate
            .unary(
                method!("InstallRuntimeFromLocal"),
                request,
                |s, r| async move { install(&s, Install::local(r)?).await },
            )
            .await
    }

    type StreamingInstallRuntimeFromGithubStream = BoxStream<pb::RuntimeInstallationChunk>;

    async fn streaming_install_runtime_from_github(
        &self,
        request: Request<pb::InstallRuntimeRequest>,
    ) -> Result<Response<Self::StreamingInstallRuntimeFromGithubStream>, Status> {
        self.gate
            .stream(
                method!("StreamingInstallRuntimeFromGithub"),
                request,
                |s, r| async move { Ok(stream(&s, Install::github(r)?)) },
            )
            .await
    }

    type StreamingInstallRuntimeFromLocalStream = BoxStream<pb::RuntimeInstallationChunk>;

    async fn streaming_install_runtime_from_local(
        &self,
        request: Request<pb::InstallRuntimeFromLocalRequest>,
    ) -> Result<Response<Self::StreamingInstallRuntimeFromLocalStream>, Status> {
        self.gate
            .stream(
                method!("StreamingInstallRuntimeFromLocal"),
                request,
                |s, r| async move { Ok(stream(&s, Install::local(r)?)) },
            )
            .await
    }

    async fn validate_runtime_spec(
        &self,
        request: Request<pb::ValidateRuntimeSpecRequest>,
    ) -> Result<Response<pb::ValidateRuntimeSpecResponse>, Status> {
        self.gate
            .unary(method!("ValidateRuntimeSpec"), request, |s, r| async move {
                let answer = runtimes::validate_spec(&r.runtime_spec);
                // RT-SPEC-1 mutant: an invalid spec is a gRPC error.
                if !answer.valid && s.mutant(Mutant::SpecErrorStatus) {
                    return Err(Status::invalid_argument(format!(
                        "runtimeSpec: {}",
                        answer.message
                    )));
                }
                Ok(answer)
            })
            .await
    }

    async fn remove_runtime(
        &self,
        request: Request<pb::RuntimeRemoveReq>,
    ) -> Result<Response<pb::RuntimeRemoveRes>, Status> {
        self.gate
            .unary(method!("RemoveRuntime"), request, |s, r| async move {
                Ok(runtimes::remove(&s, &r.runtime))
            })
            .await
    }
}
