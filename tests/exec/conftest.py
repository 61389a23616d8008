"""The executors end to end: each starts real workers on its engine (local processes, sshd on
127.0.0.1, a single-node Slurm, mpirun) or writes what a site's engine runs (Kubernetes, LSF),
and every one writes what the local run writes.

Run: /usr/bin/python3 -m pytest -q tests/exec --volbatch=PATH_TO_volbatch_BINARY
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
