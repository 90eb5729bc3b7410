//! How the mock's server applies the role table (AUTH-1 to AUTH-5 of
//! `docs/behaviours.md`).
//!
//! [`Role`], the per-RPC table ([`JOBLET_RPCS`], [`access`]) and the
//! [`ClientIdentity`] of a TLS connection are facts of the Joblet contract and
//! live in [`joblet_testkit::auth`]; they are re-exported here. A caller's
//! [`Role`] comes from its transport: on the plaintext listener every caller
//! is [`Role::Admin`] (AUTH-1); on the TLS listener the role is read from the
//! client certificate once, at handshake ([`Role::from_cert_der`], AUTH-3),
//! and travels with the connection as a [`ClientIdentity`].
//!
//! [`AuthLayer`] wraps the whole router and decides from the request path alone
//! (`/joblet.<Service>/<Method>`), before any handler decodes or validates the
//! request (AUTH-5). A refused call gets a gRPC status response at once:
//! `PERMISSION_DENIED` "role viewer is not allowed to perform operation RunJob"
//! (AUTH-4), or `UNAUTHENTICATED` "no client certificate found" on a TLS
//! connection without a client certificate. gRPC health and reflection are open
//! to every authenticated caller, whatever its role; the mock's control API to
//! admin only. The AUTH mutants and the `server-v1` quirks that change these
//! decisions act here too.

use std::future::{Ready, ready};
use std::task::{Context, Poll};

use futures::future::Either;
use joblet_testkit::auth::RoleModel;
pub use joblet_testkit::auth::{ClientIdentity, JOBLET_RPCS, Role};
use tower::{Layer, Service};

use crate::behaviour::Mutant;
use crate::error::Error;

/// The package prefix of the mock's control API (`jobletmock.v1.MockControl`),
/// which only the admin role may call.
pub const CONTROL_PACKAGE: &str = "jobletmock.";

/// Whether `role` may call `path` (`/package.Service/Method`); the error is the
/// `PERMISSION_DENIED` the caller gets (AUTH-4). Health and reflection are open
/// to every role, the mock's control API ([`CONTROL_PACKAGE`]) to admin only;
/// other paths outside the Joblet package are left to the router.
pub fn authorize(role: Role, path: &str) -> Result<(), Error> {
    let Some((service, method)) = path.strip_prefix('/').and_then(|p| p.split_once('/')) else {
        return Ok(());
    };
    if service.starts_with(CONTROL_PACKAGE) {
        // The mock's own control API (jobletmock.v1.MockControl): admin only.
        return match role {
            Role::Admin => Ok(()),
            _ => Err(Error::PermissionDenied(format!(
                "role {role} is not allowed to perform operation {method} \
                 (the joblet-mock control API is admin-only)"
            ))),
        };
    }
    let Some(service) = service.strip_prefix("joblet.") else {
        // grpc.health.v1.Health, grpc.reflection.*: any authenticated caller.
        // Anything else is not served: the router answers UNIMPLEMENTED.
        return Ok(());
    };
    if role.may_call(service, method) {
        Ok(())
    } else {
        Err(Error::PermissionDenied(format!(
            "role {role} is not allowed to perform operation {method}"
        )))
    }
}

/// Where requests come from, for [`AuthLayer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Plaintext listener: every caller is admin (AUTH-1).
    Plaintext,
    /// TLS listener: the role comes from each connection's [`ClientIdentity`].
    Tls,
}

/// Tower layer authorizing every request before it reaches the router (AUTH-5).
/// Allowed requests carry their [`Role`] in the request extensions.
#[derive(Debug, Clone, Copy)]
pub struct AuthLayer {
    mode: AuthMode,
    /// QUIRK-11: the MonitoringService needs no role.
    open_monitoring: bool,
    /// QUIRK-1: CancelJob has no handler on the deployed server, so no role is
    /// checked: every caller gets its UNIMPLEMENTED.
    unchecked_cancel: bool,
    /// The mock's mutant (AUTH-1..5 mutants act here).
    mutant: Option<Mutant>,
    /// v2 is served: the OU `reader` counts as `viewer` (AUTH-6).
    reader_alias: bool,
    /// `--roles four`: the four-role model of later v2 servers (AUTH-8).
    four_roles: bool,
}

impl AuthLayer {
    /// A layer for a listener of this kind.
    pub fn new(mode: AuthMode) -> Self {
        Self {
            mode,
            open_monitoring: false,
            unchecked_cancel: false,
            mutant: None,
            reader_alias: false,
            four_roles: false,
        }
    }

    /// The contracts served: with v2, the OU `reader` counts as `viewer` (AUTH-6).
    pub fn contract(mut self, api: joblet_testkit::contract::Api) -> Self {
        self.reader_alias = api.serves_v2();
        self
    }

    /// QUIRK-22: when `false`, `reader` is no role even when v2 is served
    /// (call after [`contract`](Self::contract)).
    pub fn reader_alias(mut self, on: bool) -> Self {
        self.reader_alias &= on;
        self
    }

    /// The role model of TLS callers (AUTH-8 with [`RoleModel::Four`]).
    pub fn roles(mut self, model: RoleModel) -> Self {
        self.four_roles = model == RoleModel::Four;
        self
    }

    /// QUIRK-1: when on, CancelJob is not authorized (it answers UNIMPLEMENTED
    /// to every role, as on the deployed server, which has no handler for it).
    pub fn unchecked_cancel(mut self, on: bool) -> Self {
        self.unchecked_cancel = on;
        self
    }

    /// The mock's mutant, for the AUTH mutants (`--mutant`).
    pub fn mutant(mut self, mutant: Option<Mutant>) -> Self {
        self.mutant = mutant;
        self
    }

    /// QUIRK-11: when `open`, any authenticated caller, whatever its role
    /// (even `unknown`), may call the MonitoringService, as on the deployed server.
    pub fn open_monitoring(mut self, open: bool) -> Self {
        self.open_monitoring = open;
        self
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            mode: self.mode,
            open_monitoring: self.open_monitoring,
            unchecked_cancel: self.unchecked_cancel,
            mutant: self.mutant,
            reader_alias: self.reader_alias,
            four_roles: self.four_roles,
        }
    }
}

/// The service of [`AuthLayer`].
#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    mode: AuthMode,
    open_monitoring: bool,
    unchecked_cancel: bool,
    mutant: Option<Mutant>,
    reader_alias: bool,
    four_roles: bool,
}

impl<S> AuthService<S> {
    fn role_of<B>(&self, req: &http::Request<B>) -> Result<Role, Error> {
        match self.mode {
            // AUTH-1 mutant: plaintext callers are viewers.
            AuthMode::Plaintext if self.mutant == Some(Mutant::PlaintextViewer) => Ok(Role::Viewer),
            AuthMode::Plaintext => Ok(Role::Admin),
            AuthMode::Tls => req
                .extensions()
                .get::<ClientIdentity>()
                .and_then(|id| {
                    // AUTH-6: on v2, `reader` is the read-only role too.
                    id.role.map(|r| match r {
                        Role::Unknown if self.reader_alias => Role::from_ous_v2(&id.ous),
                        r => r,
                    })
                })
                // AUTH-2 mutant: a client without a certificate is admin.
                .or((self.mutant == Some(Mutant::TlsAnonymous)).then_some(Role::Admin))
                .ok_or_else(|| Error::Unauthenticated("no client certificate found".into())),
        }
    }

    /// AUTH-8: the four-role check of a TLS caller (its certificate's OUs).
    fn four_role<B>(&self, req: &http::Request<B>) -> Result<(), Error> {
        let id = req
            .extensions()
            .get::<ClientIdentity>()
            .filter(|id| id.role.is_some())
            .ok_or_else(|| Error::Unauthenticated("no client certificate found".into()))?;
        let path = req.uri().path();
        let Some((service, method)) = path
            .strip_prefix("/joblet.")
            .and_then(|p| p.split_once('/'))
        else {
            // The control API, health and reflection: as in the two-role model.
            return authorize(id.role.unwrap_or(Role::Unknown), path);
        };
        joblet_testkit::auth::four_role_check(
            joblet_testkit::auth::FourRole::from_ous(&id.ous),
            service,
            method,
        )
        .map_err(|text| {
            // AUTH-8 mutant: the refusal names the gRPC method.
            match text.rsplit_once(' ') {
                Some((head, _)) if self.mutant == Some(Mutant::FourRoleMethodNames) => {
                    Error::PermissionDenied(format!("{head} {method}"))
                }
                _ => Error::PermissionDenied(text),
            }
        })
    }

    /// AUTH-3..5 mutants: the role a refused call goes on with, when the
    /// mutant lets it through.
    fn let_through(&self, role: Role, path: &str) -> Option<Role> {
        let run_job = path == "/joblet.JobService/RunJob";
        match (self.mutant?, role) {
            // AUTH-3 mutant: a certificate without admin/viewer OU is a viewer.
            (Mutant::UnknownRoleReads, Role::Unknown) => {
                authorize(Role::Viewer, path).ok().map(|()| Role::Viewer)
            }
            // AUTH-4 mutant: the viewer may run jobs.
            (Mutant::ViewerMayRun, Role::Viewer) if run_job => Some(Role::Viewer),
            // AUTH-5 mutant: the viewer's RunJob reaches the handler, which
            // validates it before refusing it (service::job).
            (Mutant::ValidateBeforeAuth, Role::Viewer) if run_job => Some(Role::Viewer),
            // AUTH-7 mutant: the viewer may build runtimes.
            (Mutant::ViewerMayBuild, Role::Viewer)
                if path == "/joblet.RuntimeService/BuildRuntime" =>
            {
                Some(Role::Viewer)
            }
            _ => None,
        }
    }
}

impl<S, B> Service<http::Request<B>> for AuthService<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Either<Ready<Result<S::Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        if self.four_roles && self.mode == AuthMode::Tls {
            return match self.four_role(&req) {
                Ok(()) => {
                    req.extensions_mut().insert(Role::Admin);
                    Either::Right(self.inner.call(req))
                }
                Err(e) => Either::Left(ready(Ok(tonic::Status::from(e).into_http()))),
            };
        }
        let path = req.uri().path();
        let checked = self.role_of(&req).and_then(|role| {
            // QUIRK-11: the deployed server checks no role for monitoring.
            if self.open_monitoring && path.starts_with("/joblet.MonitoringService/") {
                return Ok(role);
            }
            // QUIRK-1: no handler, so no role check: UNIMPLEMENTED for all.
            if self.unchecked_cancel && path == "/joblet.JobService/CancelJob" {
                return Ok(role);
            }
            authorize(role, path)
                .map(|()| role)
                .or_else(|e| self.let_through(role, path).ok_or(e))
        });
        match checked {
            Ok(role) => {
                req.extensions_mut().insert(role);
                Either::Right(self.inner.call(req))
            }
            Err(e) => {
                tracing::debug!(path = req.uri().path(), "refused: {e}");
                Either::Left(ready(Ok(tonic::Status::from(e).into_http())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use joblet_testkit::auth::Access;

    /// Runs one request through the layer over an inner service that answers OK
    /// with the role it saw; returns (grpc-status, grpc-message).
    async fn through_layer(
        mode: AuthMode,
        path: &str,
        identity: Option<ClientIdentity>,
    ) -> (String, String) {
        use tower::ServiceExt;
        let inner = tower::service_fn(|req: http::Request<()>| async move {
            let role = req
                .extensions()
                .get::<Role>()
                .copied()
                .expect("role attached");
            let mut resp = http::Response::new(tonic::body::Body::empty());
            resp.headers_mut()
                .insert("grpc-status", "0".parse().unwrap());
            resp.headers_mut()
                .insert("grpc-message", role.as_str().parse().unwrap());
            Ok::<_, std::convert::Infallible>(resp)
        });
        let mut req = http::Request::builder().uri(path).body(()).unwrap();
        if let Some(identity) = identity {
            req.extensions_mut().insert(identity);
        }
        let resp = AuthLayer::new(mode)
            .layer(inner)
            .oneshot(req)
            .await
            .unwrap();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        (header("grpc-status"), header("grpc-message"))
    }

    #[tokio::test]
    async fn layer_answers_before_the_router() {
        let identity = |role| {
            Some(ClientIdentity {
                role,
                ous: Vec::new(),
                remote_addr: None,
            })
        };
        let run = "/joblet.JobService/RunJob";
        assert_eq!(
            through_layer(AuthMode::Plaintext, run, None).await,
            ("0".into(), "admin".into())
        );
        assert_eq!(
            through_layer(AuthMode::Tls, run, identity(Some(Role::Admin))).await,
            ("0".into(), "admin".into())
        );
        let (code, message) = through_layer(AuthMode::Tls, run, identity(Some(Role::Viewer))).await;
        assert_eq!(code, "7");
        assert!(message.contains("RunJob"), "{message}");
        // A TLS connection without a client certificate: UNAUTHENTICATED.
        let (code, message) = through_layer(AuthMode::Tls, run, identity(None)).await;
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("16", "no%20client%20certificate%20found")
        );
        let (code, _) = through_layer(AuthMode::Tls, "/grpc.health.v1.Health/Check", None).await;
        assert_eq!(code, "16");
    }

    #[test]
    fn auth_4_decisions() {
        for (service, method, access) in JOBLET_RPCS {
            let path = format!("/joblet.{service}/{method}");
            assert!(authorize(Role::Admin, &path).is_ok());
            let viewer = authorize(Role::Viewer, &path);
            match access {
                Access::Read => assert!(viewer.is_ok(), "{path}"),
                Access::Write => {
                    let e = viewer.unwrap_err();
                    assert_eq!(e.code(), tonic::Code::PermissionDenied);
                    assert_eq!(
                        e.to_string(),
                        format!("role viewer is not allowed to perform operation {method}")
                    );
                }
            }
            let e = authorize(Role::Unknown, &path).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("role unknown is not allowed to perform operation {method}")
            );
        }
        for role in [Role::Admin, Role::Viewer, Role::Unknown] {
            assert!(authorize(role, "/grpc.health.v1.Health/Check").is_ok());
            assert!(
                authorize(
                    role,
                    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
                )
                .is_ok()
            );
        }
        assert!(authorize(Role::Viewer, "/joblet.JobService/NoSuchRpc").is_err());
        assert!(authorize(Role::Admin, "/joblet.JobService/NoSuchRpc").is_ok());
    }

    #[test]
    fn the_control_api_is_admin_only() {
        let reset = "/jobletmock.v1.MockControl/Reset";
        assert!(authorize(Role::Admin, reset).is_ok());
        for role in [Role::Viewer, Role::Unknown] {
            let e = authorize(role, reset).unwrap_err();
            assert_eq!(e.code(), tonic::Code::PermissionDenied);
            assert!(e.to_string().contains("operation Reset"), "{e}");
            assert!(e.to_string().contains("admin-only"), "{e}");
        }
    }
}
