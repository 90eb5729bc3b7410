//! `joblet.VolumeService`: volumes (VOL-*), over [`crate::volumes`].

use joblet_testkit::pb::union as pb;
use joblet_testkit::pb::union::volume_service_server::VolumeService;
use tonic::{Request, Response, Status};

use super::Gate;
use crate::volumes;

/// The VolumeService.
#[derive(Debug, Clone)]
pub struct VolumeSvc {
    gate: Gate,
}

impl VolumeSvc {
    /// A service behind `gate`.
    pub fn new(gate: Gate) -> Self {
        Self { gate }
    }
}

#[tonic::async_trait]
impl VolumeService for VolumeSvc {
    async fn create_volume(
        &self,
        request: Request<pb::CreateVolumeReq>,
    ) -> Result<Response<pb::CreateVolumeRes>, Status> {
        self.gate
            .unary(
                "joblet.VolumeService/CreateVolume",
                request,
                |s, r| async move { Ok(volumes::create(&s, r)?) },
            )
            .await
    }

    async fn list_volumes(
        &self,
        request: Request<pb::EmptyRequest>,
    ) -> Result<Response<pb::Volumes>, Status> {
        self.gate
            .unary(
                "joblet.VolumeService/ListVolumes",
                request,
                |s, _| async move { Ok(volumes::list(&s)) },
            )
            .await
    }

    async fn remove_volume(
        &self,
        request: Request<pb::RemoveVolumeReq>,
    ) -> Result<Response<pb::RemoveVolumeRes>, Status> {
        self.gate
            .unary(
                "joblet.VolumeService/RemoveVolume",
                request,
                |s, r| async move { Ok(volumes::remove(&s, &r.name)) },
            )
            .await
    }
}
