//! Transcripts of the mock: every Joblet call it receives with its whole
//! answer, as JSON Lines (`joblet-mock --record FILE`) and, per session, in
//! memory for the control API's `ExportTranscript` (`--transcript-size N`).
//!
//! The format, its reader and the recording machinery are the contract's, in
//! [`joblet_testkit::transcript`] (the conformance suite's recording proxy
//! and its replay use the same), and are re-exported here. What is the
//! mock's own: the [`Recorder`] keeps the last calls of each session in a
//! bounded store ([`Recorder::session_lines`], forgotten when the session is
//! reset), and [`RecordLayer`] puts the recorder outermost on the mock's
//! listeners, so that calls refused by authorization are recorded too.

use std::sync::Arc;

use joblet_testkit::transcript as format;
pub use joblet_testkit::transcript::RecordService;
use tower::Layer;

pub use crate::recorder::Recorder;

/// Tower layer recording every Joblet call through the mock's server into a
/// [`Recorder`] (the testkit's
/// [`RecordLayer`](joblet_testkit::transcript::RecordLayer)). The mock puts
/// it outermost, so that calls refused by authorization are recorded too.
#[derive(Debug, Clone)]
pub struct RecordLayer(format::RecordLayer);

impl RecordLayer {
    /// A layer writing into `recorder`.
    pub fn new(recorder: Arc<Recorder>) -> Self {
        Self(format::RecordLayer::new(Arc::clone(recorder.recorder())))
    }
}

impl<S> Layer<S> for RecordLayer {
    type Service = RecordService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        self.0.layer(inner)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use joblet_testkit::pb;
    use joblet_testkit::transcript::{CallStatus, parse, read, sha256_hex};
    use serde_json::json;

    use super::*;
    use crate::recorder::RecorderOptions;

    fn framed(message: &impl prost::Message) -> Vec<u8> {
        let body = message.encode_to_vec();
        let mut out = vec![0];
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    fn recorder(dir: &Path) -> Arc<Recorder> {
        Arc::new(
            Recorder::new(RecorderOptions {
                file: Some(dir.join("t.jsonl")),
                per_session: 2,
                max_sessions: 2,
                log_limit: 8,
                contract: Some(joblet_testkit::contract::Api::Both),
            })
            .unwrap(),
        )
    }

    fn ok_trailers() -> http::HeaderMap {
        let mut t = http::HeaderMap::new();
        t.insert("grpc-status", "0".parse().unwrap());
        t
    }

    #[test]
    fn a_unary_call_becomes_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let rec = recorder(dir.path());
        let req = pb::RunJobRequest {
            command: "echo".into(),
            args: vec!["hi".into()],
            ..Default::default()
        };
        let mut c = rec
            .begin(
                "/joblet.JobService/RunJob",
                "s1",
                "admin",
                &framed(&req),
                None,
            )
            .unwrap();
        c.headers(&http::HeaderMap::new());
        let answer = framed(&pb::RunJobResponse {
            job_uuid: "u-1".into(),
            status: "RUNNING".into(),
            ..Default::default()
        });
        // Split across frames.
        c.data(&answer[..3]);
        c.data(&answer[3..]);
        c.trailers(&ok_trailers());
        c.finish();
        let lines = read(&dir.path().join("t.jsonl")).unwrap();
        assert_eq!(lines.len(), 1);
        let l = &lines[0];
        assert_eq!(
            (l.seq, l.service.as_str(), l.method.as_str()),
            (1, "joblet.JobService", "RunJob")
        );
        assert_eq!((l.session.as_str(), l.role.as_str()), ("s1", "admin"));
        assert_eq!(l.request, json!({"command": "echo", "args": ["hi"]}));
        assert_eq!(
            l.response.messages,
            vec![json!({"jobUuid": "u-1", "status": "RUNNING"})]
        );
        assert_eq!(
            l.status,
            CallStatus {
                code: "OK".into(),
                message: String::new()
            }
        );
        assert!(!l.client_cancelled);
        assert!(chrono::DateTime::parse_from_rfc3339(&l.time).is_ok());
        // In memory too.
        let (kept, dropped) = rec.session_lines("s1").unwrap();
        assert_eq!((kept.len(), dropped), (1, 0));
        assert_eq!(parse(&kept[0], "x").unwrap()[0], *l);
    }

    #[test]
    fn errors_logs_and_cancellation() {
        let dir = tempfile::tempdir().unwrap();
        let rec = recorder(dir.path());
        // Trailers-only error with a percent-encoded message.
        let mut c = rec
            .begin(
                "/joblet.JobService/StopJob",
                "",
                "viewer",
                &framed(&pb::StopJobReq { uuid: "x".into() }),
                None,
            )
            .unwrap();
        let mut h = http::HeaderMap::new();
        h.insert("grpc-status", "7".parse().unwrap());
        h.insert(
            "grpc-message",
            "role viewer%20is not allowed".parse().unwrap(),
        );
        c.headers(&h);
        c.finish();
        // A log stream, kept up to 8 bytes.
        let mut c = rec
            .begin(
                "/joblet.JobService/GetJobLogs",
                "",
                "admin",
                &framed(&pb::GetJobLogsReq { uuid: "x".into() }),
                None,
            )
            .unwrap();
        for part in ["hello ", "world\n"] {
            c.data(&framed(&pb::DataChunk {
                payload: part.as_bytes().to_vec().into(),
            }));
        }
        c.trailers(&ok_trailers());
        c.finish();
        // A stream the client left.
        let c = rec
            .begin(
                "/joblet.MonitoringService/StreamSystemMetrics",
                "",
                "admin",
                &[],
                None,
            )
            .unwrap();
        c.finish();
        // Not a Joblet call.
        assert!(
            rec.begin("/grpc.health.v1.Health/Check", "", "admin", &[], None)
                .is_none()
        );
        assert!(
            rec.begin("/jobletmock.v1.MockControl/Reset", "", "admin", &[], None)
                .is_none()
        );

        let lines = read(&dir.path().join("t.jsonl")).unwrap();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[0].status,
            CallStatus {
                code: "PERMISSION_DENIED".into(),
                message: "role viewer is not allowed".into()
            }
        );
        let log = lines[1].response.log.clone().unwrap();
        assert_eq!((log.chunks, log.bytes, log.truncated), (2, 12, true));
        assert_eq!(log.text.as_deref(), Some("hello wo"));
        assert_eq!(log.sha256, sha256_hex(b"hello world\n"));
        assert!(lines[1].response.messages.is_empty());
        assert!(lines[2].client_cancelled);
        assert_eq!(lines[2].status.code, "CANCELLED");
        assert_eq!(lines[2].request, json!({}));
        // The default session keeps its last 2 calls.
        let (kept, dropped) = rec.session_lines("default").unwrap();
        assert_eq!((kept.len(), dropped), (2, 1));
        rec.forget("");
        assert!(rec.session_lines("").unwrap().0.is_empty());
    }

    #[test]
    fn the_store_is_bounded_in_sessions() {
        let rec = Arc::new(
            Recorder::new(RecorderOptions {
                per_session: 5,
                max_sessions: 1,
                ..RecorderOptions::default()
            })
            .unwrap(),
        );
        for s in ["a", "b"] {
            let mut c = rec
                .begin("/joblet.JobService/ListJobs", s, "admin", &[], None)
                .unwrap();
            c.trailers(&ok_trailers());
            c.finish();
        }
        assert_eq!(rec.session_lines("a").unwrap().0.len(), 1);
        assert!(rec.session_lines("b").unwrap().0.is_empty());
        assert!(rec.file().is_none());
        assert_eq!(rec.written(), 2);
    }
}
