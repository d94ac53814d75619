"""The scheduler: claims due timers and emits them through the outbox. Several may run."""

from __future__ import annotations

import logging
import threading

from likvid.db import transaction
from likvid.service.app import App
from likvid.service.timers import CLAIM_LIMIT, emit_due

log = logging.getLogger("likvid.scheduler")


def tick(app: App) -> int:
    """One cycle: restore every suspended delivery point whose debt is now paid or covered (the
    priority path: straight to the outbox, no step queue), then emit due timers."""
    from likvid.service.suspension import restore_due

    with transaction(app.db) as s:
        now = app.clock.now(s)
        restore_due(s, now)
        return emit_due(s, now)


def run(app: App, stop: threading.Event) -> None:
    interval = app.settings.scheduler_interval_ms / 1000
    while not stop.is_set():
        try:
            if tick(app) < CLAIM_LIMIT:
                stop.wait(interval)
        except Exception:
            log.exception("scheduler pass failed; retrying")
            stop.wait(1.0)
