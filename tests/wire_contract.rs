//! Proves that our proto files are wire-identical to the published SDKs'
//! contracts: `proto/joblet.proto` (compiled into `FILE_DESCRIPTOR_SET`) to
//! `fixtures/wire/joblet-v1.fds.pb` (v1.0.6, joblet-sdk-python 1.1.5), and
//! `proto/v2/joblet.proto` (`FILE_DESCRIPTOR_SET_V2`) to
//! `fixtures/wire/joblet-v2.5.9.fds.pb` (v2.5.9, joblet-sdk-python 2.5.2):
//! same package, services, methods (types and streaming flags), messages,
//! fields (name, number, type, type name, label, map, oneof) and enums.
//!
//! Then the two contracts against each other: no field number means two
//! different things in messages of the same name or on the same method path
//! (what lets one server answer clients of both), and the method paths of
//! both (35 distinct, 20 shared, 29 in v1, 26 in v2).

use std::collections::{BTreeMap, BTreeSet};

use prost::Message;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet};

/// One of the two contracts: where its reference lives and what we compile.
struct Contract {
    name: &'static str,
    /// Our proto file, named in differences.
    proto: &'static str,
    /// The SDK's descriptor set, relative to the crate root.
    fixture: &'static str,
    /// Our compiled descriptor set.
    ours: &'static [u8],
}

const V1: Contract = Contract {
    name: "v1.0.6",
    proto: "proto/joblet.proto",
    fixture: "fixtures/wire/joblet-v1.fds.pb",
    ours: joblet_testkit::FILE_DESCRIPTOR_SET,
};

const V2: Contract = Contract {
    name: "v2.5.9",
    proto: "proto/v2/joblet.proto",
    fixture: "fixtures/wire/joblet-v2.5.9.fds.pb",
    ours: joblet_testkit::FILE_DESCRIPTOR_SET_V2,
};

/// The file of package `joblet` in an encoded descriptor set.
fn joblet_file(bytes: &[u8], what: &str) -> FileDescriptorProto {
    let set = FileDescriptorSet::decode(bytes).unwrap_or_else(|e| panic!("{what} decodes: {e}"));
    set.file
        .into_iter()
        .find(|f| f.package() == "joblet")
        .unwrap_or_else(|| panic!("{what} holds package joblet"))
}

impl Contract {
    fn reference(&self) -> FileDescriptorProto {
        let path = format!("{}/{}", env!("CARGO_MANIFEST_DIR"), self.fixture);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path} is readable: {e}"));
        joblet_file(&bytes, self.fixture)
    }

    fn ours(&self) -> FileDescriptorProto {
        joblet_file(self.ours, self.proto)
    }

    /// Differences between the reference and `ours` (empty when identical).
    fn differences_with(&self, ours: &FileDescriptorProto) -> Vec<String> {
        differences(self, &facts(&self.reference()), &facts(ours))
    }

    /// Fails with every difference, one per line, when ours is not identical.
    fn assert_wire_identical(&self) {
        let diffs = self.differences_with(&self.ours());
        assert!(
            diffs.is_empty(),
            "{} differs from the {} contract ({}):\n{}",
            self.proto,
            self.name,
            self.fixture,
            diffs.join("\n")
        );
    }
}

/// One line per wire-relevant fact, keyed so that differences read as a diff.
fn facts(file: &FileDescriptorProto) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    out.insert("package".into(), file.package().to_string());
    out.insert("syntax".into(), file.syntax().to_string());
    for service in &file.service {
        let key = format!("service {}", service.name());
        out.insert(key.clone(), format!("{} methods", service.method.len()));
        for m in &service.method {
            out.insert(
                format!("{key} rpc {}", m.name()),
                format!(
                    "{}{} -> {}{}",
                    if m.client_streaming() { "stream " } else { "" },
                    m.input_type(),
                    if m.server_streaming() { "stream " } else { "" },
                    m.output_type()
                ),
            );
        }
    }
    for msg in &file.message_type {
        message_facts(&format!(".{}", file.package()), msg, &mut out);
    }
    for e in &file.enum_type {
        for v in &e.value {
            out.insert(
                format!("enum {} {}", e.name(), v.name()),
                v.number().to_string(),
            );
        }
    }
    out
}

fn message_facts(scope: &str, msg: &DescriptorProto, out: &mut BTreeMap<String, String>) {
    let full = format!("{scope}.{}", msg.name());
    let is_map = msg.options.as_ref().is_some_and(|o| o.map_entry());
    out.insert(
        format!("message {full}"),
        format!(
            "{} fields{}",
            msg.field.len(),
            if is_map { " map_entry" } else { "" }
        ),
    );
    for f in &msg.field {
        let oneof = f
            .oneof_index
            .and_then(|i| msg.oneof_decl.get(i as usize))
            .map(|o| format!(" oneof {}", o.name()))
            .unwrap_or_default();
        out.insert(
            format!("message {full} field {}", f.number()),
            format!(
                "{} {:?} {:?} {}{}{}",
                f.name(),
                f.label(),
                f.r#type(),
                f.type_name(),
                oneof,
                if f.proto3_optional() { " optional" } else { "" }
            ),
        );
    }
    for nested in &msg.nested_type {
        message_facts(&full, nested, out);
    }
    for e in &msg.enum_type {
        for v in &e.value {
            out.insert(
                format!("enum {full}.{} {}", e.name(), v.name()),
                v.number().to_string(),
            );
        }
    }
}

/// Human-readable differences between two fact tables (empty when identical):
/// `-` only in the contract, `+` only in ours, `~` different.
fn differences(
    contract: &Contract,
    expected: &BTreeMap<String, String>,
    actual: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut diffs = Vec::new();
    for (k, v) in expected {
        match actual.get(k) {
            None => diffs.push(format!("- {k}: {v} (missing in {})", contract.proto)),
            Some(a) if a != v => diffs.push(format!("~ {k}: contract {v} / ours {a}")),
            Some(_) => {}
        }
    }
    for (k, v) in actual {
        if !expected.contains_key(k) {
            diffs.push(format!(
                "+ {k}: {v} (not in the {} contract)",
                contract.name
            ));
        }
    }
    diffs
}

/// Counts of services, RPCs and top-level messages of a descriptor.
fn shape(file: &FileDescriptorProto) -> (usize, usize, usize) {
    (
        file.service.len(),
        file.service.iter().map(|s| s.method.len()).sum(),
        file.message_type.len(),
    )
}

#[test]
fn our_proto_is_wire_identical_to_the_sdk_contract() {
    V1.assert_wire_identical();
    // Sanity: the comparison saw the whole contract (5 services, 29 RPCs, 76 messages).
    assert_eq!(shape(&V1.reference()), (5, 29, 76));
}

#[test]
fn our_v2_proto_is_wire_identical_to_the_v2_sdk_contract() {
    V2.assert_wire_identical();
    // Sanity: the whole v2.5.9 contract (5 services, 26 RPCs, 76 messages).
    assert_eq!(shape(&V2.reference()), (5, 26, 76));
    assert_eq!(shape(&V2.ours()), (5, 26, 76));
}

#[test]
fn comparison_detects_a_changed_field_number() {
    // Renumber RunJobRequest.command (2 -> 21) in a copy of our descriptor: the
    // comparison must report it, which shows the main test cannot pass vacuously.
    let mut changed = V1.ours();
    let msg = changed
        .message_type
        .iter_mut()
        .find(|m| m.name() == "RunJobRequest")
        .expect("RunJobRequest exists");
    let field = msg
        .field
        .iter_mut()
        .find(|f| f.name() == "command")
        .expect("command field");
    field.number = Some(21);
    let diffs = V1.differences_with(&changed);
    assert!(
        diffs.iter().any(|d| d.contains("RunJobRequest field 2")),
        "renumbering went unnoticed: {diffs:?}"
    );
    assert!(diffs.iter().any(|d| d.contains("RunJobRequest field 21")));
}

#[test]
fn comparison_detects_streaming_and_map_changes() {
    let mut changed = V1.ours();
    let svc = changed
        .service
        .iter_mut()
        .find(|s| s.name() == "JobService")
        .unwrap();
    let logs = svc
        .method
        .iter_mut()
        .find(|m| m.name() == "GetJobLogs")
        .unwrap();
    logs.server_streaming = Some(false);
    let diffs = V1.differences_with(&changed);
    assert!(
        diffs.iter().any(|d| d.contains("rpc GetJobLogs")),
        "{diffs:?}"
    );

    let mut changed = V1.ours();
    let job = changed
        .message_type
        .iter_mut()
        .find(|m| m.name() == "Job")
        .unwrap();
    let entry = job
        .nested_type
        .iter_mut()
        .find(|n| n.name() == "EnvironmentEntry")
        .unwrap();
    entry.options = None;
    let diffs = V1.differences_with(&changed);
    assert!(
        diffs.iter().any(|d| d.contains("EnvironmentEntry")),
        "{diffs:?}"
    );
}

#[test]
fn v2_comparison_detects_a_changed_oneof_and_a_missing_field() {
    // Move TelematicsEvent.exec out of its oneof and drop Job.timeout: both
    // must be reported, with the proto file and the fact that changed.
    let mut changed = V2.ours();
    let event = changed
        .message_type
        .iter_mut()
        .find(|m| m.name() == "TelematicsEvent")
        .expect("TelematicsEvent exists");
    let exec = event
        .field
        .iter_mut()
        .find(|f| f.name() == "exec")
        .expect("exec field");
    exec.oneof_index = None;
    let job = changed
        .message_type
        .iter_mut()
        .find(|m| m.name() == "Job")
        .expect("Job exists");
    job.field.retain(|f| f.name() != "timeout");
    let diffs = V2.differences_with(&changed);
    assert!(
        diffs.iter().any(
            |d| d.starts_with("~ message .joblet.TelematicsEvent field 10")
                && d.contains("oneof data")
        ),
        "{diffs:?}"
    );
    assert!(
        diffs.iter().any(|d| d
            == "- message .joblet.Job field 21: timeout Optional String  (missing in proto/v2/joblet.proto)"),
        "{diffs:?}"
    );
}

#[test]
fn the_contract_set_holds_only_the_joblet_package() {
    // The mock's control API is compiled into its own set: it must never leak
    // into the contracts that reflection and this comparison use.
    for bytes in [
        joblet_testkit::FILE_DESCRIPTOR_SET,
        joblet_testkit::FILE_DESCRIPTOR_SET_V2,
    ] {
        let set = FileDescriptorSet::decode(bytes).expect("ours decodes");
        let packages: Vec<&str> = set.file.iter().map(|f| f.package()).collect();
        assert_eq!(packages, ["joblet"]);
    }
    let control =
        FileDescriptorSet::decode(joblet_testkit::CONTROL_DESCRIPTOR_SET).expect("control decodes");
    let packages: Vec<&str> = control.file.iter().map(|f| f.package()).collect();
    assert_eq!(packages, ["jobletmock.v1"]);
    assert!(
        control.file[0]
            .service
            .iter()
            .any(|s| s.name() == "MockControl")
    );
}

#[test]
fn the_generated_modules_are_the_two_contracts() {
    // `pb::X` stays v1; `pb::v1` and `pb::v2` sit side by side.
    use joblet_testkit::pb;
    let v1_request = pb::RunJobRequest {
        name: "n".into(),
        ..Default::default()
    };
    let same: pb::v1::RunJobRequest = v1_request.clone();
    assert_eq!(same.name, "n");
    let v2_request = pb::v2::RunJobRequest {
        command: "true".into(),
        timeout: "30s".into(),
        ..Default::default()
    };
    // Field 21 is `timeout` in v2 and unknown to v1: a v1 decoder skips it.
    let decoded = pb::v1::RunJobRequest::decode(v2_request.encode_to_vec().as_slice())
        .expect("a v1 decoder reads a v2 request");
    assert_eq!(decoded.command, "true");
    assert_eq!(
        decoded,
        pb::v1::RunJobRequest {
            command: "true".into(),
            ..Default::default()
        }
    );
}

// ---- The two contracts side by side ----

/// All messages of a file (nested ones included) by full name (`.joblet.Job`).
fn messages(file: &FileDescriptorProto) -> BTreeMap<String, &DescriptorProto> {
    fn walk<'a>(
        scope: &str,
        msgs: &'a [DescriptorProto],
        out: &mut BTreeMap<String, &'a DescriptorProto>,
    ) {
        for m in msgs {
            let full = format!("{scope}.{}", m.name());
            walk(&full, &m.nested_type, out);
            out.insert(full, m);
        }
    }
    let mut out = BTreeMap::new();
    walk(
        &format!(".{}", file.package()),
        &file.message_type,
        &mut out,
    );
    out
}

/// `/package.Service/Method` → (input type, output type, client streaming,
/// server streaming).
fn methods(file: &FileDescriptorProto) -> BTreeMap<String, (String, String, bool, bool)> {
    let mut out = BTreeMap::new();
    for s in &file.service {
        for m in &s.method {
            out.insert(
                format!("/{}.{}/{}", file.package(), s.name(), m.name()),
                (
                    m.input_type().to_string(),
                    m.output_type().to_string(),
                    m.client_streaming(),
                    m.server_streaming(),
                ),
            );
        }
    }
    out
}

/// What a field number means on the wire: type and label (and map-ness via
/// the paired entry messages).
fn wire_meaning(f: &FieldDescriptorProto) -> (Type, Label) {
    (f.r#type(), f.label())
}

/// Every field number that means two different things in two messages that a
/// server must treat as one: messages of the same name, and messages reached
/// from the same method path (request, response and, recursively, the message
/// types of fields with the same number). Returns the clashes, one readable
/// line each, and the number of (message pair, field number) checks made.
fn clashes(a: &FileDescriptorProto, b: &FileDescriptorProto) -> (Vec<String>, usize) {
    let (ma, mb) = (messages(a), messages(b));
    let mut queue: Vec<(String, String, String)> = Vec::new();
    for name in ma.keys().filter(|n| mb.contains_key(*n)) {
        queue.push((name.clone(), name.clone(), format!("same name {name}")));
    }
    let (pa, pb) = (methods(a), methods(b));
    for (path, (ia, oa, ..)) in &pa {
        if let Some((ib, ob, ..)) = pb.get(path) {
            queue.push((ia.clone(), ib.clone(), format!("{path} request")));
            queue.push((oa.clone(), ob.clone(), format!("{path} response")));
        }
    }
    let mut seen = BTreeSet::new();
    let mut found = Vec::new();
    let mut checks = 0;
    while let Some((na, nb, via)) = queue.pop() {
        if !seen.insert((na.clone(), nb.clone())) {
            continue;
        }
        let (Some(x), Some(y)) = (ma.get(&na), mb.get(&nb)) else {
            found.push(format!("{via}: {na} / {nb}: a message is missing"));
            continue;
        };
        for fx in &x.field {
            let Some(fy) = y.field.iter().find(|f| f.number() == fx.number()) else {
                continue;
            };
            checks += 1;
            if wire_meaning(fx) != wire_meaning(fy) {
                found.push(format!(
                    "{via}: field {} is {} {:?} {:?} in v1 {na} but {} {:?} {:?} in v2 {nb}",
                    fx.number(),
                    fx.name(),
                    fx.label(),
                    fx.r#type(),
                    fy.name(),
                    fy.label(),
                    fy.r#type(),
                ));
            } else if fx.r#type() == Type::Message {
                queue.push((
                    fx.type_name().to_string(),
                    fy.type_name().to_string(),
                    format!("{via} > field {}", fx.number()),
                ));
            }
        }
    }
    (found, checks)
}

#[test]
fn no_field_number_means_two_things_across_the_contracts() {
    let (v1, v2) = (V1.reference(), V2.reference());
    let (found, checks) = clashes(&v1, &v2);
    assert!(
        found.is_empty(),
        "field numbers that mean two things in v1.0.6 and v2.5.9:\n{}",
        found.join("\n")
    );
    // Sanity: the walk compared the shared messages field by field (274
    // checks today; Job alone has 19 numbers in common).
    assert!(checks >= 250, "only {checks} field checks");
    // Ours have the same property (they are identical to the references).
    let (found, _) = clashes(&V1.ours(), &V2.ours());
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn a_field_number_with_another_type_is_reported_as_a_clash() {
    // Make v2 GetJobStatusResponse.timeout (27) an int32 and v2 Job.gpu_indices
    // (17) singular: both must be reported, with the path that reached them.
    let mut v2 = V2.reference();
    let mut v1 = V1.reference();
    // Give v1 a field 27 so that the changed v2 field has a partner.
    let status_v1 = v1
        .message_type
        .iter_mut()
        .find(|m| m.name() == "GetJobStatusRes")
        .expect("v1 GetJobStatusRes");
    let mut partner = status_v1.field[0].clone();
    partner.name = Some("extra".into());
    partner.number = Some(27);
    status_v1.field.push(partner);
    let status_v2 = v2
        .message_type
        .iter_mut()
        .find(|m| m.name() == "GetJobStatusResponse")
        .expect("v2 GetJobStatusResponse");
    let timeout = status_v2
        .field
        .iter_mut()
        .find(|f| f.number() == 27)
        .expect("field 27");
    timeout.set_type(Type::Int32);
    let job = v2
        .message_type
        .iter_mut()
        .find(|m| m.name() == "Job")
        .expect("v2 Job");
    job.field
        .iter_mut()
        .find(|f| f.number() == 17)
        .expect("field 17")
        .set_label(Label::Optional);
    let (found, _) = clashes(&v1, &v2);
    assert!(
        found.iter().any(
            |c| c.starts_with("/joblet.JobService/GetJobStatus response: field 27")
                && c.contains("extra Optional String in v1 .joblet.GetJobStatusRes")
                && c.contains("timeout Optional Int32 in v2 .joblet.GetJobStatusResponse")
        ),
        "{found:#?}"
    );
    assert!(
        found.iter().any(|c| c
            .contains("field 17 is gpu_indices Repeated Int32 in v1 .joblet.Job")
            && c.contains("gpu_indices Optional Int32 in v2 .joblet.Job")),
        "{found:#?}"
    );
}

#[test]
fn method_paths_of_both_contracts() {
    let (p1, p2) = (methods(&V1.reference()), methods(&V2.reference()));
    let k1: BTreeSet<&String> = p1.keys().collect();
    let k2: BTreeSet<&String> = p2.keys().collect();
    let union: Vec<_> = k1.union(&k2).collect();
    let shared: Vec<_> = k1.intersection(&k2).collect();
    let only_v1: Vec<_> = k1.difference(&k2).collect();
    let only_v2: Vec<_> = k2.difference(&k1).collect();
    eprintln!(
        "{} paths: {} shared, {} only in v1.0.6: {only_v1:?}, {} only in v2.5.9: {only_v2:?}",
        union.len(),
        shared.len(),
        only_v1.len(),
        only_v2.len()
    );
    assert_eq!(union.len(), 35);
    assert_eq!(shared.len(), 20);
    assert_eq!(k1.len(), 29);
    assert_eq!(k2.len(), 26);
    assert_eq!(only_v1.len(), 9);
    assert_eq!(
        only_v2.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
        [
            "/joblet.JobService/GetJobMetrics",
            "/joblet.JobService/GetJobTelematics",
            "/joblet.JobService/StreamJobMetrics",
            "/joblet.JobService/StreamJobTelematics",
            "/joblet.RuntimeService/BuildRuntime",
            "/joblet.RuntimeService/ValidateRuntimeYAML",
        ]
    );
    // A shared path streams the same way in both contracts.
    for path in &shared {
        let (_, _, c1, s1) = &p1[path.as_str()];
        let (_, _, c2, s2) = &p2[path.as_str()];
        assert_eq!((c1, s1), (c2, s2), "{path} streams differently");
    }
}

// ---- The union a server answers both with ----

/// Every field of `small` (recursively through message-typed fields) is in
/// `big` with the same number, type and label: a client of `small`'s contract
/// decodes what a server of `big` sends, and the reverse. The missing ones,
/// one line each.
fn missing_in(
    small_file: &FileDescriptorProto,
    small: &str,
    big_file: &FileDescriptorProto,
    big: &str,
    seen: &mut BTreeSet<(String, String)>,
    out: &mut Vec<String>,
) {
    if !seen.insert((small.to_owned(), big.to_owned())) {
        return;
    }
    let (ms, mb) = (messages(small_file), messages(big_file));
    let (Some(s), Some(b)) = (ms.get(small), mb.get(big)) else {
        out.push(format!("{big}: no such message for {small}"));
        return;
    };
    for f in &s.field {
        match b.field.iter().find(|g| g.number() == f.number()) {
            None => out.push(format!(
                "{big}: no field {} ({small}.{})",
                f.number(),
                f.name()
            )),
            Some(g) if wire_meaning(g) != wire_meaning(f) => out.push(format!(
                "{big}.{}: {:?} where {small}.{} is {:?}",
                g.name(),
                wire_meaning(g),
                f.name(),
                wire_meaning(f)
            )),
            Some(g) => {
                if !f.type_name().is_empty() {
                    missing_in(
                        small_file,
                        f.type_name(),
                        big_file,
                        g.type_name(),
                        seen,
                        out,
                    );
                }
            }
        }
    }
}

#[test]
fn the_union_answers_every_method_of_both_contracts() {
    let union = joblet_file(joblet_testkit::FILE_DESCRIPTOR_SET_UNION, "the union");
    let all = methods(&union);
    assert_eq!(all.len(), 35, "the union serves 35 method paths");
    let mut problems = Vec::new();
    for contract in [V1, V2] {
        let file = contract.reference();
        for (path, (input, output, cs, ss)) in methods(&file) {
            let Some((u_in, u_out, u_cs, u_ss)) = all.get(&path) else {
                problems.push(format!("{path} ({}) is not in the union", contract.name));
                continue;
            };
            if (cs, ss) != (*u_cs, *u_ss) {
                problems.push(format!(
                    "{path}: streaming flags differ from {}",
                    contract.name
                ));
            }
            let mut seen = BTreeSet::new();
            missing_in(&file, &input, &union, u_in, &mut seen, &mut problems);
            missing_in(&file, &output, &union, u_out, &mut seen, &mut problems);
        }
    }
    assert!(
        problems.is_empty(),
        "the union misses:\n{}",
        problems.join("\n")
    );
}

#[test]
fn a_union_message_decodes_both_contracts_messages() {
    use joblet_testkit::pb::{union, v1, v2};
    // A v2 client's RunJob request keeps its timeout through the union.
    let v2_request = v2::RunJobRequest {
        command: "sleep".into(),
        timeout: "30s".into(),
        ..Default::default()
    };
    let u = union::RunJobRequest::decode(v2_request.encode_to_vec().as_slice()).unwrap();
    assert_eq!((u.command.as_str(), u.timeout.as_str()), ("sleep", "30s"));
    // A union status answer reads as each contract's own.
    let status = union::GetJobStatusRes {
        uuid: "u".into(),
        name: "v1-only".into(),
        timeout: "30s".into(),
        ..Default::default()
    };
    let bytes = status.encode_to_vec();
    let one = v1::GetJobStatusRes::decode(bytes.as_slice()).unwrap();
    let two = v2::GetJobStatusResponse::decode(bytes.as_slice()).unwrap();
    assert_eq!((one.uuid.as_str(), one.name.as_str()), ("u", "v1-only"));
    assert_eq!((two.uuid.as_str(), two.timeout.as_str()), ("u", "30s"));
}
