"""Which published SDK (`joblet-sdk-python`) is installed, and how to build a
client of it against a `JobletMock`.

A project has one SDK: 1.x and 2.x are both the module `joblet`. SDK 1.x
(1.1.5, contract v1.0.6) speaks plaintext or mutual TLS; SDK 2.x (2.5.2,
contract v2.5.9) speaks mutual TLS only (`JobletClient(host, port,
ca_cert_path, client_cert_path, client_key_path, ...)`).
"""

from __future__ import annotations

import inspect
import re
from importlib import metadata
from typing import Optional

DISTRIBUTION = "joblet-sdk-python"
"""The SDK's name on PyPI."""

SUPPORTED = "joblet-sdk-python>=1.1.5,<3"
"""The SDKs `JobletMock.client()` drives (the wheel's dependency)."""


def sdk_version() -> Optional[str]:
    """The installed SDK's version ("1.1.5", "2.5.2"), or None when no `joblet`
    module can be imported. Read from the package metadata, else from
    `joblet.__version__`, else guessed from `JobletClient`'s signature (SDK
    1.x takes `insecure`, 2.x does not: "1" or "2")."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        pass
    try:
        import joblet
    except ImportError:
        return None
    version = getattr(joblet, "__version__", None)
    if isinstance(version, str) and re.match(r"\d+\.", version):
        return version
    client = getattr(joblet, "JobletClient", None)
    if client is None:
        return None
    try:
        params = inspect.signature(client).parameters
    except (TypeError, ValueError):  # pragma: no cover - not introspectable
        return None
    return "1" if "insecure" in params else "2"


def sdk_major() -> Optional[int]:
    """The installed SDK's major version (1 or 2), or None without an SDK."""
    version = sdk_version()
    if version is None:
        return None
    m = re.match(r"(\d+)", version)
    return int(m.group(1)) if m else None


def require_sdk() -> int:
    """`sdk_major()`, or a clear error when no SDK this wheel drives is installed."""
    major = sdk_major()
    if major is None:
        raise RuntimeError(f"no Joblet SDK is installed: pip install '{SUPPORTED}' (or the joblet-mock wheel with it)")
    if major not in (1, 2):
        raise RuntimeError(
            f"{DISTRIBUTION} {sdk_version()} is installed, but JobletMock.client() drives SDK 1.x and 2.x "
            f"only: pip install '{SUPPORTED}', or use JobletMock.channel() with the SDK's own stubs"
        )
    return major
