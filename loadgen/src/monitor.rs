//! The targets' own view during the run: each target's StreamSystemMetrics
//! (CPU and memory every second), read on the control runtime and put beside
//! the client figures. A target that does not serve it (or refuses the
//! caller) gets an `error` in the report; the run goes on.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use joblet_testkit::Target;
use joblet_testkit::pb;
use joblet_testkit::pb::monitoring_service_client::MonitoringServiceClient;
use tokio_util::sync::CancellationToken;

use crate::report::{MAX_POINTS, ServerPoint, ServerReport, Spread};
use crate::transport::ServerTls;

/// Milliseconds since the Unix epoch.
pub(crate) fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[derive(Debug, Default)]
struct Acc {
    samples: u64,
    cpu_sum: f64,
    cpu_max: f64,
    mem_sum: f64,
    mem_max: f64,
    mem_total: Option<u64>,
    series: Vec<ServerPoint>,
    stride: usize,
    seen: usize,
}

impl Acc {
    fn add(&mut self, m: &pb::SystemMetricsRes) {
        let cpu = m.cpu.as_ref().map_or(0.0, |c| c.usage_percent);
        let used = m.memory.as_ref().map_or(0, |m| m.used_bytes.max(0) as u64);
        self.samples += 1;
        self.cpu_sum += cpu;
        self.cpu_max = self.cpu_max.max(cpu);
        self.mem_sum += used as f64;
        self.mem_max = self.mem_max.max(used as f64);
        if let Some(mem) = &m.memory {
            self.mem_total = Some(mem.total_bytes.max(0) as u64);
        }
        // Bounded series: keep every `stride`-th sample, doubling the stride
        // (and dropping every other kept point) when full.
        self.stride = self.stride.max(1);
        if self.seen.is_multiple_of(self.stride) {
            self.series.push(ServerPoint {
                t_ms: unix_ms(SystemTime::now()),
                cpu_percent: cpu,
                memory_used_bytes: used,
            });
            if self.series.len() >= MAX_POINTS {
                let kept: Vec<ServerPoint> = self.series.iter().step_by(2).copied().collect();
                self.series = kept;
                self.stride *= 2;
            }
        }
        self.seen += 1;
    }

    fn report(self, error: Option<String>) -> ServerReport {
        let n = self.samples.max(1) as f64;
        let some = self.samples > 0;
        ServerReport {
            samples: self.samples,
            cpu_percent: some.then(|| Spread {
                mean: self.cpu_sum / n,
                max: self.cpu_max,
            }),
            memory_used_bytes: some.then(|| Spread {
                mean: self.mem_sum / n,
                max: self.mem_max,
            }),
            memory_total_bytes: self.mem_total,
            series: self.series,
            error,
        }
    }
}

/// Reads `target`'s metrics until `stop` (over server-only TLS with
/// `server_tls`, when the target has no mutual-TLS material).
pub(crate) async fn watch(
    target: Target,
    server_tls: Option<ServerTls>,
    interval: Duration,
    stop: CancellationToken,
) -> ServerReport {
    let mut acc = Acc::default();
    let error = tokio::select! {
        e = read(&target, server_tls.as_ref(), interval, &mut acc) => Some(e),
        () = stop.cancelled() => None,
    };
    acc.report(error)
}

/// A tonic channel to `target`.
pub(crate) async fn channel(
    target: &Target,
    server_tls: Option<&ServerTls>,
) -> Result<tonic::transport::Channel, String> {
    let Some(s) = server_tls.filter(|_| target.tls.is_none()) else {
        return target.connect().await.map_err(|e| e.to_string());
    };
    let ca = std::fs::read(&s.ca_cert)
        .map_err(|e| format!("cannot read {}: {e}", s.ca_cert.display()))?;
    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(ca))
        .domain_name(s.server_name.clone());
    tonic::transport::Endpoint::from_shared(format!("https://{}", target.host_port()))
        .map_err(|e| e.to_string())?
        .connect_timeout(target.connect_timeout)
        .tls_config(tls)
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| e.to_string())
}

async fn read(
    target: &Target,
    server_tls: Option<&ServerTls>,
    interval: Duration,
    acc: &mut Acc,
) -> String {
    let channel = match channel(target, server_tls).await {
        Ok(c) => c,
        Err(e) => return format!("cannot connect for StreamSystemMetrics: {e}"),
    };
    let mut client = MonitoringServiceClient::new(channel);
    let request = pb::StreamMetricsReq {
        interval_seconds: interval.as_secs().clamp(1, 3600) as i32,
        metric_types: vec!["cpu".into(), "memory".into()],
    };
    let mut stream = match client.stream_system_metrics(request).await {
        Ok(s) => s.into_inner(),
        Err(s) => return format!("StreamSystemMetrics: {:?}: {}", s.code(), s.message()),
    };
    loop {
        match stream.message().await {
            Ok(Some(m)) => acc.add(&m),
            Ok(None) => return "StreamSystemMetrics ended".into(),
            Err(s) => return format!("StreamSystemMetrics: {:?}: {}", s.code(), s.message()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_series_stays_bounded() {
        let mut acc = Acc::default();
        for i in 0..10_000 {
            acc.add(&pb::SystemMetricsRes {
                cpu: Some(pb::CpuMetrics {
                    usage_percent: f64::from(i % 100),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        assert!(acc.series.len() < MAX_POINTS);
        let r = acc.report(None);
        assert_eq!(r.samples, 10_000);
        assert_eq!(r.cpu_percent.unwrap().max, 99.0);
    }
}
