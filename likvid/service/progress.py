"""Waiting for the service to finish what an action caused (`--wait`), and walking the
simulated clock forward step by step so every due step runs at its own instant, in order."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select

from likvid.clock import SimulatedClock, from_db, to_db
from likvid.db import present, read_session, transaction
from likvid.models import OutboxMessage, ReceivedEvent, RejectedEvent, Timer
from likvid.service.app import App
from likvid.service.suspension import restore_due
from likvid.service.timers import emit_due


class NotQuiet(Exception):
    """The service did not finish in time (is it running? `likvid up`)."""


def backlog(app: App) -> dict[str, int]:
    with read_session(app.db) as s:
        now = app.clock.now(s)
        unprocessed = s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.processed_at.is_(None))) or 0
        due = s.scalar(select(func.count()).select_from(Timer).where(Timer.status == "pending", Timer.due_at <= to_db(now))) or 0
        emitted = s.scalar(select(func.count()).select_from(Timer).where(Timer.status == "emitted")) or 0
    return {"outbox_unprocessed": int(unprocessed), "timers_due": int(due), "timers_emitted": int(emitted)}


def wait_quiet(app: App, timeout: float = 600.0, event_ids: Iterable[str] = ()) -> None:
    """Return once nothing is left to do: every outbox message processed, no timer due or in
    flight, and every event in ``event_ids`` stored or rejected."""
    ids = list(event_ids)
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        left = backlog(app)
        if ids:
            # Forget the ids already stored or rejected, so each poll asks only about the rest.
            with read_session(app.db) as s:
                done = present(s, ReceivedEvent.id, ids) | present(s, RejectedEvent.event_id, ids)
            ids = [i for i in ids if i not in done]
            left["events_unseen"] = len(set(ids))
        if not any(left.values()):
            return
        if time.monotonic() > deadline:
            raise NotQuiet(f"still busy after {timeout:.0f} s: {left} (is the service running? `likvid up`)")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.2)


def set_clock(app: App, instant: datetime) -> None:
    """Move the simulated clock (forward only) and emit what became due right away."""
    if not app.clock.simulated:
        raise SystemExit("the clock can be set only with LIKVID_CLOCK=simulated")
    with transaction(app.db) as s:
        now = app.clock.now(s)
        if instant < now:
            raise SystemExit(f"the clock only moves forward (it is {now.isoformat()})")
        SimulatedClock.set(s, instant)
        restore_due(s, instant)
        emit_due(s, instant)


def advance_to(app: App, target: datetime, wait: bool = True, timeout: float = 600.0) -> int:
    """Walk the simulated clock to ``target``: stop at each instant a timer is due, let the
    service finish everything that instant caused, go on. Returns the number of stops."""
    stops = 0
    # Work already in flight (an event just published, a timer the scheduler just emitted)
    # belongs to the current instant: let it finish before time moves.
    wait_quiet(app, timeout)
    while True:
        with read_session(app.db) as s:
            now = app.clock.now(s)
            nxt = s.scalar(select(func.min(Timer.due_at)).where(Timer.status == "pending"))
        if nxt is None or from_db(nxt) > target:
            break
        set_clock(app, max(now, from_db(nxt)))
        wait_quiet(app, timeout)
        stops += 1
    set_clock(app, target)
    if wait:
        wait_quiet(app, timeout)
    return stops
