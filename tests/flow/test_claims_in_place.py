"""On PostgreSQL a claim's changes of stage and status are heap-only updates (migration 0010):
no index holds status or stage, and a page has room for a new version of each of its rows,
so a billing run's claims can all fall due, and all be paid, in one transaction each without
a single index entry written. Read from PostgreSQL's own counters for the transaction."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text

from likvid.clock import STOCKHOLM
from likvid.db import dispose_engines, read_session, transaction
from likvid.messages import parse_event
from likvid.models import Claim, Timer
from likvid.service import payment_batch
from likvid.service.steps import fire
from tests.support.inline import Inline
from tests.support.pipeline import customer, invoice, payment

INVOICES = 120  # several pages of claims
START = datetime(2026, 1, 5, 8, 0, tzinfo=STOCKHOLM)
DUE = datetime(2026, 1, 30, 12, 0, tzinfo=STOCKHOLM)


def _updates(s: object) -> tuple[int, int]:
    """(rows updated, of them heap-only) in ``claims`` by this backend, not yet reported to the
    shared statistics: this transaction's and maybe an earlier one's (take differences)."""
    row = s.execute(text("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables"  # type: ignore[attr-defined]
                         " WHERE relname = 'claims'")).one()
    return int(row[0]), int(row[1])


@pytest.mark.postgres
def test_a_billing_runs_claims_change_in_place(postgres_url: str, tmp_path: Path) -> None:
    run = Inline.fresh(postgres_url, tmp_path, START)
    app = run.app
    run.publish(*[customer(f"C{i}") | {"id": f"c-{i}"} for i in range(INVOICES)])
    run.publish(*[invoice(f"I{i}", f"C{i}", "1000.00", due="2026-01-30") | {"id": f"i-{i}"} for i in range(INVOICES)])
    with read_session(app.db) as s:
        fillfactor = s.scalar(text("SELECT reloptions FROM pg_class WHERE relname = 'claims'"))
        due_timers = s.scalars(select(Timer.id).where(Timer.kind == "invoice_due")).all()
        refs = dict(s.execute(select(Claim.invoice_id, Claim.ocr_reference)).all())
    assert fillfactor == ["fillfactor=50"]
    assert len(due_timers) == INVOICES

    # Every claim falls due in one transaction (the scheduler's batch, one by one here).
    from likvid.service.progress import set_clock
    set_clock(app, DUE)
    with transaction(app.db) as s:
        before = _updates(s)
        now = app.clock.now(s)
        for timer_id in due_timers:
            fire(s, app, now, timer_id)
        s.flush()
        after = _updates(s)
    updated, in_place = after[0] - before[0], after[1] - before[1]
    assert updated >= INVOICES and in_place == updated

    # Every claim is paid in full by one set-based run.
    events = [parse_event(payment(f"P{i}", "1000.00", reference=refs[f"I{i}"]) | {"id": f"p-{i}"})
              for i in range(INVOICES)]
    with transaction(app.db) as s:
        before = _updates(s)
        declined = payment_batch.receive_batch(s, app, app.clock.now(s), events)
        after = _updates(s)
    updated, in_place = after[0] - before[0], after[1] - before[1]
    assert declined == []
    assert updated == INVOICES and in_place == INVOICES
    with read_session(app.db) as s:
        assert set(s.scalars(select(Claim.status))) == {"settled"}
    dispose_engines()
