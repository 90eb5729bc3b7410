"""Helpers shared by the SDK 2.x suite's modules (`from helpers import ...`).

Jobs are started and read through raw stubs (`joblet.proto.joblet_pb2_grpc`)
wherever SDK 2.5.2's own `run_job`, `get_job_status` and `list_jobs` cannot
read the v2 answer (facts §1.5, pinned in test_sdk_defects.py). Every wait is
a bounded, deadline-based poll: nothing sleeps a fixed time and hopes the
server is ready.
"""

from __future__ import annotations

import time
import uuid
from typing import Callable, Iterable

import grpc
import pytest
from joblet.proto import joblet_pb2, joblet_pb2_grpc

FINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "STOPPED", "CANCELED", "TIMEOUT"})

RPC_TIMEOUT = 10.0
"""Deadline (seconds) for raw calls, so a wedged server fails a test instead of hanging it."""


def run(stub: joblet_pb2_grpc.JobServiceStub, command: str, *args: str, **fields) -> str:
    """Starts a job through the raw stub and returns its UUID."""
    request = joblet_pb2.RunJobRequest(command=command, args=list(args), **fields)
    return stub.RunJob(request, timeout=RPC_TIMEOUT).job_uuid


def status(stub: joblet_pb2_grpc.JobServiceStub, job_uuid: str) -> joblet_pb2.GetJobStatusResponse:
    return stub.GetJobStatus(joblet_pb2.GetJobStatusRequest(uuid=job_uuid), timeout=RPC_TIMEOUT)


def wait_for_status(
    stub: joblet_pb2_grpc.JobServiceStub, job_uuid: str, want: "Iterable[str] | str", timeout: float = 20.0
) -> joblet_pb2.GetJobStatusResponse:
    """Polls GetJobStatus (raw stub) until the status is in `want`."""
    wanted = {want} if isinstance(want, str) else set(want)
    deadline = time.monotonic() + timeout
    st = status(stub, job_uuid)
    while st.status not in wanted:
        if time.monotonic() > deadline:
            pytest.fail(f"job {job_uuid} still {st.status} after {timeout}s (wanted {sorted(wanted)})")
        time.sleep(0.05)
        st = status(stub, job_uuid)
    return st


def wait_until(pred: Callable[[], object], timeout: float = 10.0, what: str = "condition"):
    """Polls `pred` until it returns something truthy, and returns that."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not reached after {timeout}s (last: {value!r})")
        time.sleep(0.05)


def rpc_error(call: Callable[[], object]) -> grpc.RpcError:
    """Runs a raw-stub call that must fail and returns its `grpc.RpcError`.
    For server streams pass a callable that drains the stream."""
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


def assert_code(err: grpc.RpcError, code: grpc.StatusCode, *fragments: str) -> None:
    """The error has `code` and its details mention every fragment (case-insensitive)."""
    assert err.code() == code, f"expected {code.name}, got {err.code().name}: {err.details()!r}"
    details = (err.details() or "").lower()
    for frag in fragments:
        assert frag.lower() in details, f"{frag!r} not in details {err.details()!r}"


def unknown_uuid() -> str:
    """A well-formed job UUID that no server has issued."""
    return str(uuid.uuid4())


def stop_quietly(stub: joblet_pb2_grpc.JobServiceStub, job_uuid: str) -> None:
    """Best-effort cleanup of a job a test left running or scheduled."""
    try:
        if status(stub, job_uuid).status not in FINAL_STATUSES:
            stub.StopJob(joblet_pb2.StopJobRequest(uuid=job_uuid), timeout=RPC_TIMEOUT)
    except grpc.RpcError:  # cleanup must not mask the test's own failure
        pass
