//! Sessions: independent simulated nodes behind one port.
//!
//! A client may send the metadata `x-joblet-mock-session: <name>`; each name
//! gets its own [`Shared`] (jobs, workflows, networks, volumes, runtimes, clock,
//! faults and journal), created on first use, so parallel tests against one
//! mock process do not see each other. Without the header a call uses the
//! default session (named `""`, shown as `default`).

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use tokio_util::sync::CancellationToken;

use crate::budget::Budget;
use crate::config::MockConfig;
use crate::error::{Error, Result};
use crate::state::Shared;

/// The metadata key that selects a session (`x-joblet-mock-session`), shared
/// with transcripts and replays through the testkit.
pub use joblet_testkit::session::SESSION_HEADER;

/// Longest session name accepted.
pub const MAX_SESSION_NAME: usize = 128;

/// Every session of one mock process.
#[derive(Debug)]
pub struct Node {
    config: MockConfig,
    closing: CancellationToken,
    /// The memory budget every session counts in.
    budget: Arc<Budget>,
    default: RwLock<Arc<Shared>>,
    sessions: Mutex<BTreeMap<String, Arc<Shared>>>,
}

impl Node {
    /// A node with only the default session.
    pub fn new(config: MockConfig) -> Arc<Self> {
        let closing = CancellationToken::new();
        let budget = Budget::new(config.memory_budget);
        let default = Shared::session(config.clone(), "", closing.clone(), &budget);
        Arc::new(Self {
            config,
            closing,
            budget,
            default: RwLock::new(default),
            sessions: Mutex::new(BTreeMap::new()),
        })
    }

    /// The configuration every session starts from.
    pub fn config(&self) -> &MockConfig {
        &self.config
    }

    /// The process's memory budget.
    pub fn budget(&self) -> &Arc<Budget> {
        &self.budget
    }

    /// Cancelled when the server begins to shut down.
    pub fn closing(&self) -> &CancellationToken {
        &self.closing
    }

    /// Ends every open server stream of every session.
    pub fn begin_shutdown(&self) {
        self.closing.cancel();
    }

    /// The default session.
    pub fn default_session(&self) -> Arc<Shared> {
        Arc::clone(&self.default.read())
    }

    /// Session `name` ("" or `default`: the default one), created on first use.
    pub fn session(&self, name: &str) -> Result<Arc<Shared>> {
        let name = check_name(name)?;
        if name.is_empty() {
            return Ok(self.default_session());
        }
        let mut sessions = self.sessions.lock();
        if let Some(s) = sessions.get(name) {
            return Ok(Arc::clone(s));
        }
        if sessions.len() >= self.config.max_sessions {
            return Err(Error::ResourceExhausted(format!(
                "{SESSION_HEADER}: the mock holds {} sessions already (the most it keeps); \
                 reset some through the control API",
                sessions.len()
            )));
        }
        let shared = Shared::session(
            self.config.clone(),
            name,
            self.closing.clone(),
            &self.budget,
        );
        sessions.insert(name.to_string(), Arc::clone(&shared));
        Ok(shared)
    }

    /// An existing session, without creating it.
    pub fn existing(&self, name: &str) -> Option<Arc<Shared>> {
        let name = check_name(name).ok()?;
        if name.is_empty() {
            return Some(self.default_session());
        }
        self.sessions.lock().get(name).cloned()
    }

    /// The session a request asks for (its `x-joblet-mock-session` metadata).
    pub fn for_metadata(&self, metadata: &tonic::metadata::MetadataMap) -> Result<Arc<Shared>> {
        match metadata.get(SESSION_HEADER) {
            None => Ok(self.default_session()),
            Some(v) => {
                let name = v.to_str().map_err(|_| {
                    Error::invalid(SESSION_HEADER, "the session name must be printable ASCII")
                })?;
                self.session(name)
            }
        }
    }

    /// Every session: the default one first, then by name.
    pub fn sessions(&self) -> Vec<Arc<Shared>> {
        let mut all = vec![self.default_session()];
        all.extend(self.sessions.lock().values().cloned());
        all
    }

    /// Starts session `name` afresh: its jobs end, its state, clock, faults and
    /// journal are new. Streams already open on the old state end as their
    /// jobs do. The default session is reset in place of its record; another
    /// session is dropped (and re-created empty on its next call).
    pub fn reset(&self, name: &str) -> Result<()> {
        let name = check_name(name)?;
        let old = if name.is_empty() {
            let fresh =
                Shared::session(self.config.clone(), "", self.closing.clone(), &self.budget);
            Some(std::mem::replace(&mut *self.default.write(), fresh))
        } else {
            self.sessions.lock().remove(name)
        };
        if let Some(old) = old {
            old.abort_all();
        }
        if let Some(recorder) = &self.config.transcript {
            recorder.forget(name);
        }
        Ok(())
    }

    /// Resets every session.
    pub fn reset_all(&self) {
        let names: Vec<String> = self.sessions.lock().keys().cloned().collect();
        for name in names {
            let _ = self.reset(&name);
        }
        let _ = self.reset("");
    }
}

/// Validates a session name; `default` means the default session ("").
pub fn check_name(name: &str) -> Result<&str> {
    let name = name.trim();
    if name.len() > MAX_SESSION_NAME {
        return Err(Error::invalid(
            SESSION_HEADER,
            format!("session names are at most {MAX_SESSION_NAME} characters"),
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.:/@+".contains(*c)))
    {
        return Err(Error::invalid(
            SESSION_HEADER,
            format!("session name {name:?} contains {c:?}; use letters, digits and - _ . : / @ +"),
        ));
    }
    Ok(if name == "default" { "" } else { name })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_separate_and_named() {
        let node = Node::new(MockConfig::default());
        let a = node.session("a").unwrap();
        let a2 = node.session("a").unwrap();
        let b = node.session("b").unwrap();
        assert!(Arc::ptr_eq(&a, &a2));
        assert!(!Arc::ptr_eq(&a, &b));
        assert!(Arc::ptr_eq(
            &node.session("default").unwrap(),
            &node.default_session()
        ));
        assert_eq!(node.sessions().len(), 3);
        assert_eq!(
            node.session("bad name").unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
        assert!(node.session(&"x".repeat(200)).is_err());
    }

    #[test]
    fn session_count_is_bounded() {
        let node = Node::new(MockConfig {
            max_sessions: 2,
            ..MockConfig::default()
        });
        node.session("a").unwrap();
        node.session("b").unwrap();
        let err = node.session("c").unwrap_err();
        assert_eq!(err.code(), tonic::Code::ResourceExhausted);
        node.reset("a").unwrap();
        node.session("c").unwrap();
    }
}
