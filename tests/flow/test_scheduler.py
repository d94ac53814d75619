"""Durable timers: two schedulers never emit the same timer; after downtime every missed step
fires once, not once per missed tick."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import select

from likvid.clock import STOCKHOLM, to_db
from likvid.db import dispose_engines, read_session, transaction
from likvid.models import OutboxMessage, Timer
from likvid.service.app import bootstrap, prepare
from likvid.service.timers import emit_due
from likvid.settings import Settings

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
