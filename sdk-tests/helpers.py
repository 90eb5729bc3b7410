"""Helpers shared by the SDK suite's test modules (`from helpers import ...`).

Every wait is a bounded, deadline-based poll: nothing sleeps a fixed time and
hopes the server is ready.
"""

from __future__ import annotations

import time
import uuid
from typing import Callable, Iterable

import grpc
import pytest

FINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "STOPPED", "CANCELED"})

RPC_TIMEOUT = 10.0
"""Deadline (seconds) for raw calls, so a wedged server fails a test instead of hanging it."""


def wait_for_status(client, job_uuid: str, want: "Iterable[str] | str", timeout: float = 20.0) -> dict:
    """Polls GetJobStatus (through the SDK) until the status is in `want`."""
    wanted = {want} if isinstance(want, str) else set(want)
    deadline = time.monotonic() + timeout
    status = client.jobs.get_job_status(job_uuid)
    while status["status"] not in wanted:
        if time.monotonic() > deadline:
            pytest.fail(
                f"job {job_uuid} still {status['status']} after {timeout}s (wanted {sorted(wanted)})"
            )
        time.sleep(0.05)
        status = client.jobs.get_job_status(job_uuid)
    return status


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

    For server streams pass a callable that drains the stream, e.g.
    `lambda: list(stub.GetJobLogs(req, timeout=RPC_TIMEOUT))`.
    """
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


def stop_quietly(client, job_uuid: str) -> None:
    """Best-effort cleanup of a job a test left running or scheduled."""
    try:
        st = client.jobs.get_job_status(job_uuid)["status"]
        if st == "SCHEDULED":
            client.jobs.cancel_job(job_uuid)
        elif st not in FINAL_STATUSES:
            client.jobs.stop_job(job_uuid)
    except Exception:  # noqa: BLE001 - cleanup must not mask the test's own failure
        pass


def read_logs(client, job_uuid: str) -> bytes:
    """The whole log stream of a job through the SDK (ends when the job does)."""
    return b"".join(client.jobs.get_job_logs(job_uuid))
