"""Fixtures of the SDK suite: the real `joblet-mock` binary, driven by the
published Python SDK (joblet-sdk-python 1.1.5) and by raw gRPC stubs where the
SDK hides the status code.

The binary is `$JOBLET_MOCK_BIN`, default `target/release/joblet-mock` under the
repository root. One server is shared by the whole session (`mock`); tests that
count things server-wide (DeleteAllJobs, GPU exhaustion) start a private one
with `fresh_mock`.

TLS (`--tls-listen`, `--certs-dir`) is used when the binary's `--help` offers
it; otherwise the mTLS tests are skipped with the reason.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional

import grpc
import pytest
import yaml

# The SDK's constructor reads ~/.rnx/rnx-config.yml (or $RNX_CONFIG_PATH) when not
# every connection parameter is given: point it at a file that cannot exist so a
# developer's own config never leaks into the suite. Set before the SDK is used.
os.environ["RNX_CONFIG_PATH"] = str(
    Path(tempfile.gettempdir()) / f"joblet-sdk-tests-no-such-config-{uuid.uuid4()}.yml"
)

from joblet import JobletClient, joblet_pb2_grpc  # noqa: E402

from helpers import stop_quietly  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 20.0
STOP_GRACE = 5.0
READY_RE = re.compile(r"^joblet-mock listening on (tls )?(\S+)\s*$")

def mock_bin() -> Path:
    """The joblet-mock binary under test."""
    raw = os.environ.get("JOBLET_MOCK_BIN")
    path = Path(raw) if raw else REPO_ROOT / "target" / "release" / "joblet-mock"
    if not path.is_absolute():
        path = (Path.cwd() / path).resolve()
    return path


_TLS_SUPPORT: Optional[bool] = None


def binary_supports_tls() -> bool:
    """Whether the binary offers `--tls-listen` (checked once, from `--help`)."""
    global _TLS_SUPPORT
    if _TLS_SUPPORT is None:
        if not mock_bin().is_file():
            return False  # start_mock reports the missing binary
        out = subprocess.run(
            [str(mock_bin()), "--help"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        _TLS_SUPPORT = "--tls-listen" in (out.stdout + out.stderr)
    return _TLS_SUPPORT


def _split_addr(addr: str) -> tuple[str, int]:
    host, port = addr.rsplit(":", 1)
    return host.strip("[]"), int(port)


@dataclass
class MockServer:
    """A running joblet-mock process."""

    proc: subprocess.Popen
    plain_addr: str
    tls_addr: Optional[str]
    certs_dir: Optional[Path]
    stderr_path: Path
    _reader: threading.Thread = field(repr=False, default=None)  # type: ignore[assignment]

    @property
    def host(self) -> str:
        return _split_addr(self.plain_addr)[0]

    @property
    def port(self) -> int:
        return _split_addr(self.plain_addr)[1]

    @property
    def rnx_config(self) -> Optional[Path]:
        return self.certs_dir / "rnx-config.yml" if self.certs_dir else None

    def client(self) -> JobletClient:
        """An SDK client over plaintext (h2c), as the SDK's default insecure=True."""
        return JobletClient(host=self.host, port=self.port, insecure=True)

    def channel(self) -> grpc.Channel:
        """A raw plaintext channel, for status codes the SDK hides."""
        return grpc.insecure_channel(self.plain_addr)

    def stderr_tail(self, n: int = 40) -> str:
        try:
            lines = self.stderr_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after STOP_GRACE seconds."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_GRACE)
        if self.proc.stdout:
            self.proc.stdout.close()
        if self._reader is not None:
            self._reader.join(timeout=STOP_GRACE)


def start_mock(workdir: Path, *, tls: bool, extra_args: tuple[str, ...] = ()) -> MockServer:
    """Starts joblet-mock on free loopback ports and waits for its ready line(s)."""
    binary = mock_bin()
    if not binary.is_file():
        pytest.fail(
            f"joblet-mock binary not found at {binary}: build it with "
            "`cargo build --release -p joblet-mock` or set JOBLET_MOCK_BIN",
            pytrace=False,
        )
    workdir.mkdir(parents=True, exist_ok=True)
    args = [str(binary), "--listen", "127.0.0.1:0", "--gpus", "2"]
    certs_dir: Optional[Path] = None
    if tls:
        certs_dir = workdir / "certs"
        certs_dir.mkdir(exist_ok=True)
        args += ["--tls-listen", "127.0.0.1:0", "--certs-dir", str(certs_dir)]
    args += list(extra_args)
    stderr_path = workdir / "joblet-mock.stderr.log"
    env = dict(os.environ)
    # Explicit flags win anyway; keep the mock's own env knobs out of the picture.
    for k in list(env):
        if k.startswith("JOBLET_MOCK_") and k != "JOBLET_MOCK_BIN":
            del env[k]
    env.setdefault("RUST_LOG", "warn")
    with open(stderr_path, "wb") as err:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            env=env,
            text=True,
            bufsize=1,
        )

    lines: "queue.Queue[Optional[str]]" = queue.Queue()

    def pump() -> None:
        # Reads stdout to EOF so the pipe never fills, whatever the mock prints.
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, name="joblet-mock-stdout", daemon=True)
    reader.start()

    plain_addr: Optional[str] = None
    tls_addr: Optional[str] = None
    seen: list[str] = []
    deadline = time.monotonic() + READY_TIMEOUT
    while plain_addr is None or (tls and tls_addr is None):
        left = deadline - time.monotonic()
        try:
            line = lines.get(timeout=max(left, 0.01)) if left > 0 else None
        except queue.Empty:
            line = None
        if line is None:
            exited = proc.poll()
            server = MockServer(proc, "", None, None, stderr_path, reader)
            server.stop()
            why = f"exited with {exited}" if exited is not None else f"not ready after {READY_TIMEOUT:.0f}s"
            pytest.fail(
                f"joblet-mock {why}: {' '.join(args)}\nstdout: {seen!r}\n"
                f"stderr tail:\n{server.stderr_tail()}",
                pytrace=False,
            )
        seen.append(line)
        m = READY_RE.match(line.strip())
        if m:
            if m.group(1):
                tls_addr = m.group(2)
            else:
                plain_addr = m.group(2)

    server = MockServer(proc, plain_addr, tls_addr, certs_dir, stderr_path, reader)
    if tls:
        # The config is written before the ready line; allow a moment all the same.
        cfg = server.rnx_config
        assert cfg is not None
        until = time.monotonic() + 5
        while not cfg.is_file() and time.monotonic() < until:
            time.sleep(0.05)
        if not cfg.is_file():
            server.stop()
            pytest.fail(f"joblet-mock did not write {cfg}", pytrace=False)
    return server


# --------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockServer]:
    """The session's joblet-mock (plaintext always, mTLS when the binary has it)."""
    server = start_mock(tmp_path_factory.mktemp("mock"), tls=binary_supports_tls())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_mock(tmp_path: Path) -> Iterator[MockServer]:
    """A private joblet-mock (plaintext only) for tests that count server-wide."""
    server = start_mock(tmp_path / "mock", tls=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mock_with(tmp_path: Path) -> Iterator[Callable[..., MockServer]]:
    """Factory of private joblet-mocks (plaintext only) started with extra flags,
    e.g. `mock_with("--clock", "virtual")`; each is stopped at teardown."""
    started: list[MockServer] = []

    def start(*flags: str) -> MockServer:
        server = start_mock(tmp_path / f"mock{len(started)}", tls=False, extra_args=flags)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@pytest.fixture(scope="session")
def client(mock: MockServer) -> Iterator[JobletClient]:
    """SDK client of the session's mock over plaintext."""
    c = mock.client()
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="session")
def channel(mock: MockServer) -> Iterator[grpc.Channel]:
    ch = mock.channel()
    try:
        yield ch
    finally:
        ch.close()


@pytest.fixture(scope="session")
def job_stub(channel: grpc.Channel) -> joblet_pb2_grpc.JobServiceStub:
    return joblet_pb2_grpc.JobServiceStub(channel)


@pytest.fixture(scope="session")
def network_stub(channel: grpc.Channel) -> joblet_pb2_grpc.NetworkServiceStub:
    return joblet_pb2_grpc.NetworkServiceStub(channel)


@pytest.fixture(scope="session")
def volume_stub(channel: grpc.Channel) -> joblet_pb2_grpc.VolumeServiceStub:
    return joblet_pb2_grpc.VolumeServiceStub(channel)


@pytest.fixture(scope="session")
def monitoring_stub(channel: grpc.Channel) -> joblet_pb2_grpc.MonitoringServiceStub:
    return joblet_pb2_grpc.MonitoringServiceStub(channel)


@pytest.fixture(scope="session")
def runtime_stub(channel: grpc.Channel) -> joblet_pb2_grpc.RuntimeServiceStub:
    return joblet_pb2_grpc.RuntimeServiceStub(channel)


@pytest.fixture(scope="session")
def tls_mock(mock: MockServer) -> MockServer:
    """The session's mock, skipping the test when the binary has no TLS yet."""
    if mock.tls_addr is None:
        pytest.skip(
            f"{mock_bin()} has no --tls-listen yet (checked `--help`): mTLS tests need the TLS build"
        )
    return mock


@contextlib.contextmanager
def _isolated_home() -> Iterator[None]:
    # The SDK's config loader prefers ~/.rnx/ca.crt over the CA embedded in the
    # config; a private HOME keeps a developer's CA out of the way.
    old = os.environ.get("HOME")
    with tempfile.TemporaryDirectory(prefix="joblet-sdk-home-") as home:
        os.environ["HOME"] = home
        try:
            yield
        finally:
            if old is None:
                os.environ.pop("HOME", None)
            else:
                os.environ["HOME"] = old


@pytest.fixture
def tls_client(tls_mock: MockServer) -> Iterator[Callable[[str], JobletClient]]:
    """Factory of SDK clients over mTLS from the mock's rnx-config.yml node."""
    made: list[JobletClient] = []

    def make(node_name: str) -> JobletClient:
        with _isolated_home():
            c = JobletClient(
                config_path=str(tls_mock.rnx_config), node_name=node_name, insecure=False
            )
        made.append(c)
        return c

    try:
        yield make
    finally:
        for c in made:
            c.close()


@dataclass
class TlsNode:
    address: str
    cert: bytes
    key: bytes
    ca: bytes

    def channel(self, *, with_client_cert: bool = True) -> grpc.Channel:
        if with_client_cert:
            creds = grpc.ssl_channel_credentials(
                root_certificates=self.ca, private_key=self.key, certificate_chain=self.cert
            )
        else:
            creds = grpc.ssl_channel_credentials(root_certificates=self.ca)
        return grpc.secure_channel(self.address, creds)


@pytest.fixture
def tls_node(tls_mock: MockServer) -> Callable[[str], TlsNode]:
    """Reads one node (`default` or `viewer`) of the mock's rnx-config.yml."""

    def read(name: str) -> TlsNode:
        cfg = yaml.safe_load(Path(tls_mock.rnx_config).read_text())
        node = cfg["nodes"][name]
        return TlsNode(
            address=node["address"],
            cert=node["cert"].encode(),
            key=node["key"].encode(),
            ca=node["ca"].encode(),
        )

    return read


@pytest.fixture
def cleanup_jobs(client: JobletClient) -> Iterator[list[str]]:
    """A list the test appends job UUIDs to; each is stopped/canceled at teardown."""
    ids: list[str] = []
    yield ids
    for job_uuid in ids:
        stop_quietly(client, job_uuid)

