//! Recording through a tonic server or a proxy: the response body that feeds
//! a [`CallCapture`], the request reader, and the tower layer that records
//! every Joblet call of a server.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::future::BoxFuture;
use http_body::{Body as HttpBody, Frame};
use http_body_util::BodyExt;
use tower::{Layer, Service};

use super::recorder::{CallCapture, Recorder};
use super::wire::{is_joblet_path, role_of, session_of};

/// The largest request body read before forwarding (the contract's 128 MiB
/// plus framing and some room).
pub const MAX_REQUEST_BODY: usize = (128 << 20) + (1 << 20);

/// A response body that feeds a [`CallCapture`] and writes its line at the end.
pub struct RecordedBody<B> {
    inner: B,
    capture: Option<CallCapture>,
}

impl<B> std::fmt::Debug for RecordedBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordedBody")
            .field("capture", &self.capture)
            .finish_non_exhaustive()
    }
}

impl<B> RecordedBody<B> {
    /// Wraps `inner`.
    pub fn new(inner: B, capture: CallCapture) -> Self {
        Self {
            inner,
            capture: Some(capture),
        }
    }
}

impl<B> HttpBody for RecordedBody<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(capture) = &mut this.capture {
                    if let Some(data) = frame.data_ref() {
                        capture.data(data);
                    } else if let Some(trailers) = frame.trailers_ref() {
                        capture.trailers(trailers);
                    }
                }
            }
            Poll::Ready(Some(Err(e))) => {
                if let Some(mut capture) = this.capture.take() {
                    capture.fail(
                        tonic::Code::Unavailable,
                        format!("the answer broke off: {e}"),
                    );
                    capture.finish();
                }
            }
            Poll::Ready(None) => {
                if let Some(mut capture) = this.capture.take() {
                    // A body that ends without a status: gRPC calls that UNKNOWN.
                    capture.fail(tonic::Code::Unknown, "the answer ended without a status");
                    capture.finish();
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for RecordedBody<B> {
    fn drop(&mut self) {
        // Dropped with a status: ended normally; without: the client left.
        if let Some(capture) = self.capture.take() {
            capture.finish();
        }
    }
}

/// Reads a whole request body (at most [`MAX_REQUEST_BODY`] bytes).
pub async fn collect_request<B>(body: B) -> Result<Bytes, tonic::Status>
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match http_body_util::Limited::new(body, MAX_REQUEST_BODY)
        .collect()
        .await
    {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => Err(if e.is::<http_body_util::LengthLimitError>() {
            tonic::Status::resource_exhausted(format!(
                "the request is larger than the {MAX_REQUEST_BODY} bytes a recorder reads"
            ))
        } else {
            tonic::Status::cancelled(format!("the request body broke off: {e}"))
        }),
    }
}

/// Records `response` into `capture`: its headers now, its body as it is sent.
pub fn record_response(
    response: http::Response<tonic::body::Body>,
    capture: Option<CallCapture>,
) -> http::Response<tonic::body::Body> {
    let Some(mut capture) = capture else {
        return response;
    };
    capture.headers(response.headers());
    let (parts, body) = response.into_parts();
    http::Response::from_parts(
        parts,
        tonic::body::Body::new(RecordedBody::new(body, capture)),
    )
}

/// Tower layer recording every Joblet call through a tonic server into a
/// [`Recorder`]. Put it outermost, so that calls refused by authorization are
/// recorded too.
#[derive(Debug, Clone)]
pub struct RecordLayer {
    recorder: Arc<Recorder>,
}

impl RecordLayer {
    /// A layer writing into `recorder`.
    pub fn new(recorder: Arc<Recorder>) -> Self {
        Self { recorder }
    }
}

impl<S> Layer<S> for RecordLayer {
    type Service = RecordService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RecordService {
            inner,
            recorder: Arc::clone(&self.recorder),
        }
    }
}

/// The service of [`RecordLayer`].
#[derive(Debug, Clone)]
pub struct RecordService<S> {
    inner: S,
    recorder: Arc<Recorder>,
}

impl<S> Service<http::Request<tonic::body::Body>> for RecordService<S>
where
    S: Service<http::Request<tonic::body::Body>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        if !is_joblet_path(request.uri().path()) {
            return Box::pin(self.inner.call(request));
        }
        // The ready service answers this call; a clone takes its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let recorder = Arc::clone(&self.recorder);
        Box::pin(async move {
            let role = role_of(&request);
            let (parts, body) = request.into_parts();
            let bytes = match collect_request(body).await {
                Ok(b) => b,
                Err(status) => return Ok(status.into_http()),
            };
            let capture = recorder.begin(
                parts.uri.path(),
                &session_of(&parts.headers),
                role,
                &bytes,
                parts
                    .headers
                    .get("grpc-encoding")
                    .and_then(|v| v.to_str().ok()),
            );
            let request = http::Request::from_parts(
                parts,
                tonic::body::Body::new(http_body_util::Full::new(bytes)),
            );
            let response = inner.call(request).await?;
            Ok(record_response(response, capture))
        })
    }
}
