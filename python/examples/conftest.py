"""The examples of the README and docs/python.md. A project has one SDK
(1.x and 2.x are both the module `joblet`): each SDK-specific example runs
where that SDK is installed (ci/test runs python/ under both), the README's
example everywhere."""

from joblet_mock import sdk_major

collect_ignore = ["test_sdk2_example.py"] if sdk_major() == 1 else ["test_sdk1_example.py"]
