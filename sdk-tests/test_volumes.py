"""VolumeService through the published SDK (VOL-*), raw stubs for status codes."""

from __future__ import annotations

import re

import grpc
import pytest
from joblet import joblet_pb2

from helpers import RPC_TIMEOUT, assert_code, rpc_error, wait_for_status, wait_until

RFC3339_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")


def _volume(client, name: str) -> dict:
    return next(v for v in client.volumes.list_volumes() if v["name"] == name)


def test_vol_create_1_create_volume_defaults_to_filesystem(client):
    vol = client.volumes.create_volume("sdk-vol-create", "1GB")
    assert vol == {
        "name": "sdk-vol-create",
        "size": "1GB",
        "type": "filesystem",
        "path": "/opt/joblet/volumes/sdk-vol-create",
    }


def test_vol_create_1_memory_volume_size_as_sent(client):
    vol = client.volumes.create_volume("sdk-vol-mem", "512mb", volume_type="memory")
    assert (vol["size"], vol["type"]) == ("512mb", "memory")


def test_vol_list_1_fields_and_creation_order(client):
    client.volumes.create_volume("sdk-vol-list-a", "10MB")
    client.volumes.create_volume("sdk-vol-list-b", "2gb")
    vols = client.volumes.list_volumes()
    names = [v["name"] for v in vols]
    assert names.index("sdk-vol-list-a") < names.index("sdk-vol-list-b")
    b = _volume(client, "sdk-vol-list-b")
    assert (b["size"], b["type"], b["path"], b["job_count"]) == (
        "2gb",
        "filesystem",
        "/opt/joblet/volumes/sdk-vol-list-b",
        0,
    )
    assert RFC3339_RE.match(b["created_time"]), b


def test_vol_list_1_job_count_while_a_job_runs(client, cleanup_jobs):
    client.volumes.create_volume("sdk-vol-busy", "100MB")
    job = client.jobs.run_job(command="sleep", args=["30"], volumes=["sdk-vol-busy"])
    cleanup_jobs.append(job["job_uuid"])
    assert job["status"] == "RUNNING"
    assert client.jobs.get_job_status(job["job_uuid"])["volumes"] == ["sdk-vol-busy"]
    assert _volume(client, "sdk-vol-busy")["job_count"] == 1
    client.jobs.stop_job(job["job_uuid"])
    wait_for_status(client, job["job_uuid"], "STOPPED")
    wait_until(lambda: _volume(client, "sdk-vol-busy")["job_count"] == 0, what="jobCount back to 0")


def test_vol_rm_1_remove_volume(client, cleanup_jobs):
    client.volumes.create_volume("sdk-vol-rm", "1MB")
    job = client.jobs.run_job(command="sleep", args=["30"], volumes=["sdk-vol-rm"])
    cleanup_jobs.append(job["job_uuid"])

    busy = client.volumes.remove_volume("sdk-vol-rm")
    assert busy["success"] is False
    assert "in use by 1 job" in busy["message"], busy

    client.jobs.stop_job(job["job_uuid"])
    wait_for_status(client, job["job_uuid"], "STOPPED")
    done = client.volumes.remove_volume("sdk-vol-rm")
    assert done["success"] is True, done
    assert "sdk-vol-rm" not in {v["name"] for v in client.volumes.list_volumes()}

    gone = client.volumes.remove_volume("sdk-vol-rm")
    assert gone["success"] is False
    assert "volume not found" in gone["message"].lower(), gone


@pytest.mark.parametrize("name", ["-bad", "bad-", "with space", "x" * 64, ""])
def test_vol_create_2_bad_name_invalid_argument(volume_stub, name):
    req = joblet_pb2.CreateVolumeReq(name=name, size="1GB", type="filesystem")
    err = rpc_error(lambda: volume_stub.CreateVolume(req, timeout=RPC_TIMEOUT))
    assert_code(err, grpc.StatusCode.INVALID_ARGUMENT, "name")


@pytest.mark.parametrize("size", ["", "0MB", "-1GB", "10XB", "1 GB", "GB", "1G"])
def test_vol_create_2_bad_size_invalid_argument(volume_stub, size):
    req = joblet_pb2.CreateVolumeReq(name="sdk-vol-badsize", size=size, type="filesystem")
    err = rpc_error(lambda: volume_stub.CreateVolume(req, timeout=RPC_TIMEOUT))
    assert_code(err, grpc.StatusCode.INVALID_ARGUMENT, "size")


def test_vol_create_2_bad_type_invalid_argument(volume_stub):
    req = joblet_pb2.CreateVolumeReq(name="sdk-vol-badtype", size="1GB", type="nfs")
    err = rpc_error(lambda: volume_stub.CreateVolume(req, timeout=RPC_TIMEOUT))
    assert_code(err, grpc.StatusCode.INVALID_ARGUMENT, "type")


def test_vol_create_3_duplicate_name_already_exists(client, volume_stub):
    client.volumes.create_volume("sdk-vol-dup", "1GB")
    req = joblet_pb2.CreateVolumeReq(name="sdk-vol-dup", size="2GB", type="filesystem")
    err = rpc_error(lambda: volume_stub.CreateVolume(req, timeout=RPC_TIMEOUT))
    assert_code(err, grpc.StatusCode.ALREADY_EXISTS)


def test_job_run_7_job_with_volume(client):
    client.volumes.create_volume("sdk-vol-job", "1GB")
    job = client.jobs.run_job(command="echo", args=["with volume"], volumes=["sdk-vol-job"])
    status = wait_for_status(client, job["job_uuid"], "COMPLETED")
    assert status["volumes"] == ["sdk-vol-job"]
