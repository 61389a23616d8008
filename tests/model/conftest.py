"""The `torch` operator end to end: TorchScript models (generated at test time by
make_models.py with python3-torch) run by `volbatch run` over volumes, checked against numpy.

Run: /usr/bin/python3 -m pytest -q tests/model --volbatch=PATH_TO_volbatch_BINARY
"""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def pytest_addoption(parser):
    parser.addoption("--volbatch", action="store",
                     default=os.environ.get("VOLBATCH", "build/volbatch"),
                     help="path of the volbatch binary under test")


@pytest.fixture(scope="session")
def volbatch(pytestconfig):
    exe = os.path.abspath(pytestconfig.getoption("--volbatch"))
    if not os.access(exe, os.X_OK):
        pytest.fail(f"--volbatch={exe} is not an executable")

    def run(*args, check=True, timeout=600):
        p = subprocess.run([exe, *map(str, args)], capture_output=True, text=True,
                           timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"volbatch {' '.join(map(str, args))} failed "
                                 f"({p.returncode}): {p.stderr}")
        return p

    return run


@pytest.fixture(scope="session")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    subprocess.run([sys.executable, os.path.join(HERE, "make_models.py"), str(d)], check=True)
    return d
