//! gRPC status codes by name, both ways.

use tonic::Code;

/// The canonical upper-case name of a gRPC status code, as the gRPC spec and
/// the Joblet docs spell it (`"OK"`, `"FAILED_PRECONDITION"`). The mock's
/// journal, the conformance suite's messages and the load generator's
/// `errors_by_code` all use it.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The code a name or number stands for: `NOT_FOUND`, `not-found` or `5`
/// (ASCII case-insensitive, `-` for `_`); `None` for anything else. The
/// inverse of [`code_name`], as transcripts and fault rules write codes.
pub fn parse_code(s: &str) -> Option<Code> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i32>() {
        return (0..=16).contains(&n).then(|| Code::from_i32(n));
    }
    let wanted = s.to_ascii_uppercase().replace('-', "_");
    (0..=16)
        .map(Code::from_i32)
        .find(|c| code_name(*c) == wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        for i in 0..=16 {
            let code = Code::from_i32(i);
            assert_eq!(parse_code(code_name(code)), Some(code));
            assert_eq!(parse_code(&i.to_string()), Some(code));
        }
        assert_eq!(parse_code(" not-found "), Some(Code::NotFound));
        assert_eq!(parse_code("17"), None);
        assert_eq!(parse_code("NOPE"), None);
        assert_eq!(parse_code(""), None);
    }

    #[test]
    fn every_code_has_its_spec_name() {
        // The numeric codes 0..=16 of the gRPC spec, in order.
        let names: Vec<&str> = (0..=16).map(|i| code_name(Code::from_i32(i))).collect();
        assert_eq!(
            names,
            [
                "OK",
                "CANCELLED",
                "UNKNOWN",
                "INVALID_ARGUMENT",
                "DEADLINE_EXCEEDED",
                "NOT_FOUND",
                "ALREADY_EXISTS",
                "PERMISSION_DENIED",
                "RESOURCE_EXHAUSTED",
                "FAILED_PRECONDITION",
                "ABORTED",
                "OUT_OF_RANGE",
                "UNIMPLEMENTED",
                "INTERNAL",
                "UNAVAILABLE",
                "DATA_LOSS",
                "UNAUTHENTICATED",
            ]
        );
    }
}
