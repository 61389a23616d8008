"""The block-wise engine, end to end through `volbatch run` / `volbatch status`: results equal
scipy/numpy on the whole volume, do not depend on blocks, threads or order, survive SIGKILL,
stay in bounded memory, and bad jobs fail with one line naming the field.

Run: /usr/bin/python3 -m pytest -q tests/engine --volbatch=PATH_TO_volbatch_BINARY
"""
import os

import pytest

import engine_util as eu


def pytest_addoption(parser):
    parser.addoption("--volbatch", action="store", default=os.environ.get("VOLBATCH", "build/volbatch"),
                     help="path of the volbatch binary under test")


@pytest.fixture(scope="session")
def volbatch(pytestconfig):
    path = os.path.abspath(pytestconfig.getoption("--volbatch"))
    if not os.access(path, os.X_OK):
        pytest.fail(f"--volbatch={path} is not an executable")
    return eu.Volbatch(path)
