"""Migration 0011: on PostgreSQL the outbox's payload column compresses with lz4, and a large
payload (a batch of events) is stored compressed with it and reads back whole."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text

from likvid.clock import STOCKHOLM
from likvid.db import dispose_engines, read_session
from likvid.migrate import alembic_config
from likvid.models import OutboxMessage
from tests.support.inline import Inline
from tests.support.pipeline import payment

pytestmark = pytest.mark.postgres


@pytest.fixture
def inline(postgres_url: str, tmp_path: Path) -> Iterator[Inline]:
    yield Inline.fresh(postgres_url, tmp_path, datetime(2026, 1, 5, 8, 0, tzinfo=STOCKHOLM))
    dispose_engines()


def _column_compression(s: object) -> str:
    return str(s.scalar(text(  # type: ignore[attr-defined]
        "SELECT attcompression FROM pg_attribute WHERE attrelid = 'outbox'::regclass AND attname = 'payload'")))


def test_a_large_outbox_payload_is_stored_with_lz4_and_reads_back_whole(inline: Inline) -> None:
    from likvid.service.publish import publish_lines

    # 600 payments waiting for invoices not yet issued: one ingest message of 600 events.
    events = [payment(f"P{n:04d}", "100.00", f"INV{n:04d}") for n in range(600)]
    _, accepted = publish_lines(inline.app, events, batch=600)
    assert len(accepted) == 600
    with read_session(inline.app.db) as s:
        assert _column_compression(s) == "l"
        rows = s.execute(select(OutboxMessage.id, OutboxMessage.payload,
                                text("pg_column_compression(payload)"), text("pg_column_size(payload)"),
                                text("octet_length(payload::text)"))
                         .where(OutboxMessage.actor == "ingest_payments")).all()
    assert len(rows) == 1
    _, payload, method, stored, whole = rows[0]
    assert method == "lz4"
    assert stored < whole / 2  # compressed
    assert [e["data"]["payment_id"] for e in payload["args"][0]] == [f"P{n:04d}" for n in range(600)]


def test_the_migration_goes_down_and_up_again(inline: Inline) -> None:
    from alembic import command

    config = alembic_config(inline.app.db)
    command.downgrade(config, "0010")
    with read_session(inline.app.db) as s:
        assert _column_compression(s) == ""  # the server's default
    command.upgrade(config, "head")
    with read_session(inline.app.db) as s:
        assert _column_compression(s) == "l"
