//! A throw-away PKI for tests: a CA, a server certificate, client
//! certificates with the `admin`, `viewer` and no-role OUs, and the
//! `rnx-config.yml` the `rnx` CLI and the SDKs read.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

use super::error::TlsError;
use super::server::ServerTls;
use crate::auth::Role;
use crate::target::TlsFiles;

/// The server-certificate SANs a TLS listener bound to `addr` needs beyond the
/// defaults: its IP when it is a specific one.
pub fn extra_sans(addr: SocketAddr) -> Vec<String> {
    if addr.ip().is_unspecified() {
        Vec::new()
    } else {
        vec![addr.ip().to_string()]
    }
}

/// A client certificate and key issued by [`GeneratedCerts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    /// Certificate, PEM.
    pub cert_pem: String,
    /// Private key (PKCS#8), PEM.
    pub key_pem: String,
    /// Where the certificate was written.
    pub cert_path: PathBuf,
    /// Where the key was written (mode 0600).
    pub key_path: PathBuf,
}

/// A throw-away PKI written into a directory for the TLS listener:
///
/// | file | content |
/// |---|---|
/// | `ca.pem`, `ca-key.pem` | the CA (signs the server and client certificates) |
/// | `server.pem`, `server-key.pem` | server, SANs `localhost`, `joblet`, `127.0.0.1`, `::1` (+ extra) |
/// | `admin.pem`, `admin-key.pem` | client, `CN=admin-client`, `OU=admin` |
/// | `viewer.pem`, `viewer-key.pem` | client, `CN=viewer-client`, `OU=viewer` |
/// | `norole.pem`, `norole-key.pem` | client, `CN=norole-client`, `OU=guest`: signed by the CA but neither admin nor viewer (role `unknown`, AUTH-3) |
/// | `rnx-config.yml` | nodes `default` (admin), `viewer` and `norole`, see [`write_rnx_config`](Self::write_rnx_config) |
///
/// Keys (and `rnx-config.yml`, which embeds them) are written with mode 0600.
/// Existing files are overwritten.
pub struct GeneratedCerts {
    dir: PathBuf,
    ca: CertifiedIssuer<'static, KeyPair>,
    /// CA certificate, PEM.
    pub ca_pem: String,
    /// Server certificate, PEM.
    pub server_cert_pem: String,
    /// Server private key, PEM.
    pub server_key_pem: String,
    /// Client with OU `admin`.
    pub admin: ClientCert,
    /// Client with OU `viewer`.
    pub viewer: ClientCert,
    /// Client with OU `guest`: a valid certificate without a role.
    pub norole: ClientCert,
}

impl fmt::Debug for GeneratedCerts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedCerts")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// Server name to verify in the generated server certificate; the `rnx` CLI
/// uses `joblet` ([`DEFAULT_SERVER_NAME`](crate::target::DEFAULT_SERVER_NAME)).
pub const SERVER_NAME: &str = crate::target::DEFAULT_SERVER_NAME;

fn write_file(path: &Path, contents: &str, secret: bool) -> Result<(), TlsError> {
    let err = |source| TlsError::Write {
        path: path.to_owned(),
        source,
    };
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let mode = if secret { 0o600 } else { 0o644 };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(path)
            .map_err(err)?;
        // An existing file keeps its mode on open: set it.
        file.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(err)?;
        file.write_all(contents.as_bytes()).map_err(err)
    }
    #[cfg(not(unix))]
    {
        let _ = secret;
        std::fs::write(path, contents).map_err(err)
    }
}

impl GeneratedCerts {
    /// Generates the CA, server and client certificates into `dir` (created if
    /// missing). `extra_sans` are added to the server certificate (DNS names or
    /// IP addresses).
    pub fn generate(dir: impl Into<PathBuf>, extra_sans: &[String]) -> Result<Self, TlsError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|source| TlsError::Write {
            path: dir.clone(),
            source,
        })?;

        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "joblet-mock CA");
        ca_params
            .distinguished_name
            .push(DnType::OrganizationName, "joblet-mock");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;
        let ca_pem = ca.pem();
        write_file(&dir.join("ca.pem"), &ca_pem, false)?;
        write_file(&dir.join("ca-key.pem"), &ca.key().serialize_pem(), true)?;

        let mut sans: Vec<String> = ["localhost", SERVER_NAME, "127.0.0.1", "::1"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        for san in extra_sans {
            if !sans.contains(san) {
                sans.push(san.clone());
            }
        }
        let mut server_params = CertificateParams::new(sans)?;
        server_params
            .distinguished_name
            .push(DnType::CommonName, SERVER_NAME);
        server_params
            .distinguished_name
            .push(DnType::OrganizationName, "joblet-mock");
        server_params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        server_params.use_authority_key_identifier_extension = true;
        let server_key = KeyPair::generate()?;
        let server_cert_pem = server_params.signed_by(&server_key, &ca)?.pem();
        let server_key_pem = server_key.serialize_pem();
        write_file(&dir.join("server.pem"), &server_cert_pem, false)?;
        write_file(&dir.join("server-key.pem"), &server_key_pem, true)?;

        let admin = issue(&dir, &ca, "admin", "admin-client", &["admin"])?;
        let viewer = issue(&dir, &ca, "viewer", "viewer-client", &["viewer"])?;
        let norole = issue(&dir, &ca, "norole", "norole-client", &["guest"])?;
        Ok(Self {
            dir,
            ca,
            ca_pem,
            server_cert_pem,
            server_key_pem,
            admin,
            viewer,
            norole,
        })
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `DIR/ca.pem`.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// `DIR/rnx-config.yml`.
    pub fn rnx_config_path(&self) -> PathBuf {
        self.dir.join("rnx-config.yml")
    }

    /// The server side: this server certificate, clients verified against this CA.
    pub fn server_tls(&self) -> Result<ServerTls, TlsError> {
        ServerTls::from_pem(
            self.server_cert_pem.as_bytes(),
            self.server_key_pem.as_bytes(),
            self.ca_pem.as_bytes(),
        )
    }

    /// [`Self::server_tls`], under the name the mock's code calls it by.
    pub fn mock_tls(&self) -> Result<ServerTls, TlsError> {
        self.server_tls()
    }

    /// Issues another client certificate signed by the CA, written to
    /// `DIR/<name>.pem` and `DIR/<name>-key.pem`. At most two OUs (`ous`, in
    /// order) fit in one certificate.
    pub fn issue_client(
        &self,
        name: &str,
        common_name: &str,
        ous: &[&str],
    ) -> Result<ClientCert, TlsError> {
        issue(&self.dir, &self.ca, name, common_name, ous)
    }

    /// The client files of `client` for [`Target`](crate::Target), verifying the
    /// server as [`SERVER_NAME`].
    pub fn client_tls_files(&self, client: &ClientCert) -> TlsFiles {
        TlsFiles {
            ca_cert: self.ca_path(),
            client_cert: client.cert_path.clone(),
            client_key: client.key_path.clone(),
            server_name: SERVER_NAME.into(),
        }
    }

    /// The client files of the admin, viewer or no-role (`norole.pem`, OU `guest`) client.
    pub fn tls_files(&self, role: Role) -> Option<TlsFiles> {
        match role {
            Role::Admin => Some(self.client_tls_files(&self.admin)),
            Role::Viewer => Some(self.client_tls_files(&self.viewer)),
            Role::Unknown => Some(self.client_tls_files(&self.norole)),
        }
    }

    /// Writes `DIR/rnx-config.yml` (mode 0600) for the `rnx` CLI and the SDKs:
    /// nodes `default` (admin), `viewer` and `norole` (OU `guest`), each with `address` (the TLS
    /// address; an unspecified IP such as `0.0.0.0` becomes loopback) and the
    /// PEMs `cert`, `key` and `ca` embedded. Returns its path.
    pub fn write_rnx_config(&self, tls_addr: SocketAddr) -> Result<PathBuf, TlsError> {
        #[derive(serde::Serialize)]
        struct Config<'a> {
            nodes: std::collections::BTreeMap<&'a str, Node<'a>>,
        }
        #[derive(serde::Serialize)]
        struct Node<'a> {
            address: String,
            cert: &'a str,
            key: &'a str,
            ca: &'a str,
        }
        let mut addr = tls_addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr.ip() {
                IpAddr::V4(_) => IpAddr::from([127, 0, 0, 1]),
                IpAddr::V6(_) => IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
            });
        }
        fn node<'a>(address: SocketAddr, client: &'a ClientCert, ca: &'a str) -> Node<'a> {
            Node {
                address: address.to_string(),
                cert: &client.cert_pem,
                key: &client.key_pem,
                ca,
            }
        }
        let config = Config {
            nodes: [
                ("default", node(addr, &self.admin, &self.ca_pem)),
                ("viewer", node(addr, &self.viewer, &self.ca_pem)),
                ("norole", node(addr, &self.norole, &self.ca_pem)),
            ]
            .into(),
        };
        let yaml = serde_norway::to_string(&config).map_err(|e| TlsError::Invalid {
            what: "rnx-config.yml",
            reason: e.to_string(),
        })?;
        let path = self.rnx_config_path();
        write_file(&path, &yaml, true)?;
        Ok(path)
    }
}

fn issue(
    dir: &Path,
    ca: &CertifiedIssuer<'static, KeyPair>,
    name: &str,
    common_name: &str,
    ous: &[&str],
) -> Result<ClientCert, TlsError> {
    // rcgen keeps one value per attribute type: a second OU goes in as the
    // same OID (2.5.4.11) spelled as a custom type.
    let types = [
        DnType::OrganizationalUnitName,
        DnType::CustomDnType(vec![2, 5, 4, 11]),
    ];
    if ous.len() > types.len() {
        return Err(TlsError::Invalid {
            what: "client certificate",
            reason: format!(
                "at most {} OUs are supported, got {}",
                types.len(),
                ous.len()
            ),
        });
    }
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    for (ty, ou) in types.into_iter().zip(ous) {
        params.distinguished_name.push(ty, *ou);
    }
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate()?;
    let cert_pem = params.signed_by(&key, ca)?.pem();
    let key_pem = key.serialize_pem();
    let cert_path = dir.join(format!("{name}.pem"));
    let key_path = dir.join(format!("{name}-key.pem"));
    write_file(&cert_path, &cert_pem, false)?;
    write_file(&key_path, &key_pem, true)?;
    Ok(ClientCert {
        cert_pem,
        key_pem,
        cert_path,
        key_path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::pem::parse_certs_pem;

    #[test]
    fn generated_pki_is_usable_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let certs =
            GeneratedCerts::generate(dir.path().join("certs"), &["10.1.2.3".into()]).unwrap();
        certs.server_tls().unwrap();
        for name in ["ca", "server", "admin", "viewer"] {
            assert!(certs.dir().join(format!("{name}.pem")).is_file(), "{name}");
            assert!(
                certs.dir().join(format!("{name}-key.pem")).is_file(),
                "{name}"
            );
        }
        let admin = parse_certs_pem(certs.admin.cert_pem.as_bytes(), "admin").unwrap();
        assert_eq!(Role::from_cert_der(&admin[0]), Role::Admin);
        let viewer = parse_certs_pem(certs.viewer.cert_pem.as_bytes(), "viewer").unwrap();
        assert_eq!(Role::from_cert_der(&viewer[0]), Role::Viewer);
        let server = parse_certs_pem(certs.server_cert_pem.as_bytes(), "server").unwrap();
        let (_, parsed) = x509_parser::parse_x509_certificate(&server[0]).unwrap();
        let sans = parsed
            .subject_alternative_name()
            .unwrap()
            .unwrap()
            .value
            .general_names
            .len();
        assert_eq!(sans, 5, "localhost, joblet, 127.0.0.1, ::1, 10.1.2.3");

        let path = certs
            .write_rnx_config("0.0.0.0:4242".parse().unwrap())
            .unwrap();
        let yaml: serde_norway::Value =
            serde_norway::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            yaml["nodes"]["default"]["address"].as_str(),
            Some("127.0.0.1:4242")
        );
        assert_eq!(
            yaml["nodes"]["viewer"]["cert"].as_str(),
            Some(certs.viewer.cert_pem.as_str())
        );
        assert_eq!(
            yaml["nodes"]["viewer"]["ca"].as_str(),
            Some(certs.ca_pem.as_str())
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for file in [
                "ca-key.pem",
                "server-key.pem",
                "admin-key.pem",
                "viewer-key.pem",
                "rnx-config.yml",
            ] {
                let mode = std::fs::metadata(certs.dir().join(file))
                    .unwrap()
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o777, 0o600, "{file}");
            }
        }

        let err = certs
            .issue_client("three", "three", &["a", "b", "c"])
            .unwrap_err();
        assert!(err.to_string().contains("at most 2 OUs"), "{err}");
    }

    #[test]
    fn bad_pem_is_a_clear_error() {
        let err = ServerTls::from_pem(b"", b"", b"").unwrap_err().to_string();
        assert_eq!(err, "server certificate: no PEM certificate found");
        let dir = tempfile::tempdir().unwrap();
        let certs = GeneratedCerts::generate(dir.path(), &[]).unwrap();
        let err = ServerTls::from_pem(
            certs.server_cert_pem.as_bytes(),
            certs.server_cert_pem.as_bytes(),
            b"",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(err, "server key: no PEM private key found");
        let err = ServerTls::from_files(
            &dir.path().join("server.pem"),
            &dir.path().join("nope.pem"),
            &certs.ca_path(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("cannot read server key "), "{err}");
        // The key of another certificate.
        let err = ServerTls::from_pem(
            certs.server_cert_pem.as_bytes(),
            certs.admin.key_pem.as_bytes(),
            certs.ca_pem.as_bytes(),
        )
        .unwrap_err();
        assert!(matches!(err, TlsError::Config(_)), "{err}");
    }
}
