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
    parser.addoption("--volbatch", action="store", default=os.environ.get("VOLBATCH", "build/volbatch"),
                     help="path of the volbatch binary under test")


@pytest.fixture(scope="session")
def volbatch(pytestconfig):
    path = os.path.abspath(pytestconfig.getoption("--volbatch"))
    if not os.access(path, os.X_OK):
        pytest.fail(f"--volbatch={path} is not an executable")
    return eu.Volbatch(path)
