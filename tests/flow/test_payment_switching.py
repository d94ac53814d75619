"""A large batch of payments is applied under the longer switch interval
(likvid/runtime/switching.py), through the real broker and worker threads; a single payment
is not, and the process's own interval is back afterwards."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from likvid.db import engine_for
from likvid.runtime.switching import LARGE_BATCH
from tests.support.pipeline import Pipeline, customer, invoice, payment, running_pipeline


@pytest.fixture
def pipe(database_url: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipeline]:
    with running_pipeline(database_url, redis_url, tmp_path / "home") as p:
        from likvid.service import app as app_module

        monkeypatch.setattr(app_module, "_APP", p.app)
        yield p


def test_a_large_batch_of_payments_runs_with_fewer_handovers_and_a_single_one_does_not(pipe: Pipeline) -> None:
    default = sys.getswitchinterval()
    assert pipe.app.settings.batch_switch_ms == 50
    n = LARGE_BATCH + 1  # one more: a single payment after the batch
    pipe.publish(*[customer(f"C{c}") for c in range(10)])
    pipe.publish(*[invoice(f"I{i}", f"C{i % 10}", "100.00") for i in range(n)])

    seen: list[float] = []  # the interval whenever the payments' table is read

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM payments" in statement:
            seen.append(sys.getswitchinterval())

    engine = engine_for(pipe.app.db)
    event.listen(engine, "before_cursor_execute", note)
    try:
        # One publish of LARGE_BATCH payments: one message (likvid.service.publish.BATCH)
        pipe.publish(*[payment(f"P{i}", "100.00", invoice_id=f"I{i}") for i in range(LARGE_BATCH)])
        assert seen and max(seen) == pytest.approx(0.05)
        seen.clear()
        pipe.publish(payment(f"P{n - 1}", "100.00", invoice_id=f"I{n - 1}"))
        assert seen and max(seen) == default
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert sys.getswitchinterval() == default
    for i in (0, LARGE_BATCH - 1, n - 1):
        assert pipe.invoice(f"I{i}")["status"] == "settled"
