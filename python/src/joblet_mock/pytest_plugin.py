"""The pytest plugin of joblet-mock (registered through the `pytest11` entry
point, so installing the wheel is enough).

Fixtures:

- `joblet_mock` (session scope): the `JobletMock` of the test run, started on
  first use and stopped at the end. Its options come from the fixture
  `joblet_mock_options` (a dict of `JobletMock` keyword arguments, `{}` by
  default), which a `conftest.py` may override.
- `joblet_session` (per test): a `MockSession` of its own for the test, with
  the control helpers (`verify`, `advance_clock`, `set_faults`, `calls`,
  `snapshot`, ...), `client(role=None)` and `channel(role=None)`; reset (and
  dropped) when the test ends.
- `joblet_client` (per test): `joblet_session.client()`, a
  `joblet.JobletClient` of the installed SDK whose every call carries the
  test's session: plaintext with SDK 1.x; with SDK 2.x (mutual TLS only) the
  generated admin certificate, on the TLS listener that mocks start with by
  default when SDK 2.x is installed.

Sessions make tests independent: each sees only its own jobs, networks,
volumes, clock, faults and journal, so counting tests stay right in any order
and under pytest-xdist (each worker runs its own mock; tests within it are
isolated by their sessions).

The marker `@pytest.mark.joblet_mock(**options)` asks for a mock started with
other options (`profile="server-v1"`, `clock="manual"`, `gpus=4`, `api="v2"`,
`roles="four"`, ...): tests
with the same options share one such mock, each in its own session. Two
options act on the test's session alone instead: `faults=[rules]` (set through
the control API) and `scenarios=[files]` (loaded through it; relative paths
are taken from the test file's directory). Markers on a module or class apply
to its tests; the closest one wins per option.

When a test that used `joblet_session` fails, its report gets a section with
the calls the session received.

`--joblet-mock-addr HOST:PORT` (or `JOBLET_MOCK_ADDR`) runs the tests against
a joblet-mock that is already running there, or against anything that
forwards to one, such as the recording proxy of `joblet-conformance record`
(which is how `fixtures/transcripts/` are recorded): no mock is started,
`joblet_mock_options` are not applied, and tests that ask the marker for
server options of their own are skipped. Sessions and the control helpers
work as usual.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

from ._control import format_calls
from ._sdk import sdk_major, sdk_version
from ._server import JobletMock, MockSession, MockStartError, binary_path

MARKER = "joblet_mock"

SERVER_OPTIONS = frozenset(
    {
        "tls",
        "api",
        "roles",
        "gpus",
        "profile",
        "quirks",
        "clock",
        "scenarios",
        "faults",
        "faults_file",
        "seed",
        "memory_budget",
        "max_jobs",
        "max_workflows",
        "mutant",
        "unknown_command",
        "journal_size",
        "max_sessions",
        "cpu_cores",
        "log_retention_bytes",
        "transcript_size",
        "record",
        "extra_args",
        "binary",
        "env",
        "ready_timeout",
    }
)
"""`JobletMock` keyword arguments accepted by `joblet_mock_options` and the marker."""

SESSION_OPTIONS = frozenset({"faults", "scenarios"})
"""Marker options applied to the test's session instead of the server."""

_SESSION_KEY = pytest.StashKey[MockSession]()
ADDR_ENV = "JOBLET_MOCK_ADDR"
"""The environment variable naming a running mock (`--joblet-mock-addr`)."""
_SESSION_CHARS = re.compile(r"[^A-Za-z0-9\-_.:/@+]")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--joblet-mock-addr",
        default=None,
        metavar="HOST:PORT",
        help=f"use the joblet-mock (or recording proxy) running at HOST:PORT instead of starting "
        f"one (default: ${ADDR_ENV})",
    )


def remote_address(config: pytest.Config) -> Optional[str]:
    """The running mock the tests use instead of starting one, if any."""
    value = config.getoption("joblet_mock_addr", default=None) or os.environ.get(ADDR_ENV, "")
    return value.strip() or None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "joblet_mock(**options): run the test against a joblet-mock started with these JobletMock "
        "options (profile, clock, gpus, seed, tls, api, roles, ...; shared by tests that ask for the same ones); "
        "faults=[rules] and scenarios=[files] are set on the test's own session",
    )


def pytest_report_header(config: pytest.Config) -> list[str]:
    version = sdk_version()
    if version is None:
        sdk = "joblet-sdk-python: not installed (joblet_client needs it)"
    elif (sdk_major() or 0) >= 2:
        sdk = f"joblet-sdk-python: {version} (clients over mutual TLS, admin by default)"
    else:
        sdk = f"joblet-sdk-python: {version} (plaintext clients, mutual TLS with a role)"
    remote = remote_address(config)
    if remote:
        return [f"joblet-mock: the one running at {remote} (--joblet-mock-addr / ${ADDR_ENV})", sdk]
    try:
        return [f"joblet-mock: {binary_path()}", sdk]
    except FileNotFoundError as e:
        return [f"joblet-mock: {e}", sdk]


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple, set, frozenset)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def _check_options(options: dict, where: str, allowed: frozenset) -> None:
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise pytest.UsageError(
            f"{where}: unknown joblet-mock option(s) {', '.join(unknown)}; "
            f"expected some of {', '.join(sorted(allowed))}"
        )


class MockPool:
    """The mocks of one test run (one per set of options), started on first
    use and stopped at the end. A mock that fails to start fails every test
    that asks for it, with the same report, without being retried."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory, remote: Optional[str] = None):
        self._tmp = tmp_path_factory
        self._mocks: dict[Any, JobletMock] = {}
        self._failed: dict[Any, str] = {}
        self.remote = remote
        """A running mock's address (`--joblet-mock-addr`): every test uses it."""
        self._attached: Optional[JobletMock] = None

    def get(self, options: dict) -> JobletMock:
        if self.remote:
            if self._attached is None:
                try:
                    self._attached = JobletMock.attach(self.remote)
                except ValueError as e:
                    raise pytest.UsageError(f"--joblet-mock-addr / ${ADDR_ENV}: {self.remote!r}: {e}")
            return self._attached
        key = _freeze(options)
        if key in self._failed:
            pytest.fail(self._failed[key], pytrace=False)
        mock = self._mocks.get(key)
        if mock is None or not mock.running:
            if mock is not None:
                code = mock._proc.poll() if mock._proc else None
                pytest.fail(
                    f"joblet-mock {mock.address} is no longer running (exit code {code}):\n{mock.stderr_tail()}",
                    pytrace=False,
                )
            options = dict(options)
            options.setdefault("workdir", self._tmp.mktemp("joblet-mock"))
            mock = JobletMock(**options)
            try:
                mock.start()
            except MockStartError as e:
                self._failed[key] = str(e)
                pytest.fail(str(e), pytrace=False)
            self._mocks[key] = mock
        return mock

    def close(self) -> None:
        for mock in self._mocks.values():
            mock.stop()
        self._mocks.clear()
        if self._attached is not None:
            self._attached.stop()


@pytest.fixture(scope="session")
def joblet_mock_options() -> dict:
    """`JobletMock` keyword arguments for the session's mock: override this
    fixture in a conftest.py, e.g. `return {"gpus": 2, "tls": True}` or
    `return {"api": "v2"}`."""
    return {}


@pytest.fixture(scope="session")
def joblet_mock_pool(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MockPool]:
    """Every mock this test run started (the session's and those of markers)."""
    pool = MockPool(tmp_path_factory, remote_address(request.config))
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture(scope="session")
def joblet_mock(joblet_mock_pool: MockPool, joblet_mock_options: dict) -> JobletMock:
    """The test run's joblet-mock (one per pytest-xdist worker)."""
    _check_options(joblet_mock_options, "joblet_mock_options", SERVER_OPTIONS)
    return joblet_mock_pool.get(joblet_mock_options)


def _marker_options(node: pytest.Item) -> dict:
    options: dict = {}
    # iter_markers yields the closest first: apply the farthest first.
    for mark in reversed(list(node.iter_markers(MARKER))):
        if mark.args:
            raise pytest.UsageError(f"{node.nodeid}: @pytest.mark.{MARKER} takes keyword options only")
        options.update(mark.kwargs)
    _check_options(options, f"{node.nodeid}: @pytest.mark.{MARKER}", SERVER_OPTIONS)
    return options


def session_name_for(node: pytest.Item) -> str:
    """A unique session name that says which test (and xdist worker) it is."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    suffix = uuid.uuid4().hex[:8]
    name = _SESSION_CHARS.sub("_", f"{worker}@{node.nodeid}")
    room = 128 - len(suffix) - 1
    if len(name) > room:
        name = name[-room:]
    return f"{name}+{suffix}"


@pytest.fixture
def joblet_session(
    request: pytest.FixtureRequest, joblet_mock_pool: MockPool, joblet_mock_options: dict
) -> Iterator[MockSession]:
    """The test's own session of a joblet-mock (see the module docs)."""
    _check_options(joblet_mock_options, "joblet_mock_options", SERVER_OPTIONS)
    marked = _marker_options(request.node)
    per_session = {k: marked.pop(k) for k in SESSION_OPTIONS if k in marked}
    if joblet_mock_pool.remote and marked:
        pytest.skip(
            f"needs a joblet-mock started with {marked}; the tests use the one running at "
            f"{joblet_mock_pool.remote} (--joblet-mock-addr / ${ADDR_ENV})"
        )
    mock = joblet_mock_pool.get({**joblet_mock_options, **marked})
    session = mock.session(session_name_for(request.node))
    if per_session.get("faults"):
        faults = per_session["faults"]
        session.set_faults(*([faults] if isinstance(faults, (str, dict)) else faults))
    scenarios = per_session.get("scenarios") or []
    for scenario in [scenarios] if isinstance(scenarios, (str, os.PathLike)) else scenarios:
        path = Path(scenario)
        if not path.is_absolute():
            path = Path(request.node.path).parent / path
        session.load_scenario(path)
    request.node.stash[_SESSION_KEY] = session
    yield session
    if not mock.running:
        code = mock._proc.poll() if mock._proc else None
        pytest.fail(
            f"joblet-mock {mock.address} stopped during the test (exit code {code}):\n{mock.stderr_tail()}",
            pytrace=False,
        )
    session.reset()


@pytest.fixture
def joblet_client(joblet_session: MockSession) -> Iterator[Any]:
    """A `joblet.JobletClient` of the installed SDK in the test's session:
    plaintext with SDK 1.x, the admin certificate over mutual TLS with SDK 2.x."""
    client = joblet_session.client()
    try:
        yield client
    finally:
        client.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    if report.when == "call" and report.failed:
        session = item.stash.get(_SESSION_KEY, None)
        if session is not None and session.mock.running:
            try:
                listing = format_calls(session.calls())
            except Exception as e:  # noqa: BLE001 - the report must not fail
                listing = f"(could not read the calls: {e})"
            report.sections.append((f"joblet-mock calls (session {session.name})", listing))
    return report
