"""Shared fixtures: every backend test runs on the C backend and on the reference
interpreter, and a private compile cache keeps runs independent."""

import os
import signal
import tempfile
import time
from collections.abc import Callable

import pytest

os.environ.setdefault("TENSORC_CACHE_DIR", os.path.join(tempfile.gettempdir(), "tensorc-test-cache"))

MODES = ["FAST_RUN", "REFERENCE"]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


def run_forked(child: Callable[[], bool], hang: str, timeout: float = 60) -> bool:
    """`child()` in a forked process (its result, False if it raised); the test
    fails with `hang` when the child does not finish within `timeout` seconds."""
    pid = os.fork()
    if pid == 0:
        try:
            ok = bool(child())
        finally:
            os._exit(0 if locals().get("ok") else 1)
    deadline = time.monotonic() + timeout
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(hang)
        time.sleep(0.01)
    return os.waitstatus_to_exitcode(done[1]) == 0
