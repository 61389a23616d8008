"""The workers' Prometheus metrics scraped by a real Prometheus (Debian's 2.42), started by the
suite on a loopback port with a private configuration and storage directory, stopped by its PID.

Run: /usr/bin/python3 -m pytest -q tests/metrics --volbatch=PATH_TO_volbatch_BINARY
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "engine"))
import engine_util as eu  # noqa: E402


def pytest_addoption(parser):
    eu.add_volbatch_option(parser)


@pytest.fixture(scope="session")
def volbatch(pytestconfig):
    return eu.volbatch_from_config(pytestconfig)
