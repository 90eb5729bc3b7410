//! The connection flags that `joblet-conformance` and `joblet-loadgen` share
//! (feature `cli`): mutual TLS from files or from an `rnx-config.yml` node, the
//! `JOBLET_*` environment variables, and extra roles (a viewer certificate).
//!
//! | Flag | Env | What |
//! |---|---|---|
//! | `--ca FILE` | `JOBLET_CA_CERT_PATH` | CA of the server certificate |
//! | `--cert FILE` | `JOBLET_CLIENT_CERT_PATH` | client certificate |
//! | `--key FILE` | `JOBLET_CLIENT_KEY_PATH` | client key |
//! | `--server-name NAME` | `JOBLET_SERVER_NAME` | name verified in the server certificate (`joblet`) |
//! | `--node NAME` | `JOBLET_NODE` | take address and certificates from this `rnx-config.yml` node |
//! | `--rnx-config FILE` | | the file for `--node` (default `$RNX_CONFIG_PATH`, else `~/.rnx/rnx-config.yml`) |
//!
//! Each binary declares its own `--target` (one, or repeatable); with no
//! `--target` and no `--node`, `JOBLET_HOST` (and `JOBLET_PORT`, default 50051)
//! name the endpoint; with none of them the tools use an embedded mock.

use std::path::PathBuf;

use crate::rnx::{RnxConfig, RnxError};
use crate::target::{DEFAULT_SERVER_NAME, Target, Tls, TlsFiles};

/// Errors turning flags into targets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// Only some of `--ca`, `--cert`, `--key` were given.
    #[error("mutual TLS needs --ca, --cert and --key together; missing: {0}")]
    PartialTls(String),
    /// Two ways of choosing the connection were mixed.
    #[error("{0}")]
    Conflict(String),
    /// A TLS option was given without anything to connect to.
    #[error("{0}")]
    Needs(String),
    /// The rnx config could not be used.
    #[error(transparent)]
    Rnx(#[from] RnxError),
    /// `JOBLET_PORT` is not a port number.
    #[error("JOBLET_PORT={0:?} is not a port number (1-65535)")]
    BadPort(String),
}

/// The TLS and `rnx-config.yml` flags (flatten into a clap `Parser`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConnectArgs {
    /// CA certificate that signed the server's certificate (PEM); with --cert and
    /// --key, speak mutual TLS.
    #[arg(
        long,
        env = "JOBLET_CA_CERT_PATH",
        value_name = "FILE",
        help_heading = "Connection"
    )]
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM). Its first OU (`admin`, `viewer`) is the role.
    #[arg(
        long,
        env = "JOBLET_CLIENT_CERT_PATH",
        value_name = "FILE",
        help_heading = "Connection"
    )]
    pub cert: Option<PathBuf>,
    /// Client private key (PEM).
    #[arg(
        long,
        env = "JOBLET_CLIENT_KEY_PATH",
        value_name = "FILE",
        help_heading = "Connection"
    )]
    pub key: Option<PathBuf>,
    /// Name to verify in the server certificate (Joblet's installer puts `joblet`
    /// in it).
    #[arg(
        long,
        env = "JOBLET_SERVER_NAME",
        default_value = DEFAULT_SERVER_NAME,
        value_name = "NAME",
        help_heading = "Connection"
    )]
    pub server_name: String,
    /// Connect as this node of an rnx-config.yml (address and embedded
    /// certificates), as `rnx --node NAME` does.
    #[arg(
        long,
        env = "JOBLET_NODE",
        value_name = "NAME",
        help_heading = "Connection"
    )]
    pub node: Option<String>,
    /// The rnx-config.yml for --node [default: $RNX_CONFIG_PATH, else
    /// ~/.rnx/rnx-config.yml].
    #[arg(long, value_name = "FILE", help_heading = "Connection")]
    pub rnx_config: Option<PathBuf>,
}

fn given(p: &Option<PathBuf>) -> Option<PathBuf> {
    p.clone().filter(|p| !p.as_os_str().is_empty())
}

/// The rnx config file in effect: `explicit`, else `$RNX_CONFIG_PATH`, else
/// `~/.rnx/rnx-config.yml`.
pub fn rnx_config_path(explicit: Option<&PathBuf>) -> PathBuf {
    if let Some(p) = explicit {
        return p.clone();
    }
    if let Some(p) = std::env::var_os("RNX_CONFIG_PATH").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".rnx").join("rnx-config.yml")
}

/// `JOBLET_HOST[:JOBLET_PORT]` when `JOBLET_HOST` is set.
pub fn env_target() -> Result<Option<String>, CliError> {
    let Some(host) = std::env::var("JOBLET_HOST")
        .ok()
        .filter(|h| !h.trim().is_empty())
    else {
        return Ok(None);
    };
    let port = match std::env::var("JOBLET_PORT")
        .ok()
        .filter(|p| !p.trim().is_empty())
    {
        None => 50051,
        Some(p) => p
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or(CliError::BadPort(p))?,
    };
    Ok(Some(format!("{}:{port}", host.trim())))
}

impl ConnectArgs {
    /// The TLS files of `--ca`, `--cert`, `--key`: `None` when none is given, an
    /// error naming the missing ones when only some are.
    pub fn tls_files(&self) -> Result<Option<TlsFiles>, CliError> {
        let options = [
            ("--ca (JOBLET_CA_CERT_PATH)", given(&self.ca)),
            ("--cert (JOBLET_CLIENT_CERT_PATH)", given(&self.cert)),
            ("--key (JOBLET_CLIENT_KEY_PATH)", given(&self.key)),
        ];
        let missing: Vec<&str> = options
            .iter()
            .filter(|(_, p)| p.is_none())
            .map(|(f, _)| *f)
            .collect();
        if missing.len() == options.len() {
            return Ok(None);
        }
        if !missing.is_empty() {
            return Err(CliError::PartialTls(missing.join(", ")));
        }
        let [ca, cert, key] = options.map(|(_, p)| p.unwrap_or_default());
        Ok(Some(TlsFiles {
            ca_cert: ca,
            client_cert: cert,
            client_key: key,
            server_name: self.server_name_or_default(),
        }))
    }

    fn server_name_or_default(&self) -> String {
        let s = self.server_name.trim();
        if s.is_empty() {
            DEFAULT_SERVER_NAME.to_owned()
        } else {
            s.to_owned()
        }
    }

    /// The targets these flags name, given the binary's `--target` values.
    ///
    /// - `--node`: the node's address (each `--target` replaces it) with its
    ///   certificates; `--ca/--cert/--key` may not be mixed in.
    /// - `--target`s: plaintext, or mutual TLS with `--ca/--cert/--key`.
    /// - neither: `JOBLET_HOST`/`JOBLET_PORT` when set.
    /// - nothing at all: an empty list (the tools then use an embedded mock);
    ///   TLS files without a target are an error.
    pub fn resolve(&self, targets: &[String]) -> Result<Vec<Target>, CliError> {
        let files = self.tls_files()?;
        let targets: Vec<String> = targets
            .iter()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        if let Some(node) = self.node.as_deref().filter(|n| !n.trim().is_empty()) {
            if files.is_some() {
                return Err(CliError::Conflict(format!(
                    "--node {node} takes its certificates from the rnx config: drop --ca/--cert/--key \
                     (or JOBLET_CA_CERT_PATH etc.), or drop --node"
                )));
            }
            let path = rnx_config_path(self.rnx_config.as_ref());
            let base =
                RnxConfig::load(&path)?.target(node.trim(), &self.server_name_or_default())?;
            if targets.is_empty() {
                return Ok(vec![base]);
            }
            return Ok(targets
                .into_iter()
                .map(|addr| Target {
                    addr,
                    ..base.clone()
                })
                .collect());
        }
        if self.rnx_config.is_some() {
            return Err(CliError::Needs(
                "--rnx-config names the file; say which node with --node NAME".into(),
            ));
        }
        let targets = if targets.is_empty() {
            env_target()?.into_iter().collect()
        } else {
            targets
        };
        if targets.is_empty() {
            if files.is_some() {
                return Err(CliError::Needs(
                    "--ca/--cert/--key (or JOBLET_CA_CERT_PATH etc.) need an endpoint: give \
                     --target HOST:PORT (or JOBLET_HOST)"
                        .into(),
                ));
            }
            return Ok(Vec::new());
        }
        Ok(targets
            .into_iter()
            .map(|addr| {
                let t = Target::plaintext(addr);
                match &files {
                    Some(f) => t.with_tls(f.clone()),
                    None => t,
                }
            })
            .collect())
    }

    /// A second identity on the same endpoint as `base` (a viewer, say): from
    /// rnx-config node `node`, or from `cert` + `key` with `base`'s CA.
    /// `Ok(None)` when neither is given. `what` names the flags in errors
    /// (`--viewer`).
    pub fn role_target(
        &self,
        base: &Target,
        what: &str,
        node: Option<&str>,
        cert: Option<&PathBuf>,
        key: Option<&PathBuf>,
    ) -> Result<Option<Target>, CliError> {
        let cert = cert.filter(|p| !p.as_os_str().is_empty());
        let key = key.filter(|p| !p.as_os_str().is_empty());
        let node = node.map(str::trim).filter(|n| !n.is_empty());
        match (node, cert, key) {
            (None, None, None) => Ok(None),
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(CliError::Conflict(format!(
                "give {what}-node or {what}-cert/{what}-key, not both"
            ))),
            (Some(node), None, None) => {
                let path = rnx_config_path(self.rnx_config.as_ref());
                let t = RnxConfig::load(&path)?.target(node, &self.server_name_or_default())?;
                Ok(Some(Target {
                    addr: if base.is_tls() {
                        base.addr.clone()
                    } else {
                        t.addr.clone()
                    },
                    ..t
                }))
            }
            (None, Some(cert), Some(key)) => {
                let Some(tls) = &base.tls else {
                    return Err(CliError::Needs(format!(
                        "{what}-cert/{what}-key need a mutual-TLS target: the main target is plaintext \
                         (give --ca/--cert/--key or --node)"
                    )));
                };
                let files = match tls {
                    Tls::Files(f) => TlsFiles {
                        client_cert: cert.clone(),
                        client_key: key.clone(),
                        ..f.clone()
                    },
                    Tls::Pem(p) => {
                        let mut pem = p.clone();
                        let read = |path: &PathBuf| {
                            std::fs::read(path).map_err(|e| {
                                CliError::Needs(format!("cannot read {}: {e}", path.display()))
                            })
                        };
                        pem.client_cert = read(cert)?;
                        pem.client_key = read(key)?;
                        pem.origin = cert.display().to_string();
                        return Ok(Some(Target {
                            tls: Some(Tls::Pem(pem)),
                            ..base.clone()
                        }));
                    }
                };
                Ok(Some(Target {
                    tls: Some(Tls::Files(files)),
                    ..base.clone()
                }))
            }
            (None, Some(_), None) => Err(CliError::Needs(format!("{what}-cert needs {what}-key"))),
            (None, None, Some(_)) => Err(CliError::Needs(format!("{what}-key needs {what}-cert"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> ConnectArgs {
        ConnectArgs {
            server_name: "joblet".into(),
            ..Default::default()
        }
    }

    #[test]
    fn plain_targets_stay_plaintext() {
        let t = args().resolve(&["h:1".into(), "h:2".into()]).unwrap();
        assert_eq!(t.len(), 2);
        assert!(t.iter().all(|t| t.tls.is_none()));
    }

    #[test]
    fn partial_tls_names_what_is_missing() {
        let a = ConnectArgs {
            ca: Some("ca.pem".into()),
            ..args()
        };
        let err = a.resolve(&["h:1".into()]).unwrap_err().to_string();
        assert!(
            err.contains("--cert") && err.contains("--key") && !err.contains("missing: --ca"),
            "{err}"
        );
    }

    #[test]
    fn tls_without_target_is_an_error() {
        let a = ConnectArgs {
            ca: Some("a".into()),
            cert: Some("b".into()),
            key: Some("c".into()),
            ..args()
        };
        if std::env::var_os("JOBLET_HOST").is_none() {
            assert!(matches!(a.resolve(&[]), Err(CliError::Needs(_))));
        }
        let t = a.resolve(&["h:1".into()]).unwrap();
        assert!(t[0].is_tls());
    }

    #[test]
    fn node_comes_from_the_rnx_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rnx.yml");
        std::fs::write(
            &path,
            "nodes:\n  prod:\n    address: 10.1.1.1:50051\n    cert: C\n    key: K\n    ca: A\n  ro:\n    address: 10.1.1.1:50051\n    cert: C2\n    key: K2\n    ca: A\n",
        )
        .unwrap();
        let a = ConnectArgs {
            node: Some("prod".into()),
            rnx_config: Some(path.clone()),
            ..args()
        };
        let t = a.resolve(&[]).unwrap();
        assert_eq!(t[0].addr, "10.1.1.1:50051");
        let t2 = a.resolve(&["other:9".into()]).unwrap();
        assert_eq!(t2[0].addr, "other:9");
        assert!(t2[0].is_tls());
        let viewer = a
            .role_target(&t2[0], "--viewer", Some("ro"), None, None)
            .unwrap()
            .unwrap();
        assert_eq!(viewer.addr, "other:9");
        let pem = viewer.tls.unwrap().load().unwrap();
        assert_eq!(pem.client_cert, b"C2");
    }

    #[test]
    fn viewer_cert_needs_a_tls_target() {
        let base = Target::plaintext("h:1");
        let err = args()
            .role_target(
                &base,
                "--viewer",
                None,
                Some(&"v.pem".into()),
                Some(&"v-key.pem".into()),
            )
            .unwrap_err();
        assert!(matches!(err, CliError::Needs(_)), "{err}");
        assert!(
            args()
                .role_target(&base, "--viewer", None, None, None)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn rnx_config_without_node_is_an_error() {
        let a = ConnectArgs {
            rnx_config: Some("x.yml".into()),
            ..args()
        };
        assert!(matches!(
            a.resolve(&["h:1".into()]),
            Err(CliError::Needs(_))
        ));
    }
}
