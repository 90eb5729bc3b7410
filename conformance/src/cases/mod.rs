//! The case catalogue, one module per family. Every behaviour ID of
//! `docs/behaviours.md` has at least one case (the coverage test checks it).

use std::sync::OnceLock;

use crate::case::{Api, Case};

mod auth;
mod conventions;
mod jobs;
mod logs;
mod monitoring;
mod networks;
mod runtimes;
mod shapes;
pub(crate) mod v2;
mod volumes;
mod workflows;

/// Every case, grouped by family, in a stable order.
pub fn catalogue() -> &'static [Case] {
    static ALL: OnceLock<Vec<Case>> = OnceLock::new();
    ALL.get_or_init(|| {
        [
            conventions::CASES,
            auth::CASES,
            jobs::run::CASES,
            jobs::gpus::CASES,
            jobs::status::CASES,
            jobs::stop::CASES,
            jobs::list::CASES,
            logs::CASES,
            workflows::CASES,
            networks::CASES,
            volumes::CASES,
            monitoring::CASES,
            runtimes::CASES,
            v2::CONTRACT,
            v2::AUTH,
            v2::JOBS,
            v2::TELEMETRY,
            v2::RUNTIMES,
        ]
        .concat()
    })
}

/// Whether `case` holds only in contract v1.0.6 (declared `contracts =
/// [V1]`: it calls methods only v1.0.6 has, workflows, runtime installs,
/// ValidateRuntimeSpec, or checks a `[v1]` behaviour): skipped against a node
/// that speaks v2.5.9 alone. The `contract` integration test checks the
/// declarations against the RPCs every case calls.
pub fn needs_v1(case: &Case) -> bool {
    !case.contracts.contains(&Api::V2)
}

/// Whether `case` holds only in contract v2.5.9 (declared `contracts =
/// [V2]`): skipped against a node that speaks v1.0.6 alone.
pub fn needs_v2(case: &Case) -> bool {
    !case.contracts.contains(&Api::V1)
}

/// Finds a case by name.
pub fn by_name(name: &str) -> Option<&'static Case> {
    catalogue().iter().find(|c| c.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_stable_snake_case_with_ids() {
        let mut names = std::collections::BTreeSet::new();
        for c in catalogue() {
            assert!(names.insert(c.name), "duplicate case {}", c.name);
            let parts: Vec<&str> = c.name.split('.').collect();
            assert_eq!(parts.len(), 3, "{} is not family.group.case", c.name);
            assert!(
                parts.iter().all(|p| !p.is_empty()
                    && p.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')),
                "{} is not snake_case",
                c.name
            );
            assert!(!c.ids.is_empty(), "{} covers no behaviour", c.name);
            assert!(
                c.quirks.iter().all(|q| q.starts_with("QUIRK-")),
                "{}: {:?}",
                c.name,
                c.quirks
            );
        }
    }
}
