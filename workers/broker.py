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
import time
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import dramatiq
import redis
from dramatiq import Middleware
from dramatiq.broker import MessageProxy
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.common import compute_backoff, dq_name
from dramatiq.encoder import JSONEncoder, MessageData
from dramatiq.errors import ConnectionClosed, DecodeError
from dramatiq.message import Message
from dramatiq.middleware import CurrentMessage

from likvid import jsontext
from likvid.settings import Settings, whole_number
from likvid.workers.middleware import DeadLetters

log = logging.getLogger("likvid.workers.metrics")

_BROKER: WakingRedisBroker | None = None

#: Prefix of the list an idle consumer of a queue blocks on (``WAKE_PREFIX + queue``): an
#: enqueue pushes a token per message, at most ``WAKE_MAX`` (each wakes one idle consumer).
WAKE_PREFIX = "likvid:wake:"
WAKE_MAX = 32
#: How long an idle consumer waits for a token before it looks at its queue anyway, in ms
#: (``LIKVID_WORKER_IDLE_POLL_MS``): for a message pushed without one (a publisher straight
#: onto Redis that leaves it out, dramatiq's maintenance returning a dead worker's messages).
IDLE_POLL_MS = 1000


def wake_key(queue_name: str) -> str:
    return WAKE_PREFIX + queue_name


class WakingRedisBroker(RedisBroker):
    """dramatiq's Redis broker whose idle consumers wait to be woken instead of polling.

    dramatiq's consumer of an empty queue sleeps and looks again, up to
    ``dramatiq_worker_timeout`` apart. At the 100 ms the service needs for a quick hop
    (runtime/service.py ``WORKER_POLL_MS``), the ten consumers of a worker process (five
    queues and their delay queues) each called a Redis script about 13 times a second: two
    idle worker processes took 2.75 s of CPU in 20 s (0.33 s with this), and while a BgMax
    import kept one queue busy, the other queues' polling cost the workers a tenth more CPU
    (BENCHMARKS.md, BgMax import, 2026-11-29 23:40). Here every enqueue also pushes a token
    onto the queue's wake list (the relay one push per queue and batch), and a consumer that
    finds its queue empty blocks on that list (BLPOP) until a token comes or ``idle_poll_ms``
    pass (at most 0.8 of the Redis client's socket timeout): no polling while idle, and work
    on a quiet queue starts at once instead of up to 100 ms later. A consumer whose own
    threads hold its whole prefetch backs off without Redis, as dramatiq's does. A worker that
    stops wakes its own waiting consumers (``_WakeOnShutdown``), which poll as dramatiq's do
    until they are stopped, so a stop takes no longer than it did."""

    def __init__(self, *args: Any, idle_poll_ms: int = IDLE_POLL_MS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.idle_poll_ms = idle_poll_ms
        # A wait must end before the client's socket timeout (redis-py: 5 s unless the URL
        # says otherwise), which would otherwise break off the BLPOP as a connection error.
        pool = self.client.connection_pool
        socket_timeout = pool.connection_class(**pool.connection_kwargs).socket_timeout  # (not connected)
        self.idle_wait_s = idle_poll_ms / 1000
        if socket_timeout:
            self.idle_wait_s = min(self.idle_wait_s, 0.8 * float(socket_timeout))
        #: Set while a worker of this process stops: its consumers no longer wait on Redis.
        self.stopping = False
        #: This process's own wake list, for its consumers alone (a stop).
        self.stop_key = f"{WAKE_PREFIX}stop:{self.broker_id}"
        self.add_middleware(_WakeOnShutdown())

    @property
    def consumer_class(self) -> type[_RedisConsumer]:
        return _WakingConsumer

    def enqueue(self, message: Message, *, delay: int | None = None, wake: bool = True) -> Message:
        """dramatiq's enqueue, then the message's wake token; ``wake=False`` for a caller that
        pushes the tokens of a whole batch itself (``wake``)."""
        message = super().enqueue(message, delay=delay)
        if wake:
            pipe = self.client.pipeline(transaction=False)
            self.wake(pipe, {message.queue_name: 1})
            pipe.execute()
        return message

    @staticmethod
    def wake(pipe: Any, counts: Mapping[str, int]) -> None:
        """Queue on ``pipe`` (a Redis pipeline) the wake tokens for ``counts`` messages
        enqueued per queue name (a delayed message's is its delay queue's)."""
        for queue_name, count in counts.items():
            if count > 0:
                key = wake_key(queue_name)
                pipe.lpush(key, *["1"] * min(count, WAKE_MAX))
                pipe.ltrim(key, 0, WAKE_MAX - 1)

    def flush(self, queue_name: str) -> None:
        super().flush(queue_name)
        self.client.delete(wake_key(queue_name), wake_key(dq_name(queue_name)))


class _WakeOnShutdown(Middleware):
    """A stopping worker's consumers return from their wait at once (a token each on the
    process's own wake list) and poll until dramatiq stops them; a worker started again on the
    same broker (tests) waits on the wake lists again."""

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        broker.stopping = False

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        broker.stopping = True
        consumers = len(broker.queues) + len(broker.delay_queues)
        if consumers:
            pipe = broker.client.pipeline(transaction=False)
            pipe.lpush(broker.stop_key, *["1"] * consumers)
            pipe.expire(broker.stop_key, 60)
            try:
                pipe.execute()
            except redis.RedisError:
                pass  # Redis is gone: the waits end with their connections or their timeout


class _WakingConsumer(_RedisConsumer):
    """dramatiq's ``_RedisConsumer.__next__`` (dramatiq 2.2) but for what it does when no
    message is at hand: with room in its prefetch and nothing queued, it waits on the queue's
    wake list (``WakingRedisBroker``) rather than sleeping."""

    broker: WakingRedisBroker

    def __next__(self) -> MessageProxy | None:
        try:
            while True:
                if self.message_cache:
                    data = self.message_cache.pop(0)
                    if data is None:  # (as dramatiq: a bug it logs and skips)
                        self.logger.warning("Found 'None' message in message cache for queue %r.", self.queue_name)
                        continue
                    self.misses = 0
                    message = Message.decode(data)
                    self.queued_message_ids.add(message.message_id)
                    return MessageProxy(message)
                if self.outstanding_message_count < self.prefetch:
                    self.message_cache = self.broker.do_fetch(
                        self.queue_name, self.prefetch - self.outstanding_message_count)
                    if self.message_cache:
                        continue
                    if not self.broker.stopping:
                        self.misses = 0
                        self.broker.client.blpop([wake_key(self.queue_name), self.broker.stop_key],
                                                 timeout=self.broker.idle_wait_s)
                        return None
                # Its threads still hold the prefetch (or its worker stops): back off, as dramatiq's.
                self.misses, backoff_ms = compute_backoff(self.misses, max_backoff=self.timeout)
                time.sleep(backoff_ms / 1000)
                return None
        except redis.ConnectionError as e:
            raise ConnectionClosed(e) from None


def configure(redis_url: str, *, worker: Settings | None = None) -> WakingRedisBroker:
    """The Redis broker for this process, with the current-message and dead-letter middleware.

    ``worker``: the settings of a dramatiq worker process (workers/main.py); with a metrics
    port configured it gets the Prometheus middleware. Other processes (relay, API, commands)
    only enqueue and never get it.
    """
    global _BROKER
    if _BROKER is None:
        # A killed worker's unacknowledged messages return after the heartbeat timeout, when
        # some process runs broker maintenance (a chance per command, out of a million).
        broker = WakingRedisBroker(
            url=redis_url,
            heartbeat_timeout=int(os.environ.get("LIKVID_HEARTBEAT_TIMEOUT_MS", "60000")),
            maintenance_chance=int(os.environ.get("LIKVID_MAINTENANCE_CHANCE", "1000")),
            idle_poll_ms=whole_number(dict(os.environ), "LIKVID_WORKER_IDLE_POLL_MS", IDLE_POLL_MS, minimum=1),
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
