"""The relay on PostgreSQL is woken by the outbox's notification at commit (migration 0008),
not by its poll: with a poll of a minute, a committed message still leaves within seconds,
also after the listening connection was cut; and a stop is noticed within a second."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import create_engine, select, text

from likvid.db import dispose_engines, read_session, transaction
from likvid.models import OutboxMessage
from likvid.service.app import bootstrap, prepare
from likvid.service.records import QUEUE_INGEST, enqueue
from likvid.settings import Settings
from likvid.workers.broker import configure
from likvid.workers.relay import CHANNEL, Relay
from tests.support.waiting import wait_for

POLL_MS = 60_000


def _listening(url: str) -> list[int]:
    """Backend pids of sessions listening on the relay's channel."""
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            return list(c.execute(text("SELECT pid FROM pg_stat_activity WHERE query = :q"),
                                  {"q": f"LISTEN {CHANNEL}"}).scalars())
    finally:
        engine.dispose()


def _published(app, message_id: str) -> bool:  # type: ignore[no-untyped-def]
    with read_session(app.db) as s:
        return s.scalar(select(OutboxMessage.published_at).where(OutboxMessage.id == message_id)) is not None


def _write_message(app) -> str:  # type: ignore[no-untyped-def]
    with transaction(app.db) as s:
        return enqueue(s, app.clock.now(s), QUEUE_INGEST, "ingest_events", [])


def test_a_committed_message_wakes_the_relay_long_before_its_poll(postgres_url: str, redis_url: str,
                                                                   tmp_path: Path) -> None:
    dispose_engines()
    settings = Settings.from_env({"LIKVID_HOME": str(tmp_path), "LIKVID_DATABASE_URL": postgres_url,
                                  "LIKVID_REDIS_URL": redis_url, "LIKVID_CLOCK": "simulated",
                                  "LIKVID_RELAY_INTERVAL_MS": str(POLL_MS)})
    app = bootstrap(settings, fresh=True)
    prepare(app)
    stop = threading.Event()
    relay = threading.Thread(target=Relay(app, configure(redis_url), redis_url).run, args=(stop,), daemon=True)
    relay.start()
    try:
        # Given the relay listening, and polling only once a minute
        wait_for(lambda: _listening(postgres_url), 10)
        time.sleep(0.3)  # in its wait, after its first pass
        # When a transaction writes an outbox message and commits
        first = _write_message(app)
        # Then the relay publishes it within seconds, not at its next poll
        assert wait_for(lambda: _published(app, first), 10) < 5

        # Given the listening connection cut (as by a PostgreSQL restart)
        (pid,) = _listening(postgres_url)
        engine = create_engine(postgres_url)
        with engine.connect() as c:
            c.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        engine.dispose()
        wait_for(lambda: pid not in _listening(postgres_url), 10)
        # When the next message is committed
        second = _write_message(app)
        # Then it is still published within seconds, and the relay listens again
        assert wait_for(lambda: _published(app, second), 10) < 5
        wait_for(lambda: bool(_listening(postgres_url)), 10)
        time.sleep(0.3)
        third = _write_message(app)
        assert wait_for(lambda: _published(app, third), 10) < 5
    finally:
        stop.set()
        relay.join(5)
    # And a stop is noticed well within the minute-long poll
    assert not relay.is_alive()
    dispose_engines()
