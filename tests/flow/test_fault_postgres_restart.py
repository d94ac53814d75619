"""Fault: PostgreSQL goes away twice in the middle of a burst through real dramatiq worker
processes: once while the invoices are being ingested, once while the reminders are being
made and rendered. Afterwards every event was applied once, every claim is reminded, each
claim is in exactly one reminder letter, one letter per customer, nothing set aside.

How PostgreSQL goes away depends on who owns the server:

- the throwaway cluster of the test session (tests/support/postgres.py): a real restart,
  ``pg_ctl stop -m fast``, down for a while, ``pg_ctl start`` on the same port;
- an external server (``$LIKVID_TEST_POSTGRES_URL``, as in CI): it cannot be restarted from
  here without stopping every other database on it, so the test's database refuses new
  connections for a while (``ALLOW_CONNECTIONS false``) and every session on it is killed
  (``pg_terminate_backend``), which is what a restart looks like to the service.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import pytest
from psycopg import sql
from sqlalchemy import Select, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from likvid.db import read_session
from likvid.models import Claim, DeadLetter, Letter, LetterClaim, ReceivedEvent, RejectedEvent
from likvid.service.app import App
from likvid.service.progress import advance_to, wait_quiet
from likvid.service.publish import publish_lines
from tests.support.pipeline import customer, invoice
from tests.support.postgres import PostgresServer
from tests.support.worker_processes import worker_service

pytestmark = [pytest.mark.fault, pytest.mark.timeout(420)]

INVOICES = int(os.environ.get("LIKVID_TEST_PG_RESTART_INVOICES", "120"))
DOWN_S = 2.0  # how long PostgreSQL stays away each time
DEADLINE_S = 300  # the whole burst, faults included

T = TypeVar("T")


def _outage(server: PostgresServer, database: str) -> None:
    """PostgreSQL away for DOWN_S seconds (see the module docstring), then back."""
    if server.cluster is not None:
        cluster = server.cluster
        cluster._run(["pg_ctl", "-D", str(cluster.datadir), "-m", "fast", "-w", "-t", "60", "stop"])
        try:
            time.sleep(DOWN_S)
        finally:
            cluster._run(["pg_ctl", "-D", str(cluster.datadir), "-l", str(cluster.logfile), "-w", "-t", "60",
                          "-o", f"-p {cluster.port} -k {cluster.sockdir} -c listen_addresses=127.0.0.1 "
                                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                                "-c max_connections=200",
                          "start"])
        return
    name = sql.Identifier(database)
    with server.connect_admin() as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(name))
        try:
            deadline = time.monotonic() + DOWN_S
            while time.monotonic() < deadline:  # kill whoever is (still) connected
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                              " WHERE datname = %s AND pid <> pg_backend_pid()", (database,))
                time.sleep(0.2)
        finally:
            admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(name))


def _retrying(what: Callable[[], T]) -> T:
    """The test's own steps (publish, advance, wait) ride out the outage like the service."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        try:
            return what()
        except DBAPIError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _once(app: App, count: Select[tuple[int]]) -> int:
    """Wait until ``count`` is above zero (work has started), and return it."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        with read_session(app.db) as s:
            n = int(s.scalar(count) or 0)
        if n or time.monotonic() > deadline:
            return n
        time.sleep(0.02)


def test_postgres_going_away_mid_burst_loses_nothing_and_doubles_nothing(
    postgres_server: PostgresServer, postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    database = make_url(postgres_url).database
    assert database
    with worker_service(postgres_url, redis_url, tmp_path / "home") as svc:
        app = svc.app
        customers = INVOICES // 2
        # Given customers with two invoices each, published as one burst
        lines = [json.dumps(customer(f"K{i}")) for i in range(customers)]
        lines += [json.dumps(invoice(f"F{i}", f"K{i // 2}", "250.00", due="2026-01-30", invoice_number=f"8{i:06d}"))
                  for i in range(INVOICES)]
        results, accepted = publish_lines(app, lines)
        assert all(r["status"] == "accepted" for r in results)
        # When PostgreSQL goes away while they are ingested (as soon as the first batch is in)
        ingested_before = _once(app, select(func.count()).select_from(ReceivedEvent))
        t0 = time.monotonic()
        _outage(postgres_server, database)
        print(f"outage 1 at {ingested_before} events ingested, over after {time.monotonic() - t0:.1f} s")
        _retrying(lambda: wait_quiet(app, DEADLINE_S, accepted))
        print(f"ingested {time.monotonic() - t0:.1f} s after outage 1 began")
        # ... and again while the reminders are made and rendered
        advancing = threading.Thread(
            target=_retrying,
            args=(lambda: advance_to(app, datetime.fromisoformat("2026-02-10T08:00:00+01:00"),
                                     wait=True, timeout=DEADLINE_S),),
            daemon=True)
        advancing.start()
        letters_before = _once(app, select(func.count()).select_from(Letter).where(Letter.status == "sent"))
        t0 = time.monotonic()
        _outage(postgres_server, database)
        print(f"outage 2 at {letters_before} letters sent, over after {time.monotonic() - t0:.1f} s")
        advancing.join(DEADLINE_S)
        print(f"advanced {time.monotonic() - t0:.1f} s after outage 2 began")
        assert not advancing.is_alive(), "the clock advance did not finish"
        _retrying(lambda: wait_quiet(app, DEADLINE_S, accepted))
        assert svc.workers.poll() is None, "the worker processes died"
        # Then every event was applied once, and every claim has exactly one reminder, sent
        with read_session(app.db) as s:
            assert s.scalar(select(func.count()).select_from(DeadLetter)) == 0
            assert s.scalar(select(func.count()).select_from(RejectedEvent)) == 0
            assert s.scalar(select(func.count()).select_from(ReceivedEvent)) == INVOICES + customers
            assert s.scalar(select(func.count()).select_from(Claim)) == INVOICES
            assert s.scalar(select(func.count()).select_from(Claim).where(Claim.stage == "reminded")) == INVOICES
            per_claim = s.execute(select(LetterClaim.claim_id, func.count())
                                  .where(LetterClaim.kind == "reminder").group_by(LetterClaim.claim_id)).all()
            assert len(per_claim) == INVOICES and {n for _, n in per_claim} == {1}
            sent = s.scalars(select(Letter).where(Letter.kind == "reminder")).all()
            assert {letter.status for letter in sent} == {"sent"}
            assert len(sent) == customers  # one consolidated reminder per customer
            files = {Path(letter.path) for letter in sent}
            assert all(p.exists() for p in files) and len(files) == len(sent)
        # The faults did hit work in flight (else this test would prove nothing)
        assert 0 < ingested_before < INVOICES + customers, f"outage not mid-ingest ({ingested_before})"
        assert 0 < letters_before < customers, f"outage not mid-letters ({letters_before})"
