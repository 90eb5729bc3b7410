//! The contract filter on the server's listeners: a path this node does not
//! serve (the other contract's methods under `--api v1|v2`, an unknown method
//! or service of package `joblet`) answers UNIMPLEMENTED with grpc-go's message
//! (CONTRACT-1) before any role is checked, as a Go server's method table
//! answers before its interceptors run.

use std::future::{Ready, ready};
use std::task::{Context, Poll};

use futures::future::Either;
use tower::{Layer, Service};

use joblet_testkit::contract::{Api, refusal};

use crate::behaviour::Mutant;

/// Tower layer of the contract filter.
#[derive(Debug, Clone, Copy)]
pub struct ContractLayer {
    api: Api,
    /// CONTRACT-1 mutant: refusals in another text.
    other_text: bool,
}

impl ContractLayer {
    /// A filter for a node serving `api`.
    pub fn new(api: Api) -> Self {
        Self {
            api,
            other_text: false,
        }
    }

    /// The mock's mutant (CONTRACT-1's acts here).
    pub fn mutant(mut self, mutant: Option<Mutant>) -> Self {
        self.other_text = mutant == Some(Mutant::V1PathsOtherText);
        self
    }
}

impl<S> Layer<S> for ContractLayer {
    type Service = ContractService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ContractService {
            inner,
            api: self.api,
            other_text: self.other_text,
        }
    }
}

/// The contract filter over `inner`.
#[derive(Debug, Clone)]
pub struct ContractService<S> {
    inner: S,
    api: Api,
    other_text: bool,
}

impl<S, B> Service<http::Request<B>> for ContractService<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Either<Ready<Result<S::Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        match refusal(self.api, req.uri().path()) {
            Some(_) if self.other_text => {
                let method = req.uri().path().rsplit('/').next().unwrap_or_default();
                let status =
                    tonic::Status::unimplemented(format!("method {method} not implemented"));
                Either::Left(ready(Ok(status.into_http())))
            }
            Some(status) => Either::Left(ready(Ok(status.into_http()))),
            None => Either::Right(self.inner.call(req)),
        }
    }
}
