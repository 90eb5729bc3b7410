//! The rule set of a session: its rules with their compiled globs and
//! counters, and the decision for one call.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::glob::Glob;
use super::rule::*;

/// What to do with one call. The default does nothing.
#[derive(Debug, Default)]
pub struct Decision {
    /// Sleep this long before handling the call.
    pub delay: Option<Duration>,
    /// Hold one permit of this queue during the delay (rule `concurrency`):
    /// wait for it first.
    pub queue: Option<Arc<tokio::sync::Semaphore>>,
    /// Answer with this status instead of handling the call.
    pub fail: Option<tonic::Status>,
    /// Wrap the response stream with `apply_stream` (server-streaming RPCs;
    /// unary RPCs ignore it).
    pub stream: Option<StreamFault>,
}

impl Decision {
    /// Whether the call proceeds untouched.
    pub fn is_none(&self) -> bool {
        self.delay.is_none() && self.fail.is_none() && self.stream.is_none()
    }
}

/// What to do to a server stream.
#[derive(Debug, Clone)]
pub enum StreamFault {
    /// Send until a limit is reached, then end with `status`. With both limits,
    /// the first reached cuts.
    Cut {
        /// Cut after this many messages.
        after_messages: Option<u64>,
        /// Cut once this many bytes were sent (the message that crosses the
        /// limit is sent whole).
        after_bytes: Option<u64>,
        /// The status the stream ends with.
        status: tonic::Status,
    },
    /// Send this many messages, then neither send nor end until the client
    /// gives up or the server shuts down.
    Stall {
        /// Messages sent before the stall.
        after_messages: u64,
    },
}

/// A rule with its compiled globs and counters.
#[derive(Debug)]
pub(crate) struct Armed {
    rule: FaultRule,
    rpc: Glob,
    session: Option<Glob>,
    field: Option<Glob>,
    /// The places of `concurrency`, shared by the calls this rule delays.
    queue: Option<Arc<tokio::sync::Semaphore>>,
    matched: u64,
    fired: u64,
}

impl Armed {
    pub(crate) fn new(rule: FaultRule) -> Self {
        Self {
            rpc: Glob::new(&rule.rpc),
            session: rule.session.as_deref().map(Glob::new),
            field: rule.field.as_ref().map(|f| Glob::new(&f.value)),
            queue: rule
                .concurrency
                .map(|n| Arc::new(tokio::sync::Semaphore::new(n as usize))),
            rule,
            matched: 0,
            fired: 0,
        }
    }

    pub(crate) fn matches(
        &self,
        full: &str,
        method: &str,
        session: &str,
        field: &dyn Fn(&str) -> Option<String>,
    ) -> bool {
        if !(self.rpc.matches(method) || self.rpc.matches(full)) {
            return false;
        }
        if let Some(s) = &self.session
            && !s.matches(session)
        {
            return false;
        }
        match (&self.rule.field, &self.field) {
            (Some(m), Some(glob)) => field(&m.name).is_some_and(|v| glob.matches(&v)),
            _ => true,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Inner {
    seed: Option<u64>,
    rng: StdRng,
    rules: Vec<Armed>,
}

pub(crate) fn new_rng(seed: Option<u64>) -> StdRng {
    match seed {
        Some(s) => StdRng::seed_from_u64(s),
        None => StdRng::from_os_rng(),
    }
}

/// A thread-safe, ordered set of fault rules with their match counters and a
/// seeded RNG. Cheap when empty: [`decide`](Self::decide) then reads one atomic.
#[derive(Debug)]
pub struct Faults {
    empty: AtomicBool,
    inner: Mutex<Inner>,
}

impl Default for Faults {
    fn default() -> Self {
        Self::new(None)
    }
}

impl Faults {
    /// An empty set; `seed` makes probabilities and delay ranges reproducible
    /// (`None`: seeded from the OS).
    pub fn new(seed: Option<u64>) -> Self {
        Self {
            empty: AtomicBool::new(true),
            inner: Mutex::new(Inner {
                seed,
                rng: new_rng(seed),
                rules: Vec::new(),
            }),
        }
    }

    /// Replaces all rules (checking them all first), resets the counters and,
    /// with a seed, restarts the RNG from it.
    pub fn set(&self, rules: Vec<FaultRule>) -> Result<(), FaultError> {
        for r in &rules {
            r.validate()?;
        }
        let mut inner = self.inner.lock();
        inner.rules = rules.into_iter().map(Armed::new).collect();
        inner.rng = new_rng(inner.seed);
        self.empty.store(inner.rules.is_empty(), Ordering::Release);
        Ok(())
    }

    /// Appends a rule (tried after the others), with fresh counters.
    pub fn add(&self, rule: FaultRule) -> Result<(), FaultError> {
        rule.validate()?;
        let mut inner = self.inner.lock();
        inner.rules.push(Armed::new(rule));
        self.empty.store(false, Ordering::Release);
        Ok(())
    }

    /// Removes all rules.
    pub fn clear(&self) {
        let mut inner = self.inner.lock();
        inner.rules.clear();
        inner.rng = new_rng(inner.seed);
        self.empty.store(true, Ordering::Release);
    }

    /// The rules, in order.
    pub fn rules(&self) -> Vec<FaultRule> {
        self.inner
            .lock()
            .rules
            .iter()
            .map(|a| a.rule.clone())
            .collect()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.empty.load(Ordering::Acquire)
    }

    /// What to do with a call of `method_full` (`/joblet.JobService/RunJob` or
    /// without the leading `/`) from `session`; `field` gives a request field's
    /// value by its JSON name (asked only for rules with a field matcher, under
    /// this set's lock: it must not call back into it).
    /// How several rules combine is in the module docs.
    pub fn decide(
        &self,
        method_full: &str,
        session: &str,
        field: &dyn Fn(&str) -> Option<String>,
    ) -> Decision {
        let mut d = Decision::default();
        if self.empty.load(Ordering::Acquire) {
            return d;
        }
        let full = method_full.strip_prefix('/').unwrap_or(method_full);
        let method = full.rsplit('/').next().unwrap_or(full);
        let mut inner = self.inner.lock();
        let Inner { rng, rules, .. } = &mut *inner;
        for a in rules.iter_mut() {
            if !a.matches(full, method, session, field) {
                continue;
            }
            a.matched = a.matched.saturating_add(1);
            let rule = &a.rule;
            if a.matched <= rule.after || rule.times.is_some_and(|t| a.fired >= t) {
                continue;
            }
            let gives_delay = rule.delay.is_some() && d.delay.is_none();
            let gives_outcome = rule.has_outcome() && d.fail.is_none() && d.stream.is_none();
            if !gives_delay && !gives_outcome {
                continue;
            }
            if let Some(p) = rule.probability {
                let fires = if p >= 1.0 {
                    true
                } else if p > 0.0 {
                    rng.random_bool(p)
                } else {
                    false
                };
                if !fires {
                    continue;
                }
            }
            a.fired += 1;
            if gives_delay && let Some(delay) = &rule.delay {
                d.delay = Some(delay.sample(rng));
                d.queue = a.queue.clone();
            }
            if gives_outcome {
                if rule.is_cut() {
                    let status = match &rule.fail {
                        Some(f) => f.status(CUT_MESSAGE),
                        None => tonic::Status::unavailable(CUT_MESSAGE),
                    };
                    d.stream = Some(StreamFault::Cut {
                        after_messages: rule.cut_after_messages,
                        after_bytes: rule.cut_after_bytes,
                        status,
                    });
                } else if let Some(n) = rule.stall_after_messages {
                    d.stream = Some(StreamFault::Stall { after_messages: n });
                } else if let Some(f) = &rule.fail {
                    d.fail = Some(f.status(FAIL_MESSAGE));
                }
            }
        }
        d
    }
}
