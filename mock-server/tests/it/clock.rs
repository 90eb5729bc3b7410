//! The virtual clock (`--clock virtual|manual`): scheduled jobs and sleeps pass
//! without waiting, and every time on the wire follows the clock.

use std::time::Duration;

use chrono::DateTime;
use joblet_mock::{ClockMode, MockConfig, MockServer};

use crate::support::*;

fn secs(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap_or_else(|e| panic!("{rfc3339:?}: {e}"))
        .timestamp()
}

fn with_clock(clock: ClockMode) -> MockConfig {
    MockConfig {
        clock,
        ..MockConfig::default()
    }
}

/// JOB-RUN-5 under the virtual clock: a job scheduled an hour ahead starts at
/// its scheduled time and a 10-minute sleep takes 10 minutes, of virtual time.
#[tokio::test]
async fn virtual_clock_runs_an_hour_ahead_schedule_and_long_sleeps_job_run_5() {
    let mock = start_with(MockServer::builder().config(with_clock(ClockMode::Virtual))).await;
    let mut jobs = jobs(&mock).await;
    let t0 = mock.shared().clock.now_secs();
    let req = scheduled(sh("echo start; sleep 600; echo done"), 3600);
    let job = run(&mut jobs, req).await;
    let done = wait_final(&jobs, &job.job_uuid).await;
    assert_eq!(done.status, "COMPLETED", "{done:?}");
    let scheduled_at = secs(&done.scheduled_time);
    assert!((scheduled_at - (t0 + 3600)).abs() <= 1, "{done:?}");
    // The job ran from its scheduled time for the 600 s of its sleep.
    assert_eq!(secs(&done.end_time) - scheduled_at, 600, "{done:?}");
    assert!(mock.shared().clock.now_secs() >= t0 + 4200);
    assert_eq!(logs_text(&mut jobs, &job.job_uuid).await, "start\ndone\n");
}

/// Independent sleeps interleave in order of due time, as in real time.
#[tokio::test]
async fn virtual_clock_fires_timers_in_due_order() {
    let mock = start_with(MockServer::builder().config(with_clock(ClockMode::Virtual))).await;
    let mut jobs = jobs(&mock).await;
    let script = "for i in 1 2 3; do sleep 100; echo \"$(date +%s) tick $i\"; done";
    let slow = run(&mut jobs, sh(script)).await.job_uuid;
    let fast = run(&mut jobs, sh("sleep 150; date +%s")).await.job_uuid;
    let slow_done = wait_final(&jobs, &slow).await;
    let fast_done = wait_final(&jobs, &fast).await;
    assert_eq!(slow_done.status, "COMPLETED");
    assert_eq!(fast_done.status, "COMPLETED");
    let ticks: Vec<i64> = logs_text(&mut jobs, &slow)
        .await
        .lines()
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect();
    let fast_at: i64 = logs_text(&mut jobs, &fast).await.trim().parse().unwrap();
    assert_eq!(ticks.len(), 3);
    assert_eq!(ticks[1] - ticks[0], 100);
    assert_eq!(ticks[2] - ticks[1], 100);
    assert!(
        ticks[0] < fast_at && fast_at < ticks[1],
        "{ticks:?} {fast_at}"
    );
}

/// The manual clock holds a scheduled job until the clock is advanced.
#[tokio::test]
async fn manual_clock_moves_only_when_advanced_job_run_5() {
    let mock = start_with(MockServer::builder().config(with_clock(ClockMode::Manual))).await;
    let mut jobs = jobs(&mock).await;
    let job = run(&mut jobs, scheduled(cmd("echo", &["due"]), 120)).await;
    assert_eq!(job.status, "SCHEDULED");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(status(&mut jobs, &job.job_uuid).await.status, "SCHEDULED");
    mock.advance_clock("", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(status(&mut jobs, &job.job_uuid).await.status, "SCHEDULED");
    mock.advance_clock("", Duration::from_secs(61))
        .await
        .unwrap();
    let done = wait_final(&jobs, &job.job_uuid).await;
    assert_eq!(done.status, "COMPLETED");
    assert!((secs(&done.start_time) + 120 - secs(&done.end_time)).abs() <= 1);
}

/// The real clock refuses to be advanced, with a message that says why.
#[tokio::test]
async fn the_real_clock_cannot_be_advanced() {
    let mock = start().await;
    let err = mock
        .advance_clock("", Duration::from_secs(1))
        .await
        .unwrap_err();
    assert_code(&err, tonic::Code::FailedPrecondition, "--clock virtual");
}
