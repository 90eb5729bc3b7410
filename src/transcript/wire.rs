//! gRPC on the wire, as a recorder sees it: the contract's method
//! descriptors, length-prefixed messages, `grpc-status` and `grpc-message`,
//! the caller's session and role, and messages rendered as proto3 JSON.

use bytes::{Buf, Bytes, BytesMut};
use prost_reflect::{DynamicMessage, MessageDescriptor, SerializeOptions};
use serde_json::Value;

use super::line::CallStatus;
use crate::auth::{ClientIdentity, Role};
use crate::code::code_name;
use crate::session::SESSION_HEADER;

/// Whether `path` (`/joblet.JobService/RunJob`) is a call of one of the five
/// Joblet services (the only calls transcripts hold: never the control API,
/// health or reflection).
pub fn is_joblet_path(path: &str) -> bool {
    path.strip_prefix("/joblet.")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(service, method)| service.ends_with("Service") && !method.is_empty())
}

/// Options of the compact JSON form transcripts use: proto3 JSON with
/// defaults omitted.
pub fn compact_options() -> SerializeOptions {
    SerializeOptions::new()
}

/// Renders `message` (encoded) of type `desc` as proto3 JSON with `options`;
/// `None` when it does not decode.
pub fn render(
    desc: &MessageDescriptor,
    message: &[u8],
    options: &SerializeOptions,
) -> Option<Value> {
    let m = DynamicMessage::decode(desc.clone(), message).ok()?;
    m.serialize_with_options(serde_json::value::Serializer, options)
        .ok()
}

/// Splits a gRPC body into its length-prefixed messages.
#[derive(Debug, Default)]
pub struct FrameParser {
    buf: BytesMut,
}

/// One message of a gRPC body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcMessage {
    /// The compressed flag of its prefix.
    pub compressed: bool,
    /// The message bytes.
    pub bytes: Bytes,
}

impl FrameParser {
    /// Adds body bytes and returns the messages now complete.
    pub fn push(&mut self, data: &[u8]) -> Vec<GrpcMessage> {
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        while self.buf.len() >= 5 {
            let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]);
            let len = len as usize;
            if self.buf.len() < 5 + len {
                break;
            }
            let compressed = self.buf[0] == 1;
            self.buf.advance(5);
            let bytes = self.buf.split_to(len).freeze();
            out.push(GrpcMessage { compressed, bytes });
        }
        out
    }

    /// Bytes of an incomplete message left over.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

/// The uncompressed bytes of `m`: gzip is the one encoding understood.
pub(crate) fn decompress(m: &GrpcMessage, encoding: Option<&str>) -> Option<Bytes> {
    if !m.compressed {
        return Some(m.bytes.clone());
    }
    if encoding != Some("gzip") {
        return None;
    }
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&m.bytes[..]), &mut out).ok()?;
    Some(out.into())
}

/// Decodes `grpc-message` (percent-encoded).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The status in `headers` (`grpc-status`, `grpc-message`), if any.
pub(crate) fn status_of(headers: &http::HeaderMap) -> Option<CallStatus> {
    let code: i32 = headers
        .get("grpc-status")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let message = headers
        .get("grpc-message")
        .and_then(|m| m.to_str().ok())
        .map(percent_decode)
        .unwrap_or_default();
    Some(CallStatus {
        code: code_name(tonic::Code::from_i32(code)).to_owned(),
        message,
    })
}

/// The session a request names (`x-joblet-mock-session`), `""` without one.
pub fn session_of(headers: &http::HeaderMap) -> String {
    headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The caller's role as a transcript spells it: on a TLS connection the
/// role of its certificate ([`ClientIdentity`]) or `none`; without TLS
/// `admin` (AUTH-1).
pub fn role_of<B>(request: &http::Request<B>) -> &'static str {
    match request.extensions().get::<ClientIdentity>() {
        None => Role::Admin.as_str(),
        Some(ClientIdentity { role: None, .. }) => "none",
        Some(ClientIdentity { role: Some(r), .. }) => r.as_str(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::transcript::sha256_hex;

    #[test]
    fn paths_and_percent_decoding() {
        assert!(is_joblet_path("/joblet.JobService/RunJob"));
        assert!(!is_joblet_path("/joblet.JobService/"));
        assert!(!is_joblet_path("/grpc.health.v1.Health/Check"));
        assert!(!is_joblet_path("/jobletmock.v1.MockControl/Reset"));
        assert_eq!(percent_decode("a%20b%"), "a b%");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    proptest! {
        #[test]
        fn frames_split_anywhere_parse_the_same(
            messages in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..6),
            cuts in proptest::collection::vec(0usize..300, 0..8),
        ) {
            let mut body = Vec::new();
            for m in &messages {
                body.push(0);
                body.extend_from_slice(&(m.len() as u32).to_be_bytes());
                body.extend_from_slice(m);
            }
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(body.len())).collect();
            cuts.sort_unstable();
            let mut parser = FrameParser::default();
            let mut got = Vec::new();
            let mut from = 0;
            for c in cuts.into_iter().chain([body.len()]) {
                got.extend(parser.push(&body[from..c]).into_iter().map(|m| m.bytes.to_vec()));
                from = c;
            }
            prop_assert_eq!(got, messages);
            prop_assert_eq!(parser.pending(), 0);
        }

        #[test]
        fn percent_decoding_never_panics(s in "\\PC{0,20}") {
            let _ = percent_decode(&s);
        }
    }
}
