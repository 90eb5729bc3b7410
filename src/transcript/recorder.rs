//! The recorder: numbers calls as they start, follows each answer through a
//! [`CallCapture`], and writes the finished line to a file and to an optional
//! [`LineSink`].

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use parking_lot::Mutex;
use prost::Message as _;
use prost_reflect::MessageDescriptor;
use serde_json::Value;

use super::hash::LogAccumulator;
use super::line::{CallStatus, FORMAT_VERSION, Line, Response};
use super::wire::{FrameParser, compact_options, decompress, is_joblet_path, render, status_of};
use crate::code::code_name;
use crate::reflect::method_descriptor_in;

/// Log bytes kept per `GetJobLogs` call by default (`--record-log-limit`).
pub const DEFAULT_LOG_LIMIT: usize = 16 << 10;

/// Requests larger than this are recorded as `null` with their size
/// (`request_omitted`): a replay skips them.
pub const MAX_RECORDED_REQUEST: usize = 16 << 20;

/// Messages kept per streaming call; later ones are only counted (`omitted`).
pub const MAX_STREAM_MESSAGES: usize = 10_000;

/// Where finished lines go.
#[derive(Debug, Clone, Default)]
pub struct RecorderOptions {
    /// Write every line to this file (created or truncated).
    pub file: Option<PathBuf>,
    /// Log bytes kept per `GetJobLogs` call (0: [`DEFAULT_LOG_LIMIT`]).
    pub log_limit: usize,
    /// The contract the recorded node speaks, written on every line
    /// (`None`: not known).
    pub contract: Option<crate::contract::Api>,
}

/// Receives every finished line besides the file (the mock keeps the last
/// calls of each session in memory this way).
pub trait LineSink: Send + Sync + std::fmt::Debug {
    /// A finished call: its line, and the line as written (JSON, no newline).
    fn line(&self, line: &Line, text: &Arc<str>);
}

/// Numbers calls and writes their lines.
pub struct Recorder {
    start: Instant,
    next_seq: AtomicU64,
    file: Option<(PathBuf, Mutex<BufWriter<File>>)>,
    sink: Option<Arc<dyn LineSink>>,
    log_limit: usize,
    contract: Option<crate::contract::Api>,
    written: AtomicU64,
    write_errors: AtomicU64,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("file", &self.file.as_ref().map(|(p, _)| p))
            .field("sink", &self.sink)
            .field("log_limit", &self.log_limit)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// A recorder as `options` say; errors when the file cannot be created.
    pub fn new(options: RecorderOptions) -> std::io::Result<Self> {
        let file = match options.file {
            Some(path) => {
                let f = File::create(&path).map_err(|e| {
                    std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
                })?;
                Some((path, Mutex::new(BufWriter::new(f))))
            }
            None => None,
        };
        Ok(Self {
            start: Instant::now(),
            next_seq: AtomicU64::new(1),
            file,
            sink: None,
            log_limit: if options.log_limit == 0 {
                DEFAULT_LOG_LIMIT
            } else {
                options.log_limit
            },
            contract: options.contract,
            written: AtomicU64::new(0),
            write_errors: AtomicU64::new(0),
        })
    }

    /// This recorder, also handing every finished line to `sink` (after the
    /// file).
    pub fn with_sink(mut self, sink: Arc<dyn LineSink>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// The file lines are written to.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_ref().map(|(p, _)| p.as_path())
    }

    /// Lines finished so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Starts recording a call of `path` whose request body (gRPC framing
    /// included) is `request_body`; `None` for paths outside the five Joblet
    /// services.
    pub fn begin(
        self: &Arc<Self>,
        path: &str,
        session: &str,
        role: &str,
        request_body: &[u8],
        request_encoding: Option<&str>,
    ) -> Option<CallCapture> {
        if !is_joblet_path(path) {
            return None;
        }
        let (service, method) = path.trim_start_matches('/').split_once('/')?;
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let at_ms = self.start.elapsed().as_millis() as u64;
        let time = chrono::DateTime::<chrono::Utc>::from(SystemTime::now())
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let desc = method_descriptor_in(self.contract, service, method);
        let first = FrameParser::default().push(request_body).into_iter().next();
        let (request, request_omitted) = match (&desc, first) {
            (_, Some(m)) if m.bytes.len() > MAX_RECORDED_REQUEST => {
                (Value::Null, Some(m.bytes.len() as u64))
            }
            (Some(d), Some(m)) => (
                decompress(&m, request_encoding)
                    .and_then(|b| render(&d.input(), &b, &compact_options()))
                    .unwrap_or(Value::Null),
                None,
            ),
            // An empty body is the empty message.
            (Some(d), None) if request_body.is_empty() => (
                render(&d.input(), &[], &compact_options()).unwrap_or(Value::Null),
                None,
            ),
            _ => (Value::Null, None),
        };
        let log = desc
            .as_ref()
            .is_some_and(|d| d.output().full_name() == "joblet.DataChunk")
            .then(|| LogAccumulator::new(self.log_limit));
        Some(CallCapture {
            recorder: Arc::clone(self),
            line: Line {
                v: FORMAT_VERSION,
                seq,
                at_ms,
                end_ms: at_ms,
                time,
                session: session.to_owned(),
                role: role.to_owned(),
                service: service.to_owned(),
                method: method.to_owned(),
                request,
                request_omitted,
                response: Response::default(),
                status: CallStatus {
                    code: "UNKNOWN".into(),
                    message: String::new(),
                },
                client_cancelled: false,
                contract: self.contract.map(|c| c.name().to_owned()),
            },
            output: desc.map(|d| d.output()),
            encoding: None,
            parser: FrameParser::default(),
            log,
            status: None,
        })
    }

    fn finish(&self, mut line: Line) {
        line.end_ms = (self.start.elapsed().as_millis() as u64).max(line.at_ms);
        let text: Arc<str> = match serde_json::to_string(&line) {
            Ok(t) => t.into(),
            Err(e) => {
                tracing::warn!("cannot render a transcript line: {e}");
                return;
            }
        };
        if let Some((path, file)) = &self.file {
            let mut f = file.lock();
            let result = f
                .write_all(text.as_bytes())
                .and_then(|()| f.write_all(b"\n"))
                .and_then(|()| f.flush());
            if let Err(e) = result
                && self.write_errors.fetch_add(1, Ordering::Relaxed) == 0
            {
                tracing::error!("cannot write the transcript {}: {e}", path.display());
            }
        }
        if let Some(sink) = &self.sink {
            sink.line(&line, &text);
        }
        self.written.fetch_add(1, Ordering::Relaxed);
    }
}

/// One call being recorded: feed it the answer, and it writes its line when
/// the answer ends (or when dropped: the client left).
pub struct CallCapture {
    recorder: Arc<Recorder>,
    line: Line,
    output: Option<MessageDescriptor>,
    encoding: Option<String>,
    parser: FrameParser,
    log: Option<LogAccumulator>,
    status: Option<CallStatus>,
}

impl std::fmt::Debug for CallCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallCapture")
            .field("seq", &self.line.seq)
            .field("method", &self.line.method)
            .finish_non_exhaustive()
    }
}

impl CallCapture {
    /// The response headers: the encoding, or a trailers-only status.
    pub fn headers(&mut self, headers: &http::HeaderMap) {
        self.encoding = headers
            .get("grpc-encoding")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if let Some(s) = status_of(headers) {
            self.status = Some(s);
        }
    }

    /// A data frame of the response body.
    pub fn data(&mut self, data: &[u8]) {
        for m in self.parser.push(data) {
            let Some(bytes) = decompress(&m, self.encoding.as_deref()) else {
                self.line.response.omitted += 1;
                continue;
            };
            if let Some(log) = &mut self.log {
                match crate::pb::DataChunk::decode(bytes) {
                    Ok(chunk) => log.push(&chunk.payload),
                    Err(_) => self.line.response.omitted += 1,
                }
            } else if self.line.response.messages.len() >= MAX_STREAM_MESSAGES {
                self.line.response.omitted += 1;
            } else {
                let value = self
                    .output
                    .as_ref()
                    .and_then(|d| render(d, &bytes, &compact_options()))
                    .unwrap_or(Value::Null);
                self.line.response.messages.push(value);
            }
        }
    }

    /// The trailers: the status.
    pub fn trailers(&mut self, trailers: &http::HeaderMap) {
        if let Some(s) = status_of(trailers) {
            self.status = Some(s);
        }
    }

    /// The call failed in transport (`code` names it).
    pub fn fail(&mut self, code: tonic::Code, message: impl Into<String>) {
        if self.status.is_none() {
            self.status = Some(CallStatus {
                code: code_name(code).into(),
                message: message.into(),
            });
        }
    }

    /// Whether the final status is known.
    pub fn has_status(&self) -> bool {
        self.status.is_some()
    }

    /// Writes the line. Without a status, the client left: `CANCELLED`.
    pub fn finish(mut self) {
        let status = match self.status.take() {
            Some(s) => s,
            None => {
                self.line.client_cancelled = true;
                CallStatus {
                    code: "CANCELLED".into(),
                    message: "the client cancelled the call".into(),
                }
            }
        };
        self.line.status = status;
        if let Some(log) = self.log.take() {
            self.line.response.log = Some(log.finish());
        }
        let recorder = Arc::clone(&self.recorder);
        recorder.finish(self.line);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::pb;
    use crate::transcript::{parse, read, sha256_hex};

    fn framed(message: &impl prost::Message) -> Vec<u8> {
        let body = message.encode_to_vec();
        let mut out = vec![0];
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Every line the recorder hands on, in order.
    #[derive(Debug, Default)]
    struct Collect(Mutex<Vec<(u64, Arc<str>)>>);

    impl LineSink for Collect {
        fn line(&self, line: &Line, text: &Arc<str>) {
            self.0.lock().push((line.seq, Arc::clone(text)));
        }
    }

    #[test]
    fn calls_become_lines_in_the_file_and_the_sink() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let sink = Arc::new(Collect::default());
        let rec = Arc::new(
            Recorder::new(RecorderOptions {
                file: Some(path.clone()),
                log_limit: 8,
                contract: None,
            })
            .unwrap()
            .with_sink(sink.clone()),
        );
        // A unary call, its answer split across frames.
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
        c.data(&answer[..3]);
        c.data(&answer[3..]);
        let mut ok = http::HeaderMap::new();
        ok.insert("grpc-status", "0".parse().unwrap());
        c.trailers(&ok);
        assert!(c.has_status());
        c.finish();
        // A log stream, kept up to 8 bytes.
        let mut c = rec
            .begin(
                "/joblet.JobService/GetJobLogs",
                "",
                "viewer",
                &framed(&pb::GetJobLogsReq { uuid: "x".into() }),
                None,
            )
            .unwrap();
        for part in ["hello ", "world\n"] {
            c.data(&framed(&pb::DataChunk {
                payload: part.as_bytes().to_vec().into(),
            }));
        }
        c.trailers(&ok);
        c.finish();
        // A call the client left, and one that broke off in transport.
        let c = rec
            .begin("/joblet.JobService/ListJobs", "", "none", &[], None)
            .unwrap();
        c.finish();
        let mut c = rec
            .begin("/joblet.JobService/ListJobs", "", "admin", &[], None)
            .unwrap();
        c.fail(tonic::Code::Unavailable, "gone");
        c.finish();
        // Not Joblet calls: not recorded.
        assert!(
            rec.begin("/grpc.health.v1.Health/Check", "", "admin", &[], None)
                .is_none()
        );

        let lines = read(&path).unwrap();
        assert_eq!(lines.len(), 4);
        assert_eq!(rec.written(), 4);
        assert_eq!(rec.file(), Some(path.as_path()));
        let l = &lines[0];
        assert_eq!(
            (
                l.seq,
                l.service.as_str(),
                l.method.as_str(),
                l.session.as_str()
            ),
            (1, "joblet.JobService", "RunJob", "s1")
        );
        assert_eq!(l.request, json!({"command": "echo", "args": ["hi"]}));
        assert_eq!(
            l.response.messages,
            vec![json!({"jobUuid": "u-1", "status": "RUNNING"})]
        );
        assert_eq!(l.status.code, "OK");
        let log = lines[1].response.log.clone().unwrap();
        assert_eq!((log.chunks, log.bytes, log.truncated), (2, 12, true));
        assert_eq!(log.text.as_deref(), Some("hello wo"));
        assert_eq!(log.sha256, sha256_hex(b"hello world\n"));
        assert!(lines[2].client_cancelled);
        assert_eq!(lines[2].status.code, "CANCELLED");
        assert_eq!(lines[2].request, json!({}));
        assert_eq!(
            (
                lines[3].status.code.as_str(),
                lines[3].status.message.as_str()
            ),
            ("UNAVAILABLE", "gone")
        );
        assert!(!lines[3].client_cancelled);
        // The sink saw the same lines as the file holds.
        let seen = sink.0.lock();
        assert_eq!(seen.len(), 4);
        for ((seq, text), line) in seen.iter().zip(&lines) {
            assert_eq!(*seq, line.seq);
            assert_eq!(parse(text, "sink").unwrap()[0], *line);
        }
    }

    #[test]
    fn the_default_log_limit_applies() {
        let rec = Arc::new(Recorder::new(RecorderOptions::default()).unwrap());
        assert!(rec.file().is_none());
        let sink = Arc::new(Collect::default());
        let rec = Arc::new(Arc::try_unwrap(rec).unwrap().with_sink(sink.clone()));
        let mut c = rec
            .begin("/joblet.JobService/GetJobLogs", "", "admin", &[], None)
            .unwrap();
        c.data(&framed(&pb::DataChunk {
            payload: vec![b'a'; DEFAULT_LOG_LIMIT + 1].into(),
        }));
        c.finish();
        let line = parse(&sink.0.lock()[0].1, "sink").unwrap().remove(0);
        let log = line.response.log.unwrap();
        assert_eq!(log.text.map(|t| t.len()), Some(DEFAULT_LOG_LIMIT));
        assert!(log.truncated);
    }
}
