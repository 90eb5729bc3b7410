"""Tests of the joblet-mock wheel itself: its Python API, its pytest plugin
(through pytester), the generated stubs and the README example. They run
against the installed wheel (its binary and its copy of the package)."""

pytest_plugins = ["pytester"]
