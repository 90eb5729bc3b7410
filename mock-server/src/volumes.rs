//! Volumes: create, list, remove (VOL-*).
//!
//! Volumes are records only (nothing is allocated). `jobCount` is what the job
//! engine keeps in
//! [`State::running_with_volume`](crate::state::State::running_with_volume).

use joblet_testkit::pb::union as pb;

use crate::behaviour::{Mutant, Quirk};
use crate::error::{Error, Result};
use crate::session::Shared;
use crate::state::{State, VolumeRecord};
use crate::time::rfc3339;
use crate::validate;

/// Where the node keeps its volumes.
pub const VOLUMES_BASE: &str = "/opt/joblet/volumes";

/// The host path of volume `name` (VOL-CREATE-1).
pub fn volume_path(name: &str) -> String {
    format!("{VOLUMES_BASE}/{name}")
}

/// Jobs currently running with `name` mounted.
fn running_with(state: &State, name: &str) -> u32 {
    state.running_with_volume.get(name).copied().unwrap_or(0)
}

/// CreateVolume (VOL-CREATE-1..3).
pub fn create(shared: &Shared, req: pb::CreateVolumeReq) -> Result<pb::CreateVolumeRes> {
    let pb::CreateVolumeReq { name, size, r#type } = req;
    if name.trim().is_empty() {
        return Err(Error::invalid("name", "volume name is required"));
    }
    validate::resource_name("name", &name)?;
    if size.trim().is_empty() {
        return Err(Error::invalid("size", "volume size is required"));
    }
    // VOL-CREATE-2 mutant: the size is not checked.
    if !shared.mutant(Mutant::VolumeSizeUnchecked) {
        validate::volume_size(&size)?;
    }
    let kind = validate::volume_type(&r#type)?;
    // VOL-CREATE-1 mutant: the type has no default.
    let kind = if shared.mutant(Mutant::VolumeTypeNoDefault) && r#type.trim().is_empty() {
        ""
    } else {
        kind
    };
    let record = VolumeRecord {
        path: volume_path(&name),
        name,
        size,
        kind: kind.to_string(),
        created: shared.clock.now_secs(),
    };
    let res = pb::CreateVolumeRes {
        name: record.name.clone(),
        size: record.size.clone(),
        r#type: record.kind.clone(),
        path: record.path.clone(),
    };
    let mut state = shared.state.lock();
    // QUIRK-8: on the deployed server a duplicate name replaces the volume.
    if shared.quirk(Quirk::LaxNetworksVolumes)
        && let Some(old) = state.volumes.iter_mut().find(|v| v.name == record.name)
    {
        *old = record;
        return Ok(res);
    }
    // VOL-CREATE-3 mutant: a duplicate name adds a second volume.
    if state.volume(&record.name).is_some() && !shared.mutant(Mutant::VolumeDuplicateOk) {
        return Err(Error::AlreadyExists(format!(
            "volume {} already exists",
            record.name
        )));
    }
    state.volumes.push(record);
    Ok(res)
}

/// ListVolumes (VOL-LIST-1), in creation order.
pub fn list(shared: &Shared) -> pb::Volumes {
    // QUIRK-8: the deployed server never counts a volume's jobs.
    // VOL-LIST-1 mutant: the same in the documented profile.
    let uncounted =
        shared.quirk(Quirk::LaxNetworksVolumes) || shared.mutant(Mutant::VolumeJobCountZero);
    let state = shared.state.lock();
    let volumes = state
        .volumes
        .iter()
        .map(|v| pb::Volume {
            name: v.name.clone(),
            size: v.size.clone(),
            r#type: v.kind.clone(),
            path: v.path.clone(),
            created_time: rfc3339(v.created),
            job_count: if uncounted {
                0
            } else {
                i32::try_from(running_with(&state, &v.name)).unwrap_or(i32::MAX)
            },
        })
        .collect();
    pb::Volumes { volumes }
}

/// RemoveVolume (VOL-RM-1): never a gRPC error, the answer says what happened.
pub fn remove(shared: &Shared, name: &str) -> pb::RemoveVolumeRes {
    let answer = |success: bool, message: String| pb::RemoveVolumeRes { success, message };
    if name.trim().is_empty() {
        return answer(false, "volume name cannot be empty".into());
    }
    let mut state = shared.state.lock();
    let Some(index) = state.volumes.iter().position(|v| v.name == name) else {
        return answer(false, format!("volume not found: {name}"));
    };
    // QUIRK-8: with jobCount always 0, a volume is never in use.
    let running = if shared.quirk(Quirk::LaxNetworksVolumes) {
        0
    } else {
        running_with(&state, name)
    };
    // VOL-RM-1 mutant: a volume in use is removed anyway.
    if running > 0 && !shared.mutant(Mutant::RemoveBusyVolume) {
        return answer(
            false,
            format!("volume {name} is in use by {running} job(s)"),
        );
    }
    state.volumes.remove(index);
    answer(true, "Volume removed successfully".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MockConfig;

    #[test]
    fn path_is_under_the_volumes_base() {
        assert_eq!(volume_path("data"), "/opt/joblet/volumes/data");
    }

    #[test]
    fn in_use_volumes_are_kept() {
        let s = Shared::new(MockConfig::default());
        s.state.lock().volumes.push(VolumeRecord {
            name: "cache".into(),
            size: "1GB".into(),
            kind: "filesystem".into(),
            path: volume_path("cache"),
            created: 0,
        });
        s.state.lock().running_with_volume.insert("cache".into(), 1);
        assert_eq!(list(&s).volumes[0].job_count, 1);
        assert_eq!(
            remove(&s, "cache").message,
            "volume cache is in use by 1 job(s)"
        );
        s.state.lock().running_with_volume.clear();
        assert!(remove(&s, "cache").success);
        assert_eq!(remove(&s, "cache").message, "volume not found: cache");
        assert_eq!(remove(&s, " ").message, "volume name cannot be empty");
    }
}
