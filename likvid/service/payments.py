"""Payments: found by invoice id or OCR reference, allocated, and every step they make
unnecessary cancelled. A payment whose claim is not known yet waits for it (parked)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from likvid.clock import to_db
from likvid.models import Claim, CollectionCase, LedgerEntry, Payment
from likvid.rules.collection import allocate
from likvid.service import claims as claims_service
from likvid.service import handoff, ledger
from likvid.service.app import App
from likvid.service.errors import Parked, Rejected
from likvid.service.parking import lock_key

__all__ = ["Parked", "apply", "find_target", "receive", "reverse"]
from likvid.service.records import record


def find_target(session: Session, invoice_id: str | None, reference: str | None) -> tuple[CollectionCase | None, Claim | None]:
    """The claim (or, for a case-level OCR, the case) a payment is for."""
    if invoice_id:
        claim = session.get(Claim, invoice_id)
        if claim is not None:
            return None, claim
    if reference:
        found = list(session.scalars(select(Claim).where(Claim.ocr_reference == reference).limit(2)))
        if len(found) == 1:
            return None, found[0]
        case = session.scalar(select(CollectionCase).where(CollectionCase.ocr_reference == reference))
        if case is not None:
            return case, None
    return None, None


def receive(session: Session, app: App, now: datetime, event_id: str, data: Any) -> None:
    """``payment-received``."""
    payment = session.get(Payment, data.payment_id)
    if payment is not None and payment.status not in ("parked", "unmatched"):
        raise Rejected("data.payment_id", f"is already recorded (status {payment.status})")
    if data.invoice_id:
        lock_key(session, f"invoice:{data.invoice_id}")
    if data.reference:
        lock_key(session, f"ocr:{data.reference}")
    case, claim = find_target(session, data.invoice_id, data.reference)
    if payment is not None and payment.status == "unmatched":
        payment.invoice_id, payment.status = data.invoice_id, "parked"
    if payment is None:
        payment = Payment(
            payment_id=data.payment_id, amount_ore=data.amount, paid_on=data.paid_on,
            reference=data.reference, invoice_id=data.invoice_id, channel=data.channel,
            status="parked", event_id=event_id, received_at=to_db(now),
        )
        session.add(payment)
    if case is None and claim is None:
        key = f"invoice:{data.invoice_id}" if data.invoice_id else f"ocr:{data.reference}"
        record(session, now, "payment-parked", payment_id=data.payment_id, amount=data.amount,
               waiting_for=key)
        raise Parked(key)
    case_id = claim.case_id if claim is not None else case.id  # type: ignore[union-attr]
    case = claims_service.lock_case(session, case_id)
    apply(session, app, now, payment, case, claim)


def apply(session: Session, app: App, now: datetime, payment: Payment, case: CollectionCase, claim: Claim | None) -> None:
    """Allocate within the paid claim (fees, interest, capital), then over the customer's other
    open claims with the creditor, oldest due first; what is left is an overpayment."""
    others = list(
        session.scalars(
            select(Claim)
            .where(Claim.case_id == case.id, Claim.status == "open")
            .order_by(Claim.effective_due_date, Claim.invoice_id)
        )
    )
    ordered = ([claim] if claim is not None and claim.status == "open" else []) + [
        c for c in others if claim is None or c.invoice_id != claim.invoice_id
    ]
    bals = ledger.balances(session, [c.invoice_id for c in ordered])
    parts, surplus = allocate(payment.amount_ore, [(c.invoice_id, bals[c.invoice_id]) for c in ordered],
                              app.policy.file.defaults.allocation_order)
    for claim_id, component, amount in parts:
        ledger.post(session, now, claim_id, "payment", component, -amount, payment.paid_on, ref=payment.payment_id)
    payment.status = "applied"
    payment.overpayment_ore = surplus
    by_claim: dict[str, int] = {}
    for claim_id, _component, amount in parts:
        by_claim[claim_id] = by_claim.get(claim_id, 0) + amount
    for c in ordered:
        if c.invoice_id in by_claim:
            record(session, now, "payment-applied", claim_id=c.invoice_id, customer_id=c.customer_id,
                   case_id=c.case_id, payment_id=payment.payment_id, amount=by_claim[c.invoice_id],
                   paid_on=payment.paid_on)
            if not claims_service.close_if_paid(session, now, c, "paid"):
                claims_service.write_off_small_residual(session, app, now, c)
            handoff.after_change(session, app, now, c, f"payment {payment.payment_id}")
    if surplus:
        record(session, now, "overpayment-recorded", customer_id=case.customer_id, case_id=case.id,
               payment_id=payment.payment_id, amount=surplus,
               basis="no open claim left with the creditor: refund by staff")


def reverse(session: Session, app: App, now: datetime, event_id: str, data: Any) -> None:
    """``payment-reversed``: undo the allocation and re-open what it had settled."""
    lock_key(session, f"payment:{data.payment_id}")
    payment = session.get(Payment, data.payment_id)
    if payment is None:
        raise Parked(f"payment:{data.payment_id}")
    if payment.status == "reversed":
        raise Rejected("data.payment_id", "is already reversed")
    entries = list(session.scalars(select(LedgerEntry).where(LedgerEntry.ref == payment.payment_id, LedgerEntry.kind == "payment")))
    touched: dict[str, Claim] = {}
    for entry in entries:
        claim = session.get(Claim, entry.claim_id)
        assert claim is not None
        if claim.invoice_id not in touched:
            claims_service.lock_case(session, claim.case_id)
            touched[claim.invoice_id] = claim
        ledger.post(session, now, entry.claim_id, "payment", entry.component, -entry.amount_ore,
                    entry.value_date, ref=payment.payment_id, note=f"reversal: {data.reason or ''}"[:500])
    payment.status = "reversed"
    record(session, now, "payment-reversed", payment_id=payment.payment_id, amount=payment.amount_ore,
           reason=data.reason)
    for claim in touched.values():
        claims_service.reopen(session, app, now, claim, f"payment {payment.payment_id} reversed")
        reinstated = -sum(e.amount_ore for e in entries if e.claim_id == claim.invoice_id)
        handoff.payment_reversed(session, now, claim, payment.payment_id, reinstated)
