"""The outbox relay: publishes committed outbox rows to Redis.

Worker messages go to their dramatiq queue (with the outbox id as the message id); outbound
events go to the Redis stream other systems read. A row published long ago but still not
processed is published again: that is how a restarted or flushed Redis is refilled.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import dramatiq
import redis
from sqlalchemy import or_, select

from likvid.clock import to_db
from likvid.db import is_sqlite, transaction
from likvid.models import OutboxMessage
from likvid.service.app import App
from likvid.service.records import OUTBOUND_STREAM, QUEUE_OUTBOUND, wall_now

log = logging.getLogger("likvid.relay")

#: Rows published per pass.
BATCH = 500
#: Outbound events kept in the stream (approximate trimming).
STREAM_MAXLEN = 1_000_000


class Relay:
    def __init__(self, app: App, broker: dramatiq.Broker, redis_url: str) -> None:
        self.app = app
        self.broker = broker
        self.redis = redis.Redis.from_url(redis_url)
        self.declared: set[str] = set()

    def publish_once(self) -> int:
        """Publish the next batch of unpublished (or stale) rows; returns how many."""
        now = wall_now()
        stale = to_db(now - timedelta(milliseconds=self.app.settings.redeliver_after_ms))
        with transaction(self.app.db) as s:
            q = (
                select(OutboxMessage)
                .where(
                    or_(
                        OutboxMessage.published_at.is_(None),
                        (OutboxMessage.processed_at.is_(None)) & (OutboxMessage.published_at < stale),
                    )
                )
                .order_by(OutboxMessage.created_at)
                .limit(BATCH)
            )
            if not is_sqlite(self.app.db):
                q = q.with_for_update(skip_locked=True)
            rows = list(s.scalars(q))
            if not rows:
                return 0
            pipe = self.redis.pipeline(transaction=False)
            for row in rows:
                if row.queue == QUEUE_OUTBOUND:
                    pipe.xadd(OUTBOUND_STREAM, {"event": _json(row.payload)}, maxlen=STREAM_MAXLEN, approximate=True)
                    row.processed_at = to_db(now)
                else:
                    if row.published_at is not None:
                        log.warning("republishing %s %s (not processed since %s)", row.actor, row.id, row.published_at)
                    self._enqueue(row)
                row.published_at = to_db(now)
                row.publish_count += 1
            pipe.execute()
            return len(rows)

    def _enqueue(self, row: OutboxMessage) -> None:
        if row.queue not in self.declared:
            self.broker.declare_queue(row.queue)
            self.declared.add(row.queue)
        message = dramatiq.Message(queue_name=row.queue, actor_name=row.actor, args=tuple(row.payload["args"]),
                                   kwargs={}, options={}, message_id=row.id)
        self.broker.enqueue(message)

    def run(self, stop: threading.Event) -> None:
        idle = self.app.settings.relay_interval_ms / 1000
        while not stop.is_set():
            try:
                if self.publish_once() < BATCH:
                    stop.wait(idle)
            except Exception:
                log.exception("relay pass failed; retrying")
                stop.wait(1.0)


def _json(payload: object) -> str:
    import json

    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
