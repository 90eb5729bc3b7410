//! `joblet-conformance`: certify a Joblet endpoint against the documented
//! behaviours (see `--help`). The logic lives in the library; this file parses
//! flags, sets up logging and reports.

use std::io::IsTerminal;
use std::path::PathBuf;
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
  joblet-conformance mutants                          # prove every case can fail";

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
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION", help_heading = "Running")]
    case_timeout: Duration,
    /// Cases run at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256), help_heading = "Running")]
    parallel: u16,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The endpoint, HOST:PORT: plaintext, or mutual TLS with --ca/--cert/--key.
    /// Default: JOBLET_HOST[:JOBLET_PORT], else an embedded mock.
    #[arg(long, value_name = "HOST:PORT", help_heading = "Connection")]
    target: Option<String>,
    #[command(flatten)]
    connect: ConnectArgs,
    /// The rnx-config node of a viewer identity for the role cases (AUTH-4/5).
    #[arg(long, value_name = "NAME", help_heading = "Roles")]
    viewer_node: Option<String>,
    /// Client certificate with OU viewer (same CA as --ca).
    #[arg(long, value_name = "FILE", help_heading = "Roles")]
    viewer_cert: Option<PathBuf>,
    /// Key of --viewer-cert.
    #[arg(long, value_name = "FILE", help_heading = "Roles")]
    viewer_key: Option<PathBuf>,
    /// The rnx-config node of a certificate with no role (OU neither admin nor
    /// viewer) for AUTH-3.
    #[arg(long, value_name = "NAME", help_heading = "Roles")]
    no_role_node: Option<String>,
    /// Client certificate whose OU is neither admin nor viewer.
    #[arg(long, value_name = "FILE", help_heading = "Roles")]
    no_role_cert: Option<PathBuf>,
    /// Key of --no-role-cert.
    #[arg(long, value_name = "FILE", help_heading = "Roles")]
    no_role_key: Option<PathBuf>,

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
    #[arg(long, default_value = "30m", value_parser = parse_duration, value_name = "DURATION", help_heading = "Running")]
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

fn write(path: &PathBuf, text: &str, what: &str) -> anyhow::Result<()> {
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
    let targets: Vec<String> = args.target.iter().cloned().collect();
    let resolved = args.connect.resolve(&targets)?;
    let mut embedded = None;
    let mut options = joblet_conformance::Options {
        allow_delete_all: args.allow_delete_all,
        allow_remote_installs: args.allow_remote_installs,
        case_timeout: args.select.case_timeout,
    };
    let targets = match resolved.into_iter().next() {
        Some(main) => {
            let viewer = args.connect.role_target(
                &main,
                "--viewer",
                args.viewer_node.as_deref(),
                args.viewer_cert.as_ref(),
                args.viewer_key.as_ref(),
            )?;
            let no_role = args.connect.role_target(
                &main,
                "--no-role",
                args.no_role_node.as_deref(),
                args.no_role_cert.as_ref(),
                args.no_role_key.as_ref(),
            )?;
            Targets {
                main,
                viewer,
                no_role,
            }
        }
        None => {
            if args.viewer_node.is_some()
                || args.viewer_cert.is_some()
                || args.no_role_node.is_some()
                || args.no_role_cert.is_some()
            {
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
    print!("{}", report::human(&result, args.verbose));
    if let Some(path) = &args.json {
        write(path, &JsonReport::new(&result).to_json(), "JSON report")?;
        eprintln!("JSON report: {}", path.display());
    }
    if let Some(path) = &args.junit {
        write(path, &report::junit(&result), "JUnit report")?;
        eprintln!("JUnit report: {}", path.display());
    }
    Ok(if result.passed() && !result.interrupted {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
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
            None => run(cli.run).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("joblet-conformance: {e:#}");
            ExitCode::from(2)
        }
    }
}
