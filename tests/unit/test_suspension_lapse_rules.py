"""The suspension track's service wait and next step (SWEDISH-RULES.md §4.1, §4.5): pure day
arithmetic, and the policy key validated with its name and rule."""

from __future__ import annotations

from datetime import date

import pytest

from likvid.policy import PolicyError, default_policy_text, load_policy, parse_policy
from likvid.rules import suspension as rules

CFG = rules.SuspensionSection()
TODAY = date(2026, 4, 1)


def test_the_shipped_service_wait_is_sixty_days_and_a_lapse_counts_from_the_demand() -> None:
    cfg = load_policy(None).file.suspension
    assert cfg.service_wait_days == 60
    assert rules.service_lapses_on(date(2026, 3, 2), cfg) == date(2026, 5, 1)
    assert "not served within 60 days" in " ".join(rules.describe(cfg))


@pytest.mark.parametrize(("value", "rule"), [("20", "greater than or equal to 21"), ("366", "less than or equal to 365"),
                                             ('"sixty"', "valid integer")])
def test_an_invalid_service_wait_names_the_key_and_the_rule(value: str, rule: str) -> None:
    text = default_policy_text()
    assert "service_wait_days = 60" in text
    with pytest.raises(PolicyError) as err:
        parse_policy(text.replace("service_wait_days = 60", f"service_wait_days = {value}", 1), "policy.toml")
    assert "suspension.service_wait_days" in str(err.value) and rule in str(err.value), str(err.value)


@pytest.mark.parametrize(
    ("status", "regime", "demanded_on", "order_on", "expected"),
    [
        # consumer: the demand the day after the remedy deadline
        ("warned", "consumer", None, None, ("demand", date(2026, 4, 15))),
        # water and business: the order the track scheduled (else computed from the deadline)
        ("warned", "water", None, date(2026, 4, 16), ("order", date(2026, 4, 16))),
        ("warned", "business", None, None, ("order", date(2026, 4, 15))),
        # awaiting service: served the day the demand went out at the earliest → + 21 + 1 ...
        ("awaiting_service", "consumer", date(2026, 3, 20), None, ("order", date(2026, 4, 11))),
        # ... and never before today, however early the service is reported to have been
        ("awaiting_service", "consumer", date(2026, 3, 1), None, ("order", TODAY)),
        ("served", "consumer", date(2026, 3, 20), date(2026, 4, 20), ("order", date(2026, 4, 20))),
        ("ordered", "consumer", date(2026, 3, 20), date(2026, 4, 20), ("restoration", None)),
        ("blocked", "consumer", None, None, (None, None)),
        ("lapsed", "consumer", date(2026, 1, 1), None, (None, None)),
        ("restored", "water", None, date(2026, 4, 16), (None, None)),
    ],
)
def test_next_step_and_its_earliest_day(status: str, regime: str, demanded_on: date | None, order_on: date | None,
                                        expected: tuple[str | None, date | None]) -> None:
    assert rules.next_step(status, regime, date(2026, 4, 14), demanded_on, order_on, TODAY, CFG) == expected
