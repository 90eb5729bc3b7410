//! `joblet.MonitoringService` (placeholder until its issue lands).

use std::sync::Arc;

use joblet_testkit::pb;
use joblet_testkit::pb::monitoring_service_server::MonitoringService;
use tonic::{Request, Response, Status};

#[allow(unused_imports)]
use super::{BoxStream, not_built};
use crate::state::Shared;

/// The MonitoringService over the shared state.
#[derive(Debug, Clone)]
pub struct MonitoringSvc {
    #[allow(dead_code)]
    shared: Arc<Shared>,
}

impl MonitoringSvc {
    /// A service over `shared`.
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

#[tonic::async_trait]
impl MonitoringService for MonitoringSvc {
    async fn get_system_status(&self, _request: Request<pb::EmptyRequest>) -> Result<Response<pb::SystemStatusRes>, Status> {
        Err(not_built("GetSystemStatus", "monitoring"))
    }

    type StreamSystemMetricsStream = BoxStream<pb::SystemMetricsRes>;

    async fn stream_system_metrics(&self, _request: Request<pb::StreamMetricsReq>) -> Result<Response<Self::StreamSystemMetricsStream>, Status> {
        Err(not_built("StreamSystemMetrics", "monitoring"))
    }

}
