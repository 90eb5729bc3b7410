//! gRPC server reflection (v1) and health on both listeners: plaintext, and
//! mutual TLS whatever the caller's role.

use joblet_mock::{Role, RunningMock};
use joblet_testkit::Target;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};

use crate::support::{start_tls as start, with_timeout};

const EXPECTED: [&str; 6] = [
    "joblet.JobService",
    "joblet.NetworkService",
    "joblet.VolumeService",
    "joblet.MonitoringService",
    "joblet.RuntimeService",
    "grpc.health.v1.Health",
];

/// A channel per listener and role: plaintext, TLS admin, TLS viewer, and TLS
/// with a certificate of no known role.
async fn channels(mock: &RunningMock) -> Vec<(&'static str, Channel)> {
    let connect =
        |target: Target| async move { with_timeout(target).connect().await.expect("connects") };
    let certs = mock.certs().unwrap();
    let nobody = certs
        .issue_client("nobody", "nobody-client", &["ops"])
        .unwrap();
    let tls_addr = mock.tls_addr().unwrap().to_string();
    vec![
        (
            "plaintext",
            connect(Target::plaintext(mock.addr().to_string())).await,
        ),
        (
            "tls admin",
            connect(mock.tls_target(Role::Admin).unwrap()).await,
        ),
        (
            "tls viewer",
            connect(mock.tls_target(Role::Viewer).unwrap()).await,
        ),
        (
            "tls unknown",
            connect(Target::plaintext(tls_addr).with_tls(certs.client_tls_files(&nobody))).await,
        ),
    ]
}

async fn list_services(ch: Channel) -> Vec<String> {
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = ServerReflectionClient::new(ch)
        .server_reflection_info(tokio_stream::once(request))
        .await
        .expect("reflection answers")
        .into_inner();
    let response: ServerReflectionResponse = responses
        .message()
        .await
        .expect("a reflection response")
        .expect("not the end of the stream");
    match response.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected reflection answer: {other:?}"),
    }
}

#[tokio::test]
async fn reflection_lists_services_on_both_listeners() {
    let dir = tempfile::tempdir().unwrap();
    let mock = start(dir.path()).await;
    for (who, ch) in channels(&mock).await {
        let services = list_services(ch).await;
        for name in EXPECTED {
            assert!(
                services.iter().any(|s| s == name),
                "{who}: {name} missing from {services:?}"
            );
        }
    }
}

#[tokio::test]
async fn health_check_serving_on_both_listeners() {
    let dir = tempfile::tempdir().unwrap();
    let mock = start(dir.path()).await;
    for (who, ch) in channels(&mock).await {
        let status = HealthClient::new(ch)
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap_or_else(|e| panic!("{who}: health check: {e:?}"))
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{who}");
    }
}
