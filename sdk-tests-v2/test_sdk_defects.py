"""SDK 2.5.2's defects (facts §1.5; docs/behaviours.md "SDK 2.5.2: defects a
mock must show, not hide"), pinned.

joblet-sdk-python 2.5.2 still reads fields that the v2 messages do not have:
Python protobuf raises AttributeError for such a read, and the SDK catches
only grpc.RpcError. So each of these calls succeeds on the wire and then
raises in the SDK, against any correct node. The mock answers the v2
messages as they are, so an SDK developer's CI sees each defect exactly as
against a real v5 node; the raw stubs then show what the node did.

When a fixed SDK is released, these tests fail: that is the point (they are
what an SDK developer's CI should catch). Move them to the behaviour they
then show.
"""

from __future__ import annotations

import os
from pathlib import Path

import grpc
import pytest
from joblet import JobletClient
from joblet.proto import joblet_pb2

from helpers import RPC_TIMEOUT, run, status, wait_for_status

PYTHON_ML = (Path(__file__).resolve().parent.parent / "fixtures" / "runtimes" / "python-ml.yaml").read_text()


def test_sdk_defect_run_job_raises_attribute_error_after_the_job_started(client, job_stub, joblet_session, cleanup_jobs):
    # §1.5: run_job reads response.command (and args, max_cpu, ...), which
    # RunJobResponse v2 lacks: AttributeError, after a successful RunJob.
    with pytest.raises(AttributeError, match="command"):
        client.jobs.run_job(command="sleep", args=["30"], environment={"STAGE": "ci"})
    # The call reached the node and was answered OK ...
    joblet_session.verify("RunJob", request_contains={"command": "sleep", "args": ["30"]}, code="OK", times=1)
    # ... and the job exists and runs: the raw stub lists it.
    jobs = job_stub.ListJobs(joblet_pb2.EmptyRequest(), timeout=RPC_TIMEOUT).jobs
    assert [(j.command, list(j.args), j.status) for j in jobs] == [("sleep", ["30"], "RUNNING")]
    cleanup_jobs.append(jobs[0].uuid)
    # What the node answered has only job_uuid and status (JOB-RUN-11):
    # nothing an SDK could read instead.
    assert [f.name for f in joblet_pb2.RunJobResponse.DESCRIPTOR.fields] == ["job_uuid", "status"]


def test_sdk_defect_get_job_status_raises_attribute_error(client, job_stub, joblet_session):
    job_uuid = run(job_stub, "echo", "hi")
    wait_for_status(job_stub, job_uuid, "COMPLETED")
    # §1.5: get_job_status reads response.name, which v2 dropped.
    with pytest.raises(AttributeError, match="name"):
        client.jobs.get_job_status(job_uuid)
    joblet_session.verify("GetJobStatus", request_contains={"uuid": job_uuid}, code="OK", at_least=1)
    st = status(job_stub, job_uuid)
    assert (st.uuid, st.status, st.exit_code) == (job_uuid, "COMPLETED", 0)


def test_sdk_defect_list_jobs_raises_attribute_error_once_a_job_exists(client, job_stub, joblet_session):
    # §1.5: an empty list works ...
    assert client.jobs.list_jobs() == []
    job_uuid = run(job_stub, "echo", "hi")
    # ... one job, and it reads job.name, which v2's Job lacks.
    with pytest.raises(AttributeError, match="name"):
        client.jobs.list_jobs()
    joblet_session.verify("ListJobs", code="OK", times=2)
    assert [j.uuid for j in job_stub.ListJobs(joblet_pb2.EmptyRequest(), timeout=RPC_TIMEOUT).jobs] == [job_uuid]


@pytest.mark.joblet_mock(clock="virtual")
def test_sdk_defect_build_runtime_raises_attribute_error_on_the_result(client, runtime_stub, joblet_session):
    # §1.5: the phase and log events come through ...
    events = []
    with pytest.raises(AttributeError, match="runtime_path"):
        for event in client.runtimes.build_runtime(PYTHON_ML):
            events.append(event)
    phases = [e["phase"]["phase_name"] for e in events if "phase" in e]
    assert len(phases) == 14 and phases[0] == "Parse & Validate" and phases[-1] == "Validate Build"
    assert all(e["phase"]["total_phases"] == 14 for e in events if "phase" in e)
    assert any("log" in e for e in events)
    # ... then the result (install_path, build_duration_ms in v2) is read as
    # runtime_path: AttributeError, after the build has happened.
    assert not any("result" in e for e in events)
    joblet_session.verify("BuildRuntime", code="OK", times=1)
    info = runtime_stub.GetRuntimeInfo(joblet_pb2.GetRuntimeInfoRequest(runtime="python-ml"), timeout=RPC_TIMEOUT)
    assert info.found and info.runtime.version == "1.0.0"
    # The SDK reads the installed runtime fine (v1-era keys only, §2.11).
    assert client.runtimes.get_runtime_info("python-ml")["version"] == "1.0.0"


def test_sdk_defect_run_job_name_is_accepted_and_not_sent(client, joblet_session, cleanup_jobs, job_stub):
    # §1.5: `name` is a parameter of run_job, but RunJobRequest v2 has no
    # field for it: nothing about it reaches the node.
    with pytest.raises(AttributeError, match="command"):
        client.jobs.run_job(command="echo", args=["named"], name="nightly-report")
    (call,) = joblet_session.calls("RunJob")
    assert call.request == {"command": "echo", "args": ["named"]}
    assert "name" not in joblet_pb2.RunJobRequest.DESCRIPTOR.fields_by_name


def test_sdk_defect_get_job_logs_include_historical_false_only_warns(client, job_stub, joblet_session):
    # JOB-LOGS-4 / §2.9: the flag changes nothing on the wire.
    job_uuid = run(job_stub, "echo", "history")
    wait_for_status(job_stub, job_uuid, "COMPLETED")
    with pytest.warns(DeprecationWarning, match="include_historical"):
        chunks = list(client.jobs.get_job_logs(job_uuid, include_historical=False))
    assert b"".join(chunks) == b"history\n"
    assert [c.request for c in joblet_session.calls("GetJobLogs")] == [{"uuid": job_uuid}]


def test_sdk_defect_the_client_speaks_mutual_tls_only(joblet_session, tmp_path, monkeypatch):
    # §4.1: no plaintext mode. Host and port of the plaintext listener, no
    # certificates: refused before any call (the SDK's own config sources
    # are empty here).
    for var in ("JOBLET_CA_CERT", "JOBLET_CLIENT_CERT", "JOBLET_CLIENT_KEY", "JOBLET_HOST", "JOBLET_PORT"):
        monkeypatch.delenv(var, raising=False)
    mock = joblet_session.mock
    with pytest.raises(ValueError, match="Missing required parameters: ca_cert_path, client_cert_path, client_key_path"):
        JobletClient(host=mock.host, port=mock.port, config_path=str(tmp_path / "no-rnx-config.yml"))
    with pytest.raises(TypeError, match="insecure"):
        JobletClient(host=mock.host, port=mock.port, insecure=True)  # type: ignore[call-arg]


def test_sdk_defect_certificates_in_the_environment_are_pem_contents(joblet_session, tmp_path, monkeypatch):
    # §4.1, §5.22: JOBLET_CA_CERT, JOBLET_CLIENT_CERT, JOBLET_CLIENT_KEY hold
    # the PEM text, not paths.
    certs = joblet_session.mock.certs_dir
    host, port = joblet_session.mock.tls_address.rsplit(":", 1)
    monkeypatch.setenv("JOBLET_HOST", host)
    monkeypatch.setenv("JOBLET_PORT", port)
    missing = str(tmp_path / "no-rnx-config.yml")
    monkeypatch.setenv("JOBLET_CA_CERT", (certs / "ca.pem").read_text())
    monkeypatch.setenv("JOBLET_CLIENT_CERT", (certs / "viewer.pem").read_text())
    monkeypatch.setenv("JOBLET_CLIENT_KEY", (certs / "viewer-key.pem").read_text())
    with JobletClient(config_path=missing) as viewer:
        assert viewer.monitoring.get_system_status()["available"] is True
        assert [n["name"] for n in viewer.networks.list_networks()] == ["bridge"]
    # Paths where the SDK wants contents: written as the "PEM" and refused.
    monkeypatch.setenv("JOBLET_CA_CERT", str(certs / "ca.pem"))
    monkeypatch.setenv("JOBLET_CLIENT_CERT", str(certs / "viewer.pem"))
    monkeypatch.setenv("JOBLET_CLIENT_KEY", str(certs / "viewer-key.pem"))
    with pytest.raises(ValueError, match="Invalid CA certificate format"):
        JobletClient(config_path=missing)
    assert os.environ["JOBLET_CA_CERT"].endswith("ca.pem")


def test_sdk_defect_rpc_errors_lose_their_status_code(client, job_stub):
    # §2.9: an unknown job on GetJobLogs is NOT_FOUND on the wire, and the
    # SDK's JobNotFoundError keeps only the text; the raw stub keeps the code.
    from joblet.exceptions import JobNotFoundError, JobOperationError

    unknown = "0b3f5c1e-7a4d-4c2b-9e8f-1a2b3c4d5e6f"
    with pytest.raises(JobNotFoundError, match=f"Failed to get logs for job {unknown}: .*not found") as info:
        list(client.jobs.get_job_logs(unknown))
    assert not isinstance(info.value, grpc.RpcError)
    with pytest.raises(grpc.RpcError) as raw:
        list(job_stub.GetJobLogs(joblet_pb2.GetJobLogsRequest(uuid=unknown), timeout=RPC_TIMEOUT))
    assert raw.value.code() == grpc.StatusCode.NOT_FOUND
    # StopJob's NOT_FOUND becomes JobOperationError.
    with pytest.raises(JobOperationError, match=f"Failed to stop job {unknown}: .*not found"):
        client.jobs.stop_job(unknown)
