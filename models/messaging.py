"""The event store, inbox/outbox, rejected and parked events, dead letters, timeline, clock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import AutoId, Base, id_column


class ReceivedEvent(Base):
    """Every accepted inbound event, once: its id is the idempotency key (the ingest inbox)."""

    __tablename__ = "events"

    id: Mapped[str] = id_column()
    #: (Not indexed: nothing looks events up by type; migration 0012.)
    type: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(100))
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime]
    data: Mapped[dict[str, Any]]
    #: applied, parked (waiting for a missing piece), recorded (kept; no action yet)
    status: Mapped[str] = mapped_column(String(20))


class RejectedEvent(Base):
    __tablename__ = "rejected_events"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    event_id: Mapped[str | None] = mapped_column(String(100), index=True)
    event_type: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str | None] = mapped_column(String(100))
    received_at: Mapped[datetime]
    reasons: Mapped[list[Any]]
    payload: Mapped[str] = mapped_column(Text)


class ParkedEvent(Base):
    """An accepted event that cannot be placed yet (a payment before its invoice)."""

    __tablename__ = "parked_events"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    waiting_for: Mapped[str] = mapped_column(String(140), index=True)
    event_id: Mapped[str] = mapped_column(String(100), unique=True)
    parked_at: Mapped[datetime]


class OutboxMessage(Base):
    """A message written in the same transaction as the state change that caused it.

    The relay publishes it; its consumer sets ``processed_at`` in the transaction of its effect.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index(
            "ix_outbox_unpublished",
            "created_at",
            postgresql_where=text("published_at IS NULL"),
            sqlite_where=text("published_at IS NULL"),
        ),
        Index(
            "ix_outbox_unprocessed",
            "published_at",
            postgresql_where=text("processed_at IS NULL"),
            sqlite_where=text("processed_at IS NULL"),
        ),
    )

    id: Mapped[str] = id_column(40)
    queue: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    published_at: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]
    publish_count: Mapped[int] = mapped_column(default=0)
    #: The inbound event this message follows from (likvid.correlation); the relay puts it in
    #: the dramatiq message's options.
    correlation_id: Mapped[str | None] = mapped_column(String(100))


class DeadLetter(Base):
    """A message that exhausted its retries, kept for operators to inspect and replay."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(40), index=True)
    queue: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]]
    error: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[datetime]
    replayed_at: Mapped[datetime | None]


class TimelineEntry(Base):
    """What happened to a claim or customer, with the rule that made it happen.

    Outbound event names (EVENTS.md) are used as ``type`` where one applies.
    """

    __tablename__ = "timeline"
    __table_args__ = (
        #: `likvid report` and `likvid risk list` scan the timeline by type within a period.
        Index("ix_timeline_type_at", "type", "at"),
    )

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    type: Mapped[str] = mapped_column(String(50))
    claim_id: Mapped[str | None] = mapped_column(String(100), index=True)
    customer_id: Mapped[str | None] = mapped_column(String(100), index=True)
    case_id: Mapped[int | None]
    details: Mapped[dict[str, Any]]
    basis: Mapped[str | None] = mapped_column(String(300))


class BusinessClock(Base):
    """The simulated clock's instant (one row); unused with the system clock."""

    __tablename__ = "business_clock"

    id: Mapped[int] = mapped_column(primary_key=True)
    now: Mapped[datetime]
