//! `joblet-conformance`: certify a Joblet endpoint against the documented
//! behaviours (see `--help`). The logic lives in the library; this file parses
//! flags, sets up logging and reports.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use joblet_conformance::cases::catalogue;
use joblet_conformance::embedded::Embedded;
use joblet_conformance::mutants::{self, MutantsConfig};
use joblet_conformance::report::{self, JsonReport};
use joblet_conformance::runner::{
    self, Outcome, Progress, RunConfig, Selection, State, parse_duration,
};
use joblet_conformance::{Effect, Targets};
use joblet_mock::{MockConfig, Mutant, Profile};
use joblet_testkit::cli::ConnectArgs;
use tokio_util::sync::CancellationToken;

const ABOUT: &str = "Certify a Joblet v1 endpoint against every documented behaviour.";

const LONG_ABOUT: &str = "\
Certify a Joblet v1 endpoint against every documented behaviour.

Runs a catalogue of named cases (`--list` shows them: name, behaviour IDs, MUST or
SHOULD, read-only or mutating) against a node and reports Pass / Fail / Skip / Error
per case. With no --target (and no --node or JOBLET_HOST) it starts an embedded mock
and certifies that.

Safe on shared nodes: everything a case creates carries the prefix cf-<run id>- and
is stopped, deleted or removed when the case ends; nothing else is ever touched. Two
things are opt-in: --allow-delete-all (DeleteAllJobs deletes EVERY finished job on the
node) and --allow-remote-installs (the node downloads a runtime from GitHub).
--read-only runs only cases that create nothing.

Exit code: 0 when no MUST case failed or errored, 1 otherwise, 2 on bad usage.";

const EXAMPLES: &str = "\
Examples:
  joblet-conformance                                  # certify the embedded mock
  joblet-conformance --list                           # the catalogue
  joblet-conformance --target node1:50051 --ca ca.pem --cert admin.pem --key admin-key.pem \\
      --viewer-cert viewer.pem --viewer-key viewer-key.pem --junit report.xml
  joblet-conformance --node prod --viewer-node prod-viewer --read-only   # from ~/.rnx/rnx-config.yml
  joblet-conformance --focus 'jobs.stop.*' --focus JOB-LOGS-1 -v
  joblet-conformance --rerun-failed report.json --target node1:50051 --ca ... 
  joblet-conformance mutants                          # prove every case can fail
  joblet-conformance record --upstream node1:50051 --node prod --out app.jsonl   # record your client's calls
  joblet-conformance replay app.jsonl --node prod     # replay them against a node (or --target)";

#[derive(Debug, Parser)]
#[command(name = "joblet-conformance", version, about = ABOUT, long_about = LONG_ABOUT, after_help = EXAMPLES, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the catalogue against every mutant of the embedded mock and print
    /// the kill matrix (mutant, behaviour, cases that caught it; last line
    /// `killed K/N`). Exit code 1 if any mutant survived.
    Mutants(MutantsArgs),
    /// A recording proxy: listen for Joblet clients, forward every call to
    /// the upstream endpoint, and record the calls of the five Joblet
    /// services with their whole answers into a transcript (JSON Lines)
    /// until Ctrl-C or SIGTERM.
    #[command(long_about = RECORD_ABOUT, after_help = RECORD_EXAMPLES)]
    Record(Box<RecordArgs>),
    /// Replay transcripts against an endpoint (an embedded mock without
    /// --target) and compare every answer with the recorded one. Exit code 1
    /// on any difference.
    #[command(long_about = REPLAY_ABOUT, after_help = REPLAY_EXAMPLES)]
    Replay(Box<ReplayArgs>),
}

const RECORD_ABOUT: &str = "\
A recording proxy in front of any Joblet endpoint.

Clients connect to the proxy instead of the node: in plaintext (--listen), over
mutual TLS (--tls-listen, with certificates it generates into --certs-dir,
rnx-config.yml included, or given with --tls-cert/--tls-key/--client-ca), or
both. Every call is forwarded with its metadata (mock sessions work through it)
and answered as the upstream answers. The calls of the five Joblet services are
written to --out as they complete, one JSON line each with the request and the
whole answer (control API, health and reflection are forwarded, not recorded).

Toward the upstream the proxy speaks plaintext, or mutual TLS with the identity
it is given (--ca/--cert/--key, or --rnx-config FILE --node NAME); a TLS client's
role is its certificate's OU, and its calls go out with the identity given for
that role (--viewer-node, --no-role-node).";

const RECORD_EXAMPLES: &str = "\
Examples:
  # your client against your node, through the proxy (plaintext toward the client)
  joblet-conformance record --listen 127.0.0.1:50061 --rnx-config ~/.rnx/rnx-config.yml \\
      --node prod --out app.jsonl
  # mutual TLS toward the client too: point it at /tmp/proxy-certs/rnx-config.yml
  joblet-conformance record --tls-listen 127.0.0.1:50062 --certs-dir /tmp/proxy-certs \\
      --no-plaintext --upstream 127.0.0.1:50051 --out app.jsonl";

const REPLAY_ABOUT: &str = "\
Replay transcripts against an endpoint and compare every answer.

Calls run in the recorded order (calls that overlapped in the recording overlap
again), each recorded session in a session of its own. IDs the target returns
stand for the recorded ones in later requests and answers; networks and volumes
the transcript creates get the prefix rp<run id>s<n>-; schedules move with the
clock. A differing read is repeated until it matches (or matches a later
recorded answer to the same request) or its settle time (at most --settle)
runs out.

Answers are compared by rule: codes, status strings, messages and log bytes
exactly, UUIDs through the ID map, times by shape, monitoring figures by type
and range. --rules FILE (YAML: `- path: GetSystemStatus.cpu.usagePercent` /
`rule: range 0..100`) relaxes fields; its rules win over the built-in ones.
Each call is one outcome of the usual reports (human, --json, --junit).

Exit code: 0 when every call answered as recorded, 1 on any difference or
error, 2 on bad usage.";

const REPLAY_EXAMPLES: &str = "\
Examples:
  joblet-conformance replay app.jsonl --rnx-config ~/.rnx/rnx-config.yml --node prod
  joblet-conformance replay node.jsonl --profile server-v1   # an embedded server-v1 mock
  joblet-conformance replay fixtures/transcripts/*.jsonl --target 127.0.0.1:50051 \\
      --allow-delete-all --rules relax.yaml --junit replay.xml --json replay.json";

#[derive(Debug, clap::Args)]
struct RecordArgs {
    /// Plaintext (h2c) listener for clients; every plaintext client is admin.
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:50061",
        help_heading = "Listening"
    )]
    listen: std::net::SocketAddr,
    /// Serve only --tls-listen.
    #[arg(long, requires = "tls_listen", help_heading = "Listening")]
    no_plaintext: bool,
    /// Mutual-TLS listener for clients (client certificate required; its OU
    /// is the role).
    #[arg(long, value_name = "ADDR", help_heading = "Listening")]
    tls_listen: Option<std::net::SocketAddr>,
    /// Generate a CA, the proxy's server certificate, admin, viewer and
    /// norole client certificates and an rnx-config.yml pointing at the
    /// proxy into DIR.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["tls_cert", "tls_key", "client_ca"], help_heading = "Listening")]
    certs_dir: Option<PathBuf>,
    /// The proxy's server certificate (PEM) instead of --certs-dir.
    #[arg(long, value_name = "FILE", requires_all = ["tls_key", "client_ca"], help_heading = "Listening")]
    tls_cert: Option<PathBuf>,
    /// Its key.
    #[arg(long, value_name = "FILE", help_heading = "Listening")]
    tls_key: Option<PathBuf>,
    /// The CA that signed the clients' certificates.
    #[arg(long, value_name = "FILE", help_heading = "Listening")]
    client_ca: Option<PathBuf>,

    /// The endpoint behind the proxy, HOST:PORT: plaintext, or mutual TLS
    /// with --ca/--cert/--key. Default: the --node's address, else
    /// JOBLET_HOST[:JOBLET_PORT].
    #[arg(long, value_name = "HOST:PORT", help_heading = "Connection")]
    upstream: Option<String>,
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(flatten)]
    roles: RoleArgs,

    /// The transcript to write (JSON Lines; created or truncated).
    #[arg(long, short = 'o', value_name = "FILE")]
    out: PathBuf,
    /// Log bytes kept per GetJobLogs call (beyond it, their count and SHA-256).
    #[arg(long, value_name = "BYTES", default_value_t = joblet_mock::transcript::DEFAULT_LOG_LIMIT)]
    log_limit: usize,
}

#[derive(Debug, clap::Args)]
struct ReplayArgs {
    /// Transcripts (JSON Lines), replayed one after the other.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
    /// The endpoint, HOST:PORT: plaintext, or mutual TLS with --ca/--cert/--key.
    /// Default: JOBLET_HOST[:JOBLET_PORT], else an embedded mock.
    #[arg(long, value_name = "HOST:PORT", help_heading = "Connection")]
    target: Option<String>,
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(flatten)]
    roles: RoleArgs,
    /// Profile of the embedded mock (only without a target; also
    /// `--profile`): `server-v1` answers as the deployed server does.
    #[arg(
        long,
        visible_alias = "profile",
        value_enum,
        default_value = "documented",
        help_heading = "Connection"
    )]
    mock_profile: Profile,

    /// Comparison rules (YAML) applied after the built-in ones.
    #[arg(long, value_name = "FILE", help_heading = "Comparing")]
    rules: Option<PathBuf>,
    /// Longest a differing read is repeated before it counts as a difference.
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION", help_heading = "Comparing")]
    settle: Duration,
    /// Longest one call may take (a stream that does not end fails).
    #[arg(long, default_value = "60s", value_parser = parse_positive_duration, value_name = "DURATION", help_heading = "Comparing")]
    call_timeout: Duration,
    /// `asap`: each call as soon as the calls before it allow; `recorded`:
    /// with the recorded gaps.
    #[arg(long, value_enum, default_value = "asap", help_heading = "Comparing")]
    pace: joblet_conformance::replay::Pace,

    /// Replay DeleteAllJobs: it deletes EVERY finished job on the node, other
    /// clients' too. Without it those calls are skipped.
    #[arg(long, help_heading = "Opt-ins")]
    allow_delete_all: bool,
    /// Replay installs from GitHub (the node downloads).
    #[arg(long, help_heading = "Opt-ins")]
    allow_remote_installs: bool,
    /// Leave what the replay created (by default it is removed at the end).
    #[arg(long, help_heading = "Opt-ins")]
    no_cleanup: bool,
    /// Run ID: created names get rp<ID>s<n>- (default: random).
    #[arg(long, value_name = "ID", value_parser = parse_run_id)]
    run_id: Option<String>,

    /// Write the JSON report (schema: conformance/schema/report.schema.json).
    #[arg(long, value_name = "FILE", help_heading = "Reports")]
    json: Option<PathBuf>,
    /// Write a JUnit XML report (a test suite per transcript).
    #[arg(long, value_name = "FILE", help_heading = "Reports")]
    junit: Option<PathBuf>,
    /// List the calls that answered as recorded too.
    #[arg(short, long, help_heading = "Reports")]
    verbose: bool,
}

#[derive(Debug, clap::Args)]
struct SelectArgs {
    /// Run only cases whose name or a behaviour ID matches GLOB (`*`, `?`;
    /// repeatable, or comma-separated): `jobs.stop.*`, `JOB-LOGS-?`.
    #[arg(
        long,
        value_name = "GLOB",
        value_delimiter = ',',
        help_heading = "Selection"
    )]
    focus: Vec<String>,
    /// Leave out cases whose name or a behaviour ID matches GLOB.
    #[arg(
        long,
        value_name = "GLOB",
        value_delimiter = ',',
        help_heading = "Selection"
    )]
    skip: Vec<String>,
    /// Per-case deadline (a case that has no verdict by then fails).
    #[arg(long, default_value = "30s", value_parser = parse_positive_duration, value_name = "DURATION", help_heading = "Running")]
    case_timeout: Duration,
    /// Cases run at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256), help_heading = "Running")]
    parallel: u16,
}

/// Extra identities on the same node: a viewer, and a certificate without a
/// role.
#[derive(Debug, Clone, Default, clap::Args)]
struct RoleArgs {
    /// The rnx-config node of a viewer identity (the role cases AUTH-4/5;
    /// the viewer's calls of a transcript).
    #[arg(long, value_name = "NAME", help_heading = "Roles")]
    viewer_node: Option<String>,
    /// Client certificate with OU viewer (same CA as --ca).
    #[arg(long, value_name = "FILE", help_heading = "Roles")]
    viewer_cert: Option<PathBuf>,
    /// Key of --viewer-cert.
    #[arg(long, value_name = "FILE", help_heading = "Roles")]
    viewer_key: Option<PathBuf>,
    /// The rnx-config node of a certificate with no role (OU neither admin nor
    /// viewer): AUTH-3, and such calls of a transcript.
    #[arg(long, value_name = "NAME", help_heading = "Roles")]
    no_role_node: Option<String>,
    /// Client certificate whose OU is neither admin nor viewer.
    #[arg(long, value_name = "FILE", help_heading = "Roles")]
    no_role_cert: Option<PathBuf>,
    /// Key of --no-role-cert.
    #[arg(long, value_name = "FILE", help_heading = "Roles")]
    no_role_key: Option<PathBuf>,
}

impl RoleArgs {
    fn any(&self) -> bool {
        self.viewer_node.is_some()
            || self.viewer_cert.is_some()
            || self.no_role_node.is_some()
            || self.no_role_cert.is_some()
    }

    /// The main target with the viewer and no-role identities these flags give.
    fn targets(
        &self,
        connect: &ConnectArgs,
        main: joblet_testkit::Target,
    ) -> anyhow::Result<Targets> {
        let viewer = connect.role_target(
            &main,
            "--viewer",
            self.viewer_node.as_deref(),
            self.viewer_cert.as_ref(),
            self.viewer_key.as_ref(),
        )?;
        let no_role = connect.role_target(
            &main,
            "--no-role",
            self.no_role_node.as_deref(),
            self.no_role_cert.as_ref(),
            self.no_role_key.as_ref(),
        )?;
        Ok(Targets {
            main,
            viewer,
            no_role,
        })
    }
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The endpoint, HOST:PORT: plaintext, or mutual TLS with --ca/--cert/--key.
    /// Default: JOBLET_HOST[:JOBLET_PORT], else an embedded mock.
    #[arg(long, value_name = "HOST:PORT", help_heading = "Connection")]
    target: Option<String>,
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(flatten)]
    roles: RoleArgs,

    /// Print the catalogue (name, IDs, level, read-only/mutating) and exit.
    #[arg(long, help_heading = "Selection")]
    list: bool,
    #[command(flatten)]
    select: SelectArgs,
    /// Run only cases that change nothing: no job, network, volume or runtime
    /// is created (for production nodes).
    #[arg(long, help_heading = "Selection")]
    read_only: bool,
    /// Run only the cases that failed or errored in this JSON report.
    #[arg(long, value_name = "REPORT.json", help_heading = "Selection")]
    rerun_failed: Option<PathBuf>,
    /// Allow DeleteAllJobs (JOB-DELALL-1): it deletes EVERY finished job on the
    /// node, other clients' too. Without it that case is skipped.
    #[arg(long, help_heading = "Opt-ins")]
    allow_delete_all: bool,
    /// Allow installing a runtime from GitHub (the node downloads it).
    #[arg(long, help_heading = "Opt-ins")]
    allow_remote_installs: bool,

    /// Run the selection N times (flakiness hunting).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000), help_heading = "Running")]
    repeat: u32,
    /// Deadline of the whole run; cases not run by then are Errors.
    #[arg(long, default_value = "30m", value_parser = parse_positive_duration, value_name = "DURATION", help_heading = "Running")]
    timeout: Duration,
    /// Run ID: resources are named cf-<ID>-… (default: random, 6 characters).
    #[arg(long, value_name = "ID", value_parser = parse_run_id, help_heading = "Running")]
    run_id: Option<String>,
    /// Profile of the embedded mock (only without a target): `server-v1`
    /// shows which cases the deployed server's quirks fail.
    #[arg(
        long,
        value_enum,
        default_value = "documented",
        help_heading = "Running"
    )]
    mock_profile: Profile,

    /// Write the JSON report (schema: conformance/schema/report.schema.json).
    #[arg(long, value_name = "FILE", help_heading = "Reports")]
    json: Option<PathBuf>,
    /// Write a JUnit XML report.
    #[arg(long, value_name = "FILE", help_heading = "Reports")]
    junit: Option<PathBuf>,
    /// List passing cases too.
    #[arg(short, long, help_heading = "Reports")]
    verbose: bool,
}

#[derive(Debug, clap::Args)]
struct MutantsArgs {
    /// Only these mutants (`joblet-mock --list-mutants`; repeatable).
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    mutant: Vec<String>,
    /// Against each mutant, run only the cases whose IDs include the mutated
    /// behaviour (faster; the full catalogue otherwise).
    #[arg(long)]
    covering_only: bool,
    /// Mutants run at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    parallel_mutants: u16,
    #[command(flatten)]
    select: SelectArgs,
    /// Write the kill matrix as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

fn parse_run_id(s: &str) -> Result<String, String> {
    if !s.is_empty()
        && s.len() <= 32
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        Ok(s.to_owned())
    } else {
        Err(format!("{s:?}: a run ID is 1-32 characters of a-z and 0-9"))
    }
}

/// Live progress on a terminal: one line, redrawn.
struct Bar {
    bar: indicatif::ProgressBar,
    counts: parking_lot::Mutex<[usize; 4]>,
}

impl Bar {
    fn new(total: usize) -> Self {
        let bar = if std::io::stderr().is_terminal() {
            indicatif::ProgressBar::new(total as u64)
        } else {
            indicatif::ProgressBar::hidden()
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template("[{pos}/{len}] {elapsed:>3} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Self {
            bar,
            counts: parking_lot::Mutex::new([0; 4]),
        }
    }
}

impl Progress for Bar {
    fn started(&self, case: &str) {
        let c = *self.counts.lock();
        self.bar.set_message(format!(
            "{} pass {} fail {} skip {} error | {case}",
            c[0], c[1], c[2], c[3]
        ));
    }

    fn finished(&self, o: &Outcome) {
        let mut c = self.counts.lock();
        c[match o.state {
            State::Pass => 0,
            State::Fail => 1,
            State::Skip => 2,
            State::Error => 3,
        }] += 1;
        self.bar.inc(1);
        self.bar.set_message(format!(
            "{} pass {} fail {} skip {} error | {}",
            c[0], c[1], c[2], c[3], o.case
        ));
        if o.state == State::Fail && !self.bar.is_hidden() {
            self.bar.println(format!(
                "FAIL {}: {}",
                o.case,
                o.message.clone().unwrap_or_default()
            ));
        }
    }
}

fn print_list(read_only: bool) {
    for c in catalogue() {
        if read_only && c.effect != Effect::ReadOnly {
            continue;
        }
        let quirks = if c.quirks.is_empty() {
            String::new()
        } else {
            format!("  (server-v1: {})", c.quirks.join(", "))
        };
        println!(
            "{:<66} {:<34} {:<6} {:<9}{quirks}",
            c.name,
            c.ids.join(","),
            c.level.to_string(),
            c.effect.to_string()
        );
    }
}

fn ctrl_c(cancel: CancellationToken) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "\ninterrupted: stopping the cases and cleaning up (Ctrl-C again to quit at once)"
            );
            cancel.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("quitting without cleanup: resources named cf-<run id>-… may remain");
                std::process::exit(130);
            }
        }
    });
}

fn write(path: &Path, text: &str, what: &str) -> anyhow::Result<()> {
    std::fs::write(path, text)
        .with_context(|| format!("cannot write the {what} to {}", path.display()))
}

async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    if args.list {
        print_list(args.read_only);
        return Ok(ExitCode::SUCCESS);
    }
    let mut selection = Selection {
        focus: args.select.focus.clone(),
        skip: args.select.skip.clone(),
        read_only: args.read_only,
        only: None,
    };
    if let Some(path) = &args.rerun_failed {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("--rerun-failed: cannot read {}", path.display()))?;
        let old = JsonReport::parse(&text).with_context(|| {
            format!(
                "--rerun-failed: {} is not a joblet-conformance JSON report",
                path.display()
            )
        })?;
        let names: std::collections::BTreeSet<String> = old
            .run
            .outcomes
            .iter()
            .filter(|o| matches!(o.state, State::Fail | State::Error))
            .map(|o| o.case.clone())
            .collect();
        if names.is_empty() {
            eprintln!(
                "--rerun-failed: {} has no failed or errored case: nothing to run",
                path.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        selection.only = Some(names);
    }
    let cases = selection.apply(catalogue());
    if cases.is_empty() {
        bail!(
            "no case matches the selection (--focus/--skip/--read-only/--rerun-failed); `--list` shows the catalogue"
        );
    }
    check_report_paths(&[
        (args.json.as_deref(), "JSON report"),
        (args.junit.as_deref(), "JUnit report"),
    ])?;
    let targets: Vec<String> = args.target.iter().cloned().collect();
    let resolved = args.connect.resolve(&targets)?;
    let mut embedded = None;
    let mut options = joblet_conformance::Options {
        allow_delete_all: args.allow_delete_all,
        allow_remote_installs: args.allow_remote_installs,
        case_timeout: args.select.case_timeout,
    };
    let targets = match resolved.into_iter().next() {
        Some(main) => args.roles.targets(&args.connect, main)?,
        None => {
            if args.roles.any() {
                bail!(
                    "role options (--viewer-*, --no-role-*) need a --target or --node: without one the suite certifies its embedded mock, which has its own identities"
                );
            }
            let config = MockConfig {
                profile: args.mock_profile,
                ..MockConfig::default()
            };
            let e = Embedded::start(config)
                .await
                .context("starting the embedded mock")?;
            eprintln!(
                "no --target: certifying an embedded joblet-mock ({} profile) on {} (plaintext) and {} (mutual TLS roles)",
                args.mock_profile.name(),
                e.targets.main.addr,
                e.targets
                    .viewer
                    .as_ref()
                    .map(|t| t.addr.clone())
                    .unwrap_or_default()
            );
            // The embedded mock is this run's own: nothing of anyone else's to protect.
            options.allow_delete_all = true;
            options.allow_remote_installs = true;
            let t = e.targets.clone();
            embedded = Some(e);
            t
        }
    };
    let bar = Arc::new(Bar::new(cases.len() * args.repeat as usize));
    let cancel = CancellationToken::new();
    ctrl_c(cancel.clone());
    let config = RunConfig {
        targets,
        options,
        parallel: args.select.parallel as usize,
        repeat: args.repeat,
        run_timeout: Some(args.timeout),
        run_id: args.run_id.clone(),
        cancel,
        progress: bar.clone(),
    };
    let result = runner::run(&cases, config).await;
    bar.bar.finish_and_clear();
    if let Some(e) = embedded {
        e.shutdown().await;
    }
    conclude(
        &result,
        &report::human(&result, args.verbose),
        args.json.as_deref(),
        args.junit.as_deref(),
    )
}

/// A duration above zero (deadlines: zero would fail everything unseen).
fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        d if d.is_zero() => Err(format!("{text:?}: must be above 0")),
        d => Ok(d),
    }
}

/// Checks, before anything runs, that the reports asked for can be written
/// (a long run against a node should not end in "cannot write"): each file is
/// created, or opened for writing if it exists, and left for the run's end.
fn check_report_paths(paths: &[(Option<&Path>, &str)]) -> anyhow::Result<()> {
    for (path, what) in paths {
        if let Some(path) = path {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot write the {what} to {}", path.display()))?;
        }
    }
    Ok(())
}

/// The end of a run or a replay: prints the human summary, writes the JSON
/// and JUnit reports asked for, and gives the exit code (0 only when it
/// passed and was not interrupted).
fn conclude(
    result: &joblet_conformance::RunResult,
    human: &str,
    json: Option<&Path>,
    junit: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    print!("{human}");
    if let Some(path) = json {
        write(path, &JsonReport::new(result).to_json(), "JSON report")?;
        eprintln!("JSON report: {}", path.display());
    }
    if let Some(path) = junit {
        write(path, &report::junit(result), "JUnit report")?;
        eprintln!("JUnit report: {}", path.display());
    }
    Ok(if result.passed() && !result.interrupted {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn record_cmd(args: RecordArgs) -> anyhow::Result<ExitCode> {
    use joblet_conformance::proxy::{self, ProxyOptions, ProxyTls};
    use joblet_mock::transcript::{Recorder, RecorderOptions};
    let upstream: Vec<String> = args.upstream.iter().cloned().collect();
    let Some(main) = args.connect.resolve(&upstream)?.into_iter().next() else {
        bail!(
            "record needs the endpoint to stand in front of: --upstream HOST:PORT, or --node NAME (or JOBLET_HOST)"
        );
    };
    let targets = args.roles.targets(&args.connect, main)?;
    let tls = match args.tls_listen {
        None => {
            if args.certs_dir.is_some() || args.tls_cert.is_some() {
                bail!("--certs-dir and --tls-cert are for the TLS listener: add --tls-listen ADDR");
            }
            None
        }
        Some(addr) => Some((
            addr,
            match (
                &args.certs_dir,
                &args.tls_cert,
                &args.tls_key,
                &args.client_ca,
            ) {
                (Some(dir), ..) => ProxyTls::Generate(dir.clone()),
                (None, Some(cert), Some(key), Some(ca)) => ProxyTls::Given(
                    joblet_mock::MockTls::from_files(cert, key, ca)
                        .context("--tls-cert, --tls-key and --client-ca")?,
                ),
                _ => bail!(
                    "--tls-listen needs certificates: --certs-dir DIR to generate them, or --tls-cert, --tls-key and --client-ca"
                ),
            },
        )),
    };
    if args.log_limit == 0 {
        bail!("--log-limit must be at least 1");
    }
    let recorder = Recorder::new(RecorderOptions {
        file: Some(args.out.clone()),
        log_limit: args.log_limit,
        ..RecorderOptions::default()
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

async fn replay_cmd(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    use joblet_conformance::replay::{self, ReplayConfig, Transcript, rules::RuleSet};
    let mut transcripts = Vec::new();
    for path in &args.files {
        let t = Transcript::load(path)?;
        if t.lines.is_empty() {
            bail!(
                "{} holds no call: a replay of nothing proves nothing (record one with `joblet-conformance record` or `joblet-mock --record`)",
                path.display()
            );
        }
        transcripts.push(t);
    }
    let mut rules = RuleSet::defaults();
    if let Some(path) = &args.rules {
        rules = rules.then(RuleSet::load(path)?);
    }
    check_report_paths(&[
        (args.json.as_deref(), "JSON report"),
        (args.junit.as_deref(), "JUnit report"),
    ])?;
    let targets: Vec<String> = args.target.iter().cloned().collect();
    let resolved = args.connect.resolve(&targets)?;
    let mut embedded = None;
    let (mut allow_delete_all, mut allow_remote) =
        (args.allow_delete_all, args.allow_remote_installs);
    let targets = match resolved.into_iter().next() {
        Some(main) => {
            if args.mock_profile != Profile::Documented {
                bail!(
                    "--profile {} is the embedded mock's, and a target ({}) is given: start `joblet-mock --profile {}` and point --target at it, or leave the target out",
                    args.mock_profile.name(),
                    main.addr,
                    args.mock_profile.name()
                );
            }
            args.roles.targets(&args.connect, main)?
        }
        None => {
            if args.roles.any() {
                bail!("role options (--viewer-*, --no-role-*) need a --target or --node");
            }
            let e = Embedded::start(MockConfig {
                profile: args.mock_profile,
                ..MockConfig::default()
            })
            .await
            .context("starting the embedded mock")?;
            eprintln!(
                "no --target: replaying against an embedded joblet-mock ({} profile) on {}",
                args.mock_profile.name(),
                e.targets.main.addr
            );
            // The embedded mock is the replay's own.
            allow_delete_all = true;
            allow_remote = true;
            let t = e.targets.clone();
            embedded = Some(e);
            t
        }
    };
    let total: usize = transcripts.iter().map(|t| t.lines.len()).sum();
    let bar = Arc::new(Bar::new(total));
    let cancel = CancellationToken::new();
    ctrl_c(cancel.clone());
    let mut config = ReplayConfig::new(targets);
    config.rules = rules;
    config.run_id = args.run_id.clone();
    config.settle = args.settle;
    config.call_timeout = args.call_timeout;
    config.pace = args.pace;
    config.allow_delete_all = allow_delete_all;
    config.allow_remote_installs = allow_remote;
    config.cleanup = !args.no_cleanup;
    config.cancel = cancel;
    config.progress = bar.clone();
    let result = replay::replay(&transcripts, config).await;
    bar.bar.finish_and_clear();
    if let Some(e) = embedded {
        e.shutdown().await;
    }
    conclude(
        &result,
        &report::human_replay(&result, args.verbose),
        args.json.as_deref(),
        args.junit.as_deref(),
    )
}

async fn mutants_cmd(args: MutantsArgs) -> anyhow::Result<ExitCode> {
    let list: Vec<Mutant> = if args.mutant.is_empty() {
        Mutant::LIST.to_vec()
    } else {
        args.mutant
            .iter()
            .map(|m| m.parse::<Mutant>().map_err(anyhow::Error::msg))
            .collect::<anyhow::Result<_>>()?
    };
    let config = MutantsConfig {
        selection: Selection {
            focus: args.select.focus,
            skip: args.select.skip,
            read_only: false,
            only: None,
        },
        covering_only: args.covering_only,
        parallel_mutants: args.parallel_mutants as usize,
        parallel_cases: args.select.parallel as usize,
        base: MockConfig::default(),
        case_timeout: args.select.case_timeout,
    };
    let total = list.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let rows = mutants::run_mutants(catalogue(), &list, &config, &|row| {
        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        eprintln!(
            "[{n}/{total}] {} ({}): {}",
            row.mutant,
            row.behaviour,
            if row.killed() {
                format!("killed by {} case(s)", row.caught_by.len())
            } else {
                "SURVIVED".into()
            }
        );
    })
    .await;
    print!("{}", mutants::matrix(&rows));
    if let Some(path) = &args.json {
        write(path, &serde_json::to_string_pretty(&rows)?, "kill matrix")?;
    }
    Ok(if rows.iter().all(|r| r.killed()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("joblet-conformance: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Some(Command::Mutants(m)) => mutants_cmd(m).await,
            Some(Command::Record(r)) => record_cmd(*r).await,
            Some(Command::Replay(r)) => replay_cmd(*r).await,
            None => run(cli.run).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!(
                "joblet-conformance: {}",
                joblet_testkit::error_chain(e.as_ref())
            );
            ExitCode::from(2)
        }
    }
}
