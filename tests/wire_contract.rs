//! Proves that `proto/joblet.proto` (compiled into `FILE_DESCRIPTOR_SET`) is
//! wire-identical to the published SDK's contract in `fixtures/wire/joblet-v1.fds.pb`:
//! same package, services, methods (types and streaming flags), messages, fields
//! (name, number, type, type name, label, map, oneof) and enums.

use std::collections::BTreeMap;

use prost::Message;
use prost_types::{DescriptorProto, FileDescriptorProto, FileDescriptorSet};

fn reference() -> FileDescriptorProto {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/wire/joblet-v1.fds.pb"
    );
    let bytes = std::fs::read(path).expect("fixtures/wire/joblet-v1.fds.pb is readable");
    let set = FileDescriptorSet::decode(bytes.as_slice()).expect("reference decodes");
    set.file
        .into_iter()
        .find(|f| f.name() == "joblet.proto")
        .expect("reference holds joblet.proto")
}

fn ours() -> FileDescriptorProto {
    let set = FileDescriptorSet::decode(joblet_testkit::FILE_DESCRIPTOR_SET).expect("ours decodes");
    set.file
        .into_iter()
        .find(|f| f.package() == "joblet")
        .expect("our set holds package joblet")
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

/// Human-readable differences between two fact tables (empty when identical).
fn differences(
    expected: &BTreeMap<String, String>,
    actual: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut diffs = Vec::new();
    for (k, v) in expected {
        match actual.get(k) {
            None => diffs.push(format!("- {k}: {v} (missing in proto/joblet.proto)")),
            Some(a) if a != v => diffs.push(format!("~ {k}: contract {v} / ours {a}")),
            Some(_) => {}
        }
    }
    for (k, v) in actual {
        if !expected.contains_key(k) {
            diffs.push(format!("+ {k}: {v} (not in the contract)"));
        }
    }
    diffs
}

#[test]
fn our_proto_is_wire_identical_to_the_sdk_contract() {
    let expected = facts(&reference());
    let actual = facts(&ours());
    let diffs = differences(&expected, &actual);
    assert!(
        diffs.is_empty(),
        "wire contract differs:\n{}",
        diffs.join("\n")
    );
    // Sanity: the comparison saw the whole contract (5 services, 29 RPCs, 76 messages).
    assert_eq!(
        expected
            .keys()
            .filter(|k| k.starts_with("service ") && !k.contains(" rpc "))
            .count(),
        5
    );
    assert_eq!(expected.keys().filter(|k| k.contains(" rpc ")).count(), 29);
    let top_level = reference().message_type.len();
    assert_eq!(top_level, 76);
}

#[test]
fn comparison_detects_a_changed_field_number() {
    // Renumber RunJobRequest.command (2 -> 21) in a copy of our descriptor: the
    // comparison must report it, which shows the main test cannot pass vacuously.
    let mut changed = ours();
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
    let diffs = differences(&facts(&reference()), &facts(&changed));
    assert!(
        diffs.iter().any(|d| d.contains("RunJobRequest field 2")),
        "renumbering went unnoticed: {diffs:?}"
    );
    assert!(diffs.iter().any(|d| d.contains("RunJobRequest field 21")));
}

#[test]
fn comparison_detects_streaming_and_map_changes() {
    let mut changed = ours();
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
    let diffs = differences(&facts(&reference()), &facts(&changed));
    assert!(
        diffs.iter().any(|d| d.contains("rpc GetJobLogs")),
        "{diffs:?}"
    );

    let mut changed = ours();
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
    let diffs = differences(&facts(&reference()), &facts(&changed));
    assert!(
        diffs.iter().any(|d| d.contains("EnvironmentEntry")),
        "{diffs:?}"
    );
}

#[test]
fn the_contract_set_holds_only_the_joblet_package() {
    // The mock's control API is compiled into its own set: it must never leak
    // into the contract that reflection and this comparison use.
    let set = FileDescriptorSet::decode(joblet_testkit::FILE_DESCRIPTOR_SET).expect("ours decodes");
    let packages: Vec<&str> = set.file.iter().map(|f| f.package()).collect();
    assert_eq!(packages, ["joblet"]);
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
