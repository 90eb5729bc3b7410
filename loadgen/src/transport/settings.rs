//! The HTTP/2 settings the generator announces on its connections.

/// HTTP/2 settings of the generator's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct H2Settings {
    /// Initial flow-control window of each stream (bytes).
    pub stream_window: u32,
    /// Flow-control window of the connection (bytes).
    pub connection_window: u32,
    /// Largest DATA frame the server may send (16 KiB to 16 MiB - 1).
    pub max_frame_size: u32,
}

impl Default for H2Settings {
    fn default() -> Self {
        Self {
            stream_window: 16 << 20,
            connection_window: 64 << 20,
            max_frame_size: 16 << 10,
        }
    }
}
