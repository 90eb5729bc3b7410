//! Mutants (`--mutant NAME`): each breaks exactly one documented behaviour. Every
//! test runs the same scenario on a documented mock and on a mock with the
//! mutant, and shows the documented answer on the first and the broken one on
//! the second. Tests are named `mutant_<name>_breaks_<behaviour id>`.

use std::time::Duration;

use futures::StreamExt;
use joblet_mock::{ClockMode, MockConfig, MockServer, Mutant, Role, RunningMock, TlsSetup};
use joblet_testkit::pb;
use joblet_testkit::pb::job_service_client::JobServiceClient;
use joblet_testkit::pb::runtime_installation_chunk::ChunkType;
use tonic::Code;
use tonic::transport::Channel;

use crate::support::*;

/// `base` with `mutant` on.
fn with_mutant(base: MockConfig, mutant: Mutant) -> MockConfig {
    MockConfig {
        mutant: Some(mutant),
        ..base
    }
}

/// Runs `scenario` on a mock configured as `base`, then on the same with
/// `mutant`: (documented, mutated).
async fn both_with<T>(
    base: MockConfig,
    mutant: Mutant,
    scenario: impl AsyncFn(&RunningMock) -> T,
) -> (T, T) {
    let documented = start_with(MockServer::builder().config(base.clone())).await;
    let mutated = start_with(MockServer::builder().config(with_mutant(base, mutant))).await;
    let doc = scenario(&documented).await;
    let mutd = scenario(&mutated).await;
    (doc, mutd)
}

/// [`both_with`] on the default configuration.
async fn both<T>(mutant: Mutant, scenario: impl AsyncFn(&RunningMock) -> T) -> (T, T) {
    both_with(MockConfig::default(), mutant, scenario).await
}

/// [`both`] with a TLS listener too (certificates generated per mock).
async fn both_tls<T>(mutant: Mutant, scenario: impl AsyncFn(&RunningMock) -> T) -> (T, T) {
    let mut out = Vec::new();
    for config in [
        MockConfig::default(),
        with_mutant(MockConfig::default(), mutant),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mock = MockServer::builder()
            .config(config)
            .tls(TlsSetup::Generate(dir.path().to_owned()))
            .start()
            .await
            .expect("the mock starts with TLS");
        out.push(scenario(&mock).await);
    }
    let mutd = out.pop().unwrap();
    (out.pop().unwrap(), mutd)
}

/// A JobService client over mutual TLS as `role`.
async fn tls_jobs(mock: &RunningMock, role: Role) -> Jobs {
    let target = with_timeout(mock.tls_target(role).expect("TLS target"));
    JobServiceClient::new(target.connect().await.expect("mutual TLS connects"))
}

/// A RunJob's outcome: the code alone.
async fn run_code(jobs: &mut Jobs, req: pb::RunJobRequest) -> Code {
    code_of(&jobs.run_job(req).await)
}

/// Creates a network or volume, the code alone.
async fn create_net(
    mock: &RunningMock,
    name: &str,
    cidr: &str,
) -> Result<pb::CreateNetworkRes, Code> {
    networks(mock)
        .await
        .create_network(pb::CreateNetworkReq {
            name: name.into(),
            cidr: cidr.into(),
        })
        .await
        .map(|r| r.into_inner())
        .map_err(|e| e.code())
}

async fn create_vol(
    mock: &RunningMock,
    name: &str,
    size: &str,
    kind: &str,
) -> Result<pb::CreateVolumeRes, Code> {
    volumes(mock)
        .await
        .create_volume(pb::CreateVolumeReq {
            name: name.into(),
            size: size.into(),
            r#type: kind.into(),
        })
        .await
        .map(|r| r.into_inner())
        .map_err(|e| e.code())
}

fn unknown_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

// ---------------------------------------------------------------------------
// ALL
// ---------------------------------------------------------------------------

#[tokio::test]
async fn mutant_lowercase_status_breaks_all_1() {
    let (doc, mutd) = both(Mutant::LowercaseStatus, async |mock| {
        let mut jobs = jobs(mock).await;
        let id = run_running(&mut jobs, long()).await;
        status(&mut jobs, &id).await.status
    })
    .await;
    assert_eq!((doc.as_str(), mutd.as_str()), ("RUNNING", "running"));
}

#[tokio::test]
async fn mutant_prefix_lookup_off_breaks_all_2() {
    let (doc, mutd) = both(Mutant::PrefixLookupOff, async |mock| {
        let mut jobs = jobs(mock).await;
        let id = run(&mut jobs, cmd("echo", &["hi"])).await.job_uuid;
        let whole = status_code(&mut jobs, &id).await;
        (whole, status_code(&mut jobs, &id[..8]).await)
    })
    .await;
    assert_eq!(doc, (Code::Ok, Code::Ok));
    assert_eq!(mutd, (Code::Ok, Code::NotFound));
}

#[tokio::test]
async fn mutant_time_millis_breaks_all_3() {
    let (doc, mutd) = both(Mutant::TimeMillis, async |mock| {
        let mut jobs = jobs(mock).await;
        let id = run_running(&mut jobs, long()).await;
        status(&mut jobs, &id).await.start_time
    })
    .await;
    job_time(&doc);
    assert!(mutd.contains(".000"), "{mutd:?}");
}

#[tokio::test]
async fn mutant_validation_internal_breaks_all_4() {
    let (doc, mutd) = both(Mutant::ValidationInternal, async |mock| {
        let mut jobs = jobs(mock).await;
        run_err(&mut jobs, cmd("", &[])).await
    })
    .await;
    assert_code(&doc, Code::InvalidArgument, "command");
    assert_code(&mutd, Code::Internal, "command");
}

#[tokio::test]
async fn mutant_lists_reversed_breaks_all_5() {
    let (doc, mutd) = both(Mutant::ListsReversed, async |mock| {
        let mut jobs = jobs(mock).await;
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(run(&mut jobs, cmd("true", &[])).await.job_uuid);
        }
        let listed = listed_ids(&mut jobs).await;
        (ids, listed)
    })
    .await;
    assert_eq!(doc.1, doc.0);
    let mut reversed = mutd.0.clone();
    reversed.reverse();
    assert_eq!(mutd.1, reversed);
}

#[tokio::test]
async fn mutant_list_leaks_secrets_breaks_all_6() {
    let (doc, mutd) = both(Mutant::ListLeaksSecrets, async |mock| {
        let mut jobs = jobs(mock).await;
        let req = pb::RunJobRequest {
            secret_environment: env(&[("TOKEN", "s3cret")]),
            ..cmd("true", &[])
        };
        let id = run(&mut jobs, req).await.job_uuid;
        let listed = list_jobs(&mut jobs).await;
        let shown = status(&mut jobs, &id).await.secret_environment["TOKEN"].clone();
        (listed[0].secret_environment["TOKEN"].clone(), shown)
    })
    .await;
    assert_eq!((doc.0.as_str(), doc.1.as_str()), ("***", "***"));
    // GetJobStatus stays masked: only ListJobs leaks.
    assert_eq!((mutd.0.as_str(), mutd.1.as_str()), ("s3cret", "***"));
}

#[tokio::test]
async fn mutant_small_messages_breaks_all_7() {
    let (doc, mutd) = both(Mutant::SmallMessages, async |mock| {
        let mut jobs = jobs(mock).await;
        let req = pb::RunJobRequest {
            uploads: vec![pb::FileUpload {
                path: "big.bin".into(),
                content: vec![b'x'; 5 << 20],
                mode: 0o644,
                is_directory: false,
            }],
            ..cmd("true", &[])
        };
        run_code(&mut jobs, req).await
    })
    .await;
    assert_eq!((doc, mutd), (Code::Ok, Code::ResourceExhausted));
}

// ---------------------------------------------------------------------------
// AUTH
// ---------------------------------------------------------------------------

#[tokio::test]
async fn mutant_plaintext_viewer_breaks_auth_1() {
    let (doc, mutd) = both(Mutant::PlaintextViewer, async |mock| {
        let mut jobs = jobs(mock).await;
        let list = code_of(&jobs.list_jobs(pb::EmptyRequest {}).await);
        (list, run_code(&mut jobs, cmd("true", &[])).await)
    })
    .await;
    assert_eq!(doc, (Code::Ok, Code::Ok));
    assert_eq!(mutd, (Code::Ok, Code::PermissionDenied));
}

#[tokio::test]
async fn mutant_tls_anonymous_breaks_auth_2() {
    let (doc, mutd) = both_tls(Mutant::TlsAnonymous, async |mock| {
        match anonymous_tls(mock).connect().await {
            Ok(ch) => code_of(&JobServiceClient::new(ch).run_job(cmd("true", &[])).await),
            Err(_) => Code::Unavailable,
        }
    })
    .await;
    assert_ne!(
        doc,
        Code::Ok,
        "the documented mock needs a client certificate"
    );
    assert_eq!(mutd, Code::Ok);
}

#[tokio::test]
async fn mutant_unknown_role_reads_breaks_auth_3() {
    let (doc, mutd) = both_tls(Mutant::UnknownRoleReads, async |mock| {
        let certs = mock.certs().unwrap();
        let nobody = certs
            .issue_client("nobody", "nobody-client", &["ops"])
            .unwrap();
        let target = with_timeout(
            joblet_testkit::Target::plaintext(mock.tls_addr().unwrap().to_string())
                .with_tls(certs.client_tls_files(&nobody)),
        );
        let ch: Channel = target.connect().await.expect("mutual TLS connects");
        let mut jobs = JobServiceClient::new(ch);
        let list = code_of(&jobs.list_jobs(pb::EmptyRequest {}).await);
        (list, run_code(&mut jobs, cmd("true", &[])).await)
    })
    .await;
    assert_eq!(doc, (Code::PermissionDenied, Code::PermissionDenied));
    assert_eq!(mutd, (Code::Ok, Code::PermissionDenied));
}

#[tokio::test]
async fn mutant_viewer_may_run_breaks_auth_4() {
    let (doc, mutd) = both_tls(Mutant::ViewerMayRun, async |mock| {
        let mut viewer = tls_jobs(mock, Role::Viewer).await;
        run_code(&mut viewer, cmd("true", &[])).await
    })
    .await;
    assert_eq!((doc, mutd), (Code::PermissionDenied, Code::Ok));
}

#[tokio::test]
async fn mutant_validate_before_auth_breaks_auth_5() {
    let (doc, mutd) = both_tls(Mutant::ValidateBeforeAuth, async |mock| {
        let mut viewer = tls_jobs(mock, Role::Viewer).await;
        let invalid = run_code(&mut viewer, pb::RunJobRequest::default()).await;
        let valid = run_code(&mut viewer, cmd("true", &[])).await;
        let ran = list_jobs(&mut jobs(mock).await).await.len();
        (invalid, valid, ran)
    })
    .await;
    assert_eq!(doc, (Code::PermissionDenied, Code::PermissionDenied, 0));
    // A valid request is still refused, and nothing ran.
    assert_eq!(mutd, (Code::InvalidArgument, Code::PermissionDenied, 0));
}

// ---------------------------------------------------------------------------
// JOB
// ---------------------------------------------------------------------------

#[tokio::test]
async fn mutant_run_no_echo_breaks_job_run_1() {
    let (doc, mutd) = both(Mutant::RunNoEcho, async |mock| {
        let mut jobs = jobs(mock).await;
        run(&mut jobs, cmd("echo", &["a", "b"])).await
    })
    .await;
    assert_eq!(doc.args, ["a", "b"]);
    assert!(mutd.args.is_empty(), "{mutd:?}");
    assert_eq!(mutd.command, "echo");
}

#[tokio::test]
async fn mutant_empty_command_ok_breaks_job_run_2() {
    let (doc, mutd) = both(Mutant::EmptyCommandOk, async |mock| {
        let mut jobs = jobs(mock).await;
        run_code(&mut jobs, cmd("", &[])).await
    })
    .await;
    assert_eq!((doc, mutd), (Code::InvalidArgument, Code::Ok));
}

#[tokio::test]
async fn mutant_negative_limits_ok_breaks_job_run_3() {
    let (doc, mutd) = both(Mutant::NegativeLimitsOk, async |mock| {
        let mut jobs = jobs(mock).await;
        let req = pb::RunJobRequest {
            max_cpu: -1,
            ..cmd("true", &[])
        };
        run_code(&mut jobs, req).await
    })
    .await;
    assert_eq!((doc, mutd), (Code::InvalidArgument, Code::Ok));
}

#[tokio::test]
async fn mutant_cpu_cores_unchecked_breaks_job_run_4() {
    let (doc, mutd) = both(Mutant::CpuCoresUnchecked, async |mock| {
        let mut jobs = jobs(mock).await;
        let req = pb::RunJobRequest {
            cpu_cores: "one-two".into(),
            ..cmd("true", &[])
        };
        run_code(&mut jobs, req).await
    })
    .await;
    assert_eq!((doc, mutd), (Code::InvalidArgument, Code::Ok));
}

#[tokio::test]
async fn mutant_schedule_ignored_breaks_job_run_5() {
    let (doc, mutd) = both(Mutant::ScheduleIgnored, async |mock| {
        let mut jobs = jobs(mock).await;
        run(&mut jobs, scheduled(long(), 3600)).await.status
    })
    .await;
    assert_eq!((doc.as_str(), mutd.as_str()), ("SCHEDULED", "RUNNING"));
}

#[tokio::test]
async fn mutant_unknown_network_ok_breaks_job_run_6() {
    let (doc, mutd) = both(Mutant::UnknownNetworkOk, async |mock| {
        let mut jobs = jobs(mock).await;
        let req = pb::RunJobRequest {
            network: "nowhere".into(),
            ..cmd("true", &[])
        };
        run_code(&mut jobs, req).await
    })
    .await;
    assert_eq!((doc, mutd), (Code::InvalidArgument, Code::Ok));
}

#[tokio::test]
async fn mutant_unknown_volume_ok_breaks_job_run_7() {
    let (doc, mutd) = both(Mutant::UnknownVolumeOk, async |mock| {
        let mut jobs = jobs(mock).await;
        let req = pb::RunJobRequest {
            volumes: vec!["ghost".into()],
            ..cmd("true", &[])
        };
        run_code(&mut jobs, req).await
    })
    .await;
    assert_eq!((doc, mutd), (Code::InvalidArgument, Code::Ok));
}

#[tokio::test]
async fn mutant_unknown_runtime_ok_breaks_job_run_8() {
    let (doc, mutd) = both(Mutant::UnknownRuntimeOk, async |mock| {
        let mut jobs = jobs(mock).await;
        let req = pb::RunJobRequest {
            runtime: "cobol:85".into(),
            ..cmd("true", &[])
        };
        run_code(&mut jobs, req).await
    })
    .await;
    assert_eq!((doc, mutd), (Code::InvalidArgument, Code::Ok));
}

#[tokio::test]
async fn mutant_uploads_lost_breaks_job_run_9() {
    let (doc, mutd) = both(Mutant::UploadsLost, async |mock| {
        let mut jobs = jobs(mock).await;
        let req = pb::RunJobRequest {
            uploads: vec![pb::FileUpload {
                path: "input.txt".into(),
                content: b"hello upload\n".to_vec(),
                mode: 0o644,
                is_directory: false,
            }],
            ..cmd("cat", &["input.txt"])
        };
        let (st, log) = run_to_end(&mut jobs, req).await;
        (st.status, st.uploads, log)
    })
    .await;
    assert_eq!(doc.0, "COMPLETED");
    assert_eq!(doc.2, "hello upload\n");
    // Still listed as uploaded, but the command cannot read it.
    assert_eq!(mutd.1, ["input.txt"]);
    assert_eq!(mutd.0, "FAILED", "{}", mutd.2);
    assert!(!mutd.2.contains("hello upload"), "{}", mutd.2);
}

#[tokio::test]
async fn mutant_env_duplicate_ok_breaks_job_run_10() {
    let (doc, mutd) = both(Mutant::EnvDuplicateOk, async |mock| {
        let mut jobs = jobs(mock).await;
        let req = pb::RunJobRequest {
            environment: env(&[("KEY", "plain")]),
            secret_environment: env(&[("KEY", "secret")]),
            ..cmd("true", &[])
        };
        run_code(&mut jobs, req).await
    })
    .await;
    assert_eq!((doc, mutd), (Code::InvalidArgument, Code::Ok));
}

#[tokio::test]
async fn mutant_gpu_indices_hidden_breaks_job_gpu_1() {
    let gpus = MockConfig {
        gpus: 2,
        ..MockConfig::default()
    };
    let (doc, mutd) = both_with(gpus, Mutant::GpuIndicesHidden, async |mock| {
        let mut jobs = jobs(mock).await;
        let req = pb::RunJobRequest {
            gpu_count: 1,
            ..long()
        };
        let id = run_running(&mut jobs, req).await;
        let st = status(&mut jobs, &id).await;
        (st.gpu_count, st.gpu_indices)
    })
    .await;
    assert_eq!(doc, (1, vec![0]));
    assert_eq!(mutd, (1, vec![]));
}

#[tokio::test]
async fn mutant_gpu_over_node_exhausted_breaks_job_gpu_2() {
    let gpus = MockConfig {
        gpus: 1,
        ..MockConfig::default()
    };
    let (doc, mutd) = both_with(gpus, Mutant::GpuOverNodeExhausted, async |mock| {
        let mut jobs = jobs(mock).await;
        let req = pb::RunJobRequest {
            gpu_count: 2,
            ..cmd("true", &[])
        };
        run_code(&mut jobs, req).await
    })
    .await;
    assert_eq!(
        (doc, mutd),
        (Code::InvalidArgument, Code::ResourceExhausted)
    );
}

#[tokio::test]
async fn mutant_nonzero_completes_breaks_job_life_1() {
    let (doc, mutd) = both(Mutant::NonzeroCompletes, async |mock| {
        let mut jobs = jobs(mock).await;
        let (st, _) = run_to_end(&mut jobs, sh("exit 3")).await;
        (st.status, st.exit_code)
    })
    .await;
    assert_eq!(doc, ("FAILED".to_string(), 3));
    assert_eq!(mutd, ("COMPLETED".to_string(), 3));
}

#[tokio::test]
async fn mutant_scheduled_never_starts_breaks_job_life_2() {
    let manual = MockConfig {
        clock: ClockMode::Manual,
        ..MockConfig::default()
    };
    let (doc, mutd) = both_with(manual, Mutant::ScheduledNeverStarts, async |mock| {
        let mut jobs = jobs(mock).await;
        let due = mock.shared().clock.now_secs() + 60;
        let req = pb::RunJobRequest {
            schedule: chrono::DateTime::from_timestamp(due, 0)
                .unwrap()
                .to_rfc3339(),
            ..cmd("true", &[])
        };
        let id = run(&mut jobs, req).await.job_uuid;
        assert_eq!(status(&mut jobs, &id).await.status, "SCHEDULED");
        mock.advance_clock("", Duration::from_secs(120))
            .await
            .unwrap();
        // Give the woken job a moment (it needs no time of its own).
        tokio::time::sleep(Duration::from_millis(100)).await;
        status(&mut jobs, &id).await.status
    })
    .await;
    assert_eq!((doc.as_str(), mutd.as_str()), ("COMPLETED", "SCHEDULED"));
}

#[tokio::test]
async fn mutant_status_no_workdir_breaks_job_status_1() {
    let (doc, mutd) = both(Mutant::StatusNoWorkDir, async |mock| {
        let mut jobs = jobs(mock).await;
        let id = run(&mut jobs, cmd("true", &[])).await.job_uuid;
        status(&mut jobs, &id).await.work_dir
    })
    .await;
    assert_eq!((doc.as_str(), mutd.as_str()), ("/work", ""));
}

#[tokio::test]
async fn mutant_status_unknown_ok_breaks_job_status_2() {
    let (doc, mutd) = both(Mutant::StatusUnknownOk, async |mock| {
        let mut jobs = jobs(mock).await;
        status_code(&mut jobs, &unknown_id()).await
    })
    .await;
    assert_eq!((doc, mutd), (Code::NotFound, Code::Ok));
}

#[tokio::test]
async fn mutant_stop_exit_zero_breaks_job_stop_1() {
    let (doc, mutd) = both(Mutant::StopExitZero, async |mock| {
        let mut jobs = jobs(mock).await;
        let id = run_running(&mut jobs, long()).await;
        let res = stop(&mut jobs, &id).await.unwrap();
        (res.status, res.exit_code)
    })
    .await;
    assert_eq!(doc, ("STOPPED".to_string(), -1));
    assert_eq!(mutd, ("STOPPED".to_string(), 0));
}

#[tokio::test]
async fn mutant_stop_scheduled_stopped_breaks_job_stop_2() {
    let (doc, mutd) = both(Mutant::StopScheduledStopped, async |mock| {
        let mut jobs = jobs(mock).await;
        let id = run(&mut jobs, scheduled(long(), 3600)).await.job_uuid;
        stop_ok(&mut jobs, &id).await;
        status(&mut jobs, &id).await.status
    })
    .await;
    assert_eq!((doc.as_str(), mutd.as_str()), ("CANCELED", "STOPPED"));
}

#[tokio::test]
async fn mutant_stop_finished_ok_breaks_job_stop_3() {
    let (doc, mutd) = both(Mutant::StopFinishedOk, async |mock| {
        let mut jobs = jobs(mock).await;
        let id = run(&mut jobs, cmd("true", &[])).await.job_uuid;
        wait_final(&jobs, &id).await;
        let code = code_of(&stop(&mut jobs, &id).await);
        (code, status(&mut jobs, &id).await.status)
    })
    .await;
    assert_eq!(doc, (Code::FailedPrecondition, "COMPLETED".to_string()));
    assert_eq!(mutd, (Code::Ok, "COMPLETED".to_string()));
}

#[tokio::test]
async fn mutant_cancel_forgets_breaks_job_cancel_1() {
    let (doc, mutd) = both(Mutant::CancelForgets, async |mock| {
        let mut jobs = jobs(mock).await;
        let id = run(&mut jobs, scheduled(long(), 3600)).await.job_uuid;
        let res = cancel(&mut jobs, &id).await.unwrap();
        (res.status, status_code(&mut jobs, &id).await)
    })
    .await;
    assert_eq!(doc, ("CANCELED".to_string(), Code::Ok));
    assert_eq!(mutd, ("CANCELED".to_string(), Code::NotFound));
}

#[tokio::test]
async fn mutant_cancel_running_ok_breaks_job_cancel_2() {
    let (doc, mutd) = both(Mutant::CancelRunningOk, async |mock| {
        let mut jobs = jobs(mock).await;
        let id = run_running(&mut jobs, long()).await;
        let code = code_of(&cancel(&mut jobs, &id).await);
        (code, status(&mut jobs, &id).await.status)
    })
    .await;
    assert_eq!(doc, (Code::FailedPrecondition, "RUNNING".to_string()));
    assert_eq!(mutd, (Code::Ok, "CANCELED".to_string()));
}

#[tokio::test]
async fn mutant_delete_noop_breaks_job_del_1() {
    let (doc, mutd) = both(Mutant::DeleteNoop, async |mock| {
        let mut jobs = jobs(mock).await;
        let id = run(&mut jobs, cmd("true", &[])).await.job_uuid;
        wait_final(&jobs, &id).await;
        let res = delete(&mut jobs, &id).await.unwrap();
        (res.success, status_code(&mut jobs, &id).await)
    })
    .await;
    assert_eq!(doc, (true, Code::NotFound));
    assert_eq!(mutd, (true, Code::Ok));
}

#[tokio::test]
async fn mutant_delete_running_ok_breaks_job_del_2() {
    let (doc, mutd) = both(Mutant::DeleteRunningOk, async |mock| {
        let mut jobs = jobs(mock).await;
        let id = run_running(&mut jobs, long()).await;
        let code = code_of(&delete(&mut jobs, &id).await);
        (code, status_code(&mut jobs, &id).await)
    })
    .await;
    assert_eq!(doc, (Code::FailedPrecondition, Code::Ok));
    assert_eq!(mutd, (Code::Ok, Code::NotFound));
}

#[tokio::test]
async fn mutant_delete_all_skipped_zero_breaks_job_delall_1() {
    let (doc, mutd) = both(Mutant::DeleteAllSkippedZero, async |mock| {
        let mut jobs = jobs(mock).await;
        run_running(&mut jobs, long()).await;
        let done = run(&mut jobs, cmd("true", &[])).await.job_uuid;
        wait_final(&jobs, &done).await;
        let res = jobs
            .delete_all_jobs(pb::DeleteAllJobsReq::default())
            .await
            .unwrap()
            .into_inner();
        (res.deleted_count, res.skipped_count)
    })
    .await;
    assert_eq!((doc, mutd), ((1, 1), (1, 0)));
}

#[tokio::test]
async fn mutant_logs_drop_last_chunk_breaks_job_logs_1() {
    let (doc, mutd) = both(Mutant::LogsDropLastChunk, async |mock| {
        let mut jobs = jobs(mock).await;
        let id = run(&mut jobs, cmd("echo", &["hello"])).await.job_uuid;
        wait_final(&jobs, &id).await;
        logs_text(&mut jobs, &id).await
    })
    .await;
    assert_eq!(doc, "hello\n");
    assert_eq!(mutd, "");
}

#[tokio::test]
async fn mutant_logs_one_reader_breaks_job_logs_2() {
    let (doc, mutd) = both(Mutant::LogsOneReader, async |mock| {
        let mut jobs = jobs(mock).await;
        let id = run_running(&mut jobs, long()).await;
        let _first = open_logs(&mut jobs, &id).await;
        code_of(&jobs.get_job_logs(pb::GetJobLogsReq { uuid: id }).await)
    })
    .await;
    assert_eq!((doc, mutd), (Code::Ok, Code::FailedPrecondition));
}

#[tokio::test]
async fn mutant_logs_unknown_empty_breaks_job_logs_3() {
    let (doc, mutd) = both(Mutant::LogsUnknownEmpty, async |mock| {
        let mut jobs = jobs(mock).await;
        match jobs
            .get_job_logs(pb::GetJobLogsReq { uuid: unknown_id() })
            .await
        {
            Ok(stream) => Ok(read_to_end(stream.into_inner()).await),
            Err(e) => Err(e.code()),
        }
    })
    .await;
    assert_eq!(doc, Err(Code::NotFound));
    assert_eq!(mutd, Ok(Vec::new()));
}

#[tokio::test]
async fn mutant_list_drops_finished_breaks_job_list_1() {
    let (doc, mutd) = both(Mutant::ListDropsFinished, async |mock| {
        let mut jobs = jobs(mock).await;
        let done = run(&mut jobs, cmd("true", &[])).await.job_uuid;
        wait_final(&jobs, &done).await;
        run_running(&mut jobs, long()).await;
        list_jobs(&mut jobs)
            .await
            .into_iter()
            .map(|j| j.status)
            .collect::<Vec<_>>()
    })
    .await;
    assert_eq!(doc, ["COMPLETED", "RUNNING"]);
    assert_eq!(mutd, ["RUNNING"]);
}

// ---------------------------------------------------------------------------
// NET
// ---------------------------------------------------------------------------

#[tokio::test]
async fn mutant_network_bridge_br_breaks_net_create_1() {
    let (doc, mutd) = both(Mutant::NetworkBridgeBr, async |mock| {
        create_net(mock, "dev", "10.10.0.0/24")
            .await
            .unwrap()
            .bridge
    })
    .await;
    assert_eq!((doc.as_str(), mutd.as_str()), ("joblet-dev", "br-dev"));
}

#[tokio::test]
async fn mutant_reserved_network_ok_breaks_net_create_2() {
    let (doc, mutd) = both(Mutant::ReservedNetworkOk, async |mock| {
        create_net(mock, "host", "10.11.0.0/24").await.map(|_| ())
    })
    .await;
    assert_eq!((doc, mutd), (Err(Code::InvalidArgument), Ok(())));
}

#[tokio::test]
async fn mutant_cidr_overlap_ok_breaks_net_create_3() {
    let (doc, mutd) = both(Mutant::CidrOverlapOk, async |mock| {
        create_net(mock, "wide", "10.20.0.0/16").await.unwrap();
        create_net(mock, "narrow", "10.20.1.0/24").await.map(|_| ())
    })
    .await;
    assert_eq!((doc, mutd), (Err(Code::InvalidArgument), Ok(())));
}

#[tokio::test]
async fn mutant_network_duplicate_ok_breaks_net_create_4() {
    let (doc, mutd) = both(Mutant::NetworkDuplicateOk, async |mock| {
        create_net(mock, "dup", "10.30.0.0/24").await.unwrap();
        create_net(mock, "dup", "10.31.0.0/24").await.map(|_| ())
    })
    .await;
    assert_eq!((doc, mutd), (Err(Code::AlreadyExists), Ok(())));
}

/// Creates network `busy`, runs a long job on it: (the job, ListNetworks's jobCount of `busy`).
async fn busy_network(mock: &RunningMock) -> i32 {
    create_net(mock, "busy", "10.40.0.0/24").await.unwrap();
    let mut jobs = jobs(mock).await;
    let req = pb::RunJobRequest {
        network: "busy".into(),
        ..long()
    };
    run_running(&mut jobs, req).await;
    list_networks(mock)
        .await
        .into_iter()
        .find(|n| n.name == "busy")
        .expect("listed")
        .job_count
}

#[tokio::test]
async fn mutant_network_job_count_zero_breaks_net_list_1() {
    let (doc, mutd) = both(Mutant::NetworkJobCountZero, busy_network).await;
    assert_eq!((doc, mutd), (1, 0));
}

#[tokio::test]
async fn mutant_remove_busy_network_breaks_net_rm_1() {
    let (doc, mutd) = both(Mutant::RemoveBusyNetwork, async |mock| {
        assert_eq!(busy_network(mock).await, 1);
        networks(mock)
            .await
            .remove_network(pb::RemoveNetworkReq {
                name: "busy".into(),
            })
            .await
            .unwrap()
            .into_inner()
    })
    .await;
    assert!(!doc.success, "{doc:?}");
    assert_eq!(doc.message, "network is still in use by 1 job(s)");
    assert!(mutd.success, "{mutd:?}");
}

// ---------------------------------------------------------------------------
// VOL
// ---------------------------------------------------------------------------

#[tokio::test]
async fn mutant_volume_type_no_default_breaks_vol_create_1() {
    let (doc, mutd) = both(Mutant::VolumeTypeNoDefault, async |mock| {
        create_vol(mock, "data", "1GB", "").await.unwrap().r#type
    })
    .await;
    assert_eq!((doc.as_str(), mutd.as_str()), ("filesystem", ""));
}

#[tokio::test]
async fn mutant_volume_size_unchecked_breaks_vol_create_2() {
    let (doc, mutd) = both(Mutant::VolumeSizeUnchecked, async |mock| {
        create_vol(mock, "data", "lots", "").await.map(|_| ())
    })
    .await;
    assert_eq!((doc, mutd), (Err(Code::InvalidArgument), Ok(())));
}

#[tokio::test]
async fn mutant_volume_duplicate_ok_breaks_vol_create_3() {
    let (doc, mutd) = both(Mutant::VolumeDuplicateOk, async |mock| {
        create_vol(mock, "data", "1GB", "").await.unwrap();
        create_vol(mock, "data", "2GB", "").await.map(|_| ())
    })
    .await;
    assert_eq!((doc, mutd), (Err(Code::AlreadyExists), Ok(())));
}

/// Creates volume `cache`, runs a long job with it: ListVolumes's jobCount of `cache`.
async fn busy_volume(mock: &RunningMock) -> i32 {
    create_vol(mock, "cache", "1GB", "").await.unwrap();
    let mut jobs = jobs(mock).await;
    let req = pb::RunJobRequest {
        volumes: vec!["cache".into()],
        ..long()
    };
    run_running(&mut jobs, req).await;
    list_volumes(mock).await[0].job_count
}

#[tokio::test]
async fn mutant_volume_job_count_zero_breaks_vol_list_1() {
    let (doc, mutd) = both(Mutant::VolumeJobCountZero, busy_volume).await;
    assert_eq!((doc, mutd), (1, 0));
}

#[tokio::test]
async fn mutant_remove_busy_volume_breaks_vol_rm_1() {
    let (doc, mutd) = both(Mutant::RemoveBusyVolume, async |mock| {
        assert_eq!(busy_volume(mock).await, 1);
        volumes(mock)
            .await
            .remove_volume(pb::RemoveVolumeReq {
                name: "cache".into(),
            })
            .await
            .unwrap()
            .into_inner()
    })
    .await;
    assert!(
        !doc.success && doc.message.contains("in use by 1 job(s)"),
        "{doc:?}"
    );
    assert!(mutd.success, "{mutd:?}");
}

// ---------------------------------------------------------------------------
// MON
// ---------------------------------------------------------------------------

#[tokio::test]
async fn mutant_status_unavailable_breaks_mon_status_1() {
    let (doc, mutd) = both(Mutant::StatusUnavailable, async |mock| {
        monitoring(mock)
            .await
            .get_system_status(pb::EmptyRequest {})
            .await
            .unwrap()
            .into_inner()
            .available
    })
    .await;
    assert_eq!((doc, mutd), (true, false));
}

/// Opens StreamSystemMetrics: (first sample, whether a second came within 600 ms).
async fn metrics(
    mock: &RunningMock,
    interval: i32,
    types: &[&str],
) -> (pb::SystemMetricsRes, bool) {
    let mut stream = monitoring(mock)
        .await
        .stream_system_metrics(pb::StreamMetricsReq {
            interval_seconds: interval,
            metric_types: types.iter().map(|t| t.to_string()).collect(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = within("the first sample", stream.next())
        .await
        .expect("a sample")
        .expect("not an error");
    let second = tokio::time::timeout(Duration::from_millis(600), stream.next()).await;
    (first, second.is_ok())
}

#[tokio::test]
async fn mutant_interval_ignored_breaks_mon_stream_1() {
    let (doc, mutd) = both(Mutant::IntervalIgnored, async |mock| {
        metrics(mock, 5, &[]).await.1
    })
    .await;
    assert_eq!((doc, mutd), (false, true));
}

#[tokio::test]
async fn mutant_filter_ignored_breaks_mon_stream_2() {
    let (doc, mutd) = both(Mutant::FilterIgnored, async |mock| {
        let (first, _) = metrics(mock, 5, &["cpu"]).await;
        (
            first.cpu.is_some(),
            first.memory.is_some(),
            first.disks.is_empty(),
        )
    })
    .await;
    assert_eq!(doc, (true, false, true));
    assert_eq!(mutd, (true, true, false));
}

// ---------------------------------------------------------------------------
// RT
// ---------------------------------------------------------------------------

#[tokio::test]
async fn mutant_runtimes_unavailable_breaks_rt_list_1() {
    let (doc, mutd) = both(Mutant::RuntimesUnavailable, async |mock| {
        let listed = runtimes(mock)
            .await
            .list_runtimes(pb::EmptyRequest {})
            .await
            .unwrap()
            .into_inner()
            .runtimes;
        assert!(!listed.is_empty());
        listed.iter().all(|r| r.available)
    })
    .await;
    assert_eq!((doc, mutd), (true, false));
}

#[tokio::test]
async fn mutant_runtime_info_not_found_breaks_rt_info_1() {
    let (doc, mutd) = both(Mutant::RuntimeInfoNotFound, async |mock| {
        runtimes(mock)
            .await
            .get_runtime_info(pb::RuntimeInfoReq {
                runtime: "cobol-85".into(),
            })
            .await
            .map(|r| r.into_inner().found)
            .map_err(|e| e.code())
    })
    .await;
    assert_eq!((doc, mutd), (Ok(false), Err(Code::NotFound)));
}

#[tokio::test]
async fn mutant_runtime_test_unknown_ok_breaks_rt_test_1() {
    let (doc, mutd) = both(Mutant::RuntimeTestUnknownOk, async |mock| {
        let res = runtimes(mock)
            .await
            .test_runtime(pb::RuntimeTestReq {
                runtime: "cobol-85".into(),
            })
            .await
            .unwrap()
            .into_inner();
        (res.success, res.exit_code)
    })
    .await;
    assert_eq!((doc, mutd), ((false, 1), (true, 0)));
}

#[tokio::test]
async fn mutant_spec_error_status_breaks_rt_spec_1() {
    let (doc, mutd) = both(Mutant::SpecErrorStatus, async |mock| {
        runtimes(mock)
            .await
            .validate_runtime_spec(pb::ValidateRuntimeSpecRequest {
                runtime_spec: "cobol:85".into(),
            })
            .await
            .map(|r| r.into_inner().valid)
            .map_err(|e| e.code())
    })
    .await;
    assert_eq!((doc, mutd), (Ok(false), Err(Code::InvalidArgument)));
}

#[tokio::test]
async fn mutant_install_status_success_breaks_rt_install_1() {
    let (doc, mutd) = both(Mutant::InstallStatusSuccess, async |mock| {
        // Already installed: answered at once.
        runtimes(mock)
            .await
            .install_runtime_from_github(pb::InstallRuntimeRequest {
                runtime_spec: "python:3.11".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .status
    })
    .await;
    assert_eq!((doc.as_str(), mutd.as_str()), ("completed", "success"));
}

#[tokio::test]
async fn mutant_install_no_result_breaks_rt_install_2() {
    let (doc, mutd) = both(Mutant::InstallNoResult, async |mock| {
        let stream = runtimes(mock)
            .await
            .streaming_install_runtime_from_github(pb::InstallRuntimeRequest {
                runtime_spec: "python:3.11".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let chunks: Vec<_> = within("the install stream ends", stream.collect()).await;
        chunks
            .into_iter()
            .map(|c| c.expect("a chunk, not an error").chunk_type)
            .filter(|c| matches!(c, Some(ChunkType::Result(_))))
            .count()
    })
    .await;
    assert_eq!((doc, mutd), (1, 0));
}

#[tokio::test]
async fn mutant_force_reinstall_ignored_breaks_rt_install_3() {
    let (doc, mutd) = both(Mutant::ForceReinstallIgnored, async |mock| {
        runtimes(mock)
            .await
            .install_runtime_from_github(pb::InstallRuntimeRequest {
                runtime_spec: "python:3.11".into(),
                force_reinstall: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .message
    })
    .await;
    assert!(!doc.contains("already installed"), "{doc}");
    assert!(mutd.contains("already installed"), "{mutd}");
}

#[tokio::test]
async fn mutant_removed_runtime_listed_breaks_rt_rm_1() {
    let (doc, mutd) = both(Mutant::RemovedRuntimeListed, async |mock| {
        let mut rt = runtimes(mock).await;
        let removed = rt
            .remove_runtime(pb::RuntimeRemoveReq {
                runtime: "python-3.11".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .success;
        let listed = rt
            .list_runtimes(pb::EmptyRequest {})
            .await
            .unwrap()
            .into_inner()
            .runtimes
            .iter()
            .any(|r| r.name == "python-3.11");
        (removed, listed)
    })
    .await;
    assert_eq!((doc, mutd), ((true, false), (true, true)));
}

/// Every mutant has its test in this file, or for a `[v2]` behaviour in
/// `mutants_v2.rs` (named after its name and behaviour).
#[test]
fn every_mutant_has_a_test() {
    let source = concat!(include_str!("mutants.rs"), include_str!("mutants_v2.rs"));
    for m in Mutant::LIST {
        let test = format!(
            "fn mutant_{}_breaks_{}()",
            m.name().replace('-', "_"),
            m.behaviour().to_ascii_lowercase().replace('-', "_")
        );
        assert!(source.contains(&test), "no test `{test}` for mutant {m}");
    }
}

// ------------------------------------------------------------------ WF

const WF_LIST_FORM: &str = "jobs:\n  - name: a\n    command: echo\n    args: [a]\n  - name: b\n    command: echo\n    args: [b]\n    depends_on: [a]\n";
const WF_FAILING: &str = "jobs:\n  bad:\n    command: sh\n    args: [\"-c\", \"exit 3\"]\n  after:\n    command: echo\n    args: [ran]\n    requires:\n      - bad: COMPLETED\n";
const WF_OK: &str = "jobs:\n  one:\n    command: echo\n    args: [one]\n  two:\n    command: echo\n    args: [two]\n    requires:\n      - one: COMPLETED\n";

/// RunWorkflow's code (and status on success).
async fn run_wf(jobs: &mut Jobs, yaml: &str) -> Result<pb::RunWorkflowResponse, Code> {
    jobs.run_workflow(workflow_req(yaml, Vec::new()))
        .await
        .map(|r| r.into_inner())
        .map_err(|e| e.code())
}

/// Runs `yaml` to its end: the final GetWorkflowStatus.
async fn wf_to_end(mock: &RunningMock, yaml: &str) -> pb::GetWorkflowStatusResponse {
    let mut jobs = jobs(mock).await;
    let id = run_wf(&mut jobs, yaml)
        .await
        .expect("RunWorkflow")
        .workflow_uuid;
    wait_workflow_final(&jobs, &id).await
}

#[tokio::test]
async fn mutant_wf_list_form_rejected_breaks_wf_yaml_1() {
    let (doc, mutd) = both(Mutant::WfListFormRejected, async |m: &RunningMock| {
        run_wf(&mut jobs(m).await, WF_LIST_FORM)
            .await
            .map(|r| r.status)
    })
    .await;
    assert_eq!(doc, Ok("STARTED".to_owned()));
    assert_eq!(mutd, Err(Code::InvalidArgument));
}

#[tokio::test]
async fn mutant_wf_run_status_ok_breaks_wf_run_1() {
    let (doc, mutd) = both(Mutant::WfRunStatusOk, async |m: &RunningMock| {
        run_wf(&mut jobs(m).await, WF_OK).await.map(|r| r.status)
    })
    .await;
    assert_eq!(doc, Ok("STARTED".to_owned()));
    assert_eq!(mutd, Ok("OK".to_owned()));
}

#[tokio::test]
async fn mutant_wf_missing_upload_accepted_breaks_wf_run_2() {
    let yaml = "jobs:\n  read:\n    command: cat\n    args: [data/in.txt]\n    uploads:\n      files: [data/in.txt]\n";
    let (doc, mutd) = both(Mutant::WfMissingUploadAccepted, async |m: &RunningMock| {
        run_wf(&mut jobs(m).await, yaml).await.map(|r| r.status)
    })
    .await;
    assert_eq!(doc, Err(Code::InvalidArgument));
    assert_eq!(mutd, Ok("STARTED".to_owned()));
}

#[tokio::test]
async fn mutant_wf_jobs_hidden_from_list_breaks_wf_exec_1() {
    let (doc, mutd) = both(Mutant::WfJobsHiddenFromList, async |m: &RunningMock| {
        wf_to_end(m, WF_OK).await;
        list_jobs(&mut jobs(m).await).await.len()
    })
    .await;
    assert_eq!((doc, mutd), (2, 0));
}

#[tokio::test]
async fn mutant_wf_no_cascade_breaks_wf_exec_2() {
    let (doc, mutd) = both(Mutant::WfNoCascade, async |m: &RunningMock| {
        let s = wf_to_end(m, WF_FAILING).await;
        wf_job(&s.jobs, "after").status.clone()
    })
    .await;
    assert_eq!(doc, "CANCELED");
    assert_eq!(mutd, "COMPLETED");
}

#[tokio::test]
async fn mutant_wf_failed_reported_completed_breaks_wf_status_1() {
    let (doc, mutd) = both(
        Mutant::WfFailedReportedCompleted,
        async |m: &RunningMock| wf_state(&wf_to_end(m, WF_FAILING).await).to_owned(),
    )
    .await;
    assert_eq!(doc, "FAILED");
    assert_eq!(mutd, "COMPLETED");
}

#[tokio::test]
async fn mutant_wf_counters_zero_breaks_wf_status_2() {
    let (doc, mutd) = both(Mutant::WfCountersZero, async |m: &RunningMock| {
        let s = wf_to_end(m, WF_OK).await;
        s.workflow.unwrap().completed_jobs
    })
    .await;
    assert_eq!((doc, mutd), (2, 0));
}

#[tokio::test]
async fn mutant_wf_list_includes_finished_breaks_wf_list_1() {
    let (doc, mutd) = both(Mutant::WfListIncludesFinished, async |m: &RunningMock| {
        wf_to_end(m, WF_OK).await;
        list_workflows(&mut jobs(m).await, false).await.len()
    })
    .await;
    assert_eq!((doc, mutd), (0, 1));
}

#[tokio::test]
async fn mutant_wf_jobs_first_workflow_breaks_wf_jobs_1() {
    let (doc, mutd) = both(Mutant::WfJobsFirstWorkflow, async |m: &RunningMock| {
        wf_to_end(m, WF_OK).await;
        let mut jobs = jobs(m).await;
        let second = run_wf(&mut jobs, WF_FAILING).await.unwrap().workflow_uuid;
        wait_workflow_final(&jobs, &second).await;
        let mut names: Vec<String> = jobs
            .get_workflow_jobs(pb::GetWorkflowJobsRequest {
                workflow_uuid: second,
            })
            .await
            .unwrap()
            .into_inner()
            .jobs
            .into_iter()
            .map(|j| j.job_name)
            .collect();
        names.sort();
        names
    })
    .await;
    assert_eq!(doc, ["after", "bad"]);
    assert_eq!(mutd, ["one", "two"]);
}
