//! Running a parsed command line: the load scenarios (with Ctrl-C
//! handling, outputs and exit codes), merge, validate-report, schema and the
//! hidden `wire` helpers.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::report::{self, Report};
use crate::run::{self, Stop};
use crate::threshold;
use crate::transport::{self, H2Settings, Rpc, grpc};

use super::args::{Cli, Command, WireArgs, WireCommand};
use super::failure::{EXIT_INTERRUPTED, EXIT_THRESHOLD, EXIT_USAGE, Failure};
use super::prepare::{prepare_command, rules};

/// Installs the Ctrl-C handling: the first stops the run (it still drains,
/// cleans up and reports), the second exits at once.
pub(super) fn on_ctrl_c(stop: Stop) {
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
            "error: {} job(s) of this run could not be deleted: they are still on the node",
            report.cleanup.failed
        );
        return ExitCode::FAILURE;
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
                match report::json::read_any(f) {
                    Ok(report::json::AnyReport::Run(_)) => println!("{}: valid", f.display()),
                    Ok(report::json::AnyReport::Capacity(_)) => {
                        println!("{}: valid (capacity search)", f.display());
                    }
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
        Command::Capacity(a) => {
            let stop = Stop::new();
            on_ctrl_c(stop.clone());
            super::capacity::execute(&a, &stop)
        }
        Command::Schema => {
            print!("{}", report::json::SCHEMA);
            Ok(ExitCode::SUCCESS)
        }
        Command::Wire(w) => Ok(wire(w).map(|()| ExitCode::SUCCESS)?),
        Command::Submit(_)
        | Command::Lifecycle(_)
        | Command::Logs(_)
        | Command::Mix(_)
        | Command::Metrics(_) => {
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
