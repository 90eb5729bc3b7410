//! `joblet.MonitoringService`: GetSystemStatus and StreamSystemMetrics (MON-*).
//!
//! The figures come from [`crate::monitoring`]; this module shapes requests and
//! paces the stream.

use joblet_testkit::pb::union as pb;
use joblet_testkit::pb::union::monitoring_service_server::MonitoringService;
use tonic::{Request, Response, Status};

use super::{BoxStream, Gate};
use crate::behaviour::Mutant;
use crate::monitoring::{self, Sections};

/// The MonitoringService.
#[derive(Debug, Clone)]
pub struct MonitoringSvc {
    gate: Gate,
}

impl MonitoringSvc {
    /// A service behind `gate`.
    pub fn new(gate: Gate) -> Self {
        Self { gate }
    }
}

#[tonic::async_trait]
impl MonitoringService for MonitoringSvc {
    async fn get_system_status(
        &self,
        request: Request<pb::EmptyRequest>,
    ) -> Result<Response<pb::SystemStatusRes>, Status> {
        self.gate
            .unary(
                "joblet.MonitoringService/GetSystemStatus",
                request,
                |s, _| async move {
                    let index = s.monitor.next_call();
                    // CONTRACT-2 mutant: a v2 node reports the v1 tag.
                    let proto_tag = if s.mutant(Mutant::ProtoTagV1) {
                        joblet_testkit::contract::Api::V1.proto_tag()
                    } else {
                        s.config.api.proto_tag()
                    };
                    let mut status = s.metrics_sample(index).into_status(proto_tag);
                    // MON-STATUS-2 mutant: no MAC addresses.
                    if s.mutant(Mutant::StatusNoMacAddresses)
                        && let Some(host) = status.host.as_mut()
                    {
                        host.mac_addresses.clear();
                    }
                    // MON-STATUS-1 mutant: the node says it is not available.
                    if s.mutant(Mutant::StatusUnavailable) {
                        status.available = false;
                    }
                    Ok(super::fields::system_status(s.config.api, status))
                },
            )
            .await
    }

    type StreamSystemMetricsStream = BoxStream<pb::SystemMetricsRes>;

    /// First sample at once, then one per interval of the session's clock
    /// (MON-STREAM-1), with only the sections asked for (MON-STREAM-2). The
    /// stream owns its timer and nothing else runs for it: when the client
    /// leaves, tonic drops it and it stops.
    async fn stream_system_metrics(
        &self,
        request: Request<pb::StreamMetricsReq>,
    ) -> Result<Response<Self::StreamSystemMetricsStream>, Status> {
        self.gate
            .stream(
                "joblet.MonitoringService/StreamSystemMetrics",
                request,
                |shared, req| async move {
                    // QUIRK-11: the deployed server ignores unknown metricTypes.
                    let sections = if shared.quirk(crate::behaviour::Quirk::OpenMonitoring) {
                        Sections::parse_ignoring_unknown(&req.metric_types)
                    } else {
                        Sections::parse(&req.metric_types)?
                    };
                    // MON-STREAM-2 mutant: every section, whatever was asked for.
                    let sections = if shared.mutant(Mutant::FilterIgnored) {
                        Sections::ALL
                    } else {
                        sections
                    };
                    let every = monitoring::interval(req.interval_seconds);
                    // MON-STREAM-1 mutant: intervalSeconds is ignored.
                    let every = if shared.mutant(Mutant::IntervalIgnored) {
                        std::time::Duration::from_millis(100)
                    } else {
                        every
                    };
                    Ok(futures::stream::unfold(
                        (0u64, shared),
                        move |(index, shared)| async move {
                            if index > 0 {
                                shared.clock.sleep(every).await;
                            }
                            let sample = super::fields::system_metrics(
                                shared.config.api,
                                shared.metrics_sample(index).into_metrics(sections),
                            );
                            Some((Ok(sample), (index + 1, shared)))
                        },
                    ))
                },
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::StreamExt;

    use super::*;
    use crate::config::MockConfig;
    use crate::session::Node;

    fn svc(config: MockConfig) -> MonitoringSvc {
        MonitoringSvc::new(Gate::new(Node::new(config)))
    }

    #[tokio::test]
    async fn a_huge_interval_waits_without_panicking() {
        let svc = svc(MockConfig::default());
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
        let svc = svc(MockConfig::default());
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
        let (a, b) = (svc(cfg.clone()), svc(cfg));
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
