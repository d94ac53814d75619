"""The correlation id: the inbound event id that started a chain of work, carried through every
follow-up so one grep follows a claim (issue 8, operations).

While an event is applied, the context variable holds its id. Whatever is written then takes
it along: a durable timer (``timers.correlation_id``), a letter (``letters.correlation_id``), an
outbox message (``outbox.correlation_id``, copied by the relay into the dramatiq message's
``options["correlation_id"]``, where ``workers.middleware.Correlation`` sets it again for the
consumer). A timer or letter handled later sets it from its own column, so a batch of many
claims' timers still logs each under its own event's id. Every log record gets the current
value as ``record.correlation_id``; the formatters in ``likvid.logs`` print it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from typing import Any, TypeVar

#: The id of the inbound event the current work follows from; None outside of one.
CORRELATION_ID: ContextVar[str | None] = ContextVar("likvid_correlation_id", default=None)
#: The message option the relay writes and the worker middleware reads.
OPTION = "correlation_id"

current = CORRELATION_ID.get


@contextmanager
def correlated(correlation_id: str | None) -> Iterator[None]:
    """Work inside the block follows from ``correlation_id`` (None: from no event, as a timer
    or letter written before correlation ids were kept: it does not inherit its message's)."""
    token = CORRELATION_ID.set(correlation_id)
    try:
        yield
    finally:
        CORRELATION_ID.reset(token)


Step = TypeVar("Step", bound=Callable[..., str])
#: The line each step run one by one writes (a timer fired, a letter dispatched).
step_log = logging.getLogger("likvid.steps")


def follows(model: Any, what: str) -> Callable[[Step], Step]:
    """Run a step ``(session, app, now, key) -> outcome`` on the ``model`` row ``key`` (a timer,
    a letter) under that row's correlation id, and log its outcome there. The step's own first
    read of the row then comes from the session: no second statement."""

    def decorate(step: Step) -> Step:
        @functools.wraps(step)
        def run(session: Any, app: Any, now: Any, key: Any) -> str:
            row = session.get(model, key)
            # No such row: nothing says otherwise, so it stays under its message's id.
            with correlated(row.correlation_id) if row is not None else nullcontext():
                outcome = step(session, app, now, key)
                step_log.info("%s %s (%s): %s", what, key, row.kind if row is not None else "?", outcome)
            return outcome

        return run  # type: ignore[return-value]

    return decorate


def install_record_factory() -> None:
    """Stamp every log record with the current correlation id (``record.correlation_id``), for
    every handler, including ones this package did not configure. Idempotent."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "likvid_correlation", False):
        return

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.correlation_id = CORRELATION_ID.get()
        return record

    factory.likvid_correlation = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


# Whoever sets the id imports this module: from then on every record carries it.
install_record_factory()
