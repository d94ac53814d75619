"""The business clock: the only place the service asks what time it is.

Europe/Stockholm. In production it is the system clock; with ``LIKVID_CLOCK=simulated`` it is
an instant stored in the database that only ``likvid clock set`` / ``advance`` move, so a
demo or a test can live through months in seconds (EVENTS.md "Time").
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

STOCKHOLM = ZoneInfo("Europe/Stockholm")

_T = TypeVar("_T")

#: Where a simulated clock starts when nobody has set it.
SIMULATED_EPOCH = datetime(2026, 1, 1, tzinfo=STOCKHOLM)


class _Recent(threading.local):
    """Per thread, the ``size`` instants a conversion was last asked for, with their results,
    the last used first. A set-based path converts the same business ``now`` for every row it
    writes, the same wall-clock instant for every outbox row, and between them each event's own
    time once: a hit moves to the front, so the events' times take turns in the last place and
    never push the shared ones out. Per thread, because a worker's threads each write with
    their own (one memory for all threads was evicted by each thread's ``now`` in turn). The
    identity test is exact: the pair keeps each instant alive, so no other object can share
    its id (equality would not do: two wall times in the autumn's repeated hour compare equal
    in one zone)."""

    pairs: tuple[tuple[datetime, object], ...] = ()

    def __init__(self, size: int) -> None:
        self.size = size

    def convert(self, dt: datetime, how: Callable[[datetime], _T]) -> _T:
        recent = self.pairs
        if recent and recent[0][0] is dt:
            return recent[0][1]  # type: ignore[return-value]
        for i in range(1, len(recent)):
            if recent[i][0] is dt:
                self.pairs = (recent[i], *recent[:i], *recent[i + 1:])
                return recent[i][1]  # type: ignore[return-value]
        result = how(dt)
        self.pairs = ((dt, result), *recent[: self.size - 1])
        return result


#: ``to_db``'s: the shared business ``now``, the shared wall-clock instant, an event's own time.
_recent = _Recent(3)
#: ``isoformat``'s: a set-based run writes one ``now`` into every outbound event.
_recent_text = _Recent(1)


def to_db(dt: datetime) -> datetime:
    """An aware instant as the naive UTC value every table stores."""
    return _recent.convert(dt, _naive_utc)


def _naive_utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise ValueError("naive datetime given where an instant is needed")
    return dt.astimezone(UTC).replace(tzinfo=None)


def isoformat(dt: datetime) -> str:
    """``dt.isoformat()`` (2 µs for an instant in a zone), remembered per thread for the last
    instant: the text of a set-based run's ``now`` is written once, not once per event."""
    return _recent_text.convert(dt, datetime.isoformat)


def from_db(value: datetime) -> datetime:
    """A stored naive UTC value as an aware Stockholm instant."""
    return value.replace(tzinfo=UTC).astimezone(STOCKHOLM)


def start_of_day(d: date) -> datetime:
    """Midnight at the start of a business day, in Stockholm."""
    return datetime.combine(d, time(0, 0), tzinfo=STOCKHOLM)


class Clock:
    """Base: ``now()`` is an aware Stockholm instant; ``today()`` the business date."""

    simulated = False

    def now(self, session: Session | None = None) -> datetime:
        raise NotImplementedError

    def today(self, session: Session | None = None) -> date:
        return self.now(session).date()


class SystemClock(Clock):
    def now(self, session: Session | None = None) -> datetime:
        return datetime.now(tz=STOCKHOLM)


class SimulatedClock(Clock):
    """A stored instant (table ``business_clock``); read inside the caller's transaction."""

    simulated = True

    def now(self, session: Session | None = None) -> datetime:
        from likvid.models import BusinessClock

        if session is None:
            raise ValueError("the simulated clock is read inside a database session")
        row = session.execute(select(BusinessClock.now).where(BusinessClock.id == 1)).first()
        return from_db(row[0]) if row else SIMULATED_EPOCH

    @staticmethod
    def set(session: Session, instant: datetime) -> None:
        from likvid.models import BusinessClock

        row = session.get(BusinessClock, 1)
        if row is None:
            session.add(BusinessClock(id=1, now=to_db(instant)))
        else:
            row.now = to_db(instant)


def make_clock(mode: str) -> Clock:
    return SimulatedClock() if mode == "simulated" else SystemClock()


def parse_duration(text: str) -> timedelta:
    """``14d``, ``2w``, ``36h``, ``90m``, or combinations like ``1w2d``."""
    import re

    units = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
    parts = re.findall(r"(\d+)([wdhms])", text.strip())
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise ValueError(f"duration {text!r}: use a number and a unit, like 14d, 2w or 36h")
    return timedelta(**{units[u]: int(n) for n, u in parts})
