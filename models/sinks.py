"""Outbound events waiting for, or delivered to, each configured sink (webhook, JSON lines).

One row per sink and event, written by the relay in the transaction that publishes the event:
an event is never lost while a receiver is down, and each sink gets its events in order."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import AutoId, Base


class SinkDelivery(Base):
    __tablename__ = "sink_deliveries"
    __table_args__ = (
        Index(
            "ix_sink_deliveries_pending",
            "sink", "id",
            postgresql_where=text("delivered_at IS NULL"),
            sqlite_where=text("delivered_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    sink: Mapped[str] = mapped_column(String(40))
    #: The outbound event's own id (receivers deduplicate on it).
    event_id: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None]
