//! The client against a scripted HTTP/2 server on loopback (frames written
//! by hand): SETTINGS before the first stream, the stream limit, streams
//! sent again after REFUSED_STREAM and above a GOAWAY's last stream ID,
//! and what is not sent again. Property tests feed the frame and HPACK
//! decoders arbitrary bytes.

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use joblet_testkit::Target;
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::conn::{Conn, MAX_RETRIES};
use super::endpoint::Endpoint;
use super::frame::{
    DATA, END_HEADERS, END_STREAM, Event, GOAWAY, HEADERS, REFUSED_STREAM, RST_STREAM, Reader,
    SETTINGS, frame_header,
};
use super::grpc::Code;
use super::hpack::{Decoder, Fields};
use super::rpc::Rpc;
use super::settings::{H2Client, H2Settings};

/// One accepted connection, read frame by frame.
struct Peer {
    io: TcpStream,
    reader: Reader,
    buf: BytesMut,
    events: std::collections::VecDeque<Event>,
}

impl Peer {
    /// Accepts a connection and reads the client's preface.
    async fn accept(listener: &TcpListener) -> Self {
        let (mut io, _) = listener.accept().await.unwrap();
        let mut preface = [0u8; 24];
        io.read_exact(&mut preface).await.unwrap();
        assert_eq!(&preface[..3], b"PRI");
        Self {
            io,
            reader: Reader::default(),
            buf: BytesMut::new(),
            events: Default::default(),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.io.write_all(bytes).await.unwrap();
    }

    /// Sends the server's SETTINGS (`max_streams` as
    /// SETTINGS_MAX_CONCURRENT_STREAMS when given).
    async fn settings(&mut self, max_streams: Option<u32>) {
        let mut out = BytesMut::new();
        let n = usize::from(max_streams.is_some()) * 6;
        frame_header(&mut out, n, SETTINGS, 0, 0);
        if let Some(m) = max_streams {
            out.put_u16(0x3);
            out.put_u32(m);
        }
        self.send(&out).await;
    }

    /// The next frame event, or `None` when nothing arrives within `wait`
    /// (or the client closed the connection).
    async fn event(&mut self, wait: Duration) -> Option<Event> {
        loop {
            if let Some(e) = self.events.pop_front() {
                return Some(e);
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(wait, self.io.read(&mut chunk))
                .await
                .ok()?
                .ok()?;
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
            let mut events = Vec::new();
            self.reader
                .parse(&mut self.buf, 1 << 20, &mut events)
                .unwrap();
            self.events.extend(events);
        }
    }

    /// Waits for the next request to end (its END_STREAM); its stream ID.
    async fn request(&mut self) -> u32 {
        loop {
            match self.event(Duration::from_secs(10)).await {
                Some(Event::Data { id, end: true, .. } | Event::Headers { id, end: true, .. }) => {
                    return id;
                }
                Some(_) => {}
                None => panic!("no request came"),
            }
        }
    }

    /// Answers stream `id` with one message `payload` and status OK.
    async fn answer(&mut self, id: u32, payload: &[u8]) {
        let mut out = BytesMut::new();
        frame_header(&mut out, 1, HEADERS, END_HEADERS, id);
        out.put_u8(0x88); // :status 200
        frame_header(&mut out, 5 + payload.len(), DATA, 0, id);
        out.put_u8(0);
        out.put_u32(payload.len() as u32);
        out.put_slice(payload);
        // grpc-status: 0, a literal without indexing, new name.
        let mut trailers = BytesMut::new();
        trailers.put_u8(0x00);
        trailers.put_u8(11);
        trailers.put_slice(b"grpc-status");
        trailers.put_u8(1);
        trailers.put_slice(b"0");
        frame_header(
            &mut out,
            trailers.len(),
            HEADERS,
            END_HEADERS | END_STREAM,
            id,
        );
        out.put_slice(&trailers);
        self.send(&out).await;
    }

    async fn reset(&mut self, id: u32, reason: u32) {
        let mut out = BytesMut::new();
        frame_header(&mut out, 4, RST_STREAM, 0, id);
        out.put_u32(reason);
        self.send(&out).await;
    }

    async fn goaway(&mut self, last: u32) {
        let mut out = BytesMut::new();
        frame_header(&mut out, 8, GOAWAY, 0, 0);
        out.put_u32(last);
        out.put_u32(0); // NO_ERROR
        self.send(&out).await;
    }
}

async fn listener() -> (TcpListener, Conn, Arc<Endpoint>) {
    listener_with(H2Client::Own).await
}

async fn listener_with(client: H2Client) -> (TcpListener, Conn, Arc<Endpoint>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = Target::plaintext(l.local_addr().unwrap().to_string());
    let settings = H2Settings {
        client,
        ..H2Settings::default()
    };
    let endpoint = Arc::new(Endpoint::new(&target, None, &[], settings).unwrap());
    (l, Conn::new(Arc::clone(&endpoint)), endpoint)
}

fn call(conn: &Conn) -> tokio::task::JoinHandle<Result<bytes::Bytes, super::CallError>> {
    let conn = conn.clone();
    tokio::spawn(async move {
        conn.unary(Rpc::RunJob, bytes::Bytes::from_static(b"\0\0\0\0\0"))
            .await
    })
}

#[tokio::test]
async fn no_stream_opens_before_the_servers_settings_and_its_limit_holds() {
    settings_first(H2Client::Own).await;
}

#[tokio::test]
async fn the_h2_crate_client_waits_for_the_servers_settings_too() {
    settings_first(H2Client::Crate).await;
}

async fn settings_first(client: H2Client) {
    let (l, conn, _) = listener_with(client).await;
    let calls: Vec<_> = (0..3).map(|_| call(&conn)).collect();
    let mut peer = Peer::accept(&l).await;
    // The client's own SETTINGS (and window update) only: no HEADERS.
    while let Some(e) = peer.event(Duration::from_millis(300)).await {
        assert!(
            !matches!(e, Event::Headers { .. } | Event::Data { .. }),
            "a stream opened before the server's SETTINGS: {e:?}"
        );
    }
    peer.settings(Some(1)).await;
    for _ in 0..3 {
        let id = peer.request().await;
        // One stream at a time: nothing else opens while it is unanswered.
        assert!(
            peer.event(Duration::from_millis(100)).await.is_none(),
            "a second stream opened past SETTINGS_MAX_CONCURRENT_STREAMS 1"
        );
        peer.answer(id, b"ok").await;
    }
    for c in calls {
        assert_eq!(&c.await.unwrap().unwrap()[..], b"ok");
    }
}

#[tokio::test]
async fn a_refused_stream_is_sent_again_and_is_no_error() {
    let (l, conn, endpoint) = listener().await;
    let c = call(&conn);
    let mut peer = Peer::accept(&l).await;
    peer.settings(None).await;
    let first = peer.request().await;
    peer.reset(first, REFUSED_STREAM).await;
    let second = peer.request().await;
    assert!(second > first, "sent again on a new stream");
    peer.answer(second, b"ok").await;
    assert_eq!(&c.await.unwrap().unwrap()[..], b"ok");
    let s = endpoint.stats();
    assert_eq!(
        (s.streams_retried, s.connections_opened, s.goaways_received),
        (1, 1, 0)
    );
}

#[tokio::test]
async fn streams_above_a_goaways_last_id_go_to_a_new_connection() {
    let (l, conn, endpoint) = listener().await;
    let (a, b) = (call(&conn), call(&conn));
    let mut peer = Peer::accept(&l).await;
    peer.settings(None).await;
    let first = peer.request().await;
    let second = peer.request().await;
    // The server processes the lower stream only, then closes.
    let (low, high) = (first.min(second), first.max(second));
    peer.goaway(low).await;
    peer.answer(low, b"one").await;
    // The higher stream comes again, on a second connection.
    let mut again = Peer::accept(&l).await;
    again.settings(None).await;
    let id = again.request().await;
    again.answer(id, b"two").await;
    drop(peer);
    let mut got = vec![a.await.unwrap().unwrap(), b.await.unwrap().unwrap()];
    got.sort();
    assert_eq!(got, [&b"one"[..], &b"two"[..]]);
    let s = endpoint.stats();
    assert_eq!(
        (s.streams_retried, s.connections_opened, s.goaways_received),
        (1, 2, 1)
    );
    assert!(high > low);
}

#[tokio::test]
async fn a_stream_the_server_answered_or_reset_otherwise_is_not_sent_again() {
    let (l, conn, endpoint) = listener().await;
    let a = call(&conn);
    let mut peer = Peer::accept(&l).await;
    peer.settings(None).await;
    let id = peer.request().await;
    // Headers, then REFUSED_STREAM: the server had started on it.
    let mut out = BytesMut::new();
    frame_header(&mut out, 1, HEADERS, END_HEADERS, id);
    out.put_u8(0x88);
    peer.send(&out).await;
    peer.reset(id, REFUSED_STREAM).await;
    assert_eq!(a.await.unwrap().unwrap_err().code, Code::Unavailable);
    let b = call(&conn);
    let id = peer.request().await;
    peer.reset(id, 0x2).await; // INTERNAL_ERROR
    assert_eq!(b.await.unwrap().unwrap_err().code, Code::Internal);
    assert_eq!(endpoint.stats().streams_retried, 0);
}

#[tokio::test]
async fn a_server_that_refuses_everything_fails_the_call_after_the_retries() {
    let (l, conn, endpoint) = listener().await;
    let c = call(&conn);
    let mut peer = Peer::accept(&l).await;
    peer.settings(None).await;
    for _ in 0..=MAX_RETRIES {
        let id = peer.request().await;
        peer.reset(id, REFUSED_STREAM).await;
    }
    let e = c.await.unwrap().unwrap_err();
    assert_eq!(e.code, Code::Unavailable);
    assert!(e.message.contains("REFUSED_STREAM"), "{e}");
    assert_eq!(endpoint.stats().streams_retried, u64::from(MAX_RETRIES));
}

#[tokio::test]
async fn the_h2_crate_client_sends_a_refused_stream_again_too() {
    let (l, conn, endpoint) = listener_with(H2Client::Crate).await;
    let c = call(&conn);
    let mut peer = Peer::accept(&l).await;
    peer.settings(None).await;
    let first = peer.request().await;
    peer.reset(first, REFUSED_STREAM).await;
    let second = peer.request().await;
    peer.answer(second, b"ok").await;
    assert_eq!(&c.await.unwrap().unwrap()[..], b"ok");
    assert_eq!(endpoint.stats().streams_retried, 1);
}

/// With keepalive, a silent server's connection is found dead: the client
/// PINGs, gets no ACK by the next PING, and closes the connection; a server
/// that answers keeps it.
#[tokio::test]
async fn keepalive_pings_find_a_dead_connection() {
    for (client, answer) in [
        (H2Client::Own, false),
        (H2Client::Own, true),
        (H2Client::Crate, false),
    ] {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = Target::plaintext(l.local_addr().unwrap().to_string());
        let settings = H2Settings {
            client,
            keepalive: Some(Duration::from_millis(50)),
            ..H2Settings::default()
        };
        let endpoint = Arc::new(Endpoint::new(&target, None, &[], settings).unwrap());
        let conn = Conn::new(endpoint);
        let opened = tokio::spawn({
            let conn = conn.clone();
            async move { conn.open().await }
        });
        let mut peer = Peer::accept(&l).await;
        peer.settings(None).await;
        opened.await.unwrap().unwrap();
        let mut pings = 0;
        let closed = loop {
            match peer.event(Duration::from_secs(5)).await {
                Some(Event::Ping(p)) => {
                    pings += 1;
                    if answer {
                        let mut out = BytesMut::new();
                        frame_header(&mut out, 8, super::frame::PING, super::frame::ACK, 0);
                        out.put_slice(&p);
                        peer.send(&out).await;
                        if pings == 4 {
                            break false;
                        }
                    }
                }
                Some(Event::GoAway { .. }) => {}
                Some(_) => {}
                // EOF (or silence): the client closed the connection.
                None => break true,
            }
        };
        assert_eq!(
            closed, !answer,
            "{client:?}, answered: {answer}, {pings} pings"
        );
        assert!(pings >= 1, "{client:?}: no PING");
    }
}

proptest! {
    /// The frame parser never panics on arbitrary bytes, however they are
    /// split across reads; it only ever reports events or an error.
    #[test]
    fn the_frame_parser_takes_arbitrary_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        cut in 0usize..2048,
    ) {
        let mut reader = Reader::default();
        let mut buf = BytesMut::new();
        let mut events = Vec::new();
        let cut = cut.min(bytes.len());
        for piece in [&bytes[..cut], &bytes[cut..]] {
            buf.extend_from_slice(piece);
            if reader.parse(&mut buf, 16_384, &mut events).is_err() {
                break;
            }
        }
    }

    /// Well-formed frame headers around arbitrary payloads: every frame type
    /// with arbitrary flags and stream IDs parses or fails cleanly.
    #[test]
    fn frames_with_arbitrary_payloads_parse_or_fail_cleanly(
        frames in proptest::collection::vec(
            (0u8..12, any::<u8>(), 0u32..16, proptest::collection::vec(any::<u8>(), 0..64)),
            1..8,
        ),
    ) {
        let mut out = BytesMut::new();
        for (kind, flags, id, payload) in &frames {
            frame_header(&mut out, payload.len(), *kind, *flags, *id);
            out.put_slice(payload);
        }
        let mut events = Vec::new();
        let _ = Reader::default().parse(&mut out, 16_384, &mut events);
        prop_assert!(events.len() <= frames.len());
    }

    /// The HPACK decoder never panics on arbitrary header blocks, and keeps
    /// its dynamic table within its size.
    #[test]
    fn the_hpack_decoder_takes_arbitrary_blocks(
        blocks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..256), 1..6),
    ) {
        let mut d = Decoder::default();
        for b in &blocks {
            let mut f = Fields::default();
            if d.decode(b, &mut f).is_err() {
                break;
            }
            prop_assert!(d.table_size() <= super::hpack::DEFAULT_TABLE_SIZE);
        }
    }
}
