"""gRPC plumbing: the session header on every call, and mutual TLS credentials
from the mock's generated certificates."""

from __future__ import annotations

import re
from pathlib import Path

import grpc

SESSION_HEADER = "x-joblet-mock-session"
"""The metadata key that selects a mock session."""

MAX_SESSION_NAME = 128
_SESSION_NAME_RE = re.compile(r"[A-Za-z0-9\-_.:/@+]*")


def check_session_name(name: str) -> str:
    """The mock's rule for session names (`mock-server/src/session.rs`),
    checked before any call so a bad name fails where it is given."""
    if not isinstance(name, str):
        raise TypeError(f"a session name is a str, got {name!r}")
    if len(name) > MAX_SESSION_NAME:
        raise ValueError(f"session name {name!r} is longer than {MAX_SESSION_NAME} characters")
    if not _SESSION_NAME_RE.fullmatch(name):
        raise ValueError(f"session name {name!r}: use letters, digits and - _ . : / @ +")
    return name


class SessionInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds `x-joblet-mock-session: NAME` to every call of a channel."""

    def __init__(self, name: str):
        self.name = check_session_name(name)

    def _with_session(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        metadata = [(k, v) for k, v in (details.metadata or []) if k != SESSION_HEADER]
        metadata.append((SESSION_HEADER, self.name))
        return details._replace(metadata=metadata)  # type: ignore[attr-defined]

    def intercept_unary_unary(self, continuation, client_call_details, request):
        return continuation(self._with_session(client_call_details), request)

    def intercept_unary_stream(self, continuation, client_call_details, request):
        return continuation(self._with_session(client_call_details), request)

    def intercept_stream_unary(self, continuation, client_call_details, request_iterator):
        return continuation(self._with_session(client_call_details), request_iterator)

    def intercept_stream_stream(self, continuation, client_call_details, request_iterator):
        return continuation(self._with_session(client_call_details), request_iterator)


def with_session(channel: grpc.Channel, session: str) -> grpc.Channel:
    """`channel` with the session header on every call ("" or "default": the
    channel as it is, which reaches the default session)."""
    if session in ("", "default"):
        return channel
    return grpc.intercept_channel(channel, SessionInterceptor(session))


def tls_credentials(certs_dir: Path, role: str) -> grpc.ChannelCredentials:
    """Client credentials of `role` ("admin" or "viewer") from the files the
    mock writes into `--certs-dir`."""
    return grpc.ssl_channel_credentials(
        root_certificates=(certs_dir / "ca.pem").read_bytes(),
        private_key=(certs_dir / f"{role}-key.pem").read_bytes(),
        certificate_chain=(certs_dir / f"{role}.pem").read_bytes(),
    )
