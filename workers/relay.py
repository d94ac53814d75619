"""The outbox relay: publishes committed outbox rows to Redis.

Worker messages go to their dramatiq queue (with the outbox id as the message id); outbound
events go to the Redis stream other systems read. When Redis comes back without its data,
every published but unprocessed row is published again: that is how it is refilled.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

import dramatiq
import redis
from sqlalchemy import Row, case, select, update
from sqlalchemy.orm import Session

from likvid import jsontext
from likvid.clock import to_db
from likvid.correlation import OPTION
from likvid.db import among, is_sqlite, transaction
from likvid.models import OutboxMessage
from likvid.service.app import App
from likvid.service.records import OUTBOUND_STREAM, QUEUE_OUTBOUND, outbound_events, wall_now
from likvid.workers.broker import WakingRedisBroker

log = logging.getLogger("likvid.relay")

#: Rows published per pass.
BATCH = 500
#: The notification channel of migration 0008's trigger on the outbox.
CHANNEL = "likvid_outbox"
#: Seconds the relay waits for a notification before it looks anyway.
LISTEN_FALLBACK_S = 0.5
#: Seconds before a broken listening connection is opened again.
RECONNECT_S = 1.0
#: What the relay reads of an outbox row.
_COLUMNS = (OutboxMessage.id, OutboxMessage.queue, OutboxMessage.actor, OutboxMessage.payload,
            OutboxMessage.published_at, OutboxMessage.correlation_id)
#: A marker key; its absence means Redis lost its data since the relay last looked.
EPOCH_KEY = "likvid:relay:epoch"
#: Outbound events kept in the stream (approximate trimming).
STREAM_MAXLEN = 1_000_000
#: ``XADD stream MAXLEN ~ max * event JSON`` for every argument after the first, in order.
XADD_MANY = """
for i = 2, #ARGV do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'event', ARGV[i])
end
return #ARGV - 1
"""
#: Events per XADD_MANY call.
XADD_CHUNK = 1000


class Relay:
    def __init__(self, app: App, broker: WakingRedisBroker, redis_url: str) -> None:
        self.app = app
        self.broker = broker
        self.redis = redis.Redis.from_url(redis_url)
        self.declared: set[str] = set()

    def publish_once(self) -> int:
        """Publish the next batch of unpublished rows; returns how many."""
        with transaction(self.app.db) as s:
            q = select(*_COLUMNS).where(OutboxMessage.published_at.is_(None))
            q = q.order_by(OutboxMessage.created_at).limit(BATCH)
            if not is_sqlite(self.app.db):
                q = q.with_for_update(skip_locked=True)
            return self._publish(s, s.execute(q).all())

    def redeliver_if_redis_lost_data(self) -> int:
        """When Redis comes back empty (restarted without its data, or flushed), publish again
        every message that was published before and is still not processed.

        Detected by a marker key: whoever finds it missing sets it and refills. (A killed
        worker's messages are not lost: dramatiq requeues them after the heartbeat timeout.)
        Consumers are idempotent, so a copy of a message that did survive is harmless.
        """
        if not self.redis.set(EPOCH_KEY, uuid.uuid4().hex, nx=True):
            return 0
        cutoff = to_db(wall_now())
        total = 0
        while True:
            with transaction(self.app.db) as s:
                q = select(*_COLUMNS).where(
                    OutboxMessage.processed_at.is_(None),
                    OutboxMessage.published_at < cutoff,
                    OutboxMessage.queue != QUEUE_OUTBOUND,
                )
                q = q.order_by(OutboxMessage.published_at).limit(BATCH)
                rows = s.execute(q).all()
                if rows:
                    log.warning("Redis lost its data: publishing %d unprocessed messages again", len(rows))
                total += self._publish(s, rows)
            if len(rows) < BATCH:
                return total

    def _publish(self, s: Session, rows: Sequence[Row[Any]]) -> int:
        """Publish ``rows`` (columns ``_COLUMNS``) and mark them published in ``s``'s
        transaction: one UPDATE for the batch. Redis first, then the commit: a crash between
        the two publishes a row again, never loses one (consumers are idempotent)."""
        if not rows:
            return 0
        now = to_db(wall_now())
        pipe = self.redis.pipeline(transaction=False)
        outbound = [row for row in rows if row.queue == QUEUE_OUTBOUND and row.published_at is None]
        if outbound:
            from likvid.service.sinks import fan_out

            fan_out(s, self.app.settings, outbound)
        events: list[str] = []
        woken: Counter[str] = Counter()
        for row in rows:
            if row.queue == QUEUE_OUTBOUND:
                events += (jsontext.dumps(event) for event in outbound_events(row.payload))
            else:
                self._enqueue(row)
                woken[row.queue] += 1
        # The idle consumers' wake tokens, the batch's in one go (workers/broker.py).
        WakingRedisBroker.wake(pipe, woken)
        # Each event its own stream entry, in order; many in one command (XADD_MANY), as one
        # XADD each cost the relay more CPU than everything else it does for an event.
        for i in range(0, len(events), XADD_CHUNK):
            pipe.eval(XADD_MANY, 1, OUTBOUND_STREAM, STREAM_MAXLEN, *events[i : i + XADD_CHUNK])
        pipe.execute()
        table = OutboxMessage.__table__
        s.execute(
            update(table)
            .where(among(s, table.c.id, [row.id for row in rows]))  # at most BATCH rows
            .values(published_at=now, publish_count=table.c.publish_count + 1,
                    processed_at=case((table.c.queue == QUEUE_OUTBOUND, now), else_=table.c.processed_at))
        )
        return len(rows)

    def _enqueue(self, row: Row[Any]) -> None:
        if row.queue not in self.declared:
            self.broker.declare_queue(row.queue)
            self.declared.add(row.queue)
        # The correlation id rides in the options (workers.middleware.Correlation sets it again).
        options = {OPTION: row.correlation_id} if row.correlation_id else {}
        message = dramatiq.Message(queue_name=row.queue, actor_name=row.actor, args=tuple(row.payload["args"]),
                                   kwargs={}, options=options, message_id=row.id)
        self.broker.enqueue(message, wake=False)  # (woken with its batch: _publish)

    def run(self, stop: threading.Event) -> None:
        from likvid.service import sinks

        # Outbound sinks deliver in their own thread: a receiver that is down never delays
        # the publishing of worker messages.
        threading.Thread(target=sinks.run, args=(self.app, stop), name="sinks", daemon=True).start()
        wakeup = Wakeup(self.app.settings.database_url, self.app.settings.relay_interval_ms / 1000)
        next_check = 0.0
        try:
            while not stop.is_set():
                try:
                    if time.monotonic() >= next_check:
                        self.redeliver_if_redis_lost_data()
                        next_check = time.monotonic() + 1.0
                    if self.publish_once() < BATCH:
                        wakeup.wait(stop)
                except Exception:
                    log.exception("relay pass failed; retrying")
                    stop.wait(1.0)
        finally:
            wakeup.close()


class Wakeup:
    """How the relay waits for the next outbox rows.

    On PostgreSQL it listens on ``CHANNEL`` (migration 0008: a trigger notifies on every
    insert into the outbox, delivered at commit) and wakes the moment a transaction that
    wrote outbox rows commits, looking anyway after ``poll`` seconds
    (``LIKVID_RELAY_INTERVAL_MS``, at least ``LISTEN_FALLBACK_S``) in case a notification
    was missed. Waiting costs no CPU, where polling every few milliseconds cost a steady
    share of a core. On SQLite it polls every ``poll`` seconds; while the listening
    connection is down, at least every ``RECONNECT_S``, and it listens again after that.
    """

    def __init__(self, database_url: str, poll: float) -> None:
        self.url = database_url
        self.poll = poll
        self.conn: Any = None
        self.retry_at = 0.0

    def wait(self, stop: threading.Event) -> None:
        """Until a notification, ``stop``, or the poll interval (at least
        ``LISTEN_FALLBACK_S`` while listening) has passed."""
        if is_sqlite(self.url):
            stop.wait(self.poll)
            return
        if self.conn is None and time.monotonic() >= self.retry_at:
            self._listen()
        if self.conn is None:
            stop.wait(min(self.poll, RECONNECT_S))
            return
        deadline = time.monotonic() + max(self.poll, LISTEN_FALLBACK_S)
        try:
            while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
                # In short slices, so that a stop is noticed soon.
                if any(True for _ in self.conn.notifies(timeout=min(left, LISTEN_FALLBACK_S), stop_after=1)):
                    return
        except Exception as exc:  # the connection broke (PostgreSQL restarted): poll meanwhile
            log.warning("relay: listening for outbox notifications failed (%s); polling meanwhile", exc)
            self.close()
            self.retry_at = time.monotonic() + RECONNECT_S
            stop.wait(min(self.poll, RECONNECT_S))

    def _listen(self) -> None:
        import psycopg
        from sqlalchemy.engine import make_url

        url = make_url(self.url)
        params = {k: v for k, v in url.query.items() if isinstance(v, str)}
        params.update(url.translate_connect_args(username="user", database="dbname"))
        try:
            self.conn = psycopg.connect(autocommit=True, connect_timeout=5, **params)
            self.conn.execute(f"LISTEN {CHANNEL}")
        except Exception as exc:
            log.warning("relay: cannot listen for outbox notifications (%s); polling meanwhile", exc)
            self.close()
            self.retry_at = time.monotonic() + RECONNECT_S

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None

