//! `joblet.VolumeService` (placeholder until its issue lands).

use std::sync::Arc;

use joblet_testkit::pb;
use joblet_testkit::pb::volume_service_server::VolumeService;
use tonic::{Request, Response, Status};

#[allow(unused_imports)]
use super::{BoxStream, not_built};
use crate::state::Shared;

/// The VolumeService over the shared state.
#[derive(Debug, Clone)]
pub struct VolumeSvc {
    #[allow(dead_code)]
    shared: Arc<Shared>,
}

impl VolumeSvc {
    /// A service over `shared`.
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

#[tonic::async_trait]
impl VolumeService for VolumeSvc {
    async fn create_volume(&self, _request: Request<pb::CreateVolumeReq>) -> Result<Response<pb::CreateVolumeRes>, Status> {
        Err(not_built("CreateVolume", "volumes"))
    }

    async fn list_volumes(&self, _request: Request<pb::EmptyRequest>) -> Result<Response<pb::Volumes>, Status> {
        Err(not_built("ListVolumes", "volumes"))
    }

    async fn remove_volume(&self, _request: Request<pb::RemoveVolumeReq>) -> Result<Response<pb::RemoveVolumeRes>, Status> {
        Err(not_built("RemoveVolume", "volumes"))
    }

}
