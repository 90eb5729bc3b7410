"""NetworkService through the published SDK (NET-*), raw stubs for status codes."""

from __future__ import annotations

import grpc
import pytest
from joblet import joblet_pb2

from helpers import RPC_TIMEOUT, assert_code, rpc_error, wait_for_status, wait_until


def _job_count(client, name: str) -> int:
    return next(n["job_count"] for n in client.networks.list_networks() if n["name"] == name)


def test_net_create_1_create_network(client):
    net = client.networks.create_network("sdk-net-create", "10.91.0.0/24")
    assert net == {"name": "sdk-net-create", "cidr": "10.91.0.0/24", "bridge": "joblet-sdk-net-create"}


def test_net_list_1_builtin_bridge_first_then_created_in_order(client):
    client.networks.create_network("sdk-net-list-a", "10.92.1.0/24")
    client.networks.create_network("sdk-net-list-b", "10.92.2.0/24")
    nets = client.networks.list_networks()
    assert nets[0]["name"] == "bridge"
    assert nets[0]["cidr"] == "172.20.0.0/16"
    assert nets[0]["bridge"] == "joblet0"
    names = [n["name"] for n in nets]
    assert names.index("sdk-net-list-a") < names.index("sdk-net-list-b")
    b = next(n for n in nets if n["name"] == "sdk-net-list-b")
    assert (b["cidr"], b["bridge"], b["job_count"]) == ("10.92.2.0/24", "joblet-sdk-net-list-b", 0)


def test_net_list_1_job_count_while_a_job_runs(client, cleanup_jobs):
    client.networks.create_network("sdk-net-busy", "10.93.0.0/24")
    job = client.jobs.run_job(command="sleep", args=["30"], network="sdk-net-busy")
    cleanup_jobs.append(job["job_uuid"])
    assert job["status"] == "RUNNING"
    assert client.jobs.get_job_status(job["job_uuid"])["network"] == "sdk-net-busy"
    assert _job_count(client, "sdk-net-busy") == 1
    client.jobs.stop_job(job["job_uuid"])
    wait_for_status(client, job["job_uuid"], "STOPPED")
    wait_until(lambda: _job_count(client, "sdk-net-busy") == 0, what="jobCount back to 0")


def test_net_rm_1_remove_network(client, cleanup_jobs):
    client.networks.create_network("sdk-net-rm", "10.94.0.0/24")
    job = client.jobs.run_job(command="sleep", args=["30"], network="sdk-net-rm")
    cleanup_jobs.append(job["job_uuid"])

    busy = client.networks.remove_network("sdk-net-rm")
    assert busy["success"] is False
    assert "in use by 1 job" in busy["message"], busy

    client.jobs.stop_job(job["job_uuid"])
    wait_for_status(client, job["job_uuid"], "STOPPED")
    done = client.networks.remove_network("sdk-net-rm")
    assert done["success"] is True, done
    assert "sdk-net-rm" not in {n["name"] for n in client.networks.list_networks()}

    gone = client.networks.remove_network("sdk-net-rm")
    assert gone["success"] is False
    assert "not found" in gone["message"].lower(), gone


def test_net_rm_1_builtin_network_cannot_be_removed(client):
    resp = client.networks.remove_network("bridge")
    assert resp["success"] is False, resp
    assert "bridge" in {n["name"] for n in client.networks.list_networks()}


def test_job_run_6_job_on_created_network(client):
    client.networks.create_network("sdk-net-job", "10.95.0.0/24")
    job = client.jobs.run_job(command="echo", args=["on custom net"], network="sdk-net-job")
    status = wait_for_status(client, job["job_uuid"], "COMPLETED")
    assert status["network"] == "sdk-net-job"


@pytest.mark.parametrize(
    "name",
    ["bridge", "isolated", "none", "host", "-leading-dash", "trailing-", "has space", "x" * 64, ""],
)
def test_net_create_2_bad_or_reserved_name_invalid_argument(network_stub, name):
    req = joblet_pb2.CreateNetworkReq(name=name, cidr="10.96.0.0/24")
    err = rpc_error(lambda: network_stub.CreateNetwork(req, timeout=RPC_TIMEOUT))
    assert_code(err, grpc.StatusCode.INVALID_ARGUMENT, "name")


@pytest.mark.parametrize("cidr", ["", "not-a-cidr", "10.97.0.0", "10.97.0.0/7", "10.97.0.0/31", "300.1.0.0/16", "fd00::/64"])
def test_net_create_3_bad_cidr_invalid_argument(network_stub, cidr):
    req = joblet_pb2.CreateNetworkReq(name="sdk-net-badcidr", cidr=cidr)
    err = rpc_error(lambda: network_stub.CreateNetwork(req, timeout=RPC_TIMEOUT))
    assert_code(err, grpc.StatusCode.INVALID_ARGUMENT, "cidr")


def test_net_create_3_overlap_invalid_argument_names_the_network(client, network_stub):
    client.networks.create_network("sdk-net-overlap", "10.98.0.0/16")
    req = joblet_pb2.CreateNetworkReq(name="sdk-net-overlap-2", cidr="10.98.4.0/24")
    err = rpc_error(lambda: network_stub.CreateNetwork(req, timeout=RPC_TIMEOUT))
    assert_code(err, grpc.StatusCode.INVALID_ARGUMENT, "sdk-net-overlap")


def test_net_create_4_duplicate_name_already_exists(client, network_stub):
    client.networks.create_network("sdk-net-dup", "10.99.0.0/24")
    req = joblet_pb2.CreateNetworkReq(name="sdk-net-dup", cidr="10.100.0.0/24")
    err = rpc_error(lambda: network_stub.CreateNetwork(req, timeout=RPC_TIMEOUT))
    assert_code(err, grpc.StatusCode.ALREADY_EXISTS)
