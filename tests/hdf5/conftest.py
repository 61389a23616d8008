"""HDF5 (read-only) against h5py as the independent writer: a CREMI-like file read by `volbatch
info`, `export`, `import`, `copy`, a job and the training sampler equals what h5py reads.

Run: PYTHONPATH=build/python /usr/bin/python3 -m pytest -q tests/hdf5 --volbatch=build/volbatch
"""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "engine"))

import engine_util as eu  # noqa: E402


def pytest_addoption(parser):
    eu.add_volbatch_option(parser)


def pytest_configure(config):
    exe = os.path.abspath(config.getoption("--volbatch"))
    build_python = os.path.join(os.path.dirname(exe), "python")
    if not any(os.path.abspath(p) == build_python for p in sys.path) and \
            "PYTHONPATH" not in os.environ:
        sys.path.insert(0, build_python)


@pytest.fixture(scope="session")
def cli(pytestconfig):
    return eu.volbatch_from_config(pytestconfig)
