//! Log streams: every byte, in order, once; live following; several readers;
//! the end of the stream (JOB-LOGS-*).

use std::time::Duration;

use joblet_testkit::pb;
use tokio_stream::StreamExt;
use tonic::Code;

use crate::case;
use crate::case::Case;
use crate::check::{self, CaseResult, ensure, fail};
use crate::ctx::{Ctx, sh};

pub(crate) const CASES: &[Case] = &[
    case!(
        "jobs.logs.replays_whole_output_in_order",
        ["JOB-LOGS-1"],
        Must,
        Mutating,
        "After a job ends, GetJobLogs replays every byte it wrote, in order, once, and ends OK",
        logs_replay
    ),
    case!(
        "jobs.logs.follows_live_output_to_the_end",
        ["JOB-LOGS-1"],
        Must,
        Mutating,
        "A reader that starts while the job runs gets earlier and later output and the stream ends with the job",
        logs_live
    ),
    case!(
        "jobs.logs.stream_ends_when_the_job_is_stopped",
        ["JOB-LOGS-1", "JOB-STOP-1"],
        Must,
        Mutating,
        "A reader of a job that is stopped gets its output and the stream ends OK",
        logs_stopped
    ),
    case!(
        "jobs.logs.stream_ends_for_a_canceled_job",
        ["JOB-LOGS-1", "JOB-STOP-2"],
        Must,
        Mutating,
        "GetJobLogs of a CANCELED job ends OK",
        logs_canceled,
        quirks = ["QUIRK-10"]
    ),
    case!(
        "jobs.logs.several_readers_each_get_everything",
        ["JOB-LOGS-2"],
        Must,
        Mutating,
        "Three concurrent readers of one job each get the whole output",
        logs_readers
    ),
    case!(
        "jobs.logs.unknown_job_is_not_found",
        ["JOB-LOGS-3"],
        Must,
        ReadOnly,
        "GetJobLogs of an unknown job answers NOT_FOUND",
        logs_unknown
    ),
    case!(
        "jobs.logs.reader_that_leaves_costs_nothing",
        ["JOB-LOGS-3"],
        Should,
        Mutating,
        "A reader that leaves early does not hold the job up; a later reader gets everything",
        logs_leaver
    ),
];

/// `seq 1 N` as bytes.
fn seq(n: u32) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 1..=n {
        out.extend_from_slice(i.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

async fn logs_replay(cx: Ctx) -> CaseResult {
    let id = cx.start("seq", &["1", "50000"]).await?;
    let s = cx.wait_final(&id).await?;
    check::ensure_eq(
        &format!("GetJobStatus{{uuid: {id}}} of `seq 1 50000`"),
        "status",
        "COMPLETED",
        s.status.as_str(),
    )?;
    let log = cx.logs(&id).await?;
    check::ensure_bytes(
        &format!("GetJobLogs{{uuid: {id}}} of `seq 1 50000` after it ended"),
        &seq(50000),
        &log,
    )?;
    let short = cx.start("echo", &["-n", "no newline at the end"]).await?;
    cx.wait_final(&short).await?;
    let log = cx.logs(&short).await?;
    check::ensure_bytes(
        &format!("GetJobLogs{{uuid: {short}}} of `echo -n …`"),
        b"no newline at the end",
        &log,
    )
}

async fn logs_live(cx: Ctx) -> CaseResult {
    let script = "for i in 1 2 3 4 5 6; do echo \"line $i\"; sleep 0.2; done";
    let id = cx.run(sh(script)).await?.job_uuid;
    let call = format!("GetJobLogs{{uuid: {id}}} started while the job runs");
    let mut stream = check::ok(
        &call,
        cx.jobs()
            .get_job_logs(pb::GetJobLogsReq { uuid: id.clone() })
            .await,
    )?
    .into_inner();
    let mut got = Vec::new();
    let mut first_chunk_status = None;
    let read = async {
        while let Some(item) = stream.next().await {
            let chunk =
                item.map_err(|s| fail(&call, "the stream to end with OK", check::show_status(&s)))?;
            if first_chunk_status.is_none() && !chunk.payload.is_empty() {
                first_chunk_status = Some(cx.status(&id).await?.status);
            }
            got.extend_from_slice(&chunk.payload);
        }
        Ok::<_, check::CaseError>(())
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .map_err(|_| {
            fail(
                &call,
                "the stream to end once the job ended",
                "still open after 20 s",
            )
        })??;
    let want: Vec<u8> = (1..=6)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    check::ensure_bytes(&call, &want, &got)?;
    ensure(
        first_chunk_status.as_deref() == Some("RUNNING"),
        &call,
        "output while the job was still RUNNING (live following)",
        format!("first output when the job was {first_chunk_status:?}"),
    )?;
    let s = cx.status(&id).await?;
    check::ensure_eq(
        &format!("GetJobStatus{{uuid: {id}}} when its log stream ended"),
        "status",
        "COMPLETED",
        s.status.as_str(),
    )
}

async fn logs_stopped(cx: Ctx) -> CaseResult {
    let id = cx.run(sh("echo started; sleep 600")).await?.job_uuid;
    cx.wait_status(&id, &["RUNNING"]).await?;
    let reader = {
        let cx = cx.clone();
        let id = id.clone();
        tokio::spawn(async move { cx.logs_within(&id, Duration::from_secs(15)).await })
    };
    // Let the reader attach and receive the first line before stopping.
    tokio::time::sleep(Duration::from_millis(300)).await;
    cx.stop(&id).await?;
    let log = reader
        .await
        .map_err(|e| check::CaseError::Error(format!("log reader task: {e}")))??;
    check::ensure_bytes(
        &format!("GetJobLogs{{uuid: {id}}} of a job stopped while read"),
        b"started\n",
        &log,
    )
}

async fn logs_canceled(cx: Ctx) -> CaseResult {
    let id = cx.start_scheduled().await?;
    cx.stop(&id).await?;
    cx.wait_status(&id, &["CANCELED"]).await?;
    let log = cx.logs_within(&id, Duration::from_secs(5)).await?;
    check::ensure_bytes(
        &format!("GetJobLogs{{uuid: {id}}} of a CANCELED job"),
        b"",
        &log,
    )
}

async fn logs_readers(cx: Ctx) -> CaseResult {
    let script = "for i in $(seq 1 5); do seq 1 2000; sleep 0.1; done";
    let id = cx.run(sh(script)).await?.job_uuid;
    let mut readers = Vec::new();
    for _ in 0..3 {
        let cx = cx.clone();
        let id = id.clone();
        readers.push(tokio::spawn(async move { cx.logs(&id).await }));
    }
    let want: Vec<u8> = (0..5).flat_map(|_| seq(2000)).collect();
    for (n, r) in readers.into_iter().enumerate() {
        let log = r
            .await
            .map_err(|e| check::CaseError::Error(format!("log reader task: {e}")))??;
        check::ensure_bytes(
            &format!("GetJobLogs{{uuid: {id}}} reader {} of 3", n + 1),
            &want,
            &log,
        )?;
    }
    Ok(())
}

async fn logs_unknown(cx: Ctx) -> CaseResult {
    let id = uuid::Uuid::new_v4().to_string();
    let call = format!("GetJobLogs{{uuid: {id}}} (unknown)");
    match cx
        .jobs()
        .get_job_logs(pb::GetJobLogsReq { uuid: id.clone() })
        .await
    {
        Err(s) => {
            check::code::<()>(&call, Err(s), Code::NotFound)?;
            Ok(())
        }
        Ok(stream) => {
            // Some servers send the status with the first message of the stream.
            let mut stream = stream.into_inner();
            match tokio::time::timeout(Duration::from_secs(5), stream.next()).await {
                Ok(Some(Err(s))) => {
                    check::code::<()>(&call, Err(s), Code::NotFound)?;
                    Ok(())
                }
                Ok(Some(Ok(chunk))) => Err(fail(
                    &call,
                    "NOT_FOUND",
                    format!("a chunk of {} bytes", chunk.payload.len()),
                )),
                Ok(None) => Err(fail(&call, "NOT_FOUND", "an empty stream ending OK")),
                Err(_) => Err(fail(
                    &call,
                    "NOT_FOUND",
                    "an open stream with nothing in it after 5 s",
                )),
            }
        }
    }
}

async fn logs_leaver(cx: Ctx) -> CaseResult {
    let id = cx.start("seq", &["1", "300000"]).await?;
    {
        let call = format!("GetJobLogs{{uuid: {id}}} (a reader that leaves after one chunk)");
        let mut stream = check::ok(
            &call,
            cx.jobs()
                .get_job_logs(pb::GetJobLogsReq { uuid: id.clone() })
                .await,
        )?
        .into_inner();
        let first = tokio::time::timeout(Duration::from_secs(10), stream.next()).await;
        ensure(
            matches!(first, Ok(Some(Ok(_)))),
            &call,
            "a first chunk",
            format!("{first:?}"),
        )?;
    } // dropped: the reader leaves
    let s = cx
        .wait_status_for(&id, crate::status::FINAL, Duration::from_secs(20))
        .await?;
    check::ensure_eq(
        &format!("GetJobStatus{{uuid: {id}}} after a reader left"),
        "status",
        "COMPLETED",
        s.status.as_str(),
    )?;
    let log = cx.logs(&id).await?;
    check::ensure_bytes(
        &format!("GetJobLogs{{uuid: {id}}} after another reader left"),
        &seq(300000),
        &log,
    )
}
