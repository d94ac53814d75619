"""A file published at once may hold more events than PostgreSQL takes parameters in one
statement (65,535): `likvid publish` must still look up which ones it has seen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from likvid.db import dispose_engines, read_session
from likvid.models import OutboxMessage
from likvid.service.app import bootstrap, prepare
from likvid.service.publish import BATCH, known_ids, publish_lines
from likvid.settings import Settings
from tests.support.pipeline import customer, envelope

EVENTS = 70_000


@pytest.fixture
def app(postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("LIKVID_POLICY", raising=False)
    env = {"LIKVID_HOME": str(tmp_path / "home"), "LIKVID_DATABASE_URL": postgres_url, "LIKVID_CLOCK": "simulated"}
    app = bootstrap(Settings.from_env(env), fresh=True)
    prepare(app)
    yield app
    dispose_engines()


def test_more_events_than_one_statement_takes_parameters(app) -> None:  # type: ignore[no-untyped-def]
    lines = [json.dumps(envelope("invoice-due", {"invoice_id": f"I{i}"}, id=f"big-{i}")) for i in range(EVENTS)]
    results, accepted = publish_lines(app, lines)
    assert len(accepted) == EVENTS and {r["status"] for r in results} == {"accepted"}
    with read_session(app.db) as s:
        messages = s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.actor == "ingest_events"))
    assert messages == -(-EVENTS // BATCH)


def test_known_ids_looks_up_every_chunk(app) -> None:  # type: ignore[no-untyped-def]
    from likvid.db import transaction
    from likvid.service import ingest

    raws = [customer(f"S{i}") for i in range(7)]
    ids = [r["id"] for r in raws]
    results = ingest.handle(app, raws)
    assert [r.status for r in results] == ["accepted"] * 7
    with transaction(app.db) as s:
        assert known_ids(s, [*ids, "never-sent"], chunk=3) == set(ids)
