"""Risk scores per customer and the handlers' follow-up list (POLICY.md points 4 and 5).

The score is derived, whenever it is asked for, from what the service already stores: the
timeline (reminders, demands, hand-offs, broken plans, review decisions) and the ledger
(when each settled claim was paid). Nothing is kept in a table of its own, so the score can
never drift from the history it explains, a late or replayed event changes it at once ("as
events arrive"), and the same history always gives the same score. Only events within the
policy's look-back window count, measured back from the business clock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from likvid.clock import from_db, start_of_day, to_db
from likvid.models import Claim, Customer, LedgerEntry, TimelineEntry
from likvid.policy import Policy
from likvid.rules.risk import RiskScore, risk_score

#: Timeline entry type → risk factor (review-decided counts only when the claim was upheld).
TIMELINE_FACTORS = {
    "reminder-sent": "reminder",
    "collection-demand-sent": "collection_demand",
    "collection-handed-off": "handoff",
    "payment-plan-broken": "broken_plan",
    "review-decided": "failed_objection",
}


def paid_on(session: Session, claim_ids: Iterable[str]) -> dict[str, date]:
    """The value date of the last payment on each claim that has one."""
    ids = list(claim_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(LedgerEntry.claim_id, func.max(LedgerEntry.value_date))
        .where(LedgerEntry.claim_id.in_(ids), LedgerEntry.kind == "payment")
        .group_by(LedgerEntry.claim_id)
    )
    return {claim_id: day for claim_id, day in rows if day is not None}


def counts(session: Session, policy: Policy, now: datetime,
           customer_ids: list[str] | None = None) -> dict[str, dict[str, int]]:
    """Events per factor in the look-back window, per customer (all customers when None)."""
    since = start_of_day(now.date() - timedelta(days=policy.file.risk.lookback_days))
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    q = select(TimelineEntry.customer_id, TimelineEntry.type, TimelineEntry.details).where(
        TimelineEntry.type.in_(TIMELINE_FACTORS), TimelineEntry.customer_id.is_not(None),
        TimelineEntry.at >= to_db(since), TimelineEntry.at <= to_db(now),
    )
    if customer_ids is not None:
        q = q.where(TimelineEntry.customer_id.in_(customer_ids))
    for customer_id, type_, details in session.execute(q):
        if type_ == "review-decided" and (details or {}).get("outcome") != "upheld":
            continue
        out[customer_id][TIMELINE_FACTORS[type_]] += 1
    cq = select(Claim.invoice_id, Claim.customer_id, Claim.effective_due_date).where(
        Claim.status == "settled", Claim.closed_at >= to_db(since), Claim.closed_at <= to_db(now))
    if customer_ids is not None:
        cq = cq.where(Claim.customer_id.in_(customer_ids))
    settled = session.execute(cq).all()
    paid = paid_on(session, [row.invoice_id for row in settled])
    for row in settled:
        if row.invoice_id in paid and paid[row.invoice_id] > row.effective_due_date:
            out[row.customer_id]["late_payment"] += 1
    return {k: dict(v) for k, v in out.items()}


def score(session: Session, policy: Policy, now: datetime, customer_id: str) -> RiskScore:
    """One customer's score, factor by factor."""
    return risk_score(counts(session, policy, now, [customer_id]).get(customer_id, {}), policy.risk_weights)


def follow_up(session: Session, policy: Policy, now: datetime) -> list[dict[str, Any]]:
    """Customers at or above ``[risk] follow_up_from``, highest score first (then by id)."""
    rows = []
    for customer_id, facts in counts(session, policy, now).items():
        result = risk_score(facts, policy.risk_weights)
        if result.score >= policy.file.risk.follow_up_from:
            rows.append((customer_id, result))
    if not rows:
        return []
    names = dict(tuple(r) for r in session.execute(select(Customer.id, Customer.name).where(Customer.id.in_([c for c, _ in rows]))))
    last = dict(tuple(r) for r in session.execute(
        select(TimelineEntry.customer_id, func.max(TimelineEntry.at))
        .where(TimelineEntry.customer_id.in_([c for c, _ in rows]), TimelineEntry.type.in_(TIMELINE_FACTORS))
        .group_by(TimelineEntry.customer_id)))
    rows.sort(key=lambda r: (-r[1].score, r[0]))
    return [{"customer_id": c, "name": names.get(c), **r.as_dict(),
             "last_event_at": from_db(last[c]).isoformat() if last.get(c) else None} for c, r in rows]
