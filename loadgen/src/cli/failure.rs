//! How a command ends: its exit codes, and why it failed ([`Failure`]).

/// Exit code of bad usage (as clap's own errors).
pub const EXIT_USAGE: u8 = 2;
/// Exit code when a `--threshold` rule fails, or when not even the lowest
/// rate of a capacity search met its SLO.
pub const EXIT_THRESHOLD: u8 = 3;
/// Exit code of a run stopped by Ctrl-C (after its report).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Why a command failed: bad usage (exit 2, nothing was sent) or an error
/// while it ran (exit 1).
pub(super) enum Failure {
    Usage(anyhow::Error),
    Run(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Self::Run(e)
    }
}
