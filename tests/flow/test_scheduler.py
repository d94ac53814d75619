"""Durable timers: two schedulers never emit the same timer; after downtime every missed step
fires once, not once per missed tick."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text

from likvid.clock import STOCKHOLM, to_db
from likvid.db import dispose_engines, read_session, transaction
from likvid.models import Claim, OutboxMessage, Timer
from likvid.service import timers
from likvid.service.app import bootstrap, prepare
from likvid.service.progress import set_clock
from likvid.service.timers import due_query, emit_due, set_emitted
from likvid.settings import Settings
from tests.support.inline import Inline
from tests.support.pipeline import customer, invoice

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=STOCKHOLM)


def _app(database_url: str, tmp_path):  # type: ignore[no-untyped-def]
    dispose_engines()
    app = bootstrap(Settings.from_env({"LIKVID_HOME": str(tmp_path), "LIKVID_DATABASE_URL": database_url}), fresh=True)
    prepare(app)
    return app


def _timers(app, n: int, due: datetime) -> None:  # type: ignore[no-untyped-def]
    with transaction(app.db) as s:
        s.add_all([Timer(kind="invoice_due", claim_id=None, due_at=to_db(due), status="pending", created_at=to_db(due))
                   for _ in range(n)])


def _emitted_ids(app) -> Counter[int]:  # type: ignore[no-untyped-def]
    ids: Counter[int] = Counter()
    with read_session(app.db) as s:
        for payload in s.scalars(select(OutboxMessage.payload).where(OutboxMessage.actor == "fire_timers")):
            ids.update(payload["args"][0])
    return ids


def test_two_schedulers_never_emit_the_same_timer(database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = _app(database_url, tmp_path)
    _timers(app, 3000, NOW - timedelta(days=1))
    _timers(app, 50, NOW + timedelta(days=1))  # not due yet

    def scheduler() -> None:
        for _ in range(5):
            with transaction(app.db) as s:
                emit_due(s, NOW, limit=400)

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    while True:  # drain what is left
        with transaction(app.db) as s:
            if not emit_due(s, NOW, limit=400):
                break
    ids = _emitted_ids(app)
    assert len(ids) == 3000
    assert set(ids.values()) == {1}
    with read_session(app.db) as s:
        assert len(s.scalars(select(Timer).where(Timer.status == "pending")).all()) == 50


def test_catch_up_after_downtime_fires_each_missed_step_once(database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = _app(database_url, tmp_path)
    for days in (30, 20, 10):  # three steps missed while nothing ran
        _timers(app, 1, NOW - timedelta(days=days))
    for _ in range(10):  # many ticks after the restart
        with transaction(app.db) as s:
            emit_due(s, NOW)
    assert sorted(_emitted_ids(app).values()) == [1, 1, 1]


def test_each_case_s_timers_go_out_in_one_message(database_url: str, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Invoices of ten customers, published interleaved (the timers of one case far apart in id
    # order): each fire_timers message holds whole cases, so no two messages lock one case.
    svc = Inline.fresh(database_url, tmp_path, datetime(2026, 1, 5, 9, 0, tzinfo=STOCKHOLM))
    app = svc.app
    svc.publish(*(customer(f"C{c}") for c in range(10)))
    svc.publish(*(invoice(f"I{i}", f"C{i % 10}", due="2026-01-30") for i in range(30)))
    monkeypatch.setattr(timers, "BATCH_SIZE", 6)
    set_clock(app, datetime(2026, 1, 30, 9, 0, tzinfo=STOCKHOLM))  # emits what fell due
    with read_session(app.db) as s:
        case_of = dict(s.execute(select(Timer.id, Claim.case_id).join(Claim, Claim.invoice_id == Timer.claim_id)).all())
        messages = [[case_of[t] for t in p["args"][0]] for p in s.scalars(
            select(OutboxMessage.payload).where(OutboxMessage.actor == "fire_timers", OutboxMessage.processed_at.is_(None))
            .order_by(OutboxMessage.created_at, OutboxMessage.id))]
    dispose_engines()
    assert [len(m) for m in messages] == [6] * 5  # all 30 due dates
    assert sorted(c for m in messages for c in set(m)) == sorted(set(case_of.values()))  # no case in two
    assert all(m == sorted(m) for m in messages)


@pytest.mark.postgres
def test_on_postgresql_the_claim_stays_linear_when_statistics_lag(postgres_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # With the timers' statistics behind a burst of new timers (here: never analysed), the claim
    # as one statement compared every pending timer with every claimed one: written as
    # "id IN (subquery)" it ran the subquery (sort, limit, lock) once per pending timer, joined
    # to a CTE it scanned the CTE once per pending timer. Each statement of the claim must touch
    # each row a bounded number of times.
    app = _app(postgres_url, tmp_path)
    with transaction(app.db) as s:
        s.execute(text("ALTER TABLE timers SET (autovacuum_enabled = false)"))
    _timers(app, 3000, NOW - timedelta(days=1))
    with transaction(app.db) as s:
        ids = list(s.scalars(due_query(NOW, 2000)))
        plans = [_analysed(s, due_query(NOW, 2000).with_for_update(skip_locked=True)),
                 _analysed(s, set_emitted(s, NOW, ids))]
        s.rollback()
    dispose_engines()
    assert len(ids) == 2000 and plans[1]["Actual Rows"] == 2000
    for plan in plans:
        nodes = list(_nodes(plan))
        touched = sum(n["Actual Rows"] * n["Actual Loops"] + n.get("Rows Removed by Join Filter", 0)
                      + n.get("Rows Removed by Filter", 0) * n["Actual Loops"] for n in nodes)
        assert touched <= 20 * 3000, json.dumps(plan, indent=1)


def _analysed(s, statement) -> dict:  # type: ignore[no-untyped-def,type-arg]
    compiled = statement.compile(dialect=s.get_bind().dialect)
    cur = s.connection().connection.driver_connection.cursor()
    cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + str(compiled), compiled.params)
    return cur.fetchone()[0][0]["Plan"]


def _nodes(node: dict):  # type: ignore[no-untyped-def,type-arg]
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)
