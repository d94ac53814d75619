"""The no-op actor for the raw dramatiq baseline (``bench/raw_dramatiq.py``).

Loaded by the ``dramatiq`` CLI in the worker processes::

    LIKVID_BENCH_REDIS_URL=redis://... LIKVID_BENCH_QUEUE=q dramatiq bench.noop_actor

The actor does nothing but count. Counting must not slow the workers down, so each worker
process counts in memory and a background thread adds the count to the Redis key
``<queue>:processed`` (INCRBY) every few milliseconds; the benchmark polls that key.
"""

from __future__ import annotations

import os
import threading

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Middleware

ACTOR_NAME = "bench_noop"
ENV_URL = "LIKVID_BENCH_REDIS_URL"
ENV_QUEUE = "LIKVID_BENCH_QUEUE"
FLUSH_INTERVAL = 0.01  # seconds


def counter_key(queue_name: str) -> str:
    return f"likvid-bench:{queue_name}:processed"


_lock = threading.Lock()
_processed = 0  # messages handled by this worker process


def noop() -> None:
    global _processed
    with _lock:  # uncontended lock: ~0.1 µs, nothing next to dramatiq's own per-message cost
        _processed += 1


class CountFlusher(Middleware):
    """Starts, in each worker process, the thread that publishes the processed count."""

    def __init__(self, url: str, queue_name: str) -> None:
        self.url = url
        self.key = counter_key(queue_name)
        self._stop = threading.Event()
        self._flushed = 0

    def _flush(self, client: redis.Redis) -> None:
        with _lock:
            done = _processed
        if done > self._flushed:
            client.incrby(self.key, done - self._flushed)
            self._flushed = done

    def _run(self) -> None:
        client = redis.Redis.from_url(self.url)
        try:
            while not self._stop.wait(FLUSH_INTERVAL):
                self._flush(client)
            self._flush(client)
        finally:
            client.close()

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        threading.Thread(target=self._run, name="bench-count-flusher", daemon=True).start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.set()


def declare(broker: dramatiq.Broker, queue_name: str) -> dramatiq.Actor:
    """Declare the no-op actor on ``broker`` for ``queue_name`` (no retries)."""
    return dramatiq.actor(
        noop, actor_name=ACTOR_NAME, queue_name=queue_name, broker=broker, max_retries=0
    )


# Worker side: the dramatiq CLI imports this module with the environment set.
if os.environ.get(ENV_URL):
    _url = os.environ[ENV_URL]
    _queue = os.environ.get(ENV_QUEUE, "bench-noop")
    broker = RedisBroker(url=_url)
    broker.add_middleware(CountFlusher(_url, _queue))
    dramatiq.set_broker(broker)
    actor = declare(broker, _queue)
