"""Sessions, the virtual clock and the server-v1 profile as the published SDK
sees them.

The SDK (1.1.5) sends no metadata of its own; `joblet_mock` wraps its channel
with a gRPC interceptor that adds `x-joblet-mock-session` (`MockSession.client`).
The clock and the profile are server options: the plugin's marker starts a mock
with them (shared by the tests that ask for the same ones).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from joblet.exceptions import JobletException

from helpers import read_logs, wait_for_status
from joblet_mock import JobletMock, MockSession


def test_two_sessions_are_isolated():
    # A mock of its own: the default session must be untouched by anyone else.
    with JobletMock() as server, server.session("team-a") as a, server.session("team-b") as b:
        with a.client() as ca, b.client() as cb, server.client() as default:
            job_a = ca.jobs.run_job(command="echo", args=["from a"])
            job_b = cb.jobs.run_job(command="echo", args=["from b"])
            assert [j["uuid"] for j in ca.jobs.list_jobs()] == [job_a["job_uuid"]]
            assert [j["uuid"] for j in cb.jobs.list_jobs()] == [job_b["job_uuid"]]
            assert default.jobs.list_jobs() == []
            with pytest.raises(JobletException):
                cb.jobs.get_job_status(job_a["job_uuid"])
        assert {s.name: s.jobs for s in server.sessions()} == {"default": 0, "team-a": 1, "team-b": 1}


def test_each_test_has_a_session_of_its_own(client, joblet_session: MockSession, joblet_mock):
    job = client.jobs.run_job(command="echo", args=["mine"])
    assert [j["uuid"] for j in client.jobs.list_jobs()] == [job["job_uuid"]]
    assert joblet_session.calls()[0].session == joblet_session.name
    with joblet_mock.client() as default:
        assert job["job_uuid"] not in {j["uuid"] for j in default.jobs.list_jobs()}


@pytest.mark.joblet_mock(clock="virtual")
def test_virtual_clock_runs_an_hour_ahead_schedule_at_once(client):
    due = (datetime.now().astimezone() + timedelta(hours=1)).replace(microsecond=0)
    started = time.monotonic()
    job = client.jobs.run_job(command="sh", args=["-c", "sleep 600; echo done"], schedule=due.isoformat())
    status = wait_for_status(client, job["job_uuid"], "COMPLETED", timeout=10)
    wall = time.monotonic() - started
    end = datetime.fromisoformat(status["end_time"])
    scheduled = datetime.fromisoformat(status["scheduled_time"])
    # 1 h 10 min of virtual time passed; the reported times follow it.
    assert scheduled == due
    assert end - scheduled == timedelta(seconds=600)
    assert wall < 10


@pytest.mark.joblet_mock(clock="manual")
def test_manual_clock_moves_only_when_advanced(client, joblet_session: MockSession):
    now = joblet_session.clock().now
    due = now.replace(microsecond=0) + timedelta(minutes=30)
    job = client.jobs.run_job(command="echo", args=["at half past"], schedule=due.isoformat())
    assert job["status"] == "SCHEDULED"
    assert joblet_session.advance_clock("29m").pending_timers >= 1
    assert client.jobs.get_job_status(job["job_uuid"])["status"] == "SCHEDULED"
    joblet_session.advance_clock(timedelta(minutes=1))
    status = wait_for_status(client, job["job_uuid"], "COMPLETED", timeout=10)
    assert datetime.fromisoformat(status["scheduled_time"]) == due
    assert datetime.fromisoformat(status["end_time"]) >= due
    assert read_logs(client, job["job_uuid"]) == b"at half past\n"


@pytest.mark.joblet_mock(profile="server-v1")
def test_server_v1_profile_shows_its_quirks(client):
    job = client.jobs.run_job(command="echo", args=["hi"], secret_environment={"TOKEN": "s3cret"})
    # QUIRK-3: RunJob answers only the UUID and the status.
    assert job["command"] == ""
    # QUIRK-4: ListJobs shows the secret value.
    listed = [j for j in client.jobs.list_jobs() if j["uuid"] == job["job_uuid"]]
    assert listed[0]["secret_environment"] == {"TOKEN": "s3cret"}
    # QUIRK-1: CancelJob is not implemented.
    with pytest.raises(JobletException):
        client.jobs.cancel_job(job["job_uuid"])
