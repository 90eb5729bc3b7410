//! The model of BuildRuntime (RT-BUILD-1..5) and of ListRuntimes with the
//! v2 message (RT-LIST-2 for the run's built runtimes): pure, over
//! [`super::v2model`].

use tonic::Code;

use super::call::Answer;
use super::checks::Verdict;
use super::model::Model;
use super::v2call::{BuildMsg, BuildResult, End, RtYaml, V2Answer};
use super::v2yaml::{errors_match, yaml_errors};

/// The 14 build phases (RT-BUILD-2), as the catalogue checks them.
pub(crate) use crate::cases::v2::runtimes::PHASES;

/// The log line a dry run ends with (RT-BUILD-3).
pub const DRY_RUN_DONE: &str = "Dry run completed. No changes were made.";

/// What is wrong with the phases and log lines of a build that should have
/// announced phases 1 to `last`.
fn phases_rule(msgs: &[BuildMsg], last: usize, verbose: bool) -> Option<String> {
    let mut next = 1;
    let mut info_since_phase = true;
    for m in msgs {
        match m {
            BuildMsg::Phase(n, total, name) => {
                if !info_since_phase {
                    return Some(format!("an info line in phase {}", next - 1));
                }
                if *n != next
                    || *total != 14
                    || PHASES.get(next as usize - 1) != Some(&name.as_str())
                {
                    return Some(format!(
                        "phase {next} of 14 {:?} next (phases 1 to {last} in order)",
                        PHASES.get(next as usize - 1).copied().unwrap_or("")
                    ));
                }
                next += 1;
                info_since_phase = false;
            }
            BuildMsg::Log(level, ..) => {
                let ok = matches!(level.as_str(), "info" | "warn" | "error")
                    || (verbose && level == "debug");
                if !ok {
                    return Some(format!(
                        "log levels info, warn, error{} (got {level:?})",
                        if verbose { ", debug" } else { "" }
                    ));
                }
                if level == "info" {
                    info_since_phase = true;
                }
            }
            BuildMsg::Result(_) => {}
            BuildMsg::Empty => return Some("every message a phase, a log line or a result".into()),
        }
    }
    if next - 1 != last as i32 {
        return Some(format!("phases 1 to {last} (got {})", next - 1));
    }
    None
}

/// The one result, last.
fn result(msgs: &[BuildMsg]) -> Result<&BuildResult, String> {
    let results: Vec<&BuildResult> = msgs
        .iter()
        .filter_map(|m| match m {
            BuildMsg::Result(r) => Some(r),
            _ => None,
        })
        .collect();
    match (results.as_slice(), msgs.last()) {
        ([r], Some(BuildMsg::Result(_))) => Ok(r),
        _ => Err(format!(
            "exactly one result, as the last message (got {})",
            results.len()
        )),
    }
}

/// Judges a BuildRuntime of `y`, sent at `a`, answered at `b`.
pub fn build(
    m: &mut Model,
    y: &RtYaml,
    dry_run: bool,
    verbose: bool,
    a: f64,
    b: f64,
    answer: &Answer,
) -> Verdict {
    if y.empty {
        let ok = matches!(answer, Answer::Error(Code::InvalidArgument, msg) if msg == "yaml_content is required");
        return if ok {
            Verdict::pass(&["RT-BUILD-1"])
        } else {
            Verdict::fail(
                &["RT-BUILD-1"],
                "INVALID_ARGUMENT \"yaml_content is required\"",
            )
        };
    }
    let Answer::V2(V2Answer::Build(msgs, end)) = answer else {
        return Verdict::fail(
            &["RT-BUILD-2", "RT-BUILD-4"],
            "a stream of phases and log lines, one result, then OK",
        );
    };
    let errors = yaml_errors(y);
    let mut ids = vec!["RT-BUILD-2", "RT-BUILD-4"];
    let fail = |ids: &[&'static str], what: String| Verdict::fail(ids, &what);
    if *end != End::Ok {
        return fail(
            &ids,
            format!("the end with OK after the result (got {end})"),
        );
    }
    let r = match result(msgs) {
        Ok(r) => r,
        Err(e) => return fail(&ids, e),
    };
    for msg in msgs {
        if let BuildMsg::Log(_, _, ts) = msg
            && !m.v2.stamp(*ts, a, b)
        {
            return fail(
                &ids,
                format!("log timestamps within the build (Unix ns; {ts} fits no epoch)"),
            );
        }
    }
    if !errors.is_empty() {
        ids.push("RT-YAML-2");
        if let Some(e) = phases_rule(msgs, 1, verbose) {
            return fail(
                &ids,
                format!("{e} (a YAML that breaks RT-YAML-2 fails in phase 1)"),
            );
        }
        let got: Vec<String> = r
            .message
            .strip_prefix("validation failed: validation errors:\n  - ")
            .map(|rest| rest.split("\n  - ").map(str::to_owned).collect())
            .unwrap_or_default();
        let empty = r.name.is_empty() && r.version.is_empty() && r.path.is_empty() && r.size == 0;
        if r.success || !errors_match(&errors, &got) || !empty {
            return fail(
                &ids,
                format!(
                    "result {{success false, message \"validation failed: validation errors:\\n  - …\" listing {errors:?}, the other fields empty}}"
                ),
            );
        }
        return Verdict::pass(&ids);
    }
    let name = y.name.clone().unwrap_or_default();
    let version = y.version.clone().unwrap_or_default();
    if dry_run {
        ids.push("RT-BUILD-3");
        if let Some(e) = phases_rule(msgs, 4, verbose) {
            return fail(&ids, format!("{e} (a dry run stops after phase 4)"));
        }
        let said = msgs
            .iter()
            .any(|m| matches!(m, BuildMsg::Log(l, t, _) if l == "info" && t == DRY_RUN_DONE));
        if !said || !r.success || !r.path.is_empty() || r.size != 0 {
            return fail(
                &ids,
                format!(
                    "info {DRY_RUN_DONE:?}, then result {{success true, install_path \"\", size_bytes 0}}"
                ),
            );
        }
        if !m.runtimes.contains(&name) {
            m.v2.dry.insert(name);
        }
        return Verdict::pass(&ids);
    }
    ids.push("RT-BUILD-5");
    if let Some(e) = phases_rule(msgs, 14, verbose) {
        return fail(&ids, e);
    }
    let path = format!("/opt/joblet/runtimes/{name}/{version}");
    let ok = r.success
        && r.message == "Build completed successfully"
        && r.name == name
        && r.version == version
        && r.path == path
        && r.size > 0;
    if !ok {
        return fail(
            &ids,
            format!(
                "result {{success true, message \"Build completed successfully\", runtime_name {name:?}, runtime_version {version:?}, install_path {path:?}, size_bytes > 0}}"
            ),
        );
    }
    if !m.runtimes.contains(&name) {
        m.v2.built.retain(|(n, _), _| n != &name);
    }
    m.runtimes.insert(name.clone());
    m.v2.dry.remove(&name);
    m.v2.built.insert((name, version), y.clone());
    Verdict::pass(&ids)
}

/// ListRuntimes (v2 message): of the run's runtimes exactly those installed,
/// each built one with the fields of its YAML (RT-LIST-2, RT-BUILD-5), none
/// built by a dry run only (RT-BUILD-3).
pub fn list(m: &mut Model, answer: &Answer) -> Verdict {
    let Answer::V2(V2Answer::Runtimes(list)) = answer else {
        return Verdict::fail(&["RT-LIST-1"], "OK with the runtimes");
    };
    let own = |n: &String| n.contains(m.prefix.as_str());
    let want: std::collections::BTreeSet<&String> = m.runtimes.iter().filter(|n| own(n)).collect();
    let got: std::collections::BTreeSet<&String> = list.iter().map(|r| &r.name).collect();
    let mut ids = vec!["RT-LIST-1"];
    if !m.v2.built.is_empty() {
        ids.extend(["RT-LIST-2", "RT-BUILD-5"]);
    }
    if !m.v2.dry.is_empty() {
        ids.push("RT-BUILD-3");
    }
    if want != got {
        return Verdict::fail(
            &ids,
            &format!("of the run's runtimes, those installed and not removed: {want:?}"),
        );
    }
    for ((name, version), y) in &m.v2.built {
        if !m.runtimes.contains(name) {
            continue;
        }
        let s = |o: &Option<String>| o.clone().unwrap_or_default();
        let found = list.iter().any(|r| {
            &r.name == name
                && &r.version == version
                && r.language == s(&y.language)
                && r.language_version == s(&y.base_version)
                && r.description == s(&y.description)
                && r.yaml == y.text()
        });
        if !found {
            return Verdict::fail(
                &ids,
                &format!(
                    "{name} version {version} listed with language, language_version, description and original_yaml of its YAML"
                ),
            );
        }
    }
    Verdict::pass(&ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::v2yaml::tests::valid;

    /// Phases 1 to `last` (of `total`), each with an info line, then `r`.
    fn msgs(last: i32, total: i32, r: BuildResult) -> Vec<BuildMsg> {
        let mut out = Vec::new();
        for n in 1..=last {
            out.push(BuildMsg::Phase(n, total, PHASES[n as usize - 1].into()));
            out.push(BuildMsg::Log("info".into(), format!("phase {n}"), 0));
        }
        out.push(BuildMsg::Result(r));
        out
    }

    fn success() -> BuildResult {
        BuildResult {
            success: true,
            message: "Build completed successfully".into(),
            name: "rt-cf-t-s0-b0".into(),
            version: "1.0.0".into(),
            path: "/opt/joblet/runtimes/rt-cf-t-s0-b0/1.0.0".into(),
            size: 1,
        }
    }

    fn judge(m: &mut Model, y: &RtYaml, dry: bool, answer: Answer) -> Verdict {
        build(m, y, dry, false, 0.0, 10.0, &answer)
    }

    fn answer(msgs: Vec<BuildMsg>) -> Answer {
        Answer::V2(V2Answer::Build(msgs, End::Ok))
    }

    #[test]
    fn explore_rt_build_2_4_5_fourteen_phases_then_one_result_installs() {
        let mut m = Model::new("cf-t-s0-", 300.0);
        let y = valid();
        // 13 phases, a result that is not last, two results: disagreements.
        assert!(!judge(&mut m.clone(), &y, false, answer(msgs(13, 13, success()))).is_pass());
        let mut late = msgs(14, 14, success());
        late.push(BuildMsg::Log("info".into(), "after".into(), 0));
        assert!(!judge(&mut m.clone(), &y, false, answer(late)).is_pass());
        let mut twice = msgs(14, 14, success());
        twice.push(BuildMsg::Result(success()));
        assert!(!judge(&mut m.clone(), &y, false, answer(twice)).is_pass());
        // The documented build installs the runtime.
        assert!(judge(&mut m, &y, false, answer(msgs(14, 14, success()))).is_pass());
        assert!(m.runtimes.contains("rt-cf-t-s0-b0"));
        assert!(
            m.v2.built
                .contains_key(&("rt-cf-t-s0-b0".into(), "1.0.0".into()))
        );
        // Debug lines only with verbose.
        let mut debug = msgs(14, 14, success());
        debug.insert(1, BuildMsg::Log("debug".into(), "x".into(), 0));
        assert!(!judge(&mut m.clone(), &y, false, answer(debug.clone())).is_pass());
        assert!(build(&mut m, &y, false, true, 0.0, 1.0, &answer(debug)).is_pass());
    }

    #[test]
    fn explore_rt_build_1_3_4_empty_dry_run_and_failure() {
        let mut m = Model::new("cf-t-s0-", 300.0);
        let empty = RtYaml {
            empty: true,
            ..RtYaml::default()
        };
        let refused = Answer::Error(Code::InvalidArgument, "yaml_content is required".into());
        assert!(judge(&mut m, &empty, false, refused).is_pass());
        let failed = BuildResult {
            message: "yaml_content is required".into(),
            ..BuildResult::default()
        };
        assert!(
            !judge(
                &mut m,
                &empty,
                false,
                answer(vec![BuildMsg::Result(failed)])
            )
            .is_pass()
        );
        // A dry run stops after phase 4 and installs nothing.
        let mut dry = msgs(
            4,
            14,
            BuildResult {
                path: String::new(),
                size: 0,
                ..success()
            },
        );
        dry.insert(8, BuildMsg::Log("info".into(), DRY_RUN_DONE.into(), 0));
        assert!(judge(&mut m, &valid(), true, answer(dry)).is_pass());
        assert!(!m.runtimes.contains("rt-cf-t-s0-b0"));
        assert!(!judge(&mut m, &valid(), true, answer(msgs(14, 14, success()))).is_pass());
        // A YAML that breaks a rule: phase 1, then a failed result, then OK
        // (not an error status).
        let mut bad = valid();
        bad.name = None;
        let result = BuildResult {
            message: "validation failed: validation errors:\n  - name is required".into(),
            ..BuildResult::default()
        };
        assert!(judge(&mut m, &bad, false, answer(msgs(1, 14, result.clone()))).is_pass());
        let status = Answer::V2(V2Answer::Build(
            msgs(1, 14, result)[..2].to_vec(),
            End::Error(Code::InvalidArgument, "validation failed".into()),
        ));
        assert!(!judge(&mut m, &bad, false, status).is_pass());
    }
}
