"""Sessions, the virtual clock and the server-v1 profile as the published SDK
sees them.

The SDK (1.1.5) sends no metadata of its own; a session is selected by wrapping
its channel with a gRPC interceptor that adds `x-joblet-mock-session`, and
building the SDK's services on that channel.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import grpc
import pytest
from joblet.exceptions import JobletException
from joblet.services import JobService

from conftest import MockServer
from helpers import wait_for_status

SESSION_HEADER = "x-joblet-mock-session"


class _Session(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Adds the session header to every call."""

    def __init__(self, name: str):
        self.name = name

    def _with_session(self, details):
        metadata = list(details.metadata or []) + [(SESSION_HEADER, self.name)]
        return details._replace(metadata=metadata)

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._with_session(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._with_session(details), request)


def session_jobs(server: MockServer, name: str) -> JobService:
    """The SDK's JobService in session `name`."""
    channel = grpc.intercept_channel(server.channel(), _Session(name))
    return JobService(channel)


def test_two_sessions_are_isolated(mock_with):
    server = mock_with()
    a, b = session_jobs(server, "team-a"), session_jobs(server, "team-b")
    job_a = a.run_job(command="echo", args=["from a"])
    job_b = b.run_job(command="echo", args=["from b"])
    assert [j["uuid"] for j in a.list_jobs()] == [job_a["job_uuid"]]
    assert [j["uuid"] for j in b.list_jobs()] == [job_b["job_uuid"]]
    with server.client() as default:
        assert default.jobs.list_jobs() == []
    with pytest.raises(JobletException):
        b.get_job_status(job_a["job_uuid"])


def test_virtual_clock_runs_an_hour_ahead_schedule_at_once(mock_with):
    server = mock_with("--clock", "virtual")
    with server.client() as client:
        due = (datetime.now().astimezone() + timedelta(hours=1)).replace(microsecond=0)
        started = time.monotonic()
        job = client.jobs.run_job(
            command="sh", args=["-c", "sleep 600; echo done"], schedule=due.isoformat()
        )
        status = wait_for_status(client, job["job_uuid"], "COMPLETED", timeout=10)
        wall = time.monotonic() - started
        end = datetime.fromisoformat(status["end_time"])
        scheduled = datetime.fromisoformat(status["scheduled_time"])
        # 1 h 10 min of virtual time passed; the reported times follow it.
        assert scheduled == due
        assert end - scheduled == timedelta(seconds=600)
        assert wall < 10


def test_server_v1_profile_shows_its_quirks(mock_with):
    server = mock_with("--profile", "server-v1")
    with server.client() as client:
        job = client.jobs.run_job(
            command="echo", args=["hi"], secret_environment={"TOKEN": "s3cret"}
        )
        # QUIRK-3: RunJob answers only the UUID and the status.
        assert job["command"] == ""
        # QUIRK-4: ListJobs shows the secret value.
        listed = [j for j in client.jobs.list_jobs() if j["uuid"] == job["job_uuid"]]
        assert listed[0]["secret_environment"] == {"TOKEN": "s3cret"}
        # QUIRK-1: CancelJob is not implemented.
        with pytest.raises(JobletException):
            client.jobs.cancel_job(job["job_uuid"])
