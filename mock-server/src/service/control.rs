//! `jobletmock.v1.MockControl`: the mock's own control API
//! (`proto/mock_control.proto`), over [`crate::control`] and
//! [`crate::snapshot`].
//!
//! Unlike the Joblet services it does not go through the [`Gate`](super::Gate):
//! control calls are not journaled and fault rules never apply to them. The
//! session is the request's `session` field, else the `x-joblet-mock-session`
//! metadata, else the default session. On the TLS listener only the admin role
//! reaches it ([`crate::auth::authorize`]).

use std::sync::Arc;

use joblet_testkit::control as pb;
use joblet_testkit::control::mock_control_server::MockControl;
use tonic::{Request, Response, Status};

use crate::control::{self, ClockReading};
use crate::error::Error;
use crate::journal::CallRecord;
use crate::session::Shared;
use crate::session::{Node, SESSION_HEADER};
use crate::snapshot;

/// The MockControl service.
#[derive(Debug, Clone)]
pub struct ControlSvc {
    node: Arc<Node>,
}

impl ControlSvc {
    /// The control service of `node`.
    pub fn new(node: Arc<Node>) -> Self {
        Self { node }
    }
}

/// The session a control request names: its `session` field, else the
/// session metadata, else the default session ("").
fn session_name<T>(request: &Request<T>, field: &str) -> Result<String, Status> {
    if !field.trim().is_empty() {
        return Ok(field.trim().to_owned());
    }
    match request.metadata().get(SESSION_HEADER) {
        Some(v) => v.to_str().map(str::to_owned).map_err(|_| {
            Error::invalid(SESSION_HEADER, "the session name must be printable ASCII").into()
        }),
        None => Ok(String::new()),
    }
}

impl ControlSvc {
    /// The session a request names, created on first use.
    fn session<T>(&self, request: &Request<T>, field: &str) -> Result<Arc<Shared>, Status> {
        Ok(self.node.session(&session_name(request, field)?)?)
    }

    /// The session a request names, if it exists (validating the name).
    fn existing<T>(
        &self,
        request: &Request<T>,
        field: &str,
    ) -> Result<Option<Arc<Shared>>, Status> {
        let name = session_name(request, field)?;
        crate::session::check_name(&name)?;
        Ok(self.node.existing(&name))
    }
}

fn clock_response(r: ClockReading) -> pb::ClockResponse {
    pb::ClockResponse {
        now: r.now_rfc3339(),
        now_unix_ms: r.now_unix_ms,
        mode: r.mode.name().to_owned(),
        pending_timers: u32::try_from(r.pending_timers).unwrap_or(u32::MAX),
    }
}

fn faults_response(shared: &Shared) -> pb::FaultsResponse {
    let rules = shared.faults.rules();
    pb::FaultsResponse {
        rules: rules.iter().map(ToString::to_string).collect(),
        rules_json: serde_json::to_string(&rules).unwrap_or_else(|_| "[]".into()),
    }
}

fn call_message(c: &CallRecord) -> pb::Call {
    let view = c.view();
    pb::Call {
        seq: view.seq,
        method: view.method,
        session: crate::session::label(&view.session).to_owned(),
        request_json: view.request.to_string(),
        code: view.code,
        message: view.message,
        time: view.time,
        clock_time: view.clock_time,
    }
}

/// A [`control::MemoryReport`] on the wire.
pub fn memory_response(r: &control::MemoryReport) -> pb::MemoryResponse {
    let b = &r.budget;
    pb::MemoryResponse {
        budget_bytes: b.budget,
        used_bytes: b.used,
        record_bytes: b.records,
        log_bytes: b.logs,
        max_jobs: r.max_jobs as u64,
        evicted_logs: b.evicted_logs,
        evicted_log_bytes: b.evicted_log_bytes,
        evicted_records: b.evicted_records,
        refused_run_jobs: b.refused,
        pressed: b.pressed,
        sessions: r
            .sessions
            .iter()
            .map(|s| pb::SessionMemory {
                name: s.name.clone(),
                jobs: count(s.jobs),
                record_bytes: s.record_bytes,
                log_bytes: s.log_bytes,
                evicted_records: s.evicted_records,
            })
            .collect(),
        resident_bytes: r.resident_bytes.unwrap_or(0),
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[tonic::async_trait]
impl MockControl for ControlSvc {
    async fn reset(
        &self,
        request: Request<pb::ResetRequest>,
    ) -> Result<Response<pb::ResetResponse>, Status> {
        let sessions = if request.get_ref().all {
            let names: Vec<String> = self
                .node
                .sessions()
                .iter()
                .map(|s| crate::session::label(&s.session).to_owned())
                .collect();
            self.node.reset_all();
            names
        } else {
            let name = session_name(&request, &request.get_ref().session)?;
            self.node.reset(&name)?;
            vec![crate::session::label(crate::session::check_name(&name)?).to_owned()]
        };
        Ok(Response::new(pb::ResetResponse { sessions }))
    }

    async fn advance_clock(
        &self,
        request: Request<pb::AdvanceClockRequest>,
    ) -> Result<Response<pb::ClockResponse>, Status> {
        let shared = self.session(&request, &request.get_ref().session)?;
        let req = request.into_inner();
        let by = if !req.duration.trim().is_empty() {
            if req.millis != 0 {
                return Err(
                    Error::invalid("duration", "give either duration or millis, not both").into(),
                );
            }
            control::parse_duration(&req.duration).map_err(|e| Error::invalid("duration", e))?
        } else {
            let ms = u64::try_from(req.millis).map_err(|_| {
                Error::invalid(
                    "millis",
                    format!("must not be negative (got {})", req.millis),
                )
            })?;
            if ms == 0 {
                return Err(Error::invalid(
                    "duration",
                    "how far to advance is required: duration (e.g. \"90s\", \"1h30m\") or millis",
                )
                .into());
            }
            std::time::Duration::from_millis(ms)
        };
        if by > control::MAX_ADVANCE {
            return Err(Error::invalid("millis", "longer than 100 years").into());
        }
        let reading = control::advance_clock(&shared, by).await?;
        Ok(Response::new(clock_response(reading)))
    }

    async fn get_clock(
        &self,
        request: Request<pb::GetClockRequest>,
    ) -> Result<Response<pb::ClockResponse>, Status> {
        let shared = self.session(&request, &request.get_ref().session)?;
        Ok(Response::new(clock_response(control::clock_reading(
            &shared,
        ))))
    }

    async fn set_faults(
        &self,
        request: Request<pb::SetFaultsRequest>,
    ) -> Result<Response<pb::FaultsResponse>, Status> {
        let shared = self.session(&request, &request.get_ref().session)?;
        let req = request.into_inner();
        let mut rules = if req.rules_json.trim().is_empty() {
            Vec::new()
        } else {
            control::parse_rules_json("rules_json", &req.rules_json)?
        };
        rules.extend(control::parse_rule_lines("rules", &req.rules)?);
        control::set_faults(&shared, rules, req.append)?;
        Ok(Response::new(faults_response(&shared)))
    }

    async fn clear_faults(
        &self,
        request: Request<pb::ClearFaultsRequest>,
    ) -> Result<Response<pb::FaultsResponse>, Status> {
        let shared = self.session(&request, &request.get_ref().session)?;
        shared.faults.clear();
        Ok(Response::new(faults_response(&shared)))
    }

    async fn list_faults(
        &self,
        request: Request<pb::ListFaultsRequest>,
    ) -> Result<Response<pb::FaultsResponse>, Status> {
        let response = match self.existing(&request, &request.get_ref().session)? {
            Some(shared) => faults_response(&shared),
            None => pb::FaultsResponse {
                rules: Vec::new(),
                rules_json: "[]".into(),
            },
        };
        Ok(Response::new(response))
    }

    async fn load_scenario(
        &self,
        request: Request<pb::LoadScenarioRequest>,
    ) -> Result<Response<pb::LoadScenarioResponse>, Status> {
        let shared = self.session(&request, &request.get_ref().session)?;
        let req = request.into_inner();
        let loaded = control::load_scenario(&shared, &req.yaml, &req.file_name, req.replace)?;
        Ok(Response::new(pb::LoadScenarioResponse {
            loaded: count(loaded.names.len()),
            total: count(loaded.total),
            names: loaded.names,
        }))
    }

    async fn list_calls(
        &self,
        request: Request<pb::ListCallsRequest>,
    ) -> Result<Response<pb::ListCallsResponse>, Status> {
        let (records, dropped) = if request.get_ref().all_sessions {
            let sessions = self.node.sessions();
            let mut all: Vec<CallRecord> =
                sessions.iter().flat_map(|s| s.journal.calls()).collect();
            all.sort_by_key(|c| c.wall_time);
            (all, sessions.iter().map(|s| s.journal.dropped()).sum())
        } else {
            match self.existing(&request, &request.get_ref().session)? {
                Some(shared) => (shared.journal.calls(), shared.journal.dropped()),
                None => (Vec::new(), 0),
            }
        };
        let req = request.get_ref();
        let limit = usize::try_from(req.limit).unwrap_or(usize::MAX);
        let records = control::filter_calls(records, Some(&req.method), limit);
        Ok(Response::new(pb::ListCallsResponse {
            calls: records.iter().map(call_message).collect(),
            dropped,
        }))
    }

    async fn clear_calls(
        &self,
        request: Request<pb::ClearCallsRequest>,
    ) -> Result<Response<pb::ClearCallsResponse>, Status> {
        let cleared = match self.existing(&request, &request.get_ref().session)? {
            Some(shared) => {
                let n = shared.journal.len() as u64;
                shared.journal.clear();
                n
            }
            None => 0,
        };
        Ok(Response::new(pb::ClearCallsResponse { cleared }))
    }

    async fn export_transcript(
        &self,
        request: Request<pb::ExportTranscriptRequest>,
    ) -> Result<Response<pb::ExportTranscriptResponse>, Status> {
        let name = session_name(&request, &request.get_ref().session)?;
        crate::session::check_name(&name)?;
        let recorder = self
            .node
            .config()
            .transcript
            .as_ref()
            .filter(|r| r.keeps_sessions())
            .ok_or_else(|| {
                Status::failed_precondition(
                    "this joblet-mock keeps no transcripts: start it with --transcript-size N \
                     (calls kept per session) to export them; --record FILE writes every \
                     call to a file",
                )
            })?;
        let (lines, dropped) = recorder.session_lines(&name).unwrap_or_default();
        Ok(Response::new(pb::ExportTranscriptResponse {
            lines: lines.iter().map(|l| l.to_string()).collect(),
            dropped,
        }))
    }

    async fn snapshot(
        &self,
        request: Request<pb::SnapshotRequest>,
    ) -> Result<Response<pb::SnapshotResponse>, Status> {
        let name = session_name(&request, &request.get_ref().session)?;
        let shared = self.existing(&request, &name)?.ok_or_else(|| {
            Status::not_found(format!(
                "session {name:?} does not exist (it is created by its first call)"
            ))
        })?;
        let json = snapshot::to_json(&snapshot::take(&shared));
        Ok(Response::new(pb::SnapshotResponse { json }))
    }

    async fn restore(
        &self,
        request: Request<pb::RestoreRequest>,
    ) -> Result<Response<pb::RestoreResponse>, Status> {
        let shared = self.session(&request, &request.get_ref().session)?;
        let snap = snapshot::from_json(&request.get_ref().json)?;
        let s = snapshot::restore(&shared, &snap).await?;
        Ok(Response::new(pb::RestoreResponse {
            jobs: count(s.jobs),
            stopped: count(s.stopped),
            networks: count(s.networks),
            volumes: count(s.volumes),
            runtimes: count(s.runtimes),
            workflows_skipped: 0,
            workflows: count(s.workflows),
        }))
    }

    async fn list_sessions(
        &self,
        _request: Request<pb::ListSessionsRequest>,
    ) -> Result<Response<pb::ListSessionsResponse>, Status> {
        let sessions = self
            .node
            .sessions()
            .iter()
            .map(|s| {
                let memory = control::session_memory(s);
                pb::SessionInfo {
                    name: memory.name,
                    jobs: count(memory.jobs),
                    calls: count(s.journal.len()),
                    faults: count(s.faults.rules().len()),
                    clock_mode: s.clock.mode().name().to_owned(),
                    now: crate::time::rfc3339_ms(s.clock.now_ms()),
                    record_bytes: memory.record_bytes,
                    log_bytes: memory.log_bytes,
                }
            })
            .collect();
        Ok(Response::new(pb::ListSessionsResponse { sessions }))
    }

    async fn get_memory(
        &self,
        _request: Request<pb::GetMemoryRequest>,
    ) -> Result<Response<pb::MemoryResponse>, Status> {
        Ok(Response::new(memory_response(&control::memory_report(
            &self.node,
        ))))
    }
}
