"""Pure-Python parts of joblet_mock: option → flag mapping, verification
matching, durations, session names. No binary needed."""

from __future__ import annotations

import inspect
from datetime import timedelta
from pathlib import Path

import pytest

from joblet_mock import JobletMock, json_contains
from joblet_mock._control import _duration_request, _glob_match, _times_text
from joblet_mock._grpc import check_session_name
from joblet_mock.pytest_plugin import session_name_for


def test_options_become_flags_in_order():
    mock = JobletMock(
        gpus=2,
        profile="server-v1",
        quirks=["QUIRK-4", "QUIRK-10"],
        clock="manual",
        scenarios="a.yaml",
        faults=["RunJob:fail=UNAVAILABLE", "GetJobLogs:cut_after_messages=3"],
        seed=7,
        extra_args=["--journal-size", "5"],
    )
    assert mock.flags == [
        "--gpus", "2",
        "--profile", "server-v1",
        "--quirk", "QUIRK-4",
        "--quirk", "QUIRK-10",
        "--clock", "manual",
        "--scenario", str(Path("a.yaml").resolve()),
        "--fault", "RunJob:fail=UNAVAILABLE",
        "--fault", "GetJobLogs:cut_after_messages=3",
        "--seed", "7",
        "--journal-size", "5",
    ]  # fmt: skip


def test_memory_budget_is_passed_only_when_set():
    assert "--memory-budget" not in JobletMock().flags
    assert JobletMock(memory_budget=1 << 30).flags == ["--memory-budget", str(1 << 30)]
    assert JobletMock(memory_budget="512MiB").flags == ["--memory-budget", "512MiB"]


def test_record_caps_are_passed_only_when_set():
    assert not {"--max-jobs", "--max-workflows"} & set(JobletMock().flags)
    assert JobletMock(max_jobs=500, max_workflows=0).flags == ["--max-jobs", "500", "--max-workflows", "0"]


def test_a_lone_fault_string_is_one_rule_not_characters():
    assert JobletMock(faults="RunJob:fail=UNAVAILABLE").flags == ["--fault", "RunJob:fail=UNAVAILABLE"]


@pytest.mark.parametrize("bad", [{"gpus": True}, {"faults": [{"rpc": "RunJob"}]}, {"extra_args": [1]}])
def test_bad_option_types_are_refused(bad):
    with pytest.raises(TypeError):
        JobletMock(**bad)


def test_control_before_start_says_how_to_start():
    with pytest.raises(RuntimeError, match="not running"):
        JobletMock().calls()


@pytest.mark.parametrize(
    "actual, expected, ok",
    [
        ({"command": "echo", "args": ["a", "b"]}, {"command": "echo"}, True),
        ({"command": "echo", "args": ["a", "b"]}, {"args": ["a", "b"]}, True),
        ({"command": "echo", "args": ["a", "b"]}, {"args": ["a"]}, False),
        ({"command": "echo"}, {"command": "sleep"}, False),
        ({"command": "echo"}, {"maxCpu": 0, "args": [], "network": ""}, True),  # omitted defaults
        ({"command": "echo"}, {"maxCpu": 5}, False),
        ({"maxMemory": "1024"}, {"maxMemory": 1024}, True),  # int64 as a string
        ({"maxCpu": 50}, {"maxCpu": 50.0}, True),
        ({"environment": {"A": "1", "B": "2"}}, {"environment": {"A": "1"}}, True),
        ({"gpuCount": 1}, {"gpuCount": True}, False),
        ({"flag": True}, {"flag": True}, True),
        ({"flag": True}, {"flag": 1}, False),
    ],
)
def test_json_contains(actual, expected, ok):
    assert json_contains(actual, expected) is ok


@pytest.mark.parametrize(
    "pattern, text, ok",
    [
        ("RunJob", "RunJob", True),
        ("Get*", "GetJobStatus", True),
        ("joblet.JobService/*", "joblet.JobService/RunJob", True),
        ("*Job", "joblet.JobService/StopJob", True),
        ("R?nJob", "RunJob", True),
        ("RunJob", "RunJobs", False),
        ("[R]unJob", "RunJob", False),  # no character classes: the mock's globs
    ],
)
def test_method_globs(pattern, text, ok):
    assert _glob_match(pattern, text) is ok


def test_times_wording():
    assert _times_text(0, None, None) == "never"
    assert _times_text(1, None, None) == "exactly 1 time"
    assert _times_text(None, None, None) == "at least 1 time"
    assert _times_text(None, 2, 5) == "between 2 and 5 times"
    assert _times_text(None, None, 3) == "at most 3 times"


def test_durations():
    assert _duration_request("s", "1h30m").duration == "1h30m"
    assert _duration_request("s", timedelta(minutes=2)).millis == 120_000
    assert _duration_request("s", 1.5).millis == 1500
    with pytest.raises(ValueError):
        _duration_request("s", 0)
    with pytest.raises(TypeError):
        _duration_request("s", None)


@pytest.mark.parametrize("name", ["ci-42", "a/b:c@d+e.f_g", "x" * 128])
def test_good_session_names(name):
    assert check_session_name(name) == name


@pytest.mark.parametrize("name", ["has space", "x" * 129, "tab\t", "é", "line\n"])
def test_bad_session_names(name):
    with pytest.raises(ValueError):
        check_session_name(name)


def test_session_names_of_tests_are_valid_and_unique(request):
    a, b = session_name_for(request.node), session_name_for(request.node)
    assert a != b
    assert check_session_name(a) == a
    assert "test_session_names_of_tests_are_valid_and_unique" in a


def test_api_and_roles_are_passed_only_when_set():
    assert not {"--api", "--roles"} & set(JobletMock().flags)
    assert JobletMock(api="v2", roles="four").flags == ["--api", "v2", "--roles", "four"]
    assert JobletMock(api="both").flags == ["--api", "both"]


def test_tls_defaults_to_what_the_installed_sdk_needs(monkeypatch):
    import joblet_mock._server as server

    assert JobletMock(tls=False).tls is False and JobletMock(tls=True).tls is True
    monkeypatch.setattr(server, "sdk_major", lambda: 2)
    assert JobletMock().tls is True
    monkeypatch.setattr(server, "sdk_major", lambda: 1)
    assert JobletMock().tls is False
    monkeypatch.setattr(server, "sdk_major", lambda: None)
    assert JobletMock().tls is False


def test_the_sdk_is_told_by_its_signature_without_metadata(monkeypatch):
    import joblet

    import joblet_mock._sdk as sdk

    def no_metadata(name):
        raise sdk.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(sdk.metadata, "version", no_metadata)
    assert sdk.sdk_version() == joblet.__version__
    monkeypatch.delattr(joblet, "__version__")
    expected = "1" if "insecure" in inspect.signature(joblet.JobletClient).parameters else "2"
    assert sdk.sdk_version() == expected and sdk.sdk_major() == int(expected)


def test_a_missing_or_unsupported_sdk_is_a_clear_error(monkeypatch):
    import joblet_mock._sdk as sdk

    monkeypatch.setattr(sdk, "sdk_version", lambda: None)
    with pytest.raises(RuntimeError, match=r"no Joblet SDK is installed: pip install 'joblet-sdk-python>=1.1.5,<3'"):
        sdk.require_sdk()
    monkeypatch.setattr(sdk, "sdk_version", lambda: "3.0.0")
    with pytest.raises(RuntimeError, match=r"joblet-sdk-python 3.0.0 is installed, but .* drives SDK 1.x and 2.x"):
        sdk.require_sdk()
