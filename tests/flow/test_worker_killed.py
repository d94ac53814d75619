"""Fault: a worker process group SIGKILLed in the middle of 5,000 invoice-issued events and a
clock advance. After a restart every claim has exactly one reminder; nothing lost or doubled."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from likvid.db import read_session
from likvid.models import Claim, Letter, LetterClaim, ReceivedEvent
from likvid.service.progress import advance_to, wait_quiet
from likvid.service.publish import publish_lines
from tests.support.pipeline import customer, invoice
from tests.support.worker_processes import start_workers, worker_service

pytestmark = pytest.mark.fault

INVOICES = int(os.environ.get("LIKVID_TEST_KILL_INVOICES", "5000"))


def test_sigkill_mid_burst_gives_exactly_one_reminder_per_claim(postgres_url: str, redis_url: str, tmp_path: Path) -> None:
    # Come back quickly: the killed workers' messages return after 5 s.
    with worker_service(postgres_url, redis_url, tmp_path / "home",
                        LIKVID_HEARTBEAT_TIMEOUT_MS="5000", LIKVID_MAINTENANCE_CHANCE="200000") as svc:
        app = svc.app
        # Given 2,500 customers with two invoices each, published as a burst
        lines = [json.dumps(customer(f"K{i}")) for i in range(INVOICES // 2)]
        lines += [json.dumps(invoice(f"F{i}", f"K{i // 2}", "250.00", due="2026-01-30", invoice_number=f"7{i:06d}")) for i in range(INVOICES)]
        results, accepted = publish_lines(app, lines)
        assert all(r["status"] == "accepted" for r in results)
        # When the clock advances past the reminder date while a worker group is SIGKILLed mid-way
        advancing = threading.Thread(target=advance_to, args=(app, datetime.fromisoformat("2026-02-10T08:00:00+01:00")),
                                     kwargs={"wait": True, "timeout": 600}, daemon=True)
        advancing.start()
        time.sleep(2.5)
        os.killpg(svc.workers.pid, signal.SIGKILL)
        svc.workers.wait()
        time.sleep(1.0)
        svc.workers = start_workers(svc.env)
        advancing.join(600)
        assert not advancing.is_alive()
        wait_quiet(app, 300, accepted)
        # Then every event was applied once and every claim has exactly one reminder, sent
        with read_session(app.db) as s:
            assert s.scalar(select(func.count()).select_from(ReceivedEvent)) == INVOICES + INVOICES // 2
            assert s.scalar(select(func.count()).select_from(Claim)) == INVOICES
            assert s.scalar(select(func.count()).select_from(Claim).where(Claim.stage == "reminded")) == INVOICES
            per_claim = s.execute(
                select(LetterClaim.claim_id, func.count()).where(LetterClaim.kind == "reminder").group_by(LetterClaim.claim_id)
            ).all()
            assert len(per_claim) == INVOICES and {n for _, n in per_claim} == {1}
            sent = s.scalars(select(Letter).where(Letter.kind == "reminder")).all()
            assert {letter.status for letter in sent} == {"sent"}
            assert len(sent) == INVOICES // 2  # one consolidated reminder per customer
            files = {Path(letter.path) for letter in sent}
            assert all(p.exists() for p in files) and len(files) == len(sent)
