//! `joblet-mock`: the mock Joblet server as a command.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use joblet_mock::{
    Api, ClockMode, GeneratedCerts, MockConfig, MockTls, Mutant, Profile, Quirk, RoleModel,
    UnknownCommand, catalogue, extra_sans, load_certs, load_key, load_scenarios,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// An in-memory Joblet v1 server for SDK tests: jobs are simulated (no real
/// processes), state lives in memory, nothing needs root.
///
/// Prints one line `joblet-mock listening on ADDR` once it accepts calls (and,
/// with --tls-listen, then a line `joblet-mock listening on tls ADDR`), then
/// serves until SIGINT or SIGTERM. Logs go to stderr (filter with RUST_LOG, e.g.
/// RUST_LOG=joblet_mock=debug).
///
/// The plaintext listener has no authentication: every caller is admin (what the
/// SDK's default insecure=True speaks). The TLS listener is mutual TLS 1.3 like a
/// real node: client certificates must chain to the client CA, and the first
/// Subject OU equal to admin or viewer is the caller's role (viewer: read-only
/// calls; any other OU: no Joblet call). Both listeners serve the same state.
///
/// Example: joblet-mock --listen 127.0.0.1:50051 --gpus 2 --scenario fixtures/scenarios/examples.yaml
///
/// Example with TLS: joblet-mock --tls-listen 127.0.0.1:50052 --certs-dir /tmp/mock-certs,
/// then in Python: JobletClient(config_path="/tmp/mock-certs/rnx-config.yml",
/// node_name="viewer", insecure=False)
///
/// Control a running mock (reset, clock, faults, scenarios, calls, snapshots)
/// with `joblet-mock ctl`: see `joblet-mock ctl --help`.
#[derive(Debug, Parser)]
#[command(version, about, long_about, args_conflicts_with_subcommands = true)]
struct Args {
    /// Plaintext (h2c) address to listen on; port 0 picks a free port.
    #[arg(long, env = "JOBLET_MOCK_LISTEN", default_value = "127.0.0.1:50051")]
    listen: SocketAddr,

    /// Serve no plaintext listener, only --tls-listen.
    #[arg(long, env = "JOBLET_MOCK_NO_PLAINTEXT", requires = "tls_listen")]
    no_plaintext: bool,

    /// Also serve mutual TLS (TLS 1.3 only, client certificate required) on this
    /// address; port 0 picks a free port. Needs --certs-dir, or --tls-cert,
    /// --tls-key and --client-ca.
    #[arg(long, value_name = "ADDR", env = "JOBLET_MOCK_TLS_LISTEN")]
    tls_listen: Option<SocketAddr>,

    /// Generate certificates for --tls-listen into DIR (created if missing;
    /// everything is regenerated, overwriting, at each start): ca.pem, ca-key.pem,
    /// server.pem, server-key.pem (SANs localhost, joblet, 127.0.0.1, ::1),
    /// admin.pem, admin-key.pem (OU=admin), viewer.pem, viewer-key.pem (OU=viewer),
    /// and rnx-config.yml with nodes "default" (admin) and "viewer" pointing at the
    /// TLS address. Keys and rnx-config.yml are mode 0600.
    #[arg(
        long,
        value_name = "DIR",
        env = "JOBLET_MOCK_CERTS_DIR",
        requires = "tls_listen",
        conflicts_with_all = ["tls_cert", "tls_key", "client_ca"]
    )]
    certs_dir: Option<PathBuf>,

    /// Server certificate chain for --tls-listen (PEM, leaf first); with
    /// --tls-key and --client-ca.
    #[arg(
        long,
        value_name = "FILE",
        env = "JOBLET_MOCK_TLS_CERT",
        requires_all = ["tls_listen", "tls_key", "client_ca"]
    )]
    tls_cert: Option<PathBuf>,

    /// Server private key for --tls-listen (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(
        long,
        value_name = "FILE",
        env = "JOBLET_MOCK_TLS_KEY",
        requires_all = ["tls_listen", "tls_cert", "client_ca"]
    )]
    tls_key: Option<PathBuf>,

    /// CA certificate(s) that client certificates must chain to, for
    /// --tls-listen (PEM).
    #[arg(
        long,
        value_name = "FILE",
        env = "JOBLET_MOCK_CLIENT_CA",
        requires_all = ["tls_listen", "tls_cert", "tls_key"]
    )]
    client_ca: Option<PathBuf>,

    /// Number of simulated GPUs on the node.
    #[arg(long, env = "JOBLET_MOCK_GPUS", default_value_t = 0)]
    gpus: u32,

    /// Memory of each simulated GPU, in MB.
    #[arg(long, env = "JOBLET_MOCK_GPU_MEMORY_MB", default_value_t = 16_384)]
    gpu_memory_mb: u32,

    /// Scenario file scripting non-built-in commands (repeatable, or comma-separated
    /// in the environment variable; first match wins).
    #[arg(
        long = "scenario",
        value_name = "FILE",
        env = "JOBLET_MOCK_SCENARIOS",
        value_delimiter = ','
    )]
    scenarios: Vec<PathBuf>,

    /// What a command that is neither built in nor scripted does:
    /// succeed (exit 0, no output) or fail (exit 127, "command not found").
    #[arg(long, value_enum, env = "JOBLET_MOCK_UNKNOWN_COMMAND", default_value_t = UnknownCommand::Succeed)]
    unknown_command: UnknownCommand,

    /// History kept per job, in bytes or with a unit (64MiB, 1GiB); older
    /// output is dropped once exceeded.
    #[arg(
        long,
        value_name = "SIZE",
        env = "JOBLET_MOCK_LOG_RETENTION_BYTES",
        default_value_t = joblet_mock::DEFAULT_LOG_RETENTION,
        value_parser = retention_arg
    )]
    log_retention_bytes: usize,

    /// Memory the whole mock (every session) may give job records and log
    /// history: 2GiB, 512MiB, 64KiB or plain bytes. Over it, the log history
    /// of finished jobs is evicted first, then finished job records, oldest
    /// first (GetJobLogs on an evicted log answers FAILED_PRECONDITION);
    /// running and scheduled jobs are never evicted, and when they alone fill
    /// the budget RunJob answers RESOURCE_EXHAUSTED. `joblet-mock ctl memory`
    /// shows the figures.
    #[arg(
        long,
        value_name = "SIZE",
        env = "JOBLET_MOCK_MEMORY_BUDGET",
        default_value = "2GiB",
        value_parser = budget_arg
    )]
    memory_budget: u64,

    /// Job records each session keeps at most, whatever the memory budget
    /// (0: no cap). Past it the oldest finished records are evicted; when all
    /// are running or scheduled, RunJob answers RESOURCE_EXHAUSTED. Keeps
    /// ListJobs well under the 128 MiB message limit.
    #[arg(
        long,
        value_name = "N",
        env = "JOBLET_MOCK_MAX_JOBS",
        default_value_t = joblet_mock::DEFAULT_MAX_JOBS
    )]
    max_jobs: usize,

    /// Workflows each session keeps (0: no cap). The API has no call that
    /// removes a workflow: past the cap the oldest finished one is evicted
    /// (GetWorkflowStatus then answers NOT_FOUND); when none has finished,
    /// RunWorkflow answers RESOURCE_EXHAUSTED.
    #[arg(
        long,
        value_name = "N",
        env = "JOBLET_MOCK_MAX_WORKFLOWS",
        default_value_t = joblet_mock::DEFAULT_MAX_WORKFLOWS
    )]
    max_workflows: usize,

    /// Runtime catalogue replacing the built-in one (YAML, see fixtures/runtimes.yaml).
    #[arg(long, value_name = "FILE", env = "JOBLET_MOCK_RUNTIMES")]
    runtimes: Option<PathBuf>,

    /// CPU cores of the simulated host (default: this machine's).
    #[arg(long, env = "JOBLET_MOCK_CPU_CORES")]
    cpu_cores: Option<u32>,

    /// Node ID reported in jobs and monitoring (default: a random UUID).
    #[arg(long, env = "JOBLET_MOCK_NODE_ID")]
    node_id: Option<String>,

    /// How often a running job's metrics are sampled, on the session clock
    /// (contract v2: StreamJobMetrics, GetJobMetrics): 5s, 500ms, 1m30s, or
    /// plain seconds; at least 1ms.
    #[arg(
        long,
        value_name = "DURATION",
        env = "JOBLET_MOCK_METRICS_INTERVAL",
        default_value = "5s",
        value_parser = joblet_mock::parse_metrics_interval
    )]
    metrics_interval: std::time::Duration,

    /// Seed for reproducible runs: job and workflow UUIDs, synthetic metrics,
    /// probabilistic faults and scenario outcomes follow it (per session).
    #[arg(long, env = "JOBLET_MOCK_SEED")]
    seed: Option<u64>,

    /// Wire contracts served: both (SDK 1.x and SDK 2.x clients on the same
    /// ports: v1.0.6 and v2.5.9, 35 methods), v1 (exactly v1.0.6, as Joblet
    /// servers v4.5.0 to v5.0.1) or v2 (exactly v2.5.9, as servers v5.0.2 and
    /// later). The other contract's methods answer UNIMPLEMENTED "unknown
    /// method <M> for service joblet.<S>", as a real node does.
    #[arg(long, value_enum, env = "JOBLET_MOCK_API", default_value_t = Api::Both)]
    api: Api,

    /// Role model of the TLS listener: two (admin and viewer, the OU reader
    /// counting as viewer when v2 is served: every Joblet server up to v5.6)
    /// or four (reader, developer, maintainer, admin with their operation
    /// names in refusals: later v2 servers).
    #[arg(long, value_enum, env = "JOBLET_MOCK_ROLES", default_value_t = RoleModel::Two)]
    roles: RoleModel,

    /// Behaviour profile: documented (the API as documented), server-v1 (the
    /// observable quirks of the deployed v1 server: QUIRK-1 to QUIRK-12) or
    /// server-v2 (those of a Joblet v5.6 node: QUIRK-1, 2, 8, 11 and QUIRK-13
    /// to QUIRK-22, whichever contract the client speaks; a v5.6 node speaks
    /// only v2, so --api v2 is its faithful pairing).
    #[arg(long, value_enum, env = "JOBLET_MOCK_PROFILE", default_value_t = Profile::Documented)]
    profile: Profile,

    /// Turn on one quirk of a server profile by ID (repeatable), e.g.
    /// --quirk QUIRK-4, on top of --profile.
    #[arg(
        long = "quirk",
        value_name = "ID",
        env = "JOBLET_MOCK_QUIRKS",
        value_delimiter = ','
    )]
    quirks: Vec<Quirk>,

    /// Time: real (wall clock), virtual (skips ahead whenever every job waits
    /// on the clock, so hour-long schedules and sleeps pass at once) or manual
    /// (virtual time moved only by `joblet-mock ctl advance`).
    #[arg(long, value_enum, env = "JOBLET_MOCK_CLOCK", default_value_t = ClockMode::Real)]
    clock: ClockMode,

    /// Break exactly one documented behaviour, for testing a conformance
    /// suite (see --list-mutants).
    #[arg(long, value_name = "NAME", env = "JOBLET_MOCK_MUTANT")]
    mutant: Option<Mutant>,

    /// Print every mutant with the behaviour ID it breaks and the contracts it
    /// applies to, and exit.
    #[arg(long)]
    list_mutants: bool,

    /// A fault rule (repeatable), e.g. --fault 'RunJob:fail=UNAVAILABLE:after=2'
    /// (the third RunJob and later fail), --fault 'GetJobLogs:cut_after_messages=3',
    /// --fault '*:delay=100ms..2s:probability=0.1'. Keys: rpc, session,
    /// command / field.NAME, delay, fail=CODE[/MESSAGE], cut_after_messages,
    /// cut_after_bytes, stall_after_messages, after, times, probability.
    #[arg(
        long = "fault",
        value_name = "RULE",
        env = "JOBLET_MOCK_FAULTS",
        value_delimiter = ';'
    )]
    faults: Vec<String>,

    /// A YAML file of fault rules (`faults: [ {rpc: RunJob, fail: UNAVAILABLE, after: 2} ]`).
    #[arg(long, value_name = "FILE", env = "JOBLET_MOCK_FAULTS_FILE")]
    faults_file: Option<PathBuf>,

    /// Calls kept per session in the call journal (0 turns it off).
    #[arg(long, env = "JOBLET_MOCK_JOURNAL_SIZE", default_value_t = joblet_mock::DEFAULT_JOURNAL_SIZE)]
    journal_size: usize,

    /// Record every Joblet call with its whole answer into FILE, one JSON line
    /// per call as it completes (the transcript format that
    /// `joblet-conformance replay` plays against any endpoint). Control,
    /// health and reflection calls are not recorded.
    #[arg(long, value_name = "FILE", env = "JOBLET_MOCK_RECORD")]
    record: Option<PathBuf>,

    /// Keep the last N calls of each session, with their answers, for
    /// `joblet-mock ctl transcript` and the control API's ExportTranscript
    /// (0: none).
    #[arg(
        long,
        value_name = "N",
        env = "JOBLET_MOCK_TRANSCRIPT_SIZE",
        default_value_t = 0
    )]
    transcript_size: usize,

    /// Log bytes kept per GetJobLogs call in transcripts (beyond it, only
    /// their count and SHA-256).
    #[arg(long, value_name = "BYTES", env = "JOBLET_MOCK_RECORD_LOG_LIMIT", default_value_t = joblet_mock::DEFAULT_LOG_LIMIT)]
    record_log_limit: usize,

    /// Sessions (x-joblet-mock-session metadata) held at once besides the default.
    #[arg(long, env = "JOBLET_MOCK_MAX_SESSIONS", default_value_t = 1024)]
    max_sessions: usize,

    /// Run each job's command for real, as a child process of the mock (no
    /// isolation, no limits; a temporary work directory with the uploads).
    /// This EXECUTES WHATEVER CLIENTS SEND with the mock's privileges: use it
    /// only on loopback with trusted clients. Not with --clock virtual/manual.
    #[arg(long, env = "JOBLET_MOCK_EXEC")]
    exec: bool,

    #[command(subcommand)]
    command: Option<Command>,
}

/// What the command does instead of serving.
#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Control a running joblet-mock through its control API: reset, advance
    /// the clock, set faults, load scenarios, list calls, snapshot and restore.
    Ctl(joblet_mock::ctl::CtlArgs),
}

/// `joblet-mock ctl ...`: exit 0, or print the error and exit 1.
async fn run_ctl(args: joblet_mock::ctl::CtlArgs) -> ! {
    let mut out = std::io::stdout().lock();
    let result = joblet_mock::ctl::run(args, &mut out).await;
    let _ = std::io::Write::flush(&mut out);
    match result {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!(
                "joblet-mock ctl: {}",
                joblet_testkit::error_chain(e.as_ref())
            );
            std::process::exit(1)
        }
    }
}

/// Where the TLS listener's certificates come from.
#[derive(Debug)]
enum TlsSource {
    Generate(PathBuf),
    Given(MockTls),
}

/// What the command serves.
#[derive(Debug)]
struct Plan {
    listen: Option<SocketAddr>,
    tls: Option<(SocketAddr, TlsSource)>,
    config: MockConfig,
}

impl Args {
    fn into_plan(self) -> anyhow::Result<Plan> {
        let tls = match self.tls_listen {
            None => None,
            Some(addr) => Some((addr, self.tls_source()?)),
        };
        let listen = (!self.no_plaintext).then_some(self.listen);
        let config = self.into_config()?;
        Ok(Plan {
            listen,
            tls,
            config,
        })
    }

    fn tls_source(&self) -> anyhow::Result<TlsSource> {
        if let Some(dir) = &self.certs_dir {
            return Ok(TlsSource::Generate(dir.clone()));
        }
        let (Some(cert), Some(key), Some(ca)) = (&self.tls_cert, &self.tls_key, &self.client_ca)
        else {
            anyhow::bail!(
                "--tls-listen needs certificates: --certs-dir DIR to generate them, \
                 or --tls-cert, --tls-key and --client-ca"
            );
        };
        let chain = load_certs(cert, "server certificate").context("--tls-cert")?;
        let key = load_key(key, "server key").context("--tls-key")?;
        let ca = load_certs(ca, "client CA").context("--client-ca")?;
        let tls = MockTls::new(chain, key, ca)
            .context("--tls-cert, --tls-key and --client-ca do not make a usable TLS identity")?;
        Ok(TlsSource::Given(tls))
    }

    fn into_config(self) -> anyhow::Result<MockConfig> {
        let mut config = MockConfig {
            gpus: self.gpus,
            gpu_memory_mb: self.gpu_memory_mb,
            unknown_command: self.unknown_command,
            log_retention_bytes: self.log_retention_bytes,
            seed: self.seed,
            api: self.api,
            roles: self.roles,
            profile: self.profile,
            extra_quirks: self.quirks,
            clock: self.clock,
            mutant: self.mutant,
            journal_size: self.journal_size,
            max_sessions: self.max_sessions,
            exec: self.exec,
            memory_budget: self.memory_budget,
            max_jobs: self.max_jobs,
            max_workflows: self.max_workflows,
            metrics_interval: self.metrics_interval,
            ..MockConfig::default()
        };
        for (i, text) in self.faults.iter().enumerate() {
            let rule = joblet_mock::faults::parse_rule(text)
                .with_context(|| format!("--fault #{} {text:?}", i + 1))?;
            config.faults.push(rule);
        }
        if let Some(path) = &self.faults_file {
            config
                .faults
                .extend(joblet_mock::faults::load_yaml(path).context("--faults-file")?);
        }
        if self.exec && self.clock != ClockMode::Real {
            anyhow::bail!(
                "--exec runs real processes, which cannot follow a virtual clock: \
                 use --clock real with --exec"
            );
        }
        if let Some(seed) = self.seed {
            // A reproducible node: its ID follows the seed too.
            config.node_id = uuid::Builder::from_random_bytes(
                u128::from(seed)
                    .wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
                    .to_le_bytes(),
            )
            .into_uuid()
            .to_string();
        }
        config.scenarios = load_scenarios(&self.scenarios).context("loading --scenario files")?;
        config.scenario_files = self.scenarios;
        if let Some(path) = &self.runtimes {
            config.runtimes = catalogue::load(path).context("loading --runtimes")?;
        }
        if let Some(cores) = self.cpu_cores {
            anyhow::ensure!(cores > 0, "--cpu-cores must be at least 1");
            config.host_cores = cores;
        }
        if let Some(id) = self.node_id {
            config.node_id = id;
        }
        if self.record.is_some() || self.transcript_size > 0 {
            anyhow::ensure!(
                self.record_log_limit > 0,
                "--record-log-limit must be at least 1"
            );
            let recorder = joblet_mock::Recorder::new(joblet_mock::RecorderOptions {
                file: self.record.clone(),
                per_session: self.transcript_size,
                max_sessions: self.max_sessions + 1,
                log_limit: self.record_log_limit,
                contract: Some(self.api),
            })
            .context("--record")?;
            config.transcript = Some(Arc::new(recorder));
        }
        Ok(config)
    }
}

/// `--memory-budget`: a size with a unit, more than 0.
fn budget_arg(text: &str) -> Result<u64, String> {
    match joblet_mock::parse_size(text)? {
        0 => Err("the budget must be more than 0 bytes, e.g. 2GiB".into()),
        n => Ok(n),
    }
}

/// `--log-retention-bytes`: a size with a unit, at least 1 byte.
fn retention_arg(text: &str) -> Result<usize, String> {
    match joblet_mock::parse_size(text)? {
        0 => Err("must be at least 1 byte, e.g. 64MiB".into()),
        n => usize::try_from(n).map_err(|_| format!("{text:?} is too large for this machine")),
    }
}

/// `--list-mutants`: name, behaviour ID, the contracts it applies to (the
/// behaviour's tag: `v1`, `v2`, `v1,v2`) and what each does, aligned.
fn mutant_table() -> String {
    let width = Mutant::LIST
        .iter()
        .map(|m| m.name().len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for m in Mutant::LIST {
        out.push_str(&format!(
            "{:width$}  {:14}  {:5}  {}\n",
            m.name(),
            m.behaviour(),
            m.contracts().tag(),
            m.description()
        ));
    }
    out
}

/// glibc's malloc serves 64 KiB log chunks from one arena per thread: history
/// freed by eviction in one worker's arena stays resident while another
/// worker's arena grows, and the process sat 30 % above its `--memory-budget`
/// (2.6 GiB resident for 1.9 GiB of logs, `ci/bench budget_logs`). Allocations
/// of 64 KiB and more are mapped on their own instead, so memory freed is given
/// back at once (2.0 GiB resident). glibc reads this only from the
/// environment, at start: the mock sets it and executes itself again, unless
/// the variable is set already (set it yourself to choose another threshold;
/// glibc's own default is 128 KiB, raised as mapped chunks are freed).
const MALLOC_MMAP_THRESHOLD: (&str, &str) = ("MALLOC_MMAP_THRESHOLD_", "65536");

/// Re-executes the mock with [`MALLOC_MMAP_THRESHOLD`] set, on glibc, when
/// serving; returns (to go on as is) when that is not needed or not possible.
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;
        let (name, value) = MALLOC_MMAP_THRESHOLD;
        let mut args = std::env::args_os();
        let arg0 = args.next().unwrap_or_default();
        let args: Vec<std::ffi::OsString> = args.collect();
        if std::env::var_os(name).is_some() || args.first().is_some_and(|a| a == "ctl") {
            return;
        }
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let err = std::process::Command::new(exe)
            .arg0(arg0)
            .args(args)
            .env(name, value)
            .exec();
        eprintln!("joblet-mock: cannot restart itself with {name}={value} ({err}); going on");
    }
}

fn main() -> std::process::ExitCode {
    tune_malloc();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")
        .and_then(|rt| rt.block_on(serve_main()));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("joblet-mock: {}", joblet_testkit::error_chain(e.as_ref()));
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve_main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let mut args = Args::parse();
    if let Some(Command::Ctl(ctl)) = args.command.take() {
        run_ctl(ctl).await;
    }
    if args.list_mutants {
        print!("{}", mutant_table());
        return Ok(());
    }
    let Plan {
        listen,
        tls,
        config,
    } = args.into_plan()?;
    if let Some(m) = config.mutant {
        tracing::warn!(
            mutant = m.name(),
            breaks = m.behaviour(),
            "{}",
            m.description()
        );
    }
    let plaintext = match listen {
        Some(listen) => {
            let listener = TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            let addr = listener.local_addr()?;
            Some((listener, addr))
        }
        None => None,
    };
    let tls = match tls {
        Some((listen, source)) => {
            let listener = TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen} (--tls-listen)"))?;
            let addr = listener.local_addr()?;
            let tls = match source {
                TlsSource::Given(tls) => tls,
                TlsSource::Generate(dir) => {
                    let in_dir = || format!("--certs-dir {}", dir.display());
                    let certs =
                        GeneratedCerts::generate(&dir, &extra_sans(addr)).with_context(in_dir)?;
                    let rnx = certs.write_rnx_config(addr).with_context(in_dir)?;
                    tracing::info!("certificates and {} written", rnx.display());
                    certs.mock_tls().context("generated certificates")?
                }
            };
            Some((listener, addr, tls))
        }
        None => None,
    };
    let node = joblet_mock::Node::new(config);
    let shutdown = joblet_testkit::ShutdownSignal::register();
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        if let Some((_, addr)) = &plaintext {
            writeln!(out, "joblet-mock listening on {addr}")?;
        }
        if let Some((_, addr, _)) = &tls {
            writeln!(out, "joblet-mock listening on tls {addr}")?;
        }
        out.flush()?;
    }
    let stop = CancellationToken::new();
    let plaintext_server = async {
        match plaintext {
            Some((listener, _)) => {
                joblet_mock::serve(listener, Arc::clone(&node), stop.clone().cancelled_owned())
                    .await
                    .context("serving plaintext")
            }
            None => Ok(()),
        }
    };
    let tls_server = async {
        match tls {
            Some((listener, _, tls)) => joblet_mock::serve_tls(
                listener,
                Arc::clone(&node),
                tls,
                stop.clone().cancelled_owned(),
            )
            .await
            .context("serving TLS"),
            None => Ok(()),
        }
    };
    let signal = async {
        shutdown.wait().await;
        tracing::info!("shutting down");
        stop.cancel();
        Ok::<_, anyhow::Error>(())
    };
    tokio::try_join!(plaintext_server, tls_server, signal)?;
    Ok(())
}
