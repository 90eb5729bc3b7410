//! Contract v2 job telemetry: metrics samples (JOB-METRICS-*) and telematics
//! events (JOB-TELEM-*), driven over gRPC with v2 clients on the manual
//! clock: time moves only when a test advances it, so no test waits for a
//! sampling interval.

use std::path::Path;
use std::time::Duration;

use joblet_mock::{Api, ClockMode, MockConfig, MockServer, RunningMock, parse_scenarios};
use joblet_testkit::pb::v2;
use joblet_testkit::pb::v2::job_service_client::JobServiceClient;
use joblet_testkit::pb::v2::telematics_event::Data;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::support::*;

type V2Jobs = JobServiceClient<Channel>;

const MIB: i64 = 1 << 20;
const SEC_NS: i64 = 1_000_000_000;

/// A manual-clock mock (and a v2 JobService client) with `config`'s other fields.
async fn manual(config: MockConfig) -> (RunningMock, V2Jobs) {
    let config = MockConfig {
        clock: ClockMode::Manual,
        ..config
    };
    let mock = start_with(MockServer::builder().config(config)).await;
    let jobs = JobServiceClient::new(channel(&mock.url()).await);
    (mock, jobs)
}

fn v2_cmd(command: &str, args: &[&str]) -> v2::RunJobRequest {
    v2::RunJobRequest {
        command: command.into(),
        args: args.iter().map(|s| (*s).to_owned()).collect(),
        ..Default::default()
    }
}

fn v2_sh(script: &str) -> v2::RunJobRequest {
    v2_cmd("sh", &["-c", script])
}

async fn run_v2(jobs: &mut V2Jobs, req: v2::RunJobRequest) -> String {
    jobs.run_job(req)
        .await
        .expect("RunJob")
        .into_inner()
        .job_uuid
}

async fn status_v2(jobs: &mut V2Jobs, id: &str) -> String {
    jobs.get_job_status(v2::GetJobStatusRequest { uuid: id.into() })
        .await
        .expect("GetJobStatus")
        .into_inner()
        .status
}

async fn wait_v2(jobs: &V2Jobs, id: &str, want: &str) {
    eventually(&format!("job {id} is {want}"), || {
        let mut jobs = jobs.clone();
        async move { (status_v2(&mut jobs, id).await == want).then_some(()) }
    })
    .await;
}

async fn advance(mock: &RunningMock, secs: u64) {
    mock.advance_clock("", Duration::from_secs(secs))
        .await
        .expect("the manual clock advances");
}

/// Every message of a stream, and how it ended.
async fn drain<T>(mut stream: tonic::Streaming<T>) -> (Vec<T>, Result<(), Status>) {
    let mut items = Vec::new();
    loop {
        match within("the stream's next message", stream.message()).await {
            Ok(Some(item)) => items.push(item),
            Ok(None) => return (items, Ok(())),
            Err(status) => return (items, Err(status)),
        }
    }
}

/// The next message of a stream that must have one.
async fn next<T>(stream: &mut tonic::Streaming<T>) -> T {
    within("the stream's next message", stream.message())
        .await
        .expect("no error")
        .expect("a message")
}

async fn get_metrics(
    jobs: &mut V2Jobs,
    req: v2::GetJobMetricsRequest,
) -> Result<Vec<v2::JobMetricsEvent>, Status> {
    let stream = jobs.get_job_metrics(req).await?.into_inner();
    let (items, end) = drain(stream).await;
    end.map(|()| items)
}

async fn history(jobs: &mut V2Jobs, id: &str) -> Vec<v2::JobMetricsEvent> {
    let req = v2::GetJobMetricsRequest {
        job_uuid: id.into(),
        ..Default::default()
    };
    get_metrics(jobs, req).await.expect("GetJobMetrics")
}

async fn stream_metrics(jobs: &mut V2Jobs, id: &str) -> tonic::Streaming<v2::JobMetricsEvent> {
    jobs.stream_job_metrics(v2::StreamJobMetricsRequest {
        job_uuid: id.into(),
    })
    .await
    .expect("StreamJobMetrics")
    .into_inner()
}

async fn telematics(
    jobs: &mut V2Jobs,
    req: v2::GetJobTelematicsRequest,
) -> Result<Vec<v2::TelematicsEvent>, Status> {
    let stream = jobs.get_job_telematics(req).await?.into_inner();
    let (items, end) = drain(stream).await;
    end.map(|()| items)
}

async fn all_telematics(jobs: &mut V2Jobs, id: &str) -> Vec<v2::TelematicsEvent> {
    let req = v2::GetJobTelematicsRequest {
        job_uuid: id.into(),
        ..Default::default()
    };
    telematics(jobs, req).await.expect("GetJobTelematics")
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// An event as a line: `exec pid ppid binary [args] exit` or
/// `file pid path operation bytes flags`.
fn line(e: &v2::TelematicsEvent) -> String {
    match &e.data {
        Some(Data::Exec(x)) => format!(
            "{} {} {} {} [{}] {}",
            e.r#type,
            x.pid,
            x.ppid,
            x.binary,
            x.args.join(" "),
            x.exit_code
        ),
        Some(Data::File(f)) => format!(
            "{} {} {} {} {} {:o}",
            e.r#type, f.pid, f.path, f.operation, f.bytes, f.flags
        ),
        other => panic!("unexpected event data {other:?}"),
    }
}

fn assert_sample_fields(s: &v2::JobMetricsEvent, id: &str) {
    assert_eq!(s.job_uuid, id);
    assert!((0.0..=100.0).contains(&s.cpu_percent), "{s:?}");
    assert!((0.0..=100.0).contains(&s.gpu_percent), "{s:?}");
    assert!(s.memory_bytes > 0, "{s:?}");
    for v in [
        s.memory_limit,
        s.disk_read_bytes,
        s.disk_write_bytes,
        s.net_recv_bytes,
        s.net_sent_bytes,
        s.gpu_memory_bytes,
    ] {
        assert!(v >= 0, "{s:?}");
    }
}

/// JOB-METRICS-1: a sample when the job starts running, then one per 5 s
/// of the session clock while it runs; timestamps in Unix ns; every field
/// in range; cumulative counters never decrease.
#[tokio::test]
async fn job_metrics_1_a_sample_at_start_then_every_5_seconds() {
    let (mock, mut jobs) = manual(MockConfig::default()).await;
    let t0 = mock.clock_now("").unwrap();
    let mut req = v2_cmd("sleep", &["12"]);
    req.max_memory = 256;
    let id = run_v2(&mut jobs, req).await;
    let first = history(&mut jobs, &id).await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0].timestamp, t0 * 1_000_000);
    advance(&mock, 5).await;
    assert_eq!(history(&mut jobs, &id).await.len(), 2);
    advance(&mock, 7).await;
    wait_v2(&jobs, &id, "COMPLETED").await;
    let samples = history(&mut jobs, &id).await;
    let stamps: Vec<i64> = samples.iter().map(|s| s.timestamp).collect();
    let want: Vec<i64> = (0..3).map(|k| t0 * 1_000_000 + k * 5 * SEC_NS).collect();
    assert_eq!(stamps, want, "samples at 0, 5 and 10 s of a 12 s run");
    for s in &samples {
        assert_sample_fields(s, &id);
        assert_eq!(s.memory_limit, 256 * MIB);
        assert!(s.memory_bytes <= 256 * MIB, "{s:?}");
        assert_eq!((s.gpu_percent, s.gpu_memory_bytes), (0.0, 0));
    }
    assert_eq!(samples[0].disk_write_bytes, 0, "counters start at 0");
    for w in samples.windows(2) {
        assert!(w[1].disk_read_bytes >= w[0].disk_read_bytes);
        assert!(w[1].disk_write_bytes > w[0].disk_write_bytes);
        assert!(w[1].net_recv_bytes > w[0].net_recv_bytes);
        assert!(w[1].net_sent_bytes > w[0].net_sent_bytes);
    }
    // The job is over: its history stays as it was.
    advance(&mock, 60).await;
    assert_eq!(history(&mut jobs, &id).await, samples);
}

/// JOB-METRICS-1: figures stay within the job's limits; GPU figures only
/// for a job that holds GPUs; a job without a network sends nothing.
#[tokio::test]
async fn job_metrics_1_figures_follow_limits_gpus_and_network() {
    let (mock, mut jobs) = manual(MockConfig {
        gpus: 1,
        gpu_memory_mb: 8_192,
        ..MockConfig::default()
    })
    .await;
    let mut req = v2_cmd("sleep", &["30"]);
    req.max_cpu = 15;
    req.max_memory = 64;
    req.gpu_count = 1;
    let gpu_job = run_v2(&mut jobs, req).await;
    let mut req = v2_cmd("sleep", &["30"]);
    req.network = "none".into();
    let offline = run_v2(&mut jobs, req).await;
    advance(&mock, 20).await;
    let samples = history(&mut jobs, &gpu_job).await;
    assert_eq!(samples.len(), 5);
    for s in &samples {
        assert_sample_fields(s, &gpu_job);
        assert!(s.cpu_percent <= 15.0, "{s:?}");
        assert!(
            s.memory_bytes <= 64 * MIB && s.memory_limit == 64 * MIB,
            "{s:?}"
        );
        assert!(s.gpu_percent > 0.0, "{s:?}");
        assert!(
            s.gpu_memory_bytes > 0 && s.gpu_memory_bytes <= 8_192 * MIB,
            "{s:?}"
        );
    }
    for s in history(&mut jobs, &offline).await {
        assert_eq!(
            (s.net_recv_bytes, s.net_sent_bytes, s.memory_limit),
            (0, 0, 0)
        );
        assert_eq!((s.gpu_percent, s.gpu_memory_bytes), (0.0, 0));
    }
}

/// JOB-METRICS-1: a job whose scenario sets `resources` shows them.
#[tokio::test]
async fn job_metrics_1_a_scenarios_resources_are_shown() {
    let yaml = "scenarios:\n  - match: { command: train }\n    steps: [ { sleep: 10 } ]\n    \
                resources: { cpu_percent: 85.0, memory_mb: 512 }\n";
    let scenarios = parse_scenarios(yaml, Path::new("it.yaml")).unwrap();
    let (mock, mut jobs) = manual(MockConfig {
        scenarios,
        ..MockConfig::default()
    })
    .await;
    let id = run_v2(&mut jobs, v2_cmd("train", &["--epochs", "3"])).await;
    advance(&mock, 10).await;
    wait_v2(&jobs, &id, "COMPLETED").await;
    let samples = history(&mut jobs, &id).await;
    assert_eq!(samples.len(), 3);
    for s in &samples {
        assert_eq!((s.cpu_percent, s.memory_bytes), (85.0, 512 * MIB), "{s:?}");
    }
    // Within a smaller limit, the limit wins.
    let mut req = v2_cmd("train", &[]);
    req.max_memory = 128;
    req.max_cpu = 50;
    let capped = run_v2(&mut jobs, req).await;
    let s = &history(&mut jobs, &capped).await[0];
    assert_eq!((s.cpu_percent, s.memory_bytes), (50.0, 128 * MIB), "{s:?}");
}

/// JOB-METRICS-1: the interval is configurable (`--metrics-interval`).
#[tokio::test]
async fn job_metrics_1_the_interval_is_configurable() {
    let (mock, mut jobs) = manual(MockConfig {
        metrics_interval: Duration::from_secs(1),
        ..MockConfig::default()
    })
    .await;
    let id = run_v2(&mut jobs, v2_cmd("sleep", &["3"])).await;
    for _ in 0..3 {
        advance(&mock, 1).await;
    }
    wait_v2(&jobs, &id, "COMPLETED").await;
    let stamps: Vec<i64> = history(&mut jobs, &id)
        .await
        .iter()
        .map(|s| s.timestamp)
        .collect();
    assert_eq!(stamps.len(), 4, "0, 1, 2 and 3 s (its end)");
    assert!(
        stamps.windows(2).all(|w| w[1] - w[0] == SEC_NS),
        "{stamps:?}"
    );
}

/// JOB-METRICS-1: with `--seed`, the same jobs give the same figures.
#[tokio::test]
async fn job_metrics_1_seeded_figures_are_reproducible() {
    let mut figures = Vec::new();
    for _ in 0..2 {
        let (mock, mut jobs) = manual(MockConfig {
            seed: Some(42),
            ..MockConfig::default()
        })
        .await;
        let id = run_v2(&mut jobs, v2_cmd("sleep", &["9"])).await;
        advance(&mock, 9).await;
        let samples: Vec<_> = history(&mut jobs, &id)
            .await
            .into_iter()
            .map(|s| v2::JobMetricsEvent { timestamp: 0, ..s })
            .collect();
        assert_eq!(samples.len(), 2);
        figures.push(samples);
    }
    assert_eq!(figures[0], figures[1]);
}

/// JOB-METRICS-2: an empty job_uuid, an unknown job, an ambiguous prefix;
/// a unique prefix works.
#[tokio::test]
async fn job_metrics_2_bad_ids_and_prefixes() {
    let (_mock, mut jobs) = manual(MockConfig::default()).await;
    let empty = jobs
        .stream_job_metrics(v2::StreamJobMetricsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        (empty.code(), empty.message()),
        (Code::InvalidArgument, "job_uuid is required")
    );
    let unknown = "00000000-0000-4000-8000-000000000000";
    let err = jobs
        .stream_job_metrics(v2::StreamJobMetricsRequest {
            job_uuid: unknown.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(err.message(), format!("job not found: {unknown}"));
    // 17 jobs: two of them share a first hex digit.
    let mut ids = Vec::new();
    for _ in 0..17 {
        ids.push(run_v2(&mut jobs, v2_cmd("true", &[])).await);
    }
    let shared = ids
        .iter()
        .map(|id| &id[..1])
        .find(|p| ids.iter().filter(|id| id.starts_with(*p)).count() > 1)
        .unwrap();
    let err = jobs
        .stream_job_metrics(v2::StreamJobMetricsRequest {
            job_uuid: shared.into(),
        })
        .await
        .unwrap_err();
    assert_code(&err, Code::InvalidArgument, "ambiguous");
    let (samples, end) = drain(stream_metrics(&mut jobs, &ids[0][..13]).await).await;
    end.unwrap();
    assert_eq!(samples.len(), 1);
    assert_eq!(samples[0].job_uuid, ids[0], "the full UUID");
    // The history calls resolve prefixes the same way (ALL-2).
    let ambiguous = v2::GetJobMetricsRequest {
        job_uuid: shared.into(),
        ..Default::default()
    };
    let err = get_metrics(&mut jobs, ambiguous).await.unwrap_err();
    assert_code(&err, Code::InvalidArgument, "ambiguous");
    let unique = v2::GetJobTelematicsRequest {
        job_uuid: ids[0][..13].into(),
        ..Default::default()
    };
    let events = telematics(&mut jobs, unique).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].job_uuid, ids[0]);
}

/// JOB-METRICS-2, JOB-TELEM-3: a SCHEDULED job's streams wait for its start,
/// then follow it.
#[tokio::test]
async fn job_metrics_2_a_scheduled_jobs_streams_wait_for_its_start() {
    let (mock, mut jobs) = manual(MockConfig::default()).await;
    let mut req = v2_cmd("sleep", &["5"]);
    req.schedule = rfc3339_in(60);
    let id = run_v2(&mut jobs, req).await;
    assert_eq!(status_v2(&mut jobs, &id).await, "SCHEDULED");
    let metrics = stream_metrics(&mut jobs, &id).await;
    let events = jobs
        .stream_job_telematics(v2::StreamJobTelematicsRequest {
            job_uuid: id.clone(),
            types: Vec::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        history(&mut jobs, &id).await.is_empty(),
        "no sample before it runs"
    );
    advance(&mock, 61).await;
    wait_v2(&jobs, &id, "RUNNING").await;
    advance(&mock, 5).await;
    let (samples, end) = drain(metrics).await;
    end.expect("OK");
    assert_eq!(samples.len(), 2, "at its start and at its end, 5 s later");
    let (events, end) = drain(events).await;
    end.expect("OK");
    assert_eq!(
        events.iter().map(line).collect::<Vec<_>>(),
        ["exec 1 0 /usr/bin/sleep [5] 0"]
    );
    assert_eq!(
        events[0].timestamp, samples[0].timestamp,
        "both from its start"
    );
}

/// JOB-METRICS-2: a finished job's stream is its history, then OK.
#[tokio::test]
async fn job_metrics_2_a_finished_job_sends_its_history_then_ok() {
    let (_mock, mut jobs) = manual(MockConfig::default()).await;
    let id = run_v2(&mut jobs, v2_cmd("echo", &["hi"])).await;
    wait_v2(&jobs, &id, "COMPLETED").await;
    let (samples, end) = drain(stream_metrics(&mut jobs, &id).await).await;
    end.expect("OK");
    assert_eq!(samples.len(), 1, "the sample taken as it started");
    // A job that never ran has none.
    let mut req = v2_cmd("echo", &["later"]);
    req.schedule = rfc3339_in(3600);
    let later = run_v2(&mut jobs, req).await;
    jobs.cancel_job(v2::CancelJobRequest {
        uuid: later.clone(),
    })
    .await
    .unwrap();
    let (samples, end) = drain(stream_metrics(&mut jobs, &later).await).await;
    assert!(samples.is_empty() && end.is_ok(), "{samples:?} {end:?}");
}

/// JOB-METRICS-2: a running job's stream sends its history, then each
/// sample as it is taken, and ends with OK when the job ends; several
/// readers each get every sample, and one that leaves costs nothing.
#[tokio::test]
async fn job_metrics_2_history_then_live_for_every_reader() {
    let (mock, mut jobs) = manual(MockConfig::default()).await;
    let id = run_v2(&mut jobs, v2_cmd("sleep", &["12"])).await;
    let mut a = stream_metrics(&mut jobs, &id).await;
    let mut b = stream_metrics(&mut jobs, &id).await;
    let leaver = stream_metrics(&mut jobs, &id).await;
    let first = next(&mut a).await;
    assert_eq!(next(&mut b).await, first);
    // The job's sleep and one timer per reader.
    eventually("every reader waits for the next sample", || async {
        (mock.shared().clock.pending_timers() == 4).then_some(())
    })
    .await;
    drop(leaver);
    eventually("the reader that left holds nothing", || async {
        (mock.shared().clock.pending_timers() == 3).then_some(())
    })
    .await;
    advance(&mock, 5).await;
    let second = next(&mut a).await;
    assert_eq!(second.timestamp - first.timestamp, 5 * SEC_NS);
    advance(&mock, 7).await;
    let (rest, end) = drain(a).await;
    end.expect("OK at the end of the job");
    assert_eq!(rest.len(), 1, "the sample at 10 s");
    let (all_b, end) = drain(b).await;
    end.expect("OK");
    assert_eq!(all_b, [second, rest[0].clone()]);
    assert_eq!(
        history(&mut jobs, &id).await,
        [first, all_b[0].clone(), all_b[1].clone()]
    );
}

/// JOB-METRICS-2, JOB-TIMEOUT-3: live streams end with OK on every final
/// status: STOPPED, FAILED, TIMEOUT, CANCELED.
#[tokio::test]
async fn job_metrics_2_streams_end_on_every_final_status() {
    let (mock, mut jobs) = manual(MockConfig::default()).await;
    let stopped = run_v2(&mut jobs, v2_cmd("sleep", &["100"])).await;
    let failed = run_v2(&mut jobs, v2_sh("sleep 3; exit 3")).await;
    let mut req = v2_cmd("sleep", &["100"]);
    req.timeout = "7s".into();
    let timed_out = run_v2(&mut jobs, req).await;
    let mut req = v2_cmd("echo", &["later"]);
    req.schedule = rfc3339_in(3600);
    let canceled = run_v2(&mut jobs, req).await;
    let mut streams = Vec::new();
    for id in [&stopped, &failed, &timed_out, &canceled] {
        streams.push(stream_metrics(&mut jobs, id).await);
    }
    jobs.stop_job(v2::StopJobRequest {
        uuid: stopped.clone(),
    })
    .await
    .unwrap();
    jobs.cancel_job(v2::CancelJobRequest {
        uuid: canceled.clone(),
    })
    .await
    .unwrap();
    advance(&mock, 10).await;
    let want = [
        (1, "STOPPED"),
        (1, "FAILED"),
        (2, "TIMEOUT"),
        (0, "CANCELED"),
    ];
    for ((stream, id), (count, status)) in streams
        .into_iter()
        .zip([&stopped, &failed, &timed_out, &canceled])
        .zip(want)
    {
        let (samples, end) = drain(stream).await;
        end.unwrap_or_else(|e| panic!("{status}: {e:?}"));
        assert_eq!(samples.len(), count, "{status}: {samples:?}");
        assert_eq!(status_v2(&mut jobs, id).await, status);
    }
}

/// JOB-METRICS-2: open streams end with UNAVAILABLE when the server shuts
/// down, and a session reset ends them with OK.
#[tokio::test]
async fn job_metrics_2_streams_end_at_shutdown_and_reset() {
    let (mock, mut jobs) = manual(MockConfig::default()).await;
    let id = run_v2(&mut jobs, v2_cmd("sleep", &["100"])).await;
    let mut metrics = stream_metrics(&mut jobs, &id).await;
    next(&mut metrics).await;
    let events = jobs
        .stream_job_telematics(v2::StreamJobTelematicsRequest {
            job_uuid: id.clone(),
            types: Vec::new(),
        })
        .await
        .unwrap()
        .into_inner();
    mock.reset("").unwrap();
    let (_, end) = drain(metrics).await;
    end.expect("a reset ends the stream with OK");
    let (seen, end) = drain(events).await;
    end.expect("OK");
    assert_eq!(seen.len(), 1, "the job's own exec");

    let id = run_v2(&mut jobs, v2_cmd("sleep", &["100"])).await;
    let mut metrics = stream_metrics(&mut jobs, &id).await;
    next(&mut metrics).await;
    mock.shared().begin_shutdown();
    let (_, end) = drain(metrics).await;
    assert_eq!(end.unwrap_err().code(), Code::Unavailable);
}

/// JOB-METRICS-3: history only (also for a running job), time range
/// inclusive in Unix ns, `limit` oldest first; an unknown job gets an empty
/// stream; an empty job_uuid and a negative limit are refused.
#[tokio::test]
async fn job_metrics_3_get_is_history_with_range_and_limit() {
    let (mock, mut jobs) = manual(MockConfig::default()).await;
    let id = run_v2(&mut jobs, v2_cmd("sleep", &["100"])).await;
    advance(&mock, 20).await;
    let all = history(&mut jobs, &id).await;
    assert_eq!(all.len(), 5, "a running job's history, no live part");
    let t: Vec<i64> = all.iter().map(|s| s.timestamp).collect();
    let get = |start_time, end_time, limit| v2::GetJobMetricsRequest {
        job_uuid: id.clone(),
        start_time,
        end_time,
        limit,
    };
    let got = get_metrics(&mut jobs, get(t[1], t[3], 0)).await.unwrap();
    assert_eq!(got, all[1..=3], "both ends inclusive");
    let got = get_metrics(&mut jobs, get(t[1] + 1, t[3] - 1, 0))
        .await
        .unwrap();
    assert_eq!(got, all[2..=2]);
    let got = get_metrics(&mut jobs, get(t[2], 0, 0)).await.unwrap();
    assert_eq!(got, all[2..], "0 leaves the end open");
    let got = get_metrics(&mut jobs, get(0, 0, 2)).await.unwrap();
    assert_eq!(got, all[..2], "the first `limit`, oldest first");
    let unknown = v2::GetJobMetricsRequest {
        job_uuid: "ffffffff-0000-4000-8000-000000000000".into(),
        ..Default::default()
    };
    assert!(get_metrics(&mut jobs, unknown).await.unwrap().is_empty());
    let err = get_metrics(&mut jobs, v2::GetJobMetricsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::InvalidArgument, "job_uuid is required")
    );
    let err = get_metrics(&mut jobs, get(0, 0, -1)).await.unwrap_err();
    assert_code(&err, Code::InvalidArgument, "limit");
}

/// JOB-TELEM-1: an exec event for the job's command and for each process
/// its script starts (bash builtins are none), a file event for each file
/// it writes; timestamps order them; exit codes once known.
#[tokio::test]
async fn job_telem_1_exec_and_file_events_follow_the_script() {
    let (mock, mut jobs) = manual(MockConfig::default()).await;
    let script = "echo hi > out.txt; sleep 1; seq 3 >> out.txt; cat out.txt | wc -l; false; /bin/false; exit 3";
    let id = run_v2(&mut jobs, v2_sh(script)).await;
    advance(&mock, 1).await;
    wait_v2(&jobs, &id, "FAILED").await;
    let events = all_telematics(&mut jobs, &id).await;
    let lines: Vec<String> = events.iter().map(line).collect();
    assert_eq!(
        lines,
        [
            format!("exec 1 0 /usr/bin/sh [-c {script}] 3"),
            "file 1 /work/out.txt write 3 1101".into(),
            "exec 2 1 /usr/bin/sleep [1] 0".into(),
            "exec 3 1 /usr/bin/seq [3] 0".into(),
            "file 3 /work/out.txt write 6 2101".into(),
            "exec 4 1 /usr/bin/wc [-l] 0".into(),
            "exec 5 1 /usr/bin/cat [out.txt] 0".into(),
            // `false` is a bash builtin; `/bin/false` a program.
            "exec 6 1 /bin/false [] 1".into(),
        ]
    );
    assert!(events.iter().all(|e| e.job_uuid == id));
    let stamps: Vec<i64> = events.iter().map(|e| e.timestamp).collect();
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{stamps:?}");
    // The sleep took a second of the session clock: `seq` started a second
    // after the job.
    assert_eq!(stamps[3] - stamps[0], SEC_NS, "{stamps:?}");
}

/// JOB-TELEM-1: a live exec event has exit code 0 (the process runs);
/// JOB-TELEM-3: the stream sends the history, then events as they happen,
/// and ends with OK when the job ends.
#[tokio::test]
async fn job_telem_3_history_then_live_events() {
    let (mock, mut jobs) = manual(MockConfig::default()).await;
    let id = run_v2(&mut jobs, v2_sh("sleep 5; touch done; exit 2")).await;
    let mut stream = jobs
        .stream_job_telematics(v2::StreamJobTelematicsRequest {
            job_uuid: id.clone(),
            types: Vec::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        line(&next(&mut stream).await),
        "exec 1 0 /usr/bin/sh [-c sleep 5; touch done; exit 2] 0"
    );
    assert_eq!(
        line(&next(&mut stream).await),
        "exec 2 1 /usr/bin/sleep [5] 0"
    );
    advance(&mock, 5).await;
    let (rest, end) = drain(stream).await;
    end.expect("OK once the job ended");
    let rest: Vec<String> = rest.iter().map(line).collect();
    assert_eq!(
        rest,
        [
            "exec 3 1 /usr/bin/touch [done] 0",
            "file 3 /work/done create 0 101"
        ]
    );
    // Afterwards, the history has the exit codes.
    let lines: Vec<String> = all_telematics(&mut jobs, &id)
        .await
        .iter()
        .map(line)
        .collect();
    assert_eq!(
        lines[0],
        "exec 1 0 /usr/bin/sh [-c sleep 5; touch done; exit 2] 2"
    );
    assert_eq!(lines[1], "exec 2 1 /usr/bin/sleep [5] 0");
    // The errors of JOB-METRICS-2.
    let err = jobs
        .stream_job_telematics(v2::StreamJobTelematicsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::InvalidArgument, "job_uuid is required")
    );
    let err = jobs
        .stream_job_telematics(v2::StreamJobTelematicsRequest {
            job_uuid: "nope".into(),
            types: Vec::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::NotFound, "job not found: nope")
    );
}

/// JOB-TELEM-2: the `types` filter: exact names; none, or only unknown
/// ones, keeps all; `metrics` matches nothing; on both calls.
#[tokio::test]
async fn job_telem_2_the_types_filter() {
    let (_mock, mut jobs) = manual(MockConfig::default()).await;
    let id = run_v2(&mut jobs, v2_sh("echo a > a; date")).await;
    wait_v2(&jobs, &id, "COMPLETED").await;
    let kinds = |events: Vec<v2::TelematicsEvent>| -> Vec<String> {
        events.into_iter().map(|e| e.r#type).collect()
    };
    let get = |types: &[&str]| v2::GetJobTelematicsRequest {
        job_uuid: id.clone(),
        types: strings(types),
        ..Default::default()
    };
    let all = ["exec", "file", "exec"];
    assert_eq!(kinds(telematics(&mut jobs, get(&[])).await.unwrap()), all);
    assert_eq!(
        kinds(
            telematics(&mut jobs, get(&["bogus", "EXEC"]))
                .await
                .unwrap()
        ),
        all
    );
    assert_eq!(
        kinds(
            telematics(&mut jobs, get(&["file", "bogus"]))
                .await
                .unwrap()
        ),
        ["file"]
    );
    assert!(
        telematics(&mut jobs, get(&["metrics"]))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        telematics(&mut jobs, get(&["socket_data", "connect"]))
            .await
            .unwrap()
            .is_empty()
    );
    let stream = jobs
        .stream_job_telematics(v2::StreamJobTelematicsRequest {
            job_uuid: id.clone(),
            types: strings(&["exec"]),
        })
        .await
        .unwrap()
        .into_inner();
    let (events, end) = drain(stream).await;
    end.unwrap();
    assert_eq!(kinds(events), ["exec", "exec"]);
}

/// JOB-TELEM-4: history only; time range inclusive; `limit` caps the whole
/// answer, oldest first; an unknown job gets an empty stream.
#[tokio::test]
async fn job_telem_4_get_with_range_and_limit() {
    let (mock, mut jobs) = manual(MockConfig::default()).await;
    let id = run_v2(&mut jobs, v2_sh("sleep 1; sleep 1; sleep 100")).await;
    advance(&mock, 2).await;
    let all = all_telematics(&mut jobs, &id).await;
    assert_eq!(all.len(), 4, "sh and its three sleeps, while it runs");
    let t: Vec<i64> = all.iter().map(|e| e.timestamp).collect();
    let get = |start_time, end_time, limit| v2::GetJobTelematicsRequest {
        job_uuid: id.clone(),
        types: Vec::new(),
        start_time,
        end_time,
        limit,
    };
    assert_eq!(
        telematics(&mut jobs, get(t[1], t[2], 0)).await.unwrap(),
        all[1..=2]
    );
    assert_eq!(telematics(&mut jobs, get(0, 0, 3)).await.unwrap(), all[..3]);
    let exec_only = v2::GetJobTelematicsRequest {
        types: strings(&["exec"]),
        ..get(t[1], 0, 2)
    };
    assert_eq!(telematics(&mut jobs, exec_only).await.unwrap(), all[1..3]);
    let unknown = v2::GetJobTelematicsRequest {
        job_uuid: "nope".into(),
        ..Default::default()
    };
    assert!(telematics(&mut jobs, unknown).await.unwrap().is_empty());
    let err = telematics(&mut jobs, get(0, 0, -5)).await.unwrap_err();
    assert_code(&err, Code::InvalidArgument, "limit");
    let err = telematics(&mut jobs, v2::GetJobTelematicsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.message(), "job_uuid is required");
}

/// CONTRACT-1: a node that speaks only v1 does not have the four methods.
#[tokio::test]
async fn contract_1_a_v1_node_answers_the_telemetry_methods_unimplemented() {
    let mock = start_with(MockServer::builder().config(MockConfig {
        api: Api::V1,
        ..MockConfig::default()
    }))
    .await;
    let mut jobs = JobServiceClient::new(channel(&mock.url()).await);
    let id = "00000000-0000-4000-8000-000000000000".to_owned();
    let unknown = |m: &str| format!("unknown method {m} for service joblet.JobService");
    let err = jobs
        .stream_job_metrics(v2::StreamJobMetricsRequest {
            job_uuid: id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::Unimplemented, unknown("StreamJobMetrics").as_str())
    );
    let err = jobs
        .get_job_metrics(v2::GetJobMetricsRequest {
            job_uuid: id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::Unimplemented, unknown("GetJobMetrics").as_str())
    );
    let err = jobs
        .stream_job_telematics(v2::StreamJobTelematicsRequest {
            job_uuid: id.clone(),
            types: Vec::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::Unimplemented, unknown("StreamJobTelematics").as_str())
    );
    let err = jobs
        .get_job_telematics(v2::GetJobTelematicsRequest {
            job_uuid: id,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::Unimplemented, unknown("GetJobTelematics").as_str())
    );
}

/// `--metrics-interval` and `JOBLET_MOCK_METRICS_INTERVAL`: a zero or bad
/// value is a usage error naming the flag; a good one sets the interval.
#[tokio::test]
async fn job_metrics_1_the_metrics_interval_flag() {
    use crate::e2e::{MockProcess, refused};
    for bad in ["0", "0s", "fast", "-1s"] {
        let flag = format!("--metrics-interval={bad}");
        let err = refused(&["--listen", "127.0.0.1:0", &flag]).await;
        assert!(err.contains("--metrics-interval"), "{bad}: {err}");
        assert!(err.contains("invalid metrics interval"), "{bad}: {err}");
    }
    let child = spawn_piped(
        tokio::process::Command::new(crate::e2e::BIN).args(["--listen", "127.0.0.1:0"]),
        &[("JOBLET_MOCK_METRICS_INTERVAL", "0")],
        "spawn joblet-mock",
    );
    let out = within("joblet-mock refuses", child.wait_with_output())
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 1ms"));

    // A one-second interval on the virtual clock: a 3 s job has 4 samples.
    let mock = MockProcess::start(&["--metrics-interval", "1s", "--clock", "virtual"]).await;
    let mut jobs = JobServiceClient::new(channel(&mock.url()).await);
    let id = run_v2(&mut jobs, v2_cmd("sleep", &["3"])).await;
    wait_v2(&jobs, &id, "COMPLETED").await;
    assert_eq!(history(&mut jobs, &id).await.len(), 4);
}
