//! Runtimes on a node that speaks v2: ValidateRuntimeYAML (RT-YAML-1..3,
//! read-only), BuildRuntime (RT-BUILD-1..5: the refusal, a dry run and a
//! failing YAML change nothing; a real build installs, behind
//! `--allow-builds`), and RuntimeInfo's v2 fields (RT-LIST-2).

use std::time::Duration;

use joblet_testkit::pb::v2;
use joblet_testkit::pb::v2::build_runtime_progress::ProgressType;
use tonic::Code;

use super::client::{code_message, drain_ok, job2, run2, runtimes2, status2, stream_status};
use crate::case;
use crate::case::Case;
use crate::check::{self, CaseResult, ensure, ensure_eq, fail};
use crate::cleanup::Resource;
use crate::ctx::Ctx;

pub(crate) const CASES: &[Case] = &[
    case!(
        "runtimes.yaml.empty_yaml_is_invalid_not_an_error",
        ["RT-YAML-1"],
        Must,
        ReadOnly,
        "ValidateRuntimeYAML{\"\"} answers OK {valid false, message \"yaml_content is required\", errors [\"yaml_content cannot be empty\"]}",
        yaml_empty,
        contracts = [V2]
    ),
    case!(
        "runtimes.yaml.broken_rules_are_all_listed",
        ["RT-YAML-2", "RT-YAML-3"],
        Must,
        ReadOnly,
        "A YAML that breaks several rules answers OK {valid false, message \"Validation failed\"} with one error per rule, in order",
        yaml_broken,
        quirks_v2 = ["QUIRK-20"],
        contracts = [V2]
    ),
    case!(
        "runtimes.yaml.valid_yaml_answers_its_spec_info",
        ["RT-YAML-2", "RT-YAML-3"],
        Must,
        ReadOnly,
        "A valid YAML answers OK {valid true, message \"YAML specification is valid\", spec_info from the YAML}",
        yaml_valid,
        contracts = [V2]
    ),
    case!(
        "runtimes.build.empty_yaml_is_invalid_argument",
        ["RT-BUILD-1"],
        Must,
        Mutating,
        "BuildRuntime{yaml_content: \"\"} answers INVALID_ARGUMENT \"yaml_content is required\" before any message",
        build_empty,
        contracts = [V2]
    ),
    case!(
        "runtimes.build.dry_run_validates_and_installs_nothing",
        ["RT-BUILD-2", "RT-BUILD-3", "RT-BUILD-4"],
        Must,
        Mutating,
        "A dry run announces phases 1 to 4 of 14, logs \"Dry run completed. No changes were made.\", sends one successful result (no install path, size 0) last, ends OK; nothing is listed",
        build_dry_run,
        contracts = [V2]
    ),
    case!(
        "runtimes.build.invalid_yaml_fails_in_phase_1",
        ["RT-BUILD-4", "RT-YAML-2"],
        Must,
        Mutating,
        "A YAML that breaks the rules fails in phase 1: an error log line, one result {success false, \"validation failed: validation errors: …\"}, the end with OK; nothing is installed",
        build_invalid,
        contracts = [V2]
    ),
    case!(
        "runtimes.build.built_runtime_is_installed_and_usable",
        [
            "RT-BUILD-2",
            "RT-BUILD-4",
            "RT-BUILD-5",
            "RT-LIST-2",
            "RT-YAML-3"
        ],
        Must,
        Mutating,
        "A build announces the 14 phases and ends with one successful result; the runtime is listed with its v2 fields, found, tested, run, warned about by ValidateRuntimeYAML, and removed",
        build_installs,
        quirks_v2 = ["QUIRK-21"],
        contracts = [V2],
        needs = [Build]
    ),
    case!(
        "runtimes.list.v2_fields_are_consistent",
        ["RT-LIST-2"],
        Must,
        ReadOnly,
        "ListRuntimes (v2) and GetRuntimeInfo answer the same RuntimeInfo; a runtime with build_info has an RFC 3339 built_at",
        list_v2,
        quirks_v2 = ["QUIRK-21"],
        contracts = [V2]
    ),
];

/// A valid runtime YAML of this run named `name`.
fn yaml(name: &str) -> String {
    format!(
        "schema_version: \"1.0\"\nname: {name}\nversion: 1.0.0\ndescription: joblet-conformance runtime (removed at the end)\n\
base:\n  language: python\n  version: \"3.11\"\npip:\n  - requests==2.32.3\nenvironment:\n  CF_RUN: \"1\"\nlibraries:\n  - libgomp1\n"
    )
}

async fn validate(cx: &Ctx, text: &str, call: &str) -> CaseResult<v2::ValidateRuntimeYamlResponse> {
    check::ok(
        call,
        runtimes2(cx)
            .validate_runtime_yaml(v2::ValidateRuntimeYamlRequest {
                yaml_content: text.into(),
            })
            .await
            .map(tonic::Response::into_inner),
    )
}

async fn yaml_empty(cx: Ctx) -> CaseResult {
    let call = "ValidateRuntimeYAML{yaml_content: \"\"}";
    let v = validate(&cx, "", call).await?;
    ensure_eq(call, "valid", &false, &v.valid)?;
    ensure_eq(
        call,
        "message",
        "yaml_content is required",
        v.message.as_str(),
    )?;
    ensure_eq(
        call,
        "errors",
        &["yaml_content cannot be empty".to_owned()][..],
        &v.errors[..],
    )
}

const BROKEN: &str = "schema_version: \"2.0\"\nname: cf-broken\nversion: one\ndescription: d\nbase:\n  language: cobol\n  version: \"85\"\n";

async fn yaml_broken(cx: Ctx) -> CaseResult {
    let call = "ValidateRuntimeYAML{schema_version 2.0, version one, language cobol}";
    let v = validate(&cx, BROKEN, call).await?;
    ensure_eq(call, "valid", &false, &v.valid)?;
    ensure_eq(call, "message", "Validation failed", v.message.as_str())?;
    let want = [
        "unsupported schema_version: 2.0 (expected 1.0)",
        "invalid version: one (expected semantic version X.Y.Z)",
        "unsupported language: cobol (supported: python, java, node, go, rust)",
    ];
    ensure_eq(call, "errors", &want.map(String::from)[..], &v.errors[..])?;
    // A YAML valid but for its name.
    let call = "ValidateRuntimeYAML{a valid YAML without name}";
    let text = yaml("x").replace("name: x\n", "");
    let v = validate(&cx, &text, call).await?;
    ensure_eq(call, "valid", &false, &v.valid)?;
    ensure_eq(
        call,
        "errors",
        &["name is required".to_owned()][..],
        &v.errors[..],
    )
}

async fn yaml_valid(cx: Ctx) -> CaseResult {
    let name = cx.name("rt");
    let call = format!("ValidateRuntimeYAML{{a valid YAML of {name}}}");
    let v = validate(&cx, &yaml(&name), &call).await?;
    ensure_eq(&call, "valid", &true, &v.valid)?;
    ensure_eq(
        &call,
        "message",
        "YAML specification is valid",
        v.message.as_str(),
    )?;
    ensure(
        v.errors.is_empty(),
        &call,
        "no errors",
        format!("{:?}", v.errors),
    )?;
    let info = v
        .spec_info
        .ok_or_else(|| fail(&call, "spec_info", "none"))?;
    let want = v2::RuntimeYamlInfo {
        name,
        version: "1.0.0".into(),
        language: "python".into(),
        language_version: "3.11".into(),
        description: "joblet-conformance runtime (removed at the end)".into(),
        pip_packages: vec!["requests==2.32.3".into()],
        npm_packages: vec![],
        has_hooks: false,
        requires_gpu: false,
    };
    ensure_eq(&call, "spec_info", &want, &info)
}

/// A whole build that must end with OK: its events.
async fn build(
    cx: &Ctx,
    req: v2::BuildRuntimeRequest,
    call: &str,
) -> CaseResult<Vec<ProgressType>> {
    let events = drain_ok(
        call,
        runtimes2(cx).build_runtime(req).await,
        Duration::from_secs(20),
    )
    .await?;
    events
        .into_iter()
        .map(|e| {
            e.progress_type
                .ok_or_else(|| fail(call, "every message with a progress type", "one without"))
        })
        .collect()
}

/// The one result, which must be the last message.
fn result_of(call: &str, events: &[ProgressType]) -> CaseResult<v2::BuildResult> {
    let count = events
        .iter()
        .filter(|e| matches!(e, ProgressType::Result(_)))
        .count();
    ensure_eq(call, "result messages", &1, &count)?;
    match events.last() {
        Some(ProgressType::Result(r)) => Ok(r.clone()),
        other => Err(fail(
            call,
            "the result as the last message",
            format!("{other:?}"),
        )),
    }
}

fn phases(events: &[ProgressType]) -> Vec<v2::BuildPhaseProgress> {
    events
        .iter()
        .filter_map(|e| match e {
            ProgressType::Phase(p) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

fn logs(events: &[ProgressType]) -> Vec<v2::BuildLogLine> {
    events
        .iter()
        .filter_map(|e| match e {
            ProgressType::Log(l) => Some(l.clone()),
            _ => None,
        })
        .collect()
}

/// The 14 build phases, in order (RT-BUILD-2).
pub(crate) const PHASES: [&str; 14] = [
    "Parse & Validate",
    "Detect Platform",
    "Check Disk Space",
    "Validate Packages",
    "Prepare Directories",
    "Pre-install Hook",
    "Install Base",
    "Install Packages",
    "Post-install Hook",
    "Copy Binaries",
    "Copy Libraries",
    "Copy Configuration",
    "Generate Config",
    "Validate Build",
];

fn check_phases(call: &str, events: &[ProgressType], count: usize) -> CaseResult {
    let got: Vec<(i32, i32, String)> = phases(events)
        .into_iter()
        .map(|p| (p.phase_number, p.total_phases, p.phase_name))
        .collect();
    let want: Vec<(i32, i32, String)> = PHASES[..count]
        .iter()
        .enumerate()
        .map(|(i, n)| (i as i32 + 1, 14, (*n).to_owned()))
        .collect();
    ensure_eq(call, "phases (number, total, name)", &want, &got)?;
    for l in logs(events) {
        ensure(
            ["info", "warn", "error"].contains(&l.level.as_str())
                && l.timestamp > 1_577_836_800_000_000_000,
            call,
            "log lines of level info, warn or error with a timestamp in Unix nanoseconds",
            format!("{l:?}"),
        )?;
    }
    Ok(())
}

async fn listed(cx: &Ctx, name: &str) -> CaseResult<Vec<v2::RuntimeInfo>> {
    let all = check::ok(
        "ListRuntimes",
        runtimes2(cx).list_runtimes(v2::EmptyRequest {}).await,
    )?;
    Ok(all
        .into_inner()
        .runtimes
        .into_iter()
        .filter(|r| r.name == name)
        .collect())
}

async fn build_empty(cx: Ctx) -> CaseResult {
    let r = stream_status(
        runtimes2(&cx)
            .build_runtime(v2::BuildRuntimeRequest::default())
            .await,
    )
    .await;
    code_message(
        "BuildRuntime{yaml_content: \"\"}",
        r,
        Code::InvalidArgument,
        "yaml_content is required",
    )
}

async fn build_dry_run(cx: Ctx) -> CaseResult {
    let name = cx.name("rt");
    cx.tracker.add(Resource::Runtime(name.clone()));
    let call = format!("BuildRuntime{{{name}, dry_run}}");
    let events = build(
        &cx,
        v2::BuildRuntimeRequest {
            yaml_content: yaml(&name),
            dry_run: true,
            ..Default::default()
        },
        &call,
    )
    .await?;
    check_phases(&call, &events, 4)?;
    let done = logs(&events)
        .into_iter()
        .any(|l| l.level == "info" && l.message == "Dry run completed. No changes were made.");
    ensure(
        done,
        &call,
        "the info line \"Dry run completed. No changes were made.\"",
        "none",
    )?;
    let r = result_of(&call, &events)?;
    ensure_eq(&call, "result.success", &true, &r.success)?;
    ensure_eq(&call, "result.install_path", "", r.install_path.as_str())?;
    ensure_eq(&call, "result.size_bytes", &0, &r.size_bytes)?;
    let l = listed(&cx, &name).await?;
    ensure(
        l.is_empty(),
        "ListRuntimes after a dry run",
        format!("no runtime {name}"),
        format!("{l:?}"),
    )
}

async fn build_invalid(cx: Ctx) -> CaseResult {
    let call = "BuildRuntime{name Bad_Name, language cobol}";
    let text = "schema_version: \"1.0\"\nname: Bad_Name\nversion: 1.0.0\ndescription: d\nbase:\n  language: cobol\n  version: \"85\"\n";
    let events = build(
        &cx,
        v2::BuildRuntimeRequest {
            yaml_content: text.into(),
            ..Default::default()
        },
        call,
    )
    .await?;
    check_phases(call, &events, 1)?;
    ensure(
        logs(&events).iter().any(|l| l.level == "error"),
        call,
        "an error log line",
        "none",
    )?;
    let r = result_of(call, &events)?;
    let want = v2::BuildResult {
        success: false,
        message: "validation failed: validation errors:\n  - invalid name: Bad_Name\n  - unsupported language: cobol (supported: python, java, node, go, rust)".into(),
        build_duration_ms: r.build_duration_ms,
        ..Default::default()
    };
    ensure_eq(call, "result", &want, &r)?;
    let l = listed(&cx, "Bad_Name").await?;
    ensure(
        l.is_empty(),
        "ListRuntimes after a failed build",
        "no runtime Bad_Name",
        format!("{l:?}"),
    )
}

async fn build_installs(cx: Ctx) -> CaseResult {
    let name = cx.name("rt");
    let text = yaml(&name);
    cx.tracker.add(Resource::Runtime(name.clone()));
    let call = format!("BuildRuntime{{{name}}}");
    let events = build(
        &cx,
        v2::BuildRuntimeRequest {
            yaml_content: text.clone(),
            ..Default::default()
        },
        &call,
    )
    .await?;
    check_phases(&call, &events, 14)?;
    let r = result_of(&call, &events)?;
    ensure_eq(&call, "result.success", &true, &r.success)?;
    ensure_eq(
        &call,
        "result.message",
        "Build completed successfully",
        r.message.as_str(),
    )?;
    ensure_eq(
        &call,
        "result.runtime_name",
        name.as_str(),
        r.runtime_name.as_str(),
    )?;
    ensure_eq(
        &call,
        "result.runtime_version",
        "1.0.0",
        r.runtime_version.as_str(),
    )?;
    let path = format!("/opt/joblet/runtimes/{name}/1.0.0");
    ensure_eq(
        &call,
        "result.install_path",
        path.as_str(),
        r.install_path.as_str(),
    )?;
    ensure(
        r.size_bytes > 0,
        &call,
        "result.size_bytes > 0",
        r.size_bytes,
    )?;
    let info = listed_with_v2_fields(&cx, &name, &text, &call).await?;
    let info = &info;
    let mut rts = runtimes2(&cx);
    let found = check::ok(
        "GetRuntimeInfo",
        rts.get_runtime_info(v2::GetRuntimeInfoRequest {
            runtime: name.clone(),
        })
        .await,
    )?
    .into_inner();
    ensure_eq(
        &format!("GetRuntimeInfo{{{name}}}"),
        "runtime",
        &Some(info),
        &found.runtime.as_ref(),
    )?;
    let t = check::ok(
        "TestRuntime",
        rts.test_runtime(v2::TestRuntimeRequest {
            runtime: name.clone(),
        })
        .await,
    )?
    .into_inner();
    ensure(
        t.success && t.exit_code == 0,
        &format!("TestRuntime{{{name}}}"),
        "success true, exit code 0",
        format!("{t:?}"),
    )?;
    let mut req = job2("echo", &["with runtime"]);
    req.runtime = name.clone();
    let id = run2(&cx, req).await?;
    ensure_eq(
        &format!("GetJobStatus{{uuid: {id}}} of RunJob{{runtime: {name}}}"),
        "runtime",
        name.as_str(),
        status2(&cx, &id).await?.runtime.as_str(),
    )?;
    cx.wait_final(&id).await?;
    let v = validate(&cx, &text, "ValidateRuntimeYAML{the built YAML}").await?;
    ensure_eq(
        "ValidateRuntimeYAML{the built YAML}",
        "warnings",
        &[format!(
            "Runtime '{name}' version '1.0.0' already exists at {path}"
        )][..],
        &v.warnings[..],
    )?;
    let rm = check::ok(
        "RemoveRuntime",
        rts.remove_runtime(v2::RemoveRuntimeRequest {
            runtime: name.clone(),
        })
        .await,
    )?
    .into_inner();
    ensure(
        rm.success,
        &format!("RemoveRuntime{{{name}}}"),
        "success true",
        format!("{rm:?}"),
    )?;
    cx.tracker.forget(&Resource::Runtime(name.clone()));
    let l = listed(&cx, &name).await?;
    ensure(
        l.is_empty(),
        "ListRuntimes after RemoveRuntime",
        format!("no runtime {name}"),
        format!("{l:?}"),
    )
}

/// The built runtime `name` as ListRuntimes lists it, with RT-LIST-2's fields
/// from `text` and its build.
async fn listed_with_v2_fields(
    cx: &Ctx,
    name: &str,
    text: &str,
    call: &str,
) -> CaseResult<v2::RuntimeInfo> {
    // Listed with its v2 fields (RT-LIST-2).
    let l = listed(cx, name).await?;
    let call = format!("ListRuntimes after {call}");
    let [info] = &l[..] else {
        return Err(fail(
            &call,
            format!("one runtime {name}"),
            format!("{} runtimes", l.len()),
        ));
    };
    ensure_eq(&call, "language", "python", info.language.as_str())?;
    ensure_eq(&call, "version", "1.0.0", info.version.as_str())?;
    ensure_eq(
        &call,
        "language_version",
        "3.11",
        info.language_version.as_str(),
    )?;
    ensure_eq(
        &call,
        "libraries",
        &["libgomp1".to_owned()][..],
        &info.libraries[..],
    )?;
    ensure_eq(
        &call,
        "environment CF_RUN",
        &Some(&"1".to_owned()),
        &info.environment.get("CF_RUN"),
    )?;
    ensure_eq(&call, "original_yaml", text, info.original_yaml.as_str())?;
    let b = info
        .build_info
        .clone()
        .ok_or_else(|| fail(&call, "build_info", "none"))?;
    ensure(
        chrono::DateTime::parse_from_rfc3339(&b.built_at).is_ok()
            && !b.built_with.is_empty()
            && !b.platform.is_empty(),
        &call,
        "build_info {built_at RFC 3339, built_with, platform}",
        format!("{b:?}"),
    )?;
    Ok(info.clone())
}

async fn list_v2(cx: Ctx) -> CaseResult {
    let mut rts = runtimes2(&cx);
    let all = check::ok("ListRuntimes", rts.list_runtimes(v2::EmptyRequest {}).await)?.into_inner();
    for r in all.runtimes.iter().take(8) {
        let call = format!("GetRuntimeInfo{{{}}}", r.name);
        let got = check::ok(
            &call,
            rts.get_runtime_info(v2::GetRuntimeInfoRequest {
                runtime: r.name.clone(),
            })
            .await,
        )?
        .into_inner();
        if got.runtime.as_ref().is_some_and(|g| g.version != r.version) {
            // Another version of the name (the highest wins): not comparable.
            continue;
        }
        ensure_eq(
            &call,
            "the RuntimeInfo ListRuntimes answers",
            &Some(r),
            &got.runtime.as_ref(),
        )?;
        if let Some(b) = &r.build_info
            && !b.built_at.is_empty()
        {
            ensure(
                chrono::DateTime::parse_from_rfc3339(&b.built_at).is_ok(),
                &call,
                "build_info.built_at in RFC 3339",
                format!("{b:?}"),
            )?;
        }
    }
    Ok(())
}
