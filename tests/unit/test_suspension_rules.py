"""The suspension rules (likvid.rules.suspension; SWEDISH-RULES.md §4) as pure functions, and
their configuration validated against the legal minimums."""

from __future__ import annotations

from datetime import date

import pytest

from likvid.policy import PolicyError, default_policy_text, parse_policy
from likvid.rules import suspension as r

CFG = r.SuspensionSection()


@pytest.mark.parametrize(
    ("kind", "party", "consumer", "regime"),
    [
        ("electricity", "person", True, "consumer"),
        ("district_heating", "person", True, "consumer"),
        ("electricity", "organisation", False, "business"),
        ("electricity", "person", False, "business"),
        ("water", "person", True, "water"),
        ("water", "organisation", False, "water"),  # LAV 43 § applies to every property owner
        ("electricity", "estate", False, None),  # a dödsbo: a handler decides (§4.1)
        ("waste", "person", True, None),
        ("childcare", "person", True, None),
        ("rent", "person", True, None),
        ("permit_fee", "person", True, None),
        ("elderly_care", "person", True, None),
    ],
)
def test_regime_per_claim_kind_and_customer(kind: str, party: str, consumer: bool, regime: str | None) -> None:
    got, why = r.regime_for(kind, party, consumer)
    assert got == regime and why


def test_substantial_breach_is_more_than_1000_kr_or_two_close_invoices() -> None:
    m = CFG.materiality
    assert r.breach_reason([r.Unpaid(date(2026, 1, 30), 100001)], m) is None
    assert "below the threshold: 1000.00 kr" in (r.breach_reason([r.Unpaid(date(2026, 1, 30), 100000)], m) or "")
    two_close = [r.Unpaid(date(2026, 1, 30), 30000), r.Unpaid(date(2026, 2, 27), 30000)]
    assert r.breach_reason(two_close, m) is None
    two_apart = [r.Unpaid(date(2026, 1, 30), 30000), r.Unpaid(date(2026, 6, 30), 30000)]
    assert r.breach_reason(two_apart, m) is not None


def test_fees_only_or_disputed_debt_never_counts() -> None:
    # Only capital counts (fees and interest never do), and never the held (disputed) part.
    assert r.undisputed_capital(capital_ore=0, collectible_ore=50000) == 0
    assert r.undisputed_capital(capital_ore=150000, collectible_ore=20000) == 20000
    assert "fees and interest alone never count" in (r.breach_reason([r.Unpaid(date(2026, 1, 30), 0)], CFG.materiality) or "")


def test_day_arithmetic() -> None:
    warned = date(2026, 3, 2)
    deadline = r.remedy_deadline(warned, "consumer", CFG)
    assert deadline == date(2026, 3, 16)  # 14 days to remedy
    assert r.demand_on(deadline) == date(2026, 3, 17)  # only after the period has expired
    served = date(2026, 3, 20)
    assert r.pay_by_after_service(served, CFG) == date(2026, 4, 10)  # three weeks from service
    assert r.order_after_service_on(served, CFG) == date(2026, 4, 11)  # + 21 + margin 1
    assert r.order_after_warning_on(r.remedy_deadline(warned, "water", CFG), "water", CFG) == date(2026, 3, 17)


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("remedy_days = 14", "remedy_days = 13", "suspension.consumer.remedy_days"),
        ("pay_days_after_service = 21", "pay_days_after_service = 20", "suspension.consumer.pay_days_after_service"),
    ],
)
def test_policy_below_the_legal_minimum_is_refused_naming_the_key(old: str, new: str, key: str) -> None:
    text = default_policy_text()
    assert old in text
    with pytest.raises(PolicyError, match=key.replace(".", r"\.")):
        parse_policy(text.replace(old, new, 1), "test")


def test_materiality_amount_cannot_be_lowered_below_1000_kr() -> None:
    text = default_policy_text().replace('min_amount = "1000.00"', 'min_amount = "500.00"', 1)
    with pytest.raises(PolicyError, match=r"suspension\.materiality\.min_amount"):
        parse_policy(text, "test")
