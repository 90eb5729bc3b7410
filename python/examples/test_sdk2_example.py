import pytest
from joblet.proto import joblet_pb2, joblet_pb2_grpc


@pytest.mark.joblet_mock(clock="virtual")
def test_a_job_past_its_timeout_ends_timeout(joblet_client, joblet_session):
    # SDK 2.5.2's run_job sends the job, then reads fields the v2 answer lacks.
    with pytest.raises(AttributeError, match="command"):
        joblet_client.jobs.run_job(command="sleep", args=["60"], timeout="5s")
    joblet_session.verify("RunJob", request_contains={"timeout": "5s"}, code="OK", times=1)

    # The SDK's own stubs read the v2 answers: on the test's session, as the client is.
    jobs = joblet_pb2_grpc.JobServiceStub(joblet_session.channel())
    job = jobs.RunJob(joblet_pb2.RunJobRequest(command="sleep", args=["60"], timeout="5s"))
    assert list(joblet_client.jobs.get_job_logs(job.job_uuid)) == []  # ends with the job
    status = jobs.GetJobStatus(joblet_pb2.GetJobStatusRequest(uuid=job.job_uuid))
    assert (status.status, status.exit_code, status.timeout) == ("TIMEOUT", 124, "5s")
