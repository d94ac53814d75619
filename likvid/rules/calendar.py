"""Swedish bank days.

A bank day is a weekday that is neither a Swedish public holiday nor one of the eves banks
keep closed (Midsummer Eve, Christmas Eve, New Year's Eve). A due date on a non-bank day
moves to the next bank day (design/ARCHITECTURE.md, "Money and dates are exact").
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

_ONE_DAY = timedelta(days=1)
_SATURDAY = 5


def preload() -> None:
    """Import the holidays calendar now: a worker process calls this while it boots, so that
    its first deadline does not pay for the import (0.15 s and more)."""
    import holidays.countries.sweden  # noqa: F401


@lru_cache(maxsize=64)
def non_bank_days(year: int) -> frozenset[date]:
    """The weekday-independent non-bank days of `year`: public holidays and the three eves.

    Weekends are handled separately by `is_bank_day`; a holiday on a weekend is still listed.
    Basis: design/ARCHITECTURE.md (bank days); SWEDISH-RULES.md has no section on them.
    """
    # Imported on first use: the package loads every country's calendar, about 0.15 s of a
    # process's start-up that a command computing no deadline (likvid import bgmax) skips.
    from holidays.countries.sweden import Sweden

    public = Sweden(years=year, include_sundays=False)
    midsummer_day = _midsummer_day(year)
    eves = {
        midsummer_day - _ONE_DAY,  # Midsummer Eve, a Friday
        date(year, 12, 24),  # Christmas Eve
        date(year, 12, 31),  # New Year's Eve
    }
    return frozenset(public.keys()) | eves


def is_bank_day(d: date) -> bool:
    """True on a weekday that is not a public holiday or a bank-closed eve.

    Basis: design/ARCHITECTURE.md (bank days).
    """
    return d.weekday() < _SATURDAY and d not in non_bank_days(d.year)


def next_bank_day(d: date) -> date:
    """`d` itself when it is a bank day, else the first bank day after it.

    Basis: design/ARCHITECTURE.md (a due date on a non-bank day moves to the next bank day).
    """
    while not is_bank_day(d):
        d += _ONE_DAY
    return d


def add_bank_days(d: date, n: int) -> date:
    """The `n`-th bank day after `d` (`d` itself when n is 0, even if not a bank day).

    `d` does not count, whether or not it is a bank day: add_bank_days(Friday, 1) is the
    next Monday that is a bank day. Basis: design/ARCHITECTURE.md; SWEDISH-RULES.md §3
    (bank days after presumed receipt).
    """
    if n < 0:
        raise ValueError("the number of bank days must not be negative")
    for _ in range(n):
        d = next_bank_day(d + _ONE_DAY)
    return d


def _midsummer_day(year: int) -> date:
    """Midsummer Day: the Saturday from 20 to 26 June."""
    june_20 = date(year, 6, 20)
    return june_20 + timedelta(days=(_SATURDAY - june_20.weekday()) % 7)
