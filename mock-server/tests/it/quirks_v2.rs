//! The server-v2 profile (QUIRK-13 to QUIRK-22 of `docs/behaviours.md`, and
//! the server-v1 quirks that carry over: QUIRK-1, 2, 8, 11): a Joblet v5.6
//! node speaking v2, driven with `pb::v2` clients on `--api v2`, its
//! faithful pairing. Each test shows the documented profile behaving one way
//! and server-v2 the other.

use std::time::Duration;

use joblet_mock::{Api, ClockMode, MockConfig, MockServer, Profile, Quirk, RunningMock, TlsSetup};
use joblet_testkit::pb::v2 as pb;
use joblet_testkit::pb::v2::job_service_client::JobServiceClient;
use joblet_testkit::pb::v2::monitoring_service_client::MonitoringServiceClient;
use joblet_testkit::pb::v2::runtime_service_client::RuntimeServiceClient;
use joblet_testkit::pb::v2::telematics_event::Data;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::support::{FINAL, channel, eventually, start_with, with_timeout, within};

const PYTHON_ML: &str = include_str!("../../../fixtures/runtimes/python-ml.yaml");

type V2Jobs = JobServiceClient<Channel>;

fn config(profile: Profile, clock: ClockMode) -> MockConfig {
    MockConfig {
        profile,
        clock,
        api: Api::V2,
        gpus: 2,
        ..MockConfig::default()
    }
}

/// A documented mock and a server-v2 one (both `--api v2`) on `clock`.
async fn pair(clock: ClockMode) -> [RunningMock; 2] {
    [
        start_with(MockServer::builder().config(config(Profile::Documented, clock))).await,
        start_with(MockServer::builder().config(config(Profile::ServerV2, clock))).await,
    ]
}

async fn jobs(mock: &RunningMock) -> V2Jobs {
    JobServiceClient::new(channel(&mock.url()).await)
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

async fn run(jobs: &mut V2Jobs, req: pb::RunJobRequest) -> Result<String, Status> {
    jobs.run_job(req).await.map(|r| r.into_inner().job_uuid)
}

async fn status(jobs: &mut V2Jobs, id: &str) -> pb::GetJobStatusResponse {
    jobs.get_job_status(pb::GetJobStatusRequest { uuid: id.into() })
        .await
        .expect("GetJobStatus")
        .into_inner()
}

async fn wait_final(jobs: &V2Jobs, id: &str) -> pb::GetJobStatusResponse {
    eventually(&format!("job {id} ends"), || {
        let mut jobs = jobs.clone();
        async move {
            let s = status(&mut jobs, id).await;
            FINAL.contains(&s.status.as_str()).then_some(s)
        }
    })
    .await
}

async fn run_to_end(jobs: &mut V2Jobs, req: pb::RunJobRequest) -> String {
    let id = run(jobs, req).await.expect("RunJob");
    wait_final(jobs, &id).await;
    id
}

/// Every message of a streaming call, and how it ended.
async fn drain<T>(
    call: Result<tonic::Response<tonic::Streaming<T>>, Status>,
) -> (Vec<T>, Result<(), Status>) {
    let mut stream = match call {
        Ok(r) => r.into_inner(),
        Err(e) => return (Vec::new(), Err(e)),
    };
    let mut items = Vec::new();
    loop {
        match within("the stream's next message", stream.message()).await {
            Ok(Some(item)) => items.push(item),
            Ok(None) => return (items, Ok(())),
            Err(e) => return (items, Err(e)),
        }
    }
}

/// Whether a stream ends (with any status) within `wait` once its messages
/// so far are read.
async fn ends_within<T>(
    call: Result<tonic::Response<tonic::Streaming<T>>, Status>,
    wait: Duration,
) -> bool {
    let Ok(r) = call else {
        return true;
    };
    let mut stream = r.into_inner();
    loop {
        match tokio::time::timeout(wait, stream.message()).await {
            Err(_) => return false,
            Ok(Ok(Some(_))) => continue,
            Ok(_) => return true,
        }
    }
}

#[test]
fn server_v2_turns_on_its_quirks_only() {
    let on = Profile::ServerV2.quirks();
    for q in [
        Quirk::CancelUnimplemented,
        Quirk::InternalErrors,
        Quirk::LaxNetworksVolumes,
        Quirk::OpenMonitoring,
    ] {
        assert!(on.has(q), "{q} carries over");
    }
    for q in Quirk::LIST {
        let n: u32 = q.id()["QUIRK-".len()..].parse().unwrap();
        if n >= 13 {
            assert!(on.has(*q), "{q} is a server-v2 quirk");
            assert!(
                !Profile::ServerV1.quirks().has(*q),
                "{q} is not server-v1's"
            );
        } else if ![1, 2, 8, 11].contains(&n) {
            assert!(!on.has(*q), "{q} stays documented in server-v2");
        }
    }
    assert_eq!(Profile::ServerV2.name(), "server-v2");
}

#[tokio::test]
async fn server_v2_carries_over_quirks_1_and_2() {
    let [doc, v2] = pair(ClockMode::Virtual).await;
    for (mock, quirky) in [(&doc, false), (&v2, true)] {
        let mut jobs = jobs(mock).await;
        let later = pb::RunJobRequest {
            schedule: crate::support::rfc3339_in(3600),
            ..cmd("echo", &["hi"])
        };
        let id = run(&mut jobs, later).await.unwrap();
        let cancel = jobs
            .cancel_job(pb::CancelJobRequest { uuid: id.clone() })
            .await;
        let stop = jobs
            .stop_job(pb::StopJobRequest {
                uuid: "00000000-0000-4000-8000-000000000000".into(),
            })
            .await
            .unwrap_err();
        if quirky {
            // QUIRK-1, QUIRK-2.
            assert_eq!(cancel.unwrap_err().code(), Code::Unimplemented);
            assert_eq!(stop.code(), Code::Internal, "{stop:?}");
            assert!(stop.message().starts_with("job stop failed:"), "{stop:?}");
        } else {
            assert_eq!(cancel.unwrap().into_inner().status, "CANCELED");
            assert_eq!(stop.code(), Code::NotFound);
        }
    }
}

#[tokio::test]
async fn server_v2_carries_over_quirk_8() {
    let [doc, v2] = pair(ClockMode::Virtual).await;
    for (mock, code) in [(&doc, Code::AlreadyExists), (&v2, Code::Ok)] {
        let mut nets = joblet_testkit::pb::v2::network_service_client::NetworkServiceClient::new(
            channel(&mock.url()).await,
        );
        let req = pb::CreateNetworkRequest {
            name: "twice".into(),
            cidr: "10.91.0.0/24".into(),
        };
        nets.create_network(req.clone()).await.expect("created");
        let again = nets
            .create_network(req)
            .await
            .map_or_else(|e| e.code(), |_| Code::Ok);
        assert_eq!(again, code, "a duplicate name overwrites on a v5.6 node");
    }
}

#[tokio::test]
async fn quirk_13_runtime_checked_for_syntax_only() {
    let [doc, v2] = pair(ClockMode::Virtual).await;
    let unknown = || pb::RunJobRequest {
        runtime: "python:9.99".into(),
        ..cmd("echo", &["hi"])
    };
    let e = run(&mut jobs(&doc).await, unknown()).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    let mut v2_jobs = jobs(&v2).await;
    let id = run(&mut v2_jobs, unknown())
        .await
        .expect("accepted by a v5.6 node");
    let s = wait_final(&v2_jobs, &id).await;
    assert_eq!((s.status.as_str(), s.exit_code), ("FAILED", -1));
    assert_eq!(s.runtime, "python:9.99");
    // The syntax is still checked.
    let bad = pb::RunJobRequest {
        runtime: "no runtime".into(),
        ..cmd("echo", &["hi"])
    };
    let e = run(&mut v2_jobs, bad).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
}

#[tokio::test]
async fn quirk_14_gpus_and_work_dir_ignored() {
    let [doc, v2] = pair(ClockMode::Virtual).await;
    let req = |gpus| pb::RunJobRequest {
        gpu_count: gpus,
        work_dir: "/work/sub".into(),
        ..cmd("sleep", &["1"])
    };
    let e = run(&mut jobs(&doc).await, req(5)).await.unwrap_err();
    assert_eq!(
        e.code(),
        Code::InvalidArgument,
        "more GPUs than the node has"
    );
    let mut d = jobs(&doc).await;
    let id = run(&mut d, req(1)).await.unwrap();
    let s = status(&mut d, &id).await;
    assert_eq!((s.gpu_count, s.work_dir.as_str()), (1, "/work/sub"));

    let mut q = jobs(&v2).await;
    let id = run(&mut q, req(5)).await.expect("GPUs are not looked at");
    let s = status(&mut q, &id).await;
    assert_eq!(
        (
            s.gpu_count,
            s.gpu_memory_mb,
            s.gpu_indices.len(),
            s.work_dir.as_str()
        ),
        (0, 0, 0, "")
    );
}

#[tokio::test]
async fn quirk_15_stop_job_answers_only_uuid() {
    let [doc, v2] = pair(ClockMode::Real).await;
    for (mock, quirky) in [(&doc, false), (&v2, true)] {
        let mut jobs = jobs(mock).await;
        let id = run(&mut jobs, cmd("sleep", &["600"])).await.unwrap();
        eventually("the job runs", || {
            let mut jobs = jobs.clone();
            let id = id.clone();
            async move { (status(&mut jobs, &id).await.status == "RUNNING").then_some(()) }
        })
        .await;
        let r = jobs
            .stop_job(pb::StopJobRequest { uuid: id.clone() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.uuid, id);
        if quirky {
            assert_eq!(
                (r.status.as_str(), r.end_time.as_str(), r.exit_code),
                ("", "", 0)
            );
        } else {
            assert_eq!((r.status.as_str(), r.exit_code), ("STOPPED", -1));
            assert!(!r.end_time.is_empty());
        }
        assert_eq!(status(&mut jobs, &id).await.status, "STOPPED");
    }
}

#[tokio::test]
async fn quirk_16_telemetry_streams_of_canceled_jobs_never_end() {
    let [doc, v2] = pair(ClockMode::Real).await;
    for (mock, quirky) in [(&doc, false), (&v2, true)] {
        let mut jobs = jobs(mock).await;
        let later = pb::RunJobRequest {
            schedule: crate::support::rfc3339_in(3600),
            ..cmd("echo", &["hi"])
        };
        let id = run(&mut jobs, later).await.unwrap();
        // StopJob cancels a scheduled job (CancelJob is UNIMPLEMENTED on v5.6).
        jobs.stop_job(pb::StopJobRequest { uuid: id.clone() })
            .await
            .unwrap();
        assert_eq!(status(&mut jobs, &id).await.status, "CANCELED");
        let wait = Duration::from_millis(700);
        let metrics = jobs
            .stream_job_metrics(pb::StreamJobMetricsRequest {
                job_uuid: id.clone(),
            })
            .await;
        let telematics = jobs
            .stream_job_telematics(pb::StreamJobTelematicsRequest {
                job_uuid: id.clone(),
                types: Vec::new(),
            })
            .await;
        assert_eq!(
            ends_within(metrics, wait).await,
            !quirky,
            "metrics, {quirky}"
        );
        assert_eq!(
            ends_within(telematics, wait).await,
            !quirky,
            "telematics, {quirky}"
        );
        // A COMPLETED job's streams end on both.
        let done = run_to_end(&mut jobs, cmd("echo", &["hi"])).await;
        let metrics = jobs
            .stream_job_metrics(pb::StreamJobMetricsRequest { job_uuid: done })
            .await;
        assert!(ends_within(metrics, Duration::from_secs(5)).await);
    }
}

#[tokio::test]
async fn quirk_17_logs_and_telemetry_take_the_id_as_typed() {
    let [doc, v2] = pair(ClockMode::Virtual).await;
    for (mock, quirky) in [(&doc, false), (&v2, true)] {
        let mut jobs = jobs(mock).await;
        let id = run_to_end(&mut jobs, cmd("echo", &["hi"])).await;
        let prefix = id[..8].to_owned();
        let logs = drain(
            jobs.get_job_logs(pb::GetJobLogsRequest {
                uuid: prefix.clone(),
            })
            .await,
        )
        .await;
        let stream = drain(
            jobs.stream_job_metrics(pb::StreamJobMetricsRequest {
                job_uuid: prefix.clone(),
            })
            .await,
        )
        .await;
        let history = drain(
            jobs.get_job_telematics(pb::GetJobTelematicsRequest {
                job_uuid: prefix.clone(),
                ..Default::default()
            })
            .await,
        )
        .await;
        if quirky {
            for (what, end) in [("GetJobLogs", &logs.1), ("StreamJobMetrics", &stream.1)] {
                let e = end.as_ref().unwrap_err();
                assert_eq!(e.code(), Code::NotFound, "{what}");
                assert_eq!(e.message(), format!("job not found: {prefix}"), "{what}");
            }
            assert!(history.0.is_empty() && history.1.is_ok());
        } else {
            assert!(logs.1.is_ok() && !logs.0.is_empty());
            assert!(stream.1.is_ok() && !stream.0.is_empty());
            assert!(history.1.is_ok() && !history.0.is_empty());
        }
        // The full ID works on both.
        let full = drain(jobs.get_job_logs(pb::GetJobLogsRequest { uuid: id }).await).await;
        assert!(full.1.is_ok());
    }
}

#[tokio::test]
async fn quirk_18_history_events_leave_fields_unset() {
    let [doc, v2] = pair(ClockMode::Virtual).await;
    for (mock, quirky) in [(&doc, false), (&v2, true)] {
        let mut jobs = jobs(mock).await;
        let req = pb::RunJobRequest {
            max_memory: 256,
            ..sh("echo a > a.txt; exit 3")
        };
        let id = run_to_end(&mut jobs, req).await;
        let (samples, _) = drain(
            jobs.get_job_metrics(pb::GetJobMetricsRequest {
                job_uuid: id.clone(),
                ..Default::default()
            })
            .await,
        )
        .await;
        let (events, _) = drain(
            jobs.get_job_telematics(pb::GetJobTelematicsRequest {
                job_uuid: id.clone(),
                ..Default::default()
            })
            .await,
        )
        .await;
        let exit_code = events.iter().find_map(|e| match &e.data {
            Some(Data::Exec(x)) if x.pid == 1 => Some(x.exit_code),
            _ => None,
        });
        let flags = events.iter().find_map(|e| match &e.data {
            Some(Data::File(f)) => Some(f.flags),
            _ => None,
        });
        let memory_limit = samples[0].memory_limit;
        if quirky {
            assert_eq!((memory_limit, exit_code, flags), (0, Some(0), Some(0)));
        } else {
            assert_eq!(
                (memory_limit, exit_code, flags),
                (256 << 20, Some(3), Some(0o1101))
            );
        }
    }
}

#[tokio::test]
async fn quirk_19_telematics_limit_per_type() {
    let [doc, v2] = pair(ClockMode::Virtual).await;
    for (mock, want) in [(&doc, vec!["exec"]), (&v2, vec!["exec", "file"])] {
        let mut jobs = jobs(mock).await;
        let id = run_to_end(&mut jobs, sh("echo a > a.txt; echo b > b.txt")).await;
        let (events, end) = drain(
            jobs.get_job_telematics(pb::GetJobTelematicsRequest {
                job_uuid: id,
                limit: 1,
                ..Default::default()
            })
            .await,
        )
        .await;
        assert!(end.is_ok());
        let types: Vec<String> = events.into_iter().map(|e| e.r#type).collect();
        assert_eq!(types, want);
    }
}

async fn validate(mock: &RunningMock, yaml: &str) -> pb::ValidateRuntimeYamlResponse {
    RuntimeServiceClient::new(channel(&mock.url()).await)
        .validate_runtime_yaml(pb::ValidateRuntimeYamlRequest {
            yaml_content: yaml.into(),
        })
        .await
        .expect("ValidateRuntimeYAML")
        .into_inner()
}

#[tokio::test]
async fn quirk_20_yaml_failure_text_twice() {
    let [doc, v2] = pair(ClockMode::Virtual).await;
    let yaml = "name: x\n";
    let d = validate(&doc, yaml).await;
    assert_eq!((d.valid, d.message.as_str()), (false, "Validation failed"));
    assert_eq!(d.errors[0], "schema_version is required");
    assert!(d.errors.len() > 2, "one entry per rule: {:?}", d.errors);
    let q = validate(&v2, yaml).await;
    assert!(!q.valid);
    assert_eq!(q.errors.len(), 2, "{:?}", q.errors);
    let joined = d
        .errors
        .iter()
        .fold(String::from("validation errors:"), |t, e| t + "\n  - " + e);
    assert_eq!(q.errors[0], joined);
    assert_eq!(q.errors[1], format!("Phase 1 (Parse & Validate): {joined}"));
}

#[tokio::test]
async fn quirk_21_list_runtimes_leaves_packages_and_v2_fields_empty() {
    let [doc, v2] = pair(ClockMode::Virtual).await;
    for (mock, quirky) in [(&doc, false), (&v2, true)] {
        let mut rt = RuntimeServiceClient::new(channel(&mock.url()).await);
        let (_, end) = drain(
            rt.build_runtime(pb::BuildRuntimeRequest {
                yaml_content: PYTHON_ML.into(),
                ..Default::default()
            })
            .await,
        )
        .await;
        end.expect("the build ends OK");
        let list = rt
            .list_runtimes(pb::EmptyRequest {})
            .await
            .unwrap()
            .into_inner();
        let listed = list
            .runtimes
            .iter()
            .find(|r| r.name == "python-ml")
            .unwrap();
        let info = rt
            .get_runtime_info(pb::GetRuntimeInfoRequest {
                runtime: "python-ml".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .runtime
            .unwrap();
        // GetRuntimeInfo fills the v2 fields on both.
        assert_eq!(info.language_version, "3.11");
        assert!(!info.original_yaml.is_empty() && info.build_info.is_some());
        if quirky {
            let req = listed.requirements.clone().unwrap();
            assert!(listed.packages.is_empty());
            assert_eq!(
                (req.architectures, req.gpu),
                (vec!["x86_64".to_owned(), "amd64".into()], false)
            );
            assert!(listed.language_version.is_empty() && listed.original_yaml.is_empty());
            assert!(listed.libraries.is_empty() && listed.environment.is_empty());
            assert!(listed.build_info.is_none());
        } else {
            assert!(!listed.packages.is_empty());
            assert_eq!(listed.language_version, "3.11");
            assert_eq!(listed.original_yaml, PYTHON_ML);
        }
    }
}

#[tokio::test]
async fn quirk_22_reader_is_no_role() {
    for (profile, reads) in [(Profile::Documented, true), (Profile::ServerV2, false)] {
        let dir = tempfile::tempdir().unwrap();
        let mock = MockServer::builder()
            .config(config(profile, ClockMode::Virtual))
            .tls(TlsSetup::Generate(dir.path().to_owned()))
            .start()
            .await
            .expect("the mock starts with TLS");
        let certs = mock.certs().unwrap();
        let reader = certs
            .issue_client("reader", "reader-client", &["reader"])
            .unwrap();
        let addr = mock.tls_addr().unwrap();
        let ch = with_timeout(
            joblet_testkit::Target::plaintext(addr.to_string())
                .with_tls(certs.client_tls_files(&reader)),
        )
        .connect()
        .await
        .unwrap();
        let list = JobServiceClient::new(ch.clone())
            .list_jobs(pb::EmptyRequest {})
            .await;
        if reads {
            list.expect("AUTH-6: reader is a viewer");
        } else {
            let e = list.unwrap_err();
            assert_eq!(e.code(), Code::PermissionDenied);
            assert_eq!(
                e.message(),
                "role unknown is not allowed to perform operation ListJobs"
            );
            // QUIRK-11: monitoring needs no role.
            MonitoringServiceClient::new(ch)
                .get_system_status(pb::EmptyRequest {})
                .await
                .expect("monitoring is open");
        }
        mock.shutdown().await.unwrap();
    }
}
