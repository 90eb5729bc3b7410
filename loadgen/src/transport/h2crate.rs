//! The same calls over the `h2` crate (hyperium's HTTP/2, what tonic and
//! hyper use), selected with `--h2-client h2`: the alternative the
//! generator's own client was measured against (docs/loadgen.md, "The
//! transport, decided by measurement"). A call builds an `http::Request`
//! from per-endpoint templates (URI per RPC, header map), sends the
//! pre-encoded body, and hands every DATA chunk to the caller as it arrives,
//! releasing its flow-control capacity at once; the gRPC status comes from
//! the trailers (or a trailers-only response).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ::h2::client::{self, SendRequest};
use ::h2::{Reason, RecvStream};
use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Uri};
use tokio::io::{AsyncRead, AsyncWrite};

use super::counters::Counters;
use super::error::{CallError, Failure};
use super::grpc::{self, Code};
use super::rpc::Rpc;
use super::settings::H2Settings;

/// What every request to one endpoint carries.
#[derive(Debug)]
pub(crate) struct Templates {
    /// `scheme://authority/path` of each RPC, in [`Rpc::ALL`]'s order.
    uris: Vec<Uri>,
    /// content-type, te, user-agent and the metadata.
    headers: HeaderMap,
}

impl Templates {
    /// The templates of requests to `authority`.
    pub(crate) fn new(
        https: bool,
        authority: &str,
        user_agent: &str,
        metadata: &[(String, String)],
    ) -> Result<Self, String> {
        let scheme = if https { "https" } else { "http" };
        let uris = Rpc::ALL
            .iter()
            .map(|r| {
                format!("{scheme}://{authority}{}", r.path())
                    .parse::<Uri>()
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut headers = HeaderMap::new();
        let value = |v: &str| HeaderValue::from_str(v).map_err(|e| e.to_string());
        headers.insert("content-type", value("application/grpc")?);
        headers.insert("te", value("trailers")?);
        headers.insert("user-agent", value(user_agent)?);
        for (k, v) in metadata {
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| e.to_string())?;
            headers.append(name, value(v)?);
        }
        Ok(Self { uris, headers })
    }
}

/// One connection over the `h2` crate.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    send: SendRequest<Bytes>,
    templates: Arc<Templates>,
    /// The connection task ended, or a call found the connection going away.
    closed: Arc<AtomicBool>,
}

/// Whether a failed stream was one the server did not process: refused,
/// or cut by the server's GOAWAY before any response arrived.
fn classify(e: &::h2::Error, answered: bool) -> Failure {
    let unprocessed = !answered
        && (e.reason() == Some(Reason::REFUSED_STREAM) || (e.is_go_away() && e.is_remote()));
    let code = if e.reason() == Some(Reason::CANCEL) {
        Code::Cancelled
    } else {
        Code::Unavailable
    };
    let error = CallError::new(code, format!("HTTP/2: {e}"));
    if unprocessed {
        Failure::Unprocessed(error)
    } else {
        Failure::Failed(error)
    }
}

/// The gRPC status carried by `fields` (trailers, or a trailers-only
/// response's headers).
fn status_of(fields: &HeaderMap) -> Result<(), CallError> {
    let Some(status) = fields.get("grpc-status") else {
        return Err(CallError::new(
            Code::Internal,
            "the response ended without grpc-status",
        ));
    };
    let code = std::str::from_utf8(status.as_bytes())
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .map_or(Code::Unknown, Code::from_i32);
    if code == Code::Ok {
        return Ok(());
    }
    let message = fields
        .get("grpc-message")
        .map(|m| grpc::decode_message(m.as_bytes()))
        .unwrap_or_default();
    Err(CallError::new(code, message))
}

/// Starts a connection over `io`: the client and the connection's task (to
/// spawn).
pub(crate) async fn handshake<T>(
    io: T,
    templates: Arc<Templates>,
    settings: H2Settings,
    counters: Arc<Counters>,
) -> Result<(Client, impl Future<Output = ()> + Send), CallError>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (send, mut connection) = client::Builder::new()
        .enable_push(false)
        // No stream before the server's first SETTINGS (which sets the
        // limit, or lifts it when it names none).
        .initial_max_send_streams(0)
        .initial_window_size(settings.stream_window)
        .initial_connection_window_size(settings.connection_window)
        .max_frame_size(settings.max_frame_size)
        .handshake::<T, Bytes>(io)
        .await
        .map_err(|e| CallError::new(Code::Unavailable, format!("HTTP/2 handshake: {e}")))?;
    let closed = Arc::new(AtomicBool::new(false));
    let done = Arc::clone(&closed);
    let keepalive = settings
        .keepalive
        .and_then(|every| connection.ping_pong().map(|p| (every, p)));
    let task = async move {
        // With --h2-keepalive: a PING every period; no PONG within it ends
        // the connection (dropping it fails its streams).
        let watch = async move {
            let Some((every, mut ping_pong)) = keepalive else {
                return std::future::pending::<()>().await;
            };
            loop {
                tokio::time::sleep(every).await;
                let pong = tokio::time::timeout(every, ping_pong.ping(::h2::Ping::opaque())).await;
                if !matches!(pong, Ok(Ok(_))) {
                    return;
                }
            }
        };
        tokio::select! {
            ended = connection => {
                if let Err(e) = ended
                    && e.is_go_away()
                    && e.is_remote()
                {
                    counters.goaway();
                }
            }
            () = watch => tracing::debug!("keepalive: no PONG, the connection is dropped"),
        }
        done.store(true, Ordering::Release);
    };
    Ok((
        Client {
            send,
            templates,
            closed,
        },
        task,
    ))
}

impl Client {
    /// Whether the connection can take new streams.
    pub(crate) fn usable(&self) -> bool {
        !self.closed.load(Ordering::Acquire)
    }

    /// One call: `rpc` with the framed request `body`, every DATA chunk of
    /// the response handed to `on_data`.
    pub(crate) async fn call<F>(
        &self,
        rpc: Rpc,
        body: &Bytes,
        on_data: &mut F,
    ) -> Result<(), Failure>
    where
        F: FnMut(&Bytes) -> Result<(), CallError>,
    {
        let gone = |e: ::h2::Error| {
            self.closed.store(true, Ordering::Release);
            Failure::Unprocessed(CallError::new(
                Code::Unavailable,
                format!("HTTP/2 connection going away: {e}"),
            ))
        };
        let mut send = self.send.clone().ready().await.map_err(gone)?;
        let index = Rpc::ALL.iter().position(|r| *r == rpc).unwrap_or(0);
        let mut request = Request::new(());
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.templates.uris[index].clone();
        *request.headers_mut() = self.templates.headers.clone();
        let (response, mut stream) = send
            .send_request(request, false)
            .map_err(|e| classify(&e, false))?;
        stream
            .send_data(body.clone(), true)
            .map_err(|e| classify(&e, false))?;
        let response = response.await.map_err(|e| classify(&e, false))?;
        let (parts, recv) = response.into_parts();
        if parts.status != http::StatusCode::OK {
            let s = parts.status.as_u16();
            return Err(Failure::Failed(CallError::new(
                grpc::code_from_http(s),
                format!("HTTP status {s}"),
            )));
        }
        if recv.is_end_stream() {
            return status_of(&parts.headers).map_err(Failure::Failed);
        }
        let trailers = read_body(recv, on_data).await?;
        match trailers {
            Some(t) => status_of(&t),
            None => status_of(&parts.headers),
        }
        .map_err(Failure::Failed)
    }
}

/// Reads a response body to its end: DATA to `on_data`, then the trailers.
async fn read_body<F>(mut recv: RecvStream, on_data: &mut F) -> Result<Option<HeaderMap>, Failure>
where
    F: FnMut(&Bytes) -> Result<(), CallError>,
{
    while let Some(chunk) = recv.data().await {
        let chunk = chunk.map_err(|e| classify(&e, true))?;
        let _ = recv.flow_control().release_capacity(chunk.len());
        on_data(&chunk)?;
    }
    recv.trailers().await.map_err(|e| classify(&e, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_come_from_grpc_status_and_message() {
        let mut h = HeaderMap::new();
        assert_eq!(status_of(&h).unwrap_err().code, Code::Internal);
        h.insert("grpc-status", HeaderValue::from_static("0"));
        assert!(status_of(&h).is_ok());
        h.insert("grpc-status", HeaderValue::from_static("5"));
        h.insert("grpc-message", HeaderValue::from_static("no%20such%20job"));
        assert_eq!(
            status_of(&h),
            Err(CallError::new(Code::NotFound, "no such job"))
        );
    }

    #[test]
    fn templates_carry_every_path_and_the_metadata() {
        let t = Templates::new(
            true,
            "node:50051",
            "ua/1",
            &[("x-joblet-mock-session".into(), "s".into())],
        )
        .unwrap();
        assert_eq!(
            t.uris[0].to_string(),
            "https://node:50051/joblet.JobService/RunJob"
        );
        assert_eq!(t.uris.len(), Rpc::ALL.len());
        assert_eq!(t.headers["x-joblet-mock-session"], "s");
        assert_eq!(t.headers["te"], "trailers");
    }
}
