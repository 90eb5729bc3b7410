//! Mutual TLS for the mock (AUTH-2): the rustls server configuration, the
//! accept loop of the TLS listener, and generated certificates.
//!
//! All of it is the shared test TLS of [`joblet_testkit::tls`] (the
//! conformance suite's recording proxy uses the same), re-exported here under
//! the names the mock has always used: [`MockTls`] is
//! [`joblet_testkit::tls::ServerTls`]. The TLS listener speaks TLS 1.3 only,
//! offers ALPN `h2`, and requires a client certificate that chains to the
//! client CA; the role of the client certificate is read once, at handshake,
//! and attached to the connection as a [`ClientIdentity`](crate::auth::ClientIdentity)
//! for [`crate::auth::AuthLayer`]. With the AUTH-2 mutant the server takes
//! [`MockTls::allowing_anonymous`].
//!
//! [`GeneratedCerts::generate`] writes a throw-away PKI into a directory (see
//! there), and [`GeneratedCerts::write_rnx_config`] the `rnx-config.yml` the
//! `rnx` CLI and the Python SDK read. Everything is regenerated (overwritten)
//! each time: certificates from an earlier run stop working when the mock
//! restarts.

pub use joblet_testkit::tls::{
    GeneratedCerts, SERVER_NAME, ServerTls as MockTls, TlsError, extra_sans, incoming, load_certs,
    load_key,
};
