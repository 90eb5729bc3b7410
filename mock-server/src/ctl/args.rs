//! The flags and subcommands of `joblet-mock ctl` (clap).

use std::path::PathBuf;

/// The address used when neither `--addr`, `JOBLET_MOCK_ADDR` nor
/// `JOBLET_HOST`/`JOBLET_PORT` say otherwise.
pub const DEFAULT_ADDR: &str = "http://127.0.0.1:50051";

pub(crate) const EXAMPLES: &str = "\
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
