//! `joblet-conformance mutants`: the catalogue against every mutant of the
//! embedded mock, and the kill matrix (feature `embedded`).

use std::process::ExitCode;

use super::args::MutantsArgs;
use super::error::CliError;

/// Runs the catalogue against the mutants the flags name (all by default),
/// prints the kill matrix and writes it as JSON when asked.
#[cfg(feature = "embedded")]
pub(crate) async fn mutants(args: MutantsArgs) -> Result<ExitCode, CliError> {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use joblet_mock::{MockConfig, Mutant};

    use super::output::write;
    use crate::cases::catalogue;
    use crate::mutants::{self, MutantsConfig};
    use crate::runner::Selection;

    // The catalogue has v1 cases only: by default the mutants of behaviours
    // that hold on a node that speaks v1.
    let list: Vec<Mutant> = if args.mutant.is_empty() {
        mutants::v1_mutants()
    } else {
        args.mutant
            .iter()
            .map(|m| m.parse::<Mutant>().map_err(CliError::Usage))
            .collect::<Result<_, _>>()?
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
    let done = AtomicUsize::new(0);
    let rows = mutants::run_mutants(catalogue(), &list, &config, &|row| {
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
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

/// Without the embedded mock there are no mutants to run: a usage error.
#[cfg(not(feature = "embedded"))]
pub(crate) async fn mutants(args: MutantsArgs) -> Result<ExitCode, CliError> {
    let _ = args;
    Err(super::local::no_embedded("mutants"))
}
