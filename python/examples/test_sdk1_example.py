from datetime import timedelta

import pytest


@pytest.mark.joblet_mock(clock="manual")
def test_nightly_report(joblet_client, joblet_session):
    job = joblet_client.jobs.run_job(command="echo", args=["hello"])
    assert b"".join(joblet_client.jobs.get_job_logs(job["job_uuid"])) == b"hello\n"
    joblet_session.verify("RunJob", request_contains={"command": "echo"}, times=1)

    at = joblet_session.clock().now + timedelta(hours=1)
    report = joblet_client.jobs.run_job(command="echo", args=["report"], schedule=at.isoformat())
    assert report["status"] == "SCHEDULED"
    joblet_session.advance_clock("1h")
    assert joblet_client.jobs.get_job_status(report["job_uuid"])["status"] == "COMPLETED"
