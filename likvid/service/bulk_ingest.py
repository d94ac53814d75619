"""``invoice-issued`` set-based: a run of plain invoices in a few statements.

One SELECT each for the run's customers, existing claims and OCR references, cases and
parked events, then one multi-row INSERT per table (events, claims, ledger entries, timers,
timeline). It leaves exactly what ``ingest._invoice_issued`` → ``claims.register_invoice``
applied one by one in order would leave, and declines, for that path, whatever is not plain:

- an unknown customer (the event parks; nothing else depends on a parked invoice);
- an unknown creditor, an invoice already registered, an OCR reference that is invalid, taken
  or used twice in the run, a parked event waiting for one of the invoice's keys: that event
  and every later one in the run (the one-by-one path then decides them in their order, so an
  OCR suffix or a rejection comes out as it would have).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from likvid.clock import start_of_day, to_db
from likvid.db import among_pairs, is_sqlite
from likvid.messages import Event
from likvid.models import (
    Claim,
    CollectionCase,
    Customer,
    LedgerEntry,
    ParkedEvent,
    ReceivedEvent,
    TimelineEntry,
    Timer,
)
from likvid.rules.deadlines import effective_due_date
from likvid.rules.ocr import validate_ocr
from likvid.service.app import App
from likvid.service.claims import case_ocr, ocr_candidates
from likvid.service.parking import lock_keys
from likvid.service.records import inbox_row, jsonable

BASIS_REGISTERED = "EVENTS.md invoice-issued; due date moved to the next bank day (ARCHITECTURE.md)"


def invoices_issued(session: Session, app: App, now: datetime, events: list[Event]) -> list[Event]:
    """``ingest.BATCH_HANDLERS["invoice-issued"]``; returns the events it did not take."""
    datas = [e.data for e in events]
    customers = {d.customer_id for d in datas}
    lock_keys(session, {f"customer:{c}" for c in customers})
    known_customers = set(session.scalars(select(Customer.id).where(Customer.id.in_(customers))))
    invoice_ids = {d.invoice_id for d in datas}
    registered = set(session.scalars(select(Claim.invoice_id).where(Claim.invoice_id.in_(invoice_ids))))

    # Candidate OCR references: the given one, or the first one claim_ocr would try.
    wanted: list[str | None] = []
    for d in datas:
        if d.creditor_id not in app.policy.creditors:
            wanted.append(None)
        elif d.ocr_reference:
            wanted.append(d.ocr_reference)
        else:
            wanted.append(next(ocr_candidates(app, d.creditor_id, d.invoice_number, d.invoice_id)))
    pairs = {(d.creditor_id, o) for d, o in zip(datas, wanted, strict=True) if o}
    taken = set()
    if pairs:
        taken = {tuple(r) for r in session.execute(select(Claim.creditor_id, Claim.ocr_reference).where(
            among_pairs(session, Claim.creditor_id, Claim.ocr_reference, pairs)))}

    take: list[tuple[Event, str]] = []
    declined: list[Event] = []
    used: set[tuple[str, str]] = set()
    run_ids: set[str] = set()
    stopped = False
    for event, d, ocr in zip(events, datas, wanted, strict=True):
        if stopped:
            declined.append(event)
        elif d.customer_id not in known_customers:
            declined.append(event)  # it parks (one by one) and takes nothing a later event could need
        elif (ocr is None or d.invoice_id in registered or d.invoice_id in run_ids or (d.creditor_id, ocr) in taken
              or (d.creditor_id, ocr) in used or not _valid_ocr(app, d, ocr)):
            stopped = True
            declined.append(event)
        else:
            used.add((d.creditor_id, ocr))
            run_ids.add(d.invoice_id)
            take.append((event, ocr))
    if not take:
        return declined
    cases = _cases(session, app, now, {(e.data.customer_id, e.data.creditor_id) for e, _ in take})

    # A parked event waiting for one of these invoices' keys is released right after that
    # invoice: from there on, one by one.
    keys_of = [{f"invoice:{e.data.invoice_id}", f"ocr:{ocr}",
                f"ocr:{cases[(e.data.customer_id, e.data.creditor_id)].ocr_reference}"} for e, ocr in take]
    all_keys = set().union(*keys_of)
    lock_keys(session, all_keys)
    waiting = set(session.scalars(select(ParkedEvent.waiting_for).where(ParkedEvent.waiting_for.in_(all_keys))))
    cut = next((i for i, keys in enumerate(keys_of) if keys & waiting), len(take))
    if cut < len(take):
        later = {id(e) for e, _ in take[cut:]} | {id(e) for e in declined}
        declined = [e for e in events if id(e) in later]
        take = take[:cut]
    _insert(session, app, now, take, cases)
    return declined


def _valid_ocr(app: App, d: Any, ocr: str) -> bool:
    if not d.ocr_reference:
        return True
    try:
        validate_ocr(ocr, require_length_digit=app.policy.creditors[d.creditor_id].ocr_length_digit)
    except ValueError:
        return False
    return True


def _cases(session: Session, app: App, now: datetime, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """Each (customer, creditor)'s case, created where missing, locked (``claims.case_for``)."""
    sqlite = is_sqlite(session.get_bind())
    q = select(CollectionCase.id, CollectionCase.customer_id, CollectionCase.creditor_id, CollectionCase.ocr_reference,
               CollectionCase.policy_version).where(
        among_pairs(session, CollectionCase.creditor_id, CollectionCase.customer_id, [(cr, cu) for cu, cr in pairs])
    ).order_by(CollectionCase.id)
    if not sqlite:
        q = q.with_for_update()
    found = {(r.customer_id, r.creditor_id): r for r in session.execute(q)}
    missing = sorted(pairs - set(found))
    if missing:
        stmt = (sqlite_insert if sqlite else pg_insert)(CollectionCase.__table__)
        session.execute(stmt.on_conflict_do_nothing(index_elements=["customer_id", "creditor_id"]), [
            {"customer_id": cu, "creditor_id": cr, "ocr_reference": case_ocr(app, cu, cr),
             "policy_version": app.policy.version, "opened_at": to_db(now)} for cu, cr in missing])
        found = {(r.customer_id, r.creditor_id): r for r in session.execute(q)}
    return found


def _insert(session: Session, app: App, now: datetime, take: list[tuple[Event, str]], cases: dict[tuple[str, str], Any]) -> None:
    if not take:
        return
    at = to_db(now)
    events, claims, entries, timers, timeline = [], [], [], [], []
    for event, ocr in take:
        d = event.data
        case = cases[(d.customer_id, d.creditor_id)]
        due = effective_due_date(d.due_date)
        events.append(inbox_row(event, at))
        claims.append({"invoice_id": d.invoice_id, "creditor_id": d.creditor_id, "customer_id": d.customer_id,
                       "case_id": case.id, "invoice_number": d.invoice_number, "issue_date": d.issue_date,
                       "due_date": d.due_date, "effective_due_date": due, "amount_ore": d.amount,
                       "claim_kind": d.claim_kind, "claim_nature": d.claim_nature, "ocr_reference": ocr,
                       "reminder_fee_agreed": d.reminder_fee_agreed, "delivery_point_id": d.delivery_point_id,
                       "decision_final_on": d.decision_final_on, "description": d.description, "status": "open",
                       "stage": "issued", "reminder_level": 0, "demand_level": 0, "policy_version": case.policy_version,
                       "created_at": at})
        entries.append({"claim_id": d.invoice_id, "kind": "capital", "component": "capital", "amount_ore": d.amount,
                        "booked_at": at, "value_date": d.issue_date, "ref": event.id, "note": None})
        timers.append({"kind": "invoice_due", "claim_id": d.invoice_id, "ref": None, "due_at": to_db(start_of_day(due)),
                       "status": "pending", "created_at": at, "correlation_id": event.id})
        timeline.append({"at": at, "type": "invoice-registered", "claim_id": d.invoice_id, "customer_id": d.customer_id,
                         "case_id": case.id, "basis": BASIS_REGISTERED, "details": jsonable({
                             "amount": d.amount, "due_date": d.due_date, "effective_due_date": due,
                             "ocr_reference": ocr, "event_id": event.id})})
    for model, rows in ((ReceivedEvent, events), (Claim, claims), (LedgerEntry, entries), (Timer, timers),
                        (TimelineEntry, timeline)):
        session.execute(insert(model.__table__), rows)
