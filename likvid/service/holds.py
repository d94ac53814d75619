"""Holds: collection paused for a reason, by someone, from a date, optionally until one
(POLICY.md points 6, 7 and 9; SWEDISH-RULES.md §3 and §10).

Kinds: objection, deferral, payment_plan, debtor_status, manual. Scope: a claim (optionally
only part of its amount), a collection case, or a customer. Every step honours them
(``ledger.collectible_amounts``); when one ends, the chain resumes from the facts with fresh
time (``claims.resume``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from likvid.clock import to_db
from likvid.models import Claim, Customer, HandlerStatement, Hold, Task
from likvid.service import claims as claims_service
from likvid.service import handoff, ledger, timers
from likvid.service.app import App
from likvid.service.errors import Rejected
from likvid.service.parking import lock_key
from likvid.service.payments import Parked
from likvid.service.records import dispatch_later, record

HOLD_KINDS = ("objection", "deferral", "payment_plan", "debtor_status", "manual")


def place(session: Session, now: datetime, claim: Claim | None, kind: str, ref: str, *, amount: int | None,
          reason: str, by: str | None, starts_on: Any, until: Any = None, customer_id: str | None = None,
          case_id: int | None = None, claims_issued_by: date | None = None) -> Hold:
    if session.scalar(select(Hold.id).where(Hold.kind == kind, Hold.ref == ref)):
        raise Rejected("data", f"{kind} {ref} is already registered")
    hold = Hold(kind=kind, ref=ref, claim_id=claim.invoice_id if claim else None, case_id=case_id,
                customer_id=claim.customer_id if claim else customer_id, claims_issued_by=claims_issued_by,
                amount_ore=amount, reason=reason, created_by=by, starts_on=starts_on, until=until,
                created_at=to_db(now))
    session.add(hold)
    if until is not None:
        # The hold ends by itself the day after `until`; the chain then resumes with fresh time.
        timers.schedule(session, now, "hold_expiry", None, until + timedelta(days=1), ref=f"{kind}:{ref}")
    record(session, now, "hold-placed", claim_id=hold.claim_id, customer_id=hold.customer_id,
           case_id=claim.case_id if claim else case_id, hold=kind, ref=ref, amount=amount, until=until,
           reason=reason, by=by)
    return hold


def affected_claims(session: Session, hold: Hold) -> list[Claim]:
    if hold.claim_id:
        claim = session.get(Claim, hold.claim_id)
        return [claim] if claim else []
    q = select(Claim).where(Claim.status == "open")
    q = q.where(Claim.case_id == hold.case_id) if hold.case_id else q.where(Claim.customer_id == hold.customer_id)
    if hold.claims_issued_by:
        q = q.where(Claim.issue_date <= hold.claims_issued_by)
    return list(session.scalars(q.order_by(Claim.case_id, Claim.invoice_id)))


def lift(session: Session, app: App, now: datetime, kind: str, ref: str, why: str, *, missing_ok: bool = False) -> None:
    lock_key(session, f"{kind}:{ref}")
    hold = session.scalar(select(Hold).where(Hold.kind == kind, Hold.ref == ref))
    if hold is None:
        if missing_ok:
            return
        raise Parked(f"{kind}:{ref}")
    if hold.ended_at is not None:
        if missing_ok:
            return
        raise Rejected("data", f"{kind} {ref} has already ended")
    claims = affected_claims(session, hold)
    for case_id in sorted({c.case_id for c in claims}):
        claims_service.lock_case(session, case_id)
    hold.ended_at = to_db(now)
    hold.end_reason = why
    record(session, now, "hold-lifted", claim_id=hold.claim_id, customer_id=hold.customer_id,
           hold=kind, ref=ref, why=why)
    for claim in claims:
        claims_service.resume(session, app, now, claim)


def expire(session: Session, app: App, now: datetime, ref: str) -> str:
    kind, _, hold_ref = ref.partition(":")
    hold = session.scalar(select(Hold).where(Hold.kind == kind, Hold.ref == hold_ref))
    if hold is None or hold.ended_at is not None:
        return "hold already ended"
    lift(session, app, now, kind, hold_ref, f"ended {hold.until}")
    return "hold ended"


def _letter(session: Session, now: datetime, kind: str, claims: list[Claim], details: dict[str, Any]) -> None:
    from likvid.models import CollectionCase
    from likvid.service.letters import create_letter

    case = session.get(CollectionCase, claims[0].case_id)
    assert case is not None
    dispatch_later(session, create_letter(session, now, kind, case, claims, details=details).id)


# --- objections and reviews (policy points 6 and 7) ----------------------------------------------

def objection_filed(session: Session, app: App, now: datetime, event_id: str, data: Any) -> list[str]:
    claim = claims_service.locked_claim(session, data.invoice_id)
    open_total = ledger.balance(session, claim.invoice_id).total
    amount = data.disputed_amount
    if amount is not None and amount >= open_total:
        amount = None  # disputing all of it, or more, holds the whole claim
    place(session, now, claim, "objection", data.objection_id, amount=amount, reason=data.reason,
          by=data.filed_by, starts_on=data.received_on)
    handoff.after_change(session, app, now, claim, f"objection {data.objection_id}")
    _letter(session, now, "objection_acknowledgement", [claim], {"objection_id": data.objection_id})
    return [f"objection:{data.objection_id}"]


def objection_withdrawn(session: Session, app: App, now: datetime, event_id: str, data: Any) -> None:
    lift(session, app, now, "objection", data.objection_id, "objection withdrawn")


def _objection(session: Session, objection_id: str) -> Hold:
    lock_key(session, f"objection:{objection_id}")
    hold = session.scalar(select(Hold).where(Hold.kind == "objection", Hold.ref == objection_id))
    if hold is None:
        raise Parked(f"objection:{objection_id}")
    return hold


def statement_recorded(session: Session, app: App, now: datetime, event_id: str, data: Any) -> list[str]:
    hold = _objection(session, data.objection_id)
    session.add(HandlerStatement(objection_id=data.objection_id, handler=data.handler,
                                 statement=data.statement, recorded_at=to_db(now)))
    record(session, now, "handler-statement-recorded", claim_id=hold.claim_id, customer_id=hold.customer_id,
           objection_id=data.objection_id, handler=data.handler)
    return [f"statement:{data.objection_id}"]


def review_decided(session: Session, app: App, now: datetime, event_id: str, data: Any) -> None:
    """Refused without the handler's statement, whoever decides (POLICY.md point 7)."""
    hold = _objection(session, data.objection_id)
    has_statement = session.scalar(select(HandlerStatement.id).where(HandlerStatement.objection_id == data.objection_id).limit(1))
    if not has_statement:
        raise Rejected("data.objection_id", "has no recorded handler statement: a review cannot be decided "
                       "before the handler's statement is obtained (policy point 7)")
    if hold.ended_at is not None:
        raise Rejected("data.objection_id", "is no longer open")
    claim = claims_service.locked_claim(session, hold.claim_id or "")
    credited = 0
    if data.outcome == "credited_in_full":
        credited = ledger.balance(session, claim.invoice_id).capital
    elif data.outcome == "credited_in_part":
        credited = data.credited_amount
    if credited:
        claims_service.credit(session, app, now, claim, f"review:{data.objection_id}", credited, f"review: {data.reasons}"[:500])
    record(session, now, "review-decided", claim_id=claim.invoice_id, customer_id=claim.customer_id,
           objection_id=data.objection_id, outcome=data.outcome, decided_by=data.decided_by, credited=credited)
    _letter(session, now, "review_decision", [claim], {"objection_id": data.objection_id, "outcome": data.outcome,
            "reasons": data.reasons, "decided_by": data.decided_by, "credited_ore": credited})
    lift(session, app, now, "objection", data.objection_id, f"review decided: {data.outcome}")


# --- deferrals (policy point 9) -----------------------------------------------------------------

def deferral_granted(session: Session, app: App, now: datetime, event_id: str, data: Any) -> list[str]:
    claim = claims_service.locked_claim(session, data.invoice_id)
    place(session, now, claim, "deferral", data.deferral_id, amount=None, reason=data.reason,
          by=data.granted_by, starts_on=now.date(), until=data.until)
    if data.confirm_in_writing:
        _letter(session, now, "deferral_confirmation", [claim], {"deferral_id": data.deferral_id})
    return [f"deferral:{data.deferral_id}"]


def deferral_revoked(session: Session, app: App, now: datetime, event_id: str, data: Any) -> None:
    lift(session, app, now, "deferral", data.deferral_id, "deferral revoked")


# --- debtor status (SWEDISH-RULES.md §10) --------------------------------------------------------

#: status → (hold the customer's claims, only claims issued by the effective date, task)
DEBTOR_STATUS = {
    "deceased": (True, False, "Estate: write to the estate via its contact; await the estate inventory "
                 "(bouppteckning) and lodge the claim, or write it off if the estate cannot pay."),
    "debt_restructuring_opened": (True, True, "Debt restructuring opened: report the claims that existed on "
                                  "the effective date to Kronofogden by the deadline."),
    "debt_restructuring_decided": (True, True, "Debt restructuring decided: follow the decision's payment plan "
                                   "for the covered claims."),
    "bankruptcy": (True, False, "Bankruptcy: lodge the claim with the administrator (bevakning)."),
    "guardian_appointed": (False, False, "Guardian appointed: register the guardian as the customer's "
                           "representative so letters reach them (NJA 2022 s. 150)."),
}


def debtor_status_changed(session: Session, app: App, now: datetime, event_id: str, data: Any) -> None:
    customer = session.get(Customer, data.customer_id)
    if customer is None:
        raise Parked(f"customer:{data.customer_id}")
    current = list(session.scalars(select(Hold).where(Hold.kind == "debtor_status", Hold.customer_id == data.customer_id,
                                                      Hold.claim_id.is_(None), Hold.ended_at.is_(None))))
    for hold in current:  # a new status replaces the old one
        lift(session, app, now, "debtor_status", hold.ref, f"status changed to {data.status}")
    record(session, now, "debtor-status-changed", customer_id=data.customer_id, status=data.status,
           effective_on=data.effective_on)
    if data.status == "cleared":
        return
    hold_it, only_existing, task = DEBTOR_STATUS[data.status]
    if hold_it:
        days = app.policy.file.defaults.debtor_status_hold_days
        until = data.effective_on + timedelta(days=days) if data.status == "deceased" else None
        place(session, now, None, "debtor_status", f"{data.customer_id}:{data.status}:{event_id}"[:100], amount=None,
              reason=f"debtor status: {data.status}", by=None, starts_on=data.effective_on, until=until,
              customer_id=data.customer_id, claims_issued_by=data.effective_on if only_existing else None)
    session.add(Task(customer_id=data.customer_id, kind=data.status, text=task,
                     due_on=data.effective_on + timedelta(days=30), created_at=to_db(now)))


# --- manual holds (a handler's decision, from the command line) ----------------------------------

def manual(session: Session, app: App, now: datetime, *, invoice_id: str | None, customer_id: str | None,
           reason: str, by: str, until: date | None, ref: str) -> Hold:
    if invoice_id:
        claim = claims_service.locked_claim(session, invoice_id)
        return place(session, now, claim, "manual", ref, amount=None, reason=reason, by=by, starts_on=now.date(), until=until)
    if customer_id is None or session.get(Customer, customer_id) is None:
        raise Rejected("customer_id", "is not a known customer")
    return place(session, now, None, "manual", ref, amount=None, reason=reason, by=by, starts_on=now.date(),
                 until=until, customer_id=customer_id)
