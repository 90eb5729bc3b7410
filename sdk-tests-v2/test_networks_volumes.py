"""NetworkService and VolumeService through SDK 2.5.2 (NET-*, VOL-*): the
SDK reads these v2 answers correctly; its errors carry the node's text."""

from __future__ import annotations

import pytest
from joblet.exceptions import NetworkError, ValidationError, VolumeError

from helpers import run, wait_for_status


def test_net_create_1_and_list_1_through_the_sdk(client):
    assert client.networks.create_network("backend", "10.10.0.0/24") == {
        "name": "backend",
        "cidr": "10.10.0.0/24",
        "bridge": "joblet-backend",
    }
    assert client.networks.list_networks() == [
        {"name": "bridge", "cidr": "172.20.0.0/16", "bridge": "joblet0", "job_count": 0},
        {"name": "backend", "cidr": "10.10.0.0/24", "bridge": "joblet-backend", "job_count": 0},
    ]


def test_net_create_2_to_4_refusals_are_network_errors_with_the_nodes_text(client):
    with pytest.raises(NetworkError, match="Failed to create network 'bridge': .*bridge"):
        client.networks.create_network("bridge", "10.11.0.0/24")
    with pytest.raises(NetworkError, match="Failed to create network 'wide': .*cidr"):
        client.networks.create_network("wide", "10.0.0.0/4")
    client.networks.create_network("a", "10.12.0.0/24")
    with pytest.raises(NetworkError, match="Failed to create network 'a': .*already exists"):
        client.networks.create_network("a", "10.13.0.0/24")
    # The SDK checks empty arguments before sending.
    with pytest.raises(ValidationError, match="CIDR is required"):
        client.networks.create_network("b", "")


def test_net_list_1_job_count_and_net_rm_1_in_use(client, job_stub, cleanup_jobs):
    client.networks.create_network("jobs-net", "10.20.0.0/24")
    job_uuid = run(job_stub, "sleep", "600", network="jobs-net")
    cleanup_jobs.append(job_uuid)
    assert {n["name"]: n["job_count"] for n in client.networks.list_networks()}["jobs-net"] == 1
    removed = client.networks.remove_network("jobs-net")
    assert removed["success"] is False and "still in use by 1 job(s)" in removed["message"]
    client.jobs.stop_job(job_uuid)
    assert client.networks.remove_network("jobs-net")["success"] is True
    assert [n["name"] for n in client.networks.list_networks()] == ["bridge"]
    missing = client.networks.remove_network("jobs-net")
    assert missing["success"] is False and "network not found" in missing["message"]


def test_vol_create_1_and_list_1_through_the_sdk(client):
    assert client.volumes.create_volume("cache", "1GB") == {
        "name": "cache",
        "size": "1GB",
        "type": "filesystem",
        "path": "/opt/joblet/volumes/cache",
    }
    assert client.volumes.create_volume("scratch", "512MB", volume_type="memory")["type"] == "memory"
    listed = client.volumes.list_volumes()
    assert [(v["name"], v["size"], v["type"], v["job_count"]) for v in listed] == [
        ("cache", "1GB", "filesystem", 0),
        ("scratch", "512MB", "memory", 0),
    ]
    assert all(v["created_time"] for v in listed)


def test_vol_create_2_3_refusals_are_volume_errors_with_the_nodes_text(client):
    with pytest.raises(VolumeError, match="Failed to create volume 'v': .*size"):
        client.volumes.create_volume("v", "lots")
    client.volumes.create_volume("v", "1MB")
    with pytest.raises(VolumeError, match="Failed to create volume 'v': .*already exists"):
        client.volumes.create_volume("v", "1MB")
    # The SDK refuses another type before sending.
    with pytest.raises(ValidationError, match="invalid volume_type"):
        client.volumes.create_volume("w", "1MB", volume_type="tmpfs")


def test_vol_rm_1_in_use_then_removed(client, job_stub):
    client.volumes.create_volume("data", "1GB")
    job_uuid = run(job_stub, "sleep", "600", volumes=["data"])
    assert client.volumes.list_volumes()[0]["job_count"] == 1
    busy = client.volumes.remove_volume("data")
    assert busy["success"] is False and "in use by 1 job(s)" in busy["message"]
    client.jobs.stop_job(job_uuid)
    wait_for_status(job_stub, job_uuid, "STOPPED")
    assert client.volumes.remove_volume("data")["success"] is True
    assert client.volumes.list_volumes() == []
    assert "volume not found" in client.volumes.remove_volume("data")["message"]
