//! The flags and subcommands of `joblet-conformance` (clap), with their help
//! texts and value parsers.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use joblet_testkit::Target;
use joblet_testkit::cli::ConnectArgs;
use joblet_testkit::contract::Api;
use joblet_testkit::transcript::DEFAULT_LOG_LIMIT;

use super::error::CliError;
#[cfg(feature = "embedded")]
use super::local::ProfileArg;
use crate::ctx::Targets;
use crate::replay::Pace;

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

The target's contract (v1.0.6, v2.5.9 or both) is detected before any case
(GetSystemStatus server_version, then probes; --contract gives it) and opens
every report; against v2.5.9 alone, the cases that call v1-only methods are
skipped. --contract naming a contract the node does not serve (v1 against a
node of v2.5.9 alone, or the reverse) makes the run a compatibility report:
per behaviour of that contract's catalogue, what its clients meet on this
node (works, breaks, differs, not checked): not a certification.

Exit code: 0 when no MUST case failed or errored, 1 otherwise, 2 on bad usage;
a compatibility report: 0 once produced, 1 if a case errored.";

const EXAMPLES: &str = "\
Examples:
  joblet-conformance                                  # certify the embedded mock
  joblet-conformance --list                           # the catalogue
  joblet-conformance --target node1:50051 --ca ca.pem --cert admin.pem --key admin-key.pem \\
      --viewer-cert viewer.pem --viewer-key viewer-key.pem --junit report.xml
  joblet-conformance --node prod --viewer-node prod-viewer --read-only   # from ~/.rnx/rnx-config.yml
  joblet-conformance --focus 'jobs.stop.*' --focus JOB-LOGS-1 -v
  joblet-conformance --rerun-failed report.json --target node1:50051 --ca ... 
  joblet-conformance --contract v1 --node prod-v2     # what a v1.0.6 client meets on a v2.5.9 node
  joblet-conformance mutants                          # prove every case can fail
  joblet-conformance record --upstream node1:50051 --node prod --out app.jsonl   # record your client's calls
  joblet-conformance replay app.jsonl --node prod     # replay them against a node (or --target)";

// The flags and subcommands of `joblet-conformance` (no doc comment: clap
// would take it for the help text; ABOUT and LONG_ABOUT are).
#[derive(Debug, Parser)]
#[command(name = "joblet-conformance", version, about = ABOUT, long_about = LONG_ABOUT, after_help = EXAMPLES, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the catalogue against every mutant of the embedded mock, v1 and
    /// v2, each against the mock of its contract, and print the kill matrix
    /// (mutant, contract, behaviour, cases that caught it; `contract vN:
    /// killed K/N` per contract, last line `killed K/N`). Exit code 1 if a
    /// mutant was not caught by a case covering its behaviour.
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
    /// Random sequences of operations against an endpoint (an embedded mock
    /// without --target), every answer checked against a model of the
    /// documented behaviours; the first disagreement is shrunk and printed.
    /// Exit code 1 on a finding.
    #[command(long_about = EXPLORE_ABOUT, after_help = EXPLORE_EXAMPLES)]
    Explore(Box<ExploreArgs>),
}

const EXPLORE_ABOUT: &str = "\
Random sequences against a model of the documented behaviours.

Generates sequences of operations from a seed (RunJob with and without schedules,
GetJobStatus, StopJob, CancelJob, DeleteJob, ListJobs, GetJobLogs, networks, volumes,
runtimes, system status, workflows (RunWorkflow of chains, diamonds, a failing job with
dependents, the list form, uploads given or missing; GetWorkflowStatus, GetWorkflowJobs,
ListWorkflows, the workflows' jobs in ListJobs and GetJobStatus); ID prefixes, unknown
IDs and invalid arguments mixed in), for the contracts the target serves (--contract:
on a node that speaks v2.5.9, jobs also through the v2 messages with timeouts, job
metrics and telematics streams, ValidateRuntimeYAML, and BuildRuntime with
--allow-installs; no workflows or installs on a node of v2 alone), runs
them against the target, and checks every answer against an executable model of
docs/behaviours.md (documented profile). Where timing decides (a job that may have
finished), the model allows every legal answer. On the first disagreement the sequence
is shrunk to the shortest one that still disagrees and printed with the expected and
actual answers and the seed that reproduces it; --transcript writes it as a transcript
for `joblet-conformance replay`. Prints the behaviour IDs and (call, job state) pairs
exercised.

Everything it creates carries the prefix cf-<run id>-s<n>- and is removed at the end of
each sequence (leaks are reported); lists are judged on the run's own jobs, networks
and volumes only; it never calls DeleteAllJobs. Jobs are short (echo, false, sleep
0.05) or stopped at the end (sleep 30, schedules an hour ahead); the jobs a workflow
started are stopped and deleted too (workflow records have no removal RPC).

Time: against a node, the wall clock (pauses are sleeps; --grace is how late the node
may be). Against the embedded mock, its manual clock, which the explorer moves (10 ms
after each call, a whole pause at once): pauses cost nothing and what is due happens
at exact times (--clock).

Exit code: 0 when no sequence disagreed, 1 on a finding (or a leak), 2 on bad usage.";

const EXPLORE_EXAMPLES: &str = "\
Examples:
  joblet-conformance explore                                   # an embedded documented mock
  joblet-conformance explore --sequences 1000 --steps 50 --seed 1
  joblet-conformance explore --mutant stop-finished-ok --transcript finding.jsonl
  joblet-conformance replay finding.jsonl                      # the finding, as a regression test
  joblet-conformance explore --node prod --sequences 20 --parallel 2 --grace 2s
  joblet-conformance explore --target 127.0.0.1:50051 --clock mock  # joblet-mock --clock manual";

/// `explore --clock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ClockArg {
    /// Real time: pauses are sleeps.
    Wall,
    /// A joblet-mock's manual clock, moved by the explorer.
    Mock,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ExploreArgs {
    /// The endpoint, HOST:PORT: plaintext, or mutual TLS with --ca/--cert/--key.
    /// Default: JOBLET_HOST[:JOBLET_PORT], else an embedded mock.
    #[arg(long, value_name = "HOST:PORT", help_heading = "Connection")]
    pub(crate) target: Option<String>,
    #[command(flatten)]
    pub(crate) connect: ConnectArgs,
    /// Profile of the embedded mock (only without a target).
    #[cfg(feature = "embedded")]
    #[arg(
        long,
        visible_alias = "profile",
        value_enum,
        default_value = "documented",
        help_heading = "Connection"
    )]
    pub(crate) mock_profile: ProfileArg,
    /// Profile of the embedded mock (only without a target): this binary was
    /// built without the embedded mock.
    #[cfg(not(feature = "embedded"))]
    #[arg(
        long,
        visible_alias = "profile",
        value_name = "PROFILE",
        help_heading = "Connection"
    )]
    pub(crate) mock_profile: Option<String>,
    /// A mutant of the embedded mock (`joblet-mock --list-mutants`; only
    /// without a target).
    #[arg(long, value_name = "NAME", help_heading = "Connection")]
    pub(crate) mutant: Option<String>,
    /// Refused: the explorer creates jobs, networks and volumes.
    #[arg(long)]
    pub(crate) read_only: bool,
    #[command(flatten)]
    pub(crate) roles: RoleArgs,
    /// The contracts the target serves, which the operations and the model
    /// follow: `auto` detects them before the first sequence
    /// (GetSystemStatus server_version, then probes), or `v1` (v1.0.6), `v2`
    /// (v2.5.9), `both`. Without a target it is the embedded mock's: `auto`
    /// starts one of both.
    #[arg(
        long,
        value_enum,
        default_value = "auto",
        env = "JOBLET_CONTRACT",
        value_name = "CONTRACT",
        help_heading = "Connection"
    )]
    pub(crate) contract: ContractArg,
    /// Also install and remove runtimes of the run's own
    /// (`python:3.11-cf-<run id>-s<n>-r<k>`, InstallRuntimeFromLocal and its
    /// streaming form, RemoveRuntime; removed at the end): they change the
    /// node's runtime list beyond the run's prefix. Always on against the
    /// embedded mock.
    #[arg(long, help_heading = "Opt-ins")]
    pub(crate) allow_installs: bool,

    /// Seed of the first sequence (sequence i uses seed + i). Default: random.
    #[arg(long, value_name = "N", help_heading = "Exploring")]
    pub(crate) seed: Option<u64>,
    /// Operations per sequence.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000), help_heading = "Exploring")]
    pub(crate) steps: u32,
    /// Sequences at most.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000_000), help_heading = "Exploring")]
    pub(crate) sequences: u32,
    /// Start no new sequence after this long (`10m`).
    #[arg(long, value_parser = parse_positive_duration, value_name = "DURATION", help_heading = "Exploring")]
    pub(crate) duration: Option<Duration>,
    /// Independent sequences at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64), help_heading = "Exploring")]
    pub(crate) parallel: u16,
    /// How late the node may be: a job due at t must have started by t +
    /// GRACE, a short job ended by its end + GRACE. Default: 100ms on the
    /// mock's clock, 300ms against the embedded mock on the wall clock, 2s
    /// against a target.
    #[arg(long, value_parser = parse_positive_duration, value_name = "DURATION", help_heading = "Exploring")]
    pub(crate) grace: Option<Duration>,
    /// Where time comes from. `mock`: the target is a joblet-mock whose
    /// clock is manual (`joblet-mock --clock manual`; the embedded mock runs
    /// so): the explorer moves it, 10 ms after each call and by the whole
    /// pause on a wait, so pauses cost no wall time and schedules, sleeps
    /// and timeouts fall due at exact times. `wall`: real time, pauses are
    /// sleeps. Default: mock for the embedded mock, wall for a target.
    #[arg(long, value_enum, value_name = "CLOCK", help_heading = "Exploring")]
    pub(crate) clock: Option<ClockArg>,
    /// Report the first finding as found, without shrinking it.
    #[arg(long, help_heading = "Exploring")]
    pub(crate) no_shrink: bool,
    /// Run ID: names are cf-<ID>-… (default: random).
    #[arg(long, value_name = "ID", value_parser = parse_run_id, help_heading = "Exploring")]
    pub(crate) run_id: Option<String>,
    /// Write the shrunk finding as a transcript (JSON Lines) for
    /// `joblet-conformance replay`: its calls made again through a
    /// recording proxy.
    #[arg(long, value_name = "FILE", help_heading = "Reports")]
    pub(crate) transcript: Option<PathBuf>,
}

/// `explore --contract`: detected, or given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ContractArg {
    /// Detected from the target (the embedded mock: both).
    Auto,
    /// v1.0.6 alone.
    V1,
    /// v2.5.9 alone.
    V2,
    /// Both.
    Both,
}

impl ContractArg {
    /// The contracts given, `None` for `auto`.
    pub(crate) fn given(self) -> Option<Api> {
        match self {
            ContractArg::Auto => None,
            ContractArg::V1 => Some(Api::V1),
            ContractArg::V2 => Some(Api::V2),
            ContractArg::Both => Some(Api::Both),
        }
    }
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

The target's contract (v1.0.6, v2.5.9 or both) is detected first (or given
with --contract) and opens the reports; a transcript recorded against the
other contract is refused unless --any-contract.

Exit code: 0 when every call answered as recorded, 1 on any difference or
error, 2 on bad usage.";

const REPLAY_EXAMPLES: &str = "\
Examples:
  joblet-conformance replay app.jsonl --rnx-config ~/.rnx/rnx-config.yml --node prod
  joblet-conformance replay node.jsonl --profile server-v1   # an embedded server-v1 mock
  joblet-conformance replay fixtures/transcripts/*.jsonl --target 127.0.0.1:50051 \\
      --allow-delete-all --rules relax.yaml --junit replay.xml --json replay.json";

#[derive(Debug, clap::Args)]
pub(crate) struct RecordArgs {
    /// Plaintext (h2c) listener for clients; every plaintext client is admin.
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:50061",
        help_heading = "Listening"
    )]
    pub(crate) listen: std::net::SocketAddr,
    /// Serve only --tls-listen.
    #[arg(long, requires = "tls_listen", help_heading = "Listening")]
    pub(crate) no_plaintext: bool,
    /// Mutual-TLS listener for clients (client certificate required; its OU
    /// is the role).
    #[arg(long, value_name = "ADDR", help_heading = "Listening")]
    pub(crate) tls_listen: Option<std::net::SocketAddr>,
    /// Generate a CA, the proxy's server certificate, admin, viewer and
    /// norole client certificates and an rnx-config.yml pointing at the
    /// proxy into DIR.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["tls_cert", "tls_key", "client_ca"], help_heading = "Listening")]
    pub(crate) certs_dir: Option<PathBuf>,
    /// The proxy's server certificate (PEM) instead of --certs-dir.
    #[arg(long, value_name = "FILE", requires_all = ["tls_key", "client_ca"], help_heading = "Listening")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// Its key.
    #[arg(long, value_name = "FILE", help_heading = "Listening")]
    pub(crate) tls_key: Option<PathBuf>,
    /// The CA that signed the clients' certificates.
    #[arg(long, value_name = "FILE", help_heading = "Listening")]
    pub(crate) client_ca: Option<PathBuf>,

    /// The endpoint behind the proxy, HOST:PORT: plaintext, or mutual TLS
    /// with --ca/--cert/--key. Default: the --node's address, else
    /// JOBLET_HOST[:JOBLET_PORT].
    #[arg(long, value_name = "HOST:PORT", help_heading = "Connection")]
    pub(crate) upstream: Option<String>,
    #[command(flatten)]
    pub(crate) connect: ConnectArgs,
    #[command(flatten)]
    pub(crate) roles: RoleArgs,

    /// The transcript to write (JSON Lines; created or truncated).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub(crate) out: PathBuf,
    /// Log bytes kept per GetJobLogs call (beyond it, their count and SHA-256).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_LOG_LIMIT)]
    pub(crate) log_limit: usize,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ReplayArgs {
    /// Transcripts (JSON Lines), replayed one after the other.
    #[arg(value_name = "FILE", required = true)]
    pub(crate) files: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) node: NodeArgs,
    /// Replay transcripts recorded against a node of the other contract too
    /// (by default a v2 transcript against a v1-only node, or the reverse,
    /// is refused with exit code 2; a node serving both takes either).
    #[arg(long, help_heading = "Connection")]
    pub(crate) any_contract: bool,
    /// Profile of the embedded mock (only without a target; also
    /// `--profile`): `server-v1` answers as the deployed server does.
    #[cfg(feature = "embedded")]
    #[arg(
        long,
        visible_alias = "profile",
        value_enum,
        default_value = "documented",
        help_heading = "Connection"
    )]
    pub(crate) mock_profile: ProfileArg,
    /// Profile of the embedded mock (only without a target; also
    /// `--profile`): this binary was built without the embedded mock.
    #[cfg(not(feature = "embedded"))]
    #[arg(
        long,
        visible_alias = "profile",
        value_name = "PROFILE",
        help_heading = "Connection"
    )]
    pub(crate) mock_profile: Option<String>,

    /// Comparison rules (YAML) applied after the built-in ones.
    #[arg(long, value_name = "FILE", help_heading = "Comparing")]
    pub(crate) rules: Option<PathBuf>,
    /// Longest a differing read is repeated before it counts as a difference.
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION", help_heading = "Comparing")]
    pub(crate) settle: Duration,
    /// Longest one call may take (a stream that does not end fails).
    #[arg(long, default_value = "60s", value_parser = parse_positive_duration, value_name = "DURATION", help_heading = "Comparing")]
    pub(crate) call_timeout: Duration,
    /// `asap`: each call as soon as the calls before it allow; `recorded`:
    /// with the recorded gaps.
    #[arg(long, value_enum, default_value = "asap", help_heading = "Comparing")]
    pub(crate) pace: Pace,

    /// Replay DeleteAllJobs: it deletes EVERY finished job on the node, other
    /// clients' too. Without it those calls are skipped.
    #[arg(long, help_heading = "Opt-ins")]
    pub(crate) allow_delete_all: bool,
    /// Replay installs from GitHub (the node downloads).
    #[arg(long, help_heading = "Opt-ins")]
    pub(crate) allow_remote_installs: bool,
    /// Leave what the replay created (by default it is removed at the end).
    #[arg(long, help_heading = "Opt-ins")]
    pub(crate) no_cleanup: bool,
    /// Run ID: created names get rp<ID>s<n>- (default: random).
    #[arg(long, value_name = "ID", value_parser = parse_run_id)]
    pub(crate) run_id: Option<String>,

    /// Write the JSON report (schema: conformance/schema/report.schema.json).
    #[arg(long, value_name = "FILE", help_heading = "Reports")]
    pub(crate) json: Option<PathBuf>,
    /// Write a JUnit XML report (a test suite per transcript).
    #[arg(long, value_name = "FILE", help_heading = "Reports")]
    pub(crate) junit: Option<PathBuf>,
    /// List the calls that answered as recorded too.
    #[arg(short, long, help_heading = "Reports")]
    pub(crate) verbose: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct SelectArgs {
    /// Run only cases whose name or a behaviour ID matches GLOB (`*`, `?`;
    /// repeatable, or comma-separated): `jobs.stop.*`, `JOB-LOGS-?`.
    #[arg(
        long,
        value_name = "GLOB",
        value_delimiter = ',',
        help_heading = "Selection"
    )]
    pub(crate) focus: Vec<String>,
    /// Leave out cases whose name or a behaviour ID matches GLOB.
    #[arg(
        long,
        value_name = "GLOB",
        value_delimiter = ',',
        help_heading = "Selection"
    )]
    pub(crate) skip: Vec<String>,
    /// Per-case deadline (a case that has no verdict by then fails).
    #[arg(long, default_value = "30s", value_parser = parse_positive_duration, value_name = "DURATION", help_heading = "Running")]
    pub(crate) case_timeout: Duration,
    /// Cases run at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256), help_heading = "Running")]
    pub(crate) parallel: u16,
}

/// Extra identities on the same node: a viewer, a certificate without a
/// role, and a certificate whose OU is `reader`.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct RoleArgs {
    /// The rnx-config node of a viewer identity (the role cases AUTH-4/5;
    /// the viewer's calls of a transcript).
    #[arg(long, value_name = "NAME", help_heading = "Roles")]
    pub(crate) viewer_node: Option<String>,
    /// Client certificate with OU viewer (same CA as --ca).
    #[arg(long, value_name = "FILE", help_heading = "Roles")]
    pub(crate) viewer_cert: Option<PathBuf>,
    /// Key of --viewer-cert.
    #[arg(long, value_name = "FILE", help_heading = "Roles")]
    pub(crate) viewer_key: Option<PathBuf>,
    /// The rnx-config node of a certificate with no role (OU neither admin nor
    /// viewer): AUTH-3, and such calls of a transcript.
    #[arg(long, value_name = "NAME", help_heading = "Roles")]
    pub(crate) no_role_node: Option<String>,
    /// Client certificate whose OU is neither admin nor viewer.
    #[arg(long, value_name = "FILE", help_heading = "Roles")]
    pub(crate) no_role_cert: Option<PathBuf>,
    /// Key of --no-role-cert.
    #[arg(long, value_name = "FILE", help_heading = "Roles")]
    pub(crate) no_role_key: Option<PathBuf>,
    /// The rnx-config node of a certificate whose OU is `reader` (a v2 node
    /// counts it as viewer: AUTH-6).
    #[arg(long, value_name = "NAME", help_heading = "Roles")]
    pub(crate) reader_node: Option<String>,
    /// Client certificate with OU reader (same CA as --ca).
    #[arg(long, value_name = "FILE", help_heading = "Roles")]
    pub(crate) reader_cert: Option<PathBuf>,
    /// Key of --reader-cert.
    #[arg(long, value_name = "FILE", help_heading = "Roles")]
    pub(crate) reader_key: Option<PathBuf>,
}

impl RoleArgs {
    /// Whether any role flag is given.
    pub(crate) fn any(&self) -> bool {
        self.viewer_node.is_some()
            || self.viewer_cert.is_some()
            || self.no_role_node.is_some()
            || self.no_role_cert.is_some()
            || self.reader_node.is_some()
            || self.reader_cert.is_some()
    }

    /// The main target with the viewer, no-role and reader identities these
    /// flags give.
    pub(crate) fn targets(&self, connect: &ConnectArgs, main: Target) -> Result<Targets, CliError> {
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
        let reader = connect.role_target(
            &main,
            "--reader",
            self.reader_node.as_deref(),
            self.reader_cert.as_ref(),
            self.reader_key.as_ref(),
        )?;
        Ok(Targets {
            main,
            viewer,
            no_role,
            reader,
        })
    }
}

/// The node a run or a replay talks to: its address and identities, and the
/// contract it is taken to speak (`joblet-conformance` and `replay`).
#[derive(Debug, clap::Args)]
pub(crate) struct NodeArgs {
    /// The endpoint, HOST:PORT: plaintext, or mutual TLS with --ca/--cert/--key.
    /// Default: JOBLET_HOST[:JOBLET_PORT], else an embedded mock.
    #[arg(long, value_name = "HOST:PORT", help_heading = "Connection")]
    pub(crate) target: Option<String>,
    #[command(flatten)]
    pub(crate) connect: ConnectArgs,
    #[command(flatten)]
    pub(crate) roles: RoleArgs,
    /// The contract (v1: v1.0.6, v2: v2.5.9, both) instead of the one
    /// detected from the target (GetSystemStatus server_version, then
    /// probes). A run against v2 alone skips the cases that call v1-only
    /// methods (workflows, runtime installs), and against a node that does
    /// not serve the contract given is a compatibility report of what its
    /// clients meet there; a replay refuses the other contract's transcripts.
    #[arg(
        long,
        value_enum,
        env = "JOBLET_CONTRACT",
        value_name = "CONTRACT",
        help_heading = "Connection"
    )]
    pub(crate) contract: Option<Api>,
}

impl NodeArgs {
    /// The targets the flags name (`None` without a target: the embedded
    /// mock then, whose identities are its own, so role flags are refused).
    pub(crate) fn targets(&self) -> Result<Option<Targets>, CliError> {
        let targets: Vec<String> = self.target.iter().cloned().collect();
        match self.connect.resolve(&targets)?.into_iter().next() {
            Some(main) => Ok(Some(self.roles.targets(&self.connect, main)?)),
            None if self.roles.any() => Err(CliError::Usage(
                "role options (--viewer-*, --no-role-*, --reader-*) need a --target or --node: without one the embedded mock runs, with identities of its own".into(),
            )),
            None => Ok(None),
        }
    }
}

#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) node: NodeArgs,

    /// Print the catalogue (name, IDs, level, read-only/mutating) and exit.
    #[arg(long, help_heading = "Selection")]
    pub(crate) list: bool,
    #[command(flatten)]
    pub(crate) select: SelectArgs,
    /// Run only cases that change nothing: no job, network, volume or runtime
    /// is created (for production nodes).
    #[arg(long, help_heading = "Selection")]
    pub(crate) read_only: bool,
    /// Run only the cases that failed or errored in this JSON report.
    #[arg(long, value_name = "REPORT.json", help_heading = "Selection")]
    pub(crate) rerun_failed: Option<PathBuf>,
    /// Allow DeleteAllJobs (JOB-DELALL-1): it deletes EVERY finished job on the
    /// node, other clients' too. Without it that case is skipped.
    #[arg(long, help_heading = "Opt-ins")]
    pub(crate) allow_delete_all: bool,
    /// Allow installing a runtime from GitHub (the node downloads it).
    #[arg(long, help_heading = "Opt-ins")]
    pub(crate) allow_remote_installs: bool,
    /// Allow building a runtime with BuildRuntime (contract v2.5.9: the node
    /// installs it; the case removes it at the end; --allow-remote-installs
    /// allows it too). Without it that case is skipped; the dry run and the
    /// refusals run anyway.
    #[arg(long, help_heading = "Opt-ins")]
    pub(crate) allow_builds: bool,

    /// Run the selection N times (flakiness hunting).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000), help_heading = "Running")]
    pub(crate) repeat: u32,
    /// Deadline of the whole run; cases not run by then are Errors.
    #[arg(long, default_value = "30m", value_parser = parse_positive_duration, value_name = "DURATION", help_heading = "Running")]
    pub(crate) timeout: Duration,
    /// Run ID: resources are named cf-<ID>-… (default: random, 6 characters).
    #[arg(long, value_name = "ID", value_parser = parse_run_id, help_heading = "Running")]
    pub(crate) run_id: Option<String>,
    /// The contract the embedded mock speaks (only without a target): `v1`
    /// (v1.0.6), `v2` (v2.5.9) or `both`. Certify each contract alone with
    /// `--embedded-api v1` and `--embedded-api v2`.
    #[arg(
        long,
        value_enum,
        default_value = "both",
        value_name = "API",
        help_heading = "Running"
    )]
    pub(crate) embedded_api: Api,
    /// Profile of the embedded mock (only without a target): `server-v1`
    /// shows which cases the deployed server's quirks fail.
    #[cfg(feature = "embedded")]
    #[arg(
        long,
        value_enum,
        default_value = "documented",
        help_heading = "Running"
    )]
    pub(crate) mock_profile: ProfileArg,
    /// Profile of the embedded mock (only without a target): this binary was
    /// built without the embedded mock.
    #[cfg(not(feature = "embedded"))]
    #[arg(long, value_name = "PROFILE", help_heading = "Running")]
    pub(crate) mock_profile: Option<String>,

    /// Write the JSON report (schema: conformance/schema/report.schema.json).
    #[arg(long, value_name = "FILE", help_heading = "Reports")]
    pub(crate) json: Option<PathBuf>,
    /// Write a JUnit XML report.
    #[arg(long, value_name = "FILE", help_heading = "Reports")]
    pub(crate) junit: Option<PathBuf>,
    /// List passing cases too.
    #[arg(short, long, help_heading = "Reports")]
    pub(crate) verbose: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct MutantsArgs {
    /// Only these mutants (`joblet-mock --list-mutants`; repeatable). By
    /// default every mutant: those of v1 behaviours against a mock of both
    /// contracts, those of `[v2]` behaviours against a mock of v2.5.9 alone
    /// (AUTH-8's with the four-role model on).
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    pub(crate) mutant: Vec<String>,
    /// Only the mutants of this contract: `v1` (behaviours that hold on a
    /// node that speaks v1) or `v2` (the `[v2]` behaviours); `both`: all.
    #[arg(long, value_enum, value_name = "CONTRACT")]
    pub(crate) contract: Option<Api>,
    /// Against each mutant, run only the cases whose IDs include the mutated
    /// behaviour (faster; the full catalogue otherwise).
    #[arg(long)]
    pub(crate) covering_only: bool,
    /// Mutants run at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub(crate) parallel_mutants: u16,
    #[command(flatten)]
    pub(crate) select: SelectArgs,
    /// Write the kill matrix as JSON.
    #[arg(long, value_name = "FILE")]
    pub(crate) json: Option<PathBuf>,
}

/// `--run-id`: 1-32 characters of `a-z` and `0-9`.
pub(crate) fn parse_run_id(s: &str) -> Result<String, String> {
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

/// Parses a duration: `30s`, `500ms`, `2m`, `1h`, `1m30s`, or plain seconds
/// (`45`, `0.5`) ([`joblet_testkit::parse_duration`]).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    joblet_testkit::parse_duration(text).map_err(|reason| format!("duration {text:?}: {reason}"))
}

/// A duration above zero (deadlines: zero would fail everything unseen).
pub(crate) fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        d if d.is_zero() => Err(format!("{text:?}: must be above 0")),
        d => Ok(d),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5x").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("-3").is_err());
        assert!(parse_duration("s").is_err());
    }

    proptest! {
        #[test]
        fn duration_parser_never_panics(s in "\\PC{0,12}") {
            let _ = parse_duration(&s);
        }

        #[test]
        fn whole_units_round_trip(n in 0u64..100_000) {
            prop_assert_eq!(parse_duration(&format!("{n}s")), Ok(Duration::from_secs(n)));
            prop_assert_eq!(parse_duration(&format!("{n}ms")), Ok(Duration::from_millis(n)));
            prop_assert_eq!(parse_duration(&format!("{n}m")), Ok(Duration::from_secs(n * 60)));
        }
    }

    #[test]
    fn run_ids_and_positive_durations() {
        assert_eq!(parse_run_id("ab12"), Ok("ab12".to_owned()));
        assert!(parse_run_id("").is_err());
        assert!(parse_run_id("AB").is_err());
        assert!(parse_run_id(&"a".repeat(33)).is_err());
        assert_eq!(parse_positive_duration("2s"), Ok(Duration::from_secs(2)));
        assert!(
            parse_positive_duration("0s")
                .unwrap_err()
                .contains("above 0")
        );
    }
}
