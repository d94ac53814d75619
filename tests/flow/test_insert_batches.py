"""likvid.db.make_engine: on PostgreSQL, many rows inserted at once go as multi-row INSERTs
(SQLAlchemy's "insertmanyvalues", also for statements without RETURNING), not one statement
per row; every row arrives as it was sent, in the order it was sent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert, select

from likvid.clock import STOCKHOLM
from likvid.db import dispose_engines, engine_for, read_session, transaction
from likvid.models import Customer, TimelineEntry
from tests.support.inline import Inline

pytestmark = pytest.mark.postgres

AWKWARD = ["plain", "a,comma", 'quote"d', "back\\slash", "NULL", "", "ÅÄÖ åäö", "emoji 🧾", "new\nline", "tab\there"]


@pytest.fixture
def app(postgres_url: str, tmp_path: Path) -> Iterator[Any]:
    yield Inline.fresh(postgres_url, tmp_path, datetime(2026, 1, 5, 8, 0, tzinfo=STOCKHOLM)).app
    dispose_engines()


def _statements() -> tuple[list[str], Any]:
    """The INSERT statements as sent to the driver, and the listener that collects them."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _executemany: bool) -> None:
        if statement.lstrip().upper().startswith("INSERT"):
            seen.append(statement)

    return seen, note


def _rows(statement: str) -> int:
    """How many rows one INSERT statement's VALUES list holds."""
    return statement.count("), (") + 1


def test_an_executemany_insert_goes_in_pages_of_multi_row_statements(app: Any) -> None:
    rows = [{"at": datetime(2026, 1, 1, 8, 0, n % 60), "type": "note", "claim_id": f"INV{n:05d}",
             "customer_id": AWKWARD[n % len(AWKWARD)], "case_id": None,
             "details": {"n": n, "text": AWKWARD[n % len(AWKWARD)]}, "basis": AWKWARD[(n + 3) % len(AWKWARD)]}
            for n in range(2500)]
    seen, note = _statements()
    engine = engine_for(app.db)
    event.listen(engine, "before_cursor_execute", note)
    try:
        with transaction(app.db) as s:
            s.execute(insert(TimelineEntry), rows)
    finally:
        event.remove(engine, "before_cursor_execute", note)
    # 2,500 rows: three statements sent to the driver, of 1,000, 1,000 and 500 rows.
    assert [_rows(text) for text in seen] == [1000, 1000, 500]
    with read_session(app.db) as s:
        stored = s.execute(select(TimelineEntry.claim_id, TimelineEntry.customer_id, TimelineEntry.details,
                                  TimelineEntry.basis).order_by(TimelineEntry.id)).all()
    assert [(r.claim_id, r.customer_id, r.details, r.basis) for r in stored] == [
        (r["claim_id"], r["customer_id"], r["details"], r["basis"]) for r in rows]


def test_the_orm_flushes_new_objects_in_multi_row_statements(app: Any) -> None:
    seen, note = _statements()
    engine = engine_for(app.db)
    event.listen(engine, "before_cursor_execute", note)
    try:
        with transaction(app.db) as s:
            s.add_all(Customer(id=f"C{n:03d}", party_type="person", identity_number=f"19800101{n:04d}",
                               name=AWKWARD[n % len(AWKWARD)] or "x", address={"street": AWKWARD[n % len(AWKWARD)]},
                               consumer=True, created_at=datetime(2026, 1, 1), updated_at=datetime(2026, 1, 1))
                      for n in range(120))
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert [_rows(text) for text in seen] == [120]
    with read_session(app.db) as s:
        got = {c.id: (c.name, c.address) for c in s.scalars(select(Customer))}
    assert got == {f"C{n:03d}": (AWKWARD[n % len(AWKWARD)] or "x", {"street": AWKWARD[n % len(AWKWARD)]})
                   for n in range(120)}
