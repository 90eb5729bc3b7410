"""Workflows through the published SDK (WF-*), raw stubs for status codes.

The ETL pipeline of `fixtures/workflows/` (extract → transform → load, the map
form with `requires` and an uploaded CSV) runs through `run_workflow`, is
followed with `get_workflow_status` to COMPLETED, and is looked at with
`list_workflows` and `get_workflow_jobs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator

import grpc
import pytest
from joblet import JobletClient, joblet_pb2
from joblet.exceptions import WorkflowNotFoundError

from helpers import RPC_TIMEOUT, assert_code, read_logs, rpc_error, stop_quietly, unknown_uuid, wait_until

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "workflows"
ETL_YAML = (FIXTURES / "etl-pipeline.yaml").read_text()
FAILING_YAML = (FIXTURES / "failing-branch.yaml").read_text()
ORDERS_CSV = (FIXTURES / "data" / "orders.csv").read_bytes()
FINAL_WORKFLOW = {"COMPLETED", "FAILED", "CANCELED"}


def wait_workflow(client, workflow_uuid: str, timeout: float = 20.0) -> dict:
    """Polls get_workflow_status until the workflow is final."""
    return wait_until(
        lambda: (
            lambda s: s if s["workflow"]["status"] in FINAL_WORKFLOW else None
        )(client.jobs.get_workflow_status(workflow_uuid)),
        timeout=timeout,
        what=f"workflow {workflow_uuid} final",
    )


@dataclass
class Etl:
    """The ETL pipeline, run to its end in a session of this module's own."""

    client: JobletClient
    uuid: str
    status: dict


@pytest.fixture(scope="module")
def etl(joblet_mock) -> Iterator[Etl]:
    # One run for the module's tests that look at it: a module-long session
    # (dropped at the end), where the plugin's per-test sessions would each
    # start empty.
    with joblet_mock.session() as session, session.client() as client:
        started = client.jobs.run_workflow(
            "etl-pipeline.yaml",
            yaml_content=ETL_YAML,
            workflow_files=[{"path": "data/orders.csv", "content": ORDERS_CSV, "mode": 0o644}],
        )
        assert started["status"] == "STARTED"
        yield Etl(client, started["workflow_uuid"], wait_workflow(client, started["workflow_uuid"]))


def test_wf_run_1_etl_pipeline_runs_to_completed(etl):
    uuid, status = etl.uuid, etl.status
    wf = status["workflow"]
    assert wf["uuid"] == uuid
    assert (wf["workflow"], wf["status"]) == ("etl-pipeline", "COMPLETED")
    assert (wf["total_jobs"], wf["completed_jobs"], wf["failed_jobs"], wf["canceled_jobs"]) == (
        3,
        3,
        0,
        0,
    )
    assert all(isinstance(wf[k], datetime) for k in ("created_at", "started_at", "completed_at"))
    assert wf["created_at"] <= wf["started_at"] <= wf["completed_at"]
    # ALL-6: the secret value never leaves the server.
    assert "not-a-real-password" not in wf["yaml_content"]
    assert wf["yaml_content"] == ETL_YAML.replace("not-a-real-password", '"***"')
    jobs = {j["job_name"]: j for j in status["jobs"]}
    assert [j["job_name"] for j in status["jobs"]] == ["extract", "transform", "load"]
    assert jobs["transform"]["dependencies"] == ["extract"]
    assert jobs["load"]["dependencies"] == ["transform"]
    for j in status["jobs"]:
        assert (j["status"], j["exit_code"]) == ("COMPLETED", 0)
        assert j["start_time"] <= j["end_time"]


def test_wf_exec_1_workflow_jobs_are_normal_jobs(etl):
    client, status = etl.client, etl.status
    jobs = {j["job_name"]: j for j in status["jobs"]}
    extract_log = read_logs(client, jobs["extract"]["job_uuid"]).decode()
    assert extract_log.startswith("extracting orders\n")
    assert ORDERS_CSV.decode() in extract_log
    load = client.jobs.get_job_status(jobs["load"]["job_uuid"])
    assert load["status"] == "COMPLETED"
    assert load["secret_environment"] == {"DB_PASSWORD": "***"}
    assert read_logs(client, jobs["load"]["job_uuid"]) == b"loading into warehouse\nload complete\n"
    listed = {j["uuid"] for j in client.jobs.list_jobs()}
    assert {j["job_uuid"] for j in status["jobs"]} <= listed


def test_wf_list_1_with_and_without_completed(etl):
    client, done = etl.client, etl.uuid
    running = client.jobs.run_workflow(
        "sleepy.yaml", yaml_content="jobs:\n  nap:\n    command: sleep\n    args: ['30']\n"
    )["workflow_uuid"]
    nap = client.jobs.get_workflow_status(running)["jobs"][0]
    try:
        assert nap["status"] == "RUNNING"
        open_ids = [w["uuid"] for w in client.jobs.list_workflows()]
        assert running in open_ids and done not in open_ids
        every = client.jobs.list_workflows(include_completed=True)
        ids = [w["uuid"] for w in every]
        assert ids.index(done) < ids.index(running), "creation order"
        listed = next(w for w in every if w["uuid"] == done)
        assert (listed["workflow"], listed["status"], listed["completed_jobs"]) == (
            "etl-pipeline",
            "COMPLETED",
            3,
        )
    finally:
        stop_quietly(client, nap["job_uuid"])


def test_wf_jobs_1_get_workflow_jobs(etl):
    client, uuid, status = etl.client, etl.uuid, etl.status
    jobs = client.jobs.get_workflow_jobs(uuid)
    assert jobs == status["jobs"]
    assert [(j["job_name"], j["status"]) for j in jobs] == [
        ("extract", "COMPLETED"),
        ("transform", "COMPLETED"),
        ("load", "COMPLETED"),
    ]


def test_wf_exec_2_failing_branch_is_canceled(client):
    uuid = client.jobs.run_workflow("failing-branch.yaml", yaml_content=FAILING_YAML)[
        "workflow_uuid"
    ]
    status = wait_workflow(client, uuid)
    assert status["workflow"]["status"] == "FAILED"
    assert [(j["job_name"], j["status"]) for j in status["jobs"]] == [
        ("flaky", "FAILED"),
        ("report", "CANCELED"),
        ("alert", "COMPLETED"),
        ("backup", "COMPLETED"),
    ]
    assert status["workflow"]["canceled_jobs"] == 1


def test_wf_status_2_unknown_workflow_is_not_found(client, job_stub):
    with pytest.raises(WorkflowNotFoundError):
        client.jobs.get_workflow_status(unknown_uuid())
    err = rpc_error(
        lambda: job_stub.GetWorkflowStatus(
            joblet_pb2.GetWorkflowStatusRequest(workflowUuid=unknown_uuid()), timeout=RPC_TIMEOUT
        )
    )
    assert_code(err, grpc.StatusCode.NOT_FOUND, "not found")


def test_wf_run_2_invalid_workflow_is_invalid_argument(client, job_stub):
    cycle = (
        "jobs:\n  a: {command: echo, requires: [{b: COMPLETED}]}\n"
        "  b: {command: echo, requires: [{a: COMPLETED}]}\n"
    )
    err = rpc_error(
        lambda: job_stub.RunWorkflow(
            joblet_pb2.RunWorkflowRequest(workflow="cycle.yaml", yamlContent=cycle),
            timeout=RPC_TIMEOUT,
        )
    )
    assert_code(err, grpc.StatusCode.INVALID_ARGUMENT, "yamlContent", "circular dependency")
    # The ETL pipeline without its file: the upload is missing.
    with pytest.raises(WorkflowNotFoundError, match="data/orders.csv"):
        client.jobs.run_workflow("etl-pipeline.yaml", yaml_content=ETL_YAML)
