//! The accept loop of a mutual-TLS listener: handshakes run one task each,
//! and every connection carries the [`ClientIdentity`] its certificate proved.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;

use super::server::ServerTls;
use crate::auth::{ClientIdentity, Role};

/// Time a client has to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// One accepted, handshaken TLS connection, with what its client proved.
pub struct TlsConn {
    stream: tokio_rustls::server::TlsStream<TcpStream>,
    identity: ClientIdentity,
}

impl fmt::Debug for TlsConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConn")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl TlsConn {
    /// What the client proved at handshake.
    pub fn identity(&self) -> &ClientIdentity {
        &self.identity
    }
}

impl Connected for TlsConn {
    type ConnectInfo = ClientIdentity;

    fn connect_info(&self) -> ClientIdentity {
        self.identity.clone()
    }
}

impl AsyncRead for TlsConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Aborts the accept loop when the server using it ends.
#[derive(Debug)]
pub struct AcceptLoop(tokio::task::JoinHandle<()>);

impl Drop for AcceptLoop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Accepts TCP connections on `listener` and yields them once their TLS
/// handshake succeeded. Handshakes run concurrently, one task each; failures
/// are logged at debug level. The loop ends when the returned guard drops.
/// Each connection carries its [`ClientIdentity`] (the role of its client
/// certificate), as tonic's connect info.
pub fn incoming(listener: TcpListener, tls: &ServerTls) -> (ReceiverStream<TlsConn>, AcceptLoop) {
    let (tx, rx) = mpsc::channel::<TlsConn>(64);
    let acceptor = TlsAcceptor::from(tls.server_config());
    let task = tokio::spawn(async move {
        loop {
            let (tcp, remote) = match listener.accept().await {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!("TLS listener accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            if tx.is_closed() {
                return;
            }
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let stream =
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(e)) => {
                            tracing::debug!(%remote, "TLS handshake failed: {e}");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%remote, "TLS handshake timed out");
                            return;
                        }
                    };
                let leaf = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|certs| certs.first());
                let role = leaf.map(|leaf| Role::from_cert_der(leaf));
                let ous = leaf
                    .and_then(|leaf| crate::auth::subject_ous(leaf).ok())
                    .unwrap_or_default();
                tracing::debug!(%remote, role = ?role, "TLS client connected");
                let identity = ClientIdentity {
                    role,
                    ous,
                    remote_addr: Some(remote),
                };
                let _ = tx.send(TlsConn { stream, identity }).await;
            });
        }
    });
    (ReceiverStream::new(rx), AcceptLoop(task))
}
