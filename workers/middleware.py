"""Worker middleware.

Dead letters: a message that exhausts its retries is recorded in the database with its error
(dramatiq's own ``.XQ`` copy is dropped after 7 days), and its outbox row is closed so waiting
commands and monitoring see it as failed, not pending.

Correlation: a message's ``options["correlation_id"]`` (written by the relay from the outbox
row) is the current correlation id while the message is handled (likvid.correlation).
"""

from __future__ import annotations

import logging
from typing import Any

from dramatiq import Middleware

from likvid.correlation import CORRELATION_ID, OPTION

log = logging.getLogger("likvid.deadletters")


class Correlation(Middleware):
    """Sets the correlation id from the message before the actor runs and clears it after, in
    the worker thread that handles the message (one message at a time: hooks and actor share
    the thread's context)."""

    def before_process_message(self, broker: Any, message: Any) -> None:
        CORRELATION_ID.set(message.options.get(OPTION))

    def after_process_message(self, broker: Any, message: Any, *, result: Any = None, exception: BaseException | None = None) -> None:
        CORRELATION_ID.set(None)

    after_skip_message = after_process_message


def install(broker: Any) -> None:
    """Add ``Correlation`` to ``broker`` once, first: its ``after`` hook runs last, so every
    other middleware's (the dead-letter record and its log line) still sees the id."""
    if not any(isinstance(m, Correlation) for m in broker.middleware):
        first = type(broker.middleware[0]) if broker.middleware else None
        broker.add_middleware(Correlation(), before=first)


class DeadLetters(Middleware):
    def after_process_message(self, broker: Any, message: Any, *, result: Any = None, exception: BaseException | None = None) -> None:
        if exception is None or not getattr(message, "failed", False):
            return
        try:
            from likvid.db import transaction
            from likvid.models import DeadLetter
            from likvid.service.app import bootstrap
            from likvid.service.records import mark_processed

            app = bootstrap()
            with transaction(app.db) as s:
                now = app.clock.now(s)
                from likvid.clock import to_db

                s.add(DeadLetter(message_id=message.message_id, queue=message.queue_name,
                                 actor=message.actor_name, payload={"args": list(message.args), "kwargs": dict(message.kwargs)},
                                 error=str(message.options.get("traceback") or repr(exception))[:20000],
                                 failed_at=to_db(now)))
                mark_processed(s, message.message_id, now)
        except Exception:  # the database may be the thing that is down; dramatiq keeps its XQ copy
            log.exception("could not record dead letter %s", message.message_id)
