//! Sessions: the metadata key that selects one of a mock's independent
//! simulated nodes. Transcripts record it and replays send it; a real node
//! ignores it.

/// The metadata key that selects a session (`x-joblet-mock-session: <name>`);
/// without it a call uses the default session.
pub const SESSION_HEADER: &str = "x-joblet-mock-session";
