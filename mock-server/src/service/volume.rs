//! `joblet.VolumeService`: volumes (VOL-*), over [`crate::volumes`].

use std::sync::Arc;

use joblet_testkit::pb;
use joblet_testkit::pb::volume_service_server::VolumeService;
use tonic::{Request, Response, Status};

use crate::state::Shared;
use crate::volumes;

/// The VolumeService over the shared state.
#[derive(Debug, Clone)]
pub struct VolumeSvc {
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
    async fn create_volume(
        &self,
        request: Request<pb::CreateVolumeReq>,
    ) -> Result<Response<pb::CreateVolumeRes>, Status> {
        Ok(Response::new(volumes::create(
            &self.shared,
            request.into_inner(),
        )?))
    }

    async fn list_volumes(
        &self,
        _request: Request<pb::EmptyRequest>,
    ) -> Result<Response<pb::Volumes>, Status> {
        Ok(Response::new(volumes::list(&self.shared)))
    }

    async fn remove_volume(
        &self,
        request: Request<pb::RemoveVolumeReq>,
    ) -> Result<Response<pb::RemoveVolumeRes>, Status> {
        Ok(Response::new(volumes::remove(
            &self.shared,
            &request.get_ref().name,
        )))
    }
}
