//! Job statuses as the contract spells them.

/// Job statuses after which nothing changes.
pub const FINAL: &[&str] = &["COMPLETED", "FAILED", "STOPPED", "CANCELED"];
