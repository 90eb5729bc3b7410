//! The `joblet-loadgen` command line: clap flags, turned into a validated
//! [`RunConfig`] before anything runs, and the outputs of a run (table,
//! `--json`, `--html`, thresholds and the exit code).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use joblet_testkit::cli::ConnectArgs;

use crate::plan::{Action, Follow, JobSpec, Load, Plan};
use crate::progress::ProgressMode;
use crate::report::{self, Report};
use crate::run::{self, RunConfig, Stop, TargetSpec, WorkerShare};
use crate::threshold::{self, Threshold};
use crate::transport::{self, H2Client, H2Settings, Rpc, ServerTls, grpc};
use crate::units::{parse_bytes, parse_duration};

/// Exit code of bad usage (as clap's own errors).
pub const EXIT_USAGE: u8 = 2;
/// Exit code when a `--threshold` rule fails.
pub const EXIT_THRESHOLD: u8 = 3;
/// Exit code of a run stopped by Ctrl-C (after its report).
pub const EXIT_INTERRUPTED: u8 = 130;

const ABOUT: &str = "Load generator for Joblet nodes: job-submission rate and latency, job lifecycles, \
log-stream throughput and weighted operation mixes, with HdrHistogram reports that merge exactly.";

/// The long help's word on runs without a target.
#[cfg(feature = "embedded")]
macro_rules! without_target {
    () => {
        "With no --target (and no --node, no JOBLET_HOST) it runs against an embedded joblet-mock, so \
`joblet-loadgen submit` works out of the box."
    };
}

/// The long help's word on runs without a target (no embedded mock).
#[cfg(not(feature = "embedded"))]
macro_rules! without_target {
    () => {
        "This build has no embedded joblet-mock (cargo feature `embedded`): give --target HOST:PORT \
(or --node, or JOBLET_HOST)."
    };
}

const LONG_ABOUT: &str = concat!(
    "Load generator for Joblet nodes: job-submission rate and latency, job \
lifecycles, log-stream throughput and weighted operation mixes.

",
    without_target!(),
    " Every run is bounded (--duration, --requests; \
default 10 s), sends traffic only to the targets given, and deletes the jobs it created at the \
end (--keep-jobs to keep them). Ctrl-C stops issuing, drains, cleans up and still reports; a \
second Ctrl-C exits at once.

Examples:
  joblet-loadgen submit --concurrency 64 --duration 30s
  joblet-loadgen submit --rate 2000 --duration 1m --target node1:50051 \\
      --ca ca.pem --cert admin.pem --key admin-key.pem --json out.json --html out.html
  joblet-loadgen lifecycle --rate 20 --command sleep --arg 1 --node prod
  joblet-loadgen logs --requests 20 --concurrency 4 --bytes 64MiB --threshold 'logs.mbps>500'
  joblet-loadgen mix fixtures/load/mix.yaml --target a:50051=3 --target b:50051=1
  joblet-loadgen merge worker-*.json --json merged.json --html merged.html

Exit codes: 0 done, 1 error, 2 bad usage, 3 a --threshold failed, 130 stopped by Ctrl-C."
);

/// `joblet-loadgen`.
#[derive(Debug, Parser)]
#[command(name = "joblet-loadgen", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Submit jobs (RunJob) at a fixed concurrency or at a target rate.
    Submit(SubmitArgs),
    /// Submit jobs and follow each to its final state (log stream, or status polling).
    Lifecycle(LifecycleArgs),
    /// Log-stream throughput: jobs writing --bytes, each stream read to the end.
    Logs(LogsArgs),
    /// Run a YAML plan of weighted operations in stages (examples in fixtures/load/).
    Mix(MixArgs),
    /// Combine the JSON reports of a distributed run's workers (histograms added).
    Merge(MergeArgs),
    /// Check JSON reports against the report schema.
    ValidateReport {
        /// Reports to check.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Print the JSON schema of the report.
    Schema,
    /// Encode requests as gRPC frames, or submit one job (for ci/bench-loadgen).
    #[command(hide = true)]
    Wire(WireArgs),
}

/// Flags every load scenario shares.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// A node to load, HOST:PORT, with an optional weight (HOST:PORT=3 gets three
    /// times the share of a weight-1 target). Repeat or separate with commas.
    /// None (and no --node, no JOBLET_HOST): an embedded mock.
    #[cfg_attr(
        not(feature = "embedded"),
        arg(
            help = "A node to load, HOST:PORT, with an optional weight (HOST:PORT=3 gets three \
                    times the share of a weight-1 target). Repeat or separate with commas. This \
                    build has no embedded mock: a run needs a target (or --node, or JOBLET_HOST)."
        )
    )]
    #[arg(
        long = "target",
        value_name = "HOST:PORT[=WEIGHT]",
        value_delimiter = ','
    )]
    pub targets: Vec<String>,
    /// Connection and TLS flags (shared with joblet-conformance).
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// HTTP/2 connections per target.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub connections: u32,
    /// Generator threads [default: cores, at most --connections].
    #[arg(long, value_name = "N")]
    pub threads: Option<u32>,
    /// How long to run (10s, 1m30s) [default: 10s unless --requests is given].
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub duration: Option<Duration>,
    /// Stop after this many actions in all (split among --worker-count workers).
    #[arg(long, value_name = "N")]
    pub requests: Option<u64>,
    /// Deadline of each unary call.
    #[arg(long, value_parser = parse_duration, default_value = "30s", value_name = "DURATION")]
    pub timeout: Duration,
    /// After the load, how long in-flight actions may finish before they are cancelled.
    #[arg(long, value_parser = parse_duration, default_value = "30s", value_name = "DURATION")]
    pub drain_timeout: Duration,
    /// Length of the time-series and HDR-log intervals.
    #[arg(long, value_parser = parse_duration, default_value = "1s", value_name = "DURATION")]
    pub interval: Duration,
    /// gRPC metadata sent with every call (repeatable), e.g.
    /// x-joblet-mock-session=load-1.
    #[arg(long = "metadata", value_name = "KEY=VALUE")]
    pub metadata: Vec<String>,
    /// Write the JSON report (schema: `joblet-loadgen schema`).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the HdrHistogram interval log.
    #[arg(long, value_name = "FILE")]
    pub hdr_log: Option<PathBuf>,
    /// Write a self-contained HTML report with charts.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// A pass/fail rule (repeatable): submit.p99<50ms, errors<0.1%,
    /// logs.mbps>500, rate>=1000, final.p99<2s. A failing rule exits with 3.
    #[arg(long = "threshold", value_name = "RULE")]
    pub thresholds: Vec<String>,
    /// This worker's index in a distributed run (Kubernetes Indexed Jobs set
    /// JOB_COMPLETION_INDEX).
    #[arg(
        long,
        env = "JOB_COMPLETION_INDEX",
        default_value_t = 0,
        value_name = "I"
    )]
    pub worker_index: u32,
    /// Workers in the distributed run: each takes 1/N of the rate, the
    /// concurrency and --requests.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub worker_count: u32,
    /// Start at this time (RFC 3339, or Unix seconds), so distributed workers
    /// start together.
    #[arg(long, value_parser = parse_start_at, value_name = "TIME")]
    pub start_at: Option<SystemTime>,
    /// Leave the jobs this run created on the nodes.
    #[arg(long)]
    pub keep_jobs: bool,
    /// Jobs remembered for deletion before the oldest are deleted during the run.
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    pub max_tracked_jobs: usize,
    /// Do not read the targets' StreamSystemMetrics.
    #[arg(long)]
    pub no_server_metrics: bool,
    /// Progress display.
    #[arg(long, value_enum, default_value_t = ProgressArg::Auto)]
    pub progress: ProgressArg,
    /// Do not print the final table.
    #[arg(long, short)]
    pub quiet: bool,
    /// HTTP/2 stream flow-control window (bytes).
    #[arg(long, value_parser = parse_bytes, default_value = "16MiB", value_name = "SIZE", help_heading = "HTTP/2")]
    pub h2_stream_window: u64,
    /// HTTP/2 connection flow-control window (bytes).
    #[arg(long, value_parser = parse_bytes, default_value = "64MiB", value_name = "SIZE", help_heading = "HTTP/2")]
    pub h2_connection_window: u64,
    /// Largest HTTP/2 frame the server may send (16KiB to 16MiB-1).
    #[arg(long, value_parser = parse_bytes, default_value = "16KiB", value_name = "SIZE", help_heading = "HTTP/2")]
    pub h2_max_frame: u64,
    /// The HTTP/2 client: the generator's own, or the `h2` crate (the
    /// alternative it was measured against; see docs/loadgen.md).
    #[arg(long, value_enum, default_value_t = ClientArg::Own, help_heading = "HTTP/2")]
    pub h2_client: ClientArg,
}

/// `--h2-client`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClientArg {
    /// The generator's own HTTP/2 client.
    Own,
    /// The `h2` crate (hyperium).
    H2,
}

/// `--progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressArg {
    /// A live line on a terminal, plain lines otherwise.
    Auto,
    /// Plain lines every 5 s.
    Plain,
    /// None.
    Off,
}

/// Closed or open model.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Requests in flight (closed model) [default: 16].
    #[arg(long, short = 'c', value_name = "N", conflicts_with = "rate")]
    pub concurrency: Option<u32>,
    /// Requests started per second (open model; latency counts from each
    /// request's intended start).
    #[arg(long, short = 'r', value_name = "PER_SECOND")]
    pub rate: Option<f64>,
    /// Most requests in flight under --rate (more wait, and their wait counts).
    #[arg(long, default_value_t = 1024, value_name = "N")]
    pub max_in_flight: u32,
}

/// The job RunJob submits.
#[derive(Debug, Clone, Args)]
pub struct JobArgs {
    /// Command of the submitted jobs.
    #[arg(long, default_value = "true", value_name = "CMD", help_heading = "Job")]
    pub command: String,
    /// An argument of the command (repeatable, in order).
    #[arg(
        long = "arg",
        value_name = "ARG",
        allow_hyphen_values = true,
        help_heading = "Job"
    )]
    pub args: Vec<String>,
    /// Job name.
    #[arg(long, default_value = "", value_name = "NAME", help_heading = "Job")]
    pub job_name: String,
    /// CPU limit in percent.
    #[arg(
        long,
        default_value_t = 0,
        value_name = "PERCENT",
        help_heading = "Job"
    )]
    pub max_cpu: i32,
    /// Memory limit in MB.
    #[arg(long, default_value_t = 0, value_name = "MB", help_heading = "Job")]
    pub max_memory: i32,
    /// I/O limit in bytes per second.
    #[arg(long, default_value_t = 0, value_name = "BPS", help_heading = "Job")]
    pub max_iobps: i32,
    /// CPU cores (0-3, 1,3).
    #[arg(long, default_value = "", value_name = "CORES", help_heading = "Job")]
    pub cpu_cores: String,
    /// Runtime (python-3.11-ml).
    #[arg(long, default_value = "", value_name = "RUNTIME", help_heading = "Job")]
    pub runtime: String,
    /// Environment variable of the job (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", help_heading = "Job")]
    pub env: Vec<String>,
}

impl JobArgs {
    fn spec(&self) -> anyhow::Result<JobSpec> {
        let mut environment = BTreeMap::new();
        for kv in &self.env {
            let (k, v) = kv
                .split_once('=')
                .with_context(|| format!("--env {kv:?}: write KEY=VALUE"))?;
            environment.insert(k.to_owned(), v.to_owned());
        }
        if self.command.trim().is_empty() {
            bail!("--command is empty");
        }
        Ok(JobSpec {
            name: self.job_name.clone(),
            command: self.command.clone(),
            args: self.args.clone(),
            max_cpu: self.max_cpu,
            cpu_cores: self.cpu_cores.clone(),
            max_memory: self.max_memory,
            max_iobps: self.max_iobps,
            runtime: self.runtime.clone(),
            environment,
        })
    }
}

/// `submit`.
#[derive(Debug, Clone, Args)]
pub struct SubmitArgs {
    #[command(flatten)]
    load: LoadArgs,
    #[command(flatten)]
    job: JobArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// `lifecycle`.
#[derive(Debug, Clone, Args)]
pub struct LifecycleArgs {
    #[command(flatten)]
    load: LoadArgs,
    /// Follow jobs by polling GetJobStatus at this interval instead of
    /// reading their log streams.
    #[arg(long, value_parser = parse_duration, value_name = "INTERVAL")]
    poll: Option<Duration>,
    #[command(flatten)]
    job: JobArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// `logs`.
#[derive(Debug, Clone, Args)]
pub struct LogsArgs {
    /// Log streams read at once.
    #[arg(long, short = 'c', default_value_t = 1, value_name = "N")]
    concurrency: u32,
    /// Bytes each job writes (`head -c BYTES /dev/zero`): 64MiB, 1GiB, 4096.
    #[arg(long, value_parser = parse_bytes, default_value = "64MiB", value_name = "SIZE")]
    bytes: u64,
    #[command(flatten)]
    common: CommonArgs,
}

/// `mix`.
#[derive(Debug, Clone, Args)]
pub struct MixArgs {
    /// The plan (YAML: job, operations with weights, stages).
    #[arg(value_name = "PLAN")]
    plan: PathBuf,
    /// Most actions in flight during rate stages.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    max_in_flight: u32,
    #[command(flatten)]
    common: CommonArgs,
}

/// `merge`.
#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// The workers' JSON reports.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Write the merged JSON report.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write the merged HTML report.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// A pass/fail rule on the merged figures (repeatable).
    #[arg(long = "threshold", value_name = "RULE")]
    thresholds: Vec<String>,
    /// Do not print the table.
    #[arg(long, short)]
    quiet: bool,
}

/// `wire` (hidden): helpers for comparing with h2load.
#[derive(Debug, Clone, Args)]
pub struct WireArgs {
    #[command(subcommand)]
    what: WireCommand,
}

#[derive(Debug, Clone, Subcommand)]
enum WireCommand {
    /// Write a RunJob request as one gRPC frame.
    RunJob {
        #[command(flatten)]
        job: JobArgs,
        /// Output file.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Write a GetJobLogs request as one gRPC frame.
    GetJobLogs {
        /// The job.
        #[arg(long, value_name = "ID")]
        job: String,
        /// Output file.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Submit one job and print its ID.
    Submit {
        /// HOST:PORT (plaintext).
        #[arg(long)]
        target: String,
        #[command(flatten)]
        job: JobArgs,
    },
}

fn parse_start_at(s: &str) -> Result<SystemTime, String> {
    if let Ok(secs) = s.trim().parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Ok(UNIX_EPOCH + Duration::from_secs_f64(secs));
    }
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .map(SystemTime::from)
        .map_err(|e| {
            format!("{s:?} is neither RFC 3339 (2030-01-01T10:00:00Z) nor Unix seconds: {e}")
        })
}

fn split_weight(t: &str) -> anyhow::Result<(String, u32)> {
    match t.rsplit_once('=') {
        Some((addr, w)) => {
            let weight: u32 = w.trim().parse().with_context(|| {
                format!("--target {t:?}: the weight after '=' must be a whole number")
            })?;
            Ok((addr.trim().to_owned(), weight))
        }
        None => Ok((t.trim().to_owned(), 1)),
    }
}

fn command_line() -> String {
    let mut out = Vec::new();
    let mut hide = false;
    for a in std::env::args() {
        if hide {
            out.push(match a.split_once('=') {
                Some((k, _)) => format!("{k}=***"),
                None => "***".into(),
            });
            hide = false;
            continue;
        }
        hide = a == "--metadata";
        if let Some(rest) = a.strip_prefix("--metadata=") {
            let k = rest.split_once('=').map_or(rest, |(k, _)| k);
            out.push(format!("--metadata={k}=***"));
            continue;
        }
        out.push(a);
    }
    out.join(" ")
}

struct Prepared {
    config: RunConfig,
    thresholds: Vec<Threshold>,
    json: Option<PathBuf>,
    html: Option<PathBuf>,
    quiet: bool,
}

/// `--ca` without `--cert` and `--key`: server-only TLS. The connection
/// flags without `--ca`, and the server TLS, in that case.
fn server_only_tls(
    connect: &ConnectArgs,
) -> anyhow::Result<(std::borrow::Cow<'_, ConnectArgs>, Option<ServerTls>)> {
    let given = |p: &Option<PathBuf>| p.as_ref().is_some_and(|p| !p.as_os_str().is_empty());
    if !given(&connect.ca) || given(&connect.cert) || given(&connect.key) {
        return Ok((std::borrow::Cow::Borrowed(connect), None));
    }
    if connect.node.is_some() {
        bail!(
            "--ca alone means server-only TLS; --node takes mutual-TLS certificates from the rnx config: drop one"
        );
    }
    let server = ServerTls {
        ca_cert: connect.ca.clone().unwrap_or_default(),
        server_name: match connect.server_name.trim() {
            "" => joblet_testkit::target::DEFAULT_SERVER_NAME.to_owned(),
            s => s.to_owned(),
        },
    };
    let mut plain = connect.clone();
    plain.ca = None;
    Ok((std::borrow::Cow::Owned(plain), Some(server)))
}

/// The targets of the flags, with their weights and TLS.
fn targets(common: &CommonArgs) -> anyhow::Result<Vec<TargetSpec>> {
    let mut addrs = Vec::new();
    let mut weights = Vec::new();
    for t in &common.targets {
        let (addr, w) = split_weight(t)?;
        addrs.push(addr);
        weights.push(w);
    }
    let (connect, server_tls) = server_only_tls(&common.connect)?;
    let targets = connect.resolve(&addrs)?;
    if server_tls.is_some() && targets.is_empty() {
        bail!("--ca (server-only TLS) needs an endpoint: give --target HOST:PORT (or JOBLET_HOST)");
    }
    Ok(targets
        .into_iter()
        .enumerate()
        .map(|(i, mut target)| {
            target.request_timeout = None;
            TargetSpec {
                target,
                weight: weights.get(i).copied().unwrap_or(1),
                server_tls: server_tls.clone(),
            }
        })
        .collect())
}

fn prepare(common: &CommonArgs, plan: Plan, max_in_flight: u32) -> anyhow::Result<Prepared> {
    check_writable(common.json.as_deref(), "--json")?;
    check_writable(common.html.as_deref(), "--html")?;
    let targets = targets(common)?;
    let thresholds = rules(&common.thresholds, &plan.operations())?;
    let mut metadata = Vec::new();
    for kv in &common.metadata {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--metadata {kv:?}: write KEY=VALUE"))?;
        metadata.push((k.to_owned(), v.to_owned()));
    }
    let frame = common.h2_max_frame;
    if !(16_384..=16_777_215).contains(&frame) {
        bail!("--h2-max-frame must be between 16KiB and 16MiB-1");
    }
    let window = |v: u64, flag: &str| -> anyhow::Result<u32> {
        u32::try_from(v)
            .ok()
            .filter(|w| *w >= 65_535 && *w <= 0x7fff_ffff)
            .with_context(|| format!("{flag} must be between 64KiB and 2GiB-1"))
    };
    let config = RunConfig {
        plan,
        targets,
        connections: common.connections,
        threads: common.threads,
        max_in_flight,
        timeout: common.timeout,
        drain_timeout: common.drain_timeout,
        interval: common.interval,
        metadata,
        h2: H2Settings {
            stream_window: window(common.h2_stream_window, "--h2-stream-window")?,
            connection_window: window(common.h2_connection_window, "--h2-connection-window")?,
            max_frame_size: frame as u32,
            client: match common.h2_client {
                ClientArg::Own => H2Client::Own,
                ClientArg::H2 => H2Client::Crate,
            },
        },
        worker: WorkerShare {
            index: common.worker_index,
            count: common.worker_count,
        },
        keep_jobs: common.keep_jobs,
        max_tracked_jobs: common.max_tracked_jobs,
        server_metrics: !common.no_server_metrics,
        start_at: common.start_at,
        progress: match common.progress {
            ProgressArg::Auto => ProgressMode::Auto,
            ProgressArg::Plain => ProgressMode::Plain,
            ProgressArg::Off => ProgressMode::Off,
        },
        hdr_log: common.hdr_log.clone(),
        command_line: command_line(),
    };
    Ok(Prepared {
        config,
        thresholds,
        json: common.json.clone(),
        html: common.html.clone(),
        quiet: common.quiet,
    })
}

fn load(args: &LoadArgs) -> anyhow::Result<Load> {
    Ok(match (args.rate, args.concurrency) {
        (Some(0.0), _) => bail!("--rate must be above 0 (requests per second)"),
        (Some(r), _) => Load::Rate(r),
        (None, Some(0)) => bail!("--concurrency must be at least 1"),
        (None, c) => Load::Concurrency(c.unwrap_or(16)),
    })
}

/// Checks before the run that a report can be written where asked (a long
/// run should not end in "cannot write"), without creating the report
/// itself: a distributed run's merge step may be waiting for it to appear.
fn check_writable(path: Option<&Path>, flag: &str) -> anyhow::Result<()> {
    let Some(path) = path else { return Ok(()) };
    if path.is_dir() {
        bail!(
            "{flag} {}: is a directory, give a file name",
            path.display()
        );
    }
    let mut probe = path.as_os_str().to_owned();
    probe.push(".partial");
    let probe = PathBuf::from(probe);
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&probe)
        .with_context(|| format!("{flag} {}: cannot write there", path.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Turns the flags of a load subcommand into what to run.
fn prepare_command(command: &Command) -> anyhow::Result<Option<Prepared>> {
    // A one-stage run of `action` with the common flags.
    let single = |scenario: &str,
                  action: Action,
                  job: JobSpec,
                  load: Load,
                  common: &CommonArgs,
                  max_in_flight: u32| {
        let plan = Plan::single(
            scenario,
            action,
            job,
            load,
            common.duration,
            common.requests,
        )?;
        prepare(common, plan, max_in_flight)
    };
    Ok(Some(match command {
        Command::Submit(a) => single(
            "submit",
            Action::Call(Rpc::RunJob),
            a.job.spec()?,
            load(&a.load)?,
            &a.common,
            a.load.max_in_flight,
        )?,
        Command::Lifecycle(a) => {
            let follow = match a.poll {
                Some(d) if d.is_zero() => bail!("--poll must be above 0"),
                Some(d) => Follow::Poll(d),
                None => Follow::Logs,
            };
            single(
                "lifecycle",
                Action::Lifecycle(follow),
                a.job.spec()?,
                load(&a.load)?,
                &a.common,
                a.load.max_in_flight,
            )?
        }
        Command::Logs(a) => {
            if a.concurrency == 0 {
                bail!("--concurrency must be at least 1");
            }
            single(
                "logs",
                Action::LogStream { bytes: a.bytes },
                JobSpec::zeros(a.bytes),
                Load::Concurrency(a.concurrency),
                &a.common,
                a.concurrency,
            )?
        }
        Command::Mix(a) => {
            let text = std::fs::read_to_string(&a.plan)
                .with_context(|| format!("cannot read the plan {}", a.plan.display()))?;
            let plan = Plan::from_yaml(&text, &a.plan.display().to_string(), a.common.requests)?;
            if a.common.duration.is_some() {
                bail!(
                    "mix: the plan's stages set the duration; --duration does not apply (--requests does)"
                );
            }
            prepare(&a.common, plan, a.max_in_flight)?
        }
        _ => return Ok(None),
    }))
}

/// Installs the Ctrl-C handling: the first stops the run (it still drains,
/// cleans up and reports), the second exits at once.
fn on_ctrl_c(stop: Stop) {
    let _ = std::thread::Builder::new()
        .name("ctrl-c".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if tokio::signal::ctrl_c().await.is_err() {
                    return;
                }
                eprintln!(
                    "\nstopping: no new requests; draining in-flight ones, deleting the run's jobs, then reporting (Ctrl-C again to exit at once)"
                );
                stop.interrupt();
                if tokio::signal::ctrl_c().await.is_ok() {
                    eprintln!("exiting at once: jobs of this run may remain on the nodes");
                    std::process::exit(i32::from(EXIT_INTERRUPTED));
                }
            });
        });
}

fn outputs(
    report: &Report,
    json: Option<&PathBuf>,
    html: Option<&PathBuf>,
    quiet: bool,
) -> anyhow::Result<()> {
    if let Some(path) = json {
        report::json::write(report, path)?;
    }
    if let Some(path) = html {
        std::fs::write(path, report::html::render(report))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if !quiet {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(report::table::render(report).as_bytes());
    }
    Ok(())
}

fn exit_code(report: &Report) -> ExitCode {
    if report.cleanup.failed > 0 {
        eprintln!(
            "warning: {} job(s) of this run could not be deleted",
            report.cleanup.failed
        );
    }
    if report.thresholds.iter().any(|t| !t.pass) {
        eprintln!("a --threshold failed");
        return ExitCode::from(EXIT_THRESHOLD);
    }
    if report.interrupted {
        return ExitCode::from(EXIT_INTERRUPTED);
    }
    ExitCode::SUCCESS
}

/// Why a command failed: bad usage (exit 2, nothing was sent) or an error
/// while it ran (exit 1).
enum Failure {
    Usage(anyhow::Error),
    Run(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Self::Run(e)
    }
}

/// Parses and checks `--threshold` rules against the operations a report has.
fn rules(
    texts: &[String],
    ops: &std::collections::BTreeSet<crate::stats::Op>,
) -> anyhow::Result<Vec<Threshold>> {
    let rules = texts
        .iter()
        .map(|r| threshold::parse(r))
        .collect::<Result<Vec<_>, _>>()?;
    threshold::check(&rules, ops)?;
    Ok(rules)
}

fn execute_inner(cli: Cli) -> Result<ExitCode, Failure> {
    if let Some(p) = prepare_command(&cli.command).map_err(Failure::Usage)? {
        let stop = Stop::new();
        on_ctrl_c(stop.clone());
        let mut report = run::run(&p.config, &stop).map_err(|e| match e {
            run::RunError::Config(_) => Failure::Usage(e.into()),
            e => Failure::Run(e.into()),
        })?;
        report.thresholds = threshold::evaluate(&p.thresholds, &report);
        outputs(&report, p.json.as_ref(), p.html.as_ref(), p.quiet)?;
        return Ok(exit_code(&report));
    }
    match cli.command {
        Command::Merge(a) => {
            let reports = a
                .files
                .iter()
                .map(|f| report::json::read(f))
                .collect::<Result<Vec<_>, _>>()
                .map_err(anyhow::Error::from)?;
            let mut merged = crate::merge::merge(&reports).map_err(anyhow::Error::from)?;
            let ops = merged
                .operations
                .keys()
                .filter_map(|k| crate::stats::Op::from_name(k))
                .collect();
            let rules = rules(&a.thresholds, &ops).map_err(Failure::Usage)?;
            merged.thresholds = threshold::evaluate(&rules, &merged);
            outputs(&merged, a.json.as_ref(), a.html.as_ref(), a.quiet)?;
            Ok(exit_code(&merged))
        }
        Command::ValidateReport { files } => {
            let mut bad = 0;
            for f in &files {
                match report::json::read(f) {
                    Ok(_) => println!("{}: valid", f.display()),
                    Err(e) => {
                        eprintln!("{e}");
                        bad += 1;
                    }
                }
            }
            Ok(if bad == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Schema => {
            print!("{}", report::json::SCHEMA);
            Ok(ExitCode::SUCCESS)
        }
        Command::Wire(w) => Ok(wire(w).map(|()| ExitCode::SUCCESS)?),
        Command::Submit(_) | Command::Lifecycle(_) | Command::Logs(_) | Command::Mix(_) => {
            unreachable!("load commands are prepared above")
        }
    }
}

fn wire(w: WireArgs) -> anyhow::Result<()> {
    match w.what {
        WireCommand::RunJob { job, out } => {
            std::fs::write(&out, grpc::frame(&job.spec()?.request()))
                .with_context(|| format!("cannot write {}", out.display()))?;
        }
        WireCommand::GetJobLogs { job, out } => {
            let req = joblet_testkit::pb::GetJobLogsReq { uuid: job };
            std::fs::write(&out, grpc::frame(&req))
                .with_context(|| format!("cannot write {}", out.display()))?;
        }
        WireCommand::Submit { target, job } => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let id = rt.block_on(async {
                let ep = transport::Endpoint::new(
                    &joblet_testkit::Target::plaintext(target),
                    None,
                    &[],
                    H2Settings::default(),
                )?;
                let conn = transport::Conn::new(std::sync::Arc::new(ep));
                let msg = conn
                    .unary(Rpc::RunJob, grpc::frame(&job.spec()?.request()))
                    .await?;
                let id = crate::ops::proto_string(&msg, 1)
                    .context("RunJob answered without a job ID")?
                    .to_owned();
                anyhow::Ok(id)
            })?;
            println!("{id}");
        }
    }
    Ok(())
}

/// Runs a parsed command line and returns the process's exit code (errors
/// are printed with their causes): 2 for bad usage found before anything was
/// sent (flag values, thresholds, plans, certificates), 1 for errors while
/// running.
pub fn execute(cli: Cli) -> ExitCode {
    match execute_inner(cli) {
        Ok(code) => code,
        Err(Failure::Usage(e)) => {
            eprintln!(
                "joblet-loadgen: error: {}\n\nFor more information, try '--help'.",
                joblet_testkit::error_chain(e.as_ref())
            );
            ExitCode::from(EXIT_USAGE)
        }
        Err(Failure::Run(e)) => {
            eprintln!(
                "joblet-loadgen: {}",
                joblet_testkit::error_chain(e.as_ref())
            );
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("joblet-loadgen").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn rate_and_concurrency_exclude_each_other() {
        let e = parse(&["submit", "--rate", "5", "--concurrency", "2"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict);
    }

    #[test]
    fn targets_carry_weights() {
        assert_eq!(split_weight("h:1=3").unwrap(), ("h:1".into(), 3));
        assert_eq!(
            split_weight("[::1]:50051").unwrap(),
            ("[::1]:50051".into(), 1)
        );
        assert!(split_weight("h:1=x").is_err());
    }

    #[test]
    fn a_threshold_on_an_operation_the_run_lacks_is_refused_before_it_runs() {
        let cli = parse(&["submit", "--requests", "5", "--threshold", "logs.mbps>5"]).unwrap();
        let err = prepare_command(&cli.command)
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains("no logs operation"), "{err}");
    }

    #[test]
    fn start_times_parse() {
        assert_eq!(
            parse_start_at("10").unwrap(),
            UNIX_EPOCH + Duration::from_secs(10)
        );
        assert!(parse_start_at("2030-01-01T00:00:00Z").is_ok());
        assert!(parse_start_at("soon").is_err());
    }
}
