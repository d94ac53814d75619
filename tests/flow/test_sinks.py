"""Outbound sinks (issue 6): a webhook receiver (a real HTTP server on a loopback port) that is
down for a while receives every order once it is back, in order, each body signed with
HMAC-SHA256, none twice, also across a restart of the relay; the JSON-lines sink and the Redis
stream get the same events."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import func, select

from likvid.clock import STOCKHOLM
from likvid.db import dispose_engines, read_session, transaction
from likvid.models import OutboxMessage, SinkDelivery
from likvid.service import sinks
from likvid.service.app import App, bootstrap, prepare
from likvid.service.records import OUTBOUND_STREAM, outbound_rows, record, record_rows
from likvid.settings import Settings
from likvid.workers.broker import configure
from likvid.workers.relay import Relay

SECRET = "hemligt-delat-värde"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=STOCKHOLM)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    """A webhook receiver: answers 503 to its very first request (still starting), then 200."""

    def __init__(self, port: int) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.refused_once = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if not outer.refused_once:
                    outer.refused_once = True
                    self.send_response(503)
                    self.end_headers()
                    return
                outer.received.append(({k: v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _app(database_url: str, home: Path, port: int) -> App:
    dispose_engines()
    app = bootstrap(Settings.from_env({
        "LIKVID_HOME": str(home), "LIKVID_DATABASE_URL": database_url, "LIKVID_CLOCK": "simulated",
        "LIKVID_WEBHOOK_URL": f"http://127.0.0.1:{port}/likvid", "LIKVID_WEBHOOK_SECRET": SECRET,
        "LIKVID_WEBHOOK_TIMEOUT_S": "2", "LIKVID_WEBHOOK_ATTEMPTS": "3",
        "LIKVID_OUTBOUND_JSONL": str(home / "outbound.jsonl"),
    }), fresh=True)
    prepare(app)
    return app


def _orders(app: App, first: int, count: int) -> list[int]:
    """Suspension orders as the track emits them (one transaction each)."""
    tracks = list(range(first, first + count))
    for track in tracks:
        with transaction(app.db) as s:
            record(s, NOW, "delivery-suspension-ordered", customer_id=f"C{track}", track_id=track,
                   delivery_point_id=f"DP-{track}", utility="electricity", regime="consumer")
    return tracks


def _pending(app: App, sink: str) -> int:
    with read_session(app.db) as s:
        return int(s.scalar(select(func.count()).select_from(SinkDelivery).where(
            SinkDelivery.sink == sink, SinkDelivery.delivered_at.is_(None))) or 0)


@pytest.fixture
def port() -> Iterator[int]:
    yield _free_port()
    dispose_engines()


@pytest.mark.fault
def test_a_webhook_receiver_that_was_down_gets_every_order_signed_in_order_none_twice(
        database_url: str, redis_url: str, tmp_path: Path, port: int) -> None:
    home = tmp_path / "home"
    app = _app(database_url, home, port)
    broker = configure(redis_url)
    r = redis.Redis.from_url(redis_url)
    r.delete(OUTBOUND_STREAM)

    # The receiver is down: orders are published (Redis stream, JSON lines) but not delivered.
    tracks = _orders(app, 1, 4)
    assert Relay(app, broker, redis_url).publish_once() == 4
    assert sinks.deliver_pending(app) == 4  # the JSON-lines sink only
    assert _pending(app, "webhook") == 4
    tracks += _orders(app, 5, 3)
    Relay(app, broker, redis_url).publish_once()
    sinks.deliver_pending(app)
    with read_session(app.db) as s:
        waiting = list(s.scalars(select(SinkDelivery).where(SinkDelivery.sink == "webhook").order_by(SinkDelivery.id)))
        assert len(waiting) == 7 and all(d.delivered_at is None for d in waiting)
        assert waiting[0].attempts == 2 and "Connect" in (waiting[0].last_error or "")
    assert r.xlen(OUTBOUND_STREAM) == 7  # the stream works as before

    # The service restarts; the receiver comes back (first answer 503, then 200).
    app = _app(database_url, home, port)
    receiver = Receiver(port)
    stop = threading.Event()
    loop = threading.Thread(target=sinks.run, args=(app, stop, 0.05), daemon=True)
    try:
        loop.start()
        deadline = time.monotonic() + 60
        while _pending(app, "webhook") and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        loop.join(10)
        assert sinks.deliver_pending(app) == 0  # nothing left, nothing sent again
    finally:
        stop.set()
        receiver.close()

    assert receiver.refused_once
    got = [json.loads(body) for _, body in receiver.received]
    assert [e["data"]["track_id"] for e in got] == tracks  # every order, in order, none twice
    assert len({e["id"] for e in got}) == len(tracks)
    for headers, body in receiver.received:
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers[sinks.SIGNATURE_HEADER], expected)
        assert headers[sinks.EVENT_ID_HEADER] == json.loads(body)["id"]
        assert json.loads(body)["type"] == "delivery-suspension-ordered"
    lines = [json.loads(line) for line in (home / "outbound.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [e["id"] for e in lines] == [e["id"] for e in got]


def test_events_a_set_based_path_wrote_in_one_row_go_out_one_by_one_in_order(
        database_url: str, redis_url: str, tmp_path: Path, port: int) -> None:
    # Given 1,001 outbound events written as a set-based path writes them (a few outbox rows)
    app = _app(database_url, tmp_path / "home", port)
    r = redis.Redis.from_url(redis_url)
    r.delete(OUTBOUND_STREAM)
    written = [record_rows(NOW, "claim-settled", claim_id=f"I{n}", customer_id="C1", case_id=1, how="paid",
                           correlation_id=f"corr-{n}")[1] for n in range(1001)]
    rows = outbound_rows([w for w in written if w is not None])
    assert len(rows) == 3 and [len(row["payload"]["events"]) for row in rows[:2]] == [500, 500]
    with transaction(app.db) as s:
        s.add_all(OutboxMessage(**row) for row in rows)
    # When the relay publishes them
    relay = Relay(app, configure(redis_url), redis_url)
    while relay.publish_once():
        pass
    sinks.deliver_pending(app)
    # Then the stream and the JSON-lines sink each have every event once, in order, as it was written
    streamed = [json.loads(fields[b"event"]) for _, fields in r.xrange(OUTBOUND_STREAM)]
    assert streamed == [w["payload"] for w in written if w is not None]
    assert [e["correlation_id"] for e in streamed] == [f"corr-{n}" for n in range(1001)]
    lines = (tmp_path / "home" / "outbound.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == [e["id"] for e in streamed]
    assert _pending(app, "webhook") == 1001  # (no receiver here: kept for later, one per event)


def test_a_tampered_body_fails_the_signature() -> None:
    body = sinks.body({"id": "e1", "type": "delivery-suspension-ordered", "data": {"track_id": 1}})
    good = sinks.signature(SECRET, body)
    assert good == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert sinks.signature(SECRET, body.replace(b"1}", b"2}")) != good
    assert sinks.signature("other", body) != good


def test_the_webhook_needs_a_secret(tmp_path: Path) -> None:
    settings = Settings.from_env({"LIKVID_HOME": str(tmp_path), "LIKVID_WEBHOOK_URL": "http://127.0.0.1:9/x"})
    with pytest.raises(SystemExit, match="LIKVID_WEBHOOK_SECRET"):
        sinks.configured(settings)
