//! The transport against a real server: server-only TLS (a TLS-terminating
//! proxy in front of the mock, as a node behind a load balancer is reached),
//! from the library and from the binary's `--ca` alone; the connection
//! counts in the report.

use std::net::SocketAddr;
use std::sync::Arc;

use joblet_loadgen::plan::{Action, JobSpec, Load};
use joblet_loadgen::run::TargetSpec;
use joblet_loadgen::transport::{Rpc, ServerTls};
use joblet_mock::GeneratedCerts;
use joblet_testkit::Target;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{ServerConfig, crypto::ring};

use crate::support::{Mock, config, plan, run_checked};

/// Terminates server-only TLS (no client certificate asked) on a loopback
/// port and forwards the bytes to `upstream` in plaintext.
fn tls_proxy(mock: &Mock, certs: &GeneratedCerts, upstream: SocketAddr) -> SocketAddr {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(certs.server_cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_slice(certs.server_key_pem.as_bytes()).unwrap();
    let mut cfg = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    mock.rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut up) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
                });
            }
        });
        addr
    })
}

#[test]
fn server_only_tls_reaches_a_node_behind_a_tls_terminating_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let certs = GeneratedCerts::generate(dir.path(), &[]).unwrap();
    let mock = Mock::start();
    let proxy = tls_proxy(&mock, &certs, mock.running().addr());
    let spec = TargetSpec {
        server_tls: Some(ServerTls {
            ca_cert: certs.ca_path(),
            server_name: "joblet".into(),
        }),
        ..TargetSpec::new(Target::plaintext(proxy.to_string()))
    };
    let p = plan(
        "submit",
        Action::Call(Rpc::RunJob),
        JobSpec::true_job(),
        Load::Concurrency(4),
        50,
    );
    let r = run_checked(&config(p, vec![spec]));
    assert_eq!(r.operations["submit"].ok, 50);
    assert!(r.parameters.targets[0].tls);
    let t = r.transport.expect("connection counts");
    assert!(t.connections_opened >= 1 && t.goaways_received == 0);
    assert!(mock.jobs().is_empty());
    // The server's metrics come over the same TLS.
    assert!(
        r.server.values().all(|s| s.error.is_none()),
        "{:?}",
        r.server
    );

    // From the binary: --ca alone is server-only TLS.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_joblet-loadgen"))
        .args(["submit", "--target", &proxy.to_string(), "--ca"])
        .arg(certs.ca_path())
        .args([
            "--requests",
            "20",
            "--concurrency",
            "2",
            "--progress",
            "off",
        ])
        .env_remove("JOBLET_HOST")
        .env_remove("JOBLET_NODE")
        .env_remove("JOBLET_CLIENT_CERT_PATH")
        .env_remove("JOBLET_CLIENT_KEY_PATH")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("(TLS)"), "{out}");

    // The wrong CA: the handshake fails before any load, with the reason.
    let other = tempfile::tempdir().unwrap();
    let stranger = GeneratedCerts::generate(other.path(), &[]).unwrap();
    let mut cfg = config(
        plan(
            "submit",
            Action::Call(Rpc::RunJob),
            JobSpec::true_job(),
            Load::Concurrency(1),
            1,
        ),
        vec![],
    );
    cfg.targets = vec![TargetSpec {
        server_tls: Some(ServerTls {
            ca_cert: stranger.ca_path(),
            server_name: "joblet".into(),
        }),
        ..TargetSpec::new(Target::plaintext(proxy.to_string()))
    }];
    let err = joblet_loadgen::run::run(&cfg, &joblet_loadgen::run::Stop::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("TLS handshake"), "{err}");
}
