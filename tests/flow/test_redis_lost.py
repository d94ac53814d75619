"""Fault: Redis loses its data (FLUSHALL) while messages wait in it. The outbox refills it and
every event is applied once."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

from likvid.db import read_session
from likvid.models import OutboxMessage
from likvid.service.progress import wait_quiet
from likvid.service.publish import publish_lines
from tests.support.pipeline import customer, invoice, running_pipeline

pytestmark = pytest.mark.fault


def test_flushed_redis_is_refilled_from_the_outbox(database_url: str, redis_url: str, tmp_path: Path) -> None:
    with running_pipeline(database_url, redis_url, tmp_path / "home") as pipe:
        assert pipe.worker is not None
        pipe.worker.pause()
        # Given 40 invoices whose messages were published to Redis but not yet consumed
        lines = [json.dumps(customer(f"C{i}")) for i in range(20)]
        lines += [json.dumps(invoice(f"I{i}", f"C{i % 20}", "100.00", invoice_number=f"5{i:05d}")) for i in range(40)]
        _, accepted = publish_lines(pipe.app, lines)
        deadline = time.monotonic() + 30
        while True:
            with read_session(pipe.app.db) as s:
                unpublished = s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.published_at.is_(None)))
            if unpublished == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert unpublished == 0
        # When Redis loses everything
        redis.Redis.from_url(redis_url).flushall()
        pipe.worker.resume()
        # Then the relay publishes the unprocessed messages again and all of it is applied, once
        wait_quiet(pipe.app, 60, accepted)
        for i in range(40):
            inv = pipe.invoice(f"I{i}")
            assert inv["status"] == "open"
            assert [t["type"] for t in inv["timeline"]].count("invoice-registered") == 1
