//! `rnx-config.yml`: the node list of Joblet's `rnx` CLI and SDKs.
//!
//! ```yaml
//! nodes:
//!   default:
//!     address: "192.168.1.10:50051"
//!     cert: |            # client certificate, PEM
//!       -----BEGIN CERTIFICATE-----
//!     key: |             # client key, PEM
//!     ca: |              # CA of the server certificate, PEM
//! ```
//!
//! [`RnxConfig::target`] turns a node into a mutual-TLS [`Target`]. Keys other
//! than `nodes` (such as `version`) and other node keys (such as `nodeId`) are
//! ignored, as the SDK ignores them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::target::{DEFAULT_SERVER_NAME, Target, TlsPem};

/// Errors reading an `rnx-config.yml`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RnxError {
    /// The file could not be read.
    #[error("cannot read rnx config {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not the expected YAML.
    #[error("invalid rnx config {}: {reason}", path.display())]
    Parse { path: PathBuf, reason: String },
    /// The node is not in the file.
    #[error("rnx config {} has no node {node:?} (nodes: {known})", path.display())]
    NoSuchNode {
        path: PathBuf,
        node: String,
        known: String,
    },
    /// The node lacks a key a mutual-TLS client needs.
    #[error("rnx config {} node {node:?} has no {key:?}", path.display())]
    MissingKey {
        path: PathBuf,
        node: String,
        key: &'static str,
    },
}

#[derive(Debug, serde::Deserialize)]
struct File {
    #[serde(default)]
    nodes: BTreeMap<String, Node>,
}

#[derive(Debug, Clone, serde::Deserialize)]
struct Node {
    #[serde(default)]
    address: String,
    #[serde(default)]
    cert: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    ca: String,
}

/// A parsed `rnx-config.yml`.
#[derive(Debug)]
pub struct RnxConfig {
    path: PathBuf,
    nodes: BTreeMap<String, Node>,
}

impl RnxConfig {
    /// Reads and parses the file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, RnxError> {
        let path = path.as_ref().to_path_buf();
        let text = std::fs::read_to_string(&path).map_err(|source| RnxError::Read {
            path: path.clone(),
            source,
        })?;
        Self::parse(&path, &text)
    }

    /// Parses `text` (read from `path`, named in errors).
    pub fn parse(path: &Path, text: &str) -> Result<Self, RnxError> {
        let file: File = serde_norway::from_str(text).map_err(|e| RnxError::Parse {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            nodes: file.nodes,
        })
    }

    /// The node names, sorted.
    pub fn node_names(&self) -> Vec<&str> {
        self.nodes.keys().map(String::as_str).collect()
    }

    /// The mutual-TLS target of node `name`, verifying the server as
    /// `server_name` (Joblet's CLI uses `joblet`).
    pub fn target(&self, name: &str, server_name: &str) -> Result<Target, RnxError> {
        let node = self.nodes.get(name).ok_or_else(|| RnxError::NoSuchNode {
            path: self.path.clone(),
            node: name.to_owned(),
            known: if self.nodes.is_empty() {
                "none".to_owned()
            } else {
                self.node_names().join(", ")
            },
        })?;
        let need = |key: &'static str, value: &str| {
            if value.trim().is_empty() {
                Err(RnxError::MissingKey {
                    path: self.path.clone(),
                    node: name.to_owned(),
                    key,
                })
            } else {
                Ok(value.as_bytes().to_vec())
            }
        };
        need("address", &node.address)?;
        let pem = TlsPem {
            ca_cert: need("ca", &node.ca)?,
            client_cert: need("cert", &node.cert)?,
            client_key: need("key", &node.key)?,
            server_name: if server_name.is_empty() {
                DEFAULT_SERVER_NAME.to_owned()
            } else {
                server_name.to_owned()
            },
            origin: format!("{} node {name}", self.path.display()),
        };
        let addr = if node.address.contains(':') || node.address.contains("://") {
            node.address.trim().to_owned()
        } else {
            format!("{}:50051", node.address.trim())
        };
        Ok(Target::plaintext(addr).with_tls(pem))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "version: \"3.0\"\nnodes:\n  default:\n    address: \"10.0.0.5:50051\"\n    nodeId: abc\n    cert: |\n      -----BEGIN CERTIFICATE-----\n      A\n    key: |\n      -----BEGIN PRIVATE KEY-----\n      B\n    ca: |\n      -----BEGIN CERTIFICATE-----\n      C\n  bare:\n    address: node2\n    cert: x\n    key: y\n    ca: z\n  nokey:\n    address: h:1\n    cert: x\n    ca: z\n";

    fn config() -> RnxConfig {
        RnxConfig::parse(Path::new("rnx-config.yml"), SAMPLE).unwrap()
    }

    #[test]
    fn node_becomes_a_tls_target() {
        let t = config().target("default", "joblet").unwrap();
        assert_eq!(t.addr, "10.0.0.5:50051");
        let pem = t.tls.unwrap().load().unwrap();
        assert!(String::from_utf8_lossy(&pem.client_key).contains("PRIVATE KEY"));
        assert!(String::from_utf8_lossy(&pem.ca_cert).contains("C"));
        assert_eq!(pem.server_name, "joblet");
    }

    #[test]
    fn address_without_port_gets_the_default_port() {
        assert_eq!(config().target("bare", "").unwrap().addr, "node2:50051");
    }

    #[test]
    fn unknown_node_names_the_known_ones() {
        let err = config().target("prod", "joblet").unwrap_err().to_string();
        assert!(
            err.contains("\"prod\"") && err.contains("bare, default, nokey"),
            "{err}"
        );
    }

    #[test]
    fn missing_key_is_named() {
        let err = config().target("nokey", "joblet").unwrap_err().to_string();
        assert!(err.contains("\"key\""), "{err}");
    }

    #[test]
    fn bad_yaml_is_a_parse_error() {
        let err = RnxConfig::parse(Path::new("x.yml"), "nodes: [1, 2").unwrap_err();
        assert!(matches!(err, RnxError::Parse { .. }), "{err}");
    }
}
