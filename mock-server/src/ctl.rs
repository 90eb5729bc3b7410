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
  joblet-mock ctl snapshot > state.json
  joblet-mock ctl reset && joblet-mock ctl restore state.json
  joblet-mock ctl --session ci-42 reset     # one session; `reset --all` for every one
  joblet-mock ctl sessions

The mock must be running. The control API is served on the same port as the
Joblet services; over plaintext every caller may use it (on the TLS listener
only the admin role may, and this command speaks plaintext only).";

/// `joblet-mock ctl`: control a running joblet-mock.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct CtlArgs {
    /// The mock's plaintext address: a URL (http://HOST:PORT) or HOST:PORT.
    /// Default: $JOBLET_MOCK_ADDR, else http://$JOBLET_HOST:$JOBLET_PORT (when
    /// either is set), else http://127.0.0.1:50051.
    #[arg(long, value_name = "URL", env = "JOBLET_MOCK_ADDR")]
    pub addr: Option<String>,

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
/// `JOBLET_HOST`/`JOBLET_PORT`, else [`DEFAULT_ADDR`]; `HOST:PORT` gets `http://`.
pub fn resolve_addr(
    addr: Option<&str>,
    host: Option<&str>,
    port: Option<&str>,
) -> anyhow::Result<String> {
    let raw = match (addr.map(str::trim).filter(|a| !a.is_empty()), host, port) {
        (Some(a), _, _) => a.to_owned(),
        (None, None, None) => return Ok(DEFAULT_ADDR.to_owned()),
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
    } else {
        format!("http://{raw}")
    };
    if url.starts_with("https://") {
        bail!("{url}: joblet-mock ctl speaks plaintext only; use the mock's --listen address");
    }
    url.parse::<http::Uri>()
        .map_err(|e| anyhow!("--addr {url:?} is not an address: {e}"))?;
    Ok(url)
}

/// Connects to the mock at `url`.
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
        if c.pending_timers == 1 { "" } else { "s" }
    )
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
    crate::control::session_label(session)
}

/// Runs one `ctl` command, printing its result to `out`.
pub async fn run(args: CtlArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let url = resolve_addr(
        args.addr.as_deref(),
        std::env::var("JOBLET_HOST").ok().as_deref(),
        std::env::var("JOBLET_PORT").ok().as_deref(),
    )?;
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        bail!("--timeout must be a positive number of seconds");
    }
    let timeout = Duration::from_secs_f64(args.timeout);
    let session = args.session.trim().to_owned();
    let mut client = connect(&url, timeout).await?;
    match args.command {
        CtlCommand::Reset { all } => {
            let r = client
                .reset(pb::ResetRequest {
                    session: session.clone(),
                    all,
                })
                .await
                .map_err(|e| call_error("reset", e))?
                .into_inner();
            writeln!(
                out,
                "reset session{} {}",
                if r.sessions.len() == 1 { "" } else { "s" },
                r.sessions.join(", ")
            )?;
        }
        CtlCommand::Advance { duration, json } => {
            // Checked here too, for an error that does not need the server.
            crate::control::parse_duration(&duration).map_err(|e| anyhow!("advance: {e}"))?;
            let c = client
                .advance_clock(pb::AdvanceClockRequest {
                    session,
                    duration,
                    millis: 0,
                })
                .await
                .map_err(|e| call_error("advance", e))?
                .into_inner();
            writeln!(
                out,
                "{}",
                if json { clock_json(&c) } else { clock_line(&c) }
            )?;
        }
        CtlCommand::Clock { json } => {
            let c = client
                .get_clock(pb::GetClockRequest { session })
                .await
                .map_err(|e| call_error("clock", e))?
                .into_inner();
            writeln!(
                out,
                "{}",
                if json { clock_json(&c) } else { clock_line(&c) }
            )?;
        }
        CtlCommand::Faults { action } => faults(&mut client, session, action, out).await?,
        CtlCommand::Scenario {
            action: ScenarioCommand::Load { file, replace },
        } => {
            let yaml = read_input(&file)?;
            let r = client
                .load_scenario(pb::LoadScenarioRequest {
                    session: session.clone(),
                    yaml,
                    file_name: file.display().to_string(),
                    replace,
                })
                .await
                .map_err(|e| call_error("scenario load", e))?
                .into_inner();
            writeln!(
                out,
                "loaded {} scenario{} ({}) into session {}; it has {} now",
                r.loaded,
                if r.loaded == 1 { "" } else { "s" },
                r.names.join(", "),
                label(&session),
                r.total
            )?;
        }
        CtlCommand::Calls(calls) => list_calls(&mut client, session, calls, out).await?,
        CtlCommand::Snapshot { output } => {
            let r = client
                .snapshot(pb::SnapshotRequest { session })
                .await
                .map_err(|e| call_error("snapshot", e))?
                .into_inner();
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
            let r = client
                .restore(pb::RestoreRequest {
                    session: session.clone(),
                    json,
                })
                .await
                .map_err(|e| call_error(&format!("restore {}", file.display()), e))?
                .into_inner();
            writeln!(
                out,
                "restored session {}: {} job{} ({} not finished, now STOPPED), {} network{}, {} volume{}, {} runtime{}",
                label(&session),
                r.jobs,
                plural(r.jobs),
                r.stopped,
                r.networks,
                plural(r.networks),
                r.volumes,
                plural(r.volumes),
                r.runtimes,
                plural(r.runtimes)
            )?;
            if r.workflows_skipped > 0 {
                eprintln!(
                    "note: {} workflow record{} of the snapshot not rebuilt (their jobs are restored as jobs)",
                    r.workflows_skipped,
                    plural(r.workflows_skipped)
                );
            }
        }
        CtlCommand::Sessions => {
            let r = client
                .list_sessions(pb::ListSessionsRequest::default())
                .await
                .map_err(|e| call_error("sessions", e))?
                .into_inner();
            let width = r
                .sessions
                .iter()
                .map(|s| s.name.len())
                .max()
                .unwrap_or(0)
                .max(7);
            writeln!(
                out,
                "{:width$}  {:>6}  {:>6}  {:>6}  {:8}  NOW",
                "SESSION", "JOBS", "CALLS", "FAULTS", "CLOCK"
            )?;
            for s in r.sessions {
                writeln!(
                    out,
                    "{:width$}  {:>6}  {:>6}  {:>6}  {:8}  {}",
                    s.name, s.jobs, s.calls, s.faults, s.clock_mode, s.now
                )?;
            }
        }
    }
    Ok(())
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
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
            client
                .set_faults(pb::SetFaultsRequest {
                    session,
                    rules_json,
                    rules,
                    append,
                })
                .await
                .map_err(|e| call_error("faults set", e))?
        }
        FaultsCommand::Clear => client
            .clear_faults(pb::ClearFaultsRequest { session })
            .await
            .map_err(|e| call_error("faults clear", e))?,
        FaultsCommand::List { json } => {
            let r = client
                .list_faults(pb::ListFaultsRequest { session })
                .await
                .map_err(|e| call_error("faults list", e))?
                .into_inner();
            if json {
                writeln!(out, "{}", r.rules_json)?;
            } else {
                for rule in r.rules {
                    writeln!(out, "{rule}")?;
                }
            }
            return Ok(());
        }
    }
    .into_inner();
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
        let r = client
            .clear_calls(pb::ClearCallsRequest { session })
            .await
            .map_err(|e| call_error("calls clear", e))?
            .into_inner();
        writeln!(
            out,
            "forgot {} call{}",
            r.cleared,
            if r.cleared == 1 { "" } else { "s" }
        )?;
        return Ok(());
    }
    let r = client
        .list_calls(pb::ListCallsRequest {
            session,
            method: args.method.unwrap_or_default(),
            limit: args.limit.unwrap_or(0),
            all_sessions: args.all_sessions,
        })
        .await
        .map_err(|e| call_error("calls", e))?
        .into_inner();
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
            if r.dropped == 1 { "" } else { "s" }
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let r = |a: Option<&str>, h: Option<&str>, p: Option<&str>| resolve_addr(a, h, p).unwrap();
        assert_eq!(r(None, None, None), DEFAULT_ADDR);
        assert_eq!(r(Some("127.0.0.1:9"), None, None), "http://127.0.0.1:9");
        assert_eq!(r(Some("http://h:1"), Some("x"), Some("2")), "http://h:1");
        assert_eq!(r(None, Some("mock"), Some("7000")), "http://mock:7000");
        assert_eq!(r(None, None, Some("7000")), "http://127.0.0.1:7000");
        assert_eq!(r(None, Some("::1"), None), "http://[::1]:50051");
        assert!(resolve_addr(None, None, Some("x")).is_err());
        assert!(resolve_addr(Some("https://h:1"), None, None).is_err());
        assert!(resolve_addr(Some("not an address"), None, None).is_err());
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
