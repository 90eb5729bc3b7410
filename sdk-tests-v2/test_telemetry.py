"""Job metrics and telematics through SDK 2.5.2 (JOB-METRICS-1..3,
JOB-TELEM-1..4): the SDK reads these v2 streams correctly (as dicts that name
the job `job_id`, §2.1), and maps their errors to JobNotFoundError.

The mock simulates them on the session clock, so these tests run on a
virtual or manual clock and never wait for a sampling interval (5 s).
"""

from __future__ import annotations

import pytest
from joblet.exceptions import JobNotFoundError

from helpers import run, unknown_uuid

SECOND = 1_000_000_000


@pytest.mark.joblet_mock(clock="virtual")
def test_job_metrics_1_2_a_finished_jobs_history_through_the_sdk(client, job_stub):
    job_uuid = run(job_stub, "sleep", "12", max_memory=512)
    assert list(client.jobs.get_job_logs(job_uuid)) == []  # the job has ended
    samples = list(client.jobs.stream_job_metrics(job_uuid))
    # A sample at the start, then every 5 s within the run: 0, 5 and 10 s.
    assert [s["timestamp"] - samples[0]["timestamp"] for s in samples] == [0, 5 * SECOND, 10 * SECOND]
    for s in samples:
        assert s["job_id"] == job_uuid  # the SDK's key for job_uuid
        assert 0 <= s["cpu_percent"] <= 100 and 0 <= s["gpu_percent"] <= 100
        assert s["memory_limit"] == 512 * 1024 * 1024 and 0 <= s["memory_bytes"] <= s["memory_limit"]
    for key in ("disk_read_bytes", "disk_write_bytes", "net_recv_bytes", "net_sent_bytes"):
        values = [s[key] for s in samples]
        assert values[0] == 0 and values == sorted(values), key


@pytest.mark.joblet_mock(clock="manual")
def test_job_metrics_2_a_running_jobs_stream_follows_it(client, job_stub, joblet_session):
    job_uuid = run(job_stub, "sleep", "12")
    stream = client.jobs.stream_job_metrics(job_uuid)
    first = next(stream)
    joblet_session.advance_clock("5s")
    second = next(stream)
    assert second["timestamp"] - first["timestamp"] == 5 * SECOND
    joblet_session.advance_clock("10s")  # the job ends at 12 s
    rest = list(stream)
    assert [s["timestamp"] - first["timestamp"] for s in rest] == [10 * SECOND]


@pytest.mark.joblet_mock(clock="virtual")
def test_job_metrics_3_get_job_metrics_range_and_limit(client, job_stub):
    job_uuid = run(job_stub, "sleep", "12")
    list(client.jobs.get_job_logs(job_uuid))
    every = list(client.jobs.get_job_metrics(job_uuid))
    assert len(every) == 3
    assert list(client.jobs.get_job_metrics(job_uuid, limit=2)) == every[:2]
    assert list(client.jobs.get_job_metrics(job_uuid, start_time=every[1]["timestamp"])) == every[1:]
    assert list(client.jobs.get_job_metrics(job_uuid, end_time=every[1]["timestamp"])) == every[:2]


def test_job_metrics_3_an_unknown_job_has_no_history_and_no_error(client):
    # The SDK docstring promises JobNotFoundError; the node answers OK (§2.2, §5.5).
    assert list(client.jobs.get_job_metrics(unknown_uuid())) == []
    assert list(client.jobs.get_job_telematics(unknown_uuid())) == []


def test_job_metrics_2_unknown_or_empty_job_is_the_sdks_job_not_found_error(client):
    unknown = unknown_uuid()
    with pytest.raises(JobNotFoundError, match=f"Failed to stream metrics for job {unknown}: job not found"):
        list(client.jobs.stream_job_metrics(unknown))
    # The SDK sends an empty ID as it is; the node's INVALID_ARGUMENT is
    # wrapped the same way.
    with pytest.raises(JobNotFoundError, match="Failed to stream metrics for job : job_uuid is required"):
        list(client.jobs.stream_job_metrics(""))
    with pytest.raises(JobNotFoundError, match=f"Failed to stream telematics for job {unknown}: job not found"):
        list(client.jobs.stream_job_telematics(unknown))


@pytest.mark.joblet_mock(clock="virtual")
def test_job_telem_1_exec_and_file_events_through_the_sdk(client, job_stub):
    job_uuid = run(job_stub, "bash", "-c", "sleep 1; echo hi > out.txt")
    list(client.jobs.get_job_logs(job_uuid))
    events = list(client.jobs.stream_job_telematics(job_uuid))
    assert [e["type"] for e in events] == ["exec", "exec", "file"]
    assert all(e["job_id"] == job_uuid for e in events)
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    bash, sleep = events[0]["exec"], events[1]["exec"]
    assert (bash["pid"], bash["ppid"], bash["binary"], bash["exit_code"]) == (1, 0, "/usr/bin/bash", 0)
    assert (sleep["pid"], sleep["ppid"], sleep["binary"], sleep["args"]) == (2, 1, "/usr/bin/sleep", ["1"])
    written = events[2]["file"]
    assert written["path"].endswith("out.txt") and (written["operation"], written["bytes"]) == ("write", 3)
    assert written["flags"] == 0o1101


@pytest.mark.joblet_mock(clock="virtual")
def test_job_telem_2_4_the_types_filter_and_limit(client, job_stub):
    job_uuid = run(job_stub, "bash", "-c", "sleep 1; echo hi > out.txt")
    list(client.jobs.get_job_logs(job_uuid))
    assert [e["type"] for e in client.jobs.get_job_telematics(job_uuid, ["file"])] == ["file"]
    assert list(client.jobs.get_job_telematics(job_uuid, ["metrics"])) == []
    # Unknown strings only: no filter.
    assert [e["type"] for e in client.jobs.get_job_telematics(job_uuid, ["nope"])] == ["exec", "exec", "file"]
    assert [e["type"] for e in client.jobs.get_job_telematics(job_uuid, limit=2)] == ["exec", "exec"]
    # The alias of the SDK's older name.
    assert [e["type"] for e in client.jobs.get_job_telemetry(job_uuid, ["exec"])] == ["exec", "exec"]
