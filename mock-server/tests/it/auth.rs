//! AUTH-1 to AUTH-5: the plaintext listener (everyone admin) and the mutual-TLS
//! listener (TLS 1.3, client certificate required, role from its OU, viewer
//! limited to reads, authorization before validation). Also the `joblet-mock`
//! binary serving both listeners with generated certificates.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use joblet_mock::test_support::JOBLET_RPCS;
use joblet_mock::{GeneratedCerts, Role, RunningMock};
use joblet_testkit::pb::{
    self, job_service_client::JobServiceClient, monitoring_service_client::MonitoringServiceClient,
    network_service_client::NetworkServiceClient, runtime_service_client::RuntimeServiceClient,
    volume_service_client::VolumeServiceClient,
};
use joblet_testkit::{Target, TlsFiles};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, SupportedProtocolVersion};
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::support::{anonymous_tls, start_tls, with_timeout};

async fn tls_channel(mock: &RunningMock, files: TlsFiles) -> Channel {
    let addr = mock.tls_addr().expect("TLS is on");
    with_timeout(Target::plaintext(addr.to_string()).with_tls(files))
        .connect()
        .await
        .expect("mutual TLS connects")
}

async fn role_channel(mock: &RunningMock, role: Role) -> Channel {
    let files = mock.certs().unwrap().tls_files(role).unwrap();
    tls_channel(mock, files).await
}

async fn plain_channel(mock: &RunningMock) -> Channel {
    with_timeout(Target::plaintext(mock.addr().to_string()))
        .connect()
        .await
        .expect("plaintext connects")
}

fn ok_or_status<T>(r: Result<tonic::Response<T>, Status>) -> Result<(), Status> {
    r.map(|_| ())
}

/// Calls every Joblet RPC once with a default request; the name of each RPC
/// with its outcome (streams are dropped once their headers arrive).
async fn call_every_rpc(ch: &Channel) -> Vec<(&'static str, Result<(), Status>)> {
    let mut jobs = JobServiceClient::new(ch.clone());
    let mut nets = NetworkServiceClient::new(ch.clone());
    let mut vols = VolumeServiceClient::new(ch.clone());
    let mut mon = MonitoringServiceClient::new(ch.clone());
    let mut rt = RuntimeServiceClient::new(ch.clone());
    vec![
        (
            "RunJob",
            ok_or_status(jobs.run_job(pb::RunJobRequest::default()).await),
        ),
        (
            "GetJobStatus",
            ok_or_status(jobs.get_job_status(pb::GetJobStatusReq::default()).await),
        ),
        (
            "StopJob",
            ok_or_status(jobs.stop_job(pb::StopJobReq::default()).await),
        ),
        (
            "CancelJob",
            ok_or_status(jobs.cancel_job(pb::CancelJobReq::default()).await),
        ),
        (
            "DeleteJob",
            ok_or_status(jobs.delete_job(pb::DeleteJobReq::default()).await),
        ),
        (
            "DeleteAllJobs",
            ok_or_status(jobs.delete_all_jobs(pb::DeleteAllJobsReq::default()).await),
        ),
        (
            "GetJobLogs",
            ok_or_status(jobs.get_job_logs(pb::GetJobLogsReq::default()).await),
        ),
        (
            "ListJobs",
            ok_or_status(jobs.list_jobs(pb::EmptyRequest::default()).await),
        ),
        (
            "RunWorkflow",
            ok_or_status(jobs.run_workflow(pb::RunWorkflowRequest::default()).await),
        ),
        (
            "GetWorkflowStatus",
            ok_or_status(
                jobs.get_workflow_status(pb::GetWorkflowStatusRequest::default())
                    .await,
            ),
        ),
        (
            "ListWorkflows",
            ok_or_status(
                jobs.list_workflows(pb::ListWorkflowsRequest::default())
                    .await,
            ),
        ),
        (
            "GetWorkflowJobs",
            ok_or_status(
                jobs.get_workflow_jobs(pb::GetWorkflowJobsRequest::default())
                    .await,
            ),
        ),
        (
            "CreateNetwork",
            ok_or_status(nets.create_network(pb::CreateNetworkReq::default()).await),
        ),
        (
            "ListNetworks",
            ok_or_status(nets.list_networks(pb::EmptyRequest::default()).await),
        ),
        (
            "RemoveNetwork",
            ok_or_status(nets.remove_network(pb::RemoveNetworkReq::default()).await),
        ),
        (
            "CreateVolume",
            ok_or_status(vols.create_volume(pb::CreateVolumeReq::default()).await),
        ),
        (
            "ListVolumes",
            ok_or_status(vols.list_volumes(pb::EmptyRequest::default()).await),
        ),
        (
            "RemoveVolume",
            ok_or_status(vols.remove_volume(pb::RemoveVolumeReq::default()).await),
        ),
        (
            "GetSystemStatus",
            ok_or_status(mon.get_system_status(pb::EmptyRequest::default()).await),
        ),
        (
            "StreamSystemMetrics",
            ok_or_status(
                mon.stream_system_metrics(pb::StreamMetricsReq {
                    interval_seconds: 1,
                    ..Default::default()
                })
                .await,
            ),
        ),
        (
            "ListRuntimes",
            ok_or_status(rt.list_runtimes(pb::EmptyRequest::default()).await),
        ),
        (
            "GetRuntimeInfo",
            ok_or_status(rt.get_runtime_info(pb::RuntimeInfoReq::default()).await),
        ),
        (
            "TestRuntime",
            ok_or_status(rt.test_runtime(pb::RuntimeTestReq::default()).await),
        ),
        (
            "InstallRuntimeFromGithub",
            ok_or_status(
                rt.install_runtime_from_github(pb::InstallRuntimeRequest::default())
                    .await,
            ),
        ),
        (
            "InstallRuntimeFromLocal",
            ok_or_status(
                rt.install_runtime_from_local(pb::InstallRuntimeFromLocalRequest::default())
                    .await,
            ),
        ),
        (
            "StreamingInstallRuntimeFromGithub",
            ok_or_status(
                rt.streaming_install_runtime_from_github(pb::InstallRuntimeRequest::default())
                    .await,
            ),
        ),
        (
            "StreamingInstallRuntimeFromLocal",
            ok_or_status(
                rt.streaming_install_runtime_from_local(
                    pb::InstallRuntimeFromLocalRequest::default(),
                )
                .await,
            ),
        ),
        (
            "ValidateRuntimeSpec",
            ok_or_status(
                rt.validate_runtime_spec(pb::ValidateRuntimeSpecRequest::default())
                    .await,
            ),
        ),
        (
            "RemoveRuntime",
            ok_or_status(rt.remove_runtime(pb::RuntimeRemoveReq::default()).await),
        ),
    ]
}

const VIEWER_RPCS: [&str; 13] = [
    "GetJobStatus",
    "ListJobs",
    "GetJobLogs",
    "GetWorkflowStatus",
    "ListWorkflows",
    "GetWorkflowJobs",
    "ListNetworks",
    "ListVolumes",
    "ListRuntimes",
    "GetRuntimeInfo",
    "ValidateRuntimeSpec",
    "GetSystemStatus",
    "StreamSystemMetrics",
];

fn assert_denied(rpc: &str, role: &str, result: &Result<(), Status>) {
    let status = result
        .as_ref()
        .expect_err(&format!("{role} must not be allowed {rpc}"));
    assert_eq!(
        status.code(),
        Code::PermissionDenied,
        "{role} {rpc}: {status:?}"
    );
    assert_eq!(
        status.message(),
        format!("role {role} is not allowed to perform operation {rpc}"),
        "{role} {rpc}"
    );
}

fn assert_not_denied(rpc: &str, who: &str, result: &Result<(), Status>) {
    if let Err(status) = result {
        assert!(
            !matches!(
                status.code(),
                Code::PermissionDenied | Code::Unauthenticated
            ),
            "{who} must be allowed {rpc}: {status:?}"
        );
    }
}

fn echo_job(command: &str) -> pb::RunJobRequest {
    pb::RunJobRequest {
        command: command.into(),
        args: vec!["hi".into()],
        ..Default::default()
    }
}

#[tokio::test]
async fn auth_1_plaintext_callers_are_admin() {
    let dir = tempfile::tempdir().unwrap();
    let mock = start_tls(dir.path()).await;
    let ch = plain_channel(&mock).await;
    // Every RPC is allowed in plaintext: none is refused for want of a role.
    let results = call_every_rpc(&ch).await;
    assert_eq!(results.len(), 29);
    for (rpc, result) in &results {
        assert_not_denied(rpc, "plaintext caller", result);
    }
    // Admin-only operations succeed.
    let mut jobs = JobServiceClient::new(ch.clone());
    jobs.run_job(echo_job("echo"))
        .await
        .expect("RunJob as admin");
    NetworkServiceClient::new(ch)
        .create_network(pb::CreateNetworkReq {
            name: "auth1-net".into(),
            cidr: "10.201.0.0/24".into(),
        })
        .await
        .expect("CreateNetwork as admin");
}

/// What happens to a raw TLS client: `Ok(bytes)` once the server spoke HTTP/2
/// to it, `Err(reason)` when the handshake or the first read failed.
async fn tls_probe(addr: SocketAddr, config: ClientConfig) -> Result<usize, String> {
    let connector = TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let name = ServerName::try_from("localhost").unwrap();
    let attempt = async {
        let mut tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        // TLS 1.3 finishes the client's side of the handshake before the
        // server has checked its certificate: the refusal arrives on read.
        let mut buf = [0u8; 64];
        match tls.read(&mut buf).await {
            Ok(0) => Err("closed by the server".to_owned()),
            Ok(n) => Ok(n),
            Err(e) => Err(format!("read: {e}")),
        }
    };
    tokio::time::timeout(Duration::from_secs(10), attempt)
        .await
        .map_err(|_| "timed out".to_owned())?
}

fn client_config(
    versions: &[&'static SupportedProtocolVersion],
    ca_pem: &str,
    identity: Option<(&str, &str)>,
) -> ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    config
}

#[tokio::test]
async fn auth_2_tls13_client_cert_required() {
    let dir = tempfile::tempdir().unwrap();
    let mock = start_tls(dir.path()).await;
    let certs = mock.certs().unwrap();
    let tls_addr = mock.tls_addr().unwrap();
    let admin = Some((certs.admin.cert_pem.as_str(), certs.admin.key_pem.as_str()));
    let tls13: &[&'static SupportedProtocolVersion] = &[&rustls::version::TLS13];
    let tls12: &[&'static SupportedProtocolVersion] = &[&rustls::version::TLS12];

    // A silent client (no ClientHello) does not hold up the others.
    let _silent = TcpStream::connect(tls_addr).await.unwrap();

    // TLS 1.3 with a client certificate: the server speaks HTTP/2.
    let ok = tls_probe(tls_addr, client_config(tls13, &certs.ca_pem, admin)).await;
    assert!(ok.is_ok(), "{ok:?}");
    // TLS 1.2 only, even with a valid certificate: refused at handshake.
    let old = tls_probe(tls_addr, client_config(tls12, &certs.ca_pem, admin)).await;
    assert!(
        old.as_ref().is_err_and(|e| e.starts_with("handshake")),
        "{old:?}"
    );
    // No client certificate: refused.
    let anon = tls_probe(tls_addr, client_config(tls13, &certs.ca_pem, None)).await;
    assert!(anon.is_err(), "{anon:?}");
    // A certificate from another CA: refused.
    let other_dir = tempfile::tempdir().unwrap();
    let other = GeneratedCerts::generate(other_dir.path(), &[]).unwrap();
    let stranger = Some((other.admin.cert_pem.as_str(), other.admin.key_pem.as_str()));
    let strange = tls_probe(tls_addr, client_config(tls13, &certs.ca_pem, stranger)).await;
    assert!(strange.is_err(), "{strange:?}");
    // Plaintext HTTP/2 on the TLS port: refused.
    let h2c = Target::plaintext(tls_addr.to_string()).connect().await;
    if let Ok(ch) = h2c {
        let r = JobServiceClient::new(ch)
            .list_jobs(pb::EmptyRequest::default())
            .await;
        assert!(r.is_err(), "plaintext on the TLS port must fail");
    }

    // gRPC without a client certificate: the call fails.
    if let Ok(ch) = anonymous_tls(&mock).connect().await {
        let r = JobServiceClient::new(ch)
            .list_jobs(pb::EmptyRequest::default())
            .await;
        assert!(r.is_err(), "a call without a client certificate must fail");
    }

    // After all those failures the listener still serves, under either server name.
    let mut files = certs.tls_files(Role::Admin).unwrap();
    files.server_name = "localhost".into();
    for files in [files, certs.tls_files(Role::Admin).unwrap()] {
        let ch = tls_channel(&mock, files).await;
        JobServiceClient::new(ch)
            .list_jobs(pb::EmptyRequest::default())
            .await
            .expect("ListJobs over mutual TLS");
    }

    // One state behind both listeners.
    let job = JobServiceClient::new(plain_channel(&mock).await)
        .run_job(echo_job("echo"))
        .await
        .unwrap()
        .into_inner();
    let listed = JobServiceClient::new(role_channel(&mock, Role::Viewer).await)
        .list_jobs(pb::EmptyRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(
        listed.jobs.iter().any(|j| j.uuid == job.job_uuid),
        "{listed:?}"
    );
}

#[tokio::test]
async fn auth_3_role_from_first_matching_ou() {
    let dir = tempfile::tempdir().unwrap();
    let mock = start_tls(dir.path()).await;
    let certs = mock.certs().unwrap();
    let cases: [(&str, &[&str], Role); 6] = [
        ("upper-admin", &["ADMIN"], Role::Admin),
        ("second-admin", &["something", "admin"], Role::Admin),
        ("mixed-viewer", &["Viewer"], Role::Viewer),
        ("viewer-first", &["viewer", "admin"], Role::Viewer),
        ("no-ou", &[], Role::Unknown),
        ("other-ous", &["ops", "administrators"], Role::Unknown),
    ];
    for (name, ous, expected) in cases {
        let client = certs
            .issue_client(name, &format!("{name}-client"), ous)
            .unwrap();
        let ch = tls_channel(&mock, certs.client_tls_files(&client)).await;
        let mut jobs = JobServiceClient::new(ch.clone());
        let run = jobs.run_job(echo_job("echo")).await;
        let list = jobs.list_jobs(pb::EmptyRequest::default()).await;
        match expected {
            Role::Admin => {
                run.unwrap_or_else(|e| panic!("{name}: admin may run: {e:?}"));
                list.unwrap_or_else(|e| panic!("{name}: admin may list: {e:?}"));
            }
            Role::Viewer => {
                assert_denied("RunJob", "viewer", &run.map(|_| ()));
                list.unwrap_or_else(|e| panic!("{name}: viewer may list: {e:?}"));
            }
            Role::Unknown => {
                assert_denied("RunJob", "unknown", &run.map(|_| ()));
                assert_denied("ListJobs", "unknown", &list.map(|_| ()));
                let status = MonitoringServiceClient::new(ch.clone())
                    .get_system_status(pb::EmptyRequest::default())
                    .await
                    .map(|_| ());
                assert_denied("GetSystemStatus", "unknown", &status);
                // Health stays open to any authenticated caller.
                let health = tonic_health::pb::health_client::HealthClient::new(ch)
                    .check(tonic_health::pb::HealthCheckRequest::default())
                    .await
                    .unwrap_or_else(|e| panic!("{name}: health: {e:?}"))
                    .into_inner();
                assert_eq!(
                    health.status,
                    tonic_health::pb::health_check_response::ServingStatus::Serving as i32
                );
            }
        }
    }
}

#[tokio::test]
async fn auth_4_viewer_allowed_and_denied_operations() {
    let dir = tempfile::tempdir().unwrap();
    let mock = start_tls(dir.path()).await;
    // The calls below cover the whole v1 contract (the table's rows of v1).
    const V2_ONLY: [&str; 6] = [
        "StreamJobMetrics",
        "GetJobMetrics",
        "StreamJobTelematics",
        "GetJobTelematics",
        "BuildRuntime",
        "ValidateRuntimeYAML",
    ];
    let mut table: Vec<&str> = JOBLET_RPCS
        .iter()
        .map(|(_, m, _)| *m)
        .filter(|m| !V2_ONLY.contains(m))
        .collect();
    table.sort_unstable();

    let viewer = call_every_rpc(&role_channel(&mock, Role::Viewer).await).await;
    let mut called: Vec<&str> = viewer.iter().map(|(m, _)| *m).collect();
    called.sort_unstable();
    assert_eq!(called, table);
    for (rpc, result) in &viewer {
        if VIEWER_RPCS.contains(rpc) {
            assert_not_denied(rpc, "viewer", result);
        } else {
            assert_denied(rpc, "viewer", result);
        }
    }
    assert_eq!(
        viewer
            .iter()
            .filter(|(_, r)| r
                .as_ref()
                .is_err_and(|s| s.code() == Code::PermissionDenied))
            .count(),
        29 - VIEWER_RPCS.len()
    );

    // The admin certificate may call everything over TLS.
    for (rpc, result) in &call_every_rpc(&role_channel(&mock, Role::Admin).await).await {
        assert_not_denied(rpc, "admin", result);
    }

    // A certificate without admin/viewer OU may call nothing.
    let certs = mock.certs().unwrap();
    let nobody = certs
        .issue_client("nobody", "nobody-client", &["ops"])
        .unwrap();
    let unknown = call_every_rpc(&tls_channel(&mock, certs.client_tls_files(&nobody)).await).await;
    for (rpc, result) in &unknown {
        assert_denied(rpc, "unknown", result);
    }
}

#[tokio::test]
async fn auth_5_authorization_before_validation() {
    let dir = tempfile::tempdir().unwrap();
    let mock = start_tls(dir.path()).await;
    let viewer = role_channel(&mock, Role::Viewer).await;
    let admin = role_channel(&mock, Role::Admin).await;
    let empty = pb::RunJobRequest::default();

    let as_viewer = JobServiceClient::new(viewer.clone())
        .run_job(empty.clone())
        .await;
    assert_denied("RunJob", "viewer", &as_viewer.map(|_| ()));
    let as_admin = JobServiceClient::new(admin.clone())
        .run_job(empty)
        .await
        .unwrap_err();
    assert_eq!(as_admin.code(), Code::InvalidArgument, "{as_admin:?}");

    let bad_net = pb::CreateNetworkReq {
        name: String::new(),
        cidr: "not a cidr".into(),
    };
    let as_viewer = NetworkServiceClient::new(viewer)
        .create_network(bad_net.clone())
        .await;
    assert_denied("CreateNetwork", "viewer", &as_viewer.map(|_| ()));
    let as_admin = NetworkServiceClient::new(admin)
        .create_network(bad_net)
        .await
        .unwrap_err();
    assert_eq!(as_admin.code(), Code::InvalidArgument, "{as_admin:?}");
}

#[tokio::test]
async fn all_7_tls_listener_keeps_the_message_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mock = start_tls(dir.path()).await;
    let mut jobs = JobServiceClient::new(role_channel(&mock, Role::Admin).await)
        .max_encoding_message_size(usize::MAX)
        .max_decoding_message_size(usize::MAX);
    let oversized = pb::RunJobRequest {
        command: "echo".into(),
        args: vec!["x".repeat((128 << 20) + 1)],
        ..Default::default()
    };
    let err = jobs.run_job(oversized).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
}

/// Kills the child process when dropped (also when a test fails).
struct KillOnDrop(tokio::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.start_kill();
    }
}

#[tokio::test]
async fn auth_binary_serves_plaintext_and_tls_with_generated_certs() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_joblet-mock"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--tls-listen",
            "127.0.0.1:0",
            "--certs-dir",
        ])
        .arg(dir.path())
        .env_remove("JOBLET_MOCK_NO_PLAINTEXT")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("joblet-mock starts");
    let stdout = child.stdout.take().unwrap();
    let _child = KillOnDrop(child);
    let mut lines = BufReader::new(stdout).lines();
    let mut addrs = Vec::new();
    for prefix in ["joblet-mock listening on ", "joblet-mock listening on tls "] {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("joblet-mock prints its addresses in time")
            .unwrap()
            .expect("a line");
        let addr: SocketAddr = line
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("expected {prefix:?}ADDR, got {line:?}"))
            .parse()
            .unwrap();
        addrs.push(addr);
    }
    let (plain, tls) = (addrs[0], addrs[1]);

    // rnx-config.yml: nodes default and viewer at the TLS address.
    let rnx = std::fs::read_to_string(dir.path().join("rnx-config.yml")).unwrap();
    let config: serde_norway::Value = serde_norway::from_str(&rnx).unwrap();
    for node in ["default", "viewer"] {
        let n = &config["nodes"][node];
        assert_eq!(
            n["address"].as_str(),
            Some(tls.to_string().as_str()),
            "{node}"
        );
        for pem in ["cert", "key", "ca"] {
            assert!(
                n[pem].as_str().is_some_and(|s| s.starts_with("-----BEGIN")),
                "{node}.{pem}"
            );
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for key in [
            "ca-key.pem",
            "server-key.pem",
            "admin-key.pem",
            "viewer-key.pem",
            "rnx-config.yml",
        ] {
            let mode = std::fs::metadata(dir.path().join(key))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{key}");
        }
    }

    // One call on each listener, one state behind both.
    let job = JobServiceClient::new(
        with_timeout(Target::plaintext(plain.to_string()))
            .connect()
            .await
            .unwrap(),
    )
    .run_job(echo_job("echo"))
    .await
    .unwrap()
    .into_inner();
    let viewer = TlsFiles {
        ca_cert: dir.path().join("ca.pem"),
        client_cert: dir.path().join("viewer.pem"),
        client_key: dir.path().join("viewer-key.pem"),
        server_name: "joblet".into(),
    };
    let ch = with_timeout(Target::plaintext(tls.to_string()).with_tls(viewer))
        .connect()
        .await
        .unwrap();
    let listed = JobServiceClient::new(ch.clone())
        .list_jobs(pb::EmptyRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.jobs.iter().any(|j| j.uuid == job.job_uuid));
    let denied = JobServiceClient::new(ch)
        .run_job(echo_job("echo"))
        .await
        .map(|_| ());
    assert_denied("RunJob", "viewer", &denied);
}

#[tokio::test]
async fn auth_binary_rejects_bad_tls_flags() {
    let run = |args: Vec<String>| async move {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_joblet-mock"))
            .args(&args)
            .env_remove("JOBLET_MOCK_CERTS_DIR")
            .env_remove("JOBLET_MOCK_TLS_LISTEN")
            .kill_on_drop(true)
            .output()
            .await
            .unwrap();
        assert!(!out.status.success(), "{args:?} must fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem").display().to_string();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "not a certificate").unwrap();
    let listen = || {
        vec![
            "--listen".to_owned(),
            "127.0.0.1:0".into(),
            "--tls-listen".into(),
            "127.0.0.1:0".into(),
        ]
    };

    let err = run(listen()).await;
    assert!(err.contains("--certs-dir"), "{err}");
    let mut args = listen();
    args.extend([
        "--tls-cert".into(),
        missing.clone(),
        "--tls-key".into(),
        missing.clone(),
        "--client-ca".into(),
        missing,
    ]);
    let err = run(args).await;
    assert!(
        err.contains("--tls-cert") && err.contains("missing.pem"),
        "{err}"
    );
    let err = run(vec!["--certs-dir".into(), dir.path().display().to_string()]).await;
    assert!(err.contains("--tls-listen"), "{err}");
    let gen_dir = tempfile::tempdir().unwrap();
    GeneratedCerts::generate(gen_dir.path(), &[]).unwrap();
    let mut args = listen();
    args.extend([
        "--tls-cert".into(),
        gen_dir.path().join("server.pem").display().to_string(),
        "--tls-key".into(),
        gen_dir.path().join("server-key.pem").display().to_string(),
        "--client-ca".into(),
        ca.display().to_string(),
    ]);
    let err = run(args).await;
    assert!(
        err.contains("--client-ca") && err.contains("no PEM certificate"),
        "{err}"
    );
}

async fn start_tls_with(dir: &std::path::Path, config: joblet_mock::MockConfig) -> RunningMock {
    joblet_mock::MockServer::builder()
        .config(config)
        .tls(joblet_mock::TlsSetup::Generate(dir.to_owned()))
        .start()
        .await
        .expect("the mock starts with TLS")
}

/// AUTH-6: on a node that speaks v2, the OU `reader` is the read-only role;
/// on a node of contract v1 alone it is no role at all (AUTH-3).
#[tokio::test]
async fn auth_6_reader_is_a_viewer_where_v2_is_served() {
    for (api, reader_reads) in [
        (joblet_mock::Api::Both, true),
        (joblet_mock::Api::V2, true),
        (joblet_mock::Api::V1, false),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = joblet_mock::MockConfig {
            api,
            ..Default::default()
        };
        let mock = start_tls_with(dir.path(), config).await;
        let certs = mock.certs().unwrap();
        let reader = certs
            .issue_client("reader", "reader-client", &["Reader"])
            .unwrap();
        let ch = tls_channel(&mock, certs.client_tls_files(&reader)).await;
        let mut jobs = JobServiceClient::new(ch);
        let list = jobs
            .list_jobs(pb::EmptyRequest::default())
            .await
            .map(|_| ());
        let run = jobs.run_job(echo_job("echo")).await.map(|_| ());
        if reader_reads {
            list.unwrap_or_else(|e| panic!("--api {}: a reader lists: {e:?}", api.name()));
            assert_denied("RunJob", "viewer", &run);
        } else {
            assert_denied("ListJobs", "unknown", &list);
            assert_denied("RunJob", "unknown", &run);
        }
        mock.shutdown().await.unwrap();
    }
}

/// AUTH-8: the four-role model, behind `--roles four`: least privilege among
/// role OUs, `viewer` as `reader`, and refusals naming the operation.
#[tokio::test]
async fn auth_8_four_roles_with_operation_names() {
    let dir = tempfile::tempdir().unwrap();
    let config = joblet_mock::MockConfig {
        roles: joblet_mock::RoleModel::Four,
        ..Default::default()
    };
    let mock = start_tls_with(dir.path(), config).await;
    let certs = mock.certs().unwrap();
    let channel = |name: &'static str, ous: &'static [&'static str]| {
        let client = certs
            .issue_client(name, &format!("{name}-client"), ous)
            .unwrap();
        tls_channel(&mock, certs.client_tls_files(&client))
    };
    let refused = |r: Result<(), Status>, who: &str, op: &str| {
        let status = r.expect_err(&format!("{who} must be refused {op}"));
        assert_eq!(
            status.code(),
            Code::PermissionDenied,
            "{who} {op}: {status:?}"
        );
        assert_eq!(
            status.message(),
            format!("role {who} is not allowed to perform operation {op}")
        );
    };
    // A reader (the OU viewer counts as reader) reads, and may not run.
    let reader = channel("four-viewer", &["viewer"]).await;
    let mut jobs = JobServiceClient::new(reader.clone());
    jobs.list_jobs(pb::EmptyRequest::default())
        .await
        .expect("a reader lists jobs");
    refused(
        jobs.run_job(echo_job("echo")).await.map(|_| ()),
        "reader",
        "run_job",
    );
    // A developer runs jobs but may not create a network.
    let dev = channel("four-dev", &["developer"]).await;
    JobServiceClient::new(dev.clone())
        .run_job(echo_job("echo"))
        .await
        .expect("a developer runs jobs");
    let net = pb::CreateNetworkReq {
        name: "four-net".into(),
        cidr: "10.77.0.0/24".into(),
    };
    refused(
        NetworkServiceClient::new(dev)
            .create_network(net.clone())
            .await
            .map(|_| ()),
        "developer",
        "create_network",
    );
    // Several role OUs: the least privileged wins; a maintainer creates
    // networks but may not remove them.
    let maint = channel("four-maint", &["admin", "maintainer"]).await;
    NetworkServiceClient::new(maint.clone())
        .create_network(net)
        .await
        .expect("a maintainer creates networks");
    refused(
        NetworkServiceClient::new(maint)
            .remove_network(pb::RemoveNetworkReq {
                name: "four-net".into(),
            })
            .await
            .map(|_| ()),
        "maintainer",
        "remove_network",
    );
    // No role OU: not even monitoring.
    let none = channel("four-none", &["ops"]).await;
    refused(
        MonitoringServiceClient::new(none)
            .get_system_status(pb::EmptyRequest::default())
            .await
            .map(|_| ()),
        "unknown",
        "get_metrics",
    );
    mock.shutdown().await.unwrap();
}
