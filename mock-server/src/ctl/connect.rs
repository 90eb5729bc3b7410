//! Reaching a running mock: the address `ctl` resolves, its mutual-TLS files,
//! the connection, and how a failed control call is reported.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail};
use joblet_testkit::control::mock_control_client::MockControlClient;
use joblet_testkit::{Target, TlsFiles};
use tonic::transport::{Channel, Endpoint};

use super::args::{CtlArgs, DEFAULT_ADDR};

/// The URL `ctl` connects to: `--addr`/`JOBLET_MOCK_ADDR`, else
/// `JOBLET_HOST`/`JOBLET_PORT`, else [`DEFAULT_ADDR`]; `HOST:PORT` gets
/// `http://`, or `https://` when `tls` (and the scheme must match `tls`).
pub fn resolve_addr(
    addr: Option<&str>,
    host: Option<&str>,
    port: Option<&str>,
    tls: bool,
) -> anyhow::Result<String> {
    let raw = match (addr.map(str::trim).filter(|a| !a.is_empty()), host, port) {
        (Some(a), _, _) => a.to_owned(),
        (None, None, None) if !tls => return Ok(DEFAULT_ADDR.to_owned()),
        (None, host, port) => {
            let host = host
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .unwrap_or("127.0.0.1");
            let port = port
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .unwrap_or("50051");
            port.parse::<u16>()
                .map_err(|_| anyhow!("JOBLET_PORT={port:?} is not a port number"))?;
            if host.contains(':') && !host.starts_with('[') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            }
        }
    };
    let url = if raw.contains("://") {
        raw
    } else if tls {
        format!("https://{raw}")
    } else {
        format!("http://{raw}")
    };
    if url.starts_with("https://") && !tls {
        bail!(
            "{url} is a TLS address: give the client certificate files with --ca, --cert \
             and --key (JOBLET_CA_CERT_PATH, JOBLET_CLIENT_CERT_PATH, JOBLET_CLIENT_KEY_PATH), \
             or use the mock's plaintext --listen address"
        );
    }
    if url.starts_with("http://") && tls {
        bail!(
            "{url} is a plaintext address, but --ca, --cert and --key (or \
             JOBLET_CA_CERT_PATH, JOBLET_CLIENT_CERT_PATH, JOBLET_CLIENT_KEY_PATH) ask for \
             TLS: give the mock's --tls-listen address as HOST:PORT or https://HOST:PORT, \
             or drop the certificate options"
        );
    }
    url.parse::<http::Uri>()
        .map_err(|e| anyhow!("--addr {url:?} is not an address: {e}"))?;
    Ok(url)
}

/// The mutual-TLS files of `--ca`, `--cert`, `--key` and `--server-name`:
/// `None` when none of the three files is given; an error naming the option
/// when only some are, or when one is missing, unreadable or not PEM.
pub fn tls_files(args: &CtlArgs) -> anyhow::Result<Option<TlsFiles>> {
    let given = |p: &Option<PathBuf>| p.clone().filter(|p| !p.as_os_str().is_empty());
    let options = [
        ("--ca", "JOBLET_CA_CERT_PATH", given(&args.ca)),
        ("--cert", "JOBLET_CLIENT_CERT_PATH", given(&args.cert)),
        ("--key", "JOBLET_CLIENT_KEY_PATH", given(&args.key)),
    ];
    let missing: Vec<String> = options
        .iter()
        .filter(|(_, _, p)| p.is_none())
        .map(|(flag, env, _)| format!("{flag} ({env})"))
        .collect();
    if missing.len() == options.len() {
        return Ok(None);
    }
    if !missing.is_empty() {
        bail!(
            "mutual TLS needs --ca, --cert and --key together; missing: {}",
            missing.join(", ")
        );
    }
    let [ca, cert, key] = options.map(|(flag, _, path)| (flag, path.unwrap_or_default()));
    check_pem(ca.0, &ca.1, "the CA certificate", "CERTIFICATE")?;
    check_pem(cert.0, &cert.1, "the client certificate", "CERTIFICATE")?;
    check_pem(key.0, &key.1, "the client key", "PRIVATE KEY")?;
    let server_name = args.server_name.trim();
    if server_name.is_empty() {
        bail!("--server-name must not be empty");
    }
    Ok(Some(TlsFiles {
        ca_cert: ca.1,
        client_cert: cert.1,
        client_key: key.1,
        server_name: server_name.to_owned(),
    }))
}

/// Checks that `path` (given with `flag`) is a readable PEM file holding a
/// `label` block.
pub(crate) fn check_pem(flag: &str, path: &Path, what: &str, label: &str) -> anyhow::Result<()> {
    let text = std::fs::read(path)
        .map_err(|e| anyhow!("{flag} {}: cannot read {what}: {e}", path.display()))?;
    let text = String::from_utf8_lossy(&text);
    let block = text
        .lines()
        .any(|l| l.starts_with("-----BEGIN ") && l.trim_end().ends_with(&format!("{label}-----")));
    if !block {
        bail!(
            "{flag} {}: not {what} in PEM form (no \"-----BEGIN ...{label}-----\" line)",
            path.display()
        );
    }
    Ok(())
}

/// Connects to the mock at `url`: plaintext, or mutual TLS with `tls`.
pub async fn connect_with(
    url: &str,
    tls: Option<&TlsFiles>,
    timeout: Duration,
) -> anyhow::Result<MockControlClient<Channel>> {
    let Some(files) = tls else {
        return connect(url, timeout).await;
    };
    let target = Target {
        addr: url.to_owned(),
        tls: Some(files.clone().into()),
        connect_timeout: timeout,
        request_timeout: Some(timeout),
    };
    let hostport = url.trim_start_matches("https://").trim_end_matches('/');
    match target.connect().await {
        Ok(channel) => Ok(MockControlClient::new(channel)),
        Err(joblet_testkit::Error::Connect { source, .. }) => Err(anyhow!(
            "cannot reach joblet-mock over TLS at {url}: {}. Is the mock's TLS listener \
             there (`joblet-mock --tls-listen {hostport} --certs-dir DIR`)? Do --ca and \
             --server-name ({:?}) match its server certificate?",
            connect_cause(&source),
            files.server_name
        )),
        Err(e) => Err(anyhow!("cannot set up TLS to {url}: {e}")),
    }
}

/// Connects to the mock at `url` in plaintext.
pub async fn connect(url: &str, timeout: Duration) -> anyhow::Result<MockControlClient<Channel>> {
    let endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|e| anyhow!("--addr {url:?} is not an address: {e}"))?
        .connect_timeout(timeout)
        .timeout(timeout);
    match endpoint.connect().await {
        Ok(channel) => Ok(MockControlClient::new(channel)),
        Err(e) => Err(anyhow!(
            "cannot reach joblet-mock at {url}: {}. Is the mock running? Start it with \
             `joblet-mock --listen {}` or point --addr (JOBLET_MOCK_ADDR) at it",
            connect_cause(&e),
            url.trim_start_matches("http://").trim_end_matches('/')
        )),
    }
}

/// The innermost useful cause of a connection error ("connection refused").
pub(crate) fn connect_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = cause.source() {
        if let Some(io) = next.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                _ => io.to_string(),
            };
        }
        cause = next;
    }
    cause.to_string()
}

/// Awaits a control call: its answer, or the error `ctl` reports for `what`.
pub(crate) async fn answer<T>(
    what: &str,
    call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> anyhow::Result<T> {
    call.await
        .map(tonic::Response::into_inner)
        .map_err(|e| call_error(what, e))
}

/// A failed control call, as `ctl` reports it.
pub(crate) fn call_error(what: &str, status: tonic::Status) -> anyhow::Error {
    match status.code() {
        tonic::Code::Unimplemented => anyhow!(
            "{what}: this server has no joblet-mock control API (is it a real Joblet node, \
             or an older joblet-mock?): {}",
            status.message()
        ),
        tonic::Code::Unavailable => {
            anyhow!("{what}: joblet-mock is unavailable: {}", status.message())
        }
        tonic::Code::PermissionDenied => anyhow!(
            "{what}: permission denied: {}. An admin certificate is needed: the control API \
             is admin-only on the TLS listener; use a client certificate with OU=admin, e.g. \
             --cert DIR/admin.pem --key DIR/admin-key.pem of `joblet-mock --certs-dir DIR` \
             (viewer.pem is refused)",
            status.message()
        ),
        code => anyhow!(
            "{what} failed: {}: {}",
            crate::journal::code_name(code),
            status.message()
        ),
    }
}
