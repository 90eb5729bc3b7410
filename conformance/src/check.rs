//! Verdicts and the assertions cases make: each failure says what was expected,
//! what came back, and which call.

use std::fmt;

use tonic::{Code, Status};

/// Why a case did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseError {
    /// The target answered differently from the behaviour.
    Fail(Failure),
    /// The case could not run here (missing identity, opt-in not given, the
    /// node lacks a feature the case needs).
    Skip(String),
    /// A harness or connection problem: not a verdict on the target's behaviour.
    Error(String),
}

/// A behaviour the target did not show.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Failure {
    /// The call that showed it (`StopJob{uuid: 3f2a…}` or `GetJobLogs stream`).
    pub call: String,
    /// What the behaviour requires.
    pub expected: String,
    /// What came back.
    pub got: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: expected {}, got {}",
            self.call, self.expected, self.got
        )
    }
}

impl fmt::Display for CaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaseError::Fail(failure) => failure.fmt(f),
            CaseError::Skip(reason) => write!(f, "skipped: {reason}"),
            CaseError::Error(reason) => write!(f, "error: {reason}"),
        }
    }
}

/// What a case returns.
pub type CaseResult<T = ()> = Result<T, CaseError>;

/// A failure of `call`.
pub fn fail(
    call: impl Into<String>,
    expected: impl Into<String>,
    got: impl Into<String>,
) -> CaseError {
    CaseError::Fail(Failure {
        call: call.into(),
        expected: expected.into(),
        got: got.into(),
    })
}

/// A skip with a reason.
pub fn skip(reason: impl Into<String>) -> CaseError {
    CaseError::Skip(reason.into())
}

/// Fails with `expected`/`got` unless `cond` holds.
pub fn ensure(
    cond: bool,
    call: &str,
    expected: impl fmt::Display,
    got: impl fmt::Display,
) -> CaseResult {
    if cond {
        Ok(())
    } else {
        Err(fail(call, expected.to_string(), got.to_string()))
    }
}

/// Fails unless `got == expected`; `what` names the field.
pub fn ensure_eq<T: PartialEq + fmt::Debug + ?Sized>(
    call: &str,
    what: &str,
    expected: &T,
    got: &T,
) -> CaseResult {
    if expected == got {
        Ok(())
    } else {
        Err(fail(
            call,
            format!("{what} = {expected:?}"),
            format!("{what} = {got:?}"),
        ))
    }
}

/// A status as a report shows it: `NOT_FOUND "job not found"`.
pub fn show_status(status: &Status) -> String {
    let msg = status.message();
    let msg = if msg.len() > 300 {
        let mut end = 300;
        while !msg.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &msg[..end])
    } else {
        msg.to_owned()
    };
    format!("{} {msg:?}", code_name(status.code()))
}

/// The canonical upper-case name of a gRPC code (`FAILED_PRECONDITION`).
pub use joblet_testkit::code_name;

/// Whether a status is a transport problem (no answer from the server's
/// handlers) rather than an answer: such calls make the case an Error.
pub fn is_transport(status: &Status) -> bool {
    crate::conn::is_transport_status(status)
}

/// The verdict on a call that had to succeed but answered `status`: a
/// transport problem is an Error, anything else a Fail.
pub fn unexpected(call: &str, status: &Status) -> CaseError {
    if is_transport(status) {
        CaseError::Error(format!(
            "{call}: no answer from the target: {}",
            show_status(status)
        ))
    } else {
        fail(call, "OK", show_status(status))
    }
}

/// The answer of a call that must succeed; a transport problem is an Error.
pub fn ok<T>(call: &str, result: Result<T, Status>) -> CaseResult<T> {
    result.map_err(|s| unexpected(call, &s))
}

/// The status of a call that must fail with `code`; its message is returned
/// for further checks.
pub fn code<T: fmt::Debug>(
    call: &str,
    result: Result<T, Status>,
    code: Code,
) -> CaseResult<Status> {
    match result {
        Ok(v) => {
            let shown = format!("{v:?}");
            let shown = if shown.len() > 200 {
                let mut end = 200;
                while !shown.is_char_boundary(end) {
                    end -= 1;
                }
                format!("{}…", &shown[..end])
            } else {
                shown
            };
            Err(fail(call, code_name(code), format!("OK {shown}")))
        }
        Err(s) if s.code() == code => Ok(s),
        Err(s) if is_transport(&s) => Err(CaseError::Error(format!(
            "{call}: no answer from the target: {}",
            show_status(&s)
        ))),
        Err(s) => Err(fail(call, code_name(code), show_status(&s))),
    }
}

/// Like [`code`], and the message must contain one of `fragments`
/// (case-insensitive): the field or reason it names.
pub fn code_naming<T: fmt::Debug>(
    call: &str,
    result: Result<T, Status>,
    want: Code,
    fragments: &[&str],
) -> CaseResult<Status> {
    let status = code(call, result, want)?;
    let msg = status.message().to_ascii_lowercase();
    if fragments
        .iter()
        .any(|f| msg.contains(&f.to_ascii_lowercase()))
    {
        Ok(status)
    } else {
        Err(fail(
            call,
            format!(
                "{} with a message naming {}",
                code_name(want),
                fragments
                    .iter()
                    .map(|f| format!("{f:?}"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
            show_status(&status),
        ))
    }
}

/// Shortens a byte string for a report: the first and last bytes and the length.
pub fn show_bytes(bytes: &[u8]) -> String {
    if bytes.len() <= 80 {
        format!(
            "{:?} ({} bytes)",
            String::from_utf8_lossy(bytes),
            bytes.len()
        )
    } else {
        format!(
            "{:?}…{:?} ({} bytes)",
            String::from_utf8_lossy(&bytes[..40]),
            String::from_utf8_lossy(&bytes[bytes.len() - 30..]),
            bytes.len()
        )
    }
}

/// Compares a log with what it must be, byte for byte: the first difference
/// (missing, repeated or reordered bytes) is named.
pub fn ensure_bytes(call: &str, expected: &[u8], got: &[u8]) -> CaseResult {
    if expected == got {
        return Ok(());
    }
    let first = expected
        .iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .unwrap_or(expected.len().min(got.len()));
    let context = |b: &[u8]| {
        let end = (first + 40).min(b.len());
        String::from_utf8_lossy(&b[first.min(b.len())..end]).into_owned()
    };
    Err(fail(
        call,
        format!(
            "{} bytes, in order, once ({})",
            expected.len(),
            show_bytes(expected)
        ),
        format!(
            "{} bytes, first difference at byte {first}: expected {:?}, got {:?}",
            got.len(),
            context(expected),
            context(got)
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_passes_the_expected_code_and_fails_others() {
        let r: Result<(), Status> = Err(Status::not_found("job not found"));
        assert!(code("GetJobStatus", r, Code::NotFound).is_ok());
        let r: Result<(), Status> = Err(Status::internal("job stop failed: job not found"));
        let err = code("StopJob", r, Code::NotFound).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("StopJob")
                && text.contains("expected NOT_FOUND")
                && text.contains("INTERNAL"),
            "{text}"
        );
        let r: Result<u32, Status> = Ok(7);
        assert!(matches!(
            code("X", r, Code::NotFound),
            Err(CaseError::Fail(_))
        ));
    }

    #[test]
    fn transport_problems_are_errors_not_failures() {
        let r: Result<(), Status> = Err(Status::unavailable("transport error: connection refused"));
        assert!(matches!(ok("ListJobs", r), Err(CaseError::Error(_))));
        let r: Result<(), Status> = Err(Status::unavailable("node busy"));
        assert!(matches!(ok("ListJobs", r), Err(CaseError::Fail(_))));
    }

    #[test]
    fn message_must_name_the_field() {
        let r: Result<(), Status> = Err(Status::invalid_argument("maxCpu must not be negative"));
        assert!(code_naming("RunJob", r, Code::InvalidArgument, &["maxcpu", "max_cpu"]).is_ok());
        let r: Result<(), Status> = Err(Status::invalid_argument("bad request"));
        assert!(code_naming("RunJob", r, Code::InvalidArgument, &["maxcpu"]).is_err());
    }

    #[test]
    fn byte_comparison_names_the_first_difference() {
        assert!(ensure_bytes("GetJobLogs", b"1\n2\n3\n", b"1\n2\n3\n").is_ok());
        let err = ensure_bytes("GetJobLogs", b"1\n2\n3\n", b"1\n3\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("first difference at byte 2"), "{err}");
        let err = ensure_bytes("GetJobLogs", b"ab", b"abab")
            .unwrap_err()
            .to_string();
        assert!(err.contains("4 bytes"), "{err}");
    }
}
