"""What `likvid show` prints: a claim or a customer as the service sees it (EVENTS.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from likvid.clock import from_db
from likvid.models import (
    Claim,
    CollectionCase,
    Customer,
    Hold,
    Letter,
    LetterClaim,
    Payment,
    PaymentPlan,
    Task,
    TimelineEntry,
    Timer,
)
from likvid.rules.identity import mask_identity
from likvid.rules.money import kronor_str
from likvid.service import handoff, ledger, risk, surveillance, suspension

if TYPE_CHECKING:
    from likvid.service.app import App


def _money(ore: int) -> str:
    return kronor_str(ore)


def _hold(h: Hold) -> dict[str, Any]:
    return {"kind": h.kind, "ref": h.ref, "reason": h.reason, "by": h.created_by,
            "from": h.starts_on.isoformat(), "until": h.until.isoformat() if h.until else None,
            "amount": _money(h.amount_ore) if h.amount_ore is not None else None,
            "ended_at": from_db(h.ended_at).isoformat() if h.ended_at else None}


def _timeline(rows: list[TimelineEntry]) -> list[dict[str, Any]]:
    return [{"at": from_db(t.at).isoformat(), "type": t.type, "details": t.details,
             **({"basis": t.basis} if t.basis else {})} for t in rows]


def invoice(s: Session, invoice_id: str, app: App | None = None) -> dict[str, Any] | None:
    """The claim as the service sees it; with ``app`` (policy and clock) also the suspension
    tracks it is part of, with the earliest day of each track's next step."""
    claim = s.get(Claim, invoice_id)
    if claim is None:
        return None
    bal, coll = ledger.collectible_amounts(s, [invoice_id])[invoice_id]
    in_force = ledger.active_holds(s, [invoice_id])[invoice_id]
    holds = in_force + list(s.scalars(select(Hold).where(Hold.claim_id == invoice_id, Hold.ended_at.is_not(None)).order_by(Hold.id)))
    letters = s.execute(
        select(Letter, LetterClaim.status).join(LetterClaim, LetterClaim.letter_id == Letter.id)
        .where(LetterClaim.claim_id == invoice_id).order_by(Letter.created_at)
    ).all()
    pending = list(s.scalars(select(Timer).where(Timer.claim_id == invoice_id, Timer.status.in_(("pending", "emitted"))).order_by(Timer.due_at)))
    timeline = list(s.scalars(select(TimelineEntry).where(TimelineEntry.claim_id == invoice_id).order_by(TimelineEntry.id)))
    # The inbound events the claim's steps and letters followed from: grep the logs for them.
    traced = s.scalars(select(Timer.correlation_id).where(Timer.claim_id == invoice_id).order_by(Timer.id)).all()
    correlation_ids = list(dict.fromkeys(c for c in [*traced, *(letter.correlation_id for letter, _ in letters)] if c))
    return {
        "invoice_id": claim.invoice_id, "invoice_number": claim.invoice_number,
        "creditor_id": claim.creditor_id, "customer_id": claim.customer_id, "case_id": claim.case_id,
        "claim_kind": claim.claim_kind, "claim_nature": claim.claim_nature,
        "status": claim.status, "stage": claim.stage,
        "issue_date": claim.issue_date.isoformat(), "due_date": claim.due_date.isoformat(),
        "effective_due_date": claim.effective_due_date.isoformat(),
        "ocr_reference": claim.ocr_reference, "amount": _money(claim.amount_ore),
        "balance": {"capital": _money(bal.capital), "fees": _money(bal.fee),
                    "interest": _money(bal.interest), "total": _money(bal.total),
                    "on_hold": _money(bal.total - coll), "collectible": _money(coll)},
        "holds": [_hold(h) for h in holds if h.ended_at is None],
        "past_holds": [_hold(h) for h in holds if h.ended_at is not None],
        "letters": [{"id": letter.id, "kind": letter.kind, "level": letter.level, "status": letter.status,
                     "included": link_status == "included", "sent_on": letter.sent_on.isoformat() if letter.sent_on else None,
                     "deadline": letter.deadline.isoformat() if letter.deadline else None, "path": letter.path}
                    for letter, link_status in letters],
        "handoff": handoff.summary(s, invoice_id),
        "surveillance": surveillance.summary(s, invoice_id),
        "suspension": suspension.for_claim(s, app, invoice_id, app.clock.today(s)) if app is not None else None,
        "pending_steps": [{"step": t.kind, "due_at": from_db(t.due_at).isoformat(), "status": t.status} for t in pending],
        "timeline": _timeline(timeline),
        "correlation_ids": correlation_ids,
    }


def customer(s: Session, customer_id: str, app: App | None = None) -> dict[str, Any] | None:
    """The customer across every creditor (POLICY.md point 12): claims, balances and cases per
    creditor (letters stay per creditor: one case, one letter series), payments, holds, plans,
    credit decisions and, with ``app`` (policy and clock), the risk score factor by factor."""
    c = s.get(Customer, customer_id)
    if c is None:
        return None
    claims = list(s.scalars(select(Claim).where(Claim.customer_id == customer_id).order_by(Claim.creditor_id, Claim.due_date)))
    invoices = [invoice(s, cl.invoice_id) for cl in claims]
    payments = list(s.scalars(select(Payment).where(or_(Payment.invoice_id.in_([cl.invoice_id for cl in claims]), Payment.reference.in_([cl.ocr_reference for cl in claims])))))
    totals: dict[str, dict[str, int]] = {}
    for cl in claims:
        bal = ledger.balance(s, cl.invoice_id)
        t = totals.setdefault(cl.creditor_id, {"capital": 0, "fees": 0, "interest": 0, "total": 0})
        t["capital"] += bal.capital
        t["fees"] += bal.fee
        t["interest"] += bal.interest
        t["total"] += bal.total
    timeline = list(s.scalars(select(TimelineEntry).where(TimelineEntry.customer_id == customer_id, TimelineEntry.claim_id.is_(None)).order_by(TimelineEntry.id)))
    holds = list(s.scalars(select(Hold).where(Hold.customer_id == customer_id, Hold.ended_at.is_(None)).order_by(Hold.id)))
    plans = list(s.scalars(select(PaymentPlan).where(PaymentPlan.customer_id == customer_id).order_by(PaymentPlan.proposed_at)))
    tasks = list(s.scalars(select(Task).where(Task.customer_id == customer_id, Task.done_at.is_(None)).order_by(Task.id)))
    cases = list(s.scalars(select(CollectionCase).where(CollectionCase.customer_id == customer_id).order_by(CollectionCase.creditor_id)))
    case_letters = dict(tuple(r) for r in s.execute(select(Letter.case_id, func.count()).where(Letter.case_id.in_([k.id for k in cases]), Letter.status == "sent")
                                  .group_by(Letter.case_id)))
    decisions = [t for t in timeline if t.type == "credit-decision-made"]
    return {
        "customer_id": c.id, "name": c.name, "party_type": c.party_type,
        "identity_number": mask_identity(c.identity_number), "language": c.language,
        "consumer": c.consumer, "protected_identity": c.protected_identity,
        "address": None if c.protected_identity else c.address,
        "balance_by_creditor": {k: {kk: _money(vv) for kk, vv in v.items()} for k, v in totals.items()},
        "invoices": [{k: inv[k] for k in ("invoice_id", "creditor_id", "status", "stage", "due_date", "balance", "holds")} for inv in invoices if inv],
        "payments": [{"payment_id": p.payment_id, "amount": _money(p.amount_ore), "paid_on": p.paid_on.isoformat(),
                      "status": p.status, "overpayment": _money(p.overpayment_ore)} for p in payments],
        "holds": [{**_hold(h), "invoice_id": h.claim_id} for h in holds],
        "objections": [{**_hold(h), "invoice_id": h.claim_id} for h in holds if h.kind == "objection"],
        "payment_plans": [{"plan_id": p.id, "creditor_id": p.creditor_id, "status": p.status,
                           "invoice_ids": p.invoice_ids, "total": _money(p.total_ore),
                           "installments": [{"due_date": i["due_date"], "amount": _money(i["amount_ore"])} for i in p.installments],
                           "signed_on": p.signed_on.isoformat() if p.signed_on else None} for p in plans],
        "tasks": [{"id": t.id, "kind": t.kind, "text": t.text, "due_on": t.due_on.isoformat() if t.due_on else None} for t in tasks],
        "cases": [{"case_id": k.id, "creditor_id": k.creditor_id, "ocr_reference": k.ocr_reference,
                   "claims": sum(1 for cl in claims if cl.case_id == k.id),
                   "open_claims": sum(1 for cl in claims if cl.case_id == k.id and cl.status == "open"),
                   "letters_sent": case_letters.get(k.id, 0)} for k in cases],
        "suspension": suspension.for_customer(s, app, customer_id, app.clock.today(s)) if app is not None else None,
        "risk": risk.score(s, app.policy, app.clock.now(s), customer_id).as_dict() if app is not None else None,
        "credit_decisions": [{"at": from_db(t.at).isoformat(), "request_id": t.details.get("request_id"),
                              "creditor_id": t.details.get("creditor_id"), "decision": t.details.get("decision"),
                              "deposit": _money(int(t.details.get("deposit_ore") or 0)),
                              "reasons": [r["text"] for r in t.details.get("reasons", [])],
                              "facts": t.details.get("facts")} for t in decisions],
        "timeline": _timeline(timeline),
    }
