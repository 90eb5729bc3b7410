//! Answers in the compared form: the recorded one from a transcript line,
//! the replayed one from what came back (messages in full proto3 JSON, log
//! streams hashed).

use joblet_testkit::transcript::{Line, Sha256};
use prost::Message as _;
use prost_reflect::{DynamicMessage, MessageDescriptor, MethodDescriptor, SerializeOptions};
use serde_json::Value;

use super::compare::{Answer, LogView};
use crate::check::code_name;
use joblet_testkit::raw::Received;

/// The options that render answers in the compared form: every field, 64-bit
/// integers as numbers.
pub(super) fn full_options() -> SerializeOptions {
    SerializeOptions::new()
        .skip_default_fields(false)
        .stringify_64_bit_integers(false)
}

/// A recorded message (compact proto3 JSON) in the compared form.
pub(super) fn full_form(desc: &MessageDescriptor, compact: &Value) -> Value {
    DynamicMessage::deserialize(desc.clone(), compact.clone())
        .ok()
        .and_then(|m| {
            m.serialize_with_options(serde_json::value::Serializer, &full_options())
                .ok()
        })
        .unwrap_or_else(|| compact.clone())
}

/// The recorded answer of `line`, in the compared form.
pub(super) fn expected_answer(line: &Line, method: &MethodDescriptor) -> Answer {
    let output = method.output();
    Answer {
        messages: line
            .response
            .messages
            .iter()
            .map(|m| full_form(&output, m))
            .collect(),
        log: line.response.log.as_ref().map(|l| LogView {
            bytes: l.bytes,
            sha256: l.sha256.clone(),
            kept: l.kept(),
        }),
        code: line.status.code.clone(),
        message: line.status.message.clone(),
    }
}

/// Log bytes kept from a replayed stream for showing where it differs.
const KEPT: usize = 64 << 10;

/// What came back, in the compared form; a log stream is hashed over its
/// first `log_limit` bytes when the recorded client stopped there.
pub(super) fn got_answer(
    received: &Received,
    method: &MethodDescriptor,
    is_log: bool,
    log_limit: Option<u64>,
) -> Answer {
    let output = method.output();
    let mut answer = Answer {
        code: code_name(received.code).to_owned(),
        message: received.message.clone(),
        ..Answer::default()
    };
    if is_log {
        let mut hash = Sha256::new();
        let (mut bytes, mut kept) = (0u64, Vec::new());
        for m in &received.messages {
            let payload = joblet_testkit::pb::DataChunk::decode(m.clone())
                .map(|c| c.payload)
                .unwrap_or_default();
            let take = match log_limit {
                Some(limit) => (limit.saturating_sub(bytes) as usize).min(payload.len()),
                None => payload.len(),
            };
            hash.update(&payload[..take]);
            bytes += take as u64;
            let room = KEPT.saturating_sub(kept.len());
            kept.extend_from_slice(&payload[..take.min(room)]);
        }
        answer.log = Some(LogView {
            bytes,
            sha256: hash.finish(),
            kept,
        });
    } else {
        answer.messages = received
            .messages
            .iter()
            .map(|m| {
                DynamicMessage::decode(output.clone(), m.clone())
                    .ok()
                    .and_then(|d| {
                        d.serialize_with_options(serde_json::value::Serializer, &full_options())
                            .ok()
                    })
                    .unwrap_or(Value::Null)
            })
            .collect();
    }
    answer
}
