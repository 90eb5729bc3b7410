"""Fixtures of the SDK 2.x suite: the published Python SDK (joblet-sdk-python
2.5.2, contract v2.5.9) against the `joblet-mock` binary, through the
project's own pytest plugin (`joblet_mock.pytest_plugin`, installed with the
joblet-mock wheel).

SDK 2.x speaks mutual TLS only: the plugin starts the mock with its TLS
listener (the default when SDK 2.x is installed) and `joblet_client` is an
SDK client with the generated admin certificate. The mock serves both
contracts on the same ports by default (`--api both`); tests that need a node
that speaks only v2 (or only v1) ask for it with the marker
(`@pytest.mark.joblet_mock(api="v2")`).

Where SDK 2.5.2 cannot read what a correct node answers (its defects, facts
§1.5), the tests use the SDK's own raw stubs (`joblet.proto.joblet_pb2_grpc`)
on a channel of the test's session, and pin the defect itself in
`test_sdk_defects.py`.

The binary is the wheel's (on PATH beside the interpreter), or
`$JOBLET_MOCK_BIN`.
"""

from __future__ import annotations

from typing import Callable, Iterator

import grpc
import pytest
from joblet import JobletClient
from joblet.proto import joblet_pb2_grpc

from helpers import stop_quietly
from joblet_mock import MockSession, sdk_major


def pytest_configure(config: pytest.Config) -> None:
    if sdk_major() != 2:
        raise pytest.UsageError(
            "sdk-tests-v2 drives joblet-sdk-python 2.x, but the installed SDK is not 2.x: "
            "pip install -r sdk-tests-v2/requirements.txt into a venv of its own"
        )


@pytest.fixture(scope="session")
def joblet_mock_options() -> dict:
    """The suite's mock: two simulated GPUs, mutual TLS (SDK 2.x needs it;
    plaintext stays on for raw channels), both contracts (the default)."""
    return {"gpus": 2, "tls": True}


@pytest.fixture
def client(joblet_client: JobletClient) -> JobletClient:
    """The SDK 2.x client of the test's session: admin over mutual TLS."""
    return joblet_client


@pytest.fixture
def channel(joblet_session: MockSession) -> Iterator[grpc.Channel]:
    """A raw plaintext channel in the test's session (every plaintext caller
    is admin), for what the SDK cannot read and the status codes it hides."""
    ch = joblet_session.channel()
    try:
        yield ch
    finally:
        ch.close()


@pytest.fixture
def job_stub(channel: grpc.Channel) -> joblet_pb2_grpc.JobServiceStub:
    return joblet_pb2_grpc.JobServiceStub(channel)


@pytest.fixture
def runtime_stub(channel: grpc.Channel) -> joblet_pb2_grpc.RuntimeServiceStub:
    return joblet_pb2_grpc.RuntimeServiceStub(channel)


@pytest.fixture
def monitoring_stub(channel: grpc.Channel) -> joblet_pb2_grpc.MonitoringServiceStub:
    return joblet_pb2_grpc.MonitoringServiceStub(channel)


@pytest.fixture
def tls_client(joblet_session: MockSession) -> Iterator[Callable[[str], JobletClient]]:
    """Factory of SDK clients over mTLS in the test's session, by role
    ("admin" or "viewer": the generated certificates)."""
    made: list[JobletClient] = []

    def make(role: str) -> JobletClient:
        c = joblet_session.client(role=role)
        made.append(c)
        return c

    try:
        yield make
    finally:
        for c in made:
            c.close()


@pytest.fixture
def cleanup_jobs(job_stub: joblet_pb2_grpc.JobServiceStub) -> Iterator[list[str]]:
    """A list the test appends job UUIDs to; each is stopped at teardown."""
    ids: list[str] = []
    yield ids
    for job_uuid in ids:
        stop_quietly(job_stub, job_uuid)
