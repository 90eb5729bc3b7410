//! `joblet-mock ctl`: drives a running mock through its control API
//! (`jobletmock.v1.MockControl`, see `proto/mock_control.proto`).
//!
//! The binary parses [`CtlArgs`] and calls [`run`]; everything here is also
//! usable from Rust. Output goes to the writer given to [`run`] (stdout in the
//! binary); errors come back as [`anyhow::Error`] with a message that names the
//! address, the operation and what to do.

mod args;
mod connect;
mod print;

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use joblet_testkit::control::{self as pb, mock_control_client::MockControlClient};
use tonic::transport::Channel;

use crate::journal::CallView;

pub use args::{
    CallsArgs, CallsCommand, CtlArgs, CtlCommand, DEFAULT_ADDR, FaultsCommand, ScenarioCommand,
};
use connect::answer;
pub use connect::{connect, connect_with, resolve_addr, tls_files};
use print::{clock_text, format_size, label, plural};
pub use print::{memory_json, memory_text};

fn read_input(path: &Path) -> anyhow::Result<String> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading stdin")?;
        Ok(text)
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
    }
}

/// Runs one `ctl` command, printing its result to `out`.
pub async fn run(args: CtlArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let tls = tls_files(&args)?;
    let url = resolve_addr(
        args.addr.as_deref(),
        std::env::var("JOBLET_HOST").ok().as_deref(),
        std::env::var("JOBLET_PORT").ok().as_deref(),
        tls.is_some(),
    )?;
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        bail!("--timeout must be a positive number of seconds");
    }
    let timeout = Duration::from_secs_f64(args.timeout);
    let session = args.session.trim().to_owned();
    let mut client = connect_with(&url, tls.as_ref(), timeout).await?;
    match args.command {
        CtlCommand::Reset { all } => {
            let r = answer(
                "reset",
                client.reset(pb::ResetRequest {
                    session: session.clone(),
                    all,
                }),
            )
            .await?;
            writeln!(
                out,
                "reset session{} {}",
                plural(r.sessions.len()),
                r.sessions.join(", ")
            )?;
        }
        CtlCommand::Advance { duration, json } => {
            // Checked here too, for an error that does not need the server.
            crate::control::parse_duration(&duration).map_err(|e| anyhow!("advance: {e}"))?;
            let c = answer(
                "advance",
                client.advance_clock(pb::AdvanceClockRequest {
                    session,
                    duration,
                    millis: 0,
                }),
            )
            .await?;
            writeln!(out, "{}", clock_text(&c, json))?;
        }
        CtlCommand::Clock { json } => {
            let c = answer("clock", client.get_clock(pb::GetClockRequest { session })).await?;
            writeln!(out, "{}", clock_text(&c, json))?;
        }
        CtlCommand::Faults { action } => faults(&mut client, session, action, out).await?,
        CtlCommand::Scenario {
            action: ScenarioCommand::Load { file, replace },
        } => {
            let yaml = read_input(&file)?;
            let r = answer(
                "scenario load",
                client.load_scenario(pb::LoadScenarioRequest {
                    session: session.clone(),
                    yaml,
                    file_name: file.display().to_string(),
                    replace,
                }),
            )
            .await?;
            writeln!(
                out,
                "loaded {} scenario{} ({}) into session {}; it has {} now",
                r.loaded,
                plural(r.loaded),
                r.names.join(", "),
                label(&session),
                r.total
            )?;
        }
        CtlCommand::Calls(calls) => list_calls(&mut client, session, calls, out).await?,
        CtlCommand::Transcript { output } => transcript(&mut client, session, output, out).await?,
        CtlCommand::Snapshot { output } => {
            let r = answer("snapshot", client.snapshot(pb::SnapshotRequest { session })).await?;
            match output {
                Some(path) => {
                    std::fs::write(&path, format!("{}\n", r.json))
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!("snapshot written to {}", path.display());
                }
                None => writeln!(out, "{}", r.json)?,
            }
        }
        CtlCommand::Restore { file } => restore(&mut client, session, &file, out).await?,
        CtlCommand::Sessions => sessions(&mut client, out).await?,
        CtlCommand::Memory { json } => {
            let r = answer("memory", client.get_memory(pb::GetMemoryRequest::default())).await?;
            if json {
                writeln!(out, "{}", memory_json(&r))?;
            } else {
                write!(out, "{}", memory_text(&r))?;
            }
        }
    }
    Ok(())
}

/// `ctl transcript [-o FILE]`.
async fn transcript(
    client: &mut MockControlClient<Channel>,
    session: String,
    output: Option<std::path::PathBuf>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let r = answer(
        "transcript",
        client.export_transcript(pb::ExportTranscriptRequest {
            session: session.clone(),
        }),
    )
    .await?;
    let mut text = String::new();
    for line in &r.lines {
        text.push_str(line);
        text.push('\n');
    }
    if r.dropped > 0 {
        eprintln!(
            "note: the mock dropped {} older call{} from memory (--transcript-size)",
            r.dropped,
            plural(r.dropped)
        );
    }
    match output {
        Some(path) => {
            std::fs::write(&path, &text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "{} call{} of session {} written to {}",
                r.lines.len(),
                plural(r.lines.len()),
                label(&session),
                path.display()
            );
        }
        None => write!(out, "{text}")?,
    }
    Ok(())
}

/// `ctl restore FILE`.
async fn restore(
    client: &mut MockControlClient<Channel>,
    session: String,
    file: &std::path::Path,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let json = read_input(file)?;
    let r = answer(
        &format!("restore {}", file.display()),
        client.restore(pb::RestoreRequest {
            session: session.clone(),
            json,
        }),
    )
    .await?;
    writeln!(
        out,
        "restored session {}: {} job{} ({} not finished, now STOPPED), {} workflow{}, {} network{}, {} volume{}, {} runtime{}",
        label(&session),
        r.jobs,
        plural(r.jobs),
        r.stopped,
        r.workflows,
        plural(r.workflows),
        r.networks,
        plural(r.networks),
        r.volumes,
        plural(r.volumes),
        r.runtimes,
        plural(r.runtimes)
    )?;
    Ok(())
}

/// `ctl sessions`: one line per session.
async fn sessions(
    client: &mut MockControlClient<Channel>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let r = answer(
        "sessions",
        client.list_sessions(pb::ListSessionsRequest::default()),
    )
    .await?;
    let width = r
        .sessions
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(0)
        .max(7);
    writeln!(
        out,
        "{:width$}  {:>6}  {:>6}  {:>6}  {:8}  {:>10}  {:>10}  NOW",
        "SESSION", "JOBS", "CALLS", "FAULTS", "CLOCK", "RECORDS", "LOGS"
    )?;
    for s in r.sessions {
        writeln!(
            out,
            "{:width$}  {:>6}  {:>6}  {:>6}  {:8}  {:>10}  {:>10}  {}",
            s.name,
            s.jobs,
            s.calls,
            s.faults,
            s.clock_mode,
            format_size(s.record_bytes),
            format_size(s.log_bytes),
            s.now
        )?;
    }
    Ok(())
}

async fn faults(
    client: &mut MockControlClient<Channel>,
    session: String,
    action: FaultsCommand,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let r = match action {
        FaultsCommand::Set {
            rules,
            file,
            append,
        } => {
            for (i, text) in rules.iter().enumerate() {
                crate::faults::parse_rule(text)
                    .with_context(|| format!("faults set: rule #{}", i + 1))?;
            }
            let rules_json = match file {
                Some(f) => serde_json::to_string(&crate::faults::load_yaml(&f).context("--file")?)?,
                None => String::new(),
            };
            let set = client.set_faults(pb::SetFaultsRequest {
                session,
                rules_json,
                rules,
                append,
            });
            answer("faults set", set).await?
        }
        FaultsCommand::Clear => {
            answer(
                "faults clear",
                client.clear_faults(pb::ClearFaultsRequest { session }),
            )
            .await?
        }
        FaultsCommand::List { json } => {
            let r = answer(
                "faults list",
                client.list_faults(pb::ListFaultsRequest { session }),
            )
            .await?;
            if json {
                writeln!(out, "{}", r.rules_json)?;
            } else {
                for rule in r.rules {
                    writeln!(out, "{rule}")?;
                }
            }
            return Ok(());
        }
    };
    for rule in &r.rules {
        writeln!(out, "{rule}")?;
    }
    if r.rules.is_empty() {
        eprintln!("no fault rules");
    }
    Ok(())
}

async fn list_calls(
    client: &mut MockControlClient<Channel>,
    session: String,
    args: CallsArgs,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if let Some(CallsCommand::Clear) = args.action {
        let r = answer(
            "calls clear",
            client.clear_calls(pb::ClearCallsRequest { session }),
        )
        .await?;
        writeln!(out, "forgot {} call{}", r.cleared, plural(r.cleared))?;
        return Ok(());
    }
    let r = answer(
        "calls",
        client.list_calls(pb::ListCallsRequest {
            session,
            method: args.method.unwrap_or_default(),
            limit: args.limit.unwrap_or(0),
            all_sessions: args.all_sessions,
        }),
    )
    .await?;
    for c in r.calls {
        if args.json {
            let view = CallView {
                seq: c.seq,
                method: c.method,
                session: c.session,
                request: serde_json::from_str(&c.request_json).unwrap_or(serde_json::Value::Null),
                code: c.code,
                message: c.message,
                time: c.time,
                clock_time: c.clock_time,
            };
            writeln!(out, "{}", serde_json::to_string(&view)?)?;
        } else {
            let short = c.method.rsplit('/').next().unwrap_or(&c.method);
            write!(
                out,
                "#{:<5} {}  {}  {}  {}",
                c.seq, c.time, c.session, short, c.code
            )?;
            if !c.message.is_empty() {
                write!(out, " {:?}", c.message)?;
            }
            writeln!(out, "  {}", c.request_json)?;
        }
    }
    if r.dropped > 0 {
        eprintln!(
            "({} older call{} fell out of the journal; see --journal-size)",
            r.dropped,
            plural(r.dropped)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let r = |a: Option<&str>, h: Option<&str>, p: Option<&str>| {
            resolve_addr(a, h, p, false).unwrap()
        };
        assert_eq!(r(None, None, None), DEFAULT_ADDR);
        assert_eq!(r(Some("127.0.0.1:9"), None, None), "http://127.0.0.1:9");
        assert_eq!(r(Some("http://h:1"), Some("x"), Some("2")), "http://h:1");
        assert_eq!(r(None, Some("mock"), Some("7000")), "http://mock:7000");
        assert_eq!(r(None, None, Some("7000")), "http://127.0.0.1:7000");
        assert_eq!(r(None, Some("::1"), None), "http://[::1]:50051");
        assert!(resolve_addr(None, None, Some("x"), false).is_err());
        assert!(resolve_addr(Some("not an address"), None, None, false).is_err());
        // The scheme follows --ca/--cert/--key, and must agree with them.
        let e = resolve_addr(Some("https://h:1"), None, None, false).unwrap_err();
        assert!(e.to_string().contains("--ca, --cert"), "{e}");
        let tls = |a: Option<&str>| resolve_addr(a, None, None, true);
        assert_eq!(tls(Some("h:1")).unwrap(), "https://h:1");
        assert_eq!(tls(Some("https://h:1")).unwrap(), "https://h:1");
        assert_eq!(tls(None).unwrap(), "https://127.0.0.1:50051");
        let e = tls(Some("http://h:1")).unwrap_err();
        assert!(e.to_string().contains("plaintext address"), "{e}");
    }

    fn args(ca: Option<&Path>, cert: Option<&Path>, key: Option<&Path>) -> CtlArgs {
        CtlArgs {
            addr: None,
            ca: ca.map(Path::to_owned),
            cert: cert.map(Path::to_owned),
            key: key.map(Path::to_owned),
            server_name: crate::tls::SERVER_NAME.into(),
            session: String::new(),
            timeout: 1.0,
            command: CtlCommand::Sessions,
        }
    }

    #[test]
    fn tls_files_are_checked_before_connecting() {
        assert_eq!(tls_files(&args(None, None, None)).unwrap(), None);
        let dir = tempfile::tempdir().unwrap();
        let certs = crate::GeneratedCerts::generate(dir.path(), &[]).unwrap();
        let (ca, cert, key) = (
            dir.path().join("ca.pem"),
            dir.path().join("admin.pem"),
            dir.path().join("admin-key.pem"),
        );
        let files = tls_files(&args(Some(&ca), Some(&cert), Some(&key)))
            .unwrap()
            .expect("TLS");
        assert_eq!(files, certs.tls_files(crate::Role::Admin).unwrap());

        let e = tls_files(&args(Some(&ca), None, None))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("missing: --cert (JOBLET_CLIENT_CERT_PATH), --key"),
            "{e}"
        );
        let gone = dir.path().join("nope.pem");
        let e = tls_files(&args(Some(&ca), Some(&gone), Some(&key)))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--cert "), "{e}");
        assert!(
            e.contains("nope.pem: cannot read the client certificate"),
            "{e}"
        );
        // A certificate where the key should be.
        let e = tls_files(&args(Some(&ca), Some(&cert), Some(&cert)))
            .unwrap_err()
            .to_string();
        assert!(e.contains("--key"), "{e}");
        assert!(e.contains("not the client key in PEM form"), "{e}");
    }

    #[tokio::test]
    async fn connection_refused_names_the_address() {
        // A port nobody listens on: bind one, then free it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let e = connect(&url, Duration::from_secs(5)).await.unwrap_err();
        let text = e.to_string();
        assert!(text.contains(&url), "{text}");
        assert!(text.contains("connection refused"), "{text}");
        assert!(text.contains("joblet-mock --listen"), "{text}");
    }
}
