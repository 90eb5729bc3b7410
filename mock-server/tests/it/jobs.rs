//! Conventions (ALL-*) and the job engine (JOB-RUN, JOB-GPU, JOB-LIFE,
//! JOB-STATUS, JOB-STOP, JOB-CANCEL, JOB-DEL, JOB-DELALL, JOB-LIST).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{Local, TimeZone};
use joblet_mock::{MockServer, UnknownCommand};
use joblet_testkit::pb;
use tonic::Code;

use crate::support::*;

async fn logs_code(jobs: &mut Jobs, id: &str) -> Code {
    code_of(
        &jobs
            .get_job_logs(pb::GetJobLogsReq { uuid: id.into() })
            .await,
    )
}

/// Runs `req` and waits for its final status.
async fn finished(jobs: &mut Jobs, req: pb::RunJobRequest) -> pb::GetJobStatusRes {
    let id = run(jobs, req).await.job_uuid;
    wait_final(jobs, &id).await
}

// ---------------------------------------------------------------- ALL

#[tokio::test]
async fn all_1_status_strings_are_upper_case() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let mut seen = HashSet::new();

    let running = run(&mut jobs, long()).await;
    seen.insert(running.status.clone());
    seen.insert(status(&mut jobs, &running.job_uuid).await.status);
    seen.insert(stop(&mut jobs, &running.job_uuid).await.unwrap().status);
    seen.insert(status(&mut jobs, &running.job_uuid).await.status);

    let sched = run(&mut jobs, later()).await;
    seen.insert(sched.status.clone());
    seen.insert(cancel(&mut jobs, &sched.job_uuid).await.unwrap().status);

    seen.insert(finished(&mut jobs, cmd("true", &[])).await.status);
    seen.insert(finished(&mut jobs, cmd("false", &[])).await.status);
    for j in list_jobs(&mut jobs).await {
        seen.insert(j.status);
    }

    for s in &seen {
        assert!(
            JOB_STATUSES.contains(&s.as_str()),
            "unexpected status {s:?}"
        );
        assert_eq!(s, &s.to_uppercase());
    }
    let want: HashSet<String> = [
        "RUNNING",
        "STOPPED",
        "SCHEDULED",
        "CANCELED",
        "COMPLETED",
        "FAILED",
    ]
    .map(String::from)
    .into();
    assert_eq!(seen, want, "CANCELED is spelt with one L");
}

#[tokio::test]
async fn all_2_prefix_ids_unique_ambiguous_and_missing() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    // 17 jobs: two of them must share their first hex digit.
    let mut ids = Vec::new();
    for _ in 0..17 {
        let id = run(&mut jobs, later()).await.job_uuid;
        assert!(is_v4_uuid(&id), "{id:?} is not a lower-case v4 UUID");
        ids.push(id);
    }
    let unique: HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "IDs are unique");

    // Ambiguous: the first digit shared by the most jobs.
    let mut by_first: HashMap<char, usize> = HashMap::new();
    for id in &ids {
        *by_first.entry(id.chars().next().unwrap()).or_default() += 1;
    }
    let (&digit, &count) = by_first.iter().max_by_key(|(_, n)| **n).unwrap();
    assert!(count >= 2);
    let prefix = digit.to_string();
    let err = jobs
        .get_job_status(pb::GetJobStatusReq {
            uuid: prefix.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(
        err.message().contains(&count.to_string()),
        "names the count {count}: {err:?}"
    );
    assert_eq!(
        stop(&mut jobs, &prefix).await.unwrap_err().code(),
        Code::InvalidArgument
    );
    assert_eq!(logs_code(&mut jobs, &prefix).await, Code::InvalidArgument);

    // Unique: the shortest prefix matching only this job, everywhere an ID is taken.
    let shortest = |id: &str| -> String {
        (1..=id.len())
            .map(|n| &id[..n])
            .find(|p| ids.iter().filter(|other| other.starts_with(p)).count() == 1)
            .unwrap()
            .to_string()
    };
    let target = &ids[0];
    let p = shortest(target);
    assert!(p.len() < 36);
    assert_eq!(&status(&mut jobs, &p).await.uuid, target);
    assert_eq!(&stop(&mut jobs, &p).await.unwrap().uuid, target);
    assert_eq!(status(&mut jobs, target).await.status, "CANCELED");
    assert_eq!(logs(&mut jobs, &p).await, b"");
    assert!(delete(&mut jobs, &p).await.unwrap().success);
    assert_eq!(status_code(&mut jobs, target).await, Code::NotFound);

    let target = &ids[1];
    let p = shortest(target);
    assert_eq!(&cancel(&mut jobs, &p).await.unwrap().uuid, target);

    // Missing: nothing starts with these.
    let absent = loop {
        let u = uuid::Uuid::new_v4().to_string();
        if !ids.contains(&u) {
            break u;
        }
    };
    for missing in [
        absent.as_str(),
        "zzz",
        "g",
        "00000000-0000-4000-8000-00000000000x",
    ] {
        assert_eq!(
            status_code(&mut jobs, missing).await,
            Code::NotFound,
            "{missing}"
        );
        assert_eq!(
            stop(&mut jobs, missing).await.unwrap_err().code(),
            Code::NotFound
        );
        assert_eq!(
            cancel(&mut jobs, missing).await.unwrap_err().code(),
            Code::NotFound
        );
        assert_eq!(
            delete(&mut jobs, missing).await.unwrap_err().code(),
            Code::NotFound
        );
        assert_eq!(logs_code(&mut jobs, missing).await, Code::NotFound);
    }
}

#[tokio::test]
async fn all_3_job_times_are_rfc3339_whole_seconds() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let before = Local::now().timestamp();
    let r = run(&mut jobs, cmd("echo", &["t"])).await;
    let after = Local::now().timestamp();
    let start_t = job_time(&r.start_time).timestamp();
    assert!(
        (before..=after).contains(&start_t),
        "{} not in [{before}, {after}]",
        r.start_time
    );
    assert_eq!(r.end_time, "", "unset is empty");
    assert_eq!(r.scheduled_time, "", "unset is empty");

    let done = wait_final(&jobs, &r.job_uuid).await;
    assert_eq!(done.start_time, r.start_time);
    let end_t = job_time(&done.end_time).timestamp();
    assert!(end_t >= start_t);
    assert_eq!(done.scheduled_time, "");

    let running = run(&mut jobs, long()).await;
    let st = status(&mut jobs, &running.job_uuid).await;
    job_time(&st.start_time);
    assert_eq!(st.end_time, "", "a running job has no end time");

    let sched = run(&mut jobs, later()).await;
    let due = job_time(&sched.scheduled_time).timestamp();
    assert!(due >= before + 3599, "{}", sched.scheduled_time);
    for j in list_jobs(&mut jobs).await {
        job_time(&j.start_time);
        if !j.end_time.is_empty() {
            job_time(&j.end_time);
        }
        if !j.scheduled_time.is_empty() {
            job_time(&j.scheduled_time);
        }
    }
    let stopped = stop(&mut jobs, &running.job_uuid).await.unwrap();
    job_time(&stopped.end_time);
}

#[tokio::test]
async fn all_4_error_codes() {
    let mock = start_with(MockServer::builder().config(config_4_cores()).gpus(1)).await;
    let mut jobs = jobs(&mock).await;
    let done = finished(&mut jobs, cmd("true", &[])).await.uuid;
    let running = run(&mut jobs, long()).await.job_uuid;
    let sched = run(&mut jobs, later()).await.job_uuid;

    // (request, expected code, field or text named in the message)
    let bad_runs: Vec<(pb::RunJobRequest, Code, &str)> = vec![
        (cmd("", &[]), Code::InvalidArgument, "command"),
        (
            pb::RunJobRequest {
                max_cpu: -1,
                ..cmd("true", &[])
            },
            Code::InvalidArgument,
            "maxCpu",
        ),
        (
            pb::RunJobRequest {
                max_memory: -1,
                ..cmd("true", &[])
            },
            Code::InvalidArgument,
            "maxMemory",
        ),
        (
            pb::RunJobRequest {
                max_iobps: -1,
                ..cmd("true", &[])
            },
            Code::InvalidArgument,
            "maxIobps",
        ),
        (
            pb::RunJobRequest {
                cpu_cores: "9".into(),
                ..cmd("true", &[])
            },
            Code::InvalidArgument,
            "cpuCores",
        ),
        (
            pb::RunJobRequest {
                schedule: "soon".into(),
                ..cmd("true", &[])
            },
            Code::InvalidArgument,
            "schedule",
        ),
        (
            pb::RunJobRequest {
                network: "nope".into(),
                ..cmd("true", &[])
            },
            Code::InvalidArgument,
            "network",
        ),
        (
            pb::RunJobRequest {
                volumes: vec!["nope".into()],
                ..cmd("true", &[])
            },
            Code::InvalidArgument,
            "volumes",
        ),
        (
            pb::RunJobRequest {
                runtime: "cobol:60".into(),
                ..cmd("true", &[])
            },
            Code::InvalidArgument,
            "runtime",
        ),
        (
            pb::RunJobRequest {
                gpu_count: 5,
                ..cmd("true", &[])
            },
            Code::InvalidArgument,
            "gpu_count",
        ),
        (
            pb::RunJobRequest {
                environment: env(&[("1X", "v")]),
                ..cmd("true", &[])
            },
            Code::InvalidArgument,
            "environment",
        ),
        (
            pb::RunJobRequest {
                uploads: vec![pb::FileUpload {
                    path: "../x".into(),
                    ..Default::default()
                }],
                ..cmd("true", &[])
            },
            Code::InvalidArgument,
            "uploads",
        ),
    ];
    for (req, code, needle) in bad_runs {
        let err = run_err(&mut jobs, req).await;
        assert_code(&err, code, needle);
    }

    // Missing targets, wrong states, odd IDs: never INTERNAL, never UNKNOWN.
    let huge = "a".repeat(100_000);
    let odd = ["", "   ", "../../etc/passwd", "\u{0}", "💥", huge.as_str()];
    for id in odd {
        for c in [
            status_code(&mut jobs, id).await,
            code_of(&stop(&mut jobs, id).await),
            code_of(&cancel(&mut jobs, id).await),
            code_of(&delete(&mut jobs, id).await),
            logs_code(&mut jobs, id).await,
        ] {
            assert!(
                matches!(c, Code::InvalidArgument | Code::NotFound),
                "id {:?}: {c:?}",
                id.chars().take(20).collect::<String>()
            );
        }
    }
    let e = stop(&mut jobs, &done).await.unwrap_err();
    assert_code(&e, Code::FailedPrecondition, "job is not running");
    assert_eq!(
        cancel(&mut jobs, &running).await.unwrap_err().code(),
        Code::FailedPrecondition
    );
    assert_code(
        &delete(&mut jobs, &running).await.unwrap_err(),
        Code::FailedPrecondition,
        "stop the job first",
    );
    assert_code(
        &delete(&mut jobs, &sched).await.unwrap_err(),
        Code::FailedPrecondition,
        "stop the job first",
    );
    let gpu = run(
        &mut jobs,
        pb::RunJobRequest {
            gpu_count: 1,
            ..long()
        },
    )
    .await;
    let e = run_err(
        &mut jobs,
        pb::RunJobRequest {
            gpu_count: 1,
            ..long()
        },
    )
    .await;
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    stop(&mut jobs, &gpu.job_uuid).await.unwrap();

    // The server survived all of it.
    assert_eq!(list_jobs(&mut jobs).await.len(), 4);
}

#[tokio::test]
async fn all_5_lists_in_creation_order() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let mut ids = Vec::new();
    for i in 0..25 {
        let req = match i % 3 {
            0 => cmd("true", &[]),
            1 => long(),
            _ => later(),
        };
        ids.push(run(&mut jobs, req).await.job_uuid);
    }
    let listed = listed_ids(&mut jobs).await;
    assert_eq!(listed, ids);
    // Removing one keeps the others' order; the state of a job does not move it.
    wait_final(&jobs, &ids[3]).await;
    delete(&mut jobs, &ids[3]).await.unwrap();
    stop(&mut jobs, &ids[1]).await.unwrap();
    let new = run(&mut jobs, cmd("true", &[])).await.job_uuid;
    ids.remove(3);
    ids.push(new);
    let listed = listed_ids(&mut jobs).await;
    assert_eq!(listed, ids);
}

#[tokio::test]
async fn all_6_secrets_masked_in_status_and_list() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let req = pb::RunJobRequest {
        environment: env(&[("PLAIN", "visible")]),
        secret_environment: env(&[("TOKEN", "s3cr3t-value"), ("EMPTY", "")]),
        ..cmd("printenv", &["TOKEN"])
    };
    let r = run(&mut jobs, req).await;
    assert!(
        !format!("{r:?}").contains("s3cr3t"),
        "RunJob response leaks: {r:?}"
    );
    // The job itself sees the real value.
    let log = logs_text(&mut jobs, &r.job_uuid).await;
    assert_eq!(log, "s3cr3t-value\n");
    let masked = env(&[("TOKEN", "***"), ("EMPTY", "***")]);
    let st = wait_final(&jobs, &r.job_uuid).await;
    assert_eq!(st.status, "COMPLETED");
    assert_eq!(
        st.secret_environment, masked,
        "GetJobStatus masks every secret value"
    );
    assert_eq!(
        st.environment,
        env(&[("PLAIN", "visible")]),
        "plain environment is shown"
    );
    assert!(!format!("{st:?}").contains("s3cr3t"));
    let listed = list_jobs(&mut jobs).await;
    assert_eq!(
        listed[0].secret_environment, masked,
        "ListJobs masks every secret value"
    );
    assert_eq!(listed[0].environment, env(&[("PLAIN", "visible")]));
    assert!(!format!("{listed:?}").contains("s3cr3t"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_7_messages_up_to_128_mib_accepted_larger_resource_exhausted() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let upload = |size: usize| pb::RunJobRequest {
        uploads: vec![pb::FileUpload {
            path: "big.bin".into(),
            content: vec![b'x'; size],
            mode: 0o644,
            is_directory: false,
        }],
        ..cmd("true", &[])
    };
    let ok = run(&mut jobs, upload(100 << 20)).await;
    assert_eq!(wait_final(&jobs, &ok.job_uuid).await.status, "COMPLETED");
    assert_eq!(status(&mut jobs, &ok.job_uuid).await.uploads, ["big.bin"]);

    let err = run_err(&mut jobs, upload(130 << 20)).await;
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    // Still serving, and nothing was created.
    assert_eq!(list_jobs(&mut jobs).await.len(), 1);
}

// ---------------------------------------------------------------- JOB-RUN

#[tokio::test]
async fn job_run_1_run_job_starts_and_echoes_the_request() {
    let mock = start_4_cores().await;
    let mut jobs = jobs(&mock).await;
    let req = pb::RunJobRequest {
        max_cpu: 150,
        cpu_cores: "0-1".into(),
        max_memory: 512,
        max_iobps: 1000,
        ..cmd("sh", &["-c", "sleep 30", "arg zero"])
    };
    let r = run(&mut jobs, req).await;
    assert!(is_v4_uuid(&r.job_uuid), "{}", r.job_uuid);
    assert_eq!(r.status, "RUNNING");
    assert_eq!(r.command, "sh");
    assert_eq!(r.args, ["-c", "sleep 30", "arg zero"]);
    assert_eq!((r.max_cpu, r.max_memory, r.max_iobps), (150, 512, 1000));
    assert_eq!(r.cpu_cores, "0-1");
    job_time(&r.start_time);
    assert_eq!(
        (r.end_time.as_str(), r.exit_code, r.scheduled_time.as_str()),
        ("", 0, "")
    );
    assert_eq!(status(&mut jobs, &r.job_uuid).await.status, "RUNNING");

    let s = run(&mut jobs, scheduled(cmd("echo", &["x"]), 600)).await;
    assert_eq!(s.status, "SCHEDULED");
    assert_ne!(s.job_uuid, r.job_uuid);
    job_time(&s.scheduled_time);
    let due = job_time(&s.scheduled_time).timestamp();
    let want = Local::now().timestamp() + 600;
    assert!((want - 2..=want).contains(&due), "{}", s.scheduled_time);
}

#[tokio::test]
async fn job_run_2_empty_command_is_invalid() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    for c in ["", "   "] {
        run_invalid(&mut jobs, cmd(c, &["x"]), "command").await;
    }
    assert!(list_jobs(&mut jobs).await.is_empty(), "no job was created");
}

#[tokio::test]
async fn job_run_3_limits_non_negative_cpu_within_host() {
    let mock = start_4_cores().await;
    let mut jobs = jobs(&mock).await;
    for (field, req) in [
        (
            "maxCpu",
            pb::RunJobRequest {
                max_cpu: -1,
                ..cmd("true", &[])
            },
        ),
        (
            "maxMemory",
            pb::RunJobRequest {
                max_memory: -5,
                ..cmd("true", &[])
            },
        ),
        (
            "maxIobps",
            pb::RunJobRequest {
                max_iobps: i32::MIN,
                ..cmd("true", &[])
            },
        ),
        (
            "maxCpu",
            pb::RunJobRequest {
                max_cpu: 401,
                ..cmd("true", &[])
            },
        ),
        (
            "maxCpu",
            pb::RunJobRequest {
                max_cpu: i32::MAX,
                ..cmd("true", &[])
            },
        ),
    ] {
        run_invalid(&mut jobs, req, field).await;
    }
    let r = run(
        &mut jobs,
        pb::RunJobRequest {
            max_cpu: 400,
            max_memory: i32::MAX,
            ..cmd("true", &[])
        },
    )
    .await;
    assert_eq!((r.max_cpu, r.max_memory), (400, i32::MAX));
    // 0 means unlimited and is echoed as 0.
    let r = run(&mut jobs, cmd("true", &[])).await;
    assert_eq!((r.max_cpu, r.max_memory, r.max_iobps), (0, 0, 0));
    let st = status(&mut jobs, &r.job_uuid).await;
    assert_eq!((st.max_cpu, st.max_memory, st.max_iobps), (0, 0, 0));
}

#[tokio::test]
async fn job_run_4_cpu_cores_syntax_and_range() {
    let mock = start_4_cores().await;
    let mut jobs = jobs(&mock).await;
    for good in ["", "0", "3", "0-3", "1-2", "0,2,3", "1,3"] {
        let r = run(
            &mut jobs,
            pb::RunJobRequest {
                cpu_cores: good.into(),
                ..cmd("true", &[])
            },
        )
        .await;
        assert_eq!(r.cpu_cores, good);
        assert_eq!(status(&mut jobs, &r.job_uuid).await.cpu_cores, good);
    }
    for bad in [
        "4", "0-4", "1,1", "0,4", "x", "-1", "1-", ",", "1,,2", "0-2,4", "1.5",
    ] {
        run_invalid(
            &mut jobs,
            pb::RunJobRequest {
                cpu_cores: bad.into(),
                ..cmd("true", &[])
            },
            "cpuCores",
        )
        .await;
    }
}

#[tokio::test]
async fn job_run_5_schedule_forms() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    // RFC 3339 with the local offset, and with Z.
    let future = Local::now() + chrono::Duration::seconds(3600);
    let rfc = future.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let utc = future
        .with_timezone(&chrono::Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let naive = future.format("%Y-%m-%dT%H:%M:%S").to_string();
    for form in [&rfc, &utc, &naive] {
        let r = run(
            &mut jobs,
            pb::RunJobRequest {
                schedule: form.clone(),
                ..cmd("echo", &["x"])
            },
        )
        .await;
        assert_eq!(r.status, "SCHEDULED", "{form}");
        assert_eq!(
            job_time(&r.scheduled_time).timestamp(),
            future.timestamp(),
            "{form}"
        );
        let st = status(&mut jobs, &r.job_uuid).await;
        assert_eq!(
            (st.status.as_str(), st.scheduled_time.as_str()),
            ("SCHEDULED", r.scheduled_time.as_str())
        );
    }
    // Fractional seconds in RFC 3339 are still RFC 3339.
    let frac = (Local::now() + chrono::Duration::seconds(3600))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    assert_eq!(
        run(
            &mut jobs,
            pb::RunJobRequest {
                schedule: frac,
                ..cmd("true", &[])
            }
        )
        .await
        .status,
        "SCHEDULED"
    );

    // Past: runs now.
    let past = Local::now() - chrono::Duration::seconds(3600);
    for form in [
        past.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        past.format("%Y-%m-%dT%H:%M:%S").to_string(),
    ] {
        let r = run(
            &mut jobs,
            pb::RunJobRequest {
                schedule: form.clone(),
                ..cmd("echo", &["now"])
            },
        )
        .await;
        assert_eq!(r.status, "RUNNING", "{form}");
        let st = wait_final(&jobs, &r.job_uuid).await;
        assert_eq!(st.status, "COMPLETED");
    }

    for bad in [
        "tomorrow",
        "5min",
        "1h30m",
        "2025-13-01T00:00:00",
        "2025-02-30T10:00:00Z",
        "2025-01-01 10:00:00",
        "2025-01-01",
        "10:00:00",
        "2025-01-01T25:00:00+01:00",
        "1735725600",
    ] {
        run_invalid(
            &mut jobs,
            pb::RunJobRequest {
                schedule: bad.into(),
                ..cmd("true", &[])
            },
            "schedule",
        )
        .await;
    }
}

#[tokio::test]
async fn job_run_6_networks() {
    let mock = start().await;
    add_network(&mock, "custom-net", "10.10.0.0/24");
    let mut jobs = jobs(&mock).await;
    for (asked, shown) in [
        ("", "bridge"),
        ("bridge", "bridge"),
        ("isolated", "isolated"),
        ("none", "none"),
        ("custom-net", "custom-net"),
    ] {
        let r = run(
            &mut jobs,
            pb::RunJobRequest {
                network: asked.into(),
                ..long()
            },
        )
        .await;
        assert_eq!(status(&mut jobs, &r.job_uuid).await.network, shown);
    }
    {
        let shared = mock.shared();
        let state = shared.state.lock();
        assert_eq!(
            state.running_on_network.get("bridge"),
            Some(&2),
            "jobCount bookkeeping"
        );
        assert_eq!(state.running_on_network.get("custom-net"), Some(&1));
    }
    let all = listed_ids(&mut jobs).await;
    for id in &all {
        stop(&mut jobs, id).await.unwrap();
    }
    {
        let shared = mock.shared();
        let state = shared.state.lock();
        assert!(
            state.running_on_network.values().all(|n| *n == 0),
            "{:?}",
            state.running_on_network
        );
        assert_eq!(state.running_jobs, 0);
    }
    for bad in ["nope", "host", "Bridge"] {
        run_invalid(
            &mut jobs,
            pb::RunJobRequest {
                network: bad.into(),
                ..cmd("true", &[])
            },
            "network",
        )
        .await;
    }
    // A scheduled job is checked at submission too.
    run_invalid(
        &mut jobs,
        pb::RunJobRequest {
            network: "nope".into(),
            ..later()
        },
        "network",
    )
    .await;
}

#[tokio::test]
async fn job_run_7_volumes_must_exist() {
    let mock = start().await;
    add_volume(&mock, "data");
    add_volume(&mock, "cache");
    let mut jobs = jobs(&mock).await;
    let r = run(
        &mut jobs,
        pb::RunJobRequest {
            volumes: vec!["data".into(), "cache".into()],
            ..long()
        },
    )
    .await;
    assert_eq!(
        status(&mut jobs, &r.job_uuid).await.volumes,
        ["data", "cache"]
    );
    assert_eq!(
        mock.shared().state.lock().running_with_volume.get("data"),
        Some(&1)
    );
    for bad in [
        vec!["nope"],
        vec!["data", ""],
        vec![""],
        vec!["  "],
        vec!["data", "missing"],
    ] {
        run_invalid(
            &mut jobs,
            pb::RunJobRequest {
                volumes: bad.iter().map(|s| s.to_string()).collect(),
                ..cmd("true", &[])
            },
            "volumes",
        )
        .await;
    }
    stop(&mut jobs, &r.job_uuid).await.unwrap();
    assert_eq!(
        mock.shared().state.lock().running_with_volume.get("data"),
        Some(&0)
    );
}

#[tokio::test]
async fn job_run_8_runtime_must_be_installed() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    for rt in [
        "python-3.11",
        "python:3.11",
        "python-3.11-ml",
        "python:3.11-ml",
        "openjdk-21",
        "java:21",
    ] {
        let r = run(
            &mut jobs,
            pb::RunJobRequest {
                runtime: rt.into(),
                ..cmd("true", &[])
            },
        )
        .await;
        assert_eq!(
            status(&mut jobs, &r.job_uuid).await.runtime,
            rt,
            "runtime is echoed as sent"
        );
        assert_eq!(list_jobs(&mut jobs).await.last().unwrap().runtime, rt);
    }
    for bad in [
        "cobol:60",
        "python:2.7",
        "ruby-3.2",
        "python",
        ":",
        "python:",
    ] {
        run_invalid(
            &mut jobs,
            pb::RunJobRequest {
                runtime: bad.into(),
                ..cmd("true", &[])
            },
            "runtime",
        )
        .await;
    }
}

#[tokio::test]
async fn job_run_9_uploads() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let file = |path: &str, content: &str, mode: u32| pb::FileUpload {
        path: path.into(),
        content: content.as_bytes().to_vec(),
        mode,
        is_directory: false,
    };
    let dir = |path: &str| pb::FileUpload {
        path: path.into(),
        content: Vec::new(),
        mode: 0o755,
        is_directory: true,
    };
    let req = pb::RunJobRequest {
        uploads: vec![
            file("input.txt", "hello upload\n", 0o644),
            dir("conf"),
            file("conf/app.cfg", "key=value\n", 0o600),
            file("./scripts//run.sh", "echo from script\n", 0o755),
            dir("empty"),
        ],
        ..sh("cat input.txt conf/app.cfg scripts/run.sh")
    };
    let (st, log) = run_to_end(&mut jobs, req).await;
    assert_eq!(st.status, "COMPLETED", "{log}");
    assert_eq!(log, "hello upload\nkey=value\necho from script\n");
    for p in [
        "input.txt",
        "conf",
        "conf/app.cfg",
        "scripts/run.sh",
        "empty",
    ] {
        assert!(
            st.uploads.iter().any(|u| u == p),
            "uploads {:?} should list {p}",
            st.uploads
        );
    }
    // Modes and directories are honoured.
    let req = pb::RunJobRequest {
        uploads: vec![
            file("bin/tool.sh", "echo tool\n", 0o755),
            file("plain.txt", "x", 0o644),
            file("default.txt", "x", 0),
            dir("out"),
        ],
        ..sh(
            "test -x bin/tool.sh && echo tool-exec; test -x plain.txt || echo plain-noexec; \
             test -x default.txt || echo default-noexec; test -d out && echo out-dir; \
             test -d bin && echo bin-dir; test -f out || echo out-not-file",
        )
    };
    let (st, log) = run_to_end(&mut jobs, req).await;
    assert_eq!(st.status, "COMPLETED", "{log}");
    assert_eq!(
        log,
        "tool-exec\nplain-noexec\ndefault-noexec\nout-dir\nbin-dir\nout-not-file\n"
    );
    // Relative to the work dir: the absolute path works too.
    let req = pb::RunJobRequest {
        uploads: vec![file("a.txt", "abs\n", 0)],
        ..cmd("cat", &["/work/a.txt"])
    };
    let (st, log) = run_to_end(&mut jobs, req).await;
    assert_eq!((st.status.as_str(), log.as_str()), ("COMPLETED", "abs\n"));
    // A missing file is the job's problem, not the request's.
    let (st, _) = run_to_end(&mut jobs, cmd("cat", &["missing.txt"])).await;
    assert_eq!(st.status, "FAILED");
    assert_ne!(st.exit_code, 0);

    for bad in ["../etc/passwd", "/etc/passwd", "a/../../b", "..", ""] {
        run_invalid(
            &mut jobs,
            pb::RunJobRequest {
                uploads: vec![file(bad, "x", 0o644)],
                ..cmd("true", &[])
            },
            "uploads[0]",
        )
        .await;
    }
    run_invalid(
        &mut jobs,
        pb::RunJobRequest {
            uploads: vec![file("ok.txt", "x", 0o644), file("../x", "x", 0o644)],
            ..cmd("true", &[])
        },
        "uploads[1]",
    )
    .await;
}

#[tokio::test]
async fn job_run_10_environment_names_values_and_overlap() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let with = |plain: &[(&str, &str)], secret: &[(&str, &str)]| pb::RunJobRequest {
        environment: env(plain),
        secret_environment: env(secret),
        ..cmd("true", &[])
    };
    let max = "v".repeat(32_768);
    run(
        &mut jobs,
        with(
            &[("_X1", "a"), ("lower_case", "b"), ("BIG", &max)],
            &[("S_1", &max)],
        ),
    )
    .await;
    for name in ["1BAD", "BAD-NAME", "A B", "", "É", "A=B", "A.B"] {
        run_invalid(&mut jobs, with(&[(name, "v")], &[]), "environment").await;
        run_invalid(&mut jobs, with(&[], &[(name, "v")]), "secret_environment").await;
    }
    let too_long = "v".repeat(32_769);
    run_invalid(&mut jobs, with(&[("BIG", &too_long)], &[]), "environment").await;
    run_invalid(
        &mut jobs,
        with(&[], &[("BIG", &too_long)]),
        "secret_environment",
    )
    .await;
    let e = run_err(&mut jobs, with(&[("SAME", "a")], &[("SAME", "b")])).await;
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("SAME"), "names the key: {e:?}");
    // The job sees its environment.
    let req = pb::RunJobRequest {
        environment: env(&[("GREETING", "hi there")]),
        ..cmd("printenv", &["GREETING"])
    };
    let (st, log) = run_to_end(&mut jobs, req).await;
    assert_eq!(
        (st.status.as_str(), log.as_str()),
        ("COMPLETED", "hi there\n")
    );
}

// ---------------------------------------------------------------- JOB-GPU

#[tokio::test]
async fn job_gpu_1_gpus_allocated_reported_and_released() {
    let mock = start_with(MockServer::builder().gpus(2)).await;
    let mut jobs = jobs(&mock).await;
    let gpu_job = |n: i32, mem: i32| pb::RunJobRequest {
        gpu_count: n,
        gpu_memory_mb: mem,
        ..long()
    };

    let a = run(&mut jobs, gpu_job(1, 1024)).await.job_uuid;
    let st = status(&mut jobs, &a).await;
    assert_eq!(
        (st.gpu_count, st.gpu_memory_mb, st.gpu_indices.clone()),
        (1, 1024, vec![0])
    );
    let b = run(&mut jobs, gpu_job(1, 16_384)).await.job_uuid;
    let st = status(&mut jobs, &b).await;
    assert_eq!(
        (st.gpu_count, st.gpu_memory_mb, st.gpu_indices.clone()),
        (1, 16_384, vec![1])
    );
    let listed = list_jobs(&mut jobs).await;
    assert_eq!(listed[0].gpu_indices, [0]);
    assert_eq!((listed[1].gpu_count, listed[1].gpu_memory_mb), (1, 16_384));
    assert_eq!(listed[1].gpu_indices, [1]);

    // Full: RESOURCE_EXHAUSTED, and nothing was created.
    let e = run_err(&mut jobs, gpu_job(1, 0)).await;
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    assert_eq!(list_jobs(&mut jobs).await.len(), 2);

    // A stopped job frees its GPU.
    stop(&mut jobs, &a).await.unwrap();
    let c = run(&mut jobs, gpu_job(1, 0)).await.job_uuid;
    assert_eq!(status(&mut jobs, &c).await.gpu_indices, [0]);
    stop(&mut jobs, &b).await.unwrap();
    stop(&mut jobs, &c).await.unwrap();

    // A job that ends on its own frees its GPUs.
    let d = run(
        &mut jobs,
        pb::RunJobRequest {
            gpu_count: 2,
            ..cmd("echo", &["gpu"])
        },
    )
    .await
    .job_uuid;
    assert_eq!(status(&mut jobs, &d).await.gpu_indices.len(), 2);
    wait_final(&jobs, &d).await;
    let e = run(&mut jobs, gpu_job(2, 0)).await.job_uuid;
    let mut got = status(&mut jobs, &e).await.gpu_indices;
    got.sort();
    assert_eq!(got, [0, 1]);
    stop(&mut jobs, &e).await.unwrap();
    assert!(
        mock.shared().state.lock().gpus.iter().all(Option::is_none),
        "every GPU is free"
    );

    // No GPU asked: none reported.
    let f = run(&mut jobs, cmd("true", &[])).await.job_uuid;
    let st = status(&mut jobs, &f).await;
    assert_eq!((st.gpu_count, st.gpu_indices.len()), (0, 0));
}

#[tokio::test]
async fn job_gpu_2_gpu_limits_and_exhaustion() {
    let mock = start_with(MockServer::builder().gpus(2)).await;
    let mut jobs = jobs(&mock).await;
    let gpu_job = |n: i32, mem: i32| pb::RunJobRequest {
        gpu_count: n,
        gpu_memory_mb: mem,
        ..long()
    };
    for (req, field) in [
        (gpu_job(3, 0), "gpu_count"),
        (gpu_job(1, 16_385), "gpu_memory_mb"),
        (gpu_job(-1, 0), "gpu_count"),
        (gpu_job(1, -1), "gpu_memory_mb"),
        (gpu_job(0, -1), "gpu_memory_mb"),
        (gpu_job(i32::MAX, 0), "gpu_count"),
    ] {
        run_invalid(&mut jobs, req, field).await;
    }
    let a = run(&mut jobs, gpu_job(2, 100)).await.job_uuid;
    let e = run_err(&mut jobs, gpu_job(1, 0)).await;
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    assert!(e.message().contains("gpu"), "{e:?}");
    stop(&mut jobs, &a).await.unwrap();
    run(&mut jobs, gpu_job(1, 0)).await;

    // A node without GPUs.
    let none = start().await;
    let mut jobs = crate::support::jobs(&none).await;
    run_invalid(&mut jobs, gpu_job(1, 0), "gpu_count").await;
}

// ---------------------------------------------------------------- JOB-LIFE

#[tokio::test]
async fn job_life_1_exit_codes_and_final_states() {
    let mock = start_with(MockServer::builder().gpus(1)).await;
    let mut jobs = jobs(&mock).await;
    for (req, want, code) in [
        (cmd("true", &[]), "COMPLETED", 0),
        (cmd("echo", &["ok"]), "COMPLETED", 0),
        (cmd("false", &[]), "FAILED", 1),
        (sh("exit 3"), "FAILED", 3),
        (cmd("exit", &["42"]), "FAILED", 42),
        (sh("echo partial; exit 7"), "FAILED", 7),
    ] {
        let what = format!("{} {:?}", req.command, req.args);
        let st = finished(&mut jobs, req).await;
        assert_eq!((st.status.as_str(), st.exit_code), (want, code), "{what}");
        job_time(&st.end_time);
    }

    // Unknown commands fail with 127 under `--unknown-command fail`.
    let strict = start_with(MockServer::builder().unknown_command(UnknownCommand::Fail)).await;
    let mut sj = crate::support::jobs(&strict).await;
    let (st, log) = run_to_end(&mut sj, cmd("no-such-program", &["x"])).await;
    assert_eq!((st.status.as_str(), st.exit_code), ("FAILED", 127));
    assert!(log.contains("command not found"), "{log}");
    // ... and succeed silently by default.
    let (st, log) = run_to_end(&mut jobs, cmd("no-such-program", &["x"])).await;
    assert_eq!(
        (st.status.as_str(), st.exit_code, log.as_str()),
        ("COMPLETED", 0, "")
    );

    // A job that cannot start: its GPU is taken when its time comes.
    let holder = run(
        &mut jobs,
        pb::RunJobRequest {
            gpu_count: 1,
            ..long()
        },
    )
    .await
    .job_uuid;
    let due = whole_second_ahead(300);
    let req = pb::RunJobRequest {
        gpu_count: 1,
        schedule: due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ..cmd("echo", &["never"])
    };
    let r = run(&mut jobs, req).await;
    assert_eq!(r.status, "SCHEDULED");
    // ... and one whose network is gone when its time comes.
    add_network(&mock, "ephemeral", "10.9.0.0/24");
    let req = pb::RunJobRequest {
        network: "ephemeral".into(),
        schedule: due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ..cmd("echo", &["never"])
    };
    let gone = run(&mut jobs, req).await;
    assert_eq!(gone.status, "SCHEDULED");
    mock.shared()
        .state
        .lock()
        .networks
        .retain(|n| n.name != "ephemeral");
    for id in [&r.job_uuid, &gone.job_uuid] {
        let st = wait_final(&jobs, id).await;
        assert_eq!((st.status.as_str(), st.exit_code), ("FAILED", -1));
        job_time(&st.end_time);
        let log = logs_text(&mut jobs, id).await;
        assert!(!log.contains("never"), "{log}");
    }
    assert_eq!(
        mock.shared()
            .state
            .lock()
            .running_on_network
            .get("ephemeral")
            .copied()
            .unwrap_or(0),
        0
    );
    assert_eq!(status(&mut jobs, &holder).await.status, "RUNNING");
    assert_eq!(
        status(&mut jobs, &holder).await.gpu_indices,
        [0],
        "the holder keeps its GPU"
    );
    stop(&mut jobs, &holder).await.unwrap();
    assert!(mock.shared().state.lock().gpus.iter().all(Option::is_none));
}

#[tokio::test]
async fn job_life_2_scheduled_job_waits_then_runs() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let due = Local::now() + chrono::Duration::seconds(2);
    let due_secs = due.timestamp();
    let rfc = due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let naive = due.format("%Y-%m-%dT%H:%M:%S").to_string();
    let mut ids = Vec::new();
    for form in [rfc, naive] {
        let r = run(
            &mut jobs,
            pb::RunJobRequest {
                schedule: form.clone(),
                ..cmd("echo", &["ran"])
            },
        )
        .await;
        assert_eq!(r.status, "SCHEDULED", "{form}");
        assert_eq!(job_time(&r.scheduled_time).timestamp(), due_secs);
        ids.push(r.job_uuid);
    }
    // Not yet: the due second has not begun.
    let due_at = Local.timestamp_opt(due_secs, 0).unwrap();
    let early = (due_at - Local::now())
        .to_std()
        .unwrap_or_default()
        .saturating_sub(Duration::from_millis(250));
    tokio::time::sleep(early).await;
    assert!(Local::now().timestamp() < due_secs);
    for id in &ids {
        let st = status(&mut jobs, id).await;
        assert_eq!(
            (st.status.as_str(), st.end_time.as_str()),
            ("SCHEDULED", "")
        );
    }
    // Then it runs.
    for id in &ids {
        let st = wait_final(&jobs, id).await;
        assert!(Local::now().timestamp() >= due_secs);
        assert_eq!(st.status, "COMPLETED");
        assert!(job_time(&st.end_time).timestamp() >= due_secs);
        assert_eq!(
            job_time(&st.scheduled_time).timestamp(),
            due_secs,
            "scheduledTime is kept"
        );
        assert_eq!(logs_text(&mut jobs, id).await, "ran\n");
    }
    let shared = mock.shared();
    let state = shared.state.lock();
    assert_eq!(
        state.running_jobs, 0,
        "started and ended: counted once, released once"
    );
    assert_eq!(state.running_on_network.get("bridge"), Some(&0));
}

// ---------------------------------------------------------------- JOB-STATUS

#[tokio::test]
async fn job_status_1_every_field() {
    let mock = start_with(MockServer::builder().config(config_4_cores()).gpus(2)).await;
    add_network(&mock, "lab", "10.1.0.0/24");
    add_volume(&mock, "datasets");
    let mut jobs = jobs(&mock).await;
    let req = pb::RunJobRequest {
        name: "training".into(),
        command: "sleep".into(),
        args: vec!["30".into()],
        max_cpu: 200,
        cpu_cores: "0,2".into(),
        max_memory: 2048,
        max_iobps: 5000,
        uploads: vec![pb::FileUpload {
            path: "train.py".into(),
            content: b"print(1)".to_vec(),
            mode: 0o644,
            is_directory: false,
        }],
        network: "lab".into(),
        volumes: vec!["datasets".into()],
        runtime: "python-3.11-ml".into(),
        work_dir: "/work/sub".into(),
        environment: env(&[("EPOCHS", "3")]),
        secret_environment: env(&[("API_KEY", "k")]),
        gpu_count: 1,
        gpu_memory_mb: 8000,
        ..Default::default()
    };
    let r = run(&mut jobs, req).await;
    let st = status(&mut jobs, &r.job_uuid).await;
    assert_eq!(st.uuid, r.job_uuid);
    assert_eq!(st.name, "training");
    assert_eq!(
        (st.command.as_str(), st.args.clone()),
        ("sleep", vec!["30".to_string()])
    );
    assert_eq!(
        (
            st.max_cpu,
            st.cpu_cores.as_str(),
            st.max_memory,
            st.max_iobps
        ),
        (200, "0,2", 2048, 5000)
    );
    assert_eq!(st.status, "RUNNING");
    assert_eq!(st.start_time, r.start_time);
    assert_eq!(
        (
            st.end_time.as_str(),
            st.exit_code,
            st.scheduled_time.as_str()
        ),
        ("", 0, "")
    );
    assert_eq!(st.environment, env(&[("EPOCHS", "3")]));
    assert_eq!(st.secret_environment, env(&[("API_KEY", "***")]));
    assert_eq!(st.network, "lab");
    assert_eq!(st.volumes, ["datasets"]);
    assert_eq!(st.runtime, "python-3.11-ml");
    assert_eq!(st.work_dir, "/work/sub");
    assert_eq!(st.uploads, ["train.py"]);
    assert!(st.dependencies.is_empty());
    assert_eq!(st.workflow_uuid, "");
    assert_eq!(
        (st.gpu_count, st.gpu_memory_mb, st.gpu_indices.clone()),
        (1, 8000, vec![0])
    );
    assert_eq!(st.node_id, "node-it-1");

    let stopped = stop(&mut jobs, &r.job_uuid).await.unwrap();
    let st = status(&mut jobs, &r.job_uuid).await;
    assert_eq!(
        (st.status.as_str(), st.exit_code, st.end_time.as_str()),
        ("STOPPED", -1, stopped.end_time.as_str())
    );

    // Defaults.
    let d = run(&mut jobs, cmd("true", &[])).await;
    let st = status(&mut jobs, &d.job_uuid).await;
    assert_eq!(
        (st.name.as_str(), st.work_dir.as_str(), st.network.as_str()),
        ("", "/work", "bridge")
    );
    assert_eq!((st.runtime.as_str(), st.cpu_cores.as_str()), ("", ""));
    assert!(st.volumes.is_empty() && st.uploads.is_empty() && st.secret_environment.is_empty());
}

#[tokio::test]
async fn job_status_2_unknown_id_not_found() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let e = jobs
        .get_job_status(pb::GetJobStatusReq {
            uuid: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    run(&mut jobs, cmd("true", &[])).await;
    let e = jobs
        .get_job_status(pb::GetJobStatusReq {
            uuid: "00000000-0000-4000-8000-000000000000".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
}

// ---------------------------------------------------------------- JOB-STOP

#[tokio::test]
async fn job_stop_1_running_becomes_stopped() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let r = run(&mut jobs, sh("echo started; sleep 30; echo never")).await;
    let reader = open_logs(&mut jobs, &r.job_uuid).await;
    let res = stop(&mut jobs, &r.job_uuid).await.unwrap();
    assert_eq!(res.uuid, r.job_uuid);
    assert_eq!((res.status.as_str(), res.exit_code), ("STOPPED", -1));
    job_time(&res.end_time);
    let st = status(&mut jobs, &r.job_uuid).await;
    assert_eq!(
        (st.status.as_str(), st.exit_code, st.end_time.as_str()),
        ("STOPPED", -1, res.end_time.as_str())
    );
    let log = String::from_utf8(read_to_end(reader).await).unwrap();
    assert!(!log.contains("never"), "{log}");
    assert!(log.starts_with("started\n"), "{log}");
    let shared = mock.shared();
    let state = shared.state.lock();
    assert_eq!(state.running_jobs, 0);
    assert_eq!(state.running_on_network.get("bridge"), Some(&0));
}

#[tokio::test]
async fn job_stop_2_scheduled_becomes_canceled() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let r = run(&mut jobs, later()).await;
    let res = stop(&mut jobs, &r.job_uuid).await.unwrap();
    assert_eq!(
        (res.uuid.as_str(), res.status.as_str()),
        (r.job_uuid.as_str(), "CANCELED")
    );
    let st = status(&mut jobs, &r.job_uuid).await;
    assert_eq!(st.status, "CANCELED");
    assert_eq!(st.scheduled_time, r.scheduled_time);
    assert_eq!(logs(&mut jobs, &r.job_uuid).await, b"");
}

#[tokio::test]
async fn job_stop_3_finished_job_failed_precondition() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let completed = finished(&mut jobs, cmd("true", &[])).await.uuid;
    let failed = finished(&mut jobs, cmd("false", &[])).await.uuid;
    let stopped = run(&mut jobs, long()).await.job_uuid;
    stop(&mut jobs, &stopped).await.unwrap();
    let canceled = run(&mut jobs, later()).await.job_uuid;
    cancel(&mut jobs, &canceled).await.unwrap();
    for (id, was) in [
        (&completed, "COMPLETED"),
        (&failed, "FAILED"),
        (&stopped, "STOPPED"),
        (&canceled, "CANCELED"),
    ] {
        let e = stop(&mut jobs, id).await.unwrap_err();
        assert_code(&e, Code::FailedPrecondition, "job is not running");
        assert_eq!(status(&mut jobs, id).await.status, was, "unchanged");
    }
    assert_eq!(
        stop(&mut jobs, &uuid::Uuid::new_v4().to_string())
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
}

/// StopJob on a job held back by a reader that does not read (back-pressure)
/// and on one writing endlessly with no reader: both stop at once, memory stays
/// bounded, and the slow reader still gets what was written, then the end.
#[tokio::test]
async fn job_stop_1_stops_a_busy_loop_without_output() {
    // A job that computes without writing or sleeping must neither hold up
    // RunJob nor escape StopJob (the interpreter yields between commands).
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let busy = within(
        "RunJob of a busy loop",
        run(&mut jobs, sh("while true; do :; done")),
    )
    .await
    .job_uuid;
    assert_eq!(status(&mut jobs, &busy).await.status, "RUNNING");
    let res = within("StopJob", stop(&mut jobs, &busy)).await.unwrap();
    assert_eq!((res.status.as_str(), res.exit_code), ("STOPPED", -1));
    // The server still answers promptly afterwards.
    let done = within(
        "a later job",
        run_to_end(&mut jobs, cmd("echo", &["after"])),
    )
    .await;
    assert_eq!(done.1, "after\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_stop_1_stops_jobs_blocked_by_back_pressure_or_writing_forever() {
    let retention = 64 * 1024;
    let mock = start_with(MockServer::builder().log_retention_bytes(retention)).await;
    let mut jobs = jobs(&mock).await;

    let blocked = run(&mut jobs, cmd("yes", &[])).await.job_uuid;
    let mut stream = open_logs(&mut jobs, &blocked).await;
    let first = within("a first chunk", futures::StreamExt::next(&mut stream)).await;
    assert!(first.is_some_and(|c| c.unwrap().payload.starts_with(b"y\n")));
    let buffer = log_buffer(&mock, &blocked);
    // The writer is now waiting for the reader.
    eventually("the writer is held back", || async {
        let before = buffer.total_written();
        tokio::time::sleep(Duration::from_millis(20)).await;
        (buffer.total_written() == before).then_some(())
    })
    .await;
    let res = within("StopJob", stop(&mut jobs, &blocked)).await.unwrap();
    assert_eq!(res.status, "STOPPED");
    let rest = read_to_end(stream).await;
    assert!(rest.iter().all(|b| matches!(b, b'y' | b'\n')));
    assert!(
        buffer.retained_bytes() <= (2 * retention) as u64,
        "{}",
        buffer.retained_bytes()
    );

    let endless = run(&mut jobs, cmd("yes", &[])).await.job_uuid;
    let buffer = log_buffer(&mock, &endless);
    eventually("it writes more than the retention", || async {
        (buffer.total_written() > 4 * retention as u64).then_some(())
    })
    .await;
    assert!(
        buffer.retained_bytes() <= retention as u64,
        "{}",
        buffer.retained_bytes()
    );
    let res = within("StopJob", stop(&mut jobs, &endless)).await.unwrap();
    assert_eq!((res.status.as_str(), res.exit_code), ("STOPPED", -1));
    let written = buffer.total_written();
    let log = logs(&mut jobs, &endless).await;
    assert!(
        log.len() <= retention && !log.is_empty(),
        "{} bytes replayed",
        log.len()
    );
    assert_eq!(
        buffer.total_written(),
        written,
        "nothing written after the stop"
    );
    let shared = mock.shared();
    let state = shared.state.lock();
    assert_eq!(state.running_jobs, 0);
}

/// A job that ends on its own while StopJob races it: the outcome is one
/// consistent final state, counters and GPUs are released exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn job_stop_1_race_with_job_end_is_consistent() {
    let mock = start_with(MockServer::builder().gpus(1)).await;
    let mut jobs = jobs(&mock).await;
    for i in 0..40 {
        let r = run(
            &mut jobs,
            pb::RunJobRequest {
                gpu_count: 1,
                ..cmd("echo", &[&i.to_string()])
            },
        )
        .await;
        let res = stop(&mut jobs, &r.job_uuid).await;
        let st = wait_final(&jobs, &r.job_uuid).await;
        match res {
            Ok(res) => {
                assert_eq!(
                    (res.status.as_str(), st.status.as_str(), st.exit_code),
                    ("STOPPED", "STOPPED", -1)
                );
            }
            Err(e) => {
                assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
                assert_eq!((st.status.as_str(), st.exit_code), ("COMPLETED", 0));
            }
        }
        // The log ends and the GPU is free again.
        logs(&mut jobs, &r.job_uuid).await;
        let shared = mock.shared();
        let state = shared.state.lock();
        assert!(
            state.gpus.iter().all(Option::is_none),
            "GPU released after job {i}"
        );
        assert_eq!(state.running_jobs, 0, "running count after job {i}");
        assert_eq!(
            state.running_on_network.get("bridge").copied().unwrap_or(0),
            0
        );
    }
}

// ---------------------------------------------------------------- JOB-CANCEL

#[tokio::test]
async fn job_cancel_1_scheduled_becomes_canceled_and_never_runs() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let due = whole_second_ahead(300);
    let req = pb::RunJobRequest {
        schedule: due.format("%Y-%m-%dT%H:%M:%S").to_string(),
        ..cmd("echo", &["should not run"])
    };
    let r = run(&mut jobs, req).await;
    assert_eq!(r.status, "SCHEDULED");
    let res = cancel(&mut jobs, &r.job_uuid).await.unwrap();
    assert_eq!(
        res,
        pb::CancelJobRes {
            uuid: r.job_uuid.clone(),
            status: "CANCELED".into()
        }
    );
    // Kept in history.
    assert_eq!(list_jobs(&mut jobs).await[0].status, "CANCELED");
    // Past its time it still has not run.
    let due_at =
        Local.timestamp_opt(due.timestamp(), 0).unwrap() + chrono::Duration::milliseconds(300);
    tokio::time::sleep((due_at - Local::now()).to_std().unwrap_or_default()).await;
    let st = status(&mut jobs, &r.job_uuid).await;
    assert_eq!(st.status, "CANCELED");
    assert_eq!(logs(&mut jobs, &r.job_uuid).await, b"");
}

#[tokio::test]
async fn job_cancel_2_other_states_failed_precondition() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let running = run(&mut jobs, long()).await.job_uuid;
    let completed = finished(&mut jobs, cmd("true", &[])).await.uuid;
    let failed = finished(&mut jobs, cmd("false", &[])).await.uuid;
    let canceled = run(&mut jobs, later()).await.job_uuid;
    cancel(&mut jobs, &canceled).await.unwrap();
    let stopped = run(&mut jobs, long()).await.job_uuid;
    stop(&mut jobs, &stopped).await.unwrap();
    for (id, was) in [
        (&running, "RUNNING"),
        (&completed, "COMPLETED"),
        (&failed, "FAILED"),
        (&canceled, "CANCELED"),
        (&stopped, "STOPPED"),
    ] {
        let e = cancel(&mut jobs, id).await.unwrap_err();
        assert_eq!(e.code(), Code::FailedPrecondition, "{was}: {e:?}");
        assert_eq!(status(&mut jobs, id).await.status, was);
    }
    let e = cancel(&mut jobs, &uuid::Uuid::new_v4().to_string())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
}

// ---------------------------------------------------------------- JOB-DEL

#[tokio::test]
async fn job_del_1_finished_jobs_and_their_logs_are_gone() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let completed = finished(&mut jobs, cmd("echo", &["bye"])).await.uuid;
    let failed = finished(&mut jobs, cmd("false", &[])).await.uuid;
    let stopped = run(&mut jobs, long()).await.job_uuid;
    stop(&mut jobs, &stopped).await.unwrap();
    let canceled = run(&mut jobs, later()).await.job_uuid;
    cancel(&mut jobs, &canceled).await.unwrap();
    let keep = run(&mut jobs, cmd("true", &[])).await.job_uuid;
    for id in [&completed, &failed, &stopped, &canceled] {
        let res = delete(&mut jobs, id).await.unwrap();
        assert!(res.success, "{res:?}");
        assert_eq!(&res.uuid, id);
        assert_eq!(status_code(&mut jobs, id).await, Code::NotFound);
        assert_eq!(logs_code(&mut jobs, id).await, Code::NotFound);
        assert_eq!(
            delete(&mut jobs, id).await.unwrap_err().code(),
            Code::NotFound,
            "deleted once"
        );
    }
    let left = listed_ids(&mut jobs).await;
    assert_eq!(left, [keep]);
}

#[tokio::test]
async fn job_del_2_running_or_scheduled_failed_precondition() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let running = run(&mut jobs, long()).await.job_uuid;
    let sched = run(&mut jobs, later()).await.job_uuid;
    for (id, was) in [(&running, "RUNNING"), (&sched, "SCHEDULED")] {
        let e = delete(&mut jobs, id).await.unwrap_err();
        assert_code(&e, Code::FailedPrecondition, "stop the job first");
        assert_eq!(status(&mut jobs, id).await.status, was, "still there");
    }
    let e = delete(&mut jobs, &uuid::Uuid::new_v4().to_string())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
}

// ---------------------------------------------------------------- JOB-DELALL

#[tokio::test]
async fn job_delall_1_deletes_finished_skips_active() {
    let mock = start().await;
    let mut jobs = jobs(&mock).await;
    let empty = jobs
        .delete_all_jobs(pb::DeleteAllJobsReq {})
        .await
        .unwrap()
        .into_inner();
    assert!(empty.success);
    assert_eq!((empty.deleted_count, empty.skipped_count), (0, 0));

    let mut gone = Vec::new();
    gone.push(finished(&mut jobs, cmd("true", &[])).await.uuid);
    gone.push(finished(&mut jobs, cmd("echo", &["x"])).await.uuid);
    gone.push(finished(&mut jobs, cmd("false", &[])).await.uuid);
    let s = run(&mut jobs, long()).await.job_uuid;
    stop(&mut jobs, &s).await.unwrap();
    gone.push(s);
    let c = run(&mut jobs, later()).await.job_uuid;
    cancel(&mut jobs, &c).await.unwrap();
    gone.push(c);
    let running = run(&mut jobs, long()).await.job_uuid;
    let sched = run(&mut jobs, later()).await.job_uuid;

    let res = jobs
        .delete_all_jobs(pb::DeleteAllJobsReq {})
        .await
        .unwrap()
        .into_inner();
    assert!(res.success, "{res:?}");
    assert_eq!((res.deleted_count, res.skipped_count), (5, 2), "{res:?}");
    for id in &gone {
        assert_eq!(status_code(&mut jobs, id).await, Code::NotFound);
        assert_eq!(logs_code(&mut jobs, id).await, Code::NotFound);
    }
    let left = listed_ids(&mut jobs).await;
    assert_eq!(left, [running.clone(), sched.clone()]);
    assert_eq!(status(&mut jobs, &running).await.status, "RUNNING");
    assert_eq!(status(&mut jobs, &sched).await.status, "SCHEDULED");

    let again = jobs
        .delete_all_jobs(pb::DeleteAllJobsReq {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!((again.deleted_count, again.skipped_count), (0, 2));
}

// ---------------------------------------------------------------- JOB-LIST

#[tokio::test]
async fn job_list_1_every_job_with_its_fields() {
    let mock = start_with(MockServer::builder().config(config_4_cores()).gpus(1)).await;
    let mut jobs = jobs(&mock).await;
    assert!(list_jobs(&mut jobs).await.is_empty());
    let a = run(
        &mut jobs,
        pb::RunJobRequest {
            name: "a".into(),
            max_cpu: 50,
            cpu_cores: "1-2".into(),
            max_memory: 256,
            max_iobps: 10,
            runtime: "node-18".into(),
            environment: env(&[("K", "v")]),
            secret_environment: env(&[("S", "hidden")]),
            gpu_count: 1,
            gpu_memory_mb: 512,
            ..long()
        },
    )
    .await
    .job_uuid;
    let b = finished(&mut jobs, cmd("false", &[])).await.uuid;
    let c = run(&mut jobs, later()).await.job_uuid;
    let listed = list_jobs(&mut jobs).await;
    assert_eq!(
        listed.iter().map(|j| j.uuid.clone()).collect::<Vec<_>>(),
        [a, b, c]
    );
    for j in &listed {
        let st = status(&mut jobs, &j.uuid).await;
        assert_eq!(j.name, st.name);
        assert_eq!((&j.command, &j.args), (&st.command, &st.args));
        assert_eq!(
            (j.max_cpu, &j.cpu_cores, j.max_memory, j.max_iobps),
            (st.max_cpu, &st.cpu_cores, st.max_memory, st.max_iobps)
        );
        assert_eq!(
            (&j.status, &j.start_time, &j.end_time, j.exit_code),
            (&st.status, &st.start_time, &st.end_time, st.exit_code)
        );
        assert_eq!(j.scheduled_time, st.scheduled_time);
        assert_eq!(j.runtime, st.runtime);
        assert_eq!(
            (&j.environment, &j.secret_environment),
            (&st.environment, &st.secret_environment)
        );
        assert_eq!(
            (&j.gpu_indices, j.gpu_count, j.gpu_memory_mb),
            (&st.gpu_indices, st.gpu_count, st.gpu_memory_mb)
        );
        assert_eq!(j.node_id, "node-it-1");
    }
    let a = &listed[0];
    assert_eq!(
        (a.name.as_str(), a.status.as_str(), a.runtime.as_str()),
        ("a", "RUNNING", "node-18")
    );
    assert_eq!(a.secret_environment, env(&[("S", "***")]));
    assert_eq!(
        (a.gpu_count, a.gpu_memory_mb, a.gpu_indices.clone()),
        (1, 512, vec![0])
    );
    assert_eq!(
        (listed[1].status.as_str(), listed[1].exit_code),
        ("FAILED", 1)
    );
    assert_eq!(listed[2].status, "SCHEDULED");
    assert!(!listed[2].scheduled_time.is_empty());
}

/// Many clients running, stopping and deleting GPU jobs at once: every GPU is
/// held by at most one running job at a time, and when all is over every GPU
/// and every running counter is released exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn job_gpu_1_concurrent_churn_keeps_gpus_and_counters_consistent() {
    let mock = start_with(MockServer::builder().gpus(2)).await;
    add_volume(&mock, "shared");
    let url = mock.url();
    let mut tasks = Vec::new();
    for worker in 0..6 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let mut jobs = jobs_at(&url).await;
            let mut ids = Vec::new();
            for i in 0..30 {
                let req = pb::RunJobRequest {
                    gpu_count: 1,
                    volumes: vec!["shared".into(), "shared".into()],
                    ..sh(&format!("sleep 0.0{}", (worker + i) % 5))
                };
                match jobs.run_job(req).await {
                    Ok(r) => {
                        let id = r.into_inner().job_uuid;
                        if i % 3 == 0 {
                            let _ = jobs.stop_job(pb::StopJobReq { uuid: id.clone() }).await;
                        }
                        ids.push(id);
                    }
                    Err(e) => assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}"),
                }
                if i % 10 == 9 {
                    let r = jobs
                        .delete_all_jobs(pb::DeleteAllJobsReq {})
                        .await
                        .unwrap()
                        .into_inner();
                    assert!(r.success);
                }
            }
            ids
        }));
    }
    // Meanwhile: no GPU is ever held by two jobs, none by a finished job.
    let watcher = {
        let shared = mock.shared();
        tokio::spawn(async move {
            for _ in 0..200 {
                {
                    let state = shared.state.lock();
                    for seq in state.gpus.iter().flatten() {
                        let job = state.jobs.get(*seq).expect("a GPU holder exists");
                        assert_eq!(
                            job.status.as_str(),
                            "RUNNING",
                            "GPU held by a {:?} job",
                            job.status
                        );
                        let held = state.gpus.iter().filter(|s| **s == Some(*seq)).count();
                        assert_eq!(held, 1);
                    }
                    let running = state
                        .jobs
                        .iter()
                        .filter(|(_, j)| j.status.as_str() == "RUNNING")
                        .count();
                    assert_eq!(state.running_jobs as usize, running);
                    assert_eq!(
                        state
                            .running_with_volume
                            .get("shared")
                            .copied()
                            .unwrap_or(0) as usize,
                        running
                    );
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("worker"));
    }
    watcher.await.expect("invariants held");
    let jobs = crate::support::jobs(&mock).await;
    for id in &all {
        let mut j = jobs.clone();
        if let Ok(st) = j
            .get_job_status(pb::GetJobStatusReq { uuid: id.clone() })
            .await
        {
            let st = st.into_inner();
            if !FINAL.contains(&st.status.as_str()) {
                wait_final(&jobs, id).await;
            }
        }
    }
    let shared = mock.shared();
    let state = shared.state.lock();
    assert!(state.gpus.iter().all(Option::is_none), "{:?}", state.gpus);
    assert_eq!(state.running_jobs, 0);
    assert_eq!(
        state
            .running_with_volume
            .get("shared")
            .copied()
            .unwrap_or(0),
        0
    );
    assert_eq!(
        state.running_on_network.get("bridge").copied().unwrap_or(0),
        0
    );
    for (_, job) in state.jobs.iter() {
        match job.status.as_str() {
            "STOPPED" => assert_eq!(job.exit_code, -1),
            "COMPLETED" => assert_eq!(job.exit_code, 0),
            other => panic!("unexpected final status {other}"),
        }
    }
}
