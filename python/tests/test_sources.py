"""The checked-in sources agree: the control stubs with proto/mock_control.proto
(and with the copy the wheel installed), the examples of the README and of
docs/python.md with the files CI runs."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

import joblet_mock._proto.mock_control_pb2 as installed_pb2

PYTHON_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = PYTHON_DIR.parent


def _gen_stubs():
    spec = importlib.util.spec_from_file_location("gen_stubs", PYTHON_DIR / "scripts" / "gen_stubs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_stubs_match_the_proto():
    diffs = _gen_stubs().differences()
    assert not diffs, (
        "python/src/joblet_mock/_proto is stale: run `python python/scripts/gen_stubs.py` "
        "with the grpcio-tools of sdk-tests/requirements.txt\n" + "\n".join(diffs)
    )


def test_the_wheel_ships_the_checked_in_stubs():
    installed = Path(installed_pb2.__file__).parent
    source = PYTHON_DIR / "src" / "joblet_mock" / "_proto"
    for name in ("mock_control_pb2.py", "mock_control_pb2_grpc.py", "mock_control_pb2.pyi"):
        assert (installed / name).read_text() == (source / name).read_text(), name


def test_a_changed_proto_is_caught(tmp_path, monkeypatch):
    # The drift check can fail: a field added to the proto shows up as a diff.
    gen = _gen_stubs()
    proto = tmp_path / "mock_control.proto"
    text = gen.PROTO.read_text()
    proto.write_text(text.replace("  bool all = 2;\n", "  bool all = 2;\n  string extra = 3;\n", 1))
    assert proto.read_text() != text
    monkeypatch.setattr(gen, "PROTO", proto)
    diffs = gen.differences()
    assert any("mock_control_pb2.py" in d for d in diffs), diffs


EXAMPLES = [
    # (file CI runs, the function that identifies it, the pages that show it)
    ("test_readme_example.py", "def test_network_setup_survives_one_failure", ["README.md", "docs/python.md"]),
    ("test_sdk1_example.py", "def test_nightly_report", ["docs/python.md"]),
    ("test_sdk2_example.py", "def test_a_job_past_its_timeout_ends_timeout", ["docs/python.md"]),
]


@pytest.mark.parametrize(
    "example, needle, page", [(e, n, page) for e, n, pages in EXAMPLES for page in pages]
)
def test_examples_are_the_files_ci_runs(example, needle, page):
    # The README shows the example that works with either SDK; the Python
    # page of the manual shows it and one example per SDK.
    text = (REPO_ROOT / page).read_text()
    source = (PYTHON_DIR / "examples" / example).read_text()
    assert needle in source
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    matching = [b for b in blocks if needle in b]
    assert len(matching) == 1, f"{page} must show python/examples/{example} once"
    assert matching[0] == source, f"{page}'s example differs from python/examples/{example}"


def test_the_readme_example_is_short():
    assert len((PYTHON_DIR / "examples" / "test_readme_example.py").read_text().splitlines()) <= 16


def test_every_example_is_shown():
    shown = {e for e, _, _ in EXAMPLES}
    assert {p.name for p in (PYTHON_DIR / "examples").glob("test_*.py")} == shown
