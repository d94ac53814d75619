"""The scheduler: claims due timers and emits them through the outbox. Several may run."""

from __future__ import annotations

import logging
import threading

from likvid.db import transaction
from likvid.service.app import App
from likvid.service.timers import CLAIM_LIMIT, emit_due

log = logging.getLogger("likvid.scheduler")


def tick(app: App) -> int:
    with transaction(app.db) as s:
        return emit_due(s, app.clock.now(s))


def run(app: App, stop: threading.Event) -> None:
    interval = app.settings.scheduler_interval_ms / 1000
    while not stop.is_set():
        try:
            if tick(app) < CLAIM_LIMIT:
                stop.wait(interval)
        except Exception:
            log.exception("scheduler pass failed; retrying")
            stop.wait(1.0)
