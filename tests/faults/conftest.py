"""Faults from the machine: a disk that fills up mid-job and a read-only mount. Needs root
(it mounts small tmpfs filesystems).

Run: /usr/bin/python3 -m pytest -q tests/faults --volbatch=PATH_TO_volbatch_BINARY
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
