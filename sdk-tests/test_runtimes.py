"""RuntimeService through the published SDK (RT-*), raw stubs for status codes."""

from __future__ import annotations

import grpc
import pytest
from joblet import joblet_pb2
from joblet.exceptions import RuntimeNotFoundError

from helpers import RPC_TIMEOUT, assert_code, rpc_error, wait_for_status

REPO = "ehsaniara/joblet"


def _find(client, language: str, version: str):
    return next(
        (r for r in client.runtimes.list_runtimes() if r["language"] == language and r["version"] == version),
        None,
    )


def test_rt_list_1_list_runtimes(client):
    runtimes = client.runtimes.list_runtimes()
    by_name = {r["name"]: r for r in runtimes}
    assert "python-3.11" in by_name, sorted(by_name)
    py = by_name["python-3.11"]
    assert (py["language"], py["version"], py["available"]) == ("python", "3.11", True)
    assert py["description"] and py["size_bytes"] > 0 and py["packages"]
    assert "amd64" in py["requirements"]["architectures"]


@pytest.mark.parametrize("spec", ["python-3.11", "python:3.11"])
def test_rt_info_1_get_runtime_info(client, spec):
    info = client.runtimes.get_runtime_info(spec)
    assert info["name"] == "python-3.11"
    assert (info["language"], info["version"]) == ("python", "3.11")
    assert info["available"] is True
    assert "requirements" in info


def test_rt_info_1_unknown_runtime_not_found(client, runtime_stub):
    resp = runtime_stub.GetRuntimeInfo(joblet_pb2.RuntimeInfoReq(runtime="cobol-85"), timeout=RPC_TIMEOUT)
    assert resp.found is False
    with pytest.raises(RuntimeNotFoundError):
        client.runtimes.get_runtime_info("cobol-85")


def test_rt_info_1_empty_name_invalid_argument(runtime_stub):
    err = rpc_error(lambda: runtime_stub.GetRuntimeInfo(joblet_pb2.RuntimeInfoReq(runtime=""), timeout=RPC_TIMEOUT))
    assert_code(err, grpc.StatusCode.INVALID_ARGUMENT)


def test_rt_test_1_test_runtime(client):
    ok = client.runtimes.test_runtime("python-3.11")
    assert (ok["success"], ok["exit_code"]) == (True, 0), ok
    assert ok["output"]
    missing = client.runtimes.test_runtime("cobol-85")
    assert (missing["success"], missing["exit_code"]) == (False, 1), missing
    assert missing["error"].startswith("runtime not found"), missing


@pytest.mark.parametrize(
    "spec, normalized, info",
    [
        ("python:3.11", "python:3.11", ("python", "3.11", [], "amd64")),
        ("python:3.11-ml-gpu@arm64", "python:3.11-ml-gpu@arm64", ("python", "3.11", ["ml", "gpu"], "arm64")),
        ("node:18@amd64", "node:18", ("node", "18", [], "amd64")),
    ],
)
def test_rt_spec_1_valid_specs(client, spec, normalized, info):
    res = client.runtimes.validate_runtime_spec(spec)
    assert res["valid"] is True, res
    assert res["normalized_spec"] == normalized
    si = res["spec_info"]
    assert (si["language"], si["version"], si["variants"], si["architecture"]) == info


@pytest.mark.parametrize("spec", ["", "python", "python-3.11-ml", "cobol:85", "python:3.11@sparc", "a:b:c"])
def test_rt_spec_1_invalid_specs_are_answers_not_errors(client, spec):
    res = client.runtimes.validate_runtime_spec(spec)
    assert res["valid"] is False, res
    assert res["message"]


def test_rt_install_1_install_from_github(client):
    assert _find(client, "ruby", "3.2") is None
    resp = client.runtimes.install_runtime_from_github("ruby:3.2", repository=REPO)
    assert resp["status"] == "completed", resp
    assert resp["runtime_spec"] == "ruby:3.2"
    assert resp["repository"] == REPO and resp["resolved_path"], resp
    assert resp["message"]
    installed = _find(client, "ruby", "3.2")
    assert installed is not None, "the runtime must appear in ListRuntimes"
    assert client.runtimes.get_runtime_info("ruby:3.2")["name"] == installed["name"]


def test_rt_install_2_streamed_install_from_github(client):
    assert _find(client, "php", "8.2") is None
    chunks = list(client.runtimes.install_runtime_from_github("php:8.2", repository=REPO, stream=True))
    kinds = [c["type"] for c in chunks]
    assert kinds.count("result") == 1 and kinds[-1] == "result", kinds
    assert "progress" in kinds and "log" in kinds, kinds
    result = chunks[-1]
    assert result["success"] is True, result
    assert result["runtime_spec"] == "php:8.2"
    assert result["install_path"], result
    assert _find(client, "php", "8.2") is not None


def test_rt_install_3_reinstall_without_force_says_already_installed(client):
    first = client.runtimes.install_runtime_from_github("golang:1.22", repository=REPO)
    assert first["status"] == "completed"
    again = client.runtimes.install_runtime_from_github("golang:1.22", repository=REPO)
    assert again["status"] == "completed", again
    assert "already installed" in again["message"], again
    forced = client.runtimes.install_runtime_from_github("golang:1.22", repository=REPO, force_reinstall=True)
    assert forced["status"] == "completed", forced
    assert "already installed" not in forced["message"], forced


def local_files(lang: str, version: str) -> list[dict]:
    """What `rnx runtime install --local` would send: a setup script and a descriptor."""
    return [
        {"path": "setup.sh", "content": b"#!/bin/sh\necho installing\n", "executable": True},
        {
            "path": "runtime.yml",
            "content": f"name: {lang}-{version}\nlanguage: {lang}\nversion: '{version}'\n".encode(),
        },
    ]


def test_rt_install_1_install_from_local(client):
    assert _find(client, "java", "17") is None
    resp = client.runtimes.install_runtime_from_local("java:17", files=local_files("java", "17"))
    assert resp["status"] == "completed", resp
    assert resp["runtime_spec"] == "java:17"
    assert _find(client, "java", "17") is not None


def test_rt_install_2_streamed_install_from_local(client):
    assert _find(client, "node", "20") is None
    chunks = list(client.runtimes.install_runtime_from_local("node:20", files=local_files("node", "20"), stream=True))
    kinds = [c["type"] for c in chunks]
    assert kinds.count("result") == 1 and kinds[-1] == "result", kinds
    assert chunks[-1]["success"] is True, chunks[-1]
    assert _find(client, "node", "20") is not None


@pytest.mark.parametrize(
    "rpc, req",
    [
        ("InstallRuntimeFromGithub", joblet_pb2.InstallRuntimeRequest(runtimeSpec="", repository=REPO)),
        ("InstallRuntimeFromLocal", joblet_pb2.InstallRuntimeFromLocalRequest(runtimeSpec="", files=[])),
        (
            "InstallRuntimeFromLocal",
            joblet_pb2.InstallRuntimeFromLocalRequest(runtimeSpec="ruby:3.3", files=[]),
        ),
        ("StreamingInstallRuntimeFromGithub", joblet_pb2.InstallRuntimeRequest(runtimeSpec="", repository=REPO)),
        (
            "StreamingInstallRuntimeFromLocal",
            joblet_pb2.InstallRuntimeFromLocalRequest(runtimeSpec="ruby:3.3", files=[]),
        ),
    ],
    ids=["github-empty-spec", "local-empty-spec", "local-no-files", "stream-github-empty-spec", "stream-local-no-files"],
)
def test_rt_install_1_bad_request_invalid_argument(runtime_stub, rpc, req):
    method = getattr(runtime_stub, rpc)
    if rpc.startswith("Streaming"):
        err = rpc_error(lambda: list(method(req, timeout=RPC_TIMEOUT)))
    else:
        err = rpc_error(lambda: method(req, timeout=RPC_TIMEOUT))
    assert_code(err, grpc.StatusCode.INVALID_ARGUMENT)


def test_rt_rm_1_remove_runtime(client):
    resp = client.runtimes.install_runtime_from_github("ruby:3.4", repository=REPO)
    assert resp["status"] == "completed", resp
    name = _find(client, "ruby", "3.4")["name"]
    removed = client.runtimes.remove_runtime(name)
    assert removed["success"] is True, removed
    assert removed["freed_space_bytes"] > 0, removed
    assert _find(client, "ruby", "3.4") is None
    assert name not in {r["name"] for r in client.runtimes.list_runtimes()}


def test_rt_rm_1_unknown_runtime(client):
    resp = client.runtimes.remove_runtime("cobol-85")
    assert resp["success"] is False
    assert resp["message"] == "Runtime 'cobol-85' not found", resp


@pytest.mark.parametrize("spec", ["python-3.11", "python:3.11"])
def test_job_run_8_runtime_echoed(client, spec):
    job = client.jobs.run_job(command="echo", args=["with runtime"], runtime=spec)
    status = wait_for_status(client, job["job_uuid"], "COMPLETED")
    assert status["runtime"] == spec
    assert next(j for j in client.jobs.list_jobs() if j["uuid"] == job["job_uuid"])["runtime"] == spec
