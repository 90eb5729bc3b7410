"""SDK 2.5.2 against each contract the mock can speak (CONTRACT-1..3,
facts §3.3): the default node of both contracts, a node of v2 alone (as a
Joblet v5.0.2+ server), and a node of v1 alone (as a v4.5.0 - v5.0.1
server), where the v2-only calls fail as the SDK maps UNIMPLEMENTED."""

from __future__ import annotations

import grpc
import pytest
from joblet.exceptions import JobNotFoundError, ValidationError
from joblet.proto import joblet_pb2

from helpers import RPC_TIMEOUT, assert_code, rpc_error, run, status, wait_for_status


def raw_unary(channel: grpc.Channel, path: str) -> bytes:
    """Calls `path` with an empty request, bytes in and out: for methods the
    SDK 2.x stubs do not have (v1's)."""
    return channel.unary_unary(path)(b"", timeout=RPC_TIMEOUT)


V1_ONLY = [
    "/joblet.JobService/RunWorkflow",
    "/joblet.JobService/GetWorkflowStatus",
    "/joblet.JobService/ListWorkflows",
    "/joblet.JobService/GetWorkflowJobs",
    "/joblet.RuntimeService/InstallRuntimeFromGithub",
    "/joblet.RuntimeService/InstallRuntimeFromLocal",
    "/joblet.RuntimeService/ValidateRuntimeSpec",
]


@pytest.mark.joblet_mock(api="v2")
@pytest.mark.parametrize("path", V1_ONLY)
def test_contract_1_a_node_of_v2_answers_v1_only_paths_unimplemented(channel, path):
    service, method = path.strip("/").split("/")
    err = rpc_error(lambda: raw_unary(channel, path))
    assert_code(err, grpc.StatusCode.UNIMPLEMENTED, f"unknown method {method} for service {service}")


@pytest.mark.joblet_mock(api="v2")
def test_contract_1_the_sdk_works_against_a_node_of_v2_alone(client, job_stub, joblet_session):
    job_uuid = run(job_stub, "echo", "v2 only", timeout="1m")
    assert b"".join(client.jobs.get_job_logs(job_uuid)) == b"v2 only\n"
    assert status(job_stub, job_uuid).timeout == "1m"
    assert client.runtimes.validate_runtime_yaml("")["valid"] is False
    assert client.monitoring.get_system_status()["server_version"]["proto_tag"] == "v2.5.9"
    # The defects show the same on a node of v2 alone.
    with pytest.raises(AttributeError, match="command"):
        client.jobs.run_job(command="echo")
    joblet_session.verify("RunJob", code="OK", times=2)


def test_contract_3_probes_tell_a_node_of_v2(runtime_stub, job_stub, channel):
    # ValidateRuntimeYAML with nothing: OK {valid false}, side-effect free.
    answer = runtime_stub.ValidateRuntimeYAML(joblet_pb2.ValidateRuntimeYAMLRequest(), timeout=RPC_TIMEOUT)
    assert (answer.valid, answer.message) == (False, "yaml_content is required")
    # The default node also speaks v1: ValidateRuntimeSpec exists there.
    assert raw_unary(channel, "/joblet.RuntimeService/ValidateRuntimeSpec") is not None


@pytest.mark.joblet_mock(api="v1")
def test_contract_3_sdk_2_against_a_node_of_v1_gets_its_unimplemented(client):
    # §3.3: what an SDK 2.x user meets on an older node, as the SDK maps it.
    unknown = "unknown method {} for service joblet.{}"
    with pytest.raises(ValidationError, match=unknown.format("ValidateRuntimeYAML", "RuntimeService")):
        client.runtimes.validate_runtime_yaml("schema_version: '1.0'")
    with pytest.raises(RuntimeError, match=unknown.format("BuildRuntime", "RuntimeService")):
        list(client.runtimes.build_runtime("schema_version: '1.0'"))
    some_job = "0b3f5c1e-7a4d-4c2b-9e8f-1a2b3c4d5e6f"
    with pytest.raises(JobNotFoundError, match=f"Failed to stream metrics for job {some_job}: "
                       + unknown.format("StreamJobMetrics", "JobService")):
        list(client.jobs.stream_job_metrics(some_job))
    with pytest.raises(JobNotFoundError, match=unknown.format("GetJobTelematics", "JobService")):
        list(client.jobs.get_job_telematics(some_job))
    # The shared calls work.
    assert client.networks.list_networks()[0]["name"] == "bridge"


@pytest.mark.joblet_mock(api="v1", clock="virtual")
def test_contract_3_a_node_of_v1_silently_ignores_timeout(job_stub, client):
    # §3.1 item 3, §3.3: no status tells; the job just runs past it, and
    # nothing is echoed.
    job_uuid = run(job_stub, "sleep", "60", timeout="5s")
    assert list(client.jobs.get_job_logs(job_uuid)) == []
    st = wait_for_status(job_stub, job_uuid, {"COMPLETED", "TIMEOUT"})
    assert (st.status, st.exit_code, st.timeout) == ("COMPLETED", 0, "")
