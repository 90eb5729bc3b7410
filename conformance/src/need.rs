//! What a case needs from a run beyond the main (admin) target, and why it
//! is skipped without it.

/// Something a case needs beyond the main (admin) target; without it the case
/// is Skipped with the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Need {
    /// The main target speaks plaintext (h2c).
    Plaintext,
    /// Some target speaks mutual TLS (the main one or a role's).
    Tls,
    /// A client with the viewer role (`--viewer-node` or `--viewer-cert/--viewer-key`).
    Viewer,
    /// A CA-signed client certificate without a role (`--no-role-node` or
    /// `--no-role-cert/--no-role-key`).
    NoRole,
    /// A CA-signed client certificate whose OU is `reader` (`--reader-node`
    /// or `--reader-cert/--reader-key`).
    Reader,
    /// Permission to call DeleteAllJobs, which deletes every finished job on the
    /// node, not only the run's (`--allow-delete-all`).
    DeleteAll,
    /// Permission to install a runtime from GitHub: the node downloads it
    /// (`--allow-remote-installs`).
    RemoteInstall,
    /// Permission to build a runtime with BuildRuntime (contract v2.5.9): the
    /// node installs it (`--allow-builds`, or `--allow-remote-installs`; the
    /// case removes it at the end).
    Build,
}

impl Need {
    /// Why a case is skipped when this is missing.
    pub fn skip_reason(self) -> &'static str {
        match self {
            Need::Plaintext => "the target speaks TLS: this case checks the plaintext (h2c) mode",
            Need::Tls => "no mutual-TLS target: give --ca/--cert/--key or --node",
            Need::Viewer => {
                "no viewer identity: give --viewer-node NAME or --viewer-cert FILE --viewer-key FILE"
            }
            Need::NoRole => {
                "no certificate without a role: give --no-role-node NAME or --no-role-cert FILE --no-role-key FILE"
            }
            Need::Reader => {
                "no certificate whose OU is reader: give --reader-node NAME or --reader-cert FILE --reader-key FILE"
            }
            Need::DeleteAll => {
                "DeleteAllJobs deletes every finished job on the node, not only this run's: pass --allow-delete-all"
            }
            Need::RemoteInstall => {
                "installing from GitHub makes the node download: pass --allow-remote-installs"
            }
            Need::Build => {
                "building a runtime installs it on the node (removed at the end): pass --allow-builds (or --allow-remote-installs)"
            }
        }
    }
}
