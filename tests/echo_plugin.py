"""The Echo subset of tests/test_plugin_subset.py as a plugin module (`plugins: [tests.echo_plugin]`):
a config that names it registers Echo wherever the config is read, Ray workers included."""

from pipeline.subsets.registry import register
from tests.test_plugin_subset import Echo

register(Echo)
