//! Which contract the run's targets speak, and so which messages the run
//! sends (issue #17): `GetSystemStatus`, then probes
//! ([`joblet_testkit::detect`]), over a tonic channel built from the same
//! endpoint and TLS flags as the run's own connections; or the contract
//! `--contract` gives.
//!
//! A node of v1.0.6 gets v1 messages and one of v2.5.9 v2 messages. A node
//! that speaks both gets v1 messages unless the run needs v2 (the `metrics`
//! scenario, a job timeout): the shared methods answer either. A run whose
//! targets speak different contracts, or that needs v2 from a v1 node, is
//! refused before any load.

use std::sync::{Arc, Mutex};

use joblet_testkit::Target;
use joblet_testkit::contract::Api;
use joblet_testkit::detect::{self, Detection};

use crate::plan::Wire;
use crate::report::ContractReport;
use crate::transport::ServerTls;

/// The targets' contract as the first run that needed it found it, shared
/// by the clones of a run's config (its `contract_memo`) so that later runs
/// on the same targets (with the same `--contract`) do not ask again.
#[derive(Debug, Clone, Default)]
pub struct ContractMemo(Arc<Mutex<Option<Remembered>>>);

/// What a [`ContractMemo`] holds: the question and its answer.
#[derive(Debug)]
struct Remembered {
    given: Option<Api>,
    found: Vec<(String, Detection)>,
}

impl ContractMemo {
    /// What a run found for `given` on the targets `hosts` (`HOST:PORT`,
    /// in order), if a run asked that already.
    pub(crate) fn recall(
        &self,
        given: Option<Api>,
        hosts: &[&str],
    ) -> Option<Vec<(String, Detection)>> {
        let held = self.0.lock().ok()?;
        let r = held.as_ref()?;
        (r.given == given
            && r.found
                .iter()
                .map(|(h, _)| h.as_str())
                .eq(hosts.iter().copied()))
        .then(|| r.found.clone())
    }

    /// Keeps what a run found for `given` (replacing what was kept).
    pub(crate) fn remember(&self, given: Option<Api>, found: &[(String, Detection)]) {
        if let Ok(mut held) = self.0.lock() {
            *held = Some(Remembered {
                given,
                found: found.to_vec(),
            });
        }
    }
}

/// What each target speaks: `given` for all, or detected one by one; what
/// `memo` kept of an earlier run on the same targets, when there is one
/// (and kept there otherwise).
pub(crate) async fn detect_all(
    targets: &[(&Target, Option<&ServerTls>)],
    given: Option<Api>,
    memo: Option<&ContractMemo>,
) -> Result<Vec<(String, Detection)>, String> {
    let hosts: Vec<&str> = targets.iter().map(|(t, _)| t.host_port()).collect();
    if let Some(found) = memo.and_then(|m| m.recall(given, &hosts)) {
        return Ok(found);
    }
    let mut out = Vec::new();
    for (target, server_tls) in targets {
        let detection = match given {
            Some(api) => Detection::given(api, "--contract (JOBLET_CONTRACT)"),
            None => {
                let channel = crate::monitor::channel(target, *server_tls)
                    .await
                    .map_err(|e| {
                        format!(
                            "target {}: cannot connect to detect its contract: {e}",
                            target.host_port()
                        )
                    })?;
                detect::detect(channel).await
            }
        };
        out.push((target.host_port().to_owned(), detection));
    }
    if let Some(m) = memo {
        m.remember(given, &out);
    }
    Ok(out)
}

/// The messages to send to targets that speak `found`, for a run that
/// `needs_v2` (or not), and the report's account of it; an error says why
/// the run cannot go ahead.
pub(crate) fn choose(
    found: &[(String, Detection)],
    needs_v2: Option<&str>,
) -> Result<(Wire, ContractReport), String> {
    let has = |api: Api| found.iter().any(|(_, d)| d.contract == api);
    let wire = match (has(Api::V1), has(Api::V2)) {
        (true, true) => {
            return Err(format!(
                "the targets speak different contracts ({}): run them separately",
                describe(found)
            ));
        }
        (true, false) => Wire::V1,
        (false, true) => Wire::V2,
        (false, false) if needs_v2.is_some() => Wire::V2,
        (false, false) => Wire::V1,
    };
    if let (Wire::V1, Some(why)) = (wire, needs_v2) {
        return Err(format!(
            "{why} needs contract v2.5.9, and the target speaks v1.0.6 ({}); give a v2 node (or --contract v2 if the detection is wrong)",
            describe(found)
        ));
    }
    let mut labels: Vec<&str> = found.iter().map(|(_, d)| d.label()).collect();
    labels.dedup();
    let how = match found {
        [(_, d)] => d.how.clone(),
        _ => found
            .iter()
            .map(|(t, d)| format!("{t}: {}", d.how))
            .collect::<Vec<_>>()
            .join("; "),
    };
    Ok((
        wire,
        ContractReport {
            detected: labels.join(", "),
            how,
            wire: wire.name().into(),
        },
    ))
}

fn describe(found: &[(String, Detection)]) -> String {
    found
        .iter()
        .map(|(t, d)| format!("{t}: {d}"))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contract_memo_answers_only_the_question_it_kept() {
        let memo = ContractMemo::default();
        assert_eq!(memo.recall(None, &["a:1"]), None);
        let found = vec![
            ("a:1".to_owned(), Detection::given(Api::V1, "a test")),
            ("b:2".to_owned(), Detection::given(Api::V1, "a test")),
        ];
        memo.remember(None, &found);
        assert_eq!(memo.recall(None, &["a:1", "b:2"]), Some(found.clone()));
        // A clone shares what is kept.
        assert_eq!(memo.clone().recall(None, &["a:1", "b:2"]), Some(found));
        // Other targets, another order, another --contract: not the same question.
        assert_eq!(memo.recall(None, &["a:1"]), None);
        assert_eq!(memo.recall(None, &["b:2", "a:1"]), None);
        assert_eq!(memo.recall(None, &["a:1", "b:2", "c:3"]), None);
        assert_eq!(memo.recall(Some(Api::V1), &["a:1", "b:2"]), None);
    }

    fn found(apis: &[Api]) -> Vec<(String, Detection)> {
        apis.iter()
            .enumerate()
            .map(|(i, a)| (format!("h{i}:1"), Detection::given(*a, "test")))
            .collect()
    }

    #[test]
    fn each_contract_gets_its_own_messages() {
        let (w, r) = choose(&found(&[Api::V2]), None).unwrap();
        assert_eq!(
            (w, r.detected.as_str(), r.wire.as_str()),
            (Wire::V2, "v2.5.9", "v2")
        );
        assert_eq!(r.how, "given by test");
        let (w, r) = choose(&found(&[Api::V1]), None).unwrap();
        assert_eq!((w, r.detected.as_str()), (Wire::V1, "v1.0.6"));
        // A node of both: v1 messages, unless the run needs v2.
        assert_eq!(choose(&found(&[Api::Both]), None).unwrap().0, Wire::V1);
        assert_eq!(
            choose(&found(&[Api::Both]), Some("metrics")).unwrap().0,
            Wire::V2
        );
        let (w, r) = choose(&found(&[Api::Both, Api::V2]), None).unwrap();
        assert_eq!((w, r.detected.as_str()), (Wire::V2, "both, v2.5.9"));
        assert!(
            r.how.starts_with("h0:1: given by test; h1:1: "),
            "{}",
            r.how
        );
    }

    #[test]
    fn v2_needs_on_a_v1_node_and_mixed_targets_are_refused() {
        let e = choose(&found(&[Api::V1]), Some("the metrics scenario")).unwrap_err();
        assert!(
            e.contains("the metrics scenario needs contract v2.5.9"),
            "{e}"
        );
        let e = choose(&found(&[Api::V1, Api::V2]), None).unwrap_err();
        assert!(e.contains("different contracts"), "{e}");
    }
}
