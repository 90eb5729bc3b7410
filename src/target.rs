//! Where a client connects: a Joblet node or a mock, in plaintext or mutual TLS.

use std::path::PathBuf;
use std::time::Duration;

use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::Error;

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

/// A Joblet endpoint to connect to.
#[derive(Debug, Clone)]
pub struct Target {
    /// `host:port`, or a full `http://` / `https://` URI.
    pub addr: String,
    /// Mutual TLS files; `None` speaks plaintext HTTP/2 (h2c).
    pub tls: Option<TlsFiles>,
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

    /// The same target over mutual TLS.
    pub fn with_tls(mut self, tls: TlsFiles) -> Self {
        self.tls = Some(tls);
        self
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

    /// Builds the endpoint (address, timeouts, TLS) without connecting.
    pub fn endpoint(&self) -> Result<Endpoint, Error> {
        let uri = self.uri();
        let mut endpoint = Endpoint::from_shared(uri.clone())
            .map_err(|e| Error::InvalidAddress {
                addr: self.addr.clone(),
                reason: e.to_string(),
            })?
            .connect_timeout(self.connect_timeout)
            .tcp_nodelay(true);
        if let Some(timeout) = self.request_timeout {
            endpoint = endpoint.timeout(timeout);
        }
        if let Some(tls) = &self.tls {
            let read = |what: &'static str, path: &PathBuf| {
                std::fs::read(path).map_err(|source| Error::TlsFile {
                    what,
                    path: path.clone(),
                    source,
                })
            };
            let ca = read("CA certificate", &tls.ca_cert)?;
            let cert = read("client certificate", &tls.client_cert)?;
            let key = read("client key", &tls.client_key)?;
            let config = ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(ca))
                .identity(Identity::from_pem(cert, key))
                .domain_name(tls.server_name.clone());
            endpoint = endpoint.tls_config(config).map_err(Error::Tls)?;
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

    #[test]
    fn plaintext_uri_gets_http_scheme() {
        assert_eq!(
            Target::plaintext("127.0.0.1:50051").uri(),
            "http://127.0.0.1:50051"
        );
        assert_eq!(Target::plaintext("http://h:1").uri(), "http://h:1");
    }

    #[test]
    fn tls_uri_gets_https_scheme() {
        let t = Target::plaintext("localhost:1").with_tls(TlsFiles {
            ca_cert: "ca".into(),
            client_cert: "c".into(),
            client_key: "k".into(),
            server_name: "joblet".into(),
        });
        assert_eq!(t.uri(), "https://localhost:1");
    }

    #[test]
    fn missing_tls_file_is_a_clear_error() {
        let t = Target::plaintext("localhost:1").with_tls(TlsFiles {
            ca_cert: "/nonexistent/ca.pem".into(),
            client_cert: "c".into(),
            client_key: "k".into(),
            server_name: "joblet".into(),
        });
        let err = t.endpoint().unwrap_err().to_string();
        assert!(err.contains("CA certificate"), "{err}");
    }

    #[test]
    fn bad_address_is_a_clear_error() {
        let err = Target::plaintext("not a uri").endpoint().unwrap_err();
        assert!(matches!(err, Error::InvalidAddress { .. }), "{err}");
    }
}
