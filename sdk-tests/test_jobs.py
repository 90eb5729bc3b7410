"""JobService through the published SDK (and raw stubs for status codes).

Each test names the behaviour it covers (docs/behaviours.md): e.g.
`test_job_stop_1_...` covers JOB-STOP-1.
"""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta

import grpc
import pytest
from joblet import joblet_pb2
from joblet.exceptions import JobNotFoundError

from helpers import (
    RPC_TIMEOUT,
    assert_code,
    read_logs,
    rpc_error,
    stop_quietly,
    unknown_uuid,
    wait_for_status,
)

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
RFC3339_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")

COUNTER_SCRIPT = (
    'for i in $(seq 1 20); do echo "Counter: $i - Time: $(date +%H:%M:%S.%3N)"; '
    'sleep 0.1; done; echo "Completed"'
)


def seq_bytes(first: int, last: int) -> bytes:
    return "".join(f"{i}\n" for i in range(first, last + 1)).encode()


def epoch(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339).timestamp()


def start_sleeper(client, cleanup_jobs, seconds: int = 30, **kw) -> str:
    job = client.jobs.run_job(command="sleep", args=[str(seconds)], **kw)
    cleanup_jobs.append(job["job_uuid"])
    assert job["status"] == "RUNNING", job
    return job["job_uuid"]


def finished_job(client, command: str = "echo", args=("done",)) -> str:
    job = client.jobs.run_job(command=command, args=list(args))
    wait_for_status(client, job["job_uuid"], {"COMPLETED", "FAILED"})
    return job["job_uuid"]


def scheduled_job(client, cleanup_jobs, in_seconds: int = 120) -> str:
    when = (datetime.now().astimezone() + timedelta(seconds=in_seconds)).isoformat(timespec="seconds")
    job = client.jobs.run_job(command="echo", args=["later"], schedule=when)
    cleanup_jobs.append(job["job_uuid"])
    assert job["status"] == "SCHEDULED", job
    return job["job_uuid"]


# ---------------------------------------------------------------- JOB-RUN-1..10


def test_job_run_1_run_job_echo(client):
    job = client.jobs.run_job(command="echo", args=["hello", "world"])
    assert UUID_RE.match(job["job_uuid"]), job
    assert job["status"] == "RUNNING"
    assert job["command"] == "echo"
    assert job["args"] == ["hello", "world"]
    assert RFC3339_RE.match(job["start_time"]), job["start_time"]
    assert job["scheduled_time"] == ""

    status = wait_for_status(client, job["job_uuid"], "COMPLETED")
    assert status["exit_code"] == 0
    assert RFC3339_RE.match(status["end_time"]), status["end_time"]
    assert read_logs(client, job["job_uuid"]) == b"hello world\n"


def test_job_run_1_and_3_limits_echoed(client):
    job = client.jobs.run_job(
        command="echo", args=["limited"], max_cpu=50, cpu_cores="0", max_memory=256, max_iobps=1000
    )
    assert (job["max_cpu"], job["cpu_cores"], job["max_memory"], job["max_iobps"]) == (50, "0", 256, 1000)
    status = client.jobs.get_job_status(job["job_uuid"])
    assert (status["max_cpu"], status["cpu_cores"], status["max_memory"], status["max_iobps"]) == (
        50,
        "0",
        256,
        1000,
    )
    listed = next(j for j in client.jobs.list_jobs() if j["uuid"] == job["job_uuid"])
    assert (listed["max_cpu"], listed["cpu_cores"], listed["max_memory"], listed["max_iobps"]) == (
        50,
        "0",
        256,
        1000,
    )


def test_job_run_3_zero_limits_mean_unlimited_and_echo_zero(client):
    job = client.jobs.run_job(command="echo", args=["unlimited"])
    assert (job["max_cpu"], job["cpu_cores"], job["max_memory"], job["max_iobps"]) == (0, "", 0, 0)
    wait_for_status(client, job["job_uuid"], "COMPLETED")


def test_job_run_10_environment_reaches_the_job(client):
    job = client.jobs.run_job(
        command="bash",
        args=["-c", 'echo "$GREETING from $WHO"'],
        environment={"GREETING": "hello", "WHO": "sdk"},
    )
    wait_for_status(client, job["job_uuid"], "COMPLETED")
    assert read_logs(client, job["job_uuid"]) == b"hello from sdk\n"
    assert client.jobs.get_job_status(job["job_uuid"])["environment"] == {"GREETING": "hello", "WHO": "sdk"}


def test_all_6_secret_environment_masked_in_status_and_list(client):
    job = client.jobs.run_job(
        command="bash",
        args=["-c", 'echo "token length ${#API_TOKEN}"'],
        environment={"PLAIN": "visible"},
        secret_environment={"API_TOKEN": "s3cr3t-value", "DB_PASSWORD": "hunter2"},
    )
    status = wait_for_status(client, job["job_uuid"], "COMPLETED")
    # The job itself sees the real value...
    assert read_logs(client, job["job_uuid"]) == b"token length 12\n"
    # ...no response ever carries it.
    assert status["secret_environment"] == {"API_TOKEN": "***", "DB_PASSWORD": "***"}
    assert status["environment"] == {"PLAIN": "visible"}
    listed = next(j for j in client.jobs.list_jobs() if j["uuid"] == job["job_uuid"])
    assert listed["secret_environment"] == {"API_TOKEN": "***", "DB_PASSWORD": "***"}
    assert listed["environment"] == {"PLAIN": "visible"}
    for view in (status, listed):
        assert "s3cr3t-value" not in repr(view) and "hunter2" not in repr(view)


def test_job_run_9_upload_file_then_cat(client):
    content = b"line one\nline two\n"
    job = client.jobs.run_job(
        command="cat",
        args=["data/hello.txt"],
        uploads=[{"path": "data/hello.txt", "content": content, "mode": 0o644}],
    )
    wait_for_status(client, job["job_uuid"], "COMPLETED")
    assert read_logs(client, job["job_uuid"]) == content
    assert "data/hello.txt" in client.jobs.get_job_status(job["job_uuid"])["uploads"]


def test_job_run_9_upload_directory_entry(client):
    job = client.jobs.run_job(
        command="bash",
        args=["-c", "test -d outdir && echo is-a-dir && cat outdir/inner.txt"],
        uploads=[
            {"path": "outdir", "is_directory": True, "mode": 0o755},
            {"path": "outdir/inner.txt", "content": b"inner file\n"},
        ],
    )
    status = wait_for_status(client, job["job_uuid"], {"COMPLETED", "FAILED"})
    logs = read_logs(client, job["job_uuid"])
    assert status["status"] == "COMPLETED", (status, logs)
    assert logs == b"is-a-dir\ninner file\n"
    assert {"outdir", "outdir/inner.txt"} <= set(status["uploads"])


def test_job_run_5_schedule_rfc3339_with_offset(client):
    due = (datetime.now().astimezone() + timedelta(seconds=2)).replace(microsecond=0)
    job = client.jobs.run_job(command="echo", args=["scheduled"], schedule=due.isoformat())
    assert job["status"] == "SCHEDULED", job
    assert RFC3339_RE.match(job["scheduled_time"]), job
    assert epoch(job["scheduled_time"]) == due.timestamp()
    assert client.jobs.get_job_status(job["job_uuid"])["status"] == "SCHEDULED"
    # JOB-LIFE-2: at its time it runs.
    status = wait_for_status(client, job["job_uuid"], "COMPLETED", timeout=15)
    assert status["scheduled_time"] == job["scheduled_time"]
    assert read_logs(client, job["job_uuid"]) == b"scheduled\n"


def test_job_run_5_schedule_without_offset_as_the_sdk_example_sends(client):
    # joblet-sdk-python examples/cancel_scheduled_job.py builds the schedule this way.
    schedule = (datetime.now() + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S")
    job = client.jobs.run_job(command="echo", args=["naive"], schedule=schedule)
    assert job["status"] == "SCHEDULED", job
    # Taken as the server's local time (same machine, same zone as this process).
    assert epoch(job["scheduled_time"]) == datetime.strptime(schedule, "%Y-%m-%dT%H:%M:%S").timestamp()
    assert client.jobs.get_job_status(job["job_uuid"])["status"] == "SCHEDULED"
    wait_for_status(client, job["job_uuid"], "COMPLETED", timeout=15)
    assert read_logs(client, job["job_uuid"]) == b"naive\n"


def test_job_run_5_schedule_in_the_past_runs_now(client):
    past = (datetime.now().astimezone() - timedelta(minutes=5)).isoformat(timespec="seconds")
    job = client.jobs.run_job(command="echo", args=["late"], schedule=past)
    assert job["status"] == "RUNNING", job
    wait_for_status(client, job["job_uuid"], "COMPLETED")


def _run_req(**kw) -> joblet_pb2.RunJobRequest:
    kw.setdefault("command", "echo")
    uploads = kw.pop("uploads", [])
    req = joblet_pb2.RunJobRequest(**kw)
    for up in uploads:
        req.uploads.append(joblet_pb2.FileUpload(**up))
    return req


def test_job_run_2_empty_command_invalid_argument(job_stub):
    err = rpc_error(lambda: job_stub.RunJob(_run_req(command=""), timeout=RPC_TIMEOUT))
    assert_code(err, grpc.StatusCode.INVALID_ARGUMENT, "command")


@pytest.mark.parametrize(
    "kw, field",
    [
        pytest.param({"maxCpu": -1}, "maxCpu", id="negative-maxCpu"),
        pytest.param({"maxMemory": -5}, "maxMemory", id="negative-maxMemory"),
        pytest.param({"maxIobps": -1}, "maxIobps", id="negative-maxIobps"),
        pytest.param({"maxCpu": 2_000_000_000}, "maxCpu", id="maxCpu-over-100-per-core"),
    ],
)
def test_job_run_3_bad_limits_invalid_argument(job_stub, kw, field):
    err = rpc_error(lambda: job_stub.RunJob(_run_req(**kw), timeout=RPC_TIMEOUT))
    assert_code(err, grpc.StatusCode.INVALID_ARGUMENT, field)


@pytest.mark.parametrize("cores", ["abc", "9999", "0,0", "1-0", "0-2,4x"])
def test_job_run_4_bad_cpu_cores_invalid_argument(job_stub, cores):
    err = rpc_error(lambda: job_stub.RunJob(_run_req(cpuCores=cores), timeout=RPC_TIMEOUT))
    assert_code(err, grpc.StatusCode.INVALID_ARGUMENT, "cpuCores")


@pytest.mark.parametrize("schedule", ["tomorrow", "5min", "2025-13-45T99:00:00", "2030-01-01 10:00"])
def test_job_run_5_bad_schedule_invalid_argument(job_stub, schedule):
    err = rpc_error(lambda: job_stub.RunJob(_run_req(schedule=schedule), timeout=RPC_TIMEOUT))
    assert_code(err, grpc.StatusCode.INVALID_ARGUMENT, "schedule")


@pytest.mark.parametrize(
    "kw",
    [
        pytest.param({"environment": {"1BAD": "x"}}, id="leading-digit"),
        pytest.param({"environment": {"BAD-NAME": "x"}}, id="dash"),
        pytest.param({"environment": {"": "x"}}, id="empty-name"),
        pytest.param({"secret_environment": {"BAD NAME": "x"}}, id="secret-space"),
        pytest.param({"environment": {"BIG": "x" * 32769}}, id="value-over-32768"),
        pytest.param({"environment": {"K": "a"}, "secret_environment": {"K": "b"}}, id="same-key-both"),
    ],
)
def test_job_run_10_bad_environment_invalid_argument(job_stub, kw):
    err = rpc_error(lambda: job_stub.RunJob(_run_req(**kw), timeout=RPC_TIMEOUT))
    assert_code(err, grpc.StatusCode.INVALID_ARGUMENT, "environment")


@pytest.mark.parametrize("path", ["../escape.txt", "a/../../b", "/etc/passwd"])
def test_job_run_9_bad_upload_path_invalid_argument(job_stub, path):
    req = _run_req(uploads=[{"path": path, "content": b"x"}])
    err = rpc_error(lambda: job_stub.RunJob(req, timeout=RPC_TIMEOUT))
    assert_code(err, grpc.StatusCode.INVALID_ARGUMENT, "uploads")


def test_job_run_6_unknown_network_invalid_argument(job_stub):
    err = rpc_error(lambda: job_stub.RunJob(_run_req(network="no-such-net"), timeout=RPC_TIMEOUT))
    assert_code(err, grpc.StatusCode.INVALID_ARGUMENT, "network")


@pytest.mark.parametrize("volumes", [["no-such-volume"], [""]])
def test_job_run_7_bad_volume_invalid_argument(job_stub, volumes):
    err = rpc_error(lambda: job_stub.RunJob(_run_req(volumes=volumes), timeout=RPC_TIMEOUT))
    assert_code(err, grpc.StatusCode.INVALID_ARGUMENT, "volume")


def test_job_run_8_unknown_runtime_invalid_argument(job_stub):
    err = rpc_error(lambda: job_stub.RunJob(_run_req(runtime="cobol:85"), timeout=RPC_TIMEOUT))
    assert_code(err, grpc.StatusCode.INVALID_ARGUMENT, "runtime")


def test_job_run_6_builtin_networks_accepted(client):
    for net in ("bridge", "isolated", "none"):
        job = client.jobs.run_job(command="echo", args=[net], network=net)
        status = wait_for_status(client, job["job_uuid"], "COMPLETED")
        assert status["network"] == net
    job = client.jobs.run_job(command="echo", args=["default"])
    assert wait_for_status(client, job["job_uuid"], "COMPLETED")["network"] == "bridge"


# ------------------------------------------------------------------- JOB-GPU


def test_job_gpu_1_gpu_indices_reported_and_freed(client):
    job = client.jobs.run_job(command="sleep", args=["30"], gpu_count=1, gpu_memory_mb=1024)
    assert job["status"] == "RUNNING", job
    status = client.jobs.get_job_status(job["job_uuid"])
    assert status["gpu_count"] == 1
    assert status["gpu_memory_mb"] == 1024
    assert len(status["gpu_indices"]) == 1 and status["gpu_indices"][0] in (0, 1), status
    listed = next(j for j in client.jobs.list_jobs() if j["uuid"] == job["job_uuid"])
    assert listed["gpu_indices"] == status["gpu_indices"]
    assert (listed["gpu_count"], listed["gpu_memory_mb"]) == (1, 1024)

    client.jobs.stop_job(job["job_uuid"])
    wait_for_status(client, job["job_uuid"], "STOPPED")
    # Freed: both GPUs can be taken at once now.
    both = client.jobs.run_job(command="sleep", args=["30"], gpu_count=2)
    try:
        assert sorted(client.jobs.get_job_status(both["job_uuid"])["gpu_indices"]) == [0, 1]
    finally:
        client.jobs.stop_job(both["job_uuid"])


def test_job_gpu_2_oversubscription_resource_exhausted(job_stub):
    stub = job_stub
    holders = []
    try:
        for _ in range(2):
            resp = stub.RunJob(_run_req(command="sleep", args=["30"], gpu_count=1), timeout=RPC_TIMEOUT)
            assert resp.status == "RUNNING"
            holders.append(resp.jobUuid)
        err = rpc_error(
            lambda: stub.RunJob(_run_req(command="sleep", args=["1"], gpu_count=1), timeout=RPC_TIMEOUT)
        )
        assert_code(err, grpc.StatusCode.RESOURCE_EXHAUSTED, "gpu")
    finally:
        for h in holders:
            stub.StopJob(joblet_pb2.StopJobReq(uuid=h), timeout=RPC_TIMEOUT)


@pytest.mark.parametrize(
    "kw",
    [
        pytest.param({"gpu_count": 3}, id="more-gpus-than-node"),
        pytest.param({"gpu_count": 1, "gpu_memory_mb": 10_000_000}, id="more-memory-than-gpu"),
        pytest.param({"gpu_count": -1}, id="negative-count"),
        pytest.param({"gpu_count": 1, "gpu_memory_mb": -1}, id="negative-memory"),
    ],
)
def test_job_gpu_2_impossible_requests_invalid_argument(job_stub, kw):
    err = rpc_error(lambda: job_stub.RunJob(_run_req(**kw), timeout=RPC_TIMEOUT))
    assert_code(err, grpc.StatusCode.INVALID_ARGUMENT, "gpu")


# ------------------------------------------------------------ JOB-LIFE / STATUS


def test_job_life_1_nonzero_exit_is_failed_with_that_code(client):
    job = client.jobs.run_job(command="bash", args=["-c", "echo oops >&2; exit 3"])
    status = wait_for_status(client, job["job_uuid"], {"COMPLETED", "FAILED"})
    assert (status["status"], status["exit_code"]) == ("FAILED", 3)
    assert status["end_time"]
    assert read_logs(client, job["job_uuid"]) == b"oops\n"


def test_job_status_1_every_field(client):
    job = client.jobs.run_job(
        command="echo",
        args=["fields"],
        name="field-check",
        max_cpu=25,
        environment={"A": "1"},
        secret_environment={"S": "hidden"},
    )
    status = wait_for_status(client, job["job_uuid"], "COMPLETED")
    assert status["uuid"] == job["job_uuid"]
    assert status["name"] == "field-check"
    assert status["command"] == "echo" and status["args"] == ["fields"]
    assert status["max_cpu"] == 25
    assert status["network"] == "bridge"
    assert status["volumes"] == [] and status["runtime"] == ""
    assert status["work_dir"] == "/work"
    assert status["environment"] == {"A": "1"} and status["secret_environment"] == {"S": "***"}
    assert RFC3339_RE.match(status["start_time"]) and RFC3339_RE.match(status["end_time"])
    assert epoch(status["start_time"]) <= epoch(status["end_time"])
    assert status["scheduled_time"] == ""
    assert status["node_id"], "nodeId must be set"


def test_all_2_unique_prefix_is_accepted(client):
    job = client.jobs.run_job(command="echo", args=["prefix"])
    wait_for_status(client, job["job_uuid"], "COMPLETED")
    prefix = job["job_uuid"][:13]
    assert client.jobs.get_job_status(prefix)["uuid"] == job["job_uuid"]


@pytest.mark.parametrize("rpc", ["GetJobStatus", "StopJob", "CancelJob", "DeleteJob", "GetJobLogs"])
def test_job_status_2_unknown_uuid_not_found(job_stub, rpc):
    # JOB-STATUS-2, JOB-STOP (unknown), JOB-CANCEL-2, JOB-DEL-2, JOB-LOGS-3.
    uid = unknown_uuid()
    calls = {
        "GetJobStatus": lambda: job_stub.GetJobStatus(joblet_pb2.GetJobStatusReq(uuid=uid), timeout=RPC_TIMEOUT),
        "StopJob": lambda: job_stub.StopJob(joblet_pb2.StopJobReq(uuid=uid), timeout=RPC_TIMEOUT),
        "CancelJob": lambda: job_stub.CancelJob(joblet_pb2.CancelJobReq(uuid=uid), timeout=RPC_TIMEOUT),
        "DeleteJob": lambda: job_stub.DeleteJob(joblet_pb2.DeleteJobReq(uuid=uid), timeout=RPC_TIMEOUT),
        "GetJobLogs": lambda: list(job_stub.GetJobLogs(joblet_pb2.GetJobLogsReq(uuid=uid), timeout=RPC_TIMEOUT)),
    }
    assert_code(rpc_error(calls[rpc]), grpc.StatusCode.NOT_FOUND)


def test_job_status_2_sdk_raises_job_not_found(client):
    with pytest.raises(JobNotFoundError):
        client.jobs.get_job_status(unknown_uuid())


# ---------------------------------------------------------------------- logs


def test_job_logs_1_echo(client):
    job = client.jobs.run_job(command="echo", args=["-n", "no newline"])
    assert read_logs(client, job["job_uuid"]) == b"no newline"
    assert client.jobs.get_job_status(job["job_uuid"])["status"] == "COMPLETED"


def test_job_logs_1_seq_1_1000(client):
    job = client.jobs.run_job(command="seq", args=["1", "1000"])
    assert read_logs(client, job["job_uuid"]) == seq_bytes(1, 1000)
    # The stream ends once the job is final, and the record already says so.
    assert client.jobs.get_job_status(job["job_uuid"])["status"] == "COMPLETED"


def test_job_logs_1_streaming_counter_follows_live_output(client):
    # The SDK's streaming example, shortened to 20 iterations.
    job = client.jobs.run_job(command="bash", args=["-c", COUNTER_SCRIPT])
    chunks = []
    status_at_first_chunk = None
    for chunk in client.jobs.get_job_logs(job["job_uuid"]):
        if not chunks:
            status_at_first_chunk = client.jobs.get_job_status(job["job_uuid"])["status"]
        chunks.append(chunk)
    assert status_at_first_chunk == "RUNNING", "the first output must arrive while the job runs"
    lines = b"".join(chunks).decode().splitlines()
    assert len(lines) == 21, lines
    for i, line in enumerate(lines[:20], start=1):
        assert re.fullmatch(rf"Counter: {i} - Time: \d{{2}}:\d{{2}}:\d{{2}}\.\d{{3}}", line), line
    assert lines[20] == "Completed"
    # The timestamps advance with the sleeps.
    times = [datetime.strptime(line.rsplit(" ", 1)[1], "%H:%M:%S.%f") for line in lines[:20]]
    assert times == sorted(times)
    assert client.jobs.get_job_status(job["job_uuid"])["status"] == "COMPLETED"


def test_job_logs_1_seq_million_complete_and_in_order(client):
    # Required by the issue: ~6.9 MB through the SDK, nothing lost, repeated or reordered.
    job = client.jobs.run_job(command="seq", args=["1000000"])
    got = b"".join(client.jobs.get_job_logs(job["job_uuid"]))
    expected = seq_bytes(1, 1_000_000)
    assert len(got) == len(expected)
    assert got == expected
    # Replay after the end is the same bytes.
    assert read_logs(client, job["job_uuid"]) == expected


def test_job_logs_2_several_readers_each_get_everything(client):
    job = client.jobs.run_job(
        command="bash", args=["-c", 'for i in 1 2 3 4 5; do echo "line $i"; sleep 0.1; done']
    )
    expected = b"".join(f"line {i}\n".encode() for i in range(1, 6))
    results: dict[int, bytes] = {}

    def reader(n: int) -> None:
        results[n] = read_logs(client, job["job_uuid"])

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results == {0: expected, 1: expected, 2: expected}
    assert read_logs(client, job["job_uuid"]) == expected


# ---------------------------------------------------------------------- list


def test_job_list_1_creation_order(client):
    ids = [client.jobs.run_job(command="echo", args=[str(i)])["job_uuid"] for i in range(4)]
    listed = [j["uuid"] for j in client.jobs.list_jobs()]
    positions = [listed.index(i) for i in ids]
    assert positions == sorted(positions), (ids, listed)
    for i in ids:
        wait_for_status(client, i, "COMPLETED")
    by_id = {j["uuid"]: j for j in client.jobs.list_jobs()}
    for n, i in enumerate(ids):
        assert by_id[i]["command"] == "echo" and by_id[i]["args"] == [str(n)]
        assert by_id[i]["status"] == "COMPLETED" and by_id[i]["exit_code"] == 0


# ---------------------------------------------------------------- stop/cancel


def test_job_stop_1_running_job_stopped_exit_minus_1(client, cleanup_jobs):
    uid = start_sleeper(client, cleanup_jobs)
    resp = client.jobs.stop_job(uid)
    assert resp["uuid"] == uid
    assert resp["status"] == "STOPPED"
    assert resp["exit_code"] == -1
    assert RFC3339_RE.match(resp["end_time"]), resp
    status = client.jobs.get_job_status(uid)
    assert (status["status"], status["exit_code"]) == ("STOPPED", -1)
    assert status["end_time"]
    # JOB-LOGS-1: the log stream of a stopped job ends.
    assert read_logs(client, uid) == b""


def test_job_stop_2_scheduled_job_becomes_canceled(client, cleanup_jobs):
    uid = scheduled_job(client, cleanup_jobs)
    resp = client.jobs.stop_job(uid)
    assert resp["status"] == "CANCELED"
    assert client.jobs.get_job_status(uid)["status"] == "CANCELED"


def test_job_stop_3_finished_job_failed_precondition(client, job_stub):
    uid = finished_job(client)
    err = rpc_error(lambda: job_stub.StopJob(joblet_pb2.StopJobReq(uuid=uid), timeout=RPC_TIMEOUT))
    assert_code(err, grpc.StatusCode.FAILED_PRECONDITION, "not running")


def test_job_cancel_1_scheduled_job_canceled_and_kept(client, cleanup_jobs):
    uid = scheduled_job(client, cleanup_jobs)
    resp = client.jobs.cancel_job(uid)
    assert resp == {"uuid": uid, "status": "CANCELED"}
    assert client.jobs.get_job_status(uid)["status"] == "CANCELED"
    assert any(j["uuid"] == uid and j["status"] == "CANCELED" for j in client.jobs.list_jobs())
    # JOB-LOGS-1: the stream of a CANCELED job ends too.
    assert read_logs(client, uid) == b""


def test_job_cancel_2_running_job_failed_precondition(client, job_stub, cleanup_jobs):
    uid = start_sleeper(client, cleanup_jobs)
    err = rpc_error(lambda: job_stub.CancelJob(joblet_pb2.CancelJobReq(uuid=uid), timeout=RPC_TIMEOUT))
    assert_code(err, grpc.StatusCode.FAILED_PRECONDITION)
    assert client.jobs.get_job_status(uid)["status"] == "RUNNING"


def test_job_cancel_2_finished_job_failed_precondition(client, job_stub):
    uid = finished_job(client)
    err = rpc_error(lambda: job_stub.CancelJob(joblet_pb2.CancelJobReq(uuid=uid), timeout=RPC_TIMEOUT))
    assert_code(err, grpc.StatusCode.FAILED_PRECONDITION)


# -------------------------------------------------------------------- delete


def test_job_del_1_finished_job_and_its_logs_are_gone(client, job_stub):
    uid = finished_job(client)
    resp = client.jobs.delete_job(uid)
    assert resp["success"] is True
    assert resp["uuid"] == uid
    with pytest.raises(JobNotFoundError):
        client.jobs.get_job_status(uid)
    assert uid not in {j["uuid"] for j in client.jobs.list_jobs()}
    err = rpc_error(lambda: list(job_stub.GetJobLogs(joblet_pb2.GetJobLogsReq(uuid=uid), timeout=RPC_TIMEOUT)))
    assert_code(err, grpc.StatusCode.NOT_FOUND)


def test_job_del_1_canceled_job_can_be_deleted(client, cleanup_jobs):
    uid = scheduled_job(client, cleanup_jobs)
    client.jobs.cancel_job(uid)
    assert client.jobs.delete_job(uid)["success"] is True


def test_job_del_2_running_job_failed_precondition(client, job_stub, cleanup_jobs):
    uid = start_sleeper(client, cleanup_jobs)
    err = rpc_error(lambda: job_stub.DeleteJob(joblet_pb2.DeleteJobReq(uuid=uid), timeout=RPC_TIMEOUT))
    assert_code(err, grpc.StatusCode.FAILED_PRECONDITION, "stop the job first")
    assert client.jobs.get_job_status(uid)["status"] == "RUNNING"


def test_job_del_2_scheduled_job_failed_precondition(client, job_stub, cleanup_jobs):
    uid = scheduled_job(client, cleanup_jobs)
    err = rpc_error(lambda: job_stub.DeleteJob(joblet_pb2.DeleteJobReq(uuid=uid), timeout=RPC_TIMEOUT))
    assert_code(err, grpc.StatusCode.FAILED_PRECONDITION, "stop the job first")


def test_job_delall_1_counts(client):
    completed = client.jobs.run_job(command="echo", args=["a"])["job_uuid"]
    failed = client.jobs.run_job(command="false")["job_uuid"]
    wait_for_status(client, completed, "COMPLETED")
    wait_for_status(client, failed, "FAILED")
    when = (datetime.now().astimezone() + timedelta(minutes=10)).isoformat(timespec="seconds")
    canceled = client.jobs.run_job(command="echo", schedule=when)["job_uuid"]
    client.jobs.cancel_job(canceled)
    stopped = client.jobs.run_job(command="sleep", args=["30"])["job_uuid"]
    client.jobs.stop_job(stopped)
    running = client.jobs.run_job(command="sleep", args=["30"])["job_uuid"]
    scheduled = client.jobs.run_job(command="echo", schedule=when)["job_uuid"]
    try:
        resp = client.jobs.delete_all_jobs()
        assert resp["success"] is True
        assert (resp["deleted_count"], resp["skipped_count"]) == (4, 2), resp
        assert [j["uuid"] for j in client.jobs.list_jobs()] == [running, scheduled]
        # Nothing left to delete but the two live ones.
        again = client.jobs.delete_all_jobs()
        assert (again["deleted_count"], again["skipped_count"]) == (0, 2)
    finally:
        stop_quietly(client, running)
        stop_quietly(client, scheduled)


def test_job_delall_1_empty_server(client):
    resp = client.jobs.delete_all_jobs()
    assert (resp["success"], resp["deleted_count"], resp["skipped_count"]) == (True, 0, 0)

