//! gRPC framing over HTTP/2 bodies: request frames, the walker that finds
//! message boundaries in DATA frames without buffering large messages, status
//! codes and their names.

use bytes::{BufMut, Bytes, BytesMut};

/// A gRPC status code (the numeric codes of the gRPC spec).
pub type Code = tonic::Code;

/// The canonical upper-case name of a gRPC code (`FAILED_PRECONDITION`).
pub use joblet_testkit::code_name;

/// The code a gRPC client infers from a non-200 HTTP status (gRPC's
/// "HTTP to gRPC status code mapping").
pub fn code_from_http(status: u16) -> Code {
    match status {
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502..=504 => Code::Unavailable,
        _ => Code::Unknown,
    }
}

/// Parses a `grpc-status` header value (the client reads it in `hpack`;
/// this form is kept for its test).
#[cfg(test)]
pub fn parse_status(value: &[u8]) -> Code {
    std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .map(Code::from_i32)
        .unwrap_or(Code::Unknown)
}

/// Decodes a percent-encoded `grpc-message` header value.
pub fn decode_message(value: &[u8]) -> String {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        if value[i] == b'%' && i + 2 < value.len() {
            let hex = std::str::from_utf8(&value[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(value[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One length-prefixed gRPC message (uncompressed) holding `msg`.
pub fn frame(msg: &impl prost::Message) -> Bytes {
    let len = msg.encoded_len();
    let mut buf = BytesMut::with_capacity(5 + len);
    buf.put_u8(0);
    buf.put_u32(len as u32);
    msg.encode(&mut buf)
        .expect("a BytesMut with the encoded length reserved has room");
    buf.freeze()
}

/// What [`FrameWalker::feed`] reports about the messages in a body.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A message of this many bytes begins.
    Start(usize),
    /// Some bytes of the current message.
    Bytes(&'a [u8]),
    /// The current message is complete.
    End,
}

/// An error in the framing of a response body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The compressed flag was set although no compression was offered.
    #[error("the server sent a compressed message although none was accepted")]
    Compressed,
    /// The body ended inside a message.
    #[error("the response body ended inside a message")]
    Truncated,
}

/// Finds gRPC message boundaries in a stream of DATA frames, without
/// buffering message contents (the caller sees them as [`Event::Bytes`]).
#[derive(Debug, Default)]
pub struct FrameWalker {
    header: [u8; 5],
    header_len: usize,
    /// Bytes left in the current message; `None` between messages.
    remaining: Option<usize>,
}

impl FrameWalker {
    /// Feeds one DATA frame.
    pub fn feed(
        &mut self,
        mut data: &[u8],
        on: &mut impl FnMut(Event<'_>),
    ) -> Result<(), FrameError> {
        while !data.is_empty() {
            match self.remaining {
                None => {
                    let take = (5 - self.header_len).min(data.len());
                    self.header[self.header_len..self.header_len + take]
                        .copy_from_slice(&data[..take]);
                    self.header_len += take;
                    data = &data[take..];
                    if self.header_len == 5 {
                        self.header_len = 0;
                        if self.header[0] & 1 != 0 {
                            return Err(FrameError::Compressed);
                        }
                        let len = u32::from_be_bytes([
                            self.header[1],
                            self.header[2],
                            self.header[3],
                            self.header[4],
                        ]) as usize;
                        on(Event::Start(len));
                        if len == 0 {
                            on(Event::End);
                        } else {
                            self.remaining = Some(len);
                        }
                    }
                }
                Some(left) => {
                    let take = left.min(data.len());
                    on(Event::Bytes(&data[..take]));
                    data = &data[take..];
                    if take == left {
                        self.remaining = None;
                        on(Event::End);
                    } else {
                        self.remaining = Some(left - take);
                    }
                }
            }
        }
        Ok(())
    }

    /// Checks that the body did not end inside a message.
    pub fn finish(&self) -> Result<(), FrameError> {
        if self.remaining.is_some() || self.header_len > 0 {
            Err(FrameError::Truncated)
        } else {
            Ok(())
        }
    }
}

/// The length and first bytes of the message a [`FrameWalker`] is walking,
/// enough to read a leading field (a tag and a varint) without buffering
/// the message.
#[derive(Debug, Default)]
pub struct MessageHead {
    bytes: [u8; 11],
    len: usize,
    message_len: usize,
}

impl MessageHead {
    /// Takes `event`'s part of the current message: its length at
    /// [`Event::Start`], its first bytes from [`Event::Bytes`]. True at
    /// [`Event::End`]: the message is complete.
    #[inline]
    pub fn take(&mut self, event: &Event<'_>) -> bool {
        match *event {
            Event::Start(len) => {
                self.message_len = len;
                self.len = 0;
                false
            }
            Event::Bytes(b) => {
                if self.len < self.bytes.len() {
                    let take = (self.bytes.len() - self.len).min(b.len());
                    self.bytes[self.len..self.len + take].copy_from_slice(&b[..take]);
                    self.len += take;
                }
                false
            }
            Event::End => true,
        }
    }

    /// The first bytes of the current message (at most 11).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// The length of the current message.
    pub fn message_len(&self) -> usize {
        self.message_len
    }
}

/// Reads a protobuf varint from the start of `buf`: (value, bytes used), or
/// `None` when `buf` ends first.
pub fn varint(buf: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, b) in buf.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use joblet_testkit::pb;

    fn walk(frames: &[&[u8]]) -> (Vec<String>, Result<(), FrameError>) {
        let mut w = FrameWalker::default();
        let mut events = Vec::new();
        for f in frames {
            if let Err(e) = w.feed(f, &mut |e| {
                events.push(match e {
                    Event::Start(n) => format!("start {n}"),
                    Event::Bytes(b) => format!("bytes {}", b.len()),
                    Event::End => "end".into(),
                })
            }) {
                return (events, Err(e));
            }
        }
        (events, w.finish())
    }

    #[test]
    fn messages_split_anywhere_are_found() {
        let msg = frame(&pb::DataChunk {
            payload: vec![7; 10].into(),
        });
        let mut body = msg.to_vec();
        body.extend_from_slice(&frame(&pb::DataChunk {
            payload: Default::default(),
        }));
        // Every split point gives the same messages.
        for cut in 0..=body.len() {
            let (events, done) = walk(&[&body[..cut], &body[cut..]]);
            assert_eq!(done, Ok(()));
            let starts: Vec<_> = events.iter().filter(|e| e.starts_with("start")).collect();
            assert_eq!(starts, ["start 12", "start 0"], "cut at {cut}");
            assert_eq!(events.iter().filter(|e| *e == "end").count(), 2);
        }
    }

    #[test]
    fn the_head_of_each_message_is_kept_however_it_is_split() {
        let long = frame(&pb::DataChunk {
            payload: vec![7; 300].into(),
        });
        let short = frame(&pb::DataChunk {
            payload: vec![9; 2].into(),
        });
        let body = [&long[..], &short[..]].concat();
        for cut in 0..=body.len() {
            let mut walker = FrameWalker::default();
            let mut head = MessageHead::default();
            let mut seen = Vec::new();
            for piece in [&body[..cut], &body[cut..]] {
                let fed = walker.feed(piece, &mut |e| {
                    if head.take(&e) {
                        seen.push((head.message_len(), head.bytes().to_vec()));
                    }
                });
                assert_eq!(fed, Ok(()), "cut at {cut}");
            }
            // payload = 1 (tag 0x0a), length 300 (varint ac 02), then the
            // payload's first 8 bytes: 11 in all. The next message starts afresh.
            let mut first = vec![0x0a, 0xac, 0x02];
            first.extend([7; 8]);
            assert_eq!(
                seen,
                [(303, first), (4, vec![0x0a, 0x02, 9, 9])],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn a_truncated_body_and_compression_are_errors() {
        let msg = frame(&pb::DataChunk {
            payload: vec![1; 4].into(),
        });
        assert_eq!(walk(&[&msg[..7]]).1, Err(FrameError::Truncated));
        assert_eq!(walk(&[&[1, 0, 0, 0, 0]]).1, Err(FrameError::Compressed));
    }

    proptest::proptest! {
        /// Arbitrary bytes, split anywhere: the walker reports events or an
        /// error, never panics, and never claims more message bytes than it
        /// was fed.
        #[test]
        fn the_walker_takes_arbitrary_bytes(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
            cut in 0usize..512,
        ) {
            let cut = cut.min(bytes.len());
            let mut w = FrameWalker::default();
            let mut seen = 0usize;
            for piece in [&bytes[..cut], &bytes[cut..]] {
                let fed = w.feed(piece, &mut |e| {
                    if let Event::Bytes(b) = e {
                        seen += b.len();
                    }
                });
                if fed.is_err() {
                    break;
                }
            }
            proptest::prop_assert!(seen <= bytes.len());
            let _ = w.finish();
        }
    }

    #[test]
    fn statuses_and_messages_decode() {
        assert_eq!(parse_status(b"14"), Code::Unavailable);
        assert_eq!(parse_status(b"x"), Code::Unknown);
        assert_eq!(code_name(Code::FailedPrecondition), "FAILED_PRECONDITION");
        assert_eq!(code_from_http(503), Code::Unavailable);
        assert_eq!(decode_message(b"job%20not%20found%"), "job not found%");
        assert_eq!(varint(&[0x96, 0x01]), Some((150, 2)));
        assert_eq!(varint(&[0x96]), None);
    }
}
