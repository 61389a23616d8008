"""The block-wise engine, end to end through `volbatch run` / `volbatch status`: results equal
scipy/numpy on the whole volume, do not depend on blocks, threads or order, survive SIGKILL,
stay in bounded memory, and bad jobs fail with one line naming the field.

Run: /usr/bin/python3 -m pytest -q tests/engine --volbatch=PATH_TO_volbatch_BINARY
"""

import pytest

import engine_util as eu


def pytest_addoption(parser):
    eu.add_volbatch_option(parser)


@pytest.fixture(scope="session")
def volbatch(pytestconfig):
    return eu.volbatch_from_config(pytestconfig)
