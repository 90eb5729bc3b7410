"""`JobletMock`: the `joblet-mock` binary as a context manager, and
`MockSession`: one named session of it."""

from __future__ import annotations

import atexit
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import uuid
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Optional, Union

import grpc

from ._control import Controls, SessionInfo, as_list, sessions_from_pb
from ._grpc import check_session_name, tls_credentials, with_session
from ._proto import mock_control_pb2 as pb
from ._proto import mock_control_pb2_grpc as pb_grpc
from ._sdk import require_sdk, sdk_major

if TYPE_CHECKING:  # the SDK is imported when a client is made
    from joblet import JobletClient

READY_TIMEOUT = 20.0
"""Seconds to wait for the ready line(s) before giving up."""

STOP_GRACE = 5.0
"""Seconds between SIGTERM and SIGKILL when stopping."""

_READY_RE = re.compile(r"^joblet-mock listening on (tls )?(\S+)\s*$")
_BINARY = "joblet-mock.exe" if os.name == "nt" else "joblet-mock"
ROLES = ("admin", "viewer")
_NODE_OF_ROLE = {"admin": "default", "viewer": "viewer"}


class MockStartError(RuntimeError):
    """The binary exited, or did not print its ready line in time. The message
    has the command line, what it printed and the tail of its stderr."""


def binary_path() -> Path:
    """The `joblet-mock` binary to run: `$JOBLET_MOCK_BIN` if set, else the one
    this package's wheel installed beside the interpreter, else the first on
    PATH."""
    env = os.environ.get("JOBLET_MOCK_BIN")
    if env:
        path = Path(env).expanduser()
        if not path.is_absolute():
            path = Path.cwd() / path
        if not path.is_file():
            raise FileNotFoundError(f"JOBLET_MOCK_BIN={env}: no such file")
        return path
    schemes = [sysconfig.get_path("scripts")]
    try:
        schemes.append(sysconfig.get_path("scripts", f"{os.name}_user"))
    except KeyError:  # pragma: no cover - platform without a user scheme
        pass
    for scripts in schemes:
        if scripts and (Path(scripts) / _BINARY).is_file():
            return Path(scripts) / _BINARY
    found = shutil.which(_BINARY)
    if found:
        return Path(found)
    raise FileNotFoundError(
        f"{_BINARY} not found beside {sys.executable} nor on PATH: install the joblet-mock "
        "wheel (pip install joblet-mock) or set JOBLET_MOCK_BIN"
    )


def _split_addr(addr: str) -> tuple[str, int]:
    host, port = addr.rsplit(":", 1)
    return host.strip("[]"), int(port)


# Mocks still running when the interpreter exits are stopped, so an aborted
# test run leaves no server behind.
_RUNNING: "weakref.WeakSet[JobletMock]" = weakref.WeakSet()


@atexit.register
def _stop_leftovers() -> None:  # pragma: no cover - exercised at interpreter exit
    for mock in list(_RUNNING):
        mock.stop()


class JobletMock(Controls):
    """A `joblet-mock` process on free loopback ports.

    ```python
    with JobletMock(gpus=2, clock="manual") as mock:
        client = mock.client()
        client.networks.create_network("backend", "10.10.0.0/24")
        mock.verify("CreateNetwork", times=1)
    ```

    Options mirror the binary's flags and are passed only when given:
    `tls` (`--tls-listen 127.0.0.1:0` with certificates and `rnx-config.yml`
    generated into `certs_dir`; by default on when the installed SDK is 2.x,
    which speaks mutual TLS only, and off with SDK 1.x), `api` ("both", "v1"
    or "v2": the wire contracts served, `--api`), `roles` ("two" or "four":
    the role model of the TLS listener, `--roles`), `gpus`, `profile`
    ("documented", "server-v1" or "server-v2"), `quirks`, `clock` ("real", "virtual" or
    "manual"),
    `scenarios` (files), `faults` (`--fault` rules), `faults_file`, `seed`,
    `memory_budget` (`--memory-budget`), `max_jobs`, `max_workflows`, `mutant`, `unknown_command`,
    `journal_size`, `max_sessions`, `cpu_cores`, `log_retention_bytes`,
    `transcript_size` (calls kept per session for `transcript()`), `record`
    (a transcript file of every call), and `extra_args` for any other flag. `binary` overrides `binary_path()`;
    `workdir` keeps the stderr log (`joblet-mock.stderr.log`) and certificates
    there instead of in a temporary directory removed at `stop()`.

    The control methods (`reset`, `advance_clock`, `set_faults`, `calls`,
    `verify`, `snapshot`, `restore`, ...) act on the default session;
    `session(name)` gives a `MockSession` for another one.
    """

    def __init__(
        self,
        *,
        tls: Optional[bool] = None,
        api: Optional[str] = None,
        roles: Optional[str] = None,
        gpus: Optional[int] = None,
        profile: Optional[str] = None,
        quirks: Union[None, str, Iterable[str]] = None,
        clock: Optional[str] = None,
        scenarios: Union[None, str, "os.PathLike[str]", Iterable[Union[str, "os.PathLike[str]"]]] = None,
        faults: Union[None, str, Iterable[str]] = None,
        faults_file: Union[None, str, "os.PathLike[str]"] = None,
        seed: Optional[int] = None,
        memory_budget: Union[None, int, str] = None,
        max_jobs: Optional[int] = None,
        max_workflows: Optional[int] = None,
        mutant: Optional[str] = None,
        unknown_command: Optional[str] = None,
        journal_size: Optional[int] = None,
        max_sessions: Optional[int] = None,
        cpu_cores: Optional[int] = None,
        log_retention_bytes: Optional[int] = None,
        transcript_size: Optional[int] = None,
        record: Union[None, str, "os.PathLike[str]"] = None,
        extra_args: Iterable[str] = (),
        binary: Union[None, str, "os.PathLike[str]"] = None,
        workdir: Union[None, str, "os.PathLike[str]"] = None,
        env: Optional[Mapping[str, str]] = None,
        ready_timeout: float = READY_TIMEOUT,
    ):
        self.tls: bool = bool(tls) if tls is not None else (sdk_major() or 1) >= 2
        """Whether the mutual TLS listener is started. `tls=None` (the
        default) turns it on when the installed SDK is 2.x, which speaks
        mutual TLS only, so that `client()` works."""
        flags: list[str] = []

        def flag(name: str, value: Any) -> None:
            if value is not None:
                if isinstance(value, bool):
                    raise TypeError(f"JobletMock: {name} takes a value, not {value!r}")
                flags.extend([name, os.fspath(value) if isinstance(value, os.PathLike) else str(value)])

        flag("--api", api)
        flag("--roles", roles)
        flag("--gpus", gpus)
        flag("--profile", profile)
        for q in as_list(quirks, "quirks"):
            flag("--quirk", q)
        flag("--clock", clock)
        for s in as_list(scenarios, "scenarios"):
            flag("--scenario", Path(s).resolve())
        for f in as_list(faults, "faults"):
            if not isinstance(f, str):
                raise TypeError(f"JobletMock: faults are `--fault` lines (str), got {f!r}")
            flag("--fault", f)
        flag("--faults-file", None if faults_file is None else Path(faults_file).resolve())
        flag("--seed", seed)
        # Only when asked for, so that binaries without the flag still run.
        flag("--memory-budget", memory_budget)
        flag("--max-jobs", max_jobs)
        flag("--max-workflows", max_workflows)
        flag("--mutant", mutant)
        flag("--unknown-command", unknown_command)
        flag("--journal-size", journal_size)
        flag("--max-sessions", max_sessions)
        flag("--cpu-cores", cpu_cores)
        flag("--log-retention-bytes", log_retention_bytes)
        flag("--transcript-size", transcript_size)
        flag("--record", None if record is None else Path(record).resolve())
        extra = as_list(extra_args, "extra_args")
        if not all(isinstance(a, str) for a in extra):
            raise TypeError(f"JobletMock: extra_args are str, got {extra!r}")
        self.flags: list[str] = flags + extra
        """The flags given to the binary besides the listeners."""
        self._binary = Path(binary) if binary is not None else None
        self._workdir_arg = Path(workdir) if workdir is not None else None
        self._env = dict(env) if env is not None else None
        self.ready_timeout = ready_timeout

        self.args: list[str] = []
        """The whole command line, once started."""
        self.address: Optional[str] = None
        """The plaintext listener, "127.0.0.1:PORT", once started."""
        self.tls_address: Optional[str] = None
        """The mutual TLS listener, with `tls=True`."""
        self.workdir: Optional[Path] = None
        self._owns_workdir = False
        self._proc: Optional[subprocess.Popen] = None
        self._reader: Optional[threading.Thread] = None
        self._control_channel: Optional[grpc.Channel] = None
        self._control_stub: Optional[pb_grpc.MockControlStub] = None
        self._lock = threading.Lock()
        self._attached = False

    @classmethod
    def attach(cls, address: str) -> "JobletMock":
        """A `JobletMock` for a joblet-mock that is already running at
        `address` (its plaintext `HOST:PORT`), or for anything that forwards
        to one, such as the recording proxy of `joblet-conformance record`.
        Clients, sessions and the control helpers work as usual; `start()`
        and `stop()` neither start nor stop a process, and TLS clients are
        not available (it has no certificates of its own)."""
        mock = cls()
        address = address.strip()
        for scheme in ("http://", "grpc://"):
            if address.startswith(scheme):
                address = address[len(scheme) :]
        address = address.rstrip("/")
        _split_addr(address)  # HOST:PORT, or ValueError
        mock.address = address
        mock._attached = True
        return mock

    @property
    def attached(self) -> bool:
        """Whether this stands for a mock started elsewhere (`attach`)."""
        return self._attached

    # ------------------------------------------------------------ lifecycle

    def __enter__(self) -> "JobletMock":
        if self._proc is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        if self._attached:
            return f"<JobletMock attached to {self.address}>"
        state = f"on {self.address}" if self.running else "stopped"
        return f"<JobletMock {state}{' tls ' + self.tls_address if self.tls_address else ''}>"

    @property
    def running(self) -> bool:
        return self._attached or (self._proc is not None and self._proc.poll() is None)

    @property
    def pid(self) -> Optional[int]:
        return self._proc.pid if self._proc else None

    @property
    def host(self) -> str:
        return _split_addr(self._require_started())[0]

    @property
    def port(self) -> int:
        return _split_addr(self._require_started())[1]

    @property
    def certs_dir(self) -> Optional[Path]:
        """Where the certificates are (`ca.pem`, `admin.pem`, `viewer.pem`,
        their `-key.pem`s, `rnx-config.yml`), with `tls=True`."""
        return self.workdir / "certs" if self.tls and self.workdir else None

    @property
    def rnx_config(self) -> Optional[Path]:
        """The generated `rnx-config.yml` (nodes `default` = admin, `viewer`)."""
        return self.certs_dir / "rnx-config.yml" if self.certs_dir else None

    @property
    def stderr_log(self) -> Optional[Path]:
        """The binary's stderr (its `tracing` log, `RUST_LOG`, default `warn`)."""
        return self.workdir / "joblet-mock.stderr.log" if self.workdir else None

    def start(self) -> "JobletMock":
        """Starts the binary and waits for its ready line(s). Raises
        `MockStartError` when it exits or is not ready in `ready_timeout`."""
        if self._attached:
            return self
        if self._proc is not None:
            raise RuntimeError("JobletMock: already started")
        self.address = self.tls_address = None
        binary = self._binary or binary_path()
        if self._workdir_arg is not None:
            self.workdir = self._workdir_arg
            self.workdir.mkdir(parents=True, exist_ok=True)
        else:
            self.workdir = Path(tempfile.mkdtemp(prefix="joblet-mock-"))
            self._owns_workdir = True
        args = [str(binary), "--listen", "127.0.0.1:0"]
        if self.tls:
            assert self.certs_dir is not None
            self.certs_dir.mkdir(exist_ok=True)
            args += ["--tls-listen", "127.0.0.1:0", "--certs-dir", str(self.certs_dir)]
        self.args = args + self.flags

        env = dict(os.environ if self._env is None else self._env)
        # The binary reads every flag from JOBLET_MOCK_* too: only what this
        # object was given applies.
        for key in [k for k in env if k.startswith("JOBLET_MOCK_")]:
            del env[key]
        env.setdefault("RUST_LOG", "warn")
        assert self.stderr_log is not None
        with open(self.stderr_log, "wb") as err:
            self._proc = subprocess.Popen(
                self.args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                env=env,
                text=True,
                bufsize=1,
            )
        _RUNNING.add(self)
        lines: "queue.Queue[Optional[str]]" = queue.Queue()
        proc = self._proc

        def pump() -> None:
            # Reads stdout to its end so that the pipe never fills up.
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.put(line)
            lines.put(None)

        self._reader = threading.Thread(target=pump, name=f"joblet-mock-{proc.pid}-stdout", daemon=True)
        self._reader.start()

        seen: list[str] = []
        deadline = time.monotonic() + self.ready_timeout
        while self.address is None or (self.tls and self.tls_address is None):
            left = deadline - time.monotonic()
            try:
                line = lines.get(timeout=left) if left > 0 else None
            except queue.Empty:
                line = None
            if line is None:
                self._fail_start(seen, eof=left > 0)
            seen.append(line)
            m = _READY_RE.match(line.strip())
            if m and m.group(1):
                self.tls_address = m.group(2)
            elif m:
                self.address = m.group(2)
        return self

    def _fail_start(self, seen: list[str], eof: bool) -> None:
        assert self._proc is not None
        exited = self._proc.poll()
        if exited is None and eof:
            # stdout closed: the process is exiting (or closed it itself).
            try:
                exited = self._proc.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                pass
        if exited is not None:
            why = f"exited with code {exited}"
        elif eof:
            why = "closed its stdout before its ready line"
        else:
            why = f"not ready after {self.ready_timeout:g}s"
        tail = self.stderr_tail()
        self.stop()
        raise MockStartError(
            f"joblet-mock {why}: {' '.join(self.args)}\n"
            f"stdout: {''.join(seen) or '(nothing)'}\n"
            f"stderr:\n{tail or '(nothing)'}"
        )

    def stderr_tail(self, lines: int = 40) -> str:
        """The last lines of the binary's stderr."""
        try:
            assert self.stderr_log is not None
            text = self.stderr_log.read_text(errors="replace")
        except (OSError, AssertionError):
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM (open streams end with UNAVAILABLE), then SIGKILL after
        `STOP_GRACE` seconds. Idempotent."""
        with self._lock:
            if self._control_channel is not None:
                self._control_channel.close()
                self._control_channel = self._control_stub = None
            proc, self._proc = self._proc, None
            if proc is not None:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(timeout=STOP_GRACE)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait(timeout=STOP_GRACE)
                if self._reader is not None:
                    self._reader.join(timeout=STOP_GRACE)
                if proc.stdout:
                    proc.stdout.close()
            _RUNNING.discard(self)
            if self._owns_workdir and self.workdir is not None:
                shutil.rmtree(self.workdir, ignore_errors=True)
                self._owns_workdir = False

    def _require_started(self) -> str:
        if self.address is None or (self._proc is None and not self._attached):
            raise RuntimeError("JobletMock is not running: use `with JobletMock() as mock:` or start()")
        return self.address

    # -------------------------------------------------------------- clients

    def channel(self, role: Optional[str] = None, *, session: str = "") -> grpc.Channel:
        """A raw gRPC channel, for stubs of your own (the SDK's: 1.x
        `joblet.joblet_pb2_grpc`, 2.x `joblet.proto.joblet_pb2_grpc`), the
        answers an SDK cannot read and the status codes it hides: plaintext
        (with any SDK: every plaintext caller is admin), or with `role`
        ("admin" or "viewer") mutual TLS. With `session`, every call carries
        it."""
        if role is None:
            channel = grpc.insecure_channel(self._require_started())
        else:
            certs = self._tls_dir(role)
            assert self.tls_address is not None
            channel = grpc.secure_channel(self.tls_address, tls_credentials(certs, role))
        return with_session(channel, session)

    def client(
        self, role: Optional[str] = None, *, session: str = "", options: Optional[Mapping[str, Any]] = None
    ) -> "JobletClient":
        """A ready `joblet.JobletClient` of the installed SDK (see
        `joblet_mock.sdk_major()`). Close it (or use it in `with`) when done.

        - SDK 1.x: plaintext without `role` (every plaintext caller is
          admin), or with `role` ("admin" or "viewer") mutual TLS through the
          generated `rnx-config.yml`.
        - SDK 2.x (mutual TLS only): the generated certificate of `role`,
          "admin" without one, on the TLS listener (`tls=True`, the default
          with SDK 2.x).

        With `session`, every call carries it (the session header, added by a
        channel interceptor)."""
        major = require_sdk()
        from joblet import JobletClient

        if major >= 2:
            certs = self._tls_dir(role or "admin", sdk2=True)
            assert self.tls_address is not None
            host, port = _split_addr(self.tls_address)
            # Explicit paths for all five: the SDK then reads no JOBLET_* variable,
            # no RNX_CONFIG_PATH and no ~/.rnx/rnx-config.yml of the developer's.
            name = role or "admin"
            client = JobletClient(
                host=host,
                port=port,
                ca_cert_path=str(certs / "ca.pem"),
                client_cert_path=str(certs / f"{name}.pem"),
                client_key_path=str(certs / f"{name}-key.pem"),
                options=dict(options or {}),
            )
        elif role is None:
            # os.devnull: the SDK reads no ~/.rnx/rnx-config.yml of the developer's.
            client = JobletClient(
                host=self.host, port=self.port, insecure=True, config_path=os.devnull, options=dict(options or {})
            )
        else:
            certs = self._tls_dir(role)
            # The explicit CA wins over a ~/.rnx/ca.crt the SDK would prefer.
            client = JobletClient(
                config_path=str(certs / "rnx-config.yml"),
                node_name=_NODE_OF_ROLE[role],
                ca_cert_path=str(certs / "ca.pem"),
                insecure=False,
                options=dict(options or {}),
            )
        if session not in ("", "default"):
            channel = getattr(client, "_channel", None)
            if not isinstance(channel, grpc.Channel):  # pragma: no cover - another SDK layout
                client.close()
                raise RuntimeError(
                    "this joblet SDK keeps no `_channel`, so its calls cannot carry a session: "
                    "sessions need joblet-sdk-python 1.1.x or 2.x"
                )
            # Both SDKs build their service stubs from `_channel` on first use.
            client._channel = with_session(channel, session)
        return client

    def _tls_dir(self, role: str, *, sdk2: bool = False) -> Path:
        if role not in ROLES:
            plain = "" if sdk2 else " (or None for plaintext)"
            raise ValueError(f"role must be one of {ROLES}{plain}, got {role!r}")
        self._require_started()
        why = (
            "joblet-sdk-python 2.x speaks mutual TLS only"
            if sdk2
            else f"role={role!r} needs mutual TLS"
        )
        if self._attached:
            fix = (
                "use channel() with the SDK's stubs (joblet.proto.joblet_pb2_grpc) over plaintext"
                if sdk2
                else "use a plaintext client (role=None)"
            )
            raise RuntimeError(f"{why}, and a JobletMock attached to {self.address} has no certificates: {fix}")
        if not self.tls or self.certs_dir is None:
            raise RuntimeError(
                f"{why}: start the mock with JobletMock(tls=True)"
                + (" (or leave tls unset: it is on by default with SDK 2.x)" if sdk2 else "")
                + ", or in pytest put tls=True in joblet_mock_options or the joblet_mock marker"
            )
        return self.certs_dir

    # -------------------------------------------------------------- control

    def _control(self) -> pb_grpc.MockControlStub:
        with self._lock:
            if self._control_stub is None:
                self._control_channel = grpc.insecure_channel(self._require_started())
                self._control_stub = pb_grpc.MockControlStub(self._control_channel)
            return self._control_stub

    def session(self, name: Optional[str] = None) -> "MockSession":
        """Session `name` of this mock (a fresh unique name when None): a node
        of its own behind the same port, created on first use."""
        return MockSession(self, name if name is not None else f"session-{uuid.uuid4().hex[:12]}")

    def sessions(self) -> list[SessionInfo]:
        """Every session the mock holds, the default one first."""
        return sessions_from_pb(self._control().ListSessions(pb.ListSessionsRequest(), timeout=10.0))

    def reset_all(self) -> None:
        """Resets every session (named ones are dropped)."""
        self._control().Reset(pb.ResetRequest(all=True), timeout=10.0)


class MockSession(Controls):
    """One session of a running `JobletMock`: its own jobs, workflows,
    networks, volumes, runtimes, clock, faults and journal, selected by the
    `x-joblet-mock-session` metadata that its clients and channels send.

    As a context manager it resets (drops) the session on exit.
    """

    def __init__(self, mock: JobletMock, name: str):
        check_session_name(name)
        if name in ("", "default"):
            raise ValueError("MockSession: the default session is the JobletMock itself")
        self.mock = mock
        self.name = name
        self._session_name = name

    def __repr__(self) -> str:
        return f"<MockSession {self.name!r} of {self.mock!r}>"

    def __enter__(self) -> "MockSession":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.mock.running:
            self.reset()

    def _control(self) -> pb_grpc.MockControlStub:
        return self.mock._control()

    def client(self, role: Optional[str] = None, *, options: Optional[Mapping[str, Any]] = None) -> "JobletClient":
        """A `joblet.JobletClient` of the installed SDK in this session (see
        `JobletMock.client`)."""
        return self.mock.client(role, session=self.name, options=options)

    def channel(self, role: Optional[str] = None) -> grpc.Channel:
        """A raw gRPC channel in this session (see `JobletMock.channel`)."""
        return self.mock.channel(role, session=self.name)
