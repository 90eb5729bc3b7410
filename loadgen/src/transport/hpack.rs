//! HPACK (RFC 7541) as a gRPC client needs it.
//!
//! The decoder keeps the full dynamic table (the server indexes what it
//! sends) but hands out only the fields a gRPC client reads: `:status`,
//! `grpc-status` and `grpc-message`. The encoder writes a request's fixed
//! header set: every field is inserted into the server's dynamic table the
//! first time and sent as a one-byte index afterwards, so a request's
//! HEADERS frame is a few bytes and costs the server no string copies.

use std::collections::VecDeque;

use bytes::{BufMut, Bytes, BytesMut};

use super::huffman;

/// A header block that cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("HPACK: {0}")]
pub(crate) struct HpackError(pub(crate) &'static str);

/// The static table (RFC 7541, Appendix A).
const STATIC: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// The default (and our advertised) dynamic table size.
pub(crate) const DEFAULT_TABLE_SIZE: usize = 4096;

/// The response fields a gRPC client reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Fields {
    /// `:status`.
    pub(crate) status: Option<u16>,
    /// `grpc-status`.
    pub(crate) grpc_status: Option<i32>,
    /// `grpc-message` (percent-encoded, as sent).
    pub(crate) grpc_message: Option<Vec<u8>>,
}

impl Fields {
    fn take(&mut self, name: &[u8], value: &[u8]) {
        match name {
            b":status" => {
                self.status = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
            }
            b"grpc-status" => {
                self.grpc_status = std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.trim().parse().ok())
                    .or(Some(2));
            }
            b"grpc-message" => self.grpc_message = Some(value.to_vec()),
            _ => {}
        }
    }
}

/// Reads an HPACK integer with an `n`-bit prefix at `at`.
fn integer(buf: &[u8], at: &mut usize, n: u8) -> Result<usize, HpackError> {
    let first = *buf.get(*at).ok_or(HpackError("truncated integer"))?;
    *at += 1;
    let max = (1usize << n) - 1;
    let mut v = usize::from(first) & max;
    if v < max {
        return Ok(v);
    }
    let mut shift = 0;
    loop {
        let b = *buf.get(*at).ok_or(HpackError("truncated integer"))?;
        *at += 1;
        if shift > 28 {
            return Err(HpackError("integer too large"));
        }
        v += usize::from(b & 0x7f) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
}

/// Writes an HPACK integer with an `n`-bit prefix, `flags` in the high bits.
pub(crate) fn put_integer(out: &mut BytesMut, flags: u8, n: u8, v: usize) {
    let max = (1usize << n) - 1;
    if v < max {
        out.put_u8(flags | v as u8);
        return;
    }
    out.put_u8(flags | max as u8);
    let mut rest = v - max;
    while rest >= 0x80 {
        out.put_u8((rest as u8 & 0x7f) | 0x80);
        rest >>= 7;
    }
    out.put_u8(rest as u8);
}

fn put_string(out: &mut BytesMut, s: &[u8]) {
    put_integer(out, 0, 7, s.len());
    out.put_slice(s);
}

/// The decoder of one connection's response headers.
#[derive(Debug)]
pub(crate) struct Decoder {
    table: VecDeque<(Bytes, Bytes)>,
    size: usize,
    max: usize,
    /// Largest size the server may set (our SETTINGS_HEADER_TABLE_SIZE).
    limit: usize,
    scratch: Vec<u8>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self {
            table: VecDeque::new(),
            size: 0,
            max: DEFAULT_TABLE_SIZE,
            limit: DEFAULT_TABLE_SIZE,
            scratch: Vec::new(),
        }
    }
}

impl Decoder {
    /// The dynamic table's size (RFC 7541's accounting).
    #[cfg(test)]
    pub(crate) fn table_size(&self) -> usize {
        self.size
    }

    fn entry(&self, index: usize) -> Result<(&[u8], &[u8]), HpackError> {
        match index {
            0 => Err(HpackError("index 0")),
            1..=61 => {
                let (n, v) = STATIC[index - 1];
                Ok((n.as_bytes(), v.as_bytes()))
            }
            _ => self
                .table
                .get(index - 62)
                .map(|(n, v)| (n.as_ref(), v.as_ref()))
                .ok_or(HpackError("index beyond the dynamic table")),
        }
    }

    fn evict(&mut self) {
        while self.size > self.max {
            match self.table.pop_back() {
                Some((n, v)) => self.size -= n.len() + v.len() + 32,
                None => self.size = 0,
            }
        }
    }

    fn insert(&mut self, name: Bytes, value: Bytes) {
        let size = name.len() + value.len() + 32;
        if size > self.max {
            self.table.clear();
            self.size = 0;
            return;
        }
        self.size += size;
        self.table.push_front((name, value));
        self.evict();
    }

    /// Reads a string literal at `at` into an owned `Bytes`.
    fn string(&mut self, buf: &[u8], at: &mut usize) -> Result<Bytes, HpackError> {
        let huffman = buf.get(*at).ok_or(HpackError("truncated string"))? & 0x80 != 0;
        let len = integer(buf, at, 7)?;
        let end = at.checked_add(len).ok_or(HpackError("string too long"))?;
        let raw = buf.get(*at..end).ok_or(HpackError("truncated string"))?;
        *at = end;
        if huffman {
            self.scratch.clear();
            huffman::decode(raw, &mut self.scratch).map_err(|_| HpackError("bad Huffman code"))?;
            Ok(Bytes::copy_from_slice(&self.scratch))
        } else {
            Ok(Bytes::copy_from_slice(raw))
        }
    }

    /// Decodes a complete header block, keeping the fields gRPC needs.
    pub(crate) fn decode(&mut self, block: &[u8], fields: &mut Fields) -> Result<(), HpackError> {
        let mut at = 0;
        while at < block.len() {
            let b = block[at];
            if b & 0x80 != 0 {
                let i = integer(block, &mut at, 7)?;
                let (n, v) = self.entry(i)?;
                fields.take(n, v);
            } else if b & 0xc0 == 0x40 {
                let (name, value) = self.literal(block, &mut at, 6)?;
                fields.take(&name, &value);
                self.insert(name, value);
            } else if b & 0xe0 == 0x20 {
                let size = integer(block, &mut at, 5)?;
                if size > self.limit {
                    return Err(HpackError("table size above the limit"));
                }
                self.max = size;
                self.evict();
            } else {
                // Literal without indexing (0000) or never indexed (0001).
                let (name, value) = self.literal(block, &mut at, 4)?;
                fields.take(&name, &value);
            }
        }
        Ok(())
    }

    /// A literal field whose name index has a `prefix`-bit integer (0: the
    /// name follows as a string), then its value.
    fn literal(
        &mut self,
        block: &[u8],
        at: &mut usize,
        prefix: u8,
    ) -> Result<(Bytes, Bytes), HpackError> {
        let i = integer(block, at, prefix)?;
        let name = if i == 0 {
            self.string(block, at)?
        } else {
            Bytes::copy_from_slice(self.entry(i)?.0)
        };
        Ok((name, self.string(block, at)?))
    }
}

/// A request header a connection's encoder may have indexed.
#[derive(Debug, Clone)]
struct Field {
    /// Index of its name in the static table (0: a literal name).
    name_index: usize,
    name: Bytes,
    value: Bytes,
    size: usize,
}

/// The encoder of one connection's requests: a fixed set of fields, each
/// inserted into the server's table on first use and indexed afterwards.
#[derive(Debug)]
pub(crate) struct Encoder {
    /// For each field of the set: the insertion count when it was inserted.
    inserted: Vec<Option<u64>>,
    count: u64,
    used: usize,
    /// The server's table size (SETTINGS_HEADER_TABLE_SIZE).
    max: usize,
    /// A size update must open the next block.
    resize: Option<usize>,
}

/// The fields requests carry, known up front (see [`RequestHeaders`]).
#[derive(Debug, Clone)]
pub(crate) struct RequestHeaders {
    fields: Vec<Field>,
    https: bool,
    /// Index in `fields` of each RPC's `:path`.
    paths: Vec<usize>,
    /// Indexes of the fields every request carries after `:path`.
    common: Vec<usize>,
}

impl RequestHeaders {
    /// The headers of requests to `authority`: one `:path` per entry of
    /// `paths`, then content-type, te, user-agent and `metadata`.
    pub(crate) fn new(
        https: bool,
        authority: &str,
        paths: &[&str],
        user_agent: &str,
        metadata: &[(String, String)],
    ) -> Self {
        let mut fields = Vec::new();
        let mut add = |name_index: usize, name: &str, value: &str| {
            fields.push(Field {
                name_index,
                name: Bytes::copy_from_slice(name.as_bytes()),
                value: Bytes::copy_from_slice(value.as_bytes()),
                size: name.len() + value.len() + 32,
            });
            fields.len() - 1
        };
        let paths = paths.iter().map(|p| add(4, ":path", p)).collect();
        let mut common = vec![
            add(1, ":authority", authority),
            add(31, "content-type", "application/grpc"),
            add(0, "te", "trailers"),
            add(58, "user-agent", user_agent),
        ];
        for (k, v) in metadata {
            common.push(add(0, k, v));
        }
        Self {
            fields,
            https,
            paths,
            common,
        }
    }
}

impl Default for Encoder {
    fn default() -> Self {
        Self {
            inserted: Vec::new(),
            count: 0,
            used: 0,
            max: DEFAULT_TABLE_SIZE,
            resize: None,
        }
    }
}

impl Encoder {
    /// The server changed its table size: start over with an empty table.
    pub(crate) fn set_max(&mut self, size: usize) {
        if size != self.max {
            self.max = size;
            self.inserted.clear();
            self.used = 0;
            self.resize = Some(size);
        }
    }

    fn field(&mut self, h: &RequestHeaders, i: usize, out: &mut BytesMut) {
        if self.inserted.len() < h.fields.len() {
            self.inserted.resize(h.fields.len(), None);
        }
        let f = &h.fields[i];
        if let Some(at) = self.inserted[i] {
            // Entries are never evicted (they fit), so the index is stable
            // relative to the insertions since.
            let index = 62 + (self.count - 1 - at) as usize;
            put_integer(out, 0x80, 7, index);
        } else if self.used + f.size <= self.max {
            put_integer(out, 0x40, 6, f.name_index);
            if f.name_index == 0 {
                put_string(out, &f.name);
            }
            put_string(out, &f.value);
            self.inserted[i] = Some(self.count);
            self.count += 1;
            self.used += f.size;
        } else {
            put_integer(out, 0x00, 4, f.name_index);
            if f.name_index == 0 {
                put_string(out, &f.name);
            }
            put_string(out, &f.value);
        }
    }

    /// Appends the header block of a request to RPC number `rpc`.
    pub(crate) fn encode(&mut self, h: &RequestHeaders, rpc: usize, out: &mut BytesMut) {
        if let Some(size) = self.resize.take() {
            // Clear the server's table, then set the new size.
            put_integer(out, 0x20, 5, 0);
            put_integer(out, 0x20, 5, size);
        }
        out.put_u8(0x83); // :method POST
        out.put_u8(if h.https { 0x87 } else { 0x86 }); // :scheme
        self.field(h, h.paths[rpc], out);
        for i in 0..h.common.len() {
            self.field(h, h.common[i], out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields_of(d: &mut Decoder, block: &[u8]) -> Fields {
        let mut f = Fields::default();
        d.decode(block, &mut f).unwrap();
        f
    }

    #[test]
    fn rfc_response_examples_decode_with_the_dynamic_table() {
        // RFC 7541 C.6.1 and C.6.2 (responses with Huffman coding).
        let first = hex(
            "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3",
        );
        let mut d = Decoder {
            max: 256,
            limit: 256,
            ..Default::default()
        };
        assert_eq!(fields_of(&mut d, &first).status, Some(302));
        assert_eq!(d.size, 222);
        let second = hex("4883640effc1c0bf");
        assert_eq!(fields_of(&mut d, &second).status, Some(307));
        assert_eq!(d.size, 222);
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn grpc_fields_are_read_from_any_representation() {
        let mut d = Decoder::default();
        let mut block = BytesMut::new();
        block.put_u8(0x88); // :status 200, indexed
        put_integer(&mut block, 0x40, 6, 0);
        put_string(&mut block, b"grpc-status");
        put_string(&mut block, b"5");
        put_integer(&mut block, 0x10, 4, 0);
        put_string(&mut block, b"grpc-message");
        put_string(&mut block, b"job%20not%20found");
        let f = fields_of(&mut d, &block);
        assert_eq!((f.status, f.grpc_status), (Some(200), Some(5)));
        assert_eq!(f.grpc_message.as_deref(), Some(&b"job%20not%20found"[..]));
        // grpc-status 5 is now entry 62.
        let f = fields_of(&mut d, &[0xbe]);
        assert_eq!(f.grpc_status, Some(5));
        assert!(
            d.decode(&[0xbf], &mut Fields::default()).is_err(),
            "no entry 63"
        );
    }

    /// The encoder's blocks, read by a full decoder, give the same fields
    /// every time, and shrink to indexes after the first.
    #[test]
    fn request_blocks_index_after_the_first() {
        let h = RequestHeaders::new(
            false,
            "127.0.0.1:5",
            &["/a/B", "/a/C"],
            "ua/1",
            &[("x-session".into(), "s1".into())],
        );
        let mut e = Encoder::default();
        let mut server = ServerTable::default();
        let mut sizes = Vec::new();
        for rpc in [0, 1, 0, 0, 1] {
            let mut out = BytesMut::new();
            e.encode(&h, rpc, &mut out);
            sizes.push(out.len());
            let got = server.decode(&out);
            let path = if rpc == 0 { "/a/B" } else { "/a/C" };
            assert_eq!(
                got,
                [
                    (":method", "POST"),
                    (":scheme", "http"),
                    (":path", path),
                    (":authority", "127.0.0.1:5"),
                    ("content-type", "application/grpc"),
                    ("te", "trailers"),
                    ("user-agent", "ua/1"),
                    ("x-session", "s1"),
                ]
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
            );
        }
        assert!(sizes[2] <= 8, "{sizes:?}");
        // A smaller server table resets the encoder and still decodes.
        e.set_max(0);
        let mut out = BytesMut::new();
        e.encode(&h, 1, &mut out);
        assert_eq!(server.decode(&out)[2].1, "/a/C");
    }

    /// A minimal full decoder for checking the encoder.
    #[derive(Default)]
    struct ServerTable {
        table: VecDeque<(String, String)>,
    }

    impl ServerTable {
        fn get(&self, i: usize) -> (String, String) {
            if i <= 61 {
                let (n, v) = STATIC[i - 1];
                (n.into(), v.into())
            } else {
                self.table[i - 62].clone()
            }
        }

        fn string(b: &[u8], at: &mut usize) -> String {
            assert_eq!(b[*at] & 0x80, 0, "no Huffman");
            let n = integer(b, at, 7).unwrap();
            let s = String::from_utf8(b[*at..*at + n].to_vec()).unwrap();
            *at += n;
            s
        }

        fn decode(&mut self, b: &[u8]) -> Vec<(String, String)> {
            let mut at = 0;
            let mut out = Vec::new();
            while at < b.len() {
                let c = b[at];
                if c & 0x80 != 0 {
                    let i = integer(b, &mut at, 7).unwrap();
                    out.push(self.get(i));
                } else if c & 0xe0 == 0x20 {
                    let size = integer(b, &mut at, 5).unwrap();
                    if size == 0 {
                        self.table.clear();
                    }
                } else {
                    let (bits, index) = if c & 0x40 != 0 { (6, true) } else { (4, false) };
                    let i = integer(b, &mut at, bits).unwrap();
                    let name = if i == 0 {
                        Self::string(b, &mut at)
                    } else {
                        self.get(i).0
                    };
                    let value = Self::string(b, &mut at);
                    if index {
                        self.table.push_front((name.clone(), value.clone()));
                    }
                    out.push((name, value));
                }
            }
            out
        }
    }
}
