"""Idle dramatiq consumers wait on their queue's wake list instead of polling
(workers/broker.py ``WakingRedisBroker``): with an idle poll of a minute, a message sent to an
idle worker is still handled at once, and the idle worker calls Redis's scripts only when
its wait ends (every 4 s, within redis-py's socket timeout); every enqueue leaves a token (at
most ``WAKE_MAX``), the relay one per message of its batch; a message pushed without a token
is found at the idle poll; a consumer whose prefetch is taken leaves the tokens to the
others; a stopping worker wakes its own consumers, so a stop does not wait out the idle
poll."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dramatiq
import pytest
import redis
from dramatiq.common import dq_name

from likvid.db import dispose_engines, transaction
from likvid.service.app import bootstrap, prepare
from likvid.service.records import QUEUE_INGEST, QUEUE_PAYMENTS, enqueue
from likvid.settings import Settings
from likvid.workers.broker import WAKE_MAX, WakingRedisBroker, wake_key
from likvid.workers.relay import Relay
from tests.support.waiting import wait_for

QUEUE = "wake-test"
MINUTE_MS = 60_000


def _script_calls(client: redis.Redis) -> int:
    """EVALSHA calls Redis has served (dramatiq's fetch, ack and enqueue are scripts)."""
    stats = client.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


@pytest.fixture
def broker(redis_url: str) -> Iterator[WakingRedisBroker]:
    b = WakingRedisBroker(url=redis_url, idle_poll_ms=MINUTE_MS)
    yield b
    b.close()


def _worker(broker: WakingRedisBroker, seen: list[Any]) -> tuple[dramatiq.Actor[Any, Any], dramatiq.Worker]:
    def record(value: Any) -> None:
        seen.append(value)

    actor = dramatiq.actor(record, broker=broker, queue_name=QUEUE, actor_name=f"record_{uuid.uuid4().hex[:8]}")
    return actor, dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)


def _stop(worker: dramatiq.Worker) -> None:
    # The stopping worker wakes its own consumers: it does not wait out their wait (4 s here).
    started = time.monotonic()
    worker.stop(timeout=30_000)
    assert time.monotonic() - started < 2


def test_an_idle_worker_is_woken_by_a_message_and_does_not_poll_meanwhile(broker: WakingRedisBroker) -> None:
    seen: list[Any] = []
    actor, worker = _worker(broker, seen)
    worker.start()
    try:
        time.sleep(1.0)  # the consumers have looked once and wait
        # A minute's idle poll waits 4 s at a time: redis-py's socket timeout is 5 s.
        assert broker.idle_wait_s == 4.0
        before = _script_calls(broker.client)
        time.sleep(2.0)
        # A polling consumer (every 100 ms, two queues) would have called the fetch script ~40
        # times; these two look again at most once each.
        assert _script_calls(broker.client) - before <= 2
        actor.send("first")
        wait_for(lambda: seen == ["first"], timeout=10)  # at once, not after a 4 s wait
        time.sleep(0.5)
        actor.send("second")
        wait_for(lambda: seen == ["first", "second"], timeout=10)
    finally:
        _stop(worker)
    # A worker started again on the same broker waits on the wake lists again.
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
    worker.start()
    try:
        time.sleep(1.0)
        before = _script_calls(broker.client)
        time.sleep(1.0)
        assert _script_calls(broker.client) - before <= 2
        actor.send("third")
        wait_for(lambda: seen == ["first", "second", "third"], timeout=10)
    finally:
        _stop(worker)


def test_a_message_pushed_without_a_token_is_found_at_the_idle_poll(broker: WakingRedisBroker) -> None:
    broker.idle_poll_ms = 300
    seen: list[Any] = []
    actor, worker = _worker(broker, seen)
    worker.start()
    try:
        time.sleep(0.5)
        message = actor.message("pushed by hand").copy(options={"redis_message_id": str(uuid.uuid4())})
        # As another publisher might (README, "Straight onto Redis"), leaving the token out.
        broker.do_enqueue(QUEUE, message.options["redis_message_id"], message.encode())
        wait_for(lambda: seen == ["pushed by hand"], timeout=10)
        assert broker.client.llen(wake_key(QUEUE)) == 0
    finally:
        _stop(worker)


def test_each_enqueue_leaves_a_token_at_most_wake_max(broker: WakingRedisBroker) -> None:
    actor = dramatiq.actor(lambda: None, broker=broker, queue_name=QUEUE, actor_name="tokens")
    actor.send()
    assert broker.client.llen(wake_key(QUEUE)) == 1
    actor.send_with_options(delay=60_000)  # a delayed message wakes its delay queue's consumers
    assert broker.client.llen(wake_key(dq_name(QUEUE))) == 1
    for _ in range(WAKE_MAX + 8):
        actor.send()
    assert broker.client.llen(wake_key(QUEUE)) == WAKE_MAX
    broker.enqueue(actor.message(), wake=False)
    assert broker.client.llen(wake_key(QUEUE)) == WAKE_MAX
    broker.flush(QUEUE)
    assert broker.client.llen(wake_key(QUEUE)) == 0 == broker.client.llen(wake_key(dq_name(QUEUE)))


def test_a_consumer_whose_prefetch_is_taken_leaves_the_tokens(broker: WakingRedisBroker) -> None:
    actor = dramatiq.actor(lambda: None, broker=broker, queue_name=QUEUE, actor_name="prefetch")
    actor.send()
    actor.send()
    consumer = broker.consume(QUEUE, prefetch=1, timeout=100)
    try:
        assert next(consumer) is not None  # its one message, held
        assert next(consumer) is None  # backs off: its prefetch is taken
        assert broker.client.llen(wake_key(QUEUE)) == 2  # for consumers that can take the message
    finally:
        consumer.close()
    # An empty queue: the consumer takes a token and returns at once, without one at the idle poll.
    broker.flush(QUEUE)
    broker.idle_poll_ms = 500
    consumer = broker.consume(QUEUE, prefetch=1, timeout=100)
    broker.client.lpush(wake_key(QUEUE), "1")
    started = time.monotonic()
    assert next(consumer) is None
    assert broker.client.llen(wake_key(QUEUE)) == 0
    woken = time.monotonic() - started
    assert next(consumer) is None
    assert time.monotonic() - started - woken >= 0.45  # waited out the idle poll
    consumer.close()


def test_the_relay_leaves_a_token_per_message_of_its_batch(tmp_path: Path, redis_url: str) -> None:
    settings = Settings.from_env({"LIKVID_HOME": str(tmp_path / "home"),
                                  "LIKVID_DATABASE_URL": f"sqlite:///{tmp_path}/likvid.db",
                                  "LIKVID_REDIS_URL": redis_url, "LIKVID_CLOCK": "simulated"})
    dispose_engines()
    app = bootstrap(settings, fresh=True)
    prepare(app)
    broker = WakingRedisBroker(url=redis_url, idle_poll_ms=MINUTE_MS)
    try:
        with transaction(app.db) as s:
            now = app.clock.now(s)
            for i in range(3):
                enqueue(s, now, QUEUE_INGEST, "ingest_events", [{"n": i}])
            enqueue(s, now, QUEUE_PAYMENTS, "ingest_payments", [{"n": 9}])
        assert Relay(app, broker, redis_url).publish_once() == 4
        assert broker.client.llen(wake_key(QUEUE_INGEST)) == 3
        assert broker.client.llen(wake_key(QUEUE_PAYMENTS)) == 1
        assert broker.client.llen("dramatiq:" + QUEUE_INGEST) == 3
    finally:
        broker.close()
        dispose_engines()
