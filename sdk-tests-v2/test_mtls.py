"""Mutual TLS and roles through SDK 2.5.2 (AUTH-6..8): the SDK speaks mutual
TLS only, with the mock's generated certificates (admin, viewer, norole) as
JobletMock.client(role=...) hands them out, or through the generated
rnx-config.yml as a developer's ~/.rnx/rnx-config.yml would be."""

from __future__ import annotations

import pytest
from joblet import JobletClient
from joblet.exceptions import JobletConnectionError, JobOperationError, NetworkError, VolumeError

from helpers import run, wait_for_status

PYTHON_ML_MIN = """\
schema_version: "1.0"
name: tiny
version: 1.0.0
description: a tiny runtime
base:
  language: python
  version: "3.11"
"""


def test_auth_6_the_default_client_is_admin_on_the_tls_listener(client, joblet_session):
    mock = joblet_session.mock
    assert (client.host, client.port) == (mock.host, int(mock.tls_address.rsplit(":", 1)[1]))
    assert client.port != mock.port
    assert client.networks.create_network("admins", "10.30.0.0/24")["bridge"] == "joblet-admins"


def test_auth_7_a_viewer_reads_and_is_refused_changes(tls_client, job_stub):
    viewer = tls_client("viewer")
    job_uuid = run(job_stub, "echo", "seen by a viewer")
    wait_for_status(job_stub, job_uuid, "COMPLETED")
    assert b"".join(viewer.jobs.get_job_logs(job_uuid)) == b"seen by a viewer\n"
    assert [n["name"] for n in viewer.networks.list_networks()] == ["bridge"]
    assert viewer.volumes.list_volumes() == []
    assert viewer.runtimes.validate_runtime_yaml(PYTHON_ML_MIN)["valid"] is True
    assert viewer.monitoring.get_system_status()["available"] is True
    # The SDK keeps the node's text in exceptions of its own. (The mock's
    # two-role model names the RPC; a v5.6 node writes its operation name,
    # `run_job` or `stop_job`, there: AUTH-7.)
    denied = "role viewer is not allowed to perform operation"
    with pytest.raises(JobOperationError, match=f"Failed to run job: {denied} RunJob"):
        viewer.jobs.run_job(command="echo")
    with pytest.raises(JobOperationError, match=f"Failed to delete job {job_uuid}: {denied} DeleteJob"):
        viewer.jobs.delete_job(job_uuid)
    with pytest.raises(NetworkError, match=f"{denied} CreateNetwork"):
        viewer.networks.create_network("nope", "10.31.0.0/24")
    with pytest.raises(VolumeError, match=f"{denied} CreateVolume"):
        viewer.volumes.create_volume("nope", "1GB")
    with pytest.raises(RuntimeError, match=f"Failed to build runtime: {denied} BuildRuntime"):
        list(viewer.runtimes.build_runtime(PYTHON_ML_MIN))


@pytest.fixture
def no_rnx_home(tmp_path, monkeypatch):
    """A HOME without ~/.rnx: with a config file, the SDK prefers a
    developer's ~/.rnx/ca.crt to the CA inside it."""
    monkeypatch.setenv("HOME", str(tmp_path))


def test_auth_6_the_generated_rnx_config_serves_sdk_2(joblet_session, no_rnx_home):
    rnx = str(joblet_session.mock.rnx_config)
    # Not in the test's session (no header): the default session's view.
    with JobletClient(config_path=rnx, node_name="viewer") as viewer:
        assert viewer.monitoring.get_system_status()["server_version"]["proto_tag"] == "v2.5.9"
    with JobletClient(config_path=rnx) as admin:  # node "default"
        assert admin.jobs.list_jobs() is not None


def test_auth_6_a_certificate_without_a_role_may_call_nothing(joblet_session, no_rnx_home):
    rnx = str(joblet_session.mock.rnx_config)
    with JobletClient(config_path=rnx, node_name="norole") as guest:
        with pytest.raises(JobletConnectionError, match="role unknown is not allowed"):
            guest.monitoring.get_system_status()
        assert guest.health_check() is False
        with pytest.raises(NetworkError, match="role unknown is not allowed"):
            guest.networks.list_networks()


@pytest.mark.joblet_mock(roles="four")
def test_auth_8_four_roles_the_viewer_certificate_is_a_reader(tls_client):
    reader = tls_client("viewer")
    assert [n["name"] for n in reader.networks.list_networks()] == ["bridge"]
    with pytest.raises(NetworkError, match="role reader is not allowed to perform operation create_network"):
        reader.networks.create_network("nope", "10.32.0.0/24")
    admin = tls_client("admin")
    assert admin.networks.create_network("ok", "10.32.0.0/24")["name"] == "ok"
    assert admin.networks.remove_network("ok")["success"] is True
