//! Proof that the suite can fail: every mutant of the mock (each breaks one
//! documented behaviour) is caught by at least one case whose IDs include the
//! mutated behaviour. The catalogue has v1 cases only, so the mutants are
//! those of behaviours that hold on a node that speaks v1.

use joblet_conformance::cases::catalogue;
use joblet_conformance::mutants::{MutantsConfig, matrix, run_mutants, v1_mutants};

#[test]
fn every_mutant_is_caught_by_a_case_covering_its_behaviour() {
    let mutants = v1_mutants();
    let count = mutants.len();
    assert!(count >= 71, "{count} v1 mutants");
    let rows = std::thread::spawn(move || {
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
            run_mutants(catalogue(), &mutants, &config, &|_| {}).await
        })
    })
    .join()
    .expect("the mutants run");
    assert_eq!(rows.len(), count);
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
            .ends_with(&format!("killed {count}/{count}")),
        "{text}"
    );
}
