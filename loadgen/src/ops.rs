//! What each [`Action`] does on the wire and what it records.
//!
//! The first RPC of an action is measured from the action's intended start
//! (open model) and from its send; the RPCs that follow in the same action
//! (the log stream after a RunJob, status polls) from their own send. The
//! lifecycle milestones `running` and `final` count from the action's start.

use std::time::{Duration, Instant};

use bytes::Bytes;
use joblet_testkit::pb;

use crate::plan::{Action, Follow};
use crate::pool::{Want, is_final};
use crate::stats::{Key, Op, StreamStats, record};
use crate::telemetry;
use crate::transport::{CallError, Code, Conn, Rpc, grpc};
use crate::worker::ThreadEnv;

/// The first string field `field` of an encoded protobuf message (top-level
/// fields only), without decoding the rest.
pub(crate) fn proto_string(msg: &[u8], field: u32) -> Option<&str> {
    let mut at = 0;
    while at < msg.len() {
        let (key, n) = grpc::varint(&msg[at..])?;
        at += n;
        let (number, wire) = ((key >> 3) as u32, key & 7);
        match wire {
            0 => at += grpc::varint(&msg[at..])?.1,
            1 => at += 8,
            5 => at += 4,
            2 => {
                let (len, n) = grpc::varint(&msg[at..])?;
                at += n;
                let end = at.checked_add(usize::try_from(len).ok()?)?;
                let bytes = msg.get(at..end)?;
                if number == field {
                    return std::str::from_utf8(bytes).ok();
                }
                at = end;
            }
            _ => return None,
        }
    }
    None
}

/// A job a RunJob created.
#[derive(Debug)]
struct Submitted {
    id: String,
    status: String,
    done: Instant,
}

/// The state of one log stream being read.
#[derive(Debug)]
struct LogReader {
    walker: grpc::FrameWalker,
    head: grpc::MessageHead,
    sent: Instant,
    first: Option<Instant>,
    last: Option<Instant>,
    stats: StreamStats,
}

impl LogReader {
    fn new(sent: Instant) -> Self {
        Self {
            walker: grpc::FrameWalker::default(),
            head: grpc::MessageHead::default(),
            sent,
            first: None,
            last: None,
            stats: StreamStats::default(),
        }
    }

    fn feed(&mut self, data: &Bytes) -> Result<(), CallError> {
        if self.first.is_none() && !data.is_empty() {
            let now = Instant::now();
            self.first = Some(now);
            record(&mut self.stats.ttfb, now - self.sent);
        }
        let Self {
            walker,
            head,
            last,
            stats,
            ..
        } = self;
        walker
            .feed(data, &mut |event| {
                if head.take(&event) {
                    // DataChunk { bytes payload = 1 }: tag 0x0a, varint length.
                    let payload = match *head.bytes() {
                        [0x0a, ref rest @ ..] => grpc::varint(rest)
                            .map(|(v, _)| v as usize)
                            .unwrap_or(head.message_len()),
                        _ => head.message_len(),
                    };
                    stats.bytes += payload as u64;
                    stats.chunks += 1;
                    let now = Instant::now();
                    if let Some(prev) = last.replace(now) {
                        record(&mut stats.gaps, now - prev);
                    }
                }
            })
            .map_err(|e| CallError::new(Code::Internal, e.to_string()))
    }
}

impl ThreadEnv {
    async fn timed<T>(
        &self,
        fut: impl std::future::Future<Output = Result<T, CallError>>,
    ) -> Result<T, CallError> {
        match tokio::time::timeout(self.shared.timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(CallError::new(
                Code::DeadlineExceeded,
                format!("no answer within {:?} (--timeout)", self.shared.timeout),
            )),
        }
    }

    /// One unary call, timed: (result, sent, done).
    async fn unary_timed(
        &self,
        conn: &Conn,
        rpc: Rpc,
        body: Bytes,
    ) -> (Result<Bytes, CallError>, Instant, Instant) {
        let sent = Instant::now();
        let result = self.timed(conn.unary(rpc, body)).await;
        (result, sent, Instant::now())
    }

    fn record_call<T>(
        &self,
        key: Key,
        intended: Option<Instant>,
        (sent, done): (Instant, Instant),
        result: &Result<T, CallError>,
    ) {
        self.record(|cells| {
            let s = cells.get(key);
            match result {
                Ok(_) => s.ok(intended, sent, done),
                Err(e) => s.error(e),
            }
        });
    }

    /// One unary call recorded under `key`.
    async fn unary_op(
        &self,
        conn: &Conn,
        key: Key,
        rpc: Rpc,
        body: Bytes,
        intended: Option<Instant>,
    ) -> Result<Bytes, CallError> {
        let (result, sent, done) = self.unary_timed(conn, rpc, body).await;
        self.record_call(key, intended, (sent, done), &result);
        result
    }

    /// A call whose response is read without keeping it (ListJobs).
    async fn counted_op(
        &self,
        conn: &Conn,
        key: Key,
        rpc: Rpc,
        body: Bytes,
        intended: Option<Instant>,
    ) -> Result<(), CallError> {
        let sent = Instant::now();
        let mut walker = grpc::FrameWalker::default();
        let result = self
            .timed(conn.call(rpc, body, |data| {
                walker
                    .feed(data, &mut |_| {})
                    .map_err(|e| CallError::new(Code::Internal, e.to_string()))
            }))
            .await
            .and_then(|()| {
                walker
                    .finish()
                    .map_err(|e| CallError::new(Code::Internal, e.to_string()))
            });
        self.record_call(key, intended, (sent, Instant::now()), &result);
        result
    }

    async fn submit(
        &self,
        conn: &Conn,
        target: u16,
        stage: u16,
        intended: Option<Instant>,
        body: Bytes,
    ) -> Option<Submitted> {
        let key = Key {
            op: Op::Submit,
            target,
            stage,
        };
        let (result, sent, done) = self.unary_timed(conn, Rpc::RunJob, body).await;
        let result = result.and_then(|msg| {
            let id = proto_string(&msg, 1).unwrap_or_default();
            if id.is_empty() {
                return Err(CallError::new(
                    Code::Internal,
                    "RunJob answered OK without a job ID",
                ));
            }
            let status = proto_string(&msg, 2).unwrap_or_default();
            Ok(Submitted {
                id: id.to_owned(),
                status: status.to_owned(),
                done,
            })
        });
        self.record_call(key, intended, (sent, done), &result);
        let job = result.ok()?;
        self.created(target, &job.id, &job.status);
        Some(job)
    }

    /// Reads a whole log stream, recording `logs`; returns the bytes read
    /// and when the first arrived.
    async fn log_stream(
        &self,
        conn: &Conn,
        key: Key,
        id: &str,
        intended: Option<Instant>,
        expected: Option<u64>,
    ) -> (Result<u64, CallError>, Option<Instant>) {
        let sent = Instant::now();
        let mut reader = LogReader::new(sent);
        let body = grpc::frame(&pb::GetJobLogsReq { uuid: id.into() });
        // A stream takes as long as the job writes: no --timeout.
        let mut result = conn
            .call(Rpc::GetJobLogs, body, |data| reader.feed(data))
            .await;
        if result.is_ok() {
            result = reader
                .walker
                .finish()
                .map_err(|e| CallError::new(Code::Internal, e.to_string()));
        }
        let done = Instant::now();
        let bytes = reader.stats.bytes;
        if let (Ok(()), Some(want)) = (&result, expected)
            && bytes != want
        {
            result = Err(CallError::new(
                Code::DataLoss,
                format!("the log stream ended after {bytes} of {want} bytes"),
            ));
        }
        let first = reader.first;
        let mut stats = reader.stats;
        if bytes > 0 {
            stats.streams = 1;
            let secs = (done - sent).as_secs_f64().max(1e-9);
            let _ = stats
                .stream_kbps
                .record(((bytes as f64 / secs) / 1e3).max(1.0) as u64);
        }
        self.record(|cells| {
            let s = cells.get(key);
            match &result {
                Ok(()) => s.ok(intended, sent, done),
                Err(e) => s.error(e),
            }
            s.stream
                .get_or_insert_with(StreamStats::default)
                .merge(&stats);
        });
        (result.map(|()| bytes), first)
    }

    /// Runs one action of the plan.
    pub(crate) async fn execute(
        &self,
        action: Action,
        target: u16,
        conn: &Conn,
        stage: u16,
        intended: Option<Instant>,
    ) {
        let key = |op| Key { op, target, stage };
        match action {
            Action::Call(Rpc::RunJob) => {
                self.submit(conn, target, stage, intended, self.shared.run_job.clone())
                    .await;
            }
            Action::Call(Rpc::ListJobs) => {
                let _ = self
                    .counted_op(
                        conn,
                        key(Op::List),
                        Rpc::ListJobs,
                        self.shared.empty.clone(),
                        intended,
                    )
                    .await;
            }
            Action::Call(rpc) => self.on_job(conn, rpc, (target, stage), intended).await,
            Action::LogStream { bytes } => {
                let body = self.shared.zeros.clone().unwrap_or_default();
                let Some(job) = self.submit(conn, target, stage, intended, body).await else {
                    return;
                };
                let _ = self
                    .log_stream(conn, key(Op::Logs), &job.id, None, Some(bytes))
                    .await;
            }
            Action::Telemetry {
                followers,
                telematics,
            } => {
                self.telemetry(conn, (target, stage), (followers, telematics), intended)
                    .await;
            }
            Action::Lifecycle(follow) => {
                let sent = Instant::now();
                let Some(job) = self
                    .submit(conn, target, stage, intended, self.shared.run_job.clone())
                    .await
                else {
                    return;
                };
                self.follow(conn, (target, stage), follow, job, intended, sent)
                    .await;
            }
        }
    }

    /// GetJobStatus, GetJobLogs, StopJob or DeleteJob on a job of the run
    /// in the state the call needs ([`Want`]); with none, the draw is
    /// counted as skipped and nothing is sent.
    async fn on_job(
        &self,
        conn: &Conn,
        rpc: Rpc,
        (target, stage): (u16, u16),
        intended: Option<Instant>,
    ) {
        let key = Key {
            op: Op::of(rpc),
            target,
            stage,
        };
        let want = match rpc {
            Rpc::StopJob => Want::Running,
            Rpc::DeleteJob => Want::Finished,
            _ => Want::Any,
        };
        let Some(id) = self.pick_job(target, want) else {
            self.record(|cells| cells.get(key).skipped += 1);
            return;
        };
        match rpc {
            Rpc::StopJob => self.stop(conn, key, &id, intended).await,
            Rpc::DeleteJob => {
                let body = grpc::frame(&pb::DeleteJobReq { uuid: id });
                let _ = self.unary_op(conn, key, rpc, body, intended).await;
            }
            Rpc::GetJobStatus => {
                let body = grpc::frame(&pb::GetJobStatusReq { uuid: id.clone() });
                let result = self.unary_op(conn, key, rpc, body, intended).await;
                self.learn(target, &id, &result);
                self.with_pool(target, |p| p.release(&id));
            }
            Rpc::StreamJobMetrics | Rpc::StreamJobTelematics => {
                let result = self.telemetry_stream(conn, key, &id, intended).await;
                if result.as_ref().is_err_and(|e| e.code == Code::NotFound) {
                    self.with_pool(target, |p| p.forget(&id));
                }
                self.with_pool(target, |p| p.release(&id));
            }
            _ => {
                let (result, _) = self.log_stream(conn, key, &id, intended, None).await;
                if result.as_ref().is_err_and(|e| e.code == Code::NotFound) {
                    self.with_pool(target, |p| p.forget(&id));
                }
                self.with_pool(target, |p| p.release(&id));
            }
        }
    }

    /// Resolves when the load is over: its duration spent, or the run
    /// stopped (Ctrl-C, `--requests` spent).
    async fn load_over(&self) {
        let shared = &self.shared;
        match shared.plan.total_duration() {
            Some(d) => tokio::select! {
                () = tokio::time::sleep_until((shared.start() + d).into()) => {}
                () = shared.stop.cancelled() => {}
            },
            None => shared.stop.cancelled().await,
        }
    }

    /// Reads job `id`'s StreamJobMetrics (`key.op` metrics) or
    /// StreamJobTelematics (telematics, every type) until it ends or the
    /// load does, recording `key`.
    async fn telemetry_stream(
        &self,
        conn: &Conn,
        key: Key,
        id: &str,
        intended: Option<Instant>,
    ) -> Result<(), CallError> {
        let (rpc, body) = if key.op == Op::Telematics {
            let req = pb::v2::StreamJobTelematicsRequest {
                job_uuid: id.into(),
                types: Vec::new(),
            };
            (Rpc::StreamJobTelematics, grpc::frame(&req))
        } else {
            let req = pb::v2::StreamJobMetricsRequest {
                job_uuid: id.into(),
            };
            (Rpc::StreamJobMetrics, grpc::frame(&req))
        };
        let (result, reader, done) = telemetry::follow(conn, rpc, body, self.load_over()).await;
        let sent = reader.sent();
        self.record(|cells| {
            let s = cells.get(key);
            match &result {
                Ok(()) => s.ok(intended, sent, done),
                Err(e) => s.error(e),
            }
            s.stream
                .get_or_insert_with(StreamStats::default)
                .merge(&reader.stats);
        });
        result
    }

    /// The `metrics` scenario's action: RunJob, then `followers` readers of
    /// the job's StreamJobMetrics (and as many of its StreamJobTelematics
    /// with `telematics`), all at once, each until its stream ends or the
    /// load does.
    async fn telemetry(
        &self,
        conn: &Conn,
        (target, stage): (u16, u16),
        (followers, telematics): (u32, bool),
        intended: Option<Instant>,
    ) {
        let Some(job) = self
            .submit(conn, target, stage, intended, self.shared.run_job.clone())
            .await
        else {
            return;
        };
        let key = |op| Key { op, target, stage };
        let mut streams = Vec::new();
        for _ in 0..followers {
            streams.push(self.telemetry_stream(conn, key(Op::Metrics), &job.id, None));
            if telematics {
                streams.push(self.telemetry_stream(conn, key(Op::Telematics), &job.id, None));
            }
        }
        futures::future::join_all(streams).await;
    }

    /// What a GetJobStatus answer says of job `id`.
    fn learn(&self, target: u16, id: &str, result: &Result<Bytes, CallError>) {
        match result {
            Ok(msg) => {
                let status = proto_string(msg, 9).unwrap_or_default();
                self.with_pool(target, |p| p.observed(id, status));
            }
            Err(e) if e.code == Code::NotFound => self.with_pool(target, |p| p.forget(id)),
            Err(_) => {}
        }
    }

    /// StopJob on a job believed running. A FAILED_PRECONDITION answer is
    /// checked with GetJobStatus (not counted as a call of the plan): when
    /// the job had reached a final state meanwhile, the draw counts as
    /// `raced`, not as an error.
    async fn stop(&self, conn: &Conn, key: Key, id: &str, intended: Option<Instant>) {
        let body = grpc::frame(&pb::StopJobReq { uuid: id.into() });
        let (result, sent, done) = self.unary_timed(conn, Rpc::StopJob, body).await;
        match &result {
            Ok(msg) => {
                let status = proto_string(msg, 2).unwrap_or_default();
                self.with_pool(key.target, |p| p.observed(id, status));
            }
            Err(e) if e.code == Code::FailedPrecondition => {
                let check = grpc::frame(&pb::GetJobStatusReq { uuid: id.into() });
                let (status, _, _) = self.unary_timed(conn, Rpc::GetJobStatus, check).await;
                let ended = status
                    .as_ref()
                    .is_ok_and(|m| is_final(proto_string(m, 9).unwrap_or_default()));
                self.learn(key.target, id, &status);
                if ended {
                    self.record(|cells| cells.get(key).raced += 1);
                    return;
                }
            }
            Err(e) if e.code == Code::NotFound => self.with_pool(key.target, |p| p.forget(id)),
            Err(_) => {}
        }
        self.record_call(key, intended, (sent, done), &result);
    }

    async fn follow(
        &self,
        conn: &Conn,
        (target, stage): (u16, u16),
        follow: Follow,
        job: Submitted,
        intended: Option<Instant>,
        sent: Instant,
    ) {
        let key = |op| Key { op, target, stage };
        let mut running = (job.status == "RUNNING" || is_final(&job.status)).then_some(job.done);
        let mut status = job.status.clone();
        let status_body = grpc::frame(&pb::GetJobStatusReq {
            uuid: job.id.clone(),
        });
        let poll = match follow {
            Follow::Logs => {
                let (result, first) = self
                    .log_stream(conn, key(Op::Logs), &job.id, None, None)
                    .await;
                if let Err(e) = result {
                    self.milestone_error(key(Op::Final), &e);
                    return;
                }
                running = running.or(first);
                Duration::from_millis(20)
            }
            Follow::Poll(every) => every,
        };
        let mut first_poll = matches!(follow, Follow::Logs);
        while !is_final(&status) {
            if !first_poll {
                tokio::time::sleep(poll).await;
            }
            first_poll = false;
            match self
                .unary_op(
                    conn,
                    key(Op::Status),
                    Rpc::GetJobStatus,
                    status_body.clone(),
                    None,
                )
                .await
            {
                Ok(msg) => {
                    status = proto_string(&msg, 9).unwrap_or_default().to_owned();
                    if running.is_none() && (status == "RUNNING" || is_final(&status)) {
                        running = Some(Instant::now());
                    }
                }
                Err(e) => {
                    self.milestone_error(key(Op::Final), &e);
                    return;
                }
            }
        }
        let done = Instant::now();
        self.record(|cells| {
            if let Some(at) = running {
                cells.get(key(Op::Running)).ok(intended, sent, at);
            }
            let s = cells.get(key(Op::Final));
            s.ok(intended, sent, done);
            s.status(&status);
        });
    }

    fn milestone_error(&self, key: Key, e: &CallError) {
        self.record(|cells| cells.get(key).error(e));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    proptest::proptest! {
        /// Any bytes: a field is found inside the message or not at all.
        #[test]
        fn string_fields_of_arbitrary_bytes_never_panic(
            msg in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
            field in 0u32..20,
        ) {
            if let Some(s) = proto_string(&msg, field) {
                proptest::prop_assert!(s.len() <= msg.len());
            }
        }
    }

    #[test]
    fn string_fields_are_found_without_decoding() {
        let msg = pb::RunJobResponse {
            job_uuid: "abc".into(),
            status: "RUNNING".into(),
            max_cpu: 50,
            args: vec!["x".into()],
            ..Default::default()
        }
        .encode_to_vec();
        assert_eq!(proto_string(&msg, 1), Some("abc"));
        assert_eq!(proto_string(&msg, 2), Some("RUNNING"));
        assert_eq!(proto_string(&msg, 12), None);
        let status = pb::GetJobStatusRes {
            uuid: "u".into(),
            status: "COMPLETED".into(),
            exit_code: 3,
            ..Default::default()
        }
        .encode_to_vec();
        assert_eq!(proto_string(&status, 9), Some("COMPLETED"));
        assert_eq!(proto_string(&[0x0a, 0x05, b'a'], 1), None, "truncated");
    }

    #[test]
    fn a_log_reader_counts_payload_chunks_and_gaps() {
        let mut body = Vec::new();
        for n in [100usize, 0, 70_000] {
            body.extend_from_slice(&grpc::frame(&pb::DataChunk {
                payload: vec![0; n].into(),
            }));
        }
        let mut r = LogReader::new(Instant::now());
        for piece in body.chunks(16 * 1024) {
            r.feed(&Bytes::copy_from_slice(piece)).unwrap();
        }
        r.walker.finish().unwrap();
        assert_eq!((r.stats.bytes, r.stats.chunks), (70_100, 3));
        assert_eq!(r.stats.gaps.len(), 2);
        assert_eq!(r.stats.ttfb.len(), 1);
    }
}
