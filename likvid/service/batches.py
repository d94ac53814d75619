"""Running a batch of items (timers, letters) from one message.

Fast path: every item in one transaction. If an item fails, the batch is rolled back and each
item runs in its own transaction, so one bad item never holds back the others: it is recorded
as a dead letter of its own (replayable) while the rest go through. A database that is down
(a DBAPI error) is re-raised instead, for dramatiq to retry the whole message later.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from likvid.clock import to_db
from likvid.db import transaction
from likvid.models import DeadLetter
from likvid.service.app import App
from likvid.service.records import jsonable, mark_processed

log = logging.getLogger("likvid.batches")

Item = Callable[[Session, datetime, Any], Any]
#: Set-based handling of the whole batch; returns the items it left for ``fn``, in order.
Bulk = Callable[[Session, datetime, list[Any]], list[Any]]


def run_batch(app: App, actor: str, items: list[Any], fn: Item, message_id: str | None, bulk: Bulk | None = None) -> None:
    """``bulk`` (if given) runs first in the fast path's transaction; should the batch fail,
    the items are redone one by one with ``fn`` alone."""
    try:
        with transaction(app.db) as s:
            now = app.clock.now(s)
            for item in bulk(s, now, items) if bulk else items:
                fn(s, now, item)
            mark_processed(s, message_id, now)
        return
    except DBAPIError:
        raise
    except Exception:
        if len(items) == 1:
            quarantine(app, actor, items[0], message_id)
            return
        log.warning("%s: a batch of %d failed; running its items one by one", actor, len(items))
    for item in items:
        try:
            with transaction(app.db) as s:
                fn(s, app.clock.now(s), item)
        except DBAPIError:
            raise
        except Exception:
            quarantine(app, actor, item, None)
    with transaction(app.db) as s:
        mark_processed(s, message_id, app.clock.now(s))


def quarantine(app: App, actor: str, item: Any, message_id: str | None) -> None:
    error = traceback.format_exc(limit=30)
    # Only an id in the log: items may be raw events carrying personal data (POLICY.md point 10).
    ident = item.get("id") if isinstance(item, dict) else item if isinstance(item, int | str) and len(str(item)) <= 40 else "?"
    log.error("%s: item %s failed and was set aside as a dead letter", actor, ident)
    with transaction(app.db) as s:
        now = app.clock.now(s)
        s.add(DeadLetter(message_id=message_id or "-", queue="", actor=actor, payload={"args": [[jsonable(item)]]},
                         error=error[:20000], failed_at=to_db(now)))
        mark_processed(s, message_id, now)
