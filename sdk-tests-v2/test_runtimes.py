"""RuntimeService through SDK 2.5.2 (RT-*): the calls the SDK reads
correctly, ValidateRuntimeYAML, and BuildRuntime through the raw stub (the
SDK's build_runtime fails on the result: test_sdk_defects.py)."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from joblet.exceptions import RuntimeNotFoundError
from joblet.proto import joblet_pb2

from helpers import RPC_TIMEOUT, assert_code, rpc_error, run, status, wait_for_status

PYTHON_ML = (Path(__file__).resolve().parent.parent / "fixtures" / "runtimes" / "python-ml.yaml").read_text()

SDK_README_YAML = """\
name: python-3.11-ml
version: "1.0.0"
language: python
base_packages:
  - python3.11
  - python3.11-venv
pip_packages:
  - numpy
  - pandas
"""
"""The example of build_runtime's docstring in SDK 2.5.2 (and its README):
it breaks the node's schema (§2.6, §5.12)."""


def build(runtime_stub, yaml: str, **flags) -> list:
    """A whole BuildRuntime stream through the raw stub: its events."""
    request = joblet_pb2.BuildRuntimeRequest(yaml_content=yaml, **flags)
    return list(runtime_stub.BuildRuntime(request, timeout=RPC_TIMEOUT))


def test_rt_list_1_info_1_test_1_through_the_sdk(client):
    names = [r["name"] for r in client.runtimes.list_runtimes()]
    assert names[:2] == ["python-3.11", "python-3.11-ml"]
    info = client.runtimes.get_runtime_info("python-3.11")
    assert (info["name"], info["language"], info["version"], info["available"]) == ("python-3.11", "python", "3.11", True)
    assert client.runtimes.test_runtime("python-3.11")["success"] is True
    missing = client.runtimes.test_runtime("cobol-85")
    assert (missing["success"], missing["exit_code"]) == (False, 1) and "not found" in missing["error"]
    # found false is the SDK's RuntimeNotFoundError.
    with pytest.raises(RuntimeNotFoundError, match="Runtime cobol-85 not found"):
        client.runtimes.get_runtime_info("cobol-85")


def test_rt_info_1_empty_name_is_the_sdks_runtime_not_found_error(client):
    with pytest.raises(RuntimeNotFoundError, match="Failed to get runtime info: .*runtime"):
        client.runtimes.get_runtime_info("")


def test_rt_yaml_1_empty_yaml_is_an_answer_not_an_error(client):
    assert client.runtimes.validate_runtime_yaml("") == {
        "valid": False,
        "message": "yaml_content is required",
        "errors": ["yaml_content cannot be empty"],
    }


def test_rt_yaml_3_a_valid_yaml_and_the_sdks_parsed_spec(client):
    result = client.runtimes.validate_runtime_yaml(PYTHON_ML)
    assert result == {
        "valid": True,
        "message": "YAML specification is valid",
        "parsed_spec": {
            "name": "python-ml",
            "version": "1.0.0",
            "language": "python",
            "description": "Python 3.11 with NumPy, pandas and scikit-learn for ML jobs",
        },
    }


def test_rt_yaml_2_the_sdks_own_example_yaml_is_invalid(client):
    result = client.runtimes.validate_runtime_yaml(SDK_README_YAML)
    assert (result["valid"], result["message"]) == (False, "Validation failed")
    assert result["errors"] == [
        "schema_version is required",
        "description is required",
        "base.language is required",
        "base.version is required",
    ]


def test_rt_yaml_3_warnings_reach_the_raw_answer(runtime_stub):
    # The SDK's dict drops `warnings` and most of `spec_info`: raw stub.
    assert build(runtime_stub, PYTHON_ML)[-1].result.success
    answer = runtime_stub.ValidateRuntimeYAML(
        joblet_pb2.ValidateRuntimeYAMLRequest(yaml_content=PYTHON_ML), timeout=RPC_TIMEOUT
    )
    assert answer.valid and answer.message == "YAML specification is valid (with 1 warning(s))"
    assert list(answer.warnings) == [
        "Runtime 'python-ml' version '1.0.0' already exists at /opt/joblet/runtimes/python-ml/1.0.0"
    ]
    info = answer.spec_info
    assert (info.language_version, list(info.pip_packages), info.has_hooks, info.requires_gpu) == (
        "3.11",
        ["numpy==1.26.4", "pandas==2.2.2", "scikit-learn==1.5.0"],
        True,
        False,
    )


@pytest.mark.joblet_mock(clock="virtual")
def test_rt_build_2_4_5_a_build_through_the_raw_stub(runtime_stub, job_stub, client, joblet_session):
    events = build(runtime_stub, PYTHON_ML, verbose=True)
    phases = [e.phase for e in events if e.HasField("phase")]
    assert [p.phase_number for p in phases] == list(range(1, 15))
    assert phases[0].message == "Parsing and validating runtime specification"
    assert {e.log.level for e in events if e.HasField("log")} >= {"info", "debug"}
    results = [e.result for e in events if e.HasField("result")]
    assert len(results) == 1 and events[-1].HasField("result")
    result = results[0]
    assert (result.success, result.message, result.runtime_name, result.runtime_version) == (
        True,
        "Build completed successfully",
        "python-ml",
        "1.0.0",
    )
    assert result.install_path == "/opt/joblet/runtimes/python-ml/1.0.0" and result.size_bytes > 0
    joblet_session.verify("BuildRuntime", request_contains={"verbose": True}, times=1)
    # RT-BUILD-5: installed at once, usable by the SDK and by jobs.
    assert "python-ml" in [r["name"] for r in client.runtimes.list_runtimes()]
    assert client.runtimes.test_runtime("python-ml")["success"] is True
    job_uuid = run(job_stub, "python3", "-c", "print(1)", runtime="python-ml")
    assert status(job_stub, job_uuid).runtime == "python-ml"
    wait_for_status(job_stub, job_uuid, {"COMPLETED", "FAILED"})
    removed = client.runtimes.remove_runtime("python-ml")
    assert removed["success"] is True and "removed successfully" in removed["message"]
    assert "python-ml" not in [r["name"] for r in client.runtimes.list_runtimes()]


@pytest.mark.joblet_mock(clock="virtual")
def test_rt_build_3_a_dry_run_installs_nothing(runtime_stub, client):
    events = build(runtime_stub, PYTHON_ML, dry_run=True)
    assert [e.phase.phase_number for e in events if e.HasField("phase")] == [1, 2, 3, 4]
    assert "Dry run completed. No changes were made." in [e.log.message for e in events if e.HasField("log")]
    result = events[-1].result
    assert (result.success, result.install_path, result.size_bytes) == (True, "", 0)
    assert "python-ml" not in [r["name"] for r in client.runtimes.list_runtimes()]


@pytest.mark.joblet_mock(clock="virtual")
def test_rt_build_4_a_failed_build_ends_ok_with_one_result(runtime_stub, client):
    events = build(runtime_stub, SDK_README_YAML)
    result = events[-1].result
    assert result.success is False
    assert result.message.startswith("validation failed: validation errors:\n  - schema_version is required")
    assert sum(e.HasField("result") for e in events) == 1
    # Through the SDK the failed result is read the same way: AttributeError.
    with pytest.raises(AttributeError, match="runtime_path"):
        list(client.runtimes.build_runtime(SDK_README_YAML))


def test_rt_build_1_empty_yaml_is_invalid_argument_and_the_sdks_runtime_error(runtime_stub, client):
    err = rpc_error(lambda: build(runtime_stub, ""))
    assert_code(err, grpc.StatusCode.INVALID_ARGUMENT, "yaml_content is required")
    # The SDK turns it into the builtin RuntimeError (§2.5).
    with pytest.raises(RuntimeError, match="Failed to build runtime: yaml_content is required"):
        list(client.runtimes.build_runtime(""))


def test_rt_rm_1_unknown_runtime_through_the_sdk(client):
    removed = client.runtimes.remove_runtime("cobol-85")
    assert removed["success"] is False and "Runtime 'cobol-85' not found" in removed["message"]
