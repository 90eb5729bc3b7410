//! Issue #16 item 8: arbitrary, malformed and oversized messages to every one
//! of the 35 methods, in each `--api` mode: never a panic, always a gRPC
//! status (or, for a stream, its first message), and the mock still serving.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use joblet_mock::{Api, ClockMode, MockConfig, MockServer, RunningMock};
use joblet_testkit::raw::{self, CallSpec, StopAt};
use proptest::prelude::*;
use prost::Message;
use tonic::Code;

use crate::support::channel;

/// Every method path of both contracts, with whether it streams.
fn methods() -> Vec<(String, bool)> {
    let set =
        prost_types::FileDescriptorSet::decode(joblet_testkit::FILE_DESCRIPTOR_SET_UNION).unwrap();
    let mut out = Vec::new();
    for f in set.file.iter().filter(|f| f.package() == "joblet") {
        for s in &f.service {
            for m in &s.method {
                out.push((
                    format!("/joblet.{}/{}", s.name(), m.name()),
                    m.server_streaming(),
                ));
            }
        }
    }
    assert_eq!(out.len(), 35);
    out
}

/// Panics anywhere in the process since the hook went in.
static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
    });
}

async fn start(api: Api) -> RunningMock {
    MockServer::builder()
        .config(MockConfig {
            api,
            // Sleeps and schedules in random requests pass without waiting.
            clock: ClockMode::Virtual,
            // Small, so that "oversized" is cheap to send.
            max_message_bytes: 64 << 10,
            ..MockConfig::default()
        })
        .start()
        .await
        .expect("the mock starts")
}

/// Sends `body` to every method; each call must end with a status, or
/// (streams) give a first message, within the bound.
async fn hammer(mock: &RunningMock, body: &Bytes) -> Vec<String> {
    let ch = channel(&mock.url()).await;
    let mut problems = Vec::new();
    for (path, streaming) in methods() {
        let received = raw::call(
            ch.clone(),
            CallSpec {
                path: &path,
                streaming,
                request: body.clone(),
                session: Some("robust"),
                timeout: Duration::from_secs(20),
            },
            StopAt::Messages(1),
        )
        .await;
        if received.timed_out {
            problems.push(format!("{path}: no status in 20 s"));
        }
        if received.code == Code::Unknown || received.message.contains("transport error") {
            problems.push(format!("{path}: {:?} {}", received.code, received.message));
        }
    }
    problems
}

fn modes() -> [Api; 3] {
    [Api::Both, Api::V1, Api::V2]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random bytes (mostly not protobuf at all) and random protobuf-shaped
    /// bytes (valid tags with random values) to every method.
    #[test]
    fn every_method_answers_arbitrary_bytes_with_a_status(
        body in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..512),
            proptest::collection::vec((1u8..40, any::<u8>(), any::<[u8; 4]>()), 0..24).prop_map(|fields| {
                let mut out = Vec::new();
                for (tag, kind, value) in fields {
                    out.push(((tag as u32) << 3 | u32::from(kind % 3 * 2).min(5)) as u8);
                    out.extend_from_slice(&value);
                }
                out
            }),
        ]
    ) {
        count_panics();
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let body = Bytes::from(body);
            for api in modes() {
                let mock = start(api).await;
                let problems = hammer(&mock, &body).await;
                prop_assert!(problems.is_empty(), "--api {}: {problems:?}", api.name());
                // Still serving: a plain call works.
                let mut jobs = crate::support::jobs(&mock).await;
                jobs.list_jobs(joblet_testkit::pb::EmptyRequest::default()).await.unwrap();
                mock.shutdown().await.unwrap();
            }
            prop_assert_eq!(PANICS.load(Ordering::SeqCst), 0, "a panic in the mock");
            Ok(())
        })?;
    }
}

/// A message over the limit gets RESOURCE_EXHAUSTED on every method, in
/// every mode (ALL-7), and the mock goes on serving.
#[tokio::test]
async fn oversized_messages_are_resource_exhausted_everywhere() {
    count_panics();
    let big = Bytes::from(vec![0x0a; (64 << 10) + 1]);
    for api in modes() {
        let mock = start(api).await;
        let ch = channel(&mock.url()).await;
        for (path, streaming) in methods() {
            let (service, method) = path.trim_start_matches("/joblet.").split_once('/').unwrap();
            let received = raw::call(
                ch.clone(),
                CallSpec {
                    path: &path,
                    streaming,
                    request: big.clone(),
                    session: None,
                    timeout: Duration::from_secs(20),
                },
                StopAt::Messages(1),
            )
            .await;
            let expected = if api.serves(service, method) {
                Code::ResourceExhausted
            } else {
                Code::Unimplemented
            };
            assert_eq!(
                received.code,
                expected,
                "--api {} {path}: {}",
                api.name(),
                received.message
            );
        }
        let mut jobs = crate::support::jobs(&mock).await;
        jobs.list_jobs(joblet_testkit::pb::EmptyRequest::default())
            .await
            .expect("still serving");
        mock.shutdown().await.unwrap();
    }
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "a panic in the mock");
}
