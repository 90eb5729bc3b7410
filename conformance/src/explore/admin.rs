//! The explorer's other identities and its runtime installs: operations sent
//! as the viewer, as a certificate without a role, or over TLS without a
//! client certificate (AUTH-2..AUTH-5), and installs and removals of the
//! run's own runtimes (RT-INSTALL-1..3, RT-RM-1), which change the node
//! beyond the run's prefix and so run only when allowed ([`Admin::installs`]).
//! The model's side of them is in [`super::admin_model`].

use std::time::Duration;

use joblet_testkit::pb;
use joblet_testkit::pb::runtime_installation_chunk::ChunkType;
use joblet_testkit::pb::runtime_service_client::RuntimeServiceClient;
use tokio_stream::StreamExt;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use super::call::{Answer, Call};
use super::exec::{self, Clients};
use super::identity::{Install, InstallEnd, Installed, RtOp, Who};
use super::ops::{self, Names, Op};
use crate::ctx::Targets;

/// Longest an install (unary, or a stream to its end) may take.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The identities and opt-ins of an exploration beyond the admin's channel.
#[derive(Debug, Clone, Default)]
pub struct Admin {
    /// The viewer's channel.
    pub viewer: Option<Channel>,
    /// A channel of a certificate without a role.
    pub no_role: Option<Channel>,
    /// A TLS endpoint that presents no client certificate.
    pub anonymous: Option<Endpoint>,
    /// A plaintext channel to the same node, when the admin speaks TLS.
    pub plaintext: Option<Channel>,
    /// A channel of a certificate whose OU is `reader` (AUTH-6).
    pub reader: Option<Channel>,
    /// Runtime installs and removals of the run's own runtimes are allowed.
    pub installs: bool,
}

impl Admin {
    /// The viewer and no-role identities of `targets` connected, the
    /// anonymous endpoint made from the first TLS identity.
    pub async fn connect(targets: &Targets, installs: bool) -> Result<Self, joblet_testkit::Error> {
        let viewer = match &targets.viewer {
            Some(t) => Some(t.connect().await?),
            None => None,
        };
        let no_role = match &targets.no_role {
            Some(t) => Some(t.connect().await?),
            None => None,
        };
        let reader = match &targets.reader {
            Some(t) => Some(t.connect().await?),
            None => None,
        };
        let tls = [
            Some(&targets.main),
            targets.viewer.as_ref(),
            targets.no_role.as_ref(),
        ]
        .into_iter()
        .flatten()
        .find(|t| t.tls.is_some());
        let anonymous = match tls {
            Some(t) => t.endpoint_without_client_cert()?,
            None => None,
        };
        Ok(Self {
            viewer,
            no_role,
            anonymous,
            plaintext: None,
            reader,
            installs,
        })
    }

    /// What this exploration covers beyond the admin, for its banner.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.viewer.is_some() {
            parts.push("viewer");
        }
        if self.no_role.is_some() {
            parts.push("no-role");
        }
        if self.anonymous.is_some() {
            parts.push("TLS without a certificate");
        }
        if self.plaintext.is_some() {
            parts.push("plaintext");
        }
        if self.reader.is_some() {
            parts.push("reader");
        }
        if self.installs {
            parts.push("runtime installs");
        }
        if parts.is_empty() {
            "admin only".into()
        } else {
            format!("admin, {}", parts.join(", "))
        }
    }
}

/// The spec of the run's runtime `k` (`python:3.11-cf-<run>-s<n>-r<k>`).
pub fn spec_of(prefix: &str, k: u8) -> String {
    format!("python:3.11-{prefix}r{k}")
}

/// The name a spec installs as.
pub fn name_of(spec: &str) -> String {
    spec.replacen(':', "-", 1)
}

/// Whether `name` is a runtime of some explorer run (another sequence's,
/// which may come and go while this one runs).
pub fn explorers(name: &str) -> bool {
    name.contains("-cf-")
}

fn own_runtime(names: &Names<'_>, k: u8, mine: bool) -> String {
    let installed = names
        .model
        .runtimes
        .iter()
        .rfind(|n| n.contains(names.prefix) && !super::v2ops::is_built(n));
    match installed {
        Some(n) if mine => n.clone(),
        _ => name_of(&spec_of(names.prefix, k)),
    }
}

/// The call `op` makes now: the admin's operations as [`ops::resolve`]
/// makes them; `None` when it names nothing or its identity or opt-in is
/// missing.
pub fn resolve(op: &Op, names: &Names<'_>, admin: &Admin) -> Option<Call> {
    match op {
        Op::As(who, inner) => {
            let present = match who {
                Who::Viewer => admin.viewer.is_some(),
                Who::NoRole => admin.no_role.is_some(),
                Who::Anonymous => admin.anonymous.is_some(),
                Who::Plaintext => admin.plaintext.is_some(),
                Who::Reader => admin.reader.is_some(),
            };
            if !present {
                return None;
            }
            let call = resolve(inner, names, admin)?;
            Some(Call::As(*who, Box::new(call)))
        }
        Op::V2(v) => {
            super::v2ops::resolve(v, names.model, names.prefix, admin.installs, names.local)
        }
        Op::Runtime(_) if !admin.installs => None,
        Op::Runtime(RtOp::Install {
            k,
            mine,
            stream,
            force,
            empty,
        }) => {
            let name = own_runtime(names, *k, *mine);
            let spec = if *empty {
                String::new()
            } else {
                name.replacen('-', ":", 1)
            };
            Some(Call::Install(Install {
                name: name_of(&spec),
                spec,
                force: *force,
                stream: *stream,
            }))
        }
        Op::Runtime(RtOp::Remove { k, mine, unknown }) => Some(Call::RemoveRuntime(if *unknown {
            format!("{}none-1.0", names.prefix)
        } else {
            own_runtime(names, *k, *mine)
        })),
        other => ops::resolve(other, names),
    }
}

/// The files of the small runtime the explorer installs as `name`.
fn files(name: &str) -> Vec<pb::RuntimeFile> {
    vec![
        pb::RuntimeFile {
            path: "runtime.yml".into(),
            content: format!(
                "name: {name}\nlanguage: python\nversion: \"3.11\"\ndescription: joblet-conformance explore (removed at the end)\n"
            )
            .into_bytes(),
            executable: false,
        },
        pb::RuntimeFile {
            path: "setup.sh".into(),
            content: b"#!/bin/sh\necho joblet-conformance explore runtime\n".to_vec(),
            executable: true,
        },
    ]
}

fn error(s: &Status) -> Answer {
    Answer::Error(s.code(), s.message().to_owned())
}

async fn install(main: &Channel, i: &Install) -> Answer {
    let mut rts = RuntimeServiceClient::new(main.clone());
    let req = pb::InstallRuntimeFromLocalRequest {
        runtime_spec: i.spec.clone(),
        files: files(&i.name),
        force_reinstall: i.force,
    };
    if !i.stream {
        return match tokio::time::timeout(INSTALL_TIMEOUT, rts.install_runtime_from_local(req))
            .await
        {
            Ok(Ok(r)) => {
                let r = r.into_inner();
                Answer::Installed(Installed::Unary(r.runtime_spec, r.status, r.message))
            }
            Ok(Err(s)) => error(&s),
            Err(_) => Answer::Error(
                Code::DeadlineExceeded,
                "no answer within 30 s (explorer)".into(),
            ),
        };
    }
    let mut stream = match rts.streaming_install_runtime_from_local(req).await {
        Ok(s) => s.into_inner(),
        Err(s) => return error(&s),
    };
    let (mut before, mut results, mut after) = (0, Vec::new(), 0);
    let read = async {
        while let Some(item) = stream.next().await {
            match item {
                Ok(chunk) => match chunk.chunk_type {
                    Some(ChunkType::Result(r)) => results.push((r.success, r.message)),
                    _ if results.is_empty() => before += 1,
                    _ => after += 1,
                },
                Err(s) => return InstallEnd::Error(s.code(), s.message().to_owned()),
            }
        }
        InstallEnd::Ok
    };
    let end = tokio::time::timeout(INSTALL_TIMEOUT, read)
        .await
        .unwrap_or(InstallEnd::Open);
    Answer::Installed(Installed::Stream {
        before,
        results,
        after,
        end,
    })
}

/// RemoveRuntime of `name` over `channel`: success and message.
pub async fn remove_runtime(channel: &Channel, name: &str) -> Result<(bool, String), Status> {
    let mut client = RuntimeServiceClient::new(channel.clone());
    let call = client.remove_runtime(pb::RuntimeRemoveReq {
        runtime: name.to_owned(),
    });
    match tokio::time::timeout(Duration::from_secs(30), call).await {
        Ok(r) => r.map(|r| {
            let r = r.into_inner();
            (r.success, r.message)
        }),
        Err(_) => Err(Status::deadline_exceeded(
            "no answer within 30 s (explorer)",
        )),
    }
}

/// Makes `call`: as its identity, an install or a removal over `main`, or
/// the admin's call over `clients` ([`exec::execute`]).
pub async fn execute(
    admin: &Admin,
    clients: &Clients,
    main: &Channel,
    call: &Call,
    own: &[String],
    prefix: &str,
) -> Answer {
    match call {
        Call::As(who, inner) => {
            let channel = match who {
                Who::Viewer => admin.viewer.clone(),
                Who::NoRole => admin.no_role.clone(),
                Who::Plaintext => admin.plaintext.clone(),
                Who::Reader => admin.reader.clone(),
                Who::Anonymous => match &admin.anonymous {
                    // A fresh connection each time: the handshake is what
                    // AUTH-2 is about.
                    Some(e) => {
                        match tokio::time::timeout(Duration::from_secs(5), e.connect()).await {
                            Ok(Ok(c)) => Some(c),
                            Ok(Err(e)) => {
                                return Answer::Error(
                                    Code::Unavailable,
                                    format!("the TLS handshake failed: {e} (explorer)"),
                                );
                            }
                            Err(_) => {
                                return Answer::Error(
                                    Code::Unavailable,
                                    "no TLS handshake within 5 s (explorer)".into(),
                                );
                            }
                        }
                    }
                    None => None,
                },
            };
            match channel {
                Some(c) => Box::pin(exec::execute(&Clients::new(&c), inner, own, prefix)).await,
                None => Answer::Nothing,
            }
        }
        Call::Install(i) => install(main, i).await,
        Call::RemoveRuntime(name) => match remove_runtime(main, name).await {
            Ok((success, message)) => Answer::Removed(success, message),
            Err(s) => error(&s),
        },
        other => exec::execute(clients, other, own, prefix).await,
    }
}
