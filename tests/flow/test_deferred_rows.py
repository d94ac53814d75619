"""records.deferred_rows: a set-based path's timeline entries, outbound events and timers are
written in one insert per table when the block ends, and not at all when it fails."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from likvid.clock import STOCKHOLM
from likvid.db import dispose_engines, read_session, transaction
from likvid.models import OutboxMessage, TimelineEntry, Timer
from likvid.service import timers
from likvid.service.app import bootstrap, prepare
from likvid.service.records import deferred_rows, outbound_events, record
from likvid.settings import Settings

NOW = datetime(2026, 2, 9, 8, 0, tzinfo=STOCKHOLM)


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Any]:
    dispose_engines()
    a = bootstrap(Settings.from_env({"LIKVID_HOME": str(tmp_path), "LIKVID_DATABASE_URL": database_url}), fresh=True)
    prepare(a)
    yield a
    dispose_engines()


def _counts(app: Any) -> tuple[int, int, int]:
    with read_session(app.db) as s:
        return tuple(int(s.scalar(select(func.count()).select_from(m)) or 0)  # type: ignore[return-value]
                     for m in (TimelineEntry, OutboxMessage, Timer))


def test_rows_are_written_when_the_block_ends(app: Any) -> None:
    with transaction(app.db) as s:
        with deferred_rows(s):
            for n in range(3):
                record(s, NOW, "reminder-sent", customer_id=f"C{n}", case_id=n, letter_id=f"L{n}", level=1)
                record(s, NOW, "letter-claim-dropped", customer_id=f"C{n}")  # timeline only
                timer = timers.schedule(s, NOW, "demand", None, date(2026, 3, 2))
                assert timer not in s  # written at the end, not through the unit of work
            assert not s.new
        assert len(s.execute(select(TimelineEntry.id)).all()) == 6  # written as the block ended
    assert _counts(app) == (6, 1, 3)  # the three outbound events in one outbox row
    with read_session(app.db) as s:
        (row,) = s.scalars(select(OutboxMessage)).all()
        assert [e["data"]["letter_id"] for e in outbound_events(row.payload)] == ["L0", "L1", "L2"]
        assert {t.kind for t in s.scalars(select(Timer))} == {"demand"}


def test_nothing_is_written_when_the_block_fails(app: Any) -> None:
    with pytest.raises(ValueError), transaction(app.db) as s, deferred_rows(s):
        record(s, NOW, "reminder-sent", customer_id="C1", case_id=1, letter_id="L1", level=1)
        timers.schedule(s, NOW, "demand", None, date(2026, 3, 2))
        raise ValueError("a defect half-way")
    assert _counts(app) == (0, 0, 0)
    with transaction(app.db) as s:  # and the session is back to writing objects
        record(s, NOW, "reminder-sent", customer_id="C1", case_id=1, letter_id="L1", level=1)
        assert len(s.new) == 2
        with deferred_rows(s), pytest.raises(RuntimeError, match="does not nest"), deferred_rows(s):
            pass
