#!/usr/bin/env python3
"""Regenerates the control API stubs in src/joblet_mock/_proto/ from
proto/mock_control.proto with grpcio-tools.

    python python/scripts/gen_stubs.py            # rewrite the checked-in stubs
    python python/scripts/gen_stubs.py --check    # exit 1 if they differ (CI)

Use the grpcio-tools pinned in sdk-tests/requirements.txt: the generated code
names its generator's versions, and python/tests/test_stubs.py fails on any
difference.
"""

from __future__ import annotations

import argparse
import difflib
import sys
import tempfile
from pathlib import Path

PYTHON_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = PYTHON_DIR.parent
PROTO = REPO_ROOT / "proto" / "mock_control.proto"
PACKAGE_DIR = PYTHON_DIR / "src" / "joblet_mock" / "_proto"
# The proto is compiled as if it lived in the package, so that the generated
# `_pb2_grpc` module imports `joblet_mock._proto.mock_control_pb2`.
VIRTUAL_DIR = "joblet_mock/_proto"
GENERATED = ("mock_control_pb2.py", "mock_control_pb2.pyi", "mock_control_pb2_grpc.py")


def generate(out_root: Path) -> dict[str, str]:
    """Runs protoc into `out_root` and returns {file name: text}."""
    from grpc_tools import protoc  # grpcio-tools

    args = [
        "grpc_tools.protoc",
        f"-I{VIRTUAL_DIR}={PROTO.parent}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        f"{VIRTUAL_DIR}/{PROTO.name}",
    ]
    if protoc.main(args) != 0:
        raise SystemExit(f"protoc failed on {PROTO}")
    out = out_root / VIRTUAL_DIR
    return {name: (out / name).read_text() for name in GENERATED}


def differences() -> list[str]:
    """Unified diffs between freshly generated stubs and the checked-in ones."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
    diffs = []
    for name, text in fresh.items():
        path = PACKAGE_DIR / name
        current = path.read_text() if path.is_file() else ""
        if current != text:
            diffs.append(
                "".join(
                    difflib.unified_diff(
                        current.splitlines(keepends=True),
                        text.splitlines(keepends=True),
                        f"checked-in {name}",
                        f"generated {name}",
                    )
                )
            )
    return diffs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    opts = parser.parse_args()
    if opts.check:
        diffs = differences()
        for d in diffs:
            sys.stdout.write(d)
        if diffs:
            print(f"stubs are stale: run python {Path(__file__).relative_to(REPO_ROOT)}", file=sys.stderr)
            return 1
        print("stubs match proto/mock_control.proto")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
    PACKAGE_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in fresh.items():
        (PACKAGE_DIR / name).write_text(text)
        print(f"wrote {(PACKAGE_DIR / name).relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
