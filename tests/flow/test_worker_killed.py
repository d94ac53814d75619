"""Fault: a worker process group SIGKILLed in the middle of 5,000 invoice-issued events and a
clock advance. After a restart every claim has exactly one reminder; nothing lost or doubled."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from likvid.db import dispose_engines, read_session
from likvid.models import Claim, Letter, LetterClaim, ReceivedEvent
from likvid.service.app import bootstrap, prepare
from likvid.service.progress import advance_to, set_clock, wait_quiet
from likvid.service.publish import publish_lines
from likvid.settings import Settings
from likvid.workers import scheduler
from likvid.workers.broker import configure
from likvid.workers.relay import Relay
from tests.support.pipeline import customer, invoice

pytestmark = pytest.mark.fault

INVOICES = int(os.environ.get("LIKVID_TEST_KILL_INVOICES", "5000"))


def _start_workers(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "dramatiq", "likvid.workers.main", "--processes", "2", "--threads", "4"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )


def test_sigkill_mid_burst_gives_exactly_one_reminder_per_claim(postgres_url: str, redis_url: str, tmp_path: Path) -> None:
    env = dict(os.environ)
    env.update({
        "LIKVID_HOME": str(tmp_path / "home"), "LIKVID_DATABASE_URL": postgres_url,
        "LIKVID_REDIS_URL": redis_url, "LIKVID_CLOCK": "simulated",
        # Come back quickly: the killed workers' messages return after 5 s.
        "LIKVID_HEARTBEAT_TIMEOUT_MS": "5000", "LIKVID_MAINTENANCE_CHANCE": "200000",
        "LIKVID_RELAY_INTERVAL_MS": "10", "LIKVID_SCHEDULER_INTERVAL_MS": "100",
    })
    os.environ.update({k: v for k, v in env.items() if k.startswith("LIKVID_")})
    dispose_engines()
    app = bootstrap(Settings.from_env(env), fresh=True)
    prepare(app)
    set_clock(app, datetime.fromisoformat("2026-01-05T08:00:00+01:00"))
    broker = configure(redis_url)
    stop = threading.Event()
    loops = [threading.Thread(target=Relay(app, broker, redis_url).run, args=(stop,), daemon=True),
             threading.Thread(target=scheduler.run, args=(app, stop), daemon=True)]
    for t in loops:
        t.start()
    workers = _start_workers(env)
    try:
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
        os.killpg(workers.pid, signal.SIGKILL)
        workers.wait()
        time.sleep(1.0)
        workers = _start_workers(env)
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
    finally:
        stop.set()
        for t in loops:
            t.join(10)
        if workers.poll() is None:
            os.killpg(workers.pid, signal.SIGTERM)
            workers.wait(30)
        dispose_engines()
