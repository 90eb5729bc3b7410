"""Fault injection as the published SDK sees it: rules given as a server flag
(a private mock), on the test's session (the plugin's marker), and set at run
time with `joblet-mock ctl faults set`.

What the SDK does with a failed call is part of what is checked: in 1.1.5
`jobs.run_job` and `jobs.get_job_logs` turn every gRPC error into
`JobNotFoundError` carrying the status details, whatever the code; the raw stub
shows the code itself.
"""

from __future__ import annotations

import subprocess

import grpc
import pytest
from joblet import joblet_pb2, joblet_pb2_grpc
from joblet.exceptions import JobNotFoundError, JobletException

from helpers import RPC_TIMEOUT, assert_code, read_logs, rpc_error, wait_for_status
from joblet_mock import JobletMock, MockSession, MockStartError, binary_path

# One line at a time with a pause, so that the log goes out in many chunks.
MANY_LINES = "for i in $(seq 1 30); do echo line $i; sleep 0.02; done"


def test_fault_run_job_fails_on_the_third_call():
    # As a server flag: the rule applies to every session of that mock.
    with JobletMock(faults=["RunJob:fail=UNAVAILABLE:after=2"]) as server, server.client() as client:
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


@pytest.mark.joblet_mock(faults=["GetJobLogs:cut_after_messages=2"])
def test_fault_log_stream_cut_after_two_chunks(client, job_stub, joblet_session: MockSession):
    # On the test's session only (the plugin's marker sets it there).
    assert joblet_session.faults() == ["rpc=GetJobLogs,cut_after_messages=2"]
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
    live = job_stub.RunJob(joblet_pb2.RunJobRequest(command="bash", args=["-c", MANY_LINES]), timeout=RPC_TIMEOUT)
    chunks: list[bytes] = []

    def drain() -> None:
        for c in job_stub.GetJobLogs(joblet_pb2.GetJobLogsReq(uuid=live.jobUuid), timeout=RPC_TIMEOUT):
            chunks.append(c.payload)

    err = rpc_error(drain)
    assert_code(err, grpc.StatusCode.UNAVAILABLE, "stream cut by fault rule")
    assert len(chunks) == 2


def test_a_bad_fault_flag_is_refused_naming_the_rule():
    with pytest.raises(MockStartError) as info:
        JobletMock(faults=["RunJob:explode=1"]).start()
    assert "exited with code" in str(info.value)
    assert "RunJob:explode=1" in str(info.value)
    assert "listening on" not in str(info.value)


def test_a_bad_fault_rule_on_a_session_is_invalid_argument(joblet_session: MockSession):
    with pytest.raises(grpc.RpcError) as info:
        joblet_session.set_faults("RunJob:explode=1")
    assert_code(info.value, grpc.StatusCode.INVALID_ARGUMENT, "RunJob:explode=1")


def ctl(session: MockSession, *args: str) -> subprocess.CompletedProcess:
    """`joblet-mock ctl` (the wheel's binary) on the test's session."""
    return subprocess.run(
        [str(binary_path()), "ctl", "--addr", session.mock.address, "--session", session.name, *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_ctl_sets_and_clears_faults_the_sdk_sees(joblet_session: MockSession, client):
    set_ = ctl(joblet_session, "faults", "set", "RunJob:fail=RESOURCE_EXHAUSTED/node full:times=1")
    assert set_.returncode == 0, set_.stderr
    assert "RESOURCE_EXHAUSTED" in set_.stdout
    with pytest.raises(JobNotFoundError, match="node full"):
        client.jobs.run_job(command="echo", args=["x"])
    # times=1: the next call passes.
    job = client.jobs.run_job(command="echo", args=["ok"])
    wait_for_status(client, job["job_uuid"], "COMPLETED")
    assert read_logs(client, job["job_uuid"]) == b"ok\n"
    set_ = ctl(joblet_session, "faults", "set", "RunJob:fail=UNAVAILABLE")
    assert set_.returncode == 0, set_.stderr
    with pytest.raises(JobNotFoundError):
        client.jobs.run_job(command="echo")
    cleared = ctl(joblet_session, "faults", "clear")
    assert cleared.returncode == 0, cleared.stderr
    assert ctl(joblet_session, "faults", "list").stdout == ""
    client.jobs.run_job(command="echo")
    calls = ctl(joblet_session, "calls", "--method", "RunJob")
    assert calls.returncode == 0, calls.stderr
    codes = [line.split()[4] for line in calls.stdout.splitlines()]
    assert codes == ["RESOURCE_EXHAUSTED", "OK", "UNAVAILABLE", "OK"], calls.stdout
    # The same journal through the Python helpers.
    assert [c.code for c in joblet_session.calls("RunJob")] == codes
    joblet_session.verify("RunJob", code="UNAVAILABLE", times=1)
