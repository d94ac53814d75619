"""Handler tasks (report a claim in a debt restructuring, lodge it in a bankruptcy, contact an
estate: created by ``holds.debtor_status_changed``; tell a receiver of an amount a reversed
payment reinstated: ``handoff.payment_reversed``): listed, and marked done by a handler with
who and a note on the customer's timeline (``task-done``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from likvid.clock import from_db, to_db
from likvid.models import Task
from likvid.service.errors import Rejected
from likvid.service.parking import lock_key
from likvid.service.records import record


def listing(session: Session, today: date, *, only_open: bool) -> list[dict[str, Any]]:
    """Open tasks first, the soonest due first; ``overdue`` when an open task's day has passed."""
    q = select(Task)
    if only_open:
        q = q.where(Task.done_at.is_(None))
    rows = sorted(session.scalars(q), key=lambda t: (t.done_at is not None, t.due_on or date.max, t.id))
    return [{"task_id": t.id, "customer_id": t.customer_id, "kind": t.kind, "text": t.text,
             "due_on": t.due_on.isoformat() if t.due_on else None,
             "created_at": from_db(t.created_at).isoformat(),
             "done_at": from_db(t.done_at).isoformat() if t.done_at else None,
             "overdue": t.done_at is None and t.due_on is not None and t.due_on < today} for t in rows]


def done(session: Session, now: datetime, task_id: int, *, by: str, note: str | None) -> Task:
    """Mark a task done once; who did it and the note go on the timeline."""
    if not by.strip():
        raise Rejected("by", "is empty: say who did the task")
    lock_key(session, f"task:{task_id}")
    task = session.get(Task, task_id)
    if task is None:
        raise Rejected("task_id", "is not a known task")
    session.refresh(task)
    if task.done_at is not None:
        raise Rejected("task_id", f"is already done ({from_db(task.done_at).isoformat()})")
    task.done_at = to_db(now)
    record(session, now, "task-done", customer_id=task.customer_id, task_id=task.id, kind=task.kind, by=by,
           note=note or None, due_on=task.due_on)
    return task
