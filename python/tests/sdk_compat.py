"""The installed SDK, for the wheel's own tests: they run under
joblet-sdk-python 1.x (ci/test's .venv) and 2.x (.venv-v2).

Jobs are started and read through the SDK's raw stubs on a channel
(`joblet.joblet_pb2` in 1.x, `joblet.proto.joblet_pb2` in 2.x), because SDK
2.5.2's own run_job, get_job_status and list_jobs fail after a successful call
(facts §1.5; sdk-tests-v2 pins that). The SDK client is used for what both
SDKs read alike: networks, volumes, logs, monitoring.
"""

from __future__ import annotations

import time

import grpc
import pytest

from joblet_mock import sdk_major

SDK = sdk_major() or 0
"""The installed SDK's major version: 1 or 2."""

if SDK >= 2:
    from joblet.proto import joblet_pb2 as pb2
    from joblet.proto import joblet_pb2_grpc as pb2_grpc
else:
    from joblet import joblet_pb2 as pb2  # type: ignore[no-redef]
    from joblet import joblet_pb2_grpc as pb2_grpc  # type: ignore[no-redef]

sdk1_only = pytest.mark.skipif(SDK != 1, reason="joblet-sdk-python 1.x only (plaintext clients, its job API)")
sdk2_only = pytest.mark.skipif(SDK != 2, reason="joblet-sdk-python 2.x only (mutual TLS clients)")

FINAL = ("COMPLETED", "FAILED", "STOPPED", "CANCELED", "TIMEOUT")


def jobs_stub(channel: grpc.Channel):
    return pb2_grpc.JobServiceStub(channel)


def job_uuid_of(response) -> str:
    """RunJobResponse's ID: `jobUuid` in v1, `job_uuid` in v2."""
    return response.job_uuid if SDK >= 2 else response.jobUuid


def run_job(channel: grpc.Channel, command: str, *args: str) -> str:
    """Starts a job through the raw stub; its UUID."""
    request = pb2.RunJobRequest(command=command, args=list(args))
    return job_uuid_of(jobs_stub(channel).RunJob(request, timeout=10))


def job_status(channel: grpc.Channel, job_uuid: str) -> str:
    request = pb2.GetJobStatusRequest(uuid=job_uuid) if SDK >= 2 else pb2.GetJobStatusReq(uuid=job_uuid)
    return jobs_stub(channel).GetJobStatus(request, timeout=10).status


def wait_final(channel: grpc.Channel, job_uuid: str, timeout: float = 10.0) -> str:
    """Polls the job's status until it is final; that status."""
    deadline = time.monotonic() + timeout
    while (status := job_status(channel, job_uuid)) not in FINAL:
        assert time.monotonic() < deadline, f"job {job_uuid} still {status} after {timeout}s"
        time.sleep(0.02)
    return status


def job_ids(channel: grpc.Channel) -> list[str]:
    return [j.uuid for j in jobs_stub(channel).ListJobs(pb2.EmptyRequest(), timeout=10).jobs]
