"""Data at URLs, end to end through `volbatch`: S3 against a real s3rver (boto3 the independent
client, zarr-python and zarrita the readers), HTTP against a real nginx.

Run: /usr/bin/python3 -m pytest -q tests/remote --volbatch=PATH_TO_volbatch_BINARY
"""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "engine"))

import engine_util as eu  # noqa: E402
import remote_util as ru  # noqa: E402


def pytest_addoption(parser):
    eu.add_volbatch_option(parser)


@pytest.fixture(scope="session")
def volbatch(pytestconfig):
    return eu.volbatch_from_config(pytestconfig)


@pytest.fixture(scope="session")
def s3():
    """One s3rver for the session; volbatch reads its settings from the environment, which
    every test's volbatch inherits (AWS_* of the calling shell are replaced)."""
    server = ru.S3Server().start()
    saved = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    for k in saved:
        del os.environ[k]
    os.environ.update({k: v for k, v in server.env().items() if k.startswith("AWS_")})
    yield server
    for k in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[k]
    os.environ.update(saved)
    server.remove()


_buckets = iter(range(1, 1 << 30))


@pytest.fixture
def bucket(s3):
    """A fresh bucket per test."""
    return s3.bucket(f"test-bucket-{next(_buckets)}")
