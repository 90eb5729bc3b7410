//! From flags to what runs: targets (with their weights and TLS: mutual,
//! server-only with `--ca` alone, or none), the run settings, the plan of
//! each load scenario, and the `--threshold` rules, all checked before
//! anything is sent.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use joblet_testkit::cli::ConnectArgs;

use crate::plan::{Action, Follow, JobSpec, Load, Plan};
use crate::progress::ProgressMode;
use crate::run::{RunConfig, TargetSpec, WorkerShare};
use crate::threshold::{self, Threshold};
use crate::transport::{H2Client, H2Settings, Rpc, ServerTls};

use super::args::{ClientArg, Command, CommonArgs, ConnectionArgs, LoadArgs, ProgressArg};

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

pub(super) struct Prepared {
    pub(super) config: RunConfig,
    pub(super) thresholds: Vec<Threshold>,
    pub(super) json: Option<PathBuf>,
    pub(super) html: Option<PathBuf>,
    pub(super) quiet: bool,
}

/// `--ca` without `--cert` and `--key`: server-only TLS. The connection
/// flags without `--ca`, and the server TLS, in that case.
fn server_only_tls(
    connect: &ConnectArgs,
) -> anyhow::Result<(Cow<'_, ConnectArgs>, Option<ServerTls>)> {
    let given = |p: &Option<PathBuf>| p.as_ref().is_some_and(|p| !p.as_os_str().is_empty());
    if !given(&connect.ca) || given(&connect.cert) || given(&connect.key) {
        return Ok((Cow::Borrowed(connect), None));
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
    Ok((Cow::Owned(plain), Some(server)))
}

/// The targets of the flags, with their weights and TLS.
fn targets(conn: &ConnectionArgs) -> anyhow::Result<Vec<TargetSpec>> {
    let mut addrs = Vec::new();
    let mut weights = Vec::new();
    for t in &conn.targets {
        let (addr, w) = split_weight(t)?;
        addrs.push(addr);
        weights.push(w);
    }
    let (connect, server_tls) = server_only_tls(&conn.connect)?;
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

/// The run settings of the connection flags: targets, TLS, connections,
/// timeouts, HTTP/2; one worker, no start time, no HDR log.
pub(super) fn connection_config(
    conn: &ConnectionArgs,
    plan: Plan,
    max_in_flight: u32,
) -> anyhow::Result<RunConfig> {
    let targets = targets(conn)?;
    let mut metadata = Vec::new();
    for kv in &conn.metadata {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--metadata {kv:?}: write KEY=VALUE"))?;
        metadata.push((k.to_owned(), v.to_owned()));
    }
    let frame = conn.h2_max_frame;
    if !(16_384..=16_777_215).contains(&frame) {
        bail!("--h2-max-frame must be between 16KiB and 16MiB-1");
    }
    let window = |v: u64, flag: &str| -> anyhow::Result<u32> {
        u32::try_from(v)
            .ok()
            .filter(|w| *w >= 65_535 && *w <= 0x7fff_ffff)
            .with_context(|| format!("{flag} must be between 64KiB and 2GiB-1"))
    };
    Ok(RunConfig {
        plan,
        targets,
        connections: conn.connections,
        threads: conn.threads,
        max_in_flight,
        timeout: conn.timeout,
        drain_timeout: conn.drain_timeout,
        interval: conn.interval,
        metadata,
        h2: H2Settings {
            stream_window: window(conn.h2_stream_window, "--h2-stream-window")?,
            connection_window: window(conn.h2_connection_window, "--h2-connection-window")?,
            max_frame_size: frame as u32,
            client: match conn.h2_client {
                ClientArg::Own => H2Client::Own,
                ClientArg::H2 => H2Client::Crate,
            },
            keepalive: match conn.h2_keepalive {
                Some(d) if d < std::time::Duration::from_millis(10) => {
                    bail!("--h2-keepalive must be at least 10ms")
                }
                k => k,
            },
        },
        worker: WorkerShare::SOLE,
        keep_jobs: conn.keep_jobs,
        max_tracked_jobs: conn.max_tracked_jobs,
        server_metrics: !conn.no_server_metrics,
        start_at: None,
        progress: match conn.progress {
            ProgressArg::Auto => ProgressMode::Auto,
            ProgressArg::Plain => ProgressMode::Plain,
            ProgressArg::Off => ProgressMode::Off,
        },
        hdr_log: None,
        command_line: command_line(),
        contract: conn.contract.given(),
        contract_memo: None,
        embedded_api: conn.embedded_api,
    })
}

fn prepare(common: &CommonArgs, plan: Plan, max_in_flight: u32) -> anyhow::Result<Prepared> {
    check_writable(common.json.as_deref(), "--json")?;
    check_writable(common.html.as_deref(), "--html")?;
    let thresholds = rules(&common.thresholds, &plan.operations())?;
    let mut config = connection_config(&common.conn, plan, max_in_flight)?;
    config.worker = WorkerShare {
        index: common.worker_index,
        count: common.worker_count,
    };
    config.start_at = common.start_at;
    config.hdr_log = common.hdr_log.clone();
    Ok(Prepared {
        config,
        thresholds,
        json: common.json.clone(),
        html: common.html.clone(),
        quiet: common.conn.quiet,
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
pub(super) fn check_writable(path: Option<&Path>, flag: &str) -> anyhow::Result<()> {
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
pub(super) fn prepare_command(command: &Command) -> anyhow::Result<Option<Prepared>> {
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
        Command::Metrics(a) => {
            if a.jobs == 0 {
                bail!("--jobs must be at least 1");
            }
            if a.followers == 0 {
                bail!("--followers must be at least 1");
            }
            let mut job = JobSpec::telemetry(a.job_length);
            job.timeout = a.job_timeout.clone().unwrap_or_default();
            single(
                "metrics",
                Action::Telemetry {
                    followers: a.followers,
                    telematics: a.telematics,
                },
                job,
                Load::Concurrency(a.jobs),
                &a.common,
                a.jobs,
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

/// Parses and checks `--threshold` rules against the operations a report has.
pub(super) fn rules(
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::Cli;

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
        let cli = Cli::try_parse_from([
            "joblet-loadgen",
            "submit",
            "--requests",
            "5",
            "--threshold",
            "logs.mbps>5",
        ])
        .unwrap();
        let err = prepare_command(&cli.command)
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains("no logs operation"), "{err}");
    }

    #[test]
    fn a_ca_alone_is_server_only_tls_and_needs_a_target() {
        let connect = ConnectArgs {
            ca: Some("ca.pem".into()),
            server_name: "joblet".into(),
            ..ConnectArgs::default()
        };
        let (plain, server) = server_only_tls(&connect).unwrap();
        assert!(plain.ca.is_none());
        assert_eq!(
            server,
            Some(ServerTls {
                ca_cert: "ca.pem".into(),
                server_name: "joblet".into()
            })
        );
        let mutual = ConnectArgs {
            cert: Some("c.pem".into()),
            key: Some("k.pem".into()),
            ..connect.clone()
        };
        assert!(server_only_tls(&mutual).unwrap().1.is_none());
        let with_node = ConnectArgs {
            node: Some("prod".into()),
            ..connect
        };
        assert!(server_only_tls(&with_node).is_err());
    }
}
