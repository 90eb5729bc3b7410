import pytest
from joblet.exceptions import NetworkError


@pytest.mark.joblet_mock(faults=["CreateNetwork:fail=UNAVAILABLE/bridge busy:times=1"])
def test_network_setup_survives_one_failure(joblet_client, joblet_session):
    with pytest.raises(NetworkError, match="bridge busy"):
        joblet_client.networks.create_network("backend", "10.10.0.0/24")
    created = joblet_client.networks.create_network("backend", "10.10.0.0/24")  # the fault fired once
    assert created["bridge"] != "" and created["cidr"] == "10.10.0.0/24"
    assert [n["name"] for n in joblet_client.networks.list_networks()] == ["bridge", "backend"]
    joblet_session.verify("CreateNetwork", request_contains={"name": "backend"}, times=2)
    joblet_session.verify("CreateNetwork", code="UNAVAILABLE", times=1)
