//! Mutual TLS on the server side, for test servers (feature `tls`): the
//! rustls configuration of a listener ([`ServerTls`]), its accept loop
//! ([`incoming`]: each connection carries the [`ClientIdentity`] of its
//! certificate), PEM loading, and a throw-away PKI ([`GeneratedCerts`]).
//!
//! A listener speaks TLS 1.3 only, offers ALPN `h2`, and requires a client
//! certificate that chains to the client CA. Each connection's handshake runs
//! in its own task (a slow or broken client never holds up others, and a
//! failed handshake is logged at debug level and forgotten); the role of the
//! client certificate is read once, at handshake ([`Role::from_cert_der`]).
//!
//! [`GeneratedCerts::generate`] writes a CA, a server certificate for
//! `localhost`, `joblet`, `127.0.0.1` and `::1`, and client certificates with
//! OU `admin`, OU `viewer` and a no-role OU into a directory; then
//! [`GeneratedCerts::write_rnx_config`] writes the `rnx-config.yml` the `rnx`
//! CLI and the Python SDK read. Everything is regenerated (overwritten) each
//! time. The mock's TLS listener and the conformance suite's recording proxy
//! both use this module.
//!
//! [`ClientIdentity`]: crate::auth::ClientIdentity
//! [`Role::from_cert_der`]: crate::auth::Role::from_cert_der

mod accept;
mod certs;
mod error;
mod pem;
mod server;

pub use accept::{AcceptLoop, TlsConn, incoming};
pub use certs::{ClientCert, GeneratedCerts, SERVER_NAME, extra_sans};
pub use error::TlsError;
pub use pem::{load_certs, load_key, parse_certs_pem, parse_key_pem};
pub use server::ServerTls;
