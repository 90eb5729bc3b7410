//! Job metrics (JOB-METRICS-1..3) and telematics (JOB-TELEM-1..4), with the
//! `pb::v2` messages.

use std::time::Duration;

use joblet_testkit::pb::v2;
use joblet_testkit::pb::v2::telematics_event::Data;
use tokio_stream::StreamExt;
use tonic::Code;

use super::client::{code_message, drain_ok, job2, jobs2, run2, stream_status};
use crate::case;
use crate::case::Case;
use crate::check::{self, CaseResult, ensure, ensure_eq, fail, show_status};
use crate::ctx::Ctx;

pub(crate) const CASES: &[Case] = &[
    case!(
        "jobs.metrics.history_then_live_samples_until_the_end",
        ["JOB-METRICS-1", "JOB-METRICS-2", "JOB-METRICS-3"],
        Must,
        Mutating,
        "StreamJobMetrics of a running job sends its first sample at once, then a later one live, every field in range; GetJobMetrics limit 1 keeps the first; StopJob ends the stream with OK",
        metrics_live,
        contracts = [V2]
    ),
    case!(
        "jobs.metrics.finished_job_sends_its_history_then_ok",
        ["JOB-METRICS-1", "JOB-METRICS-2"],
        Must,
        Mutating,
        "StreamJobMetrics of a finished job (max_memory 64) sends its samples (the job's UUID, memory_limit 64 MiB, increasing timestamps), then ends with OK",
        metrics_finished,
        quirks_v2 = ["QUIRK-18"],
        contracts = [V2]
    ),
    case!(
        "jobs.metrics.empty_and_unknown_ids",
        ["JOB-METRICS-2", "JOB-METRICS-3", "ALL-4"],
        Must,
        ReadOnly,
        "An empty job_uuid answers INVALID_ARGUMENT \"job_uuid is required\"; an unknown job: StreamJobMetrics NOT_FOUND \"job not found: <id>\", GetJobMetrics an empty stream and OK",
        metrics_bad_ids,
        contracts = [V2]
    ),
    case!(
        "jobs.metrics.get_is_history_with_range_and_limit",
        ["JOB-METRICS-3"],
        Must,
        Mutating,
        "GetJobMetrics of a running job sends its history and ends with OK; the time range is inclusive; limit keeps the oldest; a negative limit is INVALID_ARGUMENT naming limit",
        metrics_get,
        contracts = [V2]
    ),
    case!(
        "jobs.telematics.events_have_their_type_and_payload",
        ["JOB-TELEM-1", "JOB-TELEM-4"],
        Must,
        Mutating,
        "GetJobTelematics of a finished job: each event has a timestamp, the job's UUID, one of the seven types and exactly that data member; the job's command is an exec event; timestamps in order",
        telem_events,
        contracts = [V2]
    ),
    case!(
        "jobs.telematics.types_filter",
        ["JOB-TELEM-2"],
        Must,
        Mutating,
        "types [exec] keeps exec events only; [] and unknown strings keep all; [metrics] matches nothing; none of them is an error",
        telem_filter,
        contracts = [V2]
    ),
    case!(
        "jobs.telematics.stream_history_then_live_until_the_end",
        ["JOB-TELEM-3"],
        Must,
        Mutating,
        "StreamJobTelematics: empty job_uuid INVALID_ARGUMENT, unknown NOT_FOUND; a finished job's history then OK; a running job's history, then the end with OK once it is stopped",
        telem_stream,
        contracts = [V2]
    ),
    case!(
        "jobs.telematics.get_with_limit_and_unknown_job",
        ["JOB-TELEM-4"],
        Must,
        Mutating,
        "GetJobTelematics: limit caps the whole answer, a negative limit is INVALID_ARGUMENT naming limit, an unknown job is an empty stream and OK",
        telem_get,
        quirks_v2 = ["QUIRK-19"],
        contracts = [V2]
    ),
];

const TYPES: [&str; 7] = [
    "exec",
    "connect",
    "accept",
    "file",
    "mmap",
    "mprotect",
    "socket_data",
];

fn check_sample(call: &str, s: &v2::JobMetricsEvent, id: &str) -> CaseResult {
    ensure_eq(call, "job_uuid", id, s.job_uuid.as_str())?;
    ensure(
        s.timestamp > 1_577_836_800_000_000_000,
        call,
        "timestamp in Unix nanoseconds",
        s.timestamp,
    )?;
    for (what, v) in [
        ("cpu_percent", s.cpu_percent),
        ("gpu_percent", s.gpu_percent),
    ] {
        ensure(
            (0.0..=100.0).contains(&v),
            call,
            format!("{what} in 0..100"),
            format!("{what} {v}"),
        )?;
    }
    for (what, v) in [
        ("memory_bytes", s.memory_bytes),
        ("memory_limit", s.memory_limit),
        ("disk_read_bytes", s.disk_read_bytes),
        ("disk_write_bytes", s.disk_write_bytes),
        ("net_recv_bytes", s.net_recv_bytes),
        ("net_sent_bytes", s.net_sent_bytes),
        ("gpu_memory_bytes", s.gpu_memory_bytes),
    ] {
        ensure(v >= 0, call, format!("{what} >= 0"), format!("{what} {v}"))?;
    }
    Ok(())
}

fn increasing(call: &str, stamps: &[i64]) -> CaseResult {
    ensure(
        stamps.windows(2).all(|w| w[0] < w[1]),
        call,
        "increasing timestamps",
        format!("{stamps:?}"),
    )
}

async fn metrics_live(cx: Ctx) -> CaseResult {
    let id = cx.start_long().await?;
    let call = format!("StreamJobMetrics{{job_uuid: {id}}} of a running job");
    let mut stream = check::ok(
        &call,
        jobs2(&cx)
            .stream_job_metrics(v2::StreamJobMetricsRequest {
                job_uuid: id.clone(),
            })
            .await,
    )?
    .into_inner();
    let mut samples = Vec::new();
    // The first sample (taken at start) at once, a live one within 2 intervals.
    for within in [Duration::from_secs(5), Duration::from_secs(12)] {
        match tokio::time::timeout(within, stream.next()).await {
            Ok(Some(Ok(s))) => {
                check_sample(&call, &s, &id)?;
                samples.push(s.timestamp);
            }
            Ok(Some(Err(s))) => return Err(fail(&call, "samples", show_status(&s))),
            Ok(None) => return Err(fail(&call, "samples while the job runs", "the end")),
            Err(_) => {
                return Err(fail(
                    &call,
                    format!("sample {} within {within:?}", samples.len() + 1),
                    "nothing",
                ));
            }
        }
    }
    increasing(&call, &samples)?;
    // Two samples now: GetJobMetrics' limit keeps the oldest (JOB-METRICS-3).
    let got = get_metrics(
        &cx,
        v2::GetJobMetricsRequest {
            job_uuid: id.clone(),
            limit: 1,
            ..Default::default()
        },
    )
    .await?;
    let stamps: Vec<i64> = got.iter().map(|s| s.timestamp).collect();
    ensure_eq(
        &format!("GetJobMetrics{{job_uuid: {id}, limit: 1}} of a job with 2 samples"),
        "timestamps",
        &samples[..1],
        &stamps[..],
    )?;
    cx.stop(&id).await?;
    let (_, end) = super::client::drain(&call, stream, Duration::from_secs(5)).await?;
    end.map_err(|s| fail(&call, "the end with OK after StopJob", show_status(&s)))
}

async fn metrics_finished(cx: Ctx) -> CaseResult {
    let mut req = job2("echo", &["sampled"]);
    req.max_memory = 64;
    let id = run2(&cx, req).await?;
    cx.wait_final(&id).await?;
    let call = format!("StreamJobMetrics{{job_uuid: {id}}} of a finished job");
    let samples = drain_ok(
        &call,
        jobs2(&cx)
            .stream_job_metrics(v2::StreamJobMetricsRequest {
                job_uuid: id.clone(),
            })
            .await,
        Duration::from_secs(5),
    )
    .await?;
    ensure(
        !samples.is_empty(),
        &call,
        "the sample taken at start",
        "none",
    )?;
    for s in &samples {
        check_sample(&call, s, &id)?;
        ensure_eq(
            &call,
            "memory_limit (max_memory 64 MB in bytes)",
            &(64 << 20),
            &s.memory_limit,
        )?;
    }
    let stamps: Vec<i64> = samples.iter().map(|s| s.timestamp).collect();
    increasing(&call, &stamps)
}

async fn metrics_bad_ids(cx: Ctx) -> CaseResult {
    let mut jobs = jobs2(&cx);
    let r = stream_status(
        jobs.stream_job_metrics(v2::StreamJobMetricsRequest::default())
            .await,
    )
    .await;
    code_message(
        "StreamJobMetrics{job_uuid: \"\"}",
        r,
        Code::InvalidArgument,
        "job_uuid is required",
    )?;
    let r = stream_status(
        jobs.get_job_metrics(v2::GetJobMetricsRequest::default())
            .await,
    )
    .await;
    code_message(
        "GetJobMetrics{job_uuid: \"\"}",
        r,
        Code::InvalidArgument,
        "job_uuid is required",
    )?;
    let unknown = uuid::Uuid::new_v4().to_string();
    let r = stream_status(
        jobs.stream_job_metrics(v2::StreamJobMetricsRequest {
            job_uuid: unknown.clone(),
        })
        .await,
    )
    .await;
    code_message(
        &format!("StreamJobMetrics{{job_uuid: {unknown}}} (unknown)"),
        r,
        Code::NotFound,
        &format!("job not found: {unknown}"),
    )?;
    let call = format!("GetJobMetrics{{job_uuid: {unknown}}} (unknown)");
    let got = drain_ok(
        &call,
        jobs.get_job_metrics(v2::GetJobMetricsRequest {
            job_uuid: unknown.clone(),
            ..Default::default()
        })
        .await,
        Duration::from_secs(5),
    )
    .await?;
    ensure(
        got.is_empty(),
        &call,
        "an empty stream",
        format!("{} samples", got.len()),
    )
}

async fn get_metrics(
    cx: &Ctx,
    req: v2::GetJobMetricsRequest,
) -> CaseResult<Vec<v2::JobMetricsEvent>> {
    let call = format!(
        "GetJobMetrics{{job_uuid: {}, start_time: {}, end_time: {}, limit: {}}}",
        req.job_uuid, req.start_time, req.end_time, req.limit
    );
    drain_ok(
        &call,
        jobs2(cx).get_job_metrics(req).await,
        Duration::from_secs(5),
    )
    .await
}

async fn metrics_get(cx: Ctx) -> CaseResult {
    let id = cx.start_long().await?;
    let all = get_metrics(
        &cx,
        v2::GetJobMetricsRequest {
            job_uuid: id.clone(),
            ..Default::default()
        },
    )
    .await?;
    let call = format!("GetJobMetrics{{job_uuid: {id}}} of a running job");
    let first = all
        .first()
        .ok_or_else(|| fail(&call, "the sample taken at start", "no sample"))?
        .clone();
    check_sample(&call, &first, &id)?;
    let range = |start_time, end_time, limit| v2::GetJobMetricsRequest {
        job_uuid: id.clone(),
        start_time,
        end_time,
        limit,
    };
    let got = get_metrics(&cx, range(first.timestamp, first.timestamp, 0)).await?;
    ensure_eq(
        &format!(
            "GetJobMetrics{{start_time = end_time = {}}} (inclusive)",
            first.timestamp
        ),
        "samples",
        &[first.clone()][..],
        &got[..],
    )?;
    let got = get_metrics(&cx, range(0, first.timestamp - 1, 0)).await?;
    ensure(
        got.is_empty(),
        "GetJobMetrics{end_time before the first sample}",
        "no sample",
        format!("{} samples", got.len()),
    )?;
    let got = get_metrics(&cx, range(0, 0, 1)).await?;
    ensure_eq("GetJobMetrics{limit: 1}", "samples", &[first][..], &got[..])?;
    let r = stream_status(jobs2(&cx).get_job_metrics(range(0, 0, -1)).await).await;
    check::code_naming(
        "GetJobMetrics{limit: -1}",
        r,
        Code::InvalidArgument,
        &["limit"],
    )?;
    Ok(())
}

/// A script whose telematics are known: `sh` runs `ls` and writes a file.
fn script_job() -> v2::RunJobRequest {
    job2("sh", &["-c", "ls / > /dev/null; echo x > cf-telem.txt"])
}

async fn get_telem(
    cx: &Ctx,
    req: v2::GetJobTelematicsRequest,
) -> CaseResult<Vec<v2::TelematicsEvent>> {
    let call = format!(
        "GetJobTelematics{{job_uuid: {}, types: {:?}, limit: {}}}",
        req.job_uuid, req.types, req.limit
    );
    drain_ok(
        &call,
        jobs2(cx).get_job_telematics(req).await,
        Duration::from_secs(5),
    )
    .await
}

fn of(id: &str, types: &[&str]) -> v2::GetJobTelematicsRequest {
    v2::GetJobTelematicsRequest {
        job_uuid: id.into(),
        types: types.iter().map(|t| (*t).to_owned()).collect(),
        ..Default::default()
    }
}

fn data_type(d: &Data) -> &'static str {
    match d {
        Data::Exec(_) => "exec",
        Data::Connect(_) => "connect",
        Data::Accept(_) => "accept",
        Data::File(_) => "file",
        Data::Mmap(_) => "mmap",
        Data::Mprotect(_) => "mprotect",
        Data::SocketData(_) => "socket_data",
    }
}

fn check_event(call: &str, e: &v2::TelematicsEvent, id: &str) -> CaseResult {
    ensure_eq(call, "job_uuid", id, e.job_uuid.as_str())?;
    ensure(
        e.timestamp > 1_577_836_800_000_000_000,
        call,
        "timestamp in Unix nanoseconds",
        e.timestamp,
    )?;
    ensure(
        TYPES.contains(&e.r#type.as_str()),
        call,
        "type one of the seven",
        format!("type {:?}", e.r#type),
    )?;
    let member = e.data.as_ref().map(data_type);
    ensure_eq(
        call,
        "the data member set",
        &Some(e.r#type.as_str()),
        &member,
    )
}

async fn telem_events(cx: Ctx) -> CaseResult {
    let id = run2(&cx, script_job()).await?;
    cx.wait_final(&id).await?;
    let events = get_telem(&cx, of(&id, &[])).await?;
    let call = format!(
        "GetJobTelematics{{job_uuid: {id}}} of `sh -c 'ls / > /dev/null; echo x > cf-telem.txt'`"
    );
    for e in &events {
        check_event(&call, e, &id)?;
    }
    let stamps: Vec<i64> = events.iter().map(|e| e.timestamp).collect();
    ensure(
        stamps.windows(2).all(|w| w[0] <= w[1]),
        &call,
        "events in timestamp order",
        format!("{stamps:?}"),
    )?;
    let own = events.iter().any(|e| {
        matches!(&e.data, Some(Data::Exec(x)) if x.binary.ends_with("/sh") && x.args.first().map(String::as_str) == Some("-c"))
    });
    ensure(
        own,
        &call,
        "an exec event of the job's command (binary …/sh, args -c …)",
        format!("{} events", events.len()),
    )
}

async fn telem_filter(cx: Ctx) -> CaseResult {
    let id = run2(&cx, script_job()).await?;
    cx.wait_final(&id).await?;
    let all = get_telem(&cx, of(&id, &[])).await?;
    let exec = get_telem(&cx, of(&id, &["exec"])).await?;
    let call = format!("GetJobTelematics{{job_uuid: {id}, types: [exec]}}");
    ensure(!exec.is_empty(), &call, "the exec events", "none")?;
    let want: Vec<&v2::TelematicsEvent> = all.iter().filter(|e| e.r#type == "exec").collect();
    let got: Vec<&v2::TelematicsEvent> = exec.iter().collect();
    ensure_eq(&call, "events", &want, &got)?;
    let unknown = get_telem(&cx, of(&id, &["no-such-type"])).await?;
    ensure_eq(
        &format!("GetJobTelematics{{job_uuid: {id}, types: [no-such-type]}}"),
        "events (all, as without a filter)",
        &all,
        &unknown,
    )?;
    let metrics = get_telem(&cx, of(&id, &["metrics"])).await?;
    ensure(
        metrics.is_empty(),
        &format!("GetJobTelematics{{job_uuid: {id}, types: [metrics]}}"),
        "no event",
        format!("{} events", metrics.len()),
    )?;
    let upper = get_telem(&cx, of(&id, &["EXEC"])).await?;
    ensure_eq(
        &format!("GetJobTelematics{{job_uuid: {id}, types: [EXEC]}} (case-sensitive: unknown)"),
        "events (all)",
        &all,
        &upper,
    )
}

async fn telem_stream(cx: Ctx) -> CaseResult {
    let mut jobs = jobs2(&cx);
    let r = stream_status(
        jobs.stream_job_telematics(v2::StreamJobTelematicsRequest::default())
            .await,
    )
    .await;
    code_message(
        "StreamJobTelematics{job_uuid: \"\"}",
        r,
        Code::InvalidArgument,
        "job_uuid is required",
    )?;
    let unknown = uuid::Uuid::new_v4().to_string();
    let r = stream_status(
        jobs.stream_job_telematics(v2::StreamJobTelematicsRequest {
            job_uuid: unknown.clone(),
            types: vec![],
        })
        .await,
    )
    .await;
    code_message(
        &format!("StreamJobTelematics{{job_uuid: {unknown}}} (unknown)"),
        r,
        Code::NotFound,
        &format!("job not found: {unknown}"),
    )?;
    // A finished job: the history (as GetJobTelematics sends it), then OK.
    let id = run2(&cx, script_job()).await?;
    cx.wait_final(&id).await?;
    let history = get_telem(&cx, of(&id, &[])).await?;
    let call = format!("StreamJobTelematics{{job_uuid: {id}}} of a finished job");
    let streamed = drain_ok(
        &call,
        jobs.stream_job_telematics(v2::StreamJobTelematicsRequest {
            job_uuid: id.clone(),
            types: vec![],
        })
        .await,
        Duration::from_secs(5),
    )
    .await?;
    ensure_eq(&call, "events (the history)", &history, &streamed)?;
    // A running job: its exec event, then the end once it is stopped.
    let id = cx.start_long().await?;
    let call = format!("StreamJobTelematics{{job_uuid: {id}, types: [exec]}} of a running job");
    let mut stream = check::ok(
        &call,
        jobs.stream_job_telematics(v2::StreamJobTelematicsRequest {
            job_uuid: id.clone(),
            types: vec!["exec".into()],
        })
        .await,
    )?
    .into_inner();
    match tokio::time::timeout(Duration::from_secs(5), stream.next()).await {
        Ok(Some(Ok(e))) => check_event(&call, &e, &id)?,
        Ok(Some(Err(s))) => return Err(fail(&call, "the job's exec event", show_status(&s))),
        Ok(None) => return Err(fail(&call, "the job's exec event", "the end")),
        Err(_) => return Err(fail(&call, "the job's exec event within 5 s", "nothing")),
    }
    cx.stop(&id).await?;
    let (rest, end) = super::client::drain(&call, stream, Duration::from_secs(5)).await?;
    end.map_err(|s| fail(&call, "the end with OK after StopJob", show_status(&s)))?;
    ensure(
        rest.iter().all(|e| e.r#type == "exec"),
        &call,
        "exec events only",
        format!("{rest:?}"),
    )
}

async fn telem_get(cx: Ctx) -> CaseResult {
    let id = run2(&cx, script_job()).await?;
    cx.wait_final(&id).await?;
    let all = get_telem(&cx, of(&id, &[])).await?;
    let call = format!("GetJobTelematics{{job_uuid: {id}}}");
    ensure(
        all.len() >= 2,
        &call,
        "at least 2 events (sh, ls)",
        format!("{} events", all.len()),
    )?;
    let mut req = of(&id, &[]);
    req.limit = 1;
    let one = get_telem(&cx, req.clone()).await?;
    ensure_eq(
        &format!("GetJobTelematics{{job_uuid: {id}, limit: 1}}"),
        "events (the oldest one)",
        &all[..1],
        &one[..],
    )?;
    req.limit = -1;
    let r = stream_status(jobs2(&cx).get_job_telematics(req).await).await;
    check::code_naming(
        "GetJobTelematics{limit: -1}",
        r,
        Code::InvalidArgument,
        &["limit"],
    )?;
    let unknown = uuid::Uuid::new_v4().to_string();
    let got = get_telem(&cx, of(&unknown, &[])).await?;
    ensure(
        got.is_empty(),
        &format!("GetJobTelematics{{job_uuid: {unknown}}} (unknown)"),
        "an empty stream and OK",
        format!("{} events", got.len()),
    )?;
    let r = stream_status(jobs2(&cx).get_job_telematics(of("", &[])).await).await;
    code_message(
        "GetJobTelematics{job_uuid: \"\"}",
        r,
        Code::InvalidArgument,
        "job_uuid is required",
    )
}
