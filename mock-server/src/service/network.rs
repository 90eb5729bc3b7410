//! `joblet.NetworkService` (placeholder until its issue lands).

use std::sync::Arc;

use joblet_testkit::pb;
use joblet_testkit::pb::network_service_server::NetworkService;
use tonic::{Request, Response, Status};

#[allow(unused_imports)]
use super::{BoxStream, not_built};
use crate::state::Shared;

/// The NetworkService over the shared state.
#[derive(Debug, Clone)]
pub struct NetworkSvc {
    #[allow(dead_code)]
    shared: Arc<Shared>,
}

impl NetworkSvc {
    /// A service over `shared`.
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

#[tonic::async_trait]
impl NetworkService for NetworkSvc {
    async fn create_network(&self, _request: Request<pb::CreateNetworkReq>) -> Result<Response<pb::CreateNetworkRes>, Status> {
        Err(not_built("CreateNetwork", "networks"))
    }

    async fn list_networks(&self, _request: Request<pb::EmptyRequest>) -> Result<Response<pb::Networks>, Status> {
        Err(not_built("ListNetworks", "networks"))
    }

    async fn remove_network(&self, _request: Request<pb::RemoveNetworkReq>) -> Result<Response<pb::RemoveNetworkRes>, Status> {
        Err(not_built("RemoveNetwork", "networks"))
    }

}
