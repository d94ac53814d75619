"""likvid.runtime.service.worker_environment: idle dramatiq consumers look at their queue every 100 ms,
and a worker process takes two messages of a queue ahead."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from likvid.runtime.service import WORKER_POLL_MS, worker_environment


def test_the_idle_poll_is_set_unless_the_environment_says_otherwise() -> None:
    assert worker_environment({"A": "1"}) == {"A": "1", "dramatiq_worker_timeout": "100", "dramatiq_queue_prefetch": "2"}
    assert worker_environment({"LIKVID_WORKER_PREFETCH": " 8 "})["dramatiq_queue_prefetch"] == "8"
    for bad in ("0", "two", "-1"):
        with pytest.raises(SystemExit, match="LIKVID_WORKER_PREFETCH: must be a whole number"):
            worker_environment({"LIKVID_WORKER_PREFETCH": bad})
    said = worker_environment({"dramatiq_worker_timeout": "750", "dramatiq_queue_prefetch": "16"})
    assert (said["dramatiq_worker_timeout"], said["dramatiq_queue_prefetch"]) == ("750", "16")


def test_dramatiq_reads_it() -> None:
    env = worker_environment({k: v for k, v in os.environ.items() if not k.startswith("dramatiq_")}
                             | {"LIKVID_WORKER_PREFETCH": "3"})
    out = subprocess.run([sys.executable, "-c", "import dramatiq.worker as w; print(w.WORKER_TIMEOUT, w.QUEUE_PREFETCH)"],
                         env=env, capture_output=True, text=True, timeout=60, check=True).stdout.split()
    assert [int(x) for x in out] == [WORKER_POLL_MS, 3] == [100, 3]
