//! The HTTP/2 settings the generator announces on its connections, and which
//! HTTP/2 implementation carries them.

/// Which HTTP/2 client carries the calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum H2Client {
    /// The generator's own (`transport::h2`): the default, kept by
    /// measurement (docs/loadgen.md).
    #[default]
    Own,
    /// The `h2` crate (hyperium), the alternative it was measured against.
    Crate,
}

/// HTTP/2 settings of the generator's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct H2Settings {
    /// Initial flow-control window of each stream (bytes).
    pub stream_window: u32,
    /// Flow-control window of the connection (bytes).
    pub connection_window: u32,
    /// Largest DATA frame the server may send (16 KiB to 16 MiB - 1).
    pub max_frame_size: u32,
    /// The client implementation.
    pub client: H2Client,
    /// Send a PING this often; a connection whose ACK has not come back
    /// by the next one is dead (closed, and its calls fail). `None`: no
    /// keepalive pings.
    pub keepalive: Option<std::time::Duration>,
}

impl Default for H2Settings {
    fn default() -> Self {
        Self {
            stream_window: 16 << 20,
            connection_window: 64 << 20,
            max_frame_size: 16 << 10,
            client: H2Client::Own,
            keepalive: None,
        }
    }
}
