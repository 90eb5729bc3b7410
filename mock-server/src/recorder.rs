//! The mock's transcript recorder: the contract's recorder
//! ([`joblet_testkit::transcript::Recorder`]: numbering calls, writing their
//! lines to `--record FILE`) with a bounded in-memory store of each session's
//! last calls for the control API's `ExportTranscript`. The layer that feeds
//! it sits on the server's listeners ([`crate::transcript`]).

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use joblet_testkit::transcript::{self as format, CallCapture, Line, LineSink};
use parking_lot::Mutex;

/// Where finished lines go.
#[derive(Debug, Clone, Default)]
pub struct RecorderOptions {
    /// Write every line to this file (created or truncated).
    pub file: Option<PathBuf>,
    /// Keep the last N calls of each session in memory for
    /// [`Recorder::session_lines`] (0: none).
    pub per_session: usize,
    /// Most sessions kept in memory (calls of further sessions are only
    /// written to the file).
    pub max_sessions: usize,
    /// Log bytes kept per `GetJobLogs` call (0: [`joblet_testkit::transcript::DEFAULT_LOG_LIMIT`]).
    pub log_limit: usize,
    /// The contract the mock serves (`--api`), written on every line.
    pub contract: Option<joblet_testkit::contract::Api>,
}

/// Numbers calls and writes their lines (the testkit's
/// [`Recorder`](joblet_testkit::transcript::Recorder)), and keeps each
/// session's last calls in memory.
#[derive(Debug)]
pub struct Recorder {
    inner: Arc<format::Recorder>,
    store: Option<Arc<Store>>,
}

/// The kept lines of one session: `(seq, line)`, oldest first.
type SessionLines = VecDeque<(u64, Arc<str>)>;

/// The in-memory lines of each session, bounded.
#[derive(Debug)]
struct Store {
    per_session: usize,
    max_sessions: usize,
    sessions: Mutex<BTreeMap<String, SessionLines>>,
    dropped: AtomicU64,
}

/// The session key of the store: the default session is `""`.
fn store_key(session: &str) -> &str {
    let s = session.trim();
    if s == "default" { "" } else { s }
}

impl Recorder {
    /// A recorder as `options` say; errors when the file cannot be created.
    pub fn new(options: RecorderOptions) -> std::io::Result<Self> {
        let mut inner = format::Recorder::new(format::RecorderOptions {
            file: options.file,
            log_limit: options.log_limit,
            contract: options.contract,
        })?;
        let store = (options.per_session > 0).then(|| {
            Arc::new(Store {
                per_session: options.per_session,
                max_sessions: options.max_sessions.max(1),
                sessions: Mutex::new(BTreeMap::new()),
                dropped: AtomicU64::new(0),
            })
        });
        if let Some(store) = &store {
            inner = inner.with_sink(Arc::clone(store) as Arc<dyn LineSink>);
        }
        Ok(Self {
            inner: Arc::new(inner),
            store,
        })
    }

    /// The testkit's recorder underneath, for a proxy or a layer of its own.
    pub fn recorder(&self) -> &Arc<format::Recorder> {
        &self.inner
    }

    /// The file lines are written to.
    pub fn file(&self) -> Option<&Path> {
        self.inner.file()
    }

    /// Whether sessions' lines are kept in memory.
    pub fn keeps_sessions(&self) -> bool {
        self.store.is_some()
    }

    /// Lines finished so far.
    pub fn written(&self) -> u64 {
        self.inner.written()
    }

    /// Starts recording a call of `path` whose request body (gRPC framing
    /// included) is `request_body`; `None` for paths outside the five Joblet
    /// services.
    pub fn begin(
        &self,
        path: &str,
        session: &str,
        role: &str,
        request_body: &[u8],
        request_encoding: Option<&str>,
    ) -> Option<CallCapture> {
        self.inner
            .begin(path, session, role, request_body, request_encoding)
    }

    /// The lines kept for `session` (`""` or `default`: the default one), in
    /// `seq` order, and how many of its calls were dropped since it began.
    /// `None` when sessions are not kept ([`RecorderOptions::per_session`]).
    pub fn session_lines(&self, session: &str) -> Option<(Vec<Arc<str>>, u64)> {
        let store = self.store.as_ref()?;
        let sessions = store.sessions.lock();
        let mut lines: Vec<(u64, Arc<str>)> = sessions
            .get(store_key(session))
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default();
        drop(sessions);
        lines.sort_by_key(|(seq, _)| *seq);
        Some((
            lines.into_iter().map(|(_, l)| l).collect(),
            store.dropped.load(Ordering::Relaxed),
        ))
    }

    /// Forgets the lines of `session` (it was reset).
    pub fn forget(&self, session: &str) {
        if let Some(store) = &self.store {
            store.sessions.lock().remove(store_key(session));
        }
    }
}

impl LineSink for Store {
    fn line(&self, line: &Line, text: &Arc<str>) {
        let session = store_key(&line.session);
        let mut sessions = self.sessions.lock();
        if !sessions.contains_key(session) && sessions.len() >= self.max_sessions {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let q = sessions.entry(session.to_owned()).or_default();
        while q.len() >= self.per_session {
            q.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        q.push_back((line.seq, Arc::clone(text)));
    }
}
