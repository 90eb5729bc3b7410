//! The kinds of the explorer's operations beyond the admin's plain calls:
//! the identities a call may be made as ([`Who`]), runtime installs and
//! removals ([`RtOp`]), an install resolved ([`Install`]) and its answer
//! ([`Installed`]). Made by `admin`, judged by
//! `admin_model`.

use std::fmt;

use tonic::Code;

/// How an install stream ended within the explorer's deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallEnd {
    /// With OK.
    Ok,
    /// With an error status.
    Error(Code, String),
    /// Still open at the deadline.
    Open,
}

/// Who makes a call that is not the admin's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// A certificate with OU viewer (AUTH-4, AUTH-5).
    Viewer,
    /// A CA-signed certificate with no role (AUTH-3).
    NoRole,
    /// A TLS client that presents no certificate (AUTH-2).
    Anonymous,
    /// A plaintext client, which is the admin (AUTH-1), when the admin
    /// speaks TLS.
    Plaintext,
    /// A certificate with OU reader: the viewer on a node that speaks v2
    /// (AUTH-6), no role on one of v1 alone (AUTH-3).
    Reader,
}

impl Who {
    /// How a report names it.
    pub fn name(self) -> &'static str {
        match self {
            Who::Viewer => "the viewer",
            Who::NoRole => "a certificate without a role",
            Who::Anonymous => "a TLS client without a certificate",
            Who::Plaintext => "a plaintext client",
            Who::Reader => "the reader",
        }
    }
}

/// A runtime install or removal, before its names are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtOp {
    /// InstallRuntimeFromLocal (or its streaming form) of one of the run's
    /// runtimes.
    Install {
        /// Which of the run's runtimes (`r<k>`).
        k: u8,
        /// The run's installed runtime instead, when it has one.
        mine: bool,
        /// StreamingInstallRuntimeFromLocal.
        stream: bool,
        /// forceReinstall.
        force: bool,
        /// An empty runtimeSpec (INVALID_ARGUMENT).
        empty: bool,
    },
    /// RemoveRuntime of one of the run's runtimes.
    Remove {
        /// Which of the run's runtimes (`r<k>`).
        k: u8,
        /// The run's installed runtime instead, when it has one.
        mine: bool,
        /// A runtime no one installed.
        unknown: bool,
    },
}

/// An install, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Install {
    /// runtimeSpec.
    pub spec: String,
    /// The name it installs as (the spec with `-` for its first `:`).
    pub name: String,
    /// forceReinstall.
    pub force: bool,
    /// The streaming form.
    pub stream: bool,
}

impl fmt::Display for Install {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.stream {
            write!(f, "Streaming")?;
        }
        write!(f, "InstallRuntimeFromLocal{{runtimeSpec: {:?}", self.spec)?;
        if self.force {
            write!(f, ", forceReinstall: true")?;
        }
        write!(f, "}}")
    }
}

/// An install's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installed {
    /// The unary answer: runtimeSpec, status, message.
    Unary(String, String, String),
    /// The stream: progress and log chunks before the first result, the
    /// results (success, message), chunks after the first result, and how
    /// the stream ended.
    Stream {
        /// Progress and log chunks before the first result.
        before: usize,
        /// Every result chunk: success, message.
        results: Vec<(bool, String)>,
        /// Chunks after the first result.
        after: usize,
        /// How it ended.
        end: InstallEnd,
    },
}

impl fmt::Display for Installed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Installed::Unary(spec, status, message) => write!(
                f,
                "OK {{runtimeSpec {spec:?}, status {status:?}, message {message:?}}}"
            ),
            Installed::Stream {
                before,
                results,
                after,
                end,
            } => {
                write!(
                    f,
                    "{before} progress/log chunk(s), {} result chunk(s) {results:?}, {after} chunk(s) after the result, then ",
                    results.len()
                )?;
                match end {
                    InstallEnd::Ok => write!(f, "OK"),
                    InstallEnd::Error(c, m) => write!(f, "{} {m:?}", joblet_testkit::code_name(*c)),
                    InstallEnd::Open => write!(f, "still open"),
                }
            }
        }
    }
}
