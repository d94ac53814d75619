"""likvid.runtime.service.worker_environment: idle dramatiq consumers look at their queue every 100 ms."""

from __future__ import annotations

import os
import subprocess
import sys

from likvid.runtime.service import WORKER_POLL_MS, worker_environment


def test_the_idle_poll_is_set_unless_the_environment_says_otherwise() -> None:
    assert worker_environment({"A": "1"}) == {"A": "1", "dramatiq_worker_timeout": str(WORKER_POLL_MS)}
    assert worker_environment({"dramatiq_worker_timeout": "750"})["dramatiq_worker_timeout"] == "750"


def test_dramatiq_reads_it() -> None:
    env = worker_environment({k: v for k, v in os.environ.items() if k != "dramatiq_worker_timeout"})
    out = subprocess.run([sys.executable, "-c", "import dramatiq.worker as w; print(w.WORKER_TIMEOUT)"],
                         env=env, capture_output=True, text=True, timeout=60, check=True).stdout
    assert int(out) == WORKER_POLL_MS == 100
