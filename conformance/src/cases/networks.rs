//! Networks (NET-*). Every network a case creates carries the run prefix; the
//! reserved-name check sends only names that the node does not list, so a
//! server that wrongly accepts one creates a network of this run's, which is
//! removed again. `bridge` is never sent.

use joblet_testkit::pb;
use tonic::Code;

use crate::case;
use crate::case::Case;
use crate::check::{self, CaseResult, ensure, ensure_eq, fail};
use crate::ctx::{Ctx, job};

pub(crate) const CASES: &[Case] = &[
    case!(
        "networks.create.answers_name_cidr_and_bridge",
        ["NET-CREATE-1"],
        Must,
        Mutating,
        "CreateNetwork answers {name, cidr, bridge \"joblet-<name>\"}",
        create_answer,
        quirks = ["QUIRK-8"]
    ),
    case!(
        "networks.create.bad_names_are_invalid_argument",
        ["NET-CREATE-2", "ALL-4"],
        Must,
        Mutating,
        "Names that are empty, too long, or not [A-Za-z0-9_-] starting and ending alphanumeric answer INVALID_ARGUMENT",
        bad_names
    ),
    case!(
        "networks.create.reserved_names_are_invalid_argument",
        ["NET-CREATE-2"],
        Must,
        Mutating,
        "The built-in names host, isolated and none are refused with INVALID_ARGUMENT",
        reserved_names,
        quirks = ["QUIRK-8"]
    ),
    case!(
        "networks.create.bad_cidrs_are_invalid_argument",
        ["NET-CREATE-3", "ALL-4"],
        Must,
        Mutating,
        "CIDRs that are not IPv4 networks with a /8../30 prefix answer INVALID_ARGUMENT naming the cidr",
        bad_cidrs
    ),
    case!(
        "networks.create.overlapping_cidr_is_invalid_argument",
        ["NET-CREATE-3"],
        Must,
        Mutating,
        "A CIDR overlapping an existing network answers INVALID_ARGUMENT naming that network",
        overlap,
        quirks = ["QUIRK-8"]
    ),
    case!(
        "networks.create.duplicate_name_is_already_exists",
        ["NET-CREATE-4"],
        Must,
        Mutating,
        "Creating a network with an existing name answers ALREADY_EXISTS and keeps the first",
        duplicate,
        quirks = ["QUIRK-8"]
    ),
    case!(
        "networks.list.bridge_first_then_created_with_job_counts",
        ["NET-LIST-1", "ALL-5"],
        Must,
        Mutating,
        "ListNetworks lists bridge (172.20.0.0/16, joblet0) first, created networks in order, jobCount = running jobs",
        list
    ),
    case!(
        "networks.remove.answers_success_and_not_found",
        ["NET-RM-1"],
        Must,
        Mutating,
        "RemoveNetwork answers success, then success false \"network not found\"",
        remove
    ),
    case!(
        "networks.remove.busy_network_is_refused",
        ["NET-RM-1"],
        Must,
        Mutating,
        "RemoveNetwork of a network a running job uses answers success false \"in use by 1 job(s)\"",
        remove_busy
    ),
];

async fn create_answer(cx: Ctx) -> CaseResult {
    let name = cx.name("net");
    let cidr = cx.cidr();
    let call = format!("CreateNetwork{{name: {name}, cidr: {cidr}}}");
    let r = check::ok(&call, cx.create_network_raw(&name, &cidr).await)?;
    ensure_eq(&call, "name", name.as_str(), r.name.as_str())?;
    ensure_eq(&call, "cidr", cidr.as_str(), r.cidr.as_str())?;
    ensure_eq(
        &call,
        "bridge",
        format!("joblet-{name}").as_str(),
        r.bridge.as_str(),
    )
}

async fn bad_names(cx: Ctx) -> CaseResult {
    let p = cx.env.prefix();
    let long = format!("{p}{}", "x".repeat(64));
    for name in [
        String::new(),
        format!("{p}bad-"),
        format!("_{p}bad"),
        format!("{p}sp ace"),
        format!("{p}dot.ted"),
        long,
    ] {
        let cidr = cx.cidr();
        let r = cx.create_network_raw(&name, &cidr).await;
        check::code_naming(
            &format!("CreateNetwork{{name: {name:?}, cidr: {cidr}}}"),
            r,
            Code::InvalidArgument,
            &["name"],
        )?;
    }
    Ok(())
}

async fn reserved_names(cx: Ctx) -> CaseResult {
    let list = check::ok(
        "ListNetworks",
        cx.networks().list_networks(pb::EmptyRequest {}).await,
    )?
    .into_inner();
    let mut sent = 0;
    for name in ["host", "isolated", "none"] {
        if list.networks.iter().any(|n| n.name == name) {
            continue; // listed: never risk touching it
        }
        sent += 1;
        let cidr = cx.cidr();
        let r = cx.create_network_raw(name, &cidr).await;
        check::code(
            &format!("CreateNetwork{{name: {name:?}, cidr: {cidr}}} (reserved)"),
            r,
            Code::InvalidArgument,
        )?;
    }
    if sent == 0 {
        return Err(check::skip(
            "the node lists host, isolated and none as networks: not sending reserved names",
        ));
    }
    Ok(())
}

async fn bad_cidrs(cx: Ctx) -> CaseResult {
    let o = cx.cidr(); // a /24 of this run: 10.A.B.0/24
    let base = o.trim_end_matches("/24");
    for cidr in [
        "not-a-cidr".to_owned(),
        format!("{base}/7"),
        format!("{base}/31"),
        format!("{base}/32"),
        "300.1.1.0/24".to_owned(),
        "10.1.1.0".to_owned(),
        "fd00::/64".to_owned(),
        String::new(),
    ] {
        let name = cx.name("net");
        let r = cx.create_network_raw(&name, &cidr).await;
        check::code_naming(
            &format!("CreateNetwork{{name: {name}, cidr: {cidr:?}}}"),
            r,
            Code::InvalidArgument,
            &["cidr"],
        )?;
    }
    Ok(())
}

async fn overlap(cx: Ctx) -> CaseResult {
    let (first, cidr) = cx.create_network().await?;
    let inner = cidr.replace(".0/24", ".128/25");
    let name = cx.name("net");
    let r = cx.create_network_raw(&name, &inner).await;
    check::code_naming(
        &format!("CreateNetwork{{name: {name}, cidr: {inner}}} inside {first} ({cidr})"),
        r,
        Code::InvalidArgument,
        &[&first],
    )?;
    Ok(())
}

async fn duplicate(cx: Ctx) -> CaseResult {
    let (name, cidr) = cx.create_network().await?;
    let other = cx.cidr();
    let r = cx.create_network_raw(&name, &other).await;
    check::code(
        &format!("CreateNetwork{{name: {name}, cidr: {other}}} (name taken)"),
        r,
        Code::AlreadyExists,
    )?;
    let list = check::ok(
        "ListNetworks",
        cx.networks().list_networks(pb::EmptyRequest {}).await,
    )?
    .into_inner();
    let mine: Vec<&pb::Network> = list.networks.iter().filter(|n| n.name == name).collect();
    ensure(
        mine.len() == 1 && mine[0].cidr == cidr,
        "ListNetworks after the refused duplicate",
        format!("one {name} with cidr {cidr}"),
        format!("{:?}", mine.iter().map(|n| &n.cidr).collect::<Vec<_>>()),
    )
}

async fn list(cx: Ctx) -> CaseResult {
    let (a, acidr) = cx.create_network().await?;
    let (b, _) = cx.create_network().await?;
    let list = check::ok(
        "ListNetworks",
        cx.networks().list_networks(pb::EmptyRequest {}).await,
    )?
    .into_inner();
    let Some(first) = list.networks.first() else {
        return Err(fail("ListNetworks", "bridge first", "no networks"));
    };
    ensure(
        first.name == "bridge" && first.cidr == "172.20.0.0/16" && first.bridge == "joblet0",
        "ListNetworks",
        "first entry {name: bridge, cidr: 172.20.0.0/16, bridge: joblet0}",
        format!(
            "{{name: {:?}, cidr: {:?}, bridge: {:?}}}",
            first.name, first.cidr, first.bridge
        ),
    )?;
    let order: Vec<&str> = list
        .networks
        .iter()
        .map(|n| n.name.as_str())
        .filter(|n| *n == a || *n == b)
        .collect();
    ensure(
        order == [a.as_str(), b.as_str()],
        "ListNetworks",
        format!("{a} then {b} (creation order)"),
        format!("{order:?}"),
    )?;
    let count = |l: &pb::Networks| {
        l.networks
            .iter()
            .find(|n| n.name == a)
            .map(|n| (n.cidr.clone(), n.job_count))
    };
    ensure_eq(
        "ListNetworks (no job on it)",
        &format!("{a}: (cidr, jobCount)"),
        &Some((acidr.clone(), 0)),
        &count(&list),
    )?;
    let mut req = job("sleep", &["600"]);
    req.network = a.clone();
    let id = cx.run(req).await?.job_uuid;
    cx.wait_status(&id, &["RUNNING"]).await?;
    let list = check::ok(
        "ListNetworks",
        cx.networks().list_networks(pb::EmptyRequest {}).await,
    )?
    .into_inner();
    ensure_eq(
        "ListNetworks (one job RUNNING on it)",
        &format!("{a}: (cidr, jobCount)"),
        &Some((acidr.clone(), 1)),
        &count(&list),
    )?;
    cx.stop(&id).await?;
    cx.wait_final(&id).await?;
    let list = check::ok(
        "ListNetworks",
        cx.networks().list_networks(pb::EmptyRequest {}).await,
    )?
    .into_inner();
    ensure_eq(
        "ListNetworks (its job stopped)",
        &format!("{a}: (cidr, jobCount)"),
        &Some((acidr, 0)),
        &count(&list),
    )
}

async fn remove_call(cx: &Ctx, name: &str) -> CaseResult<pb::RemoveNetworkRes> {
    Ok(check::ok(
        &format!("RemoveNetwork{{name: {name}}}"),
        cx.networks()
            .remove_network(pb::RemoveNetworkReq { name: name.into() })
            .await,
    )?
    .into_inner())
}

async fn remove(cx: Ctx) -> CaseResult {
    let (name, _) = cx.create_network().await?;
    let call = format!("RemoveNetwork{{name: {name}}}");
    let r = remove_call(&cx, &name).await?;
    ensure(
        r.success,
        &call,
        "success true",
        format!("success false ({:?})", r.message),
    )?;
    let list = check::ok(
        "ListNetworks",
        cx.networks().list_networks(pb::EmptyRequest {}).await,
    )?
    .into_inner();
    ensure(
        !list.networks.iter().any(|n| n.name == name),
        "ListNetworks after RemoveNetwork",
        format!("no {name}"),
        format!("{name} still listed"),
    )?;
    let r = remove_call(&cx, &name).await?;
    ensure(
        !r.success && r.message.to_ascii_lowercase().contains("not found"),
        &format!("{call} again"),
        "success false, \"network not found\"",
        format!("success {}, {:?}", r.success, r.message),
    )
}

async fn remove_busy(cx: Ctx) -> CaseResult {
    let (name, _) = cx.create_network().await?;
    let mut req = job("sleep", &["600"]);
    req.network = name.clone();
    let id = cx.run(req).await?.job_uuid;
    cx.wait_status(&id, &["RUNNING"]).await?;
    let r = remove_call(&cx, &name).await?;
    ensure(
        !r.success && r.message.contains("in use by 1 job"),
        &format!("RemoveNetwork{{name: {name}}} while a job runs on it"),
        "success false, \"network is still in use by 1 job(s)\"",
        format!("success {}, {:?}", r.success, r.message),
    )?;
    let list = check::ok(
        "ListNetworks",
        cx.networks().list_networks(pb::EmptyRequest {}).await,
    )?
    .into_inner();
    ensure(
        list.networks.iter().any(|n| n.name == name),
        "ListNetworks after the refused RemoveNetwork",
        format!("{name} still listed"),
        "gone",
    )
}
