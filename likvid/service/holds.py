"""Holds: an objection pauses collection of the disputed amount at once (POLICY.md point 6)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from likvid.clock import to_db
from likvid.models import Claim, Hold
from likvid.service import claims as claims_service
from likvid.service import ledger
from likvid.service.app import App
from likvid.service.errors import Rejected
from likvid.service.parking import lock_key
from likvid.service.payments import Parked
from likvid.service.records import dispatch_later, record


def place(session: Session, now: datetime, claim: Claim, kind: str, ref: str, *, amount: int | None,
          reason: str, by: str | None, starts_on: Any, until: Any = None) -> Hold:
    if session.scalar(select(Hold.id).where(Hold.kind == kind, Hold.ref == ref)):
        raise Rejected("data", f"{kind} {ref} is already registered")
    hold = Hold(kind=kind, ref=ref, claim_id=claim.invoice_id, customer_id=claim.customer_id,
                amount_ore=amount, reason=reason, created_by=by, starts_on=starts_on, until=until,
                created_at=to_db(now))
    session.add(hold)
    record(session, now, "hold-placed", claim_id=claim.invoice_id, customer_id=claim.customer_id,
           case_id=claim.case_id, hold=kind, ref=ref, amount=amount, until=until, reason=reason)
    return hold


def lift(session: Session, app: App, now: datetime, kind: str, ref: str, why: str) -> None:
    lock_key(session, f"{kind}:{ref}")
    hold = session.scalar(select(Hold).where(Hold.kind == kind, Hold.ref == ref))
    if hold is None:
        raise Parked(f"{kind}:{ref}")
    if hold.ended_at is not None:
        raise Rejected("data", f"{kind} {ref} has already ended")
    claim = session.get(Claim, hold.claim_id) if hold.claim_id else None
    if claim is not None:
        claims_service.lock_case(session, claim.case_id)
    hold.ended_at = to_db(now)
    hold.end_reason = why
    record(session, now, "hold-lifted", claim_id=hold.claim_id, customer_id=hold.customer_id,
           case_id=claim.case_id if claim else None, hold=kind, ref=ref, why=why)
    if claim is not None:
        claims_service.resume(session, app, now, claim)


def objection_filed(session: Session, app: App, now: datetime, event_id: str, data: Any) -> None:
    lock_key(session, f"invoice:{data.invoice_id}")
    claim = session.get(Claim, data.invoice_id)
    if claim is None:
        raise Parked(f"invoice:{data.invoice_id}")
    case = claims_service.lock_case(session, claim.case_id)
    open_total = ledger.balance(session, claim.invoice_id).total
    amount = data.disputed_amount
    if amount is not None and amount >= open_total:
        amount = None  # disputing all of it, or more, holds the whole claim
    place(session, now, claim, "objection", data.objection_id, amount=amount, reason=data.reason,
          by=data.filed_by, starts_on=data.received_on)
    from likvid.service.letters import create_letter

    letter = create_letter(session, now, "objection_acknowledgement", case, [claim], level=1,
                           details={"objection_id": data.objection_id})
    dispatch_later(session, letter.id)


def objection_withdrawn(session: Session, app: App, now: datetime, event_id: str, data: Any) -> None:
    lift(session, app, now, "objection", data.objection_id, "objection withdrawn")
