"""Durable timers in the database (ARCHITECTURE.md: never long broker delays).

The scheduler claims due timers atomically (pending → emitted) and writes one outbox message
per batch; a step marks its timer done in the transaction of its effect. Two schedulers never
emit the same timer: the claim locks the due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL;
SQLite has one writer at a time) and sets them emitted, where still pending, in the same
transaction.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Select, Update, select, update
from sqlalchemy.orm import Session

from likvid.clock import start_of_day, to_db
from likvid.correlation import current as current_correlation
from likvid.db import among
from likvid.models import Claim, Timer
from likvid.service.records import DEFERRED, QUEUE_STEPS, enqueue_batches

#: Timers emitted in one scheduler pass, and per step message.
CLAIM_LIMIT = 2000
BATCH_SIZE = 50


def schedule(
    session: Session, now: datetime, kind: str, claim_id: str | None, on: date, ref: str | None = None
) -> Timer:
    """A step for ``claim_id`` at the start of business day ``on``; it fires under the current
    correlation id (the event that scheduled it). Inside ``records.deferred_rows`` the row is
    written when the block ends, and the Timer returned is not in the session."""
    values = {"kind": kind, "claim_id": claim_id, "ref": ref, "due_at": to_db(start_of_day(on)), "status": "pending",
              "created_at": to_db(now), "correlation_id": current_correlation()}
    deferred = session.info.get(DEFERRED)
    if deferred is not None:
        deferred[Timer].append(values)
        return Timer(**values)
    timer = Timer(**values)
    session.add(timer)
    return timer


def correlations(session: Session, claim_ids: list[str]) -> dict[str, str]:
    """Each claim's correlation id as its latest timer carries it, for a shared job (the daily
    hand-off export) that acts for many claims: one statement for them all."""
    rows = session.execute(select(Timer.claim_id, Timer.correlation_id).where(
        among(session, Timer.claim_id, claim_ids), Timer.correlation_id.is_not(None)).order_by(Timer.id))
    return {claim_id: corr for claim_id, corr in rows}


def open_timers(session: Session, claim_id: str, kind: str | None = None) -> list[Timer]:
    q = select(Timer).where(Timer.claim_id == claim_id, Timer.status.in_(("pending", "emitted")))
    if kind:
        q = q.where(Timer.kind == kind)
    return list(session.scalars(q))


def cancel_open(session: Session, now: datetime, claim_id: str, why: str) -> int:
    result = session.execute(
        update(Timer)
        .where(Timer.claim_id == claim_id, Timer.status.in_(("pending", "emitted")))
        .values(status="cancelled", done_at=to_db(now), outcome=why)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def finish(timer: Timer, now: datetime, outcome: str) -> None:
    timer.status = "done"
    timer.done_at = to_db(now)
    timer.outcome = outcome[:500]


def emit_due(session: Session, now: datetime, limit: int = CLAIM_LIMIT) -> int:
    """Claim every due pending timer (oldest first) and enqueue them in batches. Returns how many.

    A timer missed during downtime is still pending, so it fires once when the scheduler runs
    again: catch-up is once per missed step, never once per missed tick.

    The batches group each collection case's timers together (in due order within the case),
    so two messages fired at once rarely lock the same case: a customer's invoices that fall
    due together are decided in one message, instead of one waiting for the other's lock.
    """
    # Two statements, each planned on its own: the due timers, locked (two schedulers skip
    # each other's on PostgreSQL; SQLite has one writer at a time and no row locks), then
    # those ids set emitted through the primary key. As one statement ("id IN (subquery)", or
    # joined to a CTE) PostgreSQL, with the timers' statistics behind a burst of new timers,
    # compared every pending timer with every claimed one: 1.3-2.3 s for 3,000 timers in
    # bench/pipeline_burst.py, quadratic.
    ids = list(session.scalars(due_query(now, limit).with_for_update(skip_locked=True)))
    rows = session.execute(set_emitted(session, now, ids)).all() if ids else []
    claim_ids = sorted({r.claim_id for r in rows if r.claim_id})
    cases = dict(session.execute(select(Claim.invoice_id, Claim.case_id).where(
        among(session, Claim.invoice_id, claim_ids))).all()) if claim_ids else {}
    rows.sort(key=lambda r: (cases.get(r.claim_id, 0), r.due_at, r.id))
    # A message follows from its first timer's event; each timer fires under its own.
    enqueue_batches(session, QUEUE_STEPS, "fire_timers", [(r.id, r.correlation_id) for r in rows], BATCH_SIZE)
    return len(rows)


def due_query(now: datetime, limit: int) -> Select[tuple[int]]:
    """Up to ``limit`` due pending timers' ids, oldest first."""
    return (select(Timer.id).where(Timer.status == "pending", Timer.due_at <= to_db(now))
            .order_by(Timer.due_at, Timer.id).limit(limit))


def set_emitted(session: Session, now: datetime, ids: list[int]) -> Update:
    """Set the pending timers among ``ids`` emitted, returning (id, due_at, correlation_id, claim_id)."""
    return (update(Timer).where(among(session, Timer.id, ids), Timer.status == "pending")
            .values(status="emitted", emitted_at=to_db(now))
            .returning(Timer.id, Timer.due_at, Timer.correlation_id, Timer.claim_id))
