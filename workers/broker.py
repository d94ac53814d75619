"""Broker setup. Call ``configure()`` before importing ``likvid.workers.actors`` (dramatiq
binds actors to the broker that is current when they are declared).

Worker metrics: with ``LIKVID_WORKER_METRICS_PORT`` set, the dramatiq worker processes get
dramatiq's own Prometheus middleware (messages processed, errors, retries, dead-lettered, in
progress, durations per queue and actor). Every worker process writes its numbers to files
(prometheus_client's multiprocess mode) in ``LIKVID_HOME/run/worker-metrics/HOST-PORT/``; a
process that dramatiq's main process forks serves their sum over HTTP on that port.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
from pathlib import Path
from types import ModuleType
from typing import Any

import dramatiq
from dramatiq import Middleware
from dramatiq.brokers.redis import RedisBroker
from dramatiq.encoder import JSONEncoder, MessageData
from dramatiq.errors import DecodeError
from dramatiq.middleware import CurrentMessage

from likvid import jsontext
from likvid.settings import Settings
from likvid.workers.middleware import DeadLetters

log = logging.getLogger("likvid.workers.metrics")

_BROKER: RedisBroker | None = None


def configure(redis_url: str, *, worker: Settings | None = None) -> RedisBroker:
    """The Redis broker for this process, with the current-message and dead-letter middleware.

    ``worker``: the settings of a dramatiq worker process (workers/main.py); with a metrics
    port configured it gets the Prometheus middleware. Other processes (relay, API, commands)
    only enqueue and never get it.
    """
    global _BROKER
    if _BROKER is None:
        # A killed worker's unacknowledged messages return after the heartbeat timeout, when
        # some process runs broker maintenance (a chance per command, out of a million).
        broker = RedisBroker(
            url=redis_url,
            heartbeat_timeout=int(os.environ.get("LIKVID_HEARTBEAT_TIMEOUT_MS", "60000")),
            maintenance_chance=int(os.environ.get("LIKVID_MAINTENANCE_CHANCE", "1000")),
        )
        broker.add_middleware(CurrentMessage())
        broker.add_middleware(DeadLetters())
        if worker is not None and worker.worker_metrics_port is not None:
            broker.add_middleware(_metrics_middleware(worker))
        dramatiq.set_broker(broker)
        dramatiq.set_encoder(FastJSONEncoder())
        _BROKER = broker
    return _BROKER


class FastJSONEncoder(JSONEncoder):
    """dramatiq's JSON messages written and read by ``likvid.jsontext`` (orjson): a batch
    message of 1,000 events is written eight times and read twice as fast. The same compact
    JSON; text that is not JSON still raises dramatiq's ``DecodeError``."""

    def encode(self, data: MessageData) -> bytes:
        return jsontext.dumpb(data)

    def decode(self, data: bytes) -> MessageData:
        try:
            decoded = jsontext.loads(data)
        except ValueError:
            return super().decode(data)  # raises DecodeError, as dramatiq's own encoder does
        if not isinstance(decoded, dict):
            raise DecodeError(f"message is not a JSON object: {data[:100]!r}", data, None)
        return decoded


def current_message_id() -> str | None:
    message = CurrentMessage.get_current_message()
    return message.message_id if message is not None else None


def worker_metrics_dir(settings: Settings, port: int) -> Path:
    """The multiprocess files of the worker group whose metrics are on ``port``. Per host and
    port: containers sharing LIKVID_HOME, or two groups on one machine, never mix their files."""
    return settings.home / "run" / "worker-metrics" / f"{socket.gethostname()}-{port}"


def worker_metrics_port(settings: Settings) -> int | None:
    """The port a worker group that `likvid up` or `likvid worker` starts serves its metrics
    on: None (off), the configured one, or for 0 one that is free now."""
    from likvid.runtime.redis_server import free_port

    port = settings.worker_metrics_port
    return free_port(settings.worker_metrics_host) if port == 0 else port


def worker_metrics_url(host: str, port: int) -> str:
    """Where to scrape a group's metrics (the wildcard address is reached on loopback)."""
    return f"http://{'127.0.0.1' if host in ('', '0.0.0.0') else host}:{port}/"


def _prometheus(settings: Settings) -> ModuleType:
    """dramatiq's Prometheus module, pointed at our directory, host and port. dramatiq reads
    them from ``dramatiq_prom_db/_host/_port`` (lower case) when the module is first imported,
    so they are set first; prometheus_client chooses its multiprocess mode from
    ``PROMETHEUS_MULTIPROC_DIR`` when it is first imported, so that is set now too."""
    port = settings.worker_metrics_port
    if not port:
        raise SystemExit("LIKVID_WORKER_METRICS_PORT: 0 (a free port) is chosen by `likvid up` and "
                         "`likvid worker`; workers started with `python -m dramatiq` need the port number")
    path = str(worker_metrics_dir(settings, port))
    os.environ.update({"dramatiq_prom_db": path, "dramatiq_prom_host": settings.worker_metrics_host,
                       "dramatiq_prom_port": str(port), "PROMETHEUS_MULTIPROC_DIR": path})
    from dramatiq.middleware import prometheus

    prometheus.DB_PATH, prometheus.HTTP_HOST, prometheus.HTTP_PORT = path, settings.worker_metrics_host, port
    return prometheus


def _metrics_middleware(settings: Settings) -> Middleware:
    prometheus = _prometheus(settings)

    class WorkerMetrics(prometheus.Prometheus):  # type: ignore[misc,name-defined]
        """dramatiq's middleware, with our exposition process and the directory emptied once
        per run."""

        @property
        def forks(self) -> list[Any]:
            return [serve_worker_metrics]

        def after_process_boot(self, broker: Any) -> None:
            _empty_for_this_run(Path(prometheus.DB_PATH))
            super().after_process_boot(broker)

    return WorkerMetrics()


def _empty_for_this_run(path: Path) -> None:
    """dramatiq expects the directory emptied before every run: files left by an earlier run
    (or by a restarted container, whose processes get the same ids again) would add up with
    this run's. The first worker process of a run empties it and marks it with the run (the
    dramatiq main process: its id and start time); its siblings see the mark and keep the
    files the first already writes."""
    path.mkdir(parents=True, exist_ok=True)
    parent = os.getppid()
    try:
        started = Path(f"/proc/{parent}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        started = ""
    run = f"{parent} {started}\n"
    mark = path / "run"
    with open(path.parent / f"{path.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if mark.exists() and mark.read_text() == run:
            return
        for stale in path.glob("*.db"):
            stale.unlink(missing_ok=True)
        mark.write_text(run)


def serve_worker_metrics() -> int:
    """Runs in the process dramatiq's main process forks for the middleware: serves the sum of
    every worker process's files (dramatiq's exposition server). Reads the same settings as
    the workers (the environment they inherit)."""
    settings = Settings.from_env()
    prometheus = _prometheus(settings)
    host, port = settings.worker_metrics_host, int(settings.worker_metrics_port or 0)
    log.info("worker metrics on %s", worker_metrics_url(host, port))
    try:
        return int(prometheus._run_exposition_server())
    except OSError as exc:
        log.error("LIKVID_WORKER_METRICS_PORT: cannot serve metrics on %s:%s (%s)", host, port, exc)
        return 1
