//! The embedded target: an in-process `joblet-mock` (documented profile unless
//! asked otherwise) with a plaintext listener, a mutual-TLS listener and
//! generated admin, viewer, no-role and reader (OU `reader`) certificates, so that every case,
//! including the role cases, runs out of the box.

use joblet_mock::{MockConfig, MockServer, RunningMock, TlsSetup};
use joblet_testkit::Role;

use crate::ctx::Targets;

/// Errors starting the embedded mock.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbeddedError {
    /// The temporary directory for the certificates could not be made.
    #[error("cannot create a directory for the embedded mock's certificates: {0}")]
    TempDir(#[source] std::io::Error),
    /// The mock did not start.
    #[error("the embedded mock did not start: {0}")]
    Start(#[from] joblet_mock::StartError),
    /// The reader certificate could not be issued.
    #[error("cannot issue the embedded mock's reader certificate: {0}")]
    Reader(#[source] joblet_testkit::tls::TlsError),
    /// The mock started without the generated certificates.
    #[error("the embedded mock has no generated {0} certificate")]
    NoCert(&'static str),
}

/// A running embedded mock and the targets that reach it.
#[derive(Debug)]
pub struct Embedded {
    /// The mock.
    pub mock: RunningMock,
    /// Plaintext main target, viewer and no-role over mutual TLS.
    pub targets: Targets,
    _certs: tempfile::TempDir,
}

/// GPUs the embedded mock simulates when the configuration has none, so the
/// GPU cases run.
pub const EMBEDDED_GPUS: u32 = 2;

impl Embedded {
    /// Starts a mock with `config` on loopback ports.
    pub async fn start(mut config: MockConfig) -> Result<Self, EmbeddedError> {
        if config.gpus == 0 {
            config.gpus = EMBEDDED_GPUS;
        }
        let dir = tempfile::Builder::new()
            .prefix("joblet-conformance-certs-")
            .tempdir()
            .map_err(EmbeddedError::TempDir)?;
        let mock = MockServer::builder()
            .config(config)
            .tls(TlsSetup::Generate(dir.path().to_owned()))
            .start()
            .await?;
        let main = joblet_testkit::Target::plaintext(mock.addr().to_string());
        let viewer = mock
            .tls_target(Role::Viewer)
            .ok_or(EmbeddedError::NoCert("viewer"))?;
        let no_role = mock
            .tls_target(Role::Unknown)
            .ok_or(EmbeddedError::NoCert("no-role"))?;
        let reader = reader_target(&mock)?;
        Ok(Self {
            mock,
            targets: Targets {
                main,
                viewer: Some(viewer),
                no_role: Some(no_role),
                reader: Some(reader),
            },
            _certs: dir,
        })
    }

    /// Stops the mock.
    pub async fn shutdown(self) {
        let _ = self.mock.shutdown().await;
    }
}

/// A mutual-TLS target presenting a certificate of the mock's CA whose OU is
/// `reader` (`reader.pem` next to the generated ones).
fn reader_target(mock: &RunningMock) -> Result<joblet_testkit::Target, EmbeddedError> {
    let certs = mock.certs().ok_or(EmbeddedError::NoCert("reader"))?;
    let addr = mock.tls_addr().ok_or(EmbeddedError::NoCert("reader"))?;
    let client = certs
        .issue_client("reader", "reader-client", &["reader"])
        .map_err(EmbeddedError::Reader)?;
    Ok(joblet_testkit::Target::plaintext(addr.to_string())
        .with_tls(certs.client_tls_files(&client)))
}
