//! The case catalogue, one module per family. Every behaviour ID of
//! `docs/behaviours.md` has at least one case (the coverage test checks it).

use std::sync::OnceLock;

use crate::case::Case;

mod auth;
mod conventions;
mod jobs;
mod logs;
mod monitoring;
mod networks;
mod runtimes;
mod shapes;
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
        ]
        .concat()
    })
}

/// Cases that call methods only contract v1.0.6 has (workflows, runtime
/// installs, ValidateRuntimeSpec), as globs on names: not run against a node
/// that speaks v2.5.9 alone. The `contract` integration test checks the list
/// against the RPCs every case calls.
// TODO(#17): v2 variants of these cases (the role cases without the v1-only
// methods, v2 runtime builds and YAML checks, metrics and telematics).
pub const V1_ONLY_CASES: &[&str] = &[
    "workflows.*",
    "runtimes.spec.*",
    "runtimes.install.*",
    // They install a runtime of their own.
    "runtimes.remove.removes_and_reports_unknown",
    "jobs.run.installed_runtime_is_echoed",
    // Every read, every write of a role: workflows and installs among them.
    "auth.roles.certificate_without_role_may_call_nothing",
    "auth.viewer.may_call_every_read",
    "auth.viewer.may_not_change_anything",
];

/// Whether `case` calls a method only contract v1.0.6 has.
pub fn needs_v1(case: &Case) -> bool {
    V1_ONLY_CASES
        .iter()
        .any(|p| crate::glob::glob_match(p, case.name))
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
