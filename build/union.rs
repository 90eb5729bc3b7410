//! The union of the two contracts, for a server that answers both: the v1
//! descriptor, with every v2 addition merged in. Messages that the two
//! contracts exchange on the same method path (and the messages their fields
//! reach) are one message under its v1 name, holding the fields of both (no
//! field number has two meanings across the contracts: `tests/wire_contract.rs`
//! proves it); v2-only messages, nested types and methods are added as they
//! are. A v1 client and a v2 client each decode what they know of a union
//! message and skip the rest, as proto3 does with unknown fields.

use std::collections::{BTreeMap, HashSet};

use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet};

/// The union of the `joblet.proto` files of `v1` and `v2`, as a set holding
/// that one file (named `joblet.proto`, package `joblet`).
pub fn union(v1: &FileDescriptorSet, v2: &FileDescriptorSet) -> FileDescriptorSet {
    let f1 = joblet_file(v1);
    let f2 = joblet_file(v2);
    let names = correspondence(f1, f2);
    let mut out = f1.clone();
    // Comments are located by index paths that the merge would shift.
    out.source_code_info = None;
    // v2 messages: merged into their v1 counterpart, or added.
    for m2 in &f2.message_type {
        let full = format!(".joblet.{}", m2.name());
        match names.get(&full) {
            Some(v1_name) => {
                let short = v1_name.trim_start_matches(".joblet.");
                let m1 = out
                    .message_type
                    .iter_mut()
                    .find(|m| m.name() == short)
                    .expect("a corresponding v1 message exists");
                merge_message(m1, m2, &names);
            }
            None => {
                assert!(
                    !f1.message_type.iter().any(|m| m.name() == m2.name()),
                    "v2 message {} has no v1 counterpart but its name is taken in v1",
                    m2.name()
                );
                let mut added = m2.clone();
                retype(&mut added, &names);
                out.message_type.push(added);
            }
        }
    }
    // v2 methods the v1 services lack.
    for s2 in &f2.service {
        let s1 = out
            .service
            .iter_mut()
            .find(|s| s.name() == s2.name())
            .expect("both contracts have the same five services");
        for m in &s2.method {
            if s1.method.iter().any(|x| x.name() == m.name()) {
                continue;
            }
            let mut m = m.clone();
            m.input_type = Some(rename(m.input_type(), &names));
            m.output_type = Some(rename(m.output_type(), &names));
            s1.method.push(m);
        }
    }
    FileDescriptorSet { file: vec![out] }
}

fn joblet_file(set: &FileDescriptorSet) -> &FileDescriptorProto {
    set.file
        .iter()
        .find(|f| f.package() == "joblet")
        .expect("the set holds package joblet")
}

/// v2 full message name → the v1 full name of the same message on the wire:
/// the request and response of each shared method, and recursively the
/// message types of their fields with the same number; then same-named
/// messages not reached that way.
fn correspondence(f1: &FileDescriptorProto, f2: &FileDescriptorProto) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    let mut queue = Vec::new();
    for s2 in &f2.service {
        let Some(s1) = f1.service.iter().find(|s| s.name() == s2.name()) else {
            continue;
        };
        for m2 in &s2.method {
            if let Some(m1) = s1.method.iter().find(|m| m.name() == m2.name()) {
                queue.push((m2.input_type().to_owned(), m1.input_type().to_owned()));
                queue.push((m2.output_type().to_owned(), m1.output_type().to_owned()));
            }
        }
    }
    for m2 in &f2.message_type {
        if f1.message_type.iter().any(|m| m.name() == m2.name()) {
            let full = format!(".joblet.{}", m2.name());
            queue.push((full.clone(), full));
        }
    }
    while let Some((n2, n1)) = queue.pop() {
        if names.contains_key(&n2) {
            continue;
        }
        let (Some(m2), Some(m1)) = (message(f2, &n2), message(f1, &n1)) else {
            continue;
        };
        names.insert(n2.clone(), n1.clone());
        for a in &m2.field {
            if let Some(b) = m1.field.iter().find(|b| b.number() == a.number())
                && !a.type_name().is_empty()
                && !b.type_name().is_empty()
            {
                queue.push((a.type_name().to_owned(), b.type_name().to_owned()));
            }
        }
    }
    names
}

/// The message of `file` with full name `.joblet.A` or `.joblet.A.B`.
fn message<'f>(file: &'f FileDescriptorProto, full: &str) -> Option<&'f DescriptorProto> {
    let mut parts = full.trim_start_matches(".joblet.").split('.');
    let first = parts.next()?;
    let mut m = file.message_type.iter().find(|m| m.name() == first)?;
    for p in parts {
        m = m.nested_type.iter().find(|n| n.name() == p)?;
    }
    Some(m)
}

/// A type name in union terms: its v1 counterpart's name, or itself.
fn rename(type_name: &str, names: &BTreeMap<String, String>) -> String {
    if let Some(n) = names.get(type_name) {
        return n.clone();
    }
    // A nested type of a renamed message (`.joblet.X.Entry`).
    if let Some((parent, last)) = type_name.rsplit_once('.')
        && let Some(p) = names.get(parent)
    {
        return format!("{p}.{last}");
    }
    type_name.to_owned()
}

/// Renames every message-typed field of `m` (and of its nested types).
fn retype(m: &mut DescriptorProto, names: &BTreeMap<String, String>) {
    for f in &mut m.field {
        if f.type_name.is_some() {
            f.type_name = Some(rename(f.type_name(), names));
        }
    }
    for n in &mut m.nested_type {
        retype(n, names);
    }
}

/// Adds to `m1` the fields of `m2` whose numbers it lacks, with their nested
/// types and oneofs.
fn merge_message(m1: &mut DescriptorProto, m2: &DescriptorProto, names: &BTreeMap<String, String>) {
    let taken: HashSet<String> = m1.field.iter().map(|f| snake(f.name())).collect();
    for f2 in &m2.field {
        if let Some(f1) = m1.field.iter().find(|f| f.number() == f2.number()) {
            assert_eq!(
                (f1.r#type(), f1.label()),
                (f2.r#type(), f2.label()),
                "field {} of {} means two things",
                f2.number(),
                m2.name()
            );
            continue;
        }
        let mut f: FieldDescriptorProto = f2.clone();
        if taken.contains(&snake(f.name())) {
            // Same Rust name as a v1 field with another number.
            f.name = Some(format!("{}_v2", f.name()));
            f.json_name = None;
        }
        if f.type_name.is_some() {
            let own_nested = f2
                .type_name()
                .strip_prefix(&format!(".joblet.{}.", m2.name()))
                .map(str::to_owned);
            if let Some(nested) = own_nested {
                let parent = rename(&format!(".joblet.{}", m2.name()), names);
                f.type_name = Some(format!("{parent}.{nested}"));
                if !m1.nested_type.iter().any(|n| n.name() == nested) {
                    let mut n = m2
                        .nested_type
                        .iter()
                        .find(|n| n.name() == nested)
                        .expect("a field's nested type exists")
                        .clone();
                    retype(&mut n, names);
                    m1.nested_type.push(n);
                }
            } else {
                f.type_name = Some(rename(f2.type_name(), names));
            }
        }
        if let Some(i) = f2.oneof_index {
            let decl = &m2.oneof_decl[i as usize];
            let at = match m1.oneof_decl.iter().position(|o| o.name() == decl.name()) {
                Some(at) => at,
                None => {
                    m1.oneof_decl.push(decl.clone());
                    m1.oneof_decl.len() - 1
                }
            };
            f.oneof_index = Some(at as i32);
        }
        m1.field.push(f);
    }
}

/// The Rust field name prost derives: snake case.
fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
