//! Mutual TLS for the generator's connections: rustls (ring) with the CA,
//! client certificate and key of a [`joblet_testkit::Tls`], ALPN `h2`.

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

pub(crate) fn connector(tls: &Tls) -> Result<TlsConnect, EndpointError> {
    let pem = tls.load()?;
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        EndpointError::Tls(format!("{what} of {}: {e}", pem.origin))
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem.ca_cert) {
        let cert = cert.map_err(|e| bad("CA certificate", &e))?;
        roots.add(cert).map_err(|e| bad("CA certificate", &e))?;
    }
    if roots.is_empty() {
        return Err(bad("CA certificate", &"no certificate in the PEM"));
    }
    let certs = CertificateDer::pem_slice_iter(&pem.client_cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("client certificate", &e))?;
    if certs.is_empty() {
        return Err(bad("client certificate", &"no certificate in the PEM"));
    }
    let key = PrivateKeyDer::from_pem_slice(&pem.client_key).map_err(|e| bad("client key", &e))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("TLS versions", &e))?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)
        .map_err(|e| bad("client certificate and key", &e))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    let server_name =
        ServerName::try_from(pem.server_name.clone()).map_err(|e| bad("server name", &e))?;
    Ok(TlsConnect {
        connector: TlsConnector::from(Arc::new(config)),
        server_name,
    })
}
