//! One module per proto service. Each handler is thin: it checks nothing itself
//! beyond shaping the request, calls the domain module and turns its
//! [`Error`](crate::error::Error) into a `tonic::Status`.
//!
//! Every handler runs through a [`Gate`]: it picks the call's session (the
//! `x-joblet-mock-session` metadata), applies the session's fault rules,
//! runs the handler and records the call in the session's journal.

pub mod contract;
pub mod control;
pub mod fields;
pub mod job;
pub mod monitoring;
pub mod network;
pub mod runtime;
pub mod volume;

use std::future::Future;
use std::sync::Arc;

use futures::Stream;
use tonic::{Request, Response, Status};

pub use crate::stream::{BoxStream, until_shutdown};

use crate::session::Node;
use crate::session::Shared;

/// What every service holds: the node, and the way calls enter it.
#[derive(Debug, Clone)]
pub struct Gate {
    node: Arc<Node>,
}

/// What the gate decided before the handler runs.
struct Admitted {
    shared: Arc<Shared>,
    started: CallStart,
}

/// What the journal needs from the start of a call.
struct CallStart {
    method: &'static str,
    request: Option<bytes::Bytes>,
    stream_fault: Option<crate::faults::StreamFault>,
}

impl Gate {
    /// A gate onto `node`.
    pub fn new(node: Arc<Node>) -> Self {
        Self { node }
    }

    async fn admit<Req: prost::Message>(
        &self,
        method: &'static str,
        request: &Request<Req>,
    ) -> Result<Admitted, Status> {
        let shared = self.node.for_metadata(request.metadata())?;
        let journal_on = shared.journal.capacity() > 0;
        let faults_on = !shared.faults.is_empty();
        let encoded = (journal_on || faults_on)
            .then(|| bytes::Bytes::from(request.get_ref().encode_to_vec()));
        let mut started = CallStart {
            method,
            request: encoded,
            stream_fault: None,
        };
        if faults_on {
            let bytes = started.request.clone().unwrap_or_default();
            let decision = shared.faults.decide(method, &shared.session, &|field| {
                crate::journal::request_field(method, &bytes, field)
            });
            if let Some(delay) = decision.delay {
                // Rule `concurrency`: one of its places for the delay.
                let _place = match decision.queue {
                    Some(queue) => queue.acquire_owned().await.ok(),
                    None => None,
                };
                tokio::time::sleep(delay).await;
            }
            if let Some(status) = decision.fail {
                record(&shared, &mut started, status.code(), status.message());
                return Err(status);
            }
            started.stream_fault = decision.stream;
        }
        Ok(Admitted { shared, started })
    }

    /// Runs a unary call in its session.
    pub async fn unary<Req, Res, F, Fut>(
        &self,
        method: &'static str,
        request: Request<Req>,
        handler: F,
    ) -> Result<Response<Res>, Status>
    where
        Req: prost::Message,
        F: FnOnce(Arc<Shared>, Req) -> Fut,
        Fut: Future<Output = Result<Res, Status>>,
    {
        let Admitted {
            shared,
            mut started,
        } = self.admit(method, &request).await?;
        let result = handler(Arc::clone(&shared), request.into_inner()).await;
        match &result {
            Ok(_) => record(&shared, &mut started, tonic::Code::Ok, ""),
            Err(status) => record(&shared, &mut started, status.code(), status.message()),
        }
        result.map(Response::new)
    }

    /// Runs a server-streaming call in its session; the stream ends with
    /// UNAVAILABLE when the server shuts down, and stream faults apply to it.
    pub async fn stream<Req, Item, F, Fut, S>(
        &self,
        method: &'static str,
        request: Request<Req>,
        handler: F,
    ) -> Result<Response<BoxStream<Item>>, Status>
    where
        Req: prost::Message,
        Item: prost::Message + Send + 'static,
        F: FnOnce(Arc<Shared>, Req) -> Fut,
        Fut: Future<Output = Result<S, Status>>,
        S: Stream<Item = Result<Item, Status>> + Send + 'static,
    {
        let Admitted {
            shared,
            mut started,
        } = self.admit(method, &request).await?;
        let result = handler(Arc::clone(&shared), request.into_inner()).await;
        match result {
            Ok(stream) => {
                record(&shared, &mut started, tonic::Code::Ok, "");
                let closing = shared.closing.clone();
                let mut stream = until_shutdown(stream, closing.clone());
                if let Some(fault) = started.stream_fault {
                    stream = crate::faults::apply_stream(stream, fault, closing);
                }
                Ok(Response::new(stream))
            }
            Err(status) => {
                record(&shared, &mut started, status.code(), status.message());
                Err(status)
            }
        }
    }
}

fn record(shared: &Shared, start: &mut CallStart, code: tonic::Code, message: &str) {
    if let Some(request) = start.request.take()
        && shared.journal.capacity() > 0
    {
        shared.journal.record(
            start.method,
            shared.session.as_str(),
            request,
            code,
            message,
            shared.clock.now_ms(),
        );
    }
}
