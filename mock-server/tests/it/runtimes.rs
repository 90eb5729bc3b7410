//! Runtimes (RT-LIST, RT-INFO, RT-TEST, RT-SPEC, RT-INSTALL, RT-RM) over the wire.
//!
//! Installs take about a second of real time each; they run concurrently with
//! the other tests.

use std::time::{Duration, Instant};

use futures::StreamExt;
use joblet_mock::{MockServer, RunningMock};
use joblet_testkit::pb;
use joblet_testkit::pb::runtime_installation_chunk::ChunkType;
use joblet_testkit::testing::{eventually, patience};
use tonic::Code;

use crate::support::{Runtimes, jobs, runtimes, start_and};

async fn start() -> (RunningMock, Runtimes) {
    start_and(MockServer::builder(), runtimes).await
}

async fn names(rt: &mut Runtimes) -> Vec<String> {
    rt.list_runtimes(pb::EmptyRequest {})
        .await
        .expect("ListRuntimes")
        .into_inner()
        .runtimes
        .into_iter()
        .map(|r| r.name)
        .collect()
}

async fn info(rt: &mut Runtimes, name: &str) -> Result<pb::RuntimeInfoRes, tonic::Status> {
    rt.get_runtime_info(pb::RuntimeInfoReq {
        runtime: name.into(),
    })
    .await
    .map(|r| r.into_inner())
}

async fn test_runtime(rt: &mut Runtimes, name: &str) -> Result<pb::RuntimeTestRes, tonic::Status> {
    rt.test_runtime(pb::RuntimeTestReq {
        runtime: name.into(),
    })
    .await
    .map(|r| r.into_inner())
}

async fn remove(rt: &mut Runtimes, name: &str) -> pb::RuntimeRemoveRes {
    rt.remove_runtime(pb::RuntimeRemoveReq {
        runtime: name.into(),
    })
    .await
    .expect("RemoveRuntime")
    .into_inner()
}

async fn validate(rt: &mut Runtimes, spec: &str) -> pb::ValidateRuntimeSpecResponse {
    rt.validate_runtime_spec(pb::ValidateRuntimeSpecRequest {
        runtime_spec: spec.into(),
    })
    .await
    .expect("ValidateRuntimeSpec never fails")
    .into_inner()
}

fn github(spec: &str, force: bool) -> pb::InstallRuntimeRequest {
    pb::InstallRuntimeRequest {
        runtime_spec: spec.into(),
        force_reinstall: force,
        ..Default::default()
    }
}

fn local(spec: &str, files: &[(&str, &str)]) -> pb::InstallRuntimeFromLocalRequest {
    pb::InstallRuntimeFromLocalRequest {
        runtime_spec: spec.into(),
        files: files
            .iter()
            .map(|(path, content)| pb::RuntimeFile {
                path: path.to_string(),
                content: content.as_bytes().to_vec(),
                executable: path.ends_with(".sh"),
            })
            .collect(),
        force_reinstall: false,
    }
}

/// Every chunk of a streaming install, bounded by `patience()`; panics if the
/// stream fails.
async fn collect(stream: tonic::Streaming<pb::RuntimeInstallationChunk>) -> Vec<ChunkType> {
    let mut stream = stream;
    let all = async {
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk =
                chunk.unwrap_or_else(|e| panic!("stream failed after {} chunks: {e:?}", out.len()));
            out.push(chunk.chunk_type.expect("every chunk has a type"));
        }
        out
    };
    tokio::time::timeout(patience(), all)
        .await
        .expect("the install stream ends")
}

/// Every chunk of StreamingInstallRuntimeFromGithub (which must open).
async fn stream_github(rt: &mut Runtimes, req: pb::InstallRuntimeRequest) -> Vec<ChunkType> {
    let stream = rt
        .streaming_install_runtime_from_github(req)
        .await
        .expect("StreamingInstallRuntimeFromGithub")
        .into_inner();
    collect(stream).await
}

/// Every chunk of StreamingInstallRuntimeFromLocal (which must open).
async fn stream_local(
    rt: &mut Runtimes,
    req: pb::InstallRuntimeFromLocalRequest,
) -> Vec<ChunkType> {
    let stream = rt
        .streaming_install_runtime_from_local(req)
        .await
        .expect("StreamingInstallRuntimeFromLocal")
        .into_inner();
    collect(stream).await
}

/// Asserts a failed call is INVALID_ARGUMENT with exactly `message`.
#[track_caller]
fn assert_invalid(e: &tonic::Status, message: &str) {
    assert_eq!((e.code(), e.message()), (Code::InvalidArgument, message));
}

/// Checks RT-INSTALL-2's shape and returns the result.
#[track_caller]
fn check_stream_shape(chunks: &[ChunkType]) -> pb::RuntimeInstallationResult {
    let results: Vec<_> = chunks
        .iter()
        .filter_map(|c| match c {
            ChunkType::Result(r) => Some(r.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(results.len(), 1, "exactly one result chunk: {chunks:?}");
    assert!(
        matches!(chunks.last(), Some(ChunkType::Result(_))),
        "the result comes last"
    );
    results.into_iter().next().expect("one result")
}

#[tokio::test]
async fn rt_list_1_lists_every_installed_runtime() {
    let (_mock, mut rt) = start().await;
    let all = rt
        .list_runtimes(pb::EmptyRequest {})
        .await
        .expect("ListRuntimes")
        .into_inner()
        .runtimes;
    let names: Vec<_> = all.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "python-3.11",
            "python-3.11-ml",
            "node-18",
            "openjdk-21",
            "golang-1.21"
        ]
    );
    let ml = &all[1];
    assert_eq!(
        (ml.language.as_str(), ml.version.as_str()),
        ("python", "3.11")
    );
    assert!(ml.available && ml.size_bytes > 0 && !ml.description.is_empty());
    assert!(
        ml.packages.iter().any(|p| p.starts_with("torch")),
        "{:?}",
        ml.packages
    );
    let req = ml.requirements.as_ref().expect("requirements");
    assert!(
        req.gpu && req.architectures.contains(&"amd64".to_string()),
        "{req:?}"
    );
    assert!(all.iter().all(|r| r.available && r.requirements.is_some()));
}

#[tokio::test]
async fn rt_info_1_finds_by_name_or_lang_version() {
    let (_mock, mut rt) = start().await;
    for (query, want) in [
        ("python-3.11-ml", "python-3.11-ml"),
        ("python:3.11", "python-3.11"),
        ("python:3.11-ml", "python-3.11-ml"),
        ("java:21", "openjdk-21"),
        ("node-18", "node-18"),
    ] {
        let res = info(&mut rt, query).await.expect("GetRuntimeInfo");
        assert!(res.found, "{query}");
        let r = res.runtime.unwrap_or_else(|| panic!("{query}: runtime"));
        assert_eq!(r.name, want, "{query}");
        assert!(r.available);
    }
    let res = info(&mut rt, "ruby:3.3")
        .await
        .expect("unknown is not an error");
    assert_eq!(
        res,
        pb::RuntimeInfoRes {
            runtime: None,
            found: false
        }
    );
    let e = info(&mut rt, "").await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert_eq!(e.message(), "runtime: runtime name is required");
}

#[tokio::test]
async fn rt_test_1_installed_and_unknown_runtimes() {
    let (_mock, mut rt) = start().await;
    let res = test_runtime(&mut rt, "python:3.11")
        .await
        .expect("TestRuntime");
    assert!(
        res.success && res.exit_code == 0 && res.error.is_empty(),
        "{res:?}"
    );
    assert!(
        res.output.starts_with("Runtime resolution successful\n"),
        "{:?}",
        res.output
    );
    assert!(res.output.contains("python-3.11 3.11"), "{:?}", res.output);

    let res = test_runtime(&mut rt, "cobol:85")
        .await
        .expect("TestRuntime");
    assert_eq!(
        res,
        pb::RuntimeTestRes {
            success: false,
            output: String::new(),
            error: "runtime not found: runtime not found for spec cobol:85".into(),
            exit_code: 1,
        }
    );
    let e = test_runtime(&mut rt, " ").await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert!(e.message().starts_with("runtime:"), "{e:?}");
}

#[tokio::test]
async fn rt_spec_1_validates_the_grammar_without_errors() {
    let (_mock, mut rt) = start().await;
    let res = validate(&mut rt, "python:3.11-ml-gpu@arm64").await;
    assert!(res.valid, "{res:?}");
    assert_eq!(res.message, "Runtime spec is valid");
    assert_eq!(res.normalized_spec, "python:3.11-ml-gpu@arm64");
    assert_eq!(
        res.spec_info,
        Some(pb::RuntimeSpecInfo {
            language: "python".into(),
            version: "3.11".into(),
            variants: vec!["ml".into(), "gpu".into()],
            architecture: "arm64".into(),
        })
    );
    let res = validate(&mut rt, "java:21@amd64").await;
    assert!(res.valid, "{res:?}");
    assert_eq!(res.normalized_spec, "java:21", "amd64 is the default");

    let res = validate(&mut rt, "").await;
    assert_eq!(
        (res.valid, res.message.as_str()),
        (false, "Runtime spec cannot be empty")
    );
    assert!(res.spec_info.is_none() && res.normalized_spec.is_empty());
    for (spec, needle) in [
        ("python-3.11-ml", "format language:version"),
        ("cobol:85", "Unsupported language: cobol"),
        ("node:20@sparc", "Unsupported architecture: sparc"),
    ] {
        let res = validate(&mut rt, spec).await;
        assert!(!res.valid && res.spec_info.is_none(), "{spec}: {res:?}");
        assert!(res.message.contains(needle), "{spec}: {res:?}");
    }
}

#[tokio::test]
async fn rt_install_1_pre_checks_are_invalid_argument() {
    let (_mock, mut rt) = start().await;
    let e = rt
        .install_runtime_from_github(github("", false))
        .await
        .unwrap_err();
    assert_invalid(&e, "runtimeSpec: runtime spec is required");
    let e = rt
        .install_runtime_from_local(local("  ", &[("setup.sh", "")]))
        .await
        .unwrap_err();
    assert_invalid(&e, "runtimeSpec: runtime spec is required");
    let e = rt
        .install_runtime_from_local(local("python:3.12", &[]))
        .await
        .unwrap_err();
    assert_invalid(&e, "files: no runtime files provided");
    for spec in ["cobol:85", "not a runtime", "python", "python:"] {
        let e = rt
            .install_runtime_from_github(github(spec, false))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{spec}: {e:?}");
        assert!(e.message().starts_with("runtimeSpec:"), "{spec}: {e:?}");
    }
    // Streaming variants answer the pre-checks as a status, before any chunk.
    let e = rt
        .streaming_install_runtime_from_github(github("", false))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    let e = rt
        .streaming_install_runtime_from_local(local("python:3.12", &[]))
        .await
        .unwrap_err();
    assert_invalid(&e, "files: no runtime files provided");
    assert_eq!(names(&mut rt).await.len(), 5, "nothing was installed");
}

#[tokio::test]
async fn rt_install_1_github_install_then_listed_and_usable() {
    let (mock, mut rt) = start().await;
    let began = Instant::now();
    let res = rt
        .install_runtime_from_github(github("python:3.12", false))
        .await
        .expect("InstallRuntimeFromGithub")
        .into_inner();
    let took = began.elapsed();
    assert_eq!(
        res,
        pb::InstallRuntimeResponse {
            build_job_uuid: String::new(),
            runtime_spec: "python:3.12".into(),
            status: "completed".into(),
            message: "Runtime installed successfully".into(),
            repository: "ehsaniara/joblet".into(),
            resolved_path: "runtimes/python-3.12".into(),
        }
    );
    assert!(
        took >= Duration::from_millis(500),
        "an install takes about a second, took {took:?}"
    );

    assert_eq!(
        names(&mut rt).await.last().map(String::as_str),
        Some("python-3.12")
    );
    let r = info(&mut rt, "python:3.12")
        .await
        .expect("GetRuntimeInfo")
        .runtime
        .expect("found");
    assert_eq!(
        (r.name.as_str(), r.language.as_str(), r.version.as_str()),
        ("python-3.12", "python", "3.12")
    );

    // Jobs can use it.
    let mut jobs = jobs(&mock).await;
    let job = jobs
        .run_job(pb::RunJobRequest {
            command: "echo".into(),
            runtime: "python:3.12".into(),
            ..Default::default()
        })
        .await
        .expect("RunJob with the installed runtime");
    assert!(!job.get_ref().job_uuid.is_empty());

    // Repository and path are echoed when sent.
    let res = rt
        .install_runtime_from_github(pb::InstallRuntimeRequest {
            runtime_spec: "python:3.11".into(),
            repository: "acme/runtimes".into(),
            path: "py/3.11".into(),
            ..Default::default()
        })
        .await
        .expect("already installed")
        .into_inner();
    assert_eq!(
        (res.repository.as_str(), res.resolved_path.as_str()),
        ("acme/runtimes", "py/3.11")
    );
}

#[tokio::test]
async fn rt_install_1_local_install_then_listed() {
    let (_mock, mut rt) = start().await;
    let files = [
        ("setup.sh", "#!/bin/sh\necho installing\n"),
        ("runtime.yml", "name: ruby-3.3-rails\n"),
    ];
    let res = rt
        .install_runtime_from_local(local("ruby-3.3-rails", &files))
        .await
        .expect("InstallRuntimeFromLocal")
        .into_inner();
    assert_eq!(res.status, "completed");
    assert_eq!(
        res.message,
        "Runtime installed successfully from local files"
    );
    assert_eq!(
        (res.repository.as_str(), res.resolved_path.as_str()),
        ("local", "")
    );
    assert_eq!(res.runtime_spec, "ruby-3.3-rails");
    let r = info(&mut rt, "ruby-3.3-rails")
        .await
        .expect("GetRuntimeInfo")
        .runtime
        .expect("found");
    assert_eq!((r.language.as_str(), r.version.as_str()), ("ruby", "3.3"));
}

#[tokio::test]
async fn rt_install_2_streaming_sends_progress_logs_then_one_result() {
    let (_mock, mut rt) = start().await;
    let began = Instant::now();
    let chunks = stream_github(&mut rt, github("node:20", false)).await;
    assert!(
        began.elapsed() >= Duration::from_millis(500),
        "{:?}",
        began.elapsed()
    );
    let result = check_stream_shape(&chunks);
    assert_eq!(
        result,
        pb::RuntimeInstallationResult {
            success: true,
            message: "Runtime installed successfully".into(),
            runtime_spec: "node:20".into(),
            install_path: "/opt/joblet/runtimes/node-20/runtime.yml".into(),
        }
    );
    let progress: Vec<_> = chunks
        .iter()
        .filter_map(|c| match c {
            ChunkType::Progress(p) => Some((p.message.as_str(), p.step, p.total_steps)),
            _ => None,
        })
        .collect();
    assert_eq!(
        progress,
        [
            ("📦 Cloning repository...", 1, 4),
            ("Extracting repository...", 2, 4),
            ("Repository extracted successfully", 3, 4),
            ("🏗️  Running setup script...", 4, 4),
        ]
    );
    let log: Vec<u8> = chunks
        .iter()
        .filter_map(|c| match c {
            ChunkType::Log(l) => Some(l.data.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    let log = String::from_utf8(log).expect("UTF-8 setup output");
    assert!(log.contains("node-20"), "{log}");
    assert!(names(&mut rt).await.contains(&"node-20".to_string()));

    // The local variant has the same shape.
    let chunks = stream_local(&mut rt, local("php:8.3", &[("setup.sh", "#!/bin/sh\n")])).await;
    let result = check_stream_shape(&chunks);
    assert!(result.success, "{result:?}");
    assert_eq!(
        result.message,
        "Runtime installed successfully from local files"
    );
    assert_eq!(
        result.install_path,
        "/opt/joblet/runtimes/php-8.3/runtime.yml"
    );
    assert!(chunks.iter().any(|c| matches!(c, ChunkType::Log(_))));
    assert!(chunks.iter().any(|c| matches!(c, ChunkType::Progress(_))));
}

#[tokio::test]
async fn rt_install_2_install_completes_when_the_client_leaves() {
    let (_mock, mut rt) = start().await;
    let mut stream = rt
        .streaming_install_runtime_from_github(github("golang:1.22", false))
        .await
        .expect("StreamingInstallRuntimeFromGithub")
        .into_inner();
    let first = stream.next().await.expect("a chunk").expect("no error");
    assert!(
        matches!(first.chunk_type, Some(ChunkType::Progress(_))),
        "{first:?}"
    );
    drop(stream);
    eventually("golang-1.22 appears", || {
        let mut rt = rt.clone();
        async move {
            names(&mut rt)
                .await
                .contains(&"golang-1.22".to_string())
                .then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn rt_install_3_already_installed_unless_forced() {
    let (_mock, mut rt) = start().await;
    let began = Instant::now();
    let res = rt
        .install_runtime_from_github(github("python:3.11", false))
        .await
        .expect("InstallRuntimeFromGithub")
        .into_inner();
    assert!(
        began.elapsed() < Duration::from_millis(500),
        "no simulated install: {:?}",
        began.elapsed()
    );
    assert_eq!(res.status, "completed");
    assert!(res.message.contains("already installed"), "{res:?}");

    // Streaming: a single result chunk.
    let chunks = stream_local(&mut rt, local("python-3.11-ml", &[("setup.sh", "")])).await;
    assert_eq!(chunks.len(), 1, "{chunks:?}");
    let result = check_stream_shape(&chunks);
    assert!(
        result.success && result.message.contains("already installed"),
        "{result:?}"
    );
    assert_eq!(
        result.install_path,
        "/opt/joblet/runtimes/python-3.11-ml/runtime.yml"
    );

    // Forced: installed again, listed once, in place.
    let before = names(&mut rt).await;
    let chunks = stream_github(&mut rt, github("java:21", true)).await;
    let result = check_stream_shape(&chunks);
    assert!(result.success, "{result:?}");
    assert_eq!(result.message, "Runtime installed successfully");
    assert_eq!(
        result.install_path,
        "/opt/joblet/runtimes/openjdk-21/runtime.yml"
    );
    assert!(chunks.len() > 4, "a real reinstall: {chunks:?}");
    assert_eq!(names(&mut rt).await, before);
}

#[tokio::test]
async fn rt_rm_1_remove_answers_and_removed_runtimes_are_gone() {
    let (mock, mut rt) = start().await;
    let res = remove(&mut rt, "python-3.11").await;
    assert_eq!(
        res,
        pb::RuntimeRemoveRes {
            success: true,
            message: "Runtime 'python-3.11' removed successfully".into(),
            freed_space_bytes: 94_371_840,
        }
    );
    assert!(!names(&mut rt).await.contains(&"python-3.11".to_string()));
    let found = info(&mut rt, "python-3.11").await.expect("GetRuntimeInfo");
    assert!(!found.found);
    let res = remove(&mut rt, "python-3.11").await;
    assert_eq!(
        res,
        pb::RuntimeRemoveRes {
            success: false,
            message: "Runtime 'python-3.11' not found".into(),
            freed_space_bytes: 0,
        }
    );
    // `python:3.11` names python-3.11 only, never python-3.11-ml.
    let res = remove(&mut rt, "python:3.11").await;
    assert_eq!(
        (res.success, res.message.as_str()),
        (false, "Runtime 'python:3.11' not found")
    );
    assert!(names(&mut rt).await.contains(&"python-3.11-ml".to_string()));
    let res = remove(&mut rt, "").await;
    assert_eq!(
        (res.success, res.message.as_str()),
        (false, "Runtime name is required")
    );

    let mut jobs = jobs(&mock).await;
    let e = jobs
        .run_job(pb::RunJobRequest {
            command: "echo".into(),
            runtime: "python-3.11".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert!(e.message().contains("runtime"), "{e:?}");
}
