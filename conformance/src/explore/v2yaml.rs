//! The model of the runtime YAML rules (RT-YAML-1..3), which
//! ValidateRuntimeYAML answers and BuildRuntime applies in its phase 1
//! ([`super::v2build`]): pure, over [`super::v2model`].

use super::call::Answer;
use super::checks::Verdict;
use super::model::Model;
use super::v2call::{RtYaml, V2Answer, Validated};

/// What RT-YAML-2 says of `y`: the errors, in the order of its rules (a
/// text that is not YAML is the one error starting `invalid YAML: `).
pub fn yaml_errors(y: &RtYaml) -> Vec<String> {
    if y.garbage {
        return vec!["invalid YAML: ".into()];
    }
    let mut out = Vec::new();
    let missing = |v: &Option<String>| v.as_deref().is_none_or(str::is_empty);
    match y.schema.as_deref() {
        _ if missing(&y.schema) => out.push("schema_version is required".into()),
        Some("1.0") => {}
        Some(v) => out.push(format!("unsupported schema_version: {v} (expected 1.0)")),
        None => {}
    }
    match y.name.as_deref() {
        _ if missing(&y.name) => out.push("name is required".into()),
        Some(n) if !valid_name(n) => out.push(format!("invalid name: {n}")),
        _ => {}
    }
    match y.version.as_deref() {
        _ if missing(&y.version) => out.push("version is required".into()),
        Some(v) if !semver(v) => out.push(format!(
            "invalid version: {v} (expected semantic version X.Y.Z)"
        )),
        _ => {}
    }
    match y.description.as_deref() {
        _ if missing(&y.description) => out.push("description is required".into()),
        Some(d) if d.chars().count() > 256 => out.push(format!(
            "description too long: {} characters (max 256)",
            d.chars().count()
        )),
        _ => {}
    }
    match y.language.as_deref() {
        _ if missing(&y.language) => out.push("base.language is required".into()),
        Some("python" | "java" | "node" | "go" | "rust") => {}
        Some(l) => out.push(format!(
            "unsupported language: {l} (supported: python, java, node, go, rust)"
        )),
        None => {}
    }
    if missing(&y.base_version) {
        out.push("base.version is required".into());
    }
    for p in &y.platforms {
        let ok = p.split_once('-').is_some_and(|(os, arch)| {
            ["ubuntu", "rhel", "amzn"].contains(&os) && ["amd64", "arm64"].contains(&arch)
        });
        if !ok {
            out.push(format!("unsupported platform: {p}"));
        }
    }
    if let Some(t) = &y.hooks_timeout
        && !(t.ends_with('s') || t.ends_with('m') || t.ends_with('h'))
    {
        out.push(format!(
            "invalid hooks.timeout: {t} (must end in s, m or h)"
        ));
    }
    out
}

fn valid_name(n: &str) -> bool {
    let b = n.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
}

fn semver(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))
}

/// Whether `got` are the errors `want` (an `invalid YAML: ` entry matches
/// any parser message after it).
pub fn errors_match(want: &[String], got: &[String]) -> bool {
    want.len() == got.len()
        && want.iter().zip(got).all(|(w, g)| {
            if w == "invalid YAML: " {
                g.starts_with(w)
            } else {
                w == g
            }
        })
}

/// The warnings of RT-YAML-3 for a valid `y`.
pub fn warnings(m: &Model, y: &RtYaml) -> Vec<String> {
    let (Some(name), Some(version)) = (&y.name, &y.version) else {
        return vec![];
    };
    let versions = m.v2.versions(name, m.runtimes.contains(name));
    let mut out = Vec::new();
    if versions.contains(version) {
        out.push(format!(
            "Runtime '{name}' version '{version}' already exists at /opt/joblet/runtimes/{name}/{version}"
        ));
    }
    let others: Vec<&String> = versions.iter().filter(|v| *v != version).collect();
    if !others.is_empty() {
        let list: Vec<&str> = others.iter().map(|s| s.as_str()).collect();
        out.push(format!(
            "Other versions of '{name}' exist: [{}]",
            list.join(" ")
        ));
    }
    out
}

pub fn validate(m: &mut Model, y: &RtYaml, answer: &Answer) -> Verdict {
    let Answer::V2(V2Answer::Validated(v)) = answer else {
        return Verdict::fail(&["RT-YAML-1"], "OK (never a gRPC error)");
    };
    if y.empty {
        let ok = !v.valid
            && v.message == "yaml_content is required"
            && v.errors == ["yaml_content cannot be empty"];
        return if ok {
            Verdict::pass(&["RT-YAML-1"])
        } else {
            Verdict::fail(
                &["RT-YAML-1"],
                "OK {valid false, message \"yaml_content is required\", errors [\"yaml_content cannot be empty\"]}",
            )
        };
    }
    let errors = yaml_errors(y);
    if !errors.is_empty() {
        return if !v.valid && v.message == "Validation failed" && errors_match(&errors, &v.errors) {
            Verdict::pass(&["RT-YAML-1", "RT-YAML-2", "RT-YAML-3"])
        } else {
            Verdict::fail(
                &["RT-YAML-2", "RT-YAML-3"],
                &format!("OK {{valid false, message \"Validation failed\", errors {errors:?}}}"),
            )
        };
    }
    let want = warnings(m, y);
    let message = match want.len() {
        0 => "YAML specification is valid".to_owned(),
        k => format!("YAML specification is valid (with {k} warning(s))"),
    };
    let mut ids = vec!["RT-YAML-1", "RT-YAML-2", "RT-YAML-3"];
    if !want.is_empty() {
        ids.push("RT-BUILD-5");
    }
    if v.valid && v.message == message && v.warnings == want && spec_info_ok(y, v) {
        Verdict::pass(&ids)
    } else {
        Verdict::fail(
            &ids,
            &format!(
                "OK {{valid true, message {message:?}, warnings {want:?}, spec_info of the YAML}}"
            ),
        )
    }
}

fn spec_info_ok(y: &RtYaml, v: &Validated) -> bool {
    let s = |o: &Option<String>| o.clone().unwrap_or_default();
    v.info.as_ref().is_some_and(|i| {
        i.name == s(&y.name)
            && i.version == s(&y.version)
            && i.language == s(&y.language)
            && i.language_version == s(&y.base_version)
            && i.description == s(&y.description)
            && i.pip == y.pip
            && i.hooks == y.hooks_timeout.is_some()
            && i.gpu == y.gpu
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A runtime YAML that keeps every rule.
    pub(in crate::explore) fn valid() -> RtYaml {
        let some = |s: &str| Some(s.to_owned());
        RtYaml {
            schema: some("1.0"),
            name: some("rt-cf-t-s0-b0"),
            version: some("1.0.0"),
            description: some("d"),
            language: some("python"),
            base_version: some("3.11"),
            ..RtYaml::default()
        }
    }

    #[test]
    fn explore_rt_yaml_2_errors_follow_the_rules_in_their_order() {
        assert!(yaml_errors(&valid()).is_empty());
        let mut y = valid();
        y.name = None;
        assert_eq!(yaml_errors(&y), ["name is required"]);
        y.version = Some("v2".into());
        y.language = Some("perl".into());
        y.platforms = vec!["windows-amd64".into()];
        y.hooks_timeout = Some("30".into());
        assert_eq!(
            yaml_errors(&y),
            [
                "name is required",
                "invalid version: v2 (expected semantic version X.Y.Z)",
                "unsupported language: perl (supported: python, java, node, go, rust)",
                "unsupported platform: windows-amd64",
                "invalid hooks.timeout: 30 (must end in s, m or h)",
            ]
        );
        let mut y = valid();
        y.name = Some("Bad Name".into());
        y.schema = Some("0.9".into());
        y.description = Some("é".repeat(257));
        assert_eq!(
            yaml_errors(&y),
            [
                "unsupported schema_version: 0.9 (expected 1.0)",
                "invalid name: Bad Name",
                "description too long: 257 characters (max 256)",
            ]
        );
        // Not YAML: one error, whatever the parser says after the prefix.
        y.garbage = true;
        let want = yaml_errors(&y);
        assert!(errors_match(&want, &["invalid YAML: line 1".into()]));
        assert!(!errors_match(&want, &["name is required".into()]));
    }

    #[test]
    fn explore_rt_yaml_1_3_empty_invalid_and_valid_answers() {
        let mut m = Model::new("cf-t-s0-", 300.0);
        let answer = |valid: bool, message: &str, errors: &[&str], warnings: &[String]| {
            Answer::V2(V2Answer::Validated(Validated {
                valid,
                message: message.into(),
                errors: errors.iter().map(|e| (*e).to_owned()).collect(),
                warnings: warnings.to_vec(),
                info: None,
            }))
        };
        let empty = RtYaml {
            empty: true,
            ..RtYaml::default()
        };
        let ok = answer(
            false,
            "yaml_content is required",
            &["yaml_content cannot be empty"],
            &[],
        );
        assert!(validate(&mut m, &empty, &ok).is_pass());
        let err = Answer::Error(
            tonic::Code::InvalidArgument,
            "yaml_content is required".into(),
        );
        assert!(!validate(&mut m, &empty, &err).is_pass());
        // A YAML without a name is invalid (the mutant calls it valid).
        let mut y = valid();
        y.name = None;
        let refused = answer(false, "Validation failed", &["name is required"], &[]);
        assert!(validate(&mut m, &y, &refused).is_pass());
        let accepted = answer(true, "YAML specification is valid", &[], &[]);
        assert!(!validate(&mut m, &y, &accepted).is_pass());
        // Built versions 1.10.0 and 1.9.2: validating 1.10.0 warns that it
        // exists, then lists the other versions in version order.
        let y = valid();
        m.runtimes.insert("rt-cf-t-s0-b0".into());
        for v in ["1.10.0", "1.9.2", "1.0.0"] {
            let mut b = valid();
            b.version = Some(v.into());
            m.v2.built.insert(("rt-cf-t-s0-b0".into(), v.into()), b);
        }
        assert_eq!(
            warnings(&m, &y),
            [
                "Runtime 'rt-cf-t-s0-b0' version '1.0.0' already exists at /opt/joblet/runtimes/rt-cf-t-s0-b0/1.0.0",
                "Other versions of 'rt-cf-t-s0-b0' exist: [1.9.2 1.10.0]",
            ]
        );
        // Without the warnings (the RT-YAML-3 mutant): a disagreement.
        assert!(!validate(&mut m, &y, &accepted).is_pass());
    }
}
