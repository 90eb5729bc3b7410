//! `joblet-conformance mutants`: the catalogue against every mutant of the
//! embedded mock, and the kill matrix (feature `embedded`).

use std::process::ExitCode;

use super::args::MutantsArgs;
use super::error::CliError;

/// Runs the catalogue against the mutants the flags name (all of both
/// contracts by default, `--contract` restricts), each against the mock of
/// its contract; prints the kill matrix and writes it as JSON when asked.
#[cfg(feature = "embedded")]
pub(crate) async fn mutants(args: MutantsArgs) -> Result<ExitCode, CliError> {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use joblet_mock::{MockConfig, Mutant};
    use joblet_testkit::contract::Api;

    use super::output::write;
    use crate::cases::catalogue;
    use crate::mutants::{self, MutantsConfig};
    use crate::runner::Selection;

    // Every mutant by default: those of v1 behaviours against a mock of
    // both contracts, the v2 ones against a mock of v2 alone (`groups`).
    let list: Vec<Mutant> = if args.mutant.is_empty() {
        Mutant::LIST.to_vec()
    } else {
        args.mutant
            .iter()
            .map(|m| m.parse::<Mutant>().map_err(CliError::Usage))
            .collect::<Result<_, _>>()?
    };
    let list: Vec<Mutant> = match args.contract {
        None | Some(Api::Both) => list,
        Some(Api::V1) => list.into_iter().filter(|m| m.contracts().v1()).collect(),
        Some(Api::V2) => list.into_iter().filter(|m| !m.contracts().v1()).collect(),
    };
    if list.is_empty() {
        return Err(CliError::Usage(format!(
            "--mutant: none of {:?} is a mutant of contract {} (`joblet-mock --list-mutants` shows each one's behaviour)",
            args.mutant,
            args.contract.map_or("both", Api::name)
        )));
    }
    let groups = mutants::groups(&list, &MockConfig::default());
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
    let done = AtomicUsize::new(0);
    let rows = mutants::run_groups(catalogue(), &groups, &config, &|row| {
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        eprintln!(
            "[{n}/{total}] {} ({}, contract {}): {}",
            row.mutant,
            row.behaviour,
            row.contract,
            if row.killed_by_covering() {
                format!("killed by {} case(s)", row.caught_by.len())
            } else if row.killed() {
                "caught only by cases not covering its behaviour".into()
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
    Ok(if rows.iter().all(|r| r.killed_by_covering()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Without the embedded mock there are no mutants to run: a usage error.
#[cfg(not(feature = "embedded"))]
pub(crate) async fn mutants(args: MutantsArgs) -> Result<ExitCode, CliError> {
    let _ = args;
    Err(super::local::no_embedded("mutants"))
}
