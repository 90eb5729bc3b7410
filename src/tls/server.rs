//! The server side of mutual TLS: a rustls configuration with TLS 1.3 only,
//! ALPN `h2`, and client certificates required and verified against a CA.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig};

use super::error::TlsError;
use super::pem::{load_certs, load_key, parse_certs_pem, parse_key_pem};

/// The TLS identity of a mutual-TLS listener (the mock's, the recording
/// proxy's): a rustls server configuration with TLS 1.3 only, ALPN `h2`, and
/// client certificates required and verified against the client CA.
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<ServerConfig>,
    /// The same, with the client certificate optional ([`Self::allowing_anonymous`]).
    anonymous: Arc<ServerConfig>,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls").finish_non_exhaustive()
    }
}

impl ServerTls {
    /// From the server's certificate chain (leaf first) and key, and the CA(s)
    /// that client certificates must chain to.
    pub fn new(
        cert_chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        client_ca: Vec<CertificateDer<'static>>,
    ) -> Result<Self, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        for ca in client_ca {
            roots.add(ca)?;
        }
        if roots.is_empty() {
            return Err(TlsError::Invalid {
                what: "client CA",
                reason: "no CA certificate".into(),
            });
        }
        let roots = Arc::new(roots);
        let verifier = |anonymous: bool| {
            let builder = WebPkiClientVerifier::builder_with_provider(
                Arc::clone(&roots),
                Arc::clone(&provider),
            );
            let builder = if anonymous {
                builder.allow_unauthenticated()
            } else {
                builder
            };
            builder.build().map_err(|e| TlsError::Invalid {
                what: "client CA",
                reason: e.to_string(),
            })
        };
        let config = |anonymous: bool| -> Result<Arc<ServerConfig>, TlsError> {
            let mut config = ServerConfig::builder_with_provider(Arc::clone(&provider))
                .with_protocol_versions(&[&rustls::version::TLS13])?
                .with_client_cert_verifier(verifier(anonymous)?)
                .with_single_cert(cert_chain.clone(), key.clone_key())?;
            config.alpn_protocols = vec![b"h2".to_vec()];
            Ok(Arc::new(config))
        };
        Ok(Self {
            config: config(false)?,
            anonymous: config(true)?,
        })
    }

    /// This identity with the client certificate optional: clients without
    /// one get through the handshake (the mock's AUTH-2 mutant
    /// `tls-anonymous`, a server that wrongly lets them in).
    pub fn allowing_anonymous(self) -> Self {
        Self {
            config: Arc::clone(&self.anonymous),
            anonymous: self.anonymous,
        }
    }

    /// From PEM data: server certificate chain, server key, client CA.
    pub fn from_pem(cert: &[u8], key: &[u8], client_ca: &[u8]) -> Result<Self, TlsError> {
        Self::new(
            parse_certs_pem(cert, "server certificate")?,
            parse_key_pem(key, "server key")?,
            parse_certs_pem(client_ca, "client CA")?,
        )
    }

    /// From PEM files: server certificate chain, server key, client CA.
    pub fn from_files(cert: &Path, key: &Path, client_ca: &Path) -> Result<Self, TlsError> {
        Self::new(
            load_certs(cert, "server certificate")?,
            load_key(key, "server key")?,
            load_certs(client_ca, "client CA")?,
        )
    }

    /// The rustls configuration.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.config)
    }
}
