"""The real pipeline inside the test process: real Redis broker, dramatiq worker threads, the
outbox relay and the scheduler as threads, a real database, a simulated business clock.

Given / When / Then tests drive it the way an operator does: publish events, advance the
clock with --wait semantics, then look at `show`.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import dramatiq
import redis

from likvid.clock import parse_duration
from likvid.db import dispose_engines, read_session
from likvid.runtime.redis_server import RedisServer
from likvid.service import show
from likvid.service.app import App, bootstrap, prepare
from likvid.service.progress import advance_to, set_clock, wait_quiet
from likvid.service.publish import publish_lines
from likvid.settings import Settings
from likvid.workers import scheduler
from likvid.workers.broker import configure
from likvid.workers.relay import Relay

_ids = itertools.count(1)


class Pipeline:
    def __init__(self, app: App, redis_url: str, worker: dramatiq.Worker | None = None) -> None:
        self.app = app
        self.redis_url = redis_url
        self.worker = worker

    # When ---------------------------------------------------------------------------
    def publish(self, *events: dict[str, Any], wait: bool = True) -> list[dict[str, Any]]:
        results, accepted = publish_lines(self.app, [json.dumps(e) for e in events])
        if wait:
            wait_quiet(self.app, 120, accepted)
        return results

    def advance(self, duration: str) -> None:
        with read_session(self.app.db) as s:
            now = self.app.clock.now(s)
        advance_to(self.app, now + parse_duration(duration), wait=True, timeout=120)

    def set_clock(self, when: datetime) -> None:
        set_clock(self.app, when)
        wait_quiet(self.app, 120)

    # Then ---------------------------------------------------------------------------
    def invoice(self, invoice_id: str) -> dict[str, Any]:
        with read_session(self.app.db) as s:
            data = show.invoice(s, invoice_id, self.app)
        assert data is not None, f"no invoice {invoice_id}"
        return data

    def customer(self, customer_id: str) -> dict[str, Any]:
        with read_session(self.app.db) as s:
            data = show.customer(s, customer_id, self.app)
        assert data is not None
        return data

    def timeline_types(self, invoice_id: str) -> list[str]:
        return [t["type"] for t in self.invoice(invoice_id)["timeline"]]


def emptied_redis(server: RedisServer) -> str:
    """The URL of ``server``, started again if a fault test stopped or killed it, and emptied
    (FLUSHALL)."""
    if not server.is_running():
        server.start()
    client = redis.Redis.from_url(server.url)
    try:
        client.flushall()
    finally:
        client.close()
    return server.url


@contextmanager
def running_pipeline(
    database_url: str,
    redis_url: str,
    home: Path,
    *,
    threads: int = 4,
    start: str = "2026-01-05T00:00:00+01:00",
) -> Iterator[Pipeline]:
    dispose_engines()
    settings = Settings.from_env(
        {
            "LIKVID_HOME": str(home),
            "LIKVID_DATABASE_URL": database_url,
            "LIKVID_REDIS_URL": redis_url,
            "LIKVID_CLOCK": "simulated",
            "LIKVID_SCHEDULER_INTERVAL_MS": "50",
            "LIKVID_RELAY_INTERVAL_MS": "10",
            **({"LIKVID_POLICY": os.environ["LIKVID_POLICY"]} if os.environ.get("LIKVID_POLICY") else {}),
        }
    )
    app = bootstrap(settings, fresh=True)
    prepare(app)
    set_clock(app, datetime.fromisoformat(start))
    broker = configure(redis_url)
    from likvid.workers import actors  # noqa: F401  (declares the actors on the broker)

    broker.flush_all()
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=50)
    stop = threading.Event()
    relay = Relay(app, broker, redis_url)
    loops = [
        threading.Thread(target=relay.run, args=(stop,), daemon=True),
        threading.Thread(target=scheduler.run, args=(app, stop), daemon=True),
    ]
    worker.start()
    for t in loops:
        t.start()
    try:
        yield Pipeline(app, redis_url, worker)
    finally:
        stop.set()
        for t in loops:
            t.join(10)
        worker.stop(timeout=10_000)
        # A stopped worker leaves its middleware on the (process-wide) broker: take it off.
        mine = getattr(worker, "worker_middleware", None)
        broker.middleware[:] = [m for m in broker.middleware if m is not mine]
        dispose_engines()


# Event builders (valid by default; override any field) ------------------------------------


def envelope(type_: str, data: dict[str, Any], **over: Any) -> dict[str, Any]:
    return {
        "id": over.pop("id", f"ev-{next(_ids)}-{type_}"),
        "type": type_,
        "version": 1,
        "occurred_at": over.pop("occurred_at", "2026-01-05T09:00:00+01:00"),
        "source": over.pop("source", "test"),
        "data": data,
        **over,
    }


def customer(cid: str = "C1", **over: Any) -> dict[str, Any]:
    data = {
        "customer_id": cid,
        "party_type": "person",
        "identity_number": "811218-9876",
        "name": "Anna Andersson",
        "address": {"street": "Storgatan 1", "postal_code": "123 45", "city": "Exempelby"},
        "email": "anna@example.se",
        "language": "sv",
    }
    data.update(over)
    return envelope("customer-registered", data)


def invoice(
    iid: str = "I1", cid: str = "C1", amount: str = "1000.00", due: str = "2026-01-30", **over: Any
) -> dict[str, Any]:
    data = {
        "invoice_id": iid,
        "creditor_id": "kommun",
        "customer_id": cid,
        "invoice_number": f"2026{abs(hash(iid)) % 10**6:06d}",
        "issue_date": "2026-01-05",
        "due_date": due,
        "amount": amount,
        "claim_kind": "childcare",
    }
    data.update(over)
    return envelope("invoice-issued", data)


def payment(
    pid: str,
    amount: str,
    invoice_id: str | None = None,
    reference: str | None = None,
    paid_on: str = "2026-01-20",
) -> dict[str, Any]:
    data: dict[str, Any] = {"payment_id": pid, "amount": amount, "paid_on": paid_on}
    if invoice_id:
        data["invoice_id"] = invoice_id
    if reference:
        data["reference"] = reference
    return envelope("payment-received", data)


def objection(oid: str, invoice_id: str, **over: Any) -> dict[str, Any]:
    data = {
        "objection_id": oid,
        "invoice_id": invoice_id,
        "received_on": "2026-02-01",
        "reason": "Jag har inte beställt detta.",
    }
    data.update(over)
    return envelope("objection-filed", data)
