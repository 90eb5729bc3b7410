//! SHA-256 in hex, and the compact summary of a log stream (counts, hash and
//! the first bytes) that transcripts keep instead of every chunk.

use base64::Engine as _;

use super::line::LogSummary;

/// The SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(bytes);
    h.finish()
}

/// An incremental SHA-256.
#[derive(Clone)]
pub struct Sha256(ring::digest::Context);

impl std::fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sha256")
    }
}

impl Default for Sha256 {
    fn default() -> Self {
        Self::new()
    }
}

impl Sha256 {
    /// A new hash.
    pub fn new() -> Self {
        Self(ring::digest::Context::new(&ring::digest::SHA256))
    }

    /// Adds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The hash so far, lower-case hex.
    pub fn finish(self) -> String {
        self.0
            .finish()
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Accumulates a log stream: counts, hash and the first bytes.
#[derive(Debug, Clone)]
pub struct LogAccumulator {
    chunks: u64,
    bytes: u64,
    hash: Sha256,
    kept: Vec<u8>,
    limit: usize,
}

impl LogAccumulator {
    /// Keeping at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            chunks: 0,
            bytes: 0,
            hash: Sha256::new(),
            kept: Vec::new(),
            limit,
        }
    }

    /// Adds one chunk's payload.
    pub fn push(&mut self, payload: &[u8]) {
        self.chunks += 1;
        self.bytes += payload.len() as u64;
        self.hash.update(payload);
        let room = self.limit.saturating_sub(self.kept.len());
        self.kept
            .extend_from_slice(&payload[..payload.len().min(room)]);
    }

    /// Bytes so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The summary.
    pub fn finish(self) -> LogSummary {
        let truncated = (self.kept.len() as u64) < self.bytes;
        let (text, base64) = match std::str::from_utf8(&self.kept) {
            Ok(t) => (Some(t.to_owned()), None),
            // A truncated prefix may end inside a character.
            Err(e) if truncated && e.error_len().is_none() => (
                Some(String::from_utf8_lossy(&self.kept[..e.valid_up_to()]).into_owned()),
                None,
            ),
            Err(_) => (
                None,
                Some(base64::engine::general_purpose::STANDARD.encode(&self.kept)),
            ),
        };
        LogSummary {
            chunks: self.chunks,
            bytes: self.bytes,
            sha256: self.hash.finish(),
            text,
            base64,
            truncated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_logs_are_base64_and_utf8_prefixes_stay_whole() {
        let mut acc = LogAccumulator::new(100);
        acc.push(&[0xff, 0x00, 0x41]);
        let s = acc.finish();
        assert_eq!(s.text, None);
        assert_eq!(s.kept(), vec![0xff, 0x00, 0x41]);
        let mut acc = LogAccumulator::new(2);
        acc.push("é!".as_bytes()); // é is 2 bytes: the prefix is whole
        acc.push("é".as_bytes());
        let s = acc.finish();
        assert_eq!((s.text.as_deref(), s.truncated), (Some("é"), true));
        let mut acc = LogAccumulator::new(1);
        acc.push("é".as_bytes()); // cut inside: the text is empty
        assert_eq!(acc.finish().text.as_deref(), Some(""));
    }
}
