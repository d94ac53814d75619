"""Dröjsmålsränta (penalty interest) under räntelagen (1975:635).

Basis: SWEDISH-RULES.md §2. The penalty rate is the referensränta of the day's calendar
half-year (9 §) plus a margin of eight percentage points (6 §). The reference-rate table is
configuration, not code: `parse_reference_rates` reads it. A half-year without a rate is
never guessed; interest stops where the known rates end.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction

from likvid.rules.calendar import next_bank_day
from likvid.rules.money import round_half_up

#: Räntelagen 6 §: the reference rate plus eight percentage points. SWEDISH-RULES.md §2.
PENALTY_MARGIN_BP = 800
#: Actual/365 day count. [M] SWEDISH-RULES.md §2 ("ränta för år"; practice is actual/365).
DAYS_IN_YEAR = 365
#: Largest reference rate `parse_reference_rates` accepts, as a guard against typos such as
#: "250" for 2.50 %; overcharging is unlawful, undercharging is not. [I]
MAX_REFERENCE_RATE_BP = 2000

_BP_PER_UNIT = 10_000  # basis points in 100 %
_ONE_DAY = timedelta(days=1)
_RATE = re.compile(r"(?P<sign>-?)(?P<whole>[0-9]{1,3})(?:\.(?P<decimals>[0-9]{1,2}))?")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class ReferenceRate:
    """The referensränta (räntelagen 9 §) from `valid_from`; may be negative."""

    valid_from: date
    rate_bp: int


@dataclass(frozen=True)
class InterestLine:
    """Interest on one unchanged base at one unchanged rate."""

    start: date  # inclusive
    end: date  # inclusive
    days: int
    base_ore: int
    rate_bp: int  # the penalty rate: reference rate + margin
    amount_ore: int


@dataclass(frozen=True)
class InterestResult:
    lines: tuple[InterestLine, ...]
    total_ore: int
    unknown_from: date | None  # first day with no known rate; no interest is charged from then


def interest_start(due_date: date) -> date:
    """The first day of penalty interest: the day after the due date.

    Räntelagen 3 §; [I] counting from due + 1, so a payment on the due date is on time.
    A due date on a non-bank day first moves to the next bank day (design/ARCHITECTURE.md),
    so pass the contractual due date or the effective one: the result is the same.

    Basis: SWEDISH-RULES.md §2 (3 §).
    """
    return next_bank_day(due_date) + _ONE_DAY


def penalty_interest(
    capital: Sequence[tuple[date, int]],
    start: date,
    end: date,
    reference_rates: Sequence[ReferenceRate],
    margin_bp: int = PENALTY_MARGIN_BP,
    days_in_year: int = DAYS_IN_YEAR,
) -> InterestResult:
    """Penalty interest for each day in [start, end] (both inclusive).

    `capital` is the balance history as (from_date, balance_ore) steps: the balance from
    that date until the next step, and 0 before the first. Each day earns interest on its
    balance at the reference rate in force that day plus `margin_bp`, over `days_in_year`.
    Days are grouped into lines wherever the base or the rate changes; each line is rounded
    half-up to whole öre and the total is the sum of the lines. A day with a balance of
    zero or less, or a penalty rate of zero or less, earns nothing.

    The rate of a day is the latest table entry on or before it, but only if that entry lies
    in the day's own calendar half-year (1 Jan-30 Jun, 1 Jul-31 Dec); an entry dated inside a
    half-year applies from its date. The first day without such an entry is `unknown_from`:
    no interest is charged from that day on, even for later half-years that have a rate.
    An `end` before `start` gives no interest.

    Basis: SWEDISH-RULES.md §2 (räntelagen 6 §, 9 §; "2026-07-01 and later").
    """
    if days_in_year <= 0:
        raise ValueError("days_in_year must be positive")
    balances = _sorted_steps([(d, ore) for d, ore in capital], "capital steps")
    rates = _sorted_steps([(r.valid_from, r.rate_bp) for r in reference_rates], "reference rates")
    if end < start:
        return InterestResult(lines=(), total_ore=0, unknown_from=None)

    unknown_from = _first_unknown_day(start, end, rates)
    last = end if unknown_from is None else unknown_from - _ONE_DAY
    changes = {d for d, _ in balances} | {d for d, _ in rates}
    cuts = sorted({start} | {d for d in changes if start < d <= last})

    lines: list[InterestLine] = []
    for index, seg_start in enumerate(cuts):
        seg_end = cuts[index + 1] - _ONE_DAY if index + 1 < len(cuts) else last
        if seg_end < seg_start:
            continue  # the whole period is unknown
        base = _in_force(seg_start, balances)
        penalty_bp = _in_force(seg_start, rates) + margin_bp
        if base <= 0 or penalty_bp <= 0:
            continue
        previous = lines[-1] if lines else None
        if (
            previous is not None
            and previous.end + _ONE_DAY == seg_start
            and (previous.base_ore, previous.rate_bp) == (base, penalty_bp)
        ):
            seg_start = previous.start
            lines.pop()
        days = (seg_end - seg_start).days + 1
        amount = round_half_up(Fraction(base * penalty_bp * days, _BP_PER_UNIT * days_in_year))
        lines.append(InterestLine(seg_start, seg_end, days, base, penalty_bp, amount))

    return InterestResult(
        lines=tuple(lines),
        total_ore=sum(line.amount_ore for line in lines),
        unknown_from=unknown_from,
    )


def parse_reference_rates(
    rows: Sequence[Mapping[str, object]],
    *,
    max_abs_rate_bp: int = MAX_REFERENCE_RATE_BP,
) -> tuple[ReferenceRate, ...]:
    """Read the reference-rate table from configuration rows, sorted by date.

    A row is {"valid_from": "2025-01-01", "rate": "2.50"}: the date as an ISO string (or a
    `date`, as TOML gives it), the rate in percent as a decimal string with at most two
    decimals, possibly negative. The rate becomes basis points exactly (no float). Raises
    ValueError naming the row index and the problem; a repeated date is an error.

    Basis: SWEDISH-RULES.md §2 (referensränta table, kept as data).
    """
    parsed: list[ReferenceRate] = []
    seen: dict[date, int] = {}
    for index, row in enumerate(rows):
        try:
            valid_from = _parse_valid_from(row.get("valid_from"))
            rate_bp = _parse_rate(row.get("rate"), max_abs_rate_bp)
        except ValueError as error:
            raise ValueError(f"reference rate row {index}: {error}") from None
        if valid_from in seen:
            raise ValueError(
                f"reference rate row {index}: valid_from {valid_from.isoformat()} "
                f"repeats row {seen[valid_from]}"
            )
        seen[valid_from] = index
        parsed.append(ReferenceRate(valid_from=valid_from, rate_bp=rate_bp))
    return tuple(sorted(parsed, key=lambda rate: rate.valid_from))


def _half_year_start(d: date) -> date:
    return date(d.year, 1 if d.month <= 6 else 7, 1)


def _next_half_year_start(d: date) -> date:
    return date(d.year, 7, 1) if d.month <= 6 else date(d.year + 1, 1, 1)


def _first_unknown_day(start: date, end: date, rates: Sequence[tuple[date, int]]) -> date | None:
    """The first day in [start, end] whose half-year has no rate entry on or before it."""
    day = start
    while day <= end:
        entry_dates = [valid_from for valid_from, _ in rates if valid_from <= day]
        if not entry_dates or entry_dates[-1] < _half_year_start(day):
            return day
        day = _next_half_year_start(day)
    return None


def _in_force(day: date, steps: Sequence[tuple[date, int]]) -> int:
    """The value of the latest (from_date, value) step on or before `day`; 0 before the first."""
    value = 0
    for from_date, step_value in steps:
        if from_date > day:
            break
        value = step_value
    return value


def _sorted_steps(steps: list[tuple[date, int]], what: str) -> list[tuple[date, int]]:
    steps.sort(key=lambda step: step[0])
    for (first, _), (second, _) in zip(steps, steps[1:], strict=False):
        if first == second:
            raise ValueError(f"two {what} on {first.isoformat()}")
    return steps


def _parse_valid_from(value: object) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f'valid_from must be a date like "2025-01-01", not {value!r}')


def _parse_rate(value: object, max_abs_rate_bp: int) -> int:
    if not isinstance(value, str):
        raise ValueError(f'rate must be a decimal string in percent like "2.50", not {value!r}')
    match = _RATE.fullmatch(value)
    if match is None:
        raise ValueError(f'rate must be a decimal string in percent like "2.50", not {value!r}')
    magnitude = int(match["whole"]) * 100 + int((match["decimals"] or "").ljust(2, "0"))
    rate_bp = -magnitude if match["sign"] else magnitude
    if abs(rate_bp) > max_abs_rate_bp:
        limit = f"{max_abs_rate_bp // 100}.{max_abs_rate_bp % 100:02d}"
        raise ValueError(f"rate {value} is outside ±{limit} %")
    return rate_bp
