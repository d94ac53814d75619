"""Broker setup. Call ``configure()`` before importing ``likvid.workers.actors`` (dramatiq
binds actors to the broker that is current when they are declared)."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage

from likvid.workers.middleware import DeadLetters

_BROKER: RedisBroker | None = None


def configure(redis_url: str) -> RedisBroker:
    """The Redis broker for this process, with the current-message and dead-letter middleware."""
    global _BROKER
    if _BROKER is None:
        import os

        # A killed worker's unacknowledged messages return after the heartbeat timeout, when
        # some process runs broker maintenance (a chance per command, out of a million).
        broker = RedisBroker(
            url=redis_url,
            heartbeat_timeout=int(os.environ.get("LIKVID_HEARTBEAT_TIMEOUT_MS", "60000")),
            maintenance_chance=int(os.environ.get("LIKVID_MAINTENANCE_CHANCE", "1000")),
        )
        broker.add_middleware(CurrentMessage())
        broker.add_middleware(DeadLetters())
        dramatiq.set_broker(broker)
        _BROKER = broker
    return _BROKER


def current_message_id() -> str | None:
    message = CurrentMessage.get_current_message()
    return message.message_id if message is not None else None
