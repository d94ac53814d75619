"""``credit-check-requested`` → ``credit-decision-made`` (POLICY.md points 4 and 5).

The facts are gathered from the register (across every creditor: one customer register,
point 12), the decision is ``likvid.rules.credit.decide`` of those facts under the policy's
``[credit]`` rules, and the facts, the rules and the reasons are stored with the decision on
the customer's timeline, so anyone can re-derive it later and get the same answer. The
request's free-text purpose stays in the stored inbound event: outbound messages carry ids
and figures, not free text that may hold personal data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from likvid.models import Claim, Customer
from likvid.rules.credit import CreditFacts, decide
from likvid.service import ledger, risk
from likvid.service.app import App
from likvid.service.errors import Parked, Rejected
from likvid.service.parking import lock_key
from likvid.service.records import record

BASIS = "POLICY.md points 4 and 5: credit assessment by a fixed routine; policy [credit]"


def facts_for(session: Session, app: App, now: datetime, customer_id: str, amount_ore: int) -> tuple[CreditFacts, dict[str, Any]]:
    """The facts a decision rests on, and the risk score's explanation behind ``risk_score``."""
    scored = risk.score(session, app.policy, now, customer_id)
    today = now.date()
    open_claims = list(session.scalars(select(Claim).where(Claim.customer_id == customer_id, Claim.status == "open")))
    balances = ledger.balances(session, [c.invoice_id for c in open_claims])
    overdue = sum(balances[c.invoice_id].total for c in open_claims if c.effective_due_date < today)
    handed_off = sum(1 for c in open_claims if c.stage == "handed_off")
    facts = CreditFacts(amount_ore=amount_ore, risk_score=scored.score, overdue_ore=overdue, open_handoffs=handed_off)
    return facts, scored.as_dict()


def credit_check_requested(s: Session, app: App, now: datetime, event_id: str, d: Any) -> None:
    if d.creditor_id not in app.policy.creditors:
        known = ", ".join(sorted(app.policy.creditors))
        raise Rejected("data.creditor_id", f"is not a configured creditor (configured: {known})")
    lock_key(s, f"customer:{d.customer_id}")
    if s.get(Customer, d.customer_id) is None:
        raise Parked(f"customer:{d.customer_id}")
    facts, explained = facts_for(s, app, now, d.customer_id, d.amount)
    rules = app.policy.credit_rules
    decision = decide(facts, rules)
    record(
        s, now, "credit-decision-made", customer_id=d.customer_id, basis=BASIS,
        request_id=d.request_id, creditor_id=d.creditor_id,
        decision=decision.outcome, deposit_ore=decision.deposit_ore,
        reasons=[r.as_dict() for r in decision.reasons],
        facts=facts.as_dict(), risk=explained, rules=rules.as_dict(),
        policy_version=app.policy.version, event_id=event_id,
    )
