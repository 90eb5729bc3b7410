"""Fault injection as the published SDK sees it: a mock started with `--fault`
rules, and rules set at run time with `joblet-mock ctl faults set`.

Each test starts its own mock (the rules are server-wide for the default
session). What the SDK does with a failed call is part of what is checked: in
1.1.5 `jobs.run_job` and `jobs.get_job_logs` turn every gRPC error into
`JobNotFoundError` carrying the status details, whatever the code; the raw stub
shows the code itself.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import grpc
import pytest
from joblet import joblet_pb2, joblet_pb2_grpc
from joblet.exceptions import JobNotFoundError, JobletException

from conftest import MockServer, mock_bin
from helpers import RPC_TIMEOUT, assert_code, read_logs, rpc_error, wait_for_status

# One line at a time with a pause, so that the log goes out in many chunks.
MANY_LINES = "for i in $(seq 1 30); do echo line $i; sleep 0.02; done"


@pytest.fixture
def private_mock(mock_with) -> MockServer:
    return mock_with()


def test_fault_run_job_fails_on_the_third_call(mock_with):
    server = mock_with("--fault", "RunJob:fail=UNAVAILABLE:after=2")
    with server.client() as client:
        first = client.jobs.run_job(command="echo", args=["1"])
        second = client.jobs.run_job(command="echo", args=["2"])
        assert first["status"] == second["status"] == "RUNNING"
        with pytest.raises(JobNotFoundError) as info:
            client.jobs.run_job(command="echo", args=["3"])
        assert isinstance(info.value, JobletException)
        assert "fault injected by joblet-mock" in str(info.value)
        # Only RunJob is affected: the first two jobs are there and finish.
        assert {j["uuid"] for j in client.jobs.list_jobs()} == {first["job_uuid"], second["job_uuid"]}
        wait_for_status(client, first["job_uuid"], "COMPLETED")
    # The raw stub sees the injected code.
    with server.channel() as ch:
        stub = joblet_pb2_grpc.JobServiceStub(ch)
        err = rpc_error(
            lambda: stub.RunJob(joblet_pb2.RunJobRequest(command="echo"), timeout=RPC_TIMEOUT)
        )
        assert_code(err, grpc.StatusCode.UNAVAILABLE, "fault injected")


def test_fault_log_stream_cut_after_two_chunks(mock_with):
    server = mock_with("--fault", "GetJobLogs:cut_after_messages=2")
    with server.client() as client:
        job = client.jobs.run_job(command="bash", args=["-c", MANY_LINES])
        received: list[bytes] = []
        with pytest.raises(JobNotFoundError) as info:
            for chunk in client.jobs.get_job_logs(job["job_uuid"]):
                received.append(chunk)
        # The SDK yields the two chunks sent, then raises with the cut's details.
        assert len(received) == 2, received
        assert b"".join(received).startswith(b"line 1\n")
        assert "stream cut by fault rule" in str(info.value)
        wait_for_status(client, job["job_uuid"], "COMPLETED")
    # On the wire (a live stream of another such job): two DataChunks, then
    # UNAVAILABLE. (A finished job's log replays in one chunk: nothing to cut.)
    with server.channel() as ch:
        stub = joblet_pb2_grpc.JobServiceStub(ch)
        live = stub.RunJob(joblet_pb2.RunJobRequest(command="bash", args=["-c", MANY_LINES]), timeout=RPC_TIMEOUT)
        chunks: list[bytes] = []

        def drain() -> None:
            for c in stub.GetJobLogs(joblet_pb2.GetJobLogsReq(uuid=live.jobUuid), timeout=RPC_TIMEOUT):
                chunks.append(c.payload)

        err = rpc_error(drain)
        assert_code(err, grpc.StatusCode.UNAVAILABLE, "stream cut by fault rule")
        assert len(chunks) == 2


def test_a_bad_fault_flag_is_refused_naming_the_rule(tmp_path: Path):
    out = subprocess.run(
        [str(mock_bin()), "--listen", "127.0.0.1:0", "--fault", "RunJob:explode=1"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert out.returncode != 0
    assert "RunJob:explode=1" in out.stderr, out.stderr
    assert "listening on" not in out.stdout


def ctl(server: MockServer, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(mock_bin()), "ctl", "--addr", server.plain_addr, *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_ctl_sets_and_clears_faults_the_sdk_sees(private_mock: MockServer):
    set_ = ctl(private_mock, "faults", "set", "RunJob:fail=RESOURCE_EXHAUSTED/node full:times=1")
    assert set_.returncode == 0, set_.stderr
    assert "RESOURCE_EXHAUSTED" in set_.stdout
    with private_mock.client() as client:
        with pytest.raises(JobNotFoundError, match="node full"):
            client.jobs.run_job(command="echo", args=["x"])
        # times=1: the next call passes.
        job = client.jobs.run_job(command="echo", args=["ok"])
        wait_for_status(client, job["job_uuid"], "COMPLETED")
        assert read_logs(client, job["job_uuid"]) == b"ok\n"
        set_ = ctl(private_mock, "faults", "set", "RunJob:fail=UNAVAILABLE")
        assert set_.returncode == 0, set_.stderr
        with pytest.raises(JobNotFoundError):
            client.jobs.run_job(command="echo")
        cleared = ctl(private_mock, "faults", "clear")
        assert cleared.returncode == 0, cleared.stderr
        assert ctl(private_mock, "faults", "list").stdout == ""
        client.jobs.run_job(command="echo")
    calls = ctl(private_mock, "calls", "--method", "RunJob")
    assert calls.returncode == 0, calls.stderr
    codes = [line.split()[4] for line in calls.stdout.splitlines()]
    assert codes == ["RESOURCE_EXHAUSTED", "OK", "UNAVAILABLE", "OK"], calls.stdout
