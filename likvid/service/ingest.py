"""Inbound events: validate, deduplicate, apply, park what cannot be placed yet.

One call handles a batch in one transaction, each event inside its own savepoint: a rejected
event is recorded with its reasons and leaves nothing behind, the others still apply. The
event id is the idempotency key (table ``events``): the same id twice has effect once.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from likvid import jsontext
from likvid.clock import to_db
from likvid.correlation import correlated
from likvid.db import present, transaction
from likvid.messages import Event, EventRejected, parse_event
from likvid.models import CollectionCase, Customer, ParkedEvent, ReceivedEvent, RejectedEvent
from likvid.service import claims as claims_service
from likvid.service import credit, handoff, holds, payment_batch, payments, plans, suspension
from likvid.service.app import App
from likvid.service.bulk_ingest import invoices_issued
from likvid.service.errors import Rejected
from likvid.service.parking import lock_key
from likvid.service.payments import Parked
from likvid.service.records import inbox_row, mark_processed, record

#: One line per event applied one by one (under its id as the correlation id), one per run
#: applied set-based (listing the runs' event ids): ids, types and outcomes, nothing personal.
log = logging.getLogger("likvid.ingest")


@dataclass
class Result:
    id: str | None
    status: str  # accepted, duplicate, rejected
    errors: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "status": self.status}
        if self.errors:
            out["errors"] = self.errors
        return out


Handler = Callable[[Session, App, datetime, str, Any], "list[str] | None"]


def _customer_registered(s: Session, app: App, now: datetime, event_id: str, d: Any) -> list[str]:
    customer = s.get(Customer, d.customer_id)
    fields = {
        "party_type": d.party_type, "identity_number": d.identity_number, "name": d.name,
        "address": d.address.model_dump(mode="json"), "email": d.email, "phone": d.phone,
        "language": d.language, "consumer": d.consumer, "protected_identity": d.protected_identity,
        "representative": d.representative.model_dump(mode="json") if d.representative else None,
    }
    if customer is None:
        s.add(Customer(id=d.customer_id, created_at=to_db(now), updated_at=to_db(now), **fields))
        record(s, now, "customer-registered", customer_id=d.customer_id)
    else:
        for key, value in fields.items():
            setattr(customer, key, value)
        customer.updated_at = to_db(now)
        record(s, now, "customer-replaced", customer_id=d.customer_id)
    return [f"customer:{d.customer_id}"]


def _customer_updated(s: Session, app: App, now: datetime, event_id: str, d: Any) -> None:
    lock_key(s, f"customer:{d.customer_id}")
    customer = s.get(Customer, d.customer_id)
    if customer is None:
        raise Parked(f"customer:{d.customer_id}")
    changed = sorted(d.model_fields_set - {"customer_id"})
    dumped = d.model_dump(mode="json")
    for key in changed:
        value = getattr(d, key)
        setattr(customer, key, dumped[key] if hasattr(value, "model_dump") else value)
    customer.updated_at = to_db(now)
    record(s, now, "customer-updated", customer_id=d.customer_id, fields=changed)


def _invoice_issued(s: Session, app: App, now: datetime, event_id: str, d: Any) -> list[str]:
    lock_key(s, f"customer:{d.customer_id}")
    if s.get(Customer, d.customer_id) is None:
        raise Parked(f"customer:{d.customer_id}")
    claim = claims_service.register_invoice(s, app, now, event_id, d)
    case = s.get(CollectionCase, claim.case_id)
    keys = [f"invoice:{claim.invoice_id}", f"ocr:{claim.ocr_reference}"]
    return keys + ([f"ocr:{case.ocr_reference}"] if case else [])


def _invoice_due(s: Session, app: App, now: datetime, event_id: str, d: Any) -> None:
    claims_service.mark_due(s, app, now, claims_service.locked_claim(s, d.invoice_id), source=f"event {event_id}")


def _invoice_credited(s: Session, app: App, now: datetime, event_id: str, d: Any) -> None:
    claims_service.credit(s, app, now, claims_service.locked_claim(s, d.invoice_id), d.credit_id, d.amount, d.reason)


def _payment_received(s: Session, app: App, now: datetime, event_id: str, d: Any) -> list[str]:
    payments.receive(s, app, now, event_id, d)
    return [f"payment:{d.payment_id}"]


HANDLERS: dict[str, Handler] = {
    "customer-registered": _customer_registered,
    "customer-updated": _customer_updated,
    "invoice-issued": _invoice_issued,
    "invoice-due": _invoice_due,
    "invoice-credited": _invoice_credited,
    "payment-received": _payment_received,
    "payment-reversed": payments.reverse,
    "objection-filed": holds.objection_filed,
    "objection-withdrawn": holds.objection_withdrawn,
    "handler-statement-recorded": holds.statement_recorded,
    "review-decided": holds.review_decided,
    "deferral-granted": holds.deferral_granted,
    "deferral-revoked": holds.deferral_revoked,
    "payment-plan-proposed": plans.proposed,
    "payment-plan-signed": plans.signed,
    "payment-plan-cancelled": plans.cancelled,
    "debtor-status-changed": holds.debtor_status_changed,
    "credit-check-requested": credit.credit_check_requested,
    "notice-served": suspension.notice_served,
    "social-services-undertaking": suspension.social_services_undertaking,
    "delivery-point-flagged": suspension.delivery_point_flagged,
    "handoff-closed": handoff.closed,
    "enforcement-title-obtained": handoff.title_obtained,
}


#: A run of fresh, consecutive events of one type applied in one go (set-based: one SELECT for
#: the run, multi-row INSERTs). The function must leave exactly the state that applying the
#: events one by one, in order, would leave, including the stored ``ReceivedEvent`` rows. It
#: returns the events it did not take; those are then applied one by one, in their order,
#: after the ones it took, so it must decline every later event that depends on a declined one.
BatchHandler = Callable[[Session, App, datetime, list[Event]], list[Event]]
BATCH_HANDLERS: dict[str, BatchHandler] = {
    "invoice-issued": invoices_issued,
    "payment-received": payment_batch.receive_batch,
}


def apply_event(s: Session, app: App, now: datetime, event: Event, stored: ReceivedEvent | None = None) -> str:
    """Store (once) and apply one valid event; returns its status (applied, parked, recorded)."""
    if stored is None:
        stored = ReceivedEvent(**inbox_row(event, to_db(now)))
        s.add(stored)
        s.flush()
    handler = HANDLERS.get(event.type)
    if handler is None:
        # Validated and kept; the policy step that acts on it arrives in a later version.
        stored.status = "recorded"
        record(s, now, "event-recorded", event_id=event.id, event_type=event.type)
        return stored.status
    try:
        released = handler(s, app, now, event.id, event.data) or []
    except Parked as parked:
        s.add(ParkedEvent(waiting_for=parked.key, event_id=event.id, parked_at=to_db(now)))
        stored.status = "parked"
        return stored.status
    stored.status = "applied"
    release(s, app, now, released)
    return stored.status


def release(s: Session, app: App, now: datetime, keys: list[str]) -> None:
    """Apply, in arrival order, every parked event that was waiting for one of ``keys``."""
    if not keys:
        return
    for key in keys:
        lock_key(s, key)
    waiting = select(ParkedEvent).where(ParkedEvent.waiting_for.in_(keys)).order_by(ParkedEvent.id)
    for parked in list(s.scalars(waiting)):
        s.delete(parked)
        s.flush()
        stored = s.get(ReceivedEvent, parked.event_id)
        if stored is None:
            continue
        envelope = _envelope(stored)
        if _apply_in_savepoint(s, app, now, parse_event(envelope), envelope, stored,
                               f" (parked for {parked.waiting_for})") is not None:
            stored.status = "rejected"


def _envelope(stored: ReceivedEvent) -> dict[str, Any]:
    from likvid.clock import from_db

    return {"id": stored.id, "type": stored.type, "version": 1, "source": stored.source,
            "occurred_at": from_db(stored.occurred_at).isoformat(), "data": stored.data}


def _reject(s: Session, now: datetime, raw: Any, errors: list[dict[str, str]], event_id: str | None,
            event_type: str | None, source: str | None) -> None:
    payload = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False, default=str)
    s.add(RejectedEvent(event_id=(event_id or None) and storable(str(event_id)[:100]),
                        event_type=(event_type or None) and storable(str(event_type)[:100]),
                        source=(source or None) and storable(str(source)[:100]), received_at=to_db(now),
                        reasons=[{k: storable(str(v)) for k, v in e.items()} for e in errors],
                        payload=storable(payload[:100_000])))


_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(text: str) -> str:
    """Text any database and any UTF-8 output take: lone surrogates and NUL as escapes."""
    if _SURROGATE.search(text):
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text.replace("\x00", "\\u0000")


def _no_surrogate(value: Any) -> bool:
    """True when no key or string in ``value`` holds a lone surrogate: the common case, told
    without building paths (an ASCII string, most of them, is cleared without a search)."""
    if isinstance(value, str):
        return value.isascii() or _SURROGATE.search(value) is None
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and not key.isascii() and _SURROGATE.search(key):
                return False
            if not (item.__class__ is str and item.isascii()) and not _no_surrogate(item):
                return False
        return True
    if isinstance(value, list):
        return all(map(_no_surrogate, value))
    return True


def _lone_surrogate(value: Any, path: str = "") -> str | None:
    """The path of the first key or string holding a lone surrogate (not encodable as UTF-8)."""
    if not path and _no_surrogate(value):
        return None
    if isinstance(value, str):
        return (path or "$") if _SURROGATE.search(value) else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        at = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and _SURROGATE.search(key):
            return storable(at)
        found = _lone_surrogate(item, at)
        if found:
            return found
    return None


def decoded_and_clean(raws: list[Any]) -> bool:
    """True when every one of ``raws`` is an already decoded event (a dict) and no string or
    key in any of them holds a lone surrogate: one orjson pass over the whole batch (under a
    microsecond an event) instead of a walk through each (3-5). Text still to be decoded can
    hold escapes that decode to one, so a batch with any is not cleared here."""
    return all(type(raw) is dict for raw in raws) and jsontext.utf8_clean(raws)


def validate(raw: Any, clean: bool = False) -> tuple[Event | None, Result]:
    """Parse one raw event (dict, JSON text or bytes) without touching the database.
    ``clean``: ``raw`` is a dict of valid Unicode text (``decoded_and_clean``)."""
    doc = raw
    if isinstance(raw, str | bytes | bytearray):
        try:
            doc = json.loads(raw)
        except (ValueError, RecursionError):
            doc = None  # parse_event says why
    where = None if clean else _lone_surrogate(doc)
    if where is not None:
        eid = doc.get("id") if isinstance(doc, dict) and isinstance(doc.get("id"), str) else None
        reason = "must be valid Unicode text (it holds a lone surrogate)"
        return None, Result(eid and storable(eid), "rejected", [{"field": where, "reason": reason}])
    try:
        event = parse_event(raw)
    except EventRejected as exc:
        errors = [{"field": storable(e.field), "reason": storable(e.reason)} for e in exc.errors]
        return None, Result(exc.event_id and storable(exc.event_id), "rejected", errors)
    return event, Result(event.id, "accepted")


def record_rejections(s: Session, now: datetime, rejected: Iterable[tuple[Any, Result]]) -> None:
    for raw, result in rejected:
        etype = raw.get("type") if isinstance(raw, Mapping) else None
        source = raw.get("source") if isinstance(raw, Mapping) else None
        _reject(s, now, raw, result.errors, result.id, etype if isinstance(etype, str) else None,
                source if isinstance(source, str) else None)


def handle(app: App, raws: list[Any], message_id: str | None = None) -> list[Result]:
    """Validate and apply a batch of raw events. Never raises for bad input.

    Fast path: the whole batch in one transaction (each event in a savepoint). Should an event
    fail unexpectedly (a defect, not a rejection), the batch is redone one event per
    transaction and that event alone is set aside as a dead letter for an operator to replay.
    A database error is re-raised so dramatiq retries the message later.
    """
    from sqlalchemy.exc import DBAPIError

    from likvid.service.batches import quarantine

    clean = decoded_and_clean(raws)
    checked = [(raw, *validate(raw, clean)) for raw in raws]
    try:
        return _apply_checked(app, checked, message_id)
    except DBAPIError:
        raise
    except Exception:
        if len(checked) == 1:
            quarantine(app, "ingest_events", checked[0][0], message_id)
            return [Result(checked[0][2].id, "failed")]
    results: list[Result] = []
    for item in checked:
        try:
            results += _apply_checked(app, [item], None)
        except DBAPIError:
            raise
        except Exception:
            quarantine(app, "ingest_events", item[0], None)
            results.append(Result(item[2].id, "failed"))
    with transaction(app.db) as s:
        mark_processed(s, message_id, app.clock.now(s))
    return results


def _apply_checked(app: App, checked: list[tuple[Any, Event | None, Result]], message_id: str | None) -> list[Result]:
    results: list[Result] = []
    with transaction(app.db) as s:
        now = app.clock.now(s)
        record_rejections(s, now, [(raw, res) for raw, ev, res in checked if ev is None])
        ids = [ev.id for _, ev, _ in checked if ev is not None]
        seen = present(s, ReceivedEvent.id, ids)
        fresh: list[tuple[Any, Event, Result]] = []
        for raw, event, result in checked:
            result = Result(result.id, result.status, list(result.errors))
            results.append(result)
            if event is None:
                continue
            if event.id in seen:
                result.status = "duplicate"
                continue
            seen.add(event.id)
            fresh.append((raw, event, result))
        for run in _runs(fresh):
            batch = BATCH_HANDLERS.get(run[0][1].type)
            if batch is not None and len(run) > 1:
                declined = {id(e) for e in batch(s, app, now, [e for _, e, _ in run])}
                taken = [item[1].id for item in run if id(item[1]) not in declined]
                if taken:
                    log.info("%s: %d applied set-based", run[0][1].type, len(taken), extra={"correlation_ids": taken})
                run = [item for item in run if id(item[1]) in declined]
            for raw, event, result in run:
                _apply_one(s, app, now, raw, event, result)
        mark_processed(s, message_id, now)
    return results


def _runs(items: list[tuple[Any, Event, Result]]) -> list[list[tuple[Any, Event, Result]]]:
    """Consecutive events of one type, in order."""
    runs: list[list[tuple[Any, Event, Result]]] = []
    for item in items:
        if runs and runs[-1][0][1].type == item[1].type:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def _apply_one(s: Session, app: App, now: datetime, raw: Any, event: Event, result: Result) -> None:
    errors = _apply_in_savepoint(s, app, now, event, raw)
    if errors is not None:
        result.status, result.errors = "rejected", errors


def _apply_in_savepoint(s: Session, app: App, now: datetime, event: Event, raw: Any,
                        stored: ReceivedEvent | None = None, how: str = "") -> list[dict[str, str]] | None:
    """One event in its own savepoint: a rejection leaves nothing of it behind but the rejected
    event (``raw``), and its errors are returned. Everything it causes follows from its id
    (likvid.correlation); one log line says how it went (``how`` after the type)."""
    with correlated(event.id):
        try:
            with s.begin_nested():
                status = apply_event(s, app, now, event, stored)
        except Rejected as exc:
            errors = [{"field": exc.field, "reason": exc.reason}]
            _reject(s, now, raw, errors, event.id, event.type, event.source)
            log.info("%s%s: rejected (%s)", event.type, how, exc.field)
            return errors
        log.info("%s%s: %s", event.type, how, status)
        return None
