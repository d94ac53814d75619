"""The credit-assessment routine (POLICY.md point 4: "kreditbedömningar sker enligt fastlagd
rutin"; point 5: weigh the customer's earlier behaviour).

``decide`` is a pure function of the facts and the configured rules: the same facts always
give the same decision (the policy's objectivity requirement), and every rule that applied is
listed as a reason. The outcomes, from mildest to strictest: approve, deposit (a security of a
share of the amount), prepayment, refuse. The strictest outcome of the rules that apply wins.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

OUTCOMES: tuple[str, ...] = ("approve", "deposit", "prepayment", "refuse")


@dataclass(frozen=True)
class CreditRules:
    """``[credit]`` in the policy file; amounts in öre, scores in points."""

    deposit_from_score: int
    prepayment_from_score: int
    refuse_from_score: int
    deposit_above_ore: int
    deposit_percent: int
    prepayment_when_overdue_above_ore: int
    refuse_when_handed_off: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CreditFacts:
    """What the decision rests on, stored with it so it can be re-derived and explained."""

    amount_ore: int
    risk_score: int
    #: Open, overdue debt (capital, fees and interest) with every creditor, in öre.
    overdue_ore: int
    #: Open claims handed off (to Kronofogden, an agency or indrivning), any creditor.
    open_handoffs: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Reason:
    rule: str
    outcome: str
    text: str

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "outcome": self.outcome, "text": self.text}


@dataclass(frozen=True)
class CreditDecision:
    outcome: str
    #: The security asked for when the outcome is "deposit", else 0.
    deposit_ore: int
    reasons: tuple[Reason, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"decision": self.outcome, "deposit_ore": self.deposit_ore,
                "reasons": [r.as_dict() for r in self.reasons]}


def _kr(ore: int) -> str:
    return f"{ore // 100}.{ore % 100:02d} kr"


def decide(facts: CreditFacts, rules: CreditRules) -> CreditDecision:
    """The decision for ``facts`` under ``rules``, with every rule that applied as a reason."""
    reasons: list[Reason] = []
    if rules.refuse_when_handed_off and facts.open_handoffs > 0:
        reasons.append(Reason("refuse_when_handed_off", "refuse",
                              f"{facts.open_handoffs} open claim(s) handed off for collection"))
    if facts.risk_score >= rules.refuse_from_score:
        reasons.append(Reason("refuse_from_score", "refuse",
                              f"risk score {facts.risk_score} is at least {rules.refuse_from_score}"))
    if facts.risk_score >= rules.prepayment_from_score:
        reasons.append(Reason("prepayment_from_score", "prepayment",
                              f"risk score {facts.risk_score} is at least {rules.prepayment_from_score}"))
    if facts.overdue_ore > rules.prepayment_when_overdue_above_ore:
        reasons.append(Reason("prepayment_when_overdue_above", "prepayment",
                              f"overdue debt {_kr(facts.overdue_ore)} is more than "
                              f"{_kr(rules.prepayment_when_overdue_above_ore)}"))
    if facts.risk_score >= rules.deposit_from_score:
        reasons.append(Reason("deposit_from_score", "deposit",
                              f"risk score {facts.risk_score} is at least {rules.deposit_from_score}"))
    if facts.amount_ore > rules.deposit_above_ore:
        reasons.append(Reason("deposit_above", "deposit",
                              f"amount {_kr(facts.amount_ore)} is more than {_kr(rules.deposit_above_ore)}"))
    if not reasons:
        reasons.append(Reason("approve", "approve",
                              f"risk score {facts.risk_score} below {rules.deposit_from_score}, "
                              f"no overdue debt above {_kr(rules.prepayment_when_overdue_above_ore)}, "
                              f"no hand-off, amount at most {_kr(rules.deposit_above_ore)}"))
    outcome = max((r.outcome for r in reasons), key=OUTCOMES.index)
    # Round the deposit up to whole öre: never ask for less than the rule says.
    deposit = -(-facts.amount_ore * rules.deposit_percent // 100) if outcome == "deposit" else 0
    return CreditDecision(outcome, deposit, tuple(reasons))
