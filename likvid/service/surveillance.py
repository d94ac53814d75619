"""Surveillance (efterbevakning) of claims not fully paid: a limitation date per claim,
recomputed from the facts on every interrupting event, and a limitation-interrupting demand a
configured lead time before it (POLICY.md point 11; SWEDISH-RULES.md §6).

Interruptions found in the ledger and the letters: payments (5 § 1 p.), a signed payment plan
(acknowledgement, 5 § 1 p.), reminders, collection demands and interrupting demands sent
(5 § 2 p.; the sending day, the earliest the debtor can have received it), an application for
betalningsföreläggande (5 § 3 p.) and the enforcement title that ended it (7 §). Public-law
claims under indrivning follow lag (1982:188): tracked, never interrupted by us.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from likvid.clock import from_db, to_db
from likvid.models import (
    Claim,
    CollectionCase,
    Customer,
    Handoff,
    LedgerEntry,
    Letter,
    LetterClaim,
    Payment,
    PaymentPlan,
    Surveillance,
    Timer,
)
from likvid.rules import limitation as rules
from likvid.service import ledger, timers
from likvid.service.app import App
from likvid.service.records import dispatch_later, record

TIMER = "limitation_demand"
#: Letters that are a written demand or reminder the debtor receives (5 § 2 p.).
DEMAND_LETTERS = ("reminder", "collection_demand", "limitation_demand")


def interruptions(session: Session, claim: Claim) -> tuple[list[tuple[date, str]], bool]:
    """Every interrupting event on the claim (date, kind), and whether it is under indrivning."""
    out: list[tuple[date, str]] = []
    paid = session.scalars(
        select(LedgerEntry.value_date).join(Payment, Payment.payment_id == LedgerEntry.ref)
        .where(LedgerEntry.claim_id == claim.invoice_id, LedgerEntry.kind == "payment", LedgerEntry.amount_ore < 0,
               Payment.status == "applied"))
    out += [(d, "payment") for d in paid]
    plans = session.scalars(select(PaymentPlan).where(PaymentPlan.customer_id == claim.customer_id,
                                                      PaymentPlan.signed_on.is_not(None)))
    out += [(p.signed_on, "acknowledgement") for p in plans if claim.invoice_id in (p.invoice_ids or []) and p.signed_on]
    sent = session.scalars(
        select(Letter.sent_on).join(LetterClaim, LetterClaim.letter_id == Letter.id)
        .where(LetterClaim.claim_id == claim.invoice_id, LetterClaim.status == "included", Letter.status == "sent",
               Letter.kind.in_(DEMAND_LETTERS), Letter.sent_on.is_not(None)))
    out += [(d, "demand") for d in sent]
    indrivning = False
    for h in session.scalars(select(Handoff).where(Handoff.claim_id == claim.invoice_id, Handoff.exported_at.is_not(None))):
        if h.target == "indrivning":
            indrivning = indrivning or h.status in ("exported", "closed")
        elif h.target == "kronofogden" and h.exported_at is not None:
            out.append((from_db(h.exported_at).date(), "application"))
        if h.title_on is not None:
            out.append((h.title_on, "title"))
    return out, indrivning


def compute(session: Session, claim: Claim, extra: tuple[date, str] | None = None) -> rules.Limitation:
    found, indrivning = interruptions(session, claim)
    if extra:
        found.append(extra)
    customer = session.get(Customer, claim.customer_id)
    rule = rules.period_rule(claim_nature=claim.claim_nature, consumer=bool(customer and customer.consumer),
                             under_indrivning=indrivning)
    return rules.limitation_date(rule=rule, arose_on=claim.issue_date, due_on=claim.due_date, interruptions=found)


def start(session: Session, app: App, now: datetime, claim: Claim, reason: str) -> Surveillance:
    row = session.get(Surveillance, claim.invoice_id)
    if row is None:
        lim = compute(session, claim)
        row = Surveillance(claim_id=claim.invoice_id, reason=reason, rule=lim.rule, status="watching",
                           limitation_date=lim.date, demand_on=None, last_interruption_on=lim.last_interruption_on,
                           last_interruption=lim.last_interruption, started_at=to_db(now), updated_at=to_db(now))
        session.add(row)
        session.flush()
        record(session, now, "surveillance-started", claim_id=claim.invoice_id, customer_id=claim.customer_id,
               case_id=claim.case_id, reason=reason, basis="POLICY.md point 11 (efterbevakning); SWEDISH-RULES.md §6")
    else:
        row.status, row.reason, row.ended_at, row.end_reason = "watching", reason, None, None
    recompute(session, app, now, claim)
    return row


def end(session: Session, now: datetime, claim_id: str, why: str) -> None:
    row = session.get(Surveillance, claim_id)
    if row is None or row.status != "watching":
        return
    row.status, row.ended_at, row.end_reason = "ended", to_db(now), why
    _cancel_timers(session, now, claim_id, None, why)


def _cancel_timers(session: Session, now: datetime, claim_id: str, keep: int | None, why: str) -> None:
    q = update(Timer).where(Timer.claim_id == claim_id, Timer.kind == TIMER, Timer.status.in_(("pending", "emitted")))
    if keep is not None:
        q = q.where(Timer.id != keep)
    session.execute(q.values(status="cancelled", done_at=to_db(now), outcome=why))


def recompute(session: Session, app: App, now: datetime, claim: Claim, *, extra: tuple[date, str] | None = None,
              firing: int | None = None) -> Surveillance | None:
    """The limitation date from the facts; the interrupting demand re-scheduled when it moved.
    Ends the surveillance of a claim that is no longer open."""
    row = session.get(Surveillance, claim.invoice_id)
    if row is None or row.status != "watching":
        return row
    if claim.status != "open":
        end(session, now, claim.invoice_id, f"claim {claim.status}")
        return row
    lim = compute(session, claim, extra)
    conf = app.policy.file.surveillance
    demand = rules.demand_on(lim, lead_months_consumer=conf.lead_months_consumer, lead_months_other=conf.lead_months_other)
    moved = (row.limitation_date, row.demand_on, row.rule) != (lim.date, demand, lim.rule)
    has_timer = session.scalar(select(Timer.id).where(Timer.claim_id == claim.invoice_id, Timer.kind == TIMER,
                                                      Timer.status.in_(("pending", "emitted")), Timer.id != (firing or -1)).limit(1))
    row.rule, row.limitation_date, row.demand_on = lim.rule, lim.date, demand
    row.last_interruption_on, row.last_interruption, row.updated_at = lim.last_interruption_on, lim.last_interruption, to_db(now)
    if moved or not has_timer:
        _cancel_timers(session, now, claim.invoice_id, firing, "limitation date recomputed")
        if demand is not None:
            timers.schedule(session, now, TIMER, claim.invoice_id, max(demand, now.date()))
    if moved:
        record(session, now, "limitation-recomputed", claim_id=claim.invoice_id, customer_id=claim.customer_id,
               case_id=claim.case_id, rule=lim.rule, limitation_date=lim.date, demand_on=demand,
               last_interruption=lim.last_interruption, last_interruption_on=lim.last_interruption_on,
               basis=f"SWEDISH-RULES.md §6: {rules.INTERRUPTIONS.get(lim.last_interruption, lim.last_interruption)}")
    return row


def demand_due(session: Session, app: App, now: datetime, timer: Timer, claim: Claim) -> str:
    """The ``limitation_demand`` timer: send the interrupting demand unless the date moved, the
    claim closed, or all of it is on hold (then it shows as at risk for a handler)."""
    row = recompute(session, app, now, claim, firing=timer.id)
    if row is None or row.status != "watching":
        return "not under surveillance"
    if row.demand_on is None or row.demand_on > now.date():
        return f"not due: demand on {row.demand_on}"
    bal, coll = ledger.collectible_amounts(session, [claim.invoice_id])[claim.invoice_id]
    if bal.total <= 0 or coll <= 0:
        record(session, now, "step-skipped", claim_id=claim.invoice_id, customer_id=claim.customer_id,
               case_id=claim.case_id, step=TIMER, reason="nothing collectible: the whole amount is on hold")
        return "skipped: on hold"
    from likvid.service.letters import create_letter

    case = session.get(CollectionCase, claim.case_id)
    assert case is not None
    letter = create_letter(session, now, TIMER, case, [claim])
    dispatch_later(session, letter.id)
    previous = row.limitation_date
    recompute(session, app, now, claim, extra=(now.date(), "demand"), firing=timer.id)
    record(session, now, "limitation-interrupted", claim_id=claim.invoice_id, customer_id=claim.customer_id,
           case_id=claim.case_id, letter_id=letter.id, previous_limitation_date=previous,
           limitation_date=row.limitation_date, amount=coll,
           basis="preskriptionslag (1981:130) 5 § 2 p. and 6 § (SWEDISH-RULES.md §6.1)")
    return f"letter {letter.id}"


def listing(session: Session, app: App, today: date) -> list[dict[str, Any]]:
    """Every watched claim with its state: expired, at_risk, due or watching."""
    window = app.policy.file.surveillance.due_window_days
    rows = session.execute(select(Surveillance, Claim).join(Claim, Claim.invoice_id == Surveillance.claim_id)
                           .where(Surveillance.status == "watching").order_by(Surveillance.limitation_date)).all()
    bals = ledger.balances(session, [c.invoice_id for _, c in rows])
    return [{"invoice_id": c.invoice_id, "creditor_id": c.creditor_id, "customer_id": c.customer_id,
             "state": rules.status(today, s.limitation_date, s.demand_on, due_window_days=window),
             "rule": s.rule, "reason": s.reason, "limitation_date": s.limitation_date.isoformat(),
             "demand_on": s.demand_on.isoformat() if s.demand_on else None,
             "last_interruption": s.last_interruption, "last_interruption_on": s.last_interruption_on.isoformat(),
             "balance": f"{bals[c.invoice_id].total / 100:.2f}"} for s, c in rows]


def summary(session: Session, claim_id: str) -> dict[str, Any] | None:
    s = session.get(Surveillance, claim_id)
    if s is None:
        return None
    return {"status": s.status, "rule": s.rule, "reason": s.reason, "limitation_date": s.limitation_date.isoformat(),
            "demand_on": s.demand_on.isoformat() if s.demand_on else None, "last_interruption": s.last_interruption,
            "last_interruption_on": s.last_interruption_on.isoformat(), "end_reason": s.end_reason}


