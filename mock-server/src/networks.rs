//! Networks: create, list, remove (NET-*).
//!
//! The node starts with the built-in `bridge` (172.20.0.0/16, listed), `isolated`
//! and `none` (not listed); created networks follow in creation order (ALL-5).
//! `jobCount` is what the job engine keeps in
//! [`State::running_on_network`](crate::state::State::running_on_network).

use joblet_testkit::pb::union as pb;

use crate::behaviour::{Mutant, Quirk};
use crate::error::{Error, Result};
use crate::session::Shared;
use crate::state::{NetworkRecord, State};
use crate::validate;

/// The Linux bridge a created network gets (NET-CREATE-1).
pub fn bridge_name(network: &str) -> String {
    format!("joblet-{network}")
}

/// Jobs currently running on `name`.
fn running_on(state: &State, name: &str) -> u32 {
    state.running_on_network.get(name).copied().unwrap_or(0)
}

/// Checks the request fields that need no state (NET-CREATE-2/3).
/// `lax` (QUIRK-8): the deployed server has no reserved names.
fn validate_request(name: &str, cidr: &str, lax: bool) -> Result<validate::Ipv4Cidr> {
    if name.trim().is_empty() {
        return Err(Error::invalid("name", "network name is required"));
    }
    validate::resource_name("name", name)?;
    if !lax && validate::RESERVED_NETWORKS.contains(&name) {
        return Err(Error::invalid(
            "name",
            format!(
                "network name {name:?} is reserved (built in: {})",
                validate::RESERVED_NETWORKS.join(", ")
            ),
        ));
    }
    if cidr.trim().is_empty() {
        return Err(Error::invalid("cidr", "cidr is required"));
    }
    validate::cidr("cidr", cidr)
}

/// The first existing network whose CIDR shares an address with `wanted`.
fn overlapping<'a>(state: &'a State, wanted: &validate::Ipv4Cidr) -> Option<&'a NetworkRecord> {
    state.networks.iter().find(|n| {
        !n.cidr.is_empty()
            && validate::cidr("cidr", &n.cidr).is_ok_and(|existing| existing.overlaps(wanted))
    })
}

/// CreateNetwork (NET-CREATE-1..4).
pub fn create(shared: &Shared, req: pb::CreateNetworkReq) -> Result<pb::CreateNetworkRes> {
    let pb::CreateNetworkReq { name, cidr } = req;
    // QUIRK-8: duplicates overwrite; no reserved-name or overlap checks; bridge "".
    let lax = shared.quirk(Quirk::LaxNetworksVolumes);
    // NET-CREATE-2 mutant: reserved names are accepted.
    let no_reserved = lax || shared.mutant(Mutant::ReservedNetworkOk);
    let parsed = validate_request(&name, &cidr, no_reserved)?;
    let mut state = shared.state.lock();
    // NET-CREATE-4 mutant: a duplicate name replaces the network.
    if !lax && !shared.mutant(Mutant::NetworkDuplicateOk) && state.network(&name).is_some() {
        return Err(Error::AlreadyExists(format!(
            "network {name} already exists"
        )));
    }
    // NET-CREATE-3 mutant: overlapping CIDRs are accepted.
    let overlap_ok = lax || shared.mutant(Mutant::CidrOverlapOk);
    if let Some(other) = overlapping(&state, &parsed).filter(|_| !overlap_ok) {
        return Err(Error::invalid(
            "cidr",
            format!(
                "{cidr} overlaps with existing network {} ({})",
                other.name, other.cidr
            ),
        ));
    }
    let record = NetworkRecord {
        bridge: if lax {
            String::new()
        } else if shared.mutant(Mutant::NetworkBridgeBr) {
            // NET-CREATE-1 mutant: another bridge name.
            format!("br-{name}")
        } else {
            bridge_name(&name)
        },
        name,
        cidr,
        builtin: false,
        listed: true,
    };
    let res = pb::CreateNetworkRes {
        name: record.name.clone(),
        cidr: record.cidr.clone(),
        bridge: record.bridge.clone(),
    };
    // QUIRK-8: a duplicate name replaces the record (a built-in stays built in).
    match state.networks.iter_mut().find(|n| n.name == record.name) {
        Some(old) => {
            *old = NetworkRecord {
                builtin: old.builtin,
                ..record
            }
        }
        None => state.networks.push(record),
    }
    Ok(res)
}

/// ListNetworks (NET-LIST-1): listed built-ins first, then created ones.
pub fn list(shared: &Shared) -> pb::Networks {
    let state = shared.state.lock();
    let networks = state
        .networks
        .iter()
        .filter(|n| n.listed)
        .map(|n| pb::Network {
            name: n.name.clone(),
            cidr: n.cidr.clone(),
            bridge: n.bridge.clone(),
            // NET-LIST-1 mutant: jobCount is always 0.
            job_count: if shared.mutant(Mutant::NetworkJobCountZero) {
                0
            } else {
                i32::try_from(running_on(&state, &n.name)).unwrap_or(i32::MAX)
            },
        })
        .collect();
    pb::Networks { networks }
}

/// RemoveNetwork (NET-RM-1): never a gRPC error, the answer says what happened.
pub fn remove(shared: &Shared, name: &str) -> pb::RemoveNetworkRes {
    let answer = |success: bool, message: String| pb::RemoveNetworkRes { success, message };
    if name.trim().is_empty() {
        return answer(false, "network name cannot be empty".into());
    }
    let mut state = shared.state.lock();
    let Some(index) = state.networks.iter().position(|n| n.name == name) else {
        return answer(false, format!("network not found: {name}"));
    };
    if state.networks[index].builtin {
        return answer(
            false,
            format!("network {name} is built in and cannot be removed"),
        );
    }
    let running = running_on(&state, name);
    // NET-RM-1 mutant: a network in use is removed anyway.
    if running > 0 && !shared.mutant(Mutant::RemoveBusyNetwork) {
        return answer(
            false,
            format!("network is still in use by {running} job(s)"),
        );
    }
    state.networks.remove(index);
    answer(true, "Network removed successfully".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MockConfig;

    fn shared() -> std::sync::Arc<Shared> {
        Shared::new(MockConfig::default())
    }

    fn req(name: &str, cidr: &str) -> pb::CreateNetworkReq {
        pb::CreateNetworkReq {
            name: name.into(),
            cidr: cidr.into(),
        }
    }

    #[test]
    fn created_networks_get_a_joblet_bridge_and_follow_the_builtin_one() {
        let s = shared();
        let res = create(&s, req("dev", "10.10.0.0/24")).unwrap();
        assert_eq!(res.bridge, "joblet-dev");
        let names: Vec<_> = list(&s).networks.into_iter().map(|n| n.name).collect();
        assert_eq!(names, ["bridge", "dev"]);
    }

    #[test]
    fn builtins_cannot_be_removed_and_unlisted_ones_stay_hidden() {
        let s = shared();
        for name in ["bridge", "isolated", "none"] {
            let res = remove(&s, name);
            assert!(!res.success && res.message.contains("built in"), "{res:?}");
        }
        assert_eq!(list(&s).networks.len(), 1);
    }

    #[test]
    fn in_use_counts_come_from_the_job_engine() {
        let s = shared();
        create(&s, req("busy", "10.20.0.0/24")).unwrap();
        s.state.lock().running_on_network.insert("busy".into(), 2);
        assert_eq!(list(&s).networks[1].job_count, 2);
        let res = remove(&s, "busy");
        assert_eq!(res.message, "network is still in use by 2 job(s)");
        s.state.lock().running_on_network.insert("busy".into(), 0);
        assert!(remove(&s, "busy").success);
        assert_eq!(remove(&s, "busy").message, "network not found: busy");
    }
}
