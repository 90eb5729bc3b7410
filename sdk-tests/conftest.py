"""Fixtures of the SDK suite: the published Python SDK (joblet-sdk-python 1.1.5)
against the `joblet-mock` binary, through the project's own pytest plugin
(`joblet_mock.pytest_plugin`, installed with the joblet-mock wheel).

The plugin starts one mock per test run (per pytest-xdist worker), with the
options below, and gives each test a session of its own (`joblet_session`), so
tests that count things (ListJobs, DeleteAllJobs, GPUs) are right in any order
and in parallel. Tests that need other server options use the marker
`@pytest.mark.joblet_mock(...)`; tests that need a whole server of their own use
`joblet_mock.JobletMock` directly.

The binary is the wheel's (on PATH beside the interpreter), or
`$JOBLET_MOCK_BIN`.
"""

from __future__ import annotations

from typing import Callable, Iterator

import grpc
import pytest
from joblet import JobletClient, joblet_pb2_grpc

from helpers import stop_quietly
from joblet_mock import MockSession


@pytest.fixture(scope="session")
def joblet_mock_options() -> dict:
    """The suite's mock: two simulated GPUs, plaintext and mutual TLS."""
    return {"gpus": 2, "tls": True}


@pytest.fixture
def client(joblet_client: JobletClient) -> JobletClient:
    """The SDK client of the test's session, over plaintext."""
    return joblet_client


@pytest.fixture
def channel(joblet_session: MockSession) -> Iterator[grpc.Channel]:
    """A raw plaintext channel in the test's session, for status codes the SDK hides."""
    ch = joblet_session.channel()
    try:
        yield ch
    finally:
        ch.close()


@pytest.fixture
def job_stub(channel: grpc.Channel) -> joblet_pb2_grpc.JobServiceStub:
    return joblet_pb2_grpc.JobServiceStub(channel)


@pytest.fixture
def network_stub(channel: grpc.Channel) -> joblet_pb2_grpc.NetworkServiceStub:
    return joblet_pb2_grpc.NetworkServiceStub(channel)


@pytest.fixture
def volume_stub(channel: grpc.Channel) -> joblet_pb2_grpc.VolumeServiceStub:
    return joblet_pb2_grpc.VolumeServiceStub(channel)


@pytest.fixture
def monitoring_stub(channel: grpc.Channel) -> joblet_pb2_grpc.MonitoringServiceStub:
    return joblet_pb2_grpc.MonitoringServiceStub(channel)


@pytest.fixture
def runtime_stub(channel: grpc.Channel) -> joblet_pb2_grpc.RuntimeServiceStub:
    return joblet_pb2_grpc.RuntimeServiceStub(channel)


@pytest.fixture
def tls_client(joblet_session: MockSession) -> Iterator[Callable[[str], JobletClient]]:
    """Factory of SDK clients over mTLS in the test's session, by role
    ("admin": rnx-config.yml node `default`, or "viewer")."""
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
def cleanup_jobs(client: JobletClient) -> Iterator[list[str]]:
    """A list the test appends job UUIDs to; each is stopped/canceled at teardown."""
    ids: list[str] = []
    yield ids
    for job_uuid in ids:
        stop_quietly(client, job_uuid)
