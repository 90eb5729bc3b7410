"""The pytest plugin, run in inner pytest sessions (pytester): fixtures,
session isolation, the marker, failure reports and option errors. Runs
under either SDK: the inner tests use what both SDKs read alike, or
`sdk_compat`'s raw stubs."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdk_compat import SDK

HERE = Path(__file__).resolve().parent


@pytest.fixture
def pytester(pytester: pytest.Pytester) -> pytest.Pytester:
    # The inner tests may import sdk_compat.
    pytester.syspathinsert(HERE)
    return pytester


def test_fixtures_give_each_test_its_own_session(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("n", range(3))
        def test_counts_only_its_own_networks(joblet_client, joblet_session, joblet_mock, n):
            for i in range(n + 1):
                joblet_client.networks.create_network(f"net{i}", f"10.{i}.0.0/24")
            assert len(joblet_client.networks.list_networks()) == 1 + n + 1   # bridge and its own
            assert joblet_client.jobs.list_jobs() == []
            assert joblet_session.mock is joblet_mock
            assert joblet_session.verify("CreateNetwork") == n + 1
            assert joblet_mock.calls() == []   # the default session saw nothing
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    # The header names the binary and the SDK the clients are of.
    result.stdout.fnmatch_lines(["joblet-mock: *joblet-mock", "joblet-sdk-python: *"])


def test_joblet_client_is_of_the_installed_sdk(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        from sdk_compat import SDK

        def test_client(joblet_client, joblet_mock):
            tls_port = joblet_mock.tls_address and int(joblet_mock.tls_address.rsplit(":", 1)[1])
            # SDK 1.x: plaintext; SDK 2.x: admin over mutual TLS (the mock has TLS on).
            assert joblet_client.port == (tls_port if SDK >= 2 else joblet_mock.port)
            assert joblet_mock.tls is (SDK >= 2)
            assert joblet_client.networks.create_network("mine", "10.9.0.0/24")["name"] == "mine"
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_api_and_roles_are_options_of_the_fixture_and_the_marker(pytester: pytest.Pytester):
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def joblet_mock_options():
            return {"api": "v2"}
        """
    )
    pytester.makepyfile(
        """
        import pytest

        def test_v2_node(joblet_session, joblet_client):
            assert joblet_session.mock.flags == ["--api", "v2"]
            assert joblet_client.monitoring.get_system_status()["server_version"]["proto_tag"] == "v2.5.9"

        @pytest.mark.joblet_mock(api="v1", roles="four", tls=True)
        def test_v1_node_four_roles(joblet_session, joblet_client):
            assert joblet_session.mock.flags == ["--api", "v1", "--roles", "four"]
            assert joblet_client.monitoring.get_system_status()["server_version"]["proto_tag"] == "v1.0.6"
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_options_fixture_and_marker_choose_the_mock(pytester: pytest.Pytester):
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def joblet_mock_options():
            return {"gpus": 1}
        """
    )
    pytester.makepyfile(
        """
        import pytest

        pytestmark = pytest.mark.joblet_mock(seed=1)

        def test_module_marker(joblet_session, joblet_mock):
            assert joblet_session.mock is not joblet_mock
            assert joblet_session.mock.flags == ["--gpus", "1", "--seed", "1"]

        @pytest.mark.joblet_mock(clock="manual", seed=2)
        def test_closest_marker_wins(joblet_session):
            assert joblet_session.mock.flags == ["--gpus", "1", "--clock", "manual", "--seed", "2"]
            assert joblet_session.clock().mode == "manual"

        @pytest.mark.joblet_mock(faults=["RunJob:fail=UNAVAILABLE"])
        def test_faults_stay_in_the_session(joblet_session, joblet_mock):
            assert len(joblet_session.faults()) == 1
            assert joblet_session.mock.flags == ["--gpus", "1", "--seed", "1"]
            with joblet_mock.session() as other:
                assert other.faults() == []
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_marker_mocks_are_shared_by_equal_options(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        import pytest

        SEEN = []

        @pytest.mark.joblet_mock(clock="virtual")
        def test_a(joblet_session):
            SEEN.append(joblet_session.mock.pid)

        @pytest.mark.joblet_mock(clock="virtual")
        def test_b(joblet_session):
            SEEN.append(joblet_session.mock.pid)
            assert SEEN[0] == SEEN[1]
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_scenarios_in_the_marker_are_relative_to_the_test_file(pytester: pytest.Pytester):
    pytester.makefile(
        ".yaml",
        train='scenarios:\n  - match: { command: "python*" }\n    steps: [ { print: "scripted" } ]\n',
    )
    pytester.makepyfile(
        """
        import pytest

        from sdk_compat import run_job

        @pytest.mark.joblet_mock(scenarios=["train.yaml"])
        def test_scripted(joblet_client, joblet_session):
            job_uuid = run_job(joblet_session.channel(), "python", "x.py")
            assert b"".join(joblet_client.jobs.get_job_logs(job_uuid)) == b"scripted\\n"
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_a_failed_test_reports_its_calls(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        def test_fails(joblet_client, joblet_session):
            joblet_client.networks.create_network("seen", "10.8.0.0/24")
            joblet_session.verify("RemoveNetwork")
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*verification failed: expected RemoveNetwork calls in session*at least 1 time, but 0 matched",
            "*Received 1 call(s):",
            '*#1 joblet.NetworkService/CreateNetwork session=* code=OK request={"cidr":"10.8.0.0/24","name":"seen"}',
            "*joblet-mock calls (session main@test_a_failed_test_reports_its_calls.py::test_fails+*",
        ]
    )


def test_an_unknown_marker_option_is_a_usage_error(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.joblet_mock(colck="manual")
        def test_typo(joblet_session):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*unknown joblet-mock option(s) colck*"])


def test_a_mock_that_cannot_start_fails_its_tests_once_each(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.joblet_mock(profile="no-such-profile")
        def test_one(joblet_session):
            pass

        @pytest.mark.joblet_mock(profile="no-such-profile")
        def test_two(joblet_session):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*joblet-mock exited with code*no-such-profile*"])


def test_the_marker_is_registered(pytester: pytest.Pytester):
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.joblet_mock(**options)*"])


def test_a_running_mock_can_be_used_instead_of_starting_one(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
):
    from joblet_mock import JobletMock

    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def joblet_mock_options():
            return {"gpus": 1}   # not applied to a running mock
        """
    )
    pytester.makepyfile(
        """
        import pytest

        from sdk_compat import run_job

        def test_uses_the_running_mock(joblet_session, joblet_mock):
            assert joblet_mock.attached and joblet_mock.pid is None
            run_job(joblet_session.channel(), "echo", "through")
            assert joblet_session.verify("RunJob") == 1

        @pytest.mark.joblet_mock(clock="manual")
        def test_server_options_are_skipped(joblet_session):
            raise AssertionError("not reached")
        """
    )
    with JobletMock() as mock:
        result = pytester.runpytest("-p", "no:cacheprovider", f"--joblet-mock-addr={mock.address}")
        result.assert_outcomes(passed=1, skipped=1)
        result.stdout.fnmatch_lines([f"joblet-mock: the one running at {mock.address}*"])
        # The test's session was on this mock, and reset when the test ended.
        assert [c.method for c in mock.calls()] == []
        assert [s.name for s in mock.sessions()] == ["default"]
    with JobletMock() as mock:
        result = pytester.runpytest("-p", "no:cacheprovider", "-k", "uses_the_running", "-rs")
        # Without the option the plugin starts its own mock (the test asserts it is attached).
        result.assert_outcomes(failed=1)
        monkeypatch.setenv("JOBLET_MOCK_ADDR", mock.address)
        result = pytester.runpytest("-p", "no:cacheprovider", "-k", "uses_the_running")
        result.assert_outcomes(passed=1)


def test_attach_checks_the_address():
    from joblet_mock import JobletMock

    with pytest.raises(ValueError):
        JobletMock.attach("no-port")
    mock = JobletMock.attach("http://127.0.0.1:1/")
    assert mock.address == "127.0.0.1:1" and mock.running and mock.attached
    assert repr(mock) == "<JobletMock attached to 127.0.0.1:1>"
    with pytest.raises(RuntimeError, match="has no certificates"):
        mock.client(role="viewer")
    if SDK >= 2:
        # SDK 2.x has no plaintext client: the error says what to use instead.
        with pytest.raises(RuntimeError, match=r"2.x speaks mutual TLS only.*no certificates: use channel\(\)"):
            mock.client()
    mock.stop()
