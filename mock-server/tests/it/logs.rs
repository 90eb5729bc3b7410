//! GetJobLogs (JOB-LOGS-1..3): replay, follow, end; fan-out; readers that leave.

use std::time::{Duration, Instant};

use futures::StreamExt;
use joblet_mock::MockServer;
use joblet_testkit::pb;
use tonic::Code;

use crate::support::*;

/// The next chunk of a stream (bounded by `patience`), `None` at its end.
async fn next_chunk(stream: &mut tonic::Streaming<pb::DataChunk>) -> Option<Vec<u8>> {
    within("the next log chunk", stream.next())
        .await
        .map(|c| c.expect("log stream chunk").payload.to_vec())
}

#[tokio::test]
async fn job_logs_1_replay_after_the_job_ended() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let id = run(&mut jobs, cmd("seq", &["1", "200000"])).await.job_uuid;
    assert_eq!(wait_final(&jobs, &id).await.status, "COMPLETED");
    let want = seq_text(200_000);
    assert_same_text(&logs(&mut jobs, &id).await, want.as_bytes(), "replay");
    // Replays are repeatable.
    assert_same_text(
        &logs(&mut jobs, &id).await,
        want.as_bytes(),
        "second replay",
    );

    // A failed job's log replays and ends too.
    let (st, log) = run_to_end(&mut jobs, sh("echo oops; exit 2")).await;
    assert_eq!((st.status.as_str(), log.as_str()), ("FAILED", "oops\n"));
    assert_eq!(logs_text(&mut jobs, &st.uuid).await, "oops\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_logs_1_follow_while_running_bytes_in_order() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let id = run(&mut jobs, cmd("seq", &["1", "200000"])).await.job_uuid;
    // Attached at once: whatever was written is replayed, the rest followed.
    let got = logs(&mut jobs, &id).await;
    assert_same_text(&got, seq_text(200_000).as_bytes(), "followed log");
    // The stream ended because the job ended.
    assert_eq!(status(&mut jobs, &id).await.status, "COMPLETED");
}

#[tokio::test]
async fn job_logs_1_live_output_arrives_before_the_job_ends() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let id = run(&mut jobs, sh("echo first; sleep 1; echo second"))
        .await
        .job_uuid;
    let mut stream = open_logs(&mut jobs, &id).await;
    let first = next_chunk(&mut stream).await.expect("a first chunk");
    assert_eq!(first, b"first\n");
    assert_eq!(
        status(&mut jobs, &id).await.status,
        "RUNNING",
        "followed live, not after the end"
    );
    let rest = read_to_end(stream).await;
    assert_eq!(rest, b"second\n");
    assert_eq!(status(&mut jobs, &id).await.status, "COMPLETED");
}

#[tokio::test]
async fn job_logs_1_ends_when_stopped_or_canceled() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;

    // STOPPED.
    let id = run(&mut jobs, sh("echo a; sleep 30; echo b"))
        .await
        .job_uuid;
    let mut stream = open_logs(&mut jobs, &id).await;
    assert_eq!(next_chunk(&mut stream).await.as_deref(), Some(&b"a\n"[..]));
    let ending = tokio::spawn(read_to_end(stream));
    jobs.stop_job(pb::StopJobReq { uuid: id.clone() })
        .await
        .unwrap();
    assert_eq!(
        within("the stream of a stopped job ends", ending)
            .await
            .unwrap(),
        b""
    );
    assert_eq!(
        logs_text(&mut jobs, &id).await,
        "a\n",
        "replay after the stop ends too"
    );

    // CANCELED (by CancelJob and by StopJob) while a reader waits.
    for by_stop in [false, true] {
        let id = run(&mut jobs, scheduled(cmd("echo", &["never"]), 3600))
            .await
            .job_uuid;
        let stream = open_logs(&mut jobs, &id).await;
        let ending = tokio::spawn(read_to_end(stream));
        if by_stop {
            let r = jobs
                .stop_job(pb::StopJobReq { uuid: id.clone() })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(r.status, "CANCELED");
        } else {
            jobs.cancel_job(pb::CancelJobReq { uuid: id.clone() })
                .await
                .unwrap();
        }
        assert_eq!(
            within("the stream of a canceled job ends", ending)
                .await
                .unwrap(),
            b""
        );
        assert_eq!(
            logs(&mut jobs, &id).await,
            b"",
            "opened after the cancel: ends at once"
        );
    }
}

#[tokio::test]
async fn job_logs_1_scheduled_job_stream_waits_then_follows() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let due = whole_second_ahead(300);
    let req = pb::RunJobRequest {
        schedule: due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ..sh("echo one; echo two")
    };
    let r = run(&mut jobs, req).await;
    assert_eq!(r.status, "SCHEDULED");
    let log = logs_text(&mut jobs, &r.job_uuid).await;
    assert_eq!(log, "one\ntwo\n");
    assert_eq!(status(&mut jobs, &r.job_uuid).await.status, "COMPLETED");
}

/// Regression: a large streamed output arrives complete and in order through a
/// gRPC client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_logs_1_seq_1000000_streams_complete_and_in_order() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let id = run(&mut jobs, cmd("seq", &["1000000"])).await.job_uuid;
    let got = logs(&mut jobs, &id).await;
    assert_same_text(&got, seq_text(1_000_000).as_bytes(), "seq 1000000");
    assert_eq!(wait_final(&jobs, &id).await.status, "COMPLETED");
}

/// The SDK's streaming example (`examples/streaming_counter.py`), 20 ticks
/// instead of 600: every line, in the example's format, arriving as written.
#[tokio::test]
async fn job_logs_1_sdk_streaming_counter_arrives_live() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let script = r#"
        for i in $(seq 1 20); do
            echo "Counter: $i - Time: $(date +%H:%M:%S.%3N)"
            sleep 0.1
        done
        echo "Completed 60 seconds of counting!"
        "#;
    let req = pb::RunJobRequest {
        name: "streaming-counter-job".into(),
        ..cmd("bash", &["-c", script])
    };
    let id = run(&mut jobs, req).await.job_uuid;
    let mut stream = open_logs(&mut jobs, &id).await;
    let mut text = Vec::new();
    let mut first_at = None;
    let all = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.expect("log chunk");
            if first_at.is_none() && !chunk.payload.is_empty() {
                first_at = Some(Instant::now());
            }
            text.extend_from_slice(&chunk.payload);
        }
    };
    within("the counter job's log", all).await;
    let ended_at = Instant::now();
    let text = String::from_utf8(text).expect("UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 21, "{text}");
    for (i, line) in lines[..20].iter().enumerate() {
        let rest = line
            .strip_prefix(&format!("Counter: {} - Time: ", i + 1))
            .unwrap_or_else(|| panic!("line {i}: {line:?}"));
        let b = rest.as_bytes();
        let shape_ok = b.len() == 12
            && b.iter().enumerate().all(|(k, c)| match k {
                2 | 5 => *c == b':',
                8 => *c == b'.',
                _ => c.is_ascii_digit(),
            });
        assert!(shape_ok, "HH:MM:SS.mmm expected in {line:?}");
    }
    assert_eq!(lines[20], "Completed 60 seconds of counting!");
    let spread = ended_at - first_at.expect("some output");
    assert!(
        spread >= Duration::from_millis(1500),
        "lines should arrive as they are written (first line {spread:?} before the end)"
    );
    let st = wait_final(&jobs, &id).await;
    assert_eq!((st.status.as_str(), st.exit_code), ("COMPLETED", 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn job_logs_2_several_readers_each_get_everything() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let id = run(&mut jobs, cmd("seq", &["1", "100000"])).await.job_uuid;
    let want = seq_text(100_000);
    let mut readers = Vec::new();
    for _ in 0..5 {
        // Each reader on its own connection.
        let mut client = jobs_at(&mock.url()).await;
        let id = id.clone();
        readers.push(tokio::spawn(async move { logs(&mut client, &id).await }));
    }
    // And several streams multiplexed on one connection.
    for _ in 0..3 {
        let mut client = jobs.clone();
        let id = id.clone();
        readers.push(tokio::spawn(async move { logs(&mut client, &id).await }));
    }
    for (i, r) in readers.into_iter().enumerate() {
        let got = r.await.expect("reader task");
        assert_same_text(&got, want.as_bytes(), &format!("reader {i}"));
    }
    // A late reader gets the whole history as well.
    assert_same_text(&logs(&mut jobs, &id).await, want.as_bytes(), "late reader");
    assert_eq!(log_buffer(&mock, &id).reader_count(), 0);
}

#[tokio::test]
async fn job_logs_3_unknown_job_not_found() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let e = jobs
        .get_job_logs(pb::GetJobLogsReq {
            uuid: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    let (st, _) = run_to_end(&mut jobs, cmd("echo", &["x"])).await;
    jobs.delete_job(pb::DeleteJobReq {
        uuid: st.uuid.clone(),
    })
    .await
    .unwrap();
    let e = jobs
        .get_job_logs(pb::GetJobLogsReq { uuid: st.uuid })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "deleted job: {e:?}");
}

#[tokio::test]
async fn job_logs_3_waiting_reader_that_disconnects_is_released() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    // A scheduled job: its readers wait, with nothing to read yet.
    let id = run(&mut jobs, scheduled(cmd("echo", &["later"]), 3600))
        .await
        .job_uuid;
    let buffer = log_buffer(&mock, &id);
    let streams = [
        open_logs(&mut jobs, &id).await,
        open_logs(&mut jobs, &id).await,
    ];
    eventually("both readers attached", || async {
        (buffer.reader_count() == 2).then_some(())
    })
    .await;
    drop(streams);
    eventually("waiting readers are released", || async {
        (buffer.reader_count() == 0).then_some(())
    })
    .await;
    assert_eq!(status(&mut jobs, &id).await.status, "SCHEDULED");
}

#[tokio::test]
async fn job_logs_3_reader_that_disconnects_is_released() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let id = run(&mut jobs, sh("echo hi; sleep 30")).await.job_uuid;
    let buffer = log_buffer(&mock, &id);

    // A stream dropped mid-way (the connection stays up).
    let mut stream = open_logs(&mut jobs, &id).await;
    assert_eq!(next_chunk(&mut stream).await.as_deref(), Some(&b"hi\n"[..]));
    assert_eq!(buffer.reader_count(), 1);
    drop(stream);
    eventually("the dropped reader is released", || async {
        (buffer.reader_count() == 0).then_some(())
    })
    .await;

    // A whole client connection that goes away mid-stream.
    let mut other = jobs_at(&mock.url()).await;
    let mut stream = open_logs(&mut other, &id).await;
    assert_eq!(next_chunk(&mut stream).await.as_deref(), Some(&b"hi\n"[..]));
    assert_eq!(buffer.reader_count(), 1);
    drop(stream);
    drop(other);
    eventually("the disconnected reader is released", || async {
        (buffer.reader_count() == 0).then_some(())
    })
    .await;

    // The job is unaffected.
    assert_eq!(status(&mut jobs, &id).await.status, "RUNNING");
    jobs.stop_job(pb::StopJobReq { uuid: id.clone() })
        .await
        .unwrap();
    assert_eq!(logs_text(&mut jobs, &id).await, "hi\n");
}

/// A reader that stops reading and leaves must not hold the job back (the log
/// back-pressures writers only for attached readers) nor keep memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_logs_3_departed_slow_reader_does_not_block_the_job() {
    let retention = 64 * 1024;
    let mock = start_with(MockServer::builder().log_retention_bytes(retention)).await;
    let mut jobs = jobs(&mock).await;
    let id = run(&mut jobs, sh("yes | head -n 1000000")).await.job_uuid;
    let buffer = log_buffer(&mock, &id);
    let mut stream = open_logs(&mut jobs, &id).await;
    assert!(
        next_chunk(&mut stream)
            .await
            .is_some_and(|c| c.starts_with(b"y\n"))
    );
    drop(stream);
    let st = wait_final(&jobs, &id).await;
    assert_eq!(st.status, "COMPLETED");
    assert_eq!(buffer.reader_count(), 0);
    assert_eq!(buffer.total_written(), 2_000_000);
    assert!(
        buffer.retained_bytes() <= retention as u64,
        "{} bytes kept",
        buffer.retained_bytes()
    );
}

/// A log that would not end soon (a scheduled job's) ends with UNAVAILABLE when
/// the server begins shutting down, instead of holding the shutdown up.
#[tokio::test]
async fn job_logs_1_open_streams_end_unavailable_on_shutdown() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let id = run(&mut jobs, scheduled(cmd("echo", &["later"]), 3600))
        .await
        .job_uuid;
    let mut stream = open_logs(&mut jobs, &id).await;
    eventually("the reader is attached", || async {
        (log_buffer(&mock, &id).reader_count() == 1).then_some(())
    })
    .await;
    mock.shared().begin_shutdown();
    let end = within("the stream ends", stream.next()).await;
    let err = end
        .expect("an error item")
        .expect_err("UNAVAILABLE, not data");
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    eventually("the reader is released", || async {
        (log_buffer(&mock, &id).reader_count() == 0).then_some(())
    })
    .await;
}
