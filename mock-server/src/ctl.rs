//! `joblet-mock ctl`: drives a running mock through its control API
//! (`jobletmock.v1.MockControl`, see `proto/mock_control.proto`).
//!
//! The binary parses [`CtlArgs`] and calls [`run`]; everything here is also
//! usable from Rust. Output goes to the writer given to [`run`] (stdout in the
//! binary); errors come back as [`anyhow::Error`] with a message that names the
//! address, the operation and what to do.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use joblet_testkit::control::{self as pb, mock_control_client::MockControlClient};
use joblet_testkit::{Target, TlsFiles};
use tonic::transport::{Channel, Endpoint};

use crate::journal::CallView;

/// The address used when neither `--addr`, `JOBLET_MOCK_ADDR` nor
/// `JOBLET_HOST`/`JOBLET_PORT` say otherwise.
pub const DEFAULT_ADDR: &str = "http://127.0.0.1:50051";

const EXAMPLES: &str = "\
Examples:
  joblet-mock --clock manual &              # a mock whose clock moves only when told
  joblet-mock ctl clock                     # its time, mode and pending timers
  joblet-mock ctl advance 1h30m             # fire everything due in the next 90 minutes
  joblet-mock ctl faults set 'RunJob:fail=UNAVAILABLE:after=2'
  joblet-mock ctl faults set --append 'GetJobLogs:cut_after_messages=3'
  joblet-mock ctl faults list
  joblet-mock ctl faults clear
  joblet-mock ctl scenario load fixtures/scenarios/examples.yaml
  joblet-mock ctl calls --method 'RunJob' --json
  joblet-mock ctl --session ci-42 transcript -o ci-42.jsonl   # needs --transcript-size N
  joblet-mock ctl snapshot > state.json
  joblet-mock ctl reset && joblet-mock ctl restore state.json
  joblet-mock ctl --session ci-42 reset     # one session; `reset --all` for every one
  joblet-mock ctl sessions
  joblet-mock ctl memory                    # budget, job records, log history, evictions

Over mutual TLS, with the certificates `--certs-dir` generates:
  joblet-mock --tls-listen 127.0.0.1:50052 --certs-dir /tmp/mock-certs &
  joblet-mock ctl --addr 127.0.0.1:50052 --ca /tmp/mock-certs/ca.pem \\
      --cert /tmp/mock-certs/admin.pem --key /tmp/mock-certs/admin-key.pem clock
  # or: export JOBLET_CA_CERT_PATH=/tmp/mock-certs/ca.pem \\
  #   JOBLET_CLIENT_CERT_PATH=/tmp/mock-certs/admin.pem \\
  #   JOBLET_CLIENT_KEY_PATH=/tmp/mock-certs/admin-key.pem

The mock must be running. The control API is served on the same ports as the
Joblet services. Over plaintext every caller may use it; on the TLS listener
only an admin client certificate (OU=admin, e.g. admin.pem) may: viewer.pem
is refused with PERMISSION_DENIED.";

/// `joblet-mock ctl`: control a running joblet-mock.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct CtlArgs {
    /// The mock's address: a URL (http://HOST:PORT, or https://HOST:PORT with
    /// --ca/--cert/--key) or HOST:PORT. Default: $JOBLET_MOCK_ADDR, else
    /// $JOBLET_HOST:$JOBLET_PORT (when either is set), else 127.0.0.1:50051.
    #[arg(long, value_name = "URL", env = "JOBLET_MOCK_ADDR")]
    pub addr: Option<String>,

    /// Speak mutual TLS (to the mock's --tls-listen address): the CA
    /// certificate that signed the mock's server certificate (PEM; ca.pem of
    /// --certs-dir). With --cert and --key.
    #[arg(long, value_name = "FILE", env = "JOBLET_CA_CERT_PATH")]
    pub ca: Option<PathBuf>,

    /// The client certificate for mutual TLS (PEM). The control API is
    /// admin-only there: an OU=admin certificate (admin.pem of --certs-dir).
    #[arg(long, value_name = "FILE", env = "JOBLET_CLIENT_CERT_PATH")]
    pub cert: Option<PathBuf>,

    /// The client certificate's private key (PEM; admin-key.pem of
    /// --certs-dir).
    #[arg(long, value_name = "FILE", env = "JOBLET_CLIENT_KEY_PATH")]
    pub key: Option<PathBuf>,

    /// The name to verify in the server certificate over TLS (the generated
    /// one holds localhost, joblet, 127.0.0.1 and ::1).
    #[arg(long, value_name = "NAME", default_value = crate::tls::SERVER_NAME)]
    pub server_name: String,

    /// The session to act on (the x-joblet-mock-session name); default: the
    /// default session.
    #[arg(
        long,
        short = 's',
        value_name = "NAME",
        env = "JOBLET_MOCK_SESSION",
        default_value = "",
        hide_default_value = true
    )]
    pub session: String,

    /// Seconds to wait for the connection and for each call.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub timeout: f64,

    #[command(subcommand)]
    pub command: CtlCommand,
}

/// What `joblet-mock ctl` does.
#[derive(Debug, clap::Subcommand)]
pub enum CtlCommand {
    /// Start the session afresh: its jobs end; state, clock, faults and call
    /// journal are new.
    Reset {
        /// Reset every session (named sessions are dropped).
        #[arg(long)]
        all: bool,
    },
    /// Move a virtual clock (--clock virtual|manual) forward, e.g. `advance
    /// 90s`, `advance 1h30m`, `advance 250ms` (units d, h, m, s, ms, us, ns);
    /// timers due on the way fire in order. Fails on a real clock.
    Advance {
        /// How far.
        #[arg(value_name = "DURATION")]
        duration: String,
        /// Print the clock as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show the session clock: time, mode, timers pending.
    Clock {
        /// Print the clock as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Fault rules: set, list, clear.
    Faults {
        #[command(subcommand)]
        action: FaultsCommand,
    },
    /// Scripted commands: load a scenario file.
    Scenario {
        #[command(subcommand)]
        action: ScenarioCommand,
    },
    /// The calls the session received (the call journal), oldest first; `calls
    /// clear` forgets them.
    Calls(CallsArgs),
    /// Print the session's transcript: every Joblet call it received with
    /// its whole answer, one JSON line each, for `joblet-conformance replay`
    /// (the mock must run with --transcript-size N).
    Transcript {
        /// Write to FILE instead of stdout.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Print the session's state as JSON (networks, volumes, runtimes, jobs
    /// with their logs, clock time); redirect it to a file to keep it.
    Snapshot {
        /// Write to FILE instead of stdout.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Replace the session's state with a snapshot (FILE, or - for stdin).
    /// Jobs that were not final come back STOPPED with exit code -1.
    Restore {
        /// The snapshot JSON.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// List every session the mock holds.
    Sessions,
    /// Show the memory budget (--memory-budget, for the whole mock) and what
    /// job records and log history hold, per session, with the evictions so far.
    Memory {
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `joblet-mock ctl faults ...`.
#[derive(Debug, clap::Subcommand)]
pub enum FaultsCommand {
    /// Replace the session's fault rules (or add to them with --append). RULE
    /// is the --fault syntax, e.g. 'RunJob:fail=UNAVAILABLE:after=2',
    /// 'GetJobLogs:cut_after_messages=3', '*:delay=100ms..2s:probability=0.1'.
    Set {
        /// Rules in the one-line syntax.
        #[arg(value_name = "RULE", required_unless_present = "file")]
        rules: Vec<String>,
        /// A YAML fault file (`faults: [...]`), read here and sent first.
        #[arg(long, short = 'f', value_name = "FILE")]
        file: Option<PathBuf>,
        /// Add to the session's rules instead of replacing them.
        #[arg(long)]
        append: bool,
    },
    /// Remove every fault rule of the session.
    Clear,
    /// Print the session's fault rules, one per line.
    List {
        /// Print them as a JSON array.
        #[arg(long)]
        json: bool,
    },
}

/// `joblet-mock ctl scenario ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ScenarioCommand {
    /// Load a scenario file (YAML with a top-level `scenarios` list) into the
    /// session; its scenarios take precedence over those already loaded.
    Load {
        /// The scenario file (- for stdin).
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Replace the session's scenarios instead of adding to them.
        #[arg(long)]
        replace: bool,
    },
}

/// `joblet-mock ctl calls`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CallsArgs {
    /// Only methods matching this glob, on the short name (RunJob, Get*) or
    /// the full path (joblet.JobService/*).
    #[arg(long, short = 'm', value_name = "GLOB")]
    pub method: Option<String>,
    /// Only the last N matching calls.
    #[arg(long, short = 'n', value_name = "N")]
    pub limit: Option<u32>,
    /// One JSON object per line (seq, method, session, request, code,
    /// message, time, clock_time).
    #[arg(long)]
    pub json: bool,
    /// Calls of every session, by time.
    #[arg(long)]
    pub all_sessions: bool,
    #[command(subcommand)]
    pub action: Option<CallsCommand>,
}

/// `joblet-mock ctl calls clear`.
#[derive(Debug, clap::Subcommand)]
pub enum CallsCommand {
    /// Forget the session's recorded calls.
    Clear,
}

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
fn check_pem(flag: &str, path: &Path, what: &str, label: &str) -> anyhow::Result<()> {
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
fn connect_cause(e: &(dyn std::error::Error + 'static)) -> String {
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
async fn answer<T>(
    what: &str,
    call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> anyhow::Result<T> {
    call.await
        .map(tonic::Response::into_inner)
        .map_err(|e| call_error(what, e))
}

/// A failed control call, as `ctl` reports it.
fn call_error(what: &str, status: tonic::Status) -> anyhow::Error {
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

fn clock_line(c: &pb::ClockResponse) -> String {
    format!(
        "{}  ({} clock, {} timer{} pending)",
        c.now,
        c.mode,
        c.pending_timers,
        plural(c.pending_timers)
    )
}

/// The clock as `ctl` prints it: JSON with `--json`, else a line.
fn clock_text(c: &pb::ClockResponse, json: bool) -> String {
    if json { clock_json(c) } else { clock_line(c) }
}

fn clock_json(c: &pb::ClockResponse) -> String {
    serde_json::json!({
        "now": c.now,
        "now_unix_ms": c.now_unix_ms,
        "mode": c.mode,
        "pending_timers": c.pending_timers,
    })
    .to_string()
}

fn label(session: &str) -> &str {
    crate::session::label(session)
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
        CtlCommand::Transcript { output } => {
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
        }
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
        CtlCommand::Restore { file } => {
            let json = read_input(&file)?;
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
        }
        CtlCommand::Sessions => {
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
        }
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

fn format_size(bytes: u64) -> String {
    crate::budget::format_size(bytes)
}

/// GetMemory as `ctl memory` prints it.
pub fn memory_text(r: &pb::MemoryResponse) -> String {
    let mut text = format!(
        "budget    {} ({} bytes, whole mock){}\n",
        format_size(r.budget_bytes),
        r.budget_bytes,
        if r.pressed {
            "; PRESSED: only running and scheduled jobs left, RunJob is refused"
        } else {
            ""
        }
    );
    text += &format!(
        "used      {} ({:.1}% of the budget): job records {}, log history {}\n",
        format_size(r.used_bytes),
        r.used_bytes as f64 * 100.0 / r.budget_bytes.max(1) as f64,
        format_size(r.record_bytes),
        format_size(r.log_bytes)
    );
    if r.resident_bytes > 0 {
        text += &format!(
            "resident  {} (the process)\n",
            format_size(r.resident_bytes)
        );
    }
    text += &format!(
        "max jobs  {} per session\n",
        if r.max_jobs == 0 {
            "no cap".to_owned()
        } else {
            r.max_jobs.to_string()
        }
    );
    text += &format!(
        "evicted   {} finished log{} ({}), {} finished job record{}\n",
        r.evicted_logs,
        plural(r.evicted_logs),
        format_size(r.evicted_log_bytes),
        r.evicted_records,
        plural(r.evicted_records)
    );
    text += &format!(
        "refused   {} RunJob call{}\n",
        r.refused_run_jobs,
        plural(r.refused_run_jobs)
    );
    let width = r
        .sessions
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(0)
        .max(7);
    text += &format!(
        "{:width$}  {:>8}  {:>10}  {:>10}  {:>8}\n",
        "SESSION", "JOBS", "RECORDS", "LOGS", "EVICTED"
    );
    for s in &r.sessions {
        text += &format!(
            "{:width$}  {:>8}  {:>10}  {:>10}  {:>8}\n",
            s.name,
            s.jobs,
            format_size(s.record_bytes),
            format_size(s.log_bytes),
            s.evicted_records
        );
    }
    text
}

/// GetMemory as `ctl memory --json` prints it.
pub fn memory_json(r: &pb::MemoryResponse) -> String {
    let sessions: Vec<serde_json::Value> = r
        .sessions
        .iter()
        .map(|s| {
            serde_json::json!({
                "name": s.name,
                "jobs": s.jobs,
                "record_bytes": s.record_bytes,
                "log_bytes": s.log_bytes,
                "evicted_records": s.evicted_records,
            })
        })
        .collect();
    serde_json::json!({
        "budget_bytes": r.budget_bytes,
        "used_bytes": r.used_bytes,
        "record_bytes": r.record_bytes,
        "log_bytes": r.log_bytes,
        "resident_bytes": r.resident_bytes,
        "max_jobs": r.max_jobs,
        "evicted_logs": r.evicted_logs,
        "evicted_log_bytes": r.evicted_log_bytes,
        "evicted_records": r.evicted_records,
        "refused_run_jobs": r.refused_run_jobs,
        "pressed": r.pressed,
        "sessions": sessions,
    })
    .to_string()
}

/// `s` unless `n` is 1.
fn plural<N: PartialEq + From<u8>>(n: N) -> &'static str {
    if n == N::from(1) { "" } else { "s" }
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
