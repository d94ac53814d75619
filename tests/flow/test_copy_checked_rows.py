"""payment_batch._insert on PostgreSQL: rows of a table with a foreign key (the ledger) go in by
COPY with the plan cache deciding as by default for the row checks, and the session's own
planner setting (db.POSTGRES_OPTIONS: plan_cache_mode=force_custom_plan) is back afterwards.
The foreign key still holds: a row for an unknown claim fails the whole COPY. Dates and times,
written as text, come back as they were sent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from psycopg.errors import ForeignKeyViolation
from sqlalchemy import select, text

from likvid.clock import STOCKHOLM, to_db
from likvid.db import dispose_engines, read_session, transaction
from likvid.models import LedgerEntry, TimelineEntry
from likvid.service.payment_batch import _insert
from tests.support.inline import Inline
from tests.support.pipeline import customer, invoice

pytestmark = pytest.mark.postgres

START = datetime(2026, 1, 5, 8, 0, tzinfo=STOCKHOLM)


@pytest.fixture
def inline(postgres_url: str, tmp_path: Path) -> Iterator[Inline]:
    inline = Inline.fresh(postgres_url, tmp_path, START)
    inline.publish(customer("C1"), invoice("INV1", "C1"), invoice("INV2", "C1"))
    yield inline
    dispose_engines()


def _entries(claims: list[str]) -> list[dict[str, Any]]:
    at = to_db(START)
    return [{"claim_id": claim, "kind": "payment", "component": "capital", "amount_ore": -100 - n,
             "booked_at": at, "value_date": date(2026, 1, 5), "ref": f"P{n}", "note": None}
            for n, claim in enumerate(claims)]


def _mode(s: Any) -> str:
    return str(s.execute(text("SHOW plan_cache_mode")).scalar())


def test_checked_rows_go_in_and_the_sessions_planner_setting_is_back(inline: Inline) -> None:
    claims = ["INV1", "INV2"] * 10  # more rows than the plan cache's five custom plans
    with transaction(inline.app.db) as s:
        assert _mode(s) == "force_custom_plan"
        _insert(s, LedgerEntry.__table__, _entries(claims))
        assert _mode(s) == "force_custom_plan"
        # a table without foreign keys leaves the setting alone throughout
        _insert(s, TimelineEntry.__table__, [{"at": to_db(START), "type": "note", "claim_id": "INV1",
                                              "customer_id": "C1", "case_id": None, "details": {"n": 1},
                                              "basis": None}])
        assert _mode(s) == "force_custom_plan"
    with read_session(inline.app.db) as s:
        stored = s.execute(select(LedgerEntry.claim_id, LedgerEntry.amount_ore, LedgerEntry.ref)
                           .where(LedgerEntry.kind == "payment").order_by(LedgerEntry.id)).all()
        assert _mode(s) == "force_custom_plan"  # a new transaction on a pooled connection too
    assert [tuple(r) for r in stored] == [(c, -100 - n, f"P{n}") for n, c in enumerate(claims)]


def test_a_row_for_an_unknown_claim_fails_the_copy_and_nothing_is_stored(inline: Inline) -> None:
    # (the COPY runs on the driver's cursor: the driver's own error)
    with pytest.raises(ForeignKeyViolation, match="fk_ledger_entries_claim_id_claims"):
        with transaction(inline.app.db) as s:
            _insert(s, LedgerEntry.__table__, _entries(["INV1"] * 6 + ["NO-SUCH-CLAIM"] + ["INV2"] * 3))
    with read_session(inline.app.db) as s:
        assert s.execute(select(LedgerEntry.id).where(LedgerEntry.kind == "payment")).all() == []


def test_dates_and_times_come_back_as_they_were_sent(inline: Inline) -> None:
    instants = [datetime(2026, 1, 5, 7, 0), datetime(2026, 1, 5, 7, 0, 0, 1), datetime(2026, 3, 29, 1, 59, 59, 999999),
                datetime(1970, 1, 1), datetime(9999, 12, 31, 23, 59, 59, 999999), datetime(1, 1, 1, 0, 0, 0, 500)]
    days = [date(2026, 1, 5), date(2024, 2, 29), date(1, 1, 1), date(9999, 12, 31)]
    rows = [{"claim_id": "INV1", "kind": "payment", "component": "capital", "amount_ore": -n,
             "booked_at": instants[n % len(instants)],
             "value_date": days[n % len(days)], "ref": f"T{n}", "note": None}
            for n in range(60)]  # the same instants and days repeat, as in a batch
    with transaction(inline.app.db) as s:
        _insert(s, LedgerEntry.__table__, rows)
        _insert(s, TimelineEntry.__table__, [{"at": at, "type": "note", "claim_id": None, "customer_id": None,
                                              "case_id": None, "details": {}, "basis": None} for at in instants])
    with read_session(inline.app.db) as s:
        stored = s.execute(select(LedgerEntry.booked_at, LedgerEntry.value_date).where(LedgerEntry.kind == "payment")
                           .order_by(LedgerEntry.id)).all()
        notes = s.scalars(select(TimelineEntry.at).where(TimelineEntry.type == "note").order_by(TimelineEntry.id)).all()
    assert [tuple(r) for r in stored] == [(r["booked_at"], r["value_date"]) for r in rows]
    assert notes == instants
