"""The service without a broker: outbox messages are run inline, in order, by the same service
functions the actors call. For property tests that need hundreds of scenarios quickly; the
broker path itself is covered by the pipeline tests."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from likvid.clock import from_db
from likvid.db import dispose_engines, read_session, transaction
from likvid.models import OutboxMessage, Timer
from likvid.service import ingest
from likvid.service.app import App, bootstrap, prepare
from likvid.service.batches import run_batch
from likvid.service.bulk_letters import dispatch_many
from likvid.service.bulk_steps import fire_many
from likvid.service.channels import send_emails
from likvid.service.letters import dispatch
from likvid.service.progress import set_clock
from likvid.service.publish import publish_lines
from likvid.service.records import QUEUE_OUTBOUND, mark_processed, wall_now
from likvid.service.steps import fire
from likvid.settings import Settings


class Inline:
    def __init__(self, app: App) -> None:
        self.app = app

    @classmethod
    def fresh(cls, url: str, home: Path, start: datetime) -> Inline:
        """A new App on ``url`` (engines disposed first), schema at head, simulated clock at
        ``start``, driven inline."""
        dispose_engines()
        app = bootstrap(Settings.from_env({"LIKVID_HOME": str(home), "LIKVID_DATABASE_URL": url,
                                           "LIKVID_CLOCK": "simulated"}), fresh=True)
        prepare(app)
        set_clock(app, start)
        return cls(app)

    def run(self, row_id: str, actor: str, args: list[Any]) -> None:
        app = self.app
        if actor in ("ingest_events", "ingest_payments"):
            ingest.handle(app, args[0], row_id)
        elif actor == "fire_timers":
            run_batch(app, actor, args[0], lambda s, now, tid: fire(s, app, now, int(tid)), row_id,
                      bulk=lambda s, now, ids: fire_many(s, app, now, ids))
        elif actor == "dispatch_letters":
            run_batch(app, actor, args[0], lambda s, now, lid: dispatch(s, app, now, str(lid)), row_id,
                      bulk=lambda s, now, ids: dispatch_many(s, app, now, ids))
        elif actor == "send_emails":
            send_emails(app, args[0])
            with transaction(app.db) as s:
                mark_processed(s, row_id, app.clock.now(s))
        else:
            raise AssertionError(f"unknown actor {actor}")

    def drain(self) -> None:
        while True:
            with transaction(self.app.db) as s:
                rows = s.scalars(select(OutboxMessage).where(OutboxMessage.processed_at.is_(None))
                                 .order_by(OutboxMessage.created_at, OutboxMessage.id).limit(1)).all()
                if not rows:
                    return
                row = rows[0]
                if row.queue == QUEUE_OUTBOUND:
                    row.processed_at = row.published_at = wall_now().replace(tzinfo=None)
                    continue
                row_id, actor, args = row.id, row.actor, row.payload["args"]
            self.run(row_id, actor, args)

    def publish(self, *events: dict[str, Any]) -> list[dict[str, Any]]:
        results, _ = publish_lines(self.app, [json.dumps(e) for e in events])
        self.drain()
        return results

    def advance_to(self, target: datetime) -> None:
        while True:
            with read_session(self.app.db) as s:
                now = self.app.clock.now(s)
                nxt = s.scalar(select(func.min(Timer.due_at)).where(Timer.status == "pending"))
            if nxt is None or from_db(nxt) > target:
                break
            set_clock(self.app, max(now, from_db(nxt)))
            self.drain()
        set_clock(self.app, target)
        self.drain()
