import os
import subprocess

import pytest


def pytest_addoption(parser):
    parser.addoption("--volbatch", default=os.environ.get("VOLBATCH", "build/volbatch"))


@pytest.fixture(scope="session")
def volbatch(request):
    exe = os.path.abspath(request.config.getoption("--volbatch"))
    assert os.path.exists(exe), exe

    def run(*args, check=True):
        p = subprocess.run([exe, *map(str, args)], capture_output=True, text=True, timeout=300)
        if check and p.returncode != 0:
            raise AssertionError(f"volbatch {' '.join(map(str, args))} failed ({p.returncode}): {p.stderr}")
        return p

    return run
