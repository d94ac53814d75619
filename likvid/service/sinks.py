"""Outbound sinks: where outbound events go besides the Redis stream ``likvid:outbound``.

One registry (``SINKS``): a name and a factory that builds the sink from the settings, or
returns None when it is not configured. Adding a sink is one function and one entry here.

- ``webhook``: an HTTP POST per event to ``LIKVID_WEBHOOK_URL``; the body is the event JSON,
  signed with HMAC-SHA256 under ``LIKVID_WEBHOOK_SECRET`` in the header ``X-Likvid-Signature:
  sha256=<hex>`` (``X-Likvid-Event-Id`` carries the event id for deduplication). tenacity
  retries each request with exponential backoff.
- ``jsonl``: one line per event appended (and fsynced) to ``LIKVID_OUTBOUND_JSONL``.

No loss while a receiver is down: the relay writes one ``sink_deliveries`` row per configured
sink and event in the transaction that publishes the event; ``deliver_pending`` sends each
sink's undelivered rows oldest first and marks each delivered only after it succeeded, and
stops at the first failure so the order holds. What is not delivered stays in the database and
is sent later, also after a restart (at least once: a receiver deduplicates on the event id).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session
from tenacity import retry, stop_after_attempt, wait_exponential

from likvid.clock import to_db
from likvid.db import is_sqlite, transaction
from likvid.models import SinkDelivery
from likvid.service.app import App
from likvid.service.records import outbound_events, wall_now
from likvid.settings import Settings

log = logging.getLogger("likvid.sinks")

#: Rows sent per sink and pass.
BATCH = 200
SIGNATURE_HEADER = "X-Likvid-Signature"
EVENT_ID_HEADER = "X-Likvid-Event-Id"


class Sink(Protocol):
    name: str

    def deliver(self, event: dict[str, Any]) -> None:
        """Deliver one event or raise."""


def body(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def signature(secret: str, payload: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of the body>``: what a receiver recomputes and compares."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), payload, hashlib.sha256).hexdigest()


@dataclass
class WebhookSink:
    url: str
    secret: str
    timeout_s: float = 10.0
    attempts: int = 3
    name: str = "webhook"

    def deliver(self, event: dict[str, Any]) -> None:
        payload = body(event)
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature(self.secret, payload),
                   EVENT_ID_HEADER: str(event.get("id", ""))}

        @retry(stop=stop_after_attempt(self.attempts), wait=wait_exponential(multiplier=0.2, max=5), reraise=True)
        def post() -> None:
            response = httpx.post(self.url, content=payload, headers=headers, timeout=self.timeout_s)
            response.raise_for_status()

        post()


@dataclass
class JsonLinesSink:
    path: Path
    name: str = "jsonl"

    def deliver(self, event: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as f:
            f.write(body(event) + b"\n")
            f.flush()
            os.fsync(f.fileno())


def _webhook(settings: Settings) -> Sink | None:
    if not settings.webhook_url:
        return None
    if not settings.webhook_secret:
        raise SystemExit("LIKVID_WEBHOOK_SECRET: must be set when LIKVID_WEBHOOK_URL is (the body is signed)")
    return WebhookSink(settings.webhook_url, settings.webhook_secret, settings.webhook_timeout_s,
                       settings.webhook_attempts)


def _jsonl(settings: Settings) -> Sink | None:
    return JsonLinesSink(Path(settings.outbound_jsonl)) if settings.outbound_jsonl else None


#: The one place sinks are registered: name → factory (None when not configured).
SINKS: dict[str, Callable[[Settings], Sink | None]] = {
    "webhook": _webhook,
    "jsonl": _jsonl,
}


def configured(settings: Settings) -> list[Sink]:
    return [sink for factory in SINKS.values() if (sink := factory(settings)) is not None]


def fan_out(session: Session, settings: Settings, rows: Sequence[Any]) -> int:
    """In the relay's transaction: one pending delivery per configured sink and outbound event."""
    names = [s.name for s in configured(settings)]
    now = to_db(wall_now())
    added = 0
    for row in rows:
        for event in outbound_events(row.payload):
            for name in names:
                session.add(SinkDelivery(sink=name, event_id=str(event.get("id", row.id))[:40],
                                         payload=event, created_at=now, attempts=0))
                added += 1
    return added


def deliver_pending(app: App, sinks: list[Sink] | None = None) -> int:
    """Send every sink's undelivered events, oldest first; stop a sink at its first failure
    (kept for the next pass). Returns how many were delivered."""
    delivered = 0
    for sink in configured(app.settings) if sinks is None else sinks:
        while True:
            with transaction(app.db) as s:
                q = select(SinkDelivery).where(SinkDelivery.sink == sink.name, SinkDelivery.delivered_at.is_(None))
                q = q.order_by(SinkDelivery.id).limit(BATCH)
                if not is_sqlite(app.db):
                    q = q.with_for_update(skip_locked=True)
                rows = list(s.scalars(q))
                failed = False
                for row in rows:
                    row.attempts += 1
                    try:
                        sink.deliver(row.payload)
                    except Exception as exc:
                        row.last_error = f"{type(exc).__name__}: {exc}"[:500]
                        log.warning("sink %s: event %s not delivered (%s); retrying later", sink.name,
                                    row.event_id, row.last_error)
                        failed = True
                        break
                    row.delivered_at = to_db(wall_now())
                    s.flush()
                    delivered += 1
            if failed or len(rows) < BATCH:
                break
    return delivered


def run(app: App, stop: threading.Event, interval_s: float = 1.0) -> None:
    """The delivery loop (a thread of the relay): never blocks the publishing of worker messages."""
    sinks = configured(app.settings)
    if not sinks:
        return
    while not stop.is_set():
        try:
            deliver_pending(app, sinks)
        except Exception:
            log.exception("sink delivery pass failed; retrying")
        stop.wait(interval_s)
