//! Where a client connects: a Joblet node or a mock, in plaintext or mutual TLS.

use std::path::PathBuf;
use std::time::Duration;

use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::Error;

/// The name Joblet's CLI verifies in the server certificate.
pub const DEFAULT_SERVER_NAME: &str = "joblet";

/// The files of a mutual-TLS client: the CA that signed the server's certificate,
/// and the client's own certificate and key (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// CA certificate (`JOBLET_CA_CERT_PATH`).
    pub ca_cert: PathBuf,
    /// Client certificate (`JOBLET_CLIENT_CERT_PATH`).
    pub client_cert: PathBuf,
    /// Client private key (`JOBLET_CLIENT_KEY_PATH`).
    pub client_key: PathBuf,
    /// Name to verify in the server certificate; Joblet's CLI uses `joblet`.
    pub server_name: String,
}

/// The PEM contents of a mutual-TLS client, as an `rnx-config.yml` node embeds
/// them.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsPem {
    /// CA certificate (PEM).
    pub ca_cert: Vec<u8>,
    /// Client certificate (PEM).
    pub client_cert: Vec<u8>,
    /// Client private key (PEM).
    pub client_key: Vec<u8>,
    /// Name to verify in the server certificate.
    pub server_name: String,
    /// Where the PEMs came from, for error messages (`rnx-config.yml node default`).
    pub origin: String,
}

impl std::fmt::Debug for TlsPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a private key.
        f.debug_struct("TlsPem")
            .field("origin", &self.origin)
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

/// The mutual-TLS material of a [`Target`]: files, or PEM contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    /// PEM files on disk, read when connecting.
    Files(TlsFiles),
    /// PEM contents held in memory.
    Pem(TlsPem),
}

impl From<TlsFiles> for Tls {
    fn from(files: TlsFiles) -> Self {
        Tls::Files(files)
    }
}

impl From<TlsPem> for Tls {
    fn from(pem: TlsPem) -> Self {
        Tls::Pem(pem)
    }
}

impl Tls {
    /// The name verified in the server certificate.
    pub fn server_name(&self) -> &str {
        match self {
            Tls::Files(f) => &f.server_name,
            Tls::Pem(p) => &p.server_name,
        }
    }

    /// Reads the material: the CA, client certificate and key as PEM bytes.
    pub fn load(&self) -> Result<TlsPem, Error> {
        match self {
            Tls::Pem(p) => Ok(p.clone()),
            Tls::Files(files) => {
                let read = |what: &'static str, path: &PathBuf| {
                    std::fs::read(path).map_err(|source| Error::TlsFile {
                        what,
                        path: path.clone(),
                        source,
                    })
                };
                Ok(TlsPem {
                    ca_cert: read("CA certificate", &files.ca_cert)?,
                    client_cert: read("client certificate", &files.client_cert)?,
                    client_key: read("client key", &files.client_key)?,
                    server_name: files.server_name.clone(),
                    origin: files.client_cert.display().to_string(),
                })
            }
        }
    }
}

/// A Joblet endpoint to connect to.
#[derive(Debug, Clone)]
pub struct Target {
    /// `host:port`, or a full `http://` / `https://` URI.
    pub addr: String,
    /// Mutual TLS material; `None` speaks plaintext HTTP/2 (h2c).
    pub tls: Option<Tls>,
    /// Time allowed to establish the connection.
    pub connect_timeout: Duration,
    /// Deadline for each unary request; `None` leaves requests unbounded
    /// (streams such as `GetJobLogs` must not be cut short).
    pub request_timeout: Option<Duration>,
}

impl Target {
    /// A plaintext target at `addr` with a 5 s connect timeout.
    pub fn plaintext(addr: impl Into<String>) -> Self {
        Self {
            addr: addr.into(),
            tls: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: None,
        }
    }

    /// The same target over mutual TLS (files or PEM contents).
    pub fn with_tls(mut self, tls: impl Into<Tls>) -> Self {
        self.tls = Some(tls.into());
        self
    }

    /// Whether this target speaks TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some() || self.addr.starts_with("https://")
    }

    /// The URI this target dials.
    pub fn uri(&self) -> String {
        if self.addr.contains("://") {
            self.addr.clone()
        } else if self.tls.is_some() {
            format!("https://{}", self.addr)
        } else {
            format!("http://{}", self.addr)
        }
    }

    /// `host:port` without a scheme or trailing slash.
    pub fn host_port(&self) -> &str {
        let a = self.addr.as_str();
        let a = a
            .strip_prefix("http://")
            .or_else(|| a.strip_prefix("https://"))
            .unwrap_or(a);
        a.trim_end_matches('/')
    }

    /// Builds the endpoint (address, timeouts, TLS) without connecting.
    pub fn endpoint(&self) -> Result<Endpoint, Error> {
        let mut endpoint = self.bare_endpoint()?;
        if let Some(tls) = &self.tls {
            let pem = tls.load()?;
            let config = ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(pem.ca_cert))
                .identity(Identity::from_pem(pem.client_cert, pem.client_key))
                .domain_name(pem.server_name);
            endpoint = endpoint.tls_config(config).map_err(Error::Tls)?;
        }
        Ok(endpoint)
    }

    /// The endpoint of this TLS target that trusts its CA but presents no
    /// client certificate (for checking that a server refuses such clients).
    /// `None` for a plaintext target.
    pub fn endpoint_without_client_cert(&self) -> Result<Option<Endpoint>, Error> {
        let Some(tls) = &self.tls else {
            return Ok(None);
        };
        let pem = tls.load()?;
        let config = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(pem.ca_cert))
            .domain_name(pem.server_name);
        Ok(Some(
            self.bare_endpoint()?
                .tls_config(config)
                .map_err(Error::Tls)?,
        ))
    }

    fn bare_endpoint(&self) -> Result<Endpoint, Error> {
        let uri = self.uri();
        let mut endpoint = Endpoint::from_shared(uri)
            .map_err(|e| Error::InvalidAddress {
                addr: self.addr.clone(),
                reason: e.to_string(),
            })?
            .connect_timeout(self.connect_timeout)
            .tcp_nodelay(true);
        if let Some(timeout) = self.request_timeout {
            endpoint = endpoint.timeout(timeout);
        }
        Ok(endpoint)
    }

    /// Connects and returns a channel that every generated client accepts.
    pub async fn connect(&self) -> Result<Channel, Error> {
        self.endpoint()?
            .connect()
            .await
            .map_err(|source| Error::Connect {
                addr: self.addr.clone(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(ca: &str) -> TlsFiles {
        TlsFiles {
            ca_cert: ca.into(),
            client_cert: "c".into(),
            client_key: "k".into(),
            server_name: DEFAULT_SERVER_NAME.into(),
        }
    }

    #[test]
    fn plaintext_uri_gets_http_scheme() {
        assert_eq!(
            Target::plaintext("127.0.0.1:50051").uri(),
            "http://127.0.0.1:50051"
        );
        assert_eq!(Target::plaintext("http://h:1").uri(), "http://h:1");
        assert_eq!(Target::plaintext("http://h:1/").host_port(), "h:1");
        assert!(!Target::plaintext("h:1").is_tls());
    }

    #[test]
    fn tls_uri_gets_https_scheme() {
        let t = Target::plaintext("localhost:1").with_tls(files("ca"));
        assert_eq!(t.uri(), "https://localhost:1");
        assert!(t.is_tls());
        assert_eq!(t.tls.as_ref().map(Tls::server_name), Some("joblet"));
    }

    #[test]
    fn missing_tls_file_is_a_clear_error() {
        let t = Target::plaintext("localhost:1").with_tls(files("/nonexistent/ca.pem"));
        let err = t.endpoint().unwrap_err().to_string();
        assert!(err.contains("CA certificate"), "{err}");
    }

    #[test]
    fn bad_address_is_a_clear_error() {
        let err = Target::plaintext("not a uri").endpoint().unwrap_err();
        assert!(matches!(err, Error::InvalidAddress { .. }), "{err}");
    }

    #[test]
    fn pem_debug_never_shows_the_key() {
        let pem = TlsPem {
            ca_cert: b"CA".to_vec(),
            client_cert: b"CERT".to_vec(),
            client_key: b"SECRET-KEY".to_vec(),
            server_name: "joblet".into(),
            origin: "test".into(),
        };
        let shown = format!("{:?}", Target::plaintext("h:1").with_tls(pem));
        assert!(!shown.contains("SECRET"), "{shown}");
    }
}
