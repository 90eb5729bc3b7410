//! Runtimes (RT-*). Install cases install their own small runtime from local
//! files (`python:3.11-cf<run id><n>`) and remove only that; installing from
//! GitHub runs only with `--allow-remote-installs`.

use std::time::Duration;

use joblet_testkit::pb;
use joblet_testkit::pb::runtime_installation_chunk::ChunkType;
use tokio_stream::StreamExt;
use tonic::Code;

use crate::case;
use crate::case::Case;
use crate::check::{self, CaseResult, ensure, ensure_eq, fail};
use crate::cleanup::Resource;
use crate::ctx::Ctx;

pub(crate) const CASES: &[Case] = &[
    case!(
        "runtimes.list.reports_installed_runtimes",
        ["RT-LIST-1"],
        Must,
        ReadOnly,
        "ListRuntimes reports each runtime with name, language, version and available true",
        list
    ),
    case!(
        "runtimes.info.found_not_found_and_empty",
        ["RT-INFO-1"],
        Must,
        ReadOnly,
        "GetRuntimeInfo: a listed runtime {found true, runtime}; unknown {found false}; empty INVALID_ARGUMENT",
        info
    ),
    case!(
        "runtimes.test.installed_and_unknown",
        ["RT-TEST-1"],
        Must,
        ReadOnly,
        "TestRuntime: installed {success true, exitCode 0}; unknown {success false, exitCode 1, \"runtime not found…\"}",
        test_runtime
    ),
    case!(
        "runtimes.spec.validates_the_grammar",
        ["RT-SPEC-1"],
        Must,
        ReadOnly,
        "ValidateRuntimeSpec answers {valid, message, normalizedSpec, specInfo} and never a gRPC error",
        spec,
        contracts = [V1]
    ),
    case!(
        "runtimes.install.local_install_is_listed",
        ["RT-INSTALL-1", "RT-LIST-1"],
        Must,
        Mutating,
        "InstallRuntimeFromLocal answers {runtimeSpec, status \"completed\"}; the runtime is then listed",
        install_local,
        contracts = [V1]
    ),
    case!(
        "runtimes.install.empty_requests_are_invalid_argument",
        ["RT-INSTALL-1", "ALL-4"],
        Must,
        Mutating,
        "An empty runtimeSpec, or a local install without files, answers INVALID_ARGUMENT",
        install_empty,
        contracts = [V1]
    ),
    case!(
        "runtimes.install.streaming_sends_one_result",
        ["RT-INSTALL-2"],
        Must,
        Mutating,
        "StreamingInstallRuntimeFromLocal sends progress or log chunks, then exactly one result, then ends OK",
        install_streaming,
        contracts = [V1]
    ),
    case!(
        "runtimes.install.reinstall_needs_force",
        ["RT-INSTALL-3"],
        Must,
        Mutating,
        "Installing an installed runtime answers \"already installed\"; with forceReinstall it reinstalls",
        reinstall,
        contracts = [V1]
    ),
    case!(
        "runtimes.install.github_install_is_listed",
        ["RT-INSTALL-1"],
        Must,
        Mutating,
        "InstallRuntimeFromGithub answers {runtimeSpec, status \"completed\", repository, resolvedPath} (the node downloads)",
        install_github,
        contracts = [V1],
        needs = [RemoteInstall]
    ),
    case!(
        "runtimes.remove.removes_and_reports_unknown",
        ["RT-RM-1"],
        Must,
        Mutating,
        "RemoveRuntime removes a runtime (gone from the list); unknown answers {success false, \"Runtime '<x>' not found\"}",
        remove,
        contracts = [V1]
    ),
];

async fn listed(cx: &Ctx) -> CaseResult<Vec<pb::RuntimeInfo>> {
    Ok(check::ok(
        "ListRuntimes",
        cx.runtimes().list_runtimes(pb::EmptyRequest {}).await,
    )?
    .into_inner()
    .runtimes)
}

async fn list(cx: Ctx) -> CaseResult {
    for r in listed(&cx).await? {
        let call = format!("ListRuntimes entry {:?}", r.name);
        ensure(
            !r.name.is_empty() && !r.language.is_empty() && !r.version.is_empty(),
            &call,
            "name, language and version",
            format!("{:?} {:?} {:?}", r.name, r.language, r.version),
        )?;
        ensure(
            r.available,
            &call,
            "available true (installed)",
            "available false",
        )?;
    }
    Ok(())
}

async fn info(cx: Ctx) -> CaseResult {
    let unknown = format!("cf{}-none-1.0", cx.env.run_id);
    let call = format!("GetRuntimeInfo{{runtime: {unknown:?}}}");
    let r = check::ok(
        &call,
        cx.runtimes()
            .get_runtime_info(pb::RuntimeInfoReq {
                runtime: unknown.clone(),
            })
            .await,
    )?
    .into_inner();
    ensure(!r.found, &call, "found false", "found true")?;
    let r = cx
        .runtimes()
        .get_runtime_info(pb::RuntimeInfoReq {
            runtime: String::new(),
        })
        .await;
    check::code("GetRuntimeInfo{runtime: \"\"}", r, Code::InvalidArgument)?;
    if let Some(first) = listed(&cx).await?.into_iter().next() {
        let call = format!("GetRuntimeInfo{{runtime: {:?}}} (listed)", first.name);
        let r = check::ok(
            &call,
            cx.runtimes()
                .get_runtime_info(pb::RuntimeInfoReq {
                    runtime: first.name.clone(),
                })
                .await,
        )?
        .into_inner();
        ensure(r.found, &call, "found true", "found false")?;
        let rt = r
            .runtime
            .ok_or_else(|| fail(&call, "the runtime", "no runtime"))?;
        ensure_eq(&call, "runtime.name", first.name.as_str(), rt.name.as_str())?;
    }
    Ok(())
}

async fn test_runtime(cx: Ctx) -> CaseResult {
    let unknown = format!("cf{}-none-1.0", cx.env.run_id);
    let call = format!("TestRuntime{{runtime: {unknown:?}}}");
    let r = check::ok(
        &call,
        cx.runtimes()
            .test_runtime(pb::RuntimeTestReq { runtime: unknown })
            .await,
    )?
    .into_inner();
    ensure(
        !r.success
            && r.exit_code == 1
            && r.error.to_ascii_lowercase().contains("runtime not found"),
        &call,
        "{success false, exitCode 1, error \"runtime not found…\"}",
        format!(
            "{{success {}, exitCode {}, error {:?}}}",
            r.success, r.exit_code, r.error
        ),
    )?;
    if let Some(first) = listed(&cx).await?.into_iter().next() {
        let call = format!("TestRuntime{{runtime: {:?}}} (listed)", first.name);
        let r = check::ok(
            &call,
            cx.runtimes()
                .test_runtime(pb::RuntimeTestReq {
                    runtime: first.name,
                })
                .await,
        )?
        .into_inner();
        ensure(
            r.success && r.exit_code == 0,
            &call,
            "{success true, exitCode 0}",
            format!(
                "{{success {}, exitCode {}, error {:?}}}",
                r.success, r.exit_code, r.error
            ),
        )?;
    }
    Ok(())
}

async fn spec(cx: Ctx) -> CaseResult {
    let cases: &[(&str, bool, &str)] = &[
        ("python:3.11", true, "python"),
        ("python:3.11-ml", true, "python"),
        ("node:18@arm64", true, "node"),
        ("golang:1.22", true, "golang"),
        ("", false, ""),
        ("python", false, ""),
        ("cobol:85", false, ""),
        ("python:3.11@sparc", false, ""),
    ];
    for (spec, valid, language) in cases {
        let call = format!("ValidateRuntimeSpec{{runtimeSpec: {spec:?}}}");
        let r = check::ok(
            &call,
            cx.runtimes()
                .validate_runtime_spec(pb::ValidateRuntimeSpecRequest {
                    runtime_spec: (*spec).into(),
                })
                .await,
        )?
        .into_inner();
        ensure_eq(&call, "valid", valid, &r.valid)?;
        ensure(!r.message.is_empty(), &call, "a message", "message \"\"")?;
        if *valid {
            let info = r.spec_info.ok_or_else(|| fail(&call, "specInfo", "none"))?;
            ensure_eq(
                &call,
                "specInfo.language",
                *language,
                info.language.as_str(),
            )?;
            ensure(
                !r.normalized_spec.is_empty(),
                &call,
                "a normalizedSpec",
                "\"\"",
            )?;
        }
    }
    let r = check::ok(
        "ValidateRuntimeSpec{runtimeSpec: \"node:18@arm64\"}",
        cx.runtimes()
            .validate_runtime_spec(pb::ValidateRuntimeSpecRequest {
                runtime_spec: "python:3.11".into(),
            })
            .await,
    )?
    .into_inner();
    let arch = r.spec_info.map(|i| i.architecture).unwrap_or_default();
    ensure_eq(
        "ValidateRuntimeSpec{runtimeSpec: \"python:3.11\"}",
        "specInfo.architecture (default)",
        "amd64",
        arch.as_str(),
    )
}

async fn install_local(cx: Ctx) -> CaseResult {
    let spec = cx.runtime_spec();
    let call = format!("InstallRuntimeFromLocal{{runtimeSpec: {spec}}}");
    let r = check::ok(&call, cx.install_local_raw(&spec, false).await)?;
    ensure_eq(&call, "status", "completed", r.status.as_str())?;
    ensure_eq(&call, "runtimeSpec", spec.as_str(), r.runtime_spec.as_str())?;
    ensure(!r.message.is_empty(), &call, "a message", "\"\"")?;
    let name = Ctx::runtime_name(&spec);
    let list = listed(&cx).await?;
    let entry = list.iter().find(|r| r.name == name);
    ensure(
        entry.is_some_and(|e| e.available),
        "ListRuntimes after the install",
        format!("{name} listed, available"),
        format!("{:?}", entry.map(|e| e.available)),
    )
}

async fn install_empty(cx: Ctx) -> CaseResult {
    let r = cx
        .runtimes()
        .install_runtime_from_local(pb::InstallRuntimeFromLocalRequest {
            runtime_spec: String::new(),
            files: cx.runtime_files("none"),
            force_reinstall: false,
        })
        .await;
    check::code(
        "InstallRuntimeFromLocal{runtimeSpec: \"\"}",
        r,
        Code::InvalidArgument,
    )?;
    let spec = cx.runtime_spec();
    let r = cx
        .runtimes()
        .install_runtime_from_local(pb::InstallRuntimeFromLocalRequest {
            runtime_spec: spec.clone(),
            files: vec![],
            force_reinstall: false,
        })
        .await;
    if r.is_ok() {
        cx.tracker.add(Resource::Runtime(Ctx::runtime_name(&spec)));
    }
    check::code(
        &format!("InstallRuntimeFromLocal{{runtimeSpec: {spec}, files: []}}"),
        r,
        Code::InvalidArgument,
    )?;
    let r = cx
        .runtimes()
        .install_runtime_from_github(pb::InstallRuntimeRequest {
            runtime_spec: "  ".into(),
            ..Default::default()
        })
        .await;
    check::code(
        "InstallRuntimeFromGithub{runtimeSpec: \"  \"}",
        r,
        Code::InvalidArgument,
    )?;
    Ok(())
}

async fn install_streaming(cx: Ctx) -> CaseResult {
    let spec = cx.runtime_spec();
    let name = Ctx::runtime_name(&spec);
    let call = format!("StreamingInstallRuntimeFromLocal{{runtimeSpec: {spec}}}");
    let r = cx
        .runtimes()
        .streaming_install_runtime_from_local(pb::InstallRuntimeFromLocalRequest {
            runtime_spec: spec.clone(),
            files: cx.runtime_files(&name),
            force_reinstall: false,
        })
        .await;
    cx.tracker.add(Resource::Runtime(name.clone()));
    let mut stream = check::ok(&call, r)?.into_inner();
    let (mut progress, mut results, mut after_result) = (0, Vec::new(), 0);
    let read = async {
        while let Some(item) = stream.next().await {
            let chunk =
                item.map_err(|s| fail(&call, "the stream to end OK", check::show_status(&s)))?;
            match chunk.chunk_type {
                Some(ChunkType::Progress(_)) | Some(ChunkType::Log(_)) => {
                    if results.is_empty() {
                        progress += 1;
                    } else {
                        after_result += 1;
                    }
                }
                Some(ChunkType::Result(r)) => results.push(r),
                None => {}
            }
        }
        Ok::<_, check::CaseError>(())
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .map_err(|_| {
            fail(
                &call,
                "the stream to end after its result",
                "still open after 20 s",
            )
        })??;
    ensure(
        progress >= 1,
        &call,
        "progress or log chunks before the result",
        "none",
    )?;
    ensure(
        results.len() == 1,
        &call,
        "exactly one result chunk",
        format!("{} result chunks", results.len()),
    )?;
    ensure(
        after_result == 0,
        &call,
        "the result last",
        format!("{after_result} chunks after it"),
    )?;
    ensure(
        results[0].success,
        &call,
        "result success true",
        format!("success false ({:?})", results[0].message),
    )?;
    let list = listed(&cx).await?;
    ensure(
        list.iter().any(|r| r.name == name),
        "ListRuntimes after the streaming install",
        format!("{name} listed"),
        "not listed",
    )
}

async fn reinstall(cx: Ctx) -> CaseResult {
    let (spec, _) = crate::cases::v2::client::own_runtime(&cx).await?;
    let call = format!("InstallRuntimeFromLocal{{runtimeSpec: {spec}}} (installed, no force)");
    let r = check::ok(&call, cx.install_local_raw(&spec, false).await)?;
    ensure(
        r.message.to_ascii_lowercase().contains("already installed"),
        &call,
        "a success answer saying \"already installed\"",
        format!("status {:?}, message {:?}", r.status, r.message),
    )?;
    let call = format!("InstallRuntimeFromLocal{{runtimeSpec: {spec}, forceReinstall: true}}");
    let r = check::ok(&call, cx.install_local_raw(&spec, true).await)?;
    ensure(
        r.status == "completed" && !r.message.to_ascii_lowercase().contains("already installed"),
        &call,
        "status \"completed\" (reinstalled, not \"already installed\")",
        format!("status {:?}, message {:?}", r.status, r.message),
    )
}

async fn install_github(cx: Ctx) -> CaseResult {
    let spec = cx.runtime_spec();
    let name = Ctx::runtime_name(&spec);
    let call = format!("InstallRuntimeFromGithub{{runtimeSpec: {spec}}}");
    let r = cx
        .runtimes()
        .install_runtime_from_github(pb::InstallRuntimeRequest {
            runtime_spec: spec.clone(),
            ..Default::default()
        })
        .await;
    cx.tracker.add(Resource::Runtime(name.clone()));
    let r = check::ok(&call, r)?.into_inner();
    ensure_eq(&call, "status", "completed", r.status.as_str())?;
    ensure_eq(&call, "runtimeSpec", spec.as_str(), r.runtime_spec.as_str())?;
    ensure(!r.repository.is_empty(), &call, "the repository", "\"\"")?;
    let list = listed(&cx).await?;
    ensure(
        list.iter().any(|r| r.name == name),
        "ListRuntimes after the GitHub install",
        format!("{name} listed"),
        "not listed",
    )
}

async fn remove(cx: Ctx) -> CaseResult {
    let (_, name) = crate::cases::v2::client::own_runtime(&cx).await?;
    let call = format!("RemoveRuntime{{runtime: {name}}}");
    let r = check::ok(
        &call,
        cx.runtimes()
            .remove_runtime(pb::RuntimeRemoveReq {
                runtime: name.clone(),
            })
            .await,
    )?
    .into_inner();
    ensure(
        r.success,
        &call,
        "success true",
        format!("success false ({:?})", r.message),
    )?;
    let list = listed(&cx).await?;
    ensure(
        !list.iter().any(|r| r.name == name),
        "ListRuntimes after RemoveRuntime",
        format!("no {name}"),
        "still listed",
    )?;
    let unknown = format!("cf{}-none-1.0", cx.env.run_id);
    let call = format!("RemoveRuntime{{runtime: {unknown:?}}}");
    let r = check::ok(
        &call,
        cx.runtimes()
            .remove_runtime(pb::RuntimeRemoveReq {
                runtime: unknown.clone(),
            })
            .await,
    )?
    .into_inner();
    let want = format!("Runtime '{unknown}' not found");
    ensure(
        !r.success && r.message.contains(&want),
        &call,
        format!("{{success false, {want:?}}}"),
        format!("{{success {}, {:?}}}", r.success, r.message),
    )
}
