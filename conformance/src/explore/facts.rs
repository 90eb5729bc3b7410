//! What only the v2 messages show of the node, as the explorer reads it
//! (CONTRACT-2, MON-STATUS-2, RT-LIST-2): made by [`super::wire2`], judged
//! by [`super::contract`].

/// What only the v2 messages show of the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Facts {
    /// GetSystemStatus: `available`, `server_version.proto_tag` (`None`:
    /// no server_version), the count of `host.mac_addresses` (`None`: no
    /// host).
    System {
        /// available
        available: bool,
        /// server_version.proto_tag
        proto_tag: Option<String>,
        /// host.mac_addresses, counted
        macs: Option<usize>,
    },
    /// ListRuntimes: each runtime's name, `available` and
    /// `language_version`.
    Runtimes(Vec<(String, bool, String)>),
    /// GetRuntimeInfo: `found`, and the runtime's `language_version`.
    Runtime(bool, String),
}

impl std::fmt::Display for Facts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Facts::System {
                available,
                proto_tag,
                macs,
            } => write!(
                f,
                "OK {{available {available}, server_version.proto_tag {proto_tag:?}, host.mac_addresses: {macs:?}}}"
            ),
            Facts::Runtimes(r) => {
                let shown: Vec<String> = r
                    .iter()
                    .map(|(n, _, lv)| format!("{n} (language_version {lv:?})"))
                    .collect();
                write!(f, "OK [{}]", shown.join(", "))
            }
            Facts::Runtime(found, lv) => {
                write!(f, "OK {{found {found}, language_version {lv:?}}}")
            }
        }
    }
}
