"""The actors: thin. Decode the message, call the service, let it persist the decision and the
follow-up messages in one transaction. Import only after ``broker.configure()``."""

from __future__ import annotations

from typing import Any

import dramatiq

from likvid.service import ingest
from likvid.service.app import bootstrap
from likvid.service.batches import run_batch
from likvid.service.bulk_letters import dispatch_many
from likvid.service.bulk_steps import fire_many
from likvid.service.channels import send_emails as send_emails_service
from likvid.service.letters import dispatch
from likvid.service.records import (
    QUEUE_EMAIL,
    QUEUE_INGEST,
    QUEUE_LETTERS,
    QUEUE_PAYMENTS,
    QUEUE_STEPS,
)
from likvid.service.steps import fire
from likvid.workers import middleware
from likvid.workers.broker import current_message_id

# Here rather than in broker.configure: every process that declares the actors handles them.
middleware.install(dramatiq.get_broker())

#: Transient failures (database or network) are retried with backoff; business outcomes
#: (paid, disputed, rejected) are state changes, never exceptions. A message that still fails
#: is recorded as a dead letter (workers/middleware.py).
RETRIES = {"max_retries": 12, "min_backoff": 500, "max_backoff": 300_000}


@dramatiq.actor(queue_name=QUEUE_INGEST, **RETRIES)
def ingest_events(events: list[Any]) -> None:
    """Raw inbound events from `likvid publish`, the HTTP API or any Redis publisher."""
    ingest.handle(bootstrap(), events if isinstance(events, list) else [events], current_message_id())


@dramatiq.actor(queue_name=QUEUE_PAYMENTS, priority=-10, **RETRIES)
def ingest_payments(events: list[Any]) -> None:
    """payment-received events from `likvid publish` and the HTTP API, ahead of other work (a
    lower number is a higher dramatiq priority; every other actor has 0)."""
    ingest.handle(bootstrap(), events if isinstance(events, list) else [events], current_message_id())


@dramatiq.actor(queue_name=QUEUE_INGEST, **RETRIES)
def ingest_event(event: Any) -> None:
    """One raw inbound event (the form other languages publish most simply)."""
    ingest.handle(bootstrap(), [event], current_message_id())


@dramatiq.actor(queue_name=QUEUE_STEPS, **RETRIES)
def fire_timers(timer_ids: list[int]) -> None:
    app = bootstrap()
    run_batch(app, "fire_timers", timer_ids, lambda s, now, tid: fire(s, app, now, int(tid)), current_message_id(),
              bulk=lambda s, now, ids: fire_many(s, app, now, ids))


@dramatiq.actor(queue_name=QUEUE_LETTERS, **RETRIES)
def dispatch_letters(letter_ids: list[str]) -> None:
    app = bootstrap()
    run_batch(app, "dispatch_letters", letter_ids, lambda s, now, lid: dispatch(s, app, now, str(lid)), current_message_id(),
              bulk=lambda s, now, ids: dispatch_many(s, app, now, ids))


@dramatiq.actor(queue_name=QUEUE_EMAIL, **RETRIES)
def send_emails(letter_ids: list[str]) -> None:
    """Email letters already decided and recorded; exactly once per letter."""
    app = bootstrap()
    send_emails_service(app, letter_ids)
    from likvid.db import transaction
    from likvid.service.records import mark_processed

    with transaction(app.db) as s:
        mark_processed(s, current_message_id(), app.clock.now(s))


__all__ = ["send_emails", "dispatch_letters", "fire_timers", "ingest_event", "ingest_events", "ingest_payments"]
