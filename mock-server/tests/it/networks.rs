//! Networks (NET-CREATE, NET-LIST, NET-RM) over the wire.

use joblet_mock::{MockServer, RunningMock};
use joblet_testkit::pb;
use joblet_testkit::testing::eventually;
use tonic::Code;

use crate::support::{Jobs, Networks, jobs, long, networks, run_running, start_and, stop_ok};

async fn start() -> (RunningMock, Networks) {
    start_and(MockServer::builder(), networks).await
}

async fn create(
    net: &mut Networks,
    name: &str,
    cidr: &str,
) -> Result<pb::CreateNetworkRes, tonic::Status> {
    net.create_network(pb::CreateNetworkReq {
        name: name.into(),
        cidr: cidr.into(),
    })
    .await
    .map(|r| r.into_inner())
}

async fn list(net: &mut Networks) -> Vec<pb::Network> {
    net.list_networks(pb::EmptyRequest {})
        .await
        .expect("ListNetworks")
        .into_inner()
        .networks
}

async fn remove(net: &mut Networks, name: &str) -> pb::RemoveNetworkRes {
    net.remove_network(pb::RemoveNetworkReq { name: name.into() })
        .await
        .expect("RemoveNetwork never fails")
        .into_inner()
}

/// jobCount of `name` in ListNetworks.
async fn job_count(net: &mut Networks, name: &str) -> i32 {
    list(net)
        .await
        .into_iter()
        .find(|n| n.name == name)
        .unwrap_or_else(|| panic!("network {name} is listed"))
        .job_count
}

/// A `sleep 30` job on `network`, running.
async fn long_job(jobs: &mut Jobs, network: &str) -> String {
    let req = pb::RunJobRequest {
        network: network.into(),
        ..long()
    };
    run_running(jobs, req).await
}

#[track_caller]
fn assert_invalid(r: Result<pb::CreateNetworkRes, tonic::Status>, field: &str, what: &str) {
    match r {
        Ok(res) => panic!("{what}: should be INVALID_ARGUMENT, got {res:?}"),
        Err(e) => {
            assert_eq!(e.code(), Code::InvalidArgument, "{what}: {e:?}");
            assert!(
                e.message().contains(field),
                "{what}: message should name {field}: {e:?}"
            );
        }
    }
}

#[tokio::test]
async fn net_create_1_returns_name_cidr_and_joblet_bridge() {
    let (_mock, mut net) = start().await;
    let res = create(&mut net, "dev", "10.10.0.0/24")
        .await
        .expect("CreateNetwork");
    assert_eq!(res.name, "dev");
    assert_eq!(res.cidr, "10.10.0.0/24");
    assert_eq!(res.bridge, "joblet-dev");
    // The CIDR is echoed as sent, host bits included.
    let res = create(&mut net, "web_1", "10.20.0.7/16")
        .await
        .expect("CreateNetwork");
    assert_eq!(
        (res.cidr.as_str(), res.bridge.as_str()),
        ("10.20.0.7/16", "joblet-web_1")
    );
}

#[tokio::test]
async fn net_create_2_bad_or_reserved_names_are_invalid_argument() {
    let (_mock, mut net) = start().await;
    let long = "a".repeat(64);
    for name in [
        "",
        "-dev",
        "dev-",
        "_x",
        "has space",
        "dév",
        "a/b",
        long.as_str(),
    ] {
        assert_invalid(create(&mut net, name, "10.30.0.0/24").await, "name", name);
    }
    for name in ["bridge", "isolated", "none", "host"] {
        let r = create(&mut net, name, "10.31.0.0/24").await;
        assert_invalid(r, "name", name);
    }
    // The longest and shortest legal names.
    let max = "b".repeat(63);
    create(&mut net, &max, "10.32.0.0/24")
        .await
        .expect("63 characters");
    create(&mut net, "x", "10.33.0.0/24")
        .await
        .expect("1 character");
}

#[tokio::test]
async fn net_create_3_bad_cidr_is_invalid_argument() {
    let (_mock, mut net) = start().await;
    for cidr in [
        "",
        "10.0.0.0",
        "10.0.0.0/7",
        "10.0.0.0/31",
        "10.0.0.0/32",
        "300.1.1.1/24",
        "fd00::/64",
        "ten/8",
    ] {
        assert_invalid(create(&mut net, "dev", cidr).await, "cidr", cidr);
    }
    let e = create(&mut net, "dev", "").await.unwrap_err();
    assert!(e.message().contains("cidr is required"), "{e:?}");
    create(&mut net, "wide", "11.0.0.0/8")
        .await
        .expect("/8 is allowed");
    create(&mut net, "tiny", "192.168.9.4/30")
        .await
        .expect("/30 is allowed");
}

#[tokio::test]
async fn net_create_3_overlapping_cidr_is_invalid_argument() {
    let (_mock, mut net) = start().await;
    // The built-in bridge holds 172.20.0.0/16.
    let e = create(&mut net, "inside-bridge", "172.20.5.0/24")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert!(
        e.message().contains("cidr") && e.message().contains("bridge"),
        "{e:?}"
    );

    create(&mut net, "dev", "10.1.0.0/16")
        .await
        .expect("CreateNetwork");
    for (cidr, what) in [
        ("10.1.2.0/24", "inside"),
        ("10.0.0.0/8", "around"),
        ("10.1.0.0/16", "same"),
    ] {
        let e = create(&mut net, "other", cidr).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{what}: {e:?}");
        assert!(
            e.message().contains("dev"),
            "{what}: should name the network: {e:?}"
        );
    }
    create(&mut net, "other", "10.2.0.0/16")
        .await
        .expect("adjacent, not overlapping");
    let names: Vec<_> = list(&mut net).await.into_iter().map(|n| n.name).collect();
    assert_eq!(names, ["bridge", "dev", "other"]);
}

#[tokio::test]
async fn net_create_4_duplicate_name_is_already_exists() {
    let (_mock, mut net) = start().await;
    create(&mut net, "dev", "10.1.0.0/24")
        .await
        .expect("CreateNetwork");
    for cidr in ["10.1.0.0/24", "10.9.0.0/24"] {
        let e = create(&mut net, "dev", cidr).await.unwrap_err();
        assert_eq!(e.code(), Code::AlreadyExists, "{e:?}");
        assert!(e.message().contains("dev"), "{e:?}");
    }
    assert_eq!(list(&mut net).await.len(), 2);
}

#[tokio::test]
async fn net_list_1_bridge_first_then_created_in_order() {
    let (_mock, mut net) = start().await;
    let fresh = list(&mut net).await;
    assert_eq!(
        fresh,
        [pb::Network {
            name: "bridge".into(),
            cidr: "172.20.0.0/16".into(),
            bridge: "joblet0".into(),
            job_count: 0,
        }]
    );
    // Names sort differently from creation order.
    for (name, cidr) in [
        ("zeta", "10.3.0.0/24"),
        ("alpha", "10.1.0.0/24"),
        ("mid", "10.2.0.0/24"),
    ] {
        create(&mut net, name, cidr).await.expect("CreateNetwork");
    }
    let got: Vec<_> = list(&mut net)
        .await
        .into_iter()
        .map(|n| (n.name, n.cidr, n.bridge, n.job_count))
        .collect();
    let want: Vec<_> = [
        ("bridge", "172.20.0.0/16", "joblet0"),
        ("zeta", "10.3.0.0/24", "joblet-zeta"),
        ("alpha", "10.1.0.0/24", "joblet-alpha"),
        ("mid", "10.2.0.0/24", "joblet-mid"),
    ]
    .into_iter()
    .map(|(n, c, b)| (n.to_string(), c.to_string(), b.to_string(), 0))
    .collect();
    assert_eq!(got, want, "isolated and none are not listed");
}

#[tokio::test]
async fn net_list_1_job_count_counts_running_jobs() {
    let (mock, mut net) = start().await;
    let mut jobs = jobs(&mock).await;
    create(&mut net, "dev", "10.1.0.0/24")
        .await
        .expect("CreateNetwork");
    let a = long_job(&mut jobs, "dev").await;
    let b = long_job(&mut jobs, "dev").await;
    let c = long_job(&mut jobs, "").await; // the default network is bridge
    assert_eq!(job_count(&mut net, "dev").await, 2);
    assert_eq!(job_count(&mut net, "bridge").await, 1);
    stop_ok(&mut jobs, &a).await;
    assert_eq!(job_count(&mut net, "dev").await, 1);
    stop_ok(&mut jobs, &b).await;
    stop_ok(&mut jobs, &c).await;
    let counts = eventually("jobCount falls to 0", || {
        let mut net = net.clone();
        async move {
            let all = list(&mut net).await;
            all.iter().all(|n| n.job_count == 0).then_some(all.len())
        }
    })
    .await;
    assert_eq!(counts, 2);
}

#[tokio::test]
async fn net_rm_1_remove_answers_success_or_why_not() {
    let (mock, mut net) = start().await;
    create(&mut net, "dev", "10.1.0.0/24")
        .await
        .expect("CreateNetwork");
    let res = remove(&mut net, "dev").await;
    assert_eq!(
        (res.success, res.message.as_str()),
        (true, "Network removed successfully")
    );
    assert_eq!(list(&mut net).await.len(), 1);

    let res = remove(&mut net, "dev").await;
    assert!(!res.success);
    assert_eq!(res.message, "network not found: dev");
    let res = remove(&mut net, "host").await;
    assert!(
        !res.success && res.message.contains("network not found"),
        "{res:?}"
    );
    let res = remove(&mut net, "").await;
    assert_eq!(
        (res.success, res.message.as_str()),
        (false, "network name cannot be empty")
    );
    for builtin in ["bridge", "isolated", "none"] {
        let res = remove(&mut net, builtin).await;
        assert!(!res.success, "{builtin}: {res:?}");
        assert_eq!(
            res.message,
            format!("network {builtin} is built in and cannot be removed")
        );
    }
    assert_eq!(list(&mut net).await[0].name, "bridge");

    // A removed network can be created again, and jobs cannot use it meanwhile.
    let mut jobs = jobs(&mock).await;
    let e = jobs
        .run_job(pb::RunJobRequest {
            command: "echo".into(),
            network: "dev".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    create(&mut net, "dev", "10.1.0.0/24")
        .await
        .expect("created again");
}

#[tokio::test]
async fn net_rm_1_network_in_use_is_kept() {
    let (mock, mut net) = start().await;
    let mut jobs = jobs(&mock).await;
    create(&mut net, "busy", "10.1.0.0/24")
        .await
        .expect("CreateNetwork");
    let id = long_job(&mut jobs, "busy").await;
    let res = remove(&mut net, "busy").await;
    assert_eq!(
        (res.success, res.message.as_str()),
        (false, "network is still in use by 1 job(s)")
    );
    assert_eq!(list(&mut net).await.len(), 2);
    stop_ok(&mut jobs, &id).await;
    let res = remove(&mut net, "busy").await;
    assert!(res.success, "{res:?}");
}
