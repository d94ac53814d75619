"""`likvid up`: the whole service on one machine, supervised.

Starts (unless configured elsewhere) an embedded Redis under LIKVID_HOME, runs the migrations,
then worker processes, the scheduler and the outbox relay as child processes, restarting any
that dies (one crashed dramatiq process stops its group: ARCHITECTURE.md). Writes
``LIKVID_HOME/run/runtime.json`` so other `likvid` commands find this instance.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from likvid.runtime.redis_server import RedisServer
from likvid.settings import Settings, whole_number

log = logging.getLogger("likvid.up")


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started: float = 0.0


@dataclass
class Service:
    settings: Settings
    processes: int = 2
    threads: int = 4
    quiet: bool = False
    redis: RedisServer | None = None
    redis_url: str = ""
    api_url: str = ""
    #: The worker processes' Prometheus metrics (LIKVID_WORKER_METRICS_PORT; 0 picks a free port).
    worker_metrics_port: int | None = None
    worker_metrics_url: str = ""
    children: list[Child] = field(default_factory=list)
    stop_event: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        from likvid.service.app import bootstrap, prepare

        home = self.settings.home
        (home / "run").mkdir(parents=True, exist_ok=True)
        # Validates the policy file (a bad one stops start-up here), migrates, syncs creditors.
        prepare(bootstrap(self.settings))
        if self.settings.redis_url:
            self.redis_url = self.settings.redis_url
        else:
            self.redis = RedisServer(home / "redis", persistent=True)
            self.redis.start()
            self.redis_url = self.redis.url
        py = sys.executable
        self._choose_metrics_port()
        self.children = [
            Child("worker", worker_argv(self.processes, self.threads, metrics=self.worker_metrics_port is not None)),
            Child("scheduler", [py, "-m", "likvid", "scheduler"]),
            Child("relay", [py, "-m", "likvid", "relay"]),
        ]
        self.api_url = ""
        if os.environ.get("LIKVID_API_TOKENS_FILE"):
            # The HTTP API joins when publishers have tokens; a free port unless LIKVID_API_PORT.
            from likvid.runtime.redis_server import free_port

            port = int(os.environ.get("LIKVID_API_PORT") or free_port())
            self.api_url = f"http://127.0.0.1:{port}"
            self.children.append(Child("api", [py, "-m", "likvid", "api", "--port", str(port)]))
        for child in self.children:
            self._spawn(child)
        self.settings.runtime_file.write_text(json.dumps(
            {"redis_url": self.redis_url, "pid": os.getpid(), "api_url": self.api_url,
             "worker_metrics_url": self.worker_metrics_url, "database_url": _masked(self.settings.database_url)}
        ))

    def _choose_metrics_port(self) -> None:
        from likvid.workers.broker import worker_metrics_port, worker_metrics_url

        self.worker_metrics_port = port = worker_metrics_port(self.settings)
        self.worker_metrics_url = "" if port is None else worker_metrics_url(self.settings.worker_metrics_host, port)

    def env(self) -> dict[str, str]:
        env = worker_environment(dict(os.environ))
        env.update({"LIKVID_HOME": str(self.settings.home), "LIKVID_REDIS_URL": self.redis_url,
                    "LIKVID_DATABASE_URL": self.settings.database_url, "LIKVID_CLOCK": self.settings.clock_mode})
        if self.settings.policy_path:
            env["LIKVID_POLICY"] = str(self.settings.policy_path)
        if self.worker_metrics_port is not None:
            env["LIKVID_WORKER_METRICS_PORT"] = str(self.worker_metrics_port)
        return env

    def _spawn(self, child: Child) -> None:
        logs = self.settings.home / "run" / f"{child.name}.log"
        out = open(logs, "ab")  # noqa: SIM115 - handed to the child
        child.proc = subprocess.Popen(child.argv, env=self.env(), stdout=out, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        child.started = time.monotonic()

    def supervise(self) -> None:
        """Restart any child that exits, until stopped."""
        while not self.stop_event.wait(0.5):
            for child in self.children:
                if child.proc is not None and child.proc.poll() is not None:
                    child.restarts += 1
                    log.warning("%s exited with %s; restarting", child.name, child.proc.returncode)
                    if time.monotonic() - child.started < 5:
                        self.stop_event.wait(min(30, 2**child.restarts))
                    if not self.stop_event.is_set():
                        self._spawn(child)

    def stop(self) -> None:
        self.stop_event.set()
        for child in self.children:
            if child.proc is not None and child.proc.poll() is None:
                os.killpg(child.proc.pid, signal.SIGTERM)
        for child in self.children:
            if child.proc is not None:
                try:
                    child.proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(child.proc.pid, signal.SIGKILL)
                    child.proc.wait()
        if self.redis is not None:
            self.redis.stop()
        self.settings.runtime_file.unlink(missing_ok=True)

    def run_forever(self) -> None:
        def _stop(signum: int, frame: object) -> None:
            self.stop_event.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        self.start()
        try:
            self.supervise()
        finally:
            self.stop()


#: How long dramatiq's main process waits for its worker processes to boot before it starts
#: the processes their middleware asks for (the metrics server, workers/broker.py). One not
#: started then is never started, and dramatiq's 30 s are shorter than a boot on a loaded
#: machine. (The main process holds back SIGTERM and SIGINT while it waits.)
FORK_TIMEOUT_MS = 300_000


#: How long a dramatiq consumer whose threads hold its whole prefetch may sleep before it
#: looks again, in ms (dramatiq's ``dramatiq_worker_timeout``; its default is 1,000, which
#: left a finished thread waiting up to a second for its next message in a burst). A
#: consumer of an empty queue instead waits to be woken (workers/broker.py
#: ``WakingRedisBroker``), so work arriving on a quiet queue (the reminders a clock stop
#: fires, the letters they cause, a payment between bursts) starts at once.
WORKER_POLL_MS = 100


#: Messages of a queue a worker process takes ahead of its threads (``LIKVID_WORKER_PREFETCH``).
WORKER_PREFETCH = 2


def worker_environment(env: dict[str, str]) -> dict[str, str]:
    """``env`` with dramatiq's idle poll (``WORKER_POLL_MS``) and prefetch (``WORKER_PREFETCH``,
    or ``LIKVID_WORKER_PREFETCH``) set, unless it already sets dramatiq's own variables
    (``dramatiq_worker_timeout``, ``dramatiq_queue_prefetch``).

    Prefetch: dramatiq's default, twice the threads, let one worker process take eight of a
    clock stop's ten letter batches (each a quarter of a second of CPU) while the other sat
    idle, and four threads of one process contend for its interpreter lock. With two, a burst
    spreads over the processes (bench/pipeline_burst.py, same code, rounds' medians: default
    121.5 invoices/s, one per thread 124.8, two 149.9, one 134.4). Queues whose messages wait
    on the network rather than the CPU (email, one letter a message) get more sends in flight
    from a worker group of their own: ``LIKVID_WORKER_PREFETCH=8 likvid worker --queues email``."""
    prefetch = whole_number(env, "LIKVID_WORKER_PREFETCH", WORKER_PREFETCH, minimum=1)
    return {"dramatiq_worker_timeout": str(WORKER_POLL_MS), "dramatiq_queue_prefetch": str(prefetch), **env}


def worker_argv(processes: int, threads: int, queues: tuple[str, ...] = (), *, metrics: bool = False) -> list[str]:
    """The dramatiq command line of a worker group (`likvid up`, `likvid worker`)."""
    argv = [sys.executable, "-m", "dramatiq", "likvid.workers.main", "--processes", str(processes), "--threads", str(threads)]
    if metrics:
        argv += ["--worker-fork-timeout", str(FORK_TIMEOUT_MS)]
    if queues:
        argv += ["--queues", *queues]
    return argv


def _masked(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':')[0]}:***@{host}"
    return url


def is_running(settings: Settings) -> bool:
    try:
        pid = json.loads(Path(settings.runtime_file).read_text())["pid"]
        os.kill(pid, 0)
        return True
    except (FileNotFoundError, ProcessLookupError, KeyError, ValueError, PermissionError):
        return False
