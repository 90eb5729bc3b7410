"""Mutual TLS and roles (AUTH-*): the SDK with `insecure=False` and the mock's
generated `rnx-config.yml` (nodes `default` = admin, `viewer` = viewer), in the
test's session (`MockSession.client(role=...)`, `.channel(role=...)`).
"""

from __future__ import annotations

import grpc
import pytest
from joblet import joblet_pb2, joblet_pb2_grpc
from joblet.exceptions import JobNotFoundError, NetworkError, VolumeError

from joblet_mock import MockSession

from helpers import RPC_TIMEOUT, assert_code, read_logs, rpc_error, wait_for_status


@pytest.fixture
def admin(tls_client):
    return tls_client("admin")


@pytest.fixture
def viewer(tls_client):
    return tls_client("viewer")


@pytest.fixture
def finished_job_uuid(admin):
    job = admin.jobs.run_job(command="echo", args=["for the viewer"])
    wait_for_status(admin, job["job_uuid"], "COMPLETED")
    return job["job_uuid"]


def test_auth_2_admin_runs_a_job_reads_logs_and_lists(admin, joblet_session: MockSession):
    assert admin.insecure is False
    assert admin.port == int(joblet_session.mock.tls_address.rsplit(":", 1)[1])
    job = admin.jobs.run_job(command="echo", args=["over", "mtls"])
    assert job["status"] == "RUNNING"
    wait_for_status(admin, job["job_uuid"], "COMPLETED")
    assert read_logs(admin, job["job_uuid"]) == b"over mtls\n"
    assert job["job_uuid"] in {j["uuid"] for j in admin.jobs.list_jobs()}


def test_auth_1_plaintext_and_tls_share_one_state(admin, client):
    job = admin.jobs.run_job(command="echo", args=["shared"])
    assert client.jobs.get_job_status(job["job_uuid"])["uuid"] == job["job_uuid"]


def test_auth_4_viewer_may_read(viewer, finished_job_uuid):
    assert finished_job_uuid in {j["uuid"] for j in viewer.jobs.list_jobs()}
    assert viewer.jobs.get_job_status(finished_job_uuid)["status"] == "COMPLETED"
    assert read_logs(viewer, finished_job_uuid) == b"for the viewer\n"
    assert any(n["name"] == "bridge" for n in viewer.networks.list_networks())
    viewer.volumes.list_volumes()
    assert any(r["name"] == "python-3.11" for r in viewer.runtimes.list_runtimes())
    assert viewer.monitoring.get_system_status()["available"] is True


def test_auth_4_viewer_may_not_write_through_the_sdk(viewer, admin, cleanup_jobs):
    running = admin.jobs.run_job(command="sleep", args=["30"])
    cleanup_jobs.append(running["job_uuid"])
    with pytest.raises(JobNotFoundError, match="not allowed"):
        viewer.jobs.run_job(command="echo", args=["nope"])
    with pytest.raises(JobNotFoundError, match="not allowed"):
        viewer.jobs.stop_job(running["job_uuid"])
    with pytest.raises(NetworkError, match="not allowed"):
        viewer.networks.create_network("viewer-net", "10.120.0.0/24")
    with pytest.raises(VolumeError, match="not allowed"):
        viewer.volumes.create_volume("viewer-vol", "1GB")
    # Nothing happened.
    assert admin.jobs.get_job_status(running["job_uuid"])["status"] == "RUNNING"
    assert "viewer-net" not in {n["name"] for n in admin.networks.list_networks()}
    admin.jobs.stop_job(running["job_uuid"])


def test_auth_4_viewer_raw_stub_permission_denied(joblet_session: MockSession, finished_job_uuid):
    ch = joblet_session.channel(role="viewer")
    try:
        jobs = joblet_pb2_grpc.JobServiceStub(ch)
        nets = joblet_pb2_grpc.NetworkServiceStub(ch)
        vols = joblet_pb2_grpc.VolumeServiceStub(ch)
        rts = joblet_pb2_grpc.RuntimeServiceStub(ch)
        denied = {
            "run_job": lambda: jobs.RunJob(joblet_pb2.RunJobRequest(command="echo"), timeout=RPC_TIMEOUT),
            "stop_job": lambda: jobs.StopJob(joblet_pb2.StopJobReq(uuid=finished_job_uuid), timeout=RPC_TIMEOUT),
            "delete_job": lambda: jobs.DeleteJob(
                joblet_pb2.DeleteJobReq(uuid=finished_job_uuid), timeout=RPC_TIMEOUT
            ),
            "create_network": lambda: nets.CreateNetwork(
                joblet_pb2.CreateNetworkReq(name="viewer-net", cidr="10.121.0.0/24"), timeout=RPC_TIMEOUT
            ),
            "create_volume": lambda: vols.CreateVolume(
                joblet_pb2.CreateVolumeReq(name="viewer-vol", size="1GB", type="filesystem"), timeout=RPC_TIMEOUT
            ),
            "test_runtime": lambda: rts.TestRuntime(
                joblet_pb2.RuntimeTestReq(runtime="python-3.11"), timeout=RPC_TIMEOUT
            ),
        }
        for op, call in denied.items():
            err = rpc_error(call)
            assert_code(err, grpc.StatusCode.PERMISSION_DENIED, "role viewer is not allowed")
            assert err.code() == grpc.StatusCode.PERMISSION_DENIED, op
        # Viewer reads still work on the same channel.
        resp = jobs.GetJobStatus(joblet_pb2.GetJobStatusReq(uuid=finished_job_uuid), timeout=RPC_TIMEOUT)
        assert resp.status == "COMPLETED"
    finally:
        ch.close()


def test_auth_5_authorization_before_validation(joblet_session: MockSession):
    ch = joblet_session.channel(role="viewer")
    try:
        jobs = joblet_pb2_grpc.JobServiceStub(ch)
        # An invalid request (empty command) from a viewer: PERMISSION_DENIED, not INVALID_ARGUMENT.
        err = rpc_error(lambda: jobs.RunJob(joblet_pb2.RunJobRequest(command=""), timeout=RPC_TIMEOUT))
        assert_code(err, grpc.StatusCode.PERMISSION_DENIED)
    finally:
        ch.close()


def test_auth_2_admin_raw_stub_is_allowed(joblet_session: MockSession):
    ch = joblet_session.channel(role="admin")
    try:
        jobs = joblet_pb2_grpc.JobServiceStub(ch)
        resp = jobs.RunJob(joblet_pb2.RunJobRequest(command="echo", args=["raw admin"]), timeout=RPC_TIMEOUT)
        assert resp.status == "RUNNING"
    finally:
        ch.close()


def test_auth_2_no_client_certificate_is_refused(joblet_mock):
    ca = (joblet_mock.certs_dir / "ca.pem").read_bytes()
    ch = grpc.secure_channel(joblet_mock.tls_address, grpc.ssl_channel_credentials(root_certificates=ca))
    try:
        jobs = joblet_pb2_grpc.JobServiceStub(ch)
        err = rpc_error(lambda: jobs.ListJobs(joblet_pb2.EmptyRequest(), timeout=RPC_TIMEOUT))
        # The handshake fails (UNAVAILABLE) or the call is refused (UNAUTHENTICATED).
        assert err.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.UNAVAILABLE), (
            err.code(),
            err.details(),
        )
    finally:
        ch.close()
