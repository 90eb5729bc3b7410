//! The readers of the `metrics` scenario: a StreamJobMetrics or
//! StreamJobTelematics stream read event by event, without decoding more
//! of each event than its `timestamp` (field 1, Unix nanoseconds, in both
//! JobMetricsEvent and TelematicsEvent).
//!
//! An event whose timestamp is before the request was sent was history when
//! the stream began: it is counted, not timed. A live one's delay is its
//! arrival (this machine's wall clock) minus its timestamp (the node's
//! clock): on a remote node, the clocks' offset is part of it.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::stats::{StreamStats, histogram, record};
use crate::transport::{CallError, Code, Conn, Rpc, grpc};

/// Nanoseconds since the Unix epoch, now.
fn unix_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// One telemetry stream being read.
#[derive(Debug)]
pub(crate) struct EventReader {
    walker: grpc::FrameWalker,
    head: grpc::MessageHead,
    sent: Instant,
    sent_ns: i128,
    last: Option<Instant>,
    /// What the stream delivered.
    pub(crate) stats: StreamStats,
}

impl EventReader {
    /// A reader of a stream requested now.
    pub(crate) fn new() -> Self {
        Self {
            walker: grpc::FrameWalker::default(),
            head: grpc::MessageHead::default(),
            sent: Instant::now(),
            sent_ns: unix_ns(),
            last: None,
            stats: StreamStats::default(),
        }
    }

    /// When the request was sent.
    pub(crate) fn sent(&self) -> Instant {
        self.sent
    }

    /// Takes the stream's bytes as they arrive.
    pub(crate) fn feed(&mut self, data: &Bytes) -> Result<(), CallError> {
        let Self {
            walker,
            head,
            sent,
            sent_ns,
            last,
            stats,
        } = self;
        walker
            .feed(data, &mut |event| {
                if head.take(&event) {
                    let now = Instant::now();
                    if last.is_none() {
                        record(&mut stats.ttfb, now - *sent);
                    }
                    if let Some(prev) = last.replace(now) {
                        record(&mut stats.gaps, now - prev);
                    }
                    stats.chunks += 1;
                    stats.bytes += head.message_len() as u64;
                    // timestamp = 1, int64 varint: tag 0x08.
                    let stamp = match *head.bytes() {
                        [0x08, ref rest @ ..] => grpc::varint(rest).map(|(v, _)| v as i64),
                        _ => None,
                    };
                    match stamp {
                        Some(ts) if i128::from(ts) < *sent_ns => stats.history += 1,
                        Some(ts) => {
                            let late = (unix_ns() - i128::from(ts)).max(0);
                            let late = std::time::Duration::from_nanos(late as u64);
                            record(stats.delay.get_or_insert_with(histogram), late);
                        }
                        None => {}
                    }
                }
            })
            .map_err(|e| CallError::new(Code::Internal, e.to_string()))
    }
}

/// Reads the `rpc` stream of `body` until it ends, or until `cut` resolves
/// (the load is over: the stream is dropped, and that is no error).
pub(crate) async fn follow(
    conn: &Conn,
    rpc: Rpc,
    body: Bytes,
    cut: impl std::future::Future<Output = ()>,
) -> (Result<(), CallError>, EventReader, Instant) {
    let mut reader = EventReader::new();
    let result = tokio::select! {
        r = conn.call(rpc, body, |data| reader.feed(data)) => r,
        () = cut => Ok(()),
    };
    let result = result.and_then(|()| {
        reader
            .walker
            .finish()
            .map_err(|e| CallError::new(Code::Internal, e.to_string()))
    });
    let done = Instant::now();
    if reader.stats.chunks > 0 {
        reader.stats.streams = 1;
        let secs = (done - reader.sent).as_secs_f64().max(1e-9);
        let kbps = (reader.stats.bytes as f64 / secs) / 1e3;
        let _ = reader.stats.stream_kbps.record(kbps.max(1.0) as u64);
    }
    (result, reader, done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use joblet_testkit::pb;

    #[test]
    fn events_are_counted_and_live_ones_timed_job_metrics_2() {
        let now = unix_ns() as i64;
        let mut body = Vec::new();
        for ts in [now - 10_000_000_000, now + 1_000_000, 0] {
            body.extend_from_slice(&grpc::frame(&pb::v2::JobMetricsEvent {
                timestamp: ts,
                job_uuid: "j".into(),
                cpu_percent: 5.0,
                ..Default::default()
            }));
        }
        let mut r = EventReader::new();
        for piece in body.chunks(7) {
            r.feed(&Bytes::copy_from_slice(piece)).unwrap();
        }
        r.walker.finish().unwrap();
        assert_eq!(r.stats.chunks, 3);
        assert_eq!(r.stats.history, 1, "the event 10 s old was history");
        // The event without a timestamp is neither history nor timed.
        assert_eq!(r.stats.delay.as_ref().map(|h| h.len()), Some(1));
        assert_eq!(r.stats.ttfb.len(), 1);
        assert_eq!(r.stats.gaps.len(), 2);
        assert_eq!(r.stats.bytes as usize, body.len() - 15);
    }

    #[test]
    fn telematics_events_carry_their_timestamp_in_field_1_job_telem_1() {
        let now = unix_ns() as i64;
        let msg = grpc::frame(&pb::v2::TelematicsEvent {
            timestamp: now + 5_000_000,
            job_uuid: "j".into(),
            r#type: "exec".into(),
            ..Default::default()
        });
        let mut r = EventReader::new();
        r.feed(&msg).unwrap();
        assert_eq!((r.stats.chunks, r.stats.history), (1, 0));
        assert!(r.stats.delay.is_some());
    }
}
