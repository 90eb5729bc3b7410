//! TLS for the generator's connections, rustls (ring) with ALPN `h2`:
//! mutual TLS with the CA, client certificate and key of a
//! [`joblet_testkit::Tls`], or server-only TLS ([`ServerTls`]: the CA alone,
//! no client certificate, as a node behind a TLS-terminating proxy asks).

use std::path::PathBuf;
use std::sync::Arc;

use joblet_testkit::Tls;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use super::error::EndpointError;

/// A ready TLS connector and the name verified in the server certificate.
#[derive(Clone)]
pub(crate) struct TlsConnect {
    pub(crate) connector: TlsConnector,
    pub(crate) server_name: ServerName<'static>,
}

impl std::fmt::Debug for TlsConnect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConnect")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

/// Server-only TLS: verify the server against this CA, present no client
/// certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTls {
    /// CA certificate that signed the server's certificate (PEM file).
    pub ca_cert: PathBuf,
    /// Name verified in the server certificate.
    pub server_name: String,
}

fn roots(ca_pem: &[u8], origin: &str) -> Result<RootCertStore, EndpointError> {
    let bad =
        |e: &dyn std::fmt::Display| EndpointError::Tls(format!("CA certificate of {origin}: {e}"));
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        let cert = cert.map_err(|e| bad(&e))?;
        roots.add(cert).map_err(|e| bad(&e))?;
    }
    if roots.is_empty() {
        return Err(bad(&"no certificate in the PEM"));
    }
    Ok(roots)
}

fn finish(
    mut config: ClientConfig,
    server_name: &str,
    origin: &str,
) -> Result<TlsConnect, EndpointError> {
    config.alpn_protocols = vec![b"h2".to_vec()];
    let server_name = ServerName::try_from(server_name.to_owned())
        .map_err(|e| EndpointError::Tls(format!("server name of {origin}: {e}")))?;
    Ok(TlsConnect {
        connector: TlsConnector::from(Arc::new(config)),
        server_name,
    })
}

fn provider() -> Arc<tokio_rustls::rustls::crypto::CryptoProvider> {
    Arc::new(tokio_rustls::rustls::crypto::ring::default_provider())
}

/// The connector of server-only TLS.
pub(crate) fn server_only(tls: &ServerTls) -> Result<TlsConnect, EndpointError> {
    let origin = tls.ca_cert.display().to_string();
    let pem = std::fs::read(&tls.ca_cert)
        .map_err(|e| EndpointError::Tls(format!("cannot read the CA certificate {origin}: {e}")))?;
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| EndpointError::Tls(format!("TLS versions: {e}")))?
        .with_root_certificates(roots(&pem, &origin)?)
        .with_no_client_auth();
    finish(config, &tls.server_name, &origin)
}

/// The connector of mutual TLS.
pub(crate) fn connector(tls: &Tls) -> Result<TlsConnect, EndpointError> {
    let pem = tls.load()?;
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        EndpointError::Tls(format!("{what} of {}: {e}", pem.origin))
    };
    let roots = roots(&pem.ca_cert, &pem.origin)?;
    let certs = CertificateDer::pem_slice_iter(&pem.client_cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("client certificate", &e))?;
    if certs.is_empty() {
        return Err(bad("client certificate", &"no certificate in the PEM"));
    }
    let key = PrivateKeyDer::from_pem_slice(&pem.client_key).map_err(|e| bad("client key", &e))?;
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("TLS versions", &e))?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)
        .map_err(|e| bad("client certificate and key", &e))?;
    finish(config, &pem.server_name, &pem.origin)
}
