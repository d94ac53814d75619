"""Operations: `likvid status` (is the service healthy?) and `likvid dlq` (dead letters).

Status reads Redis directly (dramatiq's key layout, never through a broker, so asking does not
itself count as a worker heartbeat) and the database. Everything it finds wrong is a line in
``problems``; ``healthy`` is true when there is none, so a monitoring check can use the exit
status of `likvid status`.

Dead letters are messages that exhausted their retries (workers/middleware.py) or single items
a batch set aside (service/batches.py). A replay writes the recorded message to the outbox
again, so the relay publishes it like any other message; every consumer is idempotent, so a
replay of something that was in fact applied does nothing.
"""

from __future__ import annotations

import os
import time
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, func, select

from likvid.clock import from_db, to_db
from likvid.db import is_sqlite, read_session, transaction
from likvid.models import DeadLetter, Hold, OutboxMessage, RejectedEvent, Timer
from likvid.service.app import App
from likvid.service.records import (
    QUEUE_EMAIL,
    QUEUE_INGEST,
    QUEUE_LETTERS,
    QUEUE_STEPS,
    WORKER_QUEUES,
    enqueue,
    wall_now,
)

#: dramatiq's Redis key prefix (RedisBroker's default namespace).
NAMESPACE = "dramatiq"
#: The oldest unprocessed outbox row may be this old (wall-clock seconds) before it is a problem.
OUTBOX_AGE_LIMIT_S = 300.0
#: A pending timer due longer ago than this (business clock) is overdue: no scheduler runs.
TIMER_GRACE_S = 300.0
#: The actor each dead letter names → its queue (quarantined items carry no queue of their own).
ACTOR_QUEUES = {
    "ingest_events": QUEUE_INGEST,
    "ingest_event": QUEUE_INGEST,
    "fire_timers": QUEUE_STEPS,
    "dispatch_letters": QUEUE_LETTERS,
    "send_emails": QUEUE_EMAIL,
}


class DeadLetterError(Exception):
    """A dead-letter operation that cannot be done (no such id, already replayed, ...)."""


def heartbeat_timeout_ms() -> int:
    """The same heartbeat timeout the workers' broker uses (workers/broker.py)."""
    return int(os.environ.get("LIKVID_HEARTBEAT_TIMEOUT_MS", "60000"))


# Status ---------------------------------------------------------------------------------------


def status(
    app: App,
    redis_url: str | None,
    *,
    outbox_age_limit_s: float = OUTBOX_AGE_LIMIT_S,
    timer_grace_s: float = TIMER_GRACE_S,
    heartbeat_ms: int | None = None,
) -> dict[str, Any]:
    """Queues, outbox, timers, rejections, workers, objections and reference rates, with
    ``healthy`` and the ``problems`` that make it false."""
    heartbeat_ms = heartbeat_timeout_ms() if heartbeat_ms is None else heartbeat_ms
    problems: list[str] = []
    db = _database_status(app, timer_grace_s)
    redis_part = _redis_status(redis_url, heartbeat_ms)
    if redis_part.get("error"):
        problems.append(f"Redis unreachable: {redis_part['error']}")

    queues: dict[str, dict[str, int | None]] = {}
    for q in WORKER_QUEUES:
        r = redis_part["queues"].get(q, {})
        queues[q] = {
            "depth": r.get("depth"),
            "delayed": r.get("delayed"),
            "in_flight": r.get("in_flight"),
            "dead": r.get("dead"),
            "dead_letters": db["dead_letters_by_queue"].get(q, 0),
        }

    outbox = db["outbox"]
    timers = db["timers"]
    waiting = sum(
        (v["depth"] or 0) + (v["delayed"] or 0) + (v["in_flight"] or 0) for v in queues.values()
    )
    workers = redis_part["workers"]
    if not redis_part.get("error") and workers["live"] == 0 and (waiting or outbox["unprocessed"]):
        problems.append(
            f"no live worker (no heartbeat within {heartbeat_ms / 1000:.0f} s) while "
            f"{waiting} queued and {outbox['unprocessed']} unprocessed messages wait"
        )
    age = outbox["oldest_unprocessed_age_s"]
    if age is not None and age > outbox_age_limit_s:
        problems.append(
            f"oldest unprocessed outbox message is {age:.0f} s old (limit {outbox_age_limit_s:.0f} s)"
        )
    if timers["overdue"]:
        problems.append(
            f"{timers['overdue']} timers overdue by more than {timer_grace_s:.0f} s (is a scheduler running?)"
        )
    dl = db["dead_letters"]
    if dl["unreplayed"]:
        problems.append(f"{dl['unreplayed']} dead letters not replayed (`likvid dlq list`)")
    obj = db["objections"]
    if obj["overdue"]:
        problems.append(
            f"{obj['overdue']} open objections past their review date ({obj['review_days']} days)"
        )
    rate = db["reference_rate"]
    if rate["missing"]:
        problems.append(
            f"no reference rate for the half-year from {rate['half_year']} in the policy"
        )

    return {
        "healthy": not problems,
        "problems": problems,
        "checked_at": wall_now().isoformat(),
        "business_now": db["business_now"],
        "queues": queues,
        "outbox": outbox,
        "timers": timers,
        "rejected_events": db["rejected_events"],
        "dead_letters": dl,
        "workers": workers,
        "objections": obj,
        "reference_rate": rate,
        "thresholds": {
            "outbox_age_limit_s": outbox_age_limit_s,
            "timer_grace_s": timer_grace_s,
            "heartbeat_timeout_ms": heartbeat_ms,
        },
    }


def _database_status(app: App, timer_grace_s: float) -> dict[str, Any]:
    review_days = app.policy.file.defaults.objection_review_days
    with read_session(app.db) as s:
        now = app.clock.now(s)
        today = now.date()
        wall = to_db(wall_now())
        unprocessed, oldest = s.execute(
            select(func.count(), func.min(OutboxMessage.created_at)).where(
                OutboxMessage.processed_at.is_(None)
            )
        ).one()
        unpublished = (
            s.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.published_at.is_(None))
            )
            or 0
        )

        def timers_where(*cond: Any) -> int:
            return int(s.scalar(select(func.count()).select_from(Timer).where(*cond)) or 0)

        due = timers_where(Timer.status == "pending", Timer.due_at <= to_db(now))
        overdue = timers_where(
            Timer.status == "pending", Timer.due_at <= to_db(now - timedelta(seconds=timer_grace_s))
        )
        emitted = timers_where(Timer.status == "emitted")

        rejected_total = s.scalar(select(func.count()).select_from(RejectedEvent)) or 0
        rejected_day = (
            s.scalar(
                select(func.count())
                .select_from(RejectedEvent)
                .where(RejectedEvent.received_at >= to_db(now - timedelta(hours=24)))
            )
            or 0
        )

        by_queue: dict[str, int] = {}
        for queue, actor, n in s.execute(
            select(DeadLetter.queue, DeadLetter.actor, func.count())
            .where(DeadLetter.replayed_at.is_(None))
            .group_by(DeadLetter.queue, DeadLetter.actor)
        ):
            q = queue or ACTOR_QUEUES.get(actor, "?")
            by_queue[q] = by_queue.get(q, 0) + int(n)
        dl_total = s.scalar(select(func.count()).select_from(DeadLetter)) or 0

        open_objections = list(
            s.execute(
                select(Hold.ref, Hold.claim_id, Hold.starts_on).where(
                    Hold.kind == "objection", Hold.ended_at.is_(None)
                )
            )
        )
    overdue_objections = [
        {
            "objection_id": ref,
            "invoice_id": claim,
            "review_due": (starts + timedelta(days=review_days)).isoformat(),
        }
        for ref, claim, starts in open_objections
        if today > starts + timedelta(days=review_days)
    ]
    half = _half_year_start(today)
    known = [r.valid_from for r in app.policy.reference_rates if r.valid_from <= today]
    return {
        "business_now": now.isoformat(),
        "outbox": {
            "unprocessed": int(unprocessed or 0),
            "unpublished": int(unpublished),
            "oldest_unprocessed_age_s": round(max(0.0, (wall - oldest).total_seconds()), 1)
            if oldest
            else None,
        },
        "timers": {"due": due, "overdue": overdue, "in_flight": emitted},
        "rejected_events": {"total": int(rejected_total), "last_24h": int(rejected_day)},
        "dead_letters": {"total": int(dl_total), "unreplayed": sum(by_queue.values())},
        "dead_letters_by_queue": by_queue,
        "objections": {
            "open": len(open_objections),
            "overdue": len(overdue_objections),
            "review_days": review_days,
            "overdue_items": overdue_objections,
        },
        "reference_rate": {
            "half_year": half.isoformat(),
            "missing": not known or known[-1] < half,
            "last_known": known[-1].isoformat() if known else None,
        },
    }


def _half_year_start(d: date) -> date:
    return date(d.year, 1 if d.month <= 6 else 7, 1)


def _redis_status(redis_url: str | None, heartbeat_ms: int) -> dict[str, Any]:
    empty: dict[str, Any] = {
        "queues": {},
        "workers": {"live": None, "registered": None, "last_heartbeat_age_s": None},
    }
    if not redis_url:
        return {**empty, "error": "no Redis URL"}
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=5, socket_timeout=5)
    try:
        queues: dict[str, dict[str, int]] = {}
        in_flight: dict[str, int] = {}
        prefix = f"{NAMESPACE}:__acks__."
        for key in client.scan_iter(match=f"{prefix}*", count=500):
            name = key.decode() if isinstance(key, bytes) else str(key)
            queue = name[len(prefix) :].split(".", 1)[-1]
            in_flight[queue] = in_flight.get(queue, 0) + int(client.scard(name))
        for q in WORKER_QUEUES:
            base = f"{NAMESPACE}:{q}"
            queues[q] = {
                "depth": int(client.llen(base)),
                "delayed": int(client.llen(f"{base}.DQ")),
                "in_flight": in_flight.get(q, 0) + in_flight.get(f"{q}.DQ", 0),
                "dead": _count(client, f"{base}.XQ"),
            }
        now_ms = time.time() * 1000
        beats = f"{NAMESPACE}:__heartbeats__"
        live = int(client.zcount(beats, now_ms - heartbeat_ms, "+inf"))
        registered = int(client.zcard(beats))
        last = client.zrevrange(beats, 0, 0, withscores=True)
        last_age = round(max(0.0, now_ms - float(last[0][1])) / 1000, 1) if last else None
        return {
            "queues": queues,
            "workers": {"live": live, "registered": registered, "last_heartbeat_age_s": last_age},
        }
    except redis.RedisError as exc:
        return {**empty, "error": str(exc) or type(exc).__name__}
    finally:
        client.close()


def _count(client: Any, key: str) -> int:
    """dramatiq keeps its dead-letter queue as a sorted set; count a list too, to be safe."""
    kind = client.type(key)
    kind = kind.decode() if isinstance(kind, bytes) else kind
    if kind == "zset":
        return int(client.zcard(key))
    if kind == "list":
        return int(client.llen(key))
    return 0


# Dead letters ---------------------------------------------------------------------------------


def _as_dict(d: DeadLetter, full: bool) -> dict[str, Any]:
    error = d.error or ""
    last = [line for line in error.strip().splitlines() if line.strip()]
    out: dict[str, Any] = {
        "id": d.id,
        "message_id": d.message_id,
        "queue": d.queue or ACTOR_QUEUES.get(d.actor, ""),
        "actor": d.actor,
        "failed_at": from_db(d.failed_at).isoformat(),
        "replayed_at": from_db(d.replayed_at).isoformat() if d.replayed_at else None,
        "error_summary": last[-1][:300] if last else "",
    }
    if full:
        out["payload"] = d.payload
        out["error"] = error
    return out


def dead_letters(app: App, *, include_replayed: bool = True) -> list[dict[str, Any]]:
    """Every dead letter, oldest first, with the last line of its error."""
    with read_session(app.db) as s:
        q = select(DeadLetter).order_by(DeadLetter.id)
        if not include_replayed:
            q = q.where(DeadLetter.replayed_at.is_(None))
        return [_as_dict(d, full=False) | {"items": _items(d.payload)} for d in s.scalars(q)]


def _items(payload: dict[str, Any] | None) -> list[Any]:
    """What the message was about, by id only: a raw event may carry personal data (POLICY.md
    point 10), so the list shows event ids; `dlq show` prints the whole payload."""
    args = (payload or {}).get("args") or []
    first = args[0] if args else None
    items = first if isinstance(first, list) else [first] if first is not None else []
    return [
        i.get("id", "?")
        if isinstance(i, dict)
        else i
        if isinstance(i, int | str) and len(str(i)) <= 60
        else "?"
        for i in items
    ]


def dead_letter(app: App, dead_letter_id: int) -> dict[str, Any] | None:
    """One dead letter with its payload and the whole error."""
    with read_session(app.db) as s:
        d = s.get(DeadLetter, dead_letter_id)
        return _as_dict(d, full=True) if d else None


def replay(
    app: App, dead_letter_id: int, *, force: bool = False, redis_url: str | None = None
) -> str:
    """Write the dead letter's message to the outbox again (the relay publishes it) and mark it
    replayed; returns the new message id. A second replay needs ``force``. With ``redis_url``
    dramatiq's own dead-letter copy is dropped too (best effort)."""
    with transaction(app.db) as s:
        q = select(DeadLetter).where(DeadLetter.id == dead_letter_id)
        if not is_sqlite(app.db):
            q = q.with_for_update()
        d = s.scalar(q)
        if d is None:
            raise DeadLetterError(f"no dead letter {dead_letter_id}")
        if d.replayed_at is not None and not force:
            raise DeadLetterError(
                f"dead letter {dead_letter_id} was replayed at {from_db(d.replayed_at).isoformat()} (--force replays it again)"
            )
        queue = d.queue or ACTOR_QUEUES.get(d.actor)
        if not queue or d.actor not in ACTOR_QUEUES:
            raise DeadLetterError(f"dead letter {dead_letter_id}: unknown actor {d.actor!r}")
        payload = d.payload or {}
        args = payload.get("args")
        if not isinstance(args, list) or payload.get("kwargs"):
            raise DeadLetterError(
                f"dead letter {dead_letter_id}: payload cannot be replayed: {payload!r}"[:500]
            )
        message_id = enqueue(s, app.clock.now(s), queue, d.actor, *args)
        d.replayed_at = to_db(wall_now())
        original, original_queue = d.message_id, queue
    if redis_url:
        _drop_dramatiq_copy(redis_url, original_queue, original)
    return message_id


def purge(
    app: App,
    dead_letter_id: int | None = None,
    *,
    all_replayed: bool = False,
    redis_url: str | None = None,
) -> int:
    """Delete one dead letter, or every replayed one; returns how many."""
    if (dead_letter_id is None) == (not all_replayed):
        raise DeadLetterError("give a dead letter id or all_replayed, not both")
    with transaction(app.db) as s:
        if dead_letter_id is not None:
            rows = list(s.scalars(select(DeadLetter).where(DeadLetter.id == dead_letter_id)))
            if not rows:
                raise DeadLetterError(f"no dead letter {dead_letter_id}")
        else:
            rows = list(s.scalars(select(DeadLetter).where(DeadLetter.replayed_at.is_not(None))))
        gone = [(d.queue or ACTOR_QUEUES.get(d.actor, ""), d.message_id) for d in rows]
        if rows:
            s.execute(delete(DeadLetter).where(DeadLetter.id.in_([d.id for d in rows])))
    if redis_url:
        for queue, message_id in gone:
            _drop_dramatiq_copy(redis_url, queue, message_id)
    return len(gone)


def _drop_dramatiq_copy(redis_url: str, queue: str, message_id: str) -> None:
    """dramatiq keeps an exhausted message in ``<queue>.XQ`` for 7 days; once the database's
    dead letter is dealt with, that copy only confuses the queue counts."""
    if not queue or not message_id or message_id == "-":
        return
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=5, socket_timeout=5)
    try:
        base = f"{NAMESPACE}:{queue}.XQ"
        client.zrem(base, message_id)
        client.hdel(f"{base}.msgs", message_id)
    except redis.RedisError:
        pass
    finally:
        client.close()


def _fmt_age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def render_status(data: dict[str, Any]) -> str:
    """The human table of `likvid status`."""

    def n(v: Any) -> str:
        return "?" if v is None else str(v)

    lines = [
        f"Likvid status: {'HEALTHY' if data['healthy'] else 'UNHEALTHY'}",
        f"  checked {data['checked_at'][:19]}, business clock {data['business_now'][:19]}",
        "",
    ]
    lines.append(
        f"  {'queue':<10}{'depth':>8}{'delayed':>9}{'in flight':>11}{'dead (redis)':>14}{'dead letters':>14}"
    )
    for q, v in data["queues"].items():
        lines.append(
            f"  {q:<10}{n(v['depth']):>8}{n(v['delayed']):>9}{n(v['in_flight']):>11}{n(v['dead']):>14}{n(v['dead_letters']):>14}"
        )
    o, t, r, w = data["outbox"], data["timers"], data["rejected_events"], data["workers"]
    dl, ob, rate = data["dead_letters"], data["objections"], data["reference_rate"]
    lines += [
        "",
        f"  {'outbox':<16}{o['unprocessed']} unprocessed ({o['unpublished']} unpublished), oldest {_fmt_age(o['oldest_unprocessed_age_s'])}",
        f"  {'timers':<16}{t['due']} due, {t['overdue']} overdue, {t['in_flight']} in flight",
        f"  {'rejected events':<16}{r['total']} ({r['last_24h']} in the last 24 h)",
        f"  {'dead letters':<16}{dl['unreplayed']} not replayed of {dl['total']}",
        f"  {'workers':<16}{n(w['live'])} live of {n(w['registered'])} registered, last heartbeat {_fmt_age(w['last_heartbeat_age_s'])} ago",
        f"  {'objections':<16}{ob['open']} open, {ob['overdue']} past review ({ob['review_days']} days)",
        f"  {'reference rate':<16}"
        + (
            f"MISSING for the half-year from {rate['half_year']}"
            if rate["missing"]
            else f"known (last entry {rate['last_known']})"
        ),
    ]
    if data["problems"]:
        lines += ["", "  problems:"] + [f"    - {p}" for p in data["problems"]]
    return "\n".join(lines)
