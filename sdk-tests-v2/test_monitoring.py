"""MonitoringService through SDK 2.5.2 (MON-*, CONTRACT-2): the SDK reads
these v2 answers correctly."""

from __future__ import annotations

import pytest
from joblet.exceptions import JobletConnectionError
from joblet.proto import joblet_pb2

from helpers import RPC_TIMEOUT


def test_mon_status_2_the_sdk_reads_a_v2_system_status(client):
    status = client.monitoring.get_system_status()
    assert status["available"] is True and status["timestamp"] != ""
    host = status["host"]
    assert set(host) == {
        "hostname", "os", "kernel_version", "architecture", "boot_time", "uptime", "node_id", "server_ips",
        "mac_addresses",
    }  # fmt: skip
    assert host["hostname"] and host["node_id"] and host["server_ips"]
    assert 0 <= status["cpu"]["usage_percent"] <= 100 and status["cpu"]["cores"] > 0
    memory = status["memory"]
    assert memory["used_bytes"] + memory["free_bytes"] == memory["total_bytes"]
    assert status["disks"] and status["networks"]
    assert client.health_check() is True


def test_mon_status_2_networks_carry_ip_addresses_and_mac(monitoring_stub):
    # The SDK's dicts do not show these v2 fields (its parser predates them):
    # the raw answer has them.
    raw = monitoring_stub.GetSystemStatus(joblet_pb2.EmptyRequest(), timeout=RPC_TIMEOUT)
    assert raw.networks and all(n.mac_address for n in raw.networks)
    assert any(n.ip_addresses for n in raw.networks)


def test_contract_2_server_version_tells_the_contract(client):
    version = client.monitoring.get_system_status()["server_version"]
    assert version["proto_tag"] == "v2.5.9" and version["component"] == "joblet-mock"


@pytest.mark.joblet_mock(api="v1")
def test_contract_2_a_node_of_v1_reports_its_proto_tag(client):
    assert client.monitoring.get_system_status()["server_version"]["proto_tag"] == "v1.0.6"


def test_mon_stream_1_2_the_sdk_streams_filtered_metrics(client):
    stream = client.monitoring.stream_system_metrics(interval_seconds=1, metric_types=["cpu", "memory"])
    first = next(stream)
    stream.close()
    assert first["timestamp"] != "" and "host" in first
    assert {"cpu", "memory"} <= set(first) and not {"disks", "networks", "io", "processes"} & set(first)


def test_mon_stream_2_unknown_type_is_the_sdks_connection_error(client):
    with pytest.raises(JobletConnectionError, match="Failed to stream metrics: .*gpu-temp"):
        next(client.monitoring.stream_system_metrics(metric_types=["gpu-temp"]))
