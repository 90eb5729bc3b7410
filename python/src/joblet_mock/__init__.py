"""joblet-mock for Python: the in-memory Joblet server as a context manager, a
pytest plugin, and the mock's control API.

```python
from joblet_mock import JobletMock

with JobletMock(clock="manual") as mock:
    client = mock.client()   # joblet.JobletClient of the installed SDK (1.x: plaintext; 2.x: mutual TLS)
    client.networks.create_network("backend", "10.10.0.0/24")
    mock.verify("CreateNetwork", request_contains={"name": "backend"}, times=1)
    mock.advance_clock("1h")
```

Layout: `_server` (`JobletMock`, `MockSession`, `binary_path`), `_sdk` (which
SDK is installed: `sdk_major`, `sdk_version`), `_control`
(the control operations, `verify` and its data classes), `_grpc` (the session
header, TLS credentials), `pytest_plugin` (fixtures `joblet_mock`,
`joblet_session`, `joblet_client` and the marker `joblet_mock`), `_proto`
(stubs generated from `proto/mock_control.proto`). The wheel also installs the
`joblet-mock` binary itself.
"""

from importlib import metadata as _metadata

from ._control import Call, Clock, SessionInfo, VerificationError, json_contains
from ._grpc import SESSION_HEADER, SessionInterceptor
from ._sdk import sdk_major, sdk_version
from ._server import JobletMock, MockSession, MockStartError, binary_path

# Shown as `joblet_mock.X` in tracebacks and reprs, where users import them from.
for _cls in (Call, Clock, SessionInfo, VerificationError, JobletMock, MockSession, MockStartError, SessionInterceptor):
    _cls.__module__ = __name__
del _cls

try:
    __version__ = _metadata.version("joblet-mock")
except _metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree
    __version__ = "0.0.0"

__all__ = [
    "SESSION_HEADER",
    "Call",
    "Clock",
    "JobletMock",
    "MockSession",
    "MockStartError",
    "SessionInfo",
    "SessionInterceptor",
    "VerificationError",
    "binary_path",
    "json_contains",
    "sdk_major",
    "sdk_version",
]
