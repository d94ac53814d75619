"""Writing what happened: timeline entries, outbound events and outbox messages.

Everything here joins the caller's transaction, so a state change and the messages it causes
commit together or not at all (the transactional outbox, ARCHITECTURE.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, insert, update
from sqlalchemy.orm import Session

from likvid.clock import SystemClock, isoformat, to_db
from likvid.correlation import current as current_correlation
from likvid.ids import hex_id
from likvid.jsontext import Text
from likvid.models import OutboxMessage, TimelineEntry, Timer

if TYPE_CHECKING:
    from likvid.messages import Event


@cache
def _messages() -> ModuleType:
    """``likvid.messages`` (the event models), imported on first use: `likvid import bgmax`
    writes no event row and no outbound event before its first payment goes out, and importing
    the models took 0.15 s of its start-up."""
    import likvid.messages

    return likvid.messages


@cache
def outbound_types() -> frozenset[str]:
    """The outbound event types (EVENTS.md), as a set."""
    return frozenset(_messages().OUTBOUND_EVENT_TYPES)


#: Queue names, grouped by workload so each group scales alone (`likvid worker --queues`).
QUEUE_INGEST = "ingest"
QUEUE_STEPS = "steps"
QUEUE_LETTERS = "letters"
QUEUE_EMAIL = "email"
#: payment-received events only: their own queue and a higher priority, so a payment is not
#: queued behind a billing run's invoices (it stops reminders; BENCHMARKS.md, payment latency).
QUEUE_PAYMENTS = "payments"
#: Not a dramatiq queue: outbound events go to a Redis stream for other systems.
QUEUE_OUTBOUND = "outbound"
WORKER_QUEUES = (QUEUE_INGEST, QUEUE_PAYMENTS, QUEUE_STEPS, QUEUE_LETTERS, QUEUE_EMAIL)
#: The Redis stream other systems read outbound events from.
OUTBOUND_STREAM = "likvid:outbound"
#: Outbound events per outbox row where a set-based path writes many at once (``outbound_rows``).
OUTBOUND_BATCH = 500


#: Types a JSON column takes as they are.
_SCALARS = frozenset((str, int, float, bool, type(None)))


#: Types written as their ISO text (``jsonable``).
_TIMES = frozenset((date, datetime))


def jsonable(value: Any) -> Any:
    if type(value) in _SCALARS:
        return value
    if isinstance(value, dict):  # (a flat dict of scalars and dates, the usual details, without a call per value)
        return {k: v if type(v) in _SCALARS else v.isoformat() if type(v) in _TIMES else jsonable(v)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def wall_now() -> datetime:
    """Operational timestamps (outbox ages, dead letters) follow the system clock even when the
    business clock is simulated, so "published 5 minutes ago" means real minutes."""
    return SystemClock().now()


def enqueue(session: Session, now: datetime, queue: str, actor: str, *args: Any, correlation_id: str | None = None,
            json_types: bool = False) -> str:
    """Write a message for ``actor`` to the outbox; the relay publishes it after commit. It
    follows from ``correlation_id``, by default the current one (likvid.correlation).
    ``json_types``: the arguments hold only JSON types already (no dates to convert)."""
    del now  # the business instant is in the payload's effects, not in the outbox row
    message_id = hex_id()
    session.add(
        OutboxMessage(
            id=message_id,
            queue=queue,
            actor=actor,
            payload={"args": list(args) if json_types else jsonable(list(args))},
            created_at=to_db(wall_now()),
            correlation_id=correlation_id or current_correlation(),
        )
    )
    return message_id


#: Letters per dispatch message.
DISPATCH_BATCH = 50


def dispatch_later(session: Session, letter_id: str, correlation_id: str | None = None) -> None:
    """Queue a letter for the dispatcher when this transaction commits, batched with the other
    letters the same transaction created (one message per 50 letters, not one per letter).
    The message follows from the first letter's correlation id (each letter is dispatched
    under its own: ``letters.correlation_id``)."""
    session.info.setdefault("likvid_letters", []).append((letter_id, correlation_id or current_correlation()))


def enqueue_batches(session: Session, queue: str, actor: str, items: Sequence[tuple[Any, str | None]], size: int) -> None:
    """Messages for ``actor`` carrying the keys of ``items`` ((key, correlation id) pairs),
    ``size`` to a message, in order. A message follows from the first correlation id among its
    items (its consumer handles each item under the item's own)."""
    for i in range(0, len(items), size):
        batch = items[i : i + size]
        enqueue(session, wall_now(), queue, actor, [key for key, _ in batch],
                correlation_id=next((c for _, c in batch if c), None))


@event.listens_for(Session, "before_commit")
def _enqueue_dispatches(session: Session) -> None:
    enqueue_batches(session, QUEUE_LETTERS, "dispatch_letters", session.info.pop("likvid_letters", []), DISPATCH_BATCH)


@event.listens_for(Session, "after_rollback")
def _forget_dispatches(session: Session) -> None:
    if not session.in_transaction():
        session.info.pop("likvid_letters", None)


def mark_processed(session: Session, message_id: str | None, now: datetime) -> None:
    """The consumer's half of the outbox: done, in the transaction of its effect."""
    if message_id:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.processed_at.is_(None))
            .values(processed_at=to_db(wall_now()))
        )


def inbox_row(event: Event, received_at: datetime, status: str = "applied", *,
              data_text: bool = False) -> dict[str, Any]:
    """The ``events`` row (the ingest inbox: the event once, its id the idempotency key) of an
    accepted event, as column values; ``received_at`` as stored (``to_db``). ``data_text``:
    the data as its JSON text already written (``jsontext.Text``), for a writer that passes
    such values through (the payment batch's COPY)."""
    data = Text(_messages().data_json_text(event)) if data_text else _messages().data_to_json(event)
    return {"id": event.id, "type": event.type, "source": event.source, "occurred_at": to_db(event.occurred_at),
            "received_at": received_at, "data": data, "status": status}


@dataclass(frozen=True, slots=True)
class Stamps:
    """The times ``record_rows`` writes, converted once for many rows: the business instant as
    stored (``at``) and as an outbound event's text (``occurred_at``), and the outbox row's
    creation time on the system clock as stored (``created_at``). A set-based path writes
    thousands of rows at one instant; converting per row cost more than building the row."""

    at: datetime
    occurred_at: str
    created_at: datetime

    @classmethod
    def of(cls, now: datetime, wall: datetime | None = None) -> Stamps:
        return cls(to_db(now), isoformat(now), to_db(wall or wall_now()))


def record_rows(
    now: datetime,
    type_: str,
    *,
    claim_id: str | None = None,
    customer_id: str | None = None,
    case_id: int | None = None,
    basis: str | None = None,
    stamps: Stamps | None = None,
    correlation_id: str | None = None,
    **details: Any,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The timeline row and, for an outbound event name, the outbox row that ``record`` writes
    (as column values, for callers that insert many rows at once; ``stamps``, by default
    ``Stamps.of(now)``, lets them convert ``now`` and read the system clock for the outbox
    row's creation time once for all rows). The outbox row has
    no id yet: ``record`` and ``outbound_rows`` give it one where it is written (a set-based
    path writes 500 events to one row, so an id per event was wasted).

    The outbound event carries ``correlation_id`` (by default the current one) as the optional
    envelope field ``correlation_id`` (EVENTS.md: the code may add optional fields), and so
    does its row."""
    if stamps is None:
        stamps = Stamps.of(now)
    details = jsonable(details)
    timeline = {"at": stamps.at, "type": type_, "claim_id": claim_id, "customer_id": customer_id,
                "case_id": case_id, "details": details, "basis": basis}
    if type_ not in outbound_types():
        return timeline, None
    data = {k: v for k, v in (("invoice_id", claim_id), ("customer_id", customer_id)) if v}
    data.update(details)
    payload = {
        "id": hex_id(),
        "type": type_,
        "version": 1,
        "occurred_at": stamps.occurred_at,
        "source": "likvid",
        "data": data,
    }
    correlation_id = correlation_id or current_correlation()
    if correlation_id:
        payload["correlation_id"] = correlation_id
    outbox = {  # (its id is given where it is written: record, outbound_rows)
        "queue": QUEUE_OUTBOUND,
        "actor": "outbound",
        "payload": payload,
        "created_at": stamps.created_at,
        "correlation_id": correlation_id,
    }
    return timeline, outbox


def outbound_events(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The outbound events of an outbound outbox row's payload: the event itself, or, for a row
    a set-based path wrote (``outbound_rows``), the events under ``"events"``, in order."""
    events = payload.get("events")
    return list(events) if isinstance(events, list) else [payload]


def outbound_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Many outbound outbox rows (as ``record_rows`` gives them) as a few: one per
    ``OUTBOUND_BATCH`` events, payload ``{"events": [...]}`` in order. The relay publishes each
    event of a row on its own, as if each had had its row; the rows cost the database and the
    relay a few statements instead of three per event. A row's ``correlation_id`` is its
    events' when they all share one, else None: each event's envelope carries its own."""
    out: list[dict[str, Any]] = []
    for i in range(0, len(rows), OUTBOUND_BATCH):
        chunk = rows[i : i + OUTBOUND_BATCH]
        if len(chunk) == 1:
            out.append({**chunk[0], "id": hex_id()})
            continue
        correlations = {r["correlation_id"] for r in chunk}
        out.append({**chunk[0], "id": hex_id(), "payload": {"events": [r["payload"] for r in chunk]},
                    "correlation_id": correlations.pop() if len(correlations) == 1 else None})
    return out


def record(
    session: Session,
    now: datetime,
    type_: str,
    *,
    claim_id: str | None = None,
    customer_id: str | None = None,
    case_id: int | None = None,
    basis: str | None = None,
    **details: Any,
) -> None:
    """A timeline entry; when ``type_`` is an outbound event name, also the outbound event.
    Inside ``deferred_rows`` both are written when the block ends."""
    timeline, outbox = record_rows(now, type_, claim_id=claim_id, customer_id=customer_id,
                                   case_id=case_id, basis=basis, **details)
    deferred = session.info.get(DEFERRED)
    if deferred is not None:
        deferred[TimelineEntry].append(timeline)
        if outbox is not None:
            deferred[OutboxMessage].append(outbox)
        return
    session.add(TimelineEntry(**timeline))
    if outbox is not None:
        session.add(OutboxMessage(id=hex_id(), **outbox))


#: ``Session.info`` key of the rows ``deferred_rows`` collects, per model.
DEFERRED = "likvid_deferred_rows"


@contextmanager
def deferred_rows(session: Session) -> Iterator[None]:
    """Within the block, ``record`` and ``timers.schedule`` collect their rows instead of adding
    ORM objects; when it ends without an error they are inserted with one statement per table
    (the outbound events ``OUTBOUND_BATCH`` to an outbox row, as ``outbound_rows`` does), in
    the session's transaction. For a set-based path that writes many: a unit-of-work flush costs
    about ten times a row of an executemany. Nothing in the block may read these rows back."""
    rows: dict[Any, list[dict[str, Any]]] = {TimelineEntry: [], OutboxMessage: [], Timer: []}
    if session.info.get(DEFERRED) is not None:
        raise RuntimeError("deferred_rows does not nest")
    session.info[DEFERRED] = rows
    try:
        yield
    finally:
        session.info.pop(DEFERRED, None)
    rows[OutboxMessage] = outbound_rows(rows[OutboxMessage])
    for model, values in rows.items():
        if values:
            session.execute(insert(model.__table__), values)
