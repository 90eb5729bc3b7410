//! The mutants of the `[v2]` behaviours (CONTRACT-*, AUTH-6..8, JOB-RUN-11,
//! JOB-TIMEOUT-*, JOB-LOGS-4, JOB-METRICS-*, JOB-TELEM-*, MON-STATUS-2,
//! RT-LIST-2, RT-BUILD-*, RT-YAML-*), with `pb::v2` clients: each test runs a
//! probe on a documented mock and on the same with the mutant, and shows the
//! documented answer on the first and the broken one on the second. Tests
//! are named `mutant_<name>_breaks_<behaviour id>`, as in `mutants.rs`
//! (whose `every_mutant_has_a_test` reads this file too).

use joblet_mock::{
    Api, ClockMode, Contracts, MockConfig, MockServer, Mutant, Role, RoleModel, RunningMock,
    TlsSetup,
};
use joblet_testkit::pb::v2 as pb;
use joblet_testkit::pb::v2::build_runtime_progress::ProgressType;
use joblet_testkit::pb::v2::job_service_client::JobServiceClient;
use joblet_testkit::pb::v2::monitoring_service_client::MonitoringServiceClient;
use joblet_testkit::pb::v2::runtime_service_client::RuntimeServiceClient;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::support::{channel, start_with, with_timeout};

/// `fixtures/runtimes/python-ml.yaml` (name python-ml, version 1.0.0).
const PYTHON_ML: &str = include_str!("../../../fixtures/runtimes/python-ml.yaml");

type V2Jobs = JobServiceClient<Channel>;
type V2Runtimes = RuntimeServiceClient<Channel>;

/// A virtual-clock mock speaking `api`.
fn config(api: Api) -> MockConfig {
    MockConfig {
        clock: ClockMode::Virtual,
        api,
        ..MockConfig::default()
    }
}

/// Runs `probe` on a mock configured as `base`, then on the same with
/// `mutant`: (documented, mutated).
async fn both_with<T>(
    base: MockConfig,
    mutant: Mutant,
    probe: impl AsyncFn(&RunningMock) -> T,
) -> (T, T) {
    let mut out = Vec::new();
    for mutant in [None, Some(mutant)] {
        let mock = start_with(MockServer::builder().config(MockConfig {
            mutant,
            ..base.clone()
        }))
        .await;
        out.push(probe(&mock).await);
        mock.shutdown().await.expect("the mock stops");
    }
    let mutd = out.pop().unwrap();
    (out.pop().unwrap(), mutd)
}

/// [`both_with`] on a virtual-clock mock of both contracts.
async fn both<T>(mutant: Mutant, probe: impl AsyncFn(&RunningMock) -> T) -> (T, T) {
    both_with(config(Api::Both), mutant, probe).await
}

/// [`both_with`] with a TLS listener (certificates generated per mock).
async fn both_tls<T>(
    base: MockConfig,
    mutant: Mutant,
    probe: impl AsyncFn(&RunningMock) -> T,
) -> (T, T) {
    let mut out = Vec::new();
    for mutant in [None, Some(mutant)] {
        let dir = tempfile::tempdir().unwrap();
        let mock = MockServer::builder()
            .config(MockConfig {
                mutant,
                ..base.clone()
            })
            .tls(TlsSetup::Generate(dir.path().to_owned()))
            .start()
            .await
            .expect("the mock starts with TLS");
        out.push(probe(&mock).await);
    }
    let mutd = out.pop().unwrap();
    (out.pop().unwrap(), mutd)
}

async fn v2_jobs(mock: &RunningMock) -> V2Jobs {
    JobServiceClient::new(channel(&mock.url()).await)
}

async fn v2_runtimes(mock: &RunningMock) -> V2Runtimes {
    RuntimeServiceClient::new(channel(&mock.url()).await)
}

/// A TLS channel with a certificate of these OUs.
async fn ou_channel(mock: &RunningMock, name: &str, ous: &[&str]) -> Channel {
    let certs = mock.certs().expect("TLS is on");
    let client = certs
        .issue_client(name, &format!("{name}-client"), ous)
        .unwrap();
    let addr = mock.tls_addr().expect("TLS is on");
    with_timeout(
        joblet_testkit::Target::plaintext(addr.to_string())
            .with_tls(certs.client_tls_files(&client)),
    )
    .connect()
    .await
    .expect("mutual TLS connects")
}

fn cmd(command: &str, args: &[&str]) -> pb::RunJobRequest {
    pb::RunJobRequest {
        command: command.into(),
        args: args.iter().map(|s| (*s).to_owned()).collect(),
        ..Default::default()
    }
}

fn sh(script: &str) -> pb::RunJobRequest {
    cmd("sh", &["-c", script])
}

async fn run(jobs: &mut V2Jobs, req: pb::RunJobRequest) -> String {
    jobs.run_job(req)
        .await
        .expect("RunJob")
        .into_inner()
        .job_uuid
}

async fn status(jobs: &mut V2Jobs, id: &str) -> pb::GetJobStatusResponse {
    jobs.get_job_status(pb::GetJobStatusRequest { uuid: id.into() })
        .await
        .expect("GetJobStatus")
        .into_inner()
}

/// Runs `req` to its final status.
async fn run_to_end(
    jobs: &mut V2Jobs,
    req: pb::RunJobRequest,
) -> (String, pb::GetJobStatusResponse) {
    let id = run(jobs, req).await;
    let done = crate::support::eventually(&format!("job {id} ends"), || {
        let mut jobs = jobs.clone();
        let id = id.clone();
        async move {
            let s = status(&mut jobs, &id).await;
            crate::support::FINAL
                .contains(&s.status.as_str())
                .then_some(s)
        }
    })
    .await;
    (id, done)
}

/// Every message of a streaming call, and how it ended.
async fn drain<T>(
    call: Result<tonic::Response<tonic::Streaming<T>>, Status>,
) -> (Vec<T>, Result<(), Code>) {
    let mut stream = match call {
        Ok(r) => r.into_inner(),
        Err(e) => return (Vec::new(), Err(e.code())),
    };
    let mut items = Vec::new();
    loop {
        match crate::support::within("the stream's next message", stream.message()).await {
            Ok(Some(item)) => items.push(item),
            Ok(None) => return (items, Ok(())),
            Err(e) => return (items, Err(e.code())),
        }
    }
}

/// A build of `yaml`: its messages and how it ended.
async fn build(
    rt: &mut V2Runtimes,
    yaml: &str,
    dry_run: bool,
) -> (Vec<ProgressType>, Result<(), Code>) {
    let call = rt
        .build_runtime(pb::BuildRuntimeRequest {
            yaml_content: yaml.into(),
            dry_run,
            ..Default::default()
        })
        .await;
    let (items, end) = drain(call).await;
    (
        items.into_iter().filter_map(|p| p.progress_type).collect(),
        end,
    )
}

async fn listed(rt: &mut V2Runtimes, name: &str) -> bool {
    rt.list_runtimes(pb::EmptyRequest {})
        .await
        .expect("ListRuntimes")
        .into_inner()
        .runtimes
        .iter()
        .any(|r| r.name == name)
}

async fn validate(
    rt: &mut V2Runtimes,
    yaml: &str,
) -> Result<pb::ValidateRuntimeYamlResponse, Code> {
    rt.validate_runtime_yaml(pb::ValidateRuntimeYamlRequest {
        yaml_content: yaml.into(),
    })
    .await
    .map(|r| r.into_inner())
    .map_err(|e| e.code())
}

const UNKNOWN: &str = "00000000-0000-4000-8000-000000000000";

#[test]
fn the_v2_mutants_are_the_mutants_of_v2_behaviours() {
    let v2: Vec<&str> = Mutant::LIST
        .iter()
        .filter(|m| m.contracts() == Contracts::V2)
        .map(|m| m.behaviour())
        .collect();
    let source = include_str!("mutants_v2.rs");
    for m in Mutant::LIST
        .iter()
        .filter(|m| m.contracts() == Contracts::V2)
    {
        let test = format!(
            "fn mutant_{}_breaks_{}()",
            m.name().replace('-', "_"),
            m.behaviour().to_ascii_lowercase().replace('-', "_")
        );
        assert!(source.contains(&test), "no test `{test}` in mutants_v2.rs");
    }
    // One per [v2] behaviour of the catalogue.
    let catalogue = include_str!("../../../docs/behaviours.md");
    for line in catalogue.lines() {
        let Some(rest) = line.strip_prefix("* ") else {
            continue;
        };
        let mut words = rest.split_whitespace();
        if let (Some(id), Some("[v2]")) = (words.next(), words.next())
            && !id.starts_with("QUIRK-")
        {
            assert!(v2.contains(&id), "no mutant for the [v2] behaviour {id}");
        }
    }
}

/// Each mutant's contracts are its behaviour's tag in the catalogue.
#[test]
fn mutant_contracts_follow_the_catalogue_tags() {
    let catalogue = include_str!("../../../docs/behaviours.md");
    let mut tags = std::collections::BTreeMap::new();
    for line in catalogue.lines() {
        let Some(rest) = line.strip_prefix("- ").or_else(|| line.strip_prefix("* ")) else {
            continue;
        };
        let mut words = rest.split_whitespace();
        if let (Some(id), Some(tag)) = (words.next(), words.next()) {
            let contracts = match tag {
                "[v1]" => Contracts::V1,
                "[v2]" => Contracts::V2,
                "[v1,v2]" => Contracts::Both,
                _ => continue,
            };
            tags.insert(id, contracts);
        }
    }
    for m in Mutant::LIST {
        let tag = tags
            .get(m.behaviour())
            .unwrap_or_else(|| panic!("{} is not in the catalogue", m.behaviour()));
        assert_eq!(m.contracts(), *tag, "{m} ({})", m.behaviour());
    }
}

// ------------------------------------------------------------ CONTRACT

#[tokio::test]
async fn mutant_v1_paths_other_text_breaks_contract_1() {
    let (doc, mutd) = both_with(config(Api::V2), Mutant::V1PathsOtherText, async |m| {
        let mut rt = joblet_testkit::pb::runtime_service_client::RuntimeServiceClient::new(
            channel(&m.url()).await,
        );
        let e = rt
            .validate_runtime_spec(joblet_testkit::pb::ValidateRuntimeSpecRequest {
                runtime_spec: "python:3.11".into(),
            })
            .await
            .unwrap_err();
        (e.code(), e.message().to_owned())
    })
    .await;
    assert_eq!(
        doc,
        (
            Code::Unimplemented,
            "unknown method ValidateRuntimeSpec for service joblet.RuntimeService".into()
        )
    );
    assert_eq!(
        mutd,
        (
            Code::Unimplemented,
            "method ValidateRuntimeSpec not implemented".into()
        )
    );
}

#[tokio::test]
async fn mutant_proto_tag_v1_breaks_contract_2() {
    let (doc, mutd) = both(Mutant::ProtoTagV1, async |m| {
        MonitoringServiceClient::new(channel(&m.url()).await)
            .get_system_status(pb::EmptyRequest {})
            .await
            .unwrap()
            .into_inner()
            .server_version
            .unwrap()
            .proto_tag
    })
    .await;
    assert_eq!((doc.as_str(), mutd.as_str()), ("v2.5.9", "v1.0.6"));
}

#[tokio::test]
async fn mutant_probe_unimplemented_breaks_contract_3() {
    let (doc, mutd) = both(Mutant::ProbeUnimplemented, async |m| {
        validate(&mut v2_runtimes(m).await, "")
            .await
            .map(|r| r.valid)
    })
    .await;
    assert_eq!(doc, Ok(false));
    assert_eq!(mutd, Err(Code::Unimplemented));
}

// ------------------------------------------------------------ AUTH

#[tokio::test]
async fn mutant_reader_unknown_breaks_auth_6() {
    let (doc, mutd) = both_tls(config(Api::V2), Mutant::ReaderUnknown, async |m| {
        let ch = ou_channel(m, "reader", &["reader"]).await;
        JobServiceClient::new(ch)
            .list_jobs(pb::EmptyRequest {})
            .await
            .map(|_| ())
            .map_err(|e| e.code())
    })
    .await;
    assert_eq!(doc, Ok(()));
    assert_eq!(mutd, Err(Code::PermissionDenied));
}

#[tokio::test]
async fn mutant_viewer_may_build_breaks_auth_7() {
    let (doc, mutd) = both_tls(config(Api::V2), Mutant::ViewerMayBuild, async |m| {
        let target = with_timeout(m.tls_target(Role::Viewer).expect("TLS target"));
        let mut rt = RuntimeServiceClient::new(target.connect().await.unwrap());
        build(&mut rt, PYTHON_ML, true).await.1
    })
    .await;
    assert_eq!(doc, Err(Code::PermissionDenied));
    assert_eq!(mutd, Ok(()));
}

#[tokio::test]
async fn mutant_four_role_method_names_breaks_auth_8() {
    let base = MockConfig {
        roles: RoleModel::Four,
        ..config(Api::V2)
    };
    let (doc, mutd) = both_tls(base, Mutant::FourRoleMethodNames, async |m| {
        let ch = ou_channel(m, "four-reader", &["reader"]).await;
        let e = JobServiceClient::new(ch)
            .run_job(cmd("echo", &["hi"]))
            .await
            .unwrap_err();
        e.message().to_owned()
    })
    .await;
    assert_eq!(
        doc,
        "role reader is not allowed to perform operation run_job"
    );
    assert_eq!(
        mutd,
        "role reader is not allowed to perform operation RunJob"
    );
}

// ------------------------------------------------------------ JOB

#[tokio::test]
async fn mutant_run_echo_on_v2_breaks_job_run_11() {
    let (doc, mutd) = both_with(config(Api::V2), Mutant::RunEchoOnV2, async |m| {
        let mut jobs = crate::support::jobs(m).await;
        let r = crate::support::run(&mut jobs, crate::support::cmd("echo", &["hi"])).await;
        (r.command, r.args)
    })
    .await;
    assert_eq!(doc, (String::new(), Vec::<String>::new()));
    assert_eq!(mutd, ("echo".into(), vec!["hi".to_owned()]));
}

/// RunJob with `timeout`: its code.
async fn run_with_timeout(m: &RunningMock, timeout: &str) -> Code {
    let req = pb::RunJobRequest {
        timeout: timeout.into(),
        ..cmd("echo", &["hi"])
    };
    match v2_jobs(m).await.run_job(req).await {
        Ok(_) => Code::Ok,
        Err(e) => e.code(),
    }
}

#[tokio::test]
async fn mutant_timeout_compound_refused_breaks_job_timeout_1() {
    let (doc, mutd) = both(Mutant::TimeoutCompoundRefused, async |m| {
        (
            run_with_timeout(m, "1m30s").await,
            run_with_timeout(m, "90s").await,
        )
    })
    .await;
    assert_eq!(doc, (Code::Ok, Code::Ok));
    assert_eq!(mutd, (Code::InvalidArgument, Code::Ok));
}

#[tokio::test]
async fn mutant_timeout_invalid_accepted_breaks_job_timeout_2() {
    let (doc, mutd) = both(Mutant::TimeoutInvalidAccepted, async |m| {
        run_with_timeout(m, "soon").await
    })
    .await;
    assert_eq!((doc, mutd), (Code::InvalidArgument, Code::Ok));
}

#[tokio::test]
async fn mutant_timeout_exit_zero_breaks_job_timeout_3() {
    let (doc, mutd) = both(Mutant::TimeoutExitZero, async |m| {
        let req = pb::RunJobRequest {
            timeout: "2s".into(),
            ..cmd("sleep", &["60"])
        };
        let (_, s) = run_to_end(&mut v2_jobs(m).await, req).await;
        (s.status, s.exit_code)
    })
    .await;
    assert_eq!(doc, ("TIMEOUT".to_owned(), 124));
    assert_eq!(mutd, ("TIMEOUT".to_owned(), 0));
}

#[tokio::test]
async fn mutant_timeout_not_echoed_breaks_job_timeout_4() {
    let (doc, mutd) = both(Mutant::TimeoutNotEchoed, async |m| {
        let mut jobs = v2_jobs(m).await;
        let req = pb::RunJobRequest {
            timeout: "5m".into(),
            ..cmd("echo", &["hi"])
        };
        let id = run(&mut jobs, req).await;
        status(&mut jobs, &id).await.timeout
    })
    .await;
    assert_eq!((doc.as_str(), mutd.as_str()), ("5m", ""));
}

#[tokio::test]
async fn mutant_logs_empty_uuid_not_found_breaks_job_logs_4() {
    let (doc, mutd) = both(Mutant::LogsEmptyUuidNotFound, async |m| {
        let call = v2_jobs(m)
            .await
            .get_job_logs(pb::GetJobLogsRequest {
                uuid: String::new(),
            })
            .await;
        drain(call).await.1
    })
    .await;
    assert_eq!(doc, Err(Code::InvalidArgument));
    assert_eq!(mutd, Err(Code::NotFound));
}

/// GetJobMetrics of `id` with `limit`.
async fn metrics(jobs: &mut V2Jobs, id: &str, limit: i32) -> Vec<pb::JobMetricsEvent> {
    let call = jobs
        .get_job_metrics(pb::GetJobMetricsRequest {
            job_uuid: id.into(),
            limit,
            ..Default::default()
        })
        .await;
    drain(call).await.0
}

#[tokio::test]
async fn mutant_metrics_no_memory_limit_breaks_job_metrics_1() {
    let (doc, mutd) = both(Mutant::MetricsNoMemoryLimit, async |m| {
        let mut jobs = v2_jobs(m).await;
        let req = pb::RunJobRequest {
            max_memory: 256,
            ..cmd("sleep", &["1"])
        };
        let (id, _) = run_to_end(&mut jobs, req).await;
        metrics(&mut jobs, &id, 0).await[0].memory_limit
    })
    .await;
    assert_eq!((doc, mutd), (256 << 20, 0));
}

#[tokio::test]
async fn mutant_metrics_unknown_empty_breaks_job_metrics_2() {
    let (doc, mutd) = both(Mutant::MetricsUnknownEmpty, async |m| {
        let call = v2_jobs(m)
            .await
            .stream_job_metrics(pb::StreamJobMetricsRequest {
                job_uuid: UNKNOWN.into(),
            })
            .await;
        let (items, end) = drain(call).await;
        (items.len(), end)
    })
    .await;
    assert_eq!(doc, (0, Err(Code::NotFound)));
    assert_eq!(mutd, (0, Ok(())));
}

#[tokio::test]
async fn mutant_metrics_limit_ignored_breaks_job_metrics_3() {
    let (doc, mutd) = both(Mutant::MetricsLimitIgnored, async |m| {
        let mut jobs = v2_jobs(m).await;
        // Samples at 0, 5 and 10 s.
        let (id, _) = run_to_end(&mut jobs, cmd("sleep", &["12"])).await;
        metrics(&mut jobs, &id, 1).await.len()
    })
    .await;
    assert_eq!((doc, mutd), (1, 3));
}

/// GetJobTelematics of `id`: the types of its events.
async fn telematics(jobs: &mut V2Jobs, id: &str, types: &[&str], limit: i32) -> Vec<String> {
    let call = jobs
        .get_job_telematics(pb::GetJobTelematicsRequest {
            job_uuid: id.into(),
            types: types.iter().map(|t| (*t).to_owned()).collect(),
            limit,
            ..Default::default()
        })
        .await;
    drain(call).await.0.into_iter().map(|e| e.r#type).collect()
}

/// A job that runs `sh` (an exec event) and writes two files.
const WRITES_TWO: &str = "echo a > a.txt; echo b > b.txt";

#[tokio::test]
async fn mutant_telem_type_uppercase_breaks_job_telem_1() {
    let (doc, mutd) = both(Mutant::TelemTypeUppercase, async |m| {
        let mut jobs = v2_jobs(m).await;
        let (id, _) = run_to_end(&mut jobs, sh(WRITES_TWO)).await;
        telematics(&mut jobs, &id, &[], 0).await
    })
    .await;
    assert_eq!(doc, ["exec", "file", "file"]);
    assert_eq!(mutd, ["EXEC", "FILE", "FILE"]);
}

#[tokio::test]
async fn mutant_telem_type_filter_off_breaks_job_telem_2() {
    let (doc, mutd) = both(Mutant::TelemTypeFilterOff, async |m| {
        let mut jobs = v2_jobs(m).await;
        let (id, _) = run_to_end(&mut jobs, sh(WRITES_TWO)).await;
        telematics(&mut jobs, &id, &["file"], 0).await
    })
    .await;
    assert_eq!(doc, ["file", "file"]);
    assert_eq!(mutd, ["exec", "file", "file"]);
}

#[tokio::test]
async fn mutant_telem_unknown_empty_breaks_job_telem_3() {
    let (doc, mutd) = both(Mutant::TelemUnknownEmpty, async |m| {
        let call = v2_jobs(m)
            .await
            .stream_job_telematics(pb::StreamJobTelematicsRequest {
                job_uuid: UNKNOWN.into(),
                types: Vec::new(),
            })
            .await;
        drain(call).await.1
    })
    .await;
    assert_eq!(doc, Err(Code::NotFound));
    assert_eq!(mutd, Ok(()));
}

#[tokio::test]
async fn mutant_telem_limit_per_type_breaks_job_telem_4() {
    let (doc, mutd) = both(Mutant::TelemLimitPerType, async |m| {
        let mut jobs = v2_jobs(m).await;
        let (id, _) = run_to_end(&mut jobs, sh(WRITES_TWO)).await;
        telematics(&mut jobs, &id, &[], 1).await
    })
    .await;
    assert_eq!(doc, ["exec"]);
    assert_eq!(mutd, ["exec", "file"]);
}

// ------------------------------------------------------------ MON

#[tokio::test]
async fn mutant_status_no_mac_addresses_breaks_mon_status_2() {
    let (doc, mutd) = both(Mutant::StatusNoMacAddresses, async |m| {
        MonitoringServiceClient::new(channel(&m.url()).await)
            .get_system_status(pb::EmptyRequest {})
            .await
            .unwrap()
            .into_inner()
            .host
            .unwrap()
            .mac_addresses
            .len()
    })
    .await;
    assert_eq!((doc, mutd), (1, 0));
}

// ------------------------------------------------------------ RT

#[tokio::test]
async fn mutant_runtime_no_language_version_breaks_rt_list_2() {
    let (doc, mutd) = both(Mutant::RuntimeNoLanguageVersion, async |m| {
        let mut rt = v2_runtimes(m).await;
        build(&mut rt, PYTHON_ML, false).await.1.expect("built");
        let list = rt
            .list_runtimes(pb::EmptyRequest {})
            .await
            .unwrap()
            .into_inner();
        let listed = list
            .runtimes
            .iter()
            .find(|r| r.name == "python-ml")
            .map(|r| r.language_version.clone());
        let info = rt
            .get_runtime_info(pb::GetRuntimeInfoRequest {
                runtime: "python-ml".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .runtime
            .map(|r| r.language_version);
        (listed, info)
    })
    .await;
    let v = Some("3.11".to_owned());
    assert_eq!(doc, (v.clone(), v));
    assert_eq!(mutd, (Some(String::new()), Some(String::new())));
}

#[tokio::test]
async fn mutant_build_empty_yaml_starts_breaks_rt_build_1() {
    let (doc, mutd) = both(Mutant::BuildEmptyYamlStarts, async |m| {
        let (events, end) = build(&mut v2_runtimes(m).await, "", false).await;
        (events.is_empty(), end)
    })
    .await;
    assert_eq!(doc, (true, Err(Code::InvalidArgument)));
    assert_eq!(mutd, (false, Ok(())));
}

#[tokio::test]
async fn mutant_build_thirteen_phases_breaks_rt_build_2() {
    let (doc, mutd) = both(Mutant::BuildThirteenPhases, async |m| {
        let (events, _) = build(&mut v2_runtimes(m).await, PYTHON_ML, false).await;
        let phases: Vec<(i32, i32)> = events
            .iter()
            .filter_map(|e| match e {
                ProgressType::Phase(p) => Some((p.phase_number, p.total_phases)),
                _ => None,
            })
            .collect();
        (phases.len(), phases[0].1)
    })
    .await;
    assert_eq!((doc, mutd), ((14, 14), (13, 13)));
}

#[tokio::test]
async fn mutant_dry_run_installs_breaks_rt_build_3() {
    let (doc, mutd) = both(Mutant::DryRunInstalls, async |m| {
        let mut rt = v2_runtimes(m).await;
        build(&mut rt, PYTHON_ML, true).await.1.expect("built");
        listed(&mut rt, "python-ml").await
    })
    .await;
    assert_eq!((doc, mutd), (false, true));
}

#[tokio::test]
async fn mutant_build_failure_status_breaks_rt_build_4() {
    let (doc, mutd) = both(Mutant::BuildFailureStatus, async |m| {
        let (events, end) = build(&mut v2_runtimes(m).await, "name: x\n", false).await;
        let failed_result = events
            .iter()
            .any(|e| matches!(e, ProgressType::Result(r) if !r.success));
        (failed_result, end)
    })
    .await;
    assert_eq!(doc, (true, Ok(())));
    assert_eq!(mutd, (false, Err(Code::InvalidArgument)));
}

#[tokio::test]
async fn mutant_built_runtime_unlisted_breaks_rt_build_5() {
    let (doc, mutd) = both(Mutant::BuiltRuntimeUnlisted, async |m| {
        let mut rt = v2_runtimes(m).await;
        let (_, end) = build(&mut rt, PYTHON_ML, false).await;
        (end, listed(&mut rt, "python-ml").await)
    })
    .await;
    assert_eq!((doc, mutd), ((Ok(()), true), (Ok(()), false)));
}

#[tokio::test]
async fn mutant_yaml_empty_error_breaks_rt_yaml_1() {
    let (doc, mutd) = both(Mutant::YamlEmptyError, async |m| {
        validate(&mut v2_runtimes(m).await, "")
            .await
            .map(|r| r.valid)
    })
    .await;
    assert_eq!(doc, Ok(false));
    assert_eq!(mutd, Err(Code::InvalidArgument));
}

#[tokio::test]
async fn mutant_yaml_accepts_missing_name_breaks_rt_yaml_2() {
    let nameless: String = PYTHON_ML
        .lines()
        .filter(|l| !l.starts_with("name:"))
        .map(|l| format!("{l}\n"))
        .collect();
    let (doc, mutd) = both(Mutant::YamlAcceptsMissingName, async |m| {
        validate(&mut v2_runtimes(m).await, &nameless)
            .await
            .map(|r| (r.valid, r.errors))
    })
    .await;
    assert_eq!(doc, Ok((false, vec!["name is required".to_owned()])));
    assert_eq!(mutd, Ok((true, Vec::new())));
}

#[tokio::test]
async fn mutant_yaml_no_exists_warning_breaks_rt_yaml_3() {
    let (doc, mutd) = both(Mutant::YamlNoExistsWarning, async |m| {
        let mut rt = v2_runtimes(m).await;
        build(&mut rt, PYTHON_ML, false).await.1.expect("built");
        validate(&mut rt, PYTHON_ML).await.map(|r| r.warnings.len())
    })
    .await;
    assert_eq!((doc, mutd), (Ok(1), Ok(0)));
}
