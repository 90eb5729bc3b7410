//! BuildRuntime and ValidateRuntimeYAML (RT-BUILD-1..5, RT-YAML-1..3,
//! RT-LIST-2) over the wire, with `pb::v2` clients.
//!
//! Every mock here runs a virtual clock: a build's phases take simulated time
//! only, so no test waits on the wall clock.

use futures::StreamExt;
use joblet_mock::{Api, ClockMode, MockConfig, MockServer, Role, RunningMock};
use joblet_testkit::pb::v2 as pb;
use joblet_testkit::pb::v2::build_runtime_progress::ProgressType;
use joblet_testkit::pb::v2::job_service_client::JobServiceClient;
use joblet_testkit::pb::v2::runtime_service_client::RuntimeServiceClient;
use joblet_testkit::{Target, TlsFiles};
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::support::{channel, start_tls, start_with, with_timeout};

/// `fixtures/runtimes/python-ml.yaml`, the example of docs/mock-server.md.
const PYTHON_ML: &str = include_str!("../../../fixtures/runtimes/python-ml.yaml");

const PHASE_NAMES: [&str; 14] = [
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

type Runtimes = RuntimeServiceClient<Channel>;

fn config(api: Api) -> MockConfig {
    MockConfig {
        clock: ClockMode::Virtual,
        api,
        ..MockConfig::default()
    }
}

async fn start(api: Api) -> (RunningMock, Runtimes) {
    let mock = start_with(MockServer::builder().config(config(api))).await;
    let client = RuntimeServiceClient::new(channel(&mock.url()).await);
    (mock, client)
}

fn request(yaml: &str) -> pb::BuildRuntimeRequest {
    pb::BuildRuntimeRequest {
        yaml_content: yaml.into(),
        ..Default::default()
    }
}

/// A whole build: its events, and how the stream ended (`Ok` for OK).
async fn build(
    rt: &mut Runtimes,
    req: pb::BuildRuntimeRequest,
) -> (Vec<ProgressType>, Result<(), Status>) {
    let mut stream = rt
        .build_runtime(req)
        .await
        .expect("the build starts")
        .into_inner();
    let mut events = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(event) => events.push(event.progress_type.expect("every event has a type")),
            Err(status) => return (events, Err(status)),
        }
    }
    (events, Ok(()))
}

/// A build that must end OK with exactly one result, as its last message
/// (RT-BUILD-4); its events and that result.
async fn build_ok(
    rt: &mut Runtimes,
    req: pb::BuildRuntimeRequest,
) -> (Vec<ProgressType>, pb::BuildResult) {
    let (events, end) = build(rt, req).await;
    end.expect("a build stream ends with OK");
    let results: Vec<&pb::BuildResult> = events
        .iter()
        .filter_map(|e| match e {
            ProgressType::Result(r) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(results.len(), 1, "exactly one result: {events:?}");
    let Some(ProgressType::Result(last)) = events.last() else {
        panic!("the result is the last message: {events:?}")
    };
    let last = last.clone();
    (events, last)
}

fn phases(events: &[ProgressType]) -> Vec<pb::BuildPhaseProgress> {
    events
        .iter()
        .filter_map(|e| match e {
            ProgressType::Phase(p) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

fn logs(events: &[ProgressType]) -> Vec<pb::BuildLogLine> {
    events
        .iter()
        .filter_map(|e| match e {
            ProgressType::Log(l) => Some(l.clone()),
            _ => None,
        })
        .collect()
}

async fn validate(rt: &mut Runtimes, yaml: &str) -> pb::ValidateRuntimeYamlResponse {
    rt.validate_runtime_yaml(pb::ValidateRuntimeYamlRequest {
        yaml_content: yaml.into(),
    })
    .await
    .expect("ValidateRuntimeYAML answers OK")
    .into_inner()
}

async fn listed(rt: &mut Runtimes, name: &str) -> Vec<pb::RuntimeInfo> {
    rt.list_runtimes(pb::EmptyRequest {})
        .await
        .expect("ListRuntimes")
        .into_inner()
        .runtimes
        .into_iter()
        .filter(|r| r.name == name)
        .collect()
}

#[tokio::test]
async fn rt_build_1_empty_yaml_is_invalid_argument_before_any_message() {
    let (_mock, mut rt) = start(Api::Both).await;
    let status = rt
        .build_runtime(request(""))
        .await
        .expect_err("no stream for an empty YAML");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().contains("yaml_content is required"),
        "{status:?}"
    );
}

#[tokio::test]
async fn rt_build_2_fourteen_phases_in_order_each_with_a_message() {
    let (_mock, mut rt) = start(Api::V2).await;
    let (events, result) = build_ok(&mut rt, request(PYTHON_ML)).await;
    let phases = phases(&events);
    let numbered: Vec<(i32, i32, &str)> = phases
        .iter()
        .map(|p| (p.phase_number, p.total_phases, p.phase_name.as_str()))
        .collect();
    let expected: Vec<(i32, i32, &str)> = PHASE_NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| (i as i32 + 1, 14, *name))
        .collect();
    assert_eq!(numbered, expected);
    assert!(phases.iter().all(|p| !p.message.is_empty()), "{phases:?}");
    assert_eq!(
        phases[0].message,
        "Parsing and validating runtime specification"
    );
    // The first event announces phase 1; log lines come between the phases.
    assert!(matches!(&events[0], ProgressType::Phase(p) if p.phase_number == 1));
    let lines = logs(&events);
    assert!(!lines.is_empty());
    for line in &lines {
        assert!(
            ["info", "warn", "error"].contains(&line.level.as_str()),
            "no debug lines without verbose: {line:?}"
        );
        assert!(!line.message.is_empty());
        // Unix nanoseconds, after 2020.
        assert!(line.timestamp > 1_577_836_800_000_000_000, "{line:?}");
    }
    assert!(result.success, "{result:?}");
}

#[tokio::test]
async fn rt_build_2_verbose_adds_debug_lines() {
    let (_mock, mut rt) = start(Api::Both).await;
    let (quiet, _) = build_ok(&mut rt, request(PYTHON_ML)).await;
    let (loud, _) = build_ok(
        &mut rt,
        pb::BuildRuntimeRequest {
            verbose: true,
            ..request(PYTHON_ML)
        },
    )
    .await;
    assert!(!logs(&quiet).iter().any(|l| l.level == "debug"));
    let debug = logs(&loud).iter().filter(|l| l.level == "debug").count();
    assert!(debug > 0, "verbose sends debug lines");
    assert_eq!(phases(&loud).len(), 14);
}

#[tokio::test]
async fn rt_build_3_dry_run_stops_after_phase_4_and_installs_nothing() {
    let (_mock, mut rt) = start(Api::Both).await;
    let (events, result) = build_ok(
        &mut rt,
        pb::BuildRuntimeRequest {
            dry_run: true,
            ..request(PYTHON_ML)
        },
    )
    .await;
    let names: Vec<String> = phases(&events).into_iter().map(|p| p.phase_name).collect();
    assert_eq!(names, PHASE_NAMES[..4]);
    let lines = logs(&events);
    let done = lines.last().expect("log lines");
    assert_eq!(
        (done.level.as_str(), done.message.as_str()),
        ("info", "Dry run completed. No changes were made.")
    );
    assert!(result.success, "{result:?}");
    assert_eq!(result.message, "Build completed successfully");
    assert_eq!(
        (
            result.runtime_name.as_str(),
            result.runtime_version.as_str()
        ),
        ("python-ml", "1.0.0")
    );
    assert_eq!(result.install_path, "");
    assert_eq!(result.size_bytes, 0);
    assert!(listed(&mut rt, "python-ml").await.is_empty());
}

#[tokio::test]
async fn rt_build_4_a_build_ends_with_one_result_and_ok() {
    let (_mock, mut rt) = start(Api::Both).await;
    let (_, result) = build_ok(&mut rt, request(PYTHON_ML)).await;
    assert!(result.success, "{result:?}");
    assert_eq!(result.message, "Build completed successfully");
    assert_eq!(result.runtime_name, "python-ml");
    assert_eq!(result.runtime_version, "1.0.0");
    assert_eq!(result.install_path, "/opt/joblet/runtimes/python-ml/1.0.0");
    assert!(result.size_bytes > 0);
    assert!(result.build_duration_ms > 0);
}

#[tokio::test]
async fn rt_build_4_a_failing_yaml_ends_ok_with_success_false() {
    let (_mock, mut rt) = start(Api::Both).await;
    let before = rt
        .list_runtimes(pb::EmptyRequest {})
        .await
        .unwrap()
        .into_inner()
        .runtimes
        .len();
    let yaml = "schema_version: \"1.0\"\nname: Bad_Name\nversion: 1.0.0\ndescription: d\n\
                base: {language: cobol, version: \"85\"}\n";
    let (events, result) = build_ok(&mut rt, request(yaml)).await;
    assert!(!result.success, "{result:?}");
    assert_eq!(
        result.message,
        "validation failed: validation errors:\n  - invalid name: Bad_Name\n  - unsupported language: cobol (supported: python, java, node, go, rust)"
    );
    assert_eq!(
        (
            result.runtime_name.as_str(),
            result.runtime_version.as_str(),
            result.install_path.as_str(),
            result.size_bytes
        ),
        ("", "", "", 0)
    );
    assert_eq!(phases(&events).len(), 1, "it fails in phase 1");
    assert!(logs(&events).iter().any(|l| l.level == "error"));
    let after = rt.list_runtimes(pb::EmptyRequest {}).await.unwrap();
    assert_eq!(after.into_inner().runtimes.len(), before);
}

#[tokio::test]
async fn rt_build_4_a_rebuild_replaces_with_or_without_force_rebuild() {
    let (_mock, mut rt) = start(Api::Both).await;
    build_ok(&mut rt, request(PYTHON_ML)).await;
    let changed = PYTHON_ML.replace("for ML jobs", "for ML jobs (rebuilt)");
    for force_rebuild in [false, true] {
        let (_, result) = build_ok(
            &mut rt,
            pb::BuildRuntimeRequest {
                force_rebuild,
                ..request(&changed)
            },
        )
        .await;
        assert!(result.success, "{result:?}");
        let listed = listed(&mut rt, "python-ml").await;
        assert_eq!(listed.len(), 1, "replaced, not added");
        assert!(listed[0].description.ends_with("(rebuilt)"));
    }
}

#[tokio::test]
async fn rt_build_5_and_rt_list_2_a_built_runtime_is_listed_with_its_v2_fields() {
    let (_mock, mut rt) = start(Api::Both).await;
    let (_, result) = build_ok(&mut rt, request(PYTHON_ML)).await;
    let listed = listed(&mut rt, "python-ml").await;
    assert_eq!(listed.len(), 1);
    let r = &listed[0];
    assert_eq!(
        (r.name.as_str(), r.language.as_str(), r.version.as_str()),
        ("python-ml", "python", "1.0.0")
    );
    assert_eq!(
        r.description,
        "Python 3.11 with NumPy, pandas and scikit-learn for ML jobs"
    );
    assert_eq!(r.size_bytes, result.size_bytes);
    assert_eq!(
        r.packages,
        ["numpy==1.26.4", "pandas==2.2.2", "scikit-learn==1.5.0"]
    );
    assert!(r.available);
    let req = r.requirements.as_ref().expect("requirements");
    assert!(!req.gpu);
    assert_eq!(req.architectures, ["amd64", "arm64"]);
    assert_eq!(r.language_version, "3.11");
    assert_eq!(r.libraries, ["libgomp1"]);
    assert_eq!(r.environment.len(), 2);
    assert_eq!(r.environment["PYTHONUNBUFFERED"], "1");
    assert_eq!(r.environment["OMP_NUM_THREADS"], "4");
    assert_eq!(r.original_yaml, PYTHON_ML);
    let b = r.build_info.as_ref().expect("build_info");
    assert!(
        chrono::DateTime::parse_from_rfc3339(&b.built_at).is_ok(),
        "{b:?}"
    );
    assert!(b.built_with.starts_with("joblet-mock "), "{b:?}");
    assert!(b.platform.starts_with("ubuntu-"), "{b:?}");

    // GetRuntimeInfo answers the same RuntimeInfo.
    let info = rt
        .get_runtime_info(pb::GetRuntimeInfoRequest {
            runtime: "python-ml".into(),
        })
        .await
        .expect("GetRuntimeInfo")
        .into_inner();
    assert!(info.found);
    assert_eq!(info.runtime.as_ref(), Some(r));
}

#[tokio::test]
async fn rt_build_5_a_built_runtime_is_tested_run_validated_and_removed() {
    let mock = start_with(MockServer::builder().config(config(Api::Both))).await;
    let ch = channel(&mock.url()).await;
    let mut rt = RuntimeServiceClient::new(ch.clone());
    let mut jobs = JobServiceClient::new(ch);
    build_ok(&mut rt, request(PYTHON_ML)).await;
    let node = PYTHON_ML
        .replace("name: python-ml", "name: web-tools")
        .replace("language: python", "language: node")
        .replace("version: \"3.11\"", "version: \"22\"");
    build_ok(&mut rt, request(&node)).await;

    let test = rt
        .test_runtime(pb::TestRuntimeRequest {
            runtime: "python-ml".into(),
        })
        .await
        .expect("TestRuntime")
        .into_inner();
    assert!(test.success && test.exit_code == 0, "{test:?}");

    // RunJob takes it by name, or as `<language>:<base.version>` (JOB-RUN-8).
    for runtime in ["python-ml", "node:22"] {
        let run = jobs
            .run_job(pb::RunJobRequest {
                command: "echo".into(),
                args: vec!["hi".into()],
                runtime: runtime.into(),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("RunJob accepts runtime {runtime}: {e:?}"))
            .into_inner();
        let status = jobs
            .get_job_status(pb::GetJobStatusRequest { uuid: run.job_uuid })
            .await
            .expect("GetJobStatus")
            .into_inner();
        assert_eq!(status.runtime, runtime);
    }

    // ValidateRuntimeYAML of the same YAML warns that it exists (RT-YAML-3).
    let v = validate(&mut rt, PYTHON_ML).await;
    assert!(v.valid, "{v:?}");
    assert_eq!(
        v.warnings,
        [
            "Runtime 'python-ml' version '1.0.0' already exists at /opt/joblet/runtimes/python-ml/1.0.0"
        ]
    );
    assert_eq!(v.message, "YAML specification is valid (with 1 warning(s))");

    let removed = rt
        .remove_runtime(pb::RemoveRuntimeRequest {
            runtime: "python-ml".into(),
        })
        .await
        .expect("RemoveRuntime")
        .into_inner();
    assert!(removed.success, "{removed:?}");
    assert!(listed(&mut rt, "python-ml").await.is_empty());
    let gone = jobs
        .run_job(pb::RunJobRequest {
            command: "echo".into(),
            runtime: "python-ml".into(),
            ..Default::default()
        })
        .await
        .expect_err("a removed runtime is not installed");
    assert_eq!(gone.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn rt_yaml_1_empty_yaml_is_ok_and_not_valid() {
    let (_mock, mut rt) = start(Api::V2).await;
    let v = validate(&mut rt, "").await;
    assert!(!v.valid);
    assert_eq!(v.message, "yaml_content is required");
    assert_eq!(v.errors, ["yaml_content cannot be empty"]);
    assert!(v.warnings.is_empty() && v.spec_info.is_none());
}

#[tokio::test]
async fn rt_yaml_3_an_invalid_yaml_lists_one_error_per_rule() {
    let (_mock, mut rt) = start(Api::Both).await;
    // SDK 2.5.2's README shape: a flat language and no schema_version (§5.12).
    let sdk_style = "name: my-runtime\nversion: 1.0.0\ndescription: A custom runtime\n\
                     language: python\nbase_packages: [curl]\npip_packages: [numpy]\n";
    let v = validate(&mut rt, sdk_style).await;
    assert!(!v.valid);
    assert_eq!(v.message, "Validation failed");
    assert_eq!(
        v.errors,
        [
            "schema_version is required",
            "base.language is required",
            "base.version is required"
        ]
    );
    assert!(v.spec_info.is_none());
    let v = validate(&mut rt, "name: [unclosed").await;
    assert!(!v.valid);
    assert_eq!(v.errors.len(), 1);
    assert!(v.errors[0].starts_with("invalid YAML: "), "{v:?}");
}

#[tokio::test]
async fn rt_yaml_3_a_valid_yaml_answers_spec_info_and_other_versions() {
    let (_mock, mut rt) = start(Api::Both).await;
    let v = validate(&mut rt, PYTHON_ML).await;
    assert!(v.valid, "{v:?}");
    assert_eq!(v.message, "YAML specification is valid");
    assert!(v.errors.is_empty() && v.warnings.is_empty());
    assert_eq!(
        v.spec_info,
        Some(pb::RuntimeYamlInfo {
            name: "python-ml".into(),
            version: "1.0.0".into(),
            language: "python".into(),
            language_version: "3.11".into(),
            description: "Python 3.11 with NumPy, pandas and scikit-learn for ML jobs".into(),
            pip_packages: vec![
                "numpy==1.26.4".into(),
                "pandas==2.2.2".into(),
                "scikit-learn==1.5.0".into()
            ],
            npm_packages: vec![],
            has_hooks: true,
            requires_gpu: false,
        })
    );
    // Validation changes nothing.
    assert!(listed(&mut rt, "python-ml").await.is_empty());
    build_ok(&mut rt, request(PYTHON_ML)).await;
    build_ok(&mut rt, request(&PYTHON_ML.replace("1.0.0", "1.2.0"))).await;
    let v = validate(&mut rt, &PYTHON_ML.replace("1.0.0", "2.0.0")).await;
    assert!(v.valid);
    assert_eq!(
        v.warnings,
        ["Other versions of 'python-ml' exist: [1.0.0 1.2.0]"]
    );
    assert_eq!(v.message, "YAML specification is valid (with 1 warning(s))");
}

/// CONTRACT-1, CONTRACT-3: a node that speaks only v1 has neither method.
#[tokio::test]
async fn contract_1_a_v1_node_answers_both_methods_unimplemented() {
    let (_mock, mut rt) = start(Api::V1).await;
    let status = rt.build_runtime(request(PYTHON_ML)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    assert_eq!(
        status.message(),
        "unknown method BuildRuntime for service joblet.RuntimeService"
    );
    let status = rt
        .validate_runtime_yaml(pb::ValidateRuntimeYamlRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    assert_eq!(
        status.message(),
        "unknown method ValidateRuntimeYAML for service joblet.RuntimeService"
    );
}

async fn role_client(mock: &RunningMock, role: Role) -> Runtimes {
    let files: TlsFiles = mock.certs().unwrap().tls_files(role).unwrap();
    let addr = mock.tls_addr().expect("TLS is on");
    let ch = with_timeout(Target::plaintext(addr.to_string()).with_tls(files))
        .connect()
        .await
        .expect("mutual TLS connects");
    RuntimeServiceClient::new(ch)
}

/// AUTH-7: BuildRuntime is admin only.
#[tokio::test]
async fn auth_7_a_viewer_may_not_build_runtimes() {
    let dir = tempfile::tempdir().unwrap();
    let mock = start_tls(dir.path()).await;
    let mut viewer = role_client(&mock, Role::Viewer).await;
    let status = viewer.build_runtime(request(PYTHON_ML)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(status.message().contains("BuildRuntime"), "{status:?}");
    let mut admin = role_client(&mock, Role::Admin).await;
    let v = admin
        .validate_runtime_yaml(pb::ValidateRuntimeYamlRequest {
            yaml_content: PYTHON_ML.into(),
        })
        .await
        .expect("an admin may validate")
        .into_inner();
    assert!(v.valid);
}

/// AUTH-7: ValidateRuntimeYAML is open to viewers.
#[tokio::test]
async fn auth_7_a_viewer_may_validate_runtime_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let mock = start_tls(dir.path()).await;
    let mut viewer = role_client(&mock, Role::Viewer).await;
    let v = viewer
        .validate_runtime_yaml(pb::ValidateRuntimeYamlRequest {
            yaml_content: PYTHON_ML.into(),
        })
        .await
        .expect("a viewer may validate")
        .into_inner();
    assert!(v.valid, "{v:?}");
}

/// docs/mock-server.md shows `fixtures/runtimes/python-ml.yaml` byte for byte,
/// so the example the manual shows is the one these tests build.
#[test]
fn rt_yaml_2_the_manual_shows_the_fixture() {
    let page = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/mock-server.md");
    let text = std::fs::read_to_string(page).expect("docs/mock-server.md");
    let blocks: Vec<&str> = text
        .split("```yaml\n")
        .skip(1)
        .filter_map(|rest| rest.split_once("```").map(|(block, _)| block))
        .filter(|block| block.contains("schema_version"))
        .collect();
    assert_eq!(blocks, [PYTHON_ML]);
}
