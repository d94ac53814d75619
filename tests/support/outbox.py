"""The outbound events in the outbox, as other systems will receive them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from likvid.db import read_session
from likvid.models import OutboxMessage
from likvid.service.app import App
from likvid.service.records import QUEUE_OUTBOUND, outbound_events


def outbound(app: App, type_: str | None = None) -> list[dict[str, Any]]:
    """Every outbound event (of ``type_``), in order; a set-based path writes many to a row,
    and the relay sends each on its own."""
    with read_session(app.db) as s:
        payloads = s.scalars(select(OutboxMessage.payload).where(OutboxMessage.queue == QUEUE_OUTBOUND)
                             .order_by(OutboxMessage.created_at, OutboxMessage.id)).all()
    return [e for p in payloads for e in outbound_events(p) if type_ is None or e["type"] == type_]
