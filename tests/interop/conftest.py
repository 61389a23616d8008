"""Interoperability suite: volbatch against zarr-python 2.13 (Zarr v2, N5Store) and zarrita.

Run: /usr/bin/python3 -m pytest -q tests/interop --volbatch=PATH_TO_volbatch_BINARY
"""
import os
import shutil

import pytest

import interop_util as iu


def pytest_addoption(parser):
    parser.addoption("--volbatch", action="store", default=os.environ.get("VOLBATCH"),
                     help="path of the volbatch binary under test")


@pytest.fixture(scope="session")
def volbatch(pytestconfig):
    path = pytestconfig.getoption("--volbatch")
    if not path:
        pytest.fail("pass --volbatch=PATH_TO_volbatch_BINARY (or set VOLBATCH)")
    if not os.access(path, os.X_OK):
        pytest.fail(f"--volbatch={path} is not an executable")
    return iu.Volbatch(os.path.abspath(path))


@pytest.fixture(scope="session")
def zarrita():
    node = shutil.which("node")
    if not node:
        pytest.fail("node is not installed (apt-get install nodejs npm)")
    modules = os.path.join(iu.HERE, "node_modules", "zarrita")
    if not os.path.isdir(modules):
        pytest.fail(f"{modules} is missing: run `npm ci` in {iu.HERE}")
    return iu.Zarrita(node)
