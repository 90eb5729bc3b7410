//! `joblet.MonitoringService`: GetSystemStatus and StreamSystemMetrics (MON-*).
//!
//! The figures come from [`crate::monitoring`]; this module shapes requests and
//! paces the stream.

use std::sync::Arc;

use joblet_testkit::pb;
use joblet_testkit::pb::monitoring_service_server::MonitoringService;
use tokio::time::MissedTickBehavior;
use tonic::{Request, Response, Status};

use super::{BoxStream, until_shutdown};
use crate::monitoring::{self, Monitor, Sections};
use crate::state::Shared;

/// The MonitoringService over the shared state.
#[derive(Debug, Clone)]
pub struct MonitoringSvc {
    shared: Arc<Shared>,
    monitor: Arc<Monitor>,
}

impl MonitoringSvc {
    /// A service over `shared`.
    pub fn new(shared: Arc<Shared>) -> Self {
        let monitor = Arc::new(Monitor::new(shared.config.seed));
        Self { shared, monitor }
    }
}

#[tonic::async_trait]
impl MonitoringService for MonitoringSvc {
    async fn get_system_status(
        &self,
        _request: Request<pb::EmptyRequest>,
    ) -> Result<Response<pb::SystemStatusRes>, Status> {
        let index = self.monitor.next_call();
        let sample = self.monitor.sample(&self.shared, index);
        Ok(Response::new(sample.into_status()))
    }

    type StreamSystemMetricsStream = BoxStream<pb::SystemMetricsRes>;

    /// First sample at once, then one per interval (MON-STREAM-1), with only the
    /// sections asked for (MON-STREAM-2). The stream owns its timer and nothing
    /// else runs for it: when the client leaves, tonic drops it and it stops.
    async fn stream_system_metrics(
        &self,
        request: Request<pb::StreamMetricsReq>,
    ) -> Result<Response<Self::StreamSystemMetricsStream>, Status> {
        let req = request.into_inner();
        let sections = Sections::parse(&req.metric_types)?;
        let mut ticks = tokio::time::interval(monitoring::interval(req.interval_seconds));
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let state = (
            ticks,
            0u64,
            Arc::clone(&self.shared),
            Arc::clone(&self.monitor),
        );
        let stream = futures::stream::unfold(
            state,
            move |(mut ticks, index, shared, monitor)| async move {
                ticks.tick().await;
                let sample = monitor.sample(&shared, index).into_metrics(sections);
                Some((Ok(sample), (ticks, index + 1, shared, monitor)))
            },
        );
        Ok(Response::new(until_shutdown(
            stream,
            self.shared.closing.clone(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::StreamExt;

    use super::*;
    use crate::config::MockConfig;

    #[tokio::test]
    async fn a_huge_interval_waits_without_panicking() {
        let svc = MonitoringSvc::new(Shared::new(MockConfig::default()));
        let req = pb::StreamMetricsReq {
            interval_seconds: i32::MAX,
            metric_types: vec!["cpu".into()],
        };
        let mut stream = svc
            .stream_system_metrics(Request::new(req))
            .await
            .unwrap()
            .into_inner();
        let first = stream.next().await.unwrap().unwrap();
        assert!(first.cpu.is_some() && first.memory.is_none());
        let next = tokio::time::timeout(Duration::from_millis(50), stream.next()).await;
        assert!(next.is_err(), "a second sample came at once");
    }

    #[tokio::test]
    async fn an_unknown_type_fails_before_the_stream() {
        let svc = MonitoringSvc::new(Shared::new(MockConfig::default()));
        let req = pb::StreamMetricsReq {
            interval_seconds: 1,
            metric_types: vec!["disk".into(), "bogus".into()],
        };
        let err = svc
            .stream_system_metrics(Request::new(req))
            .await
            .err()
            .unwrap();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(err.message().contains("metricTypes"), "{}", err.message());
    }

    #[tokio::test]
    async fn status_calls_count_their_samples() {
        let cfg = MockConfig {
            seed: Some(11),
            ..MockConfig::default()
        };
        let (a, b) = (
            MonitoringSvc::new(Shared::new(cfg.clone())),
            MonitoringSvc::new(Shared::new(cfg)),
        );
        let mut cpus = Vec::new();
        for svc in [&a, &b] {
            let mut seq = Vec::new();
            for _ in 0..3 {
                let s = svc
                    .get_system_status(Request::new(pb::EmptyRequest {}))
                    .await
                    .unwrap()
                    .into_inner();
                seq.push(s.cpu.unwrap().usage_percent);
            }
            cpus.push(seq);
        }
        assert_eq!(cpus[0], cpus[1]);
        assert_ne!(cpus[0][0], cpus[0][1]);
    }
}
