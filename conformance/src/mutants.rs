//! Proof that the suite can fail: the catalogue against every mutant of the
//! mock (each breaks exactly one documented behaviour), and the kill matrix of
//! which cases caught which mutant.

use std::sync::Arc;

use joblet_mock::{MockConfig, Mutant};
use joblet_testkit::auth::RoleModel;
use joblet_testkit::contract::Api;
use joblet_testkit::detect::Detection;
use tokio::sync::Semaphore;

use crate::case::Case;
use crate::embedded::Embedded;
use crate::outcome::State;
use crate::runner::{self, RunConfig, Selection};

/// One mutant's row of the kill matrix.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct MutantRow {
    /// `--mutant` name.
    pub mutant: String,
    /// The behaviour it breaks.
    pub behaviour: String,
    /// What it does instead.
    pub description: String,
    /// Cases that failed against it.
    pub caught_by: Vec<String>,
    /// Of those, the cases whose IDs include the mutated behaviour.
    pub caught_by_covering: Vec<String>,
    /// Cases that errored (harness problems; not kills).
    pub errors: Vec<String>,
    /// Why the mutant could not be run, if it could not.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub start_error: Option<String>,
    /// The contract of the group it ran in (`v1`: against a mock of both
    /// contracts, `v2`: against a mock of v2.5.9 alone; see [`groups`]);
    /// empty when run outside a group.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub contract: String,
}

impl MutantRow {
    /// Caught by at least one case.
    pub fn killed(&self) -> bool {
        !self.caught_by.is_empty()
    }

    /// Caught by a case whose IDs include the mutated behaviour: what
    /// `joblet-conformance mutants` expects of every mutant.
    pub fn killed_by_covering(&self) -> bool {
        !self.caught_by_covering.is_empty()
    }
}

/// Mutants of one contract and the mock they run against.
#[derive(Debug, Clone)]
pub struct MutantGroup {
    /// `v1` or `v2`: the contract of the behaviours they break.
    pub contract: Api,
    /// The mock each of them runs on (the mutant is set on top).
    pub base: MockConfig,
    /// The mutants.
    pub mutants: Vec<Mutant>,
}

/// `mutants` grouped by the mock that shows their behaviour: the mutants of
/// behaviours that hold on a node that speaks v1 against a mock of both
/// contracts (contract `v1`; the v1 and shared cases run), the `[v2]` ones
/// against a mock of v2.5.9 alone (contract `v2`), AUTH-8's with the
/// four-role model on (the model they break). Groups without a mutant are
/// left out; within a group, the order given.
pub fn groups(mutants: &[Mutant], base: &MockConfig) -> Vec<MutantGroup> {
    let v1: Vec<Mutant> = mutants
        .iter()
        .copied()
        .filter(|m| m.contracts().v1())
        .collect();
    let (four, two): (Vec<Mutant>, Vec<Mutant>) = mutants
        .iter()
        .copied()
        .filter(|m| !m.contracts().v1())
        .partition(|m| m.behaviour() == "AUTH-8");
    let on = |api, roles| MockConfig {
        api,
        roles,
        ..base.clone()
    };
    [
        (Api::V1, on(Api::Both, base.roles), v1),
        (Api::V2, on(Api::V2, RoleModel::Two), two),
        (Api::V2, on(Api::V2, RoleModel::Four), four),
    ]
    .into_iter()
    .filter(|(_, _, m)| !m.is_empty())
    .map(|(contract, base, mutants)| MutantGroup {
        contract,
        base,
        mutants,
    })
    .collect()
}

/// Runs every group of [`groups`] in turn (`config.base` replaced by the
/// group's); rows in group order, each with its group's contract.
pub async fn run_groups(
    catalogue: &'static [Case],
    groups: &[MutantGroup],
    config: &MutantsConfig,
    on_row: &(dyn Fn(&MutantRow) + Send + Sync),
) -> Vec<MutantRow> {
    let mut rows = Vec::new();
    for group in groups {
        let config = MutantsConfig {
            base: group.base.clone(),
            ..config.clone()
        };
        let contract = group.contract.name();
        let tagged = |row: &MutantRow| {
            let mut row = row.clone();
            row.contract = contract.into();
            on_row(&row);
        };
        let mut group_rows = run_mutants(catalogue, &group.mutants, &config, &tagged).await;
        for row in &mut group_rows {
            row.contract = contract.into();
        }
        rows.extend(group_rows);
    }
    rows
}

/// How the mutants run.
#[derive(Debug, Clone)]
pub struct MutantsConfig {
    /// Which cases run against each mutant.
    pub selection: Selection,
    /// Only the cases whose IDs include the mutated behaviour (fast; the full
    /// catalogue otherwise).
    pub covering_only: bool,
    /// Mutants at once.
    pub parallel_mutants: usize,
    /// Cases at once against each mutant.
    pub parallel_cases: usize,
    /// Base configuration of each mock (the mutant is set on top).
    pub base: MockConfig,
    /// Per-case deadline.
    pub case_timeout: std::time::Duration,
}

impl Default for MutantsConfig {
    fn default() -> Self {
        Self {
            selection: Selection::default(),
            covering_only: false,
            parallel_mutants: 4,
            parallel_cases: 16,
            base: MockConfig::default(),
            case_timeout: std::time::Duration::from_secs(30),
        }
    }
}

/// The mutants of behaviours that hold on a node that speaks v1 (run
/// against a mock of both contracts; [`v2_mutants`] are the rest).
pub fn v1_mutants() -> Vec<Mutant> {
    Mutant::LIST
        .iter()
        .copied()
        .filter(|m| m.contracts().v1())
        .collect()
}

/// The mutants of behaviours that hold only on a node that speaks v2 (the
/// `[v2]` items): run them against a mock of `--api v2` (base
/// `MockConfig { api: Api::V2, .. }`), where the v2 cases run.
pub fn v2_mutants() -> Vec<Mutant> {
    Mutant::LIST
        .iter()
        .copied()
        .filter(|m| !m.contracts().v1())
        .collect()
}

/// Runs `catalogue` against each of `mutants`; rows in the order given.
pub async fn run_mutants(
    catalogue: &'static [Case],
    mutants: &[Mutant],
    config: &MutantsConfig,
    on_row: &(dyn Fn(&MutantRow) + Send + Sync),
) -> Vec<MutantRow> {
    let semaphore = Arc::new(Semaphore::new(config.parallel_mutants.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, mutant) in mutants.iter().copied().enumerate() {
        let semaphore = Arc::clone(&semaphore);
        let config = config.clone();
        tasks.spawn(async move {
            let _permit = semaphore.acquire_owned().await.ok();
            (index, run_mutant(catalogue, mutant, &config).await)
        });
    }
    let mut rows: Vec<Option<MutantRow>> = vec![None; mutants.len()];
    while let Some(joined) = tasks.join_next().await {
        if let Ok((index, row)) = joined {
            on_row(&row);
            rows[index] = Some(row);
        }
    }
    rows.into_iter()
        .zip(mutants)
        .map(|(row, m)| {
            row.unwrap_or_else(|| MutantRow {
                mutant: m.name().into(),
                behaviour: m.behaviour().into(),
                description: m.description().into(),
                caught_by: vec![],
                caught_by_covering: vec![],
                errors: vec![],
                start_error: Some("its task ended without a result".into()),
                contract: String::new(),
            })
        })
        .collect()
}

/// Runs the selection against one mutant.
pub(crate) async fn run_mutant(
    catalogue: &'static [Case],
    mutant: Mutant,
    config: &MutantsConfig,
) -> MutantRow {
    let mut row = MutantRow {
        mutant: mutant.name().into(),
        behaviour: mutant.behaviour().into(),
        description: mutant.description().into(),
        caught_by: vec![],
        caught_by_covering: vec![],
        errors: vec![],
        start_error: None,
        contract: String::new(),
    };
    let cases: Vec<&Case> = config
        .selection
        .apply(catalogue)
        .into_iter()
        .filter(|c| !config.covering_only || c.covers(mutant.behaviour()))
        .collect();
    let mock_config = MockConfig {
        mutant: Some(mutant),
        ..config.base.clone()
    };
    let embedded = match Embedded::start(mock_config).await {
        Ok(e) => e,
        Err(e) => {
            row.start_error = Some(e.to_string());
            return row;
        }
    };
    let mut run = RunConfig::new(embedded.targets.clone());
    run.parallel = config.parallel_cases;
    run.options.allow_delete_all = true;
    run.options.allow_remote_installs = true;
    run.options.allow_builds = true;
    run.options.case_timeout = config.case_timeout;
    // The mock's contract is known: no detection a mutant could mislead.
    run.contract = Some(Detection::given(
        config.base.api,
        "--api of the mutant's mock",
    ));
    let result = runner::run(&cases, run).await;
    embedded.shutdown().await;
    for o in &result.outcomes {
        match o.state {
            State::Fail => {
                if o.ids.iter().any(|id| id == mutant.behaviour()) {
                    row.caught_by_covering.push(o.case.clone());
                }
                row.caught_by.push(o.case.clone());
            }
            State::Error => row.errors.push(format!(
                "{}: {}",
                o.case,
                o.message.clone().unwrap_or_default()
            )),
            State::Pass | State::Skip => {}
        }
    }
    row
}

/// The kill matrix as text: a line per mutant (its behaviour, how many
/// cases caught it, the cases that caught it, those covering its behaviour
/// first), a `contract vN: killed K/N` line per contract when the rows carry
/// one, and last `killed K/N` (killed: caught by a case covering the mutated
/// behaviour).
pub fn matrix(rows: &[MutantRow]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let width = rows
        .iter()
        .map(|r| r.mutant.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let _ = writeln!(
        out,
        "{:<width$}  {:<8}  {:<13}  {:>6}  caught by",
        "mutant", "contract", "behaviour", "cases"
    );
    for r in rows {
        let who = if let Some(e) = &r.start_error {
            format!("NOT RUN: {e}")
        } else if r.caught_by.is_empty() {
            "SURVIVED".to_owned()
        } else {
            let mut who: Vec<&str> = r.caught_by_covering.iter().map(String::as_str).collect();
            who.extend(
                r.caught_by
                    .iter()
                    .filter(|c| !r.caught_by_covering.contains(c))
                    .map(String::as_str),
            );
            let mut text = who.join(", ");
            if r.caught_by_covering.is_empty() {
                text.push_str(&format!(" (NO CASE COVERING {} CAUGHT IT)", r.behaviour));
            }
            text
        };
        let _ = writeln!(
            out,
            "{:<width$}  {:<8}  {:<13}  {:>6}  {who}",
            r.mutant,
            if r.contract.is_empty() {
                "-"
            } else {
                &r.contract
            },
            r.behaviour,
            r.caught_by.len()
        );
    }
    let mut contracts: Vec<&str> = rows
        .iter()
        .map(|r| r.contract.as_str())
        .filter(|c| !c.is_empty())
        .collect();
    contracts.dedup();
    for c in contracts {
        let of: Vec<&MutantRow> = rows.iter().filter(|r| r.contract == c).collect();
        let killed = of.iter().filter(|r| r.killed_by_covering()).count();
        let _ = writeln!(out, "contract {c}: killed {killed}/{}", of.len());
    }
    let killed = rows.iter().filter(|r| r.killed_by_covering()).count();
    let _ = writeln!(out, "killed {killed}/{}", rows.len());
    out
}
