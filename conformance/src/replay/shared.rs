//! What the calls of one replay share: the configuration, the channels per
//! role, the ID map, what was created (for the cleanup), the plan, and the
//! answers that settled.

use std::collections::HashMap;

use joblet_testkit::transcript::Line;
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::OnceCell;
use tonic::transport::Channel;

use super::compare::Answer;
use super::config::ReplayConfig;
use super::ids::IdMap;
use super::plan::Planned;
use crate::cleanup::{Resource, Tracker};

/// What the calls of one replay share.
pub(super) struct Shared {
    pub(super) config: ReplayConfig,
    pub(super) run_id: String,
    pub(super) main: Channel,
    pub(super) viewer: OnceCell<Result<Channel, String>>,
    pub(super) no_role: OnceCell<Result<Channel, String>>,
    pub(super) ids: Mutex<IdMap>,
    pub(super) tracker: Tracker,
    pub(super) created: Mutex<HashMap<Resource, usize>>,
    pub(super) plan: Vec<Planned>,
    /// The answer a request (session, role, method, request as sent) kept
    /// giving until its settle time ran out: the same answer again is the
    /// same difference, reported without waiting again.
    pub(super) settled: Mutex<HashMap<String, Answer>>,
}

impl Shared {
    pub(super) async fn channel(&self, role: &str) -> Result<Channel, String> {
        let (cell, target, what) = match role {
            "admin" => return Ok(self.main.clone()),
            "viewer" => (
                &self.viewer,
                &self.config.targets.viewer,
                "a viewer identity (--viewer-node, or --viewer-cert and --viewer-key)",
            ),
            "unknown" => (
                &self.no_role,
                &self.config.targets.no_role,
                "an identity without a role (--no-role-node, or --no-role-cert and --no-role-key)",
            ),
            "none" => return Err(
                "recorded from a TLS client without a certificate: a replay always presents one"
                    .into(),
            ),
            other => return Err(format!("unknown role {other:?}")),
        };
        let Some(target) = target else {
            return Err(format!(
                "the call was made as {role}: the replay needs {what}"
            ));
        };
        cell.get_or_init(|| async {
            target
                .connect()
                .await
                .map_err(|e| format!("cannot connect as {role}: {e}"))
        })
        .await
        .clone()
    }

    pub(super) fn session_name(&self, session: usize) -> String {
        format!("rp{}-{session}", self.run_id)
    }
}

/// Keeps the IDs a call taught (those that do not contradict the map).
pub(super) fn commit(shared: &Shared, learned: &IdMap) {
    shared.ids.lock().merge(learned);
}

/// Tracks what a call created, for the cleanup at the end.
pub(super) fn track(shared: &Shared, i: usize, line: &Line, sent: &Value, got: &Answer) {
    if got.code != "OK" {
        return;
    }
    let field = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let first = got.messages.first().unwrap_or(&Value::Null);
    let resource = match line.method.as_str() {
        "RunJob" => field(first, "jobUuid").map(Resource::Job),
        "RunWorkflow" => field(first, "workflowUuid").map(Resource::Workflow),
        "CreateNetwork" => field(sent, "name").map(Resource::Network),
        "CreateVolume" => field(sent, "name").map(Resource::Volume),
        _ => None,
    };
    if let Some(r) = resource
        .filter(|r| !matches!(r, Resource::Job(id) | Resource::Workflow(id) if id.is_empty()))
    {
        shared.created.lock().entry(r.clone()).or_insert(i);
        shared.tracker.add(r);
    }
}
