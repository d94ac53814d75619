"""The collection chain's steps, fired by durable timers: due → reminder → demand → hand-off
(the hand-off itself routes and exports in likvid.service.handoff).

Each step locks the case, re-reads its claims and does nothing (recording why) when a claim is
settled, held or no longer at the stage the step was scheduled for (ARCHITECTURE.md
"re-check before acting"). Letters are created here and re-checked again by the dispatcher.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from likvid.clock import to_db
from likvid.correlation import follows
from likvid.db import is_sqlite
from likvid.models import Claim, CollectionCase, Timer
from likvid.rules.collection import reason_not_to_press
from likvid.service import claims as claims_service
from likvid.service import handoff, ledger, surveillance, timers
from likvid.service.app import App
from likvid.service.letters import create_letter
from likvid.service.records import dispatch_later, record

#: timer kind → (the stage a claim must be at, the letter it leads to, the stage it leads to)
CHAIN = {
    "reminder": ("due", "reminder"),
    "demand": ("reminded", "collection_demand"),
    "handoff": ("demanded", "handoff_notice"),
}


@follows(Timer, "timer")
def fire(session: Session, app: App, now: datetime, timer_id: int) -> str:
    """Run one timer's step; returns the outcome recorded on the timer."""
    timer = session.get(Timer, timer_id)
    if timer is None:
        return "no such timer"
    if timer.claim_id is None:
        return _fire_unbound(session, app, now, timer)
    claim = session.get(Claim, timer.claim_id) if timer.claim_id else None
    if claim is not None:
        claims_service.lock_case(session, claim.case_id)
    if not is_sqlite(session.get_bind()):
        session.refresh(timer, with_for_update=True)
    if timer.status not in ("pending", "emitted"):
        return f"already {timer.status}"
    if claim is None:
        outcome = "claim not found"
    elif timer.kind == "invoice_due":
        outcome = claims_service.mark_due(session, app, now, claim, source="due date")
    elif timer.kind == "handoff":
        outcome = handoff.route_due(session, app, now, timer, claim)
    elif timer.kind == surveillance.TIMER:
        outcome = surveillance.demand_due(session, app, now, timer, claim)
    elif timer.kind in CHAIN:
        outcome = _chain_step(session, app, now, timer, claim)
    else:
        outcome = f"unknown timer kind {timer.kind}"
    timers.finish(timer, now, outcome)
    return outcome


def _fire_unbound(session: Session, app: App, now: datetime, timer: Timer) -> str:
    """Timers of holds and plans, not tied to one claim."""
    from likvid.service import holds, plans, suspension

    if not is_sqlite(session.get_bind()):
        session.refresh(timer, with_for_update=True)
    if timer.status not in ("pending", "emitted"):
        return f"already {timer.status}"
    if timer.kind == "hold_expiry":
        outcome = holds.expire(session, app, now, timer.ref or "")
    elif timer.kind == "plan_check":
        outcome = plans.check_installment(session, app, now, timer.ref or "")
    elif timer.kind in suspension.TIMER_KINDS:
        outcome = suspension.fire(session, app, now, timer)
    elif timer.kind == handoff.EXPORT_TIMER:
        outcome = handoff.export_timer(session, app, now, timer.ref or "")
    else:
        outcome = f"unknown timer kind {timer.kind}"
    timers.finish(timer, now, outcome)
    return outcome


def _chain_step(session: Session, app: App, now: datetime, timer: Timer, claim: Claim) -> str:
    stage, letter_kind = CHAIN[timer.kind]
    if claim.stage != stage:
        return f"skipped: claim is at stage {claim.stage}, not {stage}"
    bal, coll = ledger.collectible_amounts(session, [claim.invoice_id])[claim.invoice_id]
    reason = reason_not_to_press(claim.status, bal.total, coll)
    if reason:
        record(session, now, "step-skipped", claim_id=claim.invoice_id, customer_id=claim.customer_id,
               case_id=claim.case_id, step=timer.kind, reason=reason)
        return f"skipped: {reason}"
    case = session.get(CollectionCase, claim.case_id)
    assert case is not None
    batch = [claim] + _also_due(session, now, case, timer, stage)
    level = {"reminder": claim.reminder_level, "demand": claim.demand_level}.get(timer.kind, 0) + 1
    letter = create_letter(session, now, letter_kind, case, batch, level=level)
    dispatch_later(session, letter.id)
    return f"letter {letter.id} for {len(batch)} claim(s)"


def _also_due(session: Session, now: datetime, case: CollectionCase, timer: Timer, stage: str) -> list[Claim]:
    """The case's other claims whose same step is due now: one consolidated letter per customer
    and creditor (POLICY.md point 12; ANCHORS.md complaint 6)."""
    rows = session.execute(
        select(Claim, Timer)
        .join(Timer, Timer.claim_id == Claim.invoice_id)
        .where(
            Claim.case_id == case.id, Claim.status == "open", Claim.stage == stage,
            Claim.invoice_id != timer.claim_id, Timer.kind == timer.kind,
            Timer.status.in_(("pending", "emitted")), Timer.due_at <= to_db(now),
        )
        .order_by(Claim.effective_due_date, Claim.invoice_id)
    ).all()
    if not rows:
        return []
    amounts = ledger.collectible_amounts(session, [c.invoice_id for c, _ in rows])
    out = []
    for other, other_timer in rows:
        bal, coll = amounts[other.invoice_id]
        if reason_not_to_press(other.status, bal.total, coll) is None:
            timers.finish(other_timer, now, f"consolidated with timer {timer.id}")
            out.append(other)
    return out
