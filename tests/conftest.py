"""Shared fixtures: every backend test runs on the C backend and on the reference
interpreter, and a private compile cache keeps runs independent."""

import os
import tempfile

import pytest

os.environ.setdefault("TENSORC_CACHE_DIR", os.path.join(tempfile.gettempdir(), "tensorc-test-cache"))

MODES = ["FAST_RUN", "REFERENCE"]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return request.param
