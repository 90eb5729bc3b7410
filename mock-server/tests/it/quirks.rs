//! The server-v1 profile (QUIRK-1 to QUIRK-12 of `docs/behaviours.md`,
//! QUIRK-9 workflows aside): each quirk is a switch over the one engine,
//! turned on by `--profile server-v1` or one at a time by `--quirk QUIRK-n`.
//! Where it is cheap, each test also checks that the documented profile
//! behaves otherwise.

use std::time::Duration;

use futures::StreamExt;
use joblet_mock::{MockConfig, MockServer, MockServerBuilder, Profile, Quirk, TlsSetup};
use joblet_testkit::Target;
use joblet_testkit::pb::{
    self, job_service_client::JobServiceClient, monitoring_service_client::MonitoringServiceClient,
};
use tonic::Code;

use crate::support::*;

/// The server-v1 profile on a 4-core host.
fn v1_config() -> MockConfig {
    MockConfig {
        profile: Profile::ServerV1,
        ..config_4_cores()
    }
}

fn v1() -> MockServerBuilder {
    MockServer::builder().config(v1_config())
}

fn documented() -> MockServerBuilder {
    MockServer::builder().config(config_4_cores())
}

/// Asserts an INTERNAL status whose message starts with `prefix`.
#[track_caller]
fn assert_internal(status: &tonic::Status, prefix: &str) {
    assert_eq!(status.code(), Code::Internal, "{status:?}");
    assert!(
        status.message().starts_with(prefix),
        "message {:?} should start with {prefix:?}",
        status.message()
    );
}

#[tokio::test]
async fn quirk_1_cancel_job_unimplemented() {
    let (_mock, mut jobs) = start_and(v1(), crate::support::jobs).await;
    let id = run(&mut jobs, later()).await.job_uuid;
    let err = cancel(&mut jobs, &id).await.unwrap_err();
    assert_code(
        &err,
        Code::Unimplemented,
        "method CancelJob not implemented",
    );
    assert_eq!(status(&mut jobs, &id).await.status, "SCHEDULED");
    // The server-side way to cancel a scheduled job is StopJob.
    stop(&mut jobs, &id).await.expect("StopJob");
    assert_eq!(status(&mut jobs, &id).await.status, "CANCELED");

    let (_doc, mut jobs) = start_and(documented(), crate::support::jobs).await;
    let id = run(&mut jobs, later()).await.job_uuid;
    assert_eq!(cancel(&mut jobs, &id).await.unwrap().status, "CANCELED");
}

#[tokio::test]
async fn quirk_2_failures_are_internal_with_the_real_prefixes() {
    let (_mock, mut jobs) = start_and(v1(), crate::support::jobs).await;
    let missing = "00000000-0000-4000-8000-000000000000";
    let err = stop(&mut jobs, missing).await.unwrap_err();
    assert_internal(&err, &format!("job stop failed: job not found: {missing}"));
    let err = delete(&mut jobs, missing).await.unwrap_err();
    assert_internal(
        &err,
        &format!("job deletion failed: job not found: {missing}"),
    );

    // Wrong state.
    let done = run(&mut jobs, cmd("true", &[])).await.job_uuid;
    wait_final(&jobs, &done).await;
    let err = stop(&mut jobs, &done).await.unwrap_err();
    assert_internal(
        &err,
        &format!("job stop failed: job is not running: {done}"),
    );
    let busy = run_running(&mut jobs, long()).await;
    let err = delete(&mut jobs, &busy).await.unwrap_err();
    assert_internal(
        &err,
        &format!("job deletion failed: cannot delete job {busy}"),
    );
    assert!(err.message().ends_with("stop the job first"), "{err:?}");
    stop_ok(&mut jobs, &busy).await;

    // CPU over 100 %, whatever the cores; a bad schedule.
    let mut req = cmd("true", &[]);
    req.max_cpu = 150;
    assert_internal(
        &run_err(&mut jobs, req.clone()).await,
        "job run failed: job creation failed: invalid CPU limit: must be between 0-100",
    );
    let mut bad = cmd("true", &[]);
    bad.schedule = "tomorrow".into();
    assert_internal(
        &run_err(&mut jobs, bad.clone()).await,
        "job run failed: invalid schedule format: ",
    );
    assert_eq!(
        list_jobs(&mut jobs).await.len(),
        2,
        "nothing else was created"
    );

    // For the workflow engine: the same shape.
    let e = joblet_mock::test_support::Error::quirk_internal(
        "failed to start workflow orchestration",
        "x",
    );
    let s = tonic::Status::from(e);
    assert_internal(&s, "failed to start workflow orchestration: x");

    // Documented: NOT_FOUND, FAILED_PRECONDITION, INVALID_ARGUMENT; 150 % fits 4 cores.
    let (_doc, mut jobs) = start_and(documented(), crate::support::jobs).await;
    assert_eq!(
        stop(&mut jobs, missing).await.unwrap_err().code(),
        Code::NotFound
    );
    run(&mut jobs, req).await;
    run_invalid(&mut jobs, bad, "schedule").await;
}

#[tokio::test]
async fn quirk_3_run_job_answers_only_uuid_and_status() {
    let (_mock, mut jobs) = start_and(v1(), crate::support::jobs).await;
    let mut req = cmd("echo", &["hi"]);
    req.max_cpu = 50;
    let res = run(&mut jobs, req.clone()).await;
    assert!(is_v4_uuid(&res.job_uuid), "{res:?}");
    assert_eq!(
        res,
        pb::RunJobResponse {
            job_uuid: res.job_uuid.clone(),
            status: "RUNNING".into(),
            ..Default::default()
        }
    );
    let res = run(&mut jobs, later()).await;
    assert_eq!(
        (res.status.as_str(), res.scheduled_time.as_str()),
        ("SCHEDULED", "")
    );
    // The job itself keeps what was asked.
    let first = list_jobs(&mut jobs).await[0].uuid.clone();
    let st = status(&mut jobs, &first).await;
    assert_eq!((st.command.as_str(), st.max_cpu), ("echo", 50));

    let (_doc, mut jobs) = start_and(documented(), crate::support::jobs).await;
    let res = run(&mut jobs, req).await;
    assert_eq!((res.command.as_str(), res.max_cpu), ("echo", 50));
    assert!(!res.start_time.is_empty());
}

#[tokio::test]
async fn quirk_4_list_jobs_shows_secrets() {
    let mut req = cmd("true", &[]);
    req.secret_environment = env(&[("TOKEN", "s3cret")]);
    for (builder, listed) in [(v1(), "s3cret"), (documented(), "***")] {
        let (_mock, mut jobs) = start_and(builder, crate::support::jobs).await;
        let id = run(&mut jobs, req.clone()).await.job_uuid;
        let jobs_listed = list_jobs(&mut jobs).await;
        assert_eq!(jobs_listed[0].secret_environment["TOKEN"], listed);
        // GetJobStatus masks in both profiles.
        assert_eq!(
            status(&mut jobs, &id).await.secret_environment["TOKEN"],
            "***"
        );
    }
}

#[tokio::test]
async fn quirk_5_prefix_ids_only_for_status_and_logs() {
    let (_mock, mut jobs) = start_and(v1(), crate::support::jobs).await;
    let done = run(&mut jobs, cmd("echo", &["prefixed"])).await.job_uuid;
    wait_final(&jobs, &done).await;
    let prefix = &done[..8];
    assert_eq!(status(&mut jobs, prefix).await.uuid, done);
    assert_eq!(logs_text(&mut jobs, prefix).await, "prefixed\n");

    // StopJob and DeleteJob need the exact UUID: a prefix is not found (INTERNAL, QUIRK-2).
    let busy = run_running(&mut jobs, long()).await;
    let err = stop(&mut jobs, &busy[..8]).await.unwrap_err();
    assert_internal(
        &err,
        &format!("job stop failed: job not found: {}", &busy[..8]),
    );
    let err = stop(&mut jobs, &busy.to_ascii_uppercase())
        .await
        .unwrap_err();
    assert_internal(&err, "job stop failed: job not found: ");
    let err = delete(&mut jobs, prefix).await.unwrap_err();
    assert_internal(
        &err,
        &format!("job deletion failed: job not found: {prefix}"),
    );
    assert_eq!(stop(&mut jobs, &busy).await.unwrap().uuid, busy);
    assert!(delete(&mut jobs, &done).await.unwrap().success);

    // QUIRK-5 alone: CancelJob (implemented then) needs the exact UUID too.
    let only = MockConfig {
        extra_quirks: vec![Quirk::LimitedPrefixes],
        ..config_4_cores()
    };
    let (_one, mut jobs) =
        start_and(MockServer::builder().config(only), crate::support::jobs).await;
    let id = run(&mut jobs, later()).await.job_uuid;
    assert_code(
        &cancel(&mut jobs, &id[..8]).await.unwrap_err(),
        Code::NotFound,
        "job not found",
    );
    assert_eq!(cancel(&mut jobs, &id).await.unwrap().status, "CANCELED");

    // Documented: a unique prefix works everywhere.
    let (_doc, mut jobs) = start_and(documented(), crate::support::jobs).await;
    let busy = run_running(&mut jobs, long()).await;
    assert_eq!(stop(&mut jobs, &busy[..8]).await.unwrap().status, "STOPPED");
}

#[tokio::test]
async fn quirk_6_invalid_values_are_dropped_silently() {
    let (_mock, mut jobs) = start_and(v1(), crate::support::jobs).await;
    for (cores, kept) in [
        ("0-2,4", ""),
        ("1,1", ""),
        ("-1", ""),
        ("9", ""), // beyond the 4 cores
        ("abc", ""),
        ("0-1", "0-1"),
    ] {
        let mut req = cmd("true", &[]);
        req.cpu_cores = cores.into();
        let id = run(&mut jobs, req).await.job_uuid;
        assert_eq!(
            status(&mut jobs, &id).await.cpu_cores,
            kept,
            "cpuCores {cores:?}"
        );
    }
    let mut req = cmd("true", &[]);
    req.max_cpu = 20_000;
    let id = run(&mut jobs, req).await.job_uuid;
    assert_eq!(status(&mut jobs, &id).await.max_cpu, 0);
    // Negative values are still refused, as the deployed server's request check does.
    let mut neg = cmd("true", &[]);
    neg.max_memory = -1;
    run_invalid(&mut jobs, neg, "maxMemory").await;

    let (_doc, mut jobs) = start_and(documented(), crate::support::jobs).await;
    let mut req = cmd("true", &[]);
    req.cpu_cores = "0-2,4".into();
    run_invalid(&mut jobs, req, "cpuCores").await;
}

#[tokio::test]
async fn quirk_7_unknown_resources_fail_the_job_not_the_call() {
    let (mock, mut jobs) = start_and(v1(), crate::support::jobs).await;
    let mut net = cmd("echo", &["never"]);
    net.network = "nowhere".into();
    let mut vol = cmd("echo", &["never"]);
    vol.volumes = vec!["ghost".into()];
    let mut rt = cmd("echo", &["never"]);
    rt.runtime = "cobol-1.0".into();
    for (req, name) in [(net.clone(), "nowhere"), (vol, "ghost"), (rt, "cobol-1.0")] {
        let res = run(&mut jobs, req).await;
        assert_eq!(res.status, "RUNNING");
        let log = logs_text(&mut jobs, &res.job_uuid).await;
        assert!(
            log.contains("could not start") && log.contains(name),
            "{log:?}"
        );
        let st = wait_final(&jobs, &res.job_uuid).await;
        assert_eq!((st.status.as_str(), st.exit_code), ("FAILED", -1));
        assert!(!st.end_time.is_empty());
    }
    // Nothing stays counted as running.
    assert!(
        list_jobs(&mut jobs)
            .await
            .iter()
            .all(|j| j.status == "FAILED")
    );
    assert_eq!(mock_running(&mock), 0);

    let (_doc, mut jobs) = start_and(documented(), crate::support::jobs).await;
    run_invalid(&mut jobs, net, "network").await;
}

fn mock_running(mock: &joblet_mock::RunningMock) -> u32 {
    mock.shared().state.lock().running_jobs
}

#[tokio::test]
async fn quirk_8_networks_and_volumes_overwrite_and_skip_checks() {
    let mock = start_with(v1()).await;
    let mut nets = networks(&mock).await;
    let create = |name: &str, cidr: &str| pb::CreateNetworkReq {
        name: name.into(),
        cidr: cidr.into(),
    };
    let res = nets
        .create_network(create("dev", "10.10.0.0/24"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(res.bridge, "");
    // Duplicate name overwrites; overlap and reserved names are accepted.
    nets.create_network(create("dev", "10.20.0.0/24"))
        .await
        .unwrap();
    nets.create_network(create("other", "10.20.0.0/25"))
        .await
        .unwrap();
    nets.create_network(create("host", "10.30.0.0/24"))
        .await
        .unwrap();
    let listed = nets
        .list_networks(pb::EmptyRequest {})
        .await
        .unwrap()
        .into_inner()
        .networks;
    let dev: Vec<_> = listed.iter().filter(|n| n.name == "dev").collect();
    assert_eq!(dev.len(), 1, "{listed:?}");
    assert_eq!(
        (dev[0].cidr.as_str(), dev[0].bridge.as_str()),
        ("10.20.0.0/24", "")
    );
    assert!(listed.iter().any(|n| n.name == "host"), "{listed:?}");

    let mut vols = volumes(&mock).await;
    let volume = |size: &str| pb::CreateVolumeReq {
        name: "data".into(),
        size: size.into(),
        r#type: "filesystem".into(),
    };
    vols.create_volume(volume("1GB")).await.unwrap();
    vols.create_volume(volume("2GB")).await.unwrap();
    let mut jobs = jobs(&mock).await;
    let mut req = long();
    req.volumes = vec!["data".into()];
    let busy = run_running(&mut jobs, req).await;
    let listed = vols
        .list_volumes(pb::EmptyRequest {})
        .await
        .unwrap()
        .into_inner()
        .volumes;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!((listed[0].size.as_str(), listed[0].job_count), ("2GB", 0));
    // Never "in use" either, as nothing is counted.
    let removed = vols
        .remove_volume(pb::RemoveVolumeReq {
            name: "data".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(removed.success, "{removed:?}");
    stop_ok(&mut jobs, &busy).await;

    // Documented: ALREADY_EXISTS, a joblet-<name> bridge, overlap refused.
    let doc = start_with(documented()).await;
    let mut nets = networks(&doc).await;
    let res = nets
        .create_network(create("dev", "10.10.0.0/24"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(res.bridge, "joblet-dev");
    let dup = nets
        .create_network(create("dev", "10.40.0.0/24"))
        .await
        .unwrap_err();
    assert_eq!(dup.code(), Code::AlreadyExists);
    let overlap = nets
        .create_network(create("x", "10.10.0.0/25"))
        .await
        .unwrap_err();
    assert_eq!(overlap.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn quirk_10_canceled_logs_never_end_and_stop_answers_uuid_only() {
    let mock = start_with(v1()).await;
    let mut jobs = jobs(&mock).await;
    let id = run(&mut jobs, later()).await.job_uuid;
    let res = stop(&mut jobs, &id).await.unwrap();
    assert_eq!(
        res,
        pb::StopJobRes {
            uuid: id.clone(),
            ..Default::default()
        }
    );
    assert_eq!(status(&mut jobs, &id).await.status, "CANCELED");
    let mut canceled = open_logs(&mut jobs, &id).await;
    let next = tokio::time::timeout(Duration::from_millis(300), canceled.next()).await;
    assert!(
        next.is_err(),
        "the stream of a CANCELED job ended: {next:?}"
    );

    // A stream already open when the job is canceled stays open as well.
    let id2 = run(&mut jobs, later()).await.job_uuid;
    let mut open = open_logs(&mut jobs, &id2).await;
    stop(&mut jobs, &id2).await.unwrap();
    let next = tokio::time::timeout(Duration::from_millis(300), open.next()).await;
    assert!(
        next.is_err(),
        "the stream of a CANCELED job ended: {next:?}"
    );

    // Other final states still end the stream.
    let busy = run_running(&mut jobs, long()).await;
    stop_ok(&mut jobs, &busy).await;
    logs(&mut jobs, &busy).await;

    // Shutting the server down ends the endless streams.
    let shutdown = tokio::spawn(mock.shutdown());
    let end = within(
        "the canceled job's stream ends at shutdown",
        canceled.next(),
    )
    .await;
    assert!(end.is_none() || end.is_some_and(|r| r.is_err()));
    within("shutdown", shutdown).await.unwrap().unwrap();

    let (_doc, mut jobs) = start_and(documented(), crate::support::jobs).await;
    let id = run(&mut jobs, later()).await.job_uuid;
    let res = stop(&mut jobs, &id).await.unwrap();
    assert_eq!(res.status, "CANCELED");
    logs(&mut jobs, &id).await;
}

#[tokio::test]
async fn quirk_11_monitoring_needs_no_role_and_ignores_unknown_types() {
    let dir = tempfile::tempdir().unwrap();
    let mock = start_with(v1().tls(TlsSetup::Generate(dir.path().to_owned()))).await;
    let certs = mock.certs().unwrap();
    let nobody = certs
        .issue_client("nobody", "nobody-client", &["ops"])
        .unwrap();
    let addr = mock.tls_addr().unwrap().to_string();
    let target = Target::plaintext(addr).with_tls(certs.client_tls_files(&nobody));
    let ch = with_timeout(target)
        .connect()
        .await
        .expect("mutual TLS connects");
    let mut mon = MonitoringServiceClient::new(ch.clone());
    let st = mon
        .get_system_status(pb::EmptyRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(st.available);
    let req = pb::StreamMetricsReq {
        interval_seconds: 1,
        metric_types: vec!["cpu".into()],
    };
    let mut stream = mon.stream_system_metrics(req).await.unwrap().into_inner();
    assert!(stream.next().await.unwrap().unwrap().cpu.is_some());
    // The other services keep their roles.
    let denied = JobServiceClient::new(ch)
        .list_jobs(pb::EmptyRequest {})
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    // Unknown metricTypes are ignored.
    let mut mon = monitoring(&mock).await;
    let first = |types: &[&str]| pb::StreamMetricsReq {
        interval_seconds: 1,
        metric_types: types.iter().map(|t| t.to_string()).collect(),
    };
    let mut s = mon
        .stream_system_metrics(first(&["cpu", "bogus"]))
        .await
        .unwrap()
        .into_inner();
    let m = s.next().await.unwrap().unwrap();
    assert!(m.cpu.is_some() && m.memory.is_none() && m.host.is_some());
    let mut s = mon
        .stream_system_metrics(first(&["bogus"]))
        .await
        .unwrap()
        .into_inner();
    let m = s.next().await.unwrap().unwrap();
    assert!(m.cpu.is_none() && m.disks.is_empty() && m.host.is_some());

    let doc = start_with(documented()).await;
    let err = monitoring(&doc)
        .await
        .stream_system_metrics(first(&["cpu", "bogus"]))
        .await
        .unwrap_err();
    assert_code(&err, Code::InvalidArgument, "metricTypes");
    // (With the documented profile an `unknown` role is denied: auth.rs, AUTH-4.)
}

#[tokio::test]
async fn quirk_12_gpus_name_work_dir_ignored_schedule_needs_an_offset() {
    let (_mock, mut jobs) = start_and(v1().gpus(2), crate::support::jobs).await;
    let mut req = cmd("sleep", &["30"]);
    req.name = "named".into();
    req.work_dir = "/data".into();
    req.gpu_count = 1;
    req.gpu_memory_mb = 1024;
    let id = run_running(&mut jobs, req.clone()).await;
    let st = status(&mut jobs, &id).await;
    assert_eq!(st.name, "");
    assert_eq!(st.work_dir, "/work");
    assert_eq!((st.gpu_count, st.gpu_memory_mb), (0, 0));
    assert!(st.gpu_indices.is_empty());
    stop_ok(&mut jobs, &id).await;
    // More GPUs than the node has: ignored, not refused.
    let mut many = cmd("true", &[]);
    many.gpu_count = 9;
    run(&mut jobs, many.clone()).await;

    // Only RFC 3339 with an offset.
    let naive = (chrono::Local::now() + chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let mut req_naive = cmd("true", &[]);
    req_naive.schedule = naive;
    assert_internal(
        &run_err(&mut jobs, req_naive.clone()).await,
        "job run failed: invalid schedule format: ",
    );
    assert_eq!(run(&mut jobs, later()).await.status, "SCHEDULED");

    let (_doc, mut jobs) = start_and(documented().gpus(2), crate::support::jobs).await;
    let id = run_running(&mut jobs, req).await;
    let st = status(&mut jobs, &id).await;
    assert_eq!(
        (st.name.as_str(), st.work_dir.as_str(), st.gpu_count),
        ("named", "/data", 1)
    );
    stop_ok(&mut jobs, &id).await;
    run_invalid(&mut jobs, many, "gpu_count").await;
    assert_eq!(run(&mut jobs, req_naive).await.status, "SCHEDULED");
}

#[tokio::test]
async fn quirk_single_switch_turns_on_only_that_quirk() {
    let config = MockConfig {
        extra_quirks: vec![Quirk::UnmaskedListJobs],
        ..config_4_cores()
    };
    let (mock, mut jobs) =
        start_and(MockServer::builder().config(config), crate::support::jobs).await;
    assert_eq!(
        mock.shared().behaviour.quirks.list(),
        [Quirk::UnmaskedListJobs]
    );
    let mut req = cmd("sleep", &["30"]);
    req.secret_environment = env(&[("TOKEN", "s3cret")]);
    let res = run(&mut jobs, req).await;
    // QUIRK-4 is on ...
    assert_eq!(
        list_jobs(&mut jobs).await[0].secret_environment["TOKEN"],
        "s3cret"
    );
    // ... and no other: full RunJob answer (QUIRK-3), prefixes for StopJob
    // (QUIRK-5), documented codes (QUIRK-2), CancelJob implemented (QUIRK-1).
    assert_eq!(res.command, "sleep");
    assert_eq!(
        stop(&mut jobs, &res.job_uuid[..8]).await.unwrap().status,
        "STOPPED"
    );
    let missing = "00000000-0000-4000-8000-000000000000";
    assert_eq!(
        stop(&mut jobs, missing).await.unwrap_err().code(),
        Code::NotFound
    );
    let id = run(&mut jobs, later()).await.job_uuid;
    assert_eq!(cancel(&mut jobs, &id).await.unwrap().status, "CANCELED");
    logs(&mut jobs, &id).await;
    // The profile alone turns all of them on.
    let all = Profile::ServerV1.quirks().list();
    assert_eq!(all.len(), 12);
    assert!(all.contains(&Quirk::OpenMonitoring));
}
