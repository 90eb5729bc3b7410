//! Proof that the suite can fail: every mutant of the mock (each breaks one
//! documented behaviour) is caught by at least one case whose IDs include the
//! mutated behaviour.

use joblet_conformance::cases::catalogue;
use joblet_conformance::mutants::{MutantsConfig, matrix, run_mutants};
use joblet_mock::Mutant;

#[test]
fn every_mutant_is_caught_by_a_case_covering_its_behaviour() {
    let rows = std::thread::spawn(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        rt.block_on(async {
            let config = MutantsConfig {
                covering_only: true,
                parallel_mutants: 8,
                ..MutantsConfig::default()
            };
            run_mutants(catalogue(), Mutant::LIST, &config, &|_| {}).await
        })
    })
    .join()
    .expect("the mutants run");
    assert_eq!(rows.len(), Mutant::LIST.len());
    let survivors: Vec<String> = rows
        .iter()
        .filter(|r| r.caught_by_covering.is_empty())
        .map(|r| {
            format!(
                "{} ({}): caught by {:?}, errors {:?}, start {:?}",
                r.mutant, r.behaviour, r.caught_by, r.errors, r.start_error
            )
        })
        .collect();
    assert!(
        survivors.is_empty(),
        "mutants no covering case caught:\n{}\n\n{}",
        survivors.join("\n"),
        matrix(&rows)
    );
    let text = matrix(&rows);
    assert!(
        text.trim_end()
            .ends_with(&format!("killed {0}/{0}", Mutant::LIST.len())),
        "{text}"
    );
}
