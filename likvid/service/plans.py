"""Payment plans (amorteringsplan, POLICY.md point 9; SWEDISH-RULES.md §1 and §10).

Proposed → sent for signature (collection continues); signed → in force: the invoices are
held, each installment is checked after a grace period; a missed installment breaks the plan
and collection of the remaining debt resumes; cancelled → collection resumes.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from likvid.clock import to_db
from likvid.models import Claim, LedgerEntry, PaymentPlan
from likvid.service import claims as claims_service
from likvid.service import handoff, holds, ledger, timers
from likvid.service.app import App
from likvid.service.errors import Rejected
from likvid.service.letters import create_letter
from likvid.service.payments import Parked
from likvid.service.records import dispatch_later, record


def proposed(s: Session, app: App, now: datetime, event_id: str, d: Any) -> list[str]:
    if s.get(PaymentPlan, d.plan_id) is not None:
        raise Rejected("data.plan_id", "is already registered")
    if d.creditor_id not in app.policy.creditors:
        raise Rejected("data.creditor_id", "is not a configured creditor")
    claims = []
    for i, invoice_id in enumerate(d.invoice_ids):
        claim = s.get(Claim, invoice_id)
        if claim is None:
            raise Parked(f"invoice:{invoice_id}")
        if claim.customer_id != d.customer_id or claim.creditor_id != d.creditor_id:
            raise Rejected(f"data.invoice_ids.{i}", "belongs to another customer or creditor")
        if claim.status != "open":
            raise Rejected(f"data.invoice_ids.{i}", f"is {claim.status}")
        claims.append(claim)
    case = claims_service.lock_case(s, claims[0].case_id)
    debt = sum(b.total for b in ledger.balances(s, [c.invoice_id for c in claims]).values())
    total = sum(i.amount for i in d.installments)
    if total != debt:
        raise Rejected("data.installments", f"add up to {total / 100:.2f} but the debt named is {debt / 100:.2f}: "
                       "a plan must cover the whole debt (lag 1981:739 3 § 2)")
    if any(b.due_date <= a.due_date for a, b in zip(d.installments, d.installments[1:], strict=False)):
        raise Rejected("data.installments", "due dates must be in ascending order")
    plan = PaymentPlan(id=d.plan_id, customer_id=d.customer_id, creditor_id=d.creditor_id,
                       invoice_ids=list(d.invoice_ids),
                       installments=[{"due_date": i.due_date.isoformat(), "amount_ore": i.amount} for i in d.installments],
                       total_ore=total, status="proposed", proposed_by=d.proposed_by, proposed_at=to_db(now))
    s.add(plan)
    letter = create_letter(s, now, "payment_plan", case, claims, details={"plan_id": plan.id})
    dispatch_later(s, letter.id)
    return [f"payment_plan:{plan.id}"]


def _plan(s: Session, plan_id: str) -> PaymentPlan:
    plan = s.get(PaymentPlan, plan_id)
    if plan is None:
        raise Parked(f"payment_plan:{plan_id}")
    return plan


def signed(s: Session, app: App, now: datetime, event_id: str, d: Any) -> None:
    plan = _plan(s, d.plan_id)
    if plan.status != "proposed":
        raise Rejected("data.plan_id", f"is {plan.status}, not waiting for a signature")
    plan.status = "active"
    plan.signed_on = d.signed_on
    grace = app.policy.file.defaults.plan_grace_days
    for invoice_id in plan.invoice_ids:
        claim = s.get(Claim, invoice_id)
        assert claim is not None
        claims_service.lock_case(s, claim.case_id)
        holds.place(s, now, claim, "payment_plan", f"{plan.id}:{invoice_id}", amount=None,
                    reason=f"payment plan {plan.id} in force", by=None, starts_on=d.signed_on)
        handoff.after_change(s, app, now, claim, f"payment plan {plan.id} signed")
    for n, inst in enumerate(plan.installments):
        on = date.fromisoformat(inst["due_date"]) + timedelta(days=grace)
        timers.schedule(s, now, "plan_check", None, on, ref=f"{plan.id}:{n}")
    record(s, now, "payment-plan-signed", customer_id=plan.customer_id, plan_id=plan.id, signed_on=d.signed_on,
           basis="written plan returned signed (POLICY.md point 9); an acknowledgement interrupts limitation (§6)")


def cancelled(s: Session, app: App, now: datetime, event_id: str, d: Any) -> None:
    plan = _plan(s, d.plan_id)
    if plan.status not in ("proposed", "active"):
        raise Rejected("data.plan_id", f"is already {plan.status}")
    _end(s, app, now, plan, "cancelled", d.reason or "cancelled")


def _end(s: Session, app: App, now: datetime, plan: PaymentPlan, status: str, why: str) -> None:
    was_active = plan.status == "active"
    plan.status = status
    plan.ended_at = to_db(now)
    plan.end_reason = why[:500]
    for invoice_id in plan.invoice_ids:
        if was_active:
            holds.lift(s, app, now, "payment_plan", f"{plan.id}:{invoice_id}", f"plan {status}", missing_ok=True)
    if status == "cancelled":
        record(s, now, "payment-plan-cancelled", customer_id=plan.customer_id, plan_id=plan.id, reason=why)


def paid_towards(s: Session, plan: PaymentPlan) -> int:
    """What was paid on the plan's invoices since it was signed."""
    total = s.scalar(select(func.sum(LedgerEntry.amount_ore)).where(
        LedgerEntry.claim_id.in_(plan.invoice_ids), LedgerEntry.kind == "payment",
        LedgerEntry.value_date >= (plan.signed_on or date.min)))
    return -int(total or 0)


def check_installment(s: Session, app: App, now: datetime, ref: str) -> str:
    """After an installment's grace: paid at least the installments due so far, or the plan breaks."""
    plan_id, _, index = ref.rpartition(":")
    plan = s.get(PaymentPlan, plan_id)
    if plan is None or plan.status != "active":
        return f"plan {plan.status if plan else 'missing'}"
    n = int(index)
    due_so_far = sum(i["amount_ore"] for i in plan.installments[: n + 1])
    paid = paid_towards(s, plan)
    open_debt = sum(b.total for b in ledger.balances(s, plan.invoice_ids).values())
    if open_debt <= 0:
        plan.status, plan.ended_at, plan.end_reason = "completed", to_db(now), "paid in full"
        return "plan completed"
    if paid >= due_so_far:
        return f"installment {n + 1} paid"
    missed = plan.installments[n]
    _end(s, app, now, plan, "broken", f"installment {n + 1} ({missed['due_date']}) not paid")
    record(s, now, "payment-plan-broken", customer_id=plan.customer_id, plan_id=plan.id,
           installment=n + 1, due_date=missed["due_date"], paid=paid, due=due_so_far, remaining=open_debt)
    claims = [c for c in (s.get(Claim, i) for i in plan.invoice_ids) if c is not None and c.status == "open"]
    if claims:
        case = claims_service.lock_case(s, claims[0].case_id)
        letter = create_letter(s, now, "payment_plan_broken", case, claims,
                               details={"plan_id": plan.id, "missed": n, "paid_ore": paid, "remaining_ore": open_debt})
        dispatch_later(s, letter.id)
    return "plan broken"
