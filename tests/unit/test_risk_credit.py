"""The risk score adds up factor by factor; credit decisions are a pure function of the facts
and the configured rules, with every rule that applied as a reason."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from likvid.policy import (
    PolicyError,
    RiskWeightsSection,
    default_policy_text,
    load_policy,
    parse_policy,
)
from likvid.rules.credit import OUTCOMES, CreditFacts, CreditRules, decide
from likvid.rules.risk import FACTORS, risk_score

RULES = load_policy(None).credit_rules
WEIGHTS = load_policy(None).risk_weights


def test_the_configured_weights_are_exactly_the_factors() -> None:
    assert tuple(RiskWeightsSection.model_fields) == FACTORS == tuple(WEIGHTS)


@given(counts=st.fixed_dictionaries({f: st.integers(0, 500) for f in FACTORS}),
       weights=st.fixed_dictionaries({f: st.integers(0, 1000) for f in FACTORS}))
def test_the_factors_add_up_to_the_score(counts: dict[str, int], weights: dict[str, int]) -> None:
    result = risk_score(counts, weights)
    assert [f.name for f in result.factors] == list(FACTORS)
    assert result.score == sum(f.points for f in result.factors)
    assert all(f.points == counts[f.name] * weights[f.name] for f in result.factors)
    assert result == risk_score(dict(counts), dict(weights))


def test_a_worked_score() -> None:
    # 2 late payments × 2 + 3 reminders × 3 + 1 demand × 8 = 21 with the default weights.
    result = risk_score({"late_payment": 2, "reminder": 3, "collection_demand": 1}, WEIGHTS)
    assert result.score == 21
    assert [(f.name, f.points) for f in result.factors if f.points] == [
        ("late_payment", 4), ("reminder", 9), ("collection_demand", 8)]


def test_unknown_or_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown risk factors: lateness"):
        risk_score({"lateness": 1}, WEIGHTS)
    with pytest.raises(ValueError, match="reminder: a count cannot be negative"):
        risk_score({"reminder": -1}, WEIGHTS)


def _facts(amount: int = 100_000, score: int = 0, overdue: int = 0, handoffs: int = 0) -> CreditFacts:
    return CreditFacts(amount_ore=amount, risk_score=score, overdue_ore=overdue, open_handoffs=handoffs)


@pytest.mark.parametrize(
    ("facts", "outcome", "deposit", "rules"),
    [
        (_facts(), "approve", 0, ["approve"]),
        (_facts(score=9), "approve", 0, ["approve"]),
        (_facts(score=10), "deposit", 25_000, ["deposit_from_score"]),
        (_facts(amount=1_000_001), "deposit", 250_001, ["deposit_above"]),  # 25 % rounded up
        (_facts(score=25), "prepayment", 0, ["prepayment_from_score", "deposit_from_score"]),
        (_facts(overdue=1), "prepayment", 0, ["prepayment_when_overdue_above"]),
        (_facts(score=50), "refuse", 0, ["refuse_from_score", "prepayment_from_score", "deposit_from_score"]),
        (_facts(handoffs=1), "refuse", 0, ["refuse_when_handed_off"]),
    ],
)
def test_decisions_by_the_default_rules(facts: CreditFacts, outcome: str, deposit: int, rules: list[str]) -> None:
    decision = decide(facts, RULES)
    assert (decision.outcome, decision.deposit_ore) == (outcome, deposit)
    assert [r.rule for r in decision.reasons] == rules
    assert all(r.text for r in decision.reasons)


@given(amount=st.integers(1, 10**9), score=st.integers(0, 500), overdue=st.integers(0, 10**8), handoffs=st.integers(0, 5))
def test_same_facts_same_decision_and_the_strictest_reason_decides(amount: int, score: int, overdue: int, handoffs: int) -> None:
    facts = _facts(amount, score, overdue, handoffs)
    decision = decide(facts, RULES)
    assert decision == decide(CreditFacts(**facts.as_dict()), RULES)
    assert decision.outcome == max((r.outcome for r in decision.reasons), key=OUTCOMES.index)
    # A worse history never gets a milder outcome.
    worse = decide(_facts(amount, score + 1, overdue + 1, handoffs), RULES)
    assert OUTCOMES.index(worse.outcome) >= OUTCOMES.index(decision.outcome)


def test_the_rules_come_from_the_policy_file() -> None:
    text = default_policy_text().replace("deposit_percent = 25", "deposit_percent = 50")
    rules = parse_policy(text).credit_rules
    assert isinstance(rules, CreditRules) and rules.deposit_percent == 50
    assert decide(_facts(score=10), rules).deposit_ore == 50_000


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("refuse_from_score = 50", "refuse_from_score = 20", "credit: deposit_from_score <= prepayment_from_score"),
        ("deposit_percent = 25", "deposit_percent = 0", "credit.deposit_percent"),
        ('deposit_above = "10000.00"', 'deposit_above = "lots"', "credit.deposit_above"),
        ("handoff = 20 ", "handoff = -1 ", "risk.weights.handoff"),
        ("follow_up_from = 20", "follow_up_from = 20\nmood = 3", "risk.mood: is not a known key"),
    ],
)
def test_invalid_risk_and_credit_settings_name_the_key(old: str, new: str, message: str) -> None:
    text = default_policy_text()
    assert old in text
    with pytest.raises(PolicyError, match=message):
        parse_policy(text.replace(old, new, 1))
