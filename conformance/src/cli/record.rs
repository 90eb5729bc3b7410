//! `joblet-conformance record`: the recording proxy in front of an endpoint,
//! until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use joblet_testkit::tls::ServerTls;
use joblet_testkit::transcript::{Recorder, RecorderOptions};

use super::args::RecordArgs;
use super::error::{CliError, Context as _, usage};
use crate::proxy::{self, ProxyOptions, ProxyTls};

/// Starts the proxy the flags describe, records until a stop signal, and says
/// how many calls it recorded.
pub(crate) async fn record(args: RecordArgs) -> Result<ExitCode, CliError> {
    let upstream: Vec<String> = args.upstream.iter().cloned().collect();
    let Some(main) = args.connect.resolve(&upstream)?.into_iter().next() else {
        return usage(
            "record needs the endpoint to stand in front of: --upstream HOST:PORT, or --node NAME (or JOBLET_HOST)",
        );
    };
    let targets = args.roles.targets(&args.connect, main)?;
    let tls = tls_listener(&args)?;
    if args.log_limit == 0 {
        return usage("--log-limit must be at least 1");
    }
    let recorder = Recorder::new(RecorderOptions {
        file: Some(args.out.clone()),
        log_limit: args.log_limit,
        // The proxy does not know the upstream's contract.
        contract: None,
    })
    .with_context(|| format!("--out {}", args.out.display()))?;
    let upstream_text = format!(
        "{}{}",
        targets.main.addr,
        if targets.main.is_tls() {
            " (mutual TLS)"
        } else {
            " (plaintext)"
        }
    );
    let running = proxy::start(ProxyOptions {
        listen: (!args.no_plaintext).then_some(args.listen),
        tls,
        upstream: targets,
        recorder: Arc::new(recorder),
    })
    .await?;
    let shutdown = joblet_testkit::ShutdownSignal::register();
    {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        if let Some(addr) = running.addr {
            writeln!(out, "joblet-conformance record listening on {addr}")?;
        }
        if let Some(addr) = running.tls_addr {
            writeln!(out, "joblet-conformance record listening on tls {addr}")?;
        }
        out.flush()?;
    }
    if let Some(certs) = &running.certs {
        eprintln!(
            "clients over mutual TLS: {} (nodes default, viewer, norole)",
            certs.rnx_config_path().display()
        );
    }
    eprintln!(
        "recording to {} the calls forwarded to {upstream_text}; Ctrl-C to stop",
        args.out.display()
    );
    shutdown.wait().await;
    let recorder = Arc::clone(&running.recorder);
    tokio::time::timeout(Duration::from_secs(5), running.shutdown())
        .await
        .ok();
    eprintln!(
        "recorded {} call(s) to {}",
        recorder.written(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The TLS listener the flags ask for, with where its certificates come from.
fn tls_listener(args: &RecordArgs) -> Result<Option<(SocketAddr, ProxyTls)>, CliError> {
    let Some(addr) = args.tls_listen else {
        if args.certs_dir.is_some() || args.tls_cert.is_some() {
            return usage(
                "--certs-dir and --tls-cert are for the TLS listener: add --tls-listen ADDR",
            );
        }
        return Ok(None);
    };
    let tls = match (
        &args.certs_dir,
        &args.tls_cert,
        &args.tls_key,
        &args.client_ca,
    ) {
        (Some(dir), ..) => ProxyTls::Generate(dir.clone()),
        (None, Some(cert), Some(key), Some(ca)) => ProxyTls::Given(
            ServerTls::from_files(cert, key, ca)
                .context("--tls-cert, --tls-key and --client-ca")?,
        ),
        _ => {
            return usage(
                "--tls-listen needs certificates: --certs-dir DIR to generate them, or --tls-cert, --tls-key and --client-ca",
            );
        }
    };
    Ok(Some((addr, tls)))
}
