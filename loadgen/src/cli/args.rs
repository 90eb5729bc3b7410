//! The command line's shape: [`Cli`], its [`Command`]s and their flags
//! (clap derive). What the flags become is [`super::prepare`]'s business.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use joblet_testkit::cli::ConnectArgs;
use joblet_testkit::contract::Api;

use crate::plan::JobSpec;
use crate::units::{parse_bytes, parse_duration, parse_fraction};

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
  joblet-loadgen metrics --jobs 4 --followers 8 --telematics --duration 10s --embedded-api v2
  joblet-loadgen capacity --slo 'submit.p99<20ms' --slo 'errors<0.1%' --html capacity.html
  joblet-loadgen merge worker-*.json --json merged.json --html merged.html

Exit codes: 0 done (capacity: found), 1 error (also: jobs of the run could not be deleted), \
2 bad usage, 3 a --threshold failed (capacity: not even the lowest rate met the SLO), \
130 stopped by Ctrl-C."
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
    /// The telemetry path of a v2 node: --jobs jobs at once, each followed by
    /// --followers readers of StreamJobMetrics (and of StreamJobTelematics
    /// with --telematics): events/s, event delay, stream set-up time, errors.
    Metrics(MetricsArgs),
    /// Find the highest arrival rate at which every --slo rule holds (steps up,
    /// then bisects; repeats near the boundary).
    Capacity(CapacityArgs),
    /// Combine the JSON reports of a distributed run's workers (histograms added).
    Merge(MergeArgs),
    /// Check JSON reports (run, merged or capacity) against the report schema.
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

/// How to reach the targets and how to talk to them: what every command
/// that loads a node shares (the load scenarios and `capacity`).
#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
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
    /// Send a keepalive PING on every connection this often; a connection
    /// whose ACK has not come back by the next one is dead and reopened
    /// [default: no keepalive pings].
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", help_heading = "HTTP/2")]
    pub h2_keepalive: Option<Duration>,
    /// The contract the targets speak, which sets the messages sent: auto
    /// (detected: GetSystemStatus server_version, then probes), v1
    /// (v1.0.6), v2 (v2.5.9) or both.
    #[arg(
        long,
        value_enum,
        env = "JOBLET_CONTRACT",
        default_value_t = ContractArg::Auto,
        value_name = "CONTRACT"
    )]
    pub contract: ContractArg,
    /// The contract the embedded mock serves (only without a target): v1,
    /// v2 or both.
    #[arg(long, value_enum, default_value_t = Api::Both, value_name = "CONTRACT")]
    pub embedded_api: Api,
}

/// `--contract`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ContractArg {
    /// Detect it.
    Auto,
    /// v1.0.6.
    V1,
    /// v2.5.9.
    V2,
    /// Both (v1 messages unless the run needs v2).
    Both,
}

impl ContractArg {
    /// The contract given (`None`: detect it).
    pub fn given(self) -> Option<Api> {
        match self {
            ContractArg::Auto => None,
            ContractArg::V1 => Some(Api::V1),
            ContractArg::V2 => Some(Api::V2),
            ContractArg::Both => Some(Api::Both),
        }
    }
}

/// Flags every load scenario shares.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Targets, TLS, connections, timeouts.
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// How long to run (10s, 1m30s) [default: 10s unless --requests is given].
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub duration: Option<Duration>,
    /// Stop after this many actions in all (split among --worker-count workers).
    #[arg(long, value_name = "N")]
    pub requests: Option<u64>,
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
    /// Longest run time of each job, a Go duration (30s, 1m30s): RunJob's
    /// `timeout`, contract v2 only (refused against a v1 node).
    #[arg(long, value_parser = parse_job_timeout, value_name = "DURATION", help_heading = "Job")]
    pub job_timeout: Option<String>,
}

/// Checks `--job-timeout` (Go syntax, above 0) and keeps it as written.
fn parse_job_timeout(text: &str) -> Result<String, String> {
    crate::units::go_duration(text)
        .map(|_| text.to_owned())
        .map_err(|e| e.to_string())
}

impl JobArgs {
    pub(super) fn spec(&self) -> anyhow::Result<JobSpec> {
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
            timeout: self.job_timeout.clone().unwrap_or_default(),
        })
    }
}

/// `submit`.
#[derive(Debug, Clone, Args)]
pub struct SubmitArgs {
    #[command(flatten)]
    pub(super) load: LoadArgs,
    #[command(flatten)]
    pub(super) job: JobArgs,
    #[command(flatten)]
    pub(super) common: CommonArgs,
}

/// `lifecycle`.
#[derive(Debug, Clone, Args)]
pub struct LifecycleArgs {
    #[command(flatten)]
    pub(super) load: LoadArgs,
    /// Follow jobs by polling GetJobStatus at this interval instead of
    /// reading their log streams.
    #[arg(long, value_parser = parse_duration, value_name = "INTERVAL")]
    pub(super) poll: Option<Duration>,
    #[command(flatten)]
    pub(super) job: JobArgs,
    #[command(flatten)]
    pub(super) common: CommonArgs,
}

/// `logs`.
#[derive(Debug, Clone, Args)]
pub struct LogsArgs {
    /// Log streams read at once.
    #[arg(long, short = 'c', default_value_t = 1, value_name = "N")]
    pub(super) concurrency: u32,
    /// Bytes each job writes (`head -c BYTES /dev/zero`): 64MiB, 1GiB, 4096.
    #[arg(long, value_parser = parse_bytes, default_value = "64MiB", value_name = "SIZE")]
    pub(super) bytes: u64,
    #[command(flatten)]
    pub(super) common: CommonArgs,
}

/// `metrics`.
#[derive(Debug, Clone, Args)]
pub struct MetricsArgs {
    /// Jobs followed at once (closed model: a job that ends is replaced).
    #[arg(long, default_value_t = 4, value_name = "M")]
    pub(super) jobs: u32,
    /// Readers of each job's StreamJobMetrics (and of its
    /// StreamJobTelematics with --telematics).
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub(super) followers: u32,
    /// Follow StreamJobTelematics too (every event type).
    #[arg(long)]
    pub(super) telematics: bool,
    /// How long each job runs: a shell loop that starts a short process every
    /// 100 ms (telematics `exec` events) for this long.
    #[arg(long, value_parser = parse_duration, default_value = "60s", value_name = "DURATION")]
    pub(super) job_length: Duration,
    /// Longest run time of each job (RunJob `timeout`, Go syntax).
    #[arg(long, value_parser = parse_job_timeout, value_name = "DURATION")]
    pub(super) job_timeout: Option<String>,
    #[command(flatten)]
    pub(super) common: CommonArgs,
}

/// `mix`.
#[derive(Debug, Clone, Args)]
pub struct MixArgs {
    /// The plan (YAML: job, operations with weights, stages).
    #[arg(value_name = "PLAN")]
    pub(super) plan: PathBuf,
    /// Most actions in flight during rate stages.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    pub(super) max_in_flight: u32,
    #[command(flatten)]
    pub(super) common: CommonArgs,
}

/// `capacity`.
#[derive(Debug, Clone, Args)]
pub struct CapacityArgs {
    /// An SLO rule, in the --threshold syntax (repeatable, at least one):
    /// submit.p99<50ms, errors<0.1%, final.p99<2s, status.p99<20ms.
    #[arg(long = "slo", value_name = "RULE", required = true)]
    pub(super) slo: Vec<String>,
    /// Load a mix plan's operations at each rate, by their weights (its
    /// job too; its stages are ignored). Default: RunJob alone (submit).
    #[arg(long, value_name = "PLAN", conflicts_with = "lifecycle")]
    pub(super) plan: Option<PathBuf>,
    /// Load lifecycles (RunJob, then the job followed to its final state).
    #[arg(long)]
    pub(super) lifecycle: bool,
    /// With --lifecycle: poll GetJobStatus at this interval instead of
    /// reading log streams.
    #[arg(long, value_parser = parse_duration, value_name = "INTERVAL", requires = "lifecycle")]
    pub(super) poll: Option<Duration>,
    /// First rate of the step-up (per second).
    #[arg(
        long,
        default_value_t = 50.0,
        value_name = "PER_SECOND",
        help_heading = "Search"
    )]
    pub(super) start_rate: f64,
    /// Highest rate tried (per second).
    #[arg(
        long,
        default_value_t = 1_000_000.0,
        value_name = "PER_SECOND",
        help_heading = "Search"
    )]
    pub(super) max_rate: f64,
    /// Factor between the step-up's rates.
    #[arg(
        long,
        default_value_t = 2.0,
        value_name = "FACTOR",
        help_heading = "Search"
    )]
    pub(super) growth: f64,
    /// Stop when the highest passing and the lowest failing rate are this
    /// close (5%, 0.05).
    #[arg(long, value_parser = parse_fraction, default_value = "5%", value_name = "FRACTION", help_heading = "Search")]
    pub(super) precision: f64,
    /// Measured length of each step.
    #[arg(long, value_parser = parse_duration, default_value = "5s", value_name = "DURATION", help_heading = "Search")]
    pub(super) step_duration: Duration,
    /// Warm-up at each step's rate before it is measured.
    #[arg(long, value_parser = parse_duration, default_value = "2s", value_name = "DURATION", help_heading = "Search")]
    pub(super) warmup: Duration,
    /// Steps near the boundary repeat until a majority of this many agree.
    #[arg(long, default_value_t = 3, value_name = "N", help_heading = "Search")]
    pub(super) confirm: u32,
    /// A step that fails while the generator's own start lag p90 (with
    /// workers free) is above this is the generator's limit, not the node's
    /// [default: a quarter of the tightest latency rule, 1ms to 100ms; 5ms
    /// without one].
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", help_heading = "Search")]
    pub(super) max_generator_lag: Option<Duration>,
    /// Most actions in flight (more wait, and their wait counts).
    #[arg(long, default_value_t = 1024, value_name = "N")]
    pub(super) max_in_flight: u32,
    /// Write the JSON report (schema: `joblet-loadgen schema`, kind capacity).
    #[arg(long, value_name = "FILE")]
    pub(super) json: Option<PathBuf>,
    /// Write a self-contained HTML report: rate against latency and errors,
    /// the SLO lines and the capacity marked.
    #[arg(long, value_name = "FILE")]
    pub(super) html: Option<PathBuf>,
    #[command(flatten)]
    pub(super) job: JobArgs,
    #[command(flatten)]
    pub(super) conn: ConnectionArgs,
}

/// `merge`.
#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// The workers' JSON reports.
    #[arg(required = true, value_name = "FILE")]
    pub(super) files: Vec<PathBuf>,
    /// Write the merged JSON report.
    #[arg(long, value_name = "FILE")]
    pub(super) json: Option<PathBuf>,
    /// Write the merged HTML report.
    #[arg(long, value_name = "FILE")]
    pub(super) html: Option<PathBuf>,
    /// A pass/fail rule on the merged figures (repeatable).
    #[arg(long = "threshold", value_name = "RULE")]
    pub(super) thresholds: Vec<String>,
    /// Do not print the table.
    #[arg(long, short)]
    pub(super) quiet: bool,
}

/// `wire` (hidden): helpers for comparing with h2load.
#[derive(Debug, Clone, Args)]
pub struct WireArgs {
    #[command(subcommand)]
    pub(super) what: WireCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub(super) enum WireCommand {
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

pub(super) fn parse_start_at(s: &str) -> Result<SystemTime, String> {
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
    fn capacity_needs_an_slo_and_takes_one_kind_of_load() {
        let e = parse(&["capacity"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        let e = parse(&[
            "capacity",
            "--slo",
            "errors<1%",
            "--plan",
            "p.yaml",
            "--lifecycle",
        ])
        .unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict);
        let e = parse(&["capacity", "--slo", "errors<1%", "--precision", "150%"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation);
        let cli = parse(&["capacity", "--slo", "submit.p99<20ms", "--precision", "2%"]).unwrap();
        let Command::Capacity(a) = cli.command else {
            panic!("capacity")
        };
        assert_eq!((a.precision, a.confirm, a.start_rate), (0.02, 3, 50.0));
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
