//! Volumes (VOL-CREATE, VOL-LIST, VOL-RM) over the wire.

use chrono::{DateTime, Local};
use joblet_mock::{MockServer, RunningMock};
use joblet_testkit::pb;
use tonic::Code;

use crate::support::{Jobs, Volumes, jobs, long, run_running, start_and, stop_ok, volumes};

async fn start() -> (RunningMock, Volumes) {
    start_and(MockServer::builder(), volumes).await
}

async fn create(
    vols: &mut Volumes,
    name: &str,
    size: &str,
    kind: &str,
) -> Result<pb::CreateVolumeRes, tonic::Status> {
    vols.create_volume(pb::CreateVolumeReq {
        name: name.into(),
        size: size.into(),
        r#type: kind.into(),
    })
    .await
    .map(|r| r.into_inner())
}

async fn list(vols: &mut Volumes) -> Vec<pb::Volume> {
    vols.list_volumes(pb::EmptyRequest {})
        .await
        .expect("ListVolumes")
        .into_inner()
        .volumes
}

async fn remove(vols: &mut Volumes, name: &str) -> pb::RemoveVolumeRes {
    vols.remove_volume(pb::RemoveVolumeReq { name: name.into() })
        .await
        .expect("RemoveVolume never fails")
        .into_inner()
}

async fn job_count(vols: &mut Volumes, name: &str) -> i32 {
    list(vols)
        .await
        .into_iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("volume {name} is listed"))
        .job_count
}

/// A `sleep 30` job with `volumes` mounted, running.
async fn long_job(jobs: &mut Jobs, volumes: &[&str]) -> String {
    let req = pb::RunJobRequest {
        volumes: volumes.iter().map(|v| v.to_string()).collect(),
        ..long()
    };
    run_running(jobs, req).await
}

#[tokio::test]
async fn vol_create_1_returns_name_size_type_and_path() {
    let (_mock, mut vols) = start().await;
    let res = create(&mut vols, "data", "1gb", "")
        .await
        .expect("CreateVolume");
    assert_eq!(
        res,
        pb::CreateVolumeRes {
            name: "data".into(),
            size: "1gb".into(),
            r#type: "filesystem".into(),
            path: "/opt/joblet/volumes/data".into(),
        }
    );
    let res = create(&mut vols, "scratch", "512MB", "memory")
        .await
        .expect("memory volume");
    assert_eq!(
        (res.r#type.as_str(), res.size.as_str()),
        ("memory", "512MB")
    );
    let res = create(&mut vols, "logs", "1.5GB", "filesystem")
        .await
        .expect("filesystem volume");
    assert_eq!(res.path, "/opt/joblet/volumes/logs");
    // Volumes have no reserved names.
    create(&mut vols, "bridge", "1KB", "")
        .await
        .expect("volume named bridge");
}

#[tokio::test]
async fn vol_create_2_invalid_fields_name_the_field() {
    let (_mock, mut vols) = start().await;
    let long = "v".repeat(64);
    let cases: &[(&str, &str, &str, &str)] = &[
        ("", "1GB", "", "name"),
        ("-data", "1GB", "", "name"),
        ("da ta", "1GB", "", "name"),
        (long.as_str(), "1GB", "", "name"),
        ("data", "", "", "size"),
        ("data", "10", "", "size"),
        ("data", "1 GB", "", "size"),
        ("data", "1G", "", "size"),
        ("data", "1GiB", "", "size"),
        ("data", "0MB", "", "size"),
        ("data", "-1GB", "", "size"),
        ("data", "GB", "", "size"),
        ("data", "1GB", "tmpfs", "type"),
        ("data", "1GB", "Memory", "type"),
    ];
    for &(name, size, kind, field) in cases {
        match create(&mut vols, name, size, kind).await {
            Ok(res) => panic!("({name:?}, {size:?}, {kind:?}) should fail, got {res:?}"),
            Err(e) => {
                assert_eq!(
                    e.code(),
                    Code::InvalidArgument,
                    "({name:?}, {size:?}, {kind:?}): {e:?}"
                );
                assert!(
                    e.message().starts_with(&format!("{field}:")),
                    "({name:?}, {size:?}, {kind:?}) should name {field}: {e:?}"
                );
            }
        }
    }
    assert!(list(&mut vols).await.is_empty());
    for size in ["1b", "2kb", "3Mb", "4GB", "1TB", "0.5GB"] {
        create(
            &mut vols,
            &format!("ok-{}", size.replace('.', "_")),
            size,
            "",
        )
        .await
        .unwrap_or_else(|e| panic!("{size}: {e:?}"));
    }
}

#[tokio::test]
async fn vol_create_3_duplicate_name_is_already_exists() {
    let (_mock, mut vols) = start().await;
    create(&mut vols, "data", "1GB", "")
        .await
        .expect("CreateVolume");
    let e = create(&mut vols, "data", "2GB", "memory")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::AlreadyExists, "{e:?}");
    assert!(e.message().contains("data"), "{e:?}");
    let listed = list(&mut vols).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].size, "1GB", "the first volume is kept");
}

#[tokio::test]
async fn vol_list_1_lists_in_creation_order_with_created_time() {
    let (_mock, mut vols) = start().await;
    assert!(list(&mut vols).await.is_empty());
    let before = Local::now().timestamp();
    for (name, size, kind) in [
        ("zz", "1GB", ""),
        ("aa", "10mb", "memory"),
        ("mm", "2TB", "filesystem"),
    ] {
        create(&mut vols, name, size, kind)
            .await
            .expect("CreateVolume");
    }
    let after = Local::now().timestamp();
    let got = list(&mut vols).await;
    let view: Vec<_> = got
        .iter()
        .map(|v| {
            (
                v.name.as_str(),
                v.size.as_str(),
                v.r#type.as_str(),
                v.path.as_str(),
                v.job_count,
            )
        })
        .collect();
    assert_eq!(
        view,
        [
            ("zz", "1GB", "filesystem", "/opt/joblet/volumes/zz", 0),
            ("aa", "10mb", "memory", "/opt/joblet/volumes/aa", 0),
            ("mm", "2TB", "filesystem", "/opt/joblet/volumes/mm", 0),
        ]
    );
    for v in &got {
        let t = DateTime::parse_from_rfc3339(&v.created_time)
            .unwrap_or_else(|e| panic!("{:?} is not RFC 3339: {e}", v.created_time));
        assert!(
            !v.created_time.contains('.'),
            "whole seconds: {:?}",
            v.created_time
        );
        assert!(
            (before..=after).contains(&t.timestamp()),
            "{:?}",
            v.created_time
        );
    }
}

#[tokio::test]
async fn vol_list_1_job_count_counts_running_jobs() {
    let (mock, mut vols) = start().await;
    let mut jobs = jobs(&mock).await;
    for name in ["a", "b", "idle"] {
        create(&mut vols, name, "1GB", "")
            .await
            .expect("CreateVolume");
    }
    let one = long_job(&mut jobs, &["a", "b"]).await;
    let two = long_job(&mut jobs, &["a"]).await;
    assert_eq!(job_count(&mut vols, "a").await, 2);
    assert_eq!(job_count(&mut vols, "b").await, 1);
    assert_eq!(job_count(&mut vols, "idle").await, 0);
    stop_ok(&mut jobs, &one).await;
    assert_eq!(job_count(&mut vols, "a").await, 1);
    assert_eq!(job_count(&mut vols, "b").await, 0);
    stop_ok(&mut jobs, &two).await;
    assert_eq!(job_count(&mut vols, "a").await, 0);
}

#[tokio::test]
async fn vol_rm_1_remove_answers_success_or_why_not() {
    let (mock, mut vols) = start().await;
    let mut jobs = jobs(&mock).await;
    create(&mut vols, "data", "1GB", "")
        .await
        .expect("CreateVolume");
    create(&mut vols, "busy", "1GB", "")
        .await
        .expect("CreateVolume");

    let res = remove(&mut vols, "data").await;
    assert_eq!(
        (res.success, res.message.as_str()),
        (true, "Volume removed successfully")
    );
    let res = remove(&mut vols, "data").await;
    assert_eq!(
        (res.success, res.message.as_str()),
        (false, "volume not found: data")
    );
    let res = remove(&mut vols, "").await;
    assert!(!res.success, "{res:?}");

    let id = long_job(&mut jobs, &["busy"]).await;
    let res = remove(&mut vols, "busy").await;
    assert_eq!(
        (res.success, res.message.as_str()),
        (false, "volume busy is in use by 1 job(s)")
    );
    stop_ok(&mut jobs, &id).await;
    let res = remove(&mut vols, "busy").await;
    assert!(res.success, "{res:?}");
    assert!(list(&mut vols).await.is_empty());

    // Jobs cannot mount a removed volume.
    let e = jobs
        .run_job(pb::RunJobRequest {
            command: "echo".into(),
            volumes: vec!["data".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
}
