//! `joblet.NetworkService`: networks (NET-*), over [`crate::networks`].

use joblet_testkit::pb::union as pb;
use joblet_testkit::pb::union::network_service_server::NetworkService;
use tonic::{Request, Response, Status};

use super::Gate;
use crate::networks;

/// The NetworkService.
#[derive(Debug, Clone)]
pub struct NetworkSvc {
    gate: Gate,
}

impl NetworkSvc {
    /// A service behind `gate`.
    pub fn new(gate: Gate) -> Self {
        Self { gate }
    }
}

#[tonic::async_trait]
impl NetworkService for NetworkSvc {
    async fn create_network(
        &self,
        request: Request<pb::CreateNetworkReq>,
    ) -> Result<Response<pb::CreateNetworkRes>, Status> {
        self.gate
            .unary(
                "joblet.NetworkService/CreateNetwork",
                request,
                |s, r| async move { Ok(networks::create(&s, r)?) },
            )
            .await
    }

    async fn list_networks(
        &self,
        request: Request<pb::EmptyRequest>,
    ) -> Result<Response<pb::Networks>, Status> {
        self.gate
            .unary(
                "joblet.NetworkService/ListNetworks",
                request,
                |s, _| async move { Ok(networks::list(&s)) },
            )
            .await
    }

    async fn remove_network(
        &self,
        request: Request<pb::RemoveNetworkReq>,
    ) -> Result<Response<pb::RemoveNetworkRes>, Status> {
        self.gate
            .unary(
                "joblet.NetworkService/RemoveNetwork",
                request,
                |s, r| async move { Ok(networks::remove(&s, &r.name)) },
            )
            .await
    }
}
