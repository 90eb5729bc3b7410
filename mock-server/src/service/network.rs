//! `joblet.NetworkService`: networks (NET-*), over [`crate::networks`].

use std::sync::Arc;

use joblet_testkit::pb;
use joblet_testkit::pb::network_service_server::NetworkService;
use tonic::{Request, Response, Status};

use crate::networks;
use crate::state::Shared;

/// The NetworkService over the shared state.
#[derive(Debug, Clone)]
pub struct NetworkSvc {
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
    async fn create_network(
        &self,
        request: Request<pb::CreateNetworkReq>,
    ) -> Result<Response<pb::CreateNetworkRes>, Status> {
        Ok(Response::new(networks::create(
            &self.shared,
            request.into_inner(),
        )?))
    }

    async fn list_networks(
        &self,
        _request: Request<pb::EmptyRequest>,
    ) -> Result<Response<pb::Networks>, Status> {
        Ok(Response::new(networks::list(&self.shared)))
    }

    async fn remove_network(
        &self,
        request: Request<pb::RemoveNetworkReq>,
    ) -> Result<Response<pb::RemoveNetworkRes>, Status> {
        Ok(Response::new(networks::remove(
            &self.shared,
            &request.get_ref().name,
        )))
    }
}
