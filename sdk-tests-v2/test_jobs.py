"""JobService through SDK 2.5.2 on a node that speaks v2 (JOB-*, v2 items
of docs/behaviours.md): what the SDK can drive (stop, cancel, delete, logs,
its errors), and raw stubs of the SDK where its run_job, get_job_status and
list_jobs cannot read the answer (test_sdk_defects.py pins those)."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest
from joblet.exceptions import JobNotFoundError, JobOperationError, ValidationError
from joblet.proto import joblet_pb2

from helpers import RPC_TIMEOUT, assert_code, rpc_error, run, status, unknown_uuid, wait_for_status


def listed(job_stub) -> dict:
    return {j.uuid: j for j in job_stub.ListJobs(joblet_pb2.EmptyRequest(), timeout=RPC_TIMEOUT).jobs}


def test_job_run_11_answers_only_job_uuid_and_status(job_stub, cleanup_jobs):
    # The default mock speaks both contracts: what an SDK 2.x client decodes
    # of the answer is job_uuid and status (the v1 echo a v1 client gets on
    # the same port is skipped as unknown fields, as proto3 does).
    response = job_stub.RunJob(joblet_pb2.RunJobRequest(command="sleep", args=["30"]), timeout=RPC_TIMEOUT)
    cleanup_jobs.append(response.job_uuid)
    assert response.status == "RUNNING" and len(response.job_uuid) == 36
    assert {f.name for f, _ in response.ListFields()} == {"job_uuid", "status"}


@pytest.mark.joblet_mock(api="v2")
def test_job_run_11_a_node_of_v2_alone_sends_nothing_else(job_stub, cleanup_jobs):
    response = job_stub.RunJob(joblet_pb2.RunJobRequest(command="sleep", args=["30"]), timeout=RPC_TIMEOUT)
    cleanup_jobs.append(response.job_uuid)
    # Byte for byte: no field this contract does not know (a v1-only one
    # would be kept as an unknown field and serialized again).
    only = joblet_pb2.RunJobResponse(job_uuid=response.job_uuid, status="RUNNING")
    assert response.SerializeToString() == only.SerializeToString()


def test_job_run_2_empty_command_is_refused_by_the_sdk_and_the_node(client, job_stub, joblet_session):
    # The SDK checks before sending; the node answers INVALID_ARGUMENT.
    with pytest.raises(ValidationError, match="command is required"):
        client.jobs.run_job(command="  ")
    joblet_session.verify("RunJob", times=0)
    err = rpc_error(lambda: job_stub.RunJob(joblet_pb2.RunJobRequest(command=""), timeout=RPC_TIMEOUT))
    assert_code(err, grpc.StatusCode.INVALID_ARGUMENT, "command")


def test_job_run_3_a_refused_run_job_is_the_sdks_job_operation_error(client, job_stub):
    # An RPC error comes before the defect's AttributeError: the SDK maps it.
    with pytest.raises(JobOperationError, match="Failed to run job: .*max"):
        client.jobs.run_job(command="echo", max_cpu=-5)
    assert listed(job_stub) == {}


@pytest.mark.parametrize("timeout", ["30s", "5m", "1h30m", "1.5h", "250ms", "0", ""])
def test_job_timeout_1_go_durations_are_accepted_and_echoed(job_stub, cleanup_jobs, timeout):
    job_uuid = run(job_stub, "sleep", "600", timeout=timeout)
    cleanup_jobs.append(job_uuid)
    st = status(job_stub, job_uuid)
    # JOB-TIMEOUT-4: echoed as sent, in GetJobStatus and in ListJobs.
    assert (st.status, st.timeout) == ("RUNNING", timeout)
    assert listed(job_stub)[job_uuid].timeout == timeout


@pytest.mark.parametrize("timeout", ["bogus", "-5s", "5", "1d"])
def test_job_timeout_2_a_bad_timeout_is_refused_and_nothing_starts(client, job_stub, timeout):
    # Through the SDK: the RPC fails, so the SDK raises its own error.
    with pytest.raises(JobOperationError, match=f"Failed to run job: invalid request: invalid timeout: {timeout}"):
        client.jobs.run_job(command="sleep", args=["1"], timeout=timeout)
    err = rpc_error(lambda: run(job_stub, "sleep", "1", timeout=timeout))
    assert_code(err, grpc.StatusCode.INVALID_ARGUMENT, f"invalid request: invalid timeout: {timeout}")
    assert listed(job_stub) == {}


@pytest.mark.joblet_mock(clock="virtual")
def test_job_timeout_3_a_job_past_its_timeout_ends_timeout_124(client, job_stub, joblet_session):
    job_uuid = run(job_stub, "bash", "-c", "echo started; sleep 60; echo never", timeout="5s")
    # The SDK's log stream follows the job and ends when it times out.
    assert b"".join(client.jobs.get_job_logs(job_uuid)) == b"started\n"
    st = status(job_stub, job_uuid)
    assert (st.status, st.exit_code, st.timeout) == ("TIMEOUT", 124, "5s")
    assert st.end_time != ""
    joblet_session.verify("RunJob", request_contains={"timeout": "5s"}, code="OK", times=1)
    # TIMEOUT is final: StopJob refuses, DeleteJob deletes.
    with pytest.raises(JobOperationError, match="not running"):
        client.jobs.stop_job(job_uuid)
    assert client.jobs.delete_job(job_uuid)["success"] is True
    assert listed(job_stub) == {}


@pytest.mark.joblet_mock(clock="virtual")
def test_job_timeout_3_a_job_that_ends_in_time_completes(job_stub, client):
    job_uuid = run(job_stub, "sleep", "2", timeout="5s")
    assert list(client.jobs.get_job_logs(job_uuid)) == []
    st = status(job_stub, job_uuid)
    assert (st.status, st.exit_code, st.timeout) == ("COMPLETED", 0, "5s")


@pytest.mark.joblet_mock(clock="manual")
def test_job_timeout_3_a_scheduled_jobs_wait_does_not_count(job_stub, joblet_session):
    at = joblet_session.clock().now + timedelta(hours=1)
    job_uuid = run(job_stub, "sleep", "10", timeout="30s", schedule=at.isoformat())
    assert status(job_stub, job_uuid).status == "SCHEDULED"
    joblet_session.advance_clock("1h")
    assert status(job_stub, job_uuid).status == "RUNNING"
    joblet_session.advance_clock("10s")
    st = wait_for_status(job_stub, job_uuid, {"COMPLETED", "TIMEOUT"})
    assert (st.status, st.exit_code) == ("COMPLETED", 0)


def test_job_stop_1_stop_job_through_the_sdk(client, job_stub):
    job_uuid = run(job_stub, "sleep", "600")
    stopped = client.jobs.stop_job(job_uuid)
    assert (stopped["uuid"], stopped["status"], stopped["exit_code"]) == (job_uuid, "STOPPED", -1)
    assert stopped["end_time"] != ""
    assert status(job_stub, job_uuid).status == "STOPPED"


@pytest.mark.joblet_mock(clock="manual")
def test_job_cancel_1_cancel_job_through_the_sdk(client, job_stub, joblet_session):
    at = joblet_session.clock().now + timedelta(hours=1)
    job_uuid = run(job_stub, "echo", "later", schedule=at.isoformat())
    assert client.jobs.cancel_job(job_uuid) == {"uuid": job_uuid, "status": "CANCELED"}
    assert status(job_stub, job_uuid).status == "CANCELED"
    # JOB-CANCEL-2: the SDK's JobOperationError carries the node's text.
    with pytest.raises(JobOperationError, match=f"Failed to cancel job {job_uuid}: "):
        client.jobs.cancel_job(job_uuid)


def test_job_del_1_and_delall_1_through_the_sdk(client, job_stub, cleanup_jobs):
    done = [run(job_stub, "echo", str(i)) for i in range(3)]
    for job_uuid in done:
        wait_for_status(job_stub, job_uuid, "COMPLETED")
    running = run(job_stub, "sleep", "600")
    cleanup_jobs.append(running)
    assert client.jobs.delete_job(done[0]) == {"uuid": done[0], "success": True, "message": "Job deleted successfully"}
    # JOB-DEL-2: a running job is refused, with the node's words.
    with pytest.raises(JobOperationError, match="stop the job first"):
        client.jobs.delete_job(running)
    result = client.jobs.delete_all_jobs()
    assert (result["success"], result["deleted_count"], result["skipped_count"]) == (True, 2, 1)
    assert result["message"] == "Successfully deleted 2 jobs, skipped 1 running/scheduled jobs"
    assert list(listed(job_stub)) == [running]


def test_job_logs_1_the_sdk_streams_a_jobs_output(client, job_stub):
    job_uuid = run(job_stub, "bash", "-c", "for i in 1 2 3; do echo line $i; done")
    assert b"".join(client.jobs.get_job_logs(job_uuid)) == b"line 1\nline 2\nline 3\n"
    # stream_live_logs is the same call, and warns that it is (§2.9).
    with pytest.warns(DeprecationWarning, match="include_historical"):
        assert b"".join(client.jobs.stream_live_logs(job_uuid)) == b"line 1\nline 2\nline 3\n"


def test_job_logs_4_empty_uuid_is_refused_by_the_sdk_and_the_node(client, job_stub, joblet_session):
    with pytest.raises(ValidationError, match="job_uuid is required"):
        list(client.jobs.get_job_logs(""))
    joblet_session.verify("GetJobLogs", times=0)
    err = rpc_error(lambda: list(job_stub.GetJobLogs(joblet_pb2.GetJobLogsRequest(uuid=""), timeout=RPC_TIMEOUT)))
    assert_code(err, grpc.StatusCode.INVALID_ARGUMENT, "job_uuid is required")


def test_job_logs_3_unknown_job_is_the_sdks_job_not_found_error(client):
    unknown = unknown_uuid()
    with pytest.raises(JobNotFoundError, match=f"Failed to get logs for job {unknown}: "):
        list(client.jobs.get_job_logs(unknown))


def test_job_status_2_unknown_job_is_the_sdks_job_not_found_error(client):
    # The failing RPC comes before the defect's AttributeError.
    unknown = unknown_uuid()
    with pytest.raises(JobNotFoundError, match=f"Job {unknown} not found: "):
        client.jobs.get_job_status(unknown)


def test_all_6_secrets_are_masked_on_the_v2_answers(job_stub):
    job_uuid = run(job_stub, "echo", "hi", environment={"STAGE": "ci"}, secret_environment={"TOKEN": "s3cret"})
    st = status(job_stub, job_uuid)
    assert dict(st.environment) == {"STAGE": "ci"} and dict(st.secret_environment) == {"TOKEN": "***"}
    assert dict(listed(job_stub)[job_uuid].secret_environment) == {"TOKEN": "***"}


def test_job_gpu_1_gpus_on_the_v2_answers(job_stub, cleanup_jobs):
    job_uuid = run(job_stub, "sleep", "600", gpu_count=2)
    cleanup_jobs.append(job_uuid)
    st = status(job_stub, job_uuid)
    assert (st.gpu_count, sorted(st.gpu_indices)) == (2, [0, 1])
    err = rpc_error(lambda: run(job_stub, "sleep", "1", gpu_count=1))
    assert_code(err, grpc.StatusCode.RESOURCE_EXHAUSTED)
