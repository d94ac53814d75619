"""Limitation dates on the rules of SWEDISH-RULES.md §6 (preskriptionslag 1981:130 2 §, 5–7 §;
NJA 2022 s. 150; lag 1982:188)."""

from __future__ import annotations

from datetime import date

import pytest

from likvid.rules.limitation import (
    INTERRUPTIONS,
    add_years,
    demand_on,
    limitation_date,
    period_rule,
    status,
)

ISSUED = date(2026, 1, 5)
DUE = date(2026, 1, 30)


def lim(rule: str, *interruptions: tuple[date, str]):  # type: ignore[no-untyped-def]
    return limitation_date(rule=rule, arose_on=ISSUED, due_on=DUE, interruptions=interruptions)


def test_periods_three_years_consumer_ten_otherwise() -> None:
    assert lim("consumer").date == date(2029, 1, 5)
    assert lim("general").date == date(2036, 1, 5)


@pytest.mark.parametrize("kind", sorted(INTERRUPTIONS))
@pytest.mark.parametrize(("rule", "years"), [("consumer", 3), ("general", 10)])
def test_each_interrupting_event_starts_a_new_period_of_the_same_length(kind: str, rule: str, years: int) -> None:
    on = date(2027, 6, 15)
    result = lim(rule, (on, kind))
    assert result.date == date(2027 + years, 6, 15)
    assert (result.last_interruption_on, result.last_interruption) == (on, kind)


def test_the_latest_interruption_counts_whatever_the_order() -> None:
    result = lim("consumer", (date(2028, 3, 1), "payment"), (date(2027, 2, 1), "demand"), (date(2027, 9, 9), "acknowledgement"))
    assert result.date == date(2031, 3, 1)
    assert result.last_interruption == "payment"


def test_consumer_claim_keeps_three_years_after_a_title() -> None:
    # NJA 2022 s. 150: utslag 5 Oct 2004 → time-barred at the earliest 5 Oct 2007
    assert period_rule(claim_nature="civil", consumer=True, under_indrivning=False) == "consumer"
    result = limitation_date(rule="consumer", arose_on=date(2003, 3, 1), due_on=date(2003, 4, 1),
                             interruptions=[(date(2004, 6, 1), "application"), (date(2004, 10, 5), "title")])
    assert result.date == date(2007, 10, 5)


def test_non_consumer_claim_gets_ten_years_after_a_title() -> None:
    assert period_rule(claim_nature="civil", consumer=False, under_indrivning=False) == "general"
    assert lim("general", (date(2027, 5, 2), "title")).date == date(2037, 5, 2)


def test_public_law_under_indrivning_is_tracked_not_interrupted() -> None:
    assert period_rule(claim_nature="public_law", consumer=True, under_indrivning=True) == "indrivning"
    assert period_rule(claim_nature="public_law", consumer=True, under_indrivning=False) == "general"
    # five years after the end of the year the claim fell due; our demands and payments do not move it
    assert lim("indrivning").date == date(2031, 12, 31)
    assert lim("indrivning", (date(2029, 1, 1), "demand"), (date(2030, 1, 1), "payment")).date == date(2031, 12, 31)
    assert demand_on(lim("indrivning"), lead_months_consumer=6, lead_months_other=12) is None


def test_unknown_interruption_is_refused() -> None:
    with pytest.raises(ValueError, match="does not interrupt"):
        lim("consumer", (date(2027, 1, 1), "phone call"))


def test_demand_goes_out_the_lead_time_before() -> None:
    assert demand_on(lim("consumer"), lead_months_consumer=6, lead_months_other=12) == date(2028, 7, 5)
    assert demand_on(lim("general"), lead_months_consumer=6, lead_months_other=12) == date(2035, 1, 5)
    # 31 August less 6 months is the end of February
    odd = limitation_date(rule="consumer", arose_on=date(2026, 8, 31), due_on=date(2026, 9, 30))
    assert demand_on(odd, lead_months_consumer=6, lead_months_other=12) == date(2029, 2, 28)


def test_leap_day_moves_earlier_never_later() -> None:
    assert add_years(date(2028, 2, 29), 3) == date(2031, 2, 28)


def test_status_due_at_risk_expired() -> None:
    limit, demand = date(2029, 1, 5), date(2028, 7, 5)
    assert status(date(2028, 1, 1), limit, demand, due_window_days=30) == "watching"
    assert status(date(2028, 6, 10), limit, demand, due_window_days=30) == "due"
    assert status(date(2028, 7, 6), limit, demand, due_window_days=30) == "at_risk"
    assert status(date(2029, 1, 5), limit, demand, due_window_days=30) == "expired"
    assert status(date(2031, 6, 1), date(2031, 12, 31), None, due_window_days=30) == "at_risk"
    assert status(date(2027, 6, 1), date(2031, 12, 31), None, due_window_days=30) == "watching"
