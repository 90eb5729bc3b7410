//! Domain errors of the mock and their gRPC status codes (ALL-4).
//!
//! Handlers return [`Error`] and convert it to [`tonic::Status`] at the boundary.

/// A request the mock refuses, with the gRPC code it maps to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A request field is invalid: `INVALID_ARGUMENT`, the message names the field.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    /// A bad request whose message is the whole text, in a real node's
    /// wording (which names the field): `INVALID_ARGUMENT`.
    #[error("{0}")]
    InvalidText(String),
    /// A required request field is empty: `INVALID_ARGUMENT "<field> is
    /// required"` (the v2 server's wording, e.g. `job_uuid is required`).
    #[error("{0} is required")]
    Required(&'static str),
    /// The target resource does not exist: `NOT_FOUND`.
    #[error("{0}")]
    NotFound(String),
    /// The resource is in the wrong state: `FAILED_PRECONDITION`.
    #[error("{0}")]
    FailedPrecondition(String),
    /// A resource with that name exists: `ALREADY_EXISTS`.
    #[error("{0}")]
    AlreadyExists(String),
    /// Not enough free capacity right now: `RESOURCE_EXHAUSTED`.
    #[error("{0}")]
    ResourceExhausted(String),
    /// The caller's role may not call this: `PERMISSION_DENIED`.
    #[error("{0}")]
    PermissionDenied(String),
    /// No usable client identity: `UNAUTHENTICATED`.
    #[error("{0}")]
    Unauthenticated(String),
    /// Not built (yet) in this mock: `UNIMPLEMENTED`.
    #[error("{0}")]
    Unimplemented(String),
    /// A failure the deployed server reports as `INTERNAL` (QUIRK-2 only:
    /// the documented profile never answers INTERNAL for a client mistake).
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// `INVALID_ARGUMENT` naming `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The gRPC code of this error.
    pub fn code(&self) -> tonic::Code {
        match self {
            Self::Invalid { .. } | Self::InvalidText(_) | Self::Required(_) => {
                tonic::Code::InvalidArgument
            }
            Self::NotFound(_) => tonic::Code::NotFound,
            Self::FailedPrecondition(_) => tonic::Code::FailedPrecondition,
            Self::AlreadyExists(_) => tonic::Code::AlreadyExists,
            Self::ResourceExhausted(_) => tonic::Code::ResourceExhausted,
            Self::PermissionDenied(_) => tonic::Code::PermissionDenied,
            Self::Unauthenticated(_) => tonic::Code::Unauthenticated,
            Self::Unimplemented(_) => tonic::Code::Unimplemented,
            Self::Internal(_) => tonic::Code::Internal,
        }
    }

    /// QUIRK-2: `INTERNAL "<prefix>: <cause>"`, as the deployed server wraps
    /// its core's failures (`quirk_internal("job stop failed", e)`).
    pub fn quirk_internal(prefix: &str, cause: impl std::fmt::Display) -> Self {
        Self::Internal(format!("{prefix}: {cause}"))
    }

    /// QUIRK-2: this error as [`quirk_internal`](Self::quirk_internal) when `on`
    /// (`shared.quirk(Quirk::InternalErrors)`), else unchanged.
    pub fn internal_if(self, on: bool, prefix: &str) -> Self {
        if on {
            Self::quirk_internal(prefix, self)
        } else {
            self
        }
    }
}

impl From<Error> for tonic::Status {
    fn from(e: Error) -> Self {
        tonic::Status::new(e.code(), e.to_string())
    }
}

/// Result of the mock's domain operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_names_the_field() {
        let s: tonic::Status = Error::invalid("maxCpu", "must not be negative").into();
        assert_eq!(s.code(), tonic::Code::InvalidArgument);
        assert_eq!(s.message(), "maxCpu: must not be negative");
        let s: tonic::Status = Error::Required("job_uuid").into();
        assert_eq!(s.code(), tonic::Code::InvalidArgument);
        assert_eq!(s.message(), "job_uuid is required");
    }
}
