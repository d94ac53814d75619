"""The service with real ``dramatiq`` worker processes (its own session, so a fault test can
SIGKILL the whole group) and the relay and scheduler as threads of the test process, on a
simulated clock at 2026-01-05 08:00. For the fault tests that kill workers or the database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from likvid.db import dispose_engines
from likvid.service.app import App, bootstrap, prepare
from likvid.service.progress import set_clock
from likvid.settings import Settings
from likvid.workers import scheduler
from likvid.workers.broker import configure
from likvid.workers.relay import Relay

START = "2026-01-05T08:00:00+01:00"


def start_workers(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``dramatiq likvid.workers.main``, 2 processes x 4 threads, in a session of its own."""
    return subprocess.Popen(
        [sys.executable, "-m", "dramatiq", "likvid.workers.main", "--processes", "2", "--threads", "4"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )


@dataclass
class WorkerService:
    app: App
    #: The environment of the worker processes (``start_workers(env)`` starts another group).
    env: dict[str, str]
    workers: subprocess.Popen[bytes]


@contextmanager
def worker_service(database_url: str, redis_url: str, home: Path, **settings: str) -> Iterator[WorkerService]:
    """``settings``: more ``LIKVID_*`` variables. They are in ``os.environ`` for the test and
    restored afterwards; the worker processes (``service.workers``, which a test may replace)
    are stopped, the relay and scheduler threads too."""
    env = dict(os.environ)
    env.update({
        "LIKVID_HOME": str(home), "LIKVID_DATABASE_URL": database_url, "LIKVID_REDIS_URL": redis_url,
        "LIKVID_CLOCK": "simulated", "LIKVID_RELAY_INTERVAL_MS": "10", "LIKVID_SCHEDULER_INTERVAL_MS": "100",
        **settings,
    })
    saved = {k: os.environ.get(k) for k in env if k.startswith("LIKVID_")}
    os.environ.update({k: v for k, v in env.items() if k.startswith("LIKVID_")})
    dispose_engines()
    app = bootstrap(Settings.from_env(env), fresh=True)
    prepare(app)
    set_clock(app, datetime.fromisoformat(START))
    broker = configure(redis_url)
    stop = threading.Event()
    loops = [threading.Thread(target=Relay(app, broker, redis_url).run, args=(stop,), daemon=True),
             threading.Thread(target=scheduler.run, args=(app, stop), daemon=True)]
    for t in loops:
        t.start()
    service = WorkerService(app, env, start_workers(env))
    try:
        yield service
    finally:
        stop.set()
        for t in loops:
            t.join(10)
        workers = service.workers
        if workers.poll() is None:
            os.killpg(workers.pid, signal.SIGTERM)
            try:
                workers.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(workers.pid, signal.SIGKILL)
                workers.wait(10)
        dispose_engines()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
