"""Limitation (preskription) dates for surveillance (efterbevakning). Pure functions.

Basis: SWEDISH-RULES.md §6.1 (preskriptionslag 1981:130: 2 § ten years, three years for a claim
against a konsument; 5 § interruption by acknowledgement or payment, by a written demand the
debtor receives, by a claim made at Kronofogden or in court; 6 § a new period of the same length
from the interruption; 7 § after proceedings the new period runs from when they ended; NJA 2022
s. 150: a consumer claim keeps three years after an utslag) and §6.2 (public-law claims under
indrivning: lag 1982:188, five years after the end of the year the claim fell due, tracked, not
interrupted by the municipality). §6.3 [I]: the interrupting demand's lead time is configuration.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

#: §6.1, 2 §.
CONSUMER_YEARS = 3
GENERAL_YEARS = 10
#: §6.2, lag (1982:188) 3 §: five years after the end of the calendar year the claim fell due.
INDRIVNING_YEARS = 5

#: Events that interrupt limitation (§6.1, 5 §) and the point they name.
INTERRUPTIONS = {
    "payment": "5 § 1 p.: the debtor pays (interest or an instalment)",
    "acknowledgement": "5 § 1 p.: the debtor acknowledges the claim (e.g. signs a payment plan)",
    "demand": "5 § 2 p.: the debtor receives a written demand or reminder",
    "application": "5 § 3 p.: the claim is made at Kronofogden or in court",
    "title": "7 §: the proceeding ended with an enforceable title (utslag); NJA 2022 s. 150",
}


@dataclass(frozen=True)
class Limitation:
    rule: str  # consumer, general, indrivning
    date: _dt.date
    last_interruption_on: _dt.date
    last_interruption: str


def add_years(d: date, years: int) -> date:
    """The same day ``years`` later; 29 February becomes 28 February (the earlier day, so the
    date is never later than the law's)."""
    try:
        return d.replace(year=d.year + years)
    except ValueError:
        return d.replace(year=d.year + years, day=28)


def period_rule(*, claim_nature: str, consumer: bool, under_indrivning: bool) -> str:
    """Which limitation rule applies. A consumer claim keeps three years also after an
    enforcement title (NJA 2022 s. 150); public-law claims under indrivning follow 1982:188."""
    if claim_nature == "public_law" and under_indrivning:
        return "indrivning"
    return "consumer" if consumer and claim_nature == "civil" else "general"


def limitation_date(
    *,
    rule: str,
    arose_on: date,
    due_on: date,
    interruptions: Iterable[tuple[date, str]] = (),
) -> Limitation:
    """The claim's limitation date.

    consumer/general: ``arose_on`` plus the period, and after each interruption (the latest
    counts, 6 §) a new period of the same length from that day. indrivning: 31 December of the
    fifth year after the year the claim fell due; interruptions by the municipality do not move it.
    """
    if rule == "indrivning":
        return Limitation(rule, date(due_on.year + INDRIVNING_YEARS, 12, 31), due_on, "fell due")
    years = CONSUMER_YEARS if rule == "consumer" else GENERAL_YEARS
    last_on, last = arose_on, "claim arose"
    for on, kind in interruptions:
        if kind not in INTERRUPTIONS:
            raise ValueError(f"{kind!r} does not interrupt limitation (one of {', '.join(INTERRUPTIONS)})")
        if on >= last_on:
            last_on, last = on, kind
    return Limitation(rule, add_years(last_on, years), last_on, last)


def demand_on(limitation: Limitation, *, lead_months_consumer: int, lead_months_other: int) -> date | None:
    """When the interrupting demand goes out: a lead time before the limitation date (§6.3 [I]).
    None under indrivning: Kronofogden watches those claims, the municipality cannot interrupt."""
    if limitation.rule == "indrivning":
        return None
    months = lead_months_consumer if limitation.rule == "consumer" else lead_months_other
    return _minus_months(limitation.date, months)


def _minus_months(d: date, months: int) -> date:
    year, month = divmod(d.year * 12 + d.month - 1 - months, 12)
    month += 1
    day = d.day
    while True:
        try:
            return date(year, month, day)
        except ValueError:
            day -= 1


def status(today: date, limitation: date, demand: date | None, *, due_window_days: int,
           at_risk_window_days: int = 365) -> str:
    """expired (on or past the limitation date), at_risk (the demand day has passed without an
    interruption, or a claim we cannot interrupt is within ``at_risk_window_days``), due (the
    interrupting demand falls within ``due_window_days``), else watching."""
    if today >= limitation:
        return "expired"
    if demand is None:
        return "at_risk" if limitation - today <= timedelta(days=at_risk_window_days) else "watching"
    if today > demand:
        return "at_risk"
    if demand - today <= timedelta(days=due_window_days):
        return "due"
    return "watching"
