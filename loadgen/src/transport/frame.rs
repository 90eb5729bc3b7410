//! The HTTP/2 frame layer (RFC 9113, section 4 and 6) of the generator's
//! client: frame types and flags, writing frame headers, and parsing every
//! complete frame of the read buffer into [`Event`]s (DATA as zero-copy
//! slices, header blocks through HPACK, CONTINUATION reassembled). What the
//! events do to the connection is [`super::h2`]'s business.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::error::CallError;
use super::grpc::Code;
use super::hpack::{self, Fields};

pub(super) const DATA: u8 = 0x0;
pub(super) const HEADERS: u8 = 0x1;
pub(super) const PRIORITY: u8 = 0x2;
pub(super) const RST_STREAM: u8 = 0x3;
pub(super) const SETTINGS: u8 = 0x4;
pub(super) const PUSH_PROMISE: u8 = 0x5;
pub(super) const PING: u8 = 0x6;
pub(super) const GOAWAY: u8 = 0x7;
pub(super) const WINDOW_UPDATE: u8 = 0x8;
pub(super) const CONTINUATION: u8 = 0x9;

pub(super) const END_STREAM: u8 = 0x1;
pub(super) const ACK: u8 = 0x1;
pub(super) const END_HEADERS: u8 = 0x4;
pub(super) const PADDED: u8 = 0x8;
pub(super) const PRIORITY_FLAG: u8 = 0x20;

/// RST_STREAM's error code for a stream the server did not process.
pub(super) const REFUSED_STREAM: u32 = 0x7;

pub(super) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
pub(super) const DEFAULT_WINDOW: i64 = 65_535;
pub(super) const DEFAULT_MAX_FRAME: usize = 16_384;

pub(super) fn frame_header(out: &mut BytesMut, len: usize, kind: u8, flags: u8, id: u32) {
    out.put_uint(len as u64, 3);
    out.put_u8(kind);
    out.put_u8(flags);
    out.put_u32(id & 0x7fff_ffff);
}

pub(super) fn error_code_of(reason: u32) -> (Code, &'static str) {
    match reason {
        0x0 => (Code::Internal, "NO_ERROR"),
        0x1 => (Code::Internal, "PROTOCOL_ERROR"),
        0x2 => (Code::Internal, "INTERNAL_ERROR"),
        0x3 => (Code::Internal, "FLOW_CONTROL_ERROR"),
        0x5 => (Code::Internal, "STREAM_CLOSED"),
        0x6 => (Code::Internal, "FRAME_SIZE_ERROR"),
        0x7 => (Code::Unavailable, "REFUSED_STREAM"),
        0x8 => (Code::Cancelled, "CANCEL"),
        0x9 => (Code::Internal, "COMPRESSION_ERROR"),
        0xa => (Code::Internal, "CONNECT_ERROR"),
        0xb => (Code::ResourceExhausted, "ENHANCE_YOUR_CALM"),
        0xc => (Code::PermissionDenied, "INADEQUATE_SECURITY"),
        0xd => (Code::Internal, "HTTP_1_1_REQUIRED"),
        _ => (Code::Internal, "unknown error code"),
    }
}

/// One parsed frame, applied under the lock.
#[derive(Debug)]
pub(super) enum Event {
    Data {
        id: u32,
        payload: Bytes,
        flow: usize,
        end: bool,
    },
    Headers {
        id: u32,
        fields: Fields,
        end: bool,
    },
    Reset {
        id: u32,
        reason: u32,
    },
    Settings(Vec<(u16, u32)>),
    Ping([u8; 8]),
    PingAck([u8; 8]),
    GoAway {
        last: u32,
        reason: u32,
        debug: String,
    },
    Window {
        id: u32,
        increment: u32,
    },
}

/// The read side's parser state (driver-local).
#[derive(Debug, Default)]
pub(super) struct Reader {
    decoder: hpack::Decoder,
    /// A header block continued in CONTINUATION frames: (stream, end of stream, block).
    partial: Option<(u32, bool, BytesMut)>,
}

pub(super) fn protocol(msg: impl Into<String>) -> CallError {
    CallError::new(
        Code::Unavailable,
        format!("HTTP/2 protocol error: {}", msg.into()),
    )
}

impl Reader {
    /// Parses every complete frame at the front of `buf`.
    pub(super) fn parse(
        &mut self,
        buf: &mut BytesMut,
        max_frame: usize,
        events: &mut Vec<Event>,
    ) -> Result<(), CallError> {
        while buf.len() >= 9 {
            let len =
                (usize::from(buf[0]) << 16) | (usize::from(buf[1]) << 8) | usize::from(buf[2]);
            if len > max_frame {
                return Err(protocol(format!(
                    "a frame of {len} bytes exceeds {max_frame}"
                )));
            }
            if buf.len() < 9 + len {
                buf.reserve(9 + len - buf.len());
                return Ok(());
            }
            let kind = buf[3];
            let flags = buf[4];
            let id = u32::from_be_bytes([buf[5], buf[6], buf[7], buf[8]]) & 0x7fff_ffff;
            buf.advance(9);
            let mut payload = buf.split_to(len).freeze();
            if let Some((pid, _, _)) = &self.partial
                && (kind != CONTINUATION || *pid != id)
            {
                return Err(protocol("a header block was interrupted"));
            }
            match kind {
                DATA => {
                    let flow = payload.len();
                    if flags & PADDED != 0 {
                        payload = strip_padding(payload)?;
                    }
                    events.push(Event::Data {
                        id,
                        payload,
                        flow,
                        end: flags & END_STREAM != 0,
                    });
                }
                HEADERS => {
                    if flags & PADDED != 0 {
                        payload = strip_padding(payload)?;
                    }
                    if flags & PRIORITY_FLAG != 0 {
                        if payload.len() < 5 {
                            return Err(protocol("short PRIORITY fields"));
                        }
                        payload.advance(5);
                    }
                    let end = flags & END_STREAM != 0;
                    if flags & END_HEADERS != 0 {
                        let mut fields = Fields::default();
                        self.decoder
                            .decode(&payload, &mut fields)
                            .map_err(|e| protocol(e.to_string()))?;
                        events.push(Event::Headers { id, fields, end });
                    } else {
                        self.partial = Some((id, end, BytesMut::from(&payload[..])));
                    }
                }
                CONTINUATION => {
                    let Some((pid, end, mut block)) = self.partial.take() else {
                        return Err(protocol("CONTINUATION without HEADERS"));
                    };
                    block.extend_from_slice(&payload);
                    if block.len() > 1 << 20 {
                        return Err(protocol("a header block above 1 MiB"));
                    }
                    if flags & END_HEADERS != 0 {
                        let mut fields = Fields::default();
                        self.decoder
                            .decode(&block, &mut fields)
                            .map_err(|e| protocol(e.to_string()))?;
                        events.push(Event::Headers {
                            id: pid,
                            fields,
                            end,
                        });
                    } else {
                        self.partial = Some((pid, end, block));
                    }
                }
                _ => {
                    if let Some(event) = control(kind, flags, id, payload)? {
                        events.push(event);
                    }
                }
            }
        }
        Ok(())
    }
}

/// The event of a frame that is not DATA, HEADERS or CONTINUATION (`None`:
/// nothing to do).
fn control(kind: u8, flags: u8, id: u32, mut payload: Bytes) -> Result<Option<Event>, CallError> {
    Ok(Some(match kind {
        RST_STREAM => {
            if payload.len() != 4 {
                return Err(protocol("RST_STREAM of the wrong size"));
            }
            Event::Reset {
                id,
                reason: payload.get_u32(),
            }
        }
        SETTINGS => {
            if flags & ACK != 0 {
                return Ok(None);
            }
            if !payload.len().is_multiple_of(6) {
                return Err(protocol("SETTINGS of the wrong size"));
            }
            let mut pairs = Vec::new();
            while payload.has_remaining() {
                pairs.push((payload.get_u16(), payload.get_u32()));
            }
            Event::Settings(pairs)
        }
        PING => {
            if payload.len() != 8 {
                return Err(protocol("PING of the wrong size"));
            }
            let mut p = [0u8; 8];
            p.copy_from_slice(&payload);
            if flags & ACK == 0 {
                Event::Ping(p)
            } else {
                Event::PingAck(p)
            }
        }
        GOAWAY => {
            if payload.len() < 8 {
                return Err(protocol("short GOAWAY"));
            }
            let last = payload.get_u32() & 0x7fff_ffff;
            let reason = payload.get_u32();
            let debug = String::from_utf8_lossy(&payload)
                .chars()
                .take(200)
                .collect();
            Event::GoAway {
                last,
                reason,
                debug,
            }
        }
        WINDOW_UPDATE => {
            if payload.len() != 4 {
                return Err(protocol("WINDOW_UPDATE of the wrong size"));
            }
            Event::Window {
                id,
                increment: payload.get_u32() & 0x7fff_ffff,
            }
        }
        PUSH_PROMISE => return Err(protocol("PUSH_PROMISE although push is off")),
        // Priorities are advice; unknown frame types are ignored (RFC 9113, 4.1).
        PRIORITY => return Ok(None),
        _ => return Ok(None),
    }))
}

fn strip_padding(mut p: Bytes) -> Result<Bytes, CallError> {
    let Some(&pad) = p.first() else {
        return Err(protocol("padded frame without padding length"));
    };
    let pad = usize::from(pad);
    if pad + 1 > p.len() {
        return Err(protocol("padding longer than the frame"));
    }
    p.advance(1);
    p.truncate(p.len() - pad);
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(bytes: &[u8]) -> Vec<Event> {
        let mut r = Reader::default();
        let mut buf = BytesMut::from(bytes);
        let mut events = Vec::new();
        r.parse(&mut buf, 16_384, &mut events).unwrap();
        events
    }

    #[test]
    fn frames_split_across_reads_wait_for_the_rest() {
        let mut out = BytesMut::new();
        frame_header(&mut out, 4, DATA, END_STREAM, 3);
        out.put_slice(b"abcd");
        let mut r = Reader::default();
        let mut buf = BytesMut::from(&out[..7]);
        let mut events = Vec::new();
        r.parse(&mut buf, 16_384, &mut events).unwrap();
        assert!(events.is_empty());
        buf.extend_from_slice(&out[7..]);
        r.parse(&mut buf, 16_384, &mut events).unwrap();
        assert!(matches!(
            &events[..],
            [Event::Data {
                id: 3,
                end: true,
                flow: 4,
                ..
            }]
        ));
    }

    #[test]
    fn padding_is_stripped_and_counted() {
        let mut out = BytesMut::new();
        frame_header(&mut out, 6, DATA, PADDED, 1);
        out.put_u8(2);
        out.put_slice(b"xyz");
        out.put_slice(&[0, 0]);
        match &frames(&out)[..] {
            [Event::Data { payload, flow, .. }] => {
                assert_eq!((&payload[..], *flow), (&b"xyz"[..], 6))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn control_frames_parse() {
        let mut out = BytesMut::new();
        frame_header(&mut out, 6, SETTINGS, 0, 0);
        out.put_u16(3);
        out.put_u32(100);
        frame_header(&mut out, 8, PING, 0, 0);
        out.put_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        frame_header(&mut out, 8, GOAWAY, 0, 0);
        out.put_u32(7);
        out.put_u32(0);
        frame_header(&mut out, 4, RST_STREAM, 0, 5);
        out.put_u32(8);
        frame_header(&mut out, 4, WINDOW_UPDATE, 0, 0);
        out.put_u32(1000);
        let ev = frames(&out);
        assert!(matches!(&ev[0], Event::Settings(p) if p == &[(3, 100)]));
        assert!(matches!(&ev[1], Event::Ping(p) if p[7] == 8));
        assert!(matches!(
            &ev[2],
            Event::GoAway {
                last: 7,
                reason: 0,
                ..
            }
        ));
        assert!(matches!(&ev[3], Event::Reset { id: 5, reason: 8 }));
        assert!(matches!(
            &ev[4],
            Event::Window {
                id: 0,
                increment: 1000
            }
        ));
    }

    #[test]
    fn oversized_and_interrupted_frames_are_errors() {
        let mut out = BytesMut::new();
        frame_header(&mut out, 20_000, DATA, 0, 1);
        let mut buf = out.clone();
        assert!(
            Reader::default()
                .parse(&mut buf, 16_384, &mut Vec::new())
                .is_err()
        );
        let mut out = BytesMut::new();
        frame_header(&mut out, 1, HEADERS, 0, 1);
        out.put_u8(0x88);
        frame_header(&mut out, 0, DATA, 0, 1);
        let mut buf = out.clone();
        assert!(
            Reader::default()
                .parse(&mut buf, 16_384, &mut Vec::new())
                .is_err()
        );
    }
}
