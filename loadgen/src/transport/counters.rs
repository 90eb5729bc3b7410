//! What the connections to one endpoint went through: connections opened,
//! GOAWAYs received, streams sent again because the server refused them or
//! never processed them. Atomics shared by every connection to the endpoint;
//! [`TransportStats`] is their snapshot in a report.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// The counters of one endpoint.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    opened: AtomicU64,
    goaways: AtomicU64,
    retried: AtomicU64,
}

impl Counters {
    pub(crate) fn opened(&self) {
        self.opened.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn goaway(&self) {
        self.goaways.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn retried(&self) {
        self.retried.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts so far.
    pub(crate) fn snapshot(&self) -> TransportStats {
        TransportStats {
            connections_opened: self.opened.load(Ordering::Relaxed),
            goaways_received: self.goaways.load(Ordering::Relaxed),
            streams_retried: self.retried.load(Ordering::Relaxed),
        }
    }
}

/// What the generator's HTTP/2 connections went through during a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransportStats {
    /// Connections opened (the first ones and every reconnection).
    pub connections_opened: u64,
    /// GOAWAY frames received: the server (or a proxy) closing a connection
    /// (nginx does after `keepalive_requests`).
    pub goaways_received: u64,
    /// Streams sent again on another connection because the server refused
    /// them (REFUSED_STREAM) or never processed them (above a GOAWAY's last
    /// stream ID, or opened on a connection that was going away). They are
    /// not errors: the server did nothing with them.
    pub streams_retried: u64,
}

impl TransportStats {
    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &TransportStats) {
        self.connections_opened += other.connections_opened;
        self.goaways_received += other.goaways_received;
        self.streams_retried += other.streams_retried;
    }

    /// `self - before` (counts since a snapshot).
    pub(crate) fn since(&self, before: &TransportStats) -> TransportStats {
        TransportStats {
            connections_opened: self
                .connections_opened
                .saturating_sub(before.connections_opened),
            goaways_received: self
                .goaways_received
                .saturating_sub(before.goaways_received),
            streams_retried: self.streams_retried.saturating_sub(before.streams_retried),
        }
    }
}
