"""`likvid publish`: validate JSON lines, record rejections, queue the rest through the outbox."""

from __future__ import annotations

import json
from collections.abc import Container, Iterable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from likvid.db import IN_CHUNK, present, transaction
from likvid.models import ReceivedEvent
from likvid.service.app import App
from likvid.service.records import QUEUE_INGEST, QUEUE_PAYMENTS, enqueue

if TYPE_CHECKING:
    from likvid.service import ingest

#: Events per ingest message: one transaction per batch, each event in its own savepoint.
BATCH = 100


def _ingest() -> ModuleType:
    """``likvid.service.ingest``, imported when a line is to be validated or rejected: a BgMax
    import whose payments are all valid as built never needs it, and importing it (every policy
    step, the letters and their PDFs) took 0.3-0.5 s of the command's start-up, before its
    first payment could go out."""
    from likvid.service import ingest

    return ingest


def known_ids(s: Session, ids: list[str], chunk: int = IN_CHUNK) -> set[str]:
    """Which of ``ids`` were received already (in chunks: there may be more than PostgreSQL
    takes parameters in one statement)."""
    return present(s, ReceivedEvent.id, ids, chunk)


def publish_lines(app: App, lines: Iterable[str | dict[str, Any]], batch: int = BATCH,
                  json_types: bool = False, known_valid: Container[str] = frozenset(),
                  ) -> tuple[list[dict[str, Any]], list[str]]:
    """Returns one result per non-empty line, and the ids accepted for processing. A line may
    also be an event already parsed from JSON (a dict). ``batch`` events go in one ingest
    message (one transaction; a run of one type applied set-based where
    ingest.BATCH_HANDLERS has a handler for it). ``json_types``: the dicts among ``lines``
    hold only JSON types (as text lines do once parsed), so the messages need no conversion.
    ``known_valid``: ids of dict lines the caller built from checked data so that they meet
    the contract (the BgMax import's, `bankfile.valid_as_built`); they are accepted without
    being validated here. The workers validate every event they receive all the same."""
    results: list[dict[str, Any]] = []
    accepted: list[tuple[str, Any]] = []
    rejected: list[tuple[Any, ingest.Result]] = []
    as_json = True  # every accepted event holds only JSON types (a datetime is valid in a dict)
    clean: bool | None = None  # (decided for the whole list when the first line needs it)
    for number, line in enumerate(lines, start=1):
        if isinstance(line, dict):
            as_json = as_json and json_types
            if known_valid and line.get("id") in known_valid:
                accepted.append((line["id"], line))
                results.append({"id": line["id"], "status": "accepted"})  # (as ingest.Result.as_dict)
                continue
        elif not line.strip():
            continue
        ingest = _ingest()
        raw: Any = line
        if not isinstance(line, dict):
            try:
                raw = json.loads(line)
            except (json.JSONDecodeError, RecursionError) as exc:
                why = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
                res = ingest.Result(None, "rejected", [{"field": "$", "reason": f"line {number} is not valid JSON ({why})"}])
                rejected.append((line, res))
                results.append(res.as_dict())
                continue
        if clean is None:  # a batch of decoded events (the BgMax import's) is cleared at once
            clean = isinstance(lines, list) and ingest.decoded_and_clean(lines)
        event, res = ingest.validate(raw, clean)
        if event is None:
            rejected.append((raw, res))
        else:
            accepted.append((event.id, raw))
        results.append(res.as_dict())
    with transaction(app.db) as s:
        now = app.clock.now(s)
        if rejected:
            _ingest().record_rejections(s, now, rejected)
        known = known_ids(s, [i for i, _ in accepted])
        fresh: list[Any] = []
        seen: set[str] = set()
        for r in results:
            if r["id"] in known and r["status"] == "accepted":
                r["status"] = "duplicate"
        for event_id, raw in accepted:
            if event_id in seen:
                continue
            seen.add(event_id)
            if event_id not in known:
                fresh.append(raw)
        # Payments take their own queue (priority route, records.QUEUE_PAYMENTS); one that
        # overtakes its invoice is parked until the invoice is in, as one published alone is.
        payments = [raw for raw in fresh if raw.get("type") == "payment-received"]
        others = [raw for raw in fresh if raw.get("type") != "payment-received"]
        for queue, actor, items in ((QUEUE_PAYMENTS, "ingest_payments", payments), (QUEUE_INGEST, "ingest_events", others)):
            for i in range(0, len(items), batch):
                enqueue(s, now, queue, actor, items[i : i + batch], json_types=as_json)
    return results, [i for i, _ in accepted]
