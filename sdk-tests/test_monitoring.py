"""MonitoringService through the published SDK (MON-*), raw stubs for status codes."""

from __future__ import annotations

import time
from datetime import datetime

import grpc
from joblet import joblet_pb2

from helpers import RPC_TIMEOUT, assert_code, rpc_error


def _pct(x: float) -> bool:
    return 0.0 <= x <= 100.0


def test_mon_status_1_get_system_status_fields(client, cleanup_jobs):
    job = client.jobs.run_job(command="sleep", args=["30"])
    cleanup_jobs.append(job["job_uuid"])

    st = client.monitoring.get_system_status()
    assert st["available"] is True
    datetime.fromisoformat(st["timestamp"])  # RFC 3339

    host = st["host"]
    for key in ("hostname", "os", "kernel_version", "architecture", "node_id"):
        assert host[key], f"host.{key} is empty: {host}"
    assert host["cpu_count"] > 0 and host["total_memory"] > 0
    assert host["uptime"] >= 0
    assert host["server_ips"], host

    cpu = st["cpu"]
    assert cpu["cores"] > 0 and _pct(cpu["usage_percent"]), cpu
    assert all(_pct(c) for c in cpu["per_core_usage"]), cpu

    mem = st["memory"]
    assert mem["total_bytes"] > 0 and _pct(mem["usage_percent"]), mem
    assert mem["used_bytes"] + mem["free_bytes"] == mem["total_bytes"], mem

    assert st.get("disks"), "at least one disk"
    for d in st["disks"]:
        assert d["used_bytes"] + d["free_bytes"] == d["total_bytes"], d
        assert _pct(d["usage_percent"]), d
    assert st.get("networks"), "at least one network interface"
    for n in st["networks"]:
        assert n["interface"] and n["bytes_received"] >= 0 and n["bytes_sent"] >= 0, n
    assert "io" in st
    assert st["io"]["read_bytes"] >= 0 and st["io"]["write_bytes"] >= 0

    procs = st["processes"]
    assert procs["total_processes"] > 0
    assert min(procs["running_processes"], procs["sleeping_processes"], procs["zombie_processes"]) >= 0
    assert procs.get("top_by_cpu") and procs.get("top_by_memory"), procs
    # The server itself and the running job are among the processes listed.
    commands = " ".join(p["command"] + " " + p["name"] for p in procs["top_by_cpu"] + procs["top_by_memory"])
    assert "sleep" in commands, commands

    assert st.get("server_version", {}).get("version"), st.get("server_version")


def test_mon_stream_1_two_samples_then_stop(client):
    stream = client.monitoring.stream_system_metrics(interval_seconds=1)
    started = time.monotonic()
    arrivals = []
    samples = []
    try:
        for sample in stream:
            arrivals.append(time.monotonic() - started)
            samples.append(sample)
            if len(samples) == 2:
                break
    finally:
        stream.close()  # the SDK generator cancels the call when closed
    assert len(samples) == 2
    assert arrivals[0] < 1.0, f"first sample must come at once, came after {arrivals[0]:.2f}s"
    assert 0.5 <= arrivals[1] - arrivals[0] <= 3.0, arrivals
    for s in samples:
        assert s["timestamp"] and s["host"]["hostname"], s
        assert "cpu" in s and "memory" in s


def test_mon_stream_2_metric_types_filter(monitoring_stub):
    req = joblet_pb2.StreamMetricsReq(intervalSeconds=1, metricTypes=["cpu"])
    call = monitoring_stub.StreamSystemMetrics(req, timeout=RPC_TIMEOUT)
    try:
        first = next(call)
    finally:
        call.cancel()
    assert first.timestamp and first.host.hostname
    assert first.cpu.cores > 0
    assert first.memory.totalBytes == 0 and len(first.disks) == 0 and len(first.networks) == 0


def test_mon_stream_2_unknown_metric_type_invalid_argument(monitoring_stub):
    req = joblet_pb2.StreamMetricsReq(intervalSeconds=1, metricTypes=["cpu", "gpu-temperature"])

    def first_message():
        call = monitoring_stub.StreamSystemMetrics(req, timeout=RPC_TIMEOUT)
        try:
            return next(call)
        finally:
            call.cancel()

    assert_code(rpc_error(first_message), grpc.StatusCode.INVALID_ARGUMENT, "gpu-temperature")


def test_mon_status_1_sdk_health_check(client):
    assert client.health_check() is True
