"""JobletMock against the installed binary: start and stop, clients of the
installed SDK (1.x: plaintext and mutual TLS; 2.x: mutual TLS), sessions, and
every control helper. Runs under either SDK (sdk_compat)."""

from __future__ import annotations

import json
from datetime import timedelta
from importlib import metadata

import grpc
import pytest
from joblet.exceptions import NetworkError

from joblet_mock import JobletMock, MockStartError, VerificationError, binary_path, sdk_major, sdk_version
from sdk_compat import SDK, job_ids, job_status, jobs_stub, pb2, run_job, sdk1_only, sdk2_only, wait_final


@pytest.fixture(scope="module")
def mock():
    with JobletMock(tls=True, gpus=1) as m:
        yield m


@pytest.fixture
def session(mock):
    with mock.session() as s:
        yield s


def tls_port(mock) -> int:
    return int(mock.tls_address.rsplit(":", 1)[1])


def test_the_binary_comes_from_the_wheel():
    path = binary_path()
    assert path.is_file() and path.name == "joblet-mock"


def test_the_installed_sdk_is_detected():
    assert sdk_version() == metadata.version("joblet-sdk-python")
    assert sdk_major() == SDK == int(sdk_version().split(".")[0]) and SDK in (1, 2)


def test_start_listens_on_loopback_and_stop_ends_the_process():
    mock = JobletMock()
    with mock:
        assert mock.running and mock.host == "127.0.0.1" and mock.port > 0
        # TLS by default only with SDK 2.x, which speaks nothing else.
        assert mock.tls is (SDK >= 2)
        if SDK >= 2:
            assert mock.tls_address.startswith("127.0.0.1:") and mock.rnx_config.is_file()
        else:
            assert mock.tls_address is None and mock.rnx_config is None
        proc = mock._proc
        with mock.client() as c:
            assert c.jobs.list_jobs() == []
    assert not mock.running and proc.poll() is not None
    assert not mock.workdir.exists(), "the temporary workdir is removed"
    mock.stop()  # idempotent


def test_a_workdir_given_is_kept_with_the_stderr_log(tmp_path):
    with JobletMock(workdir=tmp_path / "w") as mock:
        pass
    assert mock.stderr_log == tmp_path / "w" / "joblet-mock.stderr.log"
    assert mock.stderr_log.is_file()


def test_a_bad_flag_fails_start_with_the_reason():
    with pytest.raises(MockStartError) as info:
        JobletMock(faults=["RunJob:explode=1"]).start()
    text = str(info.value)
    assert "exited with code" in text and "RunJob:explode=1" in text, text


def test_an_unknown_flag_fails_start_naming_it():
    with pytest.raises(MockStartError, match="--no-such-flag"):
        JobletMock(extra_args=["--no-such-flag"]).start()


def test_environment_knobs_do_not_leak_in(monkeypatch):
    monkeypatch.setenv("JOBLET_MOCK_CLOCK", "no-such-clock")
    with JobletMock() as mock:
        assert mock.clock().mode == "real"


def test_the_client_reads_a_jobs_logs_in_its_session(session):
    with session.channel() as ch, session.client() as c:
        job_uuid = run_job(ch, "echo", "hello")
        assert b"".join(c.jobs.get_job_logs(job_uuid)) == b"hello\n"
    session.verify("RunJob", request_contains={"command": "echo", "args": ["hello"]}, times=1)
    session.verify("GetJobLogs", request_contains={"uuid": job_uuid}, times=1)
    session.verify("StopJob", times=0)


@sdk1_only
def test_sdk1_client_is_plaintext_and_runs_jobs(session):
    with session.client() as c:
        assert c.insecure is True and c.port == session.mock.port
        job = c.jobs.run_job(command="echo", args=["hello"])
        assert b"".join(c.jobs.get_job_logs(job["job_uuid"])) == b"hello\n"
        assert c.jobs.get_job_status(job["job_uuid"])["status"] == "COMPLETED"
    session.verify("RunJob", request_contains={"command": "echo", "args": ["hello"]}, times=1)


@sdk2_only
def test_sdk2_client_is_admin_over_mutual_tls_and_keeps_the_sdks_defects(session):
    with session.client() as c:
        assert (c.host, c.port) == ("127.0.0.1", tls_port(session.mock))
        assert c.networks.create_network("admins", "10.40.0.0/24")["bridge"] == "joblet-admins"
        # Not patched: SDK 2.5.2 reads fields the v2 answer lacks (facts §1.5).
        with pytest.raises(AttributeError, match="command"):
            c.jobs.run_job(command="echo", args=["sent"])
    session.verify("RunJob", request_contains={"args": ["sent"]}, code="OK", times=1)
    session.verify("CreateNetwork", code="OK", times=1)


def test_tls_clients_have_their_roles(session):
    with session.client(role="admin") as admin, session.client(role="viewer") as viewer:
        assert admin.port == tls_port(session.mock) and viewer.port == tls_port(session.mock)
        admin.networks.create_network("over-tls", "10.41.0.0/24")
        assert "over-tls" in [n["name"] for n in viewer.networks.list_networks()]
        with pytest.raises(NetworkError, match="role viewer is not allowed"):
            viewer.networks.create_network("refused", "10.42.0.0/24")
    # TLS calls land in the session's journal (refused ones are not journaled:
    # authorization comes first).
    session.verify("CreateNetwork", request_contains={"name": "over-tls"}, code="OK", times=1)
    session.verify("CreateNetwork", times=1)
    session.verify("ListNetworks", times=1)


def test_raw_channels_reach_the_session_in_plaintext_and_tls(session):
    with session.channel() as plain, session.channel(role="viewer") as tls:
        job_uuid = run_job(plain, "true")
        assert job_ids(tls) == [job_uuid]
        with pytest.raises(grpc.RpcError) as info:
            jobs_stub(tls).RunJob(pb2.RunJobRequest(command="true"), timeout=10)
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_tls_roles_need_a_tls_mock():
    with JobletMock(tls=False) as mock:
        assert mock.tls_address is None
        with pytest.raises(RuntimeError, match=r"JobletMock\(tls=True\)"):
            mock.client(role="viewer")
        with pytest.raises(ValueError, match="role"):
            mock.client(role="root")
        if SDK >= 2:
            # SDK 2.x has no plaintext client: the error names the fix.
            with pytest.raises(RuntimeError, match=r"2.x speaks mutual TLS only: start the mock with JobletMock\(tls=True\)"):
                mock.client()


def test_sessions_are_isolated_from_each_other_and_the_default(mock):
    with mock.session("iso-a") as a, mock.session("iso-b") as b:
        with a.client() as ca, b.client() as cb:
            ca.networks.create_network("only-a", "10.43.0.0/24")
            assert [n["name"] for n in ca.networks.list_networks()] == ["bridge", "only-a"]
            assert [n["name"] for n in cb.networks.list_networks()] == ["bridge"]
        names = {s.name for s in mock.sessions()}
        assert {"default", "iso-a"} <= names
    # Leaving the `with` dropped them.
    assert "iso-a" not in {s.name for s in mock.sessions()}
    # Nothing reached the default session.
    assert mock.calls() == []


def test_verify_failure_lists_the_calls_received(session):
    with session.channel() as ch:
        run_job(ch, "echo", "one")
        run_job(ch, "echo", "two")
    with pytest.raises(VerificationError) as info:
        session.verify("RunJob", request_contains={"args": ["three"]}, times=1)
    text = str(info.value)
    assert text.startswith('verification failed: expected RunJob calls with request containing {"args":["three"]}')
    assert "exactly 1 time, but 0 matched" in text
    assert "Received 2 call(s):" in text
    assert '"args":["one"]' in text and '"args":["two"]' in text
    assert isinstance(info.value, AssertionError)
    with pytest.raises(VerificationError, match=r"\[matched\]"):
        session.verify("RunJob", at_most=1)
    assert session.verify("RunJob", at_least=2) == 2
    assert session.verify("Run*", request_contains={"args": ["two"]}) == 1


def test_verify_with_no_calls_says_so(session):
    with pytest.raises(VerificationError, match="No calls were received"):
        session.verify("RunJob")


def test_calls_and_clear_calls(session):
    with session.channel() as ch:
        job_uuid = run_job(ch, "echo", "x")
        job_status(ch, job_uuid)
    calls = session.calls()
    assert [c.short_method for c in calls] == ["RunJob", "GetJobStatus"]
    assert calls[0].method == "joblet.JobService/RunJob" and calls[0].code == "OK"
    assert calls[0].request["command"] == "echo" and calls[0].session == session.name
    assert calls[0].time is not None and calls[0].seq == 1
    assert [c.short_method for c in session.calls("Get*")] == ["GetJobStatus"]
    assert [c.short_method for c in session.calls(limit=1)] == ["GetJobStatus"]
    assert session.clear_calls() == 2
    assert session.calls() == []


def test_faults_set_as_lines_and_objects(session):
    rules = session.set_faults("RunJob:fail=UNAVAILABLE/busy:times=1")
    assert len(rules) == 1 and "UNAVAILABLE" in rules[0]
    rules = session.set_faults({"rpc": "StopJob", "fail": {"code": "INTERNAL"}}, append=True)
    assert len(rules) == 2 and session.faults() == rules
    with session.channel() as ch:
        with pytest.raises(grpc.RpcError) as failed:
            run_job(ch, "echo")
        assert (failed.value.code(), failed.value.details()) == (grpc.StatusCode.UNAVAILABLE, "busy")
        run_job(ch, "echo")  # times=1: passes now
    session.clear_faults()
    assert session.faults() == []
    with pytest.raises(grpc.RpcError) as info:
        session.set_faults("RunJob:explode=1")
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_load_scenario_from_text_and_path(session, tmp_path):
    yaml = 'scenarios:\n  - name: train\n    match: { command: "python*" }\n    steps: [ { print: "epoch 1" } ]\n'
    assert session.load_scenario(yaml) == ["train"]
    path = tmp_path / "more.yaml"
    path.write_text(yaml.replace("train", "train2").replace("epoch 1", "epoch 2"))
    assert session.load_scenario(path) == ["train2"]
    with session.channel() as ch, session.client() as c:
        job_uuid = run_job(ch, "python", "train.py")
        assert b"".join(c.jobs.get_job_logs(job_uuid)) == b"epoch 2\n"
    with pytest.raises(grpc.RpcError) as info:
        session.load_scenario("scenarios: [ { nope: 1 } ]")
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_snapshot_and_restore(session):
    with session.channel() as ch, session.client() as c:
        c.networks.create_network("snap-net", "10.77.0.0/24")
        job_uuid = run_job(ch, "echo", "kept")
        wait_final(ch, job_uuid)
        snap = session.snapshot()
        assert isinstance(snap, dict)
        session.reset()
        assert c.jobs.list_jobs() == [] and [n["name"] for n in c.networks.list_networks()] == ["bridge"]
        counts = session.restore(snap)
        assert counts["jobs"] == 1 and counts["networks"] >= 1
        assert job_status(ch, job_uuid) == "COMPLETED"
        assert b"".join(c.jobs.get_job_logs(job_uuid)) == b"kept\n"


def test_real_clock_cannot_be_advanced(session):
    assert session.clock().mode == "real"
    with pytest.raises(grpc.RpcError) as info:
        session.advance_clock("1s")
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_manual_clock_moves_when_told():
    with JobletMock(clock="manual") as mock, mock.channel() as ch:
        before = mock.clock()
        assert before.mode == "manual"
        job_uuid = run_job(ch, "sleep", "600")
        assert job_status(ch, job_uuid) == "RUNNING"
        after = mock.advance_clock(timedelta(minutes=10))
        assert after.now - before.now >= timedelta(minutes=10)
        assert wait_final(ch, job_uuid) == "COMPLETED"


def test_memory_budget_reaches_the_binary_and_memory_reports_it():
    with JobletMock(memory_budget=1 << 30) as mock, mock.channel() as ch:
        assert mock.args[-2:] == ["--memory-budget", str(1 << 30)]
        wait_final(ch, run_job(ch, "echo", "hello"))
        m = mock.memory()
        assert m["budget_bytes"] == 1 << 30
        assert m["used_bytes"] == m["record_bytes"] + m["log_bytes"]
        assert m["record_bytes"] > 0 and m["log_bytes"] >= len("hello\n")
        assert m["sessions"][0]["name"] == "default" and m["sessions"][0]["jobs"] == 1
        assert m["refused_run_jobs"] == 0 and not m["pressed"]


def test_transcripts_of_a_session_and_to_a_file(tmp_path):
    record = tmp_path / "all.jsonl"
    with JobletMock(transcript_size=10, record=record) as m, m.session() as s:
        with s.channel() as ch, s.client() as c:
            job_uuid = run_job(ch, "echo", "hi")
            assert b"".join(c.jobs.get_job_logs(job_uuid)) == b"hi\n"
        lines = s.transcript()
        assert [(l["method"], l["status"]["code"]) for l in lines] == [("RunJob", "OK"), ("GetJobLogs", "OK")]
        assert lines[0]["session"] == s.name and lines[0]["role"] == "admin"
        assert lines[0]["request"] == {"command": "echo", "args": ["hi"]}
        assert lines[0]["response"]["messages"][0]["jobUuid"] == job_uuid
        assert lines[1]["response"]["log"]["text"] == "hi\n"
        assert m.transcript() == []   # the default session made no call
    written = [json.loads(l) for l in record.read_text().splitlines()]
    assert sorted(l["seq"] for l in written) == [l["seq"] for l in lines]


def test_transcripts_need_the_option(session):
    with pytest.raises(grpc.RpcError) as info:
        session.transcript()
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "--transcript-size" in info.value.details()
